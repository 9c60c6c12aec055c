//! Golden CLI cases: each `tests/cmd/<case>.toml` (arguments, exit status,
//! exact stdout/stderr) runs in its `<case>.in/` folder. Adding a case
//! needs no Rust (STYLE 5, after typos `tests/cli_tests.rs`).

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "thematic",
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_thematic")),
        )
        .case("tests/cmd/*.toml");
}
