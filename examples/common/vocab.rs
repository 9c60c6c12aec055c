//! Shared by the benchmark generators (`gen_corpus`, `gen_lexicon`): a small
//! deterministic PRNG, the vocabulary both draw from, its Zipf sampler and
//! the collocations (phrases) that the corpus mixes in and the lexicon lists.
//!
//! Everything here is a pure function of the constants below, so a corpus and
//! a lexicon generated with any seeds share one vocabulary and terms hit.
//! Included by path (`#[path = "common/vocab.rs"] mod vocab;`); not an
//! example of its own.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, good enough for
/// test data, and identical on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Real words, most frequent first: English function words (the Zipf head),
/// then the vocabulary of answers about mutual-aid groups, a few words with
/// non-ASCII letters, and contractions (written with a curly apostrophe half
/// of the time by the corpus generator).
pub const CORE: &[&str] = &[
    // Function words, roughly by frequency.
    "the",
    "i",
    "and",
    "to",
    "a",
    "of",
    "my",
    "it",
    "was",
    "that",
    "in",
    "me",
    "is",
    "for",
    "you",
    "with",
    "we",
    "but",
    "they",
    "on",
    "be",
    "have",
    "not",
    "so",
    "at",
    "this",
    "group",
    "as",
    "are",
    "what",
    "when",
    "just",
    "about",
    "all",
    "if",
    "people",
    "or",
    "like",
    "do",
    "get",
    "from",
    "one",
    "he",
    "she",
    "them",
    "had",
    "would",
    "can",
    "who",
    "more",
    "there",
    "out",
    "been",
    "by",
    "no",
    "up",
    "our",
    "their",
    "an",
    "his",
    "her",
    "will",
    "because",
    "which",
    "how",
    "some",
    "other",
    "into",
    "than",
    "then",
    "also",
    "only",
    "even",
    "never",
    "very",
    "really",
    "again",
    "still",
    "after",
    "before",
    "day",
    "time",
    "don't",
    "it's",
    "i'm",
    "can't",
    "didn't",
    "i've",
    "that's",
    "you're",
    "wasn't",
    "won't",
    "i'd",
    // Survey content.
    "meeting",
    "meetings",
    "sponsor",
    "sober",
    "sobriety",
    "clean",
    "recovery",
    "relapse",
    "relapsed",
    "drinking",
    "drink",
    "using",
    "drugs",
    "alcohol",
    "cocaine",
    "addict",
    "addiction",
    "alcoholic",
    "family",
    "friends",
    "support",
    "help",
    "helping",
    "others",
    "newcomers",
    "members",
    "share",
    "sharing",
    "honest",
    "honesty",
    "program",
    "steps",
    "step",
    "higher",
    "power",
    "god",
    "spiritual",
    "abstinence",
    "abstinent",
    "stay",
    "staying",
    "stop",
    "stopped",
    "quit",
    "quitting",
    "craving",
    "cravings",
    "urge",
    "urges",
    "trigger",
    "triggers",
    "stress",
    "shame",
    "stigma",
    "society",
    "judged",
    "labelled",
    "label",
    "doctor",
    "court",
    "judge",
    "prison",
    "jail",
    "job",
    "work",
    "money",
    "wife",
    "husband",
    "kids",
    "children",
    "mother",
    "father",
    "home",
    "life",
    "lives",
    "years",
    "months",
    "weeks",
    "days",
    "tools",
    "skills",
    "cbt",
    "smart",
    "management",
    "self",
    "control",
    "choice",
    "choices",
    "lapse",
    "slip",
    "slipped",
    "accept",
    "acceptable",
    "deviant",
    "rules",
    "norms",
    "crosstalk",
    "service",
    "chairs",
    "coffee",
    "phone",
    "call",
    "calls",
    "rang",
    "listen",
    "listening",
    "talk",
    "talking",
    "feel",
    "felt",
    "feelings",
    "angry",
    "anger",
    "fear",
    "afraid",
    "lonely",
    "alone",
    "isolation",
    "belong",
    "belonging",
    "identity",
    "identify",
    "member",
    "together",
    "community",
    "fellowship",
    "trust",
    "hope",
    "hopeless",
    "grateful",
    "gratitude",
    "humble",
    "pride",
    "respect",
    "responsibility",
    "accountable",
    "accountability",
    "commitment",
    "committed",
    "motivation",
    "motivated",
    "confidence",
    "strength",
    "weak",
    "weakness",
    "failure",
    "success",
    "progress",
    "goal",
    "goals",
    "objective",
    "purpose",
    "message",
    "carry",
    "giving",
    "back",
    "chips",
    "keyring",
    "anniversary",
    "birthday",
    "detox",
    "rehab",
    "treatment",
    "therapy",
    "counsellor",
    "counselor",
    "referral",
    "referred",
    "police",
    "arrest",
    "arrested",
    "dui",
    "overdose",
    "hospital",
    "health",
    "mental",
    "depression",
    "anxiety",
    "sleep",
    "body",
    "mind",
    "heart",
    "safe",
    "safety",
    "welcome",
    "welcomed",
    "judgement",
    "judgment",
    "labels",
    "dirty",
    "junkie",
    "drunk",
    "high",
    "using",
    "dealer",
    "pub",
    "bar",
    "party",
    "parties",
    "cost",
    "lose",
    "losing",
    "lost",
    "everything",
    "nothing",
    "someone",
    "everyone",
    "somebody",
    "newcomer",
    "oldtimer",
    "old",
    "new",
    "first",
    "last",
    "next",
    "every",
    "always",
    "often",
    "sometimes",
    "honestly",
    "literally",
    "basically",
    "maybe",
    "probably",
    "definitely",
    // Non-ASCII words (all on the tokenizer's fast path).
    "café",
    "naïve",
    "josé",
    "zürich",
    "días",
    "résumé",
    "façade",
    "coöperate",
    "über",
    "señora",
    "straße",
    "ångström",
];

/// Syllables of the synthetic long tail.
const SYLLABLES: &[&str] = &[
    "ba", "be", "bi", "bo", "ca", "co", "da", "de", "di", "do", "fa", "fe", "fi", "ga", "go", "ha",
    "he", "hi", "ja", "ka", "ke", "ki", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na",
    "ne", "ni", "no", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "ru", "sa", "se", "si", "so",
    "ta", "te", "ti", "to", "va", "ve", "vi", "wa", "we", "ya", "za", "ber", "con", "der", "fen",
    "gar", "ler", "men", "nor", "per", "quin", "ster", "tal", "ver", "tion", "ing", "ment", "ness",
    "ous", "ful", "less", "able", "ist", "ism",
];

/// Number of words in [`vocabulary`].
pub const VOCAB_SIZE: usize = 30_000;
/// Zipf exponent of word frequencies (close to 1 for English).
pub const ZIPF_S: f64 = 1.05;
/// Number of collocations in [`phrases`].
pub const PHRASE_COUNT: usize = 4_000;

/// The vocabulary by frequency rank: [`CORE`] then synthetic words of two to
/// four syllables, `VOCAB_SIZE` words in all, no duplicates.
pub fn vocabulary() -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut words = Vec::with_capacity(VOCAB_SIZE);
    for w in CORE {
        if seen.insert(w.to_string()) {
            words.push(w.to_string());
        }
    }
    let mut rng = Rng::new(0x05EE_D0F7_0CAB);
    while words.len() < VOCAB_SIZE {
        let n = rng.range(2, 4);
        let w: String = (0..n)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Hand-written collocations of the domain (as the corpus writes them; the
/// lexicon lists them too).
const SET_PHRASES: &[&str] = &[
    "higher power",
    "one day at a time",
    "stay clean",
    "stay sober",
    "let go",
    "support group",
    "peer pressure",
    "cost of relapse",
    "give back",
    "no crosstalk",
    "clean time",
    "stop using",
    "stop drinking",
    "sponsor said",
    "carry the message",
    "keep coming back",
    "self management",
    "rock bottom",
    "hit bottom",
    "social support",
    "feel safe",
    "not alone",
    "the group",
    "my family",
    "an addict",
    "called an addict",
    "took it seriously",
    "second chance",
    "mental health",
    "court order",
];

/// Collocations as lists of words: [`SET_PHRASES`] first, then two- and
/// three-word combinations of frequent content words. The corpus draws them
/// with a Zipf law over this order, so early phrases are the common ones.
pub fn phrases(vocab: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = SET_PHRASES
        .iter()
        .map(|p| p.split(' ').map(str::to_string).collect())
        .collect();
    let mut seen: HashSet<Vec<String>> = out.iter().cloned().collect();
    let mut rng = Rng::new(0x0C011_0CA7E);
    while out.len() < PHRASE_COUNT {
        let n = if rng.chance(0.8) { 2 } else { 3 };
        // Content words: skip the function-word head.
        let p: Vec<String> = (0..n)
            .map(|_| vocab[rng.range(60, 3_000)].clone())
            .collect();
        if seen.insert(p.clone()) {
            out.push(p);
        }
    }
    out
}

/// Zipf sampler over ranks `0..n`: P(rank r) ∝ 1 / (r + 1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for r in 0..n {
            acc += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

const EMOJI: &[&str] = &["🙂", "🙏", "💪", "😔", "❤️"];

/// Generator of survey answers (the text of `gen_corpus`'s `response`
/// column; the benchmarks use it in memory).
pub struct Answers {
    pub rng: Rng,
    words: Vec<String>,
    /// `words` with a curly apostrophe (`don’t`).
    curly: Vec<String>,
    zipf: Zipf,
    phrases: Vec<String>,
    phrase_zipf: Zipf,
}

impl Answers {
    pub fn new(seed: u64) -> Answers {
        let words = vocabulary();
        let curly = words.iter().map(|w| w.replace('\'', "’")).collect();
        let phrases: Vec<String> = phrases(&words).into_iter().map(|p| p.join(" ")).collect();
        Answers {
            rng: Rng::new(seed),
            zipf: Zipf::new(words.len(), ZIPF_S),
            phrase_zipf: Zipf::new(phrases.len(), 0.9),
            words,
            curly,
            phrases,
        }
    }

    /// `count` answers (none empty) in one vector.
    pub fn batch(&mut self, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let mut s = String::new();
                self.answer(&mut s);
                s
            })
            .collect()
    }

    /// One answer of `n` words (a phrase counts as one slot).
    pub fn answer(&mut self, text: &mut String) {
        text.clear();
        let n = self.rng.range(5, 120);
        let multiline = self.rng.chance(0.05);
        let mut sentence_left = 0;
        let mut start_of_sentence = true;
        let mut open_quote = false;
        let mut curly_quote = false;
        for i in 0..n {
            if sentence_left == 0 {
                sentence_left = self.rng.range(4, 20);
                start_of_sentence = true;
            }
            if i > 0 {
                text.push(' ');
            }
            if !open_quote && self.rng.chance(0.01) {
                curly_quote = self.rng.chance(0.7);
                text.push(if curly_quote { '“' } else { '"' });
                open_quote = true;
            }
            let r = &mut self.rng;
            let word: &str = if r.chance(0.04) {
                &self.phrases[self.phrase_zipf.sample(r)]
            } else {
                let k = self.zipf.sample(r);
                if r.chance(0.5) {
                    &self.curly[k]
                } else {
                    &self.words[k]
                }
            };
            if start_of_sentence {
                let mut chars = word.chars();
                if let Some(c) = chars.next() {
                    text.extend(c.to_uppercase());
                    text.push_str(chars.as_str());
                }
                start_of_sentence = false;
            } else if word == "i" || word.starts_with("i'") || word.starts_with("i’") {
                text.push('I');
                text.push_str(&word[1..]);
            } else {
                text.push_str(word);
            }
            sentence_left -= 1;
            let last = i + 1 == n;
            if open_quote && (last || self.rng.chance(0.2)) {
                text.push(if curly_quote { '”' } else { '"' });
                open_quote = false;
            }
            if last || sentence_left == 0 {
                let r = self.rng.unit();
                text.push_str(match r {
                    r if r < 0.80 => ".",
                    r if r < 0.88 => "!",
                    r if r < 0.95 => "?",
                    _ => "…",
                });
                if self.rng.chance(0.005) {
                    text.push(' ');
                    text.push_str(EMOJI[self.rng.below(EMOJI.len())]);
                }
                if multiline && !last && self.rng.chance(0.5) {
                    text.push('\n');
                    // The separator before the next word is the line break.
                    sentence_left = 0;
                    continue;
                }
            } else {
                let r = self.rng.unit();
                if r < 0.08 {
                    text.push(',');
                } else if r < 0.085 {
                    text.push(';');
                } else if r < 0.09 {
                    text.push_str(" —");
                }
            }
        }
        // Line breaks were pushed before the ' ' separator; tidy "\n " to "\n".
        if multiline {
            *text = text.replace("\n ", "\n");
        }
    }
}

/// Top-level categories of a generated lexicon.
const PARENTS: &[&str] = &["affect", "social", "cognition", "health"];

/// A generated LIWC-style lexicon (see `gen_lexicon`).
pub struct GenLexicon {
    pub terms_requested: usize,
    pub seed: u64,
    /// Terms in generation order (`stem*` for wildcards).
    pub terms: Vec<String>,
    /// For each term, its category indices (sorted).
    pub cats_of: Vec<Vec<usize>>,
    /// For each category, its terms (indices into `terms`, in order).
    pub members: Vec<Vec<usize>>,
}

impl GenLexicon {
    /// About `n` terms (70% words, 20% wildcards, 10% phrases) in about √n
    /// categories; each term in one category, one in ten in a second one.
    pub fn new(n: usize, seed: u64) -> GenLexicon {
        let mut rng = Rng::new(seed);
        let terms = terms(n, &mut rng);
        let n_cats = ((terms.len() as f64).sqrt().round() as usize).clamp(4, 80);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_cats];
        let mut cats_of: Vec<Vec<usize>> = Vec::with_capacity(terms.len());
        for t in 0..terms.len() {
            let first = rng.below(n_cats);
            let mut cats = vec![first];
            if rng.chance(0.1) {
                let second = rng.below(n_cats);
                if second != first {
                    cats.push(second);
                }
            }
            cats.sort_unstable();
            for &c in &cats {
                members[c].push(t);
            }
            cats_of.push(cats);
        }
        // A category left empty by chance gets one term.
        for (c, m) in members.iter_mut().enumerate() {
            if m.is_empty() {
                let t = rng.below(terms.len());
                m.push(t);
                cats_of[t].push(c);
                cats_of[t].sort_unstable();
            }
        }
        GenLexicon {
            terms_requested: n,
            seed,
            terms,
            cats_of,
            members,
        }
    }

    /// Category name: dotted, so the parents form a hierarchy.
    pub fn category(&self, c: usize) -> String {
        format!("{}.c{:02}", PARENTS[c % PARENTS.len()], c + 1)
    }

    /// The native TOML lexicon (DESIGN 2), themes = categories.
    pub fn to_toml(&self, negation: bool) -> String {
        let (n, seed) = (self.terms_requested, self.seed);
        let mut s = String::new();
        writeln!(
            s,
            "# Generated by `cargo run --example gen_lexicon -- --terms {n} --seed {seed}`."
        )
        .unwrap();
        writeln!(
            s,
            "# Benchmark data (docs/BENCHMARKS.md): words, stem* wildcards and phrases"
        )
        .unwrap();
        writeln!(s, "# from the vocabulary of examples/gen_corpus.rs.\n").unwrap();
        writeln!(s, "[lexicon]").unwrap();
        writeln!(
            s,
            "name = \"Generated LIWC-style lexicon ({} terms, seed {seed})\"",
            self.terms.len()
        )
        .unwrap();
        writeln!(
            s,
            "version = \"1.0.0\"\nlanguage = \"en\"\nsemantics = \"themes\"\n"
        )
        .unwrap();
        if negation {
            writeln!(s, "[negation]\ncues = [\"not\", \"no\", \"never\", \"without\", \"nor\", \"cannot\", \"*n't\"]\nwindow = 3\n").unwrap();
        }
        for p in PARENTS.iter().take(self.members.len()) {
            writeln!(s, "[[theme]]\nid = \"{p}\"\nlabel = \"{p} (parent)\"\n").unwrap();
        }
        for (c, m) in self.members.iter().enumerate() {
            writeln!(
                s,
                "[[theme]]\nid = \"{}\"\nlabel = \"Category {}\"\nterms = [",
                self.category(c),
                c + 1
            )
            .unwrap();
            for &t in m {
                writeln!(s, "  {},", toml_string(&self.terms[t])).unwrap();
            }
            writeln!(s, "]\n").unwrap();
        }
        s
    }

    /// The LIWC `.dic`: `%`, `id<TAB>name` lines, `%`, `term<TAB>id…`.
    pub fn to_dic(&self) -> String {
        let mut s = String::from("%\n");
        for c in 0..self.members.len() {
            writeln!(s, "{}\t{}", c + 1, self.category(c)).unwrap();
        }
        s.push_str("%\n");
        for (t, term) in self.terms.iter().enumerate() {
            s.push_str(term);
            for &c in &self.cats_of[t] {
                write!(s, "\t{}", c + 1).unwrap();
            }
            s.push('\n');
        }
        s
    }
}

/// The terms: unique, no term shadowed by a wildcard (that would only earn
/// a `lexicon check` warning), in generation order.
fn terms(n: usize, rng: &mut Rng) -> Vec<String> {
    let words = vocabulary();
    let phrases = phrases(&words);
    let n_phrases = n / 10;
    let n_wild = n / 5;
    let n_words = n - n_phrases - n_wild;
    // Draw from the head of the vocabulary, wider for larger lexicons.
    let pool = (6 * n + 200).min(words.len());
    let phrase_pool = (6 * n_phrases + 20).min(phrases.len());

    let mut seen: HashSet<String> = HashSet::new();
    let mut stems: Vec<String> = Vec::new();
    let mut exact: Vec<String> = Vec::new();
    let shadowed = |w: &str, stems: &[String]| stems.iter().any(|s| w.starts_with(s.as_str()));
    let mut guard = 0;
    while stems.len() < n_wild && guard < 100 * n {
        guard += 1;
        let w = &words[rng.below(pool)];
        if w.len() < 5 || !w.is_ascii() || w.contains('\'') {
            continue;
        }
        let cut = rng.range(1, (w.len() - 3).min(3));
        let stem = w[..w.len() - cut].to_string();
        if stems
            .iter()
            .any(|s| stem.starts_with(s.as_str()) || s.starts_with(&stem))
        {
            continue;
        }
        stems.push(stem);
    }
    while exact.len() < n_words && guard < 200 * n {
        guard += 1;
        let w = &words[rng.below(pool)];
        if !shadowed(w, &stems) && seen.insert(w.clone()) {
            exact.push(w.clone());
        }
    }
    let mut multi: Vec<String> = Vec::new();
    while multi.len() < n_phrases && guard < 300 * n {
        guard += 1;
        let p = phrases[rng.below(phrase_pool)].join(" ");
        if seen.insert(p.clone()) {
            multi.push(p);
        }
    }
    let mut all: Vec<String> = exact;
    all.extend(stems.into_iter().map(|s| format!("{s}*")));
    all.extend(multi);
    // Interleave kinds so every category gets some of each.
    for i in (1..all.len()).rev() {
        all.swap(i, rng.below(i + 1));
    }
    all
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
