//! Moving lexicons between formats: the format list, the loss report, and
//! what every foreign reader and writer shares.
//!
//! This module owns the *loss report* ([`Loss`]): one item per thing a
//! reader could not bring into the model (a LIWC conditional, a WordStat
//! rule, a term our tokenizer cannot match) or a writer could not put into
//! the target format (weights in a `.dic`, exclusions anywhere but TOML),
//! each naming the theme, the term, what was lost and why. Items of kind
//! [`LossKind::Changed`] lose nothing that changes counting or meaning but
//! say that something was rewritten (a category name mapped to a valid theme
//! id, duplicate lines united); `--strict` only fails on
//! [`LossKind::Lost`].
//!
//! It also owns the helpers the readers share: decoding bytes (BOM, UTF-8,
//! Windows-1252 fallback), splitting lines on CR, LF or CRLF, mapping
//! category names to theme ids, turning a foreign term into thematic's term
//! syntax, and assembling the final [`Lexicon`]. The format parsers live in
//! [`super::dic`], [`super::dicx`], [`super::yaml`] and [`super::cat`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use super::{
    Diagnostics, Lexicon, Origin, Semantics, Term, Theme, TokenPattern, needs_glob, parse_term,
};
use crate::tokenize::{Tokenizer, Tokens};

/// A lexicon file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Native TOML (DESIGN 2).
    Toml,
    /// LIWC `.dic` (LIWC2001/2007/2015).
    Dic,
    /// LIWC-22 `.dicx` (CSV).
    Dicx,
    /// quanteda YAML dictionary.
    Yaml,
    /// WordStat `.cat`.
    Cat,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 5] = [
        Format::Toml,
        Format::Dic,
        Format::Dicx,
        Format::Yaml,
        Format::Cat,
    ];

    /// The format named by a file extension or a `--to` value
    /// (case-insensitive; `yml` = `yaml`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "dic" => Some(Format::Dic),
            "dicx" => Some(Format::Dicx),
            "yaml" | "yml" => Some(Format::Yaml),
            "cat" => Some(Format::Cat),
            _ => None,
        }
    }

    /// The format implied by a path's extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_name)
    }

    /// The usual extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Dic => "dic",
            Format::Dicx => "dicx",
            Format::Yaml => "yml",
            Format::Cat => "cat",
        }
    }

    /// A short human name for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Dic => "LIWC .dic",
            Format::Dicx => "LIWC-22 .dicx",
            Format::Yaml => "quanteda YAML",
            Format::Cat => "WordStat .cat",
        }
    }
}

/// How much a loss-report item matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LossKind {
    /// Something was rewritten without changing what is counted (a name
    /// mapped to a valid id, duplicate lines united).
    Changed,
    /// Something could not be carried: it is gone from the result.
    Lost,
}

/// One item of a loss report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loss {
    /// Lost or only changed.
    pub kind: LossKind,
    /// Where in the source file, when the item comes from reading one.
    pub origin: Origin,
    /// The theme (category) concerned.
    pub theme: Option<String>,
    /// The term concerned, as written.
    pub term: Option<String>,
    /// What was lost or changed (lower case: `weight 2.5`, `conditional
    /// category (02 134)125/464`).
    pub what: String,
    /// Why (lower case: `a .dic has no weights`).
    pub why: String,
}

impl Loss {
    /// A [`LossKind::Lost`] item.
    pub fn lost(
        origin: Origin,
        theme: Option<&str>,
        term: Option<&str>,
        what: impl Into<String>,
        why: impl Into<String>,
    ) -> Loss {
        Loss {
            kind: LossKind::Lost,
            origin,
            theme: theme.map(str::to_string),
            term: term.map(str::to_string),
            what: what.into(),
            why: why.into(),
        }
    }

    /// A [`LossKind::Changed`] item.
    pub fn changed(
        origin: Origin,
        theme: Option<&str>,
        term: Option<&str>,
        what: impl Into<String>,
        why: impl Into<String>,
    ) -> Loss {
        Loss {
            kind: LossKind::Changed,
            ..Loss::lost(origin, theme, term, what, why)
        }
    }

    /// The item as one line prefixed with `path` (and the line and column
    /// when known): `dict.dic:12: lost: theme `x`: term `y`: what: why`.
    pub fn render(&self, path: &str) -> String {
        let mut s = path.to_string();
        if let Some(line) = self.origin.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.origin.column {
                s.push_str(&format!(":{col}"));
            }
        }
        format!("{s}: {self}")
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            LossKind::Lost => "lost",
            LossKind::Changed => "changed",
        };
        write!(f, "{kind}: ")?;
        if let Some(theme) = &self.theme {
            write!(f, "theme `{theme}`: ")?;
        }
        if let Some(term) = &self.term {
            write!(f, "term `{term}`: ")?;
        }
        write!(f, "{} ({})", self.what, self.why)
    }
}

/// True when any item is [`LossKind::Lost`].
pub fn any_lost(losses: &[Loss]) -> bool {
    losses.iter().any(|l| l.kind == LossKind::Lost)
}

/// Decode a foreign lexicon file: a UTF-8 or UTF-16 BOM decides the
/// encoding; otherwise valid UTF-8 is used as is, and anything else is read
/// as Windows-1252 (what LIWC2007-era files on Windows are) with a warning.
/// Never fails: every byte sequence decodes to something.
pub fn decode(bytes: &[u8], diags: &mut Diagnostics) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            diags.warning(
                Origin::default(),
                None,
                None,
                format!(
                    "the file starts with a {} byte-order mark but has invalid bytes; they were replaced by U+FFFD",
                    enc.name()
                ),
            );
        }
        return text.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            diags.warning(
                Origin {
                    line: Some(line),
                    column: None,
                },
                None,
                None,
                "not UTF-8: read as Windows-1252 (save the file as UTF-8 to silence this)",
            );
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
}

/// The lines of `text` with their 1-based numbers; a line ends at LF, CRLF
/// or a lone CR (old Mac files), and the terminator is not included.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut n = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        n += 1;
        match rest.find(['\r', '\n']) {
            None => {
                let line = rest;
                rest = "";
                Some((n, line))
            }
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some((n, line))
            }
        }
    })
}

/// Map a foreign category name to a valid theme id segment path: dots
/// separate levels (as in DESIGN 2), every other character that is not a
/// letter, digit, `_` or `-` becomes `_`, runs of `_` made that way are
/// collapsed, and an empty segment becomes `_`.
pub fn sanitize_id(name: &str) -> String {
    name.trim()
        .split('.')
        .map(|seg| {
            let mut out = String::new();
            let mut last_sub = false;
            for c in seg.trim().chars() {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    out.push(c);
                    last_sub = false;
                } else if !last_sub {
                    out.push('_');
                    last_sub = true;
                }
            }
            if out.is_empty() { "_".to_string() } else { out }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Turn a term as written in a foreign file into thematic's term syntax:
/// whitespace runs become one space, a term that uses `?` or a `*` other
/// than at a word's end gets the `glob:` prefix, and a foreign term that
/// happens to start with `regex:` or `glob:` is read as the words it is
/// (the colon becomes a space, which tokenizes the same).
pub fn import_term(raw: &str) -> String {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let mut text = words.join(" ");
    for prefix in ["regex:", "glob:"] {
        if text.len() >= prefix.len()
            && text.is_char_boundary(prefix.len())
            && text[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            text.replace_range(prefix.len() - 1..prefix.len(), " ");
        }
    }
    if needs_glob(&text) {
        format!("glob:{text}")
    } else {
        text
    }
}

/// The token patterns of a term, as a comparable key.
pub fn pattern_key(pattern: &[TokenPattern]) -> Vec<String> {
    pattern.iter().map(TokenPattern::key).collect()
}

/// Builds a lexicon from a foreign file: themes in order of first
/// appearance, terms united per theme, ids made valid and unique.
pub struct Builder<'a> {
    tokenizer: &'a Tokenizer,
    scratch: Tokens,
    themes: Vec<Theme>,
    keys: Vec<HashSet<Vec<String>>>,
    by_id: HashMap<String, usize>,
    /// Every item reported so far.
    pub losses: Vec<Loss>,
}

impl<'a> Builder<'a> {
    /// An empty builder.
    pub fn new(tokenizer: &'a Tokenizer) -> Builder<'a> {
        Builder {
            tokenizer,
            scratch: Tokens::new(),
            themes: Vec::new(),
            keys: Vec::new(),
            by_id: HashMap::new(),
            losses: Vec::new(),
        }
    }

    /// Add a theme for a foreign category `name` (dots = levels) and return
    /// its index. The id is `name` made valid ([`sanitize_id`]) and unique
    /// (`_2`, `_3`, …); when it differs from `name`, `name` becomes the
    /// label (unless `label` is given) and a [`LossKind::Changed`] item says
    /// so.
    pub fn add_theme(&mut self, name: &str, label: Option<String>, origin: Origin) -> usize {
        let base = sanitize_id(name);
        let mut id = base.clone();
        let mut n = 1;
        while self.by_id.contains_key(&id) {
            n += 1;
            id = format!("{base}_{n}");
        }
        let label = if id != name {
            let why = if base == name {
                "another category already has this name"
            } else {
                "theme ids are dot-separated segments of letters, digits, `_` and `-`"
            };
            self.losses.push(Loss::changed(
                origin,
                Some(&id),
                None,
                format!("category `{name}` became theme id `{id}`"),
                format!("{why}; the name is kept as the label"),
            ));
            label.or_else(|| Some(name.to_string()))
        } else {
            label
        };
        self.by_id.insert(id.clone(), self.themes.len());
        self.themes.push(Theme {
            id,
            label,
            description: None,
            terms: Vec::new(),
            exclude: Vec::new(),
            origin,
        });
        self.keys.push(HashSet::new());
        self.themes.len() - 1
    }

    /// The index of the theme whose id path is `id`, if any.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The id of theme `ix`.
    pub fn id(&self, ix: usize) -> &str {
        &self.themes[ix].id
    }

    /// Parse a foreign term: `Ok(term)` with thematic's syntax, or a
    /// [`LossKind::Lost`] item (reported against `theme`) when the term
    /// cannot be matched by thematic (it has no tokens, a glob word spans
    /// several tokens).
    pub fn term(
        &mut self,
        raw: &str,
        weight: f64,
        origin: Origin,
        theme: Option<&str>,
    ) -> Option<Term> {
        let text = import_term(raw);
        match parse_term(&text, self.tokenizer, &mut self.scratch) {
            Ok(pattern) => Some(Term {
                text,
                weight,
                pattern,
                origin,
            }),
            Err(err) => {
                self.losses.push(Loss::lost(
                    origin,
                    theme,
                    Some(raw.trim()),
                    "term dropped",
                    err.0,
                ));
                None
            }
        }
    }

    /// Add `term` to theme `ix` unless the theme already lists a term with
    /// the same tokens (duplicate lines are united, DESIGN 2). Returns false
    /// for a duplicate.
    pub fn push_term(&mut self, ix: usize, term: Term) -> bool {
        let key = pattern_key(&term.pattern);
        if self.keys[ix].insert(key) {
            self.themes[ix].terms.push(term);
            true
        } else {
            false
        }
    }

    /// Finish: drop themes with no terms that are no parent (reported),
    /// validate and return the lexicon (`None` when validation fails).
    pub fn finish(
        mut self,
        name: String,
        semantics: Semantics,
        diags: &mut Diagnostics,
    ) -> (Option<Lexicon>, Vec<Loss>) {
        let ids: Vec<String> = self.themes.iter().map(|t| t.id.clone()).collect();
        let is_parent = |id: &str| {
            ids.iter()
                .any(|o| o.len() > id.len() && o.starts_with(id) && o.as_bytes()[id.len()] == b'.')
        };
        let mut keep = Vec::new();
        for theme in std::mem::take(&mut self.themes) {
            if theme.terms.is_empty() && !is_parent(&theme.id) {
                self.losses.push(Loss::lost(
                    theme.origin,
                    Some(&theme.id),
                    None,
                    "category dropped",
                    "it has no terms thematic can use; a theme needs at least one",
                ));
            } else {
                keep.push(theme);
            }
        }
        if keep.is_empty() {
            diags.error(
                Origin::default(),
                None,
                None,
                "the file defines no category with usable terms",
            );
            return (None, self.losses);
        }
        let lex = Lexicon {
            name,
            version: None,
            language: None,
            description: None,
            semantics,
            negation: None,
            themes: keep,
        };
        let before = diags.items().len();
        lex.validate(diags);
        let ok = !diags.items()[before..]
            .iter()
            .any(|d| d.severity == super::Severity::Error);
        (ok.then_some(lex), self.losses)
    }
}

/// The name an imported lexicon gets: the file's stem.
pub fn name_from_path(path: Option<&Path>) -> String {
    path.and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "imported lexicon".to_string())
}

/// A lexicon written in some format, and what that format could not carry.
#[derive(Debug)]
pub struct Written {
    /// The file's content.
    pub text: String,
    /// The loss report of the writer.
    pub losses: Vec<Loss>,
}

/// Write `lex` in `format`, with the writer's loss report.
pub fn write(lex: &Lexicon, format: Format, tokenizer: &Tokenizer) -> Written {
    match format {
        Format::Toml => Written {
            text: super::toml::write(lex),
            losses: Vec::new(),
        },
        Format::Dic => super::dic::write(lex, tokenizer),
        Format::Dicx => super::dicx::write(lex, tokenizer),
        Format::Yaml => super::yaml::write(lex, tokenizer),
        Format::Cat => super::cat::write(lex, tokenizer),
    }
}

/// What a writer must know about the lexicon header and report as lost
/// when its format has no place for it.
pub(crate) struct Report<'a> {
    pub(crate) losses: Vec<Loss>,
    format: &'a str,
}

impl<'a> Report<'a> {
    pub(crate) fn new(format: &'a str) -> Report<'a> {
        Report {
            losses: Vec::new(),
            format,
        }
    }

    pub(crate) fn lost(
        &mut self,
        theme: Option<&str>,
        term: Option<&str>,
        what: impl Into<String>,
        why: &str,
    ) {
        self.losses.push(Loss::lost(
            Origin::default(),
            theme,
            term,
            what,
            format!("{} {why}", self.format),
        ));
    }

    /// Report the lexicon-level fields a format without a header loses,
    /// plus the negation section and, when `semantics` is not what the
    /// format is read back as, the semantics.
    pub(crate) fn header(&mut self, lex: &Lexicon, keeps_name: bool, read_back_as: Semantics) {
        if !keeps_name {
            self.lost(
                None,
                None,
                format!("lexicon name `{}`", lex.name),
                "has no lexicon name (reading it back names the lexicon after the file)",
            );
        }
        for (what, v) in [
            ("version", &lex.version),
            ("language", &lex.language),
            ("description", &lex.description),
        ] {
            if let Some(v) = v {
                self.lost(
                    None,
                    None,
                    format!("lexicon {what} `{v}`"),
                    "has no place for it",
                );
            }
        }
        if lex.negation.is_some() {
            self.lost(None, None, "the [negation] section", "has no negation");
        }
        if lex.semantics != read_back_as {
            self.lost(
                None,
                None,
                format!("semantics = \"{}\"", lex.semantics.as_str()),
                &format!(
                    "is read back with semantics = \"{}\"",
                    read_back_as.as_str()
                ),
            );
        }
    }

    /// Report a theme's description and exclusions (no foreign format has
    /// them) and, when `keeps_label` is false, its label.
    /// A weight that a format without weights cannot carry.
    pub(crate) fn lost_weight(&mut self, id: &str, term: &crate::lexicon::Term) {
        if term.weight != 1.0 {
            self.lost(
                Some(id),
                Some(&term.text),
                format!("weight {}", term.weight),
                "has no weights",
            );
        }
    }

    pub(crate) fn theme(&mut self, theme: &Theme, keeps_label: bool) {
        if let (false, Some(l)) = (keeps_label, &theme.label) {
            self.lost(
                Some(&theme.id),
                None,
                format!("label `{l}`"),
                "has no labels",
            );
        }
        if let Some(d) = &theme.description {
            self.lost(
                Some(&theme.id),
                None,
                format!("description `{d}`"),
                "has no descriptions",
            );
        }
        for t in &theme.exclude {
            self.lost(
                Some(&theme.id),
                Some(&t.text),
                "exclude term",
                "has no exclusions",
            );
        }
    }
}

/// How a term is written in a foreign format, or `None` (after a loss item)
/// when the format cannot carry it (a `regex:` term).
///
/// The term's own text is kept when reading it back (with
/// [`import_term`]) gives the same tokens and `ok` accepts it; otherwise the
/// term is written as its normalized tokens (`12-step*` stays, `really?` is
/// written `really` so the `?` is not read back as a glob). A `glob:`
/// prefix is dropped: foreign formats read globs without it.
pub(crate) fn export_text(
    term: &Term,
    theme: &str,
    tokenizer: &Tokenizer,
    report: &mut Report<'_>,
    ok: impl Fn(&str) -> bool,
) -> Option<String> {
    if term
        .pattern
        .iter()
        .any(|p| matches!(p, TokenPattern::Regex(_)))
    {
        report.lost(
            Some(theme),
            Some(&term.text),
            "regex term",
            "has no regular expressions",
        );
        return None;
    }
    let want = pattern_key(&term.pattern);
    let mut scratch = Tokens::new();
    let plain = term.text.strip_prefix("glob:").unwrap_or(&term.text);
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let same = |s: &str, scratch: &mut Tokens| {
        parse_term(&import_term(s), tokenizer, scratch)
            .map(|p| pattern_key(&p) == want)
            .unwrap_or(false)
    };
    if ok(&plain) && same(&plain, &mut scratch) {
        return Some(plain);
    }
    let canonical = term
        .pattern
        .iter()
        .map(|p| match p {
            TokenPattern::Exact(s) => s.clone(),
            TokenPattern::Prefix(s) => format!("{s}*"),
            TokenPattern::Glob { glob, .. } => glob.clone(),
            TokenPattern::Regex(_) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    if ok(&canonical) && same(&canonical, &mut scratch) {
        return Some(canonical);
    }
    report.lost(
        Some(theme),
        Some(&term.text),
        "term dropped",
        "cannot be written so that it reads back as the same tokens",
    );
    None
}

/// Theme ids in tree order, with each id's index in `lex.themes` (see
/// [`Lexicon::tree`]).
pub(crate) fn tree(lex: &Lexicon) -> Vec<(String, Option<usize>)> {
    lex.tree()
}

/// The fuzzing harness of the lexicon readers (the cargo-fuzz targets
/// `lexicon_*` and the stable stand-in test): read `bytes` as `format`; what
/// is read must write in every format and read back, all without a panic.
#[doc(hidden)]
pub fn fuzz_round_trip(format: Format, bytes: &[u8], tokenizer: &Tokenizer) {
    let mut d = Diagnostics::new("fuzz");
    let (lex, _losses) = super::parse_format(format, None, bytes, tokenizer, &mut d);
    if let Some(lex) = lex {
        for to in Format::ALL {
            let w = write(&lex, to, tokenizer);
            let mut d = Diagnostics::new("fuzz");
            let _ = super::parse_format(to, None, w.text.as_bytes(), tokenizer, &mut d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings() {
        let got: Vec<(usize, &str)> = lines("a\r\nb\rc\n\nd").collect();
        assert_eq!(got, [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]);
        assert_eq!(lines("").count(), 0);
        assert_eq!(lines("x\n").collect::<Vec<_>>(), [(1, "x")]);
    }

    #[test]
    fn ids() {
        assert_eq!(sanitize_id("care.virtue"), "care.virtue");
        assert_eq!(sanitize_id("Function Words"), "Function_Words");
        assert_eq!(sanitize_id("a/b: c"), "a_b_c");
        assert_eq!(sanitize_id(".x.."), "_.x._._");
        assert!(super::super::valid_theme_id(&sanitize_id("%% ..\u{0}")));
    }

    #[test]
    fn foreign_terms() {
        assert_eq!(import_term(" a \t lot "), "a lot");
        assert_eq!(import_term("colo?r"), "glob:colo?r");
        assert_eq!(import_term("*ness"), "glob:*ness");
        assert_eq!(import_term("relaps*"), "relaps*");
        assert_eq!(import_term("regex:(a"), "regex (a");
        assert_eq!(import_term("GLOB:x"), "GLOB x");
    }

    #[test]
    fn decoding() {
        let mut d = Diagnostics::new("x");
        assert_eq!(decode(b"\xef\xbb\xbfcaf\xc3\xa9", &mut d), "café");
        assert!(d.items().is_empty());
        assert_eq!(decode(b"caf\xe9 \x93q\x94", &mut d), "café “q”");
        assert_eq!(d.items().len(), 1);
        assert_eq!(decode(b"\xff\xfea\x00", &mut d), "a");
    }
}
