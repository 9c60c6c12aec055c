//! Fuzz the dic lexicon reader: any bytes must give a lexicon or
//! diagnostics, never a panic; whatever is read must also write in every
//! format and read back without a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use thematic::lexicon::convert::{self, Format};
use thematic::lexicon::{self, Diagnostics};
use thematic::tokenize::Tokenizer;

fn tokenizer() -> &'static Tokenizer {
    static TK: OnceLock<Tokenizer> = OnceLock::new();
    TK.get_or_init(Tokenizer::default_pipeline)
}

fuzz_target!(|data: &[u8]| {
    let tk = tokenizer();
    let mut d = Diagnostics::new("fuzz");
    let (lex, _losses) = lexicon::parse_format(Format::Dic, None, data, tk, &mut d);
    if let Some(lex) = lex {
        for to in Format::ALL {
            let w = convert::write(&lex, to, tk);
            let mut d = Diagnostics::new("fuzz");
            let _ = lexicon::parse_format(to, None, w.text.as_bytes(), tk, &mut d);
        }
    }
});
