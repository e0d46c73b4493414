//! A zip archive read front to back by its local file headers, as it streams by, without the
//! central directory at its end: for Java archives too big to hold whole.
//!
//! Each entry's data follows its local header. Its compressed size is in that header, in a
//! zip64 extra field, or (flag bit 3) only in a data descriptor after the data: a deflated
//! entry is then inflated to find its end, and a stored one ends at the first data
//! descriptor whose signature, sizes and CRC-32 all agree with the bytes before it. What
//! cannot be followed this way (an otherwise compressed or encrypted entry of unknown size,
//! corrupt deflate data of unknown size, a signature out of place) stops the walk with a
//! message; the entries before it were read. The `zip` crate's `read_zipfile_from_stream` refuses data
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
pub fn walk<R: Read>(input: &mut Input<R>, visit: &mut Visitor<'_>) -> io::Result<End> {
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
            return Ok(stopped(entries, &format!("entry {}: {e}", shown(name))));
        }
    }
}

/// An entry name as messages show it: quoted, escaped, at most 120 characters.
fn shown(name: &str) -> String {
    const MAX: usize = 120;
    let quoted = format!("{name:?}");
    match quoted.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", quoted.get(..cut).unwrap_or_default()),
        None => quoted,
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
                    "entry {}: 32-bit size all ones without a zip64 extra field",
                    shown(&header.name)
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
                            "entry {}: zip64 extra field without its compressed size",
                            shown(&header.name)
                        )));
                    }
                }
            }
        }
        Ok(Ok(header))
    }

    /// Read an entry whose compressed size is known.
    fn read_sized<R: Read>(
        &self,
        input: &mut Input<R>,
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
    fn read_until_descriptor<R: Read>(
        &self,
        input: &mut Input<R>,
        visit: &mut Visitor<'_>,
        inflated_to_skip: &mut u64,
    ) -> io::Result<Result<(), String>> {
        if !self.encrypted && self.method == 0 {
            let mut data = StoredData::new(input, self.zip64);
            visit(&self.name, Ok(&mut data))?;
            io::copy(&mut data, &mut io::sink())?;
            return Ok(Ok(()));
        }
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
fn read_u32_or_end<R: Read>(input: &mut Input<R>) -> io::Result<Option<u32>> {
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    read_u32(input).map(Some)
}

/// A buffered reader that can look ahead: [`Input::fill_to`] holds at least `n` bytes when
/// the input has them (a stored entry's end is only known once its data descriptor is seen).
pub struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R> std::fmt::Debug for Input<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("buffered", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

impl<R: Read> Input<R> {
    /// Buffer `inner`, 64 KiB at a time.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// The reader it wraps.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The bytes buffered, at least `n` of them (at most the buffer's size) unless the input
    /// ends first.
    pub fn fill_to(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(self.buf.len());
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                let read = match self
                    .inner
                    .read(self.buf.get_mut(self.end..).unwrap_or_default())
                {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.end += read;
            }
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(available.get(..n).unwrap_or_default());
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill_to(1)
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
    }
}

/// The data of a stored entry whose size follows it: it ends where a data descriptor
/// (signature, CRC-32, compressed and uncompressed sizes, 4 or 8 bytes each) agrees with the
/// bytes before it; the descriptor is consumed with it.
struct StoredData<'a, R> {
    input: &'a mut Input<R>,
    crc: crc32fast::Hasher,
    emitted: u64,
    zip64: bool,
    done: bool,
}

impl<'a, R: Read> StoredData<'a, R> {
    fn new(input: &'a mut Input<R>, zip64: bool) -> Self {
        Self {
            input,
            crc: crc32fast::Hasher::new(),
            emitted: 0,
            zip64,
            done: false,
        }
    }

    fn descriptor_len(&self) -> usize {
        if self.zip64 { 24 } else { 16 }
    }
}

/// The running state of a [`StoredData`] read: the CRC-32 and count of the bytes handed out.
struct Sofar<'a> {
    crc: &'a crc32fast::Hasher,
    emitted: u64,
    zip64: bool,
}

impl Sofar<'_> {
    /// Is there a data descriptor for everything before it at `at` of `window`?
    fn ends_at(&self, window: &[u8], at: usize) -> bool {
        let len = if self.zip64 { 24 } else { 16 };
        let Some(descriptor) = window.get(at..at + len) else {
            return false;
        };
        let size = self.emitted + at as u64;
        let field = |from: usize, len: usize| -> Option<u64> {
            let bytes = descriptor.get(from..from + len)?;
            Some(bytes.iter().rev().fold(0, |v, b| (v << 8) | u64::from(*b)))
        };
        let width = if self.zip64 { 8 } else { 4 };
        if field(0, 4) != Some(u64::from(DATA_DESCRIPTOR))
            || field(8, width) != Some(size)
            || field(8 + width, width) != Some(size)
        {
            return false;
        }
        let mut crc = self.crc.clone();
        crc.update(window.get(..at).unwrap_or_default());
        field(4, 4) == Some(u64::from(crc.finalize()))
    }
}

impl<R: Read> Read for StoredData<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let descriptor = self.descriptor_len();
        let sofar = Sofar {
            crc: &self.crc,
            emitted: self.emitted,
            zip64: self.zip64,
        };
        let window = self.input.fill_to(descriptor + 1)?;
        if window.len() < descriptor {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a stored entry ends without its data descriptor",
            ));
        }
        // Only places with a whole descriptor after them can be checked, and only those
        // before the end of `out` matter now.
        let limit = (window.len() - descriptor + 1).min(out.len());
        let searched = window.get(..limit + descriptor - 1).unwrap_or(window);
        let end = memchr::memmem::find_iter(searched, &DATA_DESCRIPTOR.to_le_bytes())
            .take_while(|&at| at < limit)
            .find(|&at| sofar.ends_at(window, at));
        if end == Some(0) {
            self.input.consume(descriptor);
            self.done = true;
            return Ok(0);
        }
        let n = end.unwrap_or(limit);
        let data = window.get(..n).unwrap_or_default();
        out.get_mut(..n).unwrap_or_default().copy_from_slice(data);
        self.crc.update(data);
        self.emitted += n as u64;
        self.input.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_shown_escaped_and_bounded() {
        assert_eq!(shown("META-INF/MANIFEST.MF"), "\"META-INF/MANIFEST.MF\"");
        assert_eq!(shown("a\tb\u{1b}"), "\"a\\tb\\u{1b}\"");
        let long = shown(&"x".repeat(500));
        assert_eq!(long.chars().count(), 121);
        assert!(long.ends_with('…'));
    }
}
