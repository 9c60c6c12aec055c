//! The tokenizer's fast path against the `tokenizers` crate (DESIGN 3.1):
//! a differential test over generated Unicode text, an exhaustive check of
//! the per-codepoint classifier, and the `tokenizer.json` round trip.

use thematic::tokenize::{Tokenizer, Tokens, fast_path_handles};

/// splitmix64: a tiny seeded generator, so every run tests the same texts
/// and a failure is reproducible from the printed input alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces of text, grouped by what they exercise.
const ASCII: &[&str] = &[
    "the",
    "Sober",
    "AA",
    "don't",
    "o'clock",
    "12",
    "2024",
    "x",
    "Step",
    "rock'n'roll",
    "HELLO",
];
const LATIN: &[&str] = &[
    "café",
    "Über",
    "niño",
    "Åse",
    "œuvre",
    "Straße",
    "ĳ",
    "ǅ",
    "Łódź",
    "ÿ",
    // Decomposed: NFKC composes these.
    "cafe\u{301}",
    "U\u{308}ber",
    "n\u{303}",
    "A\u{30A}",
    "e\u{301}\u{327}",
    "a\u{316}\u{301}",
    "a\u{301}\u{316}",
    "o\u{308}\u{304}",
];
const COMPAT: &[&str] = &[
    "ﬁnd",
    "ﬂ",
    "ﬀ",
    "ＡＢＣ",
    "ｗｏｒｄ",
    "１２",
    "＇",
    "K",
    "Å",
    "㎞",
    "𝐀𝐁",
    "²",
    "½",
    "Ⅻ",
    "ｶﾀｶﾅ",
    "\u{2126}",
    "ℌ",
    "㈱",
    "…",
    "\u{a8}",
    "\u{2474}",
    "！",
];
const CASE: &[&str] = &["İstanbul", "ΣΑΣ", "ẞ", "ı", "ǰ", "Ⱥ", "ﬃ", "Ω", "ΐ"];
const APOS: &[&str] = &["'", "’", "‘", "ʼ", "''", "’’", "'s", "’t", "ʼn"];
const PUNCT: &[&str] = &[
    "\u{a0}", "…", "！", "\u{3000}", "？", "\u{2002}", "-", "–", "—", ".", ",", ";", ":", "!", "?",
    "(", ")", "\"", "/", "_", "#",
];
const EMOJI: &[&str] = &[
    "😀",
    "❤\u{fe0f}",
    "❤\u{fe0e}",
    "👨\u{200d}👩\u{200d}👧",
    "👍🏽",
    "1\u{fe0f}\u{20e3}",
    "🇫🇷",
    "\u{fe0f}",
    "\u{200d}",
];
const SCRIPTS: &[&str] = &[
    "日本語",
    "中文",
    "한국어",
    "\u{1100}\u{1161}\u{11a8}",
    "ひらがな",
    "カタカナ",
    "नमस्ते",
    "क़",
    "क\u{93c}",
    "हिन्दी",
    "বাংলা",
    "ไทย",
    "ภาษา",
    "ทั้ง",
    "مرحبا",
    "بِسْمِ",
    "\u{628}\u{650}\u{651}",
    "\u{628}\u{651}\u{650}",
    "שָׁלוֹם",
    "עולם",
    "ש\u{5c1}\u{5bc}",
    "Ελληνικά",
    "Русский",
    "Ёж",
    "ქართული",
    "Հայերեն",
    "ትግርኛ",
];
const SPACE: &[&str] = &[
    " ", "  ", "\t", "\n", "\r\n", "\r", "\u{a0}", "\u{2028}", "\u{2029}", "\u{3000}", "\u{200b}",
    "\u{feff}", "\u{200e}", "\u{200f}", "\u{85}", "\u{0}", "\u{1f}",
];

fn random_char(rng: &mut Rng) -> char {
    loop {
        // Mostly the populated planes, sometimes anywhere.
        let cp = match rng.below(4) {
            0 => rng.below(0x800),
            1 => rng.below(0x1_0000),
            2 => rng.below(0x3_0000),
            _ => rng.below(0x11_0000),
        };
        if let Some(c) = char::from_u32(cp as u32) {
            return c;
        }
    }
}

/// One generated text. `simple_only` leaves out the pieces that always
/// send a text to the crate, so the fast path gets exercised too.
fn generate(rng: &mut Rng, simple_only: bool) -> String {
    let mut text = String::new();
    let pieces = rng.below(14);
    for _ in 0..pieces {
        let kind = rng.below(if simple_only { 6 } else { 10 });
        match kind {
            0 | 1 => text.push_str(rng.pick(ASCII)),
            2 => text.push_str(rng.pick(APOS)),
            3 => text.push_str(rng.pick(PUNCT)),
            4 => text.push_str(rng.pick(EMOJI)),
            5 => text.push_str(rng.pick(SCRIPTS)),
            6 => text.push_str(rng.pick(LATIN)),
            7 => text.push_str(rng.pick(COMPAT)),
            8 => text.push_str(rng.pick(CASE)),
            _ => text.push(random_char(rng)),
        }
        // Words glued together, or separated by odd whitespace.
        match rng.below(4) {
            0 => {}
            1 => text.push_str(rng.pick(SPACE)),
            _ => text.push(' '),
        }
    }
    if rng.below(3) == 0 {
        let mut chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        if n > 1 {
            chars.swap(rng.below(n), rng.below(n));
        }
        text = chars.into_iter().collect();
    }
    text
}

/// Tokens as plain data so a difference prints fully.
fn snapshot(out: &Tokens) -> Vec<(String, usize, usize)> {
    out.iter()
        .map(|(t, n)| (n.to_string(), t.start, t.end))
        .collect()
}

/// Compare the fast path and `tokenize` with the crate on one text; return
/// whether the fast path handled it.
fn check(tokenizer: &Tokenizer, text: &str, out: &mut Tokens) -> bool {
    tokenizer.tokenize_with_crate(text, out);
    let reference = snapshot(out);
    let reference_norm = out.normalized().to_string();
    let native = tokenizer.tokenize_native(text, out);
    if native {
        assert_eq!(
            snapshot(out),
            reference,
            "fast path differs from the crate on {text:?}"
        );
        assert_eq!(
            out.normalized(),
            reference_norm,
            "normalized text of {text:?}"
        );
    }
    tokenizer.tokenize(text, out);
    assert_eq!(snapshot(out), reference, "tokenize differs on {text:?}");
    native
}

/// Run `cases` generated texts from `seed`; return how many took the fast path.
fn differential(seed: u64, cases: usize) -> usize {
    let tokenizer = Tokenizer::default_pipeline();
    let mut rng = Rng(seed);
    let mut out = Tokens::new();
    let mut native = 0;
    for i in 0..cases {
        let text = generate(&mut rng, i % 2 == 0);
        native += usize::from(check(&tokenizer, &text, &mut out));
    }
    native
}

#[test]
fn fast_path_matches_crate_on_generated_text() {
    let cases = 12_000;
    let native = differential(0x7E3A_71C5, cases);
    // Half the texts avoid the always-fallback pieces; most of those must
    // really run the fast path, or this test would compare nothing.
    assert!(
        native > cases / 3,
        "only {native} of {cases} took the fast path"
    );
    assert!(
        native < cases,
        "every text took the fast path: fallback untested"
    );
}

/// The long run behind docs/FUZZING.md:
/// `THEMATIC_DIFF_SECS=300 cargo test --release --test integration -- --ignored differential_long`.
#[test]
#[ignore]
fn differential_long() {
    let secs: u64 = std::env::var("THEMATIC_DIFF_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut seed = 1;
    let mut total = 0;
    let mut native = 0;
    while std::time::Instant::now() < deadline {
        native += differential(seed, 10_000);
        total += 10_000;
        seed += 1;
    }
    eprintln!("differential_long: {total} texts, {native} on the fast path, no difference");
}

/// The probes for one codepoint: after a letter, before a letter, alone,
/// and around an inner apostrophe. Spaces keep probes apart.
fn probes(c: char, text: &mut String) {
    for p in [
        format!("a{c}"),
        format!("{c}a"),
        format!("{c}"),
        format!("{c}'{c}"),
    ] {
        text.push_str(&p);
        text.push(' ');
    }
}

#[test]
fn classifier_agrees_with_crate_on_every_codepoint() {
    let tokenizer = Tokenizer::default_pipeline();
    let mut out = Tokens::new();
    let mut crate_out = Tokens::new();
    let mut probe_out = Tokens::new();
    let mut handled = 0;
    let mut disagree = Vec::new();
    let mut batch: Vec<char> = Vec::new();
    let mut flush = |batch: &mut Vec<char>, disagree: &mut Vec<char>| {
        let mut text = String::new();
        for &c in batch.iter() {
            probes(c, &mut text);
        }
        tokenizer.tokenize_with_crate(&text, &mut crate_out);
        let same =
            tokenizer.tokenize_native(&text, &mut out) && snapshot(&out) == snapshot(&crate_out);
        if !same {
            // Find the codepoints responsible, one by one.
            for &c in batch.iter() {
                let mut one = String::new();
                probes(c, &mut one);
                tokenizer.tokenize_with_crate(&one, &mut crate_out);
                if !tokenizer.tokenize_native(&one, &mut out)
                    || snapshot(&out) != snapshot(&crate_out)
                {
                    disagree.push(c);
                }
            }
        }
        batch.clear();
    };
    for c in '\0'..=char::MAX {
        if fast_path_handles(c) {
            handled += 1;
            batch.push(c);
            if batch.len() == 4096 {
                flush(&mut batch, &mut disagree);
            }
        } else {
            // An unhandled char must send the text to the crate.
            let text = format!("a{c}");
            assert!(
                !tokenizer.tokenize_native(&text, &mut probe_out),
                "fast path ran on unhandled {c:?}"
            );
        }
    }
    flush(&mut batch, &mut disagree);
    let shown: Vec<String> = disagree
        .iter()
        .take(40)
        .map(|c| format!("U+{:04X}", *c as u32))
        .collect();
    assert!(
        disagree.is_empty(),
        "{} codepoints disagree with the crate: {}",
        disagree.len(),
        shown.join(" ")
    );
    // Planes 0-3 and 14 hold about 260,000 scalar values; most are simple.
    assert!(
        handled > 200_000,
        "only {handled} codepoints take the fast path"
    );
}

#[test]
fn default_pipeline_json_round_trips() {
    let default = Tokenizer::default_pipeline();
    let json = default.to_json(true);
    assert!(json.contains("\"Split\""), "{json}");
    assert!(json.contains("NFKC"), "{json}");
    let loaded = Tokenizer::from_json_str(&json).unwrap();
    assert!(!loaded.is_default());
    assert_eq!(loaded.to_json(false), default.to_json(false));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, &json).unwrap();
    let from_file = Tokenizer::from_json_file(&path).unwrap();

    let mut rng = Rng(42);
    let (mut a, mut b, mut c) = (Tokens::new(), Tokens::new(), Tokens::new());
    for i in 0..2_000 {
        let text = generate(&mut rng, i % 2 == 0);
        default.tokenize(&text, &mut a);
        loaded.tokenize(&text, &mut b);
        from_file.tokenize(&text, &mut c);
        assert_eq!(
            snapshot(&a),
            snapshot(&b),
            "loaded JSON differs on {text:?}"
        );
        assert_eq!(snapshot(&a), snapshot(&c), "JSON file differs on {text:?}");
    }
}

#[test]
fn user_tokenizer_json_is_used() {
    // A whitespace-only pipeline with no normalizer: case and punctuation kept.
    let json = r#"{
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {}, "unk_token": "<unk>"}
    }"#;
    let tokenizer = Tokenizer::from_json_str(json).unwrap();
    let mut out = Tokens::new();
    tokenizer.tokenize("Don’t stop-now", &mut out);
    assert_eq!(
        snapshot(&out),
        vec![("Don’t".to_string(), 0, 7), ("stop-now".to_string(), 8, 16)]
    );
}
