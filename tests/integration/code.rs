//! `thematic code` end to end on the fixtures: outputs parsed back as data.

use std::collections::{BTreeMap, HashMap};

use crate::util::{Dir, Table, fixture, num};

/// Run the long layout of the fixtures into `out`.
fn run_long(dir: &Dir, out: &str, extra: &[&str]) -> String {
    dir.code_fixtures(out, extra)
}

fn manifest(dir: &Dir, out: &str) -> serde_json::Value {
    serde_json::from_str(&dir.read(&format!("{out}/manifest.json"))).unwrap()
}

#[test]
fn row_accounting_adds_up() {
    let dir = Dir::new();
    run_long(&dir, "out", &[]);
    let m = manifest(&dir, "out");
    let acc = &m["accounting"];
    let read = acc["rows_read"].as_u64().unwrap();
    let coded = acc["responses_coded"].as_u64().unwrap();
    let empty = acc["responses_empty"].as_u64().unwrap();
    let skipped = acc["rows_skipped"].as_u64().unwrap();
    assert_eq!(read, 176);
    assert_eq!(read, coded + empty + skipped);
    assert!(empty >= 1, "the fixtures have blank answers");
    // responses.csv has one row per coded answer; uncoded.csv a subset.
    let responses = Table::read(dir.path().join("out/responses.csv"));
    assert_eq!(responses.rows.len() as u64, coded);
    let uncoded = Table::read(dir.path().join("out/uncoded.csv"));
    assert_eq!(
        uncoded.rows.len() as u64,
        acc["responses_uncoded"].as_u64().unwrap()
    );
    // Every uncoded row has zero hits in responses.csv.
    let by_key: HashMap<(String, String), &Vec<String>> = responses
        .rows
        .iter()
        .map(|r| ((r[1].clone(), r[3].clone()), r))
        .collect();
    let first_theme = responses.col("coded_pct") + 1;
    for u in &uncoded.rows {
        let r = by_key[&(u[1].clone(), u[3].clone())];
        assert!(r[first_theme..].iter().all(|v| v == "0"), "{u:?} has hits");
    }
    // Input hash and output hashes are recorded.
    assert_eq!(m["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"themes_by_group.csv"));
}

#[test]
fn all_level_is_the_sum_of_groups_and_percentages_are_consistent() {
    let dir = Dir::new();
    run_long(&dir, "out", &[]);
    let t = Table::read(dir.path().join("out/themes_by_group.csv"));
    let rows = t.maps();
    // (question, theme) → (sum over groups, All row), for additive columns.
    let additive = [
        "responses",
        "responses_with_theme",
        "hits",
        "negated_hits",
        "tokens",
    ];
    let mut sums: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut alls: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in &rows {
        let key = (r["question"].to_string(), r["theme"].to_string());
        let vals: Vec<f64> = additive.iter().map(|c| num(r[c])).collect();
        if r["group"] == "All" {
            alls.insert(key, vals);
        } else {
            let s = sums.entry(key).or_insert_with(|| vec![0.0; additive.len()]);
            for (a, b) in s.iter_mut().zip(&vals) {
                *a += b;
            }
        }
        // pct_responses = 100 × responses_with_theme / responses, exactly as
        // the shortest round-trip form of that f64.
        let (n, k) = (num(r["responses"]), num(r["responses_with_theme"]));
        assert_eq!(num(r["pct_responses"]), 100.0 * k / n, "{r:?}");
        let (rn, rk) = (num(r["respondents"]), num(r["respondents_with_theme"]));
        assert_eq!(num(r["pct_respondents"]), 100.0 * rk / rn, "{r:?}");
        assert!(rk <= k && rn <= n);
        if num(r["tokens"]) > 0.0 {
            assert_eq!(
                num(r["hits_per_1000_tokens"]),
                1000.0 * num(r["hits"]) / num(r["tokens"])
            );
        }
        // Scores are sums of weights of hits.
        if num(r["hits"]) == 0.0 {
            assert_eq!(num(r["score"]), 0.0);
        }
    }
    assert_eq!(sums.len(), alls.len());
    assert!(!sums.is_empty());
    for (key, s) in &sums {
        assert_eq!(s, &alls[key], "{key:?}");
    }
    // The question has an All level too (several questions), and All × All
    // counts every coded answer.
    let m = manifest(&dir, "out");
    let coded = m["accounting"]["responses_coded"].as_f64().unwrap();
    let all_all = rows
        .iter()
        .find(|r| r["group"] == "All" && r["question"] == "All")
        .unwrap();
    assert_eq!(num(all_all["responses"]), coded);
    assert_eq!(num(all_all["respondents"]), 44.0);
}

#[test]
fn parents_roll_up_their_children() {
    let dir = Dir::new();
    run_long(&dir, "out", &[]);
    let t = Table::read(dir.path().join("out/themes_by_group.csv"));
    let rows = t.maps();
    let hits = |g: &str, q: &str, theme: &str| -> f64 {
        rows.iter()
            .find(|r| r["group"] == g && r["question"] == q && r["theme"] == theme)
            .map(|r| num(r["hits"]))
            .unwrap_or_else(|| panic!("no row {g} {q} {theme}"))
    };
    let themes: Vec<&str> = {
        let mut v: Vec<&str> = rows.iter().map(|r| r["theme"]).collect();
        v.dedup();
        v.sort();
        v.dedup();
        v
    };
    for parent in &themes {
        let children: Vec<&&str> = themes
            .iter()
            .filter(|t| {
                t.starts_with(parent)
                    && t.len() > parent.len()
                    && t.as_bytes()[parent.len()] == b'.'
                    && !t[parent.len() + 1..].contains('.')
            })
            .collect();
        if children.is_empty() {
            continue;
        }
        let own = hits("All", "All", parent)
            - children.iter().map(|c| hits("All", "All", c)).sum::<f64>();
        assert!(
            own >= 0.0,
            "{parent}: parent hits below the sum of its children"
        );
    }
    // --leaves-only drops parents.
    run_long(&dir, "leaves", &["--leaves-only"]);
    let t = Table::read(dir.path().join("leaves/themes_by_group.csv"));
    assert!(t.maps().iter().all(|r| r["theme"] != "objectives"));
    assert!(
        t.maps()
            .iter()
            .any(|r| r["theme"] == "objectives.abstinence")
    );
}

#[test]
fn wide_and_long_layouts_give_the_same_counts() {
    let dir = Dir::new();
    run_long(&dir, "long", &[]);
    let wide = fixture("responses_wide.csv");
    dir.ok(&[
        "code",
        wide.to_str().unwrap(),
        "--id",
        "participant_id",
        "--group",
        "group",
        "--text",
        "objectives",
        "--text",
        "behaviours",
        "--text",
        "triggers",
        "--text",
        "relapse_cost",
        "--out",
        "wide",
        "--quiet",
    ]);
    for file in [
        "themes_by_group.csv",
        "themes_by_group_wide.csv",
        "terms_by_group.csv",
    ] {
        let a = dir.read(&format!("long/{file}"));
        let b = dir.read(&format!("wide/{file}"));
        assert_eq!(a, b, "{file} differs between layouts");
    }
    let ma = manifest(&dir, "long");
    let mb = manifest(&dir, "wide");
    assert_eq!(
        ma["accounting"]["responses_coded"],
        mb["accounting"]["responses_coded"]
    );
    assert_eq!(
        ma["accounting"]["responses_empty"],
        mb["accounting"]["responses_empty"]
    );
    assert_eq!(mb["accounting"]["rows_read"].as_u64(), Some(44));
}

#[test]
fn outputs_are_byte_identical_for_any_thread_count() {
    let dir = Dir::new();
    // Small batches so several batches and chunks are in flight.
    run_long(&dir, "t1", &["--threads", "1"]);
    run_long(&dir, "t4", &["--threads", "4"]);
    for file in [
        "themes_by_group.csv",
        "themes_by_group_wide.csv",
        "responses.csv",
        "terms_by_group.csv",
        "uncoded.csv",
        "skipped.csv",
    ] {
        assert_eq!(
            dir.read(&format!("t1/{file}")),
            dir.read(&format!("t4/{file}")),
            "{file}"
        );
    }
}

/// Many small batches coded out of order by several threads: batches of
/// skipped rows only, a question first seen late (and by whichever worker),
/// respondents split over batches. Every output, `partial.json` included,
/// is the same for 1 and 3 threads and any batch size.
#[test]
fn reordered_batches_are_byte_identical() {
    let dir = Dir::new();
    let mut csv = String::from("id,group,question,response\n");
    for i in 0..3000 {
        if (1200..1330).contains(&i) {
            // Malformed: one field too many (skipped, with its line).
            csv.push_str(&format!("P{i},AA,q1,too,many\n"));
            continue;
        }
        let q = if i >= 2500 && i % 7 == 0 {
            "late"
        } else {
            ["q1", "q2"][i % 2]
        };
        let group = ["AA", "NA", "CA"][i % 3];
        let text = match i % 5 {
            0 => "My sponsor helps me stay sober.",
            1 => "I felt judged by society and ashamed.",
            2 => "",
            3 => "Meetings every day; service to others.",
            _ => "Nothing in the codebook here.",
        };
        csv.push_str(&format!("P{},{group},{q},{text}\n", i / 4));
    }
    dir.create("many.csv", csv);
    let run = |out: &str, threads: &str, batch: &str| {
        let extra = ["--kwic", "--threads", threads, "--batch-rows", batch];
        dir.code_long("many.csv", "id", out, &extra);
    };
    run("a", "1", "16384");
    run("b", "3", "50");
    run("c", "1", "37");
    run("d", "2", "1");
    for file in [
        "themes_by_group.csv",
        "themes_by_group_wide.csv",
        "responses.csv",
        "terms_by_group.csv",
        "stats.csv",
        "matches.csv",
        "uncoded.csv",
        "skipped.csv",
        "partial.json",
    ] {
        let a = dir.read(&format!("a/{file}"));
        for other in ["b", "c", "d"] {
            assert_eq!(a, dir.read(&format!("{other}/{file}")), "{other}/{file}");
        }
    }
    let skipped = Table::read(dir.path().join("a/skipped.csv"));
    assert_eq!(skipped.rows.len(), 130);
    let t = Table::read(dir.path().join("a/themes_by_group.csv"));
    let q = t.col("question");
    let mut order: Vec<&str> = Vec::new();
    for row in &t.rows {
        if !order.contains(&row[q].as_str()) {
            order.push(&row[q]);
        }
    }
    assert_eq!(
        order,
        ["q1", "q2", "late", "All"],
        "questions by first appearance"
    );
}

/// Several chunks in flight: the fixtures repeated into 6,000+ rows (the
/// workers code 2,048-row chunks), coded with 1 and 3 threads.
#[test]
fn many_chunks_are_byte_identical_for_any_thread_count() {
    let dir = Dir::new();
    let text = std::fs::read_to_string(fixture("responses.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for copy in 0..36 {
        for rec in &records {
            let mut rec = rec.clone();
            let id = format!("{}-{copy}", &rec[0]);
            let mut fields: Vec<String> = rec.iter().map(str::to_string).collect();
            fields[0] = id;
            rec = csv::StringRecord::from(fields);
            w.write_record(&rec).unwrap();
        }
    }
    dir.create("big.csv", w.into_inner().unwrap());
    dir.code_long(
        "big.csv",
        "participant_id",
        "t1",
        &["--kwic", "--threads", "1"],
    );
    dir.code_long(
        "big.csv",
        "participant_id",
        "t3",
        &["--kwic", "--threads", "3"],
    );
    for file in [
        "themes_by_group.csv",
        "responses.csv",
        "terms_by_group.csv",
        "stats.csv",
        "matches.csv",
        "uncoded.csv",
        "partial.json",
    ] {
        assert_eq!(
            dir.read(&format!("t1/{file}")),
            dir.read(&format!("t3/{file}")),
            "{file}"
        );
    }
    let t = Table::read(dir.path().join("t1/responses.csv"));
    assert!(t.rows.len() > 6000);
}

#[test]
fn a_failed_run_leaves_earlier_results_untouched() {
    let dir = Dir::new();
    run_long(&dir, "out", &[]);
    // (file name, contents) of every file in the output folder.
    let snapshot = || -> Vec<(String, String)> {
        std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let text = std::fs::read_to_string(e.path()).unwrap();
                (e.file_name().to_string_lossy().to_string(), text)
            })
            .collect()
    };
    let before = snapshot();
    let input = fixture("responses.csv");
    let out = dir.fails(
        &[
            "code",
            input.to_str().unwrap(),
            "missing.csv",
            "--group",
            "group",
            "--question",
            "question",
            "--out",
            "out",
            "--quiet",
        ],
        1,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.csv: cannot open"), "{err}");
    assert_eq!(before, snapshot());
}

#[test]
fn malformed_rows_are_skipped_with_their_line() {
    let dir = Dir::new();
    // Line 3 holds a quoted newline, so the ragged record starts on line 5.
    dir.create(
        "in.csv",
        "id,group,text\n1,a,fine\n2,a,\"two\nlines\"\n3,b,too,many\n4,b,ok\n",
    );
    dir.ok(&[
        "code", "in.csv", "--group", "group", "--out", "out", "--quiet",
    ]);
    let skipped = Table::read(dir.path().join("out/skipped.csv"));
    assert_eq!(skipped.header, ["file", "line", "reason"]);
    assert_eq!(skipped.rows.len(), 1);
    assert_eq!(skipped.rows[0][0], "in.csv");
    assert_eq!(skipped.rows[0][1], "5");
    assert!(
        skipped.rows[0][2].contains("expected 3 fields"),
        "{:?}",
        skipped.rows[0]
    );
    let m = manifest(&dir, "out");
    assert_eq!(m["accounting"]["rows_read"], 4);
    assert_eq!(m["accounting"]["rows_skipped"], 1);
    assert_eq!(m["accounting"]["responses_coded"], 3);
    // A skipped row keeps its number: `row` stays the record's position.
    let responses = Table::read(dir.path().join("out/responses.csv"));
    let rows: Vec<&str> = responses.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(rows, ["1", "2", "4"]);
    // --strict makes it fatal, naming file and line.
    let out = dir.fails(
        &["code", "in.csv", "--out", "strict", "--strict", "--quiet"],
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("in.csv:5: expected 3 fields"));
}

#[test]
fn bad_columns_list_the_available_ones() {
    let dir = Dir::new();
    dir.create("in.csv", "id,grp,comment\n1,a,x\n");
    let out = dir.fails(&["code", "in.csv", "--out", "o"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no text column"), "{err}");
    assert!(err.contains("available columns: id, grp, comment"), "{err}");
    let out = dir.fails(
        &[
            "code", "in.csv", "--text", "comment", "--group", "group", "--out", "o",
        ],
        2,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no group column named `group`"), "{err}");
}

#[test]
fn all_label_collision_is_an_error_that_suggests_the_flag() {
    let dir = Dir::new();
    dir.create("in.csv", "g,text\nAll,sober\nx,sober\n");
    let out = dir.fails(
        &["code", "in.csv", "--group", "g", "--out", "o", "--quiet"],
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--all-label"));
    dir.ok(&[
        "code",
        "in.csv",
        "--group",
        "g",
        "--out",
        "o",
        "--quiet",
        "--all-label",
        "Total",
    ]);
    let t = Table::read(dir.path().join("o/themes_by_group.csv"));
    assert!(t.maps().iter().any(|r| r["g"] == "Total"));
}

/// An error in the first batch of a long input, with the reader far ahead
/// (one-row batches, a full queue): the run must stop with the error, not
/// wait forever on a reader blocked on the queue.
#[test]
fn an_early_error_stops_the_reader() {
    let dir = Dir::new();
    let mut csv = String::from("g,text\nAll,sober\n");
    for i in 0..3000 {
        csv.push_str(&format!("g{},sober today\n", i % 3));
    }
    dir.create("in.csv", csv);
    for threads in ["1", "2"] {
        let mut child = dir
            .cmd()
            .args([
                "code",
                "in.csv",
                "--group",
                "g",
                "--out",
                "o",
                "--quiet",
                "--threads",
                threads,
                "--batch-rows",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > std::time::Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("--threads {threads}: still running after 60 s (deadlock)");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(1), "--threads {threads}");
    }
}

#[test]
fn stdin_tsv_bom_and_crlf() {
    let dir = Dir::new();
    dir.create("in.tsv", "\u{feff}g\ttext\r\na\tI stayed sober\r\nb\t\r\n");
    dir.ok(&["code", "in.tsv", "--group", "g", "--out", "o", "--quiet"]);
    let m = manifest(&dir, "o");
    assert_eq!(m["accounting"]["responses_coded"], 1);
    assert_eq!(m["accounting"]["responses_empty"], 1);
    let mut child = dir
        .cmd()
        .args(["code", "-", "--group", "g", "--out", "s", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"g,text\na,sober\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let m = manifest(&dir, "s");
    assert_eq!(m["inputs"][0]["path"], "<stdin>");
    assert_eq!(m["accounting"]["responses_coded"], 1);
}

/// Spot checks of the bundled lexicon on the fixtures.
#[test]
fn bundled_lexicon_spot_checks() {
    let dir = Dir::new();
    run_long(&dir, "out", &[]);
    let t = Table::read(dir.path().join("out/responses.csv"));
    let rows = t.maps();
    let get = |id: &str, q: &str| {
        rows.iter()
            .find(|r| r["id"] == id && r["question"] == q)
            .unwrap_or_else(|| panic!("no response {id} {q}"))
    };
    // P01 sponsors newcomers: helping others.
    assert_ne!(get("P01", "objectives")["objectives_helping_others"], "0");
    // P12: "I never felt judged by society": not stigma.
    assert_eq!(get("P12", "triggers")["triggers_stigma"], "0");
}

#[test]
fn merged_shards_equal_one_run() {
    let dir = Dir::new();
    run_long(&dir, "one", &[]);
    let text = std::fs::read_to_string(fixture("responses.csv")).unwrap();
    // Split the records (not lines: answers hold quoted newlines) in two.
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let (a, b) = records.split_at(records.len() / 2 + 3);
    for (name, part) in [("a.csv", a), ("b.csv", b)] {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).unwrap();
        for rec in part {
            w.write_record(rec).unwrap();
        }
        dir.create(name, w.into_inner().unwrap());
    }
    for shard in ["a", "b"] {
        dir.ok(&[
            "code",
            &format!("{shard}.csv"),
            "--id",
            "participant_id",
            "--group",
            "group",
            "--question",
            "question",
            "--out",
            shard,
            "--quiet",
        ]);
    }
    dir.ok(&["merge", "a", "b/partial.json", "--out", "merged", "--quiet"]);
    for file in [
        "themes_by_group.csv",
        "themes_by_group_wide.csv",
        "terms_by_group.csv",
        "stats.csv",
        "stats_residuals.csv",
    ] {
        assert_eq!(
            dir.read(&format!("one/{file}")),
            dir.read(&format!("merged/{file}")),
            "{file}"
        );
    }
    // A partial from another lexicon is refused.
    dir.create(
        "other.toml",
        "[lexicon]\nname = \"o\"\n[[theme]]\nid = \"a\"\nterms = [\"x\"]\n",
    );
    let out = dir.fails(&["merge", "a", "--lexicon", "other.toml", "--out", "m2"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another lexicon"));
    // The same partial twice would count its answers twice.
    let out = dir.fails(&["merge", "a", "a/partial.json", "--out", "m3"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("same partial result"));
    // Merging into a shard's own folder would overwrite it.
    let out = dir.fails(&["merge", "a", "b", "--out", "b"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose another --out"));
}

/// A malformed partial.json is an error naming the file, never a panic or
/// a silent miscount: each case changes one field of a valid partial.
#[test]
fn malformed_partials_are_errors() {
    let dir = Dir::new();
    run_long(&dir, "a", &[]);
    let good: serde_json::Value = serde_json::from_str(&dir.read("a/partial.json")).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 8] = [
        ("bit past the last theme", |p| {
            let r = p["aggregate"]["cells"][0][1]["respondents"]
                .as_object_mut()
                .unwrap();
            let first = r.keys().next().unwrap().clone();
            r[&first] = serde_json::json!([1u64 << 62]);
        }),
        ("bits too short", |p| {
            let r = p["aggregate"]["cells"][0][1]["respondents"]
                .as_object_mut()
                .unwrap();
            let first = r.keys().next().unwrap().clone();
            r[&first] = serde_json::json!([]);
        }),
        ("question listed twice", |p| {
            let q = p["aggregate"]["questions"][0].clone();
            p["aggregate"]["questions"].as_array_mut().unwrap().push(q);
        }),
        ("question out of range", |p| {
            p["aggregate"]["cells"][0][0][1] = serde_json::json!(99);
        }),
        ("cell repeated", |p| {
            let c = p["aggregate"]["cells"][0].clone();
            p["aggregate"]["cells"].as_array_mut().unwrap().push(c);
        }),
        ("entry repeated", |p| {
            let e = p["aggregate"]["cells"][0][1]["entries"][0].clone();
            p["aggregate"]["cells"][0][1]["entries"]
                .as_array_mut()
                .unwrap()
                .push(e);
        }),
        ("sole theme not in the entry's chain", |p| {
            p["aggregate"]["cells"][0][1]["sole"][0][0][0] = serde_json::json!(999);
        }),
        ("units missing", |p| {
            p["aggregate"]["cells"][0][1]["entries"][0][1]
                .as_object_mut()
                .unwrap()
                .remove("units");
        }),
    ];
    for (what, edit) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        dir.create("bad.json", serde_json::to_vec(&bad).unwrap());
        let out = dir.fails(&["merge", "bad.json", "--out", "m", "--quiet"], 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.json"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    // The unedited partial merges.
    dir.create("good.json", serde_json::to_vec(&good).unwrap());
    dir.ok(&["merge", "good.json", "--out", "m", "--quiet"]);
}

/// Wide layout: questions come in `--text` order, whatever the columns'
/// order in the file.
#[test]
fn wide_questions_follow_the_text_order() {
    let dir = Dir::new();
    dir.create(
        "w.csv",
        "A,B,g\nI stay sober,helping others,AA\nsponsor call,clean time,NA\n",
    );
    dir.ok(&[
        "code", "w.csv", "--text", "B", "--text", "A", "--group", "g", "--out", "o", "--quiet",
    ]);
    let t = Table::read(dir.path().join("o/themes_by_group.csv"));
    let q = t.col("question");
    let mut order: Vec<&str> = Vec::new();
    for row in &t.rows {
        if !order.contains(&row[q].as_str()) {
            order.push(&row[q]);
        }
    }
    assert_eq!(order, ["B", "A", "All"]);
}

/// With several errors, the one reported is the first in input order,
/// whatever the thread count: here a group value equal to `All` (a coding
/// error) before a malformed row (a reading error under `--strict`).
#[test]
fn the_first_error_is_reported_for_any_thread_count() {
    let dir = Dir::new();
    let mut csv = String::from("g,text\n");
    for i in 0..40 {
        csv.push_str(&format!("g{},sober\n", i % 2));
    }
    csv.push_str("All,sober\n");
    csv.push_str("x,too,many\n");
    for _ in 0..40 {
        csv.push_str("g1,sober\n");
    }
    dir.create("e.csv", csv);
    for threads in ["1", "2", "4"] {
        for batch in ["2", "41", "16384"] {
            let out = dir.fails(
                &[
                    "code",
                    "e.csv",
                    "--group",
                    "g",
                    "--strict",
                    "--out",
                    "o",
                    "--quiet",
                    "--threads",
                    threads,
                    "--batch-rows",
                    batch,
                ],
                1,
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("e.csv:42"),
                "--threads {threads} --batch-rows {batch}: {err}"
            );
        }
    }
}

/// Group values that contain the cell key's old separator stay distinct
/// cells.
#[test]
fn group_values_never_collide_in_cell_keys() {
    let dir = Dir::new();
    dir.create("k.csv", "text,g1,g2\nsober,a\u{1f}b,c\nsober,a,b\u{1f}c\n");
    dir.ok(&[
        "code", "k.csv", "--group", "g1", "--group", "g2", "--out", "o", "--quiet",
    ]);
    let t = Table::read(dir.path().join("o/themes_by_group.csv"));
    let (g1, g2) = (t.col("g1"), t.col("g2"));
    let cells: std::collections::BTreeSet<(&str, &str)> = t
        .rows
        .iter()
        .map(|r| (r[g1].as_str(), r[g2].as_str()))
        .collect();
    assert!(cells.contains(&("a\u{1f}b", "c")));
    assert!(cells.contains(&("a", "b\u{1f}c")));
}

#[test]
fn liwc_semantics_reports_wc_dic_and_percentages() {
    let dir = Dir::new();
    dir.create(
        "l.toml",
        "[lexicon]\nname = \"l\"\nsemantics = \"liwc\"\n[[theme]]\nid = \"pos\"\nterms = [\"good*\", \"good night\", \"happy\"]\n[[theme]]\nid = \"neg\"\nterms = [\"bad\", \"sad*\"]\n",
    );
    dir.create("in.csv", "g,text\na,good night happy sadness\nb,bad day\n");
    dir.ok(&[
        "code",
        "in.csv",
        "--lexicon",
        "l.toml",
        "--group",
        "g",
        "--out",
        "o",
        "--quiet",
    ]);
    let t = Table::read(dir.path().join("o/responses.csv"));
    assert_eq!(
        t.header,
        [
            "row", "id", "g", "question", "WC", "Dic", "pos", "pos_pct", "neg", "neg_pct"
        ]
    );
    // `good night` is one 2-word phrase: LIWC counts words, so pos = 3.
    assert_eq!(
        t.rows[0],
        ["1", "", "a", "text", "4", "100", "3", "75", "1", "25"]
    );
    assert_eq!(
        t.rows[1],
        ["2", "", "b", "text", "2", "50", "0", "0", "1", "50"]
    );
}

/// The manifest's `(file, sha256)` pairs: objects for `code`, pairs for
/// `merge`.
fn manifest_hashes(m: &serde_json::Value) -> Vec<(String, String)> {
    m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o {
            serde_json::Value::Array(pair) => (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            ),
            o => (
                o["file"].as_str().unwrap().to_string(),
                o["sha256"].as_str().unwrap().to_string(),
            ),
        })
        .collect()
}

/// Outputs are hashed while they are written: every hash in the manifest
/// is the SHA-256 of the file as it lies on disk, and every file but the
/// manifest is listed, for `code` (with and without `--kwic`,
/// `--excel-csv`, `--xlsx`) and for `merge`.
#[test]
fn manifest_hashes_are_those_of_the_files() {
    use sha2::{Digest, Sha256};
    let dir = Dir::new();
    run_long(&dir, "plain", &[]);
    run_long(
        &dir,
        "full",
        &["--kwic", "--excel-csv", "--xlsx", "--threads", "2"],
    );
    dir.ok(&["merge", "plain", "--out", "merged", "--quiet"]);
    for out in ["plain", "full", "merged"] {
        let hashes = manifest_hashes(&manifest(&dir, out));
        let mut listed: Vec<&str> = hashes.iter().map(|h| h.0.as_str()).collect();
        listed.push("manifest.json");
        listed.sort_unstable();
        let mut on_disk: Vec<String> = std::fs::read_dir(dir.path().join(out))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort_unstable();
        assert_eq!(listed, on_disk, "{out}: every output is listed");
        for (file, sha) in &hashes {
            let bytes = std::fs::read(dir.path().join(out).join(file)).unwrap();
            let actual: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(sha, &actual, "{out}/{file}");
        }
    }
}
