//! Aggregate: counts keyed by (group…, question), per theme and per entry.
//!
//! This module owns DESIGN 4's counting: what a cell holds ([`Cell`]), how
//! one coded response is folded in ([`Aggregate::add`]), how partial
//! aggregates merge ([`Aggregate::merge`]: two shards merged equal one run
//! over both, up to floating-point summation order of weighted scores), and
//! how the `All` levels are derived ([`Aggregate::cells_with_all`]). It
//! formats nothing; see [`crate::export`].

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::matching::ThemeCounts;

/// Per-theme counts in one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThemeCell {
    /// Responses with at least one hit.
    pub responses_with_theme: u64,
    /// Non-negated matches.
    pub hits: u64,
    /// Sum of weights of the hits.
    pub score: f64,
    /// Negated matches.
    pub negated_hits: u64,
}

/// Per-entry counts in one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryCell {
    /// Non-negated matches of the entry.
    pub hits: u64,
    /// Responses with at least one such match.
    pub responses: u64,
}

/// Everything counted for one (group…, question) combination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Responses (non-empty text).
    pub responses: u64,
    /// Tokens in those responses.
    pub tokens: u64,
    /// One slot per theme of the matcher.
    pub themes: Vec<ThemeCell>,
    /// (theme, entry) → counts, only for entries with a hit.
    #[serde(with = "as_pairs")]
    pub entries: BTreeMap<(u32, u32), EntryCell>,
    /// Respondent id → themes the respondent carries in this cell (a bit
    /// per theme). Only filled when an id column is given.
    pub respondents: BTreeMap<String, Vec<u64>>,
    /// Responses whose id was empty (counted as responses, not respondents).
    pub responses_without_id: u64,
    /// (theme, entry's own theme, entry) → responses where that entry is the
    /// only entry with a hit for the theme (its subtree included). With it,
    /// responses carrying a theme once its entry is left out is
    /// `responses_with_theme - sole`, for the term-influence statistic.
    #[serde(with = "as_pairs")]
    pub sole: BTreeMap<(u32, u32, u32), u64>,
}

impl Cell {
    fn new(n_themes: usize) -> Cell {
        Cell {
            themes: vec![ThemeCell::default(); n_themes],
            ..Cell::default()
        }
    }

    /// Add another cell's counts to this one.
    pub fn merge(&mut self, other: &Cell) {
        self.responses += other.responses;
        self.tokens += other.tokens;
        if self.themes.len() < other.themes.len() {
            self.themes.resize(other.themes.len(), ThemeCell::default());
        }
        for (a, b) in self.themes.iter_mut().zip(&other.themes) {
            a.responses_with_theme += b.responses_with_theme;
            a.hits += b.hits;
            a.score += b.score;
            a.negated_hits += b.negated_hits;
        }
        for (k, v) in &other.entries {
            let e = self.entries.entry(*k).or_default();
            e.hits += v.hits;
            e.responses += v.responses;
        }
        for (id, bits) in &other.respondents {
            let mine = self.respondents.entry(id.clone()).or_default();
            if mine.len() < bits.len() {
                mine.resize(bits.len(), 0);
            }
            for (a, b) in mine.iter_mut().zip(bits) {
                *a |= b;
            }
        }
        self.responses_without_id += other.responses_without_id;
        for (k, v) in &other.sole {
            *self.sole.entry(*k).or_default() += v;
        }
    }

    /// Distinct respondents in the cell.
    pub fn respondents(&self) -> u64 {
        self.respondents.len() as u64
    }

    /// Distinct respondents carrying theme `t` in the cell.
    pub fn respondents_with_theme(&self, t: usize) -> u64 {
        let (word, bit) = (t / 64, t % 64);
        self.respondents
            .values()
            .filter(|bits| bits.get(word).is_some_and(|w| w >> bit & 1 == 1))
            .count() as u64
    }
}

/// One coded response, as the aggregate sees it.
#[derive(Clone, Copy, Debug)]
pub struct Coded<'a> {
    /// Respondent id (`None` without an id column; `Some("")` when empty).
    pub id: Option<&'a str>,
    /// Tokens in the response.
    pub tokens: u64,
    /// Per-theme counts, rolled up the hierarchy.
    pub counts: &'a [ThemeCounts],
    /// Matches, for per-entry counts.
    pub matches: &'a [crate::matching::Match],
    /// Each theme's parent (to roll entries up the hierarchy).
    pub parents: &'a [Option<u32>],
}

/// A level of a group column (or of the question) in a table row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// A value from the data.
    Value(String),
    /// The `All` level: every value together.
    All,
}

/// The key of an output cell: one level per group column, then the
/// question's level.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    /// One level per group column.
    pub groups: Vec<Level>,
    /// Order of the question (first appearance), `usize::MAX` for `All`.
    pub question_order: usize,
    /// The question's level.
    pub question: Level,
}

/// Counts over many responses: mergeable partial results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Aggregate {
    n_themes: usize,
    /// Questions in order of first appearance.
    questions: Vec<String>,
    /// (group values, question index) and its cell, in order of first
    /// appearance.
    cells: Vec<((Vec<String>, usize), Cell)>,
    /// Question → index in `questions`.
    #[serde(skip)]
    index: FxHashMap<String, usize>,
    /// Joined key (`g1 \x1f g2 \x1f question-index`) → index in `cells`, so
    /// a response costs one hash lookup and no allocation.
    #[serde(skip)]
    cell_index: FxHashMap<String, usize>,
    #[serde(skip)]
    key_buf: String,
    /// Responses with no tokens (e.g. only emoji).
    pub responses_without_tokens: u64,
}

impl Aggregate {
    /// An empty aggregate for a matcher with `n_themes` themes.
    pub fn new(n_themes: usize) -> Aggregate {
        Aggregate {
            n_themes,
            ..Aggregate::default()
        }
    }

    /// The questions, in order of first appearance.
    pub fn questions(&self) -> &[String] {
        &self.questions
    }

    fn question_index(&mut self, q: &str) -> usize {
        if let Some(&i) = self.index.get(q) {
            return i;
        }
        if let Some(i) = self.questions.iter().position(|x| x == q) {
            self.index.insert(q.to_string(), i);
            return i;
        }
        self.questions.push(q.to_string());
        self.index.insert(q.to_string(), self.questions.len() - 1);
        self.questions.len() - 1
    }

    /// The index in `cells` of (groups, question), created when new.
    fn cell_slot<'g>(&mut self, groups: impl Iterator<Item = &'g str> + Clone, q: usize) -> usize {
        use std::fmt::Write;
        if self.cell_index.len() != self.cells.len() {
            // Deserialized: rebuild the index.
            self.cell_index.clear();
            for i in 0..self.cells.len() {
                let key = {
                    let (g, q) = &self.cells[i].0;
                    join_key(g.iter().map(String::as_str), *q)
                };
                self.cell_index.insert(key, i);
            }
        }
        self.key_buf.clear();
        for g in groups.clone() {
            self.key_buf.push_str(g);
            self.key_buf.push('\x1f');
        }
        let _ = write!(self.key_buf, "{q}");
        if let Some(&i) = self.cell_index.get(self.key_buf.as_str()) {
            return i;
        }
        self.cells.push((
            (groups.map(str::to_string).collect(), q),
            Cell::new(self.n_themes),
        ));
        self.cell_index
            .insert(self.key_buf.clone(), self.cells.len() - 1);
        self.cells.len() - 1
    }

    /// Fold one coded response into the cell of `groups` × `question`.
    pub fn add(&mut self, groups: &[&str], question: &str, r: Coded<'_>) {
        let q = self.question_index(question);
        let n_themes = self.n_themes;
        let ci = self.cell_slot(groups.iter().copied(), q);
        let cell = &mut self.cells[ci].1;
        cell.responses += 1;
        cell.tokens += r.tokens;
        if r.tokens == 0 {
            self.responses_without_tokens += 1;
        }
        let mut bits = vec![0u64; n_themes.div_ceil(64)];
        for (t, c) in r.counts.iter().enumerate() {
            let tc = &mut cell.themes[t];
            tc.hits += c.hits;
            tc.score += c.score;
            tc.negated_hits += c.negated;
            if c.hits > 0 {
                tc.responses_with_theme += 1;
                bits[t / 64] |= 1 << (t % 64);
            }
        }
        // Per-entry: hits, and responses with at least one hit of the entry.
        let mut seen: Vec<(u32, u32)> = Vec::new();
        for m in r.matches.iter().filter(|m| !m.negated) {
            let e = cell.entries.entry((m.theme, m.entry)).or_default();
            e.hits += 1;
            if !seen.contains(&(m.theme, m.entry)) {
                seen.push((m.theme, m.entry));
                e.responses += 1;
            }
        }
        // Sole contributors: per theme (own or ancestor), the distinct
        // entries with a hit; exactly one means leaving it out removes the
        // theme from this response.
        let mut per_theme: Vec<(u32, (u32, u32), u32)> = Vec::new();
        for &(own, entry) in &seen {
            let mut t = Some(own);
            while let Some(ti) = t {
                match per_theme.iter_mut().find(|x| x.0 == ti) {
                    Some(x) => x.2 += 1,
                    None => per_theme.push((ti, (own, entry), 1)),
                }
                t = r.parents.get(ti as usize).copied().flatten();
            }
        }
        for (t, (own, entry), n) in per_theme {
            if n == 1 {
                *cell.sole.entry((t, own, entry)).or_default() += 1;
            }
        }
        match r.id {
            None => {}
            Some("") => cell.responses_without_id += 1,
            Some(id) => {
                // Look up before inserting: most answers come from a
                // respondent already seen, and `entry` would allocate the key.
                if !cell.respondents.contains_key(id) {
                    cell.respondents.insert(id.to_string(), Vec::new());
                }
                let mine = cell.respondents.get_mut(id).expect("inserted above");
                if mine.len() < bits.len() {
                    mine.resize(bits.len(), 0);
                }
                for (a, b) in mine.iter_mut().zip(&bits) {
                    *a |= b;
                }
            }
        }
    }

    /// Add another aggregate (e.g. a later chunk or another shard).
    pub fn merge(&mut self, other: &Aggregate) {
        self.n_themes = self.n_themes.max(other.n_themes);
        let remap: Vec<usize> = other
            .questions
            .iter()
            .map(|q| self.question_index(q))
            .collect();
        for ((groups, q), cell) in &other.cells {
            let ci = self.cell_slot(groups.iter().map(String::as_str), remap[*q]);
            self.cells[ci].1.merge(cell);
        }
        self.responses_without_tokens += other.responses_without_tokens;
    }

    /// Every output cell: the data's combinations plus every `All` level
    /// (each group column; the question too when there are several),
    /// crossed with the others' levels, in table order (levels sorted, `All`
    /// last; questions in order of first appearance, `All` last).
    pub fn cells_with_all(&self) -> BTreeMap<CellKey, Cell> {
        let question_all = self.questions.len() > 1;
        let mut out: BTreeMap<CellKey, Cell> = BTreeMap::new();
        for ((groups, q), cell) in &self.cells {
            let n = groups.len();
            let dims = n + usize::from(question_all);
            for mask in 0u64..(1u64 << dims) {
                let levels: Vec<Level> = groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        if mask >> i & 1 == 1 {
                            Level::All
                        } else {
                            Level::Value(g.clone())
                        }
                    })
                    .collect();
                let q_all = question_all && mask >> n & 1 == 1;
                let key = CellKey {
                    groups: levels,
                    question_order: if q_all { usize::MAX } else { *q },
                    question: if q_all {
                        Level::All
                    } else {
                        Level::Value(self.questions[*q].clone())
                    },
                };
                out.entry(key)
                    .or_insert_with(|| Cell::new(self.n_themes))
                    .merge(cell);
            }
        }
        out
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

fn join_key<'g>(groups: impl Iterator<Item = &'g str>, q: usize) -> String {
    let mut k = String::new();
    for g in groups {
        k.push_str(g);
        k.push('\x1f');
    }
    k.push_str(&q.to_string());
    k
}

/// JSON maps need string keys: write maps with tuple keys as lists of
/// `[key, value]` pairs.
mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(hits: &[u64]) -> Vec<ThemeCounts> {
        hits.iter()
            .map(|&h| ThemeCounts {
                hits: h,
                negated: 0,
                score: h as f64,
            })
            .collect()
    }

    #[test]
    fn all_levels_sum_and_union_respondents() {
        let mut a = Aggregate::new(2);
        let c1 = counts(&[1, 0]);
        let c2 = counts(&[0, 2]);
        let r = |id, c: &'static [ThemeCounts]| Coded {
            id: Some(id),
            tokens: 10,
            counts: c,
            matches: &[],
            parents: &[],
        };
        let c1: &'static [ThemeCounts] = Box::leak(c1.into_boxed_slice());
        let c2: &'static [ThemeCounts] = Box::leak(c2.into_boxed_slice());
        a.add(&["AA"], "q1", r("p1", c1));
        a.add(&["NA"], "q1", r("p2", c2));
        a.add(&["AA"], "q2", r("p1", c2));
        let cells = a.cells_with_all();
        // groups {AA, NA, All} × questions {q1, q2, All}, minus (NA, q2).
        assert_eq!(cells.len(), 8);
        let all = cells
            .get(&CellKey {
                groups: vec![Level::All],
                question_order: usize::MAX,
                question: Level::All,
            })
            .unwrap();
        assert_eq!(all.responses, 3);
        assert_eq!(all.tokens, 30);
        assert_eq!(all.themes[1].hits, 4);
        assert_eq!(all.themes[1].responses_with_theme, 2);
        assert_eq!(all.respondents(), 2);
        assert_eq!(all.respondents_with_theme(0), 1);
        assert_eq!(all.respondents_with_theme(1), 2);
    }

    #[test]
    fn entries_and_sole_contributors() {
        use crate::matching::Match;
        let m = |theme, entry, negated| Match {
            theme,
            entry,
            start: 0,
            end: 1,
            byte_start: 0,
            byte_end: 1,
            negated,
        };
        // Theme 0 is the parent of themes 1 and 2.
        let parents = [None, Some(0), Some(0)];
        let c: &'static [ThemeCounts] = Box::leak(counts(&[2, 1, 1]).into_boxed_slice());
        let mut a = Aggregate::new(3);
        // Response 1: entry (1,0) twice and (2,0) once, plus a negated (2,1).
        let ms = [
            m(1, 0, false),
            m(1, 0, false),
            m(2, 0, false),
            m(2, 1, true),
        ];
        a.add(
            &[],
            "q",
            Coded {
                id: None,
                tokens: 3,
                counts: c,
                matches: &ms,
                parents: &parents,
            },
        );
        // Response 2: only (1,0).
        let ms2 = [m(1, 0, false)];
        a.add(
            &[],
            "q",
            Coded {
                id: None,
                tokens: 3,
                counts: c,
                matches: &ms2,
                parents: &parents,
            },
        );
        let cell = &a.cells[0].1;
        assert_eq!(
            cell.entries[&(1, 0)],
            EntryCell {
                hits: 3,
                responses: 2
            }
        );
        assert_eq!(
            cell.entries[&(2, 0)],
            EntryCell {
                hits: 1,
                responses: 1
            }
        );
        assert!(
            !cell.entries.contains_key(&(2, 1)),
            "negated matches are not hits"
        );
        // (1,0) is the sole entry of theme 1 in both responses, of the
        // parent only in response 2; (2,0) is sole for theme 2 once.
        assert_eq!(cell.sole[&(1, 1, 0)], 2);
        assert_eq!(cell.sole[&(0, 1, 0)], 1);
        assert_eq!(cell.sole[&(2, 2, 0)], 1);
        assert_eq!(cell.sole.get(&(0, 2, 0)), None);
    }

    #[test]
    fn merge_equals_one_run() {
        let c: &'static [ThemeCounts] = Box::leak(counts(&[1, 3]).into_boxed_slice());
        let r = Coded {
            id: Some("x"),
            tokens: 5,
            counts: c,
            matches: &[],
            parents: &[],
        };
        let mut one = Aggregate::new(2);
        let mut s1 = Aggregate::new(2);
        let mut s2 = Aggregate::new(2);
        for (i, g) in ["a", "b", "a", "c"].iter().enumerate() {
            one.add(&[g], "q", r);
            if i < 2 {
                s1.add(&[g], "q", r)
            } else {
                s2.add(&[g], "q", r)
            }
        }
        s1.merge(&s2);
        assert_eq!(s1.cells_with_all(), one.cells_with_all());
    }
}
