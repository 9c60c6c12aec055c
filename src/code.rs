//! The `code` run: inputs in, output folder out (DESIGN 1, 5, 6).
//!
//! A reader thread streams batches of rows; each batch is cut into chunks
//! of a fixed number of rows, which are coded in parallel by rayon (or one
//! after another with one thread); chunk results are consumed in input
//! order. Chunking never depends on the thread count and every chunk's
//! output (CSV bytes, partial aggregate) is merged in order, so every
//! output file is byte-identical for any `--threads`. Memory is bounded by
//! the batch queue plus the aggregates.
//!
//! Output files are written into a temporary folder inside the output
//! folder and moved into place only when the whole run succeeded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};

use serde::Serialize;

use crate::aggregate::{Aggregate, Coded, Shape, WireAggregate};
use crate::error::Error;
use crate::export::tables::{self, TableContext};
use crate::export::{push_f64, safe_names};
use crate::ingest::{Batch, ColumnSpec, Input, InputStats, ReadOptions, Reader, Row, Skipped};
use crate::lexicon::Lexicon;
use crate::matching::{Match, Matcher, Scratch, ThemeCounts};
use crate::tokenize::{Tokenizer, Tokens};

/// Rows coded together by one worker; fixed so outputs do not depend on
/// the thread count. Each chunk's partial counts are merged into the total
/// on the main thread, so chunks are large enough that merging stays a
/// small share of the work (measured: 256-row chunks spent ~15% of the run
/// in merges).
const CHUNK_ROWS: usize = 2048;

/// Everything a `code` run needs besides the lexicon and tokenizer.
#[derive(Clone, Debug)]
pub struct CodeOptions {
    /// Inputs, concatenated in order.
    pub inputs: Vec<Input>,
    /// Column mapping.
    pub columns: ColumnSpec,
    /// Field delimiter; `None` = from each file's extension.
    pub delimiter: Option<u8>,
    /// Output folder.
    pub out_dir: PathBuf,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Fail on the first malformed row.
    pub strict: bool,
    /// 0/1 instead of hit counts in `responses.csv`.
    pub presence: bool,
    /// Only leaf themes in tables.
    pub leaves_only: bool,
    /// Label of the `All` level.
    pub all_label: String,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
    /// Rows per batch handed from the reader to the workers.
    pub batch_rows: usize,
    /// Write `matches.csv` (one row per match, negated ones too).
    pub kwic: bool,
    /// Tokens of context on each side in `matches.csv`.
    pub context: usize,
    /// `--min-cell K`: mask counts below K in published tables.
    pub min_cell: Option<u64>,
    /// CSVs for Excel: UTF-8 BOM and formula-injection protection.
    pub excel_csv: bool,
    /// Also write `report.xlsx`.
    pub xlsx: bool,
    /// Encoding of delimited text without a byte-order mark (`None` =
    /// UTF-8).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Workbook sheet: a name or a 1-based position (`None` = the first).
    pub sheet: Option<String>,
    /// Header rows at the top of each input (`None` = detect survey
    /// exports).
    pub header_rows: Option<usize>,
    /// Row filters (`--filter`).
    pub filters: Vec<crate::ingest::Filter>,
}

impl Default for CodeOptions {
    fn default() -> Self {
        CodeOptions {
            inputs: Vec::new(),
            columns: ColumnSpec::default(),
            delimiter: None,
            out_dir: PathBuf::from("thematic-out"),
            threads: 0,
            strict: false,
            presence: false,
            leaves_only: false,
            all_label: "All".into(),
            progress: false,
            command_line: Vec::new(),
            batch_rows: 8192,
            kwic: false,
            context: 8,
            min_cell: None,
            excel_csv: false,
            xlsx: false,
            encoding: None,
            sheet: None,
            header_rows: None,
            filters: Vec::new(),
        }
    }
}

/// Where the lexicon came from, for the manifest.
#[derive(Clone, Debug, Serialize)]
pub struct LexiconSource {
    /// Path as given, or `<bundled>`.
    pub path: String,
    /// SHA-256 of the lexicon file's bytes.
    pub sha256: String,
}

/// Row accounting of a run (DESIGN 6: read = coded + empty + skipped +
/// filtered, per text column in the wide layout).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Accounting {
    /// Data rows read over all inputs.
    pub rows_read: u64,
    /// Rows skipped as malformed (listed in `skipped.csv`).
    pub rows_skipped: u64,
    /// Rows removed by `--filter` (counted per filter in the manifest's
    /// inputs).
    #[serde(default)]
    pub rows_filtered: u64,
    /// Text columns per row (1 in the long layout).
    pub text_columns: u64,
    /// Answers coded (non-empty text).
    pub responses_coded: u64,
    /// Answers with empty or whitespace-only text.
    pub responses_empty: u64,
    /// Coded answers without any token (e.g. only emoji).
    pub responses_without_tokens: u64,
    /// Coded answers with no theme.
    pub responses_uncoded: u64,
    /// Coded answers whose id was empty (not counted as respondents).
    pub responses_without_id: u64,
}

/// What a finished run reports back.
#[derive(Debug)]
pub struct CodeReport {
    /// The summary table (themes × first group, `n (%)`).
    pub summary: String,
    /// Row accounting.
    pub accounting: Accounting,
    /// Warnings worth printing (empty ids, invalid UTF-8…).
    pub warnings: Vec<String>,
    /// Files written, in the output folder.
    pub outputs: Vec<PathBuf>,
}

/// Read-only context shared by the workers.
struct RunCtx<'a> {
    matcher: &'a Matcher,
    tokenizer: &'a Tokenizer,
    presence: bool,
    all_label: &'a str,
    check_question_label: bool,
    /// Themes with a column in `responses.csv`, by index.
    columns: Vec<usize>,
    group_names: &'a [String],
    kwic: bool,
    context: usize,
    excel_csv: bool,
    liwc: bool,
    /// Display names of the inputs, for messages.
    input_names: Vec<String>,
}

impl RunCtx<'_> {
    /// An input-derived cell, protected when `--excel-csv` is on.
    fn xl<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        if self.excel_csv {
            crate::export::excel_safe(s)
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    }
}

/// Per-thread working memory, and the thread's counts: each worker
/// aggregates the chunks it codes, and the workers' aggregates are merged
/// once at the end (exact, so the result does not depend on which worker
/// coded which chunk).
struct Worker {
    agg: Aggregate,
    tokens: Tokens,
    scratch: Scratch,
    matches: Vec<Match>,
    counts: Vec<ThemeCounts>,
    record: Record,
}

impl Worker {
    fn new(shape: &Arc<Shape>) -> Worker {
        Worker {
            agg: Aggregate::new(shape.clone()),
            tokens: Tokens::default(),
            scratch: Scratch::default(),
            matches: Vec::new(),
            counts: Vec::new(),
            record: Record::default(),
        }
    }
}

/// A CSV record whose field buffers are reused from row to row.
#[derive(Default)]
struct Record {
    fields: Vec<String>,
    len: usize,
}

impl Record {
    fn clear(&mut self) {
        self.len = 0;
    }

    /// The next field, empty.
    fn next(&mut self) -> &mut String {
        if self.len == self.fields.len() {
            self.fields.push(String::new());
        }
        let f = &mut self.fields[self.len];
        f.clear();
        self.len += 1;
        f
    }

    fn fields(&self) -> &[String] {
        &self.fields[..self.len]
    }
}

/// The output of one chunk.
struct ChunkOut {
    responses: Vec<u8>,
    uncoded: Vec<u8>,
    kwic: Vec<u8>,
    coded: u64,
    empty: u64,
    uncoded_n: u64,
    without_id: u64,
    /// (input, line) of every field where invalid UTF-8 was replaced.
    invalid_utf8: Vec<(usize, u64)>,
}

/// Run `thematic code`.
pub fn run(
    opts: &CodeOptions,
    lexicon: &Lexicon,
    source: &LexiconSource,
    tokenizer: &Tokenizer,
) -> Result<CodeReport, Error> {
    if opts.inputs.is_empty() {
        return Err(Error::Usage(
            "no input: name a CSV/TSV file or `-` for stdin".into(),
        ));
    }
    if opts.inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(Error::Usage("stdin (`-`) can be read only once".into()));
    }
    let matcher = Matcher::new(lexicon);
    let read_opts = ReadOptions {
        delimiter: opts.delimiter,
        batch_rows: opts.batch_rows.max(1),
        strict: opts.strict,
        encoding: opts.encoding,
        sheet: opts.sheet.clone(),
        header_rows: opts.header_rows,
        filters: opts.filters.clone(),
    };
    let reader = Reader::new(opts.inputs.clone(), opts.columns.clone(), read_opts)?;
    let layout = reader.layout().clone();
    let header = reader.header().to_vec();
    let group_names: Vec<String> = layout.groups.iter().map(|&i| header[i].clone()).collect();
    let wide = layout.text.len() > 1;
    let has_ids = layout.id.is_some();

    // The output folder: never write over an input.
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(opts.out_dir.display(), e))?;
    check_not_inputs(&opts.out_dir, &opts.inputs)?;
    let tmp = tempfile::Builder::new()
        .prefix(".thematic-tmp-")
        .tempdir_in(&opts.out_dir)
        .map_err(|e| Error::io(opts.out_dir.display(), e))?;

    let table_themes: Vec<usize> = matcher
        .themes()
        .iter()
        .enumerate()
        .filter(|(_, t)| !opts.leaves_only || t.is_leaf)
        .map(|(i, _)| i)
        .collect();
    let theme_ids: Vec<&str> = table_themes
        .iter()
        .map(|&i| matcher.themes()[i].id.as_str())
        .collect();
    // liwc semantics reports like LIWC: WC and Dic, and per category the
    // count and the percentage of WC (`<category>_pct`).
    let liwc = matcher.semantics() == crate::lexicon::Semantics::Liwc;
    let mut fixed = vec!["row".to_string(), "id".to_string()];
    fixed.extend(group_names.iter().cloned());
    fixed.push("question".to_string());
    if liwc {
        fixed.extend(["WC".to_string(), "Dic".into()]);
    } else {
        fixed.extend(["tokens".to_string(), "coded_pct".into()]);
    }
    let reserved: Vec<&str> = fixed.iter().map(String::as_str).collect();
    let mut wanted: Vec<String> = theme_ids.iter().map(|s| s.to_string()).collect();
    if liwc {
        wanted.extend(theme_ids.iter().map(|s| format!("{s}_pct")));
    }
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let all_names = safe_names(&wanted, &reserved);
    let (col_names, pct_names) = all_names.split_at(theme_ids.len());
    let col_names = col_names.to_vec();

    let ctx = RunCtx {
        matcher: &matcher,
        tokenizer,
        presence: opts.presence,
        all_label: &opts.all_label,
        check_question_label: wide || layout.question.is_some(),
        columns: table_themes.clone(),
        group_names: &group_names,
        kwic: opts.kwic,
        context: opts.context,
        excel_csv: opts.excel_csv,
        liwc,
        input_names: opts.inputs.iter().map(Input::display).collect(),
    };

    let mut files = OutFiles::create(tmp.path(), opts.kwic)?;
    if opts.excel_csv {
        files.bom()?;
    }
    {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut h = fixed.clone();
        if liwc {
            for (c, p) in col_names.iter().zip(pct_names) {
                h.push(c.clone());
                h.push(p.clone());
            }
        } else {
            h.extend(col_names.iter().cloned());
        }
        w.write_record(&h).expect("writing to memory");
        files.responses.put(&w.into_inner().expect("memory"))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut h: Vec<String> = vec!["row".into(), "id".into()];
        h.extend(group_names.iter().cloned());
        h.extend(["question".to_string(), "text".into()]);
        w.write_record(&h).expect("writing to memory");
        files.uncoded.put(&w.into_inner().expect("memory"))?;
        files.skipped.put(b"file,line,reason\n")?;
        if let Some(k) = files.kwic.as_mut() {
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut h: Vec<String> = vec!["row".into(), "id".into()];
            h.extend(group_names.iter().cloned());
            h.extend(
                [
                    "question", "theme", "entry", "matched", "start", "end", "left", "right",
                    "negated",
                ]
                .map(String::from),
            );
            w.write_record(&h).expect("writing to memory");
            k.put(&w.into_inner().expect("memory"))?;
        }
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| Error::Data(format!("cannot start worker threads: {e}")))?;
    let single = pool.current_num_threads() == 1;

    let bar = crate::progress::bar(opts.progress, reader.total_bytes());
    let progress = reader.progress();

    // The reader thread: batches through a bounded queue, so memory stays
    // bounded whatever the input size. Coded batches go back to the reader
    // to be filled again, so their buffers are allocated once.
    let (tx, rx) = mpsc::sync_channel::<Result<Batch, Error>>(2);
    let (back_tx, back_rx) = mpsc::channel::<Batch>();
    let shape = Arc::new(Shape::of(&matcher));
    let mut acc = Accounting {
        text_columns: layout.text.len() as u64,
        ..Accounting::default()
    };
    let mut invalid: Vec<(usize, u64)> = Vec::new();
    let mut sink = Sink {
        files: &mut files,
        acc: &mut acc,
        invalid: &mut invalid,
        back: &back_tx,
    };
    let (stats, mut total) = std::thread::scope(
        |scope| -> Result<(Vec<InputStats>, Aggregate), Error> {
            // Owned here, so that an early error return drops it before the
            // scope joins the reader thread: the reader's next send then
            // fails and it stops, instead of waiting on a full queue.
            let rx = rx;
            if single {
                // `--threads 1` is one thread in all: read, code and write
                // in turn.
                let mut reader = reader;
                let mut batch = Batch::default();
                let mut w = Worker::new(&shape);
                while reader.next_batch_into(&mut batch)? {
                    for r in chunk_ranges(batch.len()) {
                        sink.chunk(code_chunk(&ctx, &batch, r, &mut w)?)?;
                    }
                    sink.skipped(&batch)?;
                    bar.set_position(progress.load(Ordering::Relaxed));
                }
                return Ok((reader.finish(), w.agg));
            }
            let handle = scope.spawn(move || {
                let mut reader = reader;
                loop {
                    let mut b = back_rx.try_recv().unwrap_or_default();
                    match reader.next_batch_into(&mut b) {
                        Ok(true) => {
                            if tx.send(Ok(b)).is_err() {
                                break;
                            }
                        }
                        Ok(false) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
                reader.finish()
            });
            // One worker (scratch buffers, the per-token memo of regex lexicons) per
            // thread for the whole run, so the memo stays warm across batches.
            // Which worker codes a chunk does not change its output.
            let workers: Vec<std::sync::Mutex<Worker>> = (0..pool.current_num_threads().max(1))
                .map(|_| std::sync::Mutex::new(Worker::new(&shape)))
                .collect();
            // Chunks are coded as soon as their batch arrives, by
            // whichever thread is free, and written in input order as
            // they complete: no barrier between batches, at most
            // `MAX_IN_FLIGHT` batches held.
            pool.in_place_scope(|scope| -> Result<(), Error> {
                    let (res_tx, res_rx) = mpsc::channel();
                    let mut order = Reorder::new(res_rx);
                    let (ctx, workers) = (&ctx, &workers);
                    for batch in rx.iter() {
                        let batch = match batch {
                            Ok(b) => Arc::new(b),
                            Err(e) => {
                                // A chunk coded earlier may hold an earlier
                                // error: report the first in input order.
                                order.drain(&mut sink, 0)?;
                                return Err(e);
                            }
                        };
                        let ranges = chunk_ranges(batch.len());
                        order.in_flight.push_back((batch.clone(), ranges.len()));
                        for r in ranges {
                            let (seq, tx, batch) = (order.next_seq, res_tx.clone(), batch.clone());
                            order.next_seq += 1;
                            scope.spawn(move |_| {
                                let start = r.start;
                                let i = rayon::current_thread_index().unwrap_or(0) % workers.len();
                                let mut w = workers[i].lock().unwrap_or_else(|e| e.into_inner());
                                let out =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        code_chunk(ctx, &batch, r, &mut w)
                                    }))
                                    .unwrap_or_else(|_| {
                                        let first = batch.row(start);
                                        Err(Error::Data(format!(
                                            "internal error: a worker thread panicked while coding {} from line {} (please report it)",
                                            ctx.input_names[first.input], first.line
                                        )))
                                    });
                                // Let go of the batch before reporting, so
                                // the writer can hand it back to the reader.
                                drop(batch);
                                let _ = tx.send((seq, out));
                            });
                        }
                        order.drain(&mut sink, MAX_IN_FLIGHT - 1)?;
                        bar.set_position(progress.load(Ordering::Relaxed));
                    }
                    order.drain(&mut sink, 0)
                })?;
            let stats = handle.join().expect("the reader thread does not panic");
            // Merge into the first worker's counts, dropping each other
            // worker's as soon as it is merged, so the respondent sets are
            // not held twice.
            let mut aggs = workers
                .into_iter()
                .map(|w| w.into_inner().unwrap_or_else(|e| e.into_inner()).agg);
            let mut total = aggs.next().unwrap_or_else(|| Aggregate::new(shape.clone()));
            for agg in aggs {
                total.merge(agg);
            }
            Ok((stats, total))
        },
    )?;
    bar.finish_and_clear();

    let mut stats = stats;
    for (input, line) in invalid {
        let s = &mut stats[input];
        s.invalid_utf8_fields += 1;
        s.first_invalid_utf8_line = Some(s.first_invalid_utf8_line.map_or(line, |l| l.min(line)));
    }
    acc.rows_read = stats.iter().map(|s| s.rows_read).sum();
    acc.rows_skipped = stats.iter().map(|s| s.rows_skipped).sum();
    acc.rows_filtered = stats.iter().map(|s| s.rows_filtered).sum();
    acc.responses_without_tokens = total.responses_without_tokens;
    total.compact();

    let tctx = TableContext {
        matcher: &matcher,
        group_names: &group_names,
        all_label: &opts.all_label,
        leaves_only: opts.leaves_only,
        has_ids,
        min_cell: opts.min_cell,
        excel_csv: opts.excel_csv,
    };
    let mut written = files.finish()?;
    // The tables and `partial.json` both only read the counts: write them
    // side by side (in turn with `--threads 1`).
    let (tables, partial) = pool.install(|| {
        rayon::join(
            || {
                let cells = total.cells_with_all();
                let written = write_tables(tmp.path(), &tctx, &cells, opts.excel_csv);
                (cells, written)
            },
            || {
                write_partial(
                    tmp.path(),
                    &total,
                    lexicon,
                    source,
                    &group_names,
                    has_ids,
                    &acc,
                )
            },
        )
    });
    let (cells, tables) = tables;
    written.extend(tables?);
    written.push(partial?);

    let mut warnings = Vec::new();
    if acc.responses_without_id > 0 {
        warnings.push(format!(
            "{} response(s) have an empty id: counted as responses, not as respondents",
            acc.responses_without_id
        ));
    }
    for s in &stats {
        if s.invalid_utf8_fields > 0 {
            warnings.push(format!(
                "{}: invalid UTF-8 replaced in {} field(s), first on line {}",
                s.path,
                s.invalid_utf8_fields,
                s.first_invalid_utf8_line.unwrap_or(0)
            ));
        }
        warnings.extend(s.notes.iter().cloned());
        for f in &s.filters {
            warnings.push(format!(
                "{}: --filter on `{}` removed {} row(s)",
                s.path, f.column, f.removed
            ));
        }
    }
    if acc.rows_skipped > 0 {
        warnings.push(format!(
            "{} malformed row(s) skipped: see skipped.csv",
            acc.rows_skipped
        ));
    }

    // The manifest, with the SHA-256 of every other output.
    let outputs = written
        .iter()
        .map(|(file, sha256)| ManifestOutput {
            file: file.clone(),
            sha256: sha256.clone(),
        })
        .collect();
    let manifest = Manifest {
        tool: "thematic",
        version: env!("CARGO_PKG_VERSION"),
        command_line: opts.command_line.clone(),
        inputs: stats,
        lexicon: ManifestLexicon {
            name: lexicon.name.clone(),
            version: lexicon.version.clone(),
            path: source.path.clone(),
            sha256: source.sha256.clone(),
            semantics: lexicon.semantics.as_str(),
            negation: lexicon.negation.is_some(),
            themes: matcher.themes().len(),
        },
        tokenizer: if tokenizer.is_default() {
            "default"
        } else {
            "tokenizer.json"
        },
        options: ManifestOptions {
            text: layout.text.iter().map(|t| t.1.clone()).collect(),
            id: layout.id.map(|i| header[i].clone()),
            groups: group_names.clone(),
            question: layout.question.map(|i| header[i].clone()),
            delimiter: opts.delimiter.map(|d| (d as char).to_string()),
            encoding: opts.encoding.map(|e| e.name().to_string()),
            sheet: opts.sheet.clone(),
            header_rows: opts.header_rows,
            filters: opts
                .filters
                .iter()
                .map(|f| format!("{}{}{}", f.column, if f.keep { "=" } else { "!=" }, f.value))
                .collect(),
            presence: opts.presence,
            leaves_only: opts.leaves_only,
            all_label: opts.all_label.clone(),
            strict: opts.strict,
            kwic: opts.kwic,
            context: opts.context,
            min_cell: opts.min_cell,
            excel_csv: opts.excel_csv,
        },
        accounting: acc.clone(),
        questions: layout
            .text
            .iter()
            .zip(&layout.question_labels)
            .map(|((_, column), label)| ManifestQuestion {
                column: column.clone(),
                label: label.clone(),
            })
            .collect(),
        columns: col_names
            .iter()
            .zip(&theme_ids)
            .map(|(c, t)| ManifestColumn {
                column: c.clone(),
                theme: t.to_string(),
            })
            .chain(
                pct_names
                    .iter()
                    .zip(&theme_ids)
                    .map(|(c, t)| ManifestColumn {
                        column: c.clone(),
                        theme: format!("{t} (% of WC)"),
                    }),
            )
            .collect(),
        outputs,
        xlsx: None,
    };
    let mut manifest = manifest;
    if opts.xlsx {
        // The workbook's About sheet shows the manifest as it stands before
        // the workbook itself is added to it.
        let json = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
        let mut sheets = vec![
            ("themes_by_group", "themes_by_group.csv", SheetKind::Long),
            (
                "themes_by_group_wide",
                "themes_by_group_wide.csv",
                SheetKind::Wide,
            ),
            ("stats", "stats.csv", SheetKind::Stats),
            ("stats_residuals", "stats_residuals.csv", SheetKind::Stats),
            ("terms_by_group", "terms_by_group.csv", SheetKind::Plain),
            ("responses", "responses.csv", SheetKind::Plain),
            ("uncoded", "uncoded.csv", SheetKind::Plain),
            ("skipped", "skipped.csv", SheetKind::Plain),
        ];
        if opts.kwic {
            sheets.push(("matches", "matches.csv", SheetKind::Plain));
        }
        let notes = write_workbook(tmp.path(), &sheets, json, opts.min_cell)?;
        let sha = crate::ingest::sha256_file(&tmp.path().join("report.xlsx"))
            .map_err(|e| Error::io("report.xlsx", e))?;
        manifest.outputs.push(ManifestOutput {
            file: "report.xlsx".into(),
            sha256: sha.clone(),
        });
        written.push(("report.xlsx".into(), sha));
        manifest.xlsx = Some(notes);
    }
    let json = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    std::fs::write(tmp.path().join("manifest.json"), json + "\n")
        .map_err(|e| Error::io("manifest.json", e))?;

    // Success: move every file into place.
    let mut moved = Vec::new();
    for name in written
        .iter()
        .map(|w| w.0.as_str())
        .chain(["manifest.json"])
    {
        let dest = opts.out_dir.join(name);
        std::fs::rename(tmp.path().join(name), &dest).map_err(|e| Error::io(dest.display(), e))?;
        moved.push(dest);
    }

    Ok(CodeReport {
        summary: tables::summary(&tctx, &cells),
        accounting: acc,
        warnings,
        outputs: moved,
    })
}

/// Batches being coded at once (beyond the reader's queue).
const MAX_IN_FLIGHT: usize = 2;

/// The row ranges of a batch's chunks.
fn chunk_ranges(rows: usize) -> Vec<std::ops::Range<usize>> {
    (0..rows)
        .step_by(CHUNK_ROWS)
        .map(|s| s..rows.min(s + CHUNK_ROWS))
        .collect()
}

/// Where coded chunks go, in input order: the per-answer files and the
/// accounting; finished batches go back to the reader.
struct Sink<'a> {
    files: &'a mut OutFiles,
    acc: &'a mut Accounting,
    invalid: &'a mut Vec<(usize, u64)>,
    back: &'a mpsc::Sender<Batch>,
}

impl Sink<'_> {
    fn chunk(&mut self, out: ChunkOut) -> Result<(), Error> {
        self.files.responses.put(&out.responses)?;
        self.files.uncoded.put(&out.uncoded)?;
        if let Some(k) = self.files.kwic.as_mut() {
            k.put(&out.kwic)?;
        }
        self.acc.responses_coded += out.coded;
        self.acc.responses_empty += out.empty;
        self.acc.responses_uncoded += out.uncoded_n;
        self.acc.responses_without_id += out.without_id;
        self.invalid.extend(out.invalid_utf8);
        Ok(())
    }

    /// Every chunk of `batch` is written: list its skipped rows.
    fn skipped(&mut self, batch: &Batch) -> Result<(), Error> {
        write_skipped(&mut self.files.skipped, &batch.skipped)
    }

    /// As [`Sink::skipped`], then hand the batch back to the reader (if it
    /// is no longer shared; dropped if the reader is done).
    fn batch_done(&mut self, batch: Arc<Batch>) -> Result<(), Error> {
        self.skipped(&batch)?;
        if let Ok(batch) = Arc::try_unwrap(batch) {
            let _ = self.back.send(batch);
        }
        Ok(())
    }
}

/// Puts chunks coded out of order back in input order.
struct Reorder {
    results: mpsc::Receiver<(u64, Result<ChunkOut, Error>)>,
    /// Batches not yet fully written, oldest first, with their chunks
    /// still to write.
    in_flight: std::collections::VecDeque<(Arc<Batch>, usize)>,
    ready: std::collections::BTreeMap<u64, Result<ChunkOut, Error>>,
    next_seq: u64,
    next_write: u64,
}

impl Reorder {
    fn new(results: mpsc::Receiver<(u64, Result<ChunkOut, Error>)>) -> Reorder {
        Reorder {
            results,
            in_flight: Default::default(),
            ready: Default::default(),
            next_seq: 0,
            next_write: 0,
        }
    }

    /// Write chunks in order, waiting for them, until at most `keep`
    /// batches are in flight.
    fn drain(&mut self, sink: &mut Sink<'_>, keep: usize) -> Result<(), Error> {
        loop {
            // Finished batches first (a batch of skipped rows only has no
            // chunks), so the next chunk belongs to the front batch.
            while self.in_flight.front().is_some_and(|b| b.1 == 0) {
                let (batch, _) = self.in_flight.pop_front().expect("checked");
                sink.batch_done(batch)?;
            }
            if let Some(out) = self.ready.remove(&self.next_write) {
                self.next_write += 1;
                sink.chunk(out?)?;
                self.in_flight
                    .front_mut()
                    .expect("a chunk's batch is in flight")
                    .1 -= 1;
                continue;
            }
            if self.in_flight.len() <= keep {
                return Ok(());
            }
            let (seq, out) = self
                .results
                .recv()
                .expect("a sender lives while chunks are in flight");
            self.ready.insert(seq, out);
        }
    }
}

/// Code one chunk of rows.
fn code_chunk(
    ctx: &RunCtx<'_>,
    batch: &Batch,
    rows: std::ops::Range<usize>,
    w: &mut Worker,
) -> Result<ChunkOut, Error> {
    let mut out = ChunkOut {
        responses: Vec::with_capacity(rows.len() * 64),
        uncoded: Vec::new(),
        kwic: Vec::new(),
        coded: 0,
        empty: 0,
        uncoded_n: 0,
        without_id: 0,
        invalid_utf8: Vec::new(),
    };
    let mut uncoded = csv::Writer::from_writer(Vec::new());
    let mut kwic = csv::Writer::from_writer(Vec::new());
    let csv_mem = |e: csv::Error| Error::Data(format!("formatting CSV: {e}"));
    // The row's group values, in one buffer for the chunk.
    let mut groups = Vec::new();
    for row in rows.map(|i| batch.row(i)) {
        let layout = row.layout;
        let mut get = |i: usize| {
            let (s, bad) = row.field(i);
            if bad {
                out.invalid_utf8.push((row.input, row.line));
            }
            s
        };
        let id = layout.id.map(&mut get);
        groups.clear();
        groups.extend(layout.groups.iter().map(|&i| get(i)));
        for (gi, g) in groups.iter().enumerate() {
            if g.as_ref() == ctx.all_label {
                return Err(all_label_error(ctx, &row, &ctx.group_names[gi]));
            }
        }
        let question_field = layout.question.map(&mut get);
        for (k, ((col, _), label)) in layout.text.iter().zip(&layout.question_labels).enumerate() {
            let text = get(*col);
            let question: &str = question_field.as_deref().unwrap_or(label);
            if ctx.check_question_label && question == ctx.all_label {
                return Err(all_label_error(ctx, &row, "question"));
            }
            if text.trim().is_empty() {
                out.empty += 1;
                continue;
            }
            out.coded += 1;
            ctx.tokenizer.tokenize(&text, &mut w.tokens);
            ctx.matcher
                .find(&text, &w.tokens, &mut w.scratch, &mut w.matches);
            ctx.matcher.tally(&w.matches, &mut w.counts);
            let n_tokens = w.tokens.len();
            let covered = ctx
                .matcher
                .covered_tokens(n_tokens, &w.matches, &mut w.scratch);
            w.agg.add(
                &groups,
                question,
                Coded {
                    id: id.as_deref(),
                    // Within a row, questions in `--text` order.
                    at: (row.row, k as u64),
                    tokens: n_tokens as u64,
                    counts: &w.counts,
                    matches: &w.matches,
                },
            );
            if id.as_deref() == Some("") {
                out.without_id += 1;
            }

            use std::fmt::Write as _;
            let rec = &mut w.record;
            rec.clear();
            let _ = write!(rec.next(), "{}", row.row);
            rec.next().push_str(&ctx.xl(id.as_deref().unwrap_or("")));
            for g in &groups {
                rec.next().push_str(&ctx.xl(g));
            }
            rec.next().push_str(&ctx.xl(question));
            let rec = rec.fields();
            // The `responses.csv` row, written directly: the text fields
            // quoted as the csv crate would, the numbers formatted without
            // `fmt` (one column per theme, so this is per-answer work).
            let line = &mut out.responses;
            for (k, f) in rec.iter().enumerate() {
                if k > 0 {
                    line.push(b',');
                }
                csv_field(line, f.as_bytes());
            }
            let mut num = itoa::Buffer::new();
            line.push(b',');
            line.extend_from_slice(num.format(n_tokens).as_bytes());
            line.push(b',');
            if n_tokens > 0 {
                push_f64(line, 100.0 * covered as f64 / n_tokens as f64);
            }
            for &t in &ctx.columns {
                let hits = w.counts[t].hits;
                let v = if ctx.presence {
                    u64::from(hits > 0)
                } else {
                    hits
                };
                // Most counts are single digits (most often 0).
                if v < 10 {
                    line.extend_from_slice(&[b',', b'0' + v as u8]);
                } else {
                    line.push(b',');
                    line.extend_from_slice(num.format(v).as_bytes());
                }
                if ctx.liwc {
                    line.push(b',');
                    if n_tokens > 0 {
                        push_f64(line, 100.0 * hits as f64 / n_tokens as f64);
                    }
                }
            }
            line.push(b'\n');

            let n_fixed = rec.len();
            if w.counts.iter().all(|c| c.hits == 0) {
                out.uncoded_n += 1;
                let mut u: Vec<&str> = rec[..n_fixed].iter().map(String::as_str).collect();
                let text_cell = ctx.xl(&text);
                u.push(&text_cell);
                uncoded.write_record(&u).map_err(csv_mem)?;
            }
            if ctx.kwic {
                write_kwic(
                    ctx,
                    &text,
                    &w.tokens,
                    &w.matches,
                    &rec[..n_fixed],
                    &mut kwic,
                )
                .map_err(csv_mem)?;
            }
        }
    }
    out.uncoded = uncoded
        .into_inner()
        .map_err(|e| Error::Data(e.to_string()))?;
    out.kwic = kwic.into_inner().map_err(|e| Error::Data(e.to_string()))?;
    Ok(out)
}

/// Append `field` as the csv crate writes it by default: quoted (with
/// quotes doubled) when it holds a comma, a quote, `\n` or `\r`.
fn csv_field(out: &mut Vec<u8>, field: &[u8]) {
    if !field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// One `matches.csv` row per match: the matched text exactly as written
/// (the original bytes between the match's offsets) and up to
/// `ctx.context` tokens of original text on each side.
fn write_kwic(
    ctx: &RunCtx<'_>,
    text: &str,
    tokens: &Tokens,
    matches: &[Match],
    fixed: &[String],
    w: &mut csv::Writer<Vec<u8>>,
) -> csv::Result<()> {
    let themes = ctx.matcher.themes();
    let toks = tokens.tokens();
    for m in matches {
        let (s, e) = (m.start as usize, m.end as usize);
        let left_from = toks[s.saturating_sub(ctx.context)].start;
        let left = text
            .get(left_from.min(m.byte_start)..m.byte_start)
            .unwrap_or("");
        let right_to = toks[(e + ctx.context).min(toks.len()) - 1].end;
        let right = text.get(m.byte_end..right_to.max(m.byte_end)).unwrap_or("");
        let theme = &themes[m.theme as usize];
        let matched = text.get(m.byte_start..m.byte_end).unwrap_or("");
        let mut rec: Vec<std::borrow::Cow<'_, str>> = fixed
            .iter()
            .map(|f| std::borrow::Cow::Borrowed(f.as_str()))
            .collect();
        rec.push(theme.id.as_str().into());
        rec.push(theme.entries[m.entry as usize].text.as_str().into());
        rec.push(ctx.xl(matched));
        rec.push(m.byte_start.to_string().into());
        rec.push(m.byte_end.to_string().into());
        rec.push(ctx.xl(left));
        rec.push(ctx.xl(right));
        rec.push(if m.negated { "true" } else { "false" }.into());
        w.write_record(rec.iter().map(|c| c.as_bytes()))?;
    }
    Ok(())
}

fn all_label_error(ctx: &RunCtx<'_>, row: &Row<'_>, column: &str) -> Error {
    let file = ctx
        .input_names
        .get(row.input)
        .map_or("<input>", String::as_str);
    Error::Row {
        path: file.to_string(),
        line: row.line,
        message: format!(
            "column `{column}` has the value `{}`, which is the label of the level that pools every value; choose another label with --all-label",
            ctx.all_label
        ),
    }
}

fn write_skipped(w: &mut Out, skipped: &[Skipped]) -> Result<(), Error> {
    if skipped.is_empty() {
        return Ok(());
    }
    let mut c = csv::Writer::from_writer(Vec::new());
    for s in skipped {
        c.write_record([s.file.as_str(), &s.line.to_string(), &s.reason])
            .map_err(|e| Error::Data(e.to_string()))?;
    }
    w.put(&c.into_inner().map_err(|e| Error::Data(e.to_string()))?)
}

/// The table files (written once the counts are final), in a fixed order.
pub const TABLE_FILES: &[&str] = &[
    "themes_by_group.csv",
    "themes_by_group_wide.csv",
    "terms_by_group.csv",
    "stats.csv",
    "stats_residuals.csv",
];

/// Write the count and statistics tables into `dir`; their names and
/// hashes.
pub(crate) fn write_tables(
    dir: &Path,
    tctx: &TableContext<'_>,
    cells: &std::collections::BTreeMap<crate::aggregate::CellKey, crate::aggregate::Cell>,
    bom: bool,
) -> Result<Vec<Written>, Error> {
    let mut files: Vec<Out> = TABLE_FILES
        .iter()
        .map(|name| Out::create(dir, name))
        .collect::<Result<_, _>>()?;
    if bom {
        for f in &mut files {
            f.put("\u{feff}".as_bytes())?;
        }
    }
    let csv_err = |name: &str| {
        let name = name.to_string();
        move |e: csv::Error| Error::Data(format!("writing {name}: {e}"))
    };
    let [long, wide, terms, stats, residuals] = &mut files[..] else {
        unreachable!("five table files")
    };
    tables::write_long(&mut *long, tctx, cells).map_err(csv_err(TABLE_FILES[0]))?;
    tables::write_wide(&mut *wide, tctx, cells).map_err(csv_err(TABLE_FILES[1]))?;
    tables::write_terms(&mut *terms, tctx, cells).map_err(csv_err(TABLE_FILES[2]))?;
    let mask = |n: u64| tctx.masked(n).then(String::new);
    crate::export::stats_table::write_stats(&mut *stats, &mut *residuals, tctx, cells, &mask)
        .map_err(csv_err(TABLE_FILES[3]))?;
    files.into_iter().map(Out::finish).collect()
}

/// What `partial.json` holds: the mergeable counts of a run and what must
/// agree for two runs to be merged.
#[derive(Serialize, serde::Deserialize)]
pub struct Partial<A = WireAggregate> {
    /// Always `thematic-partial`.
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Lexicon name.
    pub lexicon_name: String,
    /// SHA-256 of the lexicon file (runs must share it to be merged).
    pub lexicon_sha256: String,
    /// Group column names.
    pub group_names: Vec<String>,
    /// Whether an id column was given.
    pub has_ids: bool,
    /// Row accounting.
    pub accounting: Accounting,
    /// The counts ([`Aggregate::wire`] when written).
    pub aggregate: A,
}

/// Version of the `partial.json` format: 2 since scores are recomputed
/// from per-entry counts (entries carry `units`).
pub const PARTIAL_VERSION: u32 = 2;

fn write_partial(
    dir: &Path,
    agg: &Aggregate,
    lexicon: &Lexicon,
    source: &LexiconSource,
    group_names: &[String],
    has_ids: bool,
    acc: &Accounting,
) -> Result<Written, Error> {
    let p = Partial {
        format: "thematic-partial".into(),
        version: PARTIAL_VERSION,
        lexicon_name: lexicon.name.clone(),
        lexicon_sha256: source.sha256.clone(),
        group_names: group_names.to_vec(),
        has_ids,
        accounting: acc.clone(),
        aggregate: agg.wire(),
    };
    write_json(dir, "partial.json", &p)
}

/// Refuse an output folder where an output file would be an input.
fn check_not_inputs(out_dir: &Path, inputs: &[Input]) -> Result<(), Error> {
    let names = [
        "themes_by_group.csv",
        "themes_by_group_wide.csv",
        "responses.csv",
        "terms_by_group.csv",
        "stats.csv",
        "stats_residuals.csv",
        "uncoded.csv",
        "skipped.csv",
        "matches.csv",
        "report.xlsx",
        "partial.json",
        "manifest.json",
    ];
    for input in inputs {
        let Input::Path(p) = input else { continue };
        let Ok(p) = p.canonicalize() else { continue };
        for name in names {
            if let Ok(o) = out_dir.join(name).canonicalize()
                && o == p
            {
                return Err(Error::Usage(format!(
                    "the output {} would overwrite the input {}: choose another --out",
                    o.display(),
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

/// One buffered output file in the temporary folder, hashed as it is
/// written: the manifest's SHA-256 then costs no second pass over the
/// output at the end of the run, when nothing else runs beside it.
pub(crate) struct Out {
    name: &'static str,
    w: BufWriter<File>,
    hasher: sha2::Sha256,
}

/// A finished output file: its name and SHA-256 (hex).
pub(crate) type Written = (String, String);

impl Out {
    pub(crate) fn create(dir: &Path, name: &'static str) -> Result<Out, Error> {
        let f = File::create(dir.join(name)).map_err(|e| Error::io(name, e))?;
        Ok(Out {
            name,
            w: BufWriter::with_capacity(1 << 16, f),
            hasher: sha2::Digest::new(),
        })
    }

    /// Write all of `bytes` (through the hashing [`Write`] impl).
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_all(bytes).map_err(|e| Error::io(self.name, e))
    }

    /// Flush; the file's name and hash.
    pub(crate) fn finish(mut self) -> Result<Written, Error> {
        self.w.flush().map_err(|e| Error::io(self.name, e))?;
        let sha = crate::ingest::hex(&sha2::Digest::finalize(self.hasher));
        Ok((self.name.to_string(), sha))
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Write `value` as compact JSON to the output file `name`.
pub(crate) fn write_json(
    dir: &Path,
    name: &'static str,
    value: &impl Serialize,
) -> Result<Written, Error> {
    let mut out = Out::create(dir, name)?;
    serde_json::to_writer(&mut out, value).map_err(|e| {
        if e.is_io() {
            Error::io(name, e.into())
        } else {
            Error::Data(format!("writing {name}: {e}"))
        }
    })?;
    out.finish()
}

struct OutFiles {
    responses: Out,
    uncoded: Out,
    skipped: Out,
    kwic: Option<Out>,
}

impl OutFiles {
    fn create(dir: &Path, kwic: bool) -> Result<OutFiles, Error> {
        Ok(OutFiles {
            responses: Out::create(dir, "responses.csv")?,
            uncoded: Out::create(dir, "uncoded.csv")?,
            skipped: Out::create(dir, "skipped.csv")?,
            kwic: if kwic {
                Some(Out::create(dir, "matches.csv")?)
            } else {
                None
            },
        })
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Out> {
        [&mut self.responses, &mut self.uncoded, &mut self.skipped]
            .into_iter()
            .chain(self.kwic.as_mut())
    }

    /// `--excel-csv`: a UTF-8 BOM at the start of every CSV.
    fn bom(&mut self) -> Result<(), Error> {
        for o in self.all_mut() {
            o.put("\u{feff}".as_bytes())?;
        }
        Ok(())
    }

    /// Flush everything; the files and their hashes, in a fixed order.
    fn finish(self) -> Result<Vec<Written>, Error> {
        [self.responses, self.uncoded, self.skipped]
            .into_iter()
            .chain(self.kwic)
            .map(Out::finish)
            .collect()
    }
}

#[derive(Serialize)]
struct Manifest {
    tool: &'static str,
    version: &'static str,
    command_line: Vec<String>,
    inputs: Vec<InputStats>,
    lexicon: ManifestLexicon,
    tokenizer: &'static str,
    options: ManifestOptions,
    accounting: Accounting,
    questions: Vec<ManifestQuestion>,
    columns: Vec<ManifestColumn>,
    outputs: Vec<ManifestOutput>,
    /// What the workbook had to change to fit Excel's limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    xlsx: Option<crate::export::xlsx::XlsxNotes>,
}

use crate::export::xlsx::SheetKind;

/// Write `report.xlsx` from the CSVs in `dir`: one sheet per (sheet name,
/// CSV file name, kind).
pub(crate) fn write_workbook(
    dir: &Path,
    sheets: &[(&'static str, &'static str, SheetKind)],
    manifest_json: String,
    min_cell: Option<u64>,
) -> Result<crate::export::xlsx::XlsxNotes, Error> {
    let paths: Vec<PathBuf> = sheets.iter().map(|(_, f, _)| dir.join(f)).collect();
    let sheets: Vec<crate::export::xlsx::Sheet<'_>> = sheets
        .iter()
        .zip(&paths)
        .map(|((name, _, kind), path)| crate::export::xlsx::Sheet {
            name,
            csv: path,
            kind: *kind,
        })
        .collect();
    let info = crate::export::xlsx::ReportInfo {
        manifest_json,
        min_cell,
    };
    crate::export::xlsx::write_report(&dir.join("report.xlsx"), &sheets, &info)
}

/// A text column and the question label its answers are counted under.
#[derive(Serialize)]
struct ManifestQuestion {
    column: String,
    label: String,
}

#[derive(Serialize)]
struct ManifestLexicon {
    name: String,
    version: Option<String>,
    path: String,
    sha256: String,
    semantics: &'static str,
    negation: bool,
    themes: usize,
}

#[derive(Serialize)]
struct ManifestOptions {
    text: Vec<String>,
    id: Option<String>,
    groups: Vec<String>,
    question: Option<String>,
    delimiter: Option<String>,
    encoding: Option<String>,
    sheet: Option<String>,
    header_rows: Option<usize>,
    filters: Vec<String>,
    presence: bool,
    leaves_only: bool,
    all_label: String,
    strict: bool,
    kwic: bool,
    context: usize,
    min_cell: Option<u64>,
    excel_csv: bool,
}

#[derive(Serialize)]
struct ManifestColumn {
    column: String,
    theme: String,
}

#[derive(Serialize)]
struct ManifestOutput {
    file: String,
    sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_field_quotes_as_the_csv_crate() {
        let fields = [
            "",
            "plain",
            "a,b",
            "say \"hi\"",
            "\"",
            "line\nbreak",
            "cr\rhere",
            "crlf\r\n",
            " spaced ",
            "semi;colon",
            "tab\there",
            "=1+2",
            "naïve, café",
            "'quoted'",
        ];
        for f in fields {
            // Two fields per record, as in a `responses.csv` row (the csv
            // crate quotes a lone empty field specially).
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([f, "x"]).unwrap();
            let want = w.into_inner().unwrap();
            let mut got = Vec::new();
            csv_field(&mut got, f.as_bytes());
            got.extend_from_slice(b",x\n");
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap(),
                "{f:?}"
            );
        }
    }
}
