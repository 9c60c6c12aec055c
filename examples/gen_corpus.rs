//! Deterministic generator of a survey-like CSV for the benchmarks
//! (docs/BENCHMARKS.md).
//!
//! ```text
//! cargo run --release --example gen_corpus -- --rows 270000 --seed 1 --out bench-data/corpus.csv
//! ```
//!
//! Columns `id,group,question,response`: each respondent (`R0000001`) answers
//! the four questions in turn, in one of four groups. An answer is 5–120
//! words drawn from a Zipf vocabulary shared with `gen_lexicon` (so lexicon
//! terms hit), with collocations (the lexicon's phrases) mixed in, sentence
//! punctuation, commas, curly quotes and apostrophes, some non-ASCII words,
//! the odd emoji, quoted fields with commas, double quotes and line breaks,
//! and about 1% empty answers. The same `--rows` and `--seed` give the same
//! bytes on every platform.

#[path = "common/vocab.rs"]
mod vocab;

use std::io::{BufWriter, Write};

use vocab::Answers;

const GROUPS: &[(&str, f64)] = &[
    ("AA", 0.4),
    ("NA", 0.25),
    ("Cocaine Anonymous", 0.15),
    ("SMART Recovery", 0.2),
];
const QUESTIONS: &[&str] = &["objectives", "behaviours", "triggers", "relapse_cost"];

struct Args {
    rows: usize,
    seed: u64,
    out: Option<String>,
}

fn usage() -> ! {
    eprintln!("usage: gen_corpus --rows N --seed S [--out FILE]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        rows: 1000,
        seed: 1,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--rows" => args.rows = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => args.seed = value.parse().unwrap_or_else(|_| usage()),
            "--out" => args.out = Some(value),
            _ => usage(),
        }
    }
    args
}

/// Write one CSV field, quoted when it needs to be (RFC 4180).
fn field(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        out.write_all(b"\"")?;
        out.write_all(s.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(s.as_bytes())
    }
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let mut g = Answers::new(args.seed);
    let mut text = String::new();
    let mut group = 0;
    out.write_all(b"id,group,question,response\n")?;
    for row in 0..args.rows {
        let respondent = row / QUESTIONS.len();
        let q = row % QUESTIONS.len();
        if q == 0 {
            let u = g.rng.unit();
            let mut acc = 0.0;
            group = GROUPS.len() - 1;
            for (i, (_, p)) in GROUPS.iter().enumerate() {
                acc += p;
                if u < acc {
                    group = i;
                    break;
                }
            }
        }
        if g.rng.chance(0.01) {
            text.clear();
        } else {
            g.answer(&mut text);
        }
        write!(out, "R{:07},", respondent + 1)?;
        field(&mut out, GROUPS[group].0)?;
        write!(out, ",{},", QUESTIONS[q])?;
        field(&mut out, &text)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
