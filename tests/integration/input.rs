//! Real-world inputs: spreadsheets, survey exports, encodings, filters and
//! hostile files. One test per input kind, each on a small fixture in
//! `tests/data/input/` (or one written here), asserting the coded counts
//! and that the manifest's row accounting holds:
//! read = coded + empty + skipped + filtered (per text column).

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{Dir, Table, num, root};

fn data(name: &str) -> String {
    root()
        .join("tests/data/input")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Run `thematic code` with the mini lexicon into `out/`; the manifest.
fn code(dir: &Dir, args: &[&str]) -> Value {
    let lex = data("mini.toml");
    let mut all = vec!["code", "--lexicon", &lex, "--out", "out", "--quiet"];
    all.extend_from_slice(args);
    dir.ok(&all);
    let m: Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    check_accounting(&m);
    m
}

/// read = coded + empty + skipped + filtered, per text column; and per
/// input the rows read are the rows handed out plus skipped plus filtered.
fn check_accounting(m: &Value) {
    let a = &m["accounting"];
    let g = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("no {k} in {a}"));
    let k = g("text_columns");
    assert_eq!(
        g("rows_read") * k,
        g("responses_coded") + g("responses_empty") + (g("rows_skipped") + g("rows_filtered")) * k,
        "accounting does not add up: {a}"
    );
    let inputs = m["inputs"].as_array().unwrap();
    let sum = |f: &str| inputs.iter().map(|i| i[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("rows_read"), g("rows_read"));
    assert_eq!(sum("rows_skipped"), g("rows_skipped"));
    assert_eq!(sum("rows_filtered"), g("rows_filtered"));
    for i in inputs {
        let per_filter: u64 = i["filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["removed"].as_u64().unwrap())
            .sum();
        assert_eq!(per_filter, i["rows_filtered"].as_u64().unwrap());
    }
}

fn acc(m: &Value, k: &str) -> u64 {
    m["accounting"][k].as_u64().unwrap()
}

/// (responses, responses_with_theme, hits) of `theme` for `question`,
/// pooled over groups.
fn theme(dir: &Dir, question: &str, theme: &str) -> (u64, u64, u64) {
    let t = Table::read(dir.path().join("out/themes_by_group.csv"));
    let q = t.col("question");
    let r = t
        .rows
        .iter()
        .find(|r| r[q] == question && r[q + 1] == theme && r[..q].iter().all(|g| g == "All"))
        .unwrap_or_else(|| panic!("no row for {question} / {theme} in {:?}", t.rows));
    let r: std::collections::HashMap<&str, &str> = t
        .header
        .iter()
        .map(String::as_str)
        .zip(r.iter().map(String::as_str))
        .collect();
    let n = |c: &str| num(r[c]) as u64;
    (n("responses"), n("responses_with_theme"), n("hits"))
}

/// The plain 4-row answers (3 coded, 1 empty): sponsor/meetings/meeting
/// for support, sober/café+sober for sober.
fn assert_plain_answers(dir: &Dir, m: &Value, question: &str) {
    assert_eq!(acc(m, "rows_read"), 4);
    assert_eq!(acc(m, "responses_coded"), 3);
    assert_eq!(acc(m, "responses_empty"), 1);
    assert_eq!(theme(dir, question, "support"), (3, 3, 3));
    assert_eq!(theme(dir, question, "sober"), (3, 2, 3));
}

fn write_xlsx(path: PathBuf, title: bool) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Answers").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let first = if title {
        ws.write(0, 0, "Recovery survey, exported 2024-03-02")
            .unwrap();
        2
    } else {
        0
    };
    for (c, h) in ["id", "group", "text", "Finished", "date"]
        .iter()
        .enumerate()
    {
        ws.write(first, c as u16, *h).unwrap();
    }
    let rows: [(f64, &str, &str, f64); 5] = [
        (1.0, "AA", "My sponsor keeps me sober", 1.0),
        (2.0, "NA", "Meetings every day", 1.0),
        (3.0, "AA", "Café after the meeting, still sober", 1.0),
        (4.0, "NA", "", 1.0),
        (5.0, "NA", "sober", 0.0),
    ];
    for (i, (id, g, t, fin)) in rows.iter().enumerate() {
        let r = first + 1 + i as u32;
        ws.write(r, 0, *id).unwrap();
        ws.write(r, 1, *g).unwrap();
        if !t.is_empty() {
            ws.write(r, 2, *t).unwrap();
        }
        ws.write(r, 3, *fin).unwrap();
        let d = ExcelDateTime::from_ymd(2024, 3, 1 + i as u8).unwrap();
        ws.write_with_format(r, 4, &d, &date).unwrap();
    }
    let notes = wb.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write(0, 0, "nothing to code here").unwrap();
    wb.save(path).unwrap();
}

#[test]
fn xlsx_with_title_rows_filter_and_sheet_choice() {
    let dir = Dir::new();
    write_xlsx(dir.path().join("answers.xlsx"), true);
    let m = code(
        &dir,
        &[
            "answers.xlsx",
            "--group",
            "group",
            "--id",
            "id",
            "--filter",
            "Finished=1",
        ],
    );
    assert_eq!(acc(&m, "rows_read"), 5);
    assert_eq!(acc(&m, "rows_filtered"), 1);
    assert_eq!(acc(&m, "responses_coded"), 3);
    assert_eq!(acc(&m, "responses_empty"), 1);
    assert_eq!(theme(&dir, "text", "support"), (3, 3, 3));
    assert_eq!(theme(&dir, "text", "sober"), (3, 2, 3));
    let input = &m["inputs"][0];
    assert_eq!(input["format"], "xlsx");
    assert_eq!(input["sheet"], "Answers");
    assert_eq!(input["header_line"], 3);
    assert_eq!(input["filters"][0]["removed"], 1);
    // Numbers without `.0`, lines are sheet rows.
    let r = Table::read(dir.path().join("out/responses.csv"));
    assert_eq!(r.rows[0][r.col("id")], "1");
    // The sheet by position (1-based) and by name; a missing one is an error.
    code(
        &dir,
        &["answers.xlsx", "--sheet", "1", "--filter", "Finished=1"],
    );
    let out = dir.fails(&["code", "answers.xlsx", "--sheet", "3", "--out", "o2"], 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: answers.xlsx: has no sheet 3: it has 2 sheet(s): `Answers`, `Notes`\n"
    );
}

#[test]
fn xlsx_dates_are_iso_text() {
    let dir = Dir::new();
    write_xlsx(dir.path().join("answers.xlsx"), false);
    let m = code(&dir, &["answers.xlsx", "--group", "date"]);
    assert_eq!(acc(&m, "responses_coded"), 4);
    let r = Table::read(dir.path().join("out/responses.csv"));
    assert_eq!(r.rows[0][r.col("date")], "2024-03-01");
    assert_eq!(m["inputs"][0]["header_line"], 1);
}

#[test]
fn xlsx_on_stdin_is_buffered() {
    let dir = Dir::new();
    let path = dir.path().join("answers.xlsx");
    write_xlsx(path.clone(), false);
    let lex = data("mini.toml");
    let out = dir
        .cmd()
        .args(["code", "-", "--lexicon", &lex, "--out", "out", "--quiet"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    check_accounting(&m);
    assert_eq!(m["inputs"][0]["format"], "xlsx");
    assert_eq!(m["inputs"][0]["path"], "<stdin>");
    assert_eq!(acc(&m, "rows_read"), 5);
    assert_eq!(acc(&m, "responses_coded"), 4);
}

#[test]
fn xls_second_sheet() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("answers.xls"), "--sheet", "Answers"]);
    assert_plain_answers(&dir, &m, "text");
    assert_eq!(m["inputs"][0]["format"], "xls");
    let r = Table::read(dir.path().join("out/responses.csv"));
    let ids: Vec<&str> = r.rows.iter().map(|x| x[r.col("row")].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
}

#[test]
fn ods_with_a_title_row() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("answers.ods"), "--id", "id"]);
    assert_plain_answers(&dir, &m, "text");
    assert_eq!(m["inputs"][0]["format"], "ods");
    assert_eq!(m["inputs"][0]["header_line"], 3);
    let r = Table::read(dir.path().join("out/responses.csv"));
    assert_eq!(r.rows[0][r.col("id")], "1");
}

#[test]
fn qualtrics_export_with_filters() {
    let dir = Dir::new();
    let m = code(
        &dir,
        &[
            &data("qualtrics.csv"),
            "--text",
            "Q1",
            "--text",
            "Q2",
            "--id",
            "ResponseId",
            "--filter",
            "Finished=1",
            "--filter",
            "DistributionChannel!=preview",
        ],
    );
    assert_eq!(acc(&m, "rows_read"), 5);
    assert_eq!(acc(&m, "rows_filtered"), 2);
    assert_eq!(acc(&m, "responses_coded"), 4);
    assert_eq!(acc(&m, "responses_empty"), 2);
    let input = &m["inputs"][0];
    assert_eq!(input["header_format"], "qualtrics");
    assert_eq!(input["extra_header_rows"], 2);
    assert_eq!(input["filters"][0]["column"], "Finished");
    assert_eq!(input["filters"][0]["removed"], 1);
    assert_eq!(input["filters"][1]["removed"], 1);
    // Question texts label the questions; the manifest keeps the ids.
    let q1 = "What keeps you in recovery?";
    let q2 = "Describe your group's meetings";
    assert_eq!(m["questions"][0]["column"], "Q1");
    assert_eq!(m["questions"][0]["label"], q1);
    assert_eq!(theme(&dir, q1, "support"), (2, 1, 1));
    assert_eq!(theme(&dir, q1, "sober"), (2, 2, 2));
    assert_eq!(theme(&dir, q2, "support"), (2, 2, 3));
}

#[test]
fn qualtrics_legacy_export() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("qualtrics_legacy.csv"), "--text", "Q1"]);
    assert_eq!(m["inputs"][0]["header_format"], "qualtrics-legacy");
    assert_eq!(acc(&m, "rows_read"), 3);
    assert_eq!(acc(&m, "responses_coded"), 2);
    assert_eq!(acc(&m, "responses_empty"), 1);
    let q = "What keeps you in recovery?";
    assert_eq!(theme(&dir, q, "support"), (2, 1, 1));
    assert_eq!(theme(&dir, q, "sober"), (2, 1, 1));
}

#[test]
fn surveymonkey_export() {
    let dir = Dir::new();
    let q = "What keeps you in recovery?";
    let m = code(
        &dir,
        &[
            &data("surveymonkey.csv"),
            "--text",
            q,
            "--group",
            "Which group do you attend?",
        ],
    );
    assert_eq!(m["inputs"][0]["header_format"], "surveymonkey");
    assert_eq!(acc(&m, "rows_read"), 3);
    assert_eq!(acc(&m, "responses_coded"), 2);
    assert_eq!(acc(&m, "responses_empty"), 1);
    assert_eq!(theme(&dir, q, "support"), (2, 2, 2));
    // The "Other" column of the multi-column question is named after both rows.
    let dir = Dir::new();
    code(
        &dir,
        &[
            &data("surveymonkey.csv"),
            "--text",
            q,
            "--group",
            "Which group do you attend? - Other (please specify)",
        ],
    );
}

#[test]
fn header_rows_by_hand() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("two_header_rows.csv"), "--header-rows", "2"]);
    assert_eq!(m["inputs"][0]["extra_header_rows"], 1);
    assert_plain_answers(&dir, &m, "text");
}

#[test]
fn utf8_with_bom() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("utf8_bom.csv"), "--id", "id"]);
    assert_plain_answers(&dir, &m, "text");
    assert_eq!(m["inputs"][0]["encoding"], "UTF-8");
}

#[test]
fn utf16_with_bom() {
    let dir = Dir::new();
    let m = code(&dir, &[&data("utf16le_bom.csv"), "--id", "id"]);
    assert_plain_answers(&dir, &m, "text");
    assert_eq!(m["inputs"][0]["encoding"], "UTF-16LE");
}

#[test]
fn windows_1252_by_flag() {
    let dir = Dir::new();
    let m = code(
        &dir,
        &[&data("windows1252.csv"), "--encoding", "windows-1252"],
    );
    assert_plain_answers(&dir, &m, "text");
    assert_eq!(m["inputs"][0]["encoding"], "windows-1252");
    assert_eq!(m["inputs"][0]["invalid_utf8_fields"], 0);
}

#[test]
fn invalid_utf8_is_replaced_counted_and_warned_once() {
    let dir = Dir::new();
    let lex = data("mini.toml");
    let input = data("invalid_utf8.csv");
    let out = dir
        .cmd()
        .args(["code", &input, "--lexicon", &lex, "--out", "out", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("warning: {input}: invalid UTF-8 replaced in 1 field(s), first on line 4\n")
    );
    let m: Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    check_accounting(&m);
    assert_eq!(m["inputs"][0]["invalid_utf8_fields"], 1);
    assert_eq!(m["inputs"][0]["first_invalid_utf8_line"], 4);
    // `Caf\xe9` is no longer `café`: one sober hit fewer than in UTF-8.
    assert_eq!(acc(&m, "responses_coded"), 3);
    assert_eq!(theme(&dir, "text", "sober"), (3, 2, 2));
}

#[test]
fn ragged_unterminated_and_nul_rows() {
    let dir = Dir::new();
    dir.create(
        "bad.csv",
        "id,text\n1,my sponsor\n2,too,many,fields\n3,a\0b sober\n4,\"never closed\n5,sober\n",
    );
    let m = code(&dir, &["bad.csv"]);
    assert_eq!(acc(&m, "rows_read"), 4);
    assert_eq!(acc(&m, "rows_skipped"), 2);
    assert_eq!(acc(&m, "responses_coded"), 2);
    assert_eq!(theme(&dir, "text", "sober"), (2, 1, 1));
    let s = Table::read(dir.path().join("out/skipped.csv"));
    assert_eq!(s.rows.len(), 2);
    assert_eq!(
        s.rows[0],
        [
            "bad.csv",
            "3",
            "expected 2 fields (as in the header), found 4"
        ]
    );
    assert_eq!(s.rows[1][1], "5");
    assert!(
        s.rows[1][2].starts_with("unterminated quoted field"),
        "{:?}",
        s.rows[1]
    );
}

#[test]
fn a_50_mb_cell_is_one_response() {
    let dir = Dir::new();
    let mut big = String::with_capacity(50 << 20);
    big.push_str("id,text\n1,\"");
    while big.len() < 50 << 20 {
        big.push_str("my sponsor said stay sober, \"\"one day\"\" at a time\n");
    }
    big.push_str("\"\n2,meetings\n");
    dir.create("big.csv", &big);
    let m = code(&dir, &["big.csv"]);
    assert_eq!(acc(&m, "rows_read"), 2);
    assert_eq!(acc(&m, "responses_coded"), 2);
    assert_eq!(theme(&dir, "text", "support").1, 2);
}

#[test]
fn header_only_empty_names_and_several_inputs() {
    let dir = Dir::new();
    dir.create("only.csv", "id,,text\n");
    dir.create("more.csv", "text,id,\nsober,1,x\n");
    let lex = data("mini.toml");
    let out = dir
        .cmd()
        .args([
            "code",
            "only.csv",
            "more.csv",
            "--lexicon",
            &lex,
            "--out",
            "out",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: only.csv:1: header column 2 has no name: called `column_2`\n\
         warning: only.csv: no data rows (only a header)\n\
         warning: more.csv:1: header column 3 has no name: called `column_3`\n"
    );
    let m: Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    check_accounting(&m);
    assert_eq!(acc(&m, "responses_coded"), 1);
}

#[test]
fn memory_inputs_through_the_library() {
    use thematic::ingest::{ColumnSpec, Filter, Input, ReadOptions, Reader};
    let input = Input::Memory {
        name: "mem.csv".into(),
        bytes: b"g,text\na,x\nb,y\na,z\nc,w\n".to_vec().into(),
    };
    let opts = ReadOptions {
        filters: vec![Filter::parse("g=a").unwrap(), Filter::parse("g=b").unwrap()],
        ..ReadOptions::default()
    };
    let mut r = Reader::new(vec![input], ColumnSpec::default(), opts).unwrap();
    let mut rows = 0;
    while let Some(b) = r.next_batch().unwrap() {
        rows += b.len();
    }
    let stats = r.finish();
    assert_eq!(rows, 3);
    assert_eq!(stats[0].rows_read, 4);
    assert_eq!(stats[0].rows_filtered, 1);
    assert_eq!(stats[0].filters[0].keep, ["a", "b"]);
}

/// Seeds for mutation: every small input fixture and golden-case input.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("tests/data/input"), root().join("tests/cmd")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if std::fs::metadata(&p).unwrap().len() < 1 << 16 {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out.sort();
    out
}

/// xorshift64*: a dependency-free, reproducible random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to CSV, encodings and survey detection.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b",",
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xe9",
    b"\xc3",
    b"\"\"",
    b"{\"ImportId\":\"x\"}",
    b"ResponseID",
    b"Response",
    b"text",
    b"PK\x03\x04",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len() + 1);
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                b.splice(at..at, ins.iter().copied());
            }
            2 if at < b.len() => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
            3 if at < b.len() => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                let chunk = b[at..end].to_vec();
                b.splice(at..at, chunk);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            5 => b.truncate(at),
            _ => b.insert(at, rng.next() as u8),
        }
    }
    b
}

/// Run the input mapping over mutated inputs for `secs` seconds.
fn fuzz_for(secs: u64, seed: u64) -> (u64, u64, u64) {
    let seeds = seeds();
    let mut rng = Rng(seed | 1);
    let start = std::time::Instant::now();
    let (mut runs, mut ok, mut rows) = (0u64, 0u64, 0u64);
    while start.elapsed().as_secs() < secs {
        let input = mutate(&mut rng, &seeds);
        if let Ok(p) = std::env::var("THEMATIC_FUZZ_SAVE") {
            std::fs::write(p, &input).unwrap();
        }
        let r = std::panic::catch_unwind(|| thematic::ingest::fuzz_mapping(&input));
        match r {
            Ok(Ok(n)) => {
                ok += 1;
                rows += n;
            }
            Ok(Err(_)) => {}
            Err(_) => {
                let path = std::env::temp_dir().join(format!("thematic-fuzz-crash-{runs}"));
                std::fs::write(&path, &input).unwrap();
                panic!("input mapping panicked; input saved to {}", path.display());
            }
        }
        runs += 1;
    }
    (runs, ok, rows)
}

/// A short run on every `cargo test`.
#[test]
fn fuzz_input_mapping_briefly() {
    let (runs, ok, _) = fuzz_for(2, 0x5eed);
    assert!(runs > 100 && ok > 0, "{runs} runs, {ok} mapped");
}

/// The long run (docs/FUZZING.md, "Input mapping"):
/// `THEMATIC_FUZZ_SECS=300 cargo test --release --test integration fuzz_input_mapping -- --ignored --nocapture`
#[test]
#[ignore]
fn fuzz_input_mapping() {
    let secs = std::env::var("THEMATIC_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let seed = std::env::var("THEMATIC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e57_ab1e);
    let (runs, ok, rows) = fuzz_for(secs, seed);
    println!(
        "input mapping: {runs} inputs in {secs} s, {ok} mapped without error, {rows} rows handed out, no panics"
    );
}
