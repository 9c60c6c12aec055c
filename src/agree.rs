//! `thematic agree`: how well the lexicon reproduces careful human coding.
//!
//! This module owns the validation loop of `docs/AGREE.md`:
//!
//! - reading the human codes, in long form (key columns + `theme`) or wide
//!   form (key columns + one 0/1 column per theme), with one coder or
//!   several (`coder` column), and the optional list of coded units that
//!   tells "coded as nothing" apart from "not coded" ([`read_human`],
//!   [`read_units`]);
//! - reading the automatic codes from a `thematic code` `responses.csv` and
//!   the `manifest.json` beside it ([`read_auto`]);
//! - joining both sides on key columns, and reporting (never dropping
//!   silently) unknown themes, keys missing on one side and duplicate keys
//!   ([`Issue`]);
//! - the per-theme and overall agreement tables, the disagreements with
//!   their text and matched entries, and the per-entry error table.
//!
//! It does not compute any statistic itself: the counts go to
//! [`crate::stats::Confusion`], [`crate::stats::krippendorff_alpha_nominal`]
//! and [`crate::stats::bootstrap_ci`]. It does not code answers either,
//! except to re-run the matcher on the original answers (`--data`) so that
//! a disagreement can name the entries that matched; that re-coding must
//! reproduce `responses.csv` exactly, or the run fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::export::fmt_f64;
use crate::export::tables::render_table;
use crate::ingest::{ColumnSpec, Input, ReadOptions, Reader};
use crate::matching::{Matcher, Scratch};
use crate::stats::{Confusion, bootstrap_ci, krippendorff_alpha_nominal};
use crate::tokenize::{Tokenizer, Tokens};

/// The values of the key columns of one unit (trimmed), in key order.
pub type Key = Vec<String>;

/// Everything an `agree` run needs.
#[derive(Clone, Debug)]
pub struct AgreeOptions {
    /// The automatic codes: a `responses.csv` written by `thematic code`.
    pub auto: PathBuf,
    /// The human codes (long or wide form).
    pub human: PathBuf,
    /// The units the humans coded (key columns, optionally `coder`); only
    /// for the long form. Without it, a unit counts as coded when it has at
    /// least one row in the human file.
    pub units: Option<PathBuf>,
    /// Key columns of `responses.csv`.
    pub key: Vec<String>,
    /// Key columns of the human (and units) file, in the same order as
    /// `key`; empty = the same names as `key`.
    pub human_key: Vec<String>,
    /// Name of the coder column in the human file (used when present).
    pub coder_column: String,
    /// The original answers, to list the text and matched entries of each
    /// disagreement; empty = no text, no entries.
    pub data: Vec<Input>,
    /// Column mapping of `data`; `None` = the one recorded in the
    /// manifest beside `auto`.
    pub data_columns: Option<ColumnSpec>,
    /// Field delimiter of `data`; `None` = from each file's extension.
    pub delimiter: Option<u8>,
    /// Lexicon used to re-code `data` (`None` = the bundled one).
    pub lexicon: Option<PathBuf>,
    /// Output folder.
    pub out_dir: PathBuf,
    /// Bootstrap resamples for the confidence intervals (0 = none).
    pub resamples: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for AgreeOptions {
    fn default() -> Self {
        AgreeOptions {
            auto: PathBuf::new(),
            human: PathBuf::new(),
            units: None,
            key: vec!["id".into(), "question".into()],
            human_key: Vec::new(),
            coder_column: "coder".into(),
            data: Vec::new(),
            data_columns: None,
            delimiter: None,
            lexicon: None,
            out_dir: PathBuf::from("thematic-agree"),
            resamples: 1000,
            seed: 20_240_601,
        }
    }
}

/// What kind of problem an [`Issue`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IssueKind {
    /// A human theme name that is neither a theme id nor a column of
    /// `responses.csv`; its codes are not compared.
    UnknownTheme,
    /// A key present more than once; the unit is not compared (auto side,
    /// wide human rows) or counted once (units list, long-form codes).
    DuplicateKey,
    /// A human-coded unit with no row in `responses.csv`.
    MissingAuto,
    /// A long-form code whose unit is not in the units list.
    NotInUnits,
    /// A theme of `responses.csv` without human codes: not compared.
    NotCompared,
}

impl IssueKind {
    /// The name written in `issues.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::UnknownTheme => "unknown_theme",
            IssueKind::DuplicateKey => "duplicate_key",
            IssueKind::MissingAuto => "missing_auto",
            IssueKind::NotInUnits => "not_in_units",
            IssueKind::NotCompared => "not_compared",
        }
    }
}

/// One reported problem of the inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// What is wrong.
    pub kind: IssueKind,
    /// The file it was found in.
    pub file: String,
    /// 1-based line, when one line is at fault.
    pub line: Option<u64>,
    /// The coder, when it concerns one.
    pub coder: String,
    /// The unit's key, when it concerns one.
    pub key: Key,
    /// The theme, when it concerns one.
    pub theme: String,
    /// Details for a reader.
    pub detail: String,
}

/// The layout of a human file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HumanForm {
    /// Key columns + `theme`: one row per code.
    Long,
    /// Key columns + one 0/1 column per theme: one row per unit.
    Wide,
}

/// One unit coded by one coder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HumanUnit {
    /// First line of the unit in the human file (0 = only in the units list).
    pub line: u64,
    /// Theme names as written (trimmed) that the coder assigned.
    pub themes: BTreeSet<String>,
}

/// The human codes, per coder.
#[derive(Clone, Debug)]
pub struct HumanCodes {
    /// Long or wide.
    pub form: HumanForm,
    /// Coder names in order of appearance (`human` when there is no coder
    /// column).
    pub coders: Vec<String>,
    /// Per coder (same order), the coded units.
    pub units: Vec<BTreeMap<Key, HumanUnit>>,
    /// Theme names (trimmed) in order of first appearance, with the line of
    /// their first use (0 for a wide column).
    pub themes: Vec<(String, u64)>,
    /// Problems found while reading.
    pub issues: Vec<Issue>,
}

/// One row of a units list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitsList {
    /// (coder or `None` for every coder, key); duplicates removed.
    pub units: Vec<(Option<String>, Key)>,
    /// Duplicates.
    pub issues: Vec<Issue>,
}

/// Name of the single coder when the human file has no coder column.
pub const SINGLE_CODER: &str = "human";

/// A whole small CSV file in memory: header and (line, trimmed fields).
struct Table {
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

fn delimiter_of(path: &Path) -> u8 {
    Input::Path(path.to_path_buf()).default_delimiter()
}

/// A CSV error as a row error naming the file and line.
fn csv_error(name: &str) -> impl Fn(csv::Error) -> Error + Copy + '_ {
    move |e: csv::Error| Error::Row {
        path: name.to_string(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

fn read_table(rdr: impl Read, name: &str, delimiter: u8) -> Result<Table, Error> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(rdr);
    let bad = csv_error(name);
    let header: Vec<String> = r
        .headers()
        .map_err(bad)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        let line = rec.position().map_or(0, |p| p.line());
        rows.push((line, rec.iter().map(|f| f.trim().to_string()).collect()));
    }
    Ok(Table { header, rows })
}

fn column(header: &[String], name: &str, file: &str, what: &str) -> Result<usize, Error> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| Error::Column {
            input: file.to_string(),
            message: format!("no {what} column `{name}`"),
            columns: header.to_vec(),
        })
}

fn key_columns(header: &[String], key: &[String], file: &str) -> Result<Vec<usize>, Error> {
    key.iter().map(|k| column(header, k, file, "key")).collect()
}

fn issue(kind: IssueKind, file: &str, line: Option<u64>) -> Issue {
    Issue {
        kind,
        file: file.to_string(),
        line,
        coder: String::new(),
        key: Vec::new(),
        theme: String::new(),
        detail: String::new(),
    }
}

/// Read a units list: key columns and, optionally, the coder column.
pub fn read_units(
    rdr: impl Read,
    name: &str,
    key: &[String],
    coder_column: &str,
    delimiter: u8,
) -> Result<UnitsList, Error> {
    let t = read_table(rdr, name, delimiter)?;
    let kc = key_columns(&t.header, key, name)?;
    let cc = t.header.iter().position(|h| h == coder_column);
    let mut seen: HashMap<(Option<String>, Key), u64> = HashMap::new();
    let mut out = UnitsList {
        units: Vec::new(),
        issues: Vec::new(),
    };
    for (line, f) in t.rows {
        let coder = cc.map(|c| f[c].clone());
        let k: Key = kc.iter().map(|&i| f[i].clone()).collect();
        if let Some(first) = seen.get(&(coder.clone(), k.clone())) {
            let mut i = issue(IssueKind::DuplicateKey, name, Some(line));
            i.coder = coder.unwrap_or_default();
            i.key = k;
            i.detail = format!("unit listed again (first on line {first}); counted once");
            out.issues.push(i);
            continue;
        }
        seen.insert((coder.clone(), k.clone()), line);
        out.units.push((coder, k));
    }
    Ok(out)
}

/// Read human codes. The form is long when the file has a `theme` column,
/// else wide. `units`, when given (long form only), is the list of coded
/// units: every listed unit is coded (maybe with no theme), codes of
/// unlisted units are reported and not used.
pub fn read_human(
    rdr: impl Read,
    name: &str,
    key: &[String],
    coder_column: &str,
    delimiter: u8,
    units: Option<&UnitsList>,
) -> Result<HumanCodes, Error> {
    let t = read_table(rdr, name, delimiter)?;
    let kc = key_columns(&t.header, key, name)?;
    let cc = t.header.iter().position(|h| h == coder_column);
    let theme_col = t.header.iter().position(|h| h == "theme");
    let form = if theme_col.is_some() {
        HumanForm::Long
    } else {
        HumanForm::Wide
    };
    if form == HumanForm::Wide && units.is_some() {
        return Err(Error::Usage(format!(
            "{name} is a wide file (no `theme` column): each row is a coded unit, so a units list is only for the long form"
        )));
    }
    let mut h = HumanCodes {
        form,
        coders: Vec::new(),
        units: Vec::new(),
        themes: Vec::new(),
        issues: Vec::new(),
    };
    let mut coder_ix: HashMap<String, usize> = HashMap::new();
    fn coder_of(h: &mut HumanCodes, ix: &mut HashMap<String, usize>, name: &str) -> usize {
        *ix.entry(name.to_string()).or_insert_with(|| {
            h.coders.push(name.to_string());
            h.units.push(BTreeMap::new());
            h.coders.len() - 1
        })
    }
    if let Some(u) = units {
        // Coders named in the units list exist even without codes.
        for (c, _) in &u.units {
            if let Some(c) = c {
                coder_of(&mut h, &mut coder_ix, c);
            }
        }
    }
    let row_coder = |f: &[String]| cc.map_or(SINGLE_CODER.to_string(), |c| f[c].clone());
    match form {
        HumanForm::Long => {
            let tc = theme_col.expect("long form has a theme column");
            let mut theme_seen: HashMap<String, ()> = HashMap::new();
            let mut codes: HashMap<(usize, Key, String), u64> = HashMap::new();
            for (line, f) in &t.rows {
                let c = coder_of(&mut h, &mut coder_ix, &row_coder(f));
                let k: Key = kc.iter().map(|&i| f[i].clone()).collect();
                let theme = f[tc].clone();
                if !theme.is_empty() && theme_seen.insert(theme.clone(), ()).is_none() {
                    h.themes.push((theme.clone(), *line));
                }
                if let Some(first) = codes.get(&(c, k.clone(), theme.clone())) {
                    let mut i = issue(IssueKind::DuplicateKey, name, Some(*line));
                    i.coder = h.coders[c].clone();
                    i.key = k;
                    i.theme = theme;
                    i.detail = format!("code repeated (first on line {first}); counted once");
                    h.issues.push(i);
                    continue;
                }
                codes.insert((c, k.clone(), theme.clone()), *line);
                let unit = h.units[c].entry(k).or_insert_with(|| HumanUnit {
                    line: *line,
                    themes: BTreeSet::new(),
                });
                // An empty theme cell records a unit coded with no theme.
                if !theme.is_empty() {
                    unit.themes.insert(theme);
                }
            }
            if let Some(u) = units {
                let n_coders = h.coders.len().max(1);
                if h.coders.is_empty() {
                    coder_of(&mut h, &mut coder_ix, SINGLE_CODER);
                }
                let mut listed: Vec<BTreeSet<Key>> = vec![BTreeSet::new(); n_coders];
                for (c, k) in &u.units {
                    match c {
                        Some(c) => {
                            listed[coder_ix[c]].insert(k.clone());
                        }
                        None => listed.iter_mut().for_each(|l| {
                            l.insert(k.clone());
                        }),
                    }
                }
                for (c, listed) in listed.iter().enumerate() {
                    let coded = std::mem::take(&mut h.units[c]);
                    for (k, unit) in coded {
                        if listed.contains(&k) {
                            h.units[c].insert(k, unit);
                        } else {
                            let mut i = issue(IssueKind::NotInUnits, name, Some(unit.line));
                            i.coder = h.coders[c].clone();
                            i.key = k;
                            i.theme = unit.themes.iter().cloned().collect::<Vec<_>>().join("; ");
                            i.detail =
                                "unit has codes but is not in the units list: not compared".into();
                            h.issues.push(i);
                        }
                    }
                    for k in listed {
                        h.units[c].entry(k.clone()).or_default();
                    }
                }
            }
        }
        HumanForm::Wide => {
            let theme_cols: Vec<usize> = (0..t.header.len())
                .filter(|i| !kc.contains(i) && Some(*i) != cc)
                .collect();
            for &i in &theme_cols {
                h.themes.push((t.header[i].clone(), 0));
            }
            let mut first: HashMap<(usize, Key), u64> = HashMap::new();
            let mut dup: BTreeSet<(usize, Key)> = BTreeSet::new();
            for (line, f) in &t.rows {
                let c = coder_of(&mut h, &mut coder_ix, &row_coder(f));
                let k: Key = kc.iter().map(|&i| f[i].clone()).collect();
                let mut themes = BTreeSet::new();
                for &i in &theme_cols {
                    match f[i].as_str() {
                        "1" => {
                            themes.insert(t.header[i].clone());
                        }
                        "0" => {}
                        v => {
                            return Err(Error::Row {
                                path: name.to_string(),
                                line: *line,
                                message: format!(
                                    "column `{}`: expected 0 or 1, found `{v}`",
                                    t.header[i]
                                ),
                            });
                        }
                    }
                }
                if let Some(l) = first.get(&(c, k.clone())) {
                    let mut i = issue(IssueKind::DuplicateKey, name, Some(*line));
                    i.coder = h.coders[c].clone();
                    i.key = k.clone();
                    i.detail = format!("unit coded again (first on line {l}): not compared");
                    h.issues.push(i);
                    dup.insert((c, k));
                    continue;
                }
                first.insert((c, k.clone()), *line);
                h.units[c].insert(
                    k,
                    HumanUnit {
                        line: *line,
                        themes,
                    },
                );
            }
            for (c, k) in dup {
                h.units[c].remove(&k);
            }
        }
    }
    if h.coders.is_empty() {
        coder_of(&mut h, &mut coder_ix, SINGLE_CODER);
    }
    Ok(h)
}

/// The automatic codes of the units the humans coded.
#[derive(Clone, Debug)]
pub struct AutoCodes {
    /// Theme ids of the theme columns, in file order.
    pub themes: Vec<String>,
    /// The column name of each theme (same order).
    pub columns: Vec<String>,
    /// Wanted units found: key → (line, row column value, presence per
    /// theme).
    pub units: BTreeMap<Key, AutoUnit>,
    /// Units of `responses.csv` not wanted (not human-coded).
    pub other_units: u64,
    /// Duplicate keys among wanted units (they are removed from `units`).
    pub issues: Vec<Issue>,
}

/// One row of `responses.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoUnit {
    /// 1-based line.
    pub line: u64,
    /// The `row` column (the data row number), empty when absent.
    pub row: String,
    /// Presence (hits > 0) per theme, in [`AutoCodes::themes`] order.
    pub present: Vec<bool>,
}

/// Read `responses.csv`, keeping the units in `wanted`. `mapping` maps
/// column names to theme ids (from the manifest); `None` = theme columns
/// are those after `coded_pct` (or every non-key column), named by id.
pub fn read_auto(
    rdr: impl Read,
    name: &str,
    key: &[String],
    mapping: Option<&[(String, String)]>,
    wanted: &BTreeSet<Key>,
) -> Result<AutoCodes, Error> {
    let mut r = csv::ReaderBuilder::new().from_reader(rdr);
    let bad = csv_error(name);
    let header: Vec<String> = r
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    let kc = key_columns(&header, key, name)?;
    let row_col = header.iter().position(|h| h == "row");
    let mut theme_cols: Vec<(usize, String)> = Vec::new();
    match mapping {
        Some(m) => {
            for (col, theme) in m {
                if let Some(i) = header.iter().position(|h| h == col) {
                    theme_cols.push((i, theme.clone()));
                }
            }
        }
        None => {
            let start = header
                .iter()
                .position(|h| h == "coded_pct")
                .map_or(0, |i| i + 1);
            let fixed = ["row", "id", "question", "tokens", "coded_pct"];
            for (i, h) in header.iter().enumerate().skip(start) {
                if !kc.contains(&i) && !fixed.contains(&h.as_str()) {
                    theme_cols.push((i, h.clone()));
                }
            }
        }
    }
    let mut out = AutoCodes {
        themes: theme_cols.iter().map(|t| t.1.clone()).collect(),
        columns: theme_cols.iter().map(|t| header[t.0].clone()).collect(),
        units: BTreeMap::new(),
        other_units: 0,
        issues: Vec::new(),
    };
    let mut dup: BTreeSet<Key> = BTreeSet::new();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(bad)? {
        let line = rec.position().map_or(0, |p| p.line());
        let k: Key = kc
            .iter()
            .map(|&i| rec.get(i).unwrap_or("").trim().to_string())
            .collect();
        if !wanted.contains(&k) {
            out.other_units += 1;
            continue;
        }
        let mut present = Vec::with_capacity(theme_cols.len());
        for (i, _) in &theme_cols {
            let v = rec.get(*i).unwrap_or("").trim();
            let x: f64 = v.parse().map_err(|_| Error::Row {
                path: name.to_string(),
                line,
                message: format!("column `{}`: expected a number, found `{v}`", header[*i]),
            })?;
            present.push(x > 0.0);
        }
        if let Some(first) = out.units.get(&k) {
            let mut i = issue(IssueKind::DuplicateKey, name, Some(line));
            i.key = k.clone();
            i.detail = format!("key repeated (first on line {}): not compared", first.line);
            out.issues.push(i);
            dup.insert(k);
            continue;
        }
        let row = row_col.and_then(|c| rec.get(c)).unwrap_or("").to_string();
        out.units.insert(k, AutoUnit { line, row, present });
    }
    for k in dup {
        out.units.remove(&k);
    }
    Ok(out)
}

/// Agreement of the lexicon with one coder on one theme (or overall).
#[derive(Clone, Debug)]
pub struct ThemeAgreement {
    /// The coder.
    pub coder: String,
    /// The theme id (empty for overall rows).
    pub theme: String,
    /// `theme`, `micro` or `macro`.
    pub level: &'static str,
    /// Counts (summed over themes for `micro`; `None` for `macro`).
    pub confusion: Option<Confusion>,
    /// Percent agreement (0–100).
    pub pct_agreement: Option<f64>,
    /// Cohen's kappa.
    pub kappa: Option<f64>,
    /// Bootstrap 95% interval of kappa.
    pub kappa_ci: Option<(f64, f64)>,
    /// Krippendorff's alpha (nominal, lexicon and coder as two coders).
    pub alpha: Option<f64>,
    /// Bootstrap 95% interval of alpha.
    pub alpha_ci: Option<(f64, f64)>,
    /// Precision with the coder as reference.
    pub precision: Option<f64>,
    /// Recall with the coder as reference.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
    /// Percent of units the lexicon codes with the theme.
    pub pct_auto: Option<f64>,
    /// Percent of units the coder codes with the theme.
    pub pct_human: Option<f64>,
    /// Human–human agreement, when there are several coders.
    pub human: Option<HumanHuman>,
}

/// Agreement among the human coders on one theme.
#[derive(Clone, Debug)]
pub struct HumanHuman {
    /// Coders.
    pub coders: usize,
    /// Units coded by at least two coders.
    pub units: usize,
    /// Krippendorff's alpha among the coders.
    pub alpha: Option<f64>,
    /// Its bootstrap 95% interval.
    pub alpha_ci: Option<(f64, f64)>,
}

/// What a finished run reports back.
#[derive(Debug)]
pub struct AgreeReport {
    /// The terminal summary.
    pub summary: String,
    /// The rows of `agreement.csv`.
    pub rows: Vec<ThemeAgreement>,
    /// Every reported problem (also in `issues.csv`).
    pub issues: Vec<Issue>,
    /// Units compared, per coder.
    pub matched_units: Vec<(String, usize)>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

/// One compared unit of one coder: presence per compared theme.
struct Pair {
    key: Key,
    auto: Vec<bool>,
    human: Vec<bool>,
}

fn confusion(pairs: &[Pair], idx: impl Iterator<Item = usize> + Clone, t: usize) -> Confusion {
    let mut c = Confusion::default();
    for u in idx {
        match (pairs[u].auto[t], pairs[u].human[t]) {
            (true, true) => c.both += 1,
            (true, false) => c.auto_only += 1,
            (false, true) => c.human_only += 1,
            (false, false) => c.neither += 1,
        }
    }
    c
}

fn alpha_of(pairs: &[Pair], idx: &[usize], themes: &[usize]) -> Option<f64> {
    let units: Vec<Vec<Option<u32>>> = idx
        .iter()
        .flat_map(|&u| {
            themes.iter().map(move |&t| {
                vec![
                    Some(u32::from(pairs[u].auto[t])),
                    Some(u32::from(pairs[u].human[t])),
                ]
            })
        })
        .collect();
    krippendorff_alpha_nominal(&units)
}

fn theme_row(
    coder: &str,
    theme: &str,
    level: &'static str,
    pairs: &[Pair],
    themes: &[usize],
    opts: &AgreeOptions,
) -> ThemeAgreement {
    let all: Vec<usize> = (0..pairs.len()).collect();
    let pooled = |idx: &[usize]| {
        let mut c = Confusion::default();
        for &t in themes {
            let x = confusion(pairs, idx.iter().copied(), t);
            c.both += x.both;
            c.auto_only += x.auto_only;
            c.human_only += x.human_only;
            c.neither += x.neither;
        }
        c
    };
    let c = pooled(&all);
    let kappa_ci = bootstrap_ci(pairs.len(), opts.resamples, opts.seed, |idx| {
        pooled(idx).cohen_kappa()
    });
    let alpha_ci = bootstrap_ci(pairs.len(), opts.resamples, opts.seed, |idx| {
        alpha_of(pairs, idx, themes)
    });
    ThemeAgreement {
        coder: coder.to_string(),
        theme: theme.to_string(),
        level,
        confusion: Some(c),
        pct_agreement: c.agreement().map(|a| 100.0 * a),
        kappa: c.cohen_kappa(),
        kappa_ci,
        alpha: alpha_of(pairs, &all, themes),
        alpha_ci,
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        pct_auto: c.prevalence_auto().map(|a| 100.0 * a),
        pct_human: c.prevalence_human().map(|a| 100.0 * a),
        human: None,
    }
}

fn mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn macro_row(coder: &str, rows: &[ThemeAgreement]) -> ThemeAgreement {
    ThemeAgreement {
        coder: coder.to_string(),
        theme: String::new(),
        level: "macro",
        confusion: None,
        pct_agreement: mean(rows.iter().map(|r| r.pct_agreement)),
        kappa: mean(rows.iter().map(|r| r.kappa)),
        kappa_ci: None,
        alpha: mean(rows.iter().map(|r| r.alpha)),
        alpha_ci: None,
        precision: mean(rows.iter().map(|r| r.precision)),
        recall: mean(rows.iter().map(|r| r.recall)),
        f1: mean(rows.iter().map(|r| r.f1)),
        pct_auto: mean(rows.iter().map(|r| r.pct_auto)),
        pct_human: mean(rows.iter().map(|r| r.pct_human)),
        human: None,
    }
}

/// Human–human alpha for the themes `themes` (indexes into `names`),
/// pooled as (unit, theme) pairs, over every unit at least one coder coded.
fn human_human(h: &HumanCodes, names: &[&BTreeSet<String>], opts: &AgreeOptions) -> HumanHuman {
    let keys: BTreeSet<&Key> = h.units.iter().flat_map(|u| u.keys()).collect();
    let keys: Vec<&Key> = keys.into_iter().collect();
    let value = |k: &Key, c: usize, t: &BTreeSet<String>| {
        h.units[c]
            .get(k)
            .map(|u| u32::from(u.themes.iter().any(|x| t.contains(x))))
    };
    let build = |idx: &[usize]| -> Vec<Vec<Option<u32>>> {
        let mut out = Vec::with_capacity(idx.len() * names.len());
        for &u in idx {
            for t in names {
                out.push((0..h.coders.len()).map(|c| value(keys[u], c, t)).collect());
            }
        }
        out
    };
    let all: Vec<usize> = (0..keys.len()).collect();
    let units = keys
        .iter()
        .filter(|k| h.units.iter().filter(|u| u.contains_key(**k)).count() >= 2)
        .count();
    HumanHuman {
        coders: h.coders.len(),
        units,
        alpha: krippendorff_alpha_nominal(&build(&all)),
        alpha_ci: bootstrap_ci(keys.len(), opts.resamples, opts.seed, |idx| {
            krippendorff_alpha_nominal(&build(idx))
        }),
    }
}

/// The manifest's theme columns and data columns.
struct ManifestInfo {
    columns: Vec<(String, String)>,
    spec: ColumnSpec,
}

fn read_manifest(auto: &Path) -> Result<Option<ManifestInfo>, Error> {
    let path = auto.with_file_name("manifest.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let bad = |m: &str| Error::Input {
        path: path.display().to_string(),
        message: m.to_string(),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let columns = v["columns"]
        .as_array()
        .ok_or_else(|| bad("no `columns` list"))?
        .iter()
        .map(|c| {
            Some((
                c["column"].as_str()?.to_string(),
                c["theme"].as_str()?.to_string(),
            ))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a `columns` entry lacks `column` or `theme`"))?;
    let o = &v["options"];
    let strs = |x: &serde_json::Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let spec = ColumnSpec {
        text: strs(&o["text"]),
        id: o["id"].as_str().map(str::to_string),
        groups: strs(&o["groups"]),
        question: o["question"].as_str().map(str::to_string),
    };
    Ok(Some(ManifestInfo { columns, spec }))
}

fn open(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))
}

/// The original answers of the compared units: key → (text, data line).
fn read_data(
    opts: &AgreeOptions,
    spec: ColumnSpec,
    wanted: &BTreeSet<Key>,
    issues: &mut Vec<Issue>,
) -> Result<HashMap<Key, String>, Error> {
    let read_opts = ReadOptions {
        delimiter: opts.delimiter,
        ..ReadOptions::default()
    };
    let mut reader = Reader::new(opts.data.clone(), spec, read_opts)?;
    let header = reader.header().to_vec();
    let layout = reader.layout().clone();
    let group_names: Vec<String> = layout.groups.iter().map(|&i| header[i].clone()).collect();
    for k in &opts.key {
        let known = k == "row" || k == "id" || k == "question" || group_names.contains(k);
        if !known || (k == "id" && layout.id.is_none()) {
            return Err(Error::Usage(format!(
                "key column `{k}` cannot be found in --data: a key must be row, id (with an id column), question or a group column"
            )));
        }
    }
    let mut out: HashMap<Key, String> = HashMap::new();
    let mut dup: BTreeSet<Key> = BTreeSet::new();
    while let Some(batch) = reader.next_batch()? {
        for row in batch.rows() {
            let l = &row.layout;
            for (col, col_name) in &l.text {
                let question = l
                    .question
                    .map_or(col_name.clone(), |q| row.field(q).0.into_owned());
                let k: Key = opts
                    .key
                    .iter()
                    .map(|k| match k.as_str() {
                        "row" => row.row.to_string(),
                        "id" => row.field(l.id.expect("checked")).0.trim().to_string(),
                        "question" => question.trim().to_string(),
                        g => {
                            let gi = group_names.iter().position(|n| n == g).expect("checked");
                            row.field(l.groups[gi]).0.trim().to_string()
                        }
                    })
                    .collect();
                if !wanted.contains(&k) {
                    continue;
                }
                let text = row.field(*col).0.into_owned();
                if text.trim().is_empty() {
                    continue;
                }
                if out.insert(k.clone(), text).is_some() && dup.insert(k.clone()) {
                    let mut i = issue(
                        IssueKind::DuplicateKey,
                        &Input::display(&opts.data[row.input]),
                        Some(row.line),
                    );
                    i.key = k;
                    i.detail = "key repeated in --data: no text listed for it".into();
                    issues.push(i);
                }
            }
        }
    }
    for k in dup {
        out.remove(&k);
    }
    Ok(out)
}

/// What the matcher found for one answer and one theme.
#[derive(Clone, Debug, Default)]
struct Found {
    /// Entries of non-negated matches (with repeats), `theme:entry` for a
    /// descendant's entry.
    entries: Vec<String>,
    /// The matched text of each.
    matched: Vec<String>,
    /// Entries of negated matches.
    negated: Vec<String>,
}

struct Recoder {
    tokenizer: Tokenizer,
    matcher: Matcher,
    /// Matcher theme index of each compared theme id.
    index: HashMap<String, usize>,
}

impl Recoder {
    /// Presence and what was found, per compared theme.
    /// `scratch` is reused from text to text (the matcher's memo lives
    /// there).
    fn code(&self, text: &str, themes: &[String], scratch: &mut Scratch) -> Vec<(bool, Found)> {
        let mut tokens = Tokens::new();
        self.tokenizer.tokenize(text, &mut tokens);
        let mut matches = Vec::new();
        self.matcher.find(text, &tokens, scratch, &mut matches);
        let mut counts = Vec::new();
        self.matcher.tally(&matches, &mut counts);
        let info = self.matcher.themes();
        let under = |mut m: usize, t: usize| loop {
            if m == t {
                return true;
            }
            match info[m].parent {
                Some(p) => m = p as usize,
                None => return false,
            }
        };
        themes
            .iter()
            .map(|id| {
                let Some(&t) = self.index.get(id) else {
                    return (false, Found::default());
                };
                let mut f = Found::default();
                for m in matches.iter().filter(|m| under(m.theme as usize, t)) {
                    let th = &info[m.theme as usize];
                    let e = &th.entries[m.entry as usize].text;
                    let e = if m.theme as usize == t {
                        e.clone()
                    } else {
                        format!("{}:{e}", th.id)
                    };
                    if m.negated {
                        f.negated.push(e);
                    } else {
                        f.entries.push(e);
                        // `get`: a tokenizer whose offsets are not char boundaries must
                        // not make this panic.
                        f.matched
                            .push(text.get(m.byte_start..m.byte_end).unwrap_or("").to_string());
                    }
                }
                (counts[t].hits > 0, f)
            })
            .collect()
    }
}

/// Run `thematic agree`.
pub fn run(opts: &AgreeOptions) -> Result<AgreeReport, Error> {
    if opts.key.is_empty() {
        return Err(Error::Usage("--key names no column".into()));
    }
    let human_key = if opts.human_key.is_empty() {
        &opts.key
    } else {
        &opts.human_key
    };
    if human_key.len() != opts.key.len() {
        return Err(Error::Usage(format!(
            "--human-key names {} column(s) but --key names {}: they are matched in order",
            human_key.len(),
            opts.key.len()
        )));
    }
    let human_name = opts.human.display().to_string();
    let auto_name = opts.auto.display().to_string();
    let mut issues: Vec<Issue> = Vec::new();

    // Human side.
    let units = match &opts.units {
        None => None,
        Some(p) => {
            let u = read_units(
                open(p)?,
                &p.display().to_string(),
                human_key,
                &opts.coder_column,
                delimiter_of(p),
            )?;
            issues.extend(u.issues.iter().cloned());
            Some(u)
        }
    };
    let human = read_human(
        open(&opts.human)?,
        &human_name,
        human_key,
        &opts.coder_column,
        delimiter_of(&opts.human),
        units.as_ref(),
    )?;
    issues.extend(human.issues.iter().cloned());
    let wanted: BTreeSet<Key> = human.units.iter().flat_map(|u| u.keys().cloned()).collect();

    // Automatic side.
    let manifest = read_manifest(&opts.auto)?;
    let auto = read_auto(
        open(&opts.auto)?,
        &auto_name,
        &opts.key,
        manifest.as_ref().map(|m| m.columns.as_slice()),
        &wanted,
    )?;
    issues.extend(auto.issues.iter().cloned());

    // Themes: a human name matches a theme id, or else a column name.
    let mut resolve: HashMap<&str, usize> = HashMap::new();
    for (i, c) in auto.columns.iter().enumerate() {
        resolve.insert(c, i);
    }
    for (i, t) in auto.themes.iter().enumerate() {
        resolve.insert(t, i);
    }
    let mut compared: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (name, line) in &human.themes {
        match resolve.get(name.as_str()) {
            Some(&i) => {
                compared.entry(i).or_default().insert(name.clone());
            }
            None => {
                let uses: usize = human
                    .units
                    .iter()
                    .flat_map(|u| u.values())
                    .filter(|u| u.themes.contains(name))
                    .count();
                let mut i = issue(
                    IssueKind::UnknownTheme,
                    &human_name,
                    (*line > 0).then_some(*line),
                );
                i.theme = name.clone();
                i.detail = format!("not a theme of {auto_name}: {uses} code(s) not compared");
                issues.push(i);
            }
        }
    }
    for (i, t) in auto.themes.iter().enumerate() {
        if !compared.contains_key(&i) {
            let mut x = issue(IssueKind::NotCompared, &auto_name, None);
            x.theme = t.clone();
            x.detail = "no human codes for this theme: not compared".into();
            issues.push(x);
        }
    }
    let theme_ix: Vec<usize> = compared.keys().copied().collect();
    let theme_ids: Vec<String> = theme_ix.iter().map(|&i| auto.themes[i].clone()).collect();
    let names: Vec<&BTreeSet<String>> = compared.values().collect();

    // Missing keys.
    for (c, units) in human.units.iter().enumerate() {
        for (k, u) in units {
            if !auto.units.contains_key(k) && !auto.issues.iter().any(|i| &i.key == k) {
                let mut i = issue(
                    IssueKind::MissingAuto,
                    &human_name,
                    (u.line > 0).then_some(u.line),
                );
                i.coder = human.coders[c].clone();
                i.key = k.clone();
                i.detail = format!(
                    "no row with this key in {auto_name} (an empty answer is not coded): not compared"
                );
                issues.push(i);
            }
        }
    }

    // Pairs per coder.
    let pairs: Vec<Vec<Pair>> = human
        .units
        .iter()
        .map(|units| {
            units
                .iter()
                .filter_map(|(k, u)| {
                    let a = auto.units.get(k)?;
                    Some(Pair {
                        key: k.clone(),
                        auto: theme_ix.iter().map(|&i| a.present[i]).collect(),
                        human: names
                            .iter()
                            .map(|n| u.themes.iter().any(|t| n.contains(t)))
                            .collect(),
                    })
                })
                .collect()
        })
        .collect();

    // Original answers and re-coding.
    let mut texts: HashMap<Key, String> = HashMap::new();
    let mut found: HashMap<Key, Vec<(bool, Found)>> = HashMap::new();
    if !opts.data.is_empty() {
        let spec = match (&opts.data_columns, &manifest) {
            (Some(s), _) => s.clone(),
            (None, Some(m)) => m.spec.clone(),
            (None, None) => ColumnSpec::default(),
        };
        let matched: BTreeSet<Key> = pairs
            .iter()
            .flat_map(|p| p.iter().map(|p| p.key.clone()))
            .collect();
        texts = read_data(opts, spec, &matched, &mut issues)?;
        let tokenizer = Tokenizer::default_pipeline();
        let loaded = crate::lexicon::load(opts.lexicon.as_deref(), &tokenizer)?;
        let matcher = Matcher::new(&loaded.lexicon);
        let index = matcher
            .themes()
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        let rec = Recoder {
            tokenizer,
            matcher,
            index,
        };
        let mut mismatched = Vec::new();
        let mut scratch = Scratch::new();
        for (k, text) in &texts {
            let f = rec.code(text, &theme_ids, &mut scratch);
            let a = &auto.units[k];
            for (j, &t) in theme_ix.iter().enumerate() {
                if f[j].0 != a.present[t] {
                    mismatched.push(format!("{} ({})", k.join(" / "), theme_ids[j]));
                }
            }
            found.insert(k.clone(), f);
        }
        if !mismatched.is_empty() {
            mismatched.sort();
            return Err(Error::Data(format!(
                "re-coding --data with {} does not reproduce {auto_name} for {} unit-theme pair(s), e.g. {}: pass the data, columns and lexicon that `thematic code` used",
                loaded.path,
                mismatched.len(),
                mismatched
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }

    // Agreement rows.
    let mut rows = Vec::new();
    let hh: Option<Vec<HumanHuman>> = (human.coders.len() >= 2).then(|| {
        names
            .iter()
            .map(|n| human_human(&human, std::slice::from_ref(n), opts))
            .collect()
    });
    let hh_all = (human.coders.len() >= 2).then(|| human_human(&human, &names, opts));
    for (c, coder) in human.coders.iter().enumerate() {
        let p = &pairs[c];
        let mut theme_rows = Vec::new();
        for (j, id) in theme_ids.iter().enumerate() {
            let mut r = theme_row(coder, id, "theme", p, &[j], opts);
            r.human = hh.as_ref().map(|h| h[j].clone());
            theme_rows.push(r);
        }
        let all: Vec<usize> = (0..theme_ids.len()).collect();
        let mut micro = theme_row(coder, "", "micro", p, &all, opts);
        micro.human = hh_all.clone();
        let mac = macro_row(coder, &theme_rows);
        rows.extend(theme_rows);
        rows.push(micro);
        rows.push(mac);
    }

    // Write.
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(opts.out_dir.display(), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".thematic-tmp-")
        .tempdir_in(&opts.out_dir)
        .map_err(|e| Error::io(opts.out_dir.display(), e))?;
    let files: [(&str, Vec<u8>); 4] = [
        ("agreement.csv", agreement_csv(&rows)?),
        (
            "disagreements.csv",
            disagreements_csv(opts, &human, &pairs, &auto, &theme_ids, &texts, &found)?,
        ),
        (
            "entry_errors.csv",
            entry_errors_csv(&human, &pairs, &theme_ids, &found)?,
        ),
        ("issues.csv", issues_csv(&issues)?),
    ];
    let mut outputs = Vec::new();
    for (name, bytes) in &files {
        std::fs::write(tmp.path().join(name), bytes).map_err(|e| Error::io(name, e))?;
    }
    for (name, _) in &files {
        let dest = opts.out_dir.join(name);
        std::fs::rename(tmp.path().join(name), &dest).map_err(|e| Error::io(dest.display(), e))?;
        outputs.push(dest);
    }

    let matched_units: Vec<(String, usize)> = human
        .coders
        .iter()
        .cloned()
        .zip(pairs.iter().map(Vec::len))
        .collect();
    let mut summary = summary(
        &rows,
        &issues,
        &matched_units,
        auto.other_units,
        opts,
        !texts.is_empty(),
    );
    if human.form == HumanForm::Long && opts.units.is_none() {
        summary.push_str(
            "no units list: only units with at least one human code were compared (a unit coded as nothing is invisible); pass --units\n",
        );
    }
    Ok(AgreeReport {
        summary,
        rows,
        issues,
        matched_units,
        outputs,
    })
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), fmt_f64)
}

fn csv_bytes(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Data(format!("formatting CSV: {e}"));
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner().map_err(|e| Error::Data(e.to_string()))
}

fn agreement_csv(rows: &[ThemeAgreement]) -> Result<Vec<u8>, Error> {
    let header = [
        "coder",
        "level",
        "theme",
        "n",
        "both",
        "auto_only",
        "human_only",
        "neither",
        "pct_agreement",
        "kappa",
        "kappa_lo",
        "kappa_hi",
        "alpha",
        "alpha_lo",
        "alpha_hi",
        "precision",
        "recall",
        "f1",
        "pct_auto",
        "pct_human",
        "human_coders",
        "human_units",
        "human_alpha",
        "human_alpha_lo",
        "human_alpha_hi",
    ];
    let rows = rows.iter().map(|r| {
        let c = r.confusion;
        let count =
            |f: fn(&Confusion) -> u64| c.as_ref().map_or(String::new(), |c| f(c).to_string());
        let h = r.human.as_ref();
        vec![
            r.coder.clone(),
            r.level.to_string(),
            r.theme.clone(),
            count(Confusion::n),
            count(|c| c.both),
            count(|c| c.auto_only),
            count(|c| c.human_only),
            count(|c| c.neither),
            opt(r.pct_agreement),
            opt(r.kappa),
            opt(r.kappa_ci.map(|c| c.0)),
            opt(r.kappa_ci.map(|c| c.1)),
            opt(r.alpha),
            opt(r.alpha_ci.map(|c| c.0)),
            opt(r.alpha_ci.map(|c| c.1)),
            opt(r.precision),
            opt(r.recall),
            opt(r.f1),
            opt(r.pct_auto),
            opt(r.pct_human),
            h.map_or(String::new(), |h| h.coders.to_string()),
            h.map_or(String::new(), |h| h.units.to_string()),
            opt(h.and_then(|h| h.alpha)),
            opt(h.and_then(|h| h.alpha_ci.map(|c| c.0))),
            opt(h.and_then(|h| h.alpha_ci.map(|c| c.1))),
        ]
    });
    csv_bytes(&header, rows)
}

#[allow(clippy::too_many_arguments)]
fn disagreements_csv(
    opts: &AgreeOptions,
    human: &HumanCodes,
    pairs: &[Vec<Pair>],
    auto: &AutoCodes,
    themes: &[String],
    texts: &HashMap<Key, String>,
    found: &HashMap<Key, Vec<(bool, Found)>>,
) -> Result<Vec<u8>, Error> {
    let mut header: Vec<&str> = vec!["coder"];
    header.extend(opts.key.iter().map(String::as_str));
    header.extend([
        "row",
        "theme",
        "error",
        "text",
        "entries",
        "matched_text",
        "negated_entries",
        "auto_line",
        "human_line",
    ]);
    let mut rows = Vec::new();
    for (c, p) in pairs.iter().enumerate() {
        for pair in p {
            for (j, theme) in themes.iter().enumerate() {
                let error = match (pair.auto[j], pair.human[j]) {
                    (true, false) => "false_positive",
                    (false, true) => "false_negative",
                    _ => continue,
                };
                let f = found.get(&pair.key).map(|f| &f[j].1);
                let a = &auto.units[&pair.key];
                let mut r = vec![human.coders[c].clone()];
                r.extend(pair.key.iter().cloned());
                r.extend([
                    a.row.clone(),
                    theme.clone(),
                    error.to_string(),
                    texts.get(&pair.key).cloned().unwrap_or_default(),
                    f.map_or(String::new(), |f| f.entries.join("; ")),
                    f.map_or(String::new(), |f| f.matched.join(" | ")),
                    f.map_or(String::new(), |f| f.negated.join("; ")),
                    a.line.to_string(),
                    human.units[c][&pair.key].line.to_string(),
                ]);
                rows.push(r);
            }
        }
    }
    csv_bytes(&header, rows)
}

fn entry_errors_csv(
    human: &HumanCodes,
    pairs: &[Vec<Pair>],
    themes: &[String],
    found: &HashMap<Key, Vec<(bool, Found)>>,
) -> Result<Vec<u8>, Error> {
    // (coder, theme, entry) → [false positives, true positives, negated in false negatives]
    let mut t: BTreeMap<(usize, usize, String), [u64; 3]> = BTreeMap::new();
    for (c, p) in pairs.iter().enumerate() {
        for pair in p {
            let Some(f) = found.get(&pair.key) else {
                continue;
            };
            for j in 0..themes.len() {
                let f = &f[j].1;
                let (slot, list) = match (pair.auto[j], pair.human[j]) {
                    (true, false) => (0, &f.entries),
                    (true, true) => (1, &f.entries),
                    (false, true) => (2, &f.negated),
                    _ => continue,
                };
                // A unit counts once per entry, however often it matched.
                let distinct: BTreeSet<&String> = list.iter().collect();
                for e in distinct {
                    t.entry((c, j, e.clone())).or_default()[slot] += 1;
                }
            }
        }
    }
    let mut rows: Vec<_> = t.into_iter().collect();
    rows.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    let header = [
        "coder",
        "theme",
        "entry",
        "false_positives",
        "true_positives",
        "entry_precision",
        "negated_in_false_negatives",
    ];
    csv_bytes(
        &header,
        rows.into_iter().map(|((c, j, e), [fp, tp, neg])| {
            let prec = if fp + tp == 0 {
                String::new()
            } else {
                fmt_f64(tp as f64 / (fp + tp) as f64)
            };
            vec![
                human.coders[c].clone(),
                themes[j].clone(),
                e,
                fp.to_string(),
                tp.to_string(),
                prec,
                neg.to_string(),
            ]
        }),
    )
}

fn issues_csv(issues: &[Issue]) -> Result<Vec<u8>, Error> {
    let header = ["kind", "file", "line", "coder", "key", "theme", "detail"];
    csv_bytes(
        &header,
        issues.iter().map(|i| {
            vec![
                i.kind.as_str().to_string(),
                i.file.clone(),
                i.line.map_or(String::new(), |l| l.to_string()),
                i.coder.clone(),
                i.key.join(" / "),
                i.theme.clone(),
                i.detail.clone(),
            ]
        }),
    )
}

fn fmt2(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

fn ci(x: Option<f64>, c: Option<(f64, f64)>) -> String {
    match (x, c) {
        (None, _) => "-".into(),
        (Some(x), None) => format!("{x:.2}"),
        (Some(x), Some((lo, hi))) => format!("{x:.2} [{lo:.2}, {hi:.2}]"),
    }
}

fn summary(
    rows: &[ThemeAgreement],
    issues: &[Issue],
    matched: &[(String, usize)],
    other_units: u64,
    opts: &AgreeOptions,
    with_text: bool,
) -> String {
    let several = matched.len() > 1;
    let mut header: Vec<String> = Vec::new();
    if several {
        header.push("coder".into());
    }
    header.extend(
        [
            "theme",
            "n",
            "both",
            "auto",
            "human",
            "neither",
            "agree%",
            "kappa [95% CI]",
            "alpha [95% CI]",
            "P",
            "R",
            "F1",
        ]
        .map(String::from),
    );
    if several {
        header.push("human alpha".into());
    }
    let mut table = vec![header];
    for r in rows {
        let mut row = Vec::new();
        if several {
            row.push(r.coder.clone());
        }
        let label = match r.level {
            "theme" => r.theme.clone(),
            "micro" => "overall (micro)".into(),
            _ => "overall (macro)".into(),
        };
        row.push(label);
        let c = r.confusion;
        for f in [
            Confusion::n,
            |c: &Confusion| c.both,
            |c: &Confusion| c.auto_only,
            |c: &Confusion| c.human_only,
            |c: &Confusion| c.neither,
        ] {
            row.push(c.as_ref().map_or(String::new(), |c| f(c).to_string()));
        }
        row.push(r.pct_agreement.map_or("-".into(), |a| format!("{a:.1}")));
        row.push(ci(r.kappa, r.kappa_ci));
        row.push(ci(r.alpha, r.alpha_ci));
        row.push(fmt2(r.precision));
        row.push(fmt2(r.recall));
        row.push(fmt2(r.f1));
        if several {
            row.push(
                r.human
                    .as_ref()
                    .map_or(String::new(), |h| ci(h.alpha, h.alpha_ci)),
            );
        }
        table.push(row);
    }
    let mut s = render_table(&table);
    let units: Vec<String> = matched.iter().map(|(c, n)| format!("{n} ({c})")).collect();
    s.push_str(&format!(
        "\nunits compared: {}; {other_units} row(s) of the automatic codes were not human-coded\n",
        units.join(", ")
    ));
    if opts.resamples > 0 {
        s.push_str(&format!(
            "intervals: percentile bootstrap over units, {} resamples, seed {}\n",
            opts.resamples, opts.seed
        ));
    }
    let mut counts: BTreeMap<IssueKind, usize> = BTreeMap::new();
    for i in issues {
        *counts.entry(i.kind).or_default() += 1;
    }
    if !counts.is_empty() {
        let parts: Vec<String> = counts
            .iter()
            .map(|(k, n)| format!("{n} {}", k.as_str()))
            .collect();
        s.push_str(&format!("reported in issues.csv: {}\n", parts.join(", ")));
    }
    if !with_text {
        s.push_str("no --data: disagreements.csv has no text and entry_errors.csv is empty\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    fn k(a: &str, b: &str) -> Key {
        vec![a.to_string(), b.to_string()]
    }

    const LONG: &str = "\
pid,question,theme
P1,q1,a.x
P1,q1, a.y 
P2,q1,a.x
P2,q1,a.x
P3,q1,nope
";

    const UNITS: &str = "\
pid,question
P1,q1
P2,q1
P4,q1
P4,q1
";

    #[test]
    fn long_form_with_units() {
        let kc = key(&["pid", "question"]);
        let u = read_units(UNITS.as_bytes(), "u.csv", &kc, "coder", b',').unwrap();
        assert_eq!(u.units.len(), 3);
        assert_eq!(u.issues.len(), 1);
        assert_eq!(u.issues[0].kind, IssueKind::DuplicateKey);
        assert_eq!(u.issues[0].line, Some(5));

        let h = read_human(LONG.as_bytes(), "h.csv", &kc, "coder", b',', Some(&u)).unwrap();
        assert_eq!(h.form, HumanForm::Long);
        assert_eq!(h.coders, [SINGLE_CODER]);
        let units = &h.units[0];
        // P4 is listed but has no code: coded as nothing.
        assert_eq!(
            units.keys().cloned().collect::<Vec<_>>(),
            [k("P1", "q1"), k("P2", "q1"), k("P4", "q1")]
        );
        assert!(units[&k("P4", "q1")].themes.is_empty());
        // Theme names are trimmed.
        assert_eq!(
            units[&k("P1", "q1")]
                .themes
                .iter()
                .cloned()
                .collect::<Vec<_>>(),
            ["a.x", "a.y"]
        );
        // The repeated code and the unlisted unit are reported.
        let kinds: Vec<IssueKind> = h.issues.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [IssueKind::DuplicateKey, IssueKind::NotInUnits]);
        assert_eq!(h.issues[0].line, Some(5));
        assert_eq!(h.issues[1].key, k("P3", "q1"));
        assert_eq!(h.issues[1].theme, "nope");
        let themes: Vec<&str> = h.themes.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(themes, ["a.x", "a.y", "nope"]);
    }

    #[test]
    fn long_form_without_units_uses_coded_keys() {
        let kc = key(&["pid", "question"]);
        let h = read_human(LONG.as_bytes(), "h.csv", &kc, "coder", b',', None).unwrap();
        assert_eq!(h.units[0].len(), 3);
        assert!(h.units[0].contains_key(&k("P3", "q1")));
    }

    const WIDE: &str = "\
coder,pid,question,a.x,a.y
A,P1,q1,1,0
A,P2,q1,0,0
A,P2,q1,1,1
B,P1,q1,1,1
B,P2,q1,0,0
";

    #[test]
    fn wide_form_with_coders() {
        let kc = key(&["pid", "question"]);
        let h = read_human(WIDE.as_bytes(), "h.csv", &kc, "coder", b',', None).unwrap();
        assert_eq!(h.form, HumanForm::Wide);
        assert_eq!(h.coders, ["A", "B"]);
        // A's P2 is coded twice: reported and not compared.
        assert_eq!(h.issues.len(), 1);
        assert_eq!(h.issues[0].kind, IssueKind::DuplicateKey);
        assert_eq!(h.issues[0].coder, "A");
        assert_eq!(h.units[0].len(), 1);
        assert_eq!(h.units[1].len(), 2);
        assert!(h.units[1][&k("P1", "q1")].themes.contains("a.y"));
        // A units list is for the long form only; bad cells are errors.
        let u = UnitsList {
            units: Vec::new(),
            issues: Vec::new(),
        };
        assert!(read_human(WIDE.as_bytes(), "h.csv", &kc, "coder", b',', Some(&u)).is_err());
        let bad = "pid,question,a.x\nP1,q1,yes\n";
        let e = read_human(bad.as_bytes(), "h.csv", &kc, "coder", b',', None).unwrap_err();
        assert!(e.to_string().contains("h.csv:2"), "{e}");
    }

    const AUTO: &str = "\
row,id,group,question,tokens,coded_pct,a,a_x,a_y
1,P1,G,q1,5,20,1,1,0
2,P2,G,q1,5,0,0,0,0
3,P2,G,q1,5,0,0,0,0
4,P9,G,q1,5,0,2,2,0
";

    #[test]
    fn auto_side_with_manifest_mapping_and_duplicates() {
        let kc = key(&["id", "question"]);
        let map: Vec<(String, String)> = [("a", "a"), ("a_x", "a.x"), ("a_y", "a.y")]
            .iter()
            .map(|(c, t)| (c.to_string(), t.to_string()))
            .collect();
        let wanted: BTreeSet<Key> = [k("P1", "q1"), k("P2", "q1")].into_iter().collect();
        let a = read_auto(AUTO.as_bytes(), "r.csv", &kc, Some(&map), &wanted).unwrap();
        assert_eq!(a.themes, ["a", "a.x", "a.y"]);
        assert_eq!(a.other_units, 1);
        assert_eq!(a.units.len(), 1, "the duplicate P2 is not compared");
        assert_eq!(a.units[&k("P1", "q1")].present, [true, true, false]);
        assert_eq!(a.issues[0].kind, IssueKind::DuplicateKey);
        assert_eq!(a.issues[0].line, Some(4));
        // Without a manifest, the columns after coded_pct are theme ids.
        let a = read_auto(AUTO.as_bytes(), "r.csv", &kc, None, &wanted).unwrap();
        assert_eq!(a.themes, ["a", "a_x", "a_y"]);
    }

    /// A whole run on small files: unknown themes, missing keys and
    /// not-compared themes are reported; two coders get human–human alpha.
    #[test]
    fn run_reports_everything() {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let auto = w(
            "responses.csv",
            "row,id,question,tokens,coded_pct,a_x,a_y,b\n\
             1,P1,q1,3,1,1,0,0\n2,P2,q1,3,0,0,0,1\n3,P3,q1,3,1,1,1,0\n4,P4,q1,3,0,0,0,0\n",
        );
        let human = w(
            "human.csv",
            "pid,question,coder,theme\n\
             P1,q1,A,a_x\nP3,q1,A,a_y\nP1,q1,B,a_x\nP3,q1,B,a_x\nP3,q1,B,zz\nP5,q1,A,a_x\n",
        );
        let units = w("units.csv", "pid,question\nP1,q1\nP2,q1\nP3,q1\nP5,q1\n");
        let opts = AgreeOptions {
            auto,
            human,
            units: Some(units),
            human_key: key(&["pid", "question"]),
            out_dir: dir.path().join("out"),
            resamples: 50,
            ..AgreeOptions::default()
        };
        let r = run(&opts).unwrap();
        let kinds: BTreeSet<IssueKind> = r.issues.iter().map(|i| i.kind).collect();
        assert!(kinds.contains(&IssueKind::UnknownTheme));
        assert!(kinds.contains(&IssueKind::MissingAuto));
        assert!(kinds.contains(&IssueKind::NotCompared));
        let missing: Vec<&Issue> = r
            .issues
            .iter()
            .filter(|i| i.kind == IssueKind::MissingAuto)
            .collect();
        assert_eq!(missing.len(), 2, "P5 for both coders");
        assert!(
            r.issues
                .iter()
                .any(|i| i.kind == IssueKind::NotCompared && i.theme == "b")
        );
        assert_eq!(
            r.matched_units,
            [("A".to_string(), 3), ("B".to_string(), 3)]
        );
        let ax = r
            .rows
            .iter()
            .find(|x| x.coder == "A" && x.theme == "a_x")
            .unwrap();
        // Lexicon a_x on P1, P3; coder A a_x on P1 only.
        assert_eq!(
            ax.confusion,
            Some(Confusion {
                both: 1,
                auto_only: 1,
                human_only: 0,
                neither: 1
            })
        );
        let hh = ax.human.as_ref().unwrap();
        assert_eq!(hh.coders, 2);
        // Human–human agreement uses every human-coded unit, P5 too.
        assert_eq!(hh.units, 4);
        // Coders A and B on a_x over P1, P2, P3, P5: (1,1), (0,0), (0,1), (1,0).
        let expect = krippendorff_alpha_nominal(&[
            vec![Some(1), Some(1)],
            vec![Some(0), Some(0)],
            vec![Some(0), Some(1)],
            vec![Some(1), Some(0)],
        ]);
        assert_eq!(hh.alpha, expect);
        for f in [
            "agreement.csv",
            "disagreements.csv",
            "entry_errors.csv",
            "issues.csv",
        ] {
            assert!(opts.out_dir.join(f).is_file(), "{f}");
        }
    }
}
