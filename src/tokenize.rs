//! Tokenization: text in, lowercase word tokens with byte offsets out.
//!
//! This module owns DESIGN 3.1: the default pipeline (NFKC, Unicode
//! lowercase, curly apostrophes to `'`, then a `Split` on the word regex),
//! its native fast path, and user-supplied `tokenizer.json` pipelines run
//! through the `tokenizers` crate. It does not know about lexicons, breaks
//! or matching; the matcher reads the gaps between tokens itself.

/// One token: where it sits in the original text and in the normalized buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte offset of the token's start in the original text.
    pub start: usize,
    /// Byte offset just past the token's end in the original text.
    pub end: usize,
    /// Start of the token's normalized form in [`Tokens::normalized`].
    pub norm_start: usize,
    /// End of the token's normalized form in [`Tokens::normalized`].
    pub norm_end: usize,
}

/// A reusable buffer of tokens for one text. Reuse it across texts so the
/// hot path allocates nothing per token.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    normalized: String,
    tokens: Vec<Token>,
}

impl Tokens {
    /// An empty buffer.
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// Forget every token, keeping the allocations.
    pub fn clear(&mut self) {
        self.normalized.clear();
        self.tokens.clear();
    }

    /// Append a token whose normalized text is `norm` and whose original
    /// byte range is `start..end`.
    pub fn push(&mut self, norm: &str, start: usize, end: usize) {
        let norm_start = self.normalized.len();
        self.normalized.push_str(norm);
        self.tokens.push(Token {
            start,
            end,
            norm_start,
            norm_end: self.normalized.len(),
        });
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The i-th token.
    pub fn token(&self, i: usize) -> Token {
        self.tokens[i]
    }

    /// All tokens in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The normalized (lowercase) text of the i-th token.
    pub fn text(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.normalized[t.norm_start..t.norm_end]
    }

    /// The concatenated normalized text of all tokens.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// Iterate over `(token, normalized text)`.
    pub fn iter(&self) -> impl Iterator<Item = (Token, &str)> + '_ {
        self.tokens
            .iter()
            .map(move |t| (*t, &self.normalized[t.norm_start..t.norm_end]))
    }
}

/// TEMPORARY stand-in (replaced by the tokenizer branch): ASCII-exact only.
#[derive(Debug)]
pub struct Tokenizer {
    re: regex::Regex,
}

impl Tokenizer {
    /// The default pipeline.
    pub fn default_pipeline() -> Tokenizer {
        Tokenizer {
            re: regex::Regex::new(
                r"[\p{Alphabetic}\p{N}][\p{Alphabetic}\p{N}\p{M}]*(?:'[\p{Alphabetic}\p{N}\p{M}]+)*",
            )
            .unwrap(),
        }
    }

    /// Stand-in.
    pub fn from_json_file(_p: &std::path::Path) -> Result<Tokenizer, TokenizerError> {
        Err(TokenizerError("not yet".into()))
    }

    /// Always true for the stand-in.
    pub fn is_default(&self) -> bool {
        true
    }

    /// Tokenize `text` into `out`.
    pub fn tokenize(&self, text: &str, out: &mut Tokens) {
        use unicode_normalization::UnicodeNormalization;
        out.clear();
        let norm: String = text
            .nfkc()
            .flat_map(char::to_lowercase)
            .map(|c| match c {
                '\u{2019}' | '\u{2018}' | '\u{2bc}' => '\'',
                c => c,
            })
            .collect();
        for m in self.re.find_iter(&norm) {
            let (s, e) = if norm.len() == text.len() {
                (m.start(), m.end())
            } else {
                (0, 0)
            };
            out.push(m.as_str(), s, e);
        }
    }
}

/// TEMPORARY stand-in error type.
#[derive(Debug, thiserror::Error)]
#[error("tokenizer error: {0}")]
pub struct TokenizerError(pub String);
