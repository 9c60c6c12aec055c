//! `thematic merge`: combine the `partial.json` of several `code` runs
//! (shards of one data set) into the tables one run over all of them would
//! give. Counts add up exactly; respondents are united by id, so a
//! respondent whose answers are split over shards is counted once. Weighted
//! scores are sums of floats, so they may differ from a single run in the
//! last digits (addition order).

use std::path::{Path, PathBuf};

use serde::Serialize;

use std::sync::Arc;

use crate::aggregate::{Aggregate, Shape};
use crate::code::{Accounting, LexiconSource, Partial, write_tables};
use crate::error::Error;
use crate::export::tables::{self, TableContext};
use crate::lexicon::Lexicon;
use crate::matching::Matcher;

/// Options of a merge.
#[derive(Clone, Debug)]
pub struct MergeOptions {
    /// `partial.json` files, or `code` output folders holding one.
    pub partials: Vec<PathBuf>,
    /// Output folder.
    pub out_dir: PathBuf,
    /// Label of the `All` level.
    pub all_label: String,
    /// Only leaf themes in tables.
    pub leaves_only: bool,
    /// Mask counts below K.
    pub min_cell: Option<u64>,
    /// CSVs for Excel.
    pub excel_csv: bool,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
}

/// What a merge reports back.
#[derive(Debug)]
pub struct MergeReport {
    /// The summary table.
    pub summary: String,
    /// Summed accounting.
    pub accounting: Accounting,
}

#[derive(Serialize)]
struct MergeManifest<'a> {
    tool: &'static str,
    version: &'static str,
    command_line: &'a [String],
    partials: Vec<PartialInfo>,
    lexicon: &'a LexiconSource,
    lexicon_name: &'a str,
    accounting: &'a Accounting,
    outputs: Vec<(String, String)>,
}

#[derive(Serialize)]
struct PartialInfo {
    path: String,
    sha256: String,
}

fn read_partial(p: &Path) -> Result<(Partial, PartialInfo), Error> {
    let path = if p.is_dir() {
        p.join("partial.json")
    } else {
        p.to_path_buf()
    };
    let name = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|e| Error::Input {
        path: name.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let partial: Partial = serde_json::from_slice(&bytes).map_err(|e| Error::Input {
        path: name.clone(),
        message: format!("not a thematic partial.json: {e}"),
    })?;
    if partial.format != "thematic-partial" || partial.version != crate::code::PARTIAL_VERSION {
        return Err(Error::Input {
            path: name,
            message: format!(
                "not a thematic partial.json (format version {})",
                crate::code::PARTIAL_VERSION
            ),
        });
    }
    let info = PartialInfo {
        path: name,
        sha256: crate::ingest::sha256_bytes(&bytes),
    };
    Ok((partial, info))
}

/// Merge partial results into tables in `opts.out_dir`.
pub fn run(
    opts: &MergeOptions,
    lexicon: &Lexicon,
    source: &LexiconSource,
) -> Result<MergeReport, Error> {
    if opts.partials.is_empty() {
        return Err(Error::Usage(
            "nothing to merge: name partial.json files or output folders".into(),
        ));
    }
    let matcher = Matcher::new(lexicon);
    let shape = Arc::new(Shape::of(&matcher));
    let mut total = Aggregate::new(shape.clone());
    let mut acc = Accounting::default();
    let mut infos = Vec::new();
    let mut first: Option<(Vec<String>, bool)> = None;
    for p in &opts.partials {
        let (partial, info) = read_partial(p)?;
        if partial.lexicon_sha256 != source.sha256 {
            return Err(Error::Input {
                path: info.path,
                message: format!(
                    "was coded with another lexicon (`{}`, SHA-256 {}) than {} (SHA-256 {}): pass the same --lexicon",
                    partial.lexicon_name, partial.lexicon_sha256, source.path, source.sha256
                ),
            });
        }
        match &first {
            None => first = Some((partial.group_names.clone(), partial.has_ids)),
            Some((g, ids)) => {
                if *g != partial.group_names || *ids != partial.has_ids {
                    return Err(Error::Input {
                        path: info.path,
                        message: format!(
                            "has other group columns or id setting ({:?}, id: {}) than the first partial ({g:?}, id: {ids})",
                            partial.group_names, partial.has_ids
                        ),
                    });
                }
            }
        }
        if let Some(prev) = infos
            .iter()
            .find(|i: &&PartialInfo| i.sha256 == info.sha256)
        {
            return Err(Error::Input {
                path: info.path,
                message: format!(
                    "is the same partial result as {} (same SHA-256): merging it twice would count its answers twice",
                    prev.path
                ),
            });
        }
        let n_groups = partial.group_names.len();
        let mut agg =
            Aggregate::from_wire(partial.aggregate, shape.clone(), n_groups).map_err(|m| {
                Error::Input {
                    path: info.path.clone(),
                    message: format!("is not a valid partial result: {m}"),
                }
            })?;
        // Questions keep their order of first appearance across the
        // partials, in the order given.
        agg.set_shard(infos.len() as u64);
        total.merge(agg);
        let a = &partial.accounting;
        acc.rows_read += a.rows_read;
        acc.rows_skipped += a.rows_skipped;
        acc.rows_filtered += a.rows_filtered;
        acc.text_columns = a.text_columns;
        acc.responses_coded += a.responses_coded;
        acc.responses_empty += a.responses_empty;
        acc.responses_without_tokens += a.responses_without_tokens;
        acc.responses_uncoded += a.responses_uncoded;
        acc.responses_without_id += a.responses_without_id;
        infos.push(info);
    }
    let (group_names, has_ids) = first.expect("at least one partial");

    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(opts.out_dir.display(), e))?;
    // Never write over a partial being merged (nor next to the per-answer
    // files of the run it came from).
    let out = opts
        .out_dir
        .canonicalize()
        .map_err(|e| Error::io(opts.out_dir.display(), e))?;
    for p in &opts.partials {
        let folder = if p.is_dir() {
            Some(p.as_path())
        } else {
            p.parent()
        };
        let folder = folder.map(|f| {
            if f.as_os_str().is_empty() {
                Path::new(".")
            } else {
                f
            }
        });
        if folder.and_then(|f| f.canonicalize().ok()).as_deref() == Some(out.as_path()) {
            return Err(Error::Usage(format!(
                "the output folder {} holds the partial {} being merged: choose another --out",
                opts.out_dir.display(),
                p.display()
            )));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".thematic-tmp-")
        .tempdir_in(&opts.out_dir)
        .map_err(|e| Error::io(opts.out_dir.display(), e))?;
    let cells = total.cells_with_all();
    let tctx = TableContext {
        matcher: &matcher,
        group_names: &group_names,
        all_label: &opts.all_label,
        leaves_only: opts.leaves_only,
        has_ids,
        min_cell: opts.min_cell,
        excel_csv: opts.excel_csv,
    };
    let mut written = write_tables(tmp.path(), &tctx, &cells, opts.excel_csv)?;
    let merged = Partial {
        format: "thematic-partial".into(),
        version: crate::code::PARTIAL_VERSION,
        lexicon_name: lexicon.name.clone(),
        lexicon_sha256: source.sha256.clone(),
        group_names: group_names.clone(),
        has_ids,
        accounting: acc.clone(),
        aggregate: total.wire(),
    };
    written.push(crate::code::write_json(
        tmp.path(),
        "partial.json",
        &merged,
    )?);
    let outputs = written.clone();
    let manifest = MergeManifest {
        tool: "thematic",
        version: env!("CARGO_PKG_VERSION"),
        command_line: &opts.command_line,
        partials: infos,
        lexicon: source,
        lexicon_name: &lexicon.name,
        accounting: &acc,
        outputs,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    std::fs::write(tmp.path().join("manifest.json"), json + "\n")
        .map_err(|e| Error::io("manifest.json", e))?;
    for name in written
        .iter()
        .map(|w| w.0.as_str())
        .chain(["manifest.json"])
    {
        let dest = opts.out_dir.join(name);
        std::fs::rename(tmp.path().join(name), &dest).map_err(|e| Error::io(dest.display(), e))?;
    }
    Ok(MergeReport {
        summary: tables::summary(&tctx, &cells),
        accounting: acc,
    })
}
