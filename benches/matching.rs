//! Matcher throughput (DESIGN 3.2): `Matcher::find` over pre-tokenized
//! samples, for the bundled codebook and generated LIWC-style lexicons of
//! 200 and 5,000 terms; and the cost of compiling each lexicon (parse +
//! `Matcher::new`, the startup share of `thematic code`).
//!
//! Run with `cargo bench --bench matching`. Samples: empty, one token, a
//! paragraph, the 176 answers of `fixtures/responses.csv`, and 2,000
//! answers from the corpus generator (`examples/common/vocab.rs`).

#[path = "../examples/common/vocab.rs"]
mod vocab;

use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use thematic::lexicon::{self, Diagnostics, Lexicon};
use thematic::matching::{Match, Matcher, Scratch};
use thematic::tokenize::{Tokenizer, Tokens};

fn main() {
    divan::main();
}

const PARAGRAPH: &str = "I joined the group after my second relapse. At first I didn’t \
    believe in a higher power, but my sponsor said to take it one day at a time. The 12-step \
    meetings gave me people to call when the cravings hit, and after 90 days I was still sober. \
    Helping newcomers stay clean is now part of my own recovery; it keeps me honest.";

const SAMPLES: &[&str] = &[
    "empty",
    "one_token",
    "paragraph",
    "fixtures_176",
    "generated_2000",
];
const LEXICONS: &[&str] = &["bundled", "gen200", "gen5000"];

fn tokenizer() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(Tokenizer::default_pipeline)
}

/// The answers of `fixtures/responses.csv`.
fn fixture_answers() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/responses.csv");
    let mut reader = csv::Reader::from_path(path).expect("fixtures/responses.csv");
    let col = reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "response")
        .expect("response column");
    reader
        .records()
        .map(|r| r.expect("record")[col].to_string())
        .collect()
}

/// A sample: its texts with their tokens.
struct Sample {
    texts: Vec<String>,
    tokens: Vec<Tokens>,
    bytes: usize,
}

fn sample(name: &str) -> &'static Sample {
    static S: OnceLock<Vec<(&'static str, Sample)>> = OnceLock::new();
    let all = S.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|&n| {
                let texts: Vec<String> = match n {
                    "empty" => vec![String::new()],
                    "one_token" => vec!["sober".to_string()],
                    "paragraph" => vec![PARAGRAPH.to_string()],
                    "fixtures_176" => fixture_answers(),
                    "generated_2000" => vocab::Answers::new(7).batch(2000),
                    _ => unreachable!(),
                };
                let tokens = texts
                    .iter()
                    .map(|t| {
                        let mut out = Tokens::new();
                        tokenizer().tokenize(t, &mut out);
                        out
                    })
                    .collect();
                let bytes = texts.iter().map(String::len).sum();
                (
                    n,
                    Sample {
                        texts,
                        tokens,
                        bytes,
                    },
                )
            })
            .collect()
    });
    &all.iter()
        .find(|(n, _)| *n == name)
        .expect("known sample")
        .1
}

/// The TOML source of a lexicon.
fn lexicon_source(name: &str) -> String {
    match name {
        "bundled" => lexicon::BUNDLED.to_string(),
        "gen200" => vocab::GenLexicon::new(200, 1).to_toml(false),
        "gen5000" => vocab::GenLexicon::new(5000, 1).to_toml(false),
        _ => unreachable!(),
    }
}

fn parse(src: &str) -> Lexicon {
    let mut diags = Diagnostics::new("bench.toml");
    let lex = lexicon::toml::parse(src, tokenizer(), &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.items());
    lex.expect("lexicon")
}

fn matcher(name: &str) -> &'static Matcher {
    static M: OnceLock<Vec<(&'static str, Matcher)>> = OnceLock::new();
    let all = M.get_or_init(|| {
        LEXICONS
            .iter()
            .map(|&n| (n, Matcher::new(&parse(&lexicon_source(n)))))
            .collect()
    });
    &all.iter()
        .find(|(n, _)| *n == name)
        .expect("known lexicon")
        .1
}

fn bench_find(bencher: Bencher, lexicon: &str, sample_name: &str) {
    let m = matcher(lexicon);
    let s = sample(sample_name);
    let mut scratch = Scratch::new();
    let mut out: Vec<Match> = Vec::new();
    bencher
        .counter(BytesCount::new(s.bytes))
        .counter(ItemsCount::new(s.texts.len()))
        .bench_local(|| {
            for (text, tokens) in s.texts.iter().zip(&s.tokens) {
                m.find(divan::black_box(text), tokens, &mut scratch, &mut out);
            }
            out.len()
        });
}

/// `Matcher::find` per lexicon, over each sample (bytes = answer text).
mod find {
    use super::*;

    #[divan::bench(args = SAMPLES)]
    fn bundled(bencher: Bencher, sample: &str) {
        bench_find(bencher, "bundled", sample);
    }

    #[divan::bench(args = SAMPLES)]
    fn gen200(bencher: Bencher, sample: &str) {
        bench_find(bencher, "gen200", sample);
    }

    #[divan::bench(args = SAMPLES)]
    fn gen5000(bencher: Bencher, sample: &str) {
        bench_find(bencher, "gen5000", sample);
    }
}

/// Parse the TOML and compile the matcher (what `thematic code` does
/// before reading input).
#[divan::bench(args = LEXICONS)]
fn compile(bencher: Bencher, lexicon: &str) {
    let src = lexicon_source(lexicon);
    bencher
        .counter(BytesCount::of_str(&src))
        .bench_local(|| Matcher::new(&parse(divan::black_box(&src))));
}

/// `Matcher::new` alone, on a parsed lexicon.
#[divan::bench(args = LEXICONS)]
fn compile_matcher_only(bencher: Bencher, lexicon: &str) {
    let lex = parse(&lexicon_source(lexicon));
    bencher.bench_local(|| Matcher::new(divan::black_box(&lex)));
}
