//! Test harness: run the real `thematic` binary in a temporary folder and
//! read its CSV outputs back as data (after ripgrep's `tests/util.rs` and
//! xsv's `workdir.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (fixtures live there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture file's path.
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// A temporary working folder with helpers to run the binary in it.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Write a file into the folder.
    pub fn create(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// A `thematic` command running in this folder.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_thematic"));
        c.current_dir(self.path());
        c
    }

    /// Run and insist on success; return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "thematic {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run and insist on failure with exit code `code`; return the output.
    pub fn fails(&self, args: &[&str], code: i32) -> Output {
        let out = self.cmd().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "thematic {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }
}

/// A CSV table read back as data: header and rows.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: impl AsRef<Path>) -> Table {
        let mut r = csv::Reader::from_path(path.as_ref())
            .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()));
        let header = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        Table { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// Rows as maps from column name to value.
    pub fn maps(&self) -> Vec<HashMap<&str, &str>> {
        self.rows
            .iter()
            .map(|r| {
                self.header
                    .iter()
                    .map(String::as_str)
                    .zip(r.iter().map(String::as_str))
                    .collect()
            })
            .collect()
    }
}

/// Parse a number written by thematic.
pub fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

impl Dir {
    /// `thematic code` on the long fixtures (id, group and question
    /// columns) into `out`, quietly, with `extra` flags; returns stdout.
    pub fn code_fixtures(&self, out: &str, extra: &[&str]) -> String {
        let input = fixture("responses.csv");
        self.code_long(input.to_str().unwrap(), "participant_id", out, extra)
    }

    /// `thematic code` on a long-layout `input` (id column `id`, columns
    /// `group` and `question`) into `out`, quietly, with `extra` flags;
    /// returns stdout.
    pub fn code_long(&self, input: &str, id: &str, out: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "code",
            input,
            "--id",
            id,
            "--group",
            "group",
            "--question",
            "question",
            "--out",
            out,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}
