//! `report.xlsx` from the real tables of `thematic code` on the fixtures,
//! read back with calamine.
//!
//! Set `THEMATIC_KEEP_XLSX=DIR` to keep the workbook and its CSVs in `DIR`
//! (used to render the README's screenshot).

use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};
use thematic::export::xlsx::{ReportInfo, Sheet, SheetKind, write_report};

use crate::util::Dir;

#[test]
fn report_from_real_tables() {
    let dir = Dir::new();
    let keep = std::env::var("THEMATIC_KEEP_XLSX").ok();
    let out = keep.clone().unwrap_or_else(|| "out".into());
    dir.code_fixtures(&out, &[]);
    let out = dir.path().join(out);
    let table = |name: &str| out.join(name);
    let (long, wide, terms, responses) = (
        table("themes_by_group.csv"),
        table("themes_by_group_wide.csv"),
        table("terms_by_group.csv"),
        table("responses.csv"),
    );
    let sheets = [
        Sheet {
            name: "themes_by_group",
            csv: &long,
            kind: SheetKind::Long,
        },
        Sheet {
            name: "themes_by_group_wide",
            csv: &wide,
            kind: SheetKind::Wide,
        },
        Sheet {
            name: "terms_by_group",
            csv: &terms,
            kind: SheetKind::Plain,
        },
        Sheet {
            name: "responses",
            csv: &responses,
            kind: SheetKind::Plain,
        },
    ];
    let info = ReportInfo {
        manifest_json: std::fs::read_to_string(out.join("manifest.json")).unwrap(),
        min_cell: None,
    };
    let report = out.join("report.xlsx");
    let notes = write_report(&report, &sheets, &info).unwrap();
    assert_eq!(notes.truncated_cells, 0);
    assert!(notes.split_tables.is_empty());

    let mut wb: Xlsx<_> = open_workbook(&report).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "themes_by_group",
            "themes_by_group_wide",
            "terms_by_group",
            "responses",
            "Chart",
            "About"
        ]
    );
    // Every long-table row is there, with counts as numbers.
    let csv_rows = csv::Reader::from_path(&long).unwrap().records().count();
    let range = wb.worksheet_range("themes_by_group").unwrap();
    assert_eq!(range.height(), csv_rows + 1);
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in range.rows().skip(1) {
        assert!(matches!(row[col("responses")], Data::Float(_)), "{row:?}");
        assert!(matches!(row[col("group")], Data::String(_)), "{row:?}");
    }
    // Participant ids stay text in the per-response table.
    let range = wb.worksheet_range("responses").unwrap();
    let id = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .position(|d| *d == Data::String("id".into()));
    if let Some(id) = id {
        assert_eq!(range.rows().nth(1).unwrap()[id], Data::String("P01".into()));
    }
    // The chart has one series per group and the manifest is on About.
    let chart = wb.worksheet_range("Chart").unwrap();
    let series: Vec<String> = chart.rows().next().unwrap()[1..]
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(series, ["AA", "CA", "NA", "SMART"]);
    let about = wb.worksheet_range("About").unwrap();
    assert!(
        about
            .rows()
            .any(|r| r[0] == Data::String("lexicon.sha256".into()))
    );
    check_no_scratch_files(&out);
}

/// The low-memory sheets' temporary files are gone.
fn check_no_scratch_files(out: &Path) {
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        assert!(!name.starts_with(".tmp"), "left over: {name}");
    }
}
