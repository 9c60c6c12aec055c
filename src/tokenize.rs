//! Tokenization: text in, lowercase word tokens with byte offsets out.
//!
//! This module owns DESIGN 3.1: the default pipeline (NFKC, Unicode
//! lowercase, curly apostrophes to `'`, then a `Split` on the word regex),
//! its native fast path, and user-supplied `tokenizer.json` pipelines run
//! through the `tokenizers` crate. It does not know about lexicons, breaks
//! or matching; the matcher reads the gaps between tokens itself.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokenizers::normalizers::{Lowercase, NFKC, NormalizerWrapper, Replace, Sequence};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::utils::SysRegex;
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    SplitDelimiterBehavior,
};
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The word regex of the default pre-tokenizer (DESIGN 3.1): a letter or
/// digit, then letters, digits and marks, joined by inner apostrophes.
pub const WORD_PATTERN: &str =
    r"[\p{Alphabetic}\p{N}][\p{Alphabetic}\p{N}\p{M}]*(?:'[\p{Alphabetic}\p{N}\p{M}]+)*";

/// The apostrophes the default normalizer replaces by `'`, in order.
pub const APOSTROPHES: [char; 3] = ['\u{2019}', '\u{2018}', '\u{02BC}'];

/// An error loading a user-supplied `tokenizer.json`.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read.
    #[error("failed to read tokenizer file {}", path.display())]
    Read {
        /// The file that was read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON is not a tokenizer the `tokenizers` crate accepts.
    #[error("invalid tokenizer file {}: {message}", display_origin(path))]
    Parse {
        /// The file, or `None` when the JSON came from a string.
        path: Option<PathBuf>,
        /// What the `tokenizers` crate reported.
        message: String,
    },
    /// The pipeline loaded but failed when run on a probe text.
    #[error(
        "tokenizer file {} fails on a probe text: {message}",
        display_origin(path)
    )]
    Run {
        /// The file, or `None` when the JSON came from a string.
        path: Option<PathBuf>,
        /// What the `tokenizers` crate reported.
        message: String,
    },
}

fn display_origin(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "<string>".to_string(),
    }
}

/// A text-to-tokens pipeline: the default one of DESIGN 3.1 (with its native
/// fast path) or a user-supplied `tokenizer.json` (always run by the crate).
///
/// It is `Send + Sync` and cheap to share by reference across threads; all
/// per-text state lives in the caller's [`Tokens`].
#[derive(Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// True only for [`Tokenizer::default_pipeline`]: enables the fast path.
    default: bool,
    /// Serialized once at construction so [`Tokenizer::to_json`] cannot fail.
    json_compact: String,
    json_pretty: String,
}

impl Tokenizer {
    /// The default pipeline of DESIGN 3.1, as a real `tokenizers` pipeline
    /// (normalizer and pre-tokenizer on an empty `WordLevel` model, which is
    /// never used), with the native fast path enabled.
    pub fn default_pipeline() -> Tokenizer {
        // The inputs are constants, so failures here are programming errors
        // caught by every test that builds the default pipeline.
        let mut normalizers: Vec<NormalizerWrapper> = vec![NFKC.into(), Lowercase.into()];
        for a in APOSTROPHES {
            let replace = Replace::new(a.to_string(), "'").expect("a literal pattern compiles");
            normalizers.push(replace.into());
        }
        let split = Split::new(
            SplitPattern::Regex(WORD_PATTERN.to_string()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .expect("the word regex compiles in oniguruma");
        let mut inner =
            tokenizers::Tokenizer::new(tokenizers::models::wordlevel::WordLevel::default());
        inner
            .with_normalizer(Some(Sequence::new(normalizers)))
            .expect("no added tokens to renormalize");
        inner.with_pre_tokenizer(Some(PreTokenizerWrapper::Split(split)));
        Tokenizer::from_inner(inner, true, None).expect("the default pipeline serializes and runs")
    }

    /// Load a user-supplied `tokenizer.json`. Only its normalizer and
    /// pre-tokenizer are used; it always runs through the `tokenizers` crate.
    pub fn from_json_file(path: &Path) -> Result<Tokenizer, TokenizerError> {
        let json = std::fs::read_to_string(path).map_err(|source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Tokenizer::parse(&json, Some(path))
    }

    /// Like [`Tokenizer::from_json_file`], from the JSON text itself.
    pub fn from_json_str(json: &str) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::parse(json, None)
    }

    fn parse(json: &str, path: Option<&Path>) -> Result<Tokenizer, TokenizerError> {
        let inner: tokenizers::Tokenizer =
            json.parse()
                .map_err(|e: tokenizers::Error| TokenizerError::Parse {
                    path: path.map(Path::to_path_buf),
                    message: e.to_string(),
                })?;
        Tokenizer::from_inner(inner, false, path)
    }

    fn from_inner(
        inner: tokenizers::Tokenizer,
        default: bool,
        path: Option<&Path>,
    ) -> Result<Tokenizer, TokenizerError> {
        let parse_err = |e: tokenizers::Error| TokenizerError::Parse {
            path: path.map(Path::to_path_buf),
            message: e.to_string(),
        };
        let json_compact = inner.to_string(false).map_err(parse_err)?;
        let json_pretty = inner.to_string(true).map_err(parse_err)?;
        let tokenizer = Tokenizer {
            inner,
            default,
            json_compact,
            json_pretty,
        };
        // The crate's normalizers and pre-tokenizers only fail at run time on
        // conditions that do not depend on the text (see `crate_path`), so one
        // probe run at load time turns such a failure into a load error.
        let mut probe = Tokens::new();
        tokenizer
            .crate_path(
                "Probe: Don’t ﬁnd ＡＢＣ e\u{301} 12-step 😀 日本語.",
                &mut probe,
            )
            .map_err(|e| TokenizerError::Run {
                path: path.map(Path::to_path_buf),
                message: e.to_string(),
            })?;
        Ok(tokenizer)
    }

    /// True for [`Tokenizer::default_pipeline`], the only pipeline with the
    /// native fast path. A `tokenizer.json` equal to the default's is still
    /// run by the crate: the fast path is tied to the code, not to the JSON.
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// The `tokenizer.json` of this pipeline (the crate's serialization).
    pub fn to_json(&self, pretty: bool) -> String {
        if pretty {
            self.json_pretty.clone()
        } else {
            self.json_compact.clone()
        }
    }

    /// Tokenize `text` into `out` (cleared first): each token's normalized
    /// text and its byte range in `text`, exactly as the `tokenizers` crate
    /// reports them. The default pipeline uses the native fast path, falling
    /// back to the crate for a text with any character it does not handle.
    pub fn tokenize(&self, text: &str, out: &mut Tokens) {
        if !self.tokenize_native(text, out) {
            self.tokenize_with_crate(text, out);
        }
    }

    /// Tokenize through the `tokenizers` crate only (the reference the fast
    /// path is tested against).
    pub fn tokenize_with_crate(&self, text: &str, out: &mut Tokens) {
        // `from_inner` ran the pipeline once; the crate's run-time errors do
        // not depend on the text, so this cannot fail for a loaded pipeline.
        // Should it ever, `out` is left empty rather than half filled.
        if self.crate_path(text, out).is_err() {
            out.clear();
        }
    }

    /// Run only the native fast path. Returns false, with `out` in an
    /// unspecified state, when this is not the default pipeline or `text`
    /// holds a character the fast path does not handle (see
    /// [`fast_path_handles`]); [`Tokenizer::tokenize`] then uses the crate.
    /// Public for the differential tests and the fuzz target.
    pub fn tokenize_native(&self, text: &str, out: &mut Tokens) -> bool {
        out.clear();
        self.default && native_tokenize(text, out)
    }

    fn crate_path(&self, text: &str, out: &mut Tokens) -> tokenizers::Result<()> {
        out.clear();
        let mut normalized = NormalizedString::from(text);
        if let Some(n) = self.inner.get_normalizer() {
            n.normalize(&mut normalized)?;
        }
        let mut pre = PreTokenizedString::from(normalized);
        if let Some(p) = self.inner.get_pre_tokenizer() {
            p.pre_tokenize(&mut pre)?;
        }
        for (norm, (start, end), _) in pre.get_splits(OffsetReferential::Original, OffsetType::Byte)
        {
            out.push(norm, start, end);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Native fast path.
//
// The default pipeline is NFKC, then per-char lowercase, then the apostrophe
// replacement, then the word regex over the result. The fast path handles a
// text only when every character is "simple": then NFKC leaves the text
// unchanged and every step maps one original char to one normalized char, so
// each token's original range is the range of its first to its last char,
// which is what the crate's alignments give.
//
// A char c is simple when all of these hold:
// - NFKC quick check (unicode-normalization) is Yes: NFKC does not map it;
//   or it is a pure separator NFKC maps only to separators (NBSP, `…`,
//   full-width punctuation; see `classify_separator`);
// - a char with a nonzero canonical combining class (a combining mark such
//   as a virama or an Arabic vowel sign) is simple too, but the scanner
//   checks, where it meets one, that the previous char's class is not
//   greater (else NFKC would reorder them: fallback). This is UAX #15's
//   quick-check algorithm: a text whose chars are all NFKC_QC=Yes and whose
//   marks are in canonical order is already NFKC, since only
//   NFKC_QC=Maybe chars can compose with a preceding char. (ccc values are
//   stable across Unicode versions, so the crate's older tables agree.)
// - `char::to_lowercase` yields exactly one char n (the crate uses the same
//   std function, so the two agree by construction);
// - n's class under the word regex (letter-or-digit, mark, or neither) is
//   known: it is computed once with the crate's own regex engine (onig),
//   over planes 0-3 and 14; chars elsewhere (unassigned planes, private use)
//   are treated as not simple;
// - ASCII chars are all simple and classified by a byte table.
// The apostrophes U+2019, U+2018 and U+02BC are simple and map to `'`.
// Any other char sends the whole text to the crate, which is exact.
// The exhaustive test in tests/integration/tokenizer.rs checks every Unicode
// scalar value against the crate; the crate's NFKC tables (from
// unicode-normalization-alignments) are older than ours, which is safe
// because NFKC mappings are stable and newer-only marks have ccc > 0 here.
// ---------------------------------------------------------------------------

/// Entry bits of the per-codepoint table.
const SIMPLE: u8 = 1;
/// The normalized char is `\p{Alphabetic}` or `\p{N}`: it can start a token.
const START: u8 = 2;
/// The normalized char is `\p{M}` but not START: it only continues a token.
const MARK: u8 = 4;
/// Lowercase changes the char (look it up with `char::to_lowercase`).
const LOWER: u8 = 8;
/// The char is one of [`APOSTROPHES`]: it becomes `'`.
const APOS: u8 = 16;
/// The char's canonical combining class is not 0: check canonical order.
const CCC: u8 = 32;

/// Codepoints below this, and in `PLANE14`, are classified; others are not simple.
const CLASSIFIED_END: u32 = 0x4_0000;
const PLANE14: std::ops::Range<u32> = 0xE_0000..0xE_1000;
const BLOCK: usize = 256;
const N_BLOCKS: usize = 0x11_0000 / BLOCK;

/// A lazily filled per-codepoint table: a block of 256 entries is computed
/// the first time a char of that block is looked up. Building the whole
/// table up front cost about 60 ms per process (too much for a 44-answer
/// run); texts use few blocks, and each costs microseconds.
struct LazyTable {
    blocks: Box<[OnceLock<Box<[u8; BLOCK]>>]>,
}

impl LazyTable {
    fn new() -> LazyTable {
        LazyTable {
            blocks: (0..N_BLOCKS).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn get(&self, cp: u32, fill: fn(usize) -> Box<[u8; BLOCK]>) -> u8 {
        let cp = cp as usize;
        self.blocks[cp / BLOCK].get_or_init(|| fill(cp / BLOCK))[cp % BLOCK]
    }
}

/// The fast-path entry (SIMPLE, START, … bits) of every char.
struct CharTable {
    entries: LazyTable,
}

impl CharTable {
    #[inline]
    fn get(&self, c: char) -> u8 {
        self.entries.get(c as u32, entry_block)
    }
}

fn char_table() -> &'static CharTable {
    static TABLE: OnceLock<CharTable> = OnceLock::new();
    TABLE.get_or_init(|| CharTable {
        entries: LazyTable::new(),
    })
}

fn entry_block(block: usize) -> Box<[u8; BLOCK]> {
    let mut out = Box::new([0u8; BLOCK]);
    for (i, e) in out.iter_mut().enumerate() {
        if let Some(c) = char::from_u32((block * BLOCK + i) as u32) {
            *e = classify(c);
        }
    }
    out
}

/// The word-regex class (START / MARK bits) of a codepoint, computed with
/// the crate's regex engine so that it agrees with the pre-tokenizer by
/// construction; 0 outside the classified planes.
fn regex_class(cp: u32) -> u8 {
    static CLASSES: OnceLock<LazyTable> = OnceLock::new();
    if !(cp < CLASSIFIED_END || PLANE14.contains(&cp)) {
        return 0;
    }
    CLASSES.get_or_init(LazyTable::new).get(cp, class_block)
}

fn class_block(block: usize) -> Box<[u8; BLOCK]> {
    let mut classes = Box::new([0u8; BLOCK]);
    let base = block * BLOCK;
    let mut all = String::with_capacity(4 * BLOCK);
    for cp in base..base + BLOCK {
        if let Some(c) = char::from_u32(cp as u32) {
            all.push(c);
        }
    }
    let mut mark = |pattern: &str, bit: u8| {
        let re = SysRegex::new(pattern).expect("class regex compiles in oniguruma");
        for (s, e) in re.find_iter(&all) {
            for c in all[s..e].chars() {
                classes[c as usize - base] |= bit;
            }
        }
    };
    mark(r"[\p{Alphabetic}\p{N}]+", START);
    mark(r"\p{M}+", MARK);
    classes
}

fn classify(c: char) -> u8 {
    let cp = c as u32;
    if c.is_ascii() {
        let class = if c.is_ascii_alphanumeric() { START } else { 0 };
        return SIMPLE | class | if c.is_ascii_uppercase() { LOWER } else { 0 };
    }
    if APOSTROPHES.contains(&c) {
        return SIMPLE | APOS;
    }
    if !(cp < CLASSIFIED_END || PLANE14.contains(&cp)) {
        return 0;
    }
    match is_nfkc_quick(std::iter::once(c)) {
        IsNormalized::Yes => {}
        IsNormalized::No => return classify_separator(c),
        IsNormalized::Maybe => return 0,
    }
    let ccc = if canonical_combining_class(c) != 0 {
        CCC
    } else {
        0
    };
    let mut lower = c.to_lowercase();
    let (Some(n), None) = (lower.next(), lower.next()) else {
        return 0;
    };
    let ncp = n as u32;
    if APOSTROPHES.contains(&n) || !(ncp < CLASSIFIED_END || PLANE14.contains(&ncp)) {
        // No such char today; refuse rather than guess if one appears.
        return 0;
    }
    let class = regex_class(ncp);
    let class = if class & START != 0 { START } else { class };
    SIMPLE | ccc | class | if n != c { LOWER } else { 0 }
}

/// A char NFKC changes (NBSP, `…`, full-width `！`) is still simple when
/// it is a pure separator: it and everything NFKC makes of it are starters
/// (ccc 0) that are neither word chars nor apostrophes, so it can only sit
/// between tokens, and the crate's alignments of the chars around it stay
/// one-to-one. NFKC_QC=Maybe chars are excluded (they compose with the char
/// before them).
fn classify_separator(c: char) -> u8 {
    let is_separator = |n: char| {
        let ncp = n as u32;
        (ncp < CLASSIFIED_END || PLANE14.contains(&ncp))
            && regex_class(ncp) & (START | MARK) == 0
            && canonical_combining_class(n) == 0
            && n != '\''
            && !APOSTROPHES.contains(&n)
            && n.to_lowercase().eq(std::iter::once(n))
    };
    if is_separator(c) && std::iter::once(c).nfkc().all(is_separator) {
        SIMPLE
    } else {
        0
    }
}

/// Whether the native fast path handles `c`; a text with any other char is
/// tokenized by the crate instead. Such "simple" chars are:
///
/// - ASCII;
/// - the apostrophes U+2019, U+2018 and U+02BC (they become `'`);
/// - chars in planes 0-3 and 14 with NFKC quick check Yes whose
///   `char::to_lowercase` is one char; combining marks (nonzero canonical
///   combining class) included, but the fast path still falls back when a
///   mark follows a char of higher class (NFKC would reorder them);
/// - pure separators NFKC maps only to non-word, non-apostrophe starters
///   (NBSP, `…`, full-width `！`).
///
/// Their word-regex classes come from the crate's own regex engine, and
/// the integration tests check every scalar value against the crate.
pub fn fast_path_handles(c: char) -> bool {
    char_table().get(c) & SIMPLE != 0
}

/// ASCII letters and digits: the only ASCII chars a token is made of.
const ASCII_WORD: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

#[inline]
fn is_ascii_word(b: u8) -> bool {
    b < 0x80 && ASCII_WORD[b as usize]
}

/// Decode the char starting at byte `i` of `text` (a char boundary).
#[inline]
fn char_at(text: &str, i: usize) -> char {
    text[i..]
        .chars()
        .next()
        .expect("i is a char boundary before the end")
}

/// What the char at `i` is, for the token scanner.
enum Next {
    /// Letter, digit or mark (per `START`/`MARK`), with its byte length.
    Word { c: char, entry: u8, len: usize },
    /// An apostrophe (ASCII or one of [`APOSTROPHES`]), with its byte length.
    Apostrophe(usize),
    /// Anything else that is simple.
    Other(usize),
    /// Not simple: the whole text goes to the crate.
    Unsupported,
}

#[inline]
fn next_at(text: &str, i: usize, table: &CharTable) -> Next {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return if ASCII_WORD[b as usize] {
            Next::Word {
                c: b as char,
                entry: SIMPLE | START | if b.is_ascii_uppercase() { LOWER } else { 0 },
                len: 1,
            }
        } else if b == b'\'' {
            Next::Apostrophe(1)
        } else {
            Next::Other(1)
        };
    }
    let c = char_at(text, i);
    let entry = table.get(c);
    let len = c.len_utf8();
    if entry & SIMPLE == 0 || (entry & CCC != 0 && !in_canonical_order(text, i, c)) {
        Next::Unsupported
    } else if entry & APOS != 0 {
        Next::Apostrophe(len)
    } else if entry & (START | MARK) != 0 {
        Next::Word { c, entry, len }
    } else {
        Next::Other(len)
    }
}

/// Whether the mark `c` at byte `i` is in canonical order after the char
/// before it (which the scanner has already accepted as simple).
fn in_canonical_order(text: &str, i: usize, c: char) -> bool {
    match text[..i].chars().next_back() {
        Some(prev) => canonical_combining_class(prev) <= canonical_combining_class(c),
        None => true,
    }
}

#[inline]
fn push_norm(out: &mut Vec<u8>, c: char, entry: u8) {
    let mut buf = [0u8; 4];
    if entry & LOWER == 0 {
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    } else {
        // SIMPLE guarantees exactly one lowercase char.
        for l in c.to_lowercase() {
            out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Append the run of ASCII letters and digits at `i`, lowercased; return
/// the index after it. `| 0x20` lowercases a letter and leaves a digit
/// as it is (digits have that bit set), so the copy needs no branch.
///
/// Eight bytes at a time: which of them are word bytes is worked out
/// arithmetically ([`ascii_word_bytes`]), all eight are appended
/// lowercased and the buffer is cut back to the run, so a run's end costs
/// no mispredicted branch (the byte loop's exit was the tokenizer's most
/// expensive instruction).
#[inline]
fn push_ascii_run(bytes: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    while let Some(x) = eight_bytes_at(bytes, i) {
        let run = (!ascii_word_bytes(x) & HIGH_BITS).trailing_zeros() as usize / 8;
        let len = out.len();
        out.extend_from_slice(&(x | bytes_of(0x20)).to_le_bytes());
        out.truncate(len + run);
        i += run;
        if run < 8 {
            return i;
        }
    }
    let run = bytes[i..]
        .iter()
        .position(|&b| !is_ascii_word(b))
        .unwrap_or(bytes.len() - i);
    out.extend(bytes[i..i + run].iter().map(|&b| b | 0x20));
    i + run
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i` as a little-endian word (byte `i` lowest), when
/// there are eight.
#[inline]
pub(crate) fn eight_bytes_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk = bytes.get(i..i + 8)?;
    Some(u64::from_le_bytes(chunk.try_into().expect("eight bytes")))
}

/// `b` in every byte of a word.
const fn bytes_of(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `x` (little-endian) set when that byte is
/// an ASCII letter or digit. With the high bits cleared first, adding a
/// constant to a byte cannot carry into the next one, so each byte's
/// range tests are the high bit of one addition.
#[inline]
fn ascii_word_bytes(x: u64) -> u64 {
    let y = x & !HIGH_BITS;
    // High bit set iff the byte is >= lo, resp. > hi.
    let at_least = |lo: u8| y + bytes_of(0x80 - lo);
    let above = |hi: u8| y + bytes_of(0x7f - hi);
    let digit = at_least(b'0') & !above(b'9');
    let upper = at_least(b'A') & !above(b'Z');
    let lower = at_least(b'a') & !above(b'z');
    (digit | upper | lower) & !x & HIGH_BITS
}

/// The fast path proper. Returns false as soon as a char is not simple.
fn native_tokenize(text: &str, out: &mut Tokens) -> bool {
    let bytes = text.as_bytes();
    let table = char_table();
    let norm = &mut out.normalized;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            // Skip to a token start: ASCII separators eight at a time while
            // there are eight bytes, else one by one. An ASCII word char
            // starts a token with no decoding.
            if !ASCII_WORD[b as usize] {
                i += match eight_bytes_at(bytes, i) {
                    Some(x) => {
                        let stop = ascii_word_bytes(x) | (x & HIGH_BITS);
                        (stop.trailing_zeros() / 8) as usize
                    }
                    None => 1,
                };
                continue;
            }
        } else {
            match next_at(text, i, table) {
                Next::Word { entry, len, .. } if entry & START == 0 => {
                    // A mark cannot start a token.
                    i += len;
                    continue;
                }
                Next::Word { .. } => {}
                Next::Apostrophe(len) | Next::Other(len) => {
                    i += len;
                    continue;
                }
                Next::Unsupported => return false,
            }
        }
        let start = i;
        let norm_start = norm.len();
        // Letters, digits and marks; then `'` + at least one more of them.
        loop {
            // The run of word chars.
            loop {
                if i < bytes.len() && is_ascii_word(bytes[i]) {
                    i = push_ascii_run(bytes, i, norm);
                    continue;
                }
                if i >= bytes.len() || bytes[i] < 0x80 {
                    break;
                }
                match next_at(text, i, table) {
                    Next::Word { c, entry, len } => {
                        push_norm(norm, c, entry);
                        i += len;
                    }
                    Next::Unsupported => return false,
                    _ => break,
                }
            }
            // An inner apostrophe joins only when a word char follows it.
            // Most tokens end at an ASCII separator: no need to decode it.
            if i >= bytes.len() || (bytes[i] < 0x80 && bytes[i] != b'\'') {
                break;
            }
            let Next::Apostrophe(alen) = next_at(text, i, table) else {
                break;
            };
            if i + alen >= bytes.len() {
                break;
            }
            match next_at(text, i + alen, table) {
                Next::Word { .. } => {
                    norm.push(b'\'');
                    i += alen;
                }
                Next::Unsupported => return false,
                _ => break,
            }
        }
        out.tokens.push(Token {
            start,
            end: i,
            norm_start,
            norm_end: norm.len(),
        });
    }
    true
}

/// One token: where it sits in the original text and in the normalized buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte offset of the token's start in the original text.
    pub start: usize,
    /// Byte offset just past the token's end in the original text.
    pub end: usize,
    /// Start of the token's normalized form in [`Tokens::normalized`].
    pub norm_start: usize,
    /// End of the token's normalized form in [`Tokens::normalized`].
    pub norm_end: usize,
}

/// A reusable buffer of tokens for one text. Reuse it across texts so the
/// hot path allocates nothing per token.
///
/// The normalized text is kept as bytes (the fast path appends ASCII runs
/// without a `str` check) and only ever receives whole UTF-8 chars.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    normalized: Vec<u8>,
    tokens: Vec<Token>,
}

impl Tokens {
    /// An empty buffer.
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// Forget every token, keeping the allocations.
    pub fn clear(&mut self) {
        self.normalized.clear();
        self.tokens.clear();
    }

    /// Append a token whose normalized text is `norm` and whose original
    /// byte range is `start..end`.
    pub fn push(&mut self, norm: &str, start: usize, end: usize) {
        let norm_start = self.normalized.len();
        self.normalized.extend_from_slice(norm.as_bytes());
        self.tokens.push(Token {
            start,
            end,
            norm_start,
            norm_end: self.normalized.len(),
        });
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The i-th token.
    pub fn token(&self, i: usize) -> Token {
        self.tokens[i]
    }

    /// All tokens in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The normalized (lowercase) text of the i-th token.
    pub fn text(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        as_str(&self.normalized[t.norm_start..t.norm_end])
    }

    /// The concatenated normalized text of all tokens.
    pub fn normalized(&self) -> &str {
        as_str(&self.normalized)
    }

    /// The bytes of [`Tokens::normalized`], with no UTF-8 check.
    pub fn normalized_bytes(&self) -> &[u8] {
        &self.normalized
    }

    /// Iterate over `(token, normalized text)`.
    pub fn iter(&self) -> impl Iterator<Item = (Token, &str)> + '_ {
        self.tokens
            .iter()
            .map(move |t| (*t, as_str(&self.normalized[t.norm_start..t.norm_end])))
    }
}

/// Normalized bytes as text: every token pushes whole UTF-8 chars, so this
/// only fails on a bug.
#[inline]
fn as_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("tokens hold whole UTF-8 chars")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens as `(normalized, start, end)` for readable tables.
    fn run(tokenizer: &Tokenizer, text: &str) -> Vec<(String, usize, usize)> {
        let mut out = Tokens::new();
        tokenizer.tokenize(text, &mut out);
        out.iter()
            .map(|(t, n)| (n.to_string(), t.start, t.end))
            .collect()
    }

    fn crate_run(tokenizer: &Tokenizer, text: &str) -> Vec<(String, usize, usize)> {
        let mut out = Tokens::new();
        tokenizer.tokenize_with_crate(text, &mut out);
        out.iter()
            .map(|(t, n)| (n.to_string(), t.start, t.end))
            .collect()
    }

    /// (text, does the fast path handle it, expected tokens). Offsets were
    /// counted by hand from the UTF-8 lengths noted in each comment.
    /// An expected token: normalized text, original start and end.
    type Expected = (&'static str, usize, usize);

    const CASES: &[(&str, bool, &[Expected])] = &[
        ("Hello, World!", true, &[("hello", 0, 5), ("world", 7, 12)]),
        ("", true, &[]),
        ("  ...  ", true, &[]),
        ("abc123 4x4", true, &[("abc123", 0, 6), ("4x4", 7, 10)]),
        // Hyphens split: `12-step` is the phrase `12 step`.
        ("12-step", true, &[("12", 0, 2), ("step", 3, 7)]),
        // U+2019 is 3 bytes: D o n ’ t = 1+1+1+3+1.
        ("Don’t", true, &[("don't", 0, 7)]),
        // U+02BC is 2 bytes; U+2018 and U+2019 are 3.
        ("donʼt ‘x’", true, &[("don't", 0, 6), ("x", 10, 11)]),
        // Edge apostrophes drop, inner ones join; `''` does not join.
        (
            "'tis dogs' o'clock' a''b",
            true,
            &[
                ("tis", 1, 4),
                ("dogs", 5, 9),
                ("o'clock", 11, 18),
                ("a", 20, 21),
                ("b", 23, 24),
            ],
        ),
        // Ligature U+FB01 (3 bytes) becomes `fi`, both mapped to its range.
        ("ﬁnd", false, &[("find", 0, 5)]),
        // Full-width letters are 3 bytes each.
        ("ＡＢＣ", false, &[("abc", 0, 9)]),
        // NFKC composes e + U+0301 into é and the crate maps é to the `e`
        // only, so the token ends before the accent (DESIGN 3.1: keep that).
        ("cafe\u{301} x", false, &[("café", 0, 4), ("x", 7, 8)]),
        // Composed é (2 bytes) is simple.
        ("Café", true, &[("café", 0, 5)]),
        // Emoji are dropped; U+2764 U+FE0F is 3+3 bytes.
        ("I ❤\u{fe0f} it 😀!", true, &[("i", 0, 1), ("it", 9, 11)]),
        // A variation selector (a mark) after a letter stays in the token.
        ("a\u{fe0f}b", true, &[("a\u{fe0f}b", 0, 5)]),
        // A mark cannot start a token.
        ("\u{fe0f}ab", true, &[("ab", 3, 5)]),
        ("日本語です", true, &[("日本語です", 0, 15)]),
        // Devanagari: the virama U+094D (ccc 9) and vowel signs are marks.
        ("नमस्ते दुनिया", true, &[("नमस्ते", 0, 18), ("दुनिया", 19, 37)]),
        (
            "مرحبا بالعالم",
            true,
            &[("مرحبا", 0, 10), ("بالعالم", 11, 25)],
        ),
        ("שלום עולם", true, &[("שלום", 0, 8), ("עולם", 9, 17)]),
        // NBSP (2 bytes) and U+2028 (3 bytes) separate; NBSP and `…`
        // (3 bytes) are NFKC separators the fast path handles.
        (
            "a\u{a0}b\u{2028}c\td\r\ne",
            true,
            &[
                ("a", 0, 1),
                ("b", 3, 4),
                ("c", 7, 8),
                ("d", 9, 10),
                ("e", 12, 13),
            ],
        ),
        (
            "a\u{2028}b\r\nc",
            true,
            &[("a", 0, 1), ("b", 4, 5), ("c", 7, 8)],
        ),
        // İ lowercases to i + U+0307: two chars, so the crate handles it.
        ("İstanbul", false, &[("i\u{307}stanbul", 0, 9)]),
        // Greek capitals lowercase to one char each (2 bytes).
        ("ΣΑΣ", true, &[("σασ", 0, 6)]),
        // Marks out of canonical order (ccc 230 then 220): NFKC reorders
        // them, then composes a + U+0301 (no longer blocked) into á.
        ("a\u{301}\u{316}", false, &[("á\u{316}", 0, 5)]),
        // The same marks in canonical order compose too: not simple.
        ("a\u{316}\u{301}", false, &[("á\u{316}", 0, 5)]),
        // Marks that never compose, in order (Hebrew points, ccc 17, 18).
        ("ש\u{5b1}\u{5b2}", true, &[("ש\u{5b1}\u{5b2}", 0, 6)]),
    ];

    /// The eight-byte classifier against `is_ascii_word`, on every byte
    /// value in every position (the other bytes random).
    #[test]
    fn ascii_word_bytes_equals_the_byte_test() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for b in 0..=255u8 {
            for pos in 0..8 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut bytes = state.to_le_bytes();
                bytes[pos] = b;
                let got = ascii_word_bytes(u64::from_le_bytes(bytes));
                for (k, &c) in bytes.iter().enumerate() {
                    let bit = got >> (8 * k + 7) & 1 == 1;
                    assert_eq!(bit, is_ascii_word(c), "byte {c:#x} at {k}");
                }
                assert_eq!(got & !HIGH_BITS, 0);
            }
        }
    }

    #[test]
    fn default_pipeline_table() {
        let tokenizer = Tokenizer::default_pipeline();
        for (text, native, expected) in CASES {
            let expected: Vec<_> = expected
                .iter()
                .map(|(n, s, e)| (n.to_string(), *s, *e))
                .collect();
            assert_eq!(run(&tokenizer, text), expected, "tokens of {text:?}");
            assert_eq!(crate_run(&tokenizer, text), expected, "crate on {text:?}");
            let mut out = Tokens::new();
            assert_eq!(
                tokenizer.tokenize_native(text, &mut out),
                *native,
                "fast path taken for {text:?}"
            );
        }
    }

    #[test]
    fn fast_path_char_rule() {
        for c in [
            'a', 'Z', '7', ' ', 'é', 'Σ', '日', '\u{2019}', '\u{094D}', '😀',
        ] {
            assert!(fast_path_handles(c), "{c:?} should be simple");
        }
        // Ligature, full width, two-char lowercase, composing mark,
        // full-width apostrophe, diaeresis (NFKC: space + mark), private use
        // (unclassified plane).
        for c in ['\u{FB01}', 'Ａ', 'İ', '\u{301}', '＇', '¨', '\u{F0000}'] {
            assert!(!fast_path_handles(c), "{c:?} should not be simple");
        }
    }

    #[test]
    fn tokenizer_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tokenizer>();
        let tokenizer = Tokenizer::default_pipeline();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut out = Tokens::new();
                    tokenizer.tokenize("Don’t stop", &mut out);
                    assert_eq!(out.text(0), "don't");
                });
            }
        });
    }

    #[test]
    fn tokens_buffer_is_reused() {
        let tokenizer = Tokenizer::default_pipeline();
        let mut out = Tokens::new();
        tokenizer.tokenize("one two three", &mut out);
        assert_eq!(out.len(), 3);
        tokenizer.tokenize("Four", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out.text(0), "four");
        assert_eq!(out.normalized(), "four");
    }

    #[test]
    fn default_is_default_and_json_is_not() {
        let tokenizer = Tokenizer::default_pipeline();
        assert!(tokenizer.is_default());
        let loaded = Tokenizer::from_json_str(&tokenizer.to_json(false)).unwrap();
        assert!(!loaded.is_default());
        let mut out = Tokens::new();
        assert!(!loaded.tokenize_native("plain ascii", &mut out));
    }

    #[test]
    fn errors_name_the_file() {
        let missing = Path::new("/nonexistent/tokenizer.json");
        let err = Tokenizer::from_json_file(missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to read tokenizer file /nonexistent/tokenizer.json"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, "{\"normalizer\": 3}").unwrap();
        let err = Tokenizer::from_json_file(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("invalid tokenizer file {}: ", path.display())),
            "{msg}"
        );
        assert!(!msg.ends_with('.'), "{msg}");
        let err = Tokenizer::from_json_str("not json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid tokenizer file <string>: ")
        );
    }
}
