//! Fuzz the cat lexicon reader: any bytes must give a lexicon or
//! diagnostics, never a panic; whatever is read must also write in every
//! format and read back without a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use thematic::lexicon::convert::{self, Format};
use thematic::tokenize::Tokenizer;

fn tokenizer() -> &'static Tokenizer {
    static TK: OnceLock<Tokenizer> = OnceLock::new();
    TK.get_or_init(Tokenizer::default_pipeline)
}

fuzz_target!(|data: &[u8]| {
    convert::fuzz_round_trip(Format::Cat, data, tokenizer());
});
