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
//! A package's entries (`packages.entries`, read by every lookup) use the layout of
//! [`encode_package`]: fixed-width tables of `u32` words (entries, ranges, events, listed
//! versions) whose strings are indices into a text of the package's distinct strings. A
//! lookup checks the blob once ([`PackageBlob::parse`]: one UTF-8 check of the text, then
//! every word against the size of the table it points into, with no string or varint to
//! parse) and then reads fields by position, handing out `&str` slices of the text with no
//! allocation per entry. Entries are stored in lookup order, so reading them needs no sort.
//!
//! Decoding never panics: every count is checked against the bytes left and every index
//! against its table, and a corrupt blob is an error naming the database and the package.

#[cfg(test)]
use crate::model::{AffectedEntry, FixStatus, distro_ranges};
use crate::model::{Event, Range, RangeType};

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

/// Words per range: kind code, repo, first and end event.
const RANGE_WORDS: usize = 4;
/// Words per event: tag, version.
const EVENT_WORDS: usize = 2;
/// A repo-less range's repo word.
const NONE: u32 = u32::MAX;
/// [`NONE`] in a blob of 2-byte words, which holds no other value this large.
const NARROW_NONE: u16 = u16::MAX;

/// The entry flags above the status code (bits 0–1): which words follow the record id.
mod flag {
    /// The ranges derive from the status and fixed version: no range words.
    pub const DERIVED: u32 = 1 << 2;
    /// A canonical id other than the record id.
    pub const CANONICAL: u32 = 1 << 3;
    /// A fixed version.
    pub const FIXED: u32 = 1 << 4;
    /// Notes.
    pub const NOTES: u32 = 1 << 5;
    /// Listed versions (two words: first and end).
    pub const VERSIONS: u32 = 1 << 6;
    /// A source other than the blob's default.
    pub const SOURCE: u32 = 1 << 7;
    /// A package name other than the blob's default.
    pub const PACKAGE: u32 = 1 << 8;
    /// Every flag bit, status included.
    pub const ALL: u32 = (1 << 9) - 1;
    /// The flags of the optional strings (one word each).
    pub const STRINGS: u32 = CANONICAL | FIXED | NOTES | SOURCE | PACKAGE;
}

/// The words of an entry, by its flags (a table rather than arithmetic: the position of
/// the next entry depends on it).
static ENTRY_LEN: [u8; flag::ALL as usize + 1] = {
    let mut table = [0; flag::ALL as usize + 1];
    let mut flags = 0;
    while flags <= flag::ALL {
        let strings = 1 + (flags & flag::STRINGS).count_ones();
        let ranges = if flags & flag::DERIVED == 0 { 2 } else { 0 };
        let versions = if flags & flag::VERSIONS != 0 { 2 } else { 0 };
        table[flags as usize] = (1 + strings + ranges + versions) as u8;
        flags += 1;
    }
    table
};

/// Encode a package's entries, already in lookup order, as a package blob.
///
/// The header is seven LEB128 varints: the counts of entries, strings, entry words,
/// ranges, events and listed versions, then the word width (2 when every word fits below
/// `0xffff`, else 4). Then come tables of little-endian words:
///
/// - the string ends: `strings + 1` text offsets, from `0` to the text length (string `i`
///   is the text from end `i` to end `i + 1`);
/// - the default source and package name (string indices; the first entry's);
/// - per entry: its flags (the status code in bits 0–1, then the [`flag`] bits), the string
///   index of its record id, then only the words its flags announce, in this order: canonical
///   id, source, package name, fixed version, notes, its ranges (`start, end` in the range
///   table, absent when derived) and its versions (`start, end` in the version table);
/// - per range ([`RANGE_WORDS`]): its kind code, repo (a string index or [`NONE`]) and
///   events as `start, end`;
/// - per event ([`EVENT_WORDS`]): its tag (0 introduced, 1 fixed, 2 last_affected,
///   3 limit) and version (a string index);
/// - per listed version: its string index;
///
/// and last the text: every distinct string of the package once, concatenated.
///
/// A reader checks every word once against the size of the table it points into (no
/// string or varint to parse), then reads fields by position.
pub(crate) fn encode_package<'a>(
    entries: impl ExactSizeIterator<Item = StoredEntry<'a>>,
) -> Decoded<Vec<u8>> {
    let entries: Vec<StoredEntry<'a>> = entries.collect();
    let mut decoded: Vec<(Option<Vec<Range>>, Vec<String>)> = Vec::with_capacity(entries.len());
    for e in &entries {
        let ranges = e.ranges.map(decode_ranges).transpose()?;
        let versions = e
            .versions
            .map(decode_versions)
            .transpose()?
            .unwrap_or_default();
        decoded.push((ranges, versions));
    }
    let mut strings = Interner::default();
    let defaults = match entries.first() {
        Some(first) => [strings.index(first.source)?, strings.index(first.package)?],
        None => [0, 0],
    };
    let mut entry_words: Vec<u32> = Vec::with_capacity(entries.len() * 3);
    let (mut range_words, mut event_words, mut items) = (Vec::new(), Vec::new(), Vec::new());
    for (e, (ranges, versions)) in entries.iter().zip(&decoded) {
        let mut flags = u32::try_from(e.status)
            .ok()
            .filter(|s| *s <= 3)
            .ok_or(Corrupt("unknown fix status"))?;
        let flags_at = entry_words.len();
        entry_words.extend([0, strings.index(e.vuln_id)?]);
        let mut optional = |present: bool, bit: u32, words: &mut Vec<u32>, values: &[u32]| {
            if present {
                flags |= bit;
                words.extend_from_slice(values);
            }
        };
        let canonical = strings.index(e.canonical_id)?;
        let [source, package] = [strings.index(e.source)?, strings.index(e.package)?];
        let fixed = strings.opt_index(e.fixed_version)?;
        let notes = strings.opt_index(e.notes)?;
        let w = &mut entry_words;
        optional(
            e.canonical_id != e.vuln_id,
            flag::CANONICAL,
            w,
            &[canonical],
        );
        optional(source != defaults[0], flag::SOURCE, w, &[source]);
        optional(package != defaults[1], flag::PACKAGE, w, &[package]);
        optional(e.fixed_version.is_some(), flag::FIXED, w, &[fixed]);
        optional(e.notes.is_some(), flag::NOTES, w, &[notes]);
        match ranges {
            None => flags |= flag::DERIVED,
            Some(ranges) => {
                let start = index(range_words.len() / RANGE_WORDS)?;
                for range in ranges {
                    let events_start = index(event_words.len() / EVENT_WORDS)?;
                    for event in &range.events {
                        let (tag, version) = event_parts(event);
                        event_words.extend([u32::from(tag), strings.index(version)?]);
                    }
                    range_words.extend([
                        u32::from(range_kind_code(range.kind)),
                        strings.opt_index(range.repo.as_deref())?,
                        events_start,
                        index(event_words.len() / EVENT_WORDS)?,
                    ]);
                }
                entry_words.extend([start, index(range_words.len() / RANGE_WORDS)?]);
            }
        }
        if !versions.is_empty() {
            let start = index(items.len())?;
            for version in versions {
                items.push(strings.index(version)?);
            }
            flags |= flag::VERSIONS;
            entry_words.extend([start, index(items.len())?]);
        }
        if let Some(word) = entry_words.get_mut(flags_at) {
            *word = flags;
        }
    }
    let tables = [
        &strings.ends[..],
        &defaults[..],
        &entry_words,
        &range_words,
        &event_words,
        &items,
    ];
    let narrow = tables
        .iter()
        .all(|t| t.iter().all(|&w| w == NONE || w < u32::from(NARROW_NONE)));
    let mut w = Writer::new();
    for count in [
        entries.len(),
        strings.ends.len() - 1,
        entry_words.len(),
        range_words.len() / RANGE_WORDS,
        event_words.len() / EVENT_WORDS,
        items.len(),
        if narrow { 2 } else { 4 },
    ] {
        w.varint(count as u64);
    }
    let mut out = w.into_bytes();
    for &word in tables.into_iter().flatten() {
        if narrow {
            let word = u16::try_from(word).unwrap_or(NARROW_NONE);
            out.extend_from_slice(&word.to_le_bytes());
        } else {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
    out.extend_from_slice(strings.text.as_bytes());
    Ok(out)
}

/// A table index or text offset as a word.
fn index(n: usize) -> Decoded<u32> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n != NONE)
        .ok_or(Corrupt("package too large"))
}

/// The distinct strings of a package blob, in first-use order.
#[derive(Debug)]
struct Interner<'a> {
    indices: std::collections::HashMap<&'a str, u32>,
    text: String,
    /// `0`, then the end of each string in `text`.
    ends: Vec<u32>,
}

impl Default for Interner<'_> {
    fn default() -> Self {
        Self {
            indices: std::collections::HashMap::new(),
            text: String::new(),
            ends: vec![0],
        }
    }
}

impl<'a> Interner<'a> {
    fn index(&mut self, s: &'a str) -> Decoded<u32> {
        if let Some(&i) = self.indices.get(s) {
            return Ok(i);
        }
        let i = index(self.ends.len() - 1)?;
        self.text.push_str(s);
        self.ends.push(index(self.text.len())?);
        self.indices.insert(s, i);
        Ok(i)
    }

    fn opt_index(&mut self, s: Option<&'a str>) -> Decoded<u32> {
        s.map_or(Ok(NONE), |s| self.index(s))
    }
}

fn event_parts(event: &Event) -> (u8, &str) {
    match event {
        Event::Introduced(v) => (0, v),
        Event::Fixed(v) => (1, v),
        Event::LastAffected(v) => (2, v),
        Event::Limit(v) => (3, v),
    }
}

/// One word of a package blob's tables.
trait Word: Copy {
    /// Its bytes.
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
    /// Its value ([`NONE`] for the width's own none).
    fn value(self) -> u32;
}

impl Word for u16 {
    const SIZE: usize = 2;
    fn from_le(bytes: &[u8]) -> Self {
        u16::from_le_bytes([bytes[0], bytes[1]])
    }
    #[inline]
    fn value(self) -> u32 {
        if self == NARROW_NONE {
            NONE
        } else {
            u32::from(self)
        }
    }
}

impl Word for u32 {
    const SIZE: usize = 4;
    fn from_le(bytes: &[u8]) -> Self {
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
    #[inline]
    fn value(self) -> u32 {
        self
    }
}

/// The words of a blob's tables, of 2 or 4 bytes each, widened.
fn read_words<W: Word>(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(W::SIZE)
        .map(|w| W::from_le(w).value())
        .collect()
}

/// The tables of a package blob, widened to `u32`.
#[derive(Debug, Clone)]
struct Words(Vec<u32>);

impl Words {
    /// Word `i` (`0` past the end: never for a checked blob's indices).
    #[inline]
    fn get(&self, i: usize) -> u32 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// A checked package blob (see [`encode_package`]): its tables as words and its text.
/// Every index in it is within its table, so its readers cannot meet corrupt data.
#[derive(Debug, Clone)]
pub(crate) struct PackageBlob {
    /// The string ends, the defaults, then the entry, range, event and version tables.
    words: Words,
    text: String,
    entries: usize,
    /// Where the entry, range, event and version tables start in `words`.
    entries_at: usize,
    ranges_at: usize,
    events_at: usize,
    items_at: usize,
}

/// The header of a package blob, its counts checked against the blob's length.
#[derive(Debug)]
struct Header {
    entries: usize,
    strings: usize,
    entry_words: usize,
    ranges: usize,
    events: usize,
    items: usize,
    /// Bytes per word: 2 or 4.
    width: usize,
    /// Words of the tables.
    words: usize,
}

fn read_header(r: &mut Reader<'_>) -> Decoded<Header> {
    let too_large = Corrupt("count larger than the blob");
    // Each table's words, in header order; every word takes at least 2 bytes.
    let mut counts = [0usize; 6];
    let mut words: usize = 3;
    for (i, width) in [2, 1, 1, RANGE_WORDS, EVENT_WORDS, 1]
        .into_iter()
        .enumerate()
    {
        let n = usize::try_from(r.varint()?).map_err(|_| too_large.clone())?;
        // An entry takes at least two words, counted with the entry words.
        let add = if i == 2 {
            n.checked_sub(counts[0] * 2)
                .ok_or(Corrupt("invalid entry table"))?
        } else {
            n.checked_mul(width).ok_or(too_large.clone())?
        };
        words = words
            .checked_add(add)
            .filter(|w| w.checked_mul(2).is_some_and(|b| b <= r.buf.len()))
            .ok_or(too_large.clone())?;
        counts[i] = n;
    }
    let width = match r.varint()? {
        2 => 2,
        4 => 4,
        _ => return Err(Corrupt("unknown word width")),
    };
    if words.checked_mul(width).is_none_or(|b| b > r.buf.len()) {
        return Err(too_large);
    }
    let [entries, strings, entry_words, ranges, events, items] = counts;
    Ok(Header {
        entries,
        strings,
        entry_words,
        ranges,
        events,
        items,
        width,
        words,
    })
}

/// Check the tables of a package blob (see [`encode_package`]) with the text they index.
fn check_tables(words: &[u32], h: &Header, text: &str) -> Decoded<()> {
    let word = |i: usize| words.get(i).copied().unwrap_or(NONE);
    let table = |at: usize, len: usize| {
        words
            .get(at..at + len)
            .ok_or(Corrupt("truncated"))
            .map(|t| t.iter().copied())
    };
    check_ends(
        words.get(..h.strings + 1).ok_or(Corrupt("truncated"))?,
        text,
    )?;
    let string = |i: u32| (i as usize) < h.strings;
    let span = |start: u32, end: u32, len: usize| start <= end && end as usize <= len;
    let unknown = Corrupt("unknown string");
    let past = Corrupt("table index past the end");
    let defaults = [word(h.strings + 1), word(h.strings + 2)];
    if h.entries > 0 && !defaults.into_iter().all(string) {
        return Err(unknown);
    }
    let entries_at = h.strings + 3;
    let end = entries_at + h.entry_words;
    // When every word of the entry table is below the string count (as in most packages,
    // whose strings outnumber flag values and table spans), every string index in it is
    // valid: one pass that vectorises, and the walk checks flags and spans alone.
    let entry_table = words.get(entries_at..end).ok_or(Corrupt("truncated"))?;
    let below_strings = u32::try_from(h.strings).unwrap_or(u32::MAX);
    let strings_valid = entry_table.iter().fold(0, |max, &w| max.max(w)) < below_strings;
    let (mut at, mut seen) = (entries_at, 0);
    while at < end {
        let flags = word(at);
        let len = ENTRY_LEN
            .get(flags as usize)
            .ok_or(Corrupt("invalid flags"))?;
        let next = at + usize::from(*len);
        if next > end {
            return Err(Corrupt("invalid entry table"));
        }
        // The record id and up to five optional strings, without a branch per word.
        let strings = 1 + (flags & flag::STRINGS).count_ones() as usize;
        if !strings_valid {
            let mut ok = true;
            for k in 0..6 {
                ok &= (k >= strings) | string(word(at + 1 + k));
            }
            if !ok {
                return Err(unknown);
            }
        }
        let ranges = flags & flag::DERIVED == 0;
        let versions = flags & flag::VERSIONS != 0;
        let mut spans = at + 1 + strings;
        for (present, len) in [(ranges, h.ranges), (versions, h.items)] {
            if present {
                if !span(word(spans), word(spans + 1), len) {
                    return Err(past);
                }
                spans += 2;
            }
        }
        at = next;
        seen += 1;
    }
    if seen != h.entries {
        return Err(Corrupt("invalid entry table"));
    }
    let ranges = table(end, h.ranges * RANGE_WORDS)?.collect::<Vec<_>>();
    for range in ranges.chunks_exact(RANGE_WORDS) {
        let &[kind, repo, e0, e1] = range else {
            return Err(Corrupt("truncated"));
        };
        range_kind(u8::try_from(kind).unwrap_or(u8::MAX))?;
        if repo != NONE && !string(repo) {
            return Err(unknown);
        }
        if !span(e0, e1, h.events) {
            return Err(past);
        }
    }
    let events_at = end + h.ranges * RANGE_WORDS;
    let mut events = table(events_at, h.events * EVENT_WORDS)?;
    while let (Some(tag), Some(version)) = (events.next(), events.next()) {
        if tag > 3 {
            return Err(Corrupt("unknown event type"));
        }
        if !string(version) {
            return Err(unknown);
        }
    }
    if !table(events_at + h.events * EVENT_WORDS, h.items)?.all(string) {
        return Err(unknown);
    }
    Ok(())
}

impl PackageBlob {
    /// Check a package blob throughout (every count, index, code and string boundary) and
    /// copy it.
    pub(crate) fn parse(bytes: &[u8]) -> Decoded<Self> {
        let mut r = Reader::new(bytes);
        let h = read_header(&mut r)?;
        let (table, text) = r.buf.split_at(h.words * h.width);
        let text = std::str::from_utf8(text).map_err(|_| Corrupt("invalid UTF-8"))?;
        let words = if h.width == 2 {
            read_words::<u16>(table)
        } else {
            read_words::<u32>(table)
        };
        check_tables(&words, &h, text)?;
        let words = Words(words);
        let entries_at = h.strings + 3;
        let ranges_at = entries_at + h.entry_words;
        let events_at = ranges_at + h.ranges * RANGE_WORDS;
        Ok(Self {
            words,
            text: text.to_owned(),
            entries: h.entries,
            entries_at,
            ranges_at,
            events_at,
            items_at: events_at + h.events * EVENT_WORDS,
        })
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Where the first entry starts, for [`PackageBlob::entry`].
    pub(crate) fn first_entry(&self) -> usize {
        self.entries_at
    }

    /// String `index` (checked: any index the blob holds is valid).
    #[inline(always)]
    pub(crate) fn str(&self, index: u32) -> &str {
        let i = index as usize;
        match self.words.0.get(i..i + 2) {
            Some(&[start, end]) => self.text.get(start as usize..end as usize),
            _ => None,
        }
        .unwrap_or_default()
    }

    /// The default source and package name of the entries.
    pub(crate) fn defaults(&self) -> (&str, &str) {
        let at = self.entries_at;
        (
            self.str(self.words.get(at - 2)),
            self.str(self.words.get(at - 1)),
        )
    }

    /// The entry at word `at` (from [`PackageBlob::first_entry`], then as returned): its
    /// status code, whether its ranges are derived, its strings, its range and version
    /// spans, and where the next entry starts.
    #[inline(always)]
    pub(crate) fn entry(&self, at: usize) -> (RawEntry<'_>, usize) {
        let words = &self.words;
        let flags = words.get(at);
        let mut next = at + 2;
        let mut optional = |bit: u32| {
            if flags & bit == 0 {
                None
            } else {
                next += 1;
                Some(self.str(words.get(next - 1)))
            }
        };
        let vuln_id = self.str(words.get(at + 1));
        let canonical_id = optional(flag::CANONICAL).unwrap_or(vuln_id);
        let source = optional(flag::SOURCE);
        let package = optional(flag::PACKAGE);
        let fixed_version = optional(flag::FIXED);
        let notes = optional(flag::NOTES);
        let mut span = |bit: u32, set: bool| {
            if (flags & bit != 0) == set {
                next += 2;
                (words.get(next - 2), words.get(next - 1))
            } else {
                (0, 0)
            }
        };
        let ranges = span(flag::DERIVED, false);
        let versions = span(flag::VERSIONS, true);
        let raw = RawEntry {
            status: flags & 3,
            derived: flags & flag::DERIVED != 0,
            vuln_id,
            canonical_id,
            source,
            package,
            fixed_version,
            notes,
            ranges,
            versions,
        };
        // From the table rather than `next`, which depends on every optional field.
        let len = ENTRY_LEN
            .get(flags as usize)
            .map_or(2, |&len| usize::from(len));
        (raw, at + len)
    }

    /// Range `i`: its kind, repo and event span.
    #[inline]
    pub(crate) fn range(&self, i: u32) -> (RangeType, Option<&str>, (u32, u32)) {
        let at = self.ranges_at + i as usize * RANGE_WORDS;
        let kind = match self.words.get(at) {
            1 => RangeType::Semver,
            2 => RangeType::Git,
            _ => RangeType::Ecosystem,
        };
        let repo = self.words.get(at + 1);
        let repo = (repo != NONE).then(|| self.str(repo));
        (kind, repo, (self.words.get(at + 2), self.words.get(at + 3)))
    }

    /// Event `i`: its tag and version.
    #[inline]
    pub(crate) fn event(&self, i: u32) -> (u32, &str) {
        let at = self.events_at + i as usize * EVENT_WORDS;
        (self.words.get(at), self.str(self.words.get(at + 1)))
    }

    /// Listed version `i`.
    #[inline]
    pub(crate) fn version(&self, i: u32) -> &str {
        self.str(self.words.get(self.items_at + i as usize))
    }
}

/// One entry of a [`PackageBlob`], its ranges and versions as spans of the blob's tables.
#[derive(Debug)]
pub(crate) struct RawEntry<'a> {
    pub status: u32,
    pub derived: bool,
    pub vuln_id: &'a str,
    pub canonical_id: &'a str,
    /// `None` for the blob's default ([`PackageBlob::defaults`]).
    pub source: Option<&'a str>,
    /// `None` for the blob's default.
    pub package: Option<&'a str>,
    pub fixed_version: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// The entry's ranges: `start, end` in the range table.
    pub ranges: (u32, u32),
    /// The entry's versions: `start, end` in the version table.
    pub versions: (u32, u32),
}

/// Check the string ends of a package blob: from `0`, never decreasing, each on a
/// character boundary, the last at the end of the text.
fn check_ends(ends: &[u32], text: &str) -> Decoded<()> {
    if ends.first() != Some(&0) {
        return Err(Corrupt("invalid string table"));
    }
    // Branch-free, so it vectorises.
    let ordered = ends.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
    let last = ends.last().map_or(0, |&end| end as usize);
    if !ordered || last > text.len() {
        return Err(Corrupt("invalid string table"));
    }
    // Every end is within the text now; in ASCII text every offset is a boundary.
    if !text.is_ascii() && !ends.iter().all(|&end| text.is_char_boundary(end as usize)) {
        return Err(Corrupt("invalid UTF-8"));
    }
    if last != text.len() {
        return Err(Corrupt("trailing bytes"));
    }
    Ok(())
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
        // One entry and no string, then defaults and an entry naming string 0.
        let mut blob = vec![1, 0, 2, 0, 0, 0, 2];
        let words: [u16; 5] = [0, 0, 0, 4, 0];
        blob.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        assert_eq!(
            decode_package(&blob, "X", &mut out),
            Err(Corrupt("unknown string"))
        );
        assert_eq!(
            decode_package(&[5, 0xff], "X", &mut out),
            Err(Corrupt("count larger than the blob"))
        );
        assert!(out.is_empty());
    }

    /// A blob of 2-byte words with its tables' words edited.
    fn with_words(blob: &[u8], edit: impl FnOnce(&mut Vec<u32>)) -> Vec<u8> {
        let mut r = Reader::new(blob);
        let header = read_header(&mut r).unwrap();
        assert_eq!(header.width, 2);
        let head = blob.len() - r.buf.len();
        let (table, text) = r.buf.split_at(header.words * 2);
        let mut words = read_words::<u16>(table);
        edit(&mut words);
        let mut out = blob[..head].to_vec();
        for w in words {
            out.extend(u16::try_from(w).unwrap_or(NARROW_NONE).to_le_bytes());
        }
        out.extend_from_slice(text);
        out
    }

    #[test]
    fn every_index_is_checked() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into(), "ü-2".into()]);
        let blob = encode_package([django(&ranges, &versions)].into_iter()).unwrap();
        let parsed = PackageBlob::parse(&blob).unwrap();
        let strings = parsed.entries_at - 3;
        let (entry, range, event, item) = (
            parsed.entries_at,
            parsed.ranges_at,
            parsed.events_at,
            parsed.items_at,
        );
        // The entry: flags, record id, canonical id, fixed version, ranges and versions.
        let s = strings as u32;
        let cases: [(usize, u32, &str); 15] = [
            (0, 1, "invalid string table"),
            (1, 1000, "invalid string table"),
            (strings + 1, s, "unknown string"),
            (entry, flag::ALL + 1, "invalid flags"),
            (
                entry,
                flag::DERIVED | flag::CANONICAL | flag::FIXED,
                "invalid entry table",
            ),
            (entry, flag::ALL, "invalid entry table"),
            (entry + 1, s, "unknown string"),
            (entry + 3, s + 5, "unknown string"),
            (entry + 5, 4, "table index past the end"),
            (entry + 6, 3, "table index past the end"),
            (range, 3, "unknown range type"),
            (range + 3, 99, "table index past the end"),
            (event, 4, "unknown event type"),
            (event + 1, NONE, "unknown string"),
            (item, s, "unknown string"),
        ];
        for (at, value, error) in cases {
            let bad = with_words(&blob, |w| w[at] = value);
            assert_eq!(
                PackageBlob::parse(&bad).map(|_| ()),
                Err(Corrupt(error)),
                "word {at}"
            );
        }
        // A string end inside `ü`.
        let inside = with_words(&blob, |w| {
            let i = (1..=strings)
                .find(|&i| parsed.text[w[i - 1] as usize..w[i] as usize].starts_with('ü'))
                .unwrap();
            w[i - 1] += 1;
        });
        assert_eq!(
            PackageBlob::parse(&inside).map(|_| ()),
            Err(Corrupt("invalid UTF-8"))
        );
        let mut trailing = blob.clone();
        trailing.push(b'x');
        assert_eq!(
            PackageBlob::parse(&trailing).map(|_| ()),
            Err(Corrupt("trailing bytes"))
        );
    }

    #[test]
    fn package_blobs_are_checked_throughout() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into(), "ü-2".into()]);
        let stored = [StoredEntry {
            notes: Some("ñ"),
            ..django(&ranges, &versions)
        }];
        let blob = encode_package(stored.into_iter()).unwrap();
        assert_eq!(PackageBlob::parse(&blob).map(|b| b.len()), Ok(1));
        for len in 0..blob.len() {
            assert!(PackageBlob::parse(&blob[..len]).is_err(), "prefix {len}");
        }
        let mut out = Vec::new();
        decode_package(&blob, "PyPI", &mut out).unwrap();
        assert_eq!(out[0].ranges, sample_ranges());
        assert_eq!(out[0].versions, ["1.0", "ü-2"]);
        assert_eq!(out[0].notes.as_deref(), Some("ñ"));
        // Any one byte changed: an error or a blob that reads through, never a panic.
        for at in 0..blob.len() {
            for value in [0, 1, 3, 0x7f, 0x80, 0xc3, 0xff] {
                let mut bad = blob.clone();
                bad[at] = value;
                if let Ok(entries) = crate::entries::PackageEntries::from_blob(&bad, "X") {
                    let _ = entries.to_vec();
                }
            }
        }
    }

    #[test]
    fn strings_are_stored_once() {
        let ranges = encode_ranges(&sample_ranges());
        let versions = encode_versions(&["1.0".into(), "1.2.3".into()]);
        let one = encode_package([django(&ranges, &versions)].into_iter()).unwrap();
        let two = encode_package(
            [
                django(&ranges, &versions),
                StoredEntry {
                    vuln_id: "GHSA-2",
                    ..django(&ranges, &versions)
                },
            ]
            .into_iter(),
        )
        .unwrap();
        let text = |blob: &[u8]| PackageBlob::parse(blob).unwrap().text;
        assert_eq!(text(&two), format!("{}GHSA-2", text(&one)));
        assert_eq!(text(&one).matches("1.2.3").count(), 1);
    }

    #[test]
    fn large_packages_take_wide_words() {
        let notes = "n".repeat(70_000);
        let stored = [StoredEntry {
            notes: Some(&notes),
            ranges: None,
            versions: None,
            ..django(&[], &[])
        }];
        let blob = encode_package(stored.into_iter()).unwrap();
        assert_eq!(read_header(&mut Reader::new(&blob)).unwrap().width, 4);
        let mut out = Vec::new();
        decode_package(&blob, "PyPI", &mut out).unwrap();
        assert_eq!(out[0].notes.as_deref(), Some(notes.as_str()));
        assert_eq!(
            out[0].ranges,
            distro_ranges(FixStatus::Fixed, Some("1.2.3"))
        );
        for len in (0..blob.len()).step_by(997) {
            assert!(PackageBlob::parse(&blob[..len]).is_err(), "prefix {len}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_ranges(&bytes);
            let _ = decode_versions(&bytes);
            let mut out = Vec::new();
            let _ = decode_package(&bytes, "X", &mut out);
            let _ = PackageBlob::parse(&bytes);
        }
    }
}
