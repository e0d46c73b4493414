//! Executables read once as they stream by ([`sieve`]) give what the whole file gives
//! ([`binary::parse_executable`]), whatever the sizes of the reads: on a Go binary built here
//! and on linked ELF files laid out as linkers lay them out (loadable segments first, then
//! the sections no segment loads, then the section headers).

use std::io::{Read, Write};

use portcullis_catalog::lang::{binary, golang, sieve};
use proptest::prelude::*;

use super::lang::{SectionHeader, go_test_binary, rows, write_section_table};

/// One section of [`linked_elf`]: name, address, bytes, loaded by a segment, writable.
struct Section<'a> {
    name: &'a str,
    address: u64,
    data: &'a [u8],
    loaded: bool,
    writable: bool,
}

/// A little-endian ELF64 executable: one `PT_LOAD` program header per loaded section (in
/// the file in the order given, 16-byte aligned, file offset congruent to the address modulo
/// 4 KiB), the other sections after them, then `.shstrtab` and the section headers.
fn linked_elf(sections: &[Section<'_>]) -> Vec<u8> {
    let loaded = sections.iter().filter(|s| s.loaded).count();
    let phoff = 64u64;
    let mut out = vec![0u8; 64 + 56 * loaded];
    let mut program_headers = Vec::new();
    let mut section_headers: Vec<SectionHeader> = Vec::new();
    let mut shstrtab = b"\0.shstrtab\0".to_vec();
    for section in sections {
        if section.loaded {
            while out.len() as u64 % 4096 != section.address % 4096 {
                out.push(0);
            }
        }
        let offset = out.len() as u64;
        out.extend_from_slice(section.data);
        let size = section.data.len() as u64;
        if section.loaded {
            let flags = if section.writable { 4 | 2 } else { 4 };
            program_headers.push((flags, offset, section.address, size));
        }
        let name = shstrtab.len() as u32;
        shstrtab.extend_from_slice(section.name.as_bytes());
        shstrtab.push(0);
        let sh_flags = match (section.loaded, section.writable) {
            (false, _) => 0,
            (true, false) => 2u64,
            (true, true) => 3,
        };
        let address = if section.loaded { section.address } else { 0 };
        section_headers.push((name, 1u32, sh_flags, address, offset, size));
    }
    // The null section, `section_headers` and `.shstrtab`.
    let count = section_headers.len() as u16 + 2;
    let shoff = write_section_table(&mut out, &shstrtab, section_headers);
    for (i, (flags, offset, address, size)) in program_headers.iter().enumerate() {
        let at = phoff as usize + 56 * i;
        let header = &mut out[at..at + 56];
        header[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        header[4..8].copy_from_slice(&(*flags as u32).to_le_bytes());
        header[8..16].copy_from_slice(&offset.to_le_bytes());
        header[16..24].copy_from_slice(&address.to_le_bytes());
        header[24..32].copy_from_slice(&address.to_le_bytes());
        header[32..40].copy_from_slice(&size.to_le_bytes());
        header[40..48].copy_from_slice(&size.to_le_bytes());
        header[48..56].copy_from_slice(&4096u64.to_le_bytes());
    }
    let header = &mut out[..64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2;
    header[5] = 1;
    header[6] = 1;
    header[16..18].copy_from_slice(&2u16.to_le_bytes());
    header[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    header[20..24].copy_from_slice(&1u32.to_le_bytes());
    header[32..40].copy_from_slice(&phoff.to_le_bytes());
    header[40..48].copy_from_slice(&shoff.to_le_bytes());
    header[52..54].copy_from_slice(&64u16.to_le_bytes());
    header[54..56].copy_from_slice(&56u16.to_le_bytes());
    header[56..58].copy_from_slice(&(loaded as u16).to_le_bytes());
    header[58..60].copy_from_slice(&64u16.to_le_bytes());
    header[60..62].copy_from_slice(&count.to_le_bytes());
    header[62..64].copy_from_slice(&(count - 1).to_le_bytes());
    out
}

/// Package rows and warning texts.
type Found = (Vec<(String, String, String, String, String)>, Vec<String>);

/// A reader handing out `data` in reads of the given sizes, in turn.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What the sieve finds in `data` read in reads of `sizes`.
fn streamed(data: &[u8], sizes: &[usize]) -> Found {
    let mut reader = Chunked {
        data,
        sizes: sizes.to_vec(),
        turn: 0,
    };
    let (packages, warnings) = sieve::read_executable(&mut reader, "usr/bin/x")
        .unwrap()
        .unwrap_or_default();
    (
        rows(&packages),
        warnings.iter().map(ToString::to_string).collect(),
    )
}

/// What the whole file gives.
fn whole(data: &[u8]) -> Found {
    let (packages, warnings) = binary::parse_executable(data, "usr/bin/x");
    (
        rows(&packages),
        warnings.iter().map(ToString::to_string).collect(),
    )
}

const SENTINEL_START: &[u8] = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
const SENTINEL_END: &[u8] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A pre-1.18 Go binary that is also cargo-auditable: `.rodata` holds the version and the
/// module info (before the build info, as the Go linker lays them out), `.go.buildinfo`
/// points at two string headers in `.data`, which point back into `.rodata`; `.dep-v0` and
/// a compressed debug section lie outside every segment.
fn old_go_and_auditable() -> Vec<u8> {
    let version = b"go1.16.15";
    let modinfo = [
        SENTINEL_START,
        b"path\tex.com/old\nmod\tex.com/old\tv0.1.0\th1:x=\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:y=\n",
        SENTINEL_END,
    ]
    .concat();
    let rodata_at = 0x40_1000u64;
    let mut rodata = vec![0x90u8; 300];
    let version_at = rodata_at + rodata.len() as u64;
    rodata.extend_from_slice(version);
    rodata.extend_from_slice(b"go1.99 is a decoy");
    let modinfo_at = rodata_at + rodata.len() as u64;
    rodata.extend_from_slice(&modinfo);
    rodata.extend_from_slice(&[0x78, 0x9c, 1, 2, 3]);
    let data_at = 0x60_2000u64;
    let mut data = vec![0u8; 48];
    for (ptr, len) in [(version_at, version.len()), (modinfo_at, modinfo.len())] {
        data.extend_from_slice(&ptr.to_le_bytes());
        data.extend_from_slice(&(len as u64).to_le_bytes());
    }
    let mut header = golang::MAGIC.to_vec();
    header.extend_from_slice(&[8, 0]);
    header.extend_from_slice(&(data_at + 48).to_le_bytes());
    header.extend_from_slice(&(data_at + 64).to_le_bytes());
    header.resize(32, 0);
    let dep = zlib(br#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","kind":"runtime","dependencies":[1],"root":true},{"name":"itoa","version":"1.0.11","source":"crates.io","kind":"runtime"}]}"#);
    let debug = zlib(&[7u8; 5000]);
    linked_elf(&[
        Section {
            name: ".text",
            address: 0x40_0000,
            data: &[0xc3; 200],
            loaded: true,
            writable: false,
        },
        Section {
            name: ".rodata",
            address: rodata_at,
            data: &rodata,
            loaded: true,
            writable: false,
        },
        Section {
            name: ".go.buildinfo",
            address: 0x60_1000,
            data: &header,
            loaded: true,
            writable: true,
        },
        Section {
            name: ".data",
            address: data_at,
            data: &data,
            loaded: true,
            writable: true,
        },
        Section {
            name: ".zdebug_info",
            address: 0,
            data: &debug,
            loaded: false,
            writable: false,
        },
        Section {
            name: binary::DEP_V0,
            address: 0,
            data: &dep,
            loaded: false,
            writable: false,
        },
    ])
}

fn expected_old_go_and_auditable() -> Vec<(String, String, String, String, String)> {
    let row = |kind: &str, name: &str, version: &str, purl: &str| {
        (
            kind.to_string(),
            name.to_string(),
            version.to_string(),
            purl.to_string(),
            "usr/bin/x".to_string(),
        )
    };
    vec![
        row("cargo", "hello", "0.1.0", "pkg:cargo/hello@0.1.0"),
        row("cargo", "itoa", "1.0.11", "pkg:cargo/itoa@1.0.11"),
        row("go", "ex.com/old", "v0.1.0", "pkg:golang/ex.com/old@v0.1.0"),
        row(
            "go",
            "github.com/pkg/errors",
            "v0.9.1",
            "pkg:golang/github.com/pkg/errors@v0.9.1",
        ),
        row("go", "stdlib", "1.16.15", "pkg:golang/stdlib@1.16.15"),
    ]
}

#[test]
fn old_go_and_cargo_auditable_read_in_one_pass() {
    let elf = old_go_and_auditable();
    let expected = (expected_old_go_and_auditable(), Vec::<String>::new());
    assert_eq!(whole(&elf), expected);
    for sizes in [
        vec![elf.len()],
        vec![1],
        vec![7],
        vec![16],
        vec![63, 64, 65],
        vec![4096],
        vec![1000, 1],
    ] {
        assert_eq!(streamed(&elf, &sizes), expected, "reads of {sizes:?}");
    }
}

#[test]
fn go_binary_read_in_one_pass() {
    let Some((_dir, _, data)) = go_test_binary() else {
        return;
    };
    let expected = whole(&data);
    // example.com/hello (devel), example.com/greet replaced by ./greet, stdlib.
    assert_eq!(expected.0.len(), 3, "{expected:?}");
    assert!(expected.1.is_empty());
    for sizes in [
        vec![data.len()],
        vec![16 * 1024 + 3],
        vec![4096, 1, 100_000],
        vec![61],
    ] {
        assert_eq!(streamed(&data, &sizes), expected, "reads of {sizes:?}");
    }
}

#[test]
fn what_is_not_an_executable_gives_nothing() {
    let mut script: &[u8] = b"#!/bin/sh\necho hi\n";
    assert!(sieve::read_executable(&mut script, "x").unwrap().is_none());
    let mut empty: &[u8] = b"";
    assert!(sieve::read_executable(&mut empty, "x").unwrap().is_none());
    // An ELF header alone: no segments, read whole, and the whole-file parser warns.
    let elf = old_go_and_auditable();
    assert_eq!(streamed(&elf[..100], &[100]), whole(&elf[..100]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sizes of reads give what the whole file gives.
    #[test]
    fn any_reads_give_the_whole_file_result(sizes in proptest::collection::vec(1usize..300, 1..8)) {
        let elf = old_go_and_auditable();
        prop_assert_eq!(streamed(&elf, &sizes), (expected_old_go_and_auditable(), Vec::new()));
    }

    /// Truncated or corrupted files never panic.
    #[test]
    fn damaged_files_never_panic(
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8),
        sizes in proptest::collection::vec(1usize..500, 1..4),
    ) {
        let mut elf = old_go_and_auditable();
        for (at, byte) in flips {
            let at = at % elf.len();
            elf[at] = byte;
        }
        let len = elf.len();
        elf.truncate(len - cut.min(len));
        let _ = streamed(&elf, &sizes);
    }
}

/// An executable that ends before its loadable segments do says so, naming the file.
#[test]
fn truncated_executables_are_named() {
    let elf = old_go_and_auditable();
    let (packages, warnings) = streamed(&elf[..400], &[64]);
    assert!(packages.is_empty());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("usr/bin/x: truncated executable: 400 bytes"),
        "{}",
        warnings[0]
    );
}
