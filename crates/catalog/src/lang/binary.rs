//! The executable cataloger: opens each executable once, by its magic number first, and
//! reads the Go build info ([`golang`](super::golang)) and the cargo-auditable dependency
//! list ([`rust`](super::rust)) from it.

use object::{Object, ObjectSection};
use portcullis_oci::{FileSet, FoundFile};

use super::{golang, rust};
use crate::Cataloger;
use crate::os::Os;
use crate::package::Package;
use crate::warning::{Warning, Warnings};

/// The cargo-auditable section name (ELF, PE; `__DATA,.dep-v0` on Mach-O).
pub const DEP_V0: &str = ".dep-v0";

/// Catalogs Go and cargo-auditable Rust binaries among the executable files.
#[derive(Debug, Clone, Copy, Default)]
pub struct BinaryCataloger;

impl Cataloger for BinaryCataloger {
    fn name(&self) -> &'static str {
        "binary"
    }

    fn patterns(&self) -> &[&'static str] {
        &[]
    }

    fn wants_executables(&self) -> bool {
        true
    }

    fn catalog(&self, files: &FileSet, _os: Option<&Os>, report: &mut Warnings) -> Vec<Package> {
        let mut packages = Vec::new();
        for file in files.files.values().filter(|f| f.mode & 0o111 != 0) {
            let data = match &file.content {
                portcullis_oci::FileContent::Data(data) => data.as_slice(),
                portcullis_oci::FileContent::Skipped { reason, .. } => {
                    report.push(Warning::error(
                        &file.path,
                        format!(
                            "executable not read ({reason}); its Go and Rust build information \
                             is unknown"
                        ),
                    ));
                    continue;
                }
            };
            let (mut found, warnings) = match decode_summary(data, &file.path) {
                Some(summary) => summary,
                None => parse_executable(data, &file.path),
            };
            stamp(&mut found, file);
            packages.extend(found);
            report.extend(warnings);
        }
        packages
    }
}

/// Marks a summary made by [`summarize_stream`] (a byte sequence no executable starts with).
const SUMMARY_MAGIC: &[u8] = b"\0portcullis-executable-summary-v1\0";

/// Reduce the executable `reader` yields to what this cataloger needs: the packages and
/// warnings [`parse_executable`] would find in the whole file, encoded compactly; empty for
/// files that are not Go or auditable Rust binaries. It is read once, keeping only the bytes
/// that can hold build information ([`sieve`](super::sieve)): memory stays small however big
/// the file. Errors are `reader`'s.
pub fn summarize_stream(
    reader: &mut dyn std::io::Read,
    location: &str,
) -> std::io::Result<Vec<u8>> {
    Ok(match super::sieve::read_executable(reader, location)? {
        Some((packages, warnings)) => encode_summary(packages, warnings, location),
        None => Vec::new(),
    })
}

/// The summary of `packages` and `warnings`: empty when both are.
fn encode_summary(packages: Vec<Package>, warnings: Vec<Warning>, location: &str) -> Vec<u8> {
    if packages.is_empty() && warnings.is_empty() {
        return Vec::new();
    }
    let mut out = SUMMARY_MAGIC.to_vec();
    if let Err(e) = serde_json::to_writer(&mut out, &(&packages, &warnings)) {
        // Serialising our own plain types does not fail; say so if it ever does.
        let warning = Warning::error(location, format!("executable summary: {e}"));
        out = SUMMARY_MAGIC.to_vec();
        out.extend_from_slice(
            &serde_json::to_vec(&(Vec::<Package>::new(), vec![warning])).unwrap_or_default(),
        );
    }
    out
}

/// The packages and warnings of a [`summarize_stream`] summary, or `None` if `data` is
/// not one (then it is the executable itself).
fn decode_summary(data: &[u8], location: &str) -> Option<(Vec<Package>, Vec<Warning>)> {
    let json = data.strip_prefix(SUMMARY_MAGIC)?;
    Some(serde_json::from_slice(json).unwrap_or_else(|e| {
        (
            Vec::new(),
            vec![Warning::new(
                location,
                format!("unreadable executable summary: {e}"),
            )],
        )
    }))
}

fn stamp(packages: &mut [Package], file: &FoundFile) {
    for package in packages {
        package.layer.clone_from(&file.layer);
    }
}

/// The Go modules and auditable Rust crates of one executable file. Files that are not ELF,
/// PE or Mach-O are ignored without a warning; unreadable binaries and malformed build data
/// give warnings naming `location`.
pub fn parse_executable(data: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    if !golang::is_executable_format(data) {
        return (packages, warnings);
    }
    let file = match object::File::parse(data) {
        Ok(file) => file,
        Err(e) => {
            // `MZ` alone is a weak signal (DOS stubs, data files): only ELF and Mach-O warn.
            if !data.starts_with(b"MZ") {
                warnings.push(Warning::new(
                    location,
                    format!("not a readable executable: {e}"),
                ));
            }
            return (packages, warnings);
        }
    };
    add_go(
        golang::from_object(&file),
        location,
        &mut packages,
        &mut warnings,
    );
    if let Some(section) = file.section_by_name(DEP_V0) {
        match section.data() {
            Ok(bytes) => match rust::parse_dep_v0(bytes, location) {
                Ok(found) => packages.extend(found),
                Err(warning) => warnings.push(warning),
            },
            Err(e) => warnings.push(Warning::new(
                location,
                format!("{DEP_V0} section unreadable: {e}"),
            )),
        }
    }
    (packages, warnings)
}

/// Add the packages of Go build info read from the binary at `location`, or a warning.
pub(crate) fn add_go(
    info: Result<Option<golang::BuildInfo>, String>,
    location: &str,
    packages: &mut Vec<Package>,
    warnings: &mut Vec<Warning>,
) {
    match info {
        Ok(Some(info)) => {
            if info.bad_lines > 0 {
                warnings.push(Warning::new(
                    location,
                    format!(
                        "Go build info: {} unreadable module line(s) skipped",
                        info.bad_lines
                    ),
                ));
            }
            packages.extend(info.packages(location));
        }
        Ok(None) => {}
        Err(e) => warnings.push(Warning::new(location, format!("Go build info: {e}"))),
    }
}
