//! LIWC `.dic` reader and writer (LIWC2001, LIWC2007, LIWC2015; DESIGN 2).
//!
//! A `.dic` is a header of `id<TAB>name` lines between two lines that are
//! just `%`, then one line per term: `term<TAB>id<TAB>id…`. The reader takes
//! every quirk of real files (see [`parse`]); the writer produces the plain
//! LIWC2015 shape (UTF-8, LF, TAB separators, `(Label)` after a name). What
//! neither direction can carry goes to the loss report ([`super::convert`]).
//!
//! Decisions:
//! - **Nesting.** LIWC2015 nests header categories with extra TABs
//!   (`2\t\tpronoun\t(Pronouns)` under `1\tfunction`). Its files list every
//!   word under each parent category as well, so turning the nesting into a
//!   thematic hierarchy (`function.pronoun`) would count such a word twice
//!   in `function` (DESIGN 3.4 adds children to parents). Categories
//!   therefore stay flat (`function`, `pronoun`) and the nesting goes to the
//!   loss report. A dotted name (`care.virtue`) is a hierarchy, as DESIGN 2
//!   says.
//! - **Ids.** Ids are compared as numbers when they are digits (`01` =
//!   `1`), as text otherwise. A term's id missing from the header is
//!   dropped from that term and reported (the `liwc` package crashes there;
//!   LIWC ignores it).
//! - **Conditionals.** Legacy fields `(02 134)125/464` and `<of>131/125`
//!   choose a category from the neighbouring word. They are not
//!   implemented: the field is dropped (neither branch is applied, never
//!   both) and reported; the term's plain ids still apply.
//! - **Separators.** A line with a TAB splits the term off at the first TAB,
//!   so a multi-word term (`a lot`) keeps its spaces. A line without any TAB
//!   (space-separated files) takes the longest run of trailing id fields as
//!   the ids and the rest as the term (`catch 22 5` is then ambiguous and
//!   read as `catch` in 22 and 5).

use std::collections::HashMap;

use super::convert::{Builder, Loss, Report, Written, export_text, tree};
use super::{Diagnostics, Lexicon, Origin, Semantics};
use crate::tokenize::Tokenizer;

/// A header id as compared: digits without leading zeros, or the text.
fn id_key(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let t = id.trim_start_matches('0');
        if t.is_empty() { "0".into() } else { t.into() }
    } else {
        id.to_string()
    }
}

/// Split the category part of an entry line into fields: whitespace
/// separates, but a `(…)` or `<…>` group stays with what follows it
/// (`(02 134)125/464`).
fn fields(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let close = match b[i] {
            b'(' => Some(b')'),
            b'<' => Some(b'>'),
            _ => None,
        };
        if let Some(c) = close {
            while i < b.len() && b[i] != c {
                i += 1;
            }
        }
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        // Only ASCII bytes delimit, so `start..i` are char boundaries.
        out.push(&s[start..i]);
    }
    out
}

fn is_conditional(field: &str) -> bool {
    field.starts_with('(') || field.starts_with('<')
}

/// Parse a `.dic` file's text. `name` becomes the lexicon's name; the
/// semantics is `liwc`. Quirks handled: a BOM and the encoding are dealt
/// with by [`super::convert::decode`] before; CR, LF or CRLF line ends;
/// runs of TABs or spaces as separators; zero-padded ids; lines before the
/// first `%` (skipped with a warning); the same term on several lines
/// (categories united); ids missing from the header; LIWC2015 nesting and
/// `(Long Label)`; multi-word terms; legacy conditionals (module doc).
pub fn parse(
    text: &str,
    name: String,
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> (Option<Lexicon>, Vec<Loss>) {
    let mut b = Builder::new(tokenizer);
    // State: 0 before the header, 1 in it, 2 in the terms.
    let mut state = 0;
    let mut ids: HashMap<String, (usize, usize)> = HashMap::new();
    // (depth, theme index) of the enclosing header categories.
    let mut nest: Vec<(usize, usize)> = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (n, line) in super::convert::lines(text) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let origin = Origin::at(n, 1);
        match state {
            0 => {
                if trimmed == "%" {
                    state = 1;
                } else {
                    diags.warning(
                        origin,
                        None,
                        None,
                        "text before the first `%` line is ignored",
                    );
                }
            }
            1 => {
                if trimmed == "%" {
                    state = 2;
                    continue;
                }
                header_line(line, origin, &mut b, &mut ids, &mut nest);
            }
            _ => entry_line(line, origin, &mut b, &ids, &mut first_line),
        }
    }
    if state < 2 {
        diags.error(
            Origin::default(),
            None,
            None,
            if state == 0 {
                "not a LIWC .dic: no line that is just `%` (the header must sit between two `%` lines)"
            } else {
                "the header has no closing `%` line"
            },
        );
        return (None, b.losses);
    }
    b.finish(name, Semantics::Liwc, diags)
}

fn header_line(
    line: &str,
    origin: Origin,
    b: &mut Builder<'_>,
    ids: &mut HashMap<String, (usize, usize)>,
    nest: &mut Vec<(usize, usize)>,
) {
    let lead = line.len() - line.trim_start().len();
    let lead_tabs = line[..lead].matches('\t').count();
    let rest = line.trim_start();
    let id_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let id = &rest[..id_end];
    let after = &rest[id_end..];
    let gap_len = after.len() - after.trim_start().len();
    let gap_tabs = after[..gap_len].matches('\t').count();
    let depth = lead_tabs + gap_tabs.saturating_sub(1);
    let body = after.trim();
    // `name (Long Label)`: the label starts at the first `(` after
    // whitespace and runs to the final `)`.
    let (cat_name, label) = match body.strip_suffix(')').and_then(|s| {
        s.char_indices()
            .find(|&(i, c)| c == '(' && i > 0 && s[..i].ends_with(char::is_whitespace))
            .map(|(i, _)| (s[..i].trim(), s[i + 1..].trim()))
    }) {
        Some((n, l)) => (n, (!l.is_empty()).then(|| l.to_string())),
        None => (body, None),
    };
    if cat_name.is_empty() {
        b.losses.push(Loss::lost(
            origin,
            None,
            None,
            format!("header line `{}`", line.trim()),
            "it has no category name",
        ));
        return;
    }
    let key = id_key(id);
    if let Some(&(_, first)) = ids.get(&key) {
        b.losses.push(Loss::lost(
            origin,
            None,
            None,
            format!("category `{cat_name}` with id {id}"),
            format!("id {id} is already declared on line {first}; this line is ignored"),
        ));
        return;
    }
    let ix = b.add_theme(cat_name, label, origin);
    ids.insert(key, (ix, origin.line.unwrap_or(0)));
    while nest.last().is_some_and(|&(d, _)| d >= depth) {
        nest.pop();
    }
    if let Some(&(_, parent)) = nest.last() {
        let parent = b.id(parent).to_string();
        let me = b.id(ix).to_string();
        b.losses.push(Loss::lost(
            origin,
            Some(&me),
            None,
            format!("nesting under `{parent}`"),
            "LIWC2015 header nesting is not kept: LIWC lists each word in every parent category itself, so a thematic hierarchy would count it twice",
        ));
    }
    nest.push((depth, ix));
}

fn entry_line(
    line: &str,
    origin: Origin,
    b: &mut Builder<'_>,
    ids: &HashMap<String, (usize, usize)>,
    first_line: &mut HashMap<String, usize>,
) {
    let is_cat = |f: &str| {
        is_conditional(f) || ids.contains_key(&id_key(f)) || f.bytes().all(|c| c.is_ascii_digit())
    };
    let (term, cats): (String, Vec<&str>) = match line.find('\t') {
        Some(i) if !line[..i].trim().is_empty() => {
            (line[..i].trim().to_string(), fields(&line[i + 1..]))
        }
        _ => {
            let fs = fields(line.trim());
            let mut k = fs.len();
            while k > 1 && is_cat(fs[k - 1]) {
                k -= 1;
            }
            (fs[..k].join(" "), fs[k..].to_vec())
        }
    };
    let mut themes = Vec::new();
    for f in &cats {
        if is_conditional(f) {
            b.losses.push(Loss::lost(
                origin,
                None,
                Some(&term),
                format!("conditional category `{f}`"),
                "legacy LIWC conditionals are not implemented; neither branch is applied",
            ));
        } else if let Some(&(ix, _)) = ids.get(&id_key(f)) {
            if !themes.contains(&ix) {
                themes.push(ix);
            }
        } else {
            b.losses.push(Loss::lost(
                origin,
                None,
                Some(&term),
                format!("category id `{f}`"),
                "the id is not declared in the header",
            ));
        }
    }
    if themes.is_empty() {
        b.losses.push(Loss::lost(
            origin,
            None,
            Some(&term),
            "term dropped",
            "it has no category declared in the header",
        ));
        return;
    }
    let first_id = b.id(themes[0]).to_string();
    let Some(parsed) = b.term(&term, 1.0, origin, Some(&first_id)) else {
        return;
    };
    let key = term.to_lowercase();
    let seen_on = first_line.get(&key).copied();
    let mut united = false;
    for ix in themes {
        united |= !b.push_term(ix, parsed.clone());
    }
    match seen_on {
        Some(first) => b.losses.push(Loss::changed(
            origin,
            None,
            Some(&term),
            format!("term also listed on line {first}"),
            if united {
                "duplicate lines are united: the term counts for the categories of all its lines"
            } else {
                "categories of all its lines are united"
            },
        )),
        None => {
            first_line.insert(key, origin.line.unwrap_or(0));
        }
    }
}

/// Write `lex` as a LIWC2015-style `.dic`: categories numbered 1… in tree
/// order with the theme id as name and the label as `(Label)`, then each
/// term once with the numbers of every theme that lists it.
pub fn write(lex: &Lexicon, tokenizer: &Tokenizer) -> Written {
    let mut r = Report::new("a .dic");
    r.header(lex, false, Semantics::Liwc);
    let order = tree(lex);
    let mut out = String::from("%\n");
    let mut number: HashMap<&str, usize> = HashMap::new();
    for (i, (id, _)) in order.iter().enumerate() {
        number.insert(id.as_str(), i + 1);
    }
    let mut lines: Vec<(String, Vec<usize>)> = Vec::new();
    let mut line_of: HashMap<String, usize> = HashMap::new();
    for (i, (id, ix)) in order.iter().enumerate() {
        out.push_str(&format!("{}\t{id}", i + 1));
        if let Some(theme) = ix.map(|ix| &lex.themes[ix]) {
            if let Some(label) = &theme.label {
                let label: String = label.split_whitespace().collect::<Vec<_>>().join(" ");
                if !label.is_empty() {
                    out.push_str(&format!("\t({label})"));
                }
            }
            r.theme(theme, true);
            for term in &theme.terms {
                r.lost_weight(id, term);
                let Some(text) =
                    export_text(term, id, tokenizer, &mut r, |s| !s.is_empty() && s != "%")
                else {
                    continue;
                };
                let at = *line_of.entry(text.clone()).or_insert_with(|| {
                    lines.push((text, Vec::new()));
                    lines.len() - 1
                });
                let n = number[id.as_str()];
                if !lines[at].1.contains(&n) {
                    lines[at].1.push(n);
                }
            }
        }
        out.push('\n');
    }
    out.push_str("%\n");
    for (text, nums) in lines {
        out.push_str(&text);
        for n in nums {
            out.push_str(&format!("\t{n}"));
        }
        out.push('\n');
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
    fn field_splitting() {
        assert_eq!(
            fields(" 12\t\t(02 134)125/464  <of>131/125 7"),
            ["12", "(02 134)125/464", "<of>131/125", "7"]
        );
        assert_eq!(fields("(unclosed 1"), ["(unclosed 1"]);
        assert_eq!(id_key("007"), "7");
        assert_eq!(id_key("000"), "0");
        assert_eq!(id_key("x1"), "x1");
    }
}
