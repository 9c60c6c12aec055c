//! The `thematic` binary: parse arguments, build library options, run,
//! print, exit with 0 (success), 1 (runtime or data error) or 2 (usage).

mod args;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use args::AgreeArgs;
use args::{
    Args, CheckArgs, CodeArgs, Command, ConvertArgs, ExplainArgs, LexiconCommand, LexiconFileArgs,
    MergeArgs, ProgressWhen,
};
use thematic::code::{CodeOptions, LexiconSource};
use thematic::export::tables::render_table;
use thematic::ingest::{ColumnSpec, Filter, Input};
use thematic::lexicon::{self, Severity};
use thematic::matching::{Matcher, Scratch};
use thematic::tokenize::{Tokenizer, Tokens};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`thematic explain … | head`) is not a failure.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            let usage = err
                .downcast_ref::<thematic::Error>()
                .is_some_and(thematic::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Code(a) => code(a),
        Command::Explain(a) => explain(a),
        Command::Lexicon(LexiconCommand::Check(a)) => lexicon_check(a),
        Command::Lexicon(LexiconCommand::Show(a)) => lexicon_show(a),
        Command::Merge(a) => merge(a),
        Command::Lexicon(LexiconCommand::Convert(a)) => lexicon_convert(a),
        Command::Agree(a) => agree(a),
    }
}

fn merge(a: MergeArgs) -> anyhow::Result<ExitCode> {
    let tk = tokenizer(a.tokenizer.as_ref())?;
    let loaded = lexicon::load(a.lexicon.as_deref(), &tk)?;
    let opts = thematic::merge::MergeOptions {
        partials: a.partials,
        out_dir: a.out,
        all_label: a.all_label,
        leaves_only: a.leaves_only,
        min_cell: a.min_cell,
        excel_csv: a.excel_csv,
        command_line: std::env::args().collect(),
    };
    let source = LexiconSource {
        path: loaded.path.clone(),
        sha256: loaded.sha256.clone(),
    };
    let report = thematic::merge::run(&opts, &loaded.lexicon, &source)?;
    if !a.quiet {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report.summary.trim_end())?;
        writeln!(
            out,
            "\nmerged {} partial(s): {} answers coded. Tables in {}",
            opts.partials.len(),
            report.accounting.responses_coded,
            opts.out_dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn tokenizer(path: Option<&PathBuf>) -> anyhow::Result<Tokenizer> {
    match path {
        None => Ok(Tokenizer::default_pipeline()),
        Some(p) => Ok(Tokenizer::from_json_file(p)?),
    }
}

fn print_warnings(warnings: &[lexicon::Diagnostic]) {
    for w in warnings {
        eprintln!("{w}");
    }
}

fn code(a: CodeArgs) -> anyhow::Result<ExitCode> {
    let tk = tokenizer(a.lexicon.tokenizer.as_ref())?;
    let loaded = lexicon::load(a.lexicon.lexicon.as_deref(), &tk)?;
    if !a.quiet {
        print_warnings(&loaded.warnings);
    }
    // An imported dictionary's loss report is always shown: what the file
    // holds that thematic cannot apply changes the counts.
    let (lost, _) = print_losses(&loaded.path, &loaded.losses);
    if a.strict && lost > 0 {
        return Err(thematic::Error::Data(format!(
            "{}: {lost} item(s) of the lexicon could not be imported (--strict)",
            loaded.path
        ))
        .into());
    }
    let delimiter = match a.delimiter.as_deref() {
        None => None,
        Some("\\t") | Some("tab") | Some("TAB") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(thematic::Error::Usage(format!(
                "--delimiter must be one ASCII character (or `tab`), not `{d}`"
            ))
            .into());
        }
    };
    let encoding = match a.encoding.as_deref() {
        None => None,
        Some(label) => Some(
            encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                thematic::Error::Usage(format!(
                    "--encoding `{label}` is not an encoding label (try utf-8, windows-1252, latin1, utf-16le or utf-16be)"
                ))
            })?,
        ),
    };
    let filters = a
        .filter
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let show_progress = match a.progress {
        ProgressWhen::Always => true,
        ProgressWhen::Never => false,
        ProgressWhen::Auto => !a.quiet && std::io::stderr().is_terminal(),
    };
    let opts = CodeOptions {
        inputs: a.inputs.iter().map(|s| Input::from_arg(s)).collect(),
        columns: ColumnSpec {
            text: a.text,
            id: a.id,
            groups: a.group,
            question: a.question,
        },
        delimiter,
        out_dir: a.out,
        threads: a.threads,
        batch_rows: a.batch_rows,
        strict: a.strict,
        presence: a.presence,
        leaves_only: a.leaves_only,
        all_label: a.all_label,
        progress: show_progress,
        command_line: std::env::args().collect(),
        kwic: a.kwic,
        context: a.context,
        min_cell: a.min_cell,
        excel_csv: a.excel_csv,
        xlsx: a.xlsx,
        encoding,
        sheet: a.sheet,
        header_rows: a.header_rows.map(|n| n as usize),
        filters,
    };
    let source = LexiconSource {
        path: loaded.path.clone(),
        sha256: loaded.sha256.clone(),
    };
    let report = thematic::code::run(&opts, &loaded.lexicon, &source, &tk)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !a.quiet {
        let acc = &report.accounting;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report.summary.trim_end())?;
        writeln!(
            out,
            "\n{} rows read: {} answers coded ({} with no theme), {} empty, {} rows skipped{}. Tables in {}",
            acc.rows_read,
            acc.responses_coded,
            acc.responses_uncoded,
            acc.responses_empty,
            acc.rows_skipped,
            if opts.filters.is_empty() {
                String::new()
            } else {
                format!(", {} filtered out", acc.rows_filtered)
            },
            opts.out_dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let tk = tokenizer(a.lexicon.tokenizer.as_ref())?;
    let loaded = lexicon::load(a.lexicon.lexicon.as_deref(), &tk)?;
    let matcher = Matcher::new(&loaded.lexicon);
    let text = a.text.as_str();
    let mut tokens = Tokens::new();
    tk.tokenize(text, &mut tokens);
    let mut scratch = Scratch::new();
    let mut matches = Vec::new();
    matcher.find(text, &tokens, &mut scratch, &mut matches);
    let mut counts = Vec::new();
    matcher.tally(&matches, &mut counts);
    let themes = matcher.themes();
    let mut out = std::io::stdout().lock();
    if a.json {
        let toks: Vec<serde_json::Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, (t, norm))| {
                serde_json::json!({"index": i, "token": norm, "start": t.start, "end": t.end, "text": &text[t.start..t.end]})
            })
            .collect();
        let ms: Vec<serde_json::Value> = matches
            .iter()
            .map(|m| {
                let th = &themes[m.theme as usize];
                serde_json::json!({
                    "theme": th.id, "entry": th.entries[m.entry as usize].text,
                    "token_start": m.start, "token_end": m.end,
                    "start": m.byte_start, "end": m.byte_end,
                    "text": &text[m.byte_start..m.byte_end], "negated": m.negated,
                })
            })
            .collect();
        let cs: Vec<serde_json::Value> = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.hits > 0 || c.negated > 0)
            .map(|(i, c)| serde_json::json!({"theme": themes[i].id, "hits": c.hits, "negated_hits": c.negated, "score": c.score}))
            .collect();
        let doc = serde_json::json!({
            "text": text,
            "lexicon": loaded.lexicon.name,
            "tokens": toks,
            "matches": ms,
            "themes": cs,
            "coded_tokens": matcher.covered_tokens(tokens.len(), &matches, &mut scratch),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        "#".to_string(),
        "token".into(),
        "start".into(),
        "end".into(),
        "as written".into(),
    ]];
    for (i, (t, norm)) in tokens.iter().enumerate() {
        rows.push(vec![
            i.to_string(),
            norm.to_string(),
            t.start.to_string(),
            t.end.to_string(),
            text[t.start..t.end].to_string(),
        ]);
    }
    writeln!(out, "{} token(s)\n{}", tokens.len(), render_table(&rows))?;
    if matches.is_empty() {
        writeln!(out, "no matches")?;
    } else {
        let mut rows = vec![vec![
            "theme".to_string(),
            "entry".into(),
            "tokens".into(),
            "bytes".into(),
            "matched".into(),
            "negated".into(),
        ]];
        for m in &matches {
            let th = &themes[m.theme as usize];
            rows.push(vec![
                th.id.clone(),
                th.entries[m.entry as usize].text.clone(),
                format!("{}..{}", m.start, m.end),
                format!("{}..{}", m.byte_start, m.byte_end),
                text[m.byte_start..m.byte_end].to_string(),
                if m.negated { "yes".into() } else { "no".into() },
            ]);
        }
        writeln!(out, "{} match(es)\n{}", matches.len(), render_table(&rows))?;
        let mut rows = vec![vec![
            "theme (with parents)".to_string(),
            "hits".into(),
            "negated".into(),
            "score".into(),
        ]];
        for (i, c) in counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.hits > 0 || c.negated > 0)
        {
            rows.push(vec![
                format!("{}{}", "  ".repeat(themes[i].depth), themes[i].id),
                c.hits.to_string(),
                c.negated.to_string(),
                thematic::export::fmt_f64(c.score),
            ]);
        }
        writeln!(out, "{}", render_table(&rows).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Print a loss report, one item a line, and return (lost, changed).
fn print_losses(path: &str, losses: &[lexicon::convert::Loss]) -> (usize, usize) {
    use lexicon::convert::LossKind;
    for l in losses {
        eprintln!("{}", l.render(path));
    }
    let lost = losses.iter().filter(|l| l.kind == LossKind::Lost).count();
    (lost, losses.len() - lost)
}

fn lexicon_check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let tk = tokenizer(a.file.tokenizer.as_ref())?;
    match lexicon::load(a.file.file.as_deref(), &tk) {
        Ok(loaded) => {
            print_warnings(&loaded.warnings);
            let (lost, changed) = print_losses(&loaded.path, &loaded.losses);
            let themes = Matcher::new(&loaded.lexicon).themes().len();
            let terms: usize = loaded.lexicon.themes.iter().map(|t| t.terms.len()).sum();
            let report = if loaded.losses.is_empty() {
                String::new()
            } else {
                format!(", {lost} lost, {changed} changed")
            };
            if a.strict && lost > 0 {
                eprintln!("{}: {lost} item(s) lost on import (--strict)", loaded.path);
                return Ok(ExitCode::from(1));
            }
            println!(
                "{}: ok: {} theme(s), {} term(s), {} warning(s){report}",
                loaded.path,
                themes,
                terms,
                loaded.warnings.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(thematic::Error::Lexicon { path, diagnostics }) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            eprintln!(
                "{path}: {errors} error(s), {} warning(s)",
                diagnostics.len() - errors
            );
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).context("cannot check the lexicon"),
    }
}

fn lexicon_convert(a: ConvertArgs) -> anyhow::Result<ExitCode> {
    use lexicon::convert::{self, Format};
    let tk = tokenizer(a.tokenizer.as_ref())?;
    let to_stdout = a.output.as_os_str() == "-";
    let format = match (&a.to, to_stdout) {
        (Some(name), _) => Format::from_name(name),
        (None, true) => {
            return Err(
                thematic::Error::Usage("writing to stdout (`-`) needs --to FORMAT".into()).into(),
            );
        }
        (None, false) => Format::from_path(&a.output),
    };
    let Some(format) = format else {
        return Err(thematic::Error::Usage(format!(
            "cannot tell the output format from `{}`: use --to toml|dic|dicx|yaml|cat",
            a.output.display()
        ))
        .into());
    };
    let loaded = match lexicon::load(Some(&a.input), &tk) {
        Ok(l) => l,
        Err(thematic::Error::Lexicon { path, diagnostics }) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            eprintln!("{path}: cannot convert a lexicon with errors");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).context("cannot convert the lexicon"),
    };
    print_warnings(&loaded.warnings);
    let (lost_in, changed_in) = print_losses(&loaded.path, &loaded.losses);
    let written = convert::write(&loaded.lexicon, format, &tk);
    let out_name = if to_stdout {
        "<stdout>".to_string()
    } else {
        a.output.display().to_string()
    };
    let (lost_out, changed_out) = print_losses(&out_name, &written.losses);
    let lost = lost_in + lost_out;
    let changed = changed_in + changed_out;
    if a.strict && lost > 0 {
        eprintln!(
            "{lost} item(s) lost converting {} to {} (--strict): nothing written",
            loaded.path,
            format.describe()
        );
        return Ok(ExitCode::from(1));
    }
    if to_stdout {
        std::io::stdout()
            .lock()
            .write_all(written.text.as_bytes())?;
    } else {
        std::fs::write(&a.output, written.text.as_bytes())
            .with_context(|| format!("cannot write {}", a.output.display()))?;
    }
    eprintln!(
        "{} ({}) -> {out_name} ({}): {lost} lost, {changed} changed",
        loaded.path,
        loaded.format.describe(),
        format.describe()
    );
    Ok(ExitCode::SUCCESS)
}

fn lexicon_show(a: LexiconFileArgs) -> anyhow::Result<ExitCode> {
    let tk = tokenizer(a.tokenizer.as_ref())?;
    let loaded = lexicon::load(a.file.as_deref(), &tk)?;
    print_warnings(&loaded.warnings);
    let lex = &loaded.lexicon;
    let matcher = Matcher::new(lex);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {} ({} semantics)",
        lex.name,
        lex.version.as_deref().unwrap_or(""),
        lex.semantics.as_str()
    )?;
    for theme in matcher.themes() {
        let indent = "  ".repeat(theme.depth);
        let label = theme
            .label
            .as_deref()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        writeln!(out, "{indent}{}{label}", theme.id)?;
        let Some(src) = lex.themes.iter().find(|t| t.id == theme.id) else {
            continue;
        };
        for (list, what) in [(&src.terms, "term"), (&src.exclude, "exclude")] {
            for term in list {
                let toks: Vec<String> = term.pattern.iter().map(|p| format!("[{p}]")).collect();
                let weight = if term.weight == 1.0 {
                    String::new()
                } else {
                    format!("  ×{}", term.weight)
                };
                writeln!(
                    out,
                    "{indent}  {what:<7} {:<28} {}{weight}",
                    term.text,
                    toks.join(" ")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn agree(a: AgreeArgs) -> anyhow::Result<ExitCode> {
    let flags_given =
        !a.text.is_empty() || a.id.is_some() || !a.group.is_empty() || a.question.is_some();
    let opts = thematic::agree::AgreeOptions {
        auto: a.auto,
        human: a.human,
        units: a.units,
        key: a.key,
        human_key: a.human_key,
        coder_column: a.coder,
        data: a.data.iter().map(|s| Input::from_arg(s)).collect(),
        data_columns: flags_given.then_some(ColumnSpec {
            text: a.text,
            id: a.id,
            groups: a.group,
            question: a.question,
        }),
        lexicon: a.lexicon,
        out_dir: a.out,
        resamples: a.resamples,
        seed: a.seed,
        ..thematic::agree::AgreeOptions::default()
    };
    let report = thematic::agree::run(&opts)?;
    if !a.quiet {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report.summary.trim_end())?;
        writeln!(out, "Tables in {}", opts.out_dir.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
