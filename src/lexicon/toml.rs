//! The native TOML lexicon reader and writer (DESIGN 2).
//!
//! Reading is two steps, as in ripgrep's config reader: serde turns the text
//! into a raw, positioned structure (unknown keys are errors), then every
//! theme and term is checked and parsed, collecting every problem with its
//! line and column instead of stopping at the first.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Cue, DEFAULT_SCOPE_BREAKS, DEFAULT_WINDOW, Diagnostics, Lexicon, Negation, Origin, ScopeBreak,
    Semantics, Term, Theme, parse_term,
};
use crate::tokenize::{Tokenizer, Tokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    lexicon: RawHeader,
    negation: Option<RawNegation>,
    #[serde(default)]
    theme: Vec<RawTheme>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    version: Option<String>,
    language: Option<String>,
    description: Option<String>,
    semantics: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNegation {
    cues: Vec<Spanned<String>>,
    window: Option<Spanned<i64>>,
    scope_breaks: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    id: Spanned<String>,
    label: Option<String>,
    description: Option<String>,
    #[serde(default)]
    terms: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    exclude: Vec<Spanned<toml::Value>>,
}

/// Maps byte offsets of a source text to 1-based lines and columns.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Index the line starts of `src`.
    pub(crate) fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line and character column of byte `offset` in `src`.
    pub(crate) fn origin(&self, src: &str, offset: usize) -> Origin {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = src
            .get(start..offset.min(src.len()))
            .map(|s| s.chars().count() + 1)
            .unwrap_or(1);
        Origin::at(line, col)
    }
}

/// Parse a native TOML lexicon. `path` names the source in diagnostics.
///
/// Returns the lexicon when there are no errors; every diagnostic (errors
/// and warnings) is left in `diags`.
pub fn parse(src: &str, tokenizer: &Tokenizer, diags: &mut Diagnostics) -> Option<Lexicon> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines = LineIndex::new(src);
    let at = |span: Range<usize>| lines.origin(src, span.start);
    // An unknown key stops serde at the first one. To report every problem
    // in one run, each unknown key's line is commented out (same byte
    // offsets) and the text parsed again; the errors found meanwhile are
    // kept, and the lexicon is still refused.
    let mut text = src.to_string();
    let mut unknown = 0;
    let raw: RawFile = loop {
        match ::toml::from_str(&text) {
            Ok(raw) => break raw,
            Err(err) => {
                let origin = err.span().map(&at).unwrap_or_default();
                diags.error(origin, None, None, err.message().trim().to_string());
                let retry = err.message().starts_with("unknown field") && unknown < 100;
                let span = err.span().filter(|_| retry)?;
                unknown += 1;
                let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let first = text[line_start..].find(|c: char| !c.is_whitespace())?;
                let at_char = line_start + first;
                if !text.is_char_boundary(at_char + 1) {
                    return None;
                }
                text.replace_range(at_char..at_char + 1, "#");
            }
        }
    };

    let semantics = match raw.lexicon.semantics {
        None => Semantics::Themes,
        Some(s) => match s.get_ref().as_str() {
            "themes" => Semantics::Themes,
            "liwc" => Semantics::Liwc,
            other => {
                diags.error(
                    at(s.span()),
                    None,
                    None,
                    format!("unknown semantics `{other}` (expected \"themes\" or \"liwc\")"),
                );
                Semantics::Themes
            }
        },
    };
    if raw.lexicon.name.trim().is_empty() {
        diags.error(Origin::default(), None, None, "`[lexicon] name` is empty");
    }

    let mut scratch = Tokens::new();
    let negation = raw
        .negation
        .map(|n| parse_negation(n, tokenizer, &mut scratch, &at, diags));

    let mut themes = Vec::with_capacity(raw.theme.len());
    for t in raw.theme {
        let origin = at(t.id.span());
        let id = t.id.into_inner();
        let mut terms = Vec::new();
        for value in t.terms {
            if let Some(term) =
                parse_term_value(value, &id, false, tokenizer, &mut scratch, &at, diags)
            {
                terms.push(term);
            }
        }
        let mut exclude = Vec::new();
        for value in t.exclude {
            if let Some(term) =
                parse_term_value(value, &id, true, tokenizer, &mut scratch, &at, diags)
            {
                exclude.push(term);
            }
        }
        themes.push(Theme {
            id,
            label: t.label,
            description: t.description,
            terms,
            exclude,
            origin,
        });
    }
    let lexicon = Lexicon {
        name: raw.lexicon.name,
        version: raw.lexicon.version,
        language: raw.lexicon.language,
        description: raw.lexicon.description,
        semantics,
        negation,
        themes,
    };
    lexicon.validate(diags);
    (!diags.has_errors()).then_some(lexicon)
}

fn parse_negation(
    raw: RawNegation,
    tokenizer: &Tokenizer,
    scratch: &mut Tokens,
    at: &dyn Fn(Range<usize>) -> Origin,
    diags: &mut Diagnostics,
) -> Negation {
    let mut cues = Vec::new();
    for cue in raw.cues {
        let origin = at(cue.span());
        let text = cue.into_inner();
        match parse_cue(&text, tokenizer, scratch) {
            Ok(c) => cues.push(c),
            Err(msg) => diags.error(origin, None, Some(&text), format!("negation cue: {msg}")),
        }
    }
    let window = match raw.window {
        None => DEFAULT_WINDOW,
        Some(w) => {
            let origin = at(w.span());
            match usize::try_from(*w.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    diags.error(
                        origin,
                        None,
                        None,
                        "negation window must be a whole number ≥ 1",
                    );
                    DEFAULT_WINDOW
                }
            }
        }
    };
    let scope_breaks = match raw.scope_breaks {
        None => DEFAULT_SCOPE_BREAKS
            .iter()
            .map(|s| {
                parse_scope_break(s, tokenizer, scratch).expect("default scope breaks are valid")
            })
            .collect(),
        Some(list) => {
            let mut out = Vec::new();
            for b in list {
                let origin = at(b.span());
                let text = b.into_inner();
                match parse_scope_break(&text, tokenizer, scratch) {
                    Ok(sb) => out.push(sb),
                    Err(msg) => {
                        diags.error(origin, None, Some(&text), format!("scope break: {msg}"))
                    }
                }
            }
            out
        }
    };
    Negation {
        cues,
        window,
        scope_breaks,
    }
}

/// Parse one negation cue: a single token, optionally with a trailing `*`
/// (prefix cue) or a leading `*` (suffix cue).
pub fn parse_cue(text: &str, tokenizer: &Tokenizer, scratch: &mut Tokens) -> Result<Cue, String> {
    let (body, kind) = if let Some(b) = text.strip_prefix('*') {
        (b, 2)
    } else if let Some(b) = text.strip_suffix('*') {
        (b, 1)
    } else {
        (text, 0)
    };
    if body.contains('*') {
        return Err("a `*` may only start or end a cue".into());
    }
    tokenizer.tokenize(body, scratch);
    if scratch.len() != 1 {
        return Err(format!(
            "a cue must be a single token, `{body}` gives {}",
            scratch.len()
        ));
    }
    let tok = scratch.text(0).to_string();
    Ok(match kind {
        0 => Cue::Exact(tok),
        1 => Cue::Prefix(tok),
        _ => Cue::Suffix(tok),
    })
}

/// Parse one scope break: either a single word (a token) or punctuation
/// that tokenizes to nothing.
pub fn parse_scope_break(
    text: &str,
    tokenizer: &Tokenizer,
    scratch: &mut Tokens,
) -> Result<ScopeBreak, String> {
    tokenizer.tokenize(text, scratch);
    match scratch.len() {
        0 if text.trim().is_empty() => Err("a scope break cannot be empty".into()),
        0 => Ok(ScopeBreak::Chars(
            unicode_normalization::UnicodeNormalization::nfkc(text.trim()).collect(),
        )),
        1 if scratch.token(0).start == 0 && scratch.token(0).end == text.len() => {
            Ok(ScopeBreak::Word(scratch.text(0).to_string()))
        }
        _ => Err("a scope break is either one word or punctuation, not both".into()),
    }
}

fn parse_term_value(
    value: Spanned<toml::Value>,
    theme: &str,
    is_exclude: bool,
    tokenizer: &Tokenizer,
    scratch: &mut Tokens,
    at: &dyn Fn(Range<usize>) -> Origin,
    diags: &mut Diagnostics,
) -> Option<Term> {
    let origin = at(value.span());
    let (text, weight) = match value.into_inner() {
        toml::Value::String(s) => (s, 1.0),
        toml::Value::Table(table) => {
            let mut text = None;
            let mut weight = None;
            for (key, v) in table {
                match (key.as_str(), v) {
                    ("term", toml::Value::String(s)) => text = Some(s),
                    ("weight", toml::Value::Float(f)) => weight = Some(f),
                    ("weight", toml::Value::Integer(i)) => weight = Some(i as f64),
                    ("term", _) => {
                        diags.error(origin, Some(theme), None, "`term` must be a string");
                        return None;
                    }
                    ("weight", _) => {
                        diags.error(origin, Some(theme), None, "`weight` must be a number");
                        return None;
                    }
                    (other, _) => {
                        diags.error(
                            origin,
                            Some(theme),
                            None,
                            format!(
                                "unknown key `{other}` in a term (expected `term` and `weight`)"
                            ),
                        );
                        return None;
                    }
                }
            }
            let Some(text) = text else {
                diags.error(origin, Some(theme), None, "a term table needs a `term` key");
                return None;
            };
            if is_exclude && weight.is_some() {
                diags.error(
                    origin,
                    Some(theme),
                    Some(&text),
                    "an `exclude` term takes no weight",
                );
                return None;
            }
            (text, weight.unwrap_or(1.0))
        }
        other => {
            diags.error(
                origin,
                Some(theme),
                None,
                format!(
                    "a term must be a string or {{ term = \"…\", weight = … }}, found {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match parse_term(&text, tokenizer, scratch) {
        Ok(pattern) => Some(Term {
            text,
            weight,
            pattern,
            origin,
        }),
        Err(err) => {
            diags.error(origin, Some(theme), Some(&text), err.0);
            None
        }
    }
}

/// Write a lexicon as native TOML. Every field the model carries survives a
/// round trip through [`parse`].
pub fn write(lex: &Lexicon) -> String {
    use std::fmt::Write;
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    out.push_str("[lexicon]\n");
    let _ = writeln!(out, "name = {}", q(&lex.name));
    if let Some(v) = &lex.version {
        let _ = writeln!(out, "version = {}", q(v));
    }
    if let Some(v) = &lex.language {
        let _ = writeln!(out, "language = {}", q(v));
    }
    if let Some(v) = &lex.description {
        let _ = writeln!(out, "description = {}", q(v));
    }
    let _ = writeln!(out, "semantics = {}", q(lex.semantics.as_str()));
    if let Some(neg) = &lex.negation {
        out.push_str("\n[negation]\n");
        let cues: Vec<String> = neg
            .cues
            .iter()
            .map(|c| match c {
                Cue::Exact(s) => q(s),
                Cue::Prefix(s) => q(&format!("{s}*")),
                Cue::Suffix(s) => q(&format!("*{s}")),
            })
            .collect();
        let _ = writeln!(out, "cues = [{}]", cues.join(", "));
        let _ = writeln!(out, "window = {}", neg.window);
        let breaks: Vec<String> = neg
            .scope_breaks
            .iter()
            .map(|b| match b {
                ScopeBreak::Word(s) | ScopeBreak::Chars(s) => q(s),
            })
            .collect();
        let _ = writeln!(out, "scope_breaks = [{}]", breaks.join(", "));
    }
    for theme in &lex.themes {
        out.push_str("\n[[theme]]\n");
        let _ = writeln!(out, "id = {}", q(&theme.id));
        if let Some(v) = &theme.label {
            let _ = writeln!(out, "label = {}", q(v));
        }
        if let Some(v) = &theme.description {
            let _ = writeln!(out, "description = {}", q(v));
        }
        let term = |t: &Term| {
            if t.weight == 1.0 {
                q(&t.text)
            } else {
                format!(
                    "{{ term = {}, weight = {} }}",
                    q(&t.text),
                    fmt_weight(t.weight)
                )
            }
        };
        if !theme.terms.is_empty() {
            let items: Vec<String> = theme.terms.iter().map(term).collect();
            let _ = writeln!(out, "terms = [{}]", items.join(", "));
        }
        if !theme.exclude.is_empty() {
            let items: Vec<String> = theme.exclude.iter().map(|t| q(&t.text)).collect();
            let _ = writeln!(out, "exclude = [{}]", items.join(", "));
        }
    }
    out
}

/// A weight as TOML: always a float literal, shortest round trip.
fn fmt_weight(w: f64) -> String {
    let s = format!("{w:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Severity;

    fn load(src: &str) -> (Option<Lexicon>, Vec<String>) {
        let tk = Tokenizer::default_pipeline();
        let mut d = Diagnostics::new("lex.toml");
        let lex = parse(src, &tk, &mut d);
        (lex, d.into_vec().iter().map(|d| d.to_string()).collect())
    }

    const GOOD: &str = r#"
[lexicon]
name = "Test"
version = "1.0.0"

[negation]
cues = ["not", "never", "*n't", "nev*"]

[[theme]]
id = "objectives"
label = "Objectives"

[[theme]]
id = "objectives.abstinence"
label = "Abstinence"
terms = ["abstain*", "clean time", { term = "sober*", weight = 2.5 }, "regex:^dry$"]
exclude = ["clean up"]
"#;

    #[test]
    fn parses_the_example() {
        let (lex, diags) = load(GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let lex = lex.unwrap();
        assert_eq!(lex.name, "Test");
        assert_eq!(lex.themes.len(), 2);
        let t = &lex.themes[1];
        assert_eq!(t.terms.len(), 4);
        assert_eq!(t.terms[2].weight, 2.5);
        assert_eq!(t.terms[1].origin, Origin::at(16, 22));
        let neg = lex.negation.unwrap();
        assert_eq!(neg.window, 3);
        assert_eq!(neg.cues[2], Cue::Suffix("n't".into()));
        assert_eq!(neg.cues[3], Cue::Prefix("nev".into()));
        assert_eq!(neg.scope_breaks.len(), 7);
        assert_eq!(neg.scope_breaks[6], ScopeBreak::Word("but".into()));
    }

    #[test]
    fn every_bad_term_is_reported_with_its_position() {
        let src = r#"[lexicon]
name = "x"

[[theme]]
id = "a"
terms = ["ok", "b*d", "*", "...", "regex:(x"]

[[theme]]
id = "a"
terms = ["fine"]

[[theme]]
id = "leaf"
"#;
        let (lex, diags) = load(src);
        assert!(lex.is_none());
        let want = [
            "lex.toml:6:16: error: theme `a`: term `b*d`: `*` may only end a word (found in `b*d`; write `glob:b*d` for a glob)",
            "lex.toml:6:23: error: theme `a`: term `*`: `*` must follow a word (found `*`)",
            "lex.toml:6:28: error: theme `a`: term `...`: term has no tokens (only punctuation, symbols or spaces)",
        ];
        for w in want {
            assert!(diags.iter().any(|d| d == w), "missing {w:?} in {diags:#?}");
        }
        assert!(diags.iter().any(|d| {
            d.starts_with("lex.toml:6:35: error: theme `a`: term `regex:(x`: invalid regex")
        }));
        assert!(diags.iter().any(|d| d.starts_with(
            "lex.toml:9:6: error: theme `a`: duplicate theme id (first defined on line 5)"
        )));
        assert!(diags.iter().any(|d| d == "lex.toml:13:6: error: theme `leaf`: theme has no terms (only a parent of other themes may have none)"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let (lex, diags) = load("[lexicon]\nname = \"x\"\nnmae = 1\n");
        assert!(lex.is_none());
        assert!(
            diags[0].starts_with("lex.toml:3:1: error: unknown field `nmae`"),
            "{diags:?}"
        );
        let (_, diags) = load(
            "[lexicon]\nname = \"x\"\n[[theme]]\nid = \"a\"\nterms = [{ term = \"x\", wieght = 2 }]\n",
        );
        assert!(
            diags.iter().any(|d| d.contains("unknown key `wieght`")),
            "{diags:?}"
        );
        // Every unknown key and every other error, in one run, in file order.
        let (lex, diags) = load(
            "[lexicon]\nname = \"x\"\n[[theme]]\nid = \"a\"\ncolour = \"red\"\nterms = [\"b*d\", \"ok\"]\n[[theme]]\nid = \"b\"\nshade = 1\nterms = [\"y\"]\n",
        );
        assert!(lex.is_none());
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert!(diags[0].starts_with("lex.toml:5:1: error: unknown field `colour`"));
        assert!(diags[1].starts_with("lex.toml:6:10: error: theme `a`: term `b*d`"));
        assert!(diags[2].starts_with("lex.toml:9:1: error: unknown field `shade`"));
    }

    #[test]
    fn missing_name_is_an_error() {
        let (lex, diags) = load("[lexicon]\nversion = \"1\"\n");
        assert!(lex.is_none());
        assert!(diags[0].contains("missing field `name`"), "{diags:?}");
    }

    #[test]
    fn exclude_takes_no_weight_and_weights_are_finite() {
        let (_, diags) = load(
            "[lexicon]\nname = \"x\"\n[[theme]]\nid = \"a\"\nterms = [\"x\"]\nexclude = [{ term = \"y\", weight = 2.0 }]\n",
        );
        assert!(
            diags[0].contains("an `exclude` term takes no weight"),
            "{diags:?}"
        );
        let (_, diags) = load(
            "[lexicon]\nname = \"x\"\n[[theme]]\nid = \"a\"\nterms = [{ term = \"y\", weight = nan }]\n",
        );
        assert!(
            diags[0].contains("weight must be a finite number"),
            "{diags:?}"
        );
    }

    #[test]
    fn warnings_for_duplicates_and_shadowing() {
        let src = "[lexicon]\nname = \"x\"\n[[theme]]\nid = \"a\"\nterms = [\"sober*\", \"sober\", \"Sober*\", \"stay clean\", \"stay* clean\"]\n";
        let tk = Tokenizer::default_pipeline();
        let mut d = Diagnostics::new("lex.toml");
        assert!(parse(src, &tk, &mut d).is_some());
        let items = d.into_vec();
        assert!(items.iter().all(|d| d.severity == Severity::Warning));
        let msgs: Vec<String> = items.iter().map(|d| d.to_string()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("term `sober`: shadowed by `sober*`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("term `Sober*`: listed twice")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("term `stay clean`: shadowed by `stay* clean`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn bad_cues_and_breaks() {
        let (_, diags) = load(
            "[lexicon]\nname = \"x\"\n[negation]\ncues = [\"not at all\", \"n*t\"]\nscope_breaks = [\"but,\"]\n",
        );
        assert!(
            diags.iter().any(
                |d| d.contains("term `not at all`: negation cue: a cue must be a single token")
            ),
            "{diags:?}"
        );
        assert!(
            diags
                .iter()
                .any(|d| d.contains("negation cue: a `*` may only start or end a cue")),
            "{diags:?}"
        );
        assert!(diags.iter().any(|d| d.contains("scope break: a scope break is either one word or punctuation")), "{diags:?}");
    }

    #[test]
    fn write_round_trips() {
        let (lex, _) = load(GOOD);
        let lex = lex.unwrap();
        let text = write(&lex);
        let (again, diags) = load(&text);
        assert!(diags.is_empty(), "{diags:?}\n{text}");
        let again = again.unwrap();
        assert_eq!(write(&again), text);
        assert_eq!(again.themes[1].terms[2].weight, 2.5);
        assert_eq!(again.negation.unwrap().cues, lex.negation.unwrap().cues);
    }
}
