//! Ingest: input files to batches of responses, every row accounted for.
//!
//! This module owns reading the inputs (DESIGN 5 and 7): CSV/TSV streamed
//! in any encoding encoding_rs knows (UTF-8 by default, UTF-16 by its
//! byte-order mark, others by `--encoding`), spreadsheets through calamine
//! ([`sheet`], loaded whole), survey exports' extra header rows (Qualtrics,
//! SurveyMonkey, or `--header-rows`), row filters (`--filter`), mapping
//! columns to responses, and the list of rows it could not use
//! ([`Skipped`]). CSV is streamed: a [`Reader`] hands out [`Batch`]es of a
//! few thousand rows and never holds a whole CSV input. It does not
//! tokenize or match.
//!
//! Every data row read is, per input, exactly one of: handed out as a
//! [`Row`], skipped (malformed, listed with its line and reason), or
//! filtered (counted per filter). [`InputStats`] records the counts.

mod decode;
mod sheet;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use encoding_rs::Encoding;
use sha2::{Digest, Sha256};

use crate::error::Error;
use decode::{Decode, Prefixed, QuoteTrack, Tap};

/// One input, as the user named it (`-` is stdin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
    /// Bytes in memory, under a display name (for library callers, tests
    /// and fuzzing).
    Memory {
        /// How the input is named in messages and outputs.
        name: String,
        /// The input's bytes.
        bytes: Arc<[u8]>,
    },
}

impl Input {
    /// `-` is stdin, anything else a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// How the input is named in messages and outputs.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::Path(p) => p.display().to_string(),
            Input::Memory { name, .. } => name.clone(),
        }
    }

    /// The field delimiter implied by the file's extension: TAB for `.tsv`
    /// and `.tab`, comma otherwise.
    pub fn default_delimiter(&self) -> u8 {
        if self.has_extension(&["tsv", "tab"]) {
            b'\t'
        } else {
            b','
        }
    }

    fn has_extension(&self, exts: &[&str]) -> bool {
        let name = match self {
            Input::Stdin => return false,
            Input::Path(p) => p.as_path(),
            Input::Memory { name, .. } => Path::new(name),
        };
        name.extension()
            .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
    }
}

/// Which columns hold what (names as in the header).
#[derive(Clone, Debug, Default)]
pub struct ColumnSpec {
    /// Text columns; several = wide layout, each column a question.
    /// Empty = find a column named text/response/answer.
    pub text: Vec<String>,
    /// Respondent id column.
    pub id: Option<String>,
    /// Group columns.
    pub groups: Vec<String>,
    /// Question column (long layout).
    pub question: Option<String>,
}

/// Column positions resolved against a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// (column index, column name) per text column.
    pub text: Vec<(usize, String)>,
    /// The question label of each text column (parallel to `text`): the
    /// column name, or the question text of a survey export that carries
    /// one (Qualtrics).
    pub question_labels: Vec<String>,
    /// Id column index.
    pub id: Option<usize>,
    /// Group column indexes.
    pub groups: Vec<usize>,
    /// Question column index.
    pub question: Option<usize>,
    /// Number of header fields.
    pub width: usize,
}

/// Names that are taken as the text column when `--text` is not given.
const TEXT_NAMES: &[&str] = &["text", "response", "answer"];

/// Find column `name` in `header`: an exact match, else a unique
/// case-insensitive match of the trimmed names. A name the header holds
/// twice is ambiguous and an error.
fn find_column(header: &[String], name: &str, what: &str, input: &str) -> Result<usize, Error> {
    let exact: Vec<usize> = (0..header.len()).filter(|&i| header[i] == name).collect();
    let found = if exact.is_empty() {
        (0..header.len())
            .filter(|&i| header[i].trim().eq_ignore_ascii_case(name.trim()))
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [i] => Ok(*i),
        [] => Err(Error::Column {
            input: input.to_string(),
            message: format!("no {what} column named `{name}`"),
            columns: header.to_vec(),
        }),
        many => Err(Error::Column {
            input: input.to_string(),
            message: format!(
                "the {what} column `{name}` is ambiguous: {} header columns are called so (columns {}); rename all but one",
                many.len(),
                many.iter()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            columns: header.to_vec(),
        }),
    }
}

impl Layout {
    /// Resolve `spec` against `header` of `input`.
    pub fn resolve(spec: &ColumnSpec, header: &[String], input: &str) -> Result<Layout, Error> {
        let find = |name: &str, what: &str| find_column(header, name, what, input);
        let text = if spec.text.is_empty() {
            let found: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| TEXT_NAMES.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
                .map(|(i, _)| i)
                .collect();
            match found.as_slice() {
                [i] => vec![(*i, header[*i].clone())],
                [] => {
                    return Err(Error::Column {
                        input: input.to_string(),
                        message: "no text column: name one with --text (no column is called text, response or answer)".into(),
                        columns: header.to_vec(),
                    });
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|&i| header[i].as_str()).collect();
                    return Err(Error::Column {
                        input: input.to_string(),
                        message: format!(
                            "several columns could be the text ({}): choose one with --text",
                            names.join(", ")
                        ),
                        columns: header.to_vec(),
                    });
                }
            }
        } else {
            spec.text
                .iter()
                .map(|name| find(name, "text").map(|i| (i, header[i].clone())))
                .collect::<Result<_, _>>()?
        };
        let id = spec.id.as_deref().map(|n| find(n, "id")).transpose()?;
        let groups = spec
            .groups
            .iter()
            .map(|n| find(n, "group"))
            .collect::<Result<Vec<_>, _>>()?;
        let question = spec
            .question
            .as_deref()
            .map(|n| find(n, "question"))
            .transpose()?;
        if question.is_some() && text.len() > 1 {
            return Err(Error::Usage(
                "--question cannot be combined with several --text columns (the wide layout makes each text column a question)".into(),
            ));
        }
        Ok(Layout {
            question_labels: text.iter().map(|t| t.1.clone()).collect(),
            text,
            id,
            groups,
            question,
            width: header.len(),
        })
    }

    /// Use a survey export's question texts (`labels[column]`) as the
    /// question labels of the text columns. An empty text keeps the column
    /// name; texts that two text columns share get the column name appended
    /// (`text [Q5]`), so questions never merge by accident.
    fn use_labels(&mut self, labels: &[String]) {
        let mut out: Vec<String> = self
            .text
            .iter()
            .map(|(i, name)| {
                let l = labels.get(*i).map_or("", |l| l.trim());
                if l.is_empty() {
                    name.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        let dup: Vec<bool> = out
            .iter()
            .map(|l| out.iter().filter(|m| *m == l).count() > 1)
            .collect();
        for ((l, d), (_, name)) in out.iter_mut().zip(dup).zip(&self.text) {
            if d && l != name {
                *l = format!("{l} [{name}]");
            }
        }
        self.question_labels = out;
    }
}

/// A row filter (`--filter COL=VALUE` keeps rows whose COL is VALUE;
/// `--filter COL!=VALUE` drops them).
///
/// Several `=` filters on one column keep a row whose value is any of
/// theirs; filters on different columns must all pass. Values are compared
/// exactly, after trimming surrounding whitespace from the cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The column's name.
    pub column: String,
    /// The value compared with.
    pub value: String,
    /// `true` for `=` (keep matching rows), `false` for `!=` (drop them).
    pub keep: bool,
}

impl Filter {
    /// Parse `COL=VALUE` or `COL!=VALUE` (split at the first `=`; column
    /// names containing `=` cannot be filtered on).
    pub fn parse(s: &str) -> Result<Filter, Error> {
        let Some(eq) = s.find('=') else {
            return Err(Error::Usage(format!(
                "--filter `{s}`: expected COL=VALUE (keep) or COL!=VALUE (drop)"
            )));
        };
        let (column, keep) = match s[..eq].strip_suffix('!') {
            Some(c) => (c, false),
            None => (&s[..eq], true),
        };
        if column.trim().is_empty() {
            return Err(Error::Usage(format!(
                "--filter `{s}`: no column name before `=`"
            )));
        }
        Ok(Filter {
            column: column.to_string(),
            value: s[eq + 1..].to_string(),
            keep,
        })
    }
}

/// The filters on one column and how many rows they removed from an input.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FilterCount {
    /// The column filtered on.
    pub column: String,
    /// Values kept (`COL=VALUE`); empty = any value not dropped.
    pub keep: Vec<String>,
    /// Values dropped (`COL!=VALUE`).
    pub drop: Vec<String>,
    /// Rows removed by this column's filters. A row that fails several
    /// columns' filters is counted once, for the first of them (in the
    /// order first given on the command line).
    pub removed: u64,
}

impl FilterCount {
    /// Group filters by column, in order of first appearance.
    fn group(filters: &[Filter]) -> Vec<FilterCount> {
        let mut out: Vec<FilterCount> = Vec::new();
        for f in filters {
            let i = match out.iter().position(|c| c.column == f.column) {
                Some(i) => i,
                None => {
                    out.push(FilterCount {
                        column: f.column.clone(),
                        ..FilterCount::default()
                    });
                    out.len() - 1
                }
            };
            let list = if f.keep {
                &mut out[i].keep
            } else {
                &mut out[i].drop
            };
            if !list.contains(&f.value) {
                list.push(f.value.clone());
            }
        }
        out
    }

    fn passes(&self, value: &str) -> bool {
        let v = value.trim();
        (self.keep.is_empty() || self.keep.iter().any(|k| k == v))
            && !self.drop.iter().any(|d| d == v)
    }
}

/// One data row of a [`Batch`], as read: raw bytes, decoded by the worker
/// that codes it (so the reader thread does no per-field work).
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// 1-based data row number over all inputs (header rows not counted;
    /// skipped and filtered rows keep their numbers).
    pub row: u64,
    /// Index of the input in the run's input list.
    pub input: usize,
    /// 1-based line where the record starts (for a spreadsheet, the sheet's
    /// 1-based row number).
    pub line: u64,
    /// Where the columns are in this input.
    pub layout: &'a Layout,
    /// The batch's bytes from the row's first field on.
    data: &'a [u8],
    /// End of each field, relative to `data`.
    ends: &'a [usize],
}

impl<'a> Row<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for a row without fields (never handed out).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`'s bytes.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    /// Field `i` as text; invalid UTF-8 is replaced (the `bool` says so).
    pub fn field(&self, i: usize) -> (std::borrow::Cow<'a, str>, bool) {
        let bytes = self.get(i).unwrap_or_default();
        // Every text field is checked: the SIMD check is several times
        // faster than `std::str::from_utf8` on mostly-ASCII text.
        match simdutf8::basic::from_utf8(bytes) {
            Ok(s) => (std::borrow::Cow::Borrowed(s), false),
            Err(_) => (String::from_utf8_lossy(bytes), true),
        }
    }
}

/// Where a row of a batch is.
#[derive(Clone, Copy, Debug)]
struct RowMeta {
    row: u64,
    input: usize,
    line: u64,
    /// Offset of the first field in `Batch::data`.
    start: usize,
    /// `Batch::ends[fields.0..fields.1]`: the row's field ends.
    fields: (usize, usize),
    layout: usize,
}

/// A row that was not coded, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The input's display name.
    pub file: String,
    /// 1-based line where the record starts.
    pub line: u64,
    /// What was wrong.
    pub reason: String,
}

/// A batch of rows handed to the workers: every field's bytes in one
/// buffer, so reading a row allocates nothing, and a batch can be handed
/// back to the reader to be filled again ([`Reader::next_batch_into`]).
#[derive(Debug, Default)]
pub struct Batch {
    rows: Vec<RowMeta>,
    data: Vec<u8>,
    /// End of each field in `data`, relative to its row's start.
    ends: Vec<usize>,
    layouts: Vec<Arc<Layout>>,
    /// Rows skipped while reading this batch, in input order.
    pub skipped: Vec<Skipped>,
}

impl Batch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without rows (there may still be skipped ones).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> Row<'_> {
        let m = self.rows[i];
        Row {
            row: m.row,
            input: m.input,
            line: m.line,
            layout: &self.layouts[m.layout],
            data: &self.data[m.start..],
            ends: &self.ends[m.fields.0..m.fields.1],
        }
    }

    /// The rows in input order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        (0..self.rows.len()).map(|i| self.row(i))
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.data.clear();
        self.ends.clear();
        self.layouts.clear();
        self.skipped.clear();
    }

    fn push(
        &mut self,
        row: u64,
        input: usize,
        line: u64,
        record: &csv::ByteRecord,
        layout: &Arc<Layout>,
    ) {
        if !self.layouts.last().is_some_and(|l| Arc::ptr_eq(l, layout)) {
            self.layouts.push(layout.clone());
        }
        let start = self.data.len();
        let first = self.ends.len();
        for f in record {
            self.data.extend_from_slice(f);
            self.ends.push(self.data.len() - start);
        }
        self.rows.push(RowMeta {
            row,
            input,
            line,
            start,
            fields: (first, self.ends.len()),
            layout: self.layouts.len() - 1,
        });
    }
}

/// Per-input accounting, filled while reading. Per input,
/// `rows_read = rows handed out + rows_skipped + rows_filtered`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct InputStats {
    /// Display name.
    pub path: String,
    /// SHA-256 of the bytes read (hex).
    pub sha256: String,
    /// Bytes read.
    pub bytes: u64,
    /// `csv` (delimited text) or the workbook format (`xlsx`, `xls`,
    /// `xlsb`, `ods`).
    pub format: String,
    /// The text encoding read (delimited text only), e.g. `UTF-8`,
    /// `UTF-16LE`, `windows-1252`.
    pub encoding: Option<String>,
    /// The sheet read (workbooks only).
    pub sheet: Option<String>,
    /// 1-based line (sheet row) of the header.
    pub header_line: u64,
    /// The survey export recognised by its header rows (`qualtrics`,
    /// `qualtrics-legacy`, `surveymonkey`), or `header-rows` when
    /// `--header-rows` said how many there are.
    pub header_format: Option<String>,
    /// Data rows read (header rows not counted).
    pub rows_read: u64,
    /// Rows skipped as malformed.
    pub rows_skipped: u64,
    /// Rows removed by `--filter`.
    pub rows_filtered: u64,
    /// Rows removed, per filtered column.
    pub filters: Vec<FilterCount>,
    /// Extra header rows skipped (survey exports, `--header-rows`).
    pub extra_header_rows: u64,
    /// Fields in which invalid UTF-8 was replaced (header and used
    /// columns).
    pub invalid_utf8_fields: u64,
    /// First line with invalid UTF-8.
    pub first_invalid_utf8_line: Option<u64>,
    /// What was noticed and done about this input, one line each (also
    /// printed as warnings).
    pub notes: Vec<String>,
}

/// Options for reading.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Field delimiter; `None` = from each file's extension.
    pub delimiter: Option<u8>,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Fail on the first malformed row instead of skipping it.
    pub strict: bool,
    /// Encoding of delimited text without a byte-order mark; `None` =
    /// UTF-8. A BOM (UTF-8, UTF-16LE, UTF-16BE) always wins.
    pub encoding: Option<&'static Encoding>,
    /// Sheet of a workbook: a name, or a 1-based position; `None` = the
    /// first sheet. Ignored for delimited text.
    pub sheet: Option<String>,
    /// Header rows at the top of every input (the first names the
    /// columns, the others are skipped); `None` = detect survey exports.
    pub header_rows: Option<usize>,
    /// Row filters.
    pub filters: Vec<Filter>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            batch_rows: 4096,
            strict: false,
            encoding: None,
            sheet: None,
            header_rows: None,
            filters: Vec::new(),
        }
    }
}

type CsvStream = QuoteTrack<Decode<Prefixed<Tap<Box<dyn Read + Send>>>>>;

/// Where an input's records come from.
enum Source {
    /// Delimited text, streamed.
    Csv(Box<csv::Reader<CsvStream>>),
    /// A sheet, loaded whole.
    Sheet(sheet::SheetRows),
}

/// What a source yields next.
enum Next {
    /// A record and the line it starts on.
    Record(u64, csv::ByteRecord),
    /// A malformed record: its line and what is wrong.
    Bad(u64, String),
    /// No more records.
    End,
}

impl Source {
    /// The next record; a CSV record is read into `spare` when there is
    /// one (its buffers reused), so a row allocates nothing.
    fn next(&mut self, name: &str, spare: &mut Option<csv::ByteRecord>) -> Result<Next, Error> {
        match self {
            Source::Sheet(rows) => Ok(match rows.next_row() {
                Some((line, rec)) => Next::Record(line, rec),
                None => Next::End,
            }),
            Source::Csv(rdr) => {
                let mut rec = spare.take().unwrap_or_default();
                match rdr.read_byte_record(&mut rec) {
                    Ok(true) => {
                        let line = rec.position().map_or(0, |p| p.line());
                        if rdr.get_ref().unterminated() {
                            return Ok(Next::Bad(
                                line,
                                format!(
                                    "unterminated quoted field: a `\"` opened in this record is never closed, so everything from line {line} to the end of the file was read as one record"
                                ),
                            ));
                        }
                        Ok(Next::Record(line, rec))
                    }
                    Ok(false) => Ok(Next::End),
                    Err(err) => {
                        let line = err.position().map_or(0, |p| p.line());
                        if let csv::ErrorKind::Io(e) = err.kind() {
                            return Err(Error::Input {
                                path: name.to_string(),
                                message: format!("read error near line {line}: {e}"),
                            });
                        }
                        Ok(Next::Bad(line, format!("malformed CSV: {err}")))
                    }
                }
            }
        }
    }
}

/// Streams rows from several inputs, in order, in batches.
pub struct Reader {
    inputs: Vec<Input>,
    opts: ReadOptions,
    spec: ColumnSpec,
    filters: Vec<FilterCount>,
    current: Option<Open>,
    next_input: usize,
    next_row: u64,
    /// Accounting per input, in order (finished ones and the current one).
    pub stats: Vec<InputStats>,
    layout: Option<Arc<Layout>>,
    header: Vec<String>,
    progress: Arc<AtomicU64>,
    /// An error met while filling a batch that already had rows, for the
    /// next call.
    failed: Option<Error>,
}

struct Open {
    source: Source,
    /// Records read ahead while looking for extra header rows.
    pending: VecDeque<Next>,
    /// The last record handed out, to be read into again.
    spare: Option<csv::ByteRecord>,
    /// Column index of each filter (parallel to the input's `filters`).
    filter_cols: Vec<usize>,
}

impl Reader {
    /// A reader over `inputs`. Opens the first input and resolves the
    /// columns, so column errors surface before any work starts.
    pub fn new(inputs: Vec<Input>, spec: ColumnSpec, opts: ReadOptions) -> Result<Reader, Error> {
        let mut r = Reader {
            inputs,
            filters: FilterCount::group(&opts.filters),
            opts,
            spec,
            current: None,
            next_input: 0,
            next_row: 0,
            stats: Vec::new(),
            layout: None,
            header: Vec::new(),
            progress: Arc::new(AtomicU64::new(0)),
            failed: None,
        };
        r.open_next()?;
        Ok(r)
    }

    /// Bytes read so far, over all inputs (for progress bars).
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    /// The resolved column layout (of the first input; later inputs must
    /// have the same columns, possibly in another order — they are resolved
    /// by name).
    pub fn layout(&self) -> &Layout {
        self.layout.as_ref().expect("a reader always has a layout")
    }

    /// The header of the current input.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Total bytes of the file inputs, when known (for progress bars).
    pub fn total_bytes(&self) -> Option<u64> {
        let mut total = 0;
        for input in &self.inputs {
            match input {
                Input::Stdin => return None,
                Input::Path(p) => total += std::fs::metadata(p).ok()?.len(),
                Input::Memory { bytes, .. } => total += bytes.len() as u64,
            }
        }
        Some(total)
    }

    fn open_next(&mut self) -> Result<bool, Error> {
        self.finish_current();
        let Some(input) = self.inputs.get(self.next_input).cloned() else {
            return Ok(false);
        };
        self.next_input += 1;
        let name = input.display();
        let input_err = |message: String| Error::Input {
            path: name.clone(),
            message,
        };
        let raw: Box<dyn Read + Send> = match &input {
            Input::Stdin => Box::new(io::stdin()),
            Input::Memory { bytes, .. } => Box::new(io::Cursor::new(bytes.clone())),
            Input::Path(p) => {
                if p.is_dir() {
                    return Err(input_err("is a directory, not a file".into()));
                }
                Box::new(File::open(p).map_err(|e| input_err(format!("cannot open: {e}")))?)
            }
        };
        let mut tap = Tap::new(raw, self.progress.clone());
        let prefix =
            decode::read_prefix(&mut tap, 8).map_err(|e| input_err(format!("cannot read: {e}")))?;
        let mut stats = InputStats {
            path: name.clone(),
            ..InputStats::default()
        };
        let magic = sheet::magic(&prefix);
        let mut source = if magic.is_some() || input.has_extension(sheet::EXTENSIONS) {
            let Some(kind) = magic else {
                return Err(input_err(
                    "has a spreadsheet extension but is not an xlsx, xls or ods workbook (if it is delimited text, name it .csv or .tsv)".into(),
                ));
            };
            // Workbooks are zip or OLE containers: load the whole input.
            let mut bytes = prefix;
            tap.read_to_end(&mut bytes)
                .map_err(|e| input_err(format!("cannot read: {e}")))?;
            stats.sha256 = hex(&std::mem::take(&mut tap.hasher).finalize());
            stats.bytes = tap.bytes;
            let opened = sheet::open(bytes, kind, self.opts.sheet.as_deref()).map_err(input_err)?;
            stats.format = opened.format.to_string();
            stats.sheet = Some(opened.sheet);
            Source::Sheet(opened.rows)
        } else {
            let (encoding, bom) = decode::sniff(&prefix, self.opts.encoding);
            stats.format = "csv".into();
            stats.encoding = Some(encoding.name().to_string());
            let delimiter = self
                .opts
                .delimiter
                .unwrap_or_else(|| input.default_delimiter());
            let stream = QuoteTrack::new(
                Decode::new(
                    Prefixed {
                        prefix,
                        pos: 0,
                        inner: tap,
                    },
                    encoding,
                    bom,
                ),
                delimiter,
            );
            let rdr = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .has_headers(false)
                .from_reader(stream);
            Source::Csv(Box::new(rdr))
        };

        // The header row.
        let (header_line, header_rec) = match &mut source {
            Source::Sheet(rows) => match rows.header() {
                Some((line, rec, above)) => {
                    if above > 0 {
                        stats.notes.push(format!(
                            "{name}: sheet `{}`: header on row {line}; {above} row(s) above it (titles or notes) not read",
                            stats.sheet.as_deref().unwrap_or("")
                        ));
                    }
                    (line, rec)
                }
                None => {
                    return Err(input_err(format!(
                        "sheet `{}` is empty (expected a header row naming the columns)",
                        stats.sheet.as_deref().unwrap_or("")
                    )));
                }
            },
            Source::Csv(_) => match source.next(&name, &mut None)? {
                Next::Record(line, rec) => (line, rec),
                Next::End => {
                    return Err(input_err(
                        "is empty (expected a header row naming the columns)".into(),
                    ));
                }
                Next::Bad(line, reason) => {
                    return Err(Error::Row {
                        path: name.clone(),
                        line,
                        message: format!("cannot read the header: {reason}"),
                    });
                }
            },
        };
        stats.header_line = header_line;
        if header_rec.iter().any(|f| f.contains(&0)) {
            return Err(Error::Row {
                path: name.clone(),
                line: header_line,
                message: "the header contains NUL bytes: if the file is UTF-16 without a byte-order mark, say --encoding utf-16le (or utf-16be)".into(),
            });
        }
        let mut header: Vec<String> = header_rec
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = decode_field(f, &mut stats, header_line);
                // The csv crate strips a UTF-8 BOM only when it reads the
                // header itself; strip it here.
                if i == 0 {
                    s.trim_start_matches('\u{feff}').to_string()
                } else {
                    s
                }
            })
            .collect();
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::Row {
                path: name.clone(),
                line: header_line,
                message: "the header row names no columns (every cell is empty)".into(),
            });
        }

        // Extra header rows: by hand, or detected.
        let mut pending = VecDeque::new();
        let mut labels: Option<Vec<String>> = None;
        if let Some(n) = self.opts.header_rows {
            for _ in 1..n.max(1) {
                match source.next(&name, &mut None)? {
                    Next::End => break,
                    _ => stats.extra_header_rows += 1,
                }
            }
            stats.header_format = Some("header-rows".into());
        } else {
            for _ in 0..2 {
                match source.next(&name, &mut None)? {
                    Next::End => break,
                    n => pending.push_back(n),
                }
            }
            let peek: Vec<Option<&csv::ByteRecord>> = pending
                .iter()
                .map(|n| match n {
                    Next::Record(_, r) => Some(r),
                    _ => None,
                })
                .collect();
            if let Some(found) = detect_export(&header, &peek) {
                for _ in 0..found.extra {
                    pending.pop_front();
                }
                stats.extra_header_rows = found.extra as u64;
                stats.header_format = Some(found.format.into());
                if let Some(names) = found.names {
                    header = names;
                }
                labels = found.labels;
                stats.notes.push(format!(
                    "{name}: {} export: skipped {} extra header row(s){}",
                    found.what,
                    found.extra,
                    if labels.is_some() {
                        "; question texts used as question labels"
                    } else {
                        ""
                    }
                ));
            }
        }

        // Unnamed columns get a name, so they can be listed and chosen.
        for (i, h) in header.iter_mut().enumerate() {
            if h.trim().is_empty() {
                *h = format!("column_{}", i + 1);
                stats.notes.push(format!(
                    "{name}:{header_line}: header column {} has no name: called `{h}`",
                    i + 1
                ));
            }
        }

        let mut layout = Layout::resolve(&self.spec, &header, &name)?;
        if let Some(labels) = &labels {
            layout.use_labels(labels);
        }
        if let Some(first) = &self.layout {
            let same = first
                .text
                .iter()
                .map(|t| &t.1)
                .eq(layout.text.iter().map(|t| &t.1));
            if !same {
                return Err(input_err(
                    "has other text columns than the first input".into(),
                ));
            }
        }
        let filter_cols = self
            .filters
            .iter()
            .map(|f| find_column(&header, &f.column, "filter", &name))
            .collect::<Result<Vec<_>, _>>()?;
        stats.filters = self.filters.clone();
        self.header = header;
        self.layout = Some(Arc::new(layout));
        self.stats.push(stats);
        self.current = Some(Open {
            source,
            pending,
            spare: None,
            filter_cols,
        });
        Ok(true)
    }

    fn finish_current(&mut self) {
        let Some(open) = self.current.take() else {
            return;
        };
        let Some(stats) = self.stats.last_mut() else {
            return;
        };
        if let Source::Csv(rdr) = open.source {
            let decode = (*rdr).into_inner().inner;
            if decode.replaced {
                stats.notes.push(format!(
                    "{}: some bytes are not valid {} and were replaced by U+FFFD",
                    stats.path,
                    stats.encoding.as_deref().unwrap_or("text")
                ));
            }
            let tap = decode.inner.inner;
            stats.sha256 = hex(&tap.hasher.finalize());
            stats.bytes = tap.bytes;
        }
        if stats.rows_read == 0 {
            stats
                .notes
                .push(format!("{}: no data rows (only a header)", stats.path));
        }
    }

    /// The next batch, or `None` when every input is exhausted.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, Error> {
        let mut batch = Batch::default();
        Ok(self.next_batch_into(&mut batch)?.then_some(batch))
    }

    /// Fill `batch` (emptied first, its buffers reused) with the next rows;
    /// false when every input is exhausted.
    ///
    /// An error after some rows of the batch were read comes with the next
    /// call, so the rows before it are coded first (and an earlier error in
    /// them is the one reported, whatever the batch size).
    pub fn next_batch_into(&mut self, batch: &mut Batch) -> Result<bool, Error> {
        batch.clear();
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.fill(batch) {
            Ok(()) => Ok(!(batch.rows.is_empty() && batch.skipped.is_empty())),
            Err(e) if !batch.rows.is_empty() => {
                self.failed = Some(e);
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    fn fill(&mut self, batch: &mut Batch) -> Result<(), Error> {
        while batch.rows.len() < self.opts.batch_rows {
            let Some(open) = self.current.as_mut() else {
                if !self.open_next()? {
                    break;
                }
                continue;
            };
            let input = self.stats.len() - 1;
            let next = match open.pending.pop_front() {
                Some(n) => n,
                None => open.source.next(&self.stats[input].path, &mut open.spare)?,
            };
            let (line, record) = match next {
                Next::End => {
                    if !self.open_next()? {
                        break;
                    }
                    continue;
                }
                Next::Bad(line, reason) => {
                    self.stats[input].rows_read += 1;
                    // Skipped and filtered rows keep their number, so `row`
                    // stays the record's position among the data rows.
                    self.next_row += 1;
                    self.skip(batch, input, line, reason)?;
                    continue;
                }
                Next::Record(line, record) => (line, record),
            };
            self.stats[input].rows_read += 1;
            self.next_row += 1;
            let width = self.layout.as_ref().map_or(0, |l| l.width);
            if record.len() != width {
                let reason = format!(
                    "expected {width} fields (as in the header), found {}",
                    record.len()
                );
                open.spare = Some(record);
                self.skip(batch, input, line, reason)?;
                continue;
            }
            let stats = &mut self.stats[input];
            let failed = open
                .filter_cols
                .iter()
                .zip(&stats.filters)
                .position(|(&c, f)| {
                    let v = record.get(c).unwrap_or_default();
                    !f.passes(&String::from_utf8_lossy(v))
                });
            if let Some(k) = failed {
                stats.rows_filtered += 1;
                stats.filters[k].removed += 1;
                open.spare = Some(record);
                continue;
            }
            let layout = self.layout.as_ref().expect("an open input has a layout");
            batch.push(self.next_row, input, line, &record, layout);
            open.spare = Some(record);
        }
        Ok(())
    }

    fn skip(
        &mut self,
        batch: &mut Batch,
        input: usize,
        line: u64,
        reason: String,
    ) -> Result<(), Error> {
        let stats = &mut self.stats[input];
        stats.rows_skipped += 1;
        if self.opts.strict {
            return Err(Error::Row {
                path: stats.path.clone(),
                line,
                message: reason,
            });
        }
        batch.skipped.push(Skipped {
            file: stats.path.clone(),
            line,
            reason,
        });
        Ok(())
    }

    /// Finish: close the last input and return the accounting.
    pub fn finish(mut self) -> Vec<InputStats> {
        self.finish_current();
        self.stats
    }
}

/// A survey export recognised by its header rows.
struct Export {
    /// Rows after the header to skip.
    extra: usize,
    /// For the manifest.
    format: &'static str,
    /// For the note.
    what: &'static str,
    /// Question texts per column, when the export has them.
    labels: Option<Vec<String>>,
    /// Column names replacing the header's.
    names: Option<Vec<String>>,
}

/// Recognise a survey export from its header and the next two records
/// (`None` where a record was malformed):
///
/// - Qualtrics (since 2016): row 2 holds question texts, row 3
///   `{"ImportId":...}` JSON cells. Two extra rows; row 2 gives the labels.
/// - Qualtrics with the ImportId row only: one extra row.
/// - Qualtrics legacy: header `V1, V2, …` or field ids with a `ResponseID`
///   column, and row 2 repeats `ResponseID` / `Response ID` in that column
///   (a real row holds an id like `R_1abc`). One extra row; row 2 gives
///   the labels.
/// - SurveyMonkey: a `Respondent ID` column that is empty in row 2, and a
///   row 2 holding `Response` or `Open-Ended Response`. One extra row; the
///   columns of a multi-column question are named `question - option`
///   (an empty question cell continues the question to its left; row-2
///   cells `Response` and `Open-Ended Response` add nothing).
fn detect_export(header: &[String], peek: &[Option<&csv::ByteRecord>]) -> Option<Export> {
    let text = |r: &csv::ByteRecord, i: usize| -> String {
        String::from_utf8_lossy(r.get(i).unwrap_or_default()).into_owned()
    };
    let cells = |r: &csv::ByteRecord| -> Vec<String> { (0..r.len()).map(|i| text(r, i)).collect() };
    let import_id = |r: &csv::ByteRecord| {
        r.iter().any(|f| {
            let f = f.trim_ascii_start();
            f.starts_with(b"{\"ImportId\"") || f.starts_with(b"{'ImportId'")
        })
    };
    let first = peek.first().copied().flatten();
    let second = peek.get(1).copied().flatten();
    if let (Some(r2), Some(r3)) = (first, second)
        && import_id(r3)
    {
        return Some(Export {
            extra: 2,
            format: "qualtrics",
            what: "Qualtrics",
            labels: Some(cells(r2)),
            names: None,
        });
    }
    let r2 = first?;
    if import_id(r2) {
        return Some(Export {
            extra: 1,
            format: "qualtrics",
            what: "Qualtrics",
            labels: None,
            names: None,
        });
    }
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    if let Some(i) = col(&["ResponseID", "V1"]) {
        let v = text(r2, i);
        if ["ResponseID", "Response ID"]
            .iter()
            .any(|n| v.trim().eq_ignore_ascii_case(n))
        {
            return Some(Export {
                extra: 1,
                format: "qualtrics-legacy",
                what: "Qualtrics (legacy)",
                labels: Some(cells(r2)),
                names: None,
            });
        }
    }
    if let Some(i) = col(&["Respondent ID"]) {
        let sub = cells(r2);
        let plain = |s: &str| {
            let s = s.trim();
            s.is_empty()
                || s.eq_ignore_ascii_case("Response")
                || s.eq_ignore_ascii_case("Open-Ended Response")
        };
        let marked = sub.iter().any(|s| {
            let s = s.trim();
            s.eq_ignore_ascii_case("Response") || s.eq_ignore_ascii_case("Open-Ended Response")
        });
        if text(r2, i).trim().is_empty() && marked {
            let mut names = Vec::with_capacity(header.len());
            let mut question = String::new();
            for (k, h) in header.iter().enumerate() {
                if !h.trim().is_empty() {
                    question = h.clone();
                }
                let s = sub.get(k).map_or("", |s| s.as_str());
                names.push(if !h.trim().is_empty() && plain(s) {
                    h.clone()
                } else if plain(s) {
                    // An empty question cell with nothing below it.
                    String::new()
                } else if question.is_empty() {
                    s.trim().to_string()
                } else {
                    format!("{question} - {}", s.trim())
                });
            }
            return Some(Export {
                extra: 1,
                format: "surveymonkey",
                what: "SurveyMonkey",
                labels: None,
                names: Some(names),
            });
        }
    }
    None
}

/// Decode a field as UTF-8, replacing invalid bytes (and counting them).
fn decode_field(field: &[u8], stats: &mut InputStats, line: u64) -> String {
    match std::str::from_utf8(field) {
        Ok(s) => s.to_string(),
        Err(_) => {
            stats.invalid_utf8_fields += 1;
            stats.first_invalid_utf8_line.get_or_insert(line);
            String::from_utf8_lossy(field).into_owned()
        }
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Map `bytes` as one input through the reader, as `thematic code` does,
/// with options picked by the input's length (delimiter, survey header
/// detection or `--header-rows`, a filter, an encoding), and check the
/// invariants: every data row read is handed out, skipped or filtered;
/// every handed-out row has the header's width; line numbers never go back.
/// Errors are fine; a panic or a broken invariant is a bug. For the fuzz
/// target `fuzz/fuzz_targets/input_mapping.rs` and the stable stand-in
/// test; returns the rows handed out.
#[doc(hidden)]
pub fn fuzz_mapping(bytes: &[u8]) -> Result<u64, Error> {
    // The options come from the length, so mutations that add or remove
    // bytes also explore them; mostly comma-separated, as the seeds are.
    let knob = (bytes.len() % 251) as u8;
    let opts = ReadOptions {
        delimiter: Some(if knob % 8 == 7 { b'\t' } else { b',' }),
        batch_rows: 1 + usize::from(knob % 5),
        header_rows: (knob & 0x10 != 0).then_some(usize::from(knob >> 6) + 1),
        filters: if knob & 0x20 != 0 {
            vec![Filter {
                column: "text".into(),
                value: String::new(),
                keep: false,
            }]
        } else {
            Vec::new()
        },
        encoding: (knob & 0x40 != 0).then_some(encoding_rs::WINDOWS_1252),
        strict: false,
        sheet: None,
    };
    let spec = ColumnSpec {
        text: Vec::new(),
        ..ColumnSpec::default()
    };
    let input = Input::Memory {
        name: "fuzz.csv".into(),
        bytes: bytes.to_vec().into(),
    };
    let mut reader = Reader::new(vec![input], spec, opts)?;
    let mut rows = 0u64;
    let mut skipped = 0u64;
    let mut last_line = 0u64;
    while let Some(batch) = reader.next_batch()? {
        for row in batch.rows() {
            assert_eq!(row.len(), row.layout.width, "row width");
            assert!(row.line >= last_line, "lines go back");
            last_line = row.line;
            for (i, _) in &row.layout.text {
                let _ = row.field(*i);
            }
        }
        rows += batch.len() as u64;
        skipped += batch.skipped.len() as u64;
    }
    let stats = reader.finish();
    let s = &stats[0];
    assert_eq!(
        s.rows_read,
        rows + s.rows_skipped + s.rows_filtered,
        "accounting"
    );
    assert_eq!(s.rows_skipped, skipped, "skipped rows listed");
    assert_eq!(
        s.filters.iter().map(|f| f.removed).sum::<u64>(),
        s.rows_filtered
    );
    Ok(rows)
}
