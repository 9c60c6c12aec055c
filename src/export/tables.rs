//! The count tables of DESIGN 4 and 6: `themes_by_group.csv`,
//! `themes_by_group_wide.csv`, `terms_by_group.csv` and the terminal
//! summary.

use std::collections::BTreeMap;
use std::io::Write;

use super::{fmt_f64, pct, per_1000};
use crate::aggregate::{Cell, CellKey, Level};
use crate::matching::{Matcher, ThemeInfo};

/// What the table writers need besides the cells.
pub struct TableContext<'a> {
    /// The compiled lexicon (themes, entries).
    pub matcher: &'a Matcher,
    /// Group column names, in order.
    pub group_names: &'a [String],
    /// Label of the `All` level.
    pub all_label: &'a str,
    /// Only leaf themes in the tables.
    pub leaves_only: bool,
    /// An id column was given (respondent columns are filled).
    pub has_ids: bool,
    /// `--min-cell K`: counts below K are masked in published tables.
    pub min_cell: Option<u64>,
    /// `--excel-csv`: protect input-derived cells against formula injection.
    pub excel_csv: bool,
}

impl TableContext<'_> {
    /// The themes that appear in tables, with their index.
    pub fn themes(&self) -> impl Iterator<Item = (usize, &ThemeInfo)> {
        self.matcher
            .themes()
            .iter()
            .enumerate()
            .filter(move |(_, t)| !self.leaves_only || t.is_leaf)
    }

    /// A cell that comes from the input, protected against formula
    /// injection when `--excel-csv` is on.
    pub fn xl(&self, s: &str) -> String {
        if self.excel_csv {
            super::excel_safe(s).into_owned()
        } else {
            s.to_string()
        }
    }

    /// Is count `n` masked by `--min-cell`?
    pub fn masked(&self, n: u64) -> bool {
        self.min_cell.is_some_and(|k| n < k)
    }

    /// The `<K` text that stands for a masked count in the summary and XLSX.
    pub fn mask_text(&self) -> String {
        format!("<{}", self.min_cell.unwrap_or(0))
    }

    /// A level as written in tables.
    pub fn level<'b>(&'b self, l: &'b Level) -> &'b str {
        match l {
            Level::Value(v) => v,
            Level::All => self.all_label,
        }
    }
}

/// Columns of `themes_by_group.csv` after the group columns.
pub const LONG_COLUMNS: &[&str] = &[
    "question",
    "theme",
    "label",
    "responses",
    "responses_with_theme",
    "pct_responses",
    "respondents",
    "respondents_with_theme",
    "pct_respondents",
    "hits",
    "score",
    "negated_hits",
    "tokens",
    "hits_per_1000_tokens",
];

/// Write the long (tidy) table: one row per cell × theme. With
/// `--min-cell`, masked values are empty and a last column `masked` names
/// the masked columns of the row (`;`-separated).
pub fn write_long<W: Write>(
    w: W,
    ctx: &TableContext<'_>,
    cells: &BTreeMap<CellKey, Cell>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(w);
    let mut header: Vec<&str> = ctx.group_names.iter().map(String::as_str).collect();
    header.extend_from_slice(LONG_COLUMNS);
    if ctx.min_cell.is_some() {
        header.push("masked");
    }
    w.write_record(&header)?;
    let offset = ctx.group_names.len();
    let mut rec: Vec<String> = Vec::with_capacity(header.len());
    let mut masked: Vec<&str> = Vec::new();
    for (key, cell) in cells {
        let respondents = cell.respondents();
        for (t, theme) in ctx.themes() {
            let tc = &cell.themes[t];
            rec.clear();
            masked.clear();
            rec.extend(key.groups.iter().map(|l| ctx.xl(ctx.level(l))));
            rec.push(ctx.xl(ctx.level(&key.question)));
            rec.push(theme.id.clone());
            rec.push(theme.label.clone().unwrap_or_default());
            rec.push(cell.responses.to_string());
            rec.push(tc.responses_with_theme.to_string());
            rec.push(pct(tc.responses_with_theme, cell.responses));
            let with = cell.respondents_with_theme(t);
            if ctx.has_ids {
                rec.push(respondents.to_string());
                rec.push(with.to_string());
                rec.push(pct(with, respondents));
            } else {
                rec.extend([String::new(), String::new(), String::new()]);
            }
            rec.push(tc.hits.to_string());
            rec.push(fmt_f64(tc.score));
            rec.push(tc.negated_hits.to_string());
            rec.push(cell.tokens.to_string());
            rec.push(per_1000(tc.hits, cell.tokens));
            if ctx.min_cell.is_some() {
                // (column, count, columns derived from it)
                let mut checks = vec![
                    ("responses", cell.responses, &["pct_responses"][..]),
                    (
                        "responses_with_theme",
                        tc.responses_with_theme,
                        &["pct_responses"][..],
                    ),
                    ("hits", tc.hits, &["score", "hits_per_1000_tokens"][..]),
                    ("negated_hits", tc.negated_hits, &[][..]),
                ];
                if ctx.has_ids {
                    checks.push(("respondents", respondents, &["pct_respondents"][..]));
                    checks.push(("respondents_with_theme", with, &["pct_respondents"][..]));
                }
                for (col, n, derived) in checks {
                    if ctx.masked(n) {
                        for c in std::iter::once(&col).chain(derived) {
                            if !masked.contains(c) {
                                masked.push(c);
                            }
                        }
                    }
                }
                for c in &masked {
                    let i = offset
                        + LONG_COLUMNS
                            .iter()
                            .position(|x| x == c)
                            .expect("known column");
                    rec[i].clear();
                }
                rec.push(masked.join(";"));
            }
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The `n (p%)` text of the wide table and the summary.
pub fn n_pct(n: u64, of: u64) -> String {
    if of == 0 {
        format!("{n}")
    } else {
        format!("{n} ({:.1}%)", 100.0 * n as f64 / of as f64)
    }
}

/// The label of a combination of group levels in the wide table's header.
fn combo_label(ctx: &TableContext<'_>, groups: &[Level]) -> String {
    if groups.is_empty() {
        return ctx.all_label.to_string();
    }
    groups
        .iter()
        .map(|l| ctx.level(l))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Write the wide table: per question, a row `N` with the responses of each
/// group combination, then one row per theme with `n (p%)` per combination.
pub fn write_wide<W: Write>(
    w: W,
    ctx: &TableContext<'_>,
    cells: &BTreeMap<CellKey, Cell>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(w);
    // Column order: group combinations in table order.
    let mut combos: Vec<Vec<Level>> = Vec::new();
    for key in cells.keys() {
        if !combos.contains(&key.groups) {
            combos.push(key.groups.clone());
        }
    }
    combos.sort();
    let mut questions: Vec<(usize, Level)> = Vec::new();
    for key in cells.keys() {
        let q = (key.question_order, key.question.clone());
        if !questions.contains(&q) {
            questions.push(q);
        }
    }
    questions.sort();
    let mut header = vec!["question".to_string(), "theme".into(), "label".into()];
    header.extend(combos.iter().map(|c| combo_label(ctx, c)));
    if ctx.min_cell.is_some() {
        header.push("masked".into());
    }
    w.write_record(&header)?;
    for (order, q) in &questions {
        let cell = |groups: &Vec<Level>| {
            cells.get(&CellKey {
                groups: groups.clone(),
                question_order: *order,
                question: q.clone(),
            })
        };
        let mut rec = vec![ctx.xl(ctx.level(q)), "N".into(), "responses".into()];
        let mut masked = Vec::new();
        rec.extend(combos.iter().map(|c| {
            cell(c)
                .map(|cl| {
                    if ctx.masked(cl.responses) {
                        masked.push(combo_label(ctx, c));
                        String::new()
                    } else {
                        cl.responses.to_string()
                    }
                })
                .unwrap_or_default()
        }));
        if ctx.min_cell.is_some() {
            rec.push(masked.join(";"));
        }
        w.write_record(&rec)?;
        for (t, theme) in ctx.themes() {
            let mut rec = vec![
                ctx.xl(ctx.level(q)),
                theme.id.clone(),
                theme.label.clone().unwrap_or_default(),
            ];
            let mut masked = Vec::new();
            rec.extend(combos.iter().map(|c| {
                cell(c)
                    .map(|cl| {
                        let n = cl.themes[t].responses_with_theme;
                        if ctx.masked(n) || ctx.masked(cl.responses) {
                            masked.push(combo_label(ctx, c));
                            String::new()
                        } else {
                            n_pct(n, cl.responses)
                        }
                    })
                    .unwrap_or_default()
            }));
            if ctx.min_cell.is_some() {
                rec.push(masked.join(";"));
            }
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Write `terms_by_group.csv`: per cell, theme and entry with at least one
/// hit, the hits and the responses with a hit.
pub fn write_terms<W: Write>(
    w: W,
    ctx: &TableContext<'_>,
    cells: &BTreeMap<CellKey, Cell>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(w);
    let mut header: Vec<&str> = ctx.group_names.iter().map(String::as_str).collect();
    header.extend_from_slice(&["question", "theme", "entry", "hits", "responses"]);
    if ctx.min_cell.is_some() {
        header.push("masked");
    }
    w.write_record(&header)?;
    let themes = ctx.matcher.themes();
    for (key, cell) in cells {
        for (&(t, e), ec) in &cell.entries {
            let theme = &themes[t as usize];
            let mut rec: Vec<String> = key.groups.iter().map(|l| ctx.xl(ctx.level(l))).collect();
            rec.push(ctx.xl(ctx.level(&key.question)));
            rec.push(theme.id.clone());
            rec.push(theme.entries[e as usize].text.clone());
            let mut masked = Vec::new();
            for (name, n) in [("hits", ec.hits), ("responses", ec.responses)] {
                if ctx.masked(n) {
                    masked.push(name);
                    rec.push(String::new());
                } else {
                    rec.push(n.to_string());
                }
            }
            if ctx.min_cell.is_some() {
                rec.push(masked.join(";"));
            }
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The summary printed at the end of `code`: themes (indented by depth) ×
/// levels of the first group column (and `All`), `n (%)` of responses, for
/// the question level `All` (or the only question).
pub fn summary(ctx: &TableContext<'_>, cells: &BTreeMap<CellKey, Cell>) -> String {
    let n_groups = ctx.group_names.len();
    // Cells with every group but the first at All, question at All (or the
    // only question).
    let picked: Vec<(&CellKey, &Cell)> = cells
        .iter()
        .filter(|(k, _)| {
            k.groups.iter().skip(1).all(|l| *l == Level::All)
                && (k.question == Level::All || !cells.keys().any(|o| o.question == Level::All))
        })
        .collect();
    let mut header = vec!["theme".to_string()];
    let mut cols: Vec<&Cell> = Vec::new();
    for (k, c) in &picked {
        let name = if n_groups == 0 {
            ctx.all_label.to_string()
        } else {
            ctx.level(&k.groups[0]).to_string()
        };
        let n = if ctx.masked(c.responses) {
            ctx.mask_text()
        } else {
            c.responses.to_string()
        };
        header.push(format!("{name} (N={n})"));
        cols.push(c);
    }
    let mut rows = vec![header];
    for (t, theme) in ctx.themes() {
        let mut row = vec![format!("{}{}", "  ".repeat(theme.depth), theme.id)];
        row.extend(cols.iter().map(|c| {
            let n = c.themes[t].responses_with_theme;
            if ctx.masked(n) || ctx.masked(c.responses) {
                ctx.mask_text()
            } else {
                n_pct(n, c.responses)
            }
        }));
        rows.push(row);
    }
    render_table(&rows)
}

/// Left-align the first column, right-align the others.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
