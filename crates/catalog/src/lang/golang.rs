//! Go modules from the build info the Go linker writes into every binary built in module
//! mode (Go 1.13 and later), read the way `go version -m` reads it.
//!
//! The build info is found in the `.go.buildinfo` section (ELF), `__go_buildinfo` (Mach-O),
//! or else at the start of the writable data (`.data`, PE, or the first writable ELF
//! segment): a 32-byte header, 16-byte aligned, starting `\xff Go buildinf:`, then the
//! pointer size and flags. With flag `0x2` (Go 1.18 and later) the Go version and the module
//! info follow inline, each a uvarint length and the bytes; before, two pointers lead to Go
//! string headers elsewhere in the image, resolved here through the section holding the
//! address. The module info is `path`, `mod`, `dep`, `=>` and `build` lines between two
//! 16-byte sentinels.
//!
//! Packages: the main module (`(devel)` when built from a checkout: kept, marked
//! `main_module`, its purl without a version), every dependency (for a replaced one the
//! replacement, with the original in `replaces`; a replacement by a local directory keeps
//! the original path with version `(devel)`), and the standard library as `stdlib` at the
//! toolchain version without its `go` prefix (as syft does; Go vulnerabilities in OSV are
//! filed against `stdlib`).

use object::{Object, ObjectSection, ObjectSegment};

use crate::package::{Ecosystem, Extra, Package};
use crate::purl;

/// The build info header magic.
pub const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// The header size.
const HEADER_SIZE: usize = 32;
/// The magic is searched for in the first 64 KiB of the data, as Go does.
const SEARCH_LIMIT: usize = 64 * 1024;
/// Strings (version, module info) longer than this are rejected.
const MAX_STRING: u64 = 16 * 1024 * 1024;
/// The version used for modules built from a checkout or a local directory.
pub const DEVEL: &str = "(devel)";

/// One module line (`mod`, `dep` or `=>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    /// Module path.
    pub path: String,
    /// Version (empty for a local directory replacement).
    pub version: String,
    /// `h1:` sum (may be empty).
    pub sum: String,
    /// The replacement (`=>` line), if any.
    pub replace: Option<Box<Module>>,
}

/// The build info of one binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// The toolchain version, e.g. `go1.19.8`.
    pub go_version: String,
    /// The main package path (`path` line).
    pub path: String,
    /// The main module (`mod` line), if built in module mode.
    pub main: Option<Module>,
    /// The dependencies (`dep` lines) in order.
    pub deps: Vec<Module>,
    /// `build` settings as `key=value` text, in order.
    pub settings: Vec<String>,
    /// Lines that could not be understood.
    pub bad_lines: usize,
}

/// Is `data` an ELF, PE or (thin or fat) Mach-O file, by its magic number?
pub fn is_executable_format(data: &[u8]) -> bool {
    matches!(
        data.get(..4),
        Some(b"\x7fELF" | [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe])
    ) || data.starts_with(b"MZ")
}

/// Read the build info of a whole binary (ELF, PE, Mach-O). `Ok(None)` when it is not a Go
/// binary (no build info magic); `Err` describes malformed data.
pub fn parse_binary(data: &[u8]) -> Result<Option<BuildInfo>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not a readable binary: {e}"))?;
    from_object(&file)
}

/// Read the build info from an already parsed binary.
pub fn from_object<'data>(file: &object::File<'data>) -> Result<Option<BuildInfo>, String> {
    let Some((region, _)) = buildinfo_region(file) else {
        return Ok(None);
    };
    let Some(offset) = find_magic(region) else {
        return Ok(None);
    };
    let region = region.get(offset..).unwrap_or_default();
    let read = |address: u64, len: u64| read_memory(file, address, len);
    parse_header(region, &read).map(Some)
}

/// Parse build info starting at its header, for inline (Go 1.18+) data only; pointer-based
/// data needs the image ([`parse_binary`]). For fuzzing and tests.
pub fn parse_buildinfo_blob(blob: &[u8]) -> Result<Option<BuildInfo>, String> {
    let Some(offset) = find_magic(blob) else {
        return Ok(None);
    };
    let no_memory = |_: u64, _: u64| None;
    parse_header(blob.get(offset..).unwrap_or_default(), &no_memory).map(Some)
}

/// The bytes where the build info header is searched for, and their address.
fn buildinfo_region<'data>(file: &object::File<'data>) -> Option<(&'data [u8], u64)> {
    for name in [".go.buildinfo", "__go_buildinfo"] {
        if let Some(section) = file.section_by_name(name) {
            return section.data().ok().map(|d| (d, section.address()));
        }
    }
    if let object::File::Elf32(_) | object::File::Elf64(_) = file {
        // Without section headers: the first writable loadable segment, as Go does.
        for segment in file.segments() {
            let writable = match segment.flags() {
                object::SegmentFlags::Elf { p_flags } => p_flags & object::elf::PF_W != 0,
                _ => false,
            };
            if writable {
                return segment.data().ok().map(|d| (d, segment.address()));
            }
        }
    }
    for name in [".data", "__data"] {
        if let Some(section) = file.section_by_name(name) {
            return section.data().ok().map(|d| (d, section.address()));
        }
    }
    None
}

/// The offset of the 16-byte aligned magic within the first 64 KiB of `region`.
fn find_magic(region: &[u8]) -> Option<usize> {
    let limit = region.len().min(SEARCH_LIMIT);
    (0..limit)
        .step_by(16)
        .find(|&at| region.get(at..at + MAGIC.len()) == Some(&MAGIC[..]))
}

/// Read `len` bytes at virtual `address` from the section holding them.
fn read_memory<'data>(file: &object::File<'data>, address: u64, len: u64) -> Option<&'data [u8]> {
    if len > MAX_STRING {
        return None;
    }
    let end = address.checked_add(len)?;
    for section in file.sections() {
        let start = section.address();
        let section_end = start.checked_add(section.size())?;
        if address >= start && end <= section_end {
            let data = section.data().ok()?;
            let offset = usize::try_from(address - start).ok()?;
            let len = usize::try_from(len).ok()?;
            return data.get(offset..offset.checked_add(len)?);
        }
    }
    None
}

pub(crate) fn parse_header<'a>(
    header: &'a [u8],
    read: &dyn Fn(u64, u64) -> Option<&'a [u8]>,
) -> Result<BuildInfo, String> {
    if header.len() < HEADER_SIZE {
        return Err("build info header is truncated".into());
    }
    let pointer_size = header.get(14).copied().unwrap_or(0);
    let flags = header.get(15).copied().unwrap_or(0);
    let big_endian = flags & 0x1 != 0;
    let (version, modinfo) = if flags & 0x2 != 0 {
        let rest = header.get(HEADER_SIZE..).unwrap_or_default();
        let (version, rest) = read_inline_string(rest).ok_or("truncated Go version string")?;
        let (modinfo, _) = read_inline_string(rest).ok_or("truncated module info string")?;
        (version, modinfo)
    } else {
        let size = match pointer_size {
            4 | 8 => usize::from(pointer_size),
            other => return Err(format!("unsupported pointer size {other}")),
        };
        let pointer = |at: usize| read_pointer(header.get(at..)?, size, big_endian);
        let version_at = pointer(16).ok_or("truncated build info header")?;
        let modinfo_at = pointer(16 + size).ok_or("truncated build info header")?;
        let string = |address: u64| -> Option<&'a [u8]> {
            let string_header = read(address, 2 * size as u64)?;
            let data = read_pointer(string_header, size, big_endian)?;
            let len = read_pointer(string_header.get(size..)?, size, big_endian)?;
            if len == 0 {
                return Some(&[]);
            }
            read(data, len)
        };
        let version = string(version_at).ok_or("cannot resolve the Go version pointer")?;
        let modinfo = string(modinfo_at).ok_or("cannot resolve the module info pointer")?;
        (version, modinfo)
    };
    let version = String::from_utf8_lossy(version).into_owned();
    Ok(parse_modinfo(&version, &strip_sentinels(modinfo)))
}

fn read_pointer(bytes: &[u8], size: usize, big_endian: bool) -> Option<u64> {
    let bytes = bytes.get(..size)?;
    let mut value = 0u64;
    if big_endian {
        for b in bytes {
            value = (value << 8) | u64::from(*b);
        }
    } else {
        for b in bytes.iter().rev() {
            value = (value << 8) | u64::from(*b);
        }
    }
    Some(value)
}

/// A uvarint-length-prefixed string, and what follows it.
fn read_inline_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len = 0u64;
    let mut shift = 0u32;
    let mut used = 0usize;
    loop {
        let byte = *data.get(used)?;
        used += 1;
        if shift >= 64 {
            return None;
        }
        len |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if len > MAX_STRING {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    let end = used.checked_add(len)?;
    Some((data.get(used..end)?, data.get(end..)?))
}

/// The module info without its 16-byte sentinels (empty when they are missing, as in Go).
fn strip_sentinels(modinfo: &[u8]) -> String {
    let len = modinfo.len();
    if len >= 33 && modinfo.get(len - 17) == Some(&b'\n') {
        String::from_utf8_lossy(modinfo.get(16..len - 16).unwrap_or_default()).into_owned()
    } else {
        String::new()
    }
}

fn module_from(fields: &[&str]) -> Option<Module> {
    let path = fields.first().filter(|p| !p.is_empty())?;
    Some(Module {
        path: (*path).to_string(),
        version: fields.get(1).copied().unwrap_or("").to_string(),
        sum: fields.get(2).copied().unwrap_or("").to_string(),
        replace: None,
    })
}

/// Parse module info text (without sentinels) as `runtime/debug.ParseBuildInfo` does, but
/// leniently: lines it cannot read are counted in `bad_lines`.
pub fn parse_modinfo(go_version: &str, modinfo: &str) -> BuildInfo {
    let mut info = BuildInfo {
        go_version: go_version.to_string(),
        ..BuildInfo::default()
    };
    // Which module a `=>` line replaces: the last `dep`, else the main module.
    let mut last_is_dep = false;
    for line in modinfo.split('\n') {
        if line.is_empty() {
            continue;
        }
        let (word, rest) = line.split_once('\t').unwrap_or((line, ""));
        let fields: Vec<&str> = rest.split('\t').collect();
        match word {
            "path" => info.path = rest.to_string(),
            "mod" => match module_from(&fields) {
                Some(m) => {
                    info.main = Some(m);
                    last_is_dep = false;
                }
                None => info.bad_lines += 1,
            },
            "dep" => match module_from(&fields) {
                Some(m) => {
                    info.deps.push(m);
                    last_is_dep = true;
                }
                None => info.bad_lines += 1,
            },
            "=>" => {
                let target = if last_is_dep {
                    info.deps.last_mut()
                } else {
                    info.main.as_mut()
                };
                match (target, module_from(&fields)) {
                    (Some(target), Some(replacement)) if target.replace.is_none() => {
                        target.replace = Some(Box::new(replacement));
                    }
                    _ => info.bad_lines += 1,
                }
            }
            "build" => info.settings.push(rest.to_string()),
            _ => info.bad_lines += 1,
        }
    }
    info
}

fn go_package(
    path: &str,
    version: &str,
    sum: &str,
    location: &str,
    go_version: &str,
    main_module: bool,
    replaces: Option<String>,
) -> Package {
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    let purl_version = Some(version).filter(|v| *v != DEVEL);
    Package::new(
        Ecosystem::Go,
        path,
        version,
        location,
        purl::build("golang", namespace, name, purl_version, &[]),
        Extra::Go {
            go_version: go_version.to_string(),
            main_module,
            sum: Some(sum.to_string()).filter(|s| !s.is_empty()),
            replaces,
        },
    )
}

/// A replacement by a directory (`./x`, `../x`, `/x`; Go writes its version as empty or
/// `(devel)`) rather than by another module version.
fn is_local_replacement(replacement: &Module) -> bool {
    replacement.version.is_empty()
        || replacement.version == DEVEL
        || replacement.path.starts_with("./")
        || replacement.path.starts_with("../")
        || replacement.path.starts_with('/')
}

/// The toolchain version as a module version, as the Go vulnerability database writes it
/// (`GoTagToSemver` in `golang.org/x/vuln`, without the `v`): `go1.19.8 X:boringcrypto` ->
/// `1.19.8`, `go1.21` -> `1.21.0`, `go1.21rc2` -> `1.21.0-rc.2`, `go1.19beta1` ->
/// `1.19.0-beta.1`, `go1` -> `1.0.0`. A tag of another form (a vendor's build such as
/// `go1.22-20231128-RC02`) is kept as it is, without `go`; `None` for `devel` builds.
pub fn stdlib_version(go_version: &str) -> Option<String> {
    let first = go_version.split_whitespace().next()?;
    let version = first.strip_prefix("go")?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(tag_to_semver(version).unwrap_or_else(|| version.to_string()))
}

/// `MAJOR.MINOR[.PATCH][(beta|rc|-pre)N]` as SemVer, or `None` for other forms.
fn tag_to_semver(tag: &str) -> Option<String> {
    if tag == "1" {
        return Some("1.0.0".into());
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (release, pre) = match ["beta", "rc", "-pre"]
        .iter()
        .find_map(|kind| tag.split_once(kind).map(|(r, n)| (r, Some((*kind, n)))))
    {
        Some((release, Some((kind, number)))) if digits(number) => {
            (release, Some((kind.trim_start_matches('-'), number)))
        }
        Some(_) => return None,
        None => (tag, None),
    };
    let mut parts = release.split('.');
    let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() || !digits(major) || !digits(minor) || tag == "1.0" {
        return None;
    }
    let patch = match patch {
        Some(p) if digits(p) => p,
        Some(_) => return None,
        None => "0",
    };
    let mut out = format!("{major}.{minor}.{patch}");
    if let Some((kind, number)) = pre {
        out.push_str(&format!("-{kind}.{number}"));
    }
    Some(out)
}

impl BuildInfo {
    /// The packages of this build info, found in the binary at `location`.
    pub fn packages(&self, location: &str) -> Vec<Package> {
        let go = self.go_version.as_str();
        let mut out = Vec::new();
        if let Some(main) = &self.main {
            let version = if main.version.is_empty() {
                DEVEL
            } else {
                &main.version
            };
            out.push(go_package(
                &main.path, version, &main.sum, location, go, true, None,
            ));
        }
        for dep in &self.deps {
            let original = format!("{}@{}", dep.path, dep.version);
            out.push(match dep.replace.as_deref() {
                None => go_package(&dep.path, &dep.version, &dep.sum, location, go, false, None),
                Some(r) if is_local_replacement(r) => {
                    go_package(&dep.path, DEVEL, "", location, go, false, Some(original))
                }
                Some(r) => go_package(
                    &r.path,
                    &r.version,
                    &r.sum,
                    location,
                    go,
                    false,
                    Some(original),
                ),
            });
        }
        if let Some(version) = stdlib_version(go) {
            out.push(go_package(
                "stdlib", &version, "", location, go, false, None,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &[u8; 16] = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const END: &[u8; 16] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut out = vec![0u8; 16];
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[8, 2]);
        out.extend_from_slice(&[0; 16]);
        varint(version.len(), &mut out);
        out.extend_from_slice(version.as_bytes());
        let mut m = START.to_vec();
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(END);
        varint(m.len(), &mut out);
        out.extend_from_slice(&m);
        out
    }

    const MODINFO: &str = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.7\th1:abc=\ndep\texample.com/lib\tv1.0.0\t\n=>\t../lib\t\t\ndep\tgithub.com/a/b\tv1.0.0\th1:old=\n=>\tgithub.com/c/b\tv1.1.0\th1:new=\nbuild\t-compiler=gc\nbuild\tGOOS=linux\n";

    #[test]
    fn inline_blob() {
        let info = parse_buildinfo_blob(&blob("go1.19.8", MODINFO))
            .unwrap()
            .unwrap();
        assert_eq!(info.go_version, "go1.19.8");
        assert_eq!(info.path, "example.com/hello");
        assert_eq!(info.deps.len(), 3);
        assert_eq!(info.settings, ["-compiler=gc", "GOOS=linux"]);
        assert_eq!(info.bad_lines, 0);
        let packages = info.packages("usr/bin/hello");
        let got: Vec<(&str, &str, &str)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.purl.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "example.com/hello",
                    "(devel)",
                    "pkg:golang/example.com/hello"
                ),
                (
                    "golang.org/x/text",
                    "v0.3.7",
                    "pkg:golang/golang.org/x/text@v0.3.7"
                ),
                ("example.com/lib", "(devel)", "pkg:golang/example.com/lib"),
                (
                    "github.com/c/b",
                    "v1.1.0",
                    "pkg:golang/github.com/c/b@v1.1.0"
                ),
                ("stdlib", "1.19.8", "pkg:golang/stdlib@1.19.8"),
            ]
        );
        assert_eq!(
            packages[3].extra,
            Extra::Go {
                go_version: "go1.19.8".into(),
                main_module: false,
                sum: Some("h1:new=".into()),
                replaces: Some("github.com/a/b@v1.0.0".into()),
            }
        );
    }

    #[test]
    fn garbage() {
        assert_eq!(parse_buildinfo_blob(b"nothing here"), Ok(None));
        let mut truncated = blob("go1.19.8", MODINFO);
        truncated.truncate(60);
        assert!(parse_buildinfo_blob(&truncated).is_err());
        let mut bad_pointer = blob("go1.19.8", MODINFO);
        bad_pointer[16 + 15] = 0; // pointer mode, no image to resolve through
        assert!(parse_buildinfo_blob(&bad_pointer).is_err());
        bad_pointer[16 + 14] = 3;
        assert!(
            parse_buildinfo_blob(&bad_pointer)
                .unwrap_err()
                .contains("pointer size 3")
        );
        // Missing sentinels: no module info, like Go.
        let mut no_sentinel = vec![0u8; 16];
        no_sentinel.extend_from_slice(MAGIC);
        no_sentinel.extend_from_slice(&[8, 2]);
        no_sentinel.extend_from_slice(&[0; 16]);
        no_sentinel.extend_from_slice(b"\x08go1.22.1\x05dep\tx");
        let info = parse_buildinfo_blob(&no_sentinel).unwrap().unwrap();
        assert!(info.deps.is_empty());
        assert_eq!(info.packages("x").len(), 1);
        assert_eq!(stdlib_version("devel +abc"), None);
    }

    /// The cases of `GoTagToSemver` (golang.org/x/vuln/internal/semver), without the `v`.
    #[test]
    fn toolchain_tags_as_the_go_vulnerability_database_writes_them() {
        for (tag, want) in [
            ("go1.22.0 X:boringcrypto", Some("1.22.0")),
            ("go1.19.8", Some("1.19.8")),
            ("go1.21", Some("1.21.0")),
            ("go1.21rc2", Some("1.21.0-rc.2")),
            ("go1.19beta1", Some("1.19.0-beta.1")),
            ("go1.9.2rc2", Some("1.9.2-rc.2")),
            ("go1.20-pre3", Some("1.20.0-pre.3")),
            ("go1", Some("1.0.0")),
            (
                "go1.22-20231128-RC02 cl/586432587",
                Some("1.22-20231128-RC02"),
            ),
            ("go1.21rc", Some("1.21rc")),
            ("go1.0", Some("1.0")),
            ("devel go1.23-abc", None),
            ("gox", None),
        ] {
            assert_eq!(stdlib_version(tag).as_deref(), want, "{tag}");
        }
    }
}
