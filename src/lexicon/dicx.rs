//! LIWC-22 `.dicx` reader and writer (DESIGN 2).
//!
//! A `.dicx` is CSV: a header `DicTerm,<category>,…`, then one row per
//! term whose cells are empty (not in the category), `X` (in it, weight 1)
//! or a number (in it, with that weight). Importing sets
//! `semantics = "liwc"`, as for a `.dic`. Category names become theme ids
//! as in [`super::dic`] (dots are levels; other odd characters become `_`,
//! with the name kept as the label and a note in the loss report).

use super::convert::{Builder, Loss, Report, Written, export_text, tree};
use super::{Diagnostics, Lexicon, Origin, Semantics};
use crate::tokenize::Tokenizer;

/// Parse a `.dicx` file's (decoded) text.
pub fn parse(
    text: &str,
    name: String,
    tokenizer: &Tokenizer,
    diags: &mut Diagnostics,
) -> (Option<Lexicon>, Vec<Loss>) {
    let mut b = Builder::new(tokenizer);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut cols: Vec<Option<usize>> = Vec::new();
    let mut header_seen = false;
    for (i, rec) in rdr.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                diags.error(
                    Origin { line, column: None },
                    None,
                    None,
                    format!("bad CSV: {e}"),
                );
                return (None, b.losses);
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(i + 1);
        let origin = Origin::at(line, 1);
        if !header_seen {
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            header_seen = true;
            let first = rec.get(0).unwrap_or("").trim();
            if !first.eq_ignore_ascii_case("dicterm") {
                diags.warning(
                    origin,
                    None,
                    None,
                    format!("the first header cell is `{first}`, expected `DicTerm`; the first column is read as the terms"),
                );
            }
            for (c, cell) in rec.iter().enumerate().skip(1) {
                let cell = cell.trim();
                if cell.is_empty() {
                    b.losses.push(Loss::lost(
                        Origin::at(line, c + 1),
                        None,
                        None,
                        format!("column {}", c + 1),
                        "it has no category name in the header",
                    ));
                    cols.push(None);
                } else {
                    cols.push(Some(b.add_theme(cell, None, Origin::at(line, c + 1))));
                }
            }
            continue;
        }
        let term = rec.get(0).unwrap_or("").trim();
        if term.is_empty() {
            if rec.iter().any(|c| !c.trim().is_empty()) {
                b.losses.push(Loss::lost(
                    origin,
                    None,
                    None,
                    "row dropped",
                    "it has no term",
                ));
            }
            continue;
        }
        let mut parsed = None;
        let mut any = false;
        for (c, cell) in rec.iter().enumerate().skip(1) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let at = Origin::at(line, c + 1);
            let Some(Some(ix)) = cols.get(c - 1).copied() else {
                b.losses.push(Loss::lost(
                    at,
                    None,
                    Some(term),
                    format!("cell `{cell}` in column {}", c + 1),
                    "the column has no category",
                ));
                continue;
            };
            let weight = if cell.eq_ignore_ascii_case("x") {
                1.0
            } else {
                match cell.parse::<f64>() {
                    Ok(w) if w.is_finite() => w,
                    _ => {
                        let id = b.id(ix).to_string();
                        b.losses.push(Loss::lost(
                            at,
                            Some(&id),
                            Some(term),
                            format!("cell `{cell}`"),
                            "a cell must be empty, `X` or a finite number",
                        ));
                        continue;
                    }
                }
            };
            any = true;
            if parsed.is_none() {
                let id = b.id(ix).to_string();
                match b.term(term, 1.0, origin, Some(&id)) {
                    Some(t) => parsed = Some(t),
                    None => break,
                }
            }
            if let Some(t) = &parsed {
                let mut t = t.clone();
                t.weight = weight;
                if !b.push_term(ix, t) {
                    let id = b.id(ix).to_string();
                    b.losses.push(Loss::changed(
                        origin,
                        Some(&id),
                        Some(term),
                        "duplicate row",
                        "the category already lists this term; the first row's weight is kept",
                    ));
                }
            }
        }
        if !any {
            b.losses.push(Loss::lost(
                origin,
                None,
                Some(term),
                "term dropped",
                "it is in no category",
            ));
        }
    }
    if !header_seen {
        diags.error(
            Origin::default(),
            None,
            None,
            "not a .dicx: the file is empty (expected a `DicTerm,…` header)",
        );
        return (None, b.losses);
    }
    b.finish(name, Semantics::Liwc, diags)
}

/// Write `lex` as a `.dicx`: one column per theme (tree order, theme ids as
/// names), one row per distinct term, `X` for weight 1 and the weight
/// otherwise.
pub fn write(lex: &Lexicon, tokenizer: &Tokenizer) -> Written {
    let mut r = Report::new("a .dicx");
    r.header(lex, false, Semantics::Liwc);
    let order = tree(lex);
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row_of = std::collections::HashMap::new();
    for (col, (id, ix)) in order.iter().enumerate() {
        let Some(theme) = ix.map(|ix| &lex.themes[ix]) else {
            continue;
        };
        r.theme(theme, false);
        for term in &theme.terms {
            let Some(text) = export_text(term, id, tokenizer, &mut r, |s| !s.is_empty()) else {
                continue;
            };
            let at = *row_of.entry(text.clone()).or_insert_with(|| {
                rows.push((text, vec![String::new(); order.len()]));
                rows.len() - 1
            });
            if rows[at].1[col].is_empty() {
                rows[at].1[col] = if term.weight == 1.0 {
                    "X".to_string()
                } else {
                    format!("{}", term.weight)
                };
            }
        }
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut header = vec!["DicTerm".to_string()];
    header.extend(order.iter().map(|(id, _)| id.clone()));
    let mut ok = w.write_record(&header).is_ok();
    for (text, cells) in &rows {
        let mut rec = vec![text.clone()];
        rec.extend(cells.iter().cloned());
        ok &= w.write_record(&rec).is_ok();
    }
    // Writing CSV into a Vec cannot fail; keep the result honest anyway.
    let bytes = w.into_inner().unwrap_or_default();
    debug_assert!(ok);
    Written {
        text: String::from_utf8(bytes).unwrap_or_default(),
        losses: r.losses,
    }
}
