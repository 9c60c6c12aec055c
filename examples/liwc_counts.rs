//! Per-document liwc-semantics counts, for the differential test against
//! the `liwc` Python package (`scripts/liwc_diff.py`, docs/LIWC.md).
//!
//! `cargo run --example liwc_counts -- DICT TEXTS` reads a lexicon (any
//! format; a `.dic` is liwc semantics) and a text file with one document
//! per line, and prints one JSON object per document:
//! `{"tokens": [...], "counts": {"category": hits, ...}}` where `tokens`
//! are thematic's tokens (so the Python side uses the very same
//! tokenization) and `counts` are the non-zero hits per theme.

use std::io::{BufRead, Write};

use thematic::lexicon;
use thematic::matching::{Matcher, Scratch};
use thematic::tokenize::{Tokenizer, Tokens};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dict, texts] = args.as_slice() else {
        return Err("usage: liwc_counts DICT TEXTS".into());
    };
    let tk = Tokenizer::default_pipeline();
    let loaded = lexicon::load(Some(std::path::Path::new(dict)), &tk)?;
    let matcher = Matcher::new(&loaded.lexicon);
    let mut scratch = Scratch::new();
    let mut tokens = Tokens::new();
    let mut matches = Vec::new();
    let mut counts = Vec::new();
    let out = std::io::stdout();
    let mut out = out.lock();
    for line in std::io::BufReader::new(std::fs::File::open(texts)?).lines() {
        let line = line?;
        tk.tokenize(&line, &mut tokens);
        matcher.find(&line, &tokens, &mut scratch, &mut matches);
        matcher.tally(&matches, &mut counts);
        let toks: Vec<&str> = (0..tokens.len()).map(|i| tokens.text(i)).collect();
        let mut map = serde_json::Map::new();
        for (theme, c) in matcher.themes().iter().zip(&counts) {
            if c.hits > 0 {
                map.insert(theme.id.clone(), c.hits.into());
            }
        }
        let doc = serde_json::json!({ "tokens": toks, "counts": map });
        writeln!(out, "{doc}")?;
    }
    Ok(())
}
