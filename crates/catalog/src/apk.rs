//! Alpine apk packages from `lib/apk/db/installed`.

use crate::os::Os;
use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::{Warning, stanza_without};

/// The apk database path.
pub const INSTALLED: &str = "lib/apk/db/installed";

file_cataloger!(
    /// Catalogs apk's installed database.
    ApkCataloger,
    "apk",
    &[INSTALLED],
    parse_installed,
);

#[derive(Default)]
struct Stanza<'a> {
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    origin: Option<&'a str>,
    license: Option<&'a str>,
    commit: Option<&'a str>,
    first_line: usize,
    any: bool,
}

/// The purl namespace for apk packages of `os` (`alpine`, `wolfi`, `chainguard`, ...).
fn namespace(os: Option<&Os>) -> &str {
    os.map_or("alpine", |o| o.id.as_str())
}

/// Parse an apk `installed` database. `location` names the file in packages and warnings;
/// `os` fills the purl namespace and `distro` qualifier.
pub fn parse_installed(
    data: &[u8],
    location: &str,
    os: Option<&Os>,
) -> (Vec<Package>, Vec<Warning>) {
    let text = String::from_utf8_lossy(data);
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut stanza = Stanza::default();
    let mut index = 0usize;
    for (line_number, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if stanza.any {
                index += 1;
                finish(stanza, index, location, os, &mut packages, &mut warnings);
            }
            stanza = Stanza::default();
            continue;
        }
        if !stanza.any {
            stanza.any = true;
            stanza.first_line = line_number + 1;
        }
        let bytes = line.as_bytes();
        // File, directory and checksum lines dominate the file: skip them first.
        if let Some(b'F' | b'R' | b'Z' | b'a' | b'M') = bytes.first() {
            continue;
        }
        if bytes.get(1) != Some(&b':') {
            continue;
        }
        let value = line.get(2..).unwrap_or("");
        match bytes.first() {
            Some(b'P') => stanza.name = Some(value),
            Some(b'V') => stanza.version = Some(value),
            Some(b'A') => stanza.arch = Some(value),
            Some(b'o') => stanza.origin = Some(value),
            Some(b'L') => stanza.license = Some(value),
            Some(b'c') => stanza.commit = Some(value),
            _ => {}
        }
    }
    if stanza.any {
        index += 1;
        finish(stanza, index, location, os, &mut packages, &mut warnings);
    }
    tracing::debug!(location, packages = packages.len(), "parsed apk database");
    (packages, warnings)
}

fn finish(
    stanza: Stanza<'_>,
    index: usize,
    location: &str,
    os: Option<&Os>,
    packages: &mut Vec<Package>,
    warnings: &mut Vec<Warning>,
) {
    let name = stanza.name.map(str::trim).filter(|n| !n.is_empty());
    let version = stanza.version.map(str::trim).filter(|v| !v.is_empty());
    let (name, version) = match (name, version) {
        (Some(n), Some(v)) => (n, v),
        (name, _) => {
            let why = ["missing package name (P:)", "missing version (V:)"];
            let warning = stanza_without(location, index, stanza.first_line, name, why);
            warnings.push(warning);
            return;
        }
    };
    let non_empty = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let arch = non_empty(stanza.arch);
    let origin = non_empty(stanza.origin);
    let purl = purl::build(
        "apk",
        Some(namespace(os)),
        name,
        Some(version),
        &[
            ("arch", arch.clone()),
            ("distro", os.and_then(|o| o.version_id.clone())),
        ],
    );
    packages.push(Package {
        ecosystem: Ecosystem::Apk,
        name: name.to_string(),
        version: version.to_string(),
        arch,
        location: location.to_string(),
        source_name: Some(origin.clone().unwrap_or_else(|| name.to_string())),
        source_version: Some(version.to_string()),
        licenses: non_empty(stanza.license).into_iter().collect(),
        purl,
        layer: None,
        extra: Extra::Apk {
            origin,
            commit: non_empty(stanza.commit),
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "C:Q1abc=\nP:musl\nV:1.1.20-r5\nA:x86_64\nS:1\nI:2\nT:the C library\nU:http://x\nL:MIT\no:musl\nm:someone\nt:1\nc:deadbeef\nD:dep\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:777\nZ:Q1x=\n\nP:musl-utils\nV:1.1.20-r5\nA:x86_64\no:musl\nL:MIT BSD\n\nP:noversion\nA:x86_64\n";

    #[test]
    fn parses_stanzas() {
        let mut os = crate::os::os_for_test("alpine", "3.9.6");
        os.pretty_name = None;
        let (pkgs, warnings) = parse_installed(DB.as_bytes(), INSTALLED, Some(&os));
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].name, "musl");
        assert_eq!(
            pkgs[0].purl,
            "pkg:apk/alpine/musl@1.1.20-r5?arch=x86_64&distro=3.9.6"
        );
        assert_eq!(
            pkgs[0].extra,
            Extra::Apk {
                origin: Some("musl".into()),
                commit: Some("deadbeef".into())
            }
        );
        assert_eq!(pkgs[1].source_name.as_deref(), Some("musl"));
        assert_eq!(pkgs[1].licenses, vec!["MIT BSD".to_string()]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("stanza 3"), "{}", warnings[0]);
        assert!(warnings[0].message.contains("noversion"), "{}", warnings[0]);
        assert_eq!(warnings[0].location, INSTALLED);
    }

    #[test]
    fn empty_input() {
        let (pkgs, warnings) = parse_installed(b"", "x", None);
        assert!(pkgs.is_empty() && warnings.is_empty());
    }
}
