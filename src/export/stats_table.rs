//! `stats.csv` and `stats_residuals.csv`: per theme, does presence depend
//! on the group (DESIGN 4, "Statistics per theme")?
//!
//! One test per (group column, question level, unit, theme): the levels of
//! that group column (every other group column pooled at `All`) against
//! presence of the theme. Unit is `responses`, and `respondents` when an id
//! column is given (a respondent carries a theme in a cell when any of
//! their answers there does). p-values are Holm- and BH-adjusted across the
//! themes of one (group column, question level, unit); degenerate tables
//! (theme everywhere or nowhere) are reported but not adjusted. Term
//! influence (responses only): the theme's largest entry (most hits over
//! the tested cells) is left out and the test run again.

use std::collections::BTreeMap;
use std::io::Write;

use super::fmt_f64;
use super::tables::TableContext;
use crate::aggregate::{Cell, CellKey, Level};
use crate::stats::{self, ContingencyResult, Test};

/// Significance level used for the `significant_without_largest` column.
pub const ALPHA: f64 = 0.05;

/// Columns of `stats.csv`.
pub const STATS_COLUMNS: &[&str] = &[
    "group_column",
    "question",
    "unit",
    "theme",
    "label",
    "n",
    "groups",
    "with_theme",
    "chi2",
    "df",
    "p_pearson",
    "cramers_v",
    "expected_min",
    "test",
    "p_exact",
    "p",
    "p_holm",
    "p_bh",
    "largest_entry",
    "p_without_largest",
    "significant_without_largest",
];

/// Columns of `stats_residuals.csv`.
pub const RESIDUAL_COLUMNS: &[&str] = &[
    "group_column",
    "question",
    "unit",
    "theme",
    "level",
    "with_theme",
    "total",
    "pct",
    "adjusted_residual",
];

fn test_name(t: Test) -> &'static str {
    match t {
        Test::Pearson => "pearson",
        Test::FreemanHalton => "freeman-halton",
        Test::PearsonFallback => "pearson (exact test too large)",
        Test::Degenerate => "none (theme in all or no answers)",
    }
}

struct Row<'a> {
    group_column: &'a str,
    question: String,
    unit: &'static str,
    theme: usize,
    present: Vec<u64>,
    totals: Vec<u64>,
    levels: Vec<String>,
    result: Option<ContingencyResult>,
    largest: Option<(String, Option<ContingencyResult>)>,
}

/// Write both statistics tables. `mask` masks counts below the
/// `--min-cell` threshold in the residual table.
pub fn write_stats<W: Write, R: Write>(
    w: W,
    residuals: R,
    ctx: &TableContext<'_>,
    cells: &BTreeMap<CellKey, Cell>,
    mask: &dyn Fn(u64) -> Option<String>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(w);
    let mut rw = csv::Writer::from_writer(residuals);
    let masking = ctx.min_cell.is_some();
    let with_masked = |cols: &[&str]| {
        let mut h: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        if masking {
            h.push("masked".into());
        }
        h
    };
    w.write_record(with_masked(STATS_COLUMNS))?;
    rw.write_record(with_masked(RESIDUAL_COLUMNS))?;
    let mut questions: Vec<(usize, Level)> = cells
        .keys()
        .map(|k| (k.question_order, k.question.clone()))
        .collect();
    questions.sort();
    questions.dedup();
    let themes = ctx.matcher.themes();
    for (gi, gname) in ctx.group_names.iter().enumerate() {
        for (qo, q) in &questions {
            // Cells: this group column at a value, the others at All.
            let picked: Vec<(&CellKey, &Cell)> = cells
                .iter()
                .filter(|(k, _)| {
                    k.question_order == *qo
                        && k.groups.iter().enumerate().all(|(j, l)| {
                            if j == gi {
                                matches!(l, Level::Value(_))
                            } else {
                                *l == Level::All
                            }
                        })
                })
                .collect();
            if picked.len() < 2 {
                continue;
            }
            let levels: Vec<String> = picked
                .iter()
                .map(|(k, _)| ctx.level(&k.groups[gi]).to_string())
                .collect();
            let units: &[&'static str] = if ctx.has_ids {
                &["responses", "respondents"]
            } else {
                &["responses"]
            };
            for &unit in units {
                let mut rows: Vec<Row<'_>> = Vec::new();
                for (t, _) in ctx.themes() {
                    let (present, totals): (Vec<u64>, Vec<u64>) = picked
                        .iter()
                        .map(|(_, c)| {
                            if unit == "responses" {
                                (c.themes[t].responses_with_theme, c.responses)
                            } else {
                                (c.respondents_with_theme(t), c.respondents())
                            }
                        })
                        .unzip();
                    let result = stats::presence_by_group(&present, &totals);
                    let largest = (unit == "responses")
                        .then(|| largest_entry(ctx, &picked, t))
                        .flatten()
                        .map(|(name, key)| {
                            let without: Vec<u64> = picked
                                .iter()
                                .map(|(_, c)| {
                                    c.themes[t].responses_with_theme
                                        - c.sole
                                            .get(&(t as u32, key.0, key.1))
                                            .copied()
                                            .unwrap_or(0)
                                })
                                .collect();
                            (name, stats::presence_by_group(&without, &totals))
                        });
                    rows.push(Row {
                        group_column: gname,
                        question: ctx.level(q).to_string(),
                        unit,
                        theme: t,
                        present,
                        totals,
                        levels: levels.clone(),
                        result,
                        largest,
                    });
                }
                let ps: Vec<f64> = rows
                    .iter()
                    .map(|r| match &r.result {
                        Some(res) if res.test != Test::Degenerate => res.p,
                        _ => f64::NAN,
                    })
                    .collect();
                let holm = stats::holm(&ps);
                let bh = stats::benjamini_hochberg(&ps);
                for (i, r) in rows.iter().enumerate() {
                    let theme = &themes[r.theme];
                    let (n, with) = (r.totals.iter().sum::<u64>(), r.present.iter().sum::<u64>());
                    let mut masked_cols: Vec<&str> = Vec::new();
                    let mut count = |name: &'static str, v: u64| match mask(v) {
                        Some(m) => {
                            masked_cols.push(name);
                            m
                        }
                        None => v.to_string(),
                    };
                    let mut rec = vec![
                        r.group_column.to_string(),
                        r.question.clone(),
                        r.unit.to_string(),
                        theme.id.clone(),
                        theme.label.clone().unwrap_or_default(),
                        count("n", n),
                        r.totals.iter().filter(|&&n| n > 0).count().to_string(),
                        count("with_theme", with),
                    ];
                    match &r.result {
                        Some(res) => rec.extend([
                            fmt_f64(res.chi2),
                            res.df.to_string(),
                            fmt_f64(res.p_pearson),
                            fmt_f64(res.cramers_v),
                            fmt_f64(res.expected_min),
                            test_name(res.test).to_string(),
                            res.exact_p.map(fmt_f64).unwrap_or_default(),
                            fmt_f64(res.p),
                            fmt_f64(holm[i]),
                            fmt_f64(bh[i]),
                        ]),
                        None => rec.extend(std::iter::repeat_n(String::new(), 10)),
                    }
                    match &r.largest {
                        Some((name, without)) => {
                            rec.push(name.clone());
                            match without {
                                Some(w) if w.test != Test::Degenerate => {
                                    rec.push(fmt_f64(w.p));
                                    rec.push(if w.p < ALPHA { "yes" } else { "no" }.into());
                                }
                                Some(_) => {
                                    rec.push("1".into());
                                    rec.push("no".into());
                                }
                                None => rec.extend([String::new(), String::new()]),
                            }
                        }
                        None => rec.extend([String::new(), String::new(), String::new()]),
                    }
                    if masking {
                        rec.push(masked_cols.join(";"));
                    }
                    w.write_record(&rec)?;
                    for (j, level) in r.levels.iter().enumerate() {
                        let resid = r
                            .result
                            .as_ref()
                            .map(|res| fmt_f64(res.residuals[j]))
                            .unwrap_or_default();
                        let (pr, tot) = (r.present[j], r.totals[j]);
                        // A masked count hides its percentage and residual
                        // too: from the residual and the margins the count
                        // could be solved for.
                        let masked = mask(pr).is_some() || mask(tot).is_some();
                        let mut rec = vec![
                            r.group_column.to_string(),
                            r.question.clone(),
                            r.unit.to_string(),
                            theme.id.clone(),
                            level.clone(),
                            mask(pr).unwrap_or_else(|| pr.to_string()),
                            mask(tot).unwrap_or_else(|| tot.to_string()),
                            if masked {
                                String::new()
                            } else {
                                super::pct(pr, tot)
                            },
                            if masked { String::new() } else { resid },
                        ];
                        if masking {
                            let mut cols = Vec::new();
                            if mask(pr).is_some() {
                                cols.push("with_theme");
                            }
                            if mask(tot).is_some() {
                                cols.push("total");
                            }
                            if masked {
                                cols.extend(["pct", "adjusted_residual"]);
                            }
                            rec.push(cols.join(";"));
                        }
                        rw.write_record(&rec)?;
                    }
                }
            }
        }
    }
    w.flush()?;
    rw.flush()?;
    Ok(())
}

/// The entry with the most hits for theme `t` (its subtree included) over
/// the picked cells: its text and (own theme, entry) key. Ties go to the
/// entry listed first (tree order of themes, then listing order).
fn largest_entry(
    ctx: &TableContext<'_>,
    picked: &[(&CellKey, &Cell)],
    t: usize,
) -> Option<(String, (u32, u32))> {
    let themes = ctx.matcher.themes();
    let in_subtree = |mut own: Option<u32>| {
        while let Some(o) = own {
            if o as usize == t {
                return true;
            }
            own = themes[o as usize].parent;
        }
        false
    };
    // Only the subtree's entries: a cell's entries are keyed by own theme
    // first, so each subtree theme's entries are one range.
    let subtree: Vec<u32> = (0..themes.len() as u32)
        .filter(|&o| in_subtree(Some(o)))
        .collect();
    let mut totals: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for (_, c) in picked {
        for &own in &subtree {
            for (&k, ec) in c.entries.range((own, 0)..=(own, u32::MAX)) {
                *totals.entry(k).or_default() += ec.hits;
            }
        }
    }
    let mut best: Option<((u32, u32), u64)> = None;
    for (k, h) in totals {
        if best.is_none_or(|(_, bh)| h > bh) {
            best = Some((k, h));
        }
    }
    best.map(|((own, e), _)| {
        let theme = &themes[own as usize];
        let name = if own as usize == t {
            theme.entries[e as usize].text.clone()
        } else {
            format!("{}: {}", theme.id, theme.entries[e as usize].text)
        };
        (name, (own, e))
    })
}
