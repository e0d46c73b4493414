//! The rpm header blob as stored in the package databases (no lead, no header magic):
//! `index count (u32 BE)`, `data length (u32 BE)`, index entries of 16 bytes
//! (`tag`, `type`, `offset`, `count`, all u32 BE), then the data store.

use std::fmt;

/// NAME tag.
pub const TAG_NAME: u32 = 1000;
/// VERSION tag.
pub const TAG_VERSION: u32 = 1001;
/// RELEASE tag.
pub const TAG_RELEASE: u32 = 1002;
/// EPOCH tag.
pub const TAG_EPOCH: u32 = 1003;
/// LICENSE tag.
pub const TAG_LICENSE: u32 = 1014;
/// ARCH tag.
pub const TAG_ARCH: u32 = 1022;
/// SOURCERPM tag.
pub const TAG_SOURCERPM: u32 = 1044;
/// MODULARITYLABEL tag.
pub const TAG_MODULARITYLABEL: u32 = 5096;

/// Most index entries a header may have (rpm's own limit).
pub const MAX_ENTRIES: u32 = 0xffff;
/// Largest data store accepted (rpm refuses 16 MiB and more).
pub const MAX_DATA: u32 = 0x00ff_ffff;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;
const TYPE_MAX: u32 = 9;

/// Why a header blob was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HeaderError {}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// A parsed header: its index, checked against the data store's bounds.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let chunk = bytes.get(at..at.checked_add(4)?)?;
    let mut word = [0u8; 4];
    word.copy_from_slice(chunk);
    Some(u32::from_be_bytes(word))
}

/// Parse a header blob, checking every bound: the index and data must fit the blob, each
/// entry's type must be known and its offset inside the data store.
pub fn parse(blob: &[u8]) -> Result<Header<'_>, HeaderError> {
    let bad = |why: String| Err(HeaderError(why));
    let (Some(il), Some(dl)) = (be_u32(blob, 0), be_u32(blob, 4)) else {
        return bad(format!("header blob of {} bytes is too short", blob.len()));
    };
    if il == 0 || il > MAX_ENTRIES {
        return bad(format!("header index count {il} out of range"));
    }
    if dl > MAX_DATA {
        return bad(format!("header data length {dl} out of range"));
    }
    let index_len = (il as usize).saturating_mul(16);
    let data_start = 8usize.saturating_add(index_len);
    let data_end = data_start.saturating_add(dl as usize);
    if data_end > blob.len() {
        return bad(format!(
            "header declares {il} entries and {dl} data bytes ({data_end} bytes) but the blob has {}",
            blob.len()
        ));
    }
    let data = blob.get(data_start..data_end).unwrap_or_default();
    let mut entries = Vec::with_capacity(il as usize);
    for i in 0..il as usize {
        let at = 8 + i * 16;
        let (Some(tag), Some(kind), Some(offset), Some(count)) = (
            be_u32(blob, at),
            be_u32(blob, at + 4),
            be_u32(blob, at + 8),
            be_u32(blob, at + 12),
        ) else {
            return bad(format!("header index entry {i} is truncated"));
        };
        if kind > TYPE_MAX {
            return bad(format!(
                "header entry {i} (tag {tag}) has unknown type {kind}"
            ));
        }
        // Region trailers may point exactly at the end; everything else must start inside.
        if offset > dl {
            return bad(format!(
                "header entry {i} (tag {tag}) offset {offset} is past the data length {dl}"
            ));
        }
        entries.push(Entry {
            tag,
            kind,
            offset,
            count,
        });
    }
    Ok(Header { entries, data })
}

impl Header<'_> {
    fn entry(&self, tag: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// The string value of `tag` (for arrays, the first element). `Err` if the entry is
    /// there but malformed.
    pub fn string(&self, tag: u32) -> Result<Option<String>, HeaderError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if !matches!(
            entry.kind,
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING
        ) {
            return Err(HeaderError(format!(
                "tag {tag} has type {} where a string was expected",
                entry.kind
            )));
        }
        if entry.count == 0 {
            return Err(HeaderError(format!("tag {tag} has a count of 0")));
        }
        let rest = self.data.get(entry.offset as usize..).unwrap_or_default();
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return Err(HeaderError(format!(
                "tag {tag}: string at offset {} is not terminated inside the data",
                entry.offset
            )));
        };
        let bytes = rest.get(..end).unwrap_or_default();
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// The first INT32 value of `tag`.
    pub fn u32(&self, tag: u32) -> Result<Option<u32>, HeaderError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != TYPE_INT32 || entry.count == 0 {
            return Err(HeaderError(format!(
                "tag {tag} has type {} count {} where an INT32 was expected",
                entry.kind, entry.count
            )));
        }
        be_u32(self.data, entry.offset as usize)
            .map(Some)
            .ok_or_else(|| {
                HeaderError(format!(
                    "tag {tag}: INT32 at offset {} is past the data",
                    entry.offset
                ))
            })
    }
}

/// Build a header blob from `(tag, value)` pairs, for tests and fuzz seeds.
pub fn build(entries: &[(u32, HeaderValue<'_>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, value) in entries {
        let (kind, bytes, count): (u32, Vec<u8>, u32) = match value {
            HeaderValue::String(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (TYPE_STRING, b, 1)
            }
            HeaderValue::Int32(v) => {
                while !data.len().is_multiple_of(4) {
                    data.push(0);
                }
                (TYPE_INT32, v.to_be_bytes().to_vec(), 1)
            }
        };
        let offset = u32::try_from(data.len()).unwrap_or(u32::MAX);
        for word in [*tag, kind, offset, count] {
            index.extend_from_slice(&word.to_be_bytes());
        }
        data.extend_from_slice(&bytes);
    }
    let il = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    let dl = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut blob = Vec::with_capacity(8 + index.len() + data.len());
    blob.extend_from_slice(&il.to_be_bytes());
    blob.extend_from_slice(&dl.to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

/// A value for [`build`].
#[derive(Debug, Clone, Copy)]
pub enum HeaderValue<'a> {
    /// A STRING.
    String(&'a str),
    /// An INT32.
    Int32(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let blob = build(&[
            (TAG_NAME, HeaderValue::String("bash")),
            (TAG_EPOCH, HeaderValue::Int32(2)),
            (TAG_VERSION, HeaderValue::String("5.1")),
        ]);
        let h = parse(&blob).unwrap();
        assert_eq!(h.string(TAG_NAME).unwrap().as_deref(), Some("bash"));
        assert_eq!(h.u32(TAG_EPOCH).unwrap(), Some(2));
        assert_eq!(h.string(TAG_RELEASE).unwrap(), None);
        assert!(h.u32(TAG_NAME).is_err());
        // Truncated blob.
        assert!(parse(&blob[..blob.len() - 1]).is_err());
        // Offset pointing outside the data.
        let mut bad = blob.clone();
        bad[16..20].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        assert!(parse(&bad).is_err());
        // Unterminated string at the end of the data.
        let mut cut = blob.clone();
        let last = cut.len() - 1;
        cut[last] = b'x';
        let h = parse(&cut).unwrap();
        assert!(h.string(TAG_VERSION).is_err());
        // Huge counts.
        assert!(parse(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        assert!(parse(&[]).is_err());
    }
}
