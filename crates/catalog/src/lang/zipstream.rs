//! A zip archive read front to back by its local file headers, as it streams by, without the
//! central directory at its end: for Java archives too big to hold whole.
//!
//! Each entry's data follows its local header. Its compressed size is in that header, in a
//! zip64 extra field, or (flag bit 3) only in a data descriptor after the data: a deflated
//! entry is then inflated to find its end. What cannot be followed this way (a stored or
//! otherwise compressed entry of unknown size, an encrypted one of unknown size, corrupt
//! deflate data of unknown size, a signature out of place) stops the walk with a message; the
//! entries before it were read. The `zip` crate's `read_zipfile_from_stream` refuses data
//! descriptors, which most jars written by `jar` and Maven use, hence this module.

use std::io::{self, BufRead, Read};

use flate2::bufread::DeflateDecoder;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
/// Signatures that end the entries: central directory, zip64 end records, end record.
const ENDS: [u32; 4] = [0x0201_4b50, 0x0606_4b50, 0x0706_4b50, 0x0605_4b50];
/// The most bytes inflated only to find where entries of unknown size end.
pub const MAX_SKIP_INFLATE: u64 = 1024 * 1024 * 1024;

/// Called with each entry's name and a reader of its data, or why it cannot be read.
pub type Visitor<'a> = dyn FnMut(&str, Result<&mut dyn Read, String>) -> io::Result<()> + 'a;

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// At the central directory (or the end of the input) after `entries` entries.
    Complete {
        /// File entries walked (directories included).
        entries: usize,
    },
    /// Stopped before the end: why.
    Stopped(String),
}

/// Walk the entries of the zip archive `input` yields. `visit(name, data)` is called for each
/// entry with a reader of its decompressed data, or why it cannot be read (unsupported
/// compression or encryption); it may read any part of it, the rest is skipped. Errors are
/// those of `input` and of `visit`; the archive's own faults end the walk ([`End::Stopped`]).
pub fn walk<R: BufRead>(input: &mut R, visit: &mut Visitor<'_>) -> io::Result<End> {
    let mut entries = 0usize;
    let mut inflated_to_skip = 0u64;
    loop {
        let signature = match read_u32_or_end(input)? {
            Some(signature) => signature,
            None => return Ok(End::Complete { entries }),
        };
        if ENDS.contains(&signature) {
            return Ok(End::Complete { entries });
        }
        if signature != LOCAL_HEADER {
            return Ok(stopped(
                entries,
                "no local file header where one was expected",
            ));
        }
        let header = match LocalHeader::read(input)? {
            Ok(header) => header,
            Err(e) => return Ok(stopped(entries, &e)),
        };
        entries += 1;
        let name = header.name.as_str();
        let outcome = if header.descriptor {
            header.read_until_descriptor(input, visit, &mut inflated_to_skip)?
        } else {
            header.read_sized(input, visit)?
        };
        if let Err(e) = outcome {
            return Ok(stopped(entries, &format!("entry '{name}': {e}")));
        }
    }
}

fn stopped(entries: usize, why: &str) -> End {
    End::Stopped(format!("after {entries} entries: {why}"))
}

/// The fields of a local file header that matter here.
struct LocalHeader {
    name: String,
    encrypted: bool,
    descriptor: bool,
    method: u16,
    compressed: u64,
    zip64: bool,
}

impl LocalHeader {
    /// The header after its signature, with its name and extra field; `Ok(Err)` when its
    /// fields make no sense.
    fn read<R: Read>(input: &mut R) -> io::Result<Result<Self, String>> {
        let mut fixed = [0u8; 26];
        input.read_exact(&mut fixed)?;
        let u16_at = |at: usize| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
        let u32_at = |at: usize| {
            u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]])
        };
        let flags = u16_at(2);
        let method = u16_at(4);
        let compressed = u32_at(14);
        let uncompressed = u32_at(18);
        let mut name = vec![0u8; usize::from(u16_at(22))];
        input.read_exact(&mut name)?;
        let mut extra = vec![0u8; usize::from(u16_at(24))];
        input.read_exact(&mut extra)?;
        let mut header = Self {
            name: String::from_utf8_lossy(&name).into_owned(),
            encrypted: flags & 0x1 != 0,
            descriptor: flags & 0x8 != 0,
            method,
            compressed: u64::from(compressed),
            zip64: false,
        };
        if compressed == u32::MAX || uncompressed == u32::MAX {
            // The zip64 extra field holds the sizes that are all ones here, in this order.
            let Some(field) = extra_field(&extra, 0x0001) else {
                return Ok(Err(format!(
                    "entry '{}': 32-bit size all ones without a zip64 extra field",
                    header.name
                )));
            };
            let mut values = field
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
            header.zip64 = true;
            if uncompressed == u32::MAX {
                values.next();
            }
            if compressed == u32::MAX {
                match values.next() {
                    Some(size) => header.compressed = size,
                    None => {
                        return Ok(Err(format!(
                            "entry '{}': zip64 extra field without its compressed size",
                            header.name
                        )));
                    }
                }
            }
        }
        Ok(Ok(header))
    }

    /// Read an entry whose compressed size is known.
    fn read_sized<R: BufRead>(
        &self,
        input: &mut R,
        visit: &mut Visitor<'_>,
    ) -> io::Result<Result<(), String>> {
        let mut data = input.take(self.compressed);
        match (self.encrypted, self.method) {
            (true, _) => visit(&self.name, Err("encrypted; not read".into()))?,
            (false, 0) => visit(&self.name, Ok(&mut data))?,
            (false, 8) => visit(&self.name, Ok(&mut DeflateDecoder::new(&mut data)))?,
            (false, method) => visit(&self.name, Err(unsupported(method)))?,
        }
        let skipped = io::copy(&mut data, &mut io::sink())?;
        Ok(if data.limit() > 0 {
            Err(format!("truncated after {skipped} more bytes"))
        } else {
            Ok(())
        })
    }

    /// Read an entry whose size is given only after its data: a deflated one is inflated to
    /// find its end; then the data descriptor is read.
    fn read_until_descriptor<R: BufRead>(
        &self,
        input: &mut R,
        visit: &mut Visitor<'_>,
        inflated_to_skip: &mut u64,
    ) -> io::Result<Result<(), String>> {
        if self.encrypted || self.method != 8 {
            return Ok(Err(format!(
                "{} with its size after the data: its end cannot be found",
                if self.encrypted {
                    "encrypted".to_string()
                } else {
                    unsupported(self.method)
                }
            )));
        }
        let mut data = DeflateDecoder::new(&mut *input);
        visit(&self.name, Ok(&mut data))?;
        let budget = MAX_SKIP_INFLATE.saturating_sub(*inflated_to_skip);
        let skipped = match io::copy(
            &mut (&mut data).take(budget.saturating_add(1)),
            &mut io::sink(),
        ) {
            Ok(skipped) => skipped,
            Err(e)
                if e.kind() == io::ErrorKind::InvalidInput
                    || e.kind() == io::ErrorKind::InvalidData =>
            {
                return Ok(Err(format!("corrupt deflate data: {e}")));
            }
            Err(e) => return Err(e),
        };
        *inflated_to_skip += skipped;
        if skipped > budget {
            return Ok(Err(format!(
                "more than {MAX_SKIP_INFLATE} bytes to inflate only to find where entries end"
            )));
        }
        drop(data);
        let first = read_u32(input)?;
        let rest = if self.zip64 { 16 } else { 8 };
        // The descriptor's signature is optional: without it, `first` is the CRC.
        let mut skip = vec![
            0u8;
            if first == DATA_DESCRIPTOR {
                rest + 4
            } else {
                rest
            }
        ];
        input.read_exact(&mut skip)?;
        Ok(Ok(()))
    }
}

fn unsupported(method: u16) -> String {
    format!("compression method {method} is not supported")
}

/// The data of the extra field with header id `id`.
fn extra_field(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut rest = extra;
    while let [a, b, c, d, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*c, *d]));
        let data = tail.get(..len)?;
        if u16::from_le_bytes([*a, *b]) == id {
            return Some(data);
        }
        rest = tail.get(len..)?;
    }
    None
}

fn read_u32<R: Read>(input: &mut R) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

/// A little-endian `u32`, or `None` at the very end of the input.
fn read_u32_or_end<R: BufRead>(input: &mut R) -> io::Result<Option<u32>> {
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    read_u32(input).map(Some)
}
