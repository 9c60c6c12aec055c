//! The library's error type: every variant carries the data a user needs to
//! find the problem (file, line, column names), not only a message.

use crate::lexicon::Diagnostic;

/// Everything that can go wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lexicon has errors; every one is listed.
    #[error("{path}: the lexicon has {} error(s):\n{}", count_errors(.diagnostics), render(.diagnostics))]
    Lexicon {
        /// The lexicon's path as given.
        path: String,
        /// Errors and warnings.
        diagnostics: Vec<Diagnostic>,
    },
    /// A column is missing or ambiguous.
    #[error("{input}: {message}\navailable columns: {}", .columns.join(", "))]
    Column {
        /// The input's display name.
        input: String,
        /// What is wrong.
        message: String,
        /// The header's column names.
        columns: Vec<String>,
    },
    /// An input cannot be used at all.
    #[error("{path}: {message}")]
    Input {
        /// The input's display name.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A row is malformed (only fatal with `--strict`).
    #[error("{path}:{line}: {message}")]
    Row {
        /// The input's display name.
        path: String,
        /// 1-based line where the record starts.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A data value or option makes the run impossible.
    #[error("{0}")]
    Data(String),
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A tokenizer could not be loaded.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenize::TokenizerError),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    /// Is this a usage error (exit code 2) rather than a data error (1)?
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::Column { .. })
    }
}

fn count_errors(d: &[Diagnostic]) -> usize {
    d.iter()
        .filter(|d| d.severity == crate::lexicon::Severity::Error)
        .count()
}

fn render(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}
