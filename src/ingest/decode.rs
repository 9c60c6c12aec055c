//! Byte-stream layers under the CSV reader: hashing ([`Tap`]), a peeked
//! prefix ([`Prefixed`]), decoding to UTF-8 ([`Decode`]) and tracking of
//! CSV quoting ([`QuoteTrack`]), so an unterminated quote at the end of a
//! file can be reported instead of silently swallowing the rest of it.
//!
//! Every layer streams: nothing here holds more than one buffer of input.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{CoderResult, Encoding};
use sha2::{Digest, Sha256};

/// Reads bytes while hashing them and counting them for progress.
pub(crate) struct Tap<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Sha256,
    pub(crate) bytes: u64,
    pub(crate) progress: Arc<AtomicU64>,
}

impl<R: Read> Tap<R> {
    pub(crate) fn new(inner: R, progress: Arc<AtomicU64>) -> Tap<R> {
        Tap {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Read up to `n` bytes (fewer only at the end of the stream).
pub(crate) fn read_prefix(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// A stream whose first bytes were already read (to sniff a BOM or a
/// workbook's magic number) and are served again first.
pub(crate) struct Prefixed<R> {
    pub(crate) prefix: Vec<u8>,
    pub(crate) pos: usize,
    pub(crate) inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Decodes a stream to UTF-8 with encoding_rs, or passes UTF-8 through
/// untouched (so invalid UTF-8 is replaced and *counted* field by field
/// later, instead of silently here).
pub(crate) struct Decode<R> {
    pub(crate) inner: R,
    decoder: Option<encoding_rs::Decoder>,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    outbuf: Vec<u8>,
    out_start: usize,
    out_end: usize,
    in_eof: bool,
    done: bool,
    /// Some input could not be decoded and was replaced by U+FFFD.
    pub(crate) replaced: bool,
}

/// Choose the encoding of a stream from its first bytes and the user's
/// `--encoding`: a byte-order mark wins (as in the WHATWG Encoding
/// Standard), then the label, then UTF-8.
pub(crate) fn sniff(prefix: &[u8], label: Option<&'static Encoding>) -> (&'static Encoding, bool) {
    match Encoding::for_bom(prefix) {
        Some((enc, _)) => (enc, true),
        None => (label.unwrap_or(encoding_rs::UTF_8), false),
    }
}

impl<R: Read> Decode<R> {
    /// Decode `inner` from `encoding`; `bom` says the stream starts with
    /// that encoding's byte-order mark (removed).
    pub(crate) fn new(inner: R, encoding: &'static Encoding, bom: bool) -> Decode<R> {
        let decoder = if encoding == encoding_rs::UTF_8 {
            // The csv crate strips a UTF-8 BOM itself.
            None
        } else if bom {
            Some(encoding.new_decoder_with_bom_removal())
        } else {
            Some(encoding.new_decoder_without_bom_handling())
        };
        let cap = if decoder.is_some() { 1 << 16 } else { 0 };
        Decode {
            inner,
            decoder,
            inbuf: vec![0; cap],
            in_start: 0,
            in_end: 0,
            // UTF-16 → UTF-8 may grow 3/2; windows-1252 → UTF-8 up to 3×.
            outbuf: vec![0; cap * 3 + 16],
            out_start: 0,
            out_end: 0,
            in_eof: false,
            done: false,
            replaced: false,
        }
    }
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else {
            return self.inner.read(buf);
        };
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.outbuf[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.in_eof {
                let n = loop {
                    match self.inner.read(&mut self.inbuf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                };
                self.in_start = 0;
                self.in_end = n;
                self.in_eof = n == 0;
            }
            let last = self.in_eof;
            let (result, read, written, errors) = decoder.decode_to_utf8(
                &self.inbuf[self.in_start..self.in_end],
                &mut self.outbuf,
                last,
            );
            self.replaced |= errors;
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if last && result == CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

/// CSV quoting state, mirroring csv-core's for the default dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quote {
    /// At the start of a field.
    Start,
    /// In an unquoted field (a `"` here is literal).
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a `"` in a quoted field (closing or doubled).
    MaybeClosed,
}

/// Follows CSV quoting over the bytes the csv reader consumes, so that at
/// the end of the stream we know whether the last field's quote was ever
/// closed. The csv crate silently ends such a field at the end of the file.
pub(crate) struct QuoteTrack<R> {
    pub(crate) inner: R,
    delimiter: u8,
    pub(crate) state: Quote,
    /// The inner stream reported its end.
    pub(crate) eof: bool,
}

impl<R> QuoteTrack<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> QuoteTrack<R> {
        QuoteTrack {
            inner,
            delimiter,
            state: Quote::Start,
            eof: false,
        }
    }

    /// The stream ended inside a quoted field.
    pub(crate) fn unterminated(&self) -> bool {
        self.eof && self.state == Quote::Quoted
    }
}

impl<R: Read> Read for QuoteTrack<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.state = track(self.state, &buf[..n], self.delimiter);
        Ok(n)
    }
}

/// The quoting state after `bytes`, starting from `s`. Inside a quoted
/// field and an unquoted one the next byte that can change the state is
/// found with `memchr`, so most bytes are skipped, not stepped through.
fn track(mut s: Quote, bytes: &[u8], d: u8) -> Quote {
    let mut i = 0;
    while i < bytes.len() {
        match s {
            Quote::Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                Some(k) => {
                    i += k + 1;
                    s = Quote::MaybeClosed;
                }
                None => return s,
            },
            Quote::Unquoted => match memchr::memchr3(d, b'\n', b'\r', &bytes[i..]) {
                Some(k) => {
                    i += k + 1;
                    s = Quote::Start;
                }
                None => return s,
            },
            _ => {
                s = step(s, bytes[i], d);
                i += 1;
            }
        }
    }
    s
}

/// One byte of the quoting state machine.
fn step(s: Quote, b: u8, d: u8) -> Quote {
    match s {
        Quote::Start if b == b'"' => Quote::Quoted,
        Quote::Start | Quote::Unquoted | Quote::MaybeClosed
            if b == d || b == b'\n' || b == b'\r' =>
        {
            Quote::Start
        }
        Quote::Start | Quote::Unquoted => Quote::Unquoted,
        Quote::Quoted if b == b'"' => Quote::MaybeClosed,
        Quote::Quoted => Quote::Quoted,
        Quote::MaybeClosed if b == b'"' => Quote::Quoted,
        Quote::MaybeClosed => Quote::Unquoted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_tracker_equals_byte_steps() {
        // Every string over a small alphabet up to length 7, from every
        // state: the memchr skips must land where stepping byte by byte does.
        let alphabet = [b'"', b',', b'\n', b'\r', b'a', b';'];
        let states = [
            Quote::Start,
            Quote::Unquoted,
            Quote::Quoted,
            Quote::MaybeClosed,
        ];
        let mut buf = Vec::new();
        for len in 0..=7u32 {
            for code in 0..alphabet.len().pow(len) {
                buf.clear();
                let mut c = code;
                for _ in 0..len {
                    buf.push(alphabet[c % alphabet.len()]);
                    c /= alphabet.len();
                }
                for d in [b',', b';'] {
                    for s in states {
                        let slow = buf.iter().fold(s, |s, &b| step(s, b, d));
                        assert_eq!(track(s, &buf, d), slow, "{buf:?} from {s:?}");
                    }
                }
            }
        }
    }

    fn decode_all(bytes: &[u8], label: Option<&'static Encoding>) -> (String, &'static str) {
        let (enc, bom) = sniff(bytes, label);
        let mut d = Decode::new(bytes, enc, bom);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), enc.name())
    }

    #[test]
    fn utf16_with_bom_and_1252() {
        let mut le = vec![0xFF, 0xFE];
        for u in "text\nCafé ☕\n".encode_utf16() {
            le.extend(u.to_le_bytes());
        }
        assert_eq!(
            decode_all(&le, None),
            ("text\nCafé ☕\n".into(), "UTF-16LE")
        );
        let mut be = vec![0xFE, 0xFF];
        for u in "a,b\n".encode_utf16() {
            be.extend(u.to_be_bytes());
        }
        assert_eq!(decode_all(&be, None), ("a,b\n".into(), "UTF-16BE"));
        let w = b"caf\xe9 \x93quoted\x94";
        assert_eq!(
            decode_all(w, Encoding::for_label(b"windows-1252")),
            ("café “quoted”".into(), "windows-1252")
        );
    }

    #[test]
    fn quote_tracking() {
        for (text, open) in [
            ("a,b\n\"x\",y\n", false),
            ("a,b\n\"x\ny", true),
            ("a,b\n\"x\"\"\",y", false),
            ("a,b\nx\"y,z", false),
            ("a,b\n1,\"", true),
        ] {
            let mut q = QuoteTrack::new(text.as_bytes(), b',');
            io::copy(&mut q, &mut io::sink()).unwrap();
            assert_eq!(q.unterminated(), open, "{text:?}");
        }
    }
}
