//! Command-line arguments (clap derive). Only the binary sees these types;
//! `main.rs` turns them into library options before any work starts.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

/// Code open-ended survey answers against a thematic lexicon and export
/// theme-frequency tables by group.
#[derive(Debug, Parser)]
#[command(name = "thematic", version, about, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the `code` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Code answers and write theme-frequency tables by group.
    Code(CodeArgs),
    /// Show the tokens and matches of one text.
    Explain(ExplainArgs),
    /// Check or show a lexicon.
    #[command(subcommand)]
    Lexicon(LexiconCommand),
    /// Combine the partial.json of several `code` runs (shards) into tables.
    Merge(MergeArgs),
    /// Agreement of the lexicon's codes with human codes (docs/AGREE.md).
    Agree(AgreeArgs),
}

#[derive(Debug, ClapArgs)]
pub struct MergeArgs {
    /// partial.json files, or `code` output folders holding one.
    #[arg(value_name = "PARTIAL", required = true)]
    pub partials: Vec<PathBuf>,
    /// The lexicon every shard was coded with (default: the bundled one).
    #[arg(long, short = 'l', value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// A tokenizer.json (as used for coding).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Output folder.
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "thematic-merged"
    )]
    pub out: PathBuf,
    /// Only leaf themes in the tables.
    #[arg(long)]
    pub leaves_only: bool,
    /// Mask counts below K in published tables.
    #[arg(long, value_name = "K")]
    pub min_cell: Option<u64>,
    /// CSVs for Excel (BOM, formula-injection protection).
    #[arg(long)]
    pub excel_csv: bool,
    /// Label of the level that pools every value of a column.
    #[arg(long, value_name = "LABEL", default_value = "All")]
    pub all_label: String,
    /// No summary table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// When to draw the progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressWhen {
    /// When stderr is a terminal and not --quiet.
    Auto,
    /// Always (even when stderr is not a terminal).
    Always,
    /// Never.
    Never,
}

#[derive(Debug, ClapArgs)]
pub struct LexiconOpts {
    /// Lexicon file (default: the bundled recovery.toml).
    #[arg(long, short = 'l', value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// A tokenizer.json whose normalizer and pre-tokenizer replace the
    /// default tokenizer.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct CodeArgs {
    /// Input CSV/TSV files (`-` = stdin); several are concatenated.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub lexicon: LexiconOpts,

    /// Text column; repeat for the wide layout (each column a question).
    /// Default: the column named text, response or answer.
    #[arg(long, value_name = "COL", help_heading = "Columns")]
    pub text: Vec<String>,
    /// Respondent id column (fills the respondent columns).
    #[arg(long, value_name = "COL", help_heading = "Columns")]
    pub id: Option<String>,
    /// Group column; repeat for several.
    #[arg(long, value_name = "COL", help_heading = "Columns")]
    pub group: Vec<String>,
    /// Question column (long layout).
    #[arg(long, value_name = "COL", help_heading = "Columns")]
    pub question: Option<String>,
    /// Field delimiter (default: TAB for .tsv/.tab, else comma).
    #[arg(long, value_name = "CHAR", help_heading = "Columns")]
    pub delimiter: Option<String>,

    /// Encoding of CSV/TSV input without a byte-order mark, as an
    /// encoding_rs label: utf-8 (default), windows-1252, latin1,
    /// utf-16le, … A BOM (UTF-8, UTF-16) always wins.
    #[arg(long, value_name = "LABEL", help_heading = "Input")]
    pub encoding: Option<String>,
    /// Sheet of an xlsx/xls/ods input: its name, or its position counting
    /// from 1 (default: the first sheet).
    #[arg(long, value_name = "NAME|INDEX", help_heading = "Input")]
    pub sheet: Option<String>,
    /// Header rows at the top of each input: the first names the columns,
    /// the others are skipped. Default: 1, or what a recognised Qualtrics
    /// or SurveyMonkey export has.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Input")]
    pub header_rows: Option<u64>,
    /// Keep rows whose COL is VALUE (COL=VALUE), or drop them
    /// (COL!=VALUE); repeat. `=` filters on one column keep any of their
    /// values; filters on different columns must all pass.
    #[arg(long, value_name = "COL=VALUE", help_heading = "Input")]
    pub filter: Vec<String>,

    /// Output folder.
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "thematic-out",
        help_heading = "Output"
    )]
    pub out: PathBuf,
    /// 0/1 presence instead of hit counts in responses.csv.
    #[arg(long, help_heading = "Output")]
    pub presence: bool,
    /// Only leaf themes in the tables (no parent roll-ups).
    #[arg(long, help_heading = "Output")]
    pub leaves_only: bool,
    /// Also write report.xlsx: every table as a sheet, the wide table as a
    /// heatmap, a chart and an About sheet.
    #[arg(long, help_heading = "Output")]
    pub xlsx: bool,
    /// Also write matches.csv: every match (negated ones too) with its
    /// context, for auditing.
    #[arg(long, help_heading = "Output")]
    pub kwic: bool,
    /// Tokens of context on each side in matches.csv.
    #[arg(long, value_name = "N", default_value_t = 8, help_heading = "Output")]
    pub context: usize,
    /// Mask counts below K (and percentages derived from them) in published
    /// tables.
    #[arg(long, value_name = "K", help_heading = "Output")]
    pub min_cell: Option<u64>,
    /// CSVs for Excel: UTF-8 BOM, and a leading ' on input cells that begin
    /// with = + - @ TAB or CR (formula-injection protection).
    #[arg(long, help_heading = "Output")]
    pub excel_csv: bool,
    /// Label of the level that pools every value of a column.
    #[arg(
        long,
        value_name = "LABEL",
        default_value = "All",
        help_heading = "Output"
    )]
    pub all_label: String,

    /// Worker threads (default: one per core).
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 0,
        help_heading = "Run"
    )]
    pub threads: usize,
    /// Rows per batch handed from the reader to the workers (tuning and
    /// tests; outputs do not depend on it).
    #[arg(long, value_name = "N", default_value_t = 8192, hide = true)]
    pub batch_rows: usize,
    /// Fail on the first malformed row instead of skipping it.
    #[arg(long, help_heading = "Run")]
    pub strict: bool,
    /// No progress bar, no summary table.
    #[arg(long, short = 'q', help_heading = "Run")]
    pub quiet: bool,
    /// When to draw the progress bar.
    #[arg(long, value_enum, default_value = "auto", help_heading = "Run")]
    pub progress: ProgressWhen,
}

#[derive(Debug, ClapArgs)]
pub struct ExplainArgs {
    /// The text to explain.
    #[arg(value_name = "TEXT")]
    pub text: String,
    #[command(flatten)]
    pub lexicon: LexiconOpts,
    /// Machine-readable JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LexiconCommand {
    /// Report errors, warnings and, for a foreign format, the loss report
    /// (exit 1 on errors, or on losses with --strict).
    Check(CheckArgs),
    /// Print the theme tree with each term as normalized tokens.
    Show(LexiconFileArgs),
    /// Convert a lexicon between TOML, LIWC .dic, LIWC-22 .dicx, quanteda
    /// YAML and WordStat .cat, printing what was lost, entry by entry.
    Convert(ConvertArgs),
}

#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub file: LexiconFileArgs,
    /// Treat every loss of the import (an item the format's file holds but
    /// thematic cannot take) as an error.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, ClapArgs)]
pub struct ConvertArgs {
    /// Input lexicon (.toml, .dic, .dicx, .yml/.yaml, .cat).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Output file (`-` = stdout, which needs --to).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Output format (default: from OUT's extension).
    #[arg(long, value_name = "FORMAT", value_parser = ["toml", "dic", "dicx", "yaml", "yml", "cat"])]
    pub to: Option<String>,
    /// Fail (and write nothing) when anything is lost.
    #[arg(long)]
    pub strict: bool,
    /// A tokenizer.json to normalize terms with.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct LexiconFileArgs {
    /// Lexicon file (default: the bundled recovery.toml).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A tokenizer.json to normalize terms with.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct AgreeArgs {
    /// The automatic codes: responses.csv written by `thematic code`
    /// (its manifest.json maps column names back to theme ids).
    #[arg(long, value_name = "FILE")]
    pub auto: PathBuf,
    /// Human codes: long (key columns + `theme`) or wide (key columns +
    /// one 0/1 column per theme), optionally with a `coder` column.
    #[arg(long, value_name = "FILE")]
    pub human: PathBuf,
    /// Every unit the humans coded (key columns, optionally `coder`), so
    /// that "coded as nothing" is told apart from "not coded" (long form).
    #[arg(long, value_name = "FILE")]
    pub units: Option<PathBuf>,
    /// Key columns of responses.csv, comma-separated.
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        default_value = "id,question"
    )]
    pub key: Vec<String>,
    /// Key columns of the human and units files, in the order of --key
    /// (default: the same names).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub human_key: Vec<String>,
    /// Coder column of the human files.
    #[arg(long, value_name = "COL", default_value = "coder")]
    pub coder: String,

    /// The original data, to list each disagreement's text and matched
    /// entries (re-coded with --lexicon; must reproduce responses.csv).
    #[arg(long, value_name = "FILE", help_heading = "Data")]
    pub data: Vec<String>,
    /// Text column of --data; repeat for the wide layout (default: from the manifest).
    #[arg(long, value_name = "COL", help_heading = "Data")]
    pub text: Vec<String>,
    /// Id column of --data (default: from the manifest).
    #[arg(long, value_name = "COL", help_heading = "Data")]
    pub id: Option<String>,
    /// Group column of --data; repeat for several (default: from the manifest).
    #[arg(long, value_name = "COL", help_heading = "Data")]
    pub group: Vec<String>,
    /// Question column of --data (default: from the manifest).
    #[arg(long, value_name = "COL", help_heading = "Data")]
    pub question: Option<String>,
    /// Lexicon file used by `thematic code` (default: the bundled recovery.toml).
    #[arg(long, short = 'l', value_name = "FILE", help_heading = "Data")]
    pub lexicon: Option<PathBuf>,

    /// Output folder.
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "thematic-agree",
        help_heading = "Output"
    )]
    pub out: PathBuf,
    /// Bootstrap resamples for the confidence intervals (0 = none).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Output"
    )]
    pub resamples: usize,
    /// Seed of the bootstrap.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20_240_601,
        help_heading = "Output"
    )]
    pub seed: u64,
    /// No summary table.
    #[arg(long, short = 'q', help_heading = "Output")]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_app() {
        Args::command().debug_assert();
    }

    #[test]
    fn code_flags() {
        let a = Args::try_parse_from([
            "thematic", "code", "a.csv", "-", "--text", "q1", "--text", "q2", "--group", "g",
            "--group", "h", "-j", "2", "--id", "pid",
        ])
        .unwrap();
        let Command::Code(c) = a.command else {
            panic!("not code")
        };
        assert_eq!(c.inputs, ["a.csv", "-"]);
        assert_eq!(c.text, ["q1", "q2"]);
        assert_eq!(c.group, ["g", "h"]);
        assert_eq!(c.threads, 2);
        assert_eq!(c.id.as_deref(), Some("pid"));
        assert_eq!(c.out, PathBuf::from("thematic-out"));
        assert!(Args::try_parse_from(["thematic", "code"]).is_err());
        assert!(
            Args::try_parse_from(["thematic", "code", "a.csv", "--progress", "sometimes"]).is_err()
        );
    }

    #[test]
    fn convert_flags() {
        let a = Args::try_parse_from([
            "thematic", "lexicon", "convert", "a.dic", "-", "--to", "yml", "--strict",
        ])
        .unwrap();
        let Command::Lexicon(LexiconCommand::Convert(c)) = a.command else {
            panic!("not convert")
        };
        assert_eq!(c.input, PathBuf::from("a.dic"));
        assert_eq!(c.to.as_deref(), Some("yml"));
        assert!(c.strict);
        assert!(
            Args::try_parse_from([
                "thematic", "lexicon", "convert", "a.dic", "b", "--to", "xls"
            ])
            .is_err()
        );
        let a =
            Args::try_parse_from(["thematic", "lexicon", "check", "a.dic", "--strict"]).unwrap();
        let Command::Lexicon(LexiconCommand::Check(c)) = a.command else {
            panic!("not check")
        };
        assert!(c.strict);
    }

    #[test]
    fn agree_flags() {
        let a = Args::try_parse_from([
            "thematic",
            "agree",
            "--auto",
            "r.csv",
            "--human",
            "h.csv",
            "--human-key",
            "participant_id,question",
        ])
        .unwrap();
        let Command::Agree(g) = a.command else {
            panic!("not agree")
        };
        assert_eq!(g.key, ["id", "question"]);
        assert_eq!(g.human_key, ["participant_id", "question"]);
        assert_eq!(g.out, PathBuf::from("thematic-agree"));
        assert_eq!(g.resamples, 1000);
        assert!(Args::try_parse_from(["thematic", "agree", "--auto", "r.csv"]).is_err());
    }

    #[test]
    fn input_flags() {
        let a = Args::try_parse_from([
            "thematic",
            "code",
            "a.xlsx",
            "--sheet",
            "2",
            "--header-rows",
            "3",
            "--filter",
            "Finished=1",
            "--filter",
            "Status!=Survey Preview",
            "--encoding",
            "windows-1252",
        ])
        .unwrap();
        let Command::Code(c) = a.command else {
            panic!("not code")
        };
        assert_eq!(c.sheet.as_deref(), Some("2"));
        assert_eq!(c.header_rows, Some(3));
        assert_eq!(c.filter, ["Finished=1", "Status!=Survey Preview"]);
        assert_eq!(c.encoding.as_deref(), Some("windows-1252"));
        assert!(Args::try_parse_from(["thematic", "code", "a.csv", "--header-rows", "0"]).is_err());
    }
}
