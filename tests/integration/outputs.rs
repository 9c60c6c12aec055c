//! Researcher outputs of `thematic code`: KWIC, statistics, masking,
//! Excel-friendly CSVs and the workbook, read back as data.

use std::collections::{BTreeMap, HashMap};

use calamine::{Data, Reader, Xlsx, open_workbook};

use crate::util::{Dir, Table, fixture, num};

fn run(dir: &Dir, out: &str, extra: &[&str]) {
    dir.code_fixtures(out, extra);
}

/// (participant, question) → answer text, straight from the fixture.
fn answers() -> HashMap<(String, String), String> {
    let mut r = csv::Reader::from_path(fixture("responses.csv")).unwrap();
    r.records()
        .map(|r| {
            let r = r.unwrap();
            ((r[0].to_string(), r[4].to_string()), r[5].to_string())
        })
        .collect()
}

#[test]
fn kwic_reconciles_with_the_tables_and_the_answers() {
    let dir = Dir::new();
    run(&dir, "out", &["--kwic", "--leaves-only"]);
    let kwic = Table::read(dir.path().join("out/matches.csv"));
    let texts = answers();
    // (group, question, theme) → (hits, negated) counted from matches.csv.
    let mut counted: BTreeMap<(String, String, String), (f64, f64)> = BTreeMap::new();
    for m in kwic.maps() {
        let text = &texts[&(m["id"].to_string(), m["question"].to_string())];
        let (s, e) = (num(m["start"]) as usize, num(m["end"]) as usize);
        assert_eq!(&text[s..e], m["matched"], "{m:?}");
        assert!(text[..s].ends_with(m["left"]), "{m:?}");
        assert!(text[e..].starts_with(m["right"]), "{m:?}");
        let c = counted
            .entry((
                m["group"].to_string(),
                m["question"].to_string(),
                m["theme"].to_string(),
            ))
            .or_default();
        match m["negated"] {
            "true" => c.1 += 1.0,
            "false" => c.0 += 1.0,
            other => panic!("negated = {other}"),
        }
    }
    assert!(
        counted.values().any(|c| c.1 > 0.0),
        "the fixtures have negated matches"
    );
    let long = Table::read(dir.path().join("out/themes_by_group.csv"));
    for r in long.maps() {
        if r["group"] == "All" || r["question"] == "All" {
            continue;
        }
        let key = (
            r["group"].to_string(),
            r["question"].to_string(),
            r["theme"].to_string(),
        );
        let (hits, negated) = counted.get(&key).copied().unwrap_or_default();
        assert_eq!(num(r["hits"]), hits, "{key:?}");
        assert_eq!(num(r["negated_hits"]), negated, "{key:?}");
    }
}

/// Pearson chi-square of a 2 × k presence table, written here from the
/// textbook formula, independently of src/stats.rs.
fn chi_square(present: &[f64], total: &[f64]) -> f64 {
    let n: f64 = total.iter().sum();
    let p: f64 = present.iter().sum();
    let mut chi2 = 0.0;
    for (&a, &t) in present.iter().zip(total) {
        for (obs, row) in [(a, p), (t - a, n - p)] {
            let exp = row * t / n;
            chi2 += (obs - exp) * (obs - exp) / exp;
        }
    }
    chi2
}

/// Per group level: answers with the theme, answers.
type PresenceTable = (Vec<f64>, Vec<f64>);

#[test]
fn stats_agree_with_their_own_tables() {
    let dir = Dir::new();
    run(&dir, "out", &[]);
    let stats = Table::read(dir.path().join("out/stats.csv"));
    let resid = Table::read(dir.path().join("out/stats_residuals.csv"));
    let mut tables: BTreeMap<(String, String, String), PresenceTable> = BTreeMap::new();
    for r in resid.maps() {
        let t = tables
            .entry((
                r["question"].to_string(),
                r["unit"].to_string(),
                r["theme"].to_string(),
            ))
            .or_default();
        t.0.push(num(r["with_theme"]));
        t.1.push(num(r["total"]));
    }
    let mut tested = 0;
    for r in stats.maps() {
        assert_eq!(r["group_column"], "group");
        let key = (
            r["question"].to_string(),
            r["unit"].to_string(),
            r["theme"].to_string(),
        );
        let (present, total) = &tables[&key];
        assert_eq!(present.len(), 4, "four recovery groups");
        if r["test"].starts_with("none") {
            assert_eq!(r["p"], "1");
            assert_eq!(r["p_holm"], "");
            continue;
        }
        let chi2 = chi_square(present, total);
        assert!(
            (num(r["chi2"]) - chi2).abs() < 1e-9 * chi2.max(1.0),
            "{key:?}"
        );
        assert_eq!(r["df"], "3");
        let p = num(r["p"]);
        assert!((0.0..=1.0).contains(&p));
        assert!(num(r["p_holm"]) >= p - 1e-15 && num(r["p_bh"]) >= p - 1e-15);
        // The exact test is used exactly when an expected count is below 5.
        let exact = num(r["expected_min"]) < 5.0;
        assert_eq!(r["test"] == "freeman-halton", exact, "{key:?}");
        if exact {
            assert_eq!(r["p"], r["p_exact"]);
        } else {
            assert_eq!(r["p"], r["p_pearson"]);
        }
        let v = num(r["cramers_v"]);
        assert!((v - (chi2 / total.iter().sum::<f64>()).sqrt()).abs() < 1e-9);
        tested += 1;
    }
    assert!(tested > 20);
    // Respondent-level rows exist because an id column was given.
    assert!(stats.maps().iter().any(|r| r["unit"] == "respondents"));
    // Term influence is reported for response-level tests.
    assert!(
        stats
            .maps()
            .iter()
            .any(|r| r["unit"] == "responses" && !r["largest_entry"].is_empty())
    );
}

#[test]
fn min_cell_masks_every_small_count() {
    let dir = Dir::new();
    let input = fixture("responses.csv");
    let summary = dir.ok(&[
        "code",
        input.to_str().unwrap(),
        "--id",
        "participant_id",
        "--group",
        "group",
        "--question",
        "question",
        "--out",
        "out",
        "--min-cell",
        "5",
        "--xlsx",
    ]);
    // The summary masks too: `<5` cells, and no `n (p%)` with n below 5.
    assert!(summary.contains("<5"), "{summary}");
    for cell in summary.split("  ").filter(|c| c.contains(" (")) {
        if let Some(n) = cell
            .trim()
            .split(' ')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        {
            assert!(n >= 5, "{cell} in\n{summary}");
        }
    }
    let long = Table::read(dir.path().join("out/themes_by_group.csv"));
    let counts = [
        "responses",
        "responses_with_theme",
        "respondents",
        "respondents_with_theme",
        "hits",
        "negated_hits",
    ];
    let mut masked_any = false;
    for r in long.maps() {
        let masked: Vec<&str> = r["masked"].split(';').filter(|s| !s.is_empty()).collect();
        for c in counts {
            if masked.contains(&c) {
                assert_eq!(r[c], "", "{c} in {r:?}");
                masked_any = true;
            } else {
                assert!(num(r[c]) >= 5.0, "{c} = {} unmasked in {r:?}", r[c]);
            }
        }
        if masked.contains(&"responses_with_theme") {
            assert_eq!(r["pct_responses"], "");
        }
        if masked.contains(&"hits") {
            assert_eq!(r["score"], "");
            assert_eq!(r["hits_per_1000_tokens"], "");
        }
    }
    assert!(masked_any);
    let terms = Table::read(dir.path().join("out/terms_by_group.csv"));
    for r in terms.maps() {
        for c in ["hits", "responses"] {
            assert!(r[c].is_empty() || num(r[c]) >= 5.0, "{r:?}");
        }
    }
    let m: serde_json::Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    assert_eq!(m["options"]["min_cell"], 5);
    // The workbook shows `<5` where the CSV is masked.
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("out/report.xlsx")).unwrap();
    let range = wb.worksheet_range("themes_by_group").unwrap();
    let cells: Vec<&Data> = range.used_cells().map(|(_, _, c)| c).collect();
    assert!(cells.iter().any(|c| **c == Data::String("<5".into())));
}

#[test]
fn excel_csv_adds_a_bom_and_defuses_formulas() {
    let dir = Dir::new();
    dir.create(
        "in.csv",
        "g,text\n=cmd(),I stayed sober\n+x,-sober days\n@y,=1+2\n",
    );
    dir.ok(&[
        "code",
        "in.csv",
        "--group",
        "g",
        "--out",
        "xl",
        "--quiet",
        "--excel-csv",
        "--kwic",
    ]);
    dir.ok(&[
        "code", "in.csv", "--group", "g", "--out", "plain", "--quiet", "--kwic",
    ]);
    let xl = std::fs::read(dir.path().join("xl/themes_by_group.csv")).unwrap();
    assert!(xl.starts_with("\u{feff}".as_bytes()));
    let plain = std::fs::read(dir.path().join("plain/responses.csv")).unwrap();
    assert!(!plain.starts_with("\u{feff}".as_bytes()));
    let strip = |name: &str| {
        let text = dir.read(name);
        let text = text.trim_start_matches('\u{feff}').to_string();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        r.records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let rows = strip("xl/responses.csv");
    assert_eq!(rows[0][2], "'=cmd()");
    assert_eq!(rows[1][2], "'+x");
    let rows = strip("plain/responses.csv");
    assert_eq!(rows[0][2], "=cmd()");
    let kwic = strip("xl/matches.csv");
    assert_eq!(kwic[1][2], "'+x");
    let uncoded = strip("xl/uncoded.csv");
    assert_eq!(uncoded[0][2..], ["'@y", "text", "'=1+2"]);
}

#[test]
fn xlsx_report_opens_with_every_table() {
    let dir = Dir::new();
    run(&dir, "out", &["--xlsx", "--kwic"]);
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("out/report.xlsx")).unwrap();
    let names = wb.sheet_names();
    for want in [
        "themes_by_group",
        "themes_by_group_wide",
        "stats",
        "stats_residuals",
        "terms_by_group",
        "responses",
        "uncoded",
        "skipped",
        "matches",
        "Chart",
        "About",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "no sheet {want} in {names:?}"
        );
    }
    let long = Table::read(dir.path().join("out/themes_by_group.csv"));
    let range = wb.worksheet_range("themes_by_group").unwrap();
    let header: Vec<String> = (0..long.header.len())
        .map(|c| range.get((0, c)).unwrap().to_string())
        .collect();
    assert_eq!(header, long.header);
    // Counts are numbers, ids and groups text.
    let hits = long.col("hits");
    assert_eq!(
        range.get((1, hits)),
        Some(&Data::Float(num(&long.rows[0][hits])))
    );
    assert!(matches!(range.get((1, 0)), Some(Data::String(_))));
    let m: serde_json::Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    assert!(
        m["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["file"] == "report.xlsx")
    );
}
