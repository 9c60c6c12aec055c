//! Tokenizer throughput (DESIGN 3.1): the native fast path against the
//! `tokenizers` crate path on the same inputs.
//!
//! Run with `cargo bench --bench tokenize`.

use divan::Bencher;
use divan::counter::BytesCount;
use thematic::tokenize::{Tokenizer, Tokens};

fn main() {
    divan::main();
}

const ASCII_PARAGRAPH: &str = "I joined the group after my second relapse. At first I didn't \
    believe in a higher power, but my sponsor said to take it one day at a time. The 12-step \
    meetings gave me people to call when the cravings hit, and after 90 days I was still sober. \
    Helping newcomers stay clean is now part of my own recovery; it keeps me honest.";

const UNICODE_PARAGRAPH: &str = "I joined the group after my second relapse. At first I didn’t \
    believe in a “higher power”, but my sponsor — José — said: ‘take it one day at a time’. The \
    café meetings in Zürich gave me people to call when the cravings hit; après 90 días I was \
    still sober. Helping newcomers stay clean is now part of my own recovery… it’s honest work.";

/// About 1 MB of survey-like text: mostly ASCII, with curly quotes,
/// accented words and the odd emoji, all on the fast path.
fn one_megabyte() -> String {
    let words = [
        "sober",
        "the",
        "group",
        "don’t",
        "sponsor",
        "café",
        "relapse",
        "Meeting",
        "12-step",
        "it's",
        "naïve",
        "día",
        "helping",
        "clean",
        "😀",
        "power,",
        "time.",
        "“quote”",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut text = String::with_capacity(1 << 20);
    while text.len() < 1 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(words[(state % words.len() as u64) as usize]);
        text.push(if state.is_multiple_of(11) { '\n' } else { ' ' });
    }
    text
}

fn inputs() -> Vec<(&'static str, String)> {
    vec![
        ("ascii_paragraph", ASCII_PARAGRAPH.to_string()),
        ("unicode_paragraph", UNICODE_PARAGRAPH.to_string()),
        ("generated_1mb", one_megabyte()),
    ]
}

const NAMES: &[&str] = &["ascii_paragraph", "unicode_paragraph", "generated_1mb"];

fn input(name: &str) -> String {
    inputs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text)
        .expect("known input name")
}

#[divan::bench(args = NAMES)]
fn fast_path(bencher: Bencher, name: &str) {
    let tokenizer = Tokenizer::default_pipeline();
    let text = input(name);
    let mut out = Tokens::new();
    // Builds the lazily initialised char table outside the timed loop, and
    // checks that these inputs measure the fast path, not its fallback.
    assert!(
        tokenizer.tokenize_native(&text, &mut out),
        "{name} falls back"
    );
    bencher
        .counter(BytesCount::of_str(&text))
        .bench_local(|| tokenizer.tokenize(divan::black_box(&text), &mut out));
}

#[divan::bench(args = NAMES)]
fn crate_path(bencher: Bencher, name: &str) {
    let tokenizer = Tokenizer::default_pipeline();
    let text = input(name);
    let mut out = Tokens::new();
    bencher
        .counter(BytesCount::of_str(&text))
        .bench_local(|| tokenizer.tokenize_with_crate(divan::black_box(&text), &mut out));
}
