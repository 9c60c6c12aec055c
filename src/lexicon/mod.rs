//! The codebook: its model, its term syntax and its readers.
//!
//! This module owns DESIGN 2: what a lexicon is ([`Lexicon`], [`Theme`],
//! [`Term`]), how a term string becomes a sequence of token patterns
//! ([`parse_term`]), and the checks every lexicon must pass whatever format it
//! came from ([`Lexicon::validate`]). The native TOML reader lives in
//! [`toml`]; the foreign formats in [`dic`], [`dicx`], [`yaml`] and [`cat`],
//! and what they share (the format list, the loss report, the writers'
//! entry point) in [`convert`]. Compiling a lexicon for fast matching is the job of
//! [`crate::matching`]; this module only guarantees that what it hands over
//! is well formed.

pub mod cat;
pub mod convert;
pub mod dic;
pub mod dicx;
pub mod toml;
pub mod yaml;

use std::fmt;
use std::path::Path;

use crate::tokenize::{Tokenizer, Tokens};

/// How matches are counted (DESIGN 3.2 and 3.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semantics {
    /// Per theme: leftmost-longest, non-overlapping, exclusions (DESIGN 3.2).
    #[default]
    Themes,
    /// LIWC-compatible word counting (DESIGN 3.3).
    Liwc,
}

impl Semantics {
    /// The name used in lexicon files and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Semantics::Themes => "themes",
            Semantics::Liwc => "liwc",
        }
    }
}

/// A whole codebook.
#[derive(Clone, Debug)]
pub struct Lexicon {
    /// `[lexicon] name` (required).
    pub name: String,
    /// `[lexicon] version`.
    pub version: Option<String>,
    /// `[lexicon] language`.
    pub language: Option<String>,
    /// `[lexicon] description`.
    pub description: Option<String>,
    /// Counting semantics.
    pub semantics: Semantics,
    /// Negation detection, when configured.
    pub negation: Option<Negation>,
    /// Themes in the order the file lists them (implicit parents are not
    /// added here; the matcher adds them).
    pub themes: Vec<Theme>,
}

/// The `[negation]` section.
#[derive(Clone, Debug)]
pub struct Negation {
    /// Cue tokens: `not`, a prefix cue `nev*`, a suffix cue `*n't`.
    pub cues: Vec<Cue>,
    /// How many tokens before a match a cue may stand.
    pub window: usize,
    /// Scope breaks, as written (words and punctuation).
    pub scope_breaks: Vec<ScopeBreak>,
}

/// Default negation window (DESIGN 2).
pub const DEFAULT_WINDOW: usize = 3;
/// Default scope breaks (DESIGN 2).
pub const DEFAULT_SCOPE_BREAKS: &[&str] = &[".", ",", ";", ":", "!", "?", "but"];

/// One negation cue, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cue {
    /// The token equals this.
    Exact(String),
    /// The token starts with this (`nev*`).
    Prefix(String),
    /// The token ends with this (`*n't`).
    Suffix(String),
}

/// One scope break: a word (a token) or characters looked for between tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeBreak {
    /// A token that breaks the scope (`but`).
    Word(String),
    /// A string that breaks the scope when it occurs in the NFKC-normalized
    /// text between two tokens (`,`).
    Chars(String),
}

/// One theme (DESIGN 2).
#[derive(Clone, Debug)]
pub struct Theme {
    /// Dotted id: `objectives.abstinence`.
    pub id: String,
    /// Human label.
    pub label: Option<String>,
    /// Codebook definition.
    pub description: Option<String>,
    /// Entries that count for the theme, in listing order.
    pub terms: Vec<Term>,
    /// Entries whose matches cancel overlapping matches of `terms`.
    pub exclude: Vec<Term>,
    /// Where the theme is defined.
    pub origin: Origin,
}

/// One entry of a theme.
#[derive(Clone, Debug)]
pub struct Term {
    /// The term as written in the lexicon.
    pub text: String,
    /// Multiplies hits in the score columns (1 by default).
    pub weight: f64,
    /// The token patterns the term stands for.
    pub pattern: Vec<TokenPattern>,
    /// Where the term is written.
    pub origin: Origin,
}

/// What one token of a term accepts.
#[derive(Clone, Debug)]
pub enum TokenPattern {
    /// The token equals this normalized string.
    Exact(String),
    /// The token starts with this normalized string (`relaps*`).
    Prefix(String),
    /// The whole token matches this regex (compiled as `^(?:PATTERN)$`).
    Regex(regex::Regex),
    /// The whole token matches this glob: `*` stands for any run of
    /// characters (also none), `?` for exactly one character. `glob` is the
    /// normalized pattern as written (`colo?r`, `*ness`, `hope*ful`); `re` is
    /// the same glob compiled to an anchored regex.
    Glob {
        /// The normalized glob.
        glob: String,
        /// `^(?:…)$` equivalent of the glob.
        re: regex::Regex,
    },
}

impl TokenPattern {
    /// Does this pattern accept the (normalized) token?
    pub fn matches(&self, token: &str) -> bool {
        match self {
            TokenPattern::Exact(s) => token == s,
            TokenPattern::Prefix(p) => token.starts_with(p.as_str()),
            TokenPattern::Regex(re) | TokenPattern::Glob { re, .. } => re.is_match(token),
        }
    }

    /// A stable key that identifies the pattern (used to share work
    /// between entries and to detect duplicates).
    pub fn key(&self) -> String {
        match self {
            TokenPattern::Exact(s) => format!("={s}"),
            TokenPattern::Prefix(p) => format!("^{p}"),
            TokenPattern::Regex(re) => format!("~{}", re.as_str()),
            TokenPattern::Glob { glob, .. } => format!("?{glob}"),
        }
    }
}

impl fmt::Display for TokenPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenPattern::Exact(s) => write!(f, "{s}"),
            TokenPattern::Prefix(p) => write!(f, "{p}*"),
            TokenPattern::Regex(re) => {
                let src = re.as_str();
                let inner = src
                    .strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(")$"))
                    .unwrap_or(src);
                write!(f, "regex:{inner}")
            }
            TokenPattern::Glob { glob, .. } => write!(f, "glob:{glob}"),
        }
    }
}

/// Where something was read from: a 1-based line and column, when the
/// format has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column (in characters).
    pub column: Option<usize>,
}

impl Origin {
    /// An origin at a known line and column.
    pub fn at(line: usize, column: usize) -> Origin {
        Origin {
            line: Some(line),
            column: Some(column),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a look; the lexicon still works.
    Warning,
    /// The lexicon cannot be used.
    Error,
}

/// One problem found in a lexicon, with everything needed to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as given by the user (or `<bundled>`).
    pub path: String,
    /// Line and column, when known.
    pub origin: Origin,
    /// The theme concerned.
    pub theme: Option<String>,
    /// The term concerned, as written.
    pub term: Option<String>,
    /// What is wrong, lower case, no trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.origin.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.origin.column {
                write!(f, ":{col}")?;
            }
        }
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {kind}: ")?;
        if let Some(theme) = &self.theme {
            write!(f, "theme `{theme}`: ")?;
        }
        if let Some(term) = &self.term {
            write!(f, "term `{term}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Diagnostics {
    path: String,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection for `path`.
    pub fn new(path: impl Into<String>) -> Diagnostics {
        Diagnostics {
            path: path.into(),
            items: Vec::new(),
        }
    }

    /// Record a problem.
    pub fn push(
        &mut self,
        severity: Severity,
        origin: Origin,
        theme: Option<&str>,
        term: Option<&str>,
        message: impl Into<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            path: self.path.clone(),
            origin,
            theme: theme.map(str::to_string),
            term: term.map(str::to_string),
            message: message.into(),
        });
    }

    /// Record an error.
    pub fn error(
        &mut self,
        origin: Origin,
        theme: Option<&str>,
        term: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, origin, theme, term, message);
    }

    /// Record a warning.
    pub fn warning(
        &mut self,
        origin: Origin,
        theme: Option<&str>,
        term: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, origin, theme, term, message);
    }

    /// True when any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The path diagnostics are reported against.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Everything recorded, in file order (by line and column; items
    /// without a position first, in the order recorded).
    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by_key(|d| (d.origin.line.unwrap_or(0), d.origin.column.unwrap_or(0)));
        self.items
    }

    /// Everything recorded so far.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }
}

/// The bundled codebook (`lexicons/recovery.toml`), used when no
/// `--lexicon` is given.
pub const BUNDLED: &str = include_str!("../../lexicons/recovery.toml");

/// How the bundled lexicon is named in messages and manifests.
pub const BUNDLED_NAME: &str = "<bundled recovery.toml>";

/// A lexicon read from a file (or the bundled one), with what is needed to
/// report on it.
#[derive(Debug)]
pub struct Loaded {
    /// The lexicon.
    pub lexicon: Lexicon,
    /// The path as given, or [`BUNDLED_NAME`].
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Warnings (errors make loading fail).
    pub warnings: Vec<Diagnostic>,
    /// The loss report of an import: what the file holds that thematic
    /// could not take, or rewrote (empty for TOML).
    pub losses: Vec<convert::Loss>,
    /// The file's format.
    pub format: convert::Format,
}

/// Read a lexicon file (`None` = the bundled one). The format is chosen by
/// the extension (`.toml`, `.dic`, `.dicx`, `.yml`/`.yaml`, `.cat`); a
/// foreign format's loss report is in [`Loaded::losses`].
pub fn load(path: Option<&Path>, tokenizer: &Tokenizer) -> Result<Loaded, crate::Error> {
    let (name, bytes) = match path {
        None => (BUNDLED_NAME.to_string(), BUNDLED.as_bytes().to_vec()),
        Some(p) => {
            if p.is_dir() {
                return Err(crate::Error::Input {
                    path: p.display().to_string(),
                    message: "is a directory, not a lexicon file".into(),
                });
            }
            let bytes = std::fs::read(p).map_err(|e| crate::Error::Input {
                path: p.display().to_string(),
                message: format!("cannot read the lexicon: {e}"),
            })?;
            (p.display().to_string(), bytes)
        }
    };
    let sha256 = crate::ingest::sha256_bytes(&bytes);
    let mut diags = Diagnostics::new(name.clone());
    let format = match path {
        None => Some(convert::Format::Toml),
        Some(p) => convert::Format::from_path(p),
    };
    let Some(format) = format else {
        let ext = path
            .and_then(|p| p.extension())
            .map(|e| format!("`.{}`", e.to_string_lossy()))
            .unwrap_or_else(|| "no extension".into());
        diags.error(
            Origin::default(),
            None,
            None,
            format!(
                "unknown lexicon format ({ext}; expected .toml, .dic, .dicx, .yml, .yaml or .cat)"
            ),
        );
        return Err(crate::Error::Lexicon {
            path: name,
            diagnostics: diags.into_vec(),
        });
    };
    let (lexicon, losses) = parse_format(format, path, &bytes, tokenizer, &mut diags);
    match lexicon {
        Some(lexicon) if !diags.has_errors() => Ok(Loaded {
            lexicon,
            path: name,
            sha256,
            warnings: diags.into_vec(),
            losses,
            format,
        }),
        _ => Err(crate::Error::Lexicon {
            path: name,
            diagnostics: diags.into_vec(),
        }),
    }
}

/// Parse lexicon bytes in the format implied by `path`'s extension (TOML
/// when there is no path). Loss reports of foreign formats are dropped;
/// use [`parse_format`] to get them.
pub fn parse_bytes(
    path: Option<&Path>,
    bytes: &[u8],
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> Option<Lexicon> {
    let format = match path {
        None => convert::Format::Toml,
        Some(p) => match convert::Format::from_path(p) {
            Some(f) => f,
            None => {
                diags.error(
                    Origin::default(),
                    None,
                    None,
                    "unknown lexicon format (expected .toml, .dic, .dicx, .yml, .yaml or .cat)",
                );
                return None;
            }
        },
    };
    parse_format(format, path, bytes, tokenizer, diags).0
}

/// Parse lexicon bytes in `format`. `path` only names an imported lexicon
/// (after the file's stem). Foreign files are decoded with
/// [`convert::decode`] (BOM, UTF-8, Windows-1252 fallback); TOML must be
/// UTF-8. Returns the lexicon (when there are no errors) and the loss
/// report.
pub fn parse_format(
    format: convert::Format,
    path: Option<&Path>,
    bytes: &[u8],
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> (Option<Lexicon>, Vec<convert::Loss>) {
    use convert::Format;
    if format == Format::Toml {
        return match std::str::from_utf8(bytes) {
            Ok(src) => (toml::parse(src, tokenizer, diags), Vec::new()),
            Err(e) => {
                diags.error(
                    Origin::default(),
                    None,
                    None,
                    format!("a TOML lexicon must be UTF-8 ({e})"),
                );
                (None, Vec::new())
            }
        };
    }
    let text = convert::decode(bytes, diags);
    let name = convert::name_from_path(path);
    match format {
        Format::Toml => (None, Vec::new()),
        Format::Dic => dic::parse(&text, name, tokenizer, diags),
        Format::Dicx => dicx::parse(&text, name, tokenizer, diags),
        Format::Yaml => yaml::parse(&text, name, tokenizer, diags),
        Format::Cat => cat::parse(&text, name, tokenizer, diags),
    }
}

/// Why a term string is not a valid term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermError(pub String);

/// Turn a term string into token patterns (DESIGN 2, "Term syntax").
///
/// - `regex:PATTERN` is one token that must match `^(?:PATTERN)$`;
/// - `glob:WORDS` is a term whose words may also use `?` (exactly one
///   character) and a `*` anywhere in the word (any run of characters, also
///   none): `glob:colo?r`, `glob:*ness`, `glob:hope*ful day`. Each word with
///   such a wildcard must be a single token. This is how the native format
///   carries the globs of quanteda YAML (and of any imported file): outside
///   `glob:`, a `*` anywhere but at a word's end stays an error, so a typo
///   such as `b*d` is still caught in hand-written TOML. A word with no
///   wildcard or only a trailing `*` means the same with or without `glob:`;
/// - otherwise the term is split on whitespace into words; a word may end in
///   one `*`, which makes the last token of that word a prefix wildcard;
///   each word goes through the same tokenizer as the text, so `12-step*`
///   is `12` then prefix `step`, and `Don’t` is `don't`.
pub fn parse_term(
    text: &str,
    tokenizer: &Tokenizer,
    scratch: &mut Tokens,
) -> Result<Vec<TokenPattern>, TermError> {
    if let Some(pattern) = text.strip_prefix("regex:") {
        if pattern.is_empty() {
            return Err(TermError("`regex:` needs a pattern after it".into()));
        }
        return match regex::Regex::new(&format!("^(?:{pattern})$")) {
            Ok(re) => Ok(vec![TokenPattern::Regex(re)]),
            Err(err) => Err(TermError(format!(
                "invalid regex: {}",
                err.to_string().replace('\n', " ")
            ))),
        };
    }
    let (body, globs) = match text.strip_prefix("glob:") {
        Some(body) => (body, true),
        None => (text, false),
    };
    let mut out = Vec::new();
    for word in body.split_whitespace() {
        if globs && is_glob_word(word) {
            out.push(parse_glob_word(word, tokenizer, scratch)?);
            continue;
        }
        let (body, wildcard) = match word.strip_suffix('*') {
            Some(body) => (body, true),
            None => (word, false),
        };
        if body.contains('*') {
            return Err(TermError(format!(
                "`*` may only end a word (found in `{word}`; write `glob:{text}` for a glob)"
            )));
        }
        tokenizer.tokenize(body, scratch);
        if wildcard && scratch.is_empty() {
            return Err(TermError(format!(
                "`*` must follow a word (found `{word}`)"
            )));
        }
        let n = scratch.len();
        for i in 0..n {
            let tok = scratch.text(i).to_string();
            if wildcard && i + 1 == n {
                out.push(TokenPattern::Prefix(tok));
            } else {
                out.push(TokenPattern::Exact(tok));
            }
        }
    }
    if out.is_empty() {
        return Err(TermError(
            "term has no tokens (only punctuation, symbols or spaces)".into(),
        ));
    }
    Ok(out)
}

/// Stand-ins for `*` and `?` while a glob word goes through the tokenizer:
/// letters (so they stay inside a token) that have no case and that NFKC
/// leaves alone (RUNIC LETTER FEHU and URUZ).
const GLOB_STAR: char = '\u{16A0}';
const GLOB_ONE: char = '\u{16A2}';

/// Does a word need the glob path: a `?`, or a `*` that is not only a
/// trailing one?
fn is_glob_word(word: &str) -> bool {
    word.contains('?') || word.trim_end_matches('*').contains('*')
}

/// Does a term need `glob:` to be read as written (a `?` or an interior or
/// leading `*` in one of its words)?
pub fn needs_glob(term: &str) -> bool {
    term.split_whitespace().any(is_glob_word)
}

fn parse_glob_word(
    word: &str,
    tokenizer: &Tokenizer,
    scratch: &mut Tokens,
) -> Result<TokenPattern, TermError> {
    if word.contains([GLOB_STAR, GLOB_ONE]) {
        return Err(TermError(format!(
            "`{word}` uses a character reserved for globs (U+16A0 or U+16A2)"
        )));
    }
    let mut marked = String::with_capacity(word.len());
    let mut prev_star = false;
    for c in word.chars() {
        match c {
            '*' if prev_star => continue,
            '*' => marked.push(GLOB_STAR),
            '?' => marked.push(GLOB_ONE),
            c => marked.push(c),
        }
        prev_star = c == '*';
    }
    tokenizer.tokenize(&marked, scratch);
    if scratch.len() != 1 {
        return Err(TermError(format!(
            "a glob word must be a single token, `{word}` gives {}",
            scratch.len()
        )));
    }
    let tok = scratch.text(0);
    if tok.chars().all(|c| c == GLOB_STAR || c == GLOB_ONE) {
        return Err(TermError(format!(
            "a glob word needs at least one letter or digit (found `{word}`)"
        )));
    }
    let mut glob = String::with_capacity(tok.len());
    let mut re = String::from("^(?:");
    for c in tok.chars() {
        match c {
            GLOB_STAR => {
                glob.push('*');
                re.push_str(".*");
            }
            GLOB_ONE => {
                glob.push('?');
                re.push('.');
            }
            c => {
                glob.push(c);
                let mut buf = [0u8; 4];
                re.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    re.push_str(")$");
    match regex::Regex::new(&re) {
        Ok(re) => Ok(TokenPattern::Glob { glob, re }),
        Err(err) => Err(TermError(format!(
            "glob `{word}` cannot be compiled: {err}"
        ))),
    }
}

/// Is `id` a valid theme id: dot-separated segments of letters, digits,
/// `_` and `-`?
pub fn valid_theme_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        })
}

/// The parent id of a dotted theme id (`a.b.c` → `a.b`).
pub fn parent_id(id: &str) -> Option<&str> {
    id.rfind('.').map(|i| &id[..i])
}

impl Lexicon {
    /// Theme ids in tree order: every theme and every implied parent, parents
    /// before children, siblings in order of first appearance. With each id,
    /// the index of the theme in `lex.themes` (`None` for an implied parent).
    pub fn tree(&self) -> Vec<(String, Option<usize>)> {
        let lex = self;
        let mut seen: Vec<String> = Vec::new();
        let mut set = std::collections::HashSet::new();
        for t in &lex.themes {
            let mut chain = vec![t.id.as_str()];
            let mut cur = t.id.as_str();
            while let Some(p) = parent_id(cur) {
                chain.push(p);
                cur = p;
            }
            for id in chain.into_iter().rev() {
                if set.insert(id.to_string()) {
                    seen.push(id.to_string());
                }
            }
        }
        let index: std::collections::HashMap<&str, usize> = lex
            .themes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut children: std::collections::HashMap<&str, Vec<&str>> =
            std::collections::HashMap::new();
        let mut roots = Vec::new();
        for id in &seen {
            match parent_id(id) {
                Some(p) => children.entry(p).or_default().push(id),
                None => roots.push(id.as_str()),
            }
        }
        // Iterative depth-first walk (no recursion: ids can nest deeply).
        let mut out = Vec::with_capacity(seen.len());
        let mut stack: Vec<&str> = roots.into_iter().rev().collect();
        while let Some(id) = stack.pop() {
            out.push((id.to_string(), index.get(id).copied()));
            if let Some(kids) = children.get(id) {
                stack.extend(kids.iter().rev());
            }
        }
        out
    }

    /// Checks every lexicon must pass whatever its format: theme ids,
    /// duplicates, leaves without terms, exclusions in liwc mode, weights;
    /// plus warnings for terms listed twice, terms shadowed by a wildcard
    /// of the same theme, and upper-case literals in regexes.
    pub fn validate(&self, diags: &mut Diagnostics) {
        let mut seen = std::collections::HashMap::new();
        for theme in &self.themes {
            let id = theme.id.as_str();
            if !valid_theme_id(id) {
                diags.error(
                    theme.origin,
                    Some(id),
                    None,
                    "theme id must be dot-separated segments of letters, digits, `_` and `-`",
                );
            }
            if let Some(first) = seen.insert(id, theme.origin) {
                let at = first
                    .line
                    .map(|l| format!(" (first defined on line {l})"))
                    .unwrap_or_default();
                diags.error(
                    theme.origin,
                    Some(id),
                    None,
                    format!("duplicate theme id{at}"),
                );
            }
        }
        for theme in &self.themes {
            let id = theme.id.as_str();
            let is_parent = self.themes.iter().any(|t| {
                t.id.len() > id.len() && t.id.starts_with(id) && t.id.as_bytes()[id.len()] == b'.'
            });
            if theme.terms.is_empty() && !is_parent {
                diags.error(
                    theme.origin,
                    Some(id),
                    None,
                    "theme has no terms (only a parent of other themes may have none)",
                );
            }
            if self.semantics == Semantics::Liwc && !theme.exclude.is_empty() {
                diags.error(
                    theme.origin,
                    Some(id),
                    None,
                    "`exclude` is not allowed with semantics = \"liwc\"",
                );
            }
            for term in theme.terms.iter().chain(&theme.exclude) {
                if !term.weight.is_finite() {
                    diags.error(
                        term.origin,
                        Some(id),
                        Some(&term.text),
                        "weight must be a finite number",
                    );
                }
                for p in &term.pattern {
                    if let TokenPattern::Regex(re) = p
                        && has_uppercase_literal(re.as_str())
                    {
                        diags.warning(
                            term.origin,
                            Some(id),
                            Some(&term.text),
                            "regex has upper-case letters, but tokens are lower case",
                        );
                    }
                }
            }
            check_duplicates_and_shadowing(theme, &theme.terms, diags);
            check_duplicates_and_shadowing(theme, &theme.exclude, diags);
        }
    }
}

fn check_duplicates_and_shadowing(theme: &Theme, terms: &[Term], diags: &mut Diagnostics) {
    let keys: Vec<Vec<String>> = terms
        .iter()
        .map(|t| t.pattern.iter().map(TokenPattern::key).collect())
        .collect();
    for (i, term) in terms.iter().enumerate() {
        if let Some(j) = (0..i).find(|&j| keys[j] == keys[i]) {
            diags.warning(
                term.origin,
                Some(&theme.id),
                Some(&term.text),
                format!(
                    "listed twice in this theme (same tokens as `{}`)",
                    terms[j].text
                ),
            );
            continue;
        }
        if let Some(j) = (0..terms.len())
            .find(|&j| j != i && keys[j] != keys[i] && subsumes(&terms[j].pattern, &term.pattern))
        {
            diags.warning(
                term.origin,
                Some(&theme.id),
                Some(&term.text),
                format!(
                    "shadowed by `{}`: every match of this term is also a match of that one",
                    terms[j].text
                ),
            );
        }
    }
}

/// Does `wide` match everywhere `narrow` matches (same length, each token
/// pattern of `wide` accepting everything the one of `narrow` accepts)?
/// Only prefix/exact relations are decided; regexes never subsume.
fn subsumes(wide: &[TokenPattern], narrow: &[TokenPattern]) -> bool {
    wide.len() == narrow.len()
        && wide.iter().zip(narrow).all(|(w, n)| match (w, n) {
            (TokenPattern::Exact(a), TokenPattern::Exact(b)) => a == b,
            (TokenPattern::Prefix(a), TokenPattern::Exact(b))
            | (TokenPattern::Prefix(a), TokenPattern::Prefix(b)) => b.starts_with(a.as_str()),
            _ => false,
        })
}

/// A crude but useful check: an upper-case ASCII letter in the pattern that
/// is not part of an escape or class name such as `\P{..}`, `\W`, `\S`.
fn has_uppercase_literal(src: &str) -> bool {
    let inner = src
        .strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(src);
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                // Skip the escape and, for \p{..}/\P{..}, its braces.
                i += 1;
                if i < bytes.len() && (bytes[i] == b'p' || bytes[i] == b'P') {
                    i += 1;
                    if i < bytes.len() && bytes[i] == b'{' {
                        while i < bytes.len() && bytes[i] != b'}' {
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            b'[' if bytes[i..].starts_with(b"[:") => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b if b.is_ascii_uppercase() => return true,
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<String>, String> {
        let tk = Tokenizer::default_pipeline();
        let mut scratch = Tokens::new();
        parse_term(text, &tk, &mut scratch)
            .map(|ps| ps.iter().map(|p| p.to_string()).collect())
            .map_err(|e| e.0)
    }

    #[test]
    fn term_syntax() {
        let ok: &[(&str, &[&str])] = &[
            ("sponsor", &["sponsor"]),
            ("Higher Power", &["higher", "power"]),
            ("relaps*", &["relaps*"]),
            ("stay* clean", &["stay*", "clean"]),
            ("12-step*", &["12", "step*"]),
            ("12-step", &["12", "step"]),
            ("Don’t", &["don't"]),
            ("one day at a time", &["one", "day", "at", "a", "time"]),
            ("regex:^dry$", &["regex:^dry$"]),
            ("ﬁnd", &["find"]),
        ];
        for (term, want) in ok {
            let got = parse(term).unwrap_or_else(|e| panic!("{term}: {e}"));
            assert_eq!(&got, want, "term {term}");
        }
    }

    #[test]
    fn glob_terms() {
        let ok: &[(&str, &[&str])] = &[
            ("glob:colo?r", &["glob:colo?r"]),
            ("glob:*NESS", &["glob:*ness"]),
            ("glob:hope**ful day", &["glob:hope*ful", "day"]),
            ("glob:relaps*", &["relaps*"]),
            ("glob:12-step*", &["12", "step*"]),
            ("glob:don?t", &["glob:don?t"]),
        ];
        for (term, want) in ok {
            let got = parse(term).unwrap_or_else(|e| panic!("{term}: {e}"));
            assert_eq!(&got, want, "term {term}");
        }
        for bad in [
            "glob:?",
            "glob:*?*",
            "glob:a-b?",
            "glob:a?b-c",
            "colo?r*x",
            "glob:\u{16A0}x?",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be an error");
        }
        let tk = Tokenizer::default_pipeline();
        let mut s = Tokens::new();
        let p = parse_term("glob:colo?r", &tk, &mut s).unwrap();
        assert!(p[0].matches("colour") && !p[0].matches("color") && !p[0].matches("colouur"));
        let p = parse_term("glob:*ness", &tk, &mut s).unwrap();
        assert!(p[0].matches("ness") && p[0].matches("kindness") && !p[0].matches("nessy"));
        assert!(needs_glob("a b*c") && needs_glob("?x") && !needs_glob("ab* c"));
    }

    #[test]
    fn term_errors() {
        for bad in [
            "*",
            "a*b",
            "*abc",
            "stay** clean",
            "...",
            "  ",
            "-*",
            "regex:",
            "regex:(a",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be an error");
        }
    }

    #[test]
    fn regex_is_anchored() {
        let tk = Tokenizer::default_pipeline();
        let mut s = Tokens::new();
        let p = parse_term("regex:dr(y|ied)", &tk, &mut s).unwrap();
        assert!(p[0].matches("dry"));
        assert!(p[0].matches("dried"));
        assert!(!p[0].matches("dryer"));
        assert!(!p[0].matches("adry"));
    }

    #[test]
    fn theme_ids() {
        for ok in ["a", "a.b", "objectives.abstinence", "x_1.y-2", "émotion"] {
            assert!(valid_theme_id(ok), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a b", "a/b"] {
            assert!(!valid_theme_id(bad), "{bad}");
        }
        assert_eq!(parent_id("a.b.c"), Some("a.b"));
        assert_eq!(parent_id("a"), None);
    }

    #[test]
    fn uppercase_literal_detection() {
        assert!(has_uppercase_literal("^(?:Dry)$"));
        assert!(!has_uppercase_literal("^(?:dry\\W\\p{Lu}[[:alpha:]])$"));
    }
}
