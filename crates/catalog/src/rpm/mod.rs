//! RPM packages, read straight from the rpm database with no rpm binary or library.
//!
//! Three database formats ([`sqlite`], [`ndb`], [`bdb`]) each yield header blobs, which
//! [`header`] parses.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use crate::os::{Os, OsFamily};
use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::Warning;

use header::HeaderError;

/// Where rpm databases live (`usr/lib/sysimage/rpm` on newer SUSE and Fedora).
pub const PATTERNS: &[&str] = &[
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages.db",
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
];

file_cataloger!(
    /// Catalogs rpm databases.
    RpmCataloger,
    "rpm",
    PATTERNS,
    parse_database,
);

/// The database formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `rpmdb.sqlite`.
    Sqlite,
    /// `Packages.db`.
    Ndb,
    /// `Packages` (Berkeley DB hash).
    Bdb,
}

/// Tell the format by content, else by file name.
pub fn detect_format(bytes: &[u8], location: &str) -> Option<Format> {
    if bytes.starts_with(sqlite::MAGIC) {
        Some(Format::Sqlite)
    } else if bytes.starts_with(ndb::MAGIC) {
        Some(Format::Ndb)
    } else if bdb::is_bdb(bytes) {
        Some(Format::Bdb)
    } else if location.ends_with(".sqlite") {
        Some(Format::Sqlite)
    } else if location.ends_with(".db") {
        Some(Format::Ndb)
    } else if location.ends_with("Packages") {
        Some(Format::Bdb)
    } else {
        None
    }
}

/// Parse an rpm database of any of the three formats. Unreadable records become warnings
/// naming the file and the record; the rest are kept.
pub fn parse_database(
    bytes: &[u8],
    location: &str,
    os: Option<&Os>,
) -> (Vec<Package>, Vec<Warning>) {
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut add =
        |record: String, blob: &[u8], warnings: &mut Vec<Warning>| match package_from_header(
            blob, location, os,
        ) {
            Ok(p) => packages.push(p),
            Err(e) => warnings.push(Warning::error(location, format!("{record}: {e}"))),
        };
    match detect_format(bytes, location) {
        Some(Format::Sqlite) => match sqlite::read_blobs(bytes) {
            Ok(blobs) => {
                for (hnum, blob) in blobs {
                    add(format!("record hnum={hnum}"), &blob, &mut warnings);
                }
            }
            Err(e) => warnings.push(Warning::error(
                location,
                format!("rpm sqlite database: {e}"),
            )),
        },
        Some(Format::Ndb) => match ndb::read_blobs(bytes) {
            Ok((blobs, problems)) => {
                for (pkg, blob) in blobs {
                    add(format!("package index {pkg}"), blob, &mut warnings);
                }
                for problem in problems {
                    warnings.push(Warning::error(
                        location,
                        format!("rpm NDB database: {problem}"),
                    ));
                }
            }
            Err(e) => warnings.push(Warning::error(location, format!("rpm NDB database: {e}"))),
        },
        Some(Format::Bdb) => match bdb::read_blobs(bytes) {
            Ok((blobs, problems)) => {
                for (page, blob) in blobs {
                    add(format!("value on page {page}"), &blob, &mut warnings);
                }
                for problem in problems {
                    warnings.push(Warning::error(
                        location,
                        format!("rpm Berkeley DB database: {problem}"),
                    ));
                }
            }
            Err(e) => warnings.push(Warning::error(
                location,
                format!("rpm Berkeley DB database: {e}"),
            )),
        },
        None => warnings.push(Warning::error(location, "not a known rpm database format")),
    }
    tracing::debug!(location, packages = packages.len(), "parsed rpm database");
    (packages, warnings)
}

/// Split `name-version-release.src.rpm` into (name, version, release).
pub fn split_source_rpm(source_rpm: &str) -> Option<(&str, &str, &str)> {
    let stem = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name, version, release))
}

/// The purl namespace for rpm packages of `os`.
fn namespace(os: &Os) -> &str {
    match os.family {
        OsFamily::Rhel => "redhat",
        OsFamily::Amazon => "amazon",
        OsFamily::Oracle => "oracle",
        OsFamily::Sles | OsFamily::OpensuseLeap | OsFamily::OpensuseTumbleweed => "suse",
        _ => os.id.as_str(),
    }
}

/// Turn one header blob into a package. The `gpg-pubkey` entries rpm keeps for imported
/// keys are packages too, as `rpm -qa` lists them.
pub fn package_from_header(
    blob: &[u8],
    location: &str,
    os: Option<&Os>,
) -> Result<Package, HeaderError> {
    let h = header::parse(blob)?;
    let name = h
        .string(header::TAG_NAME)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| HeaderError("header has no NAME".into()))?;
    let version = h
        .string(header::TAG_VERSION)?
        .ok_or_else(|| HeaderError(format!("package '{name}' has no VERSION")))?;
    let release = h
        .string(header::TAG_RELEASE)?
        .ok_or_else(|| HeaderError(format!("package '{name}' has no RELEASE")))?;
    let epoch = h.u32(header::TAG_EPOCH)?;
    let arch = h.string(header::TAG_ARCH)?.filter(|a| !a.is_empty());
    let license = h.string(header::TAG_LICENSE)?.filter(|l| !l.is_empty());
    let source_rpm = h.string(header::TAG_SOURCERPM)?.filter(|s| !s.is_empty());
    let modularity_label = h
        .string(header::TAG_MODULARITYLABEL)?
        .filter(|s| !s.is_empty());
    let with_epoch = |vr: String| match epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr,
    };
    let full_version = with_epoch(format!("{version}-{release}"));
    let (source_name, source_version) = match source_rpm.as_deref().and_then(split_source_rpm) {
        Some((n, v, r)) => (n.to_string(), with_epoch(format!("{v}-{r}"))),
        None => (name.clone(), full_version.clone()),
    };
    let purl = purl::build(
        "rpm",
        os.map(namespace),
        &name,
        Some(&format!("{version}-{release}")),
        &[
            ("arch", arch.clone()),
            ("epoch", epoch.map(|e| e.to_string())),
            ("distro", os.map(Os::distro_qualifier)),
        ],
    );
    Ok(Package {
        ecosystem: Ecosystem::Rpm,
        name,
        version: full_version,
        arch,
        location: location.to_string(),
        source_name: Some(source_name),
        source_version: Some(source_version),
        licenses: license.into_iter().collect(),
        purl,
        layer: None,
        extra: Extra::Rpm {
            epoch,
            version,
            release,
            modularity_label,
            source_rpm,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::header::{HeaderValue, TAG_ARCH, TAG_EPOCH, TAG_NAME, TAG_RELEASE, TAG_VERSION};
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm"),
            Some(("util-linux", "2.32.1", "42.el8_8"))
        );
        assert_eq!(split_source_rpm("bad.src.rpm"), None);
        assert_eq!(split_source_rpm("x-1-2.rpm"), None);
    }

    #[test]
    fn package_and_purl() {
        let blob = header::build(&[
            (TAG_NAME, HeaderValue::String("openssl")),
            (TAG_VERSION, HeaderValue::String("3.0.7")),
            (TAG_RELEASE, HeaderValue::String("27.el9")),
            (TAG_EPOCH, HeaderValue::Int32(1)),
            (TAG_ARCH, HeaderValue::String("x86_64")),
        ]);
        let mut os = crate::os::os_for_test("rhel", "9.4");
        os.family = OsFamily::Rhel;
        let p = package_from_header(&blob, "var/lib/rpm/rpmdb.sqlite", Some(&os)).unwrap();
        assert_eq!(p.version, "1:3.0.7-27.el9");
        assert_eq!(
            p.purl,
            "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
        );
        assert_eq!(p.source_name.as_deref(), Some("openssl"));
    }

    #[test]
    fn garbage_is_a_warning() {
        for (bytes, name) in [
            (&b""[..], "var/lib/rpm/rpmdb.sqlite"),
            (&b"RpmP\0\0\0\0"[..], "var/lib/rpm/Packages.db"),
            (&[7u8; 300][..], "var/lib/rpm/Packages"),
            (&b"xyz"[..], "somewhere/else"),
        ] {
            let (pkgs, warnings) = parse_database(bytes, name, None);
            assert!(pkgs.is_empty());
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert_eq!(warnings[0].location, name);
        }
    }
}
