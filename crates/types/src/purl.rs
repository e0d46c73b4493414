//! Package URLs (<https://github.com/package-url/purl-spec>) in canonical form.
//!
//! [`build`] assembles a purl with the `packageurl` crate, which applies the rules of the
//! purl-spec type definitions: lowercased `golang` and `apk` namespaces, lowercased `npm`,
//! `deb` and `pypi` names, no namespace for `cargo`, `pypi` or `oci`. The string is then
//! written here rather than by `packageurl`'s `Display`, which leaves `!$&'()*,` (and `/`
//! in versions) unencoded: the spec's canonical form ("Character encoding") percent-encodes
//! every byte but ASCII letters, digits, `.-_~` and the colon, which is never encoded.
//! Qualifiers are sorted by key; empty ones are left out.

use std::fmt::Write as _;

use packageurl::PackageUrl;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a URL component built from one value percent-encodes: everything but RFC 3986's
/// unreserved characters (ASCII letters, digits, `-._~`). Shared by every crate that builds
/// a URL or a purl.
pub const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The bytes a canonical purl component percent-encodes: all but ASCII letters, digits,
/// `.`, `-`, `_`, `~` and `:`.
pub const COMPONENT: &AsciiSet = &NOT_UNRESERVED.remove(b':');

/// Build `pkg:type/namespace/name@version?k=v&...` (namespace, version and qualifiers
/// optional; empty ones are left out).
///
/// When the type rules refuse the parts (an empty name, a namespace for a type that has
/// none) they are written as given, encoded but not normalised, so a package with odd
/// metadata still has a purl.
pub fn build(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, Option<String>)],
) -> String {
    let namespace = namespace.filter(|n| n.split('/').any(|s| !s.is_empty()));
    let version = version.filter(|v| !v.is_empty());
    let qualifiers: Vec<(&str, &str)> = qualifiers
        .iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    match checked(purl_type, namespace, name, version, &qualifiers) {
        Ok(purl) => {
            let qualifiers = purl
                .qualifiers()
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            write(
                purl.ty(),
                purl.namespace(),
                purl.name(),
                purl.version(),
                qualifiers,
            )
        }
        Err(_) => write(purl_type, namespace, name, version, qualifiers),
    }
}

/// The purl as `packageurl` builds and validates it.
fn checked<'a>(
    purl_type: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    version: Option<&'a str>,
    qualifiers: &[(&'a str, &'a str)],
) -> packageurl::Result<PackageUrl<'a>> {
    let mut purl = PackageUrl::new(purl_type, name)?;
    if let Some(namespace) = namespace {
        purl.with_namespace(namespace)?;
    }
    if let Some(version) = version {
        purl.with_version(version)?;
    }
    for (key, value) in qualifiers {
        purl.add_qualifier(*key, *value)?;
    }
    purl.validate()?;
    Ok(purl)
}

/// The canonical string of already normalised parts.
fn write(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    mut qualifiers: Vec<(&str, &str)>,
) -> String {
    let mut out = format!("pkg:{purl_type}/");
    for segment in namespace.into_iter().flat_map(|n| n.split('/')) {
        if !segment.is_empty() {
            let _ = write!(out, "{}/", utf8_percent_encode(segment, COMPONENT));
        }
    }
    let _ = write!(out, "{}", utf8_percent_encode(name, COMPONENT));
    if let Some(version) = version {
        let _ = write!(out, "@{}", utf8_percent_encode(version, COMPONENT));
    }
    qualifiers.sort_unstable();
    for (i, (key, value)) in qualifiers.into_iter().enumerate() {
        let separator = if i == 0 { '?' } else { '&' };
        let value = utf8_percent_encode(value, COMPONENT);
        let _ = write!(out, "{separator}{key}={value}");
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
        // A Debian epoch, `+` and `~`: the colon (never encoded) and the tilde (a
        // punctuation character) stay, the plus is encoded.
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "login",
                Some("1:2.3+dfsg-1~deb12u1"),
                &[("arch", None), ("distro", Some(String::new()))]
            ),
            "pkg:deb/debian/login@1:2.3%2Bdfsg-1~deb12u1"
        );
        assert_eq!(build("rpm", None, "x", None, &[]), "pkg:rpm/x");
        assert_eq!(
            build("npm", Some("@babel"), "core", Some("7.24.0"), &[]),
            "pkg:npm/%40babel/core@7.24.0"
        );
        // Every byte but letters, digits, `.-_~:` is encoded, `packageurl` leaves some out.
        assert_eq!(
            build("generic", None, "a b/c@d?e#f%!$&'()*,;=", Some("1/2"), &[]),
            "pkg:generic/a%20b%2Fc%40d%3Fe%23f%25%21%24%26%27%28%29%2A%2C%3B%3D@1%2F2"
        );
        assert_eq!(
            build(
                "oci",
                None,
                "alpine",
                Some("sha256:abc"),
                &[("repository_url", Some("127.0.0.1:5000/team/alpine".into()))]
            ),
            "pkg:oci/alpine@sha256:abc?repository_url=127.0.0.1:5000%2Fteam%2Falpine"
        );
        // Non-ASCII as UTF-8 bytes.
        assert_eq!(build("cargo", None, "é", None, &[]), "pkg:cargo/%C3%A9");
    }

    #[test]
    fn type_rules_apply() {
        assert_eq!(
            build(
                "golang",
                Some("github.com/BurntSushi"),
                "toml",
                Some("v1.3.2"),
                &[]
            ),
            "pkg:golang/github.com/burntsushi/toml@v1.3.2"
        );
        assert_eq!(
            build("npm", None, "JSONStream", Some("1.3.5"), &[]),
            "pkg:npm/jsonstream@1.3.5"
        );
        assert_eq!(
            build("maven", Some("org.Example"), "Lib", Some("1.0"), &[]),
            "pkg:maven/org.Example/Lib@1.0"
        );
        // Refused parts are still written, encoded.
        assert_eq!(
            build("npm", Some("@s"), "", Some("1"), &[]),
            "pkg:npm/%40s/@1"
        );
        assert_eq!(
            build("cargo", Some("ns"), "x", Some("1"), &[]),
            "pkg:cargo/ns/x@1"
        );
        assert_eq!(
            build("apk", Some("/alpine//"), "x", None, &[]),
            "pkg:apk/alpine/x"
        );
    }
}
