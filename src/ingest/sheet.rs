//! Spreadsheet inputs (XLSX, XLSM, XLSB, XLS, ODS) through calamine.
//!
//! Unlike CSV, a workbook is loaded whole: the formats are zip or OLE
//! containers that cannot be parsed as a stream, so memory grows with the
//! sheet (and stdin is buffered first). Each sheet row becomes a
//! `csv::ByteRecord` of cell texts, so the rest of ingest treats sheets and
//! CSV alike; a row's line is the sheet's 1-based row number.

use std::io::Cursor;

use calamine::{Data, Range, Reader, Sheets};

/// A spreadsheet's kind, from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    /// A zip container: xlsx, xlsm, xlsb or ods.
    Zip,
    /// An OLE2 compound file: xls.
    Ole,
}

/// What the first bytes of an input say it is.
pub(crate) fn magic(prefix: &[u8]) -> Option<Magic> {
    if prefix.starts_with(b"PK\x03\x04") {
        Some(Magic::Zip)
    } else if prefix.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(Magic::Ole)
    } else {
        None
    }
}

/// File extensions read as spreadsheets.
pub(crate) const EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xlsb", "xls", "ods"];

/// Refuse an OLE2 (xls) file whose sector allocation table has a loop:
/// calamine follows such chains without end, growing memory until the
/// process is killed (found by fuzzing). With a loop-free table every chain
/// is at most as long as the file.
fn check_ole_chains(b: &[u8]) -> Result<(), String> {
    const FREE_OR_SPECIAL: u32 = 0xFFFF_FFFA;
    let damaged = || {
        "cannot read the xls workbook: it is damaged (its sector chains loop or point outside the file)".to_string()
    };
    let u16_at = |o: usize| b.get(o..o + 2).map(|x| u16::from_le_bytes([x[0], x[1]]));
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    };
    let shift = u16_at(0x1E).ok_or_else(damaged)?;
    if shift != 9 && shift != 12 {
        return Err(damaged());
    }
    let size = 1usize << shift;
    let sectors = b.len() / size + 1;
    let sector = |id: u32| -> Option<&[u8]> {
        let start = (id as usize).checked_add(1)?.checked_mul(size)?;
        b.get(start..start.checked_add(size)?)
    };
    // The DIFAT: 109 entries in the header, then a chain of DIFAT sectors.
    let mut difat: Vec<u32> = (0..109).filter_map(|i| u32_at(0x4C + 4 * i)).collect();
    let mut next = u32_at(0x44).ok_or_else(damaged)?;
    let mut steps = 0;
    while next < FREE_OR_SPECIAL {
        steps += 1;
        let sec = sector(next).ok_or_else(damaged)?;
        if steps > sectors {
            return Err(damaged());
        }
        let words: Vec<u32> = sec
            .chunks_exact(4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
            .collect();
        let (last, entries) = words.split_last().ok_or_else(damaged)?;
        difat.extend_from_slice(entries);
        next = *last;
    }
    let mut fat: Vec<u32> = Vec::new();
    for id in difat.into_iter().filter(|&id| id < FREE_OR_SPECIAL) {
        let sec = sector(id).ok_or_else(damaged)?;
        fat.extend(
            sec.chunks_exact(4)
                .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]])),
        );
        if fat.len() > sectors * 2 + 1024 {
            break;
        }
    }
    // Loop detection on the functional graph i -> fat[i].
    let mut state = vec![0u8; fat.len()]; // 0 new, 1 on the current path, 2 done
    let mut path = Vec::new();
    for start in 0..fat.len() {
        let mut i = start;
        while i < fat.len() && state[i] == 0 {
            state[i] = 1;
            path.push(i);
            i = fat[i] as usize;
        }
        if i < fat.len() && state[i] == 1 {
            return Err(damaged());
        }
        for &p in &path {
            state[p] = 2;
        }
        path.clear();
    }
    Ok(())
}

/// One sheet, loaded, with the rows still to hand out.
pub(crate) struct SheetRows {
    range: Range<Data>,
    /// 0-based sheet row of `range`'s first row.
    first_row: u32,
    /// Next row index within `range`.
    next: usize,
    /// The header's width (0 until the header is found): rows are padded
    /// to it with empty cells, and trailing empty cells beyond it dropped.
    pub(crate) width: usize,
}

/// An opened workbook sheet and what was chosen.
pub(crate) struct Opened {
    pub(crate) rows: SheetRows,
    /// The workbook format (`xlsx`, `xls`, `ods`, `xlsb`).
    pub(crate) format: &'static str,
    /// The sheet's name.
    pub(crate) sheet: String,
}

/// Open `bytes` as a workbook and load the sheet chosen by `sheet` (a name,
/// or a 1-based position; default the first sheet).
///
/// calamine can panic on malformed workbooks (found by fuzzing), so it runs
/// under `catch_unwind` and a panic becomes an error.
pub(crate) fn open(bytes: Vec<u8>, kind: Magic, sheet: Option<&str>) -> Result<Opened, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        open_inner(bytes, kind, sheet)
    }))
    .unwrap_or_else(|_| {
        Err("cannot read the workbook: it is malformed (the spreadsheet reader failed)".into())
    })
}

fn open_inner(bytes: Vec<u8>, kind: Magic, sheet: Option<&str>) -> Result<Opened, String> {
    if kind == Magic::Ole {
        check_ole_chains(&bytes)?;
    }
    let (mut book, format): (Sheets<Cursor<Vec<u8>>>, &'static str) = match kind {
        Magic::Ole => (
            Sheets::Xls(
                calamine::open_workbook_from_rs(Cursor::new(bytes))
                    .map_err(|e| format!("cannot read the xls workbook: {e}"))?,
            ),
            "xls",
        ),
        Magic::Zip => {
            let cursor = Cursor::new(bytes);
            match calamine::open_workbook_from_rs(cursor.clone()) {
                Ok(x) => (Sheets::Xlsx(x), "xlsx"),
                Err(xlsx_err) => match calamine::open_workbook_from_rs(cursor.clone()) {
                    Ok(o) => (Sheets::Ods(o), "ods"),
                    Err(_) => match calamine::open_workbook_from_rs(cursor) {
                        Ok(b) => (Sheets::Xlsb(b), "xlsb"),
                        Err(_) => {
                            return Err(format!(
                                "cannot read the workbook (a zip file that is not xlsx, xlsb or ods): {xlsx_err}"
                            ));
                        }
                    },
                },
            }
        }
    };
    let names = book.sheet_names();
    if names.is_empty() {
        return Err("the workbook has no sheets".into());
    }
    let listed = || {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let name = match sheet {
        None => names[0].clone(),
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(i) if i >= 1 && i <= names.len() => names[i - 1].clone(),
            Ok(0) => {
                return Err(format!(
                    "has no sheet 0: sheets are numbered from 1 (sheets: {})",
                    listed()
                ));
            }
            Ok(i) => {
                return Err(format!(
                    "has no sheet {i}: it has {} sheet(s): {}",
                    names.len(),
                    listed()
                ));
            }
            Err(_) => return Err(format!("has no sheet named `{s}` (sheets: {})", listed())),
        },
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| format!("cannot read sheet `{name}`: {e}"))?;
    let first_row = range.start().map_or(0, |(r, _)| r);
    Ok(Opened {
        rows: SheetRows {
            range,
            first_row,
            next: 0,
            width: 0,
        },
        format,
        sheet: name,
    })
}

impl SheetRows {
    /// The next non-empty row as (1-based sheet row, record), trailing
    /// empty cells beyond the header's width dropped. Entirely empty rows
    /// are passed over, as the csv reader passes over blank lines.
    pub(crate) fn next_row(&mut self) -> Option<(u64, csv::ByteRecord)> {
        let (height, _) = self.range.get_size();
        while self.next < height {
            let i = self.next;
            self.next += 1;
            let cells = self.range.rows().nth(i)?;
            let mut used = cells.len();
            while used > 0 && cells[used - 1] == Data::Empty {
                used -= 1;
            }
            if used == 0 {
                continue;
            }
            let keep = used.max(self.width.min(cells.len()));
            let mut rec = csv::ByteRecord::new();
            for c in &cells[..keep] {
                rec.push_field(cell_text(c).as_bytes());
            }
            let line = u64::from(self.first_row) + i as u64 + 1;
            return Some((line, rec));
        }
        None
    }

    /// Find the header row and return it (see [`is_header`]): rows above
    /// it (titles, notes) are passed over; the count of them is returned.
    pub(crate) fn header(&mut self) -> Option<(u64, csv::ByteRecord, u64)> {
        // Look at the first rows with values.
        let mut probe = Vec::new();
        while probe.len() < HEADER_PROBE_ROWS {
            match self.next_row() {
                Some(r) => probe.push((self.next, r)),
                None => break,
            }
        }
        let widest = probe.iter().map(|(_, (_, r))| filled(r)).max()?;
        let pick = probe
            .iter()
            .position(|(_, (_, r))| is_header(filled(r), widest))
            .unwrap_or(0);
        let (next, (line, rec)) = probe.swap_remove(pick);
        self.next = next;
        self.width = rec.len();
        Some((line, rec, pick as u64))
    }
}

/// Rows looked at to find a spreadsheet's header.
const HEADER_PROBE_ROWS: usize = 20;

fn filled(r: &csv::ByteRecord) -> usize {
    r.iter().filter(|f| !f.is_empty()).count()
}

/// The header-row rule for spreadsheets: the first of the first 20
/// non-empty rows that fills at least half as many cells as the fullest of
/// them (and at least two, unless no row has two). Title and note rows
/// above a table fill one or two cells, so they are passed over.
fn is_header(filled: usize, widest: usize) -> bool {
    filled * 2 >= widest && (filled >= 2 || widest < 2)
}

/// A cell as text: integers without a spurious `.0`, other numbers in
/// Rust's shortest round-trip form, booleans as Excel shows them, dates as
/// ISO 8601 text (`2024-03-01`, `2024-03-01 10:22:31`), errors as Excel
/// shows them (`#DIV/0!`).
pub(crate) fn cell_text(c: &Data) -> String {
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => float_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => {
            if d.is_duration() {
                let secs = (d.as_f64() * 86_400.0).round();
                if !secs.is_finite() {
                    return float_text(d.as_f64());
                }
                let (sign, secs) = if secs < 0.0 { ("-", -secs) } else { ("", secs) };
                let s = secs as u64;
                format!("{sign}{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            } else {
                let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
                let date = format!("{y:04}-{mo:02}-{da:02}");
                let time = if ms > 0 {
                    format!("{h:02}:{mi:02}:{s:02}.{ms:03}")
                } else {
                    format!("{h:02}:{mi:02}:{s:02}")
                };
                let v = d.as_f64();
                if v.fract() == 0.0 {
                    date
                } else if (0.0..1.0).contains(&v) {
                    time
                } else {
                    format!("{date} {time}")
                }
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    #[test]
    fn cells_as_text() {
        assert_eq!(cell_text(&Data::Float(1.0)), "1");
        assert_eq!(cell_text(&Data::Float(-3.0)), "-3");
        assert_eq!(cell_text(&Data::Float(2.5)), "2.5");
        assert_eq!(cell_text(&Data::Float(0.1)), "0.1");
        assert_eq!(cell_text(&Data::Int(42)), "42");
        assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
        let dt = |v, t| Data::DateTime(ExcelDateTime::new(v, t, false));
        assert_eq!(
            cell_text(&dt(45352.0, ExcelDateTimeType::DateTime)),
            "2024-03-01"
        );
        assert_eq!(
            cell_text(&dt(45352.5, ExcelDateTimeType::DateTime)),
            "2024-03-01 12:00:00"
        );
        assert_eq!(
            cell_text(&dt(0.25, ExcelDateTimeType::DateTime)),
            "06:00:00"
        );
        assert_eq!(
            cell_text(&dt(1.5, ExcelDateTimeType::TimeDelta)),
            "36:00:00"
        );
    }

    #[test]
    fn header_rule() {
        assert!(!is_header(1, 5));
        assert!(!is_header(2, 5));
        assert!(is_header(3, 5));
        assert!(is_header(1, 1));
        assert!(is_header(2, 2));
    }
}
