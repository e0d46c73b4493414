//! npm packages: installed `node_modules/**/package.json` files and `package-lock.json`
//! (lockfileVersion 1, 2 and 3).
//!
//! A `package.json` counts only where npm installs packages, directly under a `node_modules`
//! directory (`node_modules/NAME/package.json`, `node_modules/@scope/NAME/package.json`), so
//! the `package.json` files packages ship inside themselves (test fixtures, `lib/`) are
//! ignored. Private packages count. In a lock file the root project (the `""` entry, or the
//! lock's own name in v1) is left out: it is the application being built, not an installed
//! package (syft keeps it). Entries that are links or live outside `node_modules`
//! (workspace members) are left out too.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::package::{Ecosystem, Extra, Package};
use crate::purl;
use crate::warning::Warning;

/// The files read.
pub const PATTERNS: &[&str] = &["**/node_modules/**/package.json", "**/package-lock.json"];

/// Nesting limit for the v1 `dependencies` tree.
const MAX_DEPTH: usize = 128;

file_cataloger!(
    /// Catalogs npm packages.
    NpmCataloger,
    "npm",
    PATTERNS,
    |data, location: &str, _| {
        if location == "package-lock.json" || location.ends_with("/package-lock.json") {
            parse_package_lock(data, location)
        } else if is_installed_manifest(location) {
            match parse_package_json(data, location) {
                Ok(package) => (package.into_iter().collect(), Vec::new()),
                Err(warning) => (Vec::new(), vec![warning]),
            }
        } else {
            (Vec::new(), Vec::new())
        }
    },
);

/// Is `path` the manifest of an installed package (`.../node_modules/[@scope/]NAME/package.json`)?
pub fn is_installed_manifest(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let (Some("package.json"), Some(name), Some(parent)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if name.starts_with('.') || name.starts_with('@') {
        return false;
    }
    if parent == "node_modules" {
        return true;
    }
    parent.starts_with('@') && parts.next() == Some("node_modules")
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn licenses(manifest: &Value) -> Vec<String> {
    let one = |v: &Value| {
        v.as_str()
            .or_else(|| v.get("type").and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    if let Some(license) = manifest.get("license").and_then(one) {
        return vec![license];
    }
    manifest
        .get("licenses")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(one).collect())
        .unwrap_or_default()
}

/// The npm purl: `pkg:npm/%40scope/name@version` or `pkg:npm/name@version`.
pub fn npm_purl(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, rest)) if scope.starts_with('@') => {
            purl::build("npm", Some(scope), rest, Some(version), &[])
        }
        _ => purl::build("npm", None, name, Some(version), &[]),
    }
}

fn package(name: &str, version: &str, location: &str, licenses: Vec<String>) -> Package {
    Package {
        licenses,
        ..Package::new(
            Ecosystem::Npm,
            name,
            version,
            location,
            npm_purl(name, version),
            Extra::None,
        )
    }
}

/// Read an installed package's `package.json`. `Ok(None)` when it has neither name nor
/// version (a stub, not a package); a warning when it is not JSON or has only one of them.
pub fn parse_package_json(data: &[u8], location: &str) -> Result<Option<Package>, Warning> {
    let manifest: Value = serde_json::from_slice(data)
        .map_err(|e| Warning::new(location, format!("package.json is not valid JSON: {e}")))?;
    match (text(&manifest, "name"), text(&manifest, "version")) {
        (Some(name), Some(version)) => {
            Ok(Some(package(name, version, location, licenses(&manifest))))
        }
        (None, None) => Ok(None),
        (Some(name), None) => Err(Warning::new(
            location,
            format!("package.json of '{name}' has no version; skipped"),
        )),
        (None, Some(_)) => Err(Warning::new(
            location,
            "package.json has a version but no name; skipped",
        )),
    }
}

/// The package name of a `packages` key: the part after the last `node_modules/`.
fn name_from_key(key: &str) -> Option<&str> {
    let index = key.rfind("node_modules/")?;
    key.get(index + "node_modules/".len()..)
        .filter(|n| !n.is_empty())
}

/// Read a `package-lock.json`: the `packages` map (v2, v3) or, without one, the nested
/// `dependencies` tree (v1). Packages are deduplicated by name and version.
pub fn parse_package_lock(data: &[u8], location: &str) -> (Vec<Package>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let lock: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(Warning::error(
                location,
                format!("package-lock.json is not valid JSON: {e}"),
            ));
            return (Vec::new(), warnings);
        }
    };
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut packages = Vec::new();
    let mut add = |name: &str, version: &str, licenses: Vec<String>| {
        if seen.insert((name.to_string(), version.to_string())) {
            packages.push(package(name, version, location, licenses));
        }
    };
    if let Some(map) = lock.get("packages").and_then(Value::as_object) {
        for (key, entry) in map {
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(key_name) = name_from_key(key) else {
                continue; // the root project ("") or a workspace member
            };
            let name = text(entry, "name").unwrap_or(key_name);
            match text(entry, "version") {
                Some(version) => add(name, version, licenses(entry)),
                None => warnings.push(Warning::new(
                    location,
                    format!("entry '{key}' has no version; skipped"),
                )),
            }
        }
    } else if let Some(deps) = lock.get("dependencies").and_then(Value::as_object) {
        let mut stack: Vec<(&serde_json::Map<String, Value>, usize)> = vec![(deps, 0)];
        while let Some((deps, depth)) = stack.pop() {
            for (name, entry) in deps {
                match text(entry, "version") {
                    // v1 writes `file:` / `git+` specifiers as versions of local and git deps.
                    Some(version) if !version.starts_with("file:") => {
                        add(name, version, Vec::new());
                    }
                    Some(_) => {}
                    None => warnings.push(Warning::new(
                        location,
                        format!("dependency '{name}' has no version; skipped"),
                    )),
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    if depth + 1 < MAX_DEPTH {
                        stack.push((nested, depth + 1));
                    } else {
                        warnings.push(Warning::new(
                            location,
                            format!("dependencies nested deeper than {MAX_DEPTH}; rest skipped"),
                        ));
                    }
                }
            }
        }
    }
    (packages, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_manifest_paths() {
        assert!(is_installed_manifest(
            "app/node_modules/semver/package.json"
        ));
        assert!(is_installed_manifest(
            "node_modules/@types/node/package.json"
        ));
        assert!(is_installed_manifest(
            "a/node_modules/x/node_modules/y/package.json"
        ));
        assert!(!is_installed_manifest("node_modules/x/test/package.json"));
        assert!(!is_installed_manifest("node_modules/@types/package.json"));
        assert!(!is_installed_manifest("node_modules/.bin/package.json"));
        assert!(!is_installed_manifest("package.json"));
    }

    #[test]
    fn scoped_purl() {
        assert_eq!(
            npm_purl("@babel/core", "7.0.0"),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(npm_purl("lru-cache", "6.0.0"), "pkg:npm/lru-cache@6.0.0");
    }

    #[test]
    fn package_json() {
        let p = parse_package_json(
            br#"{"name":"x","version":"1.0.0","private":true,"license":{"type":"MIT"}}"#,
            "node_modules/x/package.json",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.licenses.as_slice()),
            ("x", &["MIT".to_string()][..])
        );
        assert!(
            parse_package_json(br#"{"type":"module"}"#, "l")
                .unwrap()
                .is_none()
        );
        let w = parse_package_json(br#"{"name":"x"}"#, "node_modules/x/package.json").unwrap_err();
        assert_eq!(w.location, "node_modules/x/package.json");
        assert!(parse_package_json(b"{", "l").is_err());
    }

    #[test]
    fn lock_v1_and_v3() {
        let v1 = br#"{"name":"app","version":"1.0.0","lockfileVersion":1,"dependencies":{
            "a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}},
            "b":{"version":"1.0.0"},"c":{"version":"file:../c"},"@s/d":{"version":"3.0.0"}}}"#;
        let (p, w) = parse_package_lock(v1, "package-lock.json");
        assert!(w.is_empty(), "{w:?}");
        let mut got: Vec<String> = p.iter().map(|p| p.purl.clone()).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "pkg:npm/%40s/d@3.0.0",
                "pkg:npm/a@1.0.0",
                "pkg:npm/b@1.0.0",
                "pkg:npm/b@2.0.0"
            ]
        );
        let v3 = br#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0"},
            "node_modules/a":{"version":"1.0.0","license":"ISC"},
            "node_modules/x/node_modules/a":{"version":"1.0.0"},
            "node_modules/@s/d":{"version":"3.0.0"},
            "node_modules/w":{"resolved":"packages/w","link":true},
            "packages/w":{"name":"w","version":"0.1.0"},
            "node_modules/nov":{}}}"#;
        let (p, w) = parse_package_lock(v3, "app/package-lock.json");
        let got: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("@s/d", "3.0.0"), ("a", "1.0.0")]);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("node_modules/nov"), "{:?}", w);
        let (p, w) = parse_package_lock(b"[1,2", "package-lock.json");
        assert!(p.is_empty());
        assert_eq!(w.len(), 1);
    }
}
