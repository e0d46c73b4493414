//! Helpers shared by the XML importers (Debian OVAL, Oracle's ELSA OVAL, Amazon's
//! `updateinfo.xml`): attributes, entities, and a reader that stops at a size cap.

use std::io::{BufRead, Read};

use quick_xml::Reader;

use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, ErrorKind};

/// The unescaped value of the attribute whose local name is `name`.
pub(crate) fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// The character an XML entity reference stands for (`amp`, `#38`, `#x26`); `None` for
/// an unknown entity.
pub(crate) fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Append an entity reference to `text`: its character, or `&name;` as written when unknown.
pub(crate) fn push_entity(text: &mut String, name: &str) {
    match resolve_entity(name) {
        Some(c) => text.push(c),
        None => {
            text.push('&');
            text.push_str(name);
            text.push(';');
        }
    }
}

/// Append what a text event carries (text, CDATA, an entity reference) to `text`; `false`
/// for other events.
pub(crate) fn push_text(label: &str, event: &Event<'_>, text: &mut String) -> Result<bool, Error> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::InvalidInput, format!("{label}: bad {what}: {e}"))
    };
    match event {
        Event::Text(t) => text.push_str(&t.decode().map_err(|e| bad("text", &e))?),
        Event::CData(t) => text.push_str(&String::from_utf8_lossy(t)),
        Event::GeneralRef(r) => push_entity(text, &r.decode().map_err(|e| bad("entity", &e))?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Read every event of `input`, handing each to `handle`, until the end. A document cut
/// short (no closing `</closing>`) is an error that names it as `what`.
pub(crate) fn each_event<R: BufRead>(
    label: &str,
    input: R,
    (what, closing): (&str, &[u8]),
    mut handle: impl FnMut(&Event<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut closed = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(label, reader.buffer_position(), e))?;
        match &event {
            Event::Eof => break,
            Event::End(e) if e.local_name().as_ref() == closing => closed = true,
            _ => {}
        }
        handle(&event)?;
        buf.clear();
    }
    if !closed {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{label}: truncated {what}: no closing </{}> in its {} bytes",
                String::from_utf8_lossy(closing),
                reader.buffer_position()
            ),
        ));
    }
    Ok(())
}

/// A quick-xml error as this crate's error: the size cap of a [`CappedReader`] stays
/// [`ErrorKind::TooLarge`], anything else is malformed input at byte `position`.
pub(crate) fn xml_error(label: &str, position: u64, err: quick_xml::Error) -> Error {
    if let quick_xml::Error::Io(io) = &err
        && let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<Error>())
    {
        return Error::new(inner.kind(), inner.to_string());
    }
    Error::new(
        ErrorKind::InvalidInput,
        format!("{label}: malformed XML at byte {position}: {err}"),
    )
    .with_source(err)
}

/// A reader that fails once more than `cap` bytes have been read from `inner` (a
/// decompressor, so a small input cannot expand without bound while it is streamed).
pub(crate) struct CappedReader<R> {
    inner: R,
    remaining: u64,
    cap: u64,
    label: String,
}

impl<R: Read> CappedReader<R> {
    /// Read at most `cap` bytes of `inner`; `label` names the input in the error.
    pub(crate) fn new(inner: R, cap: u64, label: &str) -> Self {
        Self {
            inner,
            remaining: cap,
            cap,
            label: label.to_owned(),
        }
    }

    fn too_large(&self) -> Error {
        Error::new(
            ErrorKind::TooLarge,
            format!(
                "{}: decompresses to more than {} bytes",
                self.label, self.cap
            ),
        )
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            // One more byte tells a stream of exactly `cap` bytes from a longer one.
            let mut probe = [0u8; 1];
            let n = self.inner.read(&mut probe)?;
            if n == 0 {
                return Ok(0);
            }
            return Err(self.too_large().into_io());
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_reader_stops_past_the_cap() {
        let mut ok = CappedReader::new(&b"12345"[..], 5, "x");
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"12345");
        let mut over = CappedReader::new(&b"123456"[..], 5, "big.xml");
        let err = over.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("big.xml"), "{err}");
        let err = xml_error("big.xml", 9, quick_xml::Error::Io(std::sync::Arc::new(err)));
        assert_eq!(err.kind(), ErrorKind::TooLarge);
    }

    #[test]
    fn entities() {
        let mut s = String::new();
        for name in ["amp", "#x41", "#66", "bogus"] {
            push_entity(&mut s, name);
        }
        assert_eq!(s, "&AB&bogus;");
    }
}
