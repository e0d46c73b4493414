//! Rust crates: `Cargo.lock` files, and the dependency list cargo-auditable embeds in
//! binaries (the `.dep-v0` section: zlib-compressed JSON).
//!
//! Every `[[package]]` of a lock file is kept, path and workspace crates (no `source`)
//! included, as syft does; [`Extra::Cargo`] tells them apart (`source: None`). From auditable
//! data, crates of kind `build` (build scripts and proc-macros, not linked into the binary)
//! are kept too, with their source; the section is read here with `flate2` and `serde_json`
//! rather than the `auditable-info` crate, to keep the dependency tree small.

use std::io::Read;

use serde::Deserialize;

use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::Warning;

/// The lock files read.
pub const PATTERNS: &[&str] = &["**/Cargo.lock"];

/// The decompressed `.dep-v0` JSON is capped at this size.
pub const MAX_AUDIT_JSON: u64 = 16 * 1024 * 1024;

file_cataloger!(
    /// Catalogs `Cargo.lock` files (auditable binaries are read by
    /// [`BinaryCataloger`](super::binary::BinaryCataloger)).
    CargoLockCataloger,
    "cargo-lock",
    PATTERNS,
    |data, location, _| parse_cargo_lock(data, location),
);

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
    checksum: Option<String>,
}

fn crate_package(
    name: &str,
    version: &str,
    location: &str,
    source: Option<String>,
    checksum: Option<String>,
) -> Package {
    Package::new(
        Ecosystem::Cargo,
        name,
        version,
        location,
        purl::build("cargo", None, name, Some(version), &[]),
        Extra::Cargo { source, checksum },
    )
}

/// Read a `Cargo.lock`: one package per `[[package]]` with a name and a version.
pub fn parse_cargo_lock(data: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let text = String::from_utf8_lossy(data);
    let lock: Lock = match toml::from_str(&text) {
        Ok(lock) => lock,
        Err(e) => {
            let first_line = e.to_string().lines().next().unwrap_or("").to_string();
            warnings.push(Warning::error(
                location,
                format!("Cargo.lock is not valid TOML: {first_line}"),
            ));
            return (Vec::new(), warnings);
        }
    };
    let mut packages = Vec::new();
    for (index, locked) in lock.package.into_iter().enumerate() {
        match (locked.name, locked.version) {
            (Some(name), Some(version)) => packages.push(crate_package(
                &name,
                &version,
                location,
                locked.source,
                locked.checksum,
            )),
            (name, _) => warnings.push(Warning::error(
                location,
                format!(
                    "[[package]] {} {}has no name or version; skipped",
                    index + 1,
                    name.map(|n| format!("'{n}' ")).unwrap_or_default()
                ),
            )),
        }
    }
    (packages, warnings)
}

#[derive(Deserialize)]
struct AuditInfo {
    #[serde(default)]
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    source: Option<String>,
}

/// Read the content of a cargo-auditable `.dep-v0` section (zlib-compressed JSON, at most
/// [`MAX_AUDIT_JSON`] once decompressed). `location` names the binary.
pub fn parse_dep_v0(section: &[u8], location: &str) -> Result<Vec<Package>, Warning> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| Warning::new(location, format!(".dep-v0 section: bad zlib data: {e}")))?;
    if json.len() as u64 > MAX_AUDIT_JSON {
        return Err(Warning::new(
            location,
            format!(".dep-v0 section: decompresses to more than {MAX_AUDIT_JSON} bytes; skipped"),
        ));
    }
    let info: AuditInfo = serde_json::from_slice(&json)
        .map_err(|e| Warning::new(location, format!(".dep-v0 section: bad JSON: {e}")))?;
    Ok(info
        .packages
        .into_iter()
        .map(|p| {
            let source = p.source.filter(|s| !s.is_empty());
            crate_package(&p.name, &p.version, location, source, None)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lock_file() {
        let lock = br#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abc"

[[package]]
name = "broken"
"#;
        let (p, w) = parse_cargo_lock(lock, "src/Cargo.lock");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].purl, "pkg:cargo/serde@1.0.200");
        assert_eq!(
            p[0].extra,
            Extra::Cargo {
                source: None,
                checksum: None
            }
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("'broken'"), "{w:?}");
        let (p, w) = parse_cargo_lock(b"[[package]\nname=", "Cargo.lock");
        assert!(p.is_empty());
        assert_eq!(w[0].location, "Cargo.lock");
    }

    #[test]
    fn dep_v0() {
        let json = br#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"itoa","version":"1.0.11","source":"crates.io"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let section = z.finish().unwrap();
        let p = parse_dep_v0(&section, "usr/bin/hello").unwrap();
        let purls: Vec<&str> = p.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:cargo/hello@0.1.0", "pkg:cargo/itoa@1.0.11"]);
        assert!(parse_dep_v0(b"not zlib", "usr/bin/x").is_err());
    }
}
