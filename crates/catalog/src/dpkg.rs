//! Debian packages from `var/lib/dpkg/status` and the distroless `var/lib/dpkg/status.d/*`.

use crate::os::Os;
use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::{Warning, skipped_stanza, stanza_without};

/// The dpkg status database.
pub const STATUS: &str = "var/lib/dpkg/status";
/// The distroless layout: one or more stanzas per file, no `Status:` needed.
pub const STATUS_D: &str = "var/lib/dpkg/status.d/*";

file_cataloger!(
    /// Catalogs dpkg status files.
    DpkgCataloger,
    "dpkg",
    &[STATUS, STATUS_D],
    |data, location: &str, os| if location == STATUS {
        parse_status(data, location, os)
    } else if location.ends_with(".md5sums") {
        (Vec::new(), Vec::new())
    } else {
        parse_status_d(data, location, os)
    },
);

/// One control stanza: its fields in order, continuation lines joined with `\n`.
#[derive(Debug, Default)]
struct Stanza {
    fields: Vec<(String, String)>,
    first_line: usize,
}

impl Stanza {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Split control-file text into stanzas and hand each to `each` as soon as it ends, so
/// memory holds one stanza at a time (a status file of a million packages is about 1 GiB).
/// Continuation lines are appended to their field, up to 4 KiB per field.
fn for_each_stanza(text: &str, mut each: impl FnMut(&Stanza)) {
    let mut current = Stanza::default();
    for (number, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                each(&current);
                current.fields.clear();
            }
            continue;
        }
        if current.fields.is_empty() {
            current.first_line = number + 1;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = current.fields.last_mut() {
                // Long fields (Description, Conffiles) are not needed: cap what we keep.
                if value.len() < 4096 {
                    value.push('\n');
                    value.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current
                .fields
                .push((key.trim().to_string(), value.trim().to_string()));
        } else {
            // A line with no colon: keep it as a key-less field so the stanza is not lost.
            current.fields.push((String::new(), line.to_string()));
        }
    }
    if !current.fields.is_empty() {
        each(&current);
    }
}

/// Parse `var/lib/dpkg/status`: only packages whose status is installed
/// (`install ok installed`, also `hold ok installed`) are kept.
pub fn parse_status(data: &[u8], location: &str, os: Option<&Os>) -> (Vec<Package>, Vec<Warning>) {
    parse(data, location, os, true)
}

/// Parse one distroless `status.d` file: every stanza is an installed package unless it
/// carries a `Status:` saying otherwise.
pub fn parse_status_d(
    data: &[u8],
    location: &str,
    os: Option<&Os>,
) -> (Vec<Package>, Vec<Warning>) {
    parse(data, location, os, false)
}

/// Is this `Status:` value (`want flag status`) an installed package?
fn is_installed(status: &str) -> bool {
    let words: Vec<&str> = status.split_whitespace().collect();
    matches!(words.as_slice(), [_, "ok", "installed"])
}

fn parse(
    data: &[u8],
    location: &str,
    os: Option<&Os>,
    require_status: bool,
) -> (Vec<Package>, Vec<Warning>) {
    let text = String::from_utf8_lossy(data);
    let mut packages = Vec::new();
    let mut warnings = Vec::new();
    let mut index = 0usize;
    for_each_stanza(&text, |stanza| {
        index += 1;
        let name = stanza.get("Package");
        let status = stanza.get("Status");
        match status {
            Some(s) if !is_installed(s) => return,
            None if require_status => {
                warnings.push(skipped_stanza(
                    location,
                    index,
                    stanza.first_line,
                    name,
                    "no Status field",
                ));
                return;
            }
            _ => {}
        }
        let version = stanza.get("Version");
        let (Some(name), Some(version)) = (name, version) else {
            let why = ["missing Package", "missing Version"];
            let warning = stanza_without(location, index, stanza.first_line, name, why);
            warnings.push(warning);
            return;
        };
        packages.push(package(stanza, name, version, location, os));
    });
    tracing::debug!(location, packages = packages.len(), "parsed dpkg status");
    (packages, warnings)
}

fn package(stanza: &Stanza, name: &str, version: &str, location: &str, os: Option<&Os>) -> Package {
    let arch = stanza.get("Architecture").map(str::to_string);
    let (source_name, source_version) = match stanza.get("Source") {
        Some(source) => match source.split_once('(') {
            Some((n, v)) => (
                n.trim().to_string(),
                v.trim().trim_end_matches(')').trim().to_string(),
            ),
            None => (source.to_string(), version.to_string()),
        },
        None => (name.to_string(), version.to_string()),
    };
    let source_version = if source_version.is_empty() {
        version.to_string()
    } else {
        source_version
    };
    let namespace = os.map_or("debian", |o| o.id.as_str());
    let distro = os.and_then(|o| {
        o.version_id
            .as_deref()
            .or(o.codename.as_deref())
            .map(|v| format!("{}-{v}", o.id))
    });
    let purl = purl::build(
        "deb",
        Some(namespace),
        name,
        Some(version),
        &[("arch", arch.clone()), ("distro", distro)],
    );
    Package {
        ecosystem: Ecosystem::Deb,
        name: name.to_string(),
        version: version.to_string(),
        arch,
        location: location.to_string(),
        source_name: Some(source_name),
        source_version: Some(source_version),
        licenses: Vec::new(),
        purl,
        layer: None,
        extra: Extra::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n continuation line\n .\n more\n\nPackage: login\nStatus: install ok installed\nArchitecture: amd64\nSource: shadow (1:4.13+dfsg1-1)\nVersion: 1:4.13+dfsg1-1+b1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: half\nStatus: install reinstreq half-installed\nVersion: 1\n\nPackage: held\nStatus: hold ok installed\nVersion: 2\n\nPackage: nover\nStatus: install ok installed\n";

    #[test]
    fn parses_status() {
        let os = crate::os::os_for_test("debian", "12");
        let (pkgs, warnings) = parse_status(STATUS_TEXT.as_bytes(), STATUS, Some(&os));
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "login", "held"]);
        assert_eq!(pkgs[0].source_name.as_deref(), Some("glibc"));
        assert_eq!(pkgs[0].source_version.as_deref(), Some("2.36-9+deb12u4"));
        assert_eq!(
            pkgs[0].purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(pkgs[1].source_name.as_deref(), Some("shadow"));
        assert_eq!(pkgs[1].source_version.as_deref(), Some("1:4.13+dfsg1-1"));
        assert_eq!(pkgs[1].version, "1:4.13+dfsg1-1+b1");
        assert_eq!(pkgs[2].source_name.as_deref(), Some("held"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].message.contains("'nover'"));
        assert!(warnings[0].message.contains("stanza 6"));
    }

    #[test]
    fn distroless_needs_no_status() {
        let text = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n\nPackage: netbase\nVersion: 6.4\n";
        let (pkgs, warnings) = parse_status_d(text.as_bytes(), "var/lib/dpkg/status.d/base", None);
        assert_eq!(pkgs.len(), 2);
        assert!(warnings.is_empty());
        assert_eq!(pkgs[1].purl, "pkg:deb/debian/netbase@6.4");
    }
}
