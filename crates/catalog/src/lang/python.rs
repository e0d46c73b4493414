//! Python distributions: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info/PKG-INFO` or
//! `*.egg-info` files (setuptools, distutils).
//!
//! The headers are RFC 822-like (`Key: value`, continuation lines start with a space or a
//! tab) and end at the first empty line, where the description body starts. The package name
//! is normalised as PEP 503 does (`[-_.]+` to `-`, lowercase); `Name:` as written is kept in
//! [`Extra::Python`]. Licences: `License-Expression` (PEP 639), else a short one-line
//! `License`, else the last part of `License ::` classifiers.

use super::non_empty;
use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::Warning;

/// The files read.
pub const PATTERNS: &[&str] = &[
    "**/*.dist-info/METADATA",
    "**/*.egg-info/PKG-INFO",
    "**/*.egg-info",
];

/// A `License:` value longer than this (or spanning lines) is a licence text, not a name.
const MAX_LICENSE_NAME: usize = 200;

file_cataloger!(
    /// Catalogs installed Python distributions.
    PythonCataloger,
    "python",
    PATTERNS,
    |data, location, _| match parse_metadata(data, location) {
        Ok(package) => (vec![package], Vec::new()),
        Err(warning) => (Vec::new(), vec![warning]),
    },
);

/// Normalise a project name as PEP 503 does: runs of `-`, `_`, `.` become one `-`, lowercase.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    out
}

/// The header fields of a METADATA / PKG-INFO file, in order, with continuation lines joined
/// by `\n`. Stops at the first empty line (the body).
pub fn parse_headers(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            headers.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    headers
}

/// Read one METADATA / PKG-INFO file. `location` names the file in the package and in the
/// warning returned when it has no `Name:` or `Version:`.
pub fn parse_metadata(data: &[u8], location: &str) -> Result<Package, Warning> {
    let headers = parse_headers(data);
    let field = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| non_empty(Some(v)))
    };
    let (Some(name), Some(version)) = (field("Name"), field("Version")) else {
        let missing = match (field("Name"), field("Version")) {
            (None, None) => "Name and Version",
            (None, Some(_)) => "Name",
            _ => "Version",
        };
        return Err(Warning::error(
            location,
            format!("Python metadata without {missing}; skipped"),
        ));
    };
    let normalized = normalize_name(&name);
    let licenses = licenses(&headers);
    Ok(Package {
        licenses,
        ..Package::new(
            Ecosystem::Python,
            &normalized,
            &version,
            location,
            purl::build("pypi", None, &normalized, Some(&version), &[]),
            Extra::Python { name },
        )
    })
}

fn licenses(headers: &[(String, String)]) -> Vec<String> {
    let field = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    };
    if let Some(expression) = field("License-Expression").filter(|v| !v.is_empty()) {
        return vec![expression.to_string()];
    }
    if let Some(license) = field("License").filter(|v| {
        !v.is_empty()
            && !v.contains('\n')
            && v.len() <= MAX_LICENSE_NAME
            && !v.eq_ignore_ascii_case("UNKNOWN")
    }) {
        return vec![license.to_string()];
    }
    let mut out: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Classifier"))
        .filter_map(|(_, v)| v.strip_prefix("License ::"))
        .filter_map(|v| v.rsplit("::").next())
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "OSI Approved")
        .map(String::from)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize_name("Foo.Bar__baz--Qux"), "foo-bar-baz-qux");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
    }

    #[test]
    fn headers_continuations_and_body() {
        let data = b"Metadata-Version: 2.1\r\nName: Foo_Bar\nVersion: 1.0+local\nLicense: line one\n  line two\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved :: MIT License\n\nName: body-is-not-a-header\n";
        let p = parse_metadata(data, "x/Foo_Bar-1.0.dist-info/METADATA").unwrap();
        assert_eq!(p.name, "foo-bar");
        assert_eq!(p.version, "1.0+local");
        assert_eq!(p.purl, "pkg:pypi/foo-bar@1.0%2Blocal");
        assert_eq!(p.licenses, ["MIT License"]);
        assert_eq!(
            p.extra,
            Extra::Python {
                name: "Foo_Bar".into()
            }
        );
    }

    #[test]
    fn license_expression_wins() {
        let data = b"Name: a\nVersion: 1\nLicense: BSD\nLicense-Expression: MIT OR Apache-2.0\n";
        assert_eq!(
            parse_metadata(data, "m").unwrap().licenses,
            ["MIT OR Apache-2.0"]
        );
        let data = b"Name: a\nVersion: 1\nLicense: BSD-3-Clause\n";
        assert_eq!(
            parse_metadata(data, "m").unwrap().licenses,
            ["BSD-3-Clause"]
        );
    }

    #[test]
    fn malformed_names_the_file() {
        let w =
            parse_metadata(b"Name: a\n\nVersion: 1\n", "site/a.dist-info/METADATA").unwrap_err();
        assert_eq!(w.location, "site/a.dist-info/METADATA");
        assert!(w.message.contains("without Version"), "{w}");
        assert!(parse_metadata(b"\xff\xfe\0garbage", "m").is_err());
    }
}
