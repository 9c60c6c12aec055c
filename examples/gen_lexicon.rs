//! Deterministic generator of a LIWC-style lexicon for the benchmarks
//! (docs/BENCHMARKS.md), written both as a native TOML lexicon and as a
//! LIWC `.dic` (for the Python `liwc` package and the other peers).
//!
//! ```text
//! cargo run --release --example gen_lexicon -- --terms 5000 --seed 1 \
//!     --toml bench-data/lex5000.toml --dic bench-data/lex5000.dic
//! ```
//!
//! Terms come from the vocabulary `gen_corpus` writes with
//! (`examples/common/vocab.rs`), so they hit: about 70% words, 20% prefix
//! wildcards (`stem*`) and 10% phrases (the corpus's collocations). A
//! smaller lexicon draws from the more frequent words, as a hand-made
//! codebook would. Categories (themes) number about √terms, nested under
//! four parents (`affect.c01`, …); each term is in one category, one in ten
//! in a second one. Optional: `--negation` adds a `[negation]` table;
//! `--terms-txt FILE` writes the plain terms (no `*`) for `rg -f`.

#[path = "common/vocab.rs"]
mod vocab;

use vocab::GenLexicon;

#[derive(Default)]
struct Args {
    terms: usize,
    seed: u64,
    toml: Option<String>,
    dic: Option<String>,
    terms_txt: Option<String>,
    negation: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_lexicon --terms N --seed S [--toml FILE] [--dic FILE] [--terms-txt FILE] [--negation]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        terms: 200,
        seed: 1,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--negation" {
            args.negation = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--terms" => args.terms = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => args.seed = value.parse().unwrap_or_else(|_| usage()),
            "--toml" => args.toml = Some(value),
            "--dic" => args.dic = Some(value),
            "--terms-txt" => args.terms_txt = Some(value),
            _ => usage(),
        }
    }
    if args.terms == 0 || (args.toml.is_none() && args.dic.is_none() && args.terms_txt.is_none()) {
        usage();
    }
    args
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    let lex = GenLexicon::new(args.terms, args.seed);
    if let Some(path) = &args.toml {
        std::fs::write(path, lex.to_toml(args.negation))?;
    }
    if let Some(path) = &args.dic {
        std::fs::write(path, lex.to_dic())?;
    }
    if let Some(path) = &args.terms_txt {
        let mut s = String::new();
        for term in &lex.terms {
            s.push_str(term.trim_end_matches('*'));
            s.push('\n');
        }
        std::fs::write(path, s)?;
    }
    Ok(())
}
