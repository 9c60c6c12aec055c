//! Ingest: input files to batches of responses, every row accounted for.
//!
//! This module owns reading CSV/TSV (DESIGN 5 and 7): delimiters, the UTF-8
//! BOM, invalid UTF-8 (replaced and counted), Qualtrics' extra header rows,
//! mapping columns to [`Response`] fields, and the list of rows it could not
//! use ([`Skipped`]). It streams: a [`Reader`] hands out [`Batch`]es of a few
//! thousand rows and never holds a whole input. It does not tokenize or
//! match.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::Error;

/// One input, as the user named it (`-` is stdin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
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
        }
    }

    /// The field delimiter implied by the file's extension: TAB for `.tsv`
    /// and `.tab`, comma otherwise.
    pub fn default_delimiter(&self) -> u8 {
        match self {
            Input::Path(p)
                if p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("tsv") || e.eq_ignore_ascii_case("tab")
                }) =>
            {
                b'\t'
            }
            _ => b',',
        }
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

impl Layout {
    /// Resolve `spec` against `header` of `input`.
    pub fn resolve(spec: &ColumnSpec, header: &[String], input: &str) -> Result<Layout, Error> {
        let find = |name: &str, what: &str| -> Result<usize, Error> {
            // Exact match first, then case-insensitive if unambiguous.
            if let Some(i) = header.iter().position(|h| h == name) {
                return Ok(i);
            }
            let ci: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim().eq_ignore_ascii_case(name.trim()))
                .map(|(i, _)| i)
                .collect();
            match ci.as_slice() {
                [i] => Ok(*i),
                _ => Err(Error::Column {
                    input: input.to_string(),
                    message: format!("no {what} column named `{name}`"),
                    columns: header.to_vec(),
                }),
            }
        };
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
            text,
            id,
            groups,
            question,
            width: header.len(),
        })
    }
}

/// One data row, as read: raw bytes, decoded by the worker that codes it
/// (so the reader thread does no per-field work).
#[derive(Clone, Debug)]
pub struct Row {
    /// 1-based data row number over all inputs (header rows not counted).
    pub row: u64,
    /// Index of the input in the run's input list.
    pub input: usize,
    /// 1-based line where the record starts.
    pub line: u64,
    /// The record's fields.
    pub record: csv::ByteRecord,
    /// Where the columns are in this input.
    pub layout: Arc<Layout>,
}

impl Row {
    /// Field `i` as text; invalid UTF-8 is replaced (the `bool` says so).
    pub fn field(&self, i: usize) -> (std::borrow::Cow<'_, str>, bool) {
        let bytes = self.record.get(i).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => (std::borrow::Cow::Borrowed(s), false),
            Err(_) => (String::from_utf8_lossy(bytes), true),
        }
    }
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

/// A batch of rows handed to the workers.
#[derive(Debug, Default)]
pub struct Batch {
    /// Rows in input order.
    pub rows: Vec<Row>,
    /// Rows skipped while reading this batch, in input order.
    pub skipped: Vec<Skipped>,
}

/// Per-input accounting, filled while reading.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct InputStats {
    /// Display name.
    pub path: String,
    /// SHA-256 of the bytes read (hex).
    pub sha256: String,
    /// Bytes read.
    pub bytes: u64,
    /// Data rows read (header rows not counted).
    pub rows_read: u64,
    /// Rows skipped as malformed.
    pub rows_skipped: u64,
    /// Extra header rows skipped (Qualtrics).
    pub extra_header_rows: u64,
    /// Fields in which invalid UTF-8 was replaced (header and used
    /// columns).
    pub invalid_utf8_fields: u64,
    /// First line with invalid UTF-8.
    pub first_invalid_utf8_line: Option<u64>,
}

/// Reads bytes while hashing them and counting them for progress.
struct Tap<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: Arc<AtomicU64>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
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
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            batch_rows: 4096,
            strict: false,
        }
    }
}

/// Streams rows from several inputs, in order, in batches.
pub struct Reader {
    inputs: Vec<Input>,
    opts: ReadOptions,
    spec: ColumnSpec,
    current: Option<Open>,
    next_input: usize,
    next_row: u64,
    /// Accounting per input, in order (finished ones and the current one).
    pub stats: Vec<InputStats>,
    layout: Option<Arc<Layout>>,
    header: Vec<String>,
    progress: Arc<AtomicU64>,
}

struct Open {
    rdr: csv::Reader<Tap<Box<dyn Read + Send>>>,
    record: csv::ByteRecord,
    /// Records held back while checking for Qualtrics' extra header rows.
    pending: Vec<(u64, csv::ByteRecord)>,
}

impl Reader {
    /// A reader over `inputs`. Opens the first input and resolves the
    /// columns, so column errors surface before any work starts.
    pub fn new(inputs: Vec<Input>, spec: ColumnSpec, opts: ReadOptions) -> Result<Reader, Error> {
        let mut r = Reader {
            inputs,
            opts,
            spec,
            current: None,
            next_input: 0,
            next_row: 0,
            stats: Vec::new(),
            layout: None,
            header: Vec::new(),
            progress: Arc::new(AtomicU64::new(0)),
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
        let raw: Box<dyn Read + Send> = match &input {
            Input::Stdin => Box::new(io::stdin()),
            Input::Path(p) => {
                if p.is_dir() {
                    return Err(Error::Input {
                        path: name,
                        message: "is a directory, not a file".into(),
                    });
                }
                Box::new(File::open(p).map_err(|e| Error::Input {
                    path: name.clone(),
                    message: format!("cannot open: {e}"),
                })?)
            }
        };
        let tap = Tap {
            inner: raw,
            hasher: Sha256::new(),
            bytes: 0,
            progress: self.progress.clone(),
        };
        let delimiter = self.opts.delimiter.unwrap_or_else(|| input.default_delimiter());
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(tap);
        let header = rdr.byte_headers().map_err(|e| Error::Input {
            path: name.clone(),
            message: format!("cannot read the header: {e}"),
        })?;
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(Error::Input {
                path: name,
                message: "is empty (expected a header row naming the columns)".into(),
            });
        }
        let mut stats = InputStats {
            path: name.clone(),
            ..InputStats::default()
        };
        let header: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = decode(f, &mut stats, 1);
                // The csv crate strips a UTF-8 BOM; strip it here too in case
                // a BOM follows another encoding layer.
                if i == 0 { s.trim_start_matches('\u{feff}').to_string() } else { s }
            })
            .collect();
        let layout = Layout::resolve(&self.spec, &header, &name)?;
        if let Some(first) = &self.layout {
            let same = first.text.iter().map(|t| &t.1).eq(layout.text.iter().map(|t| &t.1));
            if !same {
                return Err(Error::Input {
                    path: name,
                    message: "has other text columns than the first input".into(),
                });
            }
        }
        self.header = header;
        self.layout = Some(Arc::new(layout));
        self.stats.push(stats);
        let mut open = Open {
            rdr,
            record: csv::ByteRecord::new(),
            pending: Vec::new(),
        };
        // Qualtrics exports carry two extra header rows: question texts, then
        // `{"ImportId":...}` JSON cells. Look at the first two records.
        for _ in 0..2 {
            let mut rec = csv::ByteRecord::new();
            match open.rdr.read_byte_record(&mut rec) {
                Ok(true) => {
                    let line = rec.position().map_or(0, |p| p.line());
                    open.pending.push((line, rec));
                }
                Ok(false) => break,
                Err(_) => break,
            }
        }
        let is_import_id = |rec: &csv::ByteRecord| {
            rec.iter().any(|f| f.starts_with(b"{\"ImportId\""))
        };
        if open.pending.len() == 2 && is_import_id(&open.pending[1].1) {
            open.pending.clear();
            self.stats.last_mut().expect("pushed above").extra_header_rows = 2;
        } else if !open.pending.is_empty() && is_import_id(&open.pending[0].1) {
            open.pending.remove(0);
            self.stats.last_mut().expect("pushed above").extra_header_rows = 1;
        }
        open.pending.reverse();
        self.current = Some(open);
        Ok(true)
    }

    fn finish_current(&mut self) {
        if let Some(open) = self.current.take() {
            let tap = open.rdr.into_inner();
            let stats = self.stats.last_mut().expect("an open input has stats");
            stats.sha256 = hex(&tap.hasher.finalize());
            stats.bytes = tap.bytes;
        }
    }

    /// The next batch, or `None` when every input is exhausted.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, Error> {
        let mut batch = Batch::default();
        while batch.rows.len() < self.opts.batch_rows {
            let Some(open) = self.current.as_mut() else {
                if !self.open_next()? {
                    break;
                }
                continue;
            };
            let input = self.stats.len() - 1;
            let (line, record) = if let Some(p) = open.pending.pop() {
                p
            } else {
                match open.rdr.read_byte_record(&mut open.record) {
                    Ok(true) => {
                        let line = open.record.position().map_or(0, |p| p.line());
                        (line, std::mem::take(&mut open.record))
                    }
                    Ok(false) => {
                        self.finish_current();
                        if !self.open_next()? {
                            break;
                        }
                        continue;
                    }
                    Err(err) => {
                        let line = err.position().map_or(0, |p| p.line());
                        let stats = &mut self.stats[input];
                        stats.rows_read += 1;
                        let reason = format!("malformed CSV: {}", csv_error_kind(&err));
                        self.skip(&mut batch, input, line, reason)?;
                        continue;
                    }
                }
            };
            let stats = &mut self.stats[input];
            stats.rows_read += 1;
            let width = self.layout().width;
            if record.len() != width {
                let reason = format!(
                    "expected {width} fields (as in the header), found {}",
                    record.len()
                );
                self.skip(&mut batch, input, line, reason)?;
                continue;
            }
            self.next_row += 1;
            batch.rows.push(Row {
                row: self.next_row,
                input,
                line,
                record,
                layout: self.layout.clone().expect("an open input has a layout"),
            });
        }
        if batch.rows.is_empty() && batch.skipped.is_empty() {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn skip(&mut self, batch: &mut Batch, input: usize, line: u64, reason: String) -> Result<(), Error> {
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

fn csv_error_kind(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Io(e) => format!("read error: {e}"),
        _ => err.to_string(),
    }
}

/// Decode a field as UTF-8, replacing invalid bytes (and counting them).
fn decode(field: &[u8], stats: &mut InputStats, line: u64) -> String {
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
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
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
