//! Package URLs (<https://github.com/package-url/purl-spec>) in canonical form.
//!
//! Components are percent-encoded except for ASCII letters, digits, `.`, `-`, `_`, `~` and
//! `:` (the standard says a colon is never encoded); qualifiers are sorted by key and empty
//! ones are left out.

use std::fmt::Write as _;

/// Percent-encode one purl component.
pub fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for byte in component.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Build `pkg:type/namespace/name@version?k=v&...` (namespace and version optional).
pub fn build(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, Option<String>)],
) -> String {
    let mut out = format!("pkg:{purl_type}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for segment in ns.split('/').filter(|s| !s.is_empty()) {
            out.push_str(&encode(segment));
            out.push('/');
        }
    }
    out.push_str(&encode(name));
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        out.push_str(&encode(v));
    }
    let mut kept: Vec<(&str, &str)> = qualifiers
        .iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    kept.sort_unstable();
    for (i, (key, value)) in kept.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(
            build(
                "apk",
                Some("alpine"),
                "musl",
                Some("1.1.20-r5"),
                &[
                    ("distro", Some("3.9.6".into())),
                    ("arch", Some("x86_64".into()))
                ]
            ),
            "pkg:apk/alpine/musl@1.1.20-r5?arch=x86_64&distro=3.9.6"
        );
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "login",
                Some("1:4.13+dfsg1-1"),
                &[("arch", None), ("distro", Some(String::new()))]
            ),
            "pkg:deb/debian/login@1:4.13%2Bdfsg1-1"
        );
        assert_eq!(encode("a b/c@d?e#f%"), "a%20b%2Fc%40d%3Fe%23f%25");
        assert_eq!(build("rpm", None, "x", None, &[]), "pkg:rpm/x");
    }
}
