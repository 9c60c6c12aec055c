//! thematic: code open-ended survey answers against a thematic lexicon.
//!
//! The pipeline (DESIGN 1):
//!
//! ```text
//! ingest ──► tokenize ──► match ──► aggregate ──► export
//! ```
//!
//! - [`tokenize`]: text to lowercase word tokens with byte offsets.
//! - [`lexicon`]: the codebook model and its readers.
//! - [`matching`]: the compiled lexicon run over one response's tokens.
#![warn(clippy::print_stdout)]
#![warn(clippy::print_stderr)]
#![deny(missing_docs)]

pub mod stats;
pub mod tokenize;
