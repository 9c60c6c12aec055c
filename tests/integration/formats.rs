//! Foreign lexicon formats (DESIGN 2): one test per reader quirk on a
//! small file under `tests/lexicons/`, round trips TOML → format → TOML
//! with the exact loss report, the `convert` command, and readers run over
//! mutated bytes (no panic on any input).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use thematic::lexicon::convert::{self, Format, Loss, LossKind};
use thematic::lexicon::{self, Diagnostics, Lexicon, Semantics, Severity};
use thematic::tokenize::Tokenizer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lexicons")
        .join(name)
}

/// Load a fixture: the lexicon, the warnings and the loss report.
fn load(name: &str) -> (Lexicon, Vec<String>, Vec<Loss>) {
    let tk = Tokenizer::default_pipeline();
    match lexicon::load(Some(&fixture(name)), &tk) {
        Ok(l) => (
            l.lexicon,
            l.warnings.iter().map(|w| w.message.clone()).collect(),
            l.losses,
        ),
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Each theme as `id: term, term×weight, …` (`[label]` after the id when
/// there is one).
fn summary(lex: &Lexicon) -> Vec<String> {
    lex.themes
        .iter()
        .map(|t| {
            let label = t
                .label
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            let terms: Vec<String> = t
                .terms
                .iter()
                .map(|x| {
                    if x.weight == 1.0 {
                        x.text.clone()
                    } else {
                        format!("{}×{}", x.text, x.weight)
                    }
                })
                .collect();
            format!("{}{label}: {}", t.id, terms.join(", "))
        })
        .collect()
}

/// Each loss item as `kind theme/term: what`.
fn losses(items: &[Loss]) -> Vec<String> {
    items
        .iter()
        .map(|l| {
            let kind = if l.kind == LossKind::Lost {
                "lost"
            } else {
                "changed"
            };
            format!(
                "{kind} {}/{}: {}",
                l.theme.as_deref().unwrap_or(""),
                l.term.as_deref().unwrap_or(""),
                l.what
            )
        })
        .collect()
}

const BASIC: [&str; 2] = ["funct: abandon*", "pronoun: abandon*, they"];

// ---- .dic quirks: one test per quirk ----

#[test]
fn dic_lf() {
    let (lex, warnings, loss) = load("dic_lf.dic");
    assert_eq!(summary(&lex), BASIC);
    assert_eq!(lex.semantics, Semantics::Liwc);
    assert_eq!(lex.name, "dic_lf");
    assert!(
        warnings.is_empty() && loss.is_empty(),
        "{warnings:?} {loss:?}"
    );
}

#[test]
fn dic_crlf_line_ends() {
    let (lex, _, loss) = load("dic_crlf.dic");
    assert_eq!(summary(&lex), BASIC);
    assert!(loss.is_empty());
}

#[test]
fn dic_cr_only_line_ends() {
    let (lex, _, loss) = load("dic_cr.dic");
    assert_eq!(summary(&lex), BASIC);
    assert!(loss.is_empty());
}

#[test]
fn dic_utf8_bom() {
    let (lex, warnings, _) = load("dic_bom.dic");
    assert_eq!(summary(&lex), BASIC);
    assert!(warnings.is_empty());
}

#[test]
fn dic_windows_1252_fallback_warns() {
    let (lex, warnings, _) = load("dic_cp1252.dic");
    assert_eq!(summary(&lex), ["affect: café, naïve*"]);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("read as Windows-1252"), "{warnings:?}");
}

#[test]
fn dic_tab_and_space_runs() {
    let (lex, _, loss) = load("dic_separators.dic");
    assert_eq!(summary(&lex), BASIC);
    assert!(loss.is_empty(), "{loss:?}");
}

#[test]
fn dic_zero_padded_ids() {
    let (lex, _, loss) = load("dic_zero_padded.dic");
    assert_eq!(summary(&lex), BASIC);
    assert!(loss.is_empty());
}

#[test]
fn dic_duplicate_terms_are_united() {
    let (lex, _, loss) = load("dic_duplicates.dic");
    assert_eq!(summary(&lex), ["funct: they", "pronoun: they"]);
    assert_eq!(
        losses(&loss),
        [
            "changed /they: term also listed on line 5",
            "changed /They: term also listed on line 5"
        ]
    );
}

#[test]
fn dic_ids_missing_from_the_header() {
    let (lex, _, loss) = load("dic_missing_id.dic");
    assert_eq!(summary(&lex), ["funct: they"]);
    assert_eq!(
        losses(&loss),
        [
            "lost /they: category id `99`",
            "lost /orphan: category id `77`",
            "lost /orphan: term dropped"
        ]
    );
}

#[test]
fn dic_liwc2015_nesting_and_long_labels() {
    let (lex, _, loss) = load("dic_liwc2015.dic");
    assert_eq!(
        summary(&lex),
        [
            "function [Function Words]: i",
            "pronoun [Pronouns]: i",
            "ppron [Personal pronouns]: i",
            "affect [Affect]: happy"
        ]
    );
    assert_eq!(
        losses(&loss),
        [
            "lost pronoun/: nesting under `function`",
            "lost ppron/: nesting under `pronoun`"
        ]
    );
}

#[test]
fn dic_multi_word_terms() {
    let (lex, _, loss) = load("dic_multiword.dic");
    assert_eq!(
        summary(&lex),
        ["social: a lot, kind of", "numbers: kind of, 12 step*"]
    );
    assert_eq!(lex.themes[0].terms[0].pattern.len(), 2);
    assert_eq!(lex.themes[1].terms[1].pattern.len(), 2);
    assert!(loss.is_empty());
}

#[test]
fn dic_conditionals_go_to_the_loss_report() {
    let (lex, _, loss) = load("dic_conditionals.dic");
    // `like` keeps its plain id 1, neither conditional branch; `kind` has
    // only a conditional, so it is dropped; `verb` is left empty.
    assert_eq!(summary(&lex), ["funct: like", "social: well"]);
    assert_eq!(
        losses(&loss),
        [
            "lost /like: conditional category `(02 134)2/3`",
            "lost /kind: conditional category `<of>1/3`",
            "lost /kind: term dropped",
            "lost verb/: category dropped"
        ]
    );
}

#[test]
fn dic_odd_category_names_become_valid_ids() {
    let (lex, _, loss) = load("dic_odd_names.dic");
    assert_eq!(
        summary(&lex),
        [
            "Function_Words [Function Words]: the",
            "care.virtue: kind*",
            "care_vice [care/vice]: cruel*",
            "care.virtue_2 [care.virtue]: safe"
        ]
    );
    assert_eq!(
        loss.iter().filter(|l| l.kind == LossKind::Changed).count(),
        3
    );
    assert!(!convert::any_lost(&loss));
}

#[test]
fn dic_globs_and_untokenizable_terms() {
    let (lex, _, loss) = load("dic_globs.dic");
    assert_eq!(summary(&lex), ["color: glob:colo?r, glob:*ness"]);
    assert_eq!(losses(&loss), ["lost color/:): term dropped"]);
}

// ---- other readers ----

#[test]
fn dicx_weights_and_cells() {
    let (lex, _, loss) = load("weights.dicx");
    assert_eq!(lex.semantics, Semantics::Liwc);
    assert_eq!(
        summary(&lex),
        [
            "positive: good, meh×0.5, hope*",
            "negative: bad×2.5, meh×-0.5",
            "odd_name [odd name]: meh"
        ]
    );
    assert_eq!(
        losses(&loss),
        [
            "changed odd_name/: category `odd name` became theme id `odd_name`",
            "lost positive/weird: cell `zz`",
            "lost /weird: term dropped"
        ]
    );
}

#[test]
fn yaml_nesting_own_values_scalars_and_globs() {
    let (lex, _, loss) = load("nested.yml");
    assert_eq!(lex.semantics, Semantics::Themes);
    assert_eq!(
        summary(&lex),
        [
            "positive: good, great*",
            "positive.joy: happ*, glob:colo?r",
            "positive.calm: serene",
            "negative: bad",
            "negative.anger: mad*, glob:fur*ous",
            "odd_key_ [odd key!]: x-ray"
        ]
    );
    assert_eq!(
        losses(&loss),
        ["changed odd_key_/: category `odd key!` became theme id `odd_key_`"]
    );
}

#[test]
fn cat_nesting_weights_and_rules() {
    let (lex, _, loss) = load("outline.cat");
    assert_eq!(
        summary(&lex),
        [
            "POSITIVE: GOOD, GREAT*×2",
            "POSITIVE.EMOTION: HAPP*×1.5, JOY",
            "NEGATIVE: BAD"
        ]
    );
    assert_eq!(
        losses(&loss),
        ["lost POSITIVE/: rule `@RULE NEAR(GOOD, DAY)`"]
    );
}

// ---- round trips ----

const RICH: &str = r#"[lexicon]
name = "Round trip"
version = "2.0"
semantics = "themes"

[negation]
cues = ["not"]

[[theme]]
id = "feel"
label = "Feelings"
description = "All feelings"
terms = ["mood*"]

[[theme]]
id = "feel.good"
label = "Good"
terms = ["happy", { term = "joy*", weight = 2.0 }, "glob:colo?r", "Higher Power", "12-step*", "regex:gr(a|e)y"]
exclude = ["happy hour"]

[[theme]]
id = "feel.bad"
terms = ["sad", "glob:*ness"]
"#;

fn parse_toml(src: &str) -> Lexicon {
    let tk = Tokenizer::default_pipeline();
    let mut d = Diagnostics::new("rich.toml");
    lexicon::toml::parse(src, &tk, &mut d).unwrap_or_else(|| panic!("{:#?}", d.items()))
}

/// TOML → `format` → read back → TOML → read back: the first read back
/// equals `want`, the writer's loss report equals `lost`, reading back
/// reports nothing, and the second trip changes nothing.
fn round_trip(format: Format, want: &[&str], lost: &[&str], semantics: Semantics) {
    let tk = Tokenizer::default_pipeline();
    let lex = parse_toml(RICH);
    let written = convert::write(&lex, format, &tk);
    let got: BTreeSet<String> = losses(&written.losses).into_iter().collect();
    let expect: BTreeSet<String> = lost.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, expect, "{format:?} loss report\n{}", written.text);
    let path = PathBuf::from(format!("rich.{}", format.extension()));
    let mut d = Diagnostics::new(path.display().to_string());
    let (back, read_losses) =
        lexicon::parse_format(format, Some(&path), written.text.as_bytes(), &tk, &mut d);
    let back = back.unwrap_or_else(|| panic!("{format:?}: {:#?}\n{}", d.items(), written.text));
    assert!(d.items().iter().all(|x| x.severity == Severity::Warning));
    assert!(read_losses.is_empty(), "{format:?}: {read_losses:?}");
    assert_eq!(summary(&back), want, "{format:?}\n{}", written.text);
    assert_eq!(back.semantics, semantics);
    assert_eq!(back.name, "rich");
    // Again through TOML: nothing more is lost.
    let again = parse_toml(&convert::write(&back, Format::Toml, &tk).text);
    assert_eq!(summary(&again), want);
    let twice = convert::write(&again, format, &tk);
    assert_eq!(
        twice.text, written.text,
        "{format:?}: a second trip changes the file"
    );
}

/// What every foreign format loses from RICH.
const COMMON_LOSSES: [&str; 6] = [
    "lost /: lexicon name `Round trip`",
    "lost /: lexicon version `2.0`",
    "lost /: the [negation] section",
    "lost feel/: description `All feelings`",
    "lost feel.good/regex:gr(a|e)y: regex term",
    "lost feel.good/happy hour: exclude term",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON_LOSSES
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

#[test]
fn round_trip_toml() {
    let tk = Tokenizer::default_pipeline();
    let lex = parse_toml(RICH);
    let w = convert::write(&lex, Format::Toml, &tk);
    assert!(w.losses.is_empty());
    let back = parse_toml(&w.text);
    assert_eq!(summary(&back), summary(&lex));
    assert_eq!(back.themes[1].exclude.len(), 1);
    assert!(back.negation.is_some());
}

#[test]
fn round_trip_dic() {
    round_trip(
        Format::Dic,
        &[
            "feel [Feelings]: mood*",
            "feel.good [Good]: happy, joy*, glob:colo?r, Higher Power, 12-step*",
            "feel.bad: sad, glob:*ness",
        ],
        &with(&[
            "lost /: semantics = \"themes\"",
            "lost feel.good/joy*: weight 2",
        ]),
        Semantics::Liwc,
    );
}

#[test]
fn round_trip_dicx() {
    round_trip(
        Format::Dicx,
        &[
            "feel: mood*",
            "feel.good: happy, joy*×2, glob:colo?r, Higher Power, 12-step*",
            "feel.bad: sad, glob:*ness",
        ],
        &with(&[
            "lost /: semantics = \"themes\"",
            "lost feel/: label `Feelings`",
            "lost feel.good/: label `Good`",
        ]),
        Semantics::Liwc,
    );
}

#[test]
fn round_trip_yaml() {
    round_trip(
        Format::Yaml,
        &[
            "feel: mood*",
            "feel.good: happy, joy*, glob:colo?r, Higher Power, 12-step*",
            "feel.bad: sad, glob:*ness",
        ],
        &with(&[
            "lost feel/: label `Feelings`",
            "lost feel.good/: label `Good`",
            "lost feel.good/joy*: weight 2",
        ]),
        Semantics::Themes,
    );
}

#[test]
fn round_trip_cat() {
    round_trip(
        Format::Cat,
        &[
            "feel: mood*",
            "feel.good: happy, joy*×2, glob:colo?r, Higher Power, 12-step*",
            "feel.bad: sad, glob:*ness",
        ],
        &with(&[
            "lost feel/: label `Feelings`",
            "lost feel.good/: label `Good`",
        ]),
        Semantics::Themes,
    );
}

#[test]
fn every_fixture_round_trips_through_every_format() {
    let tk = Tokenizer::default_pipeline();
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        let Some(from) = Format::from_path(&path) else {
            continue;
        };
        let (lex, _, _) = load(path.file_name().unwrap().to_str().unwrap());
        for to in Format::ALL {
            let w = convert::write(&lex, to, &tk);
            let mut d = Diagnostics::new("x");
            let (back, _) =
                lexicon::parse_format(to, Some(Path::new("x")), w.text.as_bytes(), &tk, &mut d);
            let back = back.unwrap_or_else(|| {
                panic!("{from:?} {path:?} -> {to:?}: {:#?}\n{}", d.items(), w.text)
            });
            // Every theme and term survives unless the report says so.
            if !convert::any_lost(&w.losses) {
                let keys = |l: &Lexicon| -> Vec<(String, Vec<Vec<String>>)> {
                    l.themes
                        .iter()
                        .map(|t| {
                            (
                                t.id.clone(),
                                t.terms
                                    .iter()
                                    .map(|x| convert::pattern_key(&x.pattern))
                                    .collect(),
                            )
                        })
                        .collect()
                };
                assert_eq!(keys(&back), keys(&lex), "{path:?} -> {to:?}\n{}", w.text);
            }
        }
    }
}

// ---- the command ----

fn thematic(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_thematic"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn convert_command_reports_losses_and_strict_fails() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rich.toml");
    std::fs::write(&src, RICH).unwrap();
    let out = dir.path().join("rich.dic");
    let o = thematic(&[
        "lexicon",
        "convert",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "rich.dic: lost: theme `feel.good`: term `joy*`: weight 2 (a .dic has no weights)"
        ),
        "{err}"
    );
    assert!(err.contains("(LIWC .dic): 8 lost, 0 changed"), "{err}");
    let o = thematic(&["lexicon", "check", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok: 3 theme(s), 8 term(s)"));

    let strict = dir.path().join("strict.yml");
    let o = thematic(&[
        "lexicon",
        "convert",
        "--strict",
        src.to_str().unwrap(),
        strict.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!strict.exists());

    let o = thematic(&[
        "lexicon",
        "convert",
        out.to_str().unwrap(),
        "-",
        "--to",
        "yaml",
    ]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("\"feel\":\n  \"__\":\n    - \"mood*\"")
    );
    let o = thematic(&["lexicon", "convert", out.to_str().unwrap(), "-"]);
    assert_eq!(o.status.code(), Some(2));

    let o = thematic(&[
        "lexicon",
        "check",
        "--strict",
        fixture("dic_conditionals.dic").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = thematic(&[
        "lexicon",
        "check",
        "--strict",
        fixture("dic_odd_names.dic").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "changed items are not losses");
}

// ---- no panic on any input ----

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the readers.
const INTERESTING: &[u8] = b"%\t\n\r ()<>*?.,:\"'-_@#X0123456789[]{}&!|>~";

/// A mutation of `seed`: byte flips, inserted special bytes, cut and
/// duplicated ranges, or plain random bytes.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    if rng.below(10) == 0 {
        return (0..rng.below(300)).map(|_| rng.next() as u8).collect();
    }
    for _ in 0..1 + rng.below(8) {
        let len = v.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(len + 1);
                v.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(16)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(32)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            4 => {
                let i = rng.below(len + 1);
                let c =
                    ['é', '\u{feff}', '\u{2028}', 'ß', 'İ', '\u{16A0}', '\u{301}'][rng.below(7)];
                let mut buf = [0u8; 4];
                v.splice(i..i, c.encode_utf8(&mut buf).bytes());
            }
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(40);
                v.splice(i..i, std::iter::repeat_n(INTERESTING[rng.below(8)], n));
            }
        }
    }
    v
}

/// Run every reader over mutations of the fixtures for `iterations`
/// rounds or until `deadline`; returns the number of inputs tried. A
/// reader that panics fails the test with the input in the message.
pub fn fuzz_readers(seed: u64, iterations: u64, deadline: Option<std::time::Instant>) -> u64 {
    let tk = Tokenizer::default_pipeline();
    let mut seeds: Vec<(Format, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        if let Some(f) = Format::from_path(&path) {
            seeds.push((f, std::fs::read(&path).unwrap()));
        }
    }
    seeds.push((Format::Toml, RICH.as_bytes().to_vec()));
    seeds.sort_by(|a, b| a.1.cmp(&b.1));
    let mut rng = Rng(seed | 1);
    let mut n = 0;
    while n < iterations && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        let (_, base) = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base);
        for format in [Format::Dic, Format::Dicx, Format::Yaml, Format::Cat] {
            let result = std::panic::catch_unwind(|| convert::fuzz_round_trip(format, &input, &tk));
            if result.is_err() {
                panic!(
                    "{format:?} reader panicked on {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
        n += 1;
    }
    n
}

#[test]
fn readers_survive_mutated_input() {
    fuzz_readers(0x5eed, 1500, None);
}

/// The long run recorded in docs/FUZZING.md:
/// `THEMATIC_FUZZ_SECS=300 cargo test --release --test integration -- --ignored fuzz_readers_for_a_while --nocapture`.
#[test]
#[ignore]
fn fuzz_readers_for_a_while() {
    let secs: u64 = std::env::var("THEMATIC_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("THEMATIC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let n = fuzz_readers(seed, u64::MAX, Some(deadline));
    eprintln!("fuzz_readers: {n} inputs × 4 readers in {secs}s (seed {seed}), no panic");
}

#[test]
fn deep_or_hostile_input_is_an_error_not_a_crash() {
    let tk = Tokenizer::default_pipeline();
    let deep_block = format!("a:\n{}x\n", "- ".repeat(50_000));
    let deep_flow = format!("a: {}", "[".repeat(10_000));
    let deep_map: String = (0..2_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let laughs = "a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b, *b]\n";
    for src in [
        deep_block.as_str(),
        deep_flow.as_str(),
        deep_map.as_str(),
        laughs,
    ] {
        let mut d = Diagnostics::new("x.yml");
        let _ = lexicon::parse_format(Format::Yaml, None, src.as_bytes(), &tk, &mut d);
    }
    let long_line = format!("%\n1\tx\n%\n{}\t1\n", "a".repeat(200_000));
    let mut d = Diagnostics::new("x.dic");
    let _ = lexicon::parse_format(Format::Dic, None, long_line.as_bytes(), &tk, &mut d);
    let deep_cat: String = (0..3_000)
        .map(|i| format!("{}C{i}\n", "\t".repeat(i)))
        .collect();
    let mut d = Diagnostics::new("x.cat");
    let _ = lexicon::parse_format(Format::Cat, None, deep_cat.as_bytes(), &tk, &mut d);
}
