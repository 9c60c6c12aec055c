//! The tokenizer's native fast path against the `tokenizers` crate on
//! arbitrary UTF-8 (DESIGN 3.1). See docs/FUZZING.md.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use thematic::tokenize::{Tokenizer, Tokens};

fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(Tokenizer::default_pipeline)
}

fn snapshot(out: &Tokens) -> Vec<(String, usize, usize)> {
    out.iter()
        .map(|(t, n)| (n.to_string(), t.start, t.end))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tokenizer = tokenizer();
    let mut out = Tokens::new();
    tokenizer.tokenize_with_crate(text, &mut out);
    let reference = snapshot(&out);
    if tokenizer.tokenize_native(text, &mut out) {
        assert_eq!(snapshot(&out), reference, "fast path differs on {text:?}");
    }
    tokenizer.tokenize(text, &mut out);
    assert_eq!(snapshot(&out), reference, "tokenize differs on {text:?}");
});
