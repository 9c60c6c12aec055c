//! thematic: code open-ended survey answers against a thematic lexicon.
//!
//! The pipeline (DESIGN 1):
//!
//! ```text
//! ingest ──► tokenize ──► match ──► aggregate ──► export
//! ```
//!
//! - [`ingest`]: input files to batches of rows, every row accounted for.
//! - [`tokenize`]: text to lowercase word tokens with byte offsets.
//! - [`lexicon`]: the codebook model and its readers.
//! - [`matching`]: the compiled lexicon run over one response's tokens.
//! - [`aggregate`]: counts by group × question × theme, mergeable.
//! - [`stats`]: the statistics of the tables.
//! - [`agree`]: agreement of the lexicon with human coding (`thematic agree`).
#![warn(clippy::print_stdout)]
#![warn(clippy::print_stderr)]
#![deny(missing_docs)]

pub mod aggregate;
pub mod agree;
pub mod code;
pub mod error;
pub mod export;
pub mod ingest;
pub mod lexicon;
pub mod matching;
pub mod merge;
pub mod progress;
pub mod stats;
pub mod tokenize;

pub use error::Error;
