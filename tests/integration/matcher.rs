//! Differential property test of the matcher (DESIGN 3.2, 3.3, 3.4).
//!
//! [`reference`] is a slow, obvious matcher written straight from DESIGN's
//! text, independent of `src/matching.rs` (only its public API is used to
//! read the fast matcher's output). The property test generates random
//! lexicons and texts from a small vocabulary, so that terms collide, nest
//! and overlap, and checks that both matchers agree on every match (theme,
//! entry, token span, byte span, negated), on the rolled-up tallies and on
//! the covered tokens.
//!
//! Texts are mostly ASCII, with separators that NFKC changes (`…`, `！`,
//! NBSP, line and paragraph separators) and curly apostrophes, so the
//! NFKC handling of gaps between tokens is exercised too.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use thematic::lexicon::{
    Cue, Lexicon, Negation, Origin, ScopeBreak, Semantics, Term, Theme, TokenPattern, parse_term,
};
use thematic::matching::{Match, Matcher, Scratch, ThemeCounts};
use thematic::tokenize::{Tokenizer, Tokens};

/// The reference matcher: DESIGN 3.2 – 3.4 read literally, no cleverness.
mod reference {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    /// One match, named by theme id so it does not depend on the fast
    /// matcher's theme numbering.
    #[derive(Clone, Debug, PartialEq)]
    pub struct RefMatch {
        pub theme: String,
        /// Index into the theme's `terms` (its listing order).
        pub entry: usize,
        pub entry_text: String,
        pub weight: f64,
        pub start: usize,
        pub end: usize,
        pub byte_start: usize,
        pub byte_end: usize,
        pub negated: bool,
    }

    /// Per-theme totals (DESIGN 3.4: own plus every descendant's).
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub struct Counts {
        pub hits: u64,
        pub negated: u64,
        pub score: f64,
    }

    /// The original text between token `j - 1` and token `j`, after NFKC.
    fn gap_before(text: &str, toks: &Tokens, j: usize) -> String {
        let from = toks.token(j - 1).end;
        let to = toks.token(j).start;
        text[from..to].nfkc().collect()
    }

    fn is_sentence_break(c: char) -> bool {
        matches!(
            c,
            '.' | '!' | '?' | ';' | ':' | '\n' | '\r' | '\u{2028}' | '\u{2029}'
        )
    }

    /// DESIGN 3.2 step 1: every token pattern accepts its token, and no
    /// sentence break lies in the gaps between the entry's tokens.
    pub fn entry_matches_at(text: &str, toks: &Tokens, pattern: &[TokenPattern], i: usize) -> bool {
        let k = pattern.len();
        if i + k > toks.len() {
            return false;
        }
        for (j, p) in pattern.iter().enumerate() {
            if !p.matches(toks.text(i + j)) {
                return false;
            }
        }
        for j in i + 1..i + k {
            if gap_before(text, toks, j).chars().any(is_sentence_break) {
                return false;
            }
        }
        true
    }

    fn cue_accepts(cue: &Cue, token: &str) -> bool {
        match cue {
            Cue::Exact(s) => token == s,
            Cue::Prefix(p) => token.starts_with(p.as_str()),
            Cue::Suffix(s) => token.ends_with(s.as_str()),
        }
    }

    /// Negation: a cue within `window` tokens before `start`, with no break
    /// word among the tokens strictly between cue and match, and no break
    /// characters in any (NFKC'd) gap from the cue to the match.
    pub fn is_negated(text: &str, toks: &Tokens, neg: &Negation, start: usize) -> bool {
        let first = start.saturating_sub(neg.window);
        (first..start).any(|c| {
            if !neg.cues.iter().any(|cue| cue_accepts(cue, toks.text(c))) {
                return false;
            }
            for t in c + 1..start {
                for b in &neg.scope_breaks {
                    if let ScopeBreak::Word(w) = b
                        && toks.text(t) == w
                    {
                        return false;
                    }
                }
            }
            for g in c + 1..=start {
                let gap = gap_before(text, toks, g);
                for b in &neg.scope_breaks {
                    if let ScopeBreak::Chars(s) = b
                        && gap.contains(s.as_str())
                    {
                        return false;
                    }
                }
            }
            true
        })
    }

    fn make(
        theme: &str,
        entry: usize,
        term: &Term,
        weight: f64,
        toks: &Tokens,
        start: usize,
        end: usize,
    ) -> RefMatch {
        RefMatch {
            theme: theme.to_string(),
            entry,
            entry_text: term.text.clone(),
            weight,
            start,
            end,
            byte_start: toks.token(start).start,
            byte_end: toks.token(end - 1).end,
            negated: false,
        }
    }

    /// DESIGN 3.2 for one theme.
    fn theme_matches(text: &str, toks: &Tokens, theme: &Theme, out: &mut Vec<RefMatch>) {
        let n = toks.len();
        // Step 2: exclusion spans, wherever any exclude term matches.
        let mut excluded: Vec<(usize, usize)> = Vec::new();
        for ex in &theme.exclude {
            for i in 0..n {
                if entry_matches_at(text, toks, &ex.pattern, i) {
                    excluded.push((i, i + ex.pattern.len()));
                }
            }
        }
        let overlaps_exclusion = |s: usize, e: usize| excluded.iter().any(|&(a, b)| s < b && a < e);
        // Step 3: scan, longest non-excluded entry, first listed on ties.
        let mut i = 0;
        while i < n {
            let mut best: Option<usize> = None;
            for (ei, term) in theme.terms.iter().enumerate() {
                let k = term.pattern.len();
                if entry_matches_at(text, toks, &term.pattern, i)
                    && !overlaps_exclusion(i, i + k)
                    && best.is_none_or(|b| k > theme.terms[b].pattern.len())
                {
                    best = Some(ei);
                }
            }
            match best {
                Some(ei) => {
                    let term = &theme.terms[ei];
                    let k = term.pattern.len();
                    out.push(make(&theme.id, ei, term, term.weight, toks, i, i + k));
                    i += k;
                }
                None => i += 1,
            }
        }
    }

    /// A normalized term: the same token patterns = the same entry.
    fn entry_key(pattern: &[TokenPattern]) -> Vec<String> {
        pattern
            .iter()
            .map(|p| match p {
                TokenPattern::Exact(s) => format!("exact {s}"),
                TokenPattern::Prefix(s) => format!("prefix {s}"),
                TokenPattern::Regex(r) => format!("regex {}", r.as_str()),
                TokenPattern::Glob { glob, .. } => format!("glob {glob}"),
            })
            .collect()
    }

    /// One liwc entry: a normalized term and every (theme, term index,
    /// weight) that lists it; a theme listing it twice keeps its first.
    struct LiwcEntry<'a> {
        key: Vec<String>,
        first: &'a Term,
        members: Vec<(&'a str, usize, &'a Term)>,
    }

    impl LiwcEntry<'_> {
        fn is_regex(&self) -> bool {
            self.first
                .pattern
                .iter()
                .any(|p| matches!(p, TokenPattern::Regex(_)))
        }
        fn is_exact(&self) -> bool {
            self.first
                .pattern
                .iter()
                .all(|p| matches!(p, TokenPattern::Exact(_)))
        }
        /// The term's length in characters without the `*`.
        fn pattern_len(&self) -> usize {
            self.first.text.chars().filter(|&c| c != '*').count()
        }
    }

    /// DESIGN 3.3.
    fn liwc_matches(text: &str, toks: &Tokens, lex: &Lexicon, out: &mut Vec<RefMatch>) {
        let mut entries: Vec<LiwcEntry> = Vec::new();
        for theme in &lex.themes {
            for (ti, term) in theme.terms.iter().enumerate() {
                let key = entry_key(&term.pattern);
                let e = match entries.iter().position(|e| e.key == key) {
                    Some(e) => e,
                    None => {
                        entries.push(LiwcEntry {
                            key,
                            first: term,
                            members: Vec::new(),
                        });
                        entries.len() - 1
                    }
                };
                let e = &mut entries[e];
                if !e.members.iter().any(|m| m.0 == theme.id) {
                    e.members.push((&theme.id, ti, term));
                }
            }
        }
        let longest = entries
            .iter()
            .map(|e| e.first.pattern.len())
            .max()
            .unwrap_or(0);
        let n = toks.len();
        let mut i = 0;
        'scan: while i < n {
            for len in (1..=longest).rev() {
                let found: Vec<&LiwcEntry> = entries
                    .iter()
                    .filter(|e| e.first.pattern.len() == len)
                    .filter(|e| entry_matches_at(text, toks, &e.first.pattern, i))
                    .collect();
                let exact = found.iter().find(|e| e.is_exact());
                // Wildcards by descending pattern length; the first listed
                // wins a tie (max_by_key would take the last).
                let mut wild: Vec<&&LiwcEntry> = found
                    .iter()
                    .filter(|e| !e.is_exact() && !e.is_regex())
                    .collect();
                wild.sort_by_key(|e| std::cmp::Reverse(e.pattern_len()));
                let regex = found.iter().find(|e| e.is_regex());
                let chosen = exact.or(wild.first().copied()).or(regex);
                if let Some(e) = chosen {
                    for &(theme, ti, term) in &e.members {
                        out.push(make(theme, ti, term, term.weight, toks, i, i + len));
                    }
                    i += len;
                    continue 'scan;
                }
            }
            i += 1;
        }
    }

    /// Every match of the lexicon in one text (unordered).
    pub fn find(lex: &Lexicon, text: &str, toks: &Tokens) -> Vec<RefMatch> {
        let mut out = Vec::new();
        match lex.semantics {
            Semantics::Themes => {
                for theme in &lex.themes {
                    theme_matches(text, toks, theme, &mut out);
                }
            }
            Semantics::Liwc => liwc_matches(text, toks, lex, &mut out),
        }
        if let Some(neg) = &lex.negation {
            for m in &mut out {
                m.negated = is_negated(text, toks, neg, m.start);
            }
        }
        out
    }

    /// Every theme id: the listed ones and all their dotted prefixes.
    pub fn all_theme_ids(lex: &Lexicon) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for t in &lex.themes {
            let segs: Vec<&str> = t.id.split('.').collect();
            for k in 1..=segs.len() {
                let id = segs[..k].join(".");
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// DESIGN 3.4: a theme's counts are those of its own matches plus those
    /// of every descendant's (`liwc`: a match counts its tokens).
    pub fn tally(lex: &Lexicon, matches: &[RefMatch], id: &str) -> Counts {
        let mut c = Counts::default();
        let below = format!("{id}.");
        for m in matches {
            if m.theme != id && !m.theme.starts_with(&below) {
                continue;
            }
            let units = match lex.semantics {
                Semantics::Themes => 1,
                Semantics::Liwc => (m.end - m.start) as u64,
            };
            if m.negated {
                c.negated += units;
            } else {
                c.hits += units;
                c.score += units as f64 * m.weight;
            }
        }
        c
    }

    /// Tokens inside any non-negated match.
    pub fn covered(n: usize, matches: &[RefMatch]) -> usize {
        (0..n)
            .filter(|&t| {
                matches
                    .iter()
                    .any(|m| !m.negated && m.start <= t && t < m.end)
            })
            .count()
    }
}

// ---------------------------------------------------------------------------
// Generated cases.

/// A lexicon and texts as plain data (so proptest can shrink it and a
/// failure prints as something that can be pasted into a TOML file).
#[derive(Clone, Debug)]
struct Spec {
    liwc: bool,
    negation: Option<NegSpec>,
    themes: Vec<ThemeSpec>,
    texts: Vec<String>,
}

#[derive(Clone, Debug)]
struct ThemeSpec {
    id: String,
    terms: Vec<(String, f64)>,
    exclude: Vec<String>,
}

#[derive(Clone, Debug)]
struct NegSpec {
    cues: Vec<String>,
    window: usize,
    breaks: Vec<String>,
}

const THEME_IDS: &[&str] = &["a", "a.b", "a.c", "a.b.c", "b", "b.x", "c.d.e", "d"];
const WORDS: &[&str] = &[
    "stay", "stays", "clean", "cleaner", "sober", "go", "good", "group", "help", "helping",
    "don't", "not", "never", "but",
];
const PREFIXES: &[&str] = &["stay", "clean", "go", "help", "s", "gro", "don", "n"];
const REGEXES: &[&str] = &[
    "regex:stay(s|ing)?",
    "regex:g[a-z]*",
    "regex:[a-z]+n't",
    "regex:clean|sober",
    "regex:he.*",
];
const WEIGHTS: &[f64] = &[1.0, 1.0, 1.0, 2.0, 0.5, 1.5];
const TEXT_WORDS: &[&str] = &[
    "stay", "stays", "staying", "clean", "cleaner", "sober", "go", "good", "group", "help",
    "helping", "don't", "not", "never", "no", "but", "Stay", "NOT", "Don't", "x",
];
const SEPARATORS: &[&str] = &[
    " ",
    " ",
    " ",
    ", ",
    ". ",
    "-",
    "\n",
    ";",
    "'s ",
    ": ",
    "! ",
    "  ",
    "\r\n",
    "? ",
    " - ",
    // A line separator, a paragraph separator, `…` (`...` after NFKC,
    // DESIGN 3.2), a full-width `！` (`!` after NFKC), a curly apostrophe
    // and a no-break space.
    "\u{2028}",
    "\u{2029}",
    "\u{2026} ",
    "\u{ff01}",
    "\u{2019} ",
    "\u{a0}",
];
const CUES: &[&str] = &["not", "never", "nev*", "*n't", "no", "don*", "but"];
const BREAKS: &[&str] = &[",", ".", ";", "-", "!", "but", "go"];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(WORDS).prop_map(str::to_string),
        // Case differs, the normalized term does not.
        1 => prop::sample::select(WORDS).prop_map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }),
        3 => prop::sample::select(PREFIXES).prop_map(|p| format!("{p}*")),
    ]
}

fn term() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => word(),
        4 => prop::collection::vec(word(), 2..=3).prop_map(|ws| ws.join(" ")),
        1 => prop::sample::select(REGEXES).prop_map(str::to_string),
        1 => Just("help-group".to_string()),
    ]
}

fn theme_spec(id: String) -> impl Strategy<Value = ThemeSpec> {
    (
        // No terms is allowed for a parent; `spec` gives a leaf one.
        prop::collection::vec((term(), prop::sample::select(WEIGHTS)), 0..=6),
        prop::collection::vec(term(), 0..=2),
        0..4u8,
    )
        .prop_map(move |(terms, exclude, ex)| ThemeSpec {
            id: id.clone(),
            terms,
            // Exclusions in about half of the themes.
            exclude: if ex < 2 { exclude } else { Vec::new() },
        })
}

/// Ways of writing the words of a (non-regex) term in a text: a wildcard
/// word as its prefix alone or with a suffix.
fn instances(term: &str) -> Vec<Vec<String>> {
    if term.starts_with("regex:") {
        return Vec::new();
    }
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for w in term.split_whitespace() {
        let forms: Vec<String> = match w.strip_suffix('*') {
            Some(p) => ["", "s", "ing", "er"]
                .iter()
                .map(|x| format!("{p}{x}"))
                .collect(),
            None => vec![w.to_string()],
        };
        out = out
            .into_iter()
            .flat_map(|ws| {
                forms.iter().map(move |f| {
                    let mut ws = ws.clone();
                    ws.push(f.clone());
                    ws
                })
            })
            .collect();
    }
    out
}

/// A text: pieces that are either a vocabulary word or the words of one of
/// the lexicon's terms (so phrases and exclusions do match), every word
/// followed by a random separator (so phrases are often split by breaks).
fn text(phrases: Vec<Vec<String>>) -> impl Strategy<Value = String> {
    let words: Vec<Vec<String>> = TEXT_WORDS.iter().map(|w| vec![w.to_string()]).collect();
    let piece = if phrases.is_empty() {
        prop::sample::select(words).boxed()
    } else {
        prop_oneof![prop::sample::select(words), prop::sample::select(phrases),].boxed()
    };
    (
        prop::option::of(prop::sample::select(SEPARATORS)),
        prop::collection::vec(
            (
                piece,
                prop::collection::vec(prop::sample::select(SEPARATORS), 3),
            ),
            0..=8,
        ),
    )
        .prop_map(|(lead, pieces)| {
            let mut s = lead.unwrap_or("").to_string();
            for (ws, seps) in pieces {
                for (w, sep) in ws.iter().zip(seps) {
                    s.push_str(w);
                    s.push_str(sep);
                }
            }
            s
        })
}

fn negation() -> impl Strategy<Value = NegSpec> {
    (
        prop::sample::subsequence(CUES, 1..=CUES.len()),
        1..=4usize,
        prop::sample::subsequence(BREAKS, 0..=BREAKS.len()),
    )
        .prop_map(|(cues, window, breaks)| NegSpec {
            cues: cues.into_iter().map(str::to_string).collect(),
            window,
            breaks: breaks.into_iter().map(str::to_string).collect(),
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::subsequence(THEME_IDS, 1..=6).prop_shuffle(),
        any::<bool>(),
        prop::option::of(negation()),
    )
        .prop_flat_map(|(ids, liwc, negation)| {
            let themes: Vec<_> = ids
                .into_iter()
                .map(|id| theme_spec(id.to_string()))
                .collect();
            (themes, Just(liwc), Just(negation))
        })
        .prop_flat_map(|(mut themes, liwc, negation)| {
            let ids: Vec<String> = themes.iter().map(|t| t.id.clone()).collect();
            for t in &mut themes {
                let below = format!("{}.", t.id);
                if t.terms.is_empty() && !ids.iter().any(|id| id.starts_with(&below)) {
                    t.terms.push(("good".to_string(), 1.0));
                }
            }
            let mut phrases: Vec<Vec<String>> = Vec::new();
            for t in &themes {
                let terms = t.terms.iter().map(|(s, _)| s).chain(&t.exclude);
                phrases.extend(terms.flat_map(|s| instances(s)));
            }
            let texts = prop::collection::vec(text(phrases), 1..=4);
            (Just(themes), Just(liwc), Just(negation), texts)
        })
        .prop_map(|(themes, liwc, negation, texts)| Spec {
            liwc,
            negation,
            themes,
            texts,
        })
}

/// The spec as a TOML lexicon, for reproducing a failure by hand.
fn to_toml(spec: &Spec) -> String {
    let q = |s: &str| format!("{s:?}");
    let mut out = format!(
        "[lexicon]\nname = \"generated\"\nsemantics = \"{}\"\n",
        if spec.liwc { "liwc" } else { "themes" }
    );
    if let Some(n) = &spec.negation {
        let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
        out += &format!(
            "\n[negation]\ncues = [{}]\nwindow = {}\nscope_breaks = [{}]\n",
            list(&n.cues),
            n.window,
            list(&n.breaks)
        );
    }
    for t in &spec.themes {
        let terms: Vec<String> = t
            .terms
            .iter()
            .map(|(s, w)| {
                if *w == 1.0 {
                    q(s)
                } else {
                    format!("{{ term = {}, weight = {w:?} }}", q(s))
                }
            })
            .collect();
        out += &format!(
            "\n[[theme]]\nid = {}\nterms = [{}]\n",
            q(&t.id),
            terms.join(", ")
        );
        if !spec.liwc && !t.exclude.is_empty() {
            let ex: Vec<String> = t.exclude.iter().map(|s| q(s)).collect();
            out += &format!("exclude = [{}]\n", ex.join(", "));
        }
    }
    out
}

fn build(spec: &Spec, tk: &Tokenizer) -> Lexicon {
    let mut scratch = Tokens::new();
    let mut term = |text: &str, weight: f64| Term {
        text: text.to_string(),
        weight,
        pattern: parse_term(text, tk, &mut scratch)
            .unwrap_or_else(|e| panic!("generated term {text:?}: {}", e.0)),
        origin: Origin::default(),
    };
    let themes = spec
        .themes
        .iter()
        .map(|t| Theme {
            id: t.id.clone(),
            label: None,
            description: None,
            terms: t.terms.iter().map(|(s, w)| term(s, *w)).collect(),
            exclude: if spec.liwc {
                Vec::new()
            } else {
                t.exclude.iter().map(|s| term(s, 1.0)).collect()
            },
            origin: Origin::default(),
        })
        .collect();
    let negation = spec.negation.as_ref().map(|n| Negation {
        cues: n
            .cues
            .iter()
            .map(|c| {
                if let Some(s) = c.strip_prefix('*') {
                    Cue::Suffix(s.to_string())
                } else if let Some(p) = c.strip_suffix('*') {
                    Cue::Prefix(p.to_string())
                } else {
                    Cue::Exact(c.clone())
                }
            })
            .collect(),
        window: n.window,
        scope_breaks: n
            .breaks
            .iter()
            .map(|b| {
                if b.chars().all(char::is_alphanumeric) {
                    ScopeBreak::Word(b.clone())
                } else {
                    ScopeBreak::Chars(b.clone())
                }
            })
            .collect(),
    });
    let lex = Lexicon {
        name: "generated".into(),
        version: None,
        language: None,
        description: None,
        semantics: if spec.liwc {
            Semantics::Liwc
        } else {
            Semantics::Themes
        },
        negation,
        themes,
    };
    let mut diags = thematic::lexicon::Diagnostics::new("generated");
    lex.validate(&mut diags);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    lex
}

/// Compare fast and reference on every text of `spec`.
fn check(spec: &Spec, tk: &Tokenizer) -> Result<(), String> {
    let lex = build(spec, tk);
    let fast = Matcher::new(&lex);
    let themes = fast.themes();
    let ids: Vec<&str> = themes.iter().map(|t| t.id.as_str()).collect();

    // The theme tree: the same ids, each parent listed before its children.
    let mut want_ids = reference::all_theme_ids(&lex);
    want_ids.sort();
    let mut got_ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    got_ids.sort();
    if want_ids != got_ids {
        return Err(format!(
            "theme ids: fast {got_ids:?}, reference {want_ids:?}"
        ));
    }
    for (ix, t) in themes.iter().enumerate() {
        let want_parent = t.id.rfind('.').map(|d| &t.id[..d]);
        let got_parent = t.parent.map(|p| ids[p as usize]);
        if want_parent != got_parent {
            return Err(format!(
                "parent of {}: fast {got_parent:?}, reference {want_parent:?}",
                t.id
            ));
        }
        if let Some(p) = t.parent
            && p as usize >= ix
        {
            return Err(format!("theme {} listed before its parent", t.id));
        }
    }

    let mut toks = Tokens::new();
    let mut scratch = Scratch::new();
    let mut got: Vec<Match> = Vec::new();
    let mut counts: Vec<ThemeCounts> = Vec::new();
    for text in &spec.texts {
        tk.tokenize(text, &mut toks);
        fast.find(text, &toks, &mut scratch, &mut got);
        let mut want = reference::find(&lex, text, &toks);
        let ix_of = |id: &str| ids.iter().position(|&x| x == id).unwrap();
        want.sort_by_key(|m| (m.start, ix_of(&m.theme)));

        let show_fast: Vec<String> = got
            .iter()
            .map(|m| {
                let t = &themes[m.theme as usize];
                format!(
                    "{}{}:{}#{}({})@{}..{}[{}..{}]",
                    if m.negated { "!" } else { "" },
                    t.id,
                    t.entries
                        .get(m.entry as usize)
                        .map_or("?", |e| e.text.as_str()),
                    m.entry,
                    t.entries
                        .get(m.entry as usize)
                        .map_or(f64::NAN, |e| e.weight),
                    m.start,
                    m.end,
                    m.byte_start,
                    m.byte_end
                )
            })
            .collect();
        let show_ref: Vec<String> = want
            .iter()
            .map(|m| {
                format!(
                    "{}{}:{}#{}({})@{}..{}[{}..{}]",
                    if m.negated { "!" } else { "" },
                    m.theme,
                    m.entry_text,
                    m.entry,
                    m.weight,
                    m.start,
                    m.end,
                    m.byte_start,
                    m.byte_end
                )
            })
            .collect();
        let tokens: Vec<&str> = (0..toks.len()).map(|i| toks.text(i)).collect();
        // Guard the premise (the tokenizer's offsets are right for these
        // texts), so a tokenizer problem is not reported as a matcher one.
        for (i, t) in toks.tokens().iter().enumerate() {
            assert_eq!(
                text[t.start..t.end].to_lowercase().replace('\u{2019}', "'"),
                tokens[i],
                "{text:?}"
            );
        }
        let context = || format!("text {text:?}\ntokens {tokens:?}\n");
        if show_fast != show_ref {
            return Err(format!(
                "{}matches differ\n  fast:      {show_fast:?}\n  reference: {show_ref:?}",
                context()
            ));
        }

        fast.tally(&got, &mut counts);
        for (ix, t) in themes.iter().enumerate() {
            let w = reference::tally(&lex, &want, &t.id);
            let g = counts[ix];
            let close = (w.score - g.score).abs() <= 1e-9 * (1.0 + w.score.abs());
            if w.hits != g.hits || w.negated != g.negated || !close {
                return Err(format!(
                    "{}tally of {} differs: fast {g:?}, reference {w:?}\n  matches {show_ref:?}",
                    context(),
                    t.id
                ));
            }
        }

        let g = fast.covered_tokens(toks.len(), &got, &mut scratch);
        let w = reference::covered(toks.len(), &want);
        if g != w {
            return Err(format!(
                "{}covered tokens: fast {g}, reference {w}",
                context()
            ));
        }
    }
    Ok(())
}

#[test]
fn matcher_agrees_with_reference() {
    let tk = Tokenizer::default_pipeline();
    let config = Config {
        // At least 10,000; `PROPTEST_CASES=100000` runs more.
        cases: Config::default().cases.max(10_000),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&spec(), |spec| {
        check(&spec, &tk).map_err(|msg| {
            TestCaseError::fail(format!("{msg}\n--- lexicon ---\n{}", to_toml(&spec)))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// The reference itself, on hand-checked rows (so a wrong reference does not
// silently agree with a wrong matcher).

fn lexicon(liwc: bool, themes: &[(&str, &[&str], &[&str])], neg: Option<NegSpec>) -> Spec {
    Spec {
        liwc,
        negation: neg,
        themes: themes
            .iter()
            .map(|(id, terms, ex)| ThemeSpec {
                id: id.to_string(),
                terms: terms.iter().map(|t| (t.to_string(), 1.0)).collect(),
                exclude: ex.iter().map(|t| t.to_string()).collect(),
            })
            .collect(),
        texts: Vec::new(),
    }
}

fn ref_run(spec: &Spec, text: &str) -> Vec<String> {
    let tk = Tokenizer::default_pipeline();
    let lex = build(spec, &tk);
    let mut toks = Tokens::new();
    tk.tokenize(text, &mut toks);
    let mut ms = reference::find(&lex, text, &toks);
    ms.sort_by(|a, b| (a.start, &a.theme).cmp(&(b.start, &b.theme)));
    ms.iter()
        .map(|m| {
            format!(
                "{}{}:{}@{}..{}",
                if m.negated { "!" } else { "" },
                m.theme,
                m.entry_text,
                m.start,
                m.end
            )
        })
        .collect()
}

#[test]
fn reference_themes_semantics() {
    let s = lexicon(
        false,
        &[
            ("a", &["let go", "go*", "12-step*"], &["go away"]),
            ("b", &["go", "going"], &[]),
        ],
        None,
    );
    // A phrase does not match across a sentence break; `12-step` is a phrase.
    assert_eq!(ref_run(&s, "let. Go"), ["a:go*@1..2", "b:go@1..2"]);
    assert_eq!(ref_run(&s, "let go"), ["a:let go@0..2", "b:go@1..2"]);
    assert_eq!(ref_run(&s, "12-steps"), ["a:12-step*@0..2"]);
    // An exclusion cancels every entry overlapping it.
    assert_eq!(
        ref_run(&s, "go away, going"),
        ["b:go@0..1", "a:go*@2..3", "b:going@2..3"]
    );
}

#[test]
fn reference_negation() {
    let neg = NegSpec {
        cues: vec!["not".into(), "*n't".into(), "nev*".into()],
        window: 2,
        breaks: vec![",".into(), "but".into()],
    };
    let s = lexicon(false, &[("a", &["clean"], &[])], Some(neg));
    assert_eq!(ref_run(&s, "not clean"), ["!a:clean@1..2"]);
    assert_eq!(ref_run(&s, "don't stay clean"), ["!a:clean@2..3"]);
    assert_eq!(ref_run(&s, "never so very clean"), ["a:clean@3..4"]);
    assert_eq!(ref_run(&s, "not, clean"), ["a:clean@1..2"]);
    assert_eq!(ref_run(&s, "not but clean"), ["a:clean@2..3"]);
}

#[test]
fn reference_liwc_semantics() {
    let s = lexicon(
        true,
        &[
            ("a", &["stay*", "Good", "regex:st.*"], &[]),
            ("b", &["stayi*", "good", "good group"], &[]),
            ("c", &["regex:st.*", "sta*"], &[]),
        ],
        None,
    );
    // Longest phrase first; its tokens are consumed.
    assert_eq!(
        ref_run(&s, "good group good"),
        ["b:good group@0..2", "a:Good@2..3", "b:good@2..3"]
    );
    // Longest wildcard wins; regex only when nothing else matches.
    assert_eq!(ref_run(&s, "staying"), ["b:stayi*@0..1"]);
    assert_eq!(ref_run(&s, "stays"), ["a:stay*@0..1"]);
    assert_eq!(
        ref_run(&s, "stun"),
        ["a:regex:st.*@0..1", "c:regex:st.*@0..1"]
    );
}

/// Fast matcher output for one text, in the same notation as [`ref_run`].
fn fast_run(spec: &Spec, text: &str) -> Vec<String> {
    let tk = Tokenizer::default_pipeline();
    let fast = Matcher::new(&build(spec, &tk));
    let mut toks = Tokens::new();
    tk.tokenize(text, &mut toks);
    let mut got = Vec::new();
    fast.find(text, &toks, &mut Scratch::new(), &mut got);
    got.iter()
        .map(|m| {
            let t = &fast.themes()[m.theme as usize];
            format!(
                "{}{}:{}@{}..{}",
                if m.negated { "!" } else { "" },
                t.id,
                t.entries[m.entry as usize].text,
                m.start,
                m.end
            )
        })
        .collect()
}

/// In liwc mode `s* clean` (theme `a.b.c`, listed first) and `s* clean*`
/// (theme `a.b`, listed second) are both wildcard entries of pattern length 7
/// (`s clean`) and both match `sing clean`. DESIGN 3.3 applies "the first
/// entry found" without naming the order among equals; thematic reads it as
/// the order the lexicon lists its entries (as 3.2's "the entry listed
/// first"), not the tree order of the themes.
#[test]
fn liwc_wildcard_tie_follows_listing_order() {
    let s = lexicon(
        true,
        &[("a.b.c", &["s* clean"], &[]), ("a.b", &["s* clean*"], &[])],
        None,
    );
    assert_eq!(ref_run(&s, "sing clean"), ["a.b.c:s* clean@0..2"]);
    assert_eq!(fast_run(&s, "sing clean"), ref_run(&s, "sing clean"));
}
