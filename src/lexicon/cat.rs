//! WordStat `.cat` reader and writer (DESIGN 2).
//!
//! A `.cat` is an indented outline: a category name on its own line, its
//! entries and sub-categories indented one TAB deeper, each entry written
//! `TERM (weight)`:
//!
//! ```text
//! POSITIVE
//! →GOOD (1)
//! →EMOTION
//! →→HAPP* (2)
//! ```
//!
//! (`→` is a TAB.)
//!
//! Reading: a line ending in `(number)` is an entry; a line without one is
//! a category when the next line is indented deeper, else an entry of
//! weight 1 (at the top level, an empty category). Indentation is compared
//! by width, so spaces work as well as TABs. Lines starting with `@`
//! (WordStat rules, e.g. proximity rules) are not supported and go to the
//! loss report. Sub-categories become dotted theme ids (`POSITIVE.EMOTION`);
//! names are kept as written (WordStat's upper case included) unless they
//! need [`super::convert::sanitize_id`]. The semantics is `themes`.

use super::convert::{Builder, Loss, Report, Written, export_text, lines, tree};
use super::{Diagnostics, Lexicon, Origin, Semantics};
use crate::tokenize::Tokenizer;

/// `TERM (weight)` → (`TERM`, weight) when the line ends in a finite
/// number in parentheses.
fn split_weight(s: &str) -> Option<(&str, f64)> {
    let inner = s.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let w: f64 = inner[open + 1..].trim().parse().ok()?;
    w.is_finite().then(|| (inner[..open].trim_end(), w))
}

/// Parse a WordStat `.cat` file's (decoded) text.
pub fn parse(
    text: &str,
    name: String,
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> (Option<Lexicon>, Vec<Loss>) {
    let mut b = Builder::new(tokenizer);
    // (indent width, line, content) of each non-empty line.
    let items: Vec<(usize, usize, &str)> = lines(text)
        .filter_map(|(n, line)| {
            let content = line.trim();
            (!content.is_empty()).then(|| (line.len() - line.trim_start().len(), n, content))
        })
        .collect();
    // Enclosing categories: (indent width, theme index).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for (i, &(width, n, content)) in items.iter().enumerate() {
        let origin = Origin::at(n, width + 1);
        while stack.last().is_some_and(|&(w, _)| w >= width) {
            stack.pop();
        }
        let parent = stack.last().map(|&(_, ix)| ix);
        let parent_id = parent.map(|ix| b.id(ix).to_string());
        if content.starts_with('@') {
            b.losses.push(Loss::lost(
                origin,
                parent_id.as_deref(),
                None,
                format!("rule `{content}`"),
                "WordStat rules are not supported",
            ));
            continue;
        }
        let weighted = split_weight(content);
        let deeper_next = items.get(i + 1).is_some_and(|&(w, _, _)| w > width);
        let is_category = weighted.is_none() && (deeper_next || parent.is_none());
        if is_category {
            let full = match &parent_id {
                Some(p) => format!("{p}.{content}"),
                None => content.to_string(),
            };
            let ix = b.add_theme(&full, None, origin);
            stack.push((width, ix));
            continue;
        }
        let (term, weight) = weighted.unwrap_or((content, 1.0));
        let Some(ix) = parent else {
            b.losses.push(Loss::lost(
                origin,
                None,
                Some(term),
                "entry dropped",
                "it is not inside a category",
            ));
            continue;
        };
        let id = b.id(ix).to_string();
        if let Some(t) = b.term(term, weight, origin, Some(&id))
            && !b.push_term(ix, t)
        {
            b.losses.push(Loss::changed(
                origin,
                Some(&id),
                Some(term),
                "duplicate entry",
                "the category already lists this term; the first entry's weight is kept",
            ));
        }
    }
    if items.is_empty() {
        diags.error(Origin::default(), None, None, "the .cat file is empty");
        return (None, b.losses);
    }
    b.finish(name, Semantics::Themes, diags)
}

/// Write `lex` as a WordStat `.cat`: the theme tree as TAB-indented
/// categories (each named by the last segment of its id), every term as
/// `TERM (weight)`.
pub fn write(lex: &Lexicon, tokenizer: &Tokenizer) -> Written {
    let mut r = Report::new("a WordStat .cat");
    r.header(lex, false, Semantics::Themes);
    let mut out = String::new();
    let order = tree(lex);
    for (i, (id, ix)) in order.iter().enumerate() {
        let depth = id.matches('.').count();
        let seg = id.rsplit('.').next().unwrap_or(id);
        let mut entries = Vec::new();
        if let Some(theme) = ix.map(|ix| &lex.themes[ix]) {
            r.theme(theme, false);
            for term in &theme.terms {
                // A term must not look like a rule.
                let ok = |s: &str| !s.is_empty() && !s.starts_with('@');
                if let Some(text) = export_text(term, id, tokenizer, &mut r, ok) {
                    entries.push(format!("{text} ({})", term.weight));
                }
            }
        }
        let has_children = order.get(i + 1).is_some_and(|(next, _)| {
            next.len() > id.len()
                && next.starts_with(id.as_str())
                && next.as_bytes()[id.len()] == b'.'
        });
        if entries.is_empty() && !has_children {
            // A line with nothing under it would be read back as an entry
            // of the parent category.
            r.lost(
                Some(id),
                None,
                "category",
                "cannot hold a category with no entries",
            );
            continue;
        }
        out.push_str(&"\t".repeat(depth));
        out.push_str(seg);
        out.push('\n');
        for e in entries {
            out.push_str(&"\t".repeat(depth + 1));
            out.push_str(&e);
            out.push('\n');
        }
    }
    Written {
        text: out,
        losses: r.losses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert_eq!(split_weight("GOOD (1)"), Some(("GOOD", 1.0)));
        assert_eq!(split_weight("A B(2.5)"), Some(("A B", 2.5)));
        assert_eq!(split_weight("x (inf)"), None);
        assert_eq!(split_weight("x (a)"), None);
        assert_eq!(split_weight("x"), None);
    }
}
