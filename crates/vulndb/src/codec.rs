//! The compact encodings of affected entries in the store.
//!
//! The `affected` table keeps each entry's ranges and versions in a binary encoding:
//! integers are unsigned LEB128 varints; a string is its length then its UTF-8 bytes; an
//! optional string is `0` for none or `length + 1` then the bytes; an optional byte field
//! likewise.
//!
//! - ranges (`affected.ranges`): count, then per range a kind byte (0 ECOSYSTEM, 1 SEMVER,
//!   2 GIT), the optional repo, the event count and per event a tag byte (0 introduced,
//!   1 fixed, 2 last_affected, 3 limit) and the version;
//! - versions (`affected.versions`): count, then the strings.
//!
//! A package's entries (`packages.entries`, read by every lookup) use the text encoding
//! of [`encode_package`]: varints of 6 bits a byte, all ASCII, so a well-formed blob is
//! valid UTF-8 as a whole. A lookup checks the blob once ([`check_package`]: one UTF-8
//! check, then every length and code) and then hands out `&str` slices of it, with no
//! allocation per entry; ranges and versions sit in length-prefixed sections that a reader
//! parses only when asked for them. Entries are stored in lookup order, so reading them
//! needs no sort.
//!
//! Decoding never panics: every length is checked against the bytes left, and a corrupt
//! blob is an error naming the database and the package.

use crate::entries::{EntryRef, RangesSource, VersionsSource};
#[cfg(test)]
use crate::model::{AffectedEntry, distro_ranges};
use crate::model::{Event, FixStatus, Range, RangeType};

/// Why a blob could not be decoded (the caller adds the database and key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub &'static str);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Corrupt {}

type Decoded<T> = std::result::Result<T, Corrupt>;

/// Append-only encoder.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    pub(crate) fn byte(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    pub(crate) fn opt_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.varint(0),
            Some(bytes) => {
                self.varint((bytes.len() as u64).saturating_add(1));
                self.buf.extend_from_slice(bytes);
            }
        }
    }

    pub(crate) fn opt_str(&mut self, value: Option<&str>) {
        self.opt_bytes(value.map(str::as_bytes));
    }
}

/// Checked decoder over a borrowed blob.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn varint(&mut self) -> Decoded<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.buf.split_first().ok_or(Corrupt("truncated"))?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Corrupt("varint too long"))
    }

    /// A count of items that each take at least one byte: never more than the bytes left.
    pub(crate) fn count(&mut self) -> Decoded<usize> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or(Corrupt("count larger than the blob"))
    }

    pub(crate) fn byte(&mut self) -> Decoded<u8> {
        let (&byte, rest) = self.buf.split_first().ok_or(Corrupt("truncated"))?;
        self.buf = rest;
        Ok(byte)
    }

    fn take(&mut self, len: u64) -> Decoded<&'a [u8]> {
        let len = usize::try_from(len).map_err(|_| Corrupt("length too large"))?;
        if len > self.buf.len() {
            return Err(Corrupt("length past the end"));
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn bytes(&mut self) -> Decoded<&'a [u8]> {
        let len = self.varint()?;
        self.take(len)
    }

    pub(crate) fn str(&mut self) -> Decoded<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Corrupt("invalid UTF-8"))
    }

    pub(crate) fn string(&mut self) -> Decoded<String> {
        self.str().map(str::to_owned)
    }

    pub(crate) fn opt_bytes(&mut self) -> Decoded<Option<&'a [u8]>> {
        match self.varint()? {
            0 => Ok(None),
            n => self.take(n - 1).map(Some),
        }
    }

    pub(crate) fn opt_string(&mut self) -> Decoded<Option<String>> {
        match self.opt_bytes()? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| Corrupt("invalid UTF-8")),
        }
    }

    fn finish(&self) -> Decoded<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Corrupt("trailing bytes"))
        }
    }
}

fn range_kind_code(kind: RangeType) -> u8 {
    match kind {
        RangeType::Ecosystem => 0,
        RangeType::Semver => 1,
        RangeType::Git => 2,
    }
}

fn range_kind(code: u8) -> Decoded<RangeType> {
    Ok(match code {
        0 => RangeType::Ecosystem,
        1 => RangeType::Semver,
        2 => RangeType::Git,
        _ => return Err(Corrupt("unknown range type")),
    })
}

/// Encode ranges.
pub(crate) fn encode_ranges(ranges: &[Range]) -> Vec<u8> {
    let mut w = Writer::new();
    w.varint(ranges.len() as u64);
    for range in ranges {
        w.byte(range_kind_code(range.kind));
        w.opt_str(range.repo.as_deref());
        w.varint(range.events.len() as u64);
        for event in &range.events {
            let (tag, version) = event_parts(event);
            w.byte(tag);
            w.str(version);
        }
    }
    w.into_bytes()
}

/// Decode what [`encode_ranges`] wrote.
pub(crate) fn decode_ranges(bytes: &[u8]) -> Decoded<Vec<Range>> {
    let mut r = Reader::new(bytes);
    let ranges = read_ranges(&mut r)?;
    r.finish()?;
    Ok(ranges)
}

fn read_ranges(r: &mut Reader<'_>) -> Decoded<Vec<Range>> {
    let count = r.count()?;
    let mut ranges = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = range_kind(r.byte()?)?;
        let repo = r.opt_string()?;
        let events_count = r.count()?;
        let mut events = Vec::with_capacity(events_count);
        for _ in 0..events_count {
            let tag = r.byte()?;
            let version = r.string()?;
            events.push(match tag {
                0 => Event::Introduced(version),
                1 => Event::Fixed(version),
                2 => Event::LastAffected(version),
                3 => Event::Limit(version),
                _ => return Err(Corrupt("unknown event type")),
            });
        }
        ranges.push(Range { kind, repo, events });
    }
    Ok(ranges)
}

/// Encode an explicit version list.
pub(crate) fn encode_versions(versions: &[String]) -> Vec<u8> {
    let mut w = Writer::new();
    w.varint(versions.len() as u64);
    for version in versions {
        w.str(version);
    }
    w.into_bytes()
}

/// Decode what [`encode_versions`] wrote.
pub(crate) fn decode_versions(bytes: &[u8]) -> Decoded<Vec<String>> {
    let mut r = Reader::new(bytes);
    let versions = read_versions(&mut r)?;
    r.finish()?;
    Ok(versions)
}

fn read_versions(r: &mut Reader<'_>) -> Decoded<Vec<String>> {
    let count = r.count()?;
    let mut versions = Vec::with_capacity(count);
    for _ in 0..count {
        versions.push(r.string()?);
    }
    Ok(versions)
}

/// One stored affected row, borrowed, as the package blob builder reads it.
#[derive(Debug)]
pub(crate) struct StoredEntry<'a> {
    pub vuln_id: &'a str,
    pub canonical_id: &'a str,
    pub source: &'a str,
    pub package: &'a str,
    pub status: i64,
    pub fixed_version: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// Encoded ranges ([`encode_ranges`]); `None` when derived from the status and fixed
    /// version.
    pub ranges: Option<&'a [u8]>,
    /// Encoded versions ([`encode_versions`]); `None` when there are none.
    pub versions: Option<&'a [u8]>,
}

/// Encoder of the text encoding of package blobs: integers are varints of 6 bits a byte
/// (`0x40` marks a following byte), so every byte they take is ASCII and a well-formed
/// blob is valid UTF-8 as a whole; strings are a varint length then the bytes; an
/// optional string is `0` for none or `length + 1` then the bytes.
#[derive(Debug, Default)]
pub(crate) struct TextWriter {
    buf: String,
}

impl TextWriter {
    fn varint(&mut self, mut value: u64) {
        loop {
            let low = (value & 0x3f) as u8;
            value >>= 6;
            if value == 0 {
                self.buf.push(char::from(low));
                return;
            }
            self.buf.push(char::from(low | 0x40));
        }
    }

    fn str(&mut self, value: &str) {
        self.varint(value.len() as u64);
        self.buf.push_str(value);
    }

    fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.varint(0),
            Some(value) => {
                self.varint((value.len() as u64).saturating_add(1));
                self.buf.push_str(value);
            }
        }
    }
}

/// Checked decoder of the text encoding over a borrowed, UTF-8-validated blob.
#[derive(Debug, Clone)]
pub(crate) struct TextReader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> TextReader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    #[inline]
    fn left(&self) -> usize {
        self.text.len().saturating_sub(self.pos)
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Decoded<u64> {
        let bytes = self.text.as_bytes();
        // One byte in the common case (values below 64).
        if let Some(&byte) = bytes.get(self.pos)
            && byte < 0x40
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        let mut value: u64 = 0;
        let mut shift = 0u32;
        while shift < 66 {
            let byte = *bytes.get(self.pos).ok_or(Corrupt("truncated"))?;
            if byte >= 0x80 {
                return Err(Corrupt("invalid varint"));
            }
            self.pos += 1;
            value |= u64::from(byte & 0x3f).checked_shl(shift).unwrap_or(0);
            if byte & 0x40 == 0 {
                return Ok(value);
            }
            shift += 6;
        }
        Err(Corrupt("varint too long"))
    }

    /// One byte, below `0x80`.
    #[inline]
    pub(crate) fn byte(&mut self) -> Decoded<u8> {
        let byte = *self
            .text
            .as_bytes()
            .get(self.pos)
            .ok_or(Corrupt("truncated"))?;
        if byte >= 0x80 {
            return Err(Corrupt("invalid flags"));
        }
        self.pos += 1;
        Ok(byte)
    }

    /// A count of items that each take at least one byte: never more than the bytes left.
    pub(crate) fn count(&mut self) -> Decoded<usize> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.left())
            .ok_or(Corrupt("count larger than the blob"))
    }

    #[inline]
    fn take(&mut self, len: u64) -> Decoded<&'a str> {
        let len = usize::try_from(len).map_err(|_| Corrupt("length too large"))?;
        if len > self.left() {
            return Err(Corrupt("length past the end"));
        }
        let end = self.pos + len;
        let out = self
            .text
            .get(self.pos..end)
            .ok_or(Corrupt("invalid UTF-8"))?;
        self.pos = end;
        Ok(out)
    }

    #[inline]
    pub(crate) fn str(&mut self) -> Decoded<&'a str> {
        let len = self.varint()?;
        self.take(len)
    }

    #[inline]
    pub(crate) fn opt_str(&mut self) -> Decoded<Option<&'a str>> {
        match self.varint()? {
            0 => Ok(None),
            n => self.take(n - 1).map(Some),
        }
    }

    pub(crate) fn finish(&self) -> Decoded<()> {
        if self.left() == 0 {
            Ok(())
        } else {
            Err(Corrupt("trailing bytes"))
        }
    }
}

/// Encode a package's entries, already in lookup order, in the text encoding: the entry
/// count, then a table of the distinct sources and package names (its length, then the
/// strings), then per entry:
///
/// - a flags byte: the status code (bits 0–1), and which optional fields follow: a
///   canonical id other than the record id (bit 2), a fixed version (bit 3), notes (bit 4),
///   ranges (bit 5; without them they derive from the status and fixed version) and
///   versions (bit 6);
/// - the record id, the table index of the source and of the package name;
/// - the canonical id, fixed version and notes when flagged;
/// - the ranges when flagged, as a section (a string): count, then per range its kind code,
///   optional repo and an events section (count, then per event its tag and version);
/// - the versions when flagged, as a section: count, then the strings.
///
/// The sections let a reader skip ranges and versions without parsing them. All flags
/// and codes stay below `0x80`, so the blob is text.
pub(crate) fn encode_package<'a>(
    entries: impl ExactSizeIterator<Item = StoredEntry<'a>>,
) -> Decoded<Vec<u8>> {
    let entries: Vec<StoredEntry<'a>> = entries.collect();
    let mut table: Vec<&str> = Vec::new();
    for e in &entries {
        for name in [e.source, e.package] {
            if !table.contains(&name) {
                table.push(name);
            }
        }
    }
    let index = |name: &str| table.iter().position(|t| *t == name).unwrap_or(0) as u64;
    let mut w = TextWriter::default();
    w.varint(entries.len() as u64);
    w.varint(table.len() as u64);
    for name in &table {
        w.str(name);
    }
    for e in &entries {
        let status = u8::try_from(e.status)
            .ok()
            .filter(|s| *s <= 3)
            .ok_or(Corrupt("unknown fix status"))?;
        let ranges = match e.ranges {
            Some(bytes) => Some(ranges_section(&decode_ranges(bytes)?)),
            None => None,
        };
        let versions = match e.versions {
            Some(bytes) => Some(versions_section(&decode_versions(bytes)?)),
            None => None,
        };
        let canonical = (e.canonical_id != e.vuln_id).then_some(e.canonical_id);
        let flag = |present: bool, bit: u8| if present { 1 << bit } else { 0 };
        let flags = status
            | flag(canonical.is_some(), 2)
            | flag(e.fixed_version.is_some(), 3)
            | flag(e.notes.is_some(), 4)
            | flag(ranges.is_some(), 5)
            | flag(versions.is_some(), 6);
        w.buf.push(char::from(flags));
        w.str(e.vuln_id);
        w.varint(index(e.source));
        w.varint(index(e.package));
        for field in [canonical, e.fixed_version, e.notes, ranges.as_deref()]
            .into_iter()
            .chain([versions.as_deref()])
            .flatten()
        {
            w.str(field);
        }
    }
    Ok(w.buf.into_bytes())
}

/// The ranges section of a package blob.
fn ranges_section(ranges: &[Range]) -> String {
    let mut w = TextWriter::default();
    w.varint(ranges.len() as u64);
    for range in ranges {
        w.varint(u64::from(range_kind_code(range.kind)));
        w.opt_str(range.repo.as_deref());
        let mut events = TextWriter::default();
        events.varint(range.events.len() as u64);
        for event in &range.events {
            let (tag, version) = event_parts(event);
            events.varint(u64::from(tag));
            events.str(version);
        }
        w.str(&events.buf);
    }
    w.buf
}

/// The versions section of a package blob.
fn versions_section(versions: &[String]) -> String {
    let mut w = TextWriter::default();
    w.varint(versions.len() as u64);
    for version in versions {
        w.str(version);
    }
    w.buf
}

fn event_parts(event: &Event) -> (u8, &str) {
    match event {
        Event::Introduced(v) => (0, v),
        Event::Fixed(v) => (1, v),
        Event::LastAffected(v) => (2, v),
        Event::Limit(v) => (3, v),
    }
}

/// Check a package blob throughout (every length, code and section) and return it as text
/// with its entry count: readers of a checked blob cannot meet corrupt data.
pub(crate) fn check_package(bytes: &[u8]) -> Decoded<(&str, usize)> {
    // The count first, on the raw bytes: a blob that is not text may still say how long it
    // claims to be.
    let mut count: u64 = 0;
    for (i, &byte) in bytes.iter().take(11).enumerate() {
        if byte >= 0x80 {
            break;
        }
        count |= u64::from(byte & 0x3f)
            .checked_shl(6 * i as u32)
            .unwrap_or(0);
        if byte & 0x40 == 0 {
            let left = bytes.len().saturating_sub(i + 1);
            if usize::try_from(count).map_or(true, |n| n > left) {
                return Err(Corrupt("count larger than the blob"));
            }
            break;
        }
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Corrupt("invalid UTF-8"))?;
    let mut r = TextReader::new(text);
    let count = r.count()?;
    let table = read_table(&mut r)?;
    for _ in 0..count {
        let entry = read_entry(&mut r, &table, "")?;
        if let RangesSource::Encoded(section) = entry.ranges {
            let mut ranges = TextReader::new(section);
            for _ in 0..ranges.count()? {
                let range = read_range(&mut ranges)?;
                let mut events = TextReader::new(range.events);
                for _ in 0..events.count()? {
                    read_event(&mut events)?;
                }
                events.finish()?;
            }
            ranges.finish()?;
        }
        if let VersionsSource::Encoded(section) = entry.versions {
            let mut versions = TextReader::new(section);
            for _ in 0..versions.count()? {
                versions.str()?;
            }
            versions.finish()?;
        }
    }
    r.finish()?;
    Ok((text, count))
}

/// One entry of a package blob in `ecosystem` (its sections not yet parsed), with the
/// blob's name `table`.
#[inline]
pub(crate) fn read_entry<'a>(
    r: &mut TextReader<'a>,
    table: &[&'a str],
    ecosystem: &'a str,
) -> Decoded<EntryRef<'a>> {
    let flags = r.byte()?;
    let status = FixStatus::from_code(i64::from(flags & 3)).ok_or(Corrupt("unknown fix status"))?;
    let vuln_id = r.str()?;
    let mut name = || -> Decoded<&'a str> {
        let index = usize::try_from(r.varint()?).map_err(|_| Corrupt("unknown name"))?;
        table.get(index).copied().ok_or(Corrupt("unknown name"))
    };
    let source = name()?;
    let package = name()?;
    let mut optional = |bit: u8| -> Decoded<Option<&'a str>> {
        if flags & (1 << bit) == 0 {
            Ok(None)
        } else {
            r.str().map(Some)
        }
    };
    Ok(EntryRef {
        vuln_id,
        canonical_id: optional(2)?.unwrap_or(vuln_id),
        source,
        ecosystem,
        package,
        status,
        fixed_version: optional(3)?,
        notes: optional(4)?,
        ranges: optional(5)?.map_or(RangesSource::Derived, RangesSource::Encoded),
        versions: optional(6)?.map_or(VersionsSource::Owned(&[]), VersionsSource::Encoded),
    })
}

/// The table of sources and package names at the start of a package blob (past its count).
pub(crate) fn read_table<'a>(r: &mut TextReader<'a>) -> Decoded<Vec<&'a str>> {
    let len = r.count()?;
    let mut table = Vec::with_capacity(len);
    for _ in 0..len {
        table.push(r.str()?);
    }
    Ok(table)
}

/// One range of a ranges section: kind, repo and its events section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRange<'a> {
    pub kind: RangeType,
    pub repo: Option<&'a str>,
    pub events: &'a str,
}

pub(crate) fn read_range<'a>(r: &mut TextReader<'a>) -> Decoded<RawRange<'a>> {
    let code = u8::try_from(r.varint()?).map_err(|_| Corrupt("unknown range type"))?;
    Ok(RawRange {
        kind: range_kind(code)?,
        repo: r.opt_str()?,
        events: r.str()?,
    })
}

/// One event: its tag (0 introduced, 1 fixed, 2 last_affected, 3 limit) and version.
pub(crate) fn read_event<'a>(r: &mut TextReader<'a>) -> Decoded<(u8, &'a str)> {
    let tag = r.varint()?;
    if tag > 3 {
        return Err(Corrupt("unknown event type"));
    }
    Ok((tag as u8, r.str()?))
}

/// Decode a package blob into entries of `ecosystem`, appending to `out`.
#[cfg(test)]
pub(crate) fn decode_package(
    bytes: &[u8],
    ecosystem: &str,
    out: &mut Vec<AffectedEntry>,
) -> Decoded<()> {
    let entries = crate::entries::PackageEntries::from_blob(bytes, ecosystem)?;
    out.extend(entries.iter().map(|e| e.to_entry()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ranges() -> Vec<Range> {
        vec![
            Range {
                kind: RangeType::Semver,
                repo: None,
                events: vec![
                    Event::Introduced("0".into()),
                    Event::Fixed("1.2.3".into()),
                    Event::LastAffected("2.0.0".into()),
                    Event::Limit("3.0.0".into()),
                ],
            },
            Range {
                kind: RangeType::Git,
                repo: Some("https://example.com/r".into()),
                events: vec![Event::Introduced("abc".into())],
            },
            Range {
                kind: RangeType::Ecosystem,
                repo: None,
                events: vec![],
            },
        ]
    }

    #[test]
    fn varints_round_trip() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut w = Writer::new();
            w.varint(value);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            assert_eq!(r.varint(), Ok(value));
            assert!(r.is_empty());
        }
        let mut w = Writer::new();
        w.varint(300);
        assert_eq!(w.into_bytes(), vec![0xac, 0x02]);
    }

    #[test]
    fn ranges_and_versions_round_trip() {
        let ranges = sample_ranges();
        assert_eq!(decode_ranges(&encode_ranges(&ranges)), Ok(ranges));
        assert_eq!(decode_ranges(&encode_ranges(&[])), Ok(vec![]));
        let versions = vec!["1.0".to_owned(), String::new(), "ü-2".to_owned()];
        assert_eq!(decode_versions(&encode_versions(&versions)), Ok(versions));
        // Exact layout of a small list: count 2, "a", "bc".
        assert_eq!(
            encode_versions(&["a".into(), "bc".into()]),
            vec![2, 1, b'a', 2, b'b', b'c']
        );
    }

    /// A PyPI entry with encoded `ranges` and `versions`.
    fn django<'a>(ranges: &'a [u8], versions: &'a [u8]) -> StoredEntry<'a> {
        StoredEntry {
            vuln_id: "GHSA-1",
            canonical_id: "CVE-2024-1",
            source: "osv:PyPI",
            package: "Django",
            status: 0,
            fixed_version: Some("1.2.3"),
            notes: None,
            ranges: Some(ranges),
            versions: Some(versions),
        }
    }

    #[test]
    fn package_round_trip() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into()]);
        let stored = [
            django(&ranges, &versions),
            StoredEntry {
                vuln_id: "CVE-2024-2",
                canonical_id: "CVE-2024-2",
                source: "alpine-secdb:v3.20/main",
                package: "musl",
                status: 0,
                fixed_version: Some("1.2-r1"),
                notes: Some("note"),
                ranges: None,
                versions: None,
            },
        ];
        let blob = encode_package(stored.into_iter()).unwrap();
        let mut out = Vec::new();
        decode_package(&blob, "X", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].ranges, sample_ranges());
        assert_eq!(out[0].versions, vec!["1.0".to_owned()]);
        assert_eq!(out[0].ecosystem, "X");
        assert_eq!(out[0].package, "Django");
        assert_eq!(out[0].canonical_id, "CVE-2024-1");
        assert_eq!(
            out[1].ranges,
            distro_ranges(FixStatus::Fixed, Some("1.2-r1"))
        );
        assert_eq!(out[1].notes.as_deref(), Some("note"));
        assert!(out[1].versions.is_empty());
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let blob = encode_ranges(&sample_ranges());
        for len in 0..blob.len() {
            assert!(decode_ranges(&blob[..len]).is_err(), "prefix {len}");
        }
        let mut trailing = blob.clone();
        trailing.push(0);
        assert_eq!(decode_ranges(&trailing), Err(Corrupt("trailing bytes")));
        assert_eq!(
            decode_versions(&[0xff; 12]),
            Err(Corrupt("varint too long"))
        );
        assert_eq!(
            decode_versions(&[200, 1]),
            Err(Corrupt("count larger than the blob"))
        );
        let mut out = Vec::new();
        // One entry, an empty name table, then an entry naming source 0.
        assert_eq!(
            decode_package(&[1, 0, 0, 0, 0, 0], "X", &mut out),
            Err(Corrupt("unknown name"))
        );
    }

    #[test]
    fn package_blobs_are_text_checked_throughout() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into(), "ü-2".into()]);
        let stored = [StoredEntry {
            notes: Some("ñ"),
            ..django(&ranges, &versions)
        }];
        let blob = encode_package(stored.into_iter()).unwrap();
        assert!(std::str::from_utf8(&blob).is_ok());
        assert_eq!(check_package(&blob).map(|(_, n)| n), Ok(1));
        for len in 0..blob.len() {
            assert!(check_package(&blob[..len]).is_err(), "prefix {len}");
        }
        let mut out = Vec::new();
        decode_package(&blob, "PyPI", &mut out).unwrap();
        assert_eq!(out[0].ranges, sample_ranges());
        assert_eq!(out[0].versions, ["1.0", "ü-2"]);
        // Large counts and lengths take several ASCII bytes.
        let mut w = TextWriter::default();
        w.varint(u64::MAX);
        w.varint(4095);
        let mut r = TextReader::new(&w.buf);
        assert_eq!((r.varint(), r.varint()), (Ok(u64::MAX), Ok(4095)));
        assert!(w.buf.is_ascii());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_ranges(&bytes);
            let _ = decode_versions(&bytes);
            let mut out = Vec::new();
            let _ = decode_package(&bytes, "X", &mut out);
            let _ = check_package(&bytes);
        }
    }
}
