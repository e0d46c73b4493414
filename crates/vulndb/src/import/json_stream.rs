//! One JSON document read a value at a time, for inputs too large to hold whole (NVD's
//! yearly feeds decompress to hundreds of megabytes).
//!
//! serde_json frames each value over a window of the input (its own scanner, so strings,
//! escapes and nesting are read exactly as `from_slice` reads them); the caller walks the
//! document's outer structure with [`JsonWindow::expect`] and [`JsonWindow::peek`]. Bytes
//! before the current value are dropped as the window moves, unless it is pinned.
//!
//! Hand-written because serde_json streams only whitespace-separated top-level values, and
//! its reader-based deserializer (`from_reader`) takes its input a byte at a time through
//! `Read` instead of scanning a slice.

use std::io::Read;

use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};

/// Bytes read from the input at a time, at the least.
const CHUNK: usize = 1 << 20;

/// A window over one JSON document read from `R`. Memory: [`CHUNK`], or about twice the
/// largest value framed (bounded by the reader, e.g. a decompression cap), or the whole
/// document while pinned.
pub(crate) struct JsonWindow<'l, R> {
    reader: R,
    /// Names the input in errors.
    label: &'l str,
    /// What the document is, in errors ("NVD JSON").
    what: &'static str,
    buf: Vec<u8>,
    /// The next byte of `buf` not yet consumed.
    pos: usize,
    /// The input offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Keep every byte from the start of the document.
    pinned: bool,
    /// Bytes read at a time, at the least ([`CHUNK`]; tests cut values with less).
    chunk: usize,
}

impl<'l, R: Read> JsonWindow<'l, R> {
    /// A window over `reader`, pinned: nothing is dropped until [`JsonWindow::unpin`].
    pub(crate) fn new(reader: R, label: &'l str, what: &'static str) -> Self {
        Self {
            reader,
            label,
            what,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            pinned: true,
            chunk: CHUNK,
        }
    }

    /// Drop consumed bytes from now on.
    pub(crate) fn unpin(&mut self) {
        self.pinned = false;
    }

    /// Everything read so far, from the start of the document (all of it once
    /// [`JsonWindow::end`] succeeded). Only while pinned.
    pub(crate) fn whole(&self) -> Option<&[u8]> {
        self.pinned.then_some(self.buf.as_slice())
    }

    /// Read more input: at least `chunk` bytes and at least as much as is held past the
    /// current position, so a value framed again after each read costs linear time in
    /// all. `false` at the end of the input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if !self.pinned && self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let want = self.chunk.max(self.buf.len() - self.pos);
        let read = self
            .reader
            .by_ref()
            .take(want as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| self.read_error(e))?;
        if read < want {
            self.eof = true;
        }
        Ok(read > 0)
    }

    /// A failed read: a cap of the reader's own (its error, as it is) or, since the input is
    /// a decompressor or bytes in memory, corrupt compressed data.
    fn read_error(&self, err: std::io::Error) -> Error {
        if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
            return Error::new(inner.kind(), inner.to_string());
        }
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: corrupt or truncated compressed data: {err}",
                self.label
            ),
        )
        .with_source(err)
    }

    /// The next byte that is not white space, not consumed; `None` at the end of input.
    pub(crate) fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            let rest = &self.buf[self.pos..];
            if let Some(skip) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                self.pos += skip;
                return Ok(Some(self.buf[self.pos]));
            }
            self.pos = self.buf.len();
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consume `byte` after white space, or fail saying `expected`.
    pub(crate) fn expect(&mut self, byte: u8, expected: &str) -> Result<()> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            found => Err(self.unexpected(expected, found)),
        }
    }

    /// Consume `,` (`true`) or `close` (`false`) after a member of an object or array.
    pub(crate) fn separator(&mut self, close: u8) -> Result<bool> {
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            found => Err(self.unexpected(&format!("',' or '{}'", char::from(close)), found)),
        }
    }

    /// Fail unless only white space is left.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek()? {
            None => Ok(()),
            found => Err(self.unexpected("the end of the document", found)),
        }
    }

    /// The next key of an object (after white space), consumed.
    pub(crate) fn key(&mut self) -> Result<String> {
        let found = self.peek()?;
        if found != Some(b'"') {
            return Err(self.unexpected("a key", found));
        }
        // The key's start is found after the read: reading may have moved the window.
        let (len, key) = self.value(|raw| (raw.len(), serde_json::from_str::<String>(raw)))?;
        key.map_err(|e| self.malformed_in(self.pos - len, &e))
    }

    /// The next value (after white space), consumed, as `read` makes it of the value's text
    /// (valid UTF-8, so `from_str` reads it without checking again).
    pub(crate) fn value<T>(&mut self, read: impl FnOnce(&str) -> T) -> Result<T> {
        if self.peek()?.is_none() {
            return Err(self.unexpected("a value", None));
        }
        loop {
            let slice = &self.buf[self.pos..];
            let mut values = serde_json::Deserializer::from_slice(slice).into_iter::<&RawValue>();
            match values.next() {
                // A number is whole only when something follows it.
                Some(Ok(raw)) if values.byte_offset() < slice.len() || self.eof => {
                    let end = values.byte_offset();
                    let value = read(raw.get());
                    self.pos += end;
                    return Ok(value);
                }
                // A number cut at the window's end ("1e") is an error, not an end of input.
                Some(Err(e))
                    if self.eof || !(e.is_eof() || error_index(slice, &e) + 1 >= slice.len()) =>
                {
                    return Err(self.malformed_in(self.pos, &e));
                }
                // Cut short by the end of the window: read more and frame it again.
                Some(_) if !self.eof => {}
                _ => return Err(self.unexpected("a value", None)),
            }
            self.fill()?;
        }
    }

    /// The error for the value at `buf[start..]` that serde_json rejected, at the input
    /// offset where it did.
    fn malformed_in(&self, start: usize, err: &serde_json::Error) -> Error {
        let at = self.base + (start + error_index(&self.buf[start..], err)) as u64;
        let text = err.to_string();
        let position = format!(" at line {} column {}", err.line(), err.column());
        let text = text.strip_suffix(&position).unwrap_or(&text);
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: malformed {} at byte {at}: {text}",
                self.label, self.what
            ),
        )
    }

    /// The error for what the caller finds wrong at the current position.
    pub(crate) fn invalid(&self, message: &str) -> Error {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: malformed {} at byte {}: {message}",
                self.label,
                self.what,
                self.base + self.pos as u64
            ),
        )
    }

    fn unexpected(&self, expected: &str, found: Option<u8>) -> Error {
        let at = self.base + self.pos as u64;
        let found = match found {
            Some(b) if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
            Some(b) => format!("byte 0x{b:02x}"),
            None => "the end of the input".to_owned(),
        };
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: malformed {} at byte {at}: expected {expected}, found {found}",
                self.label, self.what
            ),
        )
    }
}

/// The index in `slice` where serde_json, reading it from its start, failed (it counts
/// lines and columns from 1; a column of 0 is a line's start).
fn error_index(slice: &[u8], err: &serde_json::Error) -> usize {
    let line_start = match err.line() {
        0 | 1 => 0,
        line => slice
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(slice.len(), |(i, _)| i + 1),
    };
    line_start + err.column().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members of the top-level array of `doc`, as text, read 3 bytes at a time.
    fn members(doc: &[u8]) -> Result<Vec<String>> {
        members_read(doc, 3)
    }

    /// The members of the top-level array of `doc`, as text, read `chunk` bytes at a time.
    fn members_read(doc: &[u8], chunk: usize) -> Result<Vec<String>> {
        let mut window = JsonWindow::new(doc, "t.json", "JSON");
        window.chunk = chunk;
        window.unpin();
        window.expect(b'[', "an array")?;
        let mut out = Vec::new();
        if window.peek()? == Some(b']') {
            window.expect(b']', "']'")?;
        } else {
            loop {
                out.push(window.value(str::to_owned)?);
                if !window.separator(b']')? {
                    break;
                }
            }
        }
        window.end()?;
        Ok(out)
    }

    #[test]
    fn values_are_framed_whole_however_the_input_is_cut() {
        let doc = br#" [ 12345 , "a\"],b" , {"k":[1,{"x":"}"}]} , -0.5e3,true,null, [] ] "#;
        assert_eq!(
            members(doc).unwrap(),
            [
                "12345",
                r#""a\"],b""#,
                r#"{"k":[1,{"x":"}"}]}"#,
                "-0.5e3",
                "true",
                "null",
                "[]"
            ]
        );
        assert_eq!(members(b"[]").unwrap(), Vec::<String>::new());
    }

    /// Any JSON value, as serde_json writes it (compact or pretty), nested a few levels.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            "[ -~\\t\\n\"\\\\é€😀]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z\"\\\\]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Framing the members of an array, the input read a few bytes at a time, gives
        /// each member's text exactly as serde_json splits the whole document.
        #[test]
        fn framing_agrees_with_serde_json_on_the_whole_document(
            members_in in proptest::collection::vec(json_value(), 0..8),
            pretty in proptest::bool::ANY,
            chunk in 1usize..16,
        ) {
            let array = serde_json::Value::Array(members_in);
            let doc = if pretty {
                serde_json::to_vec_pretty(&array).unwrap()
            } else {
                serde_json::to_vec(&array).unwrap()
            };
            let expected: Vec<&RawValue> = serde_json::from_slice(&doc).unwrap();
            let expected: Vec<String> = expected.iter().map(|r| r.get().to_owned()).collect();
            proptest::prop_assert_eq!(members_read(&doc, chunk).unwrap(), expected);
        }
    }

    #[test]
    fn bad_documents_name_the_input_and_the_byte() {
        let err = |doc: &[u8]| members(doc).unwrap_err().to_string();
        assert_eq!(
            err(br#"[1, {"a": tru}]"#),
            "t.json: malformed JSON at byte 13: expected ident"
        );
        assert_eq!(
            err(b"[1,\n{\"a\":\n  x}]"),
            "t.json: malformed JSON at byte 12: expected value"
        );
        assert_eq!(
            err(br#"[1, {"a": 1"#),
            "t.json: malformed JSON at byte 10: EOF while parsing an object"
        );
        assert_eq!(
            err(b"[1 2]"),
            "t.json: malformed JSON at byte 3: expected ',' or ']', found '2'"
        );
        assert_eq!(
            err(b"[1] x"),
            "t.json: malformed JSON at byte 4: expected the end of the document, found 'x'"
        );
        assert_eq!(
            err(b"[1,"),
            "t.json: malformed JSON at byte 3: expected a value, found the end of the input"
        );
    }

    #[test]
    fn a_bad_key_is_named_at_its_byte_however_the_input_is_cut() {
        // A lone surrogate frames as a string but does not read as one: the error is in the key.
        let doc = br#"{"padding": "0123456789", "\ud800": 1}"#;
        for chunk in 1..40 {
            let mut window = JsonWindow::new(&doc[..], "t.json", "JSON");
            window.chunk = chunk;
            window.unpin();
            window.expect(b'{', "an object").unwrap();
            assert_eq!(window.key().unwrap(), "padding");
            window.expect(b':', "':'").unwrap();
            window.value(|_| ()).unwrap();
            assert!(window.separator(b'}').unwrap());
            let err = window.key().unwrap_err().to_string();
            assert!(
                err.starts_with("t.json: malformed JSON at byte 33: unexpected end of hex escape"),
                "chunk {chunk}: {err}"
            );
        }
    }

    #[test]
    fn consumed_bytes_are_dropped_unless_pinned() {
        let doc = format!("[{}]", vec!["\"0123456789\""; 300_000].join(","));
        let mut window = JsonWindow::new(doc.as_bytes(), "t.json", "JSON");
        window.unpin();
        window.expect(b'[', "an array").unwrap();
        let mut count = 0;
        loop {
            assert_eq!(window.value(str::to_owned).unwrap(), "\"0123456789\"");
            count += 1;
            if !window.separator(b']').unwrap() {
                break;
            }
        }
        assert_eq!(count, 300_000);
        assert!(window.buf.len() <= 2 * CHUNK, "{}", window.buf.len());
        assert!(window.whole().is_none());
        let mut pinned = JsonWindow::new(doc.as_bytes(), "t.json", "JSON");
        pinned.value(|_| ()).unwrap();
        pinned.end().unwrap();
        assert_eq!(pinned.whole(), Some(doc.as_bytes()));
    }
}
