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
    /// Report errors and warnings (exit 1 on errors).
    Check(LexiconFileArgs),
    /// Print the theme tree with each term as normalized tokens.
    Show(LexiconFileArgs),
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
