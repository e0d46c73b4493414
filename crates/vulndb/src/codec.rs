//! The compact binary encoding of affected entries in the store.
//!
//! Integers are unsigned LEB128 varints; a string is its length then its UTF-8 bytes; an
//! optional string is `0` for none or `length + 1` then the bytes; an optional byte field
//! likewise. Three encodings:
//!
//! - ranges (`affected.ranges`): count, then per range a kind byte (0 ECOSYSTEM, 1 SEMVER,
//!   2 GIT), the optional repo, the event count and per event a tag byte (0 introduced,
//!   1 fixed, 2 last_affected, 3 limit) and the version;
//! - versions (`affected.versions`): count, then the strings;
//! - a package's entries (`packages.entries`): count, then per entry the record id,
//!   canonical id, source, package name, status code, optional fixed version, optional
//!   notes, and the optional ranges and versions encodings above, embedded as bytes. Entries
//!   are stored in lookup order, so reading them needs no sort.
//!
//! Decoding never panics: every length is checked against the bytes left, and a corrupt
//! blob is an error naming the database and the package.

use crate::model::{AffectedEntry, Event, FixStatus, Range, RangeType, distro_ranges};

/// Why a blob could not be decoded (the caller adds the database and key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub &'static str);

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
            let (tag, version) = match event {
                Event::Introduced(v) => (0, v),
                Event::Fixed(v) => (1, v),
                Event::LastAffected(v) => (2, v),
                Event::Limit(v) => (3, v),
            };
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
    /// Encoded ranges; `None` when derived from the status and fixed version.
    pub ranges: Option<&'a [u8]>,
    /// Encoded versions; `None` when there are none.
    pub versions: Option<&'a [u8]>,
}

/// Encode a package's entries, already in lookup order.
pub(crate) fn encode_package<'a>(
    entries: impl ExactSizeIterator<Item = StoredEntry<'a>>,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.varint(entries.len() as u64);
    for e in entries {
        w.str(e.vuln_id);
        w.str(e.canonical_id);
        w.str(e.source);
        w.str(e.package);
        w.varint(u64::try_from(e.status).unwrap_or(u64::MAX));
        w.opt_str(e.fixed_version);
        w.opt_str(e.notes);
        w.opt_bytes(e.ranges);
        w.opt_bytes(e.versions);
    }
    w.into_bytes()
}

/// Decode a package blob into entries of `ecosystem`, appending to `out`.
pub(crate) fn decode_package(
    bytes: &[u8],
    ecosystem: &str,
    out: &mut Vec<AffectedEntry>,
) -> Decoded<()> {
    let mut r = Reader::new(bytes);
    let count = r.count()?;
    out.reserve(count);
    for _ in 0..count {
        let vuln_id = r.string()?;
        let canonical_id = r.string()?;
        let source = r.string()?;
        let package = r.string()?;
        let code = r.varint()?;
        let status = i64::try_from(code)
            .ok()
            .and_then(FixStatus::from_code)
            .ok_or(Corrupt("unknown fix status"))?;
        let fixed_version = r.opt_string()?;
        let notes = r.opt_string()?;
        let ranges = match r.opt_bytes()? {
            Some(bytes) => decode_ranges(bytes)?,
            None => distro_ranges(status, fixed_version.as_deref()),
        };
        let versions = match r.opt_bytes()? {
            Some(bytes) => decode_versions(bytes)?,
            None => Vec::new(),
        };
        out.push(AffectedEntry {
            vuln_id,
            canonical_id,
            source,
            ecosystem: ecosystem.to_owned(),
            package,
            ranges,
            versions,
            status,
            fixed_version,
            notes,
        });
    }
    r.finish()
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

    #[test]
    fn package_round_trip() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into()]);
        let stored = [
            StoredEntry {
                vuln_id: "GHSA-1",
                canonical_id: "CVE-2024-1",
                source: "osv:PyPI",
                package: "Django",
                status: 0,
                fixed_version: Some("1.2.3"),
                notes: None,
                ranges: Some(&ranges),
                versions: Some(&versions),
            },
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
        let blob = encode_package(stored.into_iter());
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
        assert_eq!(
            decode_package(&[1, 0, 0, 0, 0, 9, 0, 0, 0, 0], "X", &mut out),
            Err(Corrupt("unknown fix status"))
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_ranges(&bytes);
            let _ = decode_versions(&bytes);
            let mut out = Vec::new();
            let _ = decode_package(&bytes, "X", &mut out);
        }
    }
}
