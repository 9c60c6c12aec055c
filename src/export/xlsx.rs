//! `report.xlsx` (DESIGN 6): every table as a sheet, written from the CSV
//! files after they are complete.
//!
//! This module owns the workbook: sheet names, cell types, number formats,
//! column widths, the wide table's heatmap, the chart sheet and the `About`
//! sheet. It does not compute anything: it reads back the CSVs the pipeline
//! has written (so the workbook can never disagree with them) and the
//! manifest's JSON. It knows the pipeline's tables only by their column
//! names.
//!
//! Decisions, in the order a reader meets them:
//!
//! - **Numbers.** A cell becomes an Excel number only in a column known to
//!   be numeric, so ids such as `007` or `P01` stay text. The long table
//!   ([`SheetKind::Long`]) knows its numeric columns by name
//!   ([`crate::export::tables::LONG_COLUMNS`] after `question`); the stats
//!   table by name patterns (`p`, `p_*`, `*_p`, `pct_*`, `chi2`, `df`, …)
//!   and otherwise like a plain table; a plain table ([`SheetKind::Plain`])
//!   converts a column only when every non-empty cell is a plain decimal
//!   number (`-12`, `3.5`, `1e-7`; not `+1`, `NaN`, `inf`) and none has a
//!   leading zero (`007`, `-01`) or more than 15 digits (which Excel would
//!   round). A cell of a numeric column that is not a number (a masked
//!   `<K`, `NA`) is written as text, right-aligned.
//! - **Formats.** `pct_*`/`*_pct` columns are already × 100 and get `0.0`;
//!   p-values (`p`, `p_*`, `*_p`) get `0.0000`, with values below 0.0001
//!   shown as `<0.0001`; the stats table's `chi2`, `cramers_v`,
//!   `expected_min` and residuals get `0.000`; rates `*per_1000*` get `0.0`.
//!   The stored value always has full precision.
//! - **The wide table.** Each `n (p%)` cell is written as the *number* p
//!   (computed as 100 × n / N from the question's `N` row, or parsed from
//!   the text when there is no `N`) with a number format that spells `n`
//!   as a literal: `"12 ("0.0"%)"`. Excel then shows exactly the CSV's
//!   `12 (27.3%)` (copying into a paper gives the text), sorts and filters
//!   by the percentage, and a real 2-colour conditional-format colour scale
//!   (white to blue, lowest to highest) shades the theme rows; the `N` rows
//!   are integers, bold, outside the scale. Excel allows only about 200
//!   custom number formats per workbook, so when the table has more than
//!   [`MAX_N_FORMATS`] distinct `n` the cells use `0.0"%"` instead and the
//!   verbatim `n (p%)` table follows as a second sheet, `<name> n (%)`.
//! - **Chart.** A native clustered bar chart on the `Chart` sheet of
//!   `pct_responses` per leaf theme (categories) for each level of the
//!   first group column (series), from the long table's rows where the
//!   other group columns and the question are the `All` label (or the
//!   question is the only one). The chart's data is written as a small
//!   table on the same sheet, left of the chart.
//! - **About.** The manifest flattened to `key`/`value` rows
//!   (`lexicon.sha256`, `inputs[1].path`), then this module's own notes.
//! - **Excel limits.** A text over 32,767 characters is cut and ends with
//!   `…[truncated]`; a table over 1,048,576 rows (header included) goes on
//!   as `name (2)`, `name (3)`, each with the header. Both are counted in
//!   [`XlsxNotes`] for the manifest.
//! - **Memory.** Data sheets are written in rust_xlsxwriter's low-memory
//!   mode: rows go to a temporary file next to the workbook as they are
//!   written, so a large `responses.csv` does not have to fit in memory.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartLegendPosition, ConditionalFormat2ColorScale, Format,
    FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use serde::Serialize;

use crate::Error;

/// One table of the workbook.
#[derive(Clone, Copy, Debug)]
pub struct Sheet<'a> {
    /// The sheet's name (made Excel-safe: `[]:*?/\` become `_`, cut to 31
    /// characters, made unique).
    pub name: &'a str,
    /// The CSV file to read.
    pub csv: &'a Path,
    /// What the table is, which decides its cell types and formats.
    pub kind: SheetKind,
}

/// What a table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheetKind {
    /// `themes_by_group.csv`: numeric columns known by name; feeds the chart.
    Long,
    /// `themes_by_group_wide.csv`: `n (p%)` cells, shaded as a heatmap.
    Wide,
    /// `stats.csv`: numeric columns known by name pattern.
    Stats,
    /// Any other table: a column is numeric when all its cells are.
    Plain,
}

/// What the workbook says besides the tables.
#[derive(Clone, Debug, Default)]
pub struct ReportInfo {
    /// The manifest as written (JSON); shown on the `About` sheet.
    pub manifest_json: String,
    /// `--min-cell K`: a CSV cell that is exactly `<K` is a masked count.
    pub min_cell: Option<u64>,
}

/// What had to give way to Excel's limits, for the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct XlsxNotes {
    /// Cells longer than 32,767 characters, cut and marked `…[truncated]`.
    pub truncated_cells: u64,
    /// Tables longer than Excel's 1,048,576 rows, continued on more sheets.
    pub split_tables: Vec<SplitTable>,
}

/// A table written over several sheets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitTable {
    /// The sheet name the table was given.
    pub table: String,
    /// Every sheet holding part of it, in order.
    pub sheets: Vec<String>,
}

/// Rows of an Excel worksheet, header included.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;
/// Characters (UTF-16 units) of an Excel cell.
pub const EXCEL_MAX_CHARS: usize = 32_767;
/// Appended to a text cut at [`EXCEL_MAX_CHARS`].
pub const TRUNCATION_MARKER: &str = "…[truncated]";
/// Distinct `n` of the wide table above which its cells fall back to a plain
/// `0.0"%"` format (Excel allows 200–250 custom formats per workbook).
pub const MAX_N_FORMATS: usize = 150;

/// Widest column, in characters.
const MAX_WIDTH: f64 = 60.0;
/// Narrowest column, in characters.
const MIN_WIDTH: f64 = 5.0;
/// Excel's hard limit on series in one chart.
const MAX_SERIES: usize = 255;

/// Write `out` (the workbook file, e.g. `…/report.xlsx`) from `sheets`, in
/// order, then a `Chart` sheet (when a [`SheetKind::Long`] table has
/// `pct_responses`) and an `About` sheet.
///
/// Errors name the CSV that could not be read, or `out` when the workbook
/// could not be written.
pub fn write_report(out: &Path, sheets: &[Sheet], info: &ReportInfo) -> Result<XlsxNotes, Error> {
    write_report_with(out, sheets, info, EXCEL_MAX_ROWS)
}

/// [`write_report`] with a row limit per sheet, so tests can split tables
/// without writing a million rows.
fn write_report_with(
    out: &Path,
    sheets: &[Sheet],
    info: &ReportInfo,
    max_rows: u32,
) -> Result<XlsxNotes, Error> {
    let xerr = |e: XlsxError| Error::io(out.display(), std::io::Error::other(e));
    let mut wb = Workbook::new();
    // Low-memory sheets spill to temporary files: keep them on the same
    // disk as the output rather than in a possibly memory-backed /tmp.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        wb.set_tempdir(dir).map_err(xerr)?;
    }
    let manifest: Option<serde_json::Value> = serde_json::from_str(&info.manifest_json).ok();
    let all_label = manifest
        .as_ref()
        .and_then(|m| m.pointer("/options/all_label"))
        .and_then(|v| v.as_str())
        .unwrap_or("All")
        .to_string();
    let mut w = ReportWriter {
        fmt: Formats::new(),
        names: SheetNames::default(),
        notes: XlsxNotes::default(),
        masked: info.min_cell.map(|k| format!("<{k}")),
        max_rows: max_rows.max(2),
        all_label,
        chart: None,
    };
    for sheet in sheets {
        w.write_table(&mut wb, sheet)
            .map_err(|e| e.into_error(out))?;
    }
    if let Some(chart) = w.chart.take() {
        w.write_chart(&mut wb, chart).map_err(xerr)?;
    }
    w.write_about(&mut wb, manifest.as_ref(), &info.manifest_json)
        .map_err(xerr)?;
    wb.save(out).map_err(xerr)?;
    Ok(w.notes)
}

/// An error while writing one table: reading its CSV or writing the sheet.
enum TableError {
    Csv(String, csv::Error),
    Xlsx(XlsxError),
}

impl From<XlsxError> for TableError {
    fn from(e: XlsxError) -> Self {
        TableError::Xlsx(e)
    }
}

impl TableError {
    fn into_error(self, out: &Path) -> Error {
        match self {
            TableError::Csv(path, e) => Error::Input {
                path,
                message: format!("cannot read back for report.xlsx: {e}"),
            },
            TableError::Xlsx(e) => Error::io(out.display(), std::io::Error::other(e)),
        }
    }
}

/// The formats of the workbook, made once.
struct Formats {
    header: Format,
    header_num: Format,
    masked: Format,
    general: Format,
    one_dp: Format,
    three_dp: Format,
    p_value: Format,
    wide_n: Format,
    wide_pct: Format,
    /// The wide table's `"n ("0.0"%)"` formats, by n.
    n_pct: HashMap<u64, Format>,
    key: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color("#DDEBF7")
                .set_border_bottom(FormatBorder::Thin),
            header_num: Format::new()
                .set_bold()
                .set_background_color("#DDEBF7")
                .set_border_bottom(FormatBorder::Thin)
                .set_align(FormatAlign::Right),
            masked: Format::new().set_align(FormatAlign::Right),
            general: Format::new(),
            one_dp: Format::new().set_num_format("0.0"),
            three_dp: Format::new().set_num_format("0.000"),
            p_value: Format::new().set_num_format("[<0.0001]\"<0.0001\";0.0000"),
            wide_n: Format::new().set_bold(),
            wide_pct: Format::new().set_num_format("0.0\"%\""),
            n_pct: HashMap::new(),
            key: Format::new().set_bold(),
        }
    }

    fn number(&self, kind: NumKind) -> &Format {
        match kind {
            NumKind::General => &self.general,
            NumKind::OneDp => &self.one_dp,
            NumKind::ThreeDp => &self.three_dp,
            NumKind::PValue => &self.p_value,
        }
    }
}

/// How a column's cells are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Text,
    Number(NumKind),
}

/// The number format of a numeric column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumKind {
    General,
    OneDp,
    ThreeDp,
    PValue,
}

/// The number format a numeric column gets from its name.
fn num_kind(name: &str) -> NumKind {
    let n = name.to_ascii_lowercase();
    if n == "p" || n.starts_with("p_") || n.ends_with("_p") {
        NumKind::PValue
    } else if n.starts_with("pct_") || n.ends_with("_pct") || n.contains("per_1000") {
        NumKind::OneDp
    } else if ["chi2", "cramers_v", "v", "expected_min"].contains(&n.as_str())
        || n.starts_with("resid")
        || n.starts_with("chi2_")
    {
        NumKind::ThreeDp
    } else {
        NumKind::General
    }
}

/// Is this stats column numeric by its name alone?
fn stats_numeric_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const NAMES: &[&str] = &[
        "n",
        "df",
        "chi2",
        "cramers_v",
        "v",
        "expected_min",
        "responses",
        "responses_with_theme",
        "respondents",
        "respondents_with_theme",
        "hits",
    ];
    NAMES.contains(&n.as_str())
        || n == "p"
        || n.starts_with("p_")
        || n.ends_with("_p")
        || n.starts_with("pct_")
        || n.ends_with("_pct")
        || n.starts_with("resid")
        || n.starts_with("chi2_")
}

/// Stats columns that are text whatever their cells look like.
fn stats_text_name(name: &str) -> bool {
    ["question", "theme", "label", "test", "entry", "group"].contains(&name)
}

/// A CSV cell as a number, if it is a plain decimal one: optional `-`,
/// digits, optional fraction, optional exponent. Rejects `+1`, `.5`, `NaN`,
/// `inf` and more than 15 significant digits (Excel keeps 15).
fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - start;
    if int_digits == 0 {
        return None;
    }
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
        if frac_digits == 0 {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    // Long integers are ids (or would lose digits); long fractions are the
    // shortest round-trip form of a float and lose nothing that matters.
    let significant = s[start..start + int_digits].trim_start_matches('0').len();
    if frac_digits == 0 && significant > 15 {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Does this numeric-looking cell have a leading zero (`007`, `-01`)?
fn leading_zero(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s).as_bytes();
    d.len() > 1 && d[0] == b'0' && d[1].is_ascii_digit()
}

/// Length in UTF-16 units, as Excel counts.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `s` cut to Excel's cell limit with [`TRUNCATION_MARKER`], if needed.
fn fit_cell(s: &str, max: usize) -> Option<String> {
    if utf16_len(s) <= max {
        return None;
    }
    let room = max - utf16_len(TRUNCATION_MARKER);
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if used + c.len_utf16() > room {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    Some(format!("{}{TRUNCATION_MARKER}", &s[..end]))
}

/// Excel-safe, unique sheet names.
#[derive(Default)]
struct SheetNames {
    used: HashSet<String>,
}

impl SheetNames {
    /// Excel's rules: 1–31 characters, none of `[]:*?/\`, not starting or
    /// ending with `'`, not `History`, unique ignoring case.
    fn base(name: &str) -> String {
        let cleaned: String = name
            .chars()
            .map(|c| match c {
                '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '_',
                c if c.is_control() => '_',
                c => c,
            })
            .collect();
        let cleaned = cleaned.trim_matches('\'').trim();
        if cleaned.is_empty() {
            "Sheet".into()
        } else if cleaned.eq_ignore_ascii_case("history") {
            format!("{cleaned}_")
        } else {
            cleaned.to_string()
        }
    }

    /// `base` cut so that `base + suffix` fits in 31 UTF-16 units.
    fn with_suffix(base: &str, suffix: &str) -> String {
        let room = 31 - utf16_len(suffix);
        let mut used = 0;
        let mut out = String::new();
        for c in base.chars() {
            if used + c.len_utf16() > room {
                break;
            }
            used += c.len_utf16();
            out.push(c);
        }
        let out = out.trim_end_matches('\'');
        format!("{out}{suffix}")
    }

    /// Claim a free name for `name`, adding ` (2)`, ` (3)`… if needed.
    fn claim(&mut self, name: &str) -> String {
        self.claim_from(&Self::base(name), 1)
    }

    /// Claim `base` with suffix ` (k)` for the first free k ≥ `first`
    /// (no suffix for 1).
    fn claim_from(&mut self, base: &str, first: usize) -> String {
        let mut k = first;
        loop {
            let suffix = if k == 1 {
                String::new()
            } else {
                format!(" ({k})")
            };
            let name = Self::with_suffix(base, &suffix);
            if self.used.insert(name.to_lowercase()) {
                return name;
            }
            k += 1;
        }
    }
}

/// Column widths in characters, grown as cells are written.
struct Widths(Vec<f64>);

impl Widths {
    fn see(&mut self, col: usize, chars: usize) {
        if col >= self.0.len() {
            self.0.resize(col + 1, MIN_WIDTH);
        }
        self.0[col] = self.0[col].max(chars as f64);
    }

    fn apply(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        for (c, w) in self.0.iter().enumerate() {
            ws.set_column_width(c as u16, (w + 1.0).clamp(MIN_WIDTH, MAX_WIDTH))?;
        }
        Ok(())
    }
}

/// How wide a number looks in its format.
fn number_width(x: f64, csv_text: &str, kind: NumKind) -> usize {
    match kind {
        NumKind::General => csv_text.len().min(11),
        NumKind::OneDp => format!("{x:.1}").len(),
        NumKind::ThreeDp => format!("{x:.3}").len(),
        NumKind::PValue => 7,
    }
}

/// The chart's source: the long table's rows for the chart.
struct ChartData {
    /// The first group column's name, if any.
    group: Option<String>,
    /// Per question: (level, theme id, label, pct_responses).
    rows: Vec<(String, ChartRow)>,
}

struct ChartRow {
    level: String,
    theme: String,
    label: String,
    pct: Option<f64>,
}

/// State shared by the sheets of one workbook.
struct ReportWriter {
    fmt: Formats,
    names: SheetNames,
    notes: XlsxNotes,
    /// `<K` when `--min-cell K` is on.
    masked: Option<String>,
    max_rows: u32,
    all_label: String,
    chart: Option<ChartData>,
}

/// One CSV being read back.
struct CsvIn {
    path: String,
    reader: csv::Reader<std::fs::File>,
    /// The header, once read.
    header: Option<Vec<String>>,
    /// thematic's tables mark `--min-cell` masking with a last column
    /// `masked` naming the masked (empty) cells of the row, `;`-separated.
    masked_col: Option<usize>,
    /// `<K`, written into those cells.
    mask_text: Option<String>,
}

impl CsvIn {
    fn open(path: &Path, mask_text: Option<&str>) -> Result<CsvIn, TableError> {
        let display = path.display().to_string();
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(path)
            .map_err(|e| TableError::Csv(display.clone(), e))?;
        Ok(CsvIn {
            path: display,
            reader,
            header: None,
            masked_col: None,
            mask_text: mask_text.map(str::to_string),
        })
    }

    /// The next record as text (invalid UTF-8 replaced), or `None` at EOF.
    fn next(&mut self, rec: &mut csv::ByteRecord) -> Result<Option<Vec<String>>, TableError> {
        match self.reader.read_byte_record(rec) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let mut row: Vec<String> = rec
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                match &self.header {
                    None => {
                        if self.mask_text.is_some() {
                            self.masked_col = row.iter().position(|h| h == "masked");
                        }
                        self.header = Some(row.clone());
                    }
                    Some(header) => {
                        if let (Some(mc), Some(text)) = (self.masked_col, &self.mask_text) {
                            let names = row.get(mc).cloned().unwrap_or_default();
                            for name in names.split(';').filter(|n| !n.is_empty()) {
                                if let Some(i) = header.iter().position(|h| h == name)
                                    && row.get(i).is_some_and(|v| v.is_empty())
                                {
                                    row[i] = text.clone();
                                }
                            }
                        }
                    }
                }
                Ok(Some(row))
            }
            Err(e) => Err(TableError::Csv(self.path.clone(), e)),
        }
    }
}

/// The wide table's layout.
struct WidePlan {
    /// The `theme` column, which says `N` on a question's count row.
    theme_col: Option<usize>,
    /// First column holding group combinations.
    first_value_col: usize,
    /// Spell n in the number format (false: fall back to `0.0"%"`).
    n_in_format: bool,
}

/// An `n (p%)` cell of the wide table.
fn parse_n_pct(s: &str) -> Option<(u64, Option<f64>)> {
    let s = s.trim();
    match s.split_once(" (") {
        Some((n, rest)) => {
            let n = n.parse().ok()?;
            let p = rest.strip_suffix("%)")?.parse().ok()?;
            Some((n, Some(p)))
        }
        None => Some((s.parse().ok()?, None)),
    }
}

/// Write a text cell, cut to Excel's limit if needed (counted in
/// `truncated`); empty cells are left blank.
fn put_text(
    truncated: &mut u64,
    part: &mut Part,
    col: usize,
    s: &str,
    format: Option<&Format>,
) -> Result<(), XlsxError> {
    if s.is_empty() {
        return Ok(());
    }
    let s: Cow<str> = match fit_cell(s, EXCEL_MAX_CHARS) {
        Some(cut) => {
            *truncated += 1;
            Cow::Owned(cut)
        }
        None => Cow::Borrowed(s),
    };
    // A multi-line text is as wide as its longest line.
    let width = s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    part.widths.see(col, width);
    let (r, c) = (part.row, col as u16);
    match format {
        Some(f) => part.ws.write_string_with_format(r, c, s.as_ref(), f)?,
        None => part.ws.write_string(r, c, s.as_ref())?,
    };
    Ok(())
}

/// One sheet being filled, possibly the continuation of a split table.
struct Part {
    ws: Worksheet,
    name: String,
    /// Next row to write.
    row: u32,
    widths: Widths,
    /// Wide sheet: row ranges (first, last) of theme rows, for the heatmap.
    heat_rows: Vec<(u32, u32)>,
}

impl ReportWriter {
    fn new_part(&mut self, wb: &mut Workbook, name: String) -> Result<Part, XlsxError> {
        let mut ws = wb.new_worksheet_with_low_memory()?;
        ws.set_name(&name)?;
        Ok(Part {
            ws,
            name,
            row: 0,
            widths: Widths(Vec::new()),
            heat_rows: Vec::new(),
        })
    }

    /// The header row; `numeric[c]` right-aligns column c's name over its
    /// numbers.
    fn header(
        &mut self,
        part: &mut Part,
        header: &[String],
        numeric: &[bool],
    ) -> Result<(), XlsxError> {
        let t = &mut self.notes.truncated_cells;
        for (c, h) in header.iter().enumerate() {
            let f = if numeric.get(c).copied().unwrap_or(false) {
                &self.fmt.header_num
            } else {
                &self.fmt.header
            };
            put_text(t, part, c, h, Some(f))?;
            // Bold text and the filter button take more room.
            let w = h.chars().count() * 11 / 10 + 3;
            part.widths.see(c, w);
        }
        part.row += 1;
        Ok(())
    }

    /// Close a sheet: widths, frozen header, filter, heatmap; add it.
    fn finish_part(
        &mut self,
        wb: &mut Workbook,
        mut part: Part,
        ncols: usize,
        heat_cols: Option<(u16, u16)>,
    ) -> Result<String, XlsxError> {
        part.widths.apply(&mut part.ws)?;
        part.ws.set_freeze_panes(1, 0)?;
        // Printed (or saved as PDF), a table is one page wide with its
        // header on every page, and the sheet name and page in the footer.
        part.ws
            .set_landscape()
            .set_print_fit_to_pages(1, 0)
            .set_footer("&L&A&RPage &P of &N");
        part.ws.set_repeat_rows(0, 0)?;
        if ncols > 0 {
            let last_row = part.row.saturating_sub(1);
            part.ws.autofilter(0, 0, last_row, (ncols - 1) as u16)?;
        }
        if let (Some((c1, c2)), Some(&(r1, _))) = (heat_cols, part.heat_rows.first()) {
            let ranges: Vec<String> = part
                .heat_rows
                .iter()
                .map(|&(a, b)| {
                    format!(
                        "{}:{}",
                        rust_xlsxwriter::utility::row_col_to_cell(a, c1),
                        rust_xlsxwriter::utility::row_col_to_cell(b, c2)
                    )
                })
                .collect();
            let last = part.heat_rows.last().map_or(r1, |r| r.1);
            let scale = ConditionalFormat2ColorScale::new()
                .set_minimum_color("#FFFFFF")
                .set_maximum_color("#5B9BD5")
                .set_multi_range(ranges.join(" "));
            part.ws.add_conditional_format(r1, c1, last, c2, &scale)?;
        }
        let name = part.name.clone();
        wb.push_worksheet(part.ws);
        Ok(name)
    }

    /// Write one table, over several sheets when it is too long.
    fn write_table(&mut self, wb: &mut Workbook, sheet: &Sheet) -> Result<(), TableError> {
        let mut input = CsvIn::open(sheet.csv, self.masked.as_deref())?;
        let mut rec = csv::ByteRecord::new();
        let header = input.next(&mut rec)?.unwrap_or_default();
        let cols = self.column_types(sheet, &header)?;
        let wide = match sheet.kind {
            SheetKind::Wide => Some(self.wide_plan(sheet.csv, &header)?),
            _ => None,
        };
        let numeric: Vec<bool> = match &wide {
            Some(w) => (0..header.len()).map(|c| c >= w.first_value_col).collect(),
            None => cols.iter().map(|c| matches!(c, Col::Number(_))).collect(),
        };
        let heat_cols = wide.as_ref().and_then(|w| {
            (header.len() > w.first_value_col)
                .then(|| (w.first_value_col as u16, (header.len() - 1) as u16))
        });

        // The chart reads the first long table that has pct_responses.
        let chart_cols = (sheet.kind == SheetKind::Long && self.chart.is_none())
            .then(|| ChartCols::find(&header))
            .flatten();
        if let Some(cc) = &chart_cols {
            self.chart = Some(ChartData {
                group: (cc.question > 0).then(|| header[0].clone()),
                rows: Vec::new(),
            });
        }

        let base = SheetNames::base(sheet.name);
        let first_name = self.names.claim(sheet.name);
        let mut names = vec![first_name.clone()];
        let mut part = self.new_part(wb, first_name)?;
        self.header(&mut part, &header, &numeric)?;

        // Wide table state: the current question's N per column.
        let mut wide_n: Vec<Option<u64>> = vec![None; header.len()];
        let mut wide_text_rows: Vec<Vec<String>> = Vec::new();

        while let Some(row) = input.next(&mut rec)? {
            if part.row >= self.max_rows {
                self.finish_part(wb, part, header.len(), heat_cols)?;
                let name = self.names.claim_from(&base, names.len() + 1);
                names.push(name.clone());
                part = self.new_part(wb, name)?;
                self.header(&mut part, &header, &numeric)?;
            }
            if let Some(cc) = &chart_cols {
                self.chart_row(cc, &row);
            }
            match &wide {
                Some(plan) => {
                    if !plan.n_in_format {
                        wide_text_rows.push(row.clone());
                    }
                    self.wide_row(&mut part, plan, &row, &mut wide_n)?;
                }
                None => self.plain_row(&mut part, &cols, &row)?,
            }
            part.row += 1;
        }
        self.finish_part(wb, part, header.len(), heat_cols)?;
        if names.len() > 1 {
            self.notes.split_tables.push(SplitTable {
                table: sheet.name.to_string(),
                sheets: names,
            });
        }
        if !wide_text_rows.is_empty() {
            self.write_text_table(wb, &format!("{base} n (%)"), &header, &wide_text_rows)?;
        }
        Ok(())
    }

    /// The wide table's verbatim text, when its cells cannot spell `n`.
    fn write_text_table(
        &mut self,
        wb: &mut Workbook,
        name: &str,
        header: &[String],
        rows: &[Vec<String>],
    ) -> Result<(), XlsxError> {
        let name = self.names.claim(name);
        let mut part = self.new_part(wb, name)?;
        self.header(&mut part, header, &[])?;
        for row in rows {
            for (c, v) in row.iter().enumerate() {
                put_text(&mut self.notes.truncated_cells, &mut part, c, v, None)?;
            }
            part.row += 1;
        }
        self.finish_part(wb, part, header.len(), None)?;
        Ok(())
    }

    /// Decide each column's type from its name or, for plain tables, from
    /// a first pass over its cells.
    fn column_types(&self, sheet: &Sheet, header: &[String]) -> Result<Vec<Col>, TableError> {
        let by_name = |h: &String| Col::Number(num_kind(h));
        Ok(match sheet.kind {
            SheetKind::Long => {
                // Group columns come first and are text whatever they hold.
                let q = header.iter().position(|h| h == "question").unwrap_or(0);
                header
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let numeric = i > q
                            && crate::export::tables::LONG_COLUMNS.contains(&h.as_str())
                            && !["question", "theme", "label"].contains(&h.as_str());
                        if numeric { by_name(h) } else { Col::Text }
                    })
                    .collect()
            }
            SheetKind::Stats => {
                let scanned = self.scan_numeric(sheet.csv, header.len())?;
                header
                    .iter()
                    .zip(scanned)
                    .map(|(h, all_numbers)| {
                        if stats_text_name(h) {
                            Col::Text
                        } else if stats_numeric_name(h) || all_numbers {
                            by_name(h)
                        } else {
                            Col::Text
                        }
                    })
                    .collect()
            }
            SheetKind::Plain => {
                let scanned = self.scan_numeric(sheet.csv, header.len())?;
                header
                    .iter()
                    .zip(scanned)
                    .map(|(h, n)| if n { by_name(h) } else { Col::Text })
                    .collect()
            }
            SheetKind::Wide => vec![Col::Text; header.len()],
        })
    }

    /// Per column: does every non-empty, non-masked cell parse as a number
    /// without a leading zero (and is there at least one)?
    fn scan_numeric(&self, path: &Path, ncols: usize) -> Result<Vec<bool>, TableError> {
        let mut input = CsvIn::open(path, self.masked.as_deref())?;
        let mut rec = csv::ByteRecord::new();
        input.next(&mut rec)?;
        let mut ok = vec![true; ncols];
        let mut seen = vec![false; ncols];
        while let Some(row) = input.next(&mut rec)? {
            for (c, v) in row.iter().enumerate().take(ncols) {
                if !ok[c] || v.is_empty() || Some(v) == self.masked.as_ref() {
                    continue;
                }
                seen[c] = true;
                ok[c] = parse_number(v).is_some() && !leading_zero(v);
            }
        }
        Ok(ok.into_iter().zip(seen).map(|(o, s)| o && s).collect())
    }

    /// The wide table's layout and whether its `n` fit in number formats.
    fn wide_plan(&self, path: &Path, header: &[String]) -> Result<WidePlan, TableError> {
        let first_value_col = header
            .iter()
            .position(|h| h == "label")
            .or_else(|| header.iter().position(|h| h == "theme"))
            .map_or(1, |i| i + 1);
        let mut input = CsvIn::open(path, self.masked.as_deref())?;
        let mut rec = csv::ByteRecord::new();
        input.next(&mut rec)?;
        let mut ns = BTreeSet::new();
        while let Some(row) = input.next(&mut rec)? {
            for v in row.iter().skip(first_value_col) {
                if let Some((n, Some(_))) = parse_n_pct(v) {
                    ns.insert(n);
                }
            }
        }
        Ok(WidePlan {
            theme_col: header.iter().position(|h| h == "theme"),
            first_value_col,
            n_in_format: ns.len() <= MAX_N_FORMATS,
        })
    }

    fn plain_row(
        &mut self,
        part: &mut Part,
        cols: &[Col],
        row: &[String],
    ) -> Result<(), XlsxError> {
        let t = &mut self.notes.truncated_cells;
        for (c, v) in row.iter().enumerate() {
            match cols.get(c).copied().unwrap_or(Col::Text) {
                Col::Number(kind) => match parse_number(v) {
                    Some(x) => {
                        part.widths.see(c, number_width(x, v, kind));
                        let f = self.fmt.number(kind);
                        part.ws.write_number_with_format(part.row, c as u16, x, f)?;
                    }
                    // Masked (`<K`) or not a number: text, aligned as one.
                    None => put_text(t, part, c, v, Some(&self.fmt.masked))?,
                },
                Col::Text => put_text(t, part, c, v, None)?,
            }
        }
        Ok(())
    }

    /// A wide-table row: the `N` row sets the denominators; theme rows write
    /// percentages whose number format spells `n`.
    fn wide_row(
        &mut self,
        part: &mut Part,
        plan: &WidePlan,
        row: &[String],
        wide_n: &mut [Option<u64>],
    ) -> Result<(), XlsxError> {
        let t = &mut self.notes.truncated_cells;
        let is_n_row = plan
            .theme_col
            .and_then(|i| row.get(i))
            .is_some_and(|v| v == "N");
        for (c, v) in row.iter().enumerate() {
            if c < plan.first_value_col {
                let f = is_n_row.then_some(&self.fmt.wide_n);
                put_text(t, part, c, v, f)?;
                continue;
            }
            if is_n_row {
                let n = v.parse::<u64>().ok().filter(|_| !leading_zero(v));
                if let Some(slot) = wide_n.get_mut(c) {
                    *slot = n;
                }
                match n {
                    Some(n) => {
                        part.widths.see(c, v.len());
                        let f = &self.fmt.wide_n;
                        part.ws
                            .write_number_with_format(part.row, c as u16, n as f64, f)?;
                    }
                    None => put_text(t, part, c, v, Some(&self.fmt.masked))?,
                }
                continue;
            }
            match parse_n_pct(v) {
                Some((n, Some(p_text))) => {
                    // Full precision from the counts where we have them; the
                    // text's percentage is rounded to 0.1.
                    let p = match wide_n.get(c).copied().flatten() {
                        Some(total) if total > 0 && n <= total => 100.0 * n as f64 / total as f64,
                        _ => p_text,
                    };
                    part.widths.see(c, v.chars().count());
                    let f = if plan.n_in_format {
                        self.fmt.n_pct.entry(n).or_insert_with(|| {
                            Format::new().set_num_format(format!("\"{n} (\"0.0\"%)\""))
                        })
                    } else {
                        &self.fmt.wide_pct
                    };
                    part.ws.write_number_with_format(part.row, c as u16, p, f)?;
                }
                // Masked (`<K`), a bare count with no denominator, or
                // anything unexpected: keep the text.
                _ => put_text(t, part, c, v, Some(&self.fmt.masked))?,
            }
        }
        if !is_n_row && row.len() > plan.first_value_col {
            match part.heat_rows.last_mut() {
                Some((_, last)) if *last + 1 == part.row => *last = part.row,
                _ => part.heat_rows.push((part.row, part.row)),
            }
        }
        Ok(())
    }

    fn chart_row(&mut self, cc: &ChartCols, row: &[String]) {
        let get = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
        // Other group columns at their All level only.
        if (1..cc.question).any(|i| get(i) != self.all_label) {
            return;
        }
        let level = if cc.question > 0 {
            get(0).to_string()
        } else {
            self.all_label.clone()
        };
        let chart = self.chart.as_mut().expect("chart data started");
        chart.rows.push((
            get(cc.question).to_string(),
            ChartRow {
                level,
                theme: get(cc.theme).to_string(),
                label: cc.label.map(get).unwrap_or("").to_string(),
                pct: parse_number(get(cc.pct)),
            },
        ));
    }

    /// The `Chart` sheet: the data as a small table, and a bar chart of it.
    fn write_chart(&mut self, wb: &mut Workbook, data: ChartData) -> Result<(), XlsxError> {
        // Which question: the All level, else the only one, else the first.
        let mut questions: Vec<&str> = Vec::new();
        for (q, _) in &data.rows {
            if !questions.contains(&q.as_str()) {
                questions.push(q);
            }
        }
        let Some(question) = questions
            .iter()
            .find(|q| **q == self.all_label)
            .or(questions.first())
            .map(|q| q.to_string())
        else {
            return Ok(());
        };
        let rows: Vec<&ChartRow> = data
            .rows
            .iter()
            .filter(|(q, _)| *q == question)
            .map(|(_, r)| r)
            .collect();
        let ids: HashSet<&str> = rows.iter().map(|r| r.theme.as_str()).collect();
        let is_leaf = |id: &str| {
            !ids.iter()
                .any(|o| o.len() > id.len() && o.starts_with(id) && o[id.len()..].starts_with('.'))
        };
        let mut themes: Vec<(&str, &str)> = Vec::new();
        let mut levels: Vec<&str> = Vec::new();
        for r in &rows {
            if is_leaf(&r.theme) && !themes.iter().any(|t| t.0 == r.theme) {
                themes.push((&r.theme, &r.label));
            }
            if !levels.contains(&r.level.as_str()) {
                levels.push(&r.level);
            }
        }
        if levels.len() > 1 {
            levels.retain(|l| *l != self.all_label);
        }
        levels.truncate(MAX_SERIES);
        if themes.is_empty() || levels.is_empty() {
            return Ok(());
        }
        let values: HashMap<(&str, &str), f64> = rows
            .iter()
            .filter_map(|r| r.pct.map(|p| ((r.level.as_str(), r.theme.as_str()), p)))
            .collect();

        let name = self.names.claim("Chart");
        let ws = wb.add_worksheet();
        ws.set_name(&name)?;
        let header = &self.fmt.header;
        ws.write_string_with_format(0, 0, "theme", header)?;
        let mut w0 = 8;
        for (i, (id, label)) in themes.iter().enumerate() {
            let cat = if label.is_empty() { *id } else { *label };
            w0 = w0.max(cat.chars().count());
            ws.write_string((i + 1) as u32, 0, cat)?;
        }
        ws.set_column_width(0, (w0 as f64 + 1.0).min(MAX_WIDTH))?;
        for (j, level) in levels.iter().enumerate() {
            let c = (j + 1) as u16;
            ws.write_string_with_format(0, c, *level, header)?;
            ws.set_column_width(c, (level.chars().count() as f64 + 2.0).clamp(7.0, 30.0))?;
            for (i, (id, _)) in themes.iter().enumerate() {
                if let Some(p) = values.get(&(*level, *id)) {
                    ws.write_number_with_format((i + 1) as u32, c, *p, &self.fmt.one_dp)?;
                }
            }
        }
        ws.set_freeze_panes(1, 1)?;

        let last = themes.len() as u32;
        let mut chart = Chart::new_bar();
        for j in 0..levels.len() {
            let c = (j + 1) as u16;
            chart
                .add_series()
                .set_name((name.as_str(), 0, c))
                .set_categories((name.as_str(), 1, 0, last, 0))
                .set_values((name.as_str(), 1, c, last, c));
        }
        let by = data
            .group
            .as_deref()
            .map_or(String::new(), |g| format!(" by {g}"));
        let about = if question == self.all_label || questions.len() == 1 {
            String::new()
        } else {
            format!(" ({question})")
        };
        chart
            .title()
            .set_name(&format!("Responses with theme (%){by}{about}"));
        // Bars list categories bottom-up; reverse so the first theme is on
        // top, as in the table beside it.
        chart
            .y_axis()
            .set_reverse()
            .set_crossing(ChartAxisCrossing::Max);
        chart
            .x_axis()
            .set_name("% of responses")
            .set_min(0)
            .set_num_format("0");
        chart.legend().set_position(ChartLegendPosition::Top);
        let per_theme = (levels.len() * 7 + 8).max(18) as u32;
        chart.set_width(900).set_height(120 + per_theme * last);
        ws.insert_chart(0, (levels.len() + 2) as u16, &chart)?;
        ws.set_landscape().set_print_fit_to_pages(1, 1);
        Ok(())
    }

    /// The `About` sheet: the manifest as key/value rows, then the notes.
    fn write_about(
        &mut self,
        wb: &mut Workbook,
        manifest: Option<&serde_json::Value>,
        raw: &str,
    ) -> Result<(), XlsxError> {
        let mut rows: Vec<(String, serde_json::Value)> = Vec::new();
        match manifest {
            Some(m) => flatten("", m, &mut rows),
            None if !raw.trim().is_empty() => {
                rows.push(("manifest".into(), serde_json::Value::String(raw.into())));
            }
            None => {}
        }
        rows.push((
            "xlsx.truncated_cells".into(),
            serde_json::Value::from(self.notes.truncated_cells),
        ));
        for s in &self.notes.split_tables {
            rows.push((
                format!("xlsx.split.{}", s.table),
                serde_json::Value::String(s.sheets.join(", ")),
            ));
        }
        let name = self.names.claim("About");
        let mut part = self.new_part(wb, name)?;
        self.header(&mut part, &["key".to_string(), "value".to_string()], &[])?;
        let t = &mut self.notes.truncated_cells;
        for (k, v) in &rows {
            put_text(t, &mut part, 0, k, Some(&self.fmt.key))?;
            match v {
                serde_json::Value::Number(n) => {
                    if let Some(x) = n.as_f64() {
                        part.widths.see(1, n.to_string().len());
                        part.ws.write_number(part.row, 1, x)?;
                    }
                }
                serde_json::Value::String(s) => put_text(t, &mut part, 1, s, None)?,
                serde_json::Value::Null => {}
                other => put_text(t, &mut part, 1, &other.to_string(), None)?,
            }
            part.row += 1;
        }
        // The header's filter is noise on a key/value list.
        part.widths.apply(&mut part.ws)?;
        part.ws.set_freeze_panes(1, 0)?;
        wb.push_worksheet(part.ws);
        Ok(())
    }
}

/// Column positions the chart needs in the long table.
struct ChartCols {
    /// Index of `question`; the group columns are before it.
    question: usize,
    theme: usize,
    label: Option<usize>,
    pct: usize,
}

impl ChartCols {
    fn find(header: &[String]) -> Option<ChartCols> {
        let pos = |name: &str| header.iter().position(|h| h == name);
        Some(ChartCols {
            question: pos("question")?,
            theme: pos("theme")?,
            label: pos("label"),
            pct: pos("pct_responses")?,
        })
    }
}

/// JSON to `key`/`value` rows: objects by `.`, arrays of scalars joined by
/// `, `, other arrays by `[1]`, `[2]`…
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let joined: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), Value::String(joined.join(", "))));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{}]", i + 1), item, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx, open_workbook};
    use std::io::Read;

    const LONG: &str = "\
group,question,theme,label,responses,responses_with_theme,pct_responses,respondents,respondents_with_theme,pct_respondents,hits,score,negated_hits,tokens,hits_per_1000_tokens
007,All,objectives,Objectives,4,2,50,,,,3,3,0,40,75
007,All,objectives.abstinence,Abstinence,4,1,25,,,,1,1,0,40,25
AA,All,objectives,Objectives,3,3,100,,,,4,4,1,30,133.33333333333334
AA,All,objectives.abstinence,Abstinence,3,<5,<5,,,,2,2,0,30,66.66666666666667
All,All,objectives,Objectives,7,5,71.42857142857143,,,,7,7,1,70,100
All,All,objectives.abstinence,Abstinence,7,2,28.571428571428573,,,,3,3,0,70,42.857142857142854
";

    const WIDE: &str = "\
question,theme,label,007,AA,All
All,N,responses,4,3,7
All,objectives,Objectives,2 (50.0%),3 (100.0%),5 (71.4%)
All,objectives.abstinence,Abstinence,1 (25.0%),<5,2 (28.6%)
";

    const STATS: &str = "\
theme,test,n,chi2,df,p,p_holm,cramers_v,code
objectives,pearson,7,1.5,1,0.22,0.44,0.46291004988627577,01
objectives.abstinence,freeman-halton,7,0.1,1,0.00001,1,0.1,02
";

    const MANIFEST: &str = r#"{
  "tool": "thematic",
  "version": "0.1.0",
  "inputs": [{"path": "responses.csv", "sha256": "abc123", "rows": 12}],
  "lexicon": {"name": "recovery", "version": "1.2", "sha256": "def456"},
  "options": {"groups": ["group", "age"], "all_label": "All"}
}"#;

    fn plain(long_cell: &str) -> String {
        format!(
            "row,id,group,tokens,coded_pct,objectives,note\n\
             1,P01,007,10,12.5,1,short\n\
             2,007,AA,12,,<5,{long_cell}\n\
             3,P03,AA,7,3,2,x\n"
        )
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(path: &Path) -> Xlsx<std::io::BufReader<std::fs::File>> {
        open_workbook(path).unwrap()
    }

    fn cell(wb: &mut Xlsx<std::io::BufReader<std::fs::File>>, sheet: &str, r: u32, c: u32) -> Data {
        let range = wb.worksheet_range(sheet).unwrap();
        range.get_value((r, c)).cloned().unwrap_or(Data::Empty)
    }

    /// The text of one part of the xlsx zip.
    fn part(path: &Path, name: &str) -> String {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    fn s(x: &str) -> Data {
        Data::String(x.into())
    }

    #[test]
    fn numbers_are_plain_decimals() {
        for (text, want) in [
            ("0", Some(0.0)),
            ("-12", Some(-12.0)),
            ("12.5", Some(12.5)),
            ("1e-7", Some(1e-7)),
            ("33.333333333333336", Some(33.333333333333336)),
            ("007", Some(7.0)),
            ("+1", None),
            (".5", None),
            ("5.", None),
            ("NaN", None),
            ("inf", None),
            ("1e", None),
            ("P01", None),
            ("", None),
            ("<5", None),
            ("1234567890123456", None),
        ] {
            assert_eq!(parse_number(text), want, "{text}");
        }
        assert!(leading_zero("007") && leading_zero("-01"));
        assert!(!leading_zero("0") && !leading_zero("0.5") && !leading_zero("10"));
    }

    #[test]
    fn long_cells_are_cut_with_a_marker() {
        let long = "é".repeat(40_000);
        let cut = fit_cell(&long, EXCEL_MAX_CHARS).unwrap();
        assert_eq!(utf16_len(&cut), EXCEL_MAX_CHARS);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert_eq!(fit_cell("short", EXCEL_MAX_CHARS), None);
        // A character outside the BMP counts twice and is never split.
        let cut = fit_cell(&"😀".repeat(20_000), EXCEL_MAX_CHARS).unwrap();
        assert!(utf16_len(&cut) <= EXCEL_MAX_CHARS);
    }

    #[test]
    fn sheet_names_are_excel_safe_and_unique() {
        let mut n = SheetNames::default();
        assert_eq!(n.claim("a/b:c*d?e[f]g\\h"), "a_b_c_d_e_f_g_h");
        assert_eq!(n.claim("'quoted'"), "quoted");
        assert_eq!(n.claim(""), "Sheet");
        assert_eq!(n.claim("History"), "History_");
        let long = "themes_by_group_wide_with_a_very_long_name";
        let first = n.claim(long);
        assert_eq!(first.chars().count(), 31);
        let second = n.claim(long);
        assert_eq!(second, "themes_by_group_wide_with_a (2)");
        assert_eq!(n.claim("QUOTED"), "QUOTED (2)");
    }

    #[test]
    fn workbook_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let long_cell = "x".repeat(40_000);
        let (l, w, st, p) = (
            write(d, "long.csv", LONG),
            write(d, "wide.csv", WIDE),
            write(d, "stats.csv", STATS),
            write(d, "responses.csv", &plain(&long_cell)),
        );
        let sheets = [
            Sheet {
                name: "themes_by_group",
                csv: &l,
                kind: SheetKind::Long,
            },
            Sheet {
                name: "themes_by_group_wide",
                csv: &w,
                kind: SheetKind::Wide,
            },
            Sheet {
                name: "stats",
                csv: &st,
                kind: SheetKind::Stats,
            },
            Sheet {
                name: "responses",
                csv: &p,
                kind: SheetKind::Plain,
            },
        ];
        let info = ReportInfo {
            manifest_json: MANIFEST.into(),
            min_cell: Some(5),
        };
        let out = d.join("report.xlsx");
        let notes = write_report(&out, &sheets, &info).unwrap();
        assert_eq!(notes.truncated_cells, 1);
        assert!(notes.split_tables.is_empty());

        let mut wb = read(&out);
        assert_eq!(
            wb.sheet_names(),
            [
                "themes_by_group",
                "themes_by_group_wide",
                "stats",
                "responses",
                "Chart",
                "About"
            ]
        );
        // Long: headers, group ids as text, counts and percentages as numbers,
        // masked cells as text, blank respondent columns blank.
        let long = "themes_by_group";
        assert_eq!(cell(&mut wb, long, 0, 0), s("group"));
        assert_eq!(cell(&mut wb, long, 0, 6), s("pct_responses"));
        assert_eq!(cell(&mut wb, long, 1, 0), s("007"));
        assert_eq!(cell(&mut wb, long, 1, 4), Data::Float(4.0));
        assert_eq!(cell(&mut wb, long, 5, 6), Data::Float(71.42857142857143));
        assert_eq!(cell(&mut wb, long, 4, 5), s("<5"));
        assert_eq!(cell(&mut wb, long, 1, 7), Data::Empty);
        // Wide: the percentage as a number, N as a number, masked as text.
        let wide = "themes_by_group_wide";
        assert_eq!(cell(&mut wb, wide, 0, 3), s("007"));
        assert_eq!(cell(&mut wb, wide, 1, 5), Data::Float(7.0));
        assert_eq!(cell(&mut wb, wide, 2, 5), Data::Float(100.0 * 5.0 / 7.0));
        assert_eq!(cell(&mut wb, wide, 3, 4), s("<5"));
        // Stats: by name, and the leading-zero code column stays text.
        assert_eq!(cell(&mut wb, "stats", 1, 1), s("pearson"));
        assert_eq!(cell(&mut wb, "stats", 2, 5), Data::Float(0.00001));
        assert_eq!(cell(&mut wb, "stats", 1, 8), s("01"));
        // Plain: ids stay text, numeric columns are numbers even with a
        // masked or empty cell.
        let r = "responses";
        assert_eq!(cell(&mut wb, r, 1, 0), Data::Float(1.0));
        assert_eq!(cell(&mut wb, r, 1, 1), s("P01"));
        assert_eq!(cell(&mut wb, r, 2, 1), s("007"));
        assert_eq!(cell(&mut wb, r, 1, 2), s("007"));
        assert_eq!(cell(&mut wb, r, 1, 4), Data::Float(12.5));
        assert_eq!(cell(&mut wb, r, 2, 4), Data::Empty);
        assert_eq!(cell(&mut wb, r, 2, 5), s("<5"));
        assert_eq!(cell(&mut wb, r, 3, 5), Data::Float(2.0));
        let Data::String(cut) = cell(&mut wb, r, 2, 6) else {
            panic!("the long cell is text")
        };
        assert_eq!(cut.chars().count(), EXCEL_MAX_CHARS);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        // Chart data: leaf themes by level of the first group, All left out.
        assert_eq!(cell(&mut wb, "Chart", 0, 1), s("007"));
        assert_eq!(cell(&mut wb, "Chart", 0, 2), s("AA"));
        assert_eq!(cell(&mut wb, "Chart", 0, 3), Data::Empty);
        assert_eq!(cell(&mut wb, "Chart", 1, 0), s("Abstinence"));
        assert_eq!(cell(&mut wb, "Chart", 1, 1), Data::Float(25.0));
        assert_eq!(cell(&mut wb, "Chart", 2, 0), Data::Empty);
        // About: the manifest as key/value rows.
        let about = wb.worksheet_range("About").unwrap();
        let rows: Vec<(String, String)> = about
            .rows()
            .map(|r| (r[0].to_string(), r[1].to_string()))
            .collect();
        for (k, v) in [
            ("lexicon.sha256", "def456"),
            ("inputs[1].sha256", "abc123"),
            ("inputs[1].rows", "12"),
            ("options.groups", "group, age"),
            ("xlsx.truncated_cells", "1"),
        ] {
            assert!(rows.contains(&(k.into(), v.into())), "{k} in {rows:?}");
        }

        // What calamine does not read: formats, heatmap, chart, panes.
        let styles = part(&out, "xl/styles.xml");
        assert!(styles.contains(r#"formatCode="&quot;5 (&quot;0.0&quot;%)&quot;""#));
        assert!(styles.contains(r#"formatCode="0.0""#));
        let wide_xml = part(&out, "xl/worksheets/sheet2.xml");
        assert!(wide_xml.contains("<colorScale>"));
        assert!(wide_xml.contains(r#"sqref="D3:F4""#), "{wide_xml}");
        let long_xml = part(&out, "xl/worksheets/sheet1.xml");
        assert!(long_xml.contains(r#"<pane ySplit="1""#));
        assert!(long_xml.contains("<autoFilter"));
        assert!(long_xml.contains("<cols>"));
        assert!(part(&out, "xl/charts/chart1.xml").contains("<c:barChart>"));
    }

    #[test]
    fn long_tables_continue_on_more_sheets() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("row,id\n");
        for i in 1..=5 {
            text.push_str(&format!("{i},P{i:02}\n"));
        }
        let csv = write(dir.path(), "t.csv", &text);
        let out = dir.path().join("report.xlsx");
        let sheets = [Sheet {
            name: "responses",
            csv: &csv,
            kind: SheetKind::Plain,
        }];
        let notes = write_report_with(&out, &sheets, &ReportInfo::default(), 3).unwrap();
        let names = ["responses", "responses (2)", "responses (3)"];
        assert_eq!(
            notes.split_tables,
            [SplitTable {
                table: "responses".into(),
                sheets: names.map(String::from).to_vec(),
            }]
        );
        let mut wb = read(&out);
        assert_eq!(wb.sheet_names(), [&names[..], &["About"]].concat());
        let mut seen = Vec::new();
        for name in names {
            let range = wb.worksheet_range(name).unwrap();
            let rows: Vec<_> = range.rows().collect();
            assert_eq!(rows[0], [s("row"), s("id")]);
            assert!(rows.len() <= 3);
            seen.extend(rows[1..].iter().map(|r| r[0].clone()));
        }
        assert_eq!(
            seen,
            (1..=5).map(|i| Data::Float(i as f64)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn many_distinct_counts_fall_back_to_a_text_sheet() {
        let dir = tempfile::tempdir().unwrap();
        let total = MAX_N_FORMATS + 10;
        let mut text = format!("question,theme,label,All\nq,N,responses,{total}\n");
        for n in 1..=total {
            text.push_str(&format!("q,t{n},,{n} (1.0%)\n"));
        }
        let csv = write(dir.path(), "wide.csv", &text);
        let out = dir.path().join("report.xlsx");
        let sheets = [Sheet {
            name: "wide",
            csv: &csv,
            kind: SheetKind::Wide,
        }];
        write_report(&out, &sheets, &ReportInfo::default()).unwrap();
        let mut wb = read(&out);
        assert_eq!(wb.sheet_names(), ["wide", "wide n (%)", "About"]);
        assert_eq!(
            cell(&mut wb, "wide", 2, 3),
            Data::Float(100.0 / total as f64)
        );
        assert_eq!(cell(&mut wb, "wide n (%)", 2, 3), s("1 (1.0%)"));
    }

    #[test]
    fn unreadable_csv_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let out = dir.path().join("report.xlsx");
        let sheets = [Sheet {
            name: "t",
            csv: &missing,
            kind: SheetKind::Plain,
        }];
        let err = write_report(&out, &sheets, &ReportInfo::default()).unwrap_err();
        assert!(err.to_string().contains("missing.csv"), "{err}");
    }
}
