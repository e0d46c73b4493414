//! Java archives: jar, war, ear (and Jenkins plugins, jpi and hpi), nested ones included.
//!
//! One package per `META-INF/maven/**/pom.properties` (groupId, artifactId, version). An
//! archive without one falls back to the file name (`name-1.2.3.jar`) and `META-INF/MANIFEST.MF`:
//! the name from the file name (as syft does), else `Implementation-Title`, else
//! `Bundle-SymbolicName`; the version from `Implementation-Version`, else `Bundle-Version`,
//! else the file name. An archive with no version anywhere gives no package (syft also
//! leaves out an archive with neither pom.properties nor manifest; we use the file name). Archives inside
//! archives (`BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`, `lib/*.jar`, any entry with an
//! archive extension) are read recursively up to [`Limits::max_depth`]; their location is
//! `outer.jar:BOOT-INF/lib/inner.jar`.
//!
//! Zip bombs: entries are decompressed through a reader that stops one byte past the cap
//! (the declared sizes are never trusted), each entry to [`Limits::max_entry`] and all the
//! entries of one outer archive, nested ones included, to [`Limits::max_total`].

use std::io::{Cursor, Read};

use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::Warning;

/// The files read.
pub const PATTERNS: &[&str] = &["**/*.jar", "**/*.war", "**/*.ear", "**/*.jpi", "**/*.hpi"];

const ARCHIVE_EXTENSIONS: &[&str] = &[".jar", ".war", ".ear", ".jpi", ".hpi"];

/// Bounds on reading one outer archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How deep archives inside archives are opened (the outer archive is depth 0).
    pub max_depth: usize,
    /// The most bytes one entry may decompress to.
    pub max_entry: u64,
    /// The most bytes all entries of one outer archive may decompress to.
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 4,
            max_entry: 64 * 1024 * 1024,
            max_total: 256 * 1024 * 1024,
        }
    }
}

file_cataloger!(
    /// Catalogs Java archives.
    JavaCataloger,
    "java",
    PATTERNS,
    |data, location, _| parse_or_decode(data, location),
);

/// Archives at least this big are reduced to their packages as soon as they are read
/// ([`summarize_archive`]); smaller ones are kept whole until cataloguing.
pub const SUMMARIZE_FROM: usize = 1024 * 1024;

const SUMMARY_MAGIC: &[u8] = b"\0portcullis-java-summary-v1\0";

/// Is `path` a Java archive this cataloger reads (its name ends as [`PATTERNS`] say)?
pub fn is_archive_path(path: &str) -> bool {
    ARCHIVE_EXTENSIONS.iter().any(|ext| path.ends_with(ext))
}

/// Reduce a Java archive of [`SUMMARIZE_FROM`] bytes or more to what this cataloger needs:
/// the packages and warnings [`parse_archive`] finds under `location`, encoded compactly.
/// For an archive already read whole (one that [`summarize_stream`] cannot walk): a 67 MB
/// fat jar is a few hundred bytes once read. Smaller archives
/// come back as they are.
pub fn summarize_archive(data: Vec<u8>, location: &str) -> Vec<u8> {
    if data.len() < SUMMARIZE_FROM {
        return data;
    }
    let (packages, warnings) = parse_archive(&data, location);
    encode_summary(location, &packages, &warnings)
}

/// The summary of what was found in the archive at `location`.
fn encode_summary(location: &str, packages: &[Package], warnings: &[Warning]) -> Vec<u8> {
    let mut out = SUMMARY_MAGIC.to_vec();
    if let Err(e) = serde_json::to_writer(&mut out, &(location, packages, warnings)) {
        // Serialising our own plain types does not fail; say so if it ever does.
        let warning = Warning::error(location, format!("archive summary: {e}"));
        out = SUMMARY_MAGIC.to_vec();
        let empty: &[Package] = &[];
        out.extend_from_slice(
            &serde_json::to_vec(&(location, empty, [warning])).unwrap_or_default(),
        );
    }
    out
}

/// Archives at least this big (those [`summarize_archive`] reduces) are read as they stream
/// by ([`summarize_stream`]), one entry at a time, instead of whole: memory holds the entries
/// read (`pom.properties`, the manifest, one nested archive at a time), not the archive.
pub const STREAM_FROM: u64 = SUMMARIZE_FROM as u64;

/// [`summarize_archive`] for an archive of `size` bytes read from `reader`: one of
/// [`STREAM_FROM`] bytes or more that starts with a local file header is walked entry by
/// entry ([`zipstream`](super::zipstream)) and never held whole; others are read whole.
/// Errors are `reader`'s.
pub fn summarize_stream(
    reader: &mut dyn Read,
    size: u64,
    location: &str,
) -> std::io::Result<Vec<u8>> {
    let mut input = super::zipstream::Input::new(Tracked::new(reader));
    let streamable = size >= STREAM_FROM && input.fill_to(4)?.starts_with(b"PK\x03\x04");
    if !streamable {
        let mut data = Vec::new();
        input.read_to_end(&mut data)?;
        return Ok(summarize_archive(data, location));
    }
    let mut walk = Walk {
        limits: Limits::default(),
        budget: Limits::default().max_total,
        packages: Vec::new(),
        warnings: Vec::new(),
    };
    walk.stream(&mut input, location);
    if let Some(e) = input.get_mut().failed.take() {
        return Err(e);
    }
    Ok(encode_summary(location, &walk.packages, &walk.warnings))
}

/// A reader that keeps the error of the reader it wraps, to tell a failing layer from a
/// faulty archive.
struct Tracked<'a> {
    inner: &'a mut dyn Read,
    failed: Option<std::io::Error>,
}

impl<'a> Tracked<'a> {
    fn new(inner: &'a mut dyn Read) -> Self {
        Self {
            inner,
            failed: None,
        }
    }
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }
}

impl Walk {
    /// Walk a streamed outer archive: its packages as [`Walk::archive`] finds them, nested
    /// archives opened one at a time as they are met. (The total cap is charged in the
    /// order entries come, so when it is reached, which entries are left out may differ.)
    /// A fault of `input` stops the walk like a fault of the archive; the caller tells them
    /// apart.
    fn stream<R: Read>(&mut self, input: &mut super::zipstream::Input<R>, location: &str) {
        let mut poms = Vec::new();
        let mut manifest = None;
        let mut nested = Walk {
            limits: self.limits,
            budget: 0,
            packages: Vec::new(),
            warnings: Vec::new(),
        };
        let max_entry = self.limits.max_entry;
        let end = super::zipstream::walk(input, &mut |name, data| {
            let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
            let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
            let is_nested = is_archive_name(name);
            if name.ends_with('/') || !(is_pom || is_manifest || is_nested) {
                return Ok(());
            }
            let read = data.and_then(|data| read_up_to(data, max_entry));
            if is_pom {
                let read = read.and_then(|bytes| self.charge(bytes.len() as u64).map(|()| bytes));
                poms.push((name.to_string(), read));
            } else if is_manifest {
                manifest = Some(read);
            } else {
                let inner = format!("{location}:{name}");
                match read.and_then(|bytes| self.charge(bytes.len() as u64).map(|()| bytes)) {
                    Ok(bytes) => {
                        nested.budget = self.budget;
                        nested.archive(&bytes, &inner, 1);
                        self.budget = nested.budget;
                    }
                    Err(e) => nested.warn(&inner, e),
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| super::zipstream::End::Stopped(format!("at an unreadable entry: {e}")));
        self.identify(location, poms, |walk| {
            manifest
                .map(|read| read.and_then(|bytes| walk.charge(bytes.len() as u64).map(|()| bytes)))
        });
        if let super::zipstream::End::Stopped(why) = end {
            self.warn(
                location,
                format!("read in one pass, stopped {why}; later entries not read"),
            );
        }
        self.packages.append(&mut nested.packages);
        self.warnings.append(&mut nested.warnings);
    }
}

/// [`parse_archive`], or the packages and warnings of a [`summarize_archive`] summary, moved
/// to `location` (an archive read through a symlink was summarised under the link's target).
fn parse_or_decode(data: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
    let Some(json) = data.strip_prefix(SUMMARY_MAGIC) else {
        return parse_archive(data, location);
    };
    match serde_json::from_slice::<(String, Vec<Package>, Vec<Warning>)>(json) {
        Ok((read_as, mut packages, mut warnings)) => {
            let relocate = |place: &mut String| {
                if let Some(rest) = place.strip_prefix(read_as.as_str())
                    && (rest.is_empty() || rest.starts_with(':'))
                {
                    *place = format!("{location}{rest}");
                }
            };
            packages.iter_mut().for_each(|p| relocate(&mut p.location));
            warnings.iter_mut().for_each(|w| relocate(&mut w.location));
            (packages, warnings)
        }
        Err(e) => (
            Vec::new(),
            vec![Warning::new(
                location,
                format!("unreadable Java archive summary: {e}"),
            )],
        ),
    }
}

/// Read a Java archive (and the archives inside it) with the default [`Limits`].
pub fn parse_archive(data: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
    parse_archive_with(data, location, Limits::default())
}

/// Read a Java archive with explicit limits. `location` names the archive in packages and
/// warnings.
pub fn parse_archive_with(
    data: &[u8],
    location: &str,
    limits: Limits,
) -> (Vec<Package>, Vec<Warning>) {
    let mut walk = Walk {
        limits,
        budget: limits.max_total,
        packages: Vec::new(),
        warnings: Vec::new(),
    };
    walk.archive(data, location, 0);
    (walk.packages, walk.warnings)
}

struct Walk {
    limits: Limits,
    budget: u64,
    packages: Vec<Package>,
    warnings: Vec<Warning>,
}

fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ARCHIVE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

impl Walk {
    fn warn(&mut self, location: &str, message: impl Into<String>) {
        self.warnings.push(Warning::new(location, message));
    }

    /// Decompress one entry, bounded by the per-entry cap and the remaining budget.
    fn read_entry<R: Read + std::io::Seek>(
        &mut self,
        archive: &mut zip::ZipArchive<R>,
        index: usize,
    ) -> Result<Vec<u8>, String> {
        let entry = archive.by_index(index).map_err(|e| e.to_string())?;
        let cap = self.limits.max_entry.min(self.budget);
        let out = read_up_to(entry, cap)?;
        self.charge(out.len() as u64).map(|()| out)
    }

    /// Take `read` decompressed bytes (read up to one past a cap of at least the per-entry
    /// cap or the remaining budget, whichever is less) from the budget, or say which cap
    /// they are over.
    fn charge(&mut self, read: u64) -> Result<(), String> {
        let cap = self.limits.max_entry.min(self.budget);
        if read > cap {
            return Err(if cap == self.limits.max_entry {
                format!(
                    "decompresses to more than {} bytes (a zip bomb?); skipped",
                    self.limits.max_entry
                )
            } else {
                format!(
                    "over the {}-byte total decompression cap of the archive; skipped",
                    self.limits.max_total
                )
            });
        }
        self.budget = self.budget.saturating_sub(read);
        Ok(())
    }

    fn archive(&mut self, data: &[u8], location: &str, depth: usize) {
        let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
            Ok(a) => a,
            Err(e) => {
                self.warn(location, format!("not a readable zip archive: {e}"));
                return;
            }
        };
        let mut poms = Vec::new();
        let mut manifest = None;
        let mut nested = Vec::new();
        for index in 0..archive.len() {
            let Some(name) = archive.name_for_index(index) else {
                continue;
            };
            if name.ends_with('/') {
                continue;
            }
            if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
                poms.push((index, name.to_string()));
            } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
                manifest = Some(index);
            } else if is_archive_name(name) {
                nested.push((index, name.to_string()));
            }
        }
        let poms = poms.into_iter().map(|(index, name)| {
            let read = self.read_entry(&mut archive, index);
            (name, read)
        });
        let poms: Vec<_> = poms.collect();
        self.identify(location, poms, |walk| {
            manifest.map(|index| walk.read_entry(&mut archive, index))
        });
        for (index, name) in nested {
            let inner = format!("{location}:{name}");
            if depth + 1 > self.limits.max_depth {
                self.warn(
                    &inner,
                    format!(
                        "archive nested deeper than {}; not opened",
                        self.limits.max_depth
                    ),
                );
                continue;
            }
            match self.read_entry(&mut archive, index) {
                Ok(bytes) => self.archive(&bytes, &inner, depth + 1),
                Err(e) => self.warn(&inner, e),
            }
        }
    }
}

impl Walk {
    /// The package of one archive: one per readable `pom.properties` (each read as given),
    /// else the fallback from the manifest (read by `manifest` only then) and the file name.
    fn identify(
        &mut self,
        location: &str,
        poms: Vec<(String, Result<Vec<u8>, String>)>,
        manifest: impl FnOnce(&mut Self) -> Option<Result<Vec<u8>, String>>,
    ) {
        let before = self.packages.len();
        for (name, read) in poms {
            match read {
                Ok(bytes) => match pom_package(&bytes, location) {
                    Some(p) => self.packages.push(p),
                    None => self.warn(
                        location,
                        format!("{name}: no artifactId or version; skipped"),
                    ),
                },
                Err(e) => self.warn(location, format!("{name}: {e}")),
            }
        }
        if self.packages.len() == before {
            let manifest = match manifest(self) {
                Some(Ok(bytes)) => parse_manifest(&bytes),
                Some(Err(e)) => {
                    self.warn(location, format!("META-INF/MANIFEST.MF: {e}"));
                    Vec::new()
                }
                None => Vec::new(),
            };
            if let Some(p) = fallback_package(&manifest, location) {
                self.packages.push(p);
            }
        }
    }
}

/// Up to `cap` + 1 bytes of `reader` (one past the cap tells it is over).
fn read_up_to(reader: impl Read, cap: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Parse Java `.properties` text: `key=value`, `key: value` or `key value`; `#` and `!`
/// comments. (Line continuations and unicode escapes are not needed for `pom.properties`.)
pub fn parse_properties(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        let split = line
            .char_indices()
            .find(|(_, c)| matches!(c, '=' | ':') || c.is_whitespace());
        let (key, value) = match split {
            Some((at, _)) => {
                let key = line.get(..at).unwrap_or("");
                let rest = line.get(at..).unwrap_or("").trim_start();
                let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
                (key, rest)
            }
            None => (line, ""),
        };
        out.push((key.to_string(), value.trim_end().to_string()));
    }
    out
}

fn maven_package(
    group: Option<&str>,
    name: &str,
    version: &str,
    location: &str,
    evidence: &str,
) -> Package {
    Package::new(
        Ecosystem::Java,
        name,
        version,
        location,
        purl::build("maven", group, name, Some(version), &[]),
        Extra::Java {
            group_id: group.map(String::from),
            evidence: evidence.to_string(),
        },
    )
}

/// The package of one `pom.properties` (needs artifactId and version).
pub fn pom_package(data: &[u8], location: &str) -> Option<Package> {
    let props = parse_properties(data);
    let get = |key: &str| {
        props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let artifact = get("artifactId")?;
    let version = get("version")?;
    Some(maven_package(
        get("groupId"),
        artifact,
        version,
        location,
        "pom.properties",
    ))
}

/// The main section of a `MANIFEST.MF`: `Key: value` pairs with continuation lines (a line
/// starting with one space continues the previous value) joined.
pub fn parse_manifest(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some((_, value)) = out.last_mut() {
                value.push_str(more);
            }
        } else if let Some((key, value)) = line.split_once(':') {
            out.push((key.trim().to_string(), value.trim_start().to_string()));
        }
    }
    for (_, value) in &mut out {
        let trimmed = value.trim_end();
        if trimmed.len() != value.len() {
            *value = trimmed.to_string();
        }
    }
    out
}

/// `commons-lang3-3.12.0.jar` -> (`commons-lang3`, `3.12.0`): the version starts at the
/// first `-` followed by a digit.
pub fn split_file_name(file_name: &str) -> (String, Option<String>) {
    let stem = match file_name.rfind('.') {
        Some(dot) if is_archive_name(file_name) => file_name.get(..dot).unwrap_or(file_name),
        _ => file_name,
    };
    let bytes = stem.as_bytes();
    for (at, _) in stem.match_indices('-') {
        if bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
            let name = stem.get(..at).unwrap_or(stem);
            let version = stem.get(at + 1..).unwrap_or("");
            return (name.to_string(), Some(version.to_string()));
        }
    }
    (stem.to_string(), None)
}

fn fallback_package(manifest: &[(String, String)], location: &str) -> Option<Package> {
    let get = |key: &str| {
        manifest
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let file_name = location.rsplit(['/', ':']).next().unwrap_or(location);
    let (file_stem, file_version) = split_file_name(file_name);
    // The name comes from the file name first (as syft does), then from the manifest.
    let symbolic = get("Bundle-SymbolicName").and_then(|s| s.split(';').next().map(str::trim));
    let name = Some(file_stem.as_str())
        .filter(|n| !n.is_empty())
        .or(get("Implementation-Title"))
        .or(symbolic)?;
    if let Some(version) = get("Implementation-Version").or(get("Bundle-Version")) {
        return Some(maven_package(None, name, version, location, "MANIFEST.MF"));
    }
    let version = file_version?;
    Some(maven_package(
        None,
        &file_stem,
        &version,
        location,
        "file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_and_manifest() {
        let props = parse_properties(
            b"#Generated by Maven\n#Tue\nversion=3.12.0\ngroupId = org.apache.commons\nartifactId: commons-lang3\n",
        );
        assert_eq!(props[0], ("version".into(), "3.12.0".into()));
        assert_eq!(props[1], ("groupId".into(), "org.apache.commons".into()));
        assert_eq!(props[2], ("artifactId".into(), "commons-lang3".into()));
        let manifest = parse_manifest(
            b"Manifest-Version: 1.0\r\nImplementation-Title: a-very-long-\r\n title\r\nImplementation-Version: 1.0\r\n\r\nName: x\r\n",
        );
        assert_eq!(
            manifest[1],
            ("Implementation-Title".into(), "a-very-long-title".into())
        );
        assert_eq!(manifest.len(), 3);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_name("commons-lang3-3.12.0.jar"),
            ("commons-lang3".into(), Some("3.12.0".into()))
        );
        assert_eq!(
            split_file_name("guava-31.1-jre.jar"),
            ("guava".into(), Some("31.1-jre".into()))
        );
        assert_eq!(split_file_name("app.jar"), ("app".into(), None));
    }

    #[test]
    fn not_a_zip() {
        let (p, w) = parse_archive(b"PK\x03\x04 but not really", "opt/app.jar");
        assert!(p.is_empty());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].location, "opt/app.jar");
    }
}
