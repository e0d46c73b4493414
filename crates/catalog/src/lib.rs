//! What is installed in an image: OS detection and one cataloger per package format.
//!
//! The image reader ([`portcullis_oci`]) hands over the files matching [`all_patterns`];
//! [`catalog_all`] detects the OS and runs every [`Cataloger`] over them. Catalogers never
//! fail as a whole: bad input becomes a [`Warning`] naming the file, and the packages that
//! could be read are kept. A package database or manifest that cannot be read completely
//! (not read because of a cap or an unresolvable link, truncated, corrupt) is a warning of
//! [`Level::Error`]: the package list is incomplete and the image cannot be judged
//! ([`Catalog::errors`]).

/// Declare `$name`, a unit [`Cataloger`] called `$label` that reads the files matching
/// `$patterns` with `$parse(data, location, os)` (see [`catalog_files`]).
macro_rules! file_cataloger {
    ($(#[$attr:meta])* $name:ident, $label:literal, $patterns:expr, $parse:expr $(,)?) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $crate::Cataloger for $name {
            fn name(&self) -> &'static str {
                $label
            }

            fn patterns(&self) -> &[&'static str] {
                $patterns
            }

            fn catalog(
                &self,
                files: &portcullis_oci::FileSet,
                os: Option<&$crate::os::Os>,
                report: &mut $crate::warning::Warnings,
            ) -> Vec<$crate::package::Package> {
                $crate::catalog_files(self, files, report, |data, location| {
                    ($parse)(data, location, os)
                })
            }
        }
    };
}

pub mod apk;
pub mod dpkg;
pub mod error;
pub mod lang;
pub mod os;
pub mod package;
pub mod rpm;
pub mod warning;

use portcullis_oci::{FileContent, FileSet, FoundFile, PathPatterns};

pub use error::{Error, ErrorKind, Result};
pub use os::{Os, OsFamily};
pub use package::{Ecosystem, Extra, Package};
/// Package URLs in canonical form, built with the `packageurl` crate.
pub use portcullis_types::purl;
pub use warning::{Level, Warning, Warnings};

/// A package cataloger: declares the files it wants and turns them into packages.
pub trait Cataloger: Send + Sync + std::fmt::Debug {
    /// A short stable name, e.g. `apk`.
    fn name(&self) -> &'static str;
    /// Glob patterns (relative to the root, `**` crosses directories) of the files it reads.
    fn patterns(&self) -> &[&'static str];
    /// The packages found in `files`. Problems go to `report`; never panics, never gives up
    /// on the other files because one is bad.
    fn catalog(&self, files: &FileSet, os: Option<&Os>, report: &mut Warnings) -> Vec<Package>;
    /// Does it also need every executable file (Go and Rust binaries)? Default: no.
    fn wants_executables(&self) -> bool {
        false
    }
}

/// The result of cataloging one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Catalog {
    /// The detected operating system, if any.
    pub os: Option<Os>,
    /// Every package found, sorted.
    pub packages: Vec<Package>,
    /// What could not be read, each naming its file; those of [`Level::Error`] leave the
    /// package list incomplete.
    pub warnings: Vec<Warning>,
}

impl Catalog {
    /// The problems that leave the package list incomplete (see [`Level::Error`]).
    pub fn errors(&self) -> impl Iterator<Item = &Warning> {
        self.warnings.iter().filter(|w| w.is_error())
    }
}

/// The catalogers run by [`catalog_all`], in order.
pub fn default_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(apk::ApkCataloger),
        Box::new(dpkg::DpkgCataloger),
        Box::new(rpm::RpmCataloger),
        Box::new(lang::python::PythonCataloger),
        Box::new(lang::npm::NpmCataloger),
        Box::new(lang::rust::CargoLockCataloger),
        Box::new(lang::java::JavaCataloger),
        Box::new(lang::binary::BinaryCataloger),
    ]
}

/// Every path pattern needed by OS detection and the default catalogers (deduplicated).
pub fn all_patterns() -> Vec<&'static str> {
    let mut patterns: Vec<&'static str> = os::PATTERNS.to_vec();
    for cataloger in default_catalogers() {
        patterns.extend_from_slice(cataloger.patterns());
    }
    patterns.sort_unstable();
    patterns.dedup();
    patterns
}

/// The files of OS detection and of the OS package managers (apk, dpkg, rpm): what
/// `portcullis image files` lists by default (deduplicated, sorted).
pub fn os_patterns() -> Vec<&'static str> {
    let managers: [&dyn Cataloger; 3] =
        [&apk::ApkCataloger, &dpkg::DpkgCataloger, &rpm::RpmCataloger];
    let mut patterns: Vec<&'static str> = os::PATTERNS.to_vec();
    for cataloger in managers {
        patterns.extend_from_slice(cataloger.patterns());
    }
    patterns.sort_unstable();
    patterns.dedup();
    patterns
}

/// [`all_patterns`] as a file filter for the image reader; it also takes every executable
/// when a default cataloger [wants them](Cataloger::wants_executables).
pub fn path_patterns() -> Result<PathPatterns> {
    let executables = default_catalogers().iter().any(|c| c.wants_executables());
    PathPatterns::new(all_patterns())
        .map(|p| p.with_executables(executables))
        .map_err(|e| Error::new(ErrorKind::InvalidPattern, format!("catalog patterns: {e}")))
}

/// The file filter for the image reader: the catalogers' patterns and every executable,
/// with each executable reduced to its Go/Rust build information as soon as it is read
/// (non-Go, non-Rust executables to nothing), so memory stays small on images full of
/// binaries.
#[derive(Debug, Clone)]
pub struct CatalogFilter {
    patterns: PathPatterns,
    executables: bool,
}

impl CatalogFilter {
    /// The filter for the default catalogers.
    pub fn new() -> Result<Self> {
        let executables = default_catalogers().iter().any(|c| c.wants_executables());
        let patterns = PathPatterns::new(all_patterns())
            .map_err(|e| Error::new(ErrorKind::InvalidPattern, format!("catalog patterns: {e}")))?;
        Ok(Self {
            patterns,
            executables,
        })
    }
}

impl portcullis_oci::FileFilter for CatalogFilter {
    fn wants(&self, entry: &portcullis_oci::EntryInfo<'_>) -> bool {
        self.patterns.matches(entry.path) || (self.executables && entry.mode & 0o111 != 0)
    }

    fn literal_paths(&self) -> Vec<String> {
        self.patterns.literal_paths()
    }

    fn literal_dirs(&self) -> Vec<(String, String)> {
        self.patterns.literal_dirs()
    }

    fn read(
        &self,
        entry: &portcullis_oci::EntryInfo<'_>,
        reader: &mut dyn std::io::Read,
    ) -> std::io::Result<Vec<u8>> {
        if lang::java::is_archive_path(entry.path) {
            lang::java::summarize_stream(reader, entry.size, entry.path)
        } else if os::is_oversized_content_manifest(entry.path, entry.size) {
            // Not kept (the reader skips it): `catalog_all` warns from its size.
            Ok(Vec::new())
        } else if self.patterns.matches(entry.path) {
            portcullis_oci::read_whole(entry, reader)
        } else {
            // An executable: read once, never held whole.
            lang::binary::summarize_stream(reader, entry.path)
        }
    }
}

/// Detect the OS and run the default catalogers over `files`.
pub fn catalog_all(files: &FileSet) -> Catalog {
    catalog_with(files, &default_catalogers())
}

/// Detect the OS and run `catalogers` over `files`. Packages come out sorted and
/// deduplicated; warnings keep their order.
pub fn catalog_with(files: &FileSet, catalogers: &[Box<dyn Cataloger>]) -> Catalog {
    let mut warnings = Vec::new();
    let os = os::detect(files, &mut warnings);
    let mut packages = Vec::new();
    for cataloger in catalogers {
        let found = cataloger.catalog(files, os.as_ref(), &mut warnings);
        tracing::debug!(
            cataloger = cataloger.name(),
            packages = found.len(),
            "cataloged"
        );
        packages.extend(found);
    }
    packages.sort();
    packages.dedup();
    Catalog {
        os,
        packages,
        warnings,
    }
}

/// The files of `files` matching `patterns` (the image reader already put each wanted
/// link's target content at the link's path), with their data. Files whose content was
/// not read (over a cap, a link that could not be followed, unreadable) become errors
/// naming the file and the reason: their packages are unknown.
pub fn files_matching<'a>(
    files: &'a FileSet,
    patterns: &[&'static str],
    report: &mut Warnings,
) -> Vec<(&'a FoundFile, &'a [u8])> {
    let matcher = match PathPatterns::new(patterns.iter().copied()) {
        Ok(m) => m,
        Err(e) => {
            report.push(Warning::new("catalog", format!("bad patterns: {e}")));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for file in files.files.values().filter(|f| matcher.matches(&f.path)) {
        match &file.content {
            FileContent::Data(data) => out.push((file, data.as_slice())),
            FileContent::Skipped { reason, .. } => report.push(Warning::error(
                &file.path,
                format!("not read ({reason}); its packages are unknown"),
            )),
        }
    }
    out
}

/// Run `parse(data, location)` over every file of `files` matching `cataloger`'s patterns,
/// stamping each package with the file's layer.
fn catalog_files<C, F>(
    cataloger: &C,
    files: &FileSet,
    report: &mut Warnings,
    parse: F,
) -> Vec<Package>
where
    C: Cataloger + ?Sized,
    F: Fn(&[u8], &str) -> (Vec<Package>, Vec<Warning>),
{
    let mut packages = Vec::new();
    for (file, data) in files_matching(files, cataloger.patterns(), report) {
        let (mut found, warnings) = parse(data, &file.path);
        for package in &mut found {
            package.layer.clone_from(&file.layer);
        }
        packages.extend(found);
        report.extend(warnings);
    }
    packages
}

#[cfg(test)]
mod tests {
    use portcullis_oci::{EntryInfo, FileFilter};

    use super::*;

    #[test]
    fn the_filter_keeps_no_bytes_of_an_oversized_content_manifest() {
        let filter = CatalogFilter::new().unwrap();
        let path = "root/buildinfo/content_manifests/big.json";
        let entry = |size: usize| EntryInfo {
            path,
            size: size as u64,
            mode: 0o644,
        };
        let limit = os::MAX_CONTENT_MANIFEST;
        assert!(filter.wants(&entry(limit + 1)));
        let read =
            |entry: &EntryInfo<'_>, bytes: &[u8]| filter.read(entry, &mut &bytes[..]).unwrap();
        assert_eq!(read(&entry(limit + 1), &vec![b' '; limit + 1]), b"");
        assert_eq!(read(&entry(2), b"{}"), b"{}");
        // Other wanted files keep their bytes whatever their size.
        let status = EntryInfo {
            path: "var/lib/dpkg/status",
            size: (limit + 1) as u64,
            mode: 0o644,
        };
        assert_eq!(read(&status, &vec![b' '; limit + 1]).len(), limit + 1);
    }
}
