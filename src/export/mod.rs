//! Export: every table the tool writes, and nothing else formats output.
//!
//! This module owns DESIGN 6's files: the tidy table, the wide table, the
//! per-response table, the summary printed at the end, number formatting
//! (DESIGN 4: integers as integers, other values in Rust's shortest
//! round-trip form) and column names safe for R, Stata and SPSS.

pub mod stats_table;
pub mod tables;
pub mod xlsx;

use std::borrow::Cow;

/// `--excel-csv`: a cell from the input that begins with `=`, `+`, `-`,
/// `@`, TAB or CR gets a leading `'`, so a spreadsheet shows it as text
/// instead of running it as a formula.
pub fn excel_safe(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A number as DESIGN 4 wants it in CSV: shortest round-trip `Display`
/// (`50`, `12.5`, `0.00001`); NaN and infinities are written as empty.
pub fn fmt_f64(x: f64) -> String {
    let mut out = Vec::new();
    push_f64(&mut out, x);
    String::from_utf8(out).expect("a number's Display is ASCII")
}

/// [`fmt_f64`] appended to `out`, without a `String` of its own.
pub fn push_f64(out: &mut Vec<u8>, x: f64) {
    use std::io::Write;
    // `-0` would surprise a reader.
    if x == 0.0 {
        out.push(b'0');
    } else if x.is_finite() {
        let _ = write!(out, "{x}");
    }
}

/// `100 × num / den`, or empty when `den` is 0.
pub fn pct(num: u64, den: u64) -> String {
    if den == 0 {
        String::new()
    } else {
        fmt_f64(100.0 * num as f64 / den as f64)
    }
}

/// `1000 × num / den`, or empty when `den` is 0.
pub fn per_1000(num: u64, den: u64) -> String {
    if den == 0 {
        String::new()
    } else {
        fmt_f64(1000.0 * num as f64 / den as f64)
    }
}

/// Column names made from theme ids (DESIGN 4): only `[A-Za-z0-9_]`, cut
/// to 32 characters, starting with a letter, `_2`, `_3`… on collision with
/// each other or with `reserved` names (compared case-insensitively, since
/// Stata and SPSS do).
pub fn safe_names(ids: &[&str], reserved: &[&str]) -> Vec<String> {
    const MAX: usize = 32;
    let mut taken: std::collections::HashSet<String> =
        reserved.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut base: String = id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
            base.insert_str(0, "t_");
        }
        base.truncate(MAX);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name.to_ascii_lowercase()) {
            let suffix = format!("_{n}");
            let mut b = base.clone();
            b.truncate(MAX - suffix.len());
            name = format!("{b}{suffix}");
            n += 1;
        }
        taken.insert(name.to_ascii_lowercase());
        out.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_f64_and_fmt_f64_write_the_design_form() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut values = vec![0.0, -0.0, 1.0, 100.0, 1e-7, 1e21, f64::NAN, f64::INFINITY];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(100.0 * (x % 1000) as f64 / (1 + (x >> 20) % 997) as f64);
            values.push(f64::from_bits(x));
        }
        for v in values {
            // DESIGN 4: shortest round-trip `Display`, `0` for both zeros,
            // empty for NaN and infinities.
            let want = if v == 0.0 {
                "0".to_string()
            } else if v.is_finite() {
                format!("{v}")
            } else {
                String::new()
            };
            let mut out = b"a,".to_vec();
            push_f64(&mut out, v);
            assert_eq!(out, format!("a,{want}").into_bytes(), "{v:?}");
            assert_eq!(fmt_f64(v), want, "{v:?}");
        }
    }

    #[test]
    fn formula_injection() {
        for bad in ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx"] {
            assert_eq!(excel_safe(bad), format!("'{bad}"));
        }
        assert_eq!(excel_safe("ok = fine"), "ok = fine");
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_f64(50.0), "50");
        assert_eq!(fmt_f64(12.5), "12.5");
        assert_eq!(fmt_f64(0.00001), "0.00001");
        assert_eq!(fmt_f64(-0.0), "0");
        assert_eq!(fmt_f64(f64::NAN), "");
        assert_eq!(pct(1, 3), "33.333333333333336");
        assert_eq!(pct(1, 0), "");
        assert_eq!(per_1000(3, 200), "15");
    }

    #[test]
    fn safe_column_names() {
        let ids = [
            "objectives.abstinence",
            "objectives-abstinence",
            "12step",
            "a.very.long.theme.identifier.that.goes.on.and.on",
            "a.very.long.theme.identifier.that.goes.on.and.on.too",
            "Row",
            "émotion",
        ];
        let got = safe_names(&ids, &["row", "id"]);
        assert_eq!(
            got,
            [
                "objectives_abstinence",
                "objectives_abstinence_2",
                "t_12step",
                "a_very_long_theme_identifier_tha",
                "a_very_long_theme_identifier_t_2",
                "Row_2",
                "t__motion",
            ]
        );
        for name in &got {
            assert!(name.len() <= 32);
            assert!(name.starts_with(|c: char| c.is_ascii_alphabetic()));
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
    }
}
