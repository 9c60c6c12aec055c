//! Matching: a lexicon compiled once, run over the tokens of one response.
//!
//! This module owns DESIGN 3.2 (themes semantics), 3.3 (liwc semantics),
//! negation and the hierarchy roll-up of 3.4. It does not tokenize (see
//! [`crate::tokenize`]) and does not aggregate across responses (see
//! [`crate::aggregate`]).
//!
//! # How it stays fast
//!
//! Every distinct token pattern of the lexicon (an exact word, a prefix, a
//! regex) gets a number. Exact words and prefixes live in a double-array
//! byte trie whose states carry *classes*: the patterns (and negation
//! flags) of a token whose walk ends there, so one walk over a token's
//! bytes gives its class, whatever the size of the lexicon. For lexicons
//! without regex or glob terms and without exclusions, each class's
//! candidates are ordered once at compile time ([`FastLists`]) and matching
//! is one left-to-right pass with no sort. Otherwise regex and glob hits are
//! memoized per distinct token in the per-thread [`Scratch`], entries are
//! indexed by their first pattern, and candidates are sorted per response
//! (the general path, which the fast one is tested against). Nothing is
//! allocated per token: all buffers live in [`Scratch`].
//!
//! The matcher is immutable after [`Matcher::new`] and shared by reference
//! across rayon workers; each worker owns a [`Scratch`].

use rustc_hash::FxHashMap;

use crate::lexicon::{Cue, Lexicon, ScopeBreak, Semantics, TokenPattern, parent_id};
use crate::tokenize::{Token, Tokens};

/// Index of a theme in [`Matcher::themes`].
pub type ThemeIx = u32;

/// One theme of the compiled lexicon, including parents that the lexicon
/// only implies (`a` for `a.b`).
#[derive(Clone, Debug)]
pub struct ThemeInfo {
    /// Dotted id.
    pub id: String,
    /// Label, when the lexicon gives one.
    pub label: Option<String>,
    /// Description, when the lexicon gives one.
    pub description: Option<String>,
    /// The parent theme.
    pub parent: Option<ThemeIx>,
    /// 0 for a root.
    pub depth: usize,
    /// True when no other theme has this one as parent.
    pub is_leaf: bool,
    /// The theme's own entries (terms), in listing order.
    pub entries: Vec<EntryInfo>,
}

/// One entry (term) of a theme.
#[derive(Clone, Debug)]
pub struct EntryInfo {
    /// The term as written in the lexicon.
    pub text: String,
    /// Its weight.
    pub weight: f64,
}

/// One match of a theme's entry in a response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    /// The theme.
    pub theme: ThemeIx,
    /// The entry, an index into the theme's [`ThemeInfo::entries`].
    pub entry: u32,
    /// First token of the match.
    pub start: u32,
    /// One past the last token of the match.
    pub end: u32,
    /// Byte offset of the match's start in the original text.
    pub byte_start: usize,
    /// Byte offset of the match's end in the original text.
    pub byte_end: usize,
    /// A negation cue precedes the match within the window.
    pub negated: bool,
}

impl Match {
    /// Number of tokens in the match.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Always false: a match covers at least one token.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Per-theme totals for one response, own matches plus descendants'.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThemeCounts {
    /// Non-negated matches (liwc semantics: matched tokens).
    pub hits: u64,
    /// Negated matches (liwc semantics: negated tokens).
    pub negated: u64,
    /// Sum of weights of the hits.
    pub score: f64,
}

/// A compiled entry.
#[derive(Clone, Debug)]
struct CEntry {
    theme: ThemeIx,
    /// Index in the theme's terms (or in its exclusions).
    entry: u32,
    exclude: bool,
    pats: Box<[u32]>,
    weight: f64,
    /// liwc: length of the term in characters without `*`; exact entries
    /// rank above wildcard ones, which rank above regex ones.
    rank: LiwcRank,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LiwcRank {
    Regex,
    Wildcard(usize),
    Exact,
}

/// Negation as matching uses it. Exact and prefix cues and break words
/// are flags in the [`Trie`]; suffix cues and scope-break characters are
/// checked here.
#[derive(Debug)]
struct CNegation {
    window: usize,
    cue_suffix: Vec<String>,
    break_chars: Vec<String>,
}

/// Bits of [`TokInfo::flags`].
const CUE: u8 = 1;
const BREAK_WORD: u8 = 2;

/// What the matcher knows about one distinct token: its trie class, the
/// patterns its class does not hold (regex and glob hits: a range of
/// [`Scratch::pool`]) and whether it is a negation cue or break word.
#[derive(Clone, Copy, Debug, Default)]
struct TokInfo {
    class: u32,
    start: u32,
    len: u32,
    flags: u8,
}

impl TokInfo {
    /// A class and its flags, with no pool range.
    #[inline]
    fn of(class: u32, flags: u8) -> TokInfo {
        TokInfo {
            class,
            start: 0,
            len: 0,
            flags,
        }
    }

    /// The info of a memoized packed class ([`pack_class`]).
    #[inline]
    fn of_class(packed: u32) -> TokInfo {
        let (class, flags) = unpack_class(packed);
        TokInfo::of(class, flags)
    }
}

/// The memo cache is dropped when it holds this many distinct tokens, so
/// memory stays bounded on corpora with huge vocabularies.
const CACHE_LIMIT: usize = 1 << 20;

/// Per-thread working memory of the matcher. Reuse one per worker; it
/// forgets what it memoized when handed to another matcher.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The [`Matcher::id`] its memo and marks belong to (0: none yet).
    owner: u64,
    /// Memo of tokens longer than 15 bytes.
    cache: FxHashMap<Box<str>, TokInfo>,
    /// Memo of tokens of up to 15 bytes, keyed by the bytes packed into an
    /// integer: most words are that short, and an integer key compares
    /// without a `memcmp` call (which was ~14% of a run).
    short: FxHashMap<u128, TokInfo>,
    /// Without regexes: a direct-mapped memo of tokens of 1 to 7 bytes
    /// (their bytes and length → packed class, [`pack_class`]); key 0 is
    /// an empty slot.
    memo: Vec<(u64, u32)>,
    /// The same for tokens of 8 to 15 bytes; length 0 is an empty slot.
    memo_long: Vec<LongSlot>,
    pool: Vec<u32>,
    info: Vec<TokInfo>,
    /// `scope[i]`: a scope-break character lies between token i-1 and i.
    scope: Vec<bool>,
    cands: Vec<Cand>,
    spans: Vec<(u32, u32)>,
    /// Fast path: the phrases matching at the current token.
    phrases: Vec<u32>,
    /// Fast path: theme → `base + token` before which it cannot match (the
    /// end of its last match; single-token matches on the no-phrase path
    /// leave it as it is, since they block only until the next token);
    /// `base` grows from response to response, so the array is never
    /// cleared.
    blocked: Vec<u64>,
    base: u64,
    gap: String,
    covered: Vec<bool>,
}

impl Scratch {
    /// Empty working memory.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

#[derive(Clone, Copy, Debug)]
struct Cand {
    theme: ThemeIx,
    /// 0 for exclusions, so they sort first within a theme.
    kind: u8,
    start: u32,
    len: u32,
    /// Global entry index: listing order within a theme.
    order: u32,
}

/// A lexicon compiled for matching.
#[derive(Debug)]
pub struct Matcher {
    /// Unique per process: tells a [`Scratch`] whose memo it holds.
    id: u64,
    semantics: Semantics,
    themes: Vec<ThemeInfo>,
    /// Exact words and wildcard prefixes (and negation cues and break
    /// words), walked once per token.
    trie: Trie,
    regexes: Vec<(u32, regex::Regex)>,
    entries: Vec<CEntry>,
    by_first: Vec<Vec<u32>>,
    negation: Option<CNegation>,
    /// liwc: for each theme, the themes sharing each entry (one normalized
    /// term is one entry, whichever themes list it).
    liwc_entry_themes: Vec<Vec<(ThemeIx, u32, f64)>>,
    /// The fast path of [`Matcher::find`], when the lexicon allows it.
    fast: Option<FastLists>,
    /// For [`Matcher::tally`], per match: theme t's entry e weighs
    /// `weights[weight_start[t] + e]`. Flat, so a match costs no walk
    /// through each theme's entry list.
    weight_start: Vec<u32>,
    weights: Vec<f64>,
}

/// Candidates the fast path's lists may hold in all (a few MB at most).
const FAST_LISTS_LIMIT: usize = 1 << 20;

/// Per trie class, the candidates of the fast path (no regex or glob
/// terms, no exclusions), ordered once when the lexicon is compiled so a
/// token's candidates need no lookup or sort:
///
/// - themes semantics: for each theme, the single-token entry that wins
///   when no phrase does (the first listed, as `(theme, entry)`), and the
///   phrases that may start there, by theme, longest first, then in
///   listing order;
/// - liwc semantics: the phrases in order of preference (DESIGN 3.3), then
///   the best single-token entry (as `(0, global entry index)`).
#[derive(Debug)]
struct FastLists {
    /// Class → ranges of `singles` and `phrases`.
    ranges: Vec<[u32; 4]>,
    singles: Vec<(ThemeIx, u32)>,
    /// Entry indices.
    phrases: Vec<u32>,
}

impl Matcher {
    /// Compile a validated lexicon.
    pub fn new(lex: &Lexicon) -> Matcher {
        let order: Vec<String> = lex.tree().into_iter().map(|(id, _)| id).collect();
        let index: FxHashMap<&str, ThemeIx> = order
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as ThemeIx))
            .collect();
        let by_id: FxHashMap<&str, usize> = lex
            .themes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut themes: Vec<ThemeInfo> = order
            .iter()
            .map(|id| {
                let src = by_id.get(id.as_str()).map(|&i| &lex.themes[i]);
                ThemeInfo {
                    id: id.clone(),
                    label: src.and_then(|t| t.label.clone()),
                    description: src.and_then(|t| t.description.clone()),
                    parent: parent_id(id).map(|p| index[p]),
                    depth: id.matches('.').count(),
                    is_leaf: true,
                    entries: src
                        .map(|t| {
                            t.terms
                                .iter()
                                .map(|term| EntryInfo {
                                    text: term.text.clone(),
                                    weight: term.weight,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        for i in 0..themes.len() {
            if let Some(p) = themes[i].parent {
                themes[p as usize].is_leaf = false;
            }
        }

        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut weight_start = Vec::with_capacity(themes.len());
        let mut weights = Vec::new();
        for t in &themes {
            weight_start.push(weights.len() as u32);
            weights.extend(t.entries.iter().map(|e| e.weight));
        }
        let mut m = Matcher {
            weight_start,
            weights,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            semantics: lex.semantics,
            themes,
            trie: Trie::new(),
            regexes: Vec::new(),
            entries: Vec::new(),
            by_first: Vec::new(),
            negation: None,
            liwc_entry_themes: Vec::new(),
            fast: None,
        };
        let mut keys: FxHashMap<String, u32> = FxHashMap::default();
        // Entries in the order the lexicon lists them (not tree order): the
        // global entry order breaks liwc ties ("the first entry found").
        for theme in &lex.themes {
            let ti = index[theme.id.as_str()] as usize;
            let lists = [(&theme.terms, false), (&theme.exclude, true)];
            for (terms, exclude) in lists {
                for (ei, term) in terms.iter().enumerate() {
                    let pats: Box<[u32]> = term
                        .pattern
                        .iter()
                        .map(|p| m.pattern_id(p, &mut keys))
                        .collect();
                    m.entries.push(CEntry {
                        theme: ti as ThemeIx,
                        entry: ei as u32,
                        exclude,
                        pats,
                        weight: term.weight,
                        rank: liwc_rank(&term.pattern),
                    });
                }
            }
        }
        m.by_first = vec![Vec::new(); keys.len()];
        for (e, entry) in m.entries.iter().enumerate() {
            m.by_first[entry.pats[0] as usize].push(e as u32);
        }
        if m.semantics == Semantics::Liwc {
            m.compile_liwc();
        }
        m.negation = lex.negation.as_ref().map(|n| {
            let mut c = CNegation {
                window: n.window,
                cue_suffix: Vec::new(),
                break_chars: Vec::new(),
            };
            for cue in &n.cues {
                match cue {
                    Cue::Exact(s) => m.trie.insert(s.as_bytes()).exact_flags |= CUE,
                    Cue::Prefix(s) => m.trie.insert(s.as_bytes()).prefix_flags |= CUE,
                    Cue::Suffix(s) => c.cue_suffix.push(s.clone()),
                }
            }
            for b in &n.scope_breaks {
                match b {
                    ScopeBreak::Word(w) => m.trie.insert(w.as_bytes()).exact_flags |= BREAK_WORD,
                    ScopeBreak::Chars(s) => c.break_chars.push(s.clone()),
                }
            }
            c
        });
        m.trie.freeze();
        let fast_ok = m.regexes.is_empty() && m.entries.iter().all(|e| !e.exclude);
        if fast_ok {
            m.fast = m.fast_lists();
        }
        m
    }

    /// The fast path's lists, or `None` when they would exceed
    /// [`FAST_LISTS_LIMIT`]: a class copies the candidates of every prefix
    /// on its path, so a short wildcard that starts many phrases, under
    /// which the lexicon has many words, multiplies them (the general path
    /// gives the same matches).
    fn fast_lists(&self) -> Option<FastLists> {
        let mut f = FastLists {
            ranges: Vec::with_capacity(self.trie.classes.len()),
            singles: Vec::new(),
            phrases: Vec::new(),
        };
        let liwc = self.semantics == Semantics::Liwc;
        let mut singles = Vec::new();
        for c in 0..self.trie.classes.len() as u32 {
            singles.clear();
            let (s0, p0) = (f.singles.len() as u32, f.phrases.len() as u32);
            for &p in self.trie.pats(c) {
                for &e in &self.by_first[p as usize] {
                    let entry = &self.entries[e as usize];
                    if entry.pats.len() == 1 {
                        singles.push((entry.theme, e));
                    } else {
                        f.phrases.push(e);
                    }
                }
            }
            if liwc {
                if let Some(&(_, e)) = singles.iter().min_by_key(|&&(_, e)| self.liwc_key(e)) {
                    f.singles.push((0, e));
                }
                f.phrases[p0 as usize..].sort_unstable_by_key(|&e| self.liwc_key(e));
            } else {
                singles.sort_unstable();
                singles.dedup_by_key(|s| s.0);
                f.singles.extend(
                    singles
                        .iter()
                        .map(|&(t, e)| (t, self.entries[e as usize].entry)),
                );
                f.phrases[p0 as usize..].sort_unstable_by_key(|&e| {
                    let entry = &self.entries[e as usize];
                    (entry.theme, std::cmp::Reverse(entry.pats.len()), e)
                });
            }
            f.ranges
                .push([s0, f.singles.len() as u32, p0, f.phrases.len() as u32]);
            if f.singles.len() + f.phrases.len() > FAST_LISTS_LIMIT {
                return None;
            }
        }
        Some(f)
    }

    fn pattern_id(&mut self, p: &TokenPattern, keys: &mut FxHashMap<String, u32>) -> u32 {
        let next = keys.len() as u32;
        let id = *keys.entry(p.key()).or_insert(next);
        if id == next {
            match p {
                TokenPattern::Exact(s) => self.trie.insert(s.as_bytes()).exact = id,
                TokenPattern::Prefix(s) => self.trie.insert(s.as_bytes()).prefix = id,
                // A glob is a whole-token regex for matching purposes.
                TokenPattern::Regex(re) | TokenPattern::Glob { re, .. } => {
                    self.regexes.push((id, re.clone()))
                }
            }
        }
        id
    }

    /// liwc semantics: one normalized term is one entry whichever themes
    /// list it. Keep the first occurrence as the entry that is matched and
    /// remember every (theme, entry, weight) it counts for.
    fn compile_liwc(&mut self) {
        let mut first: FxHashMap<Box<[u32]>, usize> = FxHashMap::default();
        let mut keep = vec![false; self.entries.len()];
        let mut shares: Vec<Vec<(ThemeIx, u32, f64)>> = vec![Vec::new(); self.entries.len()];
        for (e, entry) in self.entries.iter().enumerate() {
            let owner = *first.entry(entry.pats.clone()).or_insert(e);
            keep[owner] = true;
            let list = &mut shares[owner];
            if !list.iter().any(|&(t, _, _)| t == entry.theme) {
                list.push((entry.theme, entry.entry, entry.weight));
            }
        }
        for list in &mut self.by_first {
            list.retain(|&e| keep[e as usize]);
        }
        // By theme: a position's matches then come out in (start, theme)
        // order with no sort.
        for list in &mut shares {
            list.sort_by_key(|&(t, _, _)| t);
        }
        self.liwc_entry_themes = shares;
    }

    /// The themes, parents before children, siblings in lexicon order.
    pub fn themes(&self) -> &[ThemeInfo] {
        &self.themes
    }

    /// The counting semantics.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// True when the lexicon configures negation.
    pub fn has_negation(&self) -> bool {
        self.negation.is_some()
    }

    /// Find every match in one response. `text` is the original text and
    /// `tokens` its tokens. Matches come out ordered by start token, then
    /// theme.
    pub fn find(&self, text: &str, tokens: &Tokens, scratch: &mut Scratch, out: &mut Vec<Match>) {
        out.clear();
        let n = tokens.len();
        if n == 0 {
            return;
        }
        if scratch.owner != self.id {
            // Memoized classes and pool ranges belong to one matcher.
            *scratch = Scratch {
                owner: self.id,
                ..Scratch::default()
            };
        }
        self.classify_tokens(tokens, scratch);
        self.find_gaps(text, tokens, scratch);
        match (self.semantics, &self.fast) {
            (Semantics::Themes, Some(fast)) => self.find_fast(fast, text, tokens, scratch, out),
            (Semantics::Themes, None) => self.find_themes(text, tokens, scratch, out),
            (Semantics::Liwc, _) => self.find_liwc(text, tokens, scratch, out),
        }
        if let Some(neg) = &self.negation {
            for m in out.iter_mut() {
                m.negated = negated(neg, m.start as usize, scratch);
            }
        }
    }

    fn classify_tokens(&self, tokens: &Tokens, s: &mut Scratch) {
        if self.regexes.is_empty() {
            // Words and wildcards only: direct-mapped memos of tokens of up
            // to 7 and of 8 to 15 bytes (a hit costs one or two loads and a
            // predictable branch, where the walk's exit branch mispredicts;
            // a hash map of the whole vocabulary missed the cache), else
            // the trie walk (misses, and tokens over 15 bytes).
            s.pool.clear();
            s.info.clear();
            if s.memo.is_empty() {
                s.memo = vec![(0, 0); 1 << MEMO_BITS];
            }
            if s.memo_long.is_empty() {
                s.memo_long = vec![LongSlot::default(); 1 << MEMO_LONG_BITS];
            }
            let norm = tokens.normalized_bytes();
            for t in tokens.tokens() {
                let (a, b) = (t.norm_start, t.norm_end);
                let len = b - a;
                let info = match len {
                    1..=7 => {
                        let word = match crate::tokenize::eight_bytes_at(norm, a) {
                            Some(w) => w,
                            None => {
                                let mut buf = [0u8; 8];
                                buf[..len].copy_from_slice(&norm[a..b]);
                                u64::from_le_bytes(buf)
                            }
                        };
                        // The token's bytes and its length: distinct tokens,
                        // distinct nonzero keys.
                        let key = word & ((1 << (8 * len)) - 1) | (len as u64) << 56;
                        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_BITS);
                        let slot = &mut s.memo[h as usize];
                        if slot.0 == key {
                            TokInfo::of_class(slot.1)
                        } else {
                            let info = self.classify_word(&norm[a..b]);
                            *slot = (key, pack_class(info.class, info.flags));
                            info
                        }
                    }
                    8..=15 => {
                        // The first and the last eight bytes (overlapping
                        // below 16) and the length name the token.
                        let first = crate::tokenize::eight_bytes_at(norm, a).expect("8 bytes");
                        let last = crate::tokenize::eight_bytes_at(norm, b - 8).expect("8 bytes");
                        let slot = &mut s.memo_long[long_slot(first, last, len)];
                        if slot.first == first && slot.last == last && slot.len == len as u32 {
                            TokInfo::of_class(slot.class)
                        } else {
                            let info = self.classify_word(&norm[a..b]);
                            *slot = LongSlot {
                                first,
                                last,
                                class: pack_class(info.class, info.flags),
                                len: len as u32,
                            };
                            info
                        }
                    }
                    _ => self.classify_word(&norm[a..b]),
                };
                s.info.push(info);
            }
            return;
        }
        // Regexes are costly: memoize each distinct token's patterns.
        if s.cache.len() + s.short.len() > CACHE_LIMIT {
            s.cache.clear();
            s.short.clear();
            s.pool.clear();
        }
        s.info.clear();
        for i in 0..tokens.len() {
            let tok = tokens.text(i);
            let info = match pack(tok) {
                Some(key) => match s.short.get(&key) {
                    Some(info) => *info,
                    None => {
                        let info = self.classify(tok, &mut s.pool);
                        s.short.insert(key, info);
                        info
                    }
                },
                None => match s.cache.get(tok) {
                    Some(info) => *info,
                    None => {
                        let info = self.classify(tok, &mut s.pool);
                        s.cache.insert(tok.into(), info);
                        info
                    }
                },
            };
            s.info.push(info);
        }
    }

    /// The class, other patterns and flags of one distinct token (the
    /// memoized work).
    fn classify(&self, tok: &str, pool: &mut Vec<u32>) -> TokInfo {
        let start = pool.len();
        for (p, re) in &self.regexes {
            if re.is_match(tok) {
                pool.push(*p);
            }
        }
        TokInfo {
            start: start as u32,
            len: (pool.len() - start) as u32,
            ..self.classify_word(tok.as_bytes())
        }
    }

    /// A token's class and flags: what the trie (and suffix cues) say.
    #[inline]
    fn classify_word(&self, tok: &[u8]) -> TokInfo {
        let (class, mut flags) = self.trie.walk(tok);
        if let Some(neg) = &self.negation
            && neg.cue_suffix.iter().any(|c| tok.ends_with(c.as_bytes()))
        {
            flags |= CUE;
        }
        TokInfo::of(class, flags)
    }

    /// Negation scope breaks in the original text between tokens, looked
    /// for after NFKC (DESIGN 3.2). Sentence breaks are looked for only
    /// where a phrase needs them ([`sentence_break_before`]).
    fn find_gaps(&self, text: &str, tokens: &Tokens, s: &mut Scratch) {
        let n = tokens.len();
        s.scope.clear();
        s.scope.resize(n, false);
        let Some(neg) = self.negation.as_ref().filter(|n| !n.break_chars.is_empty()) else {
            return;
        };
        let toks = tokens.tokens();
        for i in 1..n {
            let (a, b) = (toks[i - 1].end, toks[i].start);
            let gap = if a < b {
                text.get(a..b).unwrap_or("")
            } else {
                ""
            };
            if gap.is_empty() {
                continue;
            }
            let gap: &str = if gap.is_ascii() {
                gap
            } else {
                use unicode_normalization::UnicodeNormalization;
                s.gap.clear();
                s.gap.extend(gap.nfkc());
                &s.gap
            };
            s.scope[i] = neg.break_chars.iter().any(|c| gap.contains(c.as_str()));
        }
    }

    /// Does entry `e` match at token `i` (patterns and no sentence break
    /// between its tokens)?
    fn entry_matches_at(
        &self,
        e: &CEntry,
        i: usize,
        (info, pool): (&[TokInfo], &[u32]),
        text: &str,
        toks: &[Token],
    ) -> bool {
        let k = e.pats.len();
        if i + k > info.len() {
            return false;
        }
        (1..k).all(|j| {
            self.token_pats(info[i + j], pool).any(|p| p == e.pats[j])
                && !sentence_break_before(text, toks, i + j)
        })
    }

    /// The patterns of a token: its class's, then its regex and glob hits.
    #[inline]
    fn token_pats<'a>(&'a self, info: TokInfo, pool: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        let other = &pool[info.start as usize..(info.start + info.len) as usize];
        self.trie.pats(info.class).iter().chain(other).copied()
    }

    fn find_themes(&self, text: &str, tokens: &Tokens, s: &mut Scratch, out: &mut Vec<Match>) {
        let n = s.info.len();
        let toks = tokens.tokens();
        s.cands.clear();
        for i in 0..n {
            let info = s.info[i];
            for p in self.token_pats(info, &s.pool) {
                for &e in &self.by_first[p as usize] {
                    let entry = &self.entries[e as usize];
                    if self.entry_matches_at(entry, i, (&s.info, &s.pool), text, toks) {
                        s.cands.push(Cand {
                            theme: entry.theme,
                            kind: u8::from(!entry.exclude),
                            start: i as u32,
                            len: entry.pats.len() as u32,
                            order: e,
                        });
                    }
                }
            }
        }
        if s.cands.is_empty() {
            return;
        }
        // Per theme: exclusions first, then candidates by start, longest
        // first, listing order breaking ties (DESIGN 3.2 step 3).
        s.cands.sort_unstable_by_key(|c| {
            (c.theme, c.kind, c.start, std::cmp::Reverse(c.len), c.order)
        });
        let toks = tokens.tokens();
        let mut i = 0;
        while i < s.cands.len() {
            let theme = s.cands[i].theme;
            s.spans.clear();
            while i < s.cands.len() && s.cands[i].theme == theme && s.cands[i].kind == 0 {
                let c = s.cands[i];
                s.spans.push((c.start, c.start + c.len));
                i += 1;
            }
            let mut next = 0u32;
            while i < s.cands.len() && s.cands[i].theme == theme {
                let c = s.cands[i];
                i += 1;
                if c.start < next {
                    continue;
                }
                let end = c.start + c.len;
                if s.spans.iter().any(|&(a, b)| a < end && c.start < b) {
                    continue;
                }
                let entry = &self.entries[c.order as usize];
                out.push(Match {
                    theme,
                    entry: entry.entry,
                    start: c.start,
                    end,
                    byte_start: toks[c.start as usize].start,
                    byte_end: toks[end as usize - 1].end,
                    negated: false,
                });
                next = end;
            }
        }
        out.sort_unstable_by_key(|m| (m.start, m.theme));
    }

    /// [`Matcher::find_themes`] for lexicons without regex or glob terms
    /// and without exclusions, from the per-class lists ([`FastLists`]),
    /// left to right: at each token, per theme, the longest phrase that
    /// matches, else the theme's single-token entry, unless the theme's
    /// last match has not ended yet. The same matches in the same order
    /// (the tests compare the two on random lexicons and texts).
    fn find_fast(
        &self,
        fast: &FastLists,
        text: &str,
        tokens: &Tokens,
        s: &mut Scratch,
        out: &mut Vec<Match>,
    ) {
        let n = s.info.len();
        let toks = tokens.tokens();
        if s.blocked.len() != self.themes.len() {
            s.blocked = vec![0; self.themes.len()];
            s.base = 1;
        }
        let base = s.base;
        s.base += n as u64 + 1;
        // `base + token` before which a phrase match may block a theme. A
        // single-token match blocks its theme only until the next token.
        let mut phrase_end = base;
        for i in 0..n {
            let [s0, s1, p0, p1] = fast.ranges[s.info[i].class as usize];
            if s0 == s1 && p0 == p1 {
                continue;
            }
            let singles = &fast.singles[s0 as usize..s1 as usize];
            let at = base + i as u64;
            if p0 == p1 && at >= phrase_end {
                // No phrase starts here and none covers this token: every
                // theme's single-token entry matches.
                let (byte_start, byte_end) = (toks[i].start, toks[i].end);
                out.extend(singles.iter().map(|&(theme, entry)| Match {
                    theme,
                    entry,
                    start: i as u32,
                    end: i as u32 + 1,
                    byte_start,
                    byte_end,
                    negated: false,
                }));
                continue;
            }
            s.phrases.clear();
            for &e in &fast.phrases[p0 as usize..p1 as usize] {
                let entry = &self.entries[e as usize];
                // A theme whose last match has not ended cannot match here.
                if at >= s.blocked[entry.theme as usize]
                    && self.entry_matches_at(entry, i, (&s.info, &s.pool), text, toks)
                {
                    s.phrases.push(e);
                }
            }
            let (mut a, mut b) = (0, 0);
            // Both lists are by theme: walk them together.
            while a < singles.len() || b < s.phrases.len() {
                let pt = s.phrases.get(b).map(|&e| self.entries[e as usize].theme);
                let theme = match (singles.get(a), pt) {
                    (Some(&(t, _)), Some(p)) => t.min(p),
                    (Some(&(t, _)), None) => t,
                    (None, Some(p)) => p,
                    (None, None) => unreachable!("the loop condition"),
                };
                let single = singles.get(a).filter(|x| x.0 == theme).copied();
                if single.is_some() {
                    a += 1;
                }
                // The phrase first in order for this theme is the winner.
                let mut winner = single.map(|(_, entry)| (entry, 1u32));
                if pt == Some(theme) {
                    let e = &self.entries[s.phrases[b] as usize];
                    winner = Some((e.entry, e.pats.len() as u32));
                    while s
                        .phrases
                        .get(b)
                        .is_some_and(|&e| self.entries[e as usize].theme == theme)
                    {
                        b += 1;
                    }
                }
                let Some((entry, len)) = winner else { continue };
                let blocked = &mut s.blocked[theme as usize];
                if at < *blocked {
                    continue;
                }
                *blocked = at + u64::from(len);
                phrase_end = phrase_end.max(*blocked);
                let end = i as u32 + len;
                out.push(Match {
                    theme,
                    entry,
                    start: i as u32,
                    end,
                    byte_start: toks[i].start,
                    byte_end: toks[end as usize - 1].end,
                    negated: false,
                });
            }
        }
    }

    /// LIWC-22 rules (DESIGN 3.3): at each position the longest phrase
    /// length first; at one length an exact entry, else wildcards by
    /// descending pattern length, regexes last; the first entry found is
    /// the only one applied and its tokens are consumed.
    fn find_liwc(&self, text: &str, tokens: &Tokens, s: &mut Scratch, out: &mut Vec<Match>) {
        let n = s.info.len();
        let toks = tokens.tokens();
        let ctx = (&s.info[..], &s.pool[..]);
        let mut i = 0;
        while i < n {
            let class = s.info[i].class as usize;
            let best = match &self.fast {
                // The class's phrases in order of preference, then its best
                // single-token entry.
                Some(fast) => {
                    let [s0, s1, p0, p1] = fast.ranges[class];
                    let phrase = fast.phrases[p0 as usize..p1 as usize].iter().find(|&&e| {
                        self.entry_matches_at(&self.entries[e as usize], i, ctx, text, toks)
                    });
                    phrase
                        .or(fast.singles[s0 as usize..s1 as usize]
                            .first()
                            .map(|(_, e)| e))
                        .map(|&e| (self.entries[e as usize].pats.len(), e))
                }
                None => self.liwc_best(i, ctx, text, toks),
            };
            match best {
                None => i += 1,
                Some((k, e)) => {
                    let end = i + k;
                    for &(theme, entry, _) in &self.liwc_entry_themes[e as usize] {
                        out.push(Match {
                            theme,
                            entry,
                            start: i as u32,
                            end: end as u32,
                            byte_start: toks[i].start,
                            byte_end: toks[end - 1].end,
                            negated: false,
                        });
                    }
                    i = end;
                }
            }
        }
        debug_assert!(out.is_sorted_by_key(|m| (m.start, m.theme)));
    }

    /// The entry that wins position `i` under liwc rules, with its length:
    /// the general path, over every pattern of the token.
    fn liwc_best(
        &self,
        i: usize,
        (info, pool): (&[TokInfo], &[u32]),
        text: &str,
        toks: &[Token],
    ) -> Option<(usize, u32)> {
        self.token_pats(info[i], pool)
            .flat_map(|p| self.by_first[p as usize].iter().copied())
            .filter(|&e| {
                self.entry_matches_at(&self.entries[e as usize], i, (info, pool), text, toks)
            })
            .min_by_key(|&e| self.liwc_key(e))
            .map(|e| (self.entries[e as usize].pats.len(), e))
    }

    /// liwc preference among entries at one position (DESIGN 3.3),
    /// smallest first: the longest, then exact before wildcard (longer
    /// first) before regex, then the first listed.
    fn liwc_key(&self, e: u32) -> (std::cmp::Reverse<usize>, std::cmp::Reverse<LiwcRank>, u32) {
        let entry = &self.entries[e as usize];
        (
            std::cmp::Reverse(entry.pats.len()),
            std::cmp::Reverse(entry.rank),
            e,
        )
    }

    /// Per-theme totals of one response, rolled up the hierarchy: a
    /// parent's counts are its own plus its children's (DESIGN 3.4).
    /// `out` gets one slot per theme.
    pub fn tally(&self, matches: &[Match], out: &mut Vec<ThemeCounts>) {
        out.clear();
        out.resize(self.themes.len(), ThemeCounts::default());
        let liwc = self.semantics == Semantics::Liwc;
        for m in matches {
            let weight = self.weights[(self.weight_start[m.theme as usize] + m.entry) as usize];
            // LIWC counts words: a phrase match adds its token count.
            let units = if liwc { m.len() as u64 } else { 1 };
            let mut t = Some(m.theme);
            while let Some(ti) = t {
                let c = &mut out[ti as usize];
                if m.negated {
                    c.negated += units;
                } else {
                    c.hits += units;
                    c.score += units as f64 * weight;
                }
                t = self.themes[ti as usize].parent;
            }
        }
    }

    /// Number of tokens inside any non-negated match (LIWC's `Dic`
    /// numerator).
    pub fn covered_tokens(
        &self,
        n_tokens: usize,
        matches: &[Match],
        scratch: &mut Scratch,
    ) -> usize {
        let covered = &mut scratch.covered;
        covered.clear();
        covered.resize(n_tokens, false);
        for m in matches.iter().filter(|m| !m.negated) {
            covered[m.start as usize..m.end as usize].fill(true);
        }
        covered.iter().filter(|&&c| c).count()
    }
}

/// No pattern at a trie node; no parent of a free double-array slot.
const NONE: u32 = u32::MAX;

/// A node of the trie while it is built: what it says about a token that
/// ends there (`exact`) or passes through it (`prefix`). [`Trie::freeze`]
/// lays the nodes out as [`State`]s and turns this into token classes.
#[derive(Clone, Copy, Debug)]
struct TrieNode {
    exact: u32,
    prefix: u32,
    exact_flags: u8,
    prefix_flags: u8,
}

impl TrieNode {
    const EMPTY: TrieNode = TrieNode {
        exact: NONE,
        prefix: NONE,
        exact_flags: 0,
        prefix_flags: 0,
    };
}

/// One state of the frozen trie: the double-array links and the classes
/// (packed with their flags, [`pack_class`]) of a token whose walk ends
/// here having found no child for its next byte (`fell`) or consumed all
/// its bytes (`end`). The walk has loaded the state it stops at, so its
/// class and flags cost no further load.
#[derive(Clone, Copy, Debug)]
struct State {
    base: u32,
    check: u32,
    fell: u32,
    end: u32,
}

impl State {
    const FREE: State = State {
        base: 0,
        check: NONE,
        fell: 0,
        end: 0,
    };
}

/// Bits of a packed class word that hold the class; the flags sit above.
const CLASS_BITS: u32 = 24;

/// A class and its flags in one word.
fn pack_class(class: u32, flags: u8) -> u32 {
    assert!(
        class < 1 << CLASS_BITS,
        "a lexicon with more than 2^24 distinct token classes"
    );
    class | u32::from(flags) << CLASS_BITS
}

/// The class and flags of a packed class word.
#[inline]
fn unpack_class(w: u32) -> (u32, u8) {
    (w & ((1 << CLASS_BITS) - 1), (w >> CLASS_BITS) as u8)
}

/// What a token's walk through the trie ends in: its patterns (a range of
/// [`Trie::class_pats`]: every wildcard prefix it starts with, shortest
/// first, then its exact word) and negation flags. Tokens ending in the
/// same class match the same entries, so per-class work (the fast path's
/// candidate lists) is done once, when the lexicon is compiled.
#[derive(Clone, Copy, Debug, Default)]
struct TokClass {
    start: u32,
    len: u32,
    flags: u8,
}

/// A byte trie over the lexicon's exact words and wildcard prefixes, plus
/// negation cues and break words, laid out as a double array: one walk
/// over a token's bytes, one load per byte, finds its class. Most tokens
/// fall off within the first bytes, so the cost per token does not grow
/// with the lexicon.
#[derive(Debug)]
struct Trie {
    /// While building: a node per prefix, with its (byte, child) pairs.
    nodes: Vec<TrieNode>,
    building: Vec<Vec<(u8, u32)>>,
    /// After [`Trie::freeze`]: the double array, state 0 the root.
    states: Vec<State>,
    /// Distinct classes; class 0 has no pattern and no flag.
    classes: Vec<TokClass>,
    class_pats: Vec<u32>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            nodes: vec![TrieNode::EMPTY],
            building: vec![Vec::new()],
            states: Vec::new(),
            classes: Vec::new(),
            class_pats: Vec::new(),
        }
    }

    /// The patterns of class `c`.
    #[inline]
    fn pats(&self, c: u32) -> &[u32] {
        let k = self.classes[c as usize];
        &self.class_pats[k.start as usize..(k.start + k.len) as usize]
    }

    /// The node of `key`, created with its path when new.
    fn insert(&mut self, key: &[u8]) -> &mut TrieNode {
        let mut node = 0usize;
        for &b in key {
            node = match self.building[node].iter().find(|e| e.0 == b) {
                Some(&(_, c)) => c as usize,
                None => {
                    let c = self.nodes.len();
                    self.nodes.push(TrieNode::EMPTY);
                    self.building.push(Vec::new());
                    self.building[node].push((b, c as u32));
                    c
                }
            };
        }
        &mut self.nodes[node]
    }

    /// Lay the nodes out as a double array, breadth first (the levels every
    /// token visits stay together in cache), each node's children at the
    /// first base where all their slots are free.
    fn freeze(&mut self) {
        let building = std::mem::take(&mut self.building);
        let mut states = vec![State::FREE; 256];
        let mut state_of = vec![NONE; self.nodes.len()];
        state_of[0] = 0;
        states[0].check = 0;
        let mut queue = std::collections::VecDeque::from([0usize]);
        // Nodes in breadth-first order with their parents: a node's class
        // extends its parent's.
        let mut bfs: Vec<(usize, usize)> = vec![(0, usize::MAX)];
        // Occupied slots, a bit each: the search for a base jumps from free
        // slot to free slot instead of stepping over occupied ones.
        let mut used: Vec<u64> = vec![1];
        let is_used =
            |used: &[u64], i: usize| used.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1);
        let next_free = |used: &[u64], mut i: usize| loop {
            let w = i / 64;
            let Some(&word) = used.get(w) else {
                return i;
            };
            let free = !word & (!0u64 << (i % 64));
            if free != 0 {
                return w * 64 + free.trailing_zeros() as usize;
            }
            i = (w + 1) * 64;
        };
        let mut first_free = 1usize;
        // One past the highest slot in use.
        let mut end = 1usize;
        let grow = |states: &mut Vec<State>, used: &mut Vec<u64>, to: usize| {
            if states.len() < to {
                states.resize(to, State::FREE);
            }
            if used.len() * 64 < to {
                used.resize(to.div_ceil(64), 0);
            }
        };
        while let Some(n) = queue.pop_front() {
            let kids = &building[n];
            if kids.is_empty() {
                continue;
            }
            if let [(b0, c0)] = kids[..] {
                // A chain of only children (a word's unique tail): laid out
                // in consecutive states past the end, so a walk down it
                // reads consecutive memory instead of one scattered state
                // per byte. From slot 256 on, every base is >= 1.
                let mut chain = vec![(b0, c0)];
                let mut last = c0 as usize;
                while let [(b, c)] = building[last][..] {
                    chain.push((b, c));
                    last = c as usize;
                }
                let p = end.max(256);
                grow(&mut states, &mut used, p + chain.len() + 256);
                let mut parent = n;
                for (k, &(b, c)) in chain.iter().enumerate() {
                    let t = p + k;
                    let ps = state_of[parent] as usize;
                    states[ps].base = (t - b as usize) as u32;
                    used[t / 64] |= 1 << (t % 64);
                    states[t] = State {
                        check: ps as u32,
                        ..State::FREE
                    };
                    state_of[c as usize] = t as u32;
                    bfs.push((c as usize, parent));
                    parent = c as usize;
                }
                end = p + chain.len();
                // Its children, if any (none or several), are placed when
                // it comes off the queue.
                queue.push_back(last);
                continue;
            }
            first_free = next_free(&used, first_free);
            let min = kids.iter().map(|k| k.0 as usize).min().expect("non-empty");
            // The smallest kid goes to a free slot p (base = p - min >= 1).
            let mut p = next_free(&used, first_free.max(min + 1));
            while kids
                .iter()
                .any(|&(b, _)| is_used(&used, p - min + b as usize))
            {
                p = next_free(&used, p + 1);
            }
            let base = p - min;
            grow(&mut states, &mut used, base + 256);
            for &(b, _) in kids {
                let t = base + b as usize;
                used[t / 64] |= 1 << (t % 64);
                end = end.max(t + 1);
            }
            let s = state_of[n] as usize;
            states[s].base = base as u32;
            for &(b, c) in kids {
                let t = base + b as usize;
                states[t] = State {
                    check: s as u32,
                    ..State::FREE
                };
                state_of[c as usize] = t as u32;
                queue.push_back(c as usize);
                bfs.push((c as usize, n));
            }
        }
        while states.last().is_some_and(|s| s.check == NONE) {
            states.pop();
        }
        self.states = states;
        // Classes: a walk that stops at a node has met the prefix
        // patterns (and flags) of every node on the path; one that consumed
        // the whole token adds the node's exact pattern.
        let mut index: FxHashMap<(Vec<u32>, u8), u32> = FxHashMap::default();
        self.classes = vec![TokClass::default()];
        index.insert((Vec::new(), 0), 0);
        let mut pats = Vec::new();
        for (n, parent) in bfs {
            let node = self.nodes[n];
            // The parent's `fell` class: every prefix on the path so far.
            let from = match parent {
                usize::MAX => 0,
                p => unpack_class(self.states[state_of[p] as usize].fell).0,
            };
            let mut flags = self.classes[from as usize].flags;
            pats.clear();
            pats.extend_from_slice(self.pats(from));
            if node.prefix != NONE {
                pats.push(node.prefix);
            }
            flags |= node.prefix_flags;
            let fell = self.class_of(&mut index, &pats, flags);
            if node.exact != NONE {
                pats.push(node.exact);
            }
            let end = self.class_of(&mut index, &pats, flags | node.exact_flags);
            let state = &mut self.states[state_of[n] as usize];
            state.fell = pack_class(fell, self.classes[fell as usize].flags);
            state.end = pack_class(end, self.classes[end as usize].flags);
        }
        self.nodes = Vec::new();
    }

    /// The class with these patterns and flags, added when new.
    fn class_of(
        &mut self,
        index: &mut FxHashMap<(Vec<u32>, u8), u32>,
        pats: &[u32],
        flags: u8,
    ) -> u32 {
        if let Some(&c) = index.get(&(pats.to_vec(), flags)) {
            return c;
        }
        let c = self.classes.len() as u32;
        self.classes.push(TokClass {
            start: self.class_pats.len() as u32,
            len: pats.len() as u32,
            flags,
        });
        self.class_pats.extend_from_slice(pats);
        index.insert((pats.to_vec(), flags), c);
        c
    }

    /// The class of `tok`, and its flags.
    #[inline]
    fn walk(&self, tok: &[u8]) -> (u32, u8) {
        let mut s = 0u32;
        let mut node = self.states[0];
        for &b in tok {
            let t = node.base as usize + b as usize;
            match self.states.get(t) {
                // A base of 0 means no children (bases start at 1).
                Some(next) if next.check == s && node.base != 0 => {
                    s = t as u32;
                    node = *next;
                }
                _ => return unpack_class(node.fell),
            }
        }
        unpack_class(node.end)
    }
}

/// Slots of [`Scratch::memo`], a power of two: 2^14 × 16 bytes (256 KB
/// per worker) holds the frequent words of a Zipf vocabulary and stays in
/// a core's second-level cache (measured: 2^12 and 2^14 both pay, 2^14
/// more at 5,000 terms; docs/BENCHMARKS.md).
const MEMO_BITS: u32 = 14;

/// Slots of [`Scratch::memo_long`]: 2^13 × 24 bytes (192 KB per worker).
const MEMO_LONG_BITS: u32 = 13;

/// A slot of [`Scratch::memo_long`]: a token of 8 to 15 bytes as its first
/// and last eight bytes and its length, and its packed class.
#[derive(Clone, Copy, Debug, Default)]
struct LongSlot {
    first: u64,
    last: u64,
    class: u32,
    len: u32,
}

/// The slot of [`Scratch::memo_long`] of a token of 8 to 15 bytes.
#[inline]
fn long_slot(first: u64, last: u64, len: usize) -> usize {
    ((first ^ last.rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> (64 - MEMO_LONG_BITS)) as usize
}

/// A token of up to 15 bytes packed with its length into one integer
/// (distinct tokens give distinct keys); `None` for longer tokens.
#[inline]
fn pack(tok: &str) -> Option<u128> {
    let b = tok.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..b.len()].copy_from_slice(b);
    buf[15] = b.len() as u8;
    Some(u128::from_le_bytes(buf))
}

/// Is there a sentence break (after NFKC) between token `k - 1` and token
/// `k`?
fn sentence_break_before(text: &str, toks: &[Token], k: usize) -> bool {
    let (a, b) = (toks[k - 1].end, toks[k].start);
    let gap = if a < b {
        text.get(a..b).unwrap_or("")
    } else {
        ""
    };
    if gap.is_ascii() {
        gap.contains(is_sentence_break)
    } else {
        use unicode_normalization::UnicodeNormalization;
        gap.nfkc().any(is_sentence_break)
    }
}

fn is_sentence_break(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | ';' | ':' | '\n' | '\r' | '\u{2028}' | '\u{2029}'
    )
}

/// Is the match starting at token `start` negated: a cue within `window`
/// tokens before it, with no scope break (a break word among the tokens in
/// between, or a break character in a gap) between cue and match?
fn negated(neg: &CNegation, start: usize, s: &Scratch) -> bool {
    for d in 1..=neg.window {
        let Some(j) = start.checked_sub(d) else {
            return false;
        };
        if s.scope[j + 1] {
            return false;
        }
        let flags = s.info[j].flags;
        if flags & CUE != 0 {
            return true;
        }
        if flags & BREAK_WORD != 0 {
            return false;
        }
    }
    false
}

fn liwc_rank(pattern: &[TokenPattern]) -> LiwcRank {
    if pattern.iter().any(|p| matches!(p, TokenPattern::Regex(_))) {
        LiwcRank::Regex
    } else if pattern
        .iter()
        .any(|p| matches!(p, TokenPattern::Prefix(_) | TokenPattern::Glob { .. }))
    {
        // A glob ranks as a wildcard whose length leaves out `*` and `?`.
        let chars = pattern
            .iter()
            .map(|p| match p {
                TokenPattern::Exact(s) | TokenPattern::Prefix(s) => s.chars().count(),
                TokenPattern::Glob { glob, .. } => {
                    glob.chars().filter(|&c| c != '*' && c != '?').count()
                }
                TokenPattern::Regex(_) => 0,
            })
            .sum::<usize>()
            + pattern.len().saturating_sub(1);
        LiwcRank::Wildcard(chars)
    } else {
        LiwcRank::Exact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Diagnostics;
    use crate::tokenize::Tokenizer;

    /// A lexicon from `[[theme]]` tables (and optionally `[negation]`).
    fn compile(body: &str) -> Matcher {
        let src = format!("[lexicon]\nname = \"t\"\n{body}");
        let tk = Tokenizer::default_pipeline();
        let mut d = Diagnostics::new("t.toml");
        let lex = crate::lexicon::toml::parse(&src, &tk, &mut d)
            .unwrap_or_else(|| panic!("{:#?}", d.items()));
        Matcher::new(&lex)
    }

    /// `theme:entry@start..end` for each match, `!` marking negated ones.
    fn run(m: &Matcher, text: &str) -> Vec<String> {
        let tk = Tokenizer::default_pipeline();
        let mut toks = Tokens::new();
        tk.tokenize(text, &mut toks);
        let mut s = Scratch::new();
        let mut out = Vec::new();
        m.find(text, &toks, &mut s, &mut out);
        out.iter()
            .map(|x| {
                let t = &m.themes()[x.theme as usize];
                format!(
                    "{}{}:{}@{}..{}",
                    if x.negated { "!" } else { "" },
                    t.id,
                    t.entries[x.entry as usize].text,
                    x.start,
                    x.end
                )
            })
            .collect()
    }

    const NEG: &str = "[negation]\ncues = [\"not\", \"never\", \"no\", \"*n't\", \"without\"]\n";

    /// (lexicon body, text, expected matches). Each row is hand-checked
    /// against DESIGN 3.1 and 3.2.
    const CASES: &[(&str, &str, &[&str])] = &[
        // A word.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"sponsor\"]",
            "My sponsor helps",
            &["a:sponsor@1..2"],
        ),
        // Case does not matter; partial words do not match.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"sponsor\"]",
            "SPONSORS Sponsor",
            &["a:sponsor@1..2"],
        ),
        // Prefix wildcard.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"relaps*\"]",
            "relapse, relapsing; relaps",
            &["a:relaps*@0..1", "a:relaps*@1..2", "a:relaps*@2..3"],
        ),
        // A phrase beats a word at the same start.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"higher\", \"higher power\"]",
            "a higher power",
            &["a:higher power@1..3"],
        ),
        // Ties go to the entry listed first.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"clean*\", \"clean\"]",
            "clean",
            &["a:clean*@0..1"],
        ),
        // Overlapping entries of one theme count once: leftmost wins.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"stay clean\", \"clean time\"]",
            "stay clean time",
            &["a:stay clean@0..2"],
        ),
        // One token counts for two themes.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"meeting*\"]\n[[theme]]\nid = \"b\"\nterms = [\"meetings\"]",
            "meetings",
            &["a:meeting*@0..1", "b:meetings@0..1"],
        ),
        // Wildcard inside a phrase.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"stay* clean\"]",
            "staying clean, stayed clean",
            &["a:stay* clean@0..2", "a:stay* clean@2..4"],
        ),
        // `12-step*` = 12 then prefix step; text `12 steps`.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"12-step*\"]",
            "the 12 steps and 12-stepping",
            &["a:12-step*@1..3", "a:12-step*@4..6"],
        ),
        // A regex is anchored to the whole token.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"regex:dr(y|ied)\"]",
            "dry dried dryer undry",
            &["a:regex:dr(y|ied)@0..1", "a:regex:dr(y|ied)@1..2"],
        ),
        // Exclusion cancels only the overlapping match.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"clean\"]\nexclude = [\"clean up\"]",
            "clean up, then stay clean",
            &["a:clean@4..5"],
        ),
        // An excluded longer entry lets a shorter one through when it does not overlap... it does here, so nothing.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"clean\", \"clean house\"]\nexclude = [\"house\"]",
            "clean house",
            &["a:clean@0..1"],
        ),
        // Exclusion of one theme does not affect another.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"clean\"]\nexclude = [\"clean up\"]\n[[theme]]\nid = \"b\"\nterms = [\"clean\"]",
            "clean up",
            &["b:clean@0..1"],
        ),
        // Phrases do not cross a sentence break ...
        (
            "[[theme]]\nid = \"a\"\nterms = [\"let go\"]",
            "let. Go; let go",
            &["a:let go@2..4"],
        ),
        (
            "[[theme]]\nid = \"a\"\nterms = [\"let go\"]",
            "let\ngo",
            &[],
        ),
        (
            "[[theme]]\nid = \"a\"\nterms = [\"let go\"]",
            "let: go! let? go",
            &[],
        ),
        // ... but a hyphen or comma is not one.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"let go\"]",
            "let-go, let, go",
            &["a:let go@0..2", "a:let go@2..4"],
        ),
        // Curly apostrophes are straight ones.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"don't\"]",
            "I don’t, I don't",
            &["a:don't@1..2", "a:don't@3..4"],
        ),
        // NFKC: ligatures and full-width letters.
        (
            "[[theme]]\nid = \"a\"\nterms = [\"find\", \"aa\"]",
            "ﬁnd ＡＡ",
            &["a:find@0..1", "a:aa@1..2"],
        ),
        // Hierarchy: matches are per theme; roll-up is in tally.
        (
            "[[theme]]\nid = \"p\"\nterms = [\"group\"]\n[[theme]]\nid = \"p.c\"\nterms = [\"group*\"]",
            "groups group",
            &["p.c:group*@0..1", "p:group@1..2", "p.c:group*@1..2"],
        ),
    ];

    /// The fast path against the general one on random lexicons (words,
    /// `stem*`, phrases of 2-3 tokens over a tiny vocabulary, so prefixes,
    /// repeats and overlaps abound; nested themes; negation; themes and
    /// liwc semantics) and random texts with sentence breaks.
    #[test]
    fn fast_path_equals_general_path() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        const VOCAB: &[&str] = &["a", "b", "ab", "abc", "ba", "bb", "cab", "x"];
        const SEPS: &[&str] = &[" ", " ", " ", ", ", ". ", "; "];
        let word = || (0..VOCAB.len()).prop_map(|i| VOCAB[i]);
        let term =
            (proptest::collection::vec(word(), 1..4), any::<bool>()).prop_map(|(words, star)| {
                let mut t = words.join(" ");
                if star {
                    t.push('*');
                }
                t
            });
        let lexicon = proptest::collection::vec(proptest::collection::vec(term, 1..8), 1..5);
        let text = proptest::collection::vec((word(), 0..SEPS.len(), any::<bool>()), 0..40);
        let mut runner = TestRunner::new(Config {
            cases: 400,
            ..Config::default()
        });
        let tk = Tokenizer::default_pipeline();
        runner
            .run(
                &(lexicon, text, any::<(bool, bool)>()),
                |(themes, text, (negation, liwc))| {
                    let mut body = String::new();
                    if liwc {
                        body += "semantics = \"liwc\"\n";
                    }
                    for (i, terms) in themes.iter().enumerate() {
                        // Distinct, in generated (not sorted) order, so
                        // "first listed" is tested.
                        let mut seen = std::collections::HashSet::new();
                        let terms: Vec<&String> =
                            terms.iter().filter(|t| seen.insert(*t)).collect();
                        let list: Vec<String> = terms.iter().map(|t| format!("{t:?}")).collect();
                        // Every other theme is a child of the first.
                        let id = if i % 2 == 1 {
                            format!("t0.c{i}")
                        } else {
                            format!("t{i}")
                        };
                        body +=
                            &format!("[[theme]]\nid = \"{id}\"\nterms = [{}]\n", list.join(", "));
                    }
                    if negation {
                        body += "[negation]\ncues = [\"x\"]\nwindow = 2\n";
                    }
                    let fast = compile(&body);
                    prop_assert!(fast.fast.is_some());
                    let mut slow = compile(&body);
                    slow.fast = None;
                    let mut t = String::new();
                    for (w, sep, upper) in &text {
                        if *upper {
                            t += &w.to_uppercase();
                        } else {
                            t += w;
                        }
                        t += SEPS[*sep];
                    }
                    let mut toks = Tokens::new();
                    tk.tokenize(&t, &mut toks);
                    let (mut s1, mut s2) = (Scratch::new(), Scratch::new());
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    // Twice with the same scratch: nothing may leak from one
                    // response into the next.
                    for _ in 0..2 {
                        fast.find(&t, &toks, &mut s1, &mut a);
                        slow.find(&t, &toks, &mut s2, &mut b);
                        prop_assert_eq!(&a, &b, "{}\n{}", body, t);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    /// A short wildcard starting many phrases, over many words it covers,
    /// would make the fast path's per-class lists explode: the matcher
    /// falls back to the general path, with the same matches.
    #[test]
    fn fast_lists_are_bounded() {
        let phrases: Vec<String> = (0..600).map(|k| format!("\"a* w{k}\"")).collect();
        let words: Vec<String> = (0..2000).map(|k| format!("\"a{k}\"")).collect();
        let body = format!(
            "[[theme]]\nid = \"p\"\nterms = [{}]\n[[theme]]\nid = \"w\"\nterms = [{}]\n",
            phrases.join(", "),
            words.join(", ")
        );
        let m = compile(&body);
        assert!(m.fast.is_none());
        assert_eq!(
            run(&m, "a17 w3. a5 w599"),
            ["p:a* w3@0..2", "w:a17@0..1", "p:a* w599@2..4", "w:a5@2..3"]
        );
        // Small lexicons keep the fast path.
        assert!(
            compile("[[theme]]\nid = \"p\"\nterms = [\"a* w1\", \"a1\"]\n")
                .fast
                .is_some()
        );
    }

    /// A scratch handed from one matcher to another forgets the first's
    /// memo (regex lexicons memoize classes and pool ranges per token).
    #[test]
    fn scratch_moves_between_matchers() {
        let a = compile("[[theme]]\nid = \"a\"\nterms = [\"regex:^c.*\", \"x y\"]\n");
        let b = compile("[[theme]]\nid = \"b\"\nterms = [\"cat\", \"dog*\"]\n");
        let tk = Tokenizer::default_pipeline();
        let mut s = Scratch::new();
        let mut out = Vec::new();
        for (m, want) in [(&a, 1), (&b, 2), (&a, 1), (&b, 2)] {
            let text = "cat dogs";
            let mut toks = Tokens::new();
            tk.tokenize(text, &mut toks);
            m.find(text, &toks, &mut s, &mut out);
            assert_eq!(out.len(), want);
        }
    }

    #[test]
    fn matching_table() {
        for (i, (body, text, want)) in CASES.iter().enumerate() {
            let m = compile(body);
            assert_eq!(run(&m, text), *want, "case {i}: {text:?} with\n{body}");
        }
    }

    /// Negation rows: (text, expected), lexicon `a = ["judged", "craving*"]`.
    const NEG_CASES: &[(&str, &[&str])] = &[
        ("I never felt judged", &["!a:judged@3..4"]),
        ("I felt judged", &["a:judged@2..3"]),
        // Window 3: the cue is 3 tokens before → negated; 4 → not.
        ("not a b judged", &["!a:judged@3..4"]),
        ("not a b c judged", &["a:judged@4..5"]),
        // Scope break characters and words end the cue's scope.
        ("not really, judged", &["a:judged@2..3"]),
        ("no but judged", &["a:judged@2..3"]),
        ("no one judged", &["!a:judged@2..3"]),
        ("never. judged", &["a:judged@1..2"]),
        // Suffix cue `*n't` with a curly apostrophe.
        ("I didn’t feel judged", &["!a:judged@3..4"]),
        // Without a cue before, a later cue does nothing.
        ("judged, not", &["a:judged@0..1"]),
        // Full-width and ellipsis punctuation count as breaks after NFKC.
        ("not really！judged", &["a:judged@2..3"]),
        ("not really… judged", &["a:judged@2..3"]),
    ];

    #[test]
    fn negation_table() {
        let m = compile(&format!(
            "{NEG}[[theme]]\nid = \"a\"\nterms = [\"judged\", \"craving*\"]"
        ));
        for (text, want) in NEG_CASES {
            assert_eq!(run(&m, text), *want, "{text:?}");
        }
    }

    #[test]
    fn without_negation_section_nothing_is_negated() {
        let m = compile("[[theme]]\nid = \"a\"\nterms = [\"judged\"]");
        assert_eq!(run(&m, "I never felt judged"), ["a:judged@3..4"]);
    }

    #[test]
    fn trie_walk_equals_naive_lookup() {
        let exact = ["a", "ab", "abc", "über", "don't", "zz"];
        let prefix = ["a", "abc", "üb", "d", ""];
        let mut t = Trie::new();
        for (i, w) in exact.iter().enumerate() {
            t.insert(w.as_bytes()).exact = i as u32;
        }
        for (i, w) in prefix.iter().enumerate() {
            t.insert(w.as_bytes()).prefix = 100 + i as u32;
        }
        t.insert(b"no").exact_flags |= CUE;
        t.insert(b"un").prefix_flags |= CUE;
        t.freeze();
        let tokens = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "b",
            "über",
            "übe",
            "ü",
            "u",
            "don't",
            "do",
            "zz",
            "zzz",
            "no",
            "non",
            "un",
            "unhappy",
            "u\u{308}ber",
        ];
        for tok in tokens {
            let mut want: Vec<u32> = Vec::new();
            want.extend(exact.iter().position(|w| *w == tok).map(|i| i as u32));
            for (i, p) in prefix.iter().enumerate() {
                if tok.starts_with(p) {
                    want.push(100 + i as u32);
                }
            }
            let want_flags = if tok == "no" || tok.starts_with("un") {
                CUE
            } else {
                0
            };
            let (class, flags) = t.walk(tok.as_bytes());
            let mut got = t.pats(class).to_vec();
            assert_eq!(flags, t.classes[class as usize].flags);
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!((got, flags), (want, want_flags), "{tok:?}");
        }
    }

    /// The memos of short and long tokens give the trie walk's class and
    /// flags: tokens of every length around their 7- and 15-byte limits,
    /// tokens that end the normalized buffer, and far more distinct tokens
    /// than they have slots, so slots are overwritten and lookups of
    /// evicted tokens walk again.
    #[test]
    fn memoized_classes_equal_the_walk() {
        // Every 9-letter prefix of `a` and `b` is a wildcard term, so two
        // such tokens that share their first (or last) eight bytes are in
        // different classes.
        let mut terms: Vec<String> = ["ab", "abc*", "abcdefg", "abcdefgh", "b*", "n't"]
            .map(String::from)
            .into();
        for k in 0..512u32 {
            let p: String = (0..9)
                .map(|b| if k >> b & 1 == 1 { 'b' } else { 'a' })
                .collect();
            terms.push(format!("{p}*"));
        }
        let m = compile(&format!(
            "[[theme]]\nid = \"a\"\nterms = {terms:?}\n[negation]\ncues = [\"no\", \"*n't\"]"
        ));
        let tk = Tokenizer::default_pipeline();
        let mut toks = Tokens::new();
        let mut s = Scratch::new();
        s.owner = m.id;
        let letters = b"abcdefgh";
        let mut x = 12345u64;
        let mut checked = 0;
        for _ in 0..12_000 {
            let mut text = String::new();
            for _ in 0..12 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Lengths 1 to 18: both memos and past them.
                let len = 1 + (x >> 58) as usize % 18;
                // Half the tokens of `a` and `b` only: many share their
                // first (or last) eight bytes and differ in the rest.
                let alphabet = if x >> 56 & 1 == 1 { 1 } else { 3 };
                let mut y = x;
                for _ in 0..len {
                    y = y.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
                    text.push(letters[(y >> (64 - alphabet)) as usize] as char);
                }
                if x >> 57 & 1 == 1 {
                    text.push_str("n't");
                }
                text.push(' ');
            }
            tk.tokenize(&text, &mut toks);
            m.classify_tokens(&toks, &mut s);
            for i in 0..toks.len() {
                let want = m.classify_word(toks.text(i).as_bytes());
                let got = s.info[i];
                assert_eq!(
                    (got.class, got.flags),
                    (want.class, want.flags),
                    "{:?}",
                    toks.text(i)
                );
                checked += 1;
            }
        }
        assert!(checked > 140_000);
        // Most slots were filled: with far more distinct short tokens than
        // slots, many were overwritten.
        assert!(s.memo.iter().filter(|slot| slot.0 != 0).count() > (1 << MEMO_BITS) / 2);
        assert!(
            s.memo_long.iter().filter(|slot| slot.len != 0).count() > (1 << MEMO_LONG_BITS) / 2
        );
    }

    /// Two tokens of 15 bytes in the same slot of the long-token memo that
    /// share their first (or their last) eight bytes: the second is not
    /// given the first's class.
    #[test]
    fn long_memo_tells_tokens_in_one_slot_apart() {
        let tk = Tokenizer::default_pipeline();
        let load = |t: &str, at: usize| {
            crate::tokenize::eight_bytes_at(t.as_bytes(), at).expect("15-byte token")
        };
        for fixed_first in [true, false] {
            // Tokens with a fixed half and a varying one, until two share a
            // slot.
            let mut seen: FxHashMap<usize, String> = FxHashMap::default();
            let mut x = 99u64;
            let (a, b) = loop {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let vary: String = (0..7)
                    .map(|k| (b'a' + (x >> (8 * k)) as u8 % 26) as char)
                    .collect();
                let t = if fixed_first {
                    format!("qqqqqqqq{vary}")
                } else {
                    format!("{vary}qqqqqqqq")
                };
                let slot = long_slot(load(&t, 0), load(&t, 7), 15);
                match seen.get(&slot) {
                    Some(other) if *other != t => break (other.clone(), t),
                    _ => {
                        seen.insert(slot, t);
                    }
                }
            };
            // `a` is a term, `b` is not.
            let m = compile(&format!("[[theme]]\nid = \"a\"\nterms = [\"{a}\"]"));
            let mut toks = Tokens::new();
            let mut s = Scratch::new();
            s.owner = m.id;
            tk.tokenize(&format!("{a} {b}"), &mut toks);
            m.classify_tokens(&toks, &mut s);
            assert_ne!(s.info[0].class, 0, "{a}");
            assert_eq!(s.info[1].class, 0, "{b} after {a}");
        }
    }

    /// A word's unique tail (a chain of only children) sits in consecutive
    /// states, and walks along and off it still find the right classes.
    #[test]
    fn trie_chains_are_consecutive() {
        let mut t = Trie::new();
        t.insert(b"sobriety").exact = 1;
        t.insert(b"sober").exact = 2;
        t.insert(b"sob").prefix = 3;
        t.freeze();
        let slots = |w: &[u8]| {
            let mut s = 0usize;
            let mut out = Vec::new();
            for &b in w {
                s = t.states[s].base as usize + b as usize;
                assert_eq!(t.states[s].check as usize, out.last().copied().unwrap_or(0));
                out.push(s);
            }
            out
        };
        // "s-o-b" is a chain from the root; "riety" and "er" branch off it.
        for w in [&b"sobriety"[..], b"sober"] {
            let path = slots(w);
            for pair in path[..3].windows(2).chain(path[4..].windows(2)) {
                assert_eq!(pair[1], pair[0] + 1, "{:?}", String::from_utf8_lossy(w));
            }
        }
        let pats = |w: &str| t.pats(t.walk(w.as_bytes()).0).to_vec();
        assert_eq!(pats("sobriety"), [3, 1]);
        assert_eq!(pats("sober"), [3, 2]);
        assert_eq!(pats("sobriet"), [3]);
        assert_eq!(pats("sobrietyx"), [3]);
        assert_eq!(pats("so"), Vec::<u32>::new());
        assert_eq!(pats("soberly"), [3]);
    }

    #[test]
    fn trie_of_a_large_lexicon_equals_naive_lookup() {
        // Thousands of pseudo-random words (the double array's base search
        // packs many nodes together), checked word by word and on their
        // prefixes and extensions.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyzéüß'-".chars().collect();
        let words: Vec<String> = (0..4000)
            .map(|_| {
                let len = 1 + next(9) as usize;
                (0..len)
                    .map(|_| alphabet[next(alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect();
        let mut exact: FxHashMap<&str, u32> = FxHashMap::default();
        let mut prefix: FxHashMap<&str, u32> = FxHashMap::default();
        let mut t = Trie::new();
        for (i, w) in words.iter().enumerate() {
            if i % 3 == 0 {
                prefix.entry(w).or_insert(i as u32);
                t.insert(w.as_bytes()).prefix = prefix[w.as_str()];
            } else {
                exact.entry(w).or_insert(i as u32);
                t.insert(w.as_bytes()).exact = exact[w.as_str()];
            }
        }
        t.freeze();
        for w in &words {
            let chars: Vec<char> = w.chars().collect();
            let mut probes = vec![w.clone(), format!("{w}s"), format!("x{w}")];
            probes.extend((0..chars.len()).map(|k| chars[..k].iter().collect()));
            for tok in probes {
                let mut want: Vec<u32> = exact.get(tok.as_str()).copied().into_iter().collect();
                for (k, _) in tok.char_indices().chain([(tok.len(), ' ')]) {
                    want.extend(prefix.get(&tok[..k]).copied());
                }
                let mut got = t.pats(t.walk(tok.as_bytes()).0).to_vec();
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "{tok:?}");
            }
        }
    }

    #[test]
    fn packed_token_keys_are_distinct() {
        let words = [
            "",
            "a",
            "a\0",
            "ab",
            "ba",
            "don't",
            "fifteen-bytes!!",
            "ü",
            "u\u{308}",
        ];
        let keys: Vec<Option<u128>> = words.iter().map(|w| pack(w)).collect();
        for i in 0..keys.len() {
            assert!(keys[i].is_some(), "{:?}", words[i]);
            for j in 0..i {
                assert_ne!(keys[i], keys[j], "{:?} {:?}", words[i], words[j]);
            }
        }
        assert_eq!(pack("sixteen-bytes!!!"), None);
    }

    #[test]
    fn hierarchy_rolls_up() {
        let m = compile(
            "[[theme]]\nid = \"p.a\"\nterms = [\"x\"]\n[[theme]]\nid = \"p.b\"\nterms = [\"x\", { term = \"y\", weight = 2.0 }]\n[[theme]]\nid = \"q\"\nterms = [\"z\"]",
        );
        let ids: Vec<&str> = m.themes().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["p", "p.a", "p.b", "q"]);
        assert!(!m.themes()[0].is_leaf && m.themes()[1].is_leaf);
        let tk = Tokenizer::default_pipeline();
        let mut toks = Tokens::new();
        let text = "x y";
        tk.tokenize(text, &mut toks);
        let mut s = Scratch::new();
        let mut out = Vec::new();
        m.find(text, &toks, &mut s, &mut out);
        let mut counts = Vec::new();
        m.tally(&out, &mut counts);
        // x counts for p.a and p.b, so twice in p; y has weight 2.
        assert_eq!(
            counts[0],
            ThemeCounts {
                hits: 3,
                negated: 0,
                score: 4.0
            }
        );
        assert_eq!(
            counts[1],
            ThemeCounts {
                hits: 1,
                negated: 0,
                score: 1.0
            }
        );
        assert_eq!(
            counts[2],
            ThemeCounts {
                hits: 2,
                negated: 0,
                score: 3.0
            }
        );
        assert_eq!(counts[3], ThemeCounts::default());
        assert_eq!(m.covered_tokens(toks.len(), &out, &mut s), 2);
    }

    #[test]
    fn liwc_rules() {
        let body = "[[theme]]\nid = \"a\"\nterms = [\"good*\", \"goodbye\", \"good night\"]\n[[theme]]\nid = \"b\"\nterms = [\"Good*\", \"go*\", \"goo*\"]";
        let src = format!("[lexicon]\nname = \"t\"\nsemantics = \"liwc\"\n{body}");
        let tk = Tokenizer::default_pipeline();
        let mut d = Diagnostics::new("t.toml");
        let lex = crate::lexicon::toml::parse(&src, &tk, &mut d).unwrap();
        let m = Matcher::new(&lex);
        // `good night`: 2-token phrase wins and counts 2 words for a.
        // `goodbye`: exact beats wildcards: only a.
        // `goodness`: longest wildcard `good*` (shared by a and b as one
        // entry) beats `goo*` and `go*`.
        // `gone`: only `go*` → b.
        assert_eq!(
            run(&m, "good night goodbye goodness gone"),
            [
                "a:good night@0..2",
                "a:goodbye@2..3",
                "a:good*@3..4",
                "b:Good*@3..4",
                "b:go*@4..5"
            ]
        );
        let mut counts = Vec::new();
        let mut toks = Tokens::new();
        tk.tokenize("good night", &mut toks);
        let mut out = Vec::new();
        m.find("good night", &toks, &mut Scratch::new(), &mut out);
        m.tally(&out, &mut counts);
        assert_eq!(counts[0].hits, 2);
    }
}
