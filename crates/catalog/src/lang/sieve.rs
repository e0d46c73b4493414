//! Go and Rust build information from an executable read once, front to back, keeping only
//! the bytes that can hold it, so memory does not grow with the size of a binary.
//!
//! ELF files with program headers are sieved as they stream by. Kept are:
//! - the first 64 KiB ([`HEAD`]): the ELF header and program headers, which map addresses
//!   to file offsets;
//! - the Go build info header (`\xff Go buildinf:`, 16-byte aligned by address), the first
//!   met in a writable loadable segment (else in any), and for Go 1.18 and later the inline
//!   version and module info that follow it;
//! - for older Go, whose header points forward at Go string headers that point back at
//!   string bytes already passed: the string headers it points at, and every `go1.` and
//!   every module-info start sentinel met in a loadable segment, with the bytes after them
//!   (what those pointers can lead to);
//! - the cargo-auditable dependency list: a zlib stream outside every loadable segment (the
//!   ELF `.dep-v0` section has no `SHF_ALLOC` flag) that inflates to a JSON object starting
//!   `{"packages"` or `{"format"`.
//!
//! The result is then read by the same code as a whole file ([`golang`], [`rust`]). What is
//! kept is bounded whatever the file's size: [`HEAD`], [`MAX_INLINE`] for the Go header,
//! [`MAX_VERSIONS`] × [`VERSION_BYTES`], [`MAX_SENTINELS`] × [`MAX_INLINE`], and
//! [`MAX_AUDITS`] × [`rust::MAX_AUDIT_JSON`] of compressed data. PE and Mach-O files, rare in
//! containers, and ELF files without loadable segments are read whole and parsed as before.

use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};
use object::Endianness;
use object::read::elf::{FileHeader, ProgramHeader};

use super::{binary, golang, rust};
use crate::package::Package;
use crate::warning::Warning;

/// The bytes read first: ELF and program headers, and the magic number of other formats.
pub const HEAD: usize = 64 * 1024;
/// Bytes read from the stream at a time.
const CHUNK: usize = 256 * 1024;
/// Bytes past a position needed to recognise a pattern starting there.
const LOOKAHEAD: usize = 64;
/// The most bytes kept for one Go string (header and inline strings, module info).
pub const MAX_INLINE: u64 = 4 * 1024 * 1024;
/// Bytes kept after each `go1.` met (a pre-1.18 Go version string can start there).
pub const VERSION_BYTES: u64 = 64;
/// The most `go1.` places kept.
pub const MAX_VERSIONS: usize = 1024;
/// The most module-info start sentinels kept.
pub const MAX_SENTINELS: usize = 8;
/// The most cargo-auditable streams kept.
pub const MAX_AUDITS: usize = 4;

/// The 16-byte sentinel that starts Go module info.
const SENTINEL_START: &[u8; 16] =
    b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
/// The 16-byte sentinel that ends Go module info.
const SENTINEL_END: &[u8; 16] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";
/// The Go build info header size.
const GO_HEADER: u64 = 32;

/// The packages and warnings of the executable `reader` yields (`size` bytes declared),
/// the same as [`binary::parse_executable`] gives for the whole file, reading it once and
/// keeping only what can hold build information. `Ok(None)` when it is not an executable
/// (ELF, PE, Mach-O) at all. Errors are `reader`'s.
pub fn read_executable(
    reader: &mut dyn Read,
    location: &str,
) -> io::Result<Option<(Vec<Package>, Vec<Warning>)>> {
    let mut head = Vec::with_capacity(HEAD);
    reader.take(HEAD as u64).read_to_end(&mut head)?;
    if !golang::is_executable_format(&head) {
        return Ok(None);
    }
    let Some(segments) = segments(&head) else {
        // PE, Mach-O, or an ELF file without loadable segments: read it whole.
        let mut whole = head;
        reader.read_to_end(&mut whole)?;
        return Ok(Some(binary::parse_executable(&whole, location)));
    };
    let mut sieve = Sieve::new(segments);
    let mut buffer = vec![0u8; CHUNK + LOOKAHEAD];
    let mut carried = sieve.feed(&head, 0);
    let tail = head.get(head.len() - carried..).unwrap_or_default();
    buffer
        .get_mut(..carried)
        .unwrap_or_default()
        .copy_from_slice(tail);
    drop(head);
    loop {
        let free = buffer.get_mut(carried..).unwrap_or_default();
        let n = match reader.read(free) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let filled = carried + n;
        let window = buffer.get(..filled).unwrap_or_default();
        let keep = sieve.feed(window, carried);
        buffer.copy_within(filled - keep..filled, 0);
        carried = keep;
    }
    Ok(Some(sieve.finish(
        buffer.get(..carried).unwrap_or_default(),
        location,
    )))
}

/// One loadable segment: where its bytes are in the file and in memory.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: u64,
    size: u64,
    address: u64,
    writable: bool,
}

impl Segment {
    fn contains(&self, offset: u64) -> bool {
        offset >= self.offset && offset - self.offset < self.size
    }

    fn address_of(&self, offset: u64) -> u64 {
        self.address.wrapping_add(offset - self.offset)
    }
}

/// The loadable segments of an ELF file whose header and program headers lie in `head`;
/// `None` for other files or when there is none.
fn segments(head: &[u8]) -> Option<Vec<Segment>> {
    match head.get(4) {
        Some(1) => segments_of::<object::elf::FileHeader32<Endianness>>(head),
        Some(2) => segments_of::<object::elf::FileHeader64<Endianness>>(head),
        _ => None,
    }
}

fn segments_of<H: FileHeader<Endian = Endianness>>(head: &[u8]) -> Option<Vec<Segment>> {
    let header = H::parse(head).ok()?;
    let endian = header.endian().ok()?;
    let found: Vec<Segment> = header
        .program_headers(endian, head)
        .ok()?
        .iter()
        .filter(|p| p.p_type(endian) == object::elf::PT_LOAD)
        .map(|p| Segment {
            offset: p.p_offset(endian).into(),
            size: p.p_filesz(endian).into(),
            address: p.p_vaddr(endian).into(),
            writable: p.p_flags(endian) & object::elf::PF_W != 0,
        })
        .filter(|s| s.size > 0)
        .collect();
    (!found.is_empty()).then_some(found)
}

/// Bytes kept from the file, starting at `start`, wanted up to `end`.
#[derive(Debug)]
struct Kept {
    start: u64,
    end: u64,
    data: Vec<u8>,
}

impl Kept {
    /// Wanting `len` bytes from `start`.
    fn new(start: u64, len: u64) -> Self {
        Self {
            start,
            end: start.saturating_add(len),
            data: Vec::new(),
        }
    }

    fn next(&self) -> u64 {
        self.start.saturating_add(self.data.len() as u64)
    }

    /// Append what `window` (starting at file offset `base`) holds of the bytes still
    /// wanted.
    fn top_up(&mut self, window: &[u8], base: u64) {
        let next = self.next();
        let window_end = base.saturating_add(window.len() as u64);
        if next < base || next >= window_end || next >= self.end {
            return;
        }
        let to = self.end.min(window_end);
        let (Ok(from), Ok(to)) = (usize::try_from(next - base), usize::try_from(to - base)) else {
            return;
        };
        self.data
            .extend_from_slice(window.get(from..to).unwrap_or_default());
    }

    /// The `len` bytes at file offset `offset`, if kept.
    fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let from = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        self.data.get(from..to)
    }
}

/// A zlib stream that may be the cargo-auditable dependency list.
struct Audit {
    kept: Kept,
    inflater: Decompress,
    /// Decided: the stream ended, failed, or outgrew the cap.
    done: bool,
}

impl Audit {
    /// Feed the newly kept bytes from `from` on to the inflater, only to see where the
    /// stream ends.
    fn inflate(&mut self, from: usize) {
        let mut scratch = [0u8; 8 * 1024];
        let mut input = self.kept.data.get(from..).unwrap_or_default();
        while !self.done && !input.is_empty() {
            let (in_before, out_before) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(input, &mut scratch, FlushDecompress::None);
            let used = usize::try_from(self.inflater.total_in() - in_before).unwrap_or(usize::MAX);
            input = input.get(used..).unwrap_or_default();
            let stuck = used == 0 && self.inflater.total_out() == out_before;
            match status {
                Ok(Status::StreamEnd) | Err(_) => self.done = true,
                Ok(_) if self.inflater.total_out() > rust::MAX_AUDIT_JSON => self.done = true,
                Ok(_) if stuck => break,
                Ok(_) => {}
            }
        }
        if self.done {
            // Keep only the stream (`parse_dep_v0` reads it again).
            let end = usize::try_from(self.inflater.total_in()).unwrap_or(usize::MAX);
            self.kept.data.truncate(end);
            self.kept.end = self.kept.next();
        }
    }
}

/// Does the zlib stream at the start of `window` inflate to a cargo-auditable JSON object?
fn looks_auditable(window: &[u8]) -> bool {
    let [0x78, flags, ..] = window else {
        return false;
    };
    if !(0x7800u16 | u16::from(*flags)).is_multiple_of(31) || flags & 0x20 != 0 {
        return false;
    }
    let mut out = [0u8; 16];
    let mut inflater = Decompress::new(true);
    if inflater
        .decompress(window, &mut out, FlushDecompress::None)
        .is_err()
    {
        return false;
    }
    let out = out
        .get(..usize::try_from(inflater.total_out()).unwrap_or(0))
        .unwrap_or_default();
    out.starts_with(br#"{"packages""#) || out.starts_with(br#"{"format""#)
}

/// The state of one executable being read.
struct Sieve {
    segments: Vec<Segment>,
    /// The file offset of the next byte fed.
    fed: u64,
    /// The chosen Go build info header, and whether it is in a writable segment.
    header: Option<(Kept, bool)>,
    /// Pre-1.18 Go: the two string headers the build info header points at.
    string_headers: Vec<Kept>,
    /// Bytes the string headers point at, and every `go1.` and start sentinel met.
    strings: Vec<Kept>,
    versions: usize,
    sentinels: usize,
    audits: Vec<Audit>,
}

impl Sieve {
    fn new(segments: Vec<Segment>) -> Self {
        Self {
            segments,
            fed: 0,
            header: None,
            string_headers: Vec::new(),
            strings: Vec::new(),
            versions: 0,
            sentinels: 0,
            audits: Vec::new(),
        }
    }

    /// Take in `window`: `carried` bytes passed before but not yet scanned, then new ones.
    /// Returns how many bytes at its end are still to scan; they must start the next window.
    fn feed(&mut self, window: &[u8], carried: usize) -> usize {
        let base = self.fed - carried as u64;
        let new = window.get(carried..).unwrap_or_default();
        self.top_up(new, self.fed);
        self.fed += new.len() as u64;
        let scan = window.len().saturating_sub(LOOKAHEAD - 1);
        self.scan(window, base, scan);
        self.follow(window, base);
        window.len() - scan
    }

    /// The packages and warnings found, once the last `window` (the bytes still to scan)
    /// is taken in.
    fn finish(mut self, window: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
        let base = self.fed - window.len() as u64;
        self.scan(window, base, window.len());
        self.follow(window, base);
        let mut packages = Vec::new();
        let mut warnings = Vec::new();
        let needed = self
            .segments
            .iter()
            .map(|s| s.offset.saturating_add(s.size))
            .max()
            .unwrap_or(0);
        if self.fed < needed {
            warnings.push(Warning::new(
                location,
                format!(
                    "truncated executable: {} bytes, its loadable segments reach {needed}; its \
                     Go and Rust build information may be missing",
                    self.fed
                ),
            ));
        }
        if let Some((header, _)) = &self.header {
            let read = |address: u64, len: u64| self.read_memory(address, len);
            let info = golang::parse_header(&header.data, &read);
            binary::add_go(info.map(Some), location, &mut packages, &mut warnings);
        }
        for audit in &self.audits {
            match rust::parse_dep_v0(&audit.kept.data, location) {
                Ok(found) => packages.extend(found),
                Err(warning) => warnings.push(warning),
            }
        }
        (packages, warnings)
    }

    /// Append the bytes of `chunk` (at file offset `start`) to everything still wanting
    /// them.
    fn top_up(&mut self, chunk: &[u8], start: u64) {
        if let Some((header, _)) = &mut self.header {
            header.top_up(chunk, start);
        }
        for kept in &mut self.string_headers {
            kept.top_up(chunk, start);
        }
        for kept in &mut self.strings {
            let from = kept.data.len();
            kept.top_up(chunk, start);
            end_at_sentinel(kept, from);
        }
        for audit in self.audits.iter_mut().filter(|a| !a.done) {
            let from = audit.kept.data.len();
            audit.kept.top_up(chunk, start);
            audit.inflate(from);
        }
    }

    /// Look for the patterns starting in `window[..scan]` (`window` starts at file offset
    /// `base`).
    fn scan(&mut self, window: &[u8], base: u64, scan: usize) {
        let end = base + scan as u64;
        let mut at = base;
        while at < end {
            let segment = self.segments.iter().find(|s| s.contains(at)).copied();
            let stop = match segment {
                Some(s) => end.min(s.offset.saturating_add(s.size)),
                None => self
                    .segments
                    .iter()
                    .map(|s| s.offset)
                    .filter(|&o| o > at)
                    .min()
                    .map_or(end, |o| end.min(o)),
            };
            let (Ok(from), Ok(to)) = (usize::try_from(at - base), usize::try_from(stop - base))
            else {
                return;
            };
            match segment {
                Some(segment) => self.scan_loaded(window, base, from, to, segment),
                None => self.scan_unloaded(window, base, from, to),
            }
            at = stop;
        }
    }

    /// Go patterns in `window[from..to]`, all inside `segment`.
    fn scan_loaded(&mut self, window: &[u8], base: u64, from: usize, to: usize, segment: Segment) {
        let offset_of = |i: usize| base + i as u64;
        let better = match &self.header {
            None => true,
            Some((_, writable)) => !writable && segment.writable,
        };
        if better {
            // 16-byte aligned by address.
            let misalign = segment.address_of(offset_of(from)) % 16;
            let first = from + ((16 - misalign) % 16) as usize;
            let found = (first..to)
                .step_by(16)
                .find(|&i| window.get(i..i + golang::MAGIC.len()) == Some(&golang::MAGIC[..]));
            if let Some(i) = found {
                let start = offset_of(i);
                let mut kept = Kept::new(start, GO_HEADER);
                kept.top_up(window, base);
                self.header = Some((kept, segment.writable));
                self.string_headers.clear();
            }
        }
        let region = window.get(from..to).unwrap_or_default();
        let candidates = [
            (
                &b"go1."[..],
                VERSION_BYTES,
                &mut self.versions,
                MAX_VERSIONS,
            ),
            (
                &SENTINEL_START[..],
                MAX_INLINE,
                &mut self.sentinels,
                MAX_SENTINELS,
            ),
        ];
        for (needle, len, count, max) in candidates {
            for i in memchr::memmem::find_iter(region, needle) {
                if *count >= max {
                    break;
                }
                *count += 1;
                let mut kept = Kept::new(offset_of(from + i), len);
                kept.top_up(window, base);
                end_at_sentinel(&mut kept, 0);
                self.strings.push(kept);
            }
        }
    }

    /// cargo-auditable streams starting in `window[from..to]`, outside every segment.
    fn scan_unloaded(&mut self, window: &[u8], base: u64, from: usize, to: usize) {
        let region = window.get(from..to).unwrap_or_default();
        for i in memchr::memchr_iter(0x78, region) {
            if self.audits.len() >= MAX_AUDITS {
                return;
            }
            let at = from + i;
            if !looks_auditable(window.get(at..).unwrap_or_default()) {
                continue;
            }
            let start = base + at as u64;
            let mut audit = Audit {
                kept: Kept::new(start, rust::MAX_AUDIT_JSON),
                inflater: Decompress::new(true),
                done: false,
            };
            audit.kept.top_up(window, base);
            audit.inflate(0);
            self.audits.push(audit);
        }
    }

    /// Grow the Go header to what it says follows it, and for pre-1.18 Go keep what its
    /// pointers lead to, taking from `window` what it already holds.
    fn follow(&mut self, window: &[u8], base: u64) {
        let Some((header, _)) = &mut self.header else {
            return;
        };
        loop {
            let wanted = header.start.saturating_add(header_wants(&header.data));
            if wanted <= header.end {
                break;
            }
            header.end = wanted;
            header.top_up(window, base);
        }
        let Some(pointers) = pointer_layout(&header.data) else {
            return;
        };
        if self.string_headers.is_empty() {
            for address in [pointers.version, pointers.modinfo] {
                // An address outside every segment keeps nothing.
                let offset = self.offset_of(address).unwrap_or(u64::MAX);
                let mut kept = Kept::new(offset, 2 * pointers.size);
                kept.top_up(window, base);
                self.string_headers.push(kept);
            }
        }
        let wanted: Vec<(u64, u64)> = self
            .string_headers
            .iter()
            .filter_map(|kept| pointers.string(&kept.data))
            .filter_map(|(address, len)| Some((self.offset_of(address)?, len.min(MAX_INLINE))))
            .collect();
        for (offset, len) in wanted {
            let covered = self
                .strings
                .iter()
                .any(|s| s.start <= offset && s.end >= offset.saturating_add(len));
            if len > 0 && !covered {
                let mut kept = Kept::new(offset, len);
                kept.top_up(window, base);
                self.strings.push(kept);
            }
        }
    }

    /// The file offset of virtual `address`.
    fn offset_of(&self, address: u64) -> Option<u64> {
        self.segments.iter().find_map(|s| {
            let delta = address.checked_sub(s.address)?;
            (delta < s.size).then(|| s.offset + delta)
        })
    }

    /// The `len` bytes at virtual `address`, if kept.
    fn read_memory(&self, address: u64, len: u64) -> Option<&[u8]> {
        let offset = self.offset_of(address)?;
        self.string_headers
            .iter()
            .chain(&self.strings)
            .find_map(|kept| kept.slice(offset, len))
    }
}

/// Stop keeping a module-info string (which starts with [`SENTINEL_START`]) after its end
/// sentinel, looking in the bytes from `from` on (and the 15 before them).
fn end_at_sentinel(kept: &mut Kept, from: usize) {
    if !kept.data.starts_with(SENTINEL_START) {
        return;
    }
    let look = from
        .saturating_sub(SENTINEL_END.len() - 1)
        .max(SENTINEL_START.len());
    let rest = kept.data.get(look..).unwrap_or_default();
    if let Some(at) = memchr::memmem::find(rest, SENTINEL_END) {
        kept.data.truncate(look + at + SENTINEL_END.len());
        kept.end = kept.next();
    }
}

/// How many bytes the Go header at the start of `data` wants kept, from what it holds so far:
/// the header, and for the inline layout each uvarint length and its string.
fn header_wants(data: &[u8]) -> u64 {
    const VARINT: u64 = 10;
    let Some(&flags) = data.get(15) else {
        return GO_HEADER;
    };
    if data.len() < GO_HEADER as usize || flags & 0x2 == 0 {
        return GO_HEADER;
    }
    let mut at = GO_HEADER;
    for _ in 0..2 {
        let rest = usize::try_from(at)
            .ok()
            .and_then(|at| data.get(at..))
            .unwrap_or_default();
        match uvarint(rest) {
            Some((len, used)) => at += used + len.min(MAX_INLINE),
            None => return at + VARINT.min(MAX_INLINE),
        }
    }
    at
}

/// A uvarint at the start of `data`, and its length; `None` if incomplete or too long.
fn uvarint(data: &[u8]) -> Option<(u64, u64)> {
    let mut value = 0u64;
    for (i, byte) in data.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i as u64 + 1));
        }
    }
    None
}

/// The pointers of a pre-1.18 Go build info header.
struct Pointers {
    size: u64,
    big_endian: bool,
    version: u64,
    modinfo: u64,
}

impl Pointers {
    fn read(&self, bytes: &[u8]) -> Option<u64> {
        let bytes = bytes.get(..usize::try_from(self.size).ok()?)?;
        let fold = |value: u64, b: &u8| (value << 8) | u64::from(*b);
        Some(if self.big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        })
    }

    /// The (address, length) of the Go string header `bytes`.
    fn string(&self, bytes: &[u8]) -> Option<(u64, u64)> {
        let size = usize::try_from(self.size).ok()?;
        Some((self.read(bytes)?, self.read(bytes.get(size..)?)?))
    }
}

/// The pointers of the header at the start of `data`, if it has the pre-1.18 layout.
fn pointer_layout(data: &[u8]) -> Option<Pointers> {
    let (&size, &flags) = (data.get(14)?, data.get(15)?);
    if flags & 0x2 != 0 || !matches!(size, 4 | 8) {
        return None;
    }
    let mut pointers = Pointers {
        size: u64::from(size),
        big_endian: flags & 0x1 != 0,
        version: 0,
        modinfo: 0,
    };
    pointers.version = pointers.read(data.get(16..)?)?;
    pointers.modinfo = pointers.read(data.get(16 + usize::from(size)..)?)?;
    Some(pointers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wants_grows_with_the_inline_lengths() {
        let mut data = vec![0u8; 32];
        data[..14].copy_from_slice(golang::MAGIC);
        data[14] = 8;
        assert_eq!(header_wants(&data), 32, "pointer layout: the header only");
        data[15] = 2;
        assert_eq!(header_wants(&data), 42, "inline: room for the first length");
        data.push(3);
        data.extend_from_slice(b"abc");
        assert_eq!(header_wants(&data), 46, "then the second length");
        data.extend_from_slice(&[0x80, 0x01]);
        assert_eq!(header_wants(&data), 36 + 2 + 128);
        assert_eq!(uvarint(&[0xff; 10]), None);
        assert_eq!(uvarint(&[0x80, 0x01]), Some((128, 2)));
    }

    #[test]
    fn auditable_streams_are_recognised_by_their_first_bytes() {
        use std::io::Write;
        let zlib = |json: &[u8]| {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(json).unwrap();
            z.finish().unwrap()
        };
        assert!(looks_auditable(&zlib(br#"{"packages":[]}"#)));
        assert!(looks_auditable(&zlib(br#"{"format":1,"packages":[]}"#)));
        assert!(!looks_auditable(&zlib(br#"{"other":1}"#)));
        assert!(!looks_auditable(&zlib(b"\x7fELF")));
        assert!(!looks_auditable(b"\x78\x9cgarbage"));
        assert!(!looks_auditable(b"\x78"));
        assert!(!looks_auditable(b""));
    }
}
