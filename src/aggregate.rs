//! Aggregate: counts keyed by (group…, question), per theme and per entry.
//!
//! This module owns DESIGN 4's counting: how one coded response is folded
//! into its cell ([`Aggregate::add`]), how partial aggregates merge
//! ([`Aggregate::merge`]: merging is exact, so two shards merged equal one
//! run over both), how the `All` levels are derived and what an output cell
//! holds ([`Aggregate::cells_with_all`], [`Cell`]), and the `partial.json`
//! form of the counts ([`Aggregate::wire`], [`WireAggregate`]). It formats
//! nothing; see [`crate::export`].
//!
//! Everything accumulated is an integer, so the result does not depend on
//! which worker counted which response nor on the order of merging: the
//! weighted scores are computed once, at the end, from per-entry counts in
//! entry order. Respondent ids are interned (a `u32` per distinct id, the
//! text stored once per aggregate), and a cell keeps one theme bit set per
//! respondent in a log compacted by sorting (no hash table), so memory
//! grows with distinct (respondent, cell) pairs, not with the input's size;
//! `All` levels count the union of their cells' respondents by a k-way
//! merge, without building it.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use crate::matching::{Match, Matcher, ThemeCounts};

/// Per-theme counts in one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThemeCell {
    /// Responses with at least one hit.
    pub responses_with_theme: u64,
    /// Non-negated matches.
    pub hits: u64,
    /// Sum of weights of the hits (computed from the per-entry counts in
    /// [`Aggregate::cells_with_all`]; not stored in `partial.json`).
    #[serde(skip)]
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
    /// What the hits add to the theme's `hits`: one per match, or (liwc
    /// semantics) the match's tokens. The score is `units × weight`.
    pub units: u64,
}

impl EntryCell {
    /// The largest of its counts: what adding it charges any one counter
    /// of a dense table.
    fn largest(&self) -> u64 {
        self.hits.max(self.responses).max(self.units)
    }
}

/// The lexicon's shape as the counts need it: parents, entries per theme,
/// weights. Built once per run from the [`Matcher`].
#[derive(Clone, Debug, Default)]
pub struct Shape {
    parents: Vec<Option<u32>>,
    /// `entry_start[t]..entry_start[t + 1]`: theme t's entries in the flat
    /// entry numbering.
    entry_start: Vec<u32>,
    weights: Vec<f64>,
    /// Flat entry → its own theme.
    flat_theme: Vec<u32>,
    /// `slots[f]..slots[f + 1]`: where flat entry f's counts sit in a
    /// dense [`EntryTable`]: hits, responses, units (liwc semantics only:
    /// otherwise a hit is one unit), then one sole-contributor count per
    /// theme of its chain (own theme first).
    slots: Vec<u32>,
    /// Counts before the sole contributors' in `slots`: 3 under liwc
    /// semantics, else 2.
    entry_slots: u32,
    /// What a dense table's 32-bit counters take before they are spilled
    /// into 64-bit ones ([`Dense`]): `u32::MAX`, smaller in tests.
    room: u64,
    /// Bytes of hash maps at which a cell's [`EntryTable`] turns dense:
    /// the dense table's size.
    dense_at: usize,
    /// liwc semantics: a match counts its tokens.
    liwc: bool,
}

impl Shape {
    /// A shape from each theme's parent and its entries' weights.
    pub fn new(parents: Vec<Option<u32>>, weights: Vec<Vec<f64>>, liwc: bool) -> Shape {
        let mut entry_start = vec![0u32];
        let mut flat = Vec::new();
        let mut flat_theme = Vec::new();
        for (t, w) in weights.into_iter().enumerate() {
            flat_theme.extend(std::iter::repeat_n(t as u32, w.len()));
            flat.extend(w);
            entry_start.push(flat.len() as u32);
        }
        let mut shape = Shape {
            parents,
            entry_start,
            weights: flat,
            flat_theme,
            slots: vec![0],
            entry_slots: if liwc { 3 } else { 2 },
            room: u64::from(u32::MAX),
            dense_at: 0,
            liwc,
        };
        let mut at = 0u32;
        for &t in &shape.flat_theme {
            at += shape.entry_slots + shape.chain(t).count() as u32;
            shape.slots.push(at);
        }
        shape.dense_at = at as usize * size_of::<u32>();
        shape
    }

    /// The shape of a compiled lexicon.
    pub fn of(m: &Matcher) -> Shape {
        Shape::new(
            m.themes().iter().map(|t| t.parent).collect(),
            m.themes()
                .iter()
                .map(|t| t.entries.iter().map(|e| e.weight).collect())
                .collect(),
            m.semantics() == crate::lexicon::Semantics::Liwc,
        )
    }

    fn n_themes(&self) -> usize {
        self.parents.len()
    }

    /// Words of a respondent's theme bit set.
    fn stride(&self) -> usize {
        self.n_themes().div_ceil(64)
    }

    /// The same shape with cells turning dense at `n` bytes of hash maps
    /// (tests: 0 for at once, `usize::MAX` for never).
    #[cfg(test)]
    fn dense_at(mut self, n: usize) -> Shape {
        self.dense_at = n;
        self
    }

    /// The same shape with dense tables spilling their 32-bit counters
    /// once any may have gained `n` (tests: small, to spill often).
    #[cfg(test)]
    fn room(mut self, n: u64) -> Shape {
        self.room = n;
        self
    }

    /// Entries in all themes.
    fn n_flat(&self) -> usize {
        self.weights.len()
    }

    fn flat(&self, theme: u32, entry: u32) -> u32 {
        self.entry_start[theme as usize] + entry
    }

    fn unflat(&self, f: u32) -> (u32, u32) {
        let t = self.flat_theme[f as usize];
        (t, f - self.entry_start[t as usize])
    }

    /// Where flat entry `f`'s sole-contributor count for the `level`-th
    /// theme of its chain sits in a dense table.
    fn sole_slot(&self, f: u32, level: u32) -> usize {
        (self.slots[f as usize] + self.entry_slots + level) as usize
    }

    /// `t` and its ancestors.
    fn chain(&self, t: u32) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(t), |&t| self.parents[t as usize])
    }
}

/// The hash of a cell's key. `str`'s `Hash` ends each value with a marker,
/// so the values' boundaries are part of what is hashed; lookups compare
/// the values themselves anyway.
fn cell_hash<'g>(groups: impl Iterator<Item = &'g str>, q: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    for g in groups {
        g.hash(&mut h);
    }
    q.hash(&mut h);
    h.finish()
}

/// Respondent ids, each stored once; an id's number is its position.
#[derive(Clone, Debug, Default)]
struct Interner {
    text: String,
    ends: Vec<usize>,
    table: hashbrown::HashTable<u32>,
}

/// Id `i` of the interner's `text` and `ends` (a free function, so
/// `intern` can use it while the table is borrowed).
fn interned<'t>(text: &'t str, ends: &[usize], i: u32) -> &'t str {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

impl Interner {
    fn get(&self, i: u32) -> &str {
        interned(&self.text, &self.ends, i)
    }

    fn intern(&mut self, s: &str) -> u32 {
        let Interner { text, ends, table } = self;
        let get = |i: u32| interned(text, ends, i);
        let hash = FxBuildHasher.hash_one(s);
        if let Some(&i) = table.find(hash, |&i| get(i) == s) {
            return i;
        }
        let i = u32::try_from(ends.len()).expect("fewer than 2^32 distinct respondent ids");
        table.insert_unique(hash, i, |&j| FxBuildHasher.hash_one(get(j)));
        text.push_str(s);
        ends.push(text.len());
        i
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The respondents of a cell: one record per (interned id, theme bits),
/// `stride` words of bits each, in two arrays and without a hash table
/// (4 + 8 × stride bytes a record).
///
/// A response appends a record. `ids[..sorted]` is kept strictly
/// increasing: a worker interns ids in order of first appearance and most
/// respondents answer each question once, so an appended id usually extends
/// the sorted run for free. When the unsorted tail grows as long as the
/// sorted part, the log is compacted (sorted by id, a respondent's records
/// united), so memory follows distinct (respondent, cell) pairs, not
/// responses.
#[derive(Clone, Debug, Default)]
struct Respondents {
    ids: Vec<u32>,
    bits: Vec<u64>,
    sorted: usize,
}

/// Tails shorter than this are not worth a compaction of their own.
const MIN_COMPACT: usize = 4096;

impl Respondents {
    /// Append a record; compact when the unsorted tail is long.
    fn push(&mut self, id: u32, bits: &[u64]) {
        let n = self.ids.len();
        if n == self.ids.capacity() {
            // Grow by a quarter, not double: at a gigabyte of input these
            // arrays are most of the memory, and slack is waste.
            let more = (n / 4).max(16);
            self.ids.reserve_exact(more);
            self.bits.reserve_exact(more * bits.len());
        }
        self.append(id, bits);
        let tail = self.ids.len() - self.sorted;
        if tail >= self.sorted.max(MIN_COMPACT) {
            self.compact(bits.len());
        }
    }

    /// Append a record, extending the sorted prefix when it can.
    #[inline]
    fn append(&mut self, id: u32, bits: &[u64]) {
        if self.sorted == self.ids.len() && self.ids.last().is_none_or(|&last| last < id) {
            self.sorted += 1;
        }
        self.ids.push(id);
        self.bits.extend_from_slice(bits);
    }

    /// Sort the records by id and unite each respondent's theme bits.
    fn compact(&mut self, stride: usize) {
        let n = self.ids.len();
        if self.sorted == n {
            return;
        }
        // Record positions are packed into 32 bits below.
        assert!(
            n <= u32::MAX as usize,
            "fewer than 2^32 records in one cell"
        );
        let mut order: Vec<u64> = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, &id)| u64::from(id) << 32 | i as u64)
            .collect();
        order.sort_unstable();
        let distinct = 1 + order
            .windows(2)
            .filter(|w| w[0] >> 32 != w[1] >> 32)
            .count();
        let mut ids = Vec::with_capacity(distinct);
        let mut bits = Vec::with_capacity(distinct * stride);
        for k in order {
            let (id, i) = ((k >> 32) as u32, (k as u32) as usize);
            let theirs = &self.bits[i * stride..(i + 1) * stride];
            if ids.last() == Some(&id) {
                let at = bits.len() - stride;
                for (a, b) in bits[at..].iter_mut().zip(theirs) {
                    *a |= b;
                }
            } else {
                ids.push(id);
                bits.extend_from_slice(theirs);
            }
        }
        self.ids = ids;
        self.bits = bits;
        self.sorted = self.ids.len();
    }

    /// This set compacted: itself when it already is, else a compacted copy
    /// (only for an aggregate not yet [`Aggregate::compact`]ed).
    fn compacted(&self, stride: usize) -> std::borrow::Cow<'_, Respondents> {
        if self.sorted == self.ids.len() {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut copy = self.clone();
            copy.compact(stride);
            std::borrow::Cow::Owned(copy)
        }
    }

    /// Append `other`'s records, ids renumbered by `remap`, and compact.
    fn union(&mut self, other: &Respondents, remap: impl Fn(u32) -> u32, stride: usize) {
        self.ids.reserve_exact(other.ids.len());
        self.bits.reserve_exact(other.bits.len());
        for (i, &id) in other.ids.iter().enumerate() {
            self.append(remap(id), &other.bits[i * stride..(i + 1) * stride]);
        }
        self.compact(stride);
    }

    /// (distinct respondents, respondents carrying each theme) of the
    /// union of `sets`, by a k-way merge of their sorted records: no copy
    /// of the union is made, however many sets an `All` level joins.
    fn union_counts(sets: &[&Respondents], n_themes: usize, stride: usize) -> (u64, Vec<u64>) {
        use std::cmp::Reverse;
        let sets: Vec<_> = sets.iter().map(|r| r.compacted(stride)).collect();
        let mut with = vec![0u64; n_themes];
        let count = |with: &mut [u64], bits: &[u64]| {
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    with[w * 64 + word.trailing_zeros() as usize] += 1;
                    word &= word - 1;
                }
            }
        };
        if let [one] = &sets[..] {
            if stride > 0 {
                for bits in one.bits.chunks_exact(stride) {
                    count(&mut with, bits);
                }
            }
            return (one.ids.len() as u64, with);
        }
        let mut respondents = 0u64;
        let mut heads: std::collections::BinaryHeap<Reverse<(u32, usize, usize)>> = sets
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.ids.is_empty())
            .map(|(k, r)| Reverse((r.ids[0], k, 0)))
            .collect();
        let mut united = vec![0u64; stride];
        while let Some(Reverse((id, _, _))) = heads.peek().copied() {
            united.fill(0);
            while let Some(mut top) = heads.peek_mut() {
                let Reverse((next, k, i)) = *top;
                if next != id {
                    break;
                }
                let r = &sets[k];
                for (a, b) in united.iter_mut().zip(&r.bits[i * stride..(i + 1) * stride]) {
                    *a |= b;
                }
                if i + 1 < r.ids.len() {
                    *top = Reverse((r.ids[i + 1], k, i + 1));
                } else {
                    std::collections::binary_heap::PeekMut::pop(top);
                }
            }
            respondents += 1;
            count(&mut with, &united);
        }
        (respondents, with)
    }
}

/// What one cell accumulates while coding.
#[derive(Clone, Debug, Default)]
struct Acc {
    responses: u64,
    tokens: u64,
    responses_without_id: u64,
    themes: Vec<ThemeCell>,
    entries: EntryTable,
    respondents: Respondents,
}

impl Acc {
    fn new(n_themes: usize) -> Acc {
        Acc {
            themes: vec![ThemeCell::default(); n_themes],
            ..Acc::default()
        }
    }

    /// Add `other`'s counts; its respondent ids are renumbered by `remap`.
    fn merge(&mut self, other: &Acc, remap: impl Fn(u32) -> u32, shape: &Shape) {
        self.add_counts(other, shape);
        self.respondents
            .union(&other.respondents, remap, shape.stride());
    }

    /// Add `other`'s counts, respondents aside.
    fn add_counts(&mut self, other: &Acc, shape: &Shape) {
        self.responses += other.responses;
        self.tokens += other.tokens;
        self.responses_without_id += other.responses_without_id;
        for (a, b) in self.themes.iter_mut().zip(&other.themes) {
            a.responses_with_theme += b.responses_with_theme;
            a.hits += b.hits;
            a.negated_hits += b.negated_hits;
        }
        self.entries.add(&other.entries, shape);
    }
}

/// One cell's per-entry counts and sole contributors.
///
/// A cell starts sparse, with hash maps keyed by entry, so that many small
/// cells (thousands of groups) cost memory only for the entries they hit.
/// Once the maps take as many bytes as the dense form would, it turns
/// dense: every entry's counts, sole contributors included, side by side
/// at a fixed offset ([`Shape::slots`]), `4 × (2 + depth)` bytes per
/// lexicon entry (`4 × (3 + depth)` under liwc semantics, which counts
/// units apart from hits). So while coding the dense table is never
/// larger than the maps it replaces (a deep hierarchy may keep a cell
/// sparse longer); merged tables, and the rare table whose 32-bit
/// counters spill, also hold 64-bit totals ([`Dense`]). A response's
/// entry costs one update into memory the entry's other counts share,
/// instead of probing two hash maps (at 5,000 entries over a few cells
/// those probes missed the cache on every match).
#[derive(Clone, Debug)]
enum EntryTable {
    Sparse {
        /// Flat entry → counts, for entries with a hit.
        entries: FxHashMap<u32, EntryCell>,
        /// `flat entry << 32 | theme` → responses where the entry is the
        /// only one with a hit for the theme (its own theme or an
        /// ancestor).
        sole: FxHashMap<u64, u64>,
    },
    Dense(Dense),
}

impl Default for EntryTable {
    fn default() -> EntryTable {
        EntryTable::Sparse {
            entries: FxHashMap::default(),
            sole: FxHashMap::default(),
        }
    }
}

/// A dense table's counters, laid out by [`Shape::slots`]: 32-bit while
/// coding, which halves the memory each match's store goes to (a worker
/// holds one table per cell, and the tables of a few cells together
/// outgrow the core's cache), and spilled into 64-bit totals before any
/// could overflow. A counter's count is `small[i] + big[i]`.
#[derive(Clone, Debug)]
struct Dense {
    small: Vec<u32>,
    /// Totals spilled from `small`, and counts added from other tables;
    /// empty until first needed.
    big: Vec<u64>,
    /// What any one counter of `small` may still gain before it could
    /// overflow: charged per response with a bound on what it adds to any
    /// counter ([`EntryTable::add_response`]), not per match.
    room: u64,
    /// The current response adds to `big` (it alone could overflow
    /// `small`).
    wide: bool,
}

impl Dense {
    fn new(shape: &Shape) -> Dense {
        Dense {
            small: vec![0; shape.slots[shape.n_flat()] as usize],
            big: Vec::new(),
            room: shape.room,
            wide: false,
        }
    }

    fn get(&self, i: usize) -> u64 {
        u64::from(self.small[i]) + self.big.get(i).copied().unwrap_or(0)
    }

    fn big(&mut self) -> &mut [u64] {
        if self.big.is_empty() {
            self.big = vec![0; self.small.len()];
        }
        &mut self.big
    }

    /// Move the counts of `small` into `big`.
    fn spill(&mut self, shape: &Shape) {
        if self.room == shape.room {
            return;
        }
        self.big();
        for (b, s) in self.big.iter_mut().zip(&mut self.small) {
            *b += u64::from(std::mem::take(s));
        }
        self.room = shape.room;
    }

    /// Prepare for a response that adds at most `n` to any counter.
    fn reserve(&mut self, shape: &Shape, n: u64) {
        if n > self.room {
            self.spill(shape);
        }
        self.wide = n > self.room;
        if !self.wide {
            self.room -= n;
        }
    }

    /// Add `n` to counter `i` within a response ([`Dense::reserve`]).
    #[inline]
    fn bump(&mut self, i: usize, n: u64) {
        if self.wide {
            self.big()[i] += n;
        } else {
            // Within the reserved room: cannot overflow.
            self.small[i] += n as u32;
        }
    }

    /// Add `c` to flat entry `f`'s counts within a response.
    #[inline]
    fn bump_entry(&mut self, shape: &Shape, f: u32, c: EntryCell) {
        let o = shape.slots[f as usize] as usize;
        self.bump(o, c.hits);
        self.bump(o + 1, c.responses);
        if shape.liwc {
            self.bump(o + 2, c.units);
        }
    }

    /// Flat entry `f`'s counts.
    fn entry(&self, shape: &Shape, f: usize) -> EntryCell {
        let o = shape.slots[f] as usize;
        let hits = self.get(o);
        EntryCell {
            hits,
            responses: self.get(o + 1),
            // Without liwc semantics, a hit is one unit.
            units: if shape.liwc { self.get(o + 2) } else { hits },
        }
    }
}

impl EntryTable {
    /// A table holding these counts (keyed as in [`EntryTable::Sparse`]).
    fn from_maps(
        entries: FxHashMap<u32, EntryCell>,
        sole: FxHashMap<u64, u64>,
        shape: &Shape,
    ) -> EntryTable {
        let mut t = EntryTable::Sparse { entries, sole };
        t.densify_if_due(shape);
        t
    }

    /// Add `c` to flat entry `f`'s counts.
    fn add_entry(&mut self, shape: &Shape, f: u32, c: EntryCell) {
        match self {
            EntryTable::Dense(d) => {
                d.reserve(shape, c.largest());
                d.bump_entry(shape, f, c);
            }
            EntryTable::Sparse { entries, .. } => {
                let before = entries.len();
                let e = entries.entry(f).or_default();
                e.hits += c.hits;
                e.responses += c.responses;
                e.units += c.units;
                if entries.len() != before {
                    self.densify_if_due(shape);
                }
            }
        }
    }

    /// Add `n` responses where flat entry `f` is the only entry with a hit
    /// for `theme`, the `level`-th theme of its chain (0: its own).
    fn add_sole(&mut self, shape: &Shape, (f, level, theme): (u32, u32, u32), n: u64) {
        match self {
            EntryTable::Dense(d) => {
                d.reserve(shape, n);
                d.bump(shape.sole_slot(f, level), n);
            }
            EntryTable::Sparse { sole, .. } => {
                let before = sole.len();
                *sole
                    .entry(u64::from(f) << 32 | u64::from(theme))
                    .or_default() += n;
                if sole.len() != before {
                    self.densify_if_due(shape);
                }
            }
        }
    }

    /// Add one response: its `hits` as `(f, c)` ([`EntryTable::add_entry`])
    /// and its sole contributors ([`EntryTable::add_sole`], one response
    /// each). A dense table takes the hits in one tight loop of
    /// independent updates, so the cache misses of a response's entries
    /// overlap.
    fn add_response(&mut self, shape: &Shape, hits: &[(u32, EntryCell)], sole: &[(u32, u32, u32)]) {
        match self {
            EntryTable::Dense(d) => {
                // What the response adds to any one counter is at most
                // the sum of everything it adds to each entry (an entry
                // listed twice, or an entry and its sole count, share no
                // more than that).
                let most = hits
                    .iter()
                    .fold(sole.len() as u64, |m, (_, c)| m.saturating_add(c.largest()));
                d.reserve(shape, most);
                if d.wide {
                    for &(f, c) in hits {
                        d.bump_entry(shape, f, c);
                    }
                    for &(f, level, _) in sole {
                        d.bump(shape.sole_slot(f, level), 1);
                    }
                    return;
                }
                // Within the reserved room: no count can overflow.
                let small = &mut d.small[..];
                for &(f, c) in hits {
                    let o = shape.slots[f as usize] as usize;
                    small[o] += c.hits as u32;
                    small[o + 1] += c.responses as u32;
                    if shape.liwc {
                        small[o + 2] += c.units as u32;
                    }
                }
                for &(f, level, _) in sole {
                    small[shape.sole_slot(f, level)] += 1;
                }
                #[cfg(test)]
                {
                    // No counter holds more than the room charged since
                    // the last spill (else a long run could wrap it).
                    let charged = shape.room - d.room;
                    for &(f, _) in hits {
                        let f = f as usize;
                        for i in shape.slots[f]..shape.slots[f + 1] {
                            assert!(u64::from(d.small[i as usize]) <= charged, "undercharged");
                        }
                    }
                }
            }
            EntryTable::Sparse { .. } => {
                for &(f, c) in hits {
                    self.add_entry(shape, f, c);
                }
                for &k in sole {
                    self.add_sole(shape, k, 1);
                }
            }
        }
    }

    /// Every entry's counts, as (flat entry, counts).
    fn each_entry(&self, shape: &Shape, mut visit: impl FnMut(u32, EntryCell)) {
        match self {
            EntryTable::Dense(d) => {
                for f in 0..shape.n_flat() {
                    visit(f as u32, d.entry(shape, f));
                }
            }
            EntryTable::Sparse { entries, .. } => {
                for (&f, &c) in entries {
                    visit(f, c);
                }
            }
        }
    }

    /// Every sole-contributor count, as ((flat entry, level, theme), n).
    fn each_sole(&self, shape: &Shape, mut visit: impl FnMut((u32, u32, u32), u64)) {
        match self {
            EntryTable::Dense(d) => {
                for f in 0..shape.n_flat() as u32 {
                    let chain = shape.chain(shape.flat_theme[f as usize]);
                    for (level, t) in (0..).zip(chain) {
                        visit((f, level, t), d.get(shape.sole_slot(f, level)));
                    }
                }
            }
            EntryTable::Sparse { sole, .. } => {
                for (&k, &n) in sole {
                    let (f, t) = ((k >> 32) as u32, k as u32);
                    let level = shape
                        .chain(shape.flat_theme[f as usize])
                        .position(|x| x == t)
                        .expect("a sole contributor's theme is its entry's or an ancestor");
                    visit((f, level as u32, t), n);
                }
            }
        }
    }

    /// Turn dense once the maps hold [`Shape::dense_at`] bytes: each slot
    /// of a map's capacity takes its record and a control byte (a slight
    /// underestimate: a map also keeps an eighth of its slots free).
    fn densify_if_due(&mut self, shape: &Shape) {
        if let EntryTable::Sparse { entries, sole } = self
            && entries.capacity() * (size_of::<(u32, EntryCell)>() + 1)
                + sole.capacity() * (size_of::<(u64, u64)>() + 1)
                >= shape.dense_at
        {
            self.densify(shape);
        }
    }

    fn densify(&mut self, shape: &Shape) {
        if let EntryTable::Dense(_) = self {
            return;
        }
        // Each counter gets one add: the largest count is the room needed.
        let mut most = 0;
        self.each_entry(shape, |_, c| most = most.max(c.largest()));
        self.each_sole(shape, |_, n| most = most.max(n));
        let mut d = Dense::new(shape);
        d.reserve(shape, most);
        self.each_entry(shape, |f, c| d.bump_entry(shape, f, c));
        self.each_sole(shape, |(f, level, _), n| {
            d.bump(shape.sole_slot(f, level), n)
        });
        *self = EntryTable::Dense(d);
    }

    /// Add `other`'s counts.
    fn add(&mut self, other: &EntryTable, shape: &Shape) {
        if let EntryTable::Dense(o) = other {
            self.densify(shape);
            if let EntryTable::Dense(d) = self {
                for (i, b) in d.big().iter_mut().enumerate() {
                    *b += o.get(i);
                }
            }
            return;
        }
        other.each_entry(shape, |f, c| self.add_entry(shape, f, c));
        other.each_sole(shape, |k, n| self.add_sole(shape, k, n));
    }

    /// ((theme, entry), counts) of the entries with a hit, sorted.
    fn entry_list(&self, shape: &Shape) -> Vec<((u32, u32), EntryCell)> {
        let mut list = Vec::new();
        self.each_entry(shape, |f, c| {
            if c != EntryCell::default() {
                list.push((shape.unflat(f), c));
            }
        });
        list.sort_unstable_by_key(|x| x.0);
        list
    }

    /// ((theme, own theme, entry), responses) of the sole contributors,
    /// sorted.
    fn sole_list(&self, shape: &Shape) -> Vec<((u32, u32, u32), u64)> {
        let mut list = Vec::new();
        self.each_sole(shape, |(f, _, t), n| {
            if n > 0 {
                let (own, e) = shape.unflat(f);
                list.push(((t, own, e), n));
            }
        });
        list.sort_unstable_by_key(|x| x.0);
        list
    }
}

/// Everything counted for one output cell: a (group…, question)
/// combination or one of its `All` levels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    /// Responses (non-empty text).
    pub responses: u64,
    /// Tokens in those responses.
    pub tokens: u64,
    /// One slot per theme of the matcher.
    pub themes: Vec<ThemeCell>,
    /// (theme, entry) → counts, only for entries with a hit.
    pub entries: BTreeMap<(u32, u32), EntryCell>,
    /// Responses whose id was empty (counted as responses, not respondents).
    pub responses_without_id: u64,
    /// (theme, entry's own theme, entry) → responses where that entry is the
    /// only entry with a hit for the theme (its subtree included). With it,
    /// responses carrying a theme once its entry is left out is
    /// `responses_with_theme - sole`, for the term-influence statistic.
    pub sole: BTreeMap<(u32, u32, u32), u64>,
    respondents: u64,
    respondents_with_theme: Vec<u64>,
}

impl Cell {
    /// Distinct respondents in the cell.
    pub fn respondents(&self) -> u64 {
        self.respondents
    }

    /// Distinct respondents carrying theme `t` in the cell.
    pub fn respondents_with_theme(&self, t: usize) -> u64 {
        self.respondents_with_theme.get(t).copied().unwrap_or(0)
    }
}

/// One coded response, as the aggregate sees it.
#[derive(Clone, Copy, Debug)]
pub struct Coded<'a> {
    /// Respondent id (`None` without an id column; `Some("")` when empty).
    pub id: Option<&'a str>,
    /// Where the response is: (row, text column). Questions are listed in
    /// order of first appearance by this position, whichever worker saw
    /// them first.
    pub at: (u64, u64),
    /// Tokens in the response.
    pub tokens: u64,
    /// Per-theme counts, rolled up the hierarchy.
    pub counts: &'a [ThemeCounts],
    /// Matches, for per-entry counts.
    pub matches: &'a [Match],
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

/// Working memory of [`Aggregate::add`], reused from response to response.
/// `stamp` says which response last touched a slot, so nothing is cleared
/// per response and membership costs one load, however many entries match.
#[derive(Clone, Debug, Default)]
struct AddScratch {
    bits: Vec<u64>,
    /// The current response's number (starts at 1).
    stamp: u32,
    /// Flat entry → response that last had a hit of it, and where in
    /// `hits` that response's counts of it are.
    entry_stamp: Vec<(u32, u32)>,
    /// The response's counts per distinct flat entry with a hit, in order
    /// of first hit: its matches are summed here, so the cell's table
    /// (which misses the cache) takes one update per entry, not one per
    /// match.
    hits: Vec<(u32, EntryCell)>,
    /// Theme → response that last had a hit in its subtree, the first such
    /// entry and the number of distinct entries.
    theme_stamp: Vec<u32>,
    theme_entry: Vec<(u32, u32)>,
    theme_distinct: Vec<u32>,
    /// Themes touched by the response, in order of first touch.
    touched: Vec<u32>,
    /// The response's sole contributors, as (flat entry, level, theme).
    sole: Vec<(u32, u32, u32)>,
}

/// Counts over many responses: mergeable partial results.
#[derive(Clone, Debug)]
pub struct Aggregate {
    shape: Arc<Shape>,
    /// Questions; [`Aggregate::cells_with_all`] orders them by `first`.
    questions: Vec<String>,
    /// Where each question was first seen (see [`Coded::at`]).
    first: Vec<(u64, u64)>,
    question_index: FxHashMap<String, usize>,
    /// (group values, question index, counts).
    cells: Vec<(Vec<String>, usize, Acc)>,
    /// (group values, question index) → index in `cells`, hashed and
    /// compared in place: a response costs one lookup and no allocation.
    cell_index: hashbrown::HashTable<usize>,
    ids: Interner,
    scratch: AddScratch,
    /// Responses with no tokens (e.g. only emoji).
    pub responses_without_tokens: u64,
}

impl Aggregate {
    /// An empty aggregate for counts of `shape`.
    pub fn new(shape: Arc<Shape>) -> Aggregate {
        Aggregate {
            shape,
            questions: Vec::new(),
            first: Vec::new(),
            question_index: FxHashMap::default(),
            cells: Vec::new(),
            cell_index: hashbrown::HashTable::new(),
            ids: Interner::default(),
            scratch: AddScratch::default(),
            responses_without_tokens: 0,
        }
    }

    /// The questions, in order of first appearance.
    pub fn questions(&self) -> Vec<&str> {
        self.question_order()
            .into_iter()
            .map(|q| self.questions[q].as_str())
            .collect()
    }

    /// Question indices sorted by first appearance.
    fn question_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.questions.len()).collect();
        order.sort_by_key(|&q| self.first[q]);
        order
    }

    /// Number the questions as if this aggregate were shard `shard` of a
    /// merge: its questions come after those of earlier shards, in its own
    /// order.
    pub fn set_shard(&mut self, shard: u64) {
        let order = self.question_order();
        for (rank, q) in order.into_iter().enumerate() {
            self.first[q] = (shard, rank as u64);
        }
    }

    fn question_slot(&mut self, q: &str, at: (u64, u64)) -> usize {
        if let Some(&i) = self.question_index.get(q) {
            if at < self.first[i] {
                self.first[i] = at;
            }
            return i;
        }
        self.questions.push(q.to_string());
        self.first.push(at);
        self.question_index
            .insert(q.to_string(), self.questions.len() - 1);
        self.questions.len() - 1
    }

    /// The index in `cells` of (groups, question), created when new.
    fn cell_slot<'g>(&mut self, groups: impl Iterator<Item = &'g str> + Clone, q: usize) -> usize {
        let hash = cell_hash(groups.clone(), q);
        let cells = &self.cells;
        let same = |&i: &usize| {
            let (g, cq, _) = &cells[i];
            *cq == q && g.iter().map(String::as_str).eq(groups.clone())
        };
        if let Some(&i) = self.cell_index.find(hash, same) {
            return i;
        }
        let i = self.cells.len();
        self.cells.push((
            groups.map(str::to_string).collect(),
            q,
            Acc::new(self.shape.n_themes()),
        ));
        let cells = &self.cells;
        self.cell_index.insert_unique(hash, i, |&j| {
            cell_hash(cells[j].0.iter().map(String::as_str), cells[j].1)
        });
        i
    }

    /// Fold one coded response into the cell of `groups` × `question`.
    pub fn add(&mut self, groups: &[impl AsRef<str>], question: &str, r: Coded<'_>) {
        let q = self.question_slot(question, r.at);
        let ci = self.cell_slot(groups.iter().map(AsRef::as_ref), q);
        let id = match r.id {
            Some(id) if !id.is_empty() => Some(self.ids.intern(id)),
            _ => None,
        };
        if r.tokens == 0 {
            self.responses_without_tokens += 1;
        }
        let shape = &*self.shape;
        let s = &mut self.scratch;
        let cell = &mut self.cells[ci].2;
        cell.responses += 1;
        cell.tokens += r.tokens;
        s.bits.clear();
        s.bits.resize(shape.stride(), 0);
        for (t, c) in r.counts.iter().enumerate() {
            let tc = &mut cell.themes[t];
            tc.hits += c.hits;
            tc.negated_hits += c.negated;
            if c.hits > 0 {
                tc.responses_with_theme += 1;
                s.bits[t / 64] |= 1 << (t % 64);
            }
        }
        // Per entry: hits, and responses with at least one hit of the entry.
        if s.entry_stamp.len() != shape.weights.len() {
            s.entry_stamp = vec![(0, 0); shape.weights.len()];
            s.theme_stamp = vec![0; shape.n_themes()];
            s.theme_entry = vec![(0, 0); shape.n_themes()];
            s.theme_distinct = vec![0; shape.n_themes()];
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            // Wrapped around: forget every old stamp.
            s.entry_stamp.fill((0, 0));
            s.theme_stamp.fill(0);
            s.stamp = 1;
        }
        let stamp = s.stamp;
        s.hits.clear();
        for m in r.matches.iter().filter(|m| !m.negated) {
            let f = shape.flat(m.theme, m.entry);
            let u = if shape.liwc { m.len() as u64 } else { 1 };
            let (at, k) = &mut s.entry_stamp[f as usize];
            if *at == stamp {
                let c = &mut s.hits[*k as usize].1;
                c.hits += 1;
                c.units += u;
            } else {
                (*at, *k) = (stamp, s.hits.len() as u32);
                s.hits.push((
                    f,
                    EntryCell {
                        hits: 1,
                        responses: 1,
                        units: u,
                    },
                ));
            }
        }
        // Sole contributors: per theme (own or ancestor), the distinct
        // entries with a hit; exactly one means leaving it out removes the
        // theme from this response.
        s.touched.clear();
        for &(f, _) in &s.hits {
            for (level, t) in shape.chain(shape.flat_theme[f as usize]).enumerate() {
                let ti = t as usize;
                if s.theme_stamp[ti] != stamp {
                    s.theme_stamp[ti] = stamp;
                    s.theme_entry[ti] = (f, level as u32);
                    s.theme_distinct[ti] = 1;
                    s.touched.push(t);
                } else {
                    s.theme_distinct[ti] += 1;
                }
            }
        }
        s.sole.clear();
        for &t in &s.touched {
            let ti = t as usize;
            if s.theme_distinct[ti] == 1 {
                let (f, level) = s.theme_entry[ti];
                s.sole.push((f, level, t));
            }
        }
        cell.entries.add_response(shape, &s.hits, &s.sole);
        match (r.id, id) {
            (_, Some(id)) => cell.respondents.push(id, &s.bits),
            (Some(_), None) => cell.responses_without_id += 1,
            (None, None) => {}
        }
    }

    /// Compact every cell's respondent log in place, so counting the cells
    /// ([`Aggregate::cells_with_all`]) and writing them ([`Aggregate::wire`])
    /// need no compacted copies.
    pub fn compact(&mut self) {
        let stride = self.shape.stride();
        for (_, _, acc) in &mut self.cells {
            acc.respondents.compact(stride);
        }
    }

    /// Add another aggregate (another worker's, or another shard's after
    /// [`Aggregate::set_shard`]). Counts add up, respondents are united by
    /// id, and a question keeps its earliest first appearance. Each of
    /// `other`'s cells is dropped as soon as it is merged, so the two sets
    /// of respondents are not held in full at once.
    pub fn merge(&mut self, other: Aggregate) {
        let qmap: Vec<usize> = (0..other.questions.len())
            .map(|q| self.question_slot(&other.questions[q], other.first[q]))
            .collect();
        let ids: Vec<u32> = (0..other.ids.len() as u32)
            .map(|i| self.ids.intern(other.ids.get(i)))
            .collect();
        for (groups, q, acc) in other.cells {
            let ci = self.cell_slot(groups.iter().map(String::as_str), qmap[q]);
            self.cells[ci]
                .2
                .merge(&acc, |id| ids[id as usize], &self.shape);
        }
        self.responses_without_tokens += other.responses_without_tokens;
    }

    /// Every output cell: the data's combinations plus every `All` level
    /// (each group column; the question too when there are several),
    /// crossed with the others' levels, in table order (levels sorted, `All`
    /// last; questions in order of first appearance, `All` last). Scores
    /// are computed here, from the per-entry counts in entry order.
    pub fn cells_with_all(&self) -> BTreeMap<CellKey, Cell> {
        let order = self.question_order();
        let mut rank = vec![0usize; order.len()];
        for (r, &q) in order.iter().enumerate() {
            rank[q] = r;
        }
        let question_all = self.questions.len() > 1;
        let mut members: BTreeMap<CellKey, Vec<usize>> = BTreeMap::new();
        for (ci, (groups, q, _)) in self.cells.iter().enumerate() {
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
                    question_order: if q_all { usize::MAX } else { rank[*q] },
                    question: if q_all {
                        Level::All
                    } else {
                        Level::Value(self.questions[*q].clone())
                    },
                };
                members.entry(key).or_default().push(ci);
            }
        }
        // Output cells are independent: count them in parallel (in the
        // current rayon pool, so `--threads` holds).
        use rayon::prelude::*;
        members
            .into_par_iter()
            .map(|(key, list)| {
                let accs: Vec<&Acc> = list.iter().map(|&ci| &self.cells[ci].2).collect();
                (key, self.output_cell(&accs))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    }

    /// The output cell of one or more data cells: one is used as it is;
    /// several have their counts added into a copy without respondents,
    /// whose union is counted without being built.
    fn output_cell(&self, accs: &[&Acc]) -> Cell {
        let shape = &*self.shape;
        let (n_themes, stride) = (shape.n_themes(), shape.stride());
        let merged;
        let acc = if let [one] = accs {
            one
        } else {
            let mut m = Acc::new(n_themes);
            for a in accs {
                m.add_counts(a, shape);
            }
            merged = m;
            &merged
        };
        let sets: Vec<&Respondents> = accs.iter().map(|a| &a.respondents).collect();
        let (respondents, respondents_with_theme) =
            Respondents::union_counts(&sets, n_themes, stride);
        let mut themes = acc.themes.clone();
        let entries: BTreeMap<(u32, u32), EntryCell> =
            acc.entries.entry_list(shape).into_iter().collect();
        for (&(own, e), ec) in &entries {
            let w = ec.units as f64 * shape.weights[shape.flat(own, e) as usize];
            for t in shape.chain(own) {
                themes[t as usize].score += w;
            }
        }
        let sole = acc.entries.sole_list(shape).into_iter().collect();
        Cell {
            responses: acc.responses,
            tokens: acc.tokens,
            themes,
            entries,
            responses_without_id: acc.responses_without_id,
            sole,
            respondents,
            respondents_with_theme,
        }
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The `partial.json` form, serialized in a canonical order (cells by
    /// question order then groups, entries by theme and entry, respondents
    /// by id), so the file is byte-identical for any thread count.
    pub fn wire(&self) -> impl Serialize + '_ {
        WireOut(self)
    }

    /// Rebuild an aggregate from its `partial.json` form, checking it
    /// against the lexicon's shape and `n_groups` group columns: a
    /// malformed partial is an error, never a panic or a silent miscount.
    pub fn from_wire(
        w: WireAggregate,
        shape: Arc<Shape>,
        n_groups: usize,
    ) -> Result<Aggregate, String> {
        let n_themes = shape.n_themes();
        if w.n_themes != n_themes {
            return Err(format!(
                "has counts for {} themes, the lexicon has {n_themes}",
                w.n_themes
            ));
        }
        let stride = shape.stride();
        let mut a = Aggregate::new(shape);
        for (i, q) in w.questions.iter().enumerate() {
            if a.question_index.contains_key(q) {
                return Err(format!("lists the question `{q}` twice"));
            }
            a.question_slot(q, (0, i as u64));
        }
        // Bits a respondent may carry: one per theme.
        let last_word = if n_themes.is_multiple_of(64) {
            u64::MAX
        } else {
            (1u64 << (n_themes % 64)) - 1
        };
        for (ci, ((groups, q), c)) in w.cells.into_iter().enumerate() {
            let cell = |m: String| format!("cell {}: {m}", ci + 1);
            if q >= a.questions.len() {
                return Err(cell(format!("names question {q}, which is not listed")));
            }
            if groups.len() != n_groups {
                return Err(cell(format!(
                    "has {} group values, the partial has {n_groups} group columns",
                    groups.len()
                )));
            }
            if c.themes.len() != n_themes {
                return Err(cell(format!(
                    "has {} themes, not {n_themes}",
                    c.themes.len()
                )));
            }
            let before = a.cells.len();
            let slot = a.cell_slot(groups.iter().map(String::as_str), q);
            if a.cells.len() == before {
                return Err(cell("repeats an earlier cell's groups and question".into()));
            }
            let shape = &*a.shape;
            let flat = |t: u32, e: u32| -> Result<u32, String> {
                let known = (t as usize) < n_themes
                    && e < shape.entry_start[t as usize + 1] - shape.entry_start[t as usize];
                if known {
                    Ok(shape.flat(t, e))
                } else {
                    Err(cell(format!(
                        "names an entry ({t}, {e}) the lexicon does not have"
                    )))
                }
            };
            let mut acc = Acc::new(n_themes);
            acc.responses = c.responses;
            acc.tokens = c.tokens;
            acc.responses_without_id = c.responses_without_id;
            acc.themes = c.themes;
            let (mut entries, mut sole) = (FxHashMap::default(), FxHashMap::default());
            for ((t, e), ec) in c.entries {
                if !shape.liwc && ec.units != ec.hits {
                    // Without liwc semantics a hit is one unit (a dense
                    // table keeps no separate count of units).
                    return Err(cell(format!(
                        "gives entry ({t}, {e}) {} units for {} hits; without liwc semantics they are equal",
                        ec.units, ec.hits
                    )));
                }
                if entries.insert(flat(t, e)?, ec).is_some() {
                    return Err(cell(format!("lists entry ({t}, {e}) twice")));
                }
            }
            for ((t, own, e), n) in c.sole {
                let f = flat(own, e)?;
                if !shape.chain(own).any(|x| x == t) {
                    return Err(cell(format!(
                        "counts entry ({own}, {e}) as sole contributor of theme {t}, which is not its theme or an ancestor"
                    )));
                }
                if sole.insert(u64::from(f) << 32 | u64::from(t), n).is_some() {
                    return Err(cell(format!(
                        "lists sole contributor ({t}, {own}, {e}) twice"
                    )));
                }
            }
            acc.entries = EntryTable::from_maps(entries, sole, shape);
            for (id, bits) in &c.respondents {
                let valid =
                    bits.len() == stride && bits.last().is_none_or(|&w| w & !last_word == 0);
                if !valid {
                    return Err(cell(format!(
                        "gives respondent `{id}` theme bits {bits:?}, not {stride} word(s) within {n_themes} themes"
                    )));
                }
                let id = a.ids.intern(id);
                acc.respondents.push(id, bits);
            }
            acc.respondents.compact(stride);
            a.cells[slot].2 = acc;
        }
        a.responses_without_tokens = w.responses_without_tokens;
        Ok(a)
    }
}

/// An aggregate as `partial.json` holds it.
#[derive(Debug, Deserialize)]
pub struct WireAggregate {
    n_themes: usize,
    questions: Vec<String>,
    cells: Vec<((Vec<String>, usize), WireCell)>,
    responses_without_tokens: u64,
}

/// A cell as `partial.json` holds it.
#[derive(Debug, Deserialize)]
struct WireCell {
    responses: u64,
    tokens: u64,
    themes: Vec<ThemeCell>,
    entries: Vec<((u32, u32), EntryCell)>,
    respondents: BTreeMap<String, Vec<u64>>,
    responses_without_id: u64,
    sole: Vec<((u32, u32, u32), u64)>,
}

struct WireOut<'a>(&'a Aggregate);

impl Serialize for WireOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let order = a.question_order();
        let mut rank = vec![0usize; order.len()];
        for (r, &q) in order.iter().enumerate() {
            rank[q] = r;
        }
        let mut cells: Vec<&(Vec<String>, usize, Acc)> = a.cells.iter().collect();
        cells.sort_by(|x, y| (rank[x.1], &x.0).cmp(&(rank[y.1], &y.0)));
        let questions: Vec<&str> = order.iter().map(|&q| a.questions[q].as_str()).collect();
        let mut st = s.serialize_struct("Aggregate", 4)?;
        st.serialize_field("n_themes", &a.shape.n_themes())?;
        st.serialize_field("questions", &questions)?;
        let cells: Vec<_> = cells
            .into_iter()
            .map(|(g, q, acc)| ((g, rank[*q]), WireCellOut { a, acc }))
            .collect();
        st.serialize_field("cells", &cells)?;
        st.serialize_field("responses_without_tokens", &a.responses_without_tokens)?;
        st.end()
    }
}

struct WireCellOut<'a> {
    a: &'a Aggregate,
    acc: &'a Acc,
}

impl Serialize for WireCellOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (shape, acc) = (&*self.a.shape, self.acc);
        let stride = shape.stride();
        let entries = acc.entries.entry_list(shape);
        let sole = acc.entries.sole_list(shape);
        let mut st = s.serialize_struct("Cell", 7)?;
        st.serialize_field("responses", &acc.responses)?;
        st.serialize_field("tokens", &acc.tokens)?;
        st.serialize_field("themes", &acc.themes)?;
        st.serialize_field("entries", &entries)?;
        st.serialize_field(
            "respondents",
            &RespondentsOut {
                ids: &self.a.ids,
                r: &acc.respondents,
                stride,
            },
        )?;
        st.serialize_field("responses_without_id", &acc.responses_without_id)?;
        st.serialize_field("sole", &sole)?;
        st.end()
    }
}

struct RespondentsOut<'a> {
    ids: &'a Interner,
    r: &'a Respondents,
    stride: usize,
}

impl Serialize for RespondentsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.r.compacted(self.stride);
        let mut list: Vec<(&str, usize)> = r
            .ids
            .iter()
            .enumerate()
            .map(|(slot, &id)| (self.ids.get(id), slot))
            .collect();
        list.sort_unstable();
        let mut m = s.serialize_map(Some(list.len()))?;
        for (id, slot) in list {
            m.serialize_entry(id, &r.bits[slot * self.stride..(slot + 1) * self.stride])?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(hits: &[u64]) -> &'static [ThemeCounts] {
        let v: Vec<ThemeCounts> = hits
            .iter()
            .map(|&h| ThemeCounts {
                hits: h,
                negated: 0,
                score: h as f64,
            })
            .collect();
        Box::leak(v.into_boxed_slice())
    }

    /// Themes without entries, no hierarchy.
    fn flat_shape(n: usize) -> Arc<Shape> {
        Arc::new(Shape::new(vec![None; n], vec![Vec::new(); n], false))
    }

    fn coded(id: Option<&'static str>, c: &'static [ThemeCounts]) -> Coded<'static> {
        Coded {
            id,
            at: (0, 0),
            tokens: 10,
            counts: c,
            matches: &[],
        }
    }

    #[test]
    fn all_levels_sum_and_union_respondents() {
        let mut a = Aggregate::new(flat_shape(2));
        let (c1, c2) = (counts(&[1, 0]), counts(&[0, 2]));
        a.add(&["AA"], "q1", coded(Some("p1"), c1));
        a.add(&["NA"], "q1", coded(Some("p2"), c2));
        a.add(&["AA"], "q2", coded(Some("p1"), c2));
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

    fn m(theme: u32, entry: u32, negated: bool) -> Match {
        Match {
            theme,
            entry,
            start: 0,
            end: 1,
            byte_start: 0,
            byte_end: 1,
            negated,
        }
    }

    #[test]
    fn entries_sole_contributors_and_scores() {
        // Theme 0 is the parent of themes 1 and 2; theme 1's entry weighs 2.
        let shape = Shape::new(
            vec![None, Some(0), Some(0)],
            vec![vec![], vec![2.0], vec![1.0, 1.0]],
            false,
        );
        let c = counts(&[2, 1, 1]);
        let mut a = Aggregate::new(Arc::new(shape));
        // Response 1: entry (1,0) twice and (2,0) once, plus a negated (2,1).
        let ms = [
            m(1, 0, false),
            m(1, 0, false),
            m(2, 0, false),
            m(2, 1, true),
        ];
        let r = |ms: &'static [Match]| Coded {
            matches: ms,
            ..coded(None, c)
        };
        a.add(&[] as &[&str], "q", r(Box::leak(Box::new(ms))));
        // Response 2: only (1,0).
        a.add(
            &[] as &[&str],
            "q",
            r(Box::leak(Box::new([m(1, 0, false)]))),
        );
        let cells = a.cells_with_all();
        assert_eq!(cells.len(), 1);
        let cell = cells.values().next().unwrap();
        let ec = |hits, responses| EntryCell {
            hits,
            responses,
            units: hits,
        };
        assert_eq!(cell.entries[&(1, 0)], ec(3, 2));
        assert_eq!(cell.entries[&(2, 0)], ec(1, 1));
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
        // Scores from entries, rolled up: 3 × 2.0 + 1 × 1.0.
        assert_eq!(cell.themes[1].score, 6.0);
        assert_eq!(cell.themes[2].score, 1.0);
        assert_eq!(cell.themes[0].score, 7.0);
    }

    /// The respondent log (appends, compactions, unions, k-way counts)
    /// against a map from id to united bits, on logs long enough to compact
    /// many times, with ids in order, shuffled and repeated.
    #[test]
    fn respondent_log_equals_a_map() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        type Naive = BTreeMap<u32, Vec<u64>>;
        let stride = 2;
        let strategy = proptest::collection::vec(
            proptest::collection::vec((0u32..20_000, any::<u64>(), 0u64..4), 0..12_000),
            1..4,
        );
        let mut runner = TestRunner::new(Config {
            cases: 24,
            ..Config::default()
        });
        runner
            .run(&strategy, |sets| {
                let mut logs = Vec::new();
                let mut naives: Vec<Naive> = Vec::new();
                for (k, records) in sets.iter().enumerate() {
                    let mut log = Respondents::default();
                    let mut naive = Naive::new();
                    for (n, &(id, lo, hi)) in records.iter().enumerate() {
                        // Half the sets in increasing order: the free path.
                        let id = if k % 2 == 0 {
                            id
                        } else {
                            n as u32 * 3 + id % 3
                        };
                        log.push(id, &[lo, hi]);
                        let e = naive.entry(id).or_insert_with(|| vec![0; stride]);
                        e[0] |= lo;
                        e[1] |= hi;
                    }
                    prop_assert!(log.ids.len() <= 2 * naive.len().max(MIN_COMPACT));
                    logs.push(log);
                    naives.push(naive);
                }
                let counts = |naive: &Naive| {
                    let mut with = vec![0u64; 128];
                    for bits in naive.values() {
                        for t in 0..128 {
                            with[t] += bits[t / 64] >> (t % 64) & 1;
                        }
                    }
                    (naive.len() as u64, with)
                };
                let refs: Vec<&Respondents> = logs.iter().collect();
                let mut all = Naive::new();
                for naive in &naives {
                    for (&id, bits) in naive {
                        let e = all.entry(id).or_insert_with(|| vec![0; stride]);
                        e[0] |= bits[0];
                        e[1] |= bits[1];
                    }
                }
                prop_assert_eq!(Respondents::union_counts(&refs, 128, stride), counts(&all));
                for (log, naive) in logs.iter().zip(&naives) {
                    prop_assert_eq!(
                        Respondents::union_counts(&[log], 128, stride),
                        counts(naive)
                    );
                }
                // A union with renumbered ids, then compacted.
                let mut united = logs[0].clone();
                let mut expected = naives[0].clone();
                for (log, naive) in logs.iter().zip(&naives).skip(1) {
                    united.union(log, |id| id ^ 7, stride);
                    for (&id, bits) in naive {
                        let e = expected.entry(id ^ 7).or_insert_with(|| vec![0; stride]);
                        e[0] |= bits[0];
                        e[1] |= bits[1];
                    }
                }
                if logs.len() == 1 {
                    united.compact(stride);
                }
                prop_assert_eq!(united.sorted, united.ids.len());
                let got: Naive = united
                    .ids
                    .iter()
                    .zip(united.bits.chunks_exact(stride))
                    .map(|(&id, b)| (id, b.to_vec()))
                    .collect();
                prop_assert_eq!(got, expected);
                Ok(())
            })
            .unwrap();
    }

    /// A cell's entry table gives the same counts whether it stays sparse,
    /// turns dense at once or at the usual point, whether its 32-bit
    /// counters spill often or responses overflow them, and when tables of
    /// either kind are merged into the other or read back from
    /// `partial.json`: random hierarchies, entries and matches.
    #[test]
    fn sparse_and_dense_entry_tables_agree() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        // (parent choice, entries) per theme, liwc, then responses:
        // (group, question, id, matches as (theme, entry, negated, len)).
        let strategy = (
            proptest::collection::vec((0usize..4, 0usize..4), 1..7),
            any::<bool>(),
            proptest::collection::vec(
                (
                    0usize..3,
                    0usize..2,
                    0usize..5,
                    proptest::collection::vec((0usize..7, 0usize..4, any::<bool>(), 1u32..3), 0..8),
                ),
                0..80,
            ),
        );
        let mut runner = TestRunner::new(Config {
            cases: 200,
            ..Config::default()
        });
        runner
            .run(&strategy, |(themes, liwc, responses)| {
                // Theme t's parent is an earlier theme, or none.
                let parents: Vec<Option<u32>> = themes
                    .iter()
                    .enumerate()
                    .map(|(t, &(p, _))| (p < t).then_some(p as u32))
                    .collect();
                let weights: Vec<Vec<f64>> = themes
                    .iter()
                    .map(|&(_, n)| (0..n).map(|e| 1.0 + e as f64 / 4.0).collect())
                    .collect();
                let base = Shape::new(parents, weights.clone(), liwc);
                let shapes = [
                    Arc::new(base.clone().dense_at(usize::MAX)),
                    Arc::new(base.clone().dense_at(0)),
                    Arc::new(base.clone()),
                    // 32-bit counters spilled after nearly every response,
                    // and responses too large for them (`wide`).
                    Arc::new(base.clone().dense_at(0).room(3)),
                    Arc::new(base.dense_at(0).room(16)),
                ];
                let zero = counts(&vec![0; themes.len()]);
                let rows: Vec<(&str, &str, Option<String>, Vec<Match>)> = responses
                    .iter()
                    .map(|(g, q, id, ms)| {
                        let ms = ms
                            .iter()
                            .filter(|&&(t, e, ..)| t < themes.len() && e < weights[t].len())
                            .map(|&(t, e, negated, len)| Match {
                                end: len,
                                ..m(t as u32, e as u32, negated)
                            })
                            .collect();
                        let id = (*id > 0).then(|| format!("p{id}"));
                        (["a", "b", "c"][*g], ["q1", "q2"][*q], id, ms)
                    })
                    .collect();
                let add = |a: &mut Aggregate, rows: &[(&str, &str, Option<String>, Vec<Match>)]| {
                    for (i, (g, q, id, ms)) in rows.iter().enumerate() {
                        let r = Coded {
                            id: id.as_deref(),
                            at: (i as u64, 0),
                            tokens: 5,
                            counts: zero,
                            matches: ms,
                        };
                        a.add(&[g], q, r);
                    }
                };
                let json = |a: &Aggregate| serde_json::to_string(&a.wire()).unwrap();
                let whole = |k: usize| {
                    let mut a = Aggregate::new(shapes[k].clone());
                    add(&mut a, &rows);
                    a.compact();
                    a
                };
                let sparse = whole(0);
                let (want, want_json) = (sparse.cells_with_all(), json(&sparse));
                for k in 1..shapes.len() {
                    let a = whole(k);
                    prop_assert_eq!(&a.cells_with_all(), &want);
                    prop_assert_eq!(&json(&a), &want_json);
                }
                // Halves of each kind merged into the other.
                let half = rows.len() / 2;
                for (x, y) in [(0, 1), (1, 0), (2, 0), (0, 2), (3, 4), (4, 0), (1, 3)] {
                    let mut a = Aggregate::new(shapes[x].clone());
                    let mut b = Aggregate::new(shapes[y].clone());
                    add(&mut a, &rows[..half]);
                    add(&mut b, &rows[half..]);
                    a.merge(b);
                    a.compact();
                    prop_assert_eq!(&a.cells_with_all(), &want);
                }
                // Read back with each kind of shape.
                for shape in &shapes {
                    let wire: WireAggregate = serde_json::from_str(&want_json).unwrap();
                    let a = Aggregate::from_wire(wire, shape.clone(), 1).unwrap();
                    prop_assert_eq!(&a.cells_with_all(), &want);
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn merge_equals_one_run_and_keeps_first_appearance() {
        let c = counts(&[1, 3]);
        let shape = flat_shape(2);
        let mut one = Aggregate::new(shape.clone());
        let mut s1 = Aggregate::new(shape.clone());
        let mut s2 = Aggregate::new(shape);
        let rows = [
            ("a", "q2", "x"),
            ("b", "q1", "y"),
            ("a", "q1", "x"),
            ("c", "q3", "z"),
        ];
        for (i, (g, q, id)) in rows.iter().enumerate() {
            let r = Coded {
                at: (i as u64, 0),
                ..coded(Some(id), c)
            };
            one.add(&[g], q, r);
            // Rows split out of order between two workers.
            if i % 2 == 1 {
                s1.add(&[g], q, r)
            } else {
                s2.add(&[g], q, r)
            }
        }
        s1.merge(s2);
        assert_eq!(s1.questions(), ["q2", "q1", "q3"]);
        assert_eq!(s1.cells_with_all(), one.cells_with_all());
        let json = |a: &Aggregate| serde_json::to_string(&a.wire()).unwrap();
        assert_eq!(json(&s1), json(&one), "partial.json is canonical");
    }

    #[test]
    fn wire_round_trip() {
        let shape = Arc::new(Shape::new(
            vec![None, Some(0)],
            vec![vec![], vec![1.5]],
            false,
        ));
        let mut a = Aggregate::new(shape.clone());
        let c = counts(&[1, 1]);
        let ms: &'static [Match] = Box::leak(Box::new([m(1, 0, false)]));
        for (g, id) in [("a", "p1"), ("b", "p2"), ("a", "")] {
            a.add(
                &[g],
                "q",
                Coded {
                    matches: ms,
                    ..coded(Some(id), c)
                },
            );
        }
        let json = serde_json::to_string(&a.wire()).unwrap();
        let w: WireAggregate = serde_json::from_str(&json).unwrap();
        let b = Aggregate::from_wire(w, shape.clone(), 1).unwrap();
        assert_eq!(a.cells_with_all(), b.cells_with_all());
        assert_eq!(serde_json::to_string(&b.wire()).unwrap(), json);
        let w: WireAggregate = serde_json::from_str(&json).unwrap();
        let other = Arc::new(Shape::new(vec![None], vec![vec![]], false));
        assert!(Aggregate::from_wire(w, other, 1).is_err());
        // Without liwc semantics an entry's units are its hits: a partial
        // saying otherwise is refused, not read one way by sparse cells and
        // another by dense ones.
        let edited = json.replacen("\"units\":1", "\"units\":1001", 1);
        assert_ne!(edited, json);
        let w: WireAggregate = serde_json::from_str(&edited).unwrap();
        let err = Aggregate::from_wire(w, shape, 1).unwrap_err();
        assert!(err.contains("1001 units for 1 hits"), "{err}");
    }

    /// A response's bound on what it adds to a dense table's 32-bit
    /// counters covers every counter it touches, whatever the caller
    /// passes: zero-length liwc matches (a hit, no unit) and an entry
    /// matched many times, with counters spilled after a few units
    /// (the bound is checked in test builds, [`EntryTable::add_response`]).
    #[test]
    fn dense_counters_are_charged_for_every_count() {
        let base = Shape::new(vec![None, Some(0)], vec![vec![1.0], vec![1.0, 2.0]], true);
        let want = {
            let mut a = Aggregate::new(Arc::new(base.clone().dense_at(usize::MAX)));
            add_matches(&mut a);
            a.cells_with_all()
        };
        for room in [1, 3, 5, 40] {
            let mut a = Aggregate::new(Arc::new(base.clone().dense_at(0).room(room)));
            add_matches(&mut a);
            assert_eq!(a.cells_with_all(), want, "room {room}");
        }
        fn add_matches(a: &mut Aggregate) {
            let zero = counts(&[0, 0]);
            for k in 0..30u32 {
                let ms: Vec<Match> = (0..k % 7)
                    .map(|i| Match {
                        // Empty matches (start == end): all of them in
                        // every other response, else every third.
                        end: if k % 2 == 0 || i % 3 == 0 {
                            0
                        } else {
                            i % 2 + 1
                        },
                        ..m(1, k % 2, false)
                    })
                    .collect();
                a.add(
                    &["g"],
                    "q",
                    Coded {
                        matches: &ms,
                        ..coded(None, zero)
                    },
                );
            }
        }
    }
}
