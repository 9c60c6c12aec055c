//! The coding loop of `thematic code` per batch, without I/O: tokenize,
//! `Matcher::find`, `Matcher::tally` and `covered_tokens` for each answer of
//! a batch of 4,000 generated answers (about 1.5 MB), as one rayon worker
//! does (src/code.rs). Stages are timed cumulatively, so the differences
//! give each stage's share. Lexicons: the bundled codebook and generated
//! LIWC-style lexicons of 200 and 5,000 terms.
//!
//! Run with `cargo bench --bench pipeline`. The whole binary is timed by
//! `scripts/bench.sh` (docs/BENCHMARKS.md).

#[path = "../examples/common/vocab.rs"]
mod vocab;

use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use thematic::lexicon::{self, Diagnostics};
use thematic::matching::{Match, Matcher, Scratch, ThemeCounts};
use thematic::tokenize::{Tokenizer, Tokens};

fn main() {
    divan::main();
}

const BATCH: usize = 4000;
const LEXICONS: &[&str] = &["bundled", "gen200", "gen5000"];

fn batch() -> &'static (Vec<String>, usize) {
    static B: OnceLock<(Vec<String>, usize)> = OnceLock::new();
    B.get_or_init(|| {
        let texts = vocab::Answers::new(11).batch(BATCH);
        let bytes = texts.iter().map(String::len).sum();
        (texts, bytes)
    })
}

fn tokenizer() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(Tokenizer::default_pipeline)
}

fn matcher(name: &str) -> Matcher {
    let src = match name {
        "bundled" => lexicon::BUNDLED.to_string(),
        "gen200" => vocab::GenLexicon::new(200, 1).to_toml(false),
        "gen5000" => vocab::GenLexicon::new(5000, 1).to_toml(false),
        _ => unreachable!(),
    };
    let mut diags = Diagnostics::new(name);
    let lex = lexicon::toml::parse(&src, tokenizer(), &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.items());
    Matcher::new(&lex.expect("lexicon"))
}

/// Working memory of one worker.
#[derive(Default)]
struct Worker {
    tokens: Tokens,
    scratch: Scratch,
    matches: Vec<Match>,
    counts: Vec<ThemeCounts>,
}

fn run(bencher: Bencher, lexicon: Option<&str>, stage: u8) {
    let (texts, bytes) = batch();
    let tok = tokenizer();
    let m = lexicon.map(matcher);
    let mut w = Worker::default();
    bencher
        .counter(BytesCount::new(*bytes))
        .counter(ItemsCount::new(texts.len()))
        .bench_local(|| {
            let mut sum = 0usize;
            for text in texts {
                let text = divan::black_box(text.as_str());
                tok.tokenize(text, &mut w.tokens);
                sum += w.tokens.len();
                let Some(m) = &m else { continue };
                m.find(text, &w.tokens, &mut w.scratch, &mut w.matches);
                if stage >= 2 {
                    m.tally(&w.matches, &mut w.counts);
                    sum += m.covered_tokens(w.tokens.len(), &w.matches, &mut w.scratch);
                }
            }
            sum
        });
}

/// Tokenize only (the fast path on these answers).
#[divan::bench]
fn tokenize(bencher: Bencher) {
    run(bencher, None, 0);
}

/// Tokenize + `find`.
#[divan::bench(args = LEXICONS)]
fn tokenize_find(bencher: Bencher, lexicon: &str) {
    run(bencher, Some(lexicon), 1);
}

/// Tokenize + `find` + `tally` + `covered_tokens`: the per-answer work of
/// `thematic code` short of aggregation and CSV formatting.
#[divan::bench(args = LEXICONS)]
fn tokenize_find_tally(bencher: Bencher, lexicon: &str) {
    run(bencher, Some(lexicon), 2);
}
