//! quanteda YAML dictionary reader and writer (DESIGN 2).
//!
//! A quanteda dictionary is a YAML mapping: a key is a category, its value
//! a list of patterns, a single pattern (a scalar is a one-element list) or
//! a nested mapping (sub-categories; `parent.child` in thematic). A
//! parent's own patterns sit under the key `''` or `__`. Patterns are
//! quanteda globs: `*` and `?` anywhere in a word, read as thematic
//! `glob:` terms ([`super::parse_term`]). The semantics is thematic's
//! default (`themes`): quanteda's `tokens_lookup` counts each key once per
//! matched token sequence, which is what DESIGN 3.2 does per theme.
//!
//! The reader walks the YAML *event stream* of `yaml-rust2` with its own
//! stack (no recursion, so deep nesting cannot overflow the stack), keeps
//! line numbers, ignores anchors and reports aliases as losses (they are
//! not used by quanteda dictionaries, and expanding them could blow up).
//! The writer writes `__` for a parent's own patterns and double-quotes
//! every key and value, so YAML 1.1 readers (R's `yaml`) do not turn `no`
//! or `yes` into booleans.

use yaml_rust2::parser::{Event, Parser};

use super::convert::{Builder, Loss, Report, Written, export_text, tree};
use super::{Diagnostics, Lexicon, Origin, Semantics};
use crate::tokenize::Tokenizer;

/// Nesting deeper than this is an error (no real dictionary comes close).
const MAX_DEPTH: usize = 100;

/// What the walker is inside.
enum Frame {
    /// A mapping at category path `path` (`None` = top level). `key` is
    /// the pending key, if one has been read. In a `dead` mapping (one
    /// that cannot hold categories, already reported) everything is
    /// skipped.
    Map {
        path: Option<String>,
        key: Option<(String, Origin)>,
        dead: bool,
    },
    /// A list of patterns for category `path` (`None`: a list that cannot
    /// hold patterns, already reported).
    Seq { path: Option<String> },
}

/// Stands for a key that was an alias or a collection (already reported).
const SKIP_KEY: &str = "\u{0}skip";

/// Parse a quanteda YAML dictionary (decoded text).
pub fn parse(
    text: &str,
    name: String,
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> (Option<Lexicon>, Vec<Loss>) {
    let mut b = Builder::new(tokenizer);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut started = false;
    let mut docs = 0;
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                diags.error(
                    Origin::at(m.line().max(1), m.col() + 1),
                    None,
                    None,
                    format!("bad YAML: {}", e.info()),
                );
                return (None, b.losses);
            }
        };
        let origin = Origin::at(mark.line().max(1), mark.col() + 1);
        if stack.len() > MAX_DEPTH {
            diags.error(
                origin,
                None,
                None,
                format!("the YAML nests deeper than {MAX_DEPTH} levels"),
            );
            return (None, b.losses);
        }
        // What a new node (collection or scalar) is, given the frame it
        // appears in: `Some(Some(path))` a value for category `path`,
        // `Some(None)` something to skip, `None` a key (scalars only).
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                docs += 1;
                if docs > 1 {
                    b.losses.push(Loss::lost(
                        origin,
                        None,
                        None,
                        "second YAML document",
                        "only the first document is read",
                    ));
                    break;
                }
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                if !started {
                    if !is_map {
                        diags.error(
                            origin,
                            None,
                            None,
                            "a quanteda dictionary is a mapping of categories, not a list",
                        );
                        return (None, b.losses);
                    }
                    started = true;
                    stack.push(Frame::Map {
                        path: None,
                        key: None,
                        dead: false,
                    });
                    continue;
                }
                let what = if is_map { "mapping" } else { "list" };
                // The category this collection belongs to, or None (skip).
                let target: Option<String> = match stack.last_mut() {
                    Some(Frame::Map { path, key, dead }) => match key.take() {
                        None => {
                            if !*dead {
                                b.losses.push(Loss::lost(
                                    origin,
                                    path.as_deref(),
                                    None,
                                    format!("{what} used as a key"),
                                    "keys must be plain names",
                                ));
                            }
                            *key = Some((SKIP_KEY.to_string(), origin));
                            None
                        }
                        Some(_) if *dead => None,
                        Some((k, _)) if k == SKIP_KEY => None,
                        Some((k, at)) if is_map && (k.is_empty() || k == "__") => {
                            b.losses.push(Loss::lost(
                                at,
                                path.as_deref(),
                                None,
                                format!("mapping under `{k}`"),
                                "own values must be patterns",
                            ));
                            None
                        }
                        Some((k, at)) => {
                            if is_map {
                                Some(category(&mut b, path.as_deref(), &k, at))
                            } else {
                                values_target(&mut b, path.as_deref(), &k, at)
                            }
                        }
                    },
                    Some(Frame::Seq { path }) => {
                        if path.is_some() {
                            b.losses.push(Loss::lost(
                                origin,
                                path.as_deref(),
                                None,
                                format!("{what} inside a list"),
                                "a list holds patterns only",
                            ));
                        }
                        None
                    }
                    None => None,
                };
                let alive = target.is_some();
                stack.push(if is_map {
                    Frame::Map {
                        path: target,
                        key: None,
                        dead: !alive,
                    }
                } else {
                    Frame::Seq { path: target }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Alias(_) => {
                b.losses.push(Loss::lost(
                    origin,
                    None,
                    None,
                    "YAML alias",
                    "aliases are not expanded",
                ));
                if let Some(Frame::Map { key, .. }) = stack.last_mut()
                    && key.take().is_none()
                {
                    *key = Some((SKIP_KEY.to_string(), origin));
                }
            }
            Event::Scalar(value, ..) => {
                if !started {
                    diags.error(
                        origin,
                        None,
                        None,
                        "a quanteda dictionary is a mapping of categories, not a single value",
                    );
                    return (None, b.losses);
                }
                match stack.last_mut() {
                    Some(Frame::Map { path, key, dead }) => match key.take() {
                        None => *key = Some((value, origin)),
                        Some(_) if *dead => {}
                        Some((k, _)) if k == SKIP_KEY => {}
                        Some((k, at)) => {
                            if let Some(target) = values_target(&mut b, path.as_deref(), &k, at) {
                                pattern(&mut b, &target, &value, origin);
                            }
                        }
                    },
                    Some(Frame::Seq { path: Some(p) }) => {
                        let p = p.clone();
                        pattern(&mut b, &p, &value, origin);
                    }
                    _ => {}
                }
            }
        }
    }
    if !started {
        diags.error(
            Origin::default(),
            None,
            None,
            "the YAML is empty (expected a mapping of categories)",
        );
        return (None, b.losses);
    }
    b.finish(name, Semantics::Themes, diags)
}

/// The category id for key `key` under `parent`, created when new.
fn category(b: &mut Builder<'_>, parent: Option<&str>, key: &str, at: Origin) -> String {
    let name = match parent {
        Some(p) => format!("{p}.{key}"),
        None => key.to_string(),
    };
    let sanitized = super::convert::sanitize_id(&name);
    match b.find(&sanitized) {
        Some(ix) => b.id(ix).to_string(),
        None => {
            let ix = b.add_theme(&name, None, at);
            b.id(ix).to_string()
        }
    }
}

/// Where the values of key `key` go: the parent itself for `''`/`__`,
/// else the key's category. `None` for own values at the top level.
fn values_target(
    b: &mut Builder<'_>,
    parent: Option<&str>,
    key: &str,
    at: Origin,
) -> Option<String> {
    if key.is_empty() || key == "__" {
        match parent {
            Some(p) => Some(p.to_string()),
            None => {
                b.losses.push(Loss::lost(
                    at,
                    None,
                    None,
                    format!("top-level `{key}` values"),
                    "they belong to no category",
                ));
                None
            }
        }
    } else {
        Some(category(b, parent, key, at))
    }
}

fn pattern(b: &mut Builder<'_>, theme: &str, value: &str, origin: Origin) {
    let Some(ix) = b.find(theme) else { return };
    if value.trim().is_empty() || value == "~" || value == "null" {
        return;
    }
    if let Some(t) = b.term(value, 1.0, origin, Some(theme)) {
        b.push_term(ix, t);
    }
}

/// A YAML double-quoted string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Write `lex` as a quanteda YAML dictionary: the theme tree as nested
/// mappings, a parent's own terms under `__`.
pub fn write(lex: &Lexicon, tokenizer: &Tokenizer) -> Written {
    let mut r = Report::new("quanteda YAML");
    r.header(lex, false, Semantics::Themes);
    let order = tree(lex);
    let mut out = String::new();
    for (i, (id, ix)) in order.iter().enumerate() {
        let depth = id.matches('.').count();
        let indent = "  ".repeat(depth);
        let seg = id.rsplit('.').next().unwrap_or(id);
        let has_children = order.get(i + 1).is_some_and(|(next, _)| {
            next.starts_with(id.as_str()) && next.as_bytes().get(id.len()) == Some(&b'.')
        });
        let mut terms = Vec::new();
        if let Some(theme) = ix.map(|ix| &lex.themes[ix]) {
            r.theme(theme, false);
            for term in &theme.terms {
                r.lost_weight(id, term);
                if let Some(text) = export_text(term, id, tokenizer, &mut r, |s| !s.is_empty()) {
                    terms.push(text);
                }
            }
        }
        if has_children {
            out.push_str(&format!("{indent}{}:\n", quote(seg)));
            if !terms.is_empty() {
                out.push_str(&format!("{indent}  \"__\":\n"));
                for t in &terms {
                    out.push_str(&format!("{indent}    - {}\n", quote(t)));
                }
            }
        } else if terms.is_empty() {
            out.push_str(&format!("{indent}{}: []\n", quote(seg)));
        } else {
            out.push_str(&format!("{indent}{}:\n", quote(seg)));
            for t in &terms {
                out.push_str(&format!("{indent}  - {}\n", quote(t)));
            }
        }
    }
    Written {
        text: out,
        losses: r.losses,
    }
}
