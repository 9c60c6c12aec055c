//! `thematic agree` on the fixtures, through the real binary: the counts
//! of every per-theme row add up to the matched units, and every
//! disagreement row is traceable to its response.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn thematic(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_thematic"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "thematic {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A CSV file as rows of named fields.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = `{}` is not a count", row[col]))
}

/// Code the fixtures, then compare with the human codes.
fn run_fixtures(dir: &Path) -> (PathBuf, std::process::Output) {
    let coded = dir.join("coded");
    let agree = dir.join("agree");
    let responses = fixture("responses.csv");
    thematic(&[
        "code",
        responses.to_str().unwrap(),
        "--id",
        "participant_id",
        "--group",
        "group",
        "--question",
        "question",
        "--quiet",
        "-o",
        coded.to_str().unwrap(),
    ]);
    let out = thematic(&[
        "agree",
        "--auto",
        coded.join("responses.csv").to_str().unwrap(),
        "--human",
        fixture("human_codes.csv").to_str().unwrap(),
        "--units",
        fixture("human_coded_units.csv").to_str().unwrap(),
        "--human-key",
        "participant_id,question",
        "--data",
        responses.to_str().unwrap(),
        "--resamples",
        "200",
        "-o",
        agree.to_str().unwrap(),
    ]);
    (agree, out)
}

#[test]
fn fixtures_add_up_and_trace_back() {
    let dir = tempfile::tempdir().unwrap();
    let (agree, out) = run_fixtures(dir.path());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("overall (micro)"), "{stdout}");

    // The units: all 48 listed units have a non-empty answer.
    let units: BTreeSet<(String, String)> = read_csv(&fixture("human_coded_units.csv"))
        .into_iter()
        .map(|r| (r["participant_id"].clone(), r["question"].clone()))
        .collect();
    assert_eq!(units.len(), 48);

    let agreement = read_csv(&agree.join("agreement.csv"));
    let themes: Vec<_> = agreement.iter().filter(|r| r["level"] == "theme").collect();
    assert!(themes.len() >= 10, "{} theme rows", themes.len());
    let human_themes: BTreeSet<String> = read_csv(&fixture("human_codes.csv"))
        .into_iter()
        .map(|r| r["theme"].clone())
        .collect();
    let compared: BTreeSet<String> = themes.iter().map(|r| r["theme"].clone()).collect();
    assert_eq!(compared, human_themes, "every human theme is compared");
    for r in &themes {
        let n = num(r, "n");
        let sum = num(r, "both") + num(r, "auto_only") + num(r, "human_only") + num(r, "neither");
        assert_eq!(sum, n, "theme {}", r["theme"]);
        assert_eq!(n, units.len() as u64, "theme {}", r["theme"]);
        let kappa: f64 = r["kappa"].parse().unwrap();
        assert!((-1.0..=1.0).contains(&kappa));
        let (lo, hi): (f64, f64) = (
            r["kappa_lo"].parse().unwrap(),
            r["kappa_hi"].parse().unwrap(),
        );
        assert!(lo <= hi);
    }
    let micro = agreement.iter().find(|r| r["level"] == "micro").unwrap();
    let cells: u64 = ["both", "auto_only", "human_only", "neither"]
        .iter()
        .map(|c| num(micro, c))
        .sum();
    assert_eq!(cells, num(micro, "n"));
    assert_eq!(num(micro, "n"), units.len() as u64 * themes.len() as u64);
    assert!(agreement.iter().any(|r| r["level"] == "macro"));

    // Disagreements: the count matches the table, every key is in both
    // inputs, and the text is the original answer.
    let answers: HashMap<(String, String), String> = read_csv(&fixture("responses.csv"))
        .into_iter()
        .map(|r| {
            (
                (r["participant_id"].clone(), r["question"].clone()),
                r["response"].clone(),
            )
        })
        .collect();
    let auto_rows: HashMap<String, HashMap<String, String>> =
        read_csv(&dir.path().join("coded").join("responses.csv"))
            .into_iter()
            .map(|r| (r["row"].clone(), r))
            .collect();
    let dis = read_csv(&agree.join("disagreements.csv"));
    let errors: u64 = themes
        .iter()
        .map(|r| num(r, "auto_only") + num(r, "human_only"))
        .sum();
    assert_eq!(dis.len() as u64, errors);
    assert!(!dis.is_empty());
    for d in &dis {
        let key = (d["id"].clone(), d["question"].clone());
        assert!(units.contains(&key), "{key:?} is not a human-coded unit");
        assert_eq!(d["text"], answers[&key], "{key:?}");
        let auto = &auto_rows[&d["row"]];
        assert_eq!((&auto["id"], &auto["question"]), (&key.0, &key.1));
        match d["error"].as_str() {
            "false_positive" => assert!(!d["entries"].is_empty(), "{d:?}"),
            "false_negative" => assert!(d["entries"].is_empty(), "{d:?}"),
            e => panic!("error kind {e}"),
        }
    }

    // Entry errors: the false positives per theme add up.
    let entries = read_csv(&agree.join("entry_errors.csv"));
    for r in &themes {
        let fp_units = num(r, "auto_only");
        let by_entry: u64 = entries
            .iter()
            .filter(|e| e["theme"] == r["theme"])
            .map(|e| num(e, "false_positives"))
            .sum();
        assert!(by_entry >= fp_units, "theme {}", r["theme"]);
    }

    // Nothing is dropped silently: themes of the lexicon without human
    // codes are listed as not compared.
    let issues = read_csv(&agree.join("issues.csv"));
    assert!(
        issues
            .iter()
            .any(|i| i["kind"] == "not_compared" && i["theme"] == "norms")
    );
}

#[test]
fn same_output_every_run() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (x, _) = run_fixtures(a.path());
    let (y, _) = run_fixtures(b.path());
    for f in ["agreement.csv", "disagreements.csv", "entry_errors.csv"] {
        assert_eq!(
            std::fs::read(x.join(f)).unwrap(),
            std::fs::read(y.join(f)).unwrap(),
            "{f}"
        );
    }
}
