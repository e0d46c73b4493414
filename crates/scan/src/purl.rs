//! Package URL matching for ignore files and VEX documents: type, namespace, name and
//! (when the pattern has one) version must agree; qualifiers and subpath are ignored.

use std::borrow::Cow;

use packageurl::PackageUrl;

/// The identifying parts of a purl, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PurlKey {
    /// The type, lowercase (`apk`, `pypi`, `golang`, `oci`).
    pub purl_type: String,
    /// The namespace segments joined by `/`, lowercase (`alpine`, `github.com/foo`).
    pub namespace: String,
    /// The name, lowercase.
    pub name: String,
    /// The version, exactly as written (decoded); `None` when absent.
    pub version: Option<String>,
}

/// Parse `pkg:type/namespace/name@version?qualifiers#subpath` with the `packageurl` crate;
/// `None` when it is not a valid purl (including a type's own rules, such as `oci` having
/// no namespace) or has a `%` that is not followed by two hex digits.
///
/// An encoded slash in the namespace (`pkg:golang/golang.org%2Fx/text`, as some tools write
/// Go module paths) is read as a segment separator: a namespace segment cannot contain one.
pub(crate) fn parse(purl: &str) -> Option<PurlKey> {
    let purl = purl.trim();
    if !escapes_are_complete(purl) {
        return None;
    }
    let purl = split_encoded_namespace(purl);
    let parsed: PackageUrl<'static> = purl.parse().ok()?;
    Some(PurlKey {
        purl_type: parsed.ty().to_string(),
        namespace: parsed.namespace().unwrap_or_default().to_lowercase(),
        name: parsed.name().to_lowercase(),
        version: parsed
            .version()
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    })
}

/// Whether every `%` starts an escape of two hex digits (`packageurl` keeps a broken escape
/// as written).
fn escapes_are_complete(purl: &str) -> bool {
    purl.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// `purl` with `%2F` in its namespace (between the type's `/` and the name's) replaced by
/// `/`.
fn split_encoded_namespace(purl: &str) -> Cow<'_, str> {
    let Some(rest) = purl.strip_prefix("pkg:").map(|r| r.trim_start_matches('/')) else {
        return Cow::Borrowed(purl);
    };
    let start = purl.len() - rest.len();
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let (Some(type_end), Some(name_start)) = (path.find('/'), path.rfind('/')) else {
        return Cow::Borrowed(purl);
    };
    let parts = (
        purl.get(..start + type_end),
        path.get(type_end..name_start),
        purl.get(start + name_start..),
    );
    match parts {
        (Some(head), Some(namespace), Some(tail))
            if namespace.contains("%2F") || namespace.contains("%2f") =>
        {
            let namespace = namespace.replace("%2F", "/").replace("%2f", "/");
            Cow::Owned(format!("{head}{namespace}{tail}"))
        }
        _ => Cow::Borrowed(purl),
    }
}

impl PurlKey {
    /// Whether this (pattern) purl names `package`: same type, namespace and name, and the
    /// same version unless the pattern has none.
    pub fn matches(&self, package: &PurlKey) -> bool {
        self.purl_type == package.purl_type
            && self.namespace == package.namespace
            && self.name == package.name
            && self
                .version
                .as_ref()
                .is_none_or(|v| package.version.as_ref() == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let installed = parse("pkg:apk/alpine/musl@1.1.20-r5?arch=x86_64&distro=3.9.6").unwrap();
        assert_eq!(
            installed,
            PurlKey {
                purl_type: "apk".into(),
                namespace: "alpine".into(),
                name: "musl".into(),
                version: Some("1.1.20-r5".into()),
            }
        );
        assert!(parse("pkg:apk/alpine/musl").unwrap().matches(&installed));
        assert!(
            parse("pkg:APK/Alpine/musl@1.1.20-r5")
                .unwrap()
                .matches(&installed)
        );
        assert!(
            !parse("pkg:apk/alpine/musl@1.1.20-r6")
                .unwrap()
                .matches(&installed)
        );
        assert!(
            !parse("pkg:apk/alpine/musl-utils")
                .unwrap()
                .matches(&installed)
        );
        assert!(!parse("pkg:deb/alpine/musl").unwrap().matches(&installed));
        // Percent-encoding on either side.
        let go = parse("pkg:golang/golang.org/x/text@v0.3.5").unwrap();
        assert_eq!(go.namespace, "golang.org/x");
        assert!(
            parse("pkg:golang/golang.org%2Fx/text@v0.3.5")
                .unwrap()
                .matches(&parse("pkg:golang/golang.org/x/text@v0.3.5").unwrap())
        );
        assert!(
            parse("pkg:pypi/a@1.0%2Bx")
                .unwrap()
                .matches(&parse("pkg:pypi/a@1.0+x#sub").unwrap())
        );
        for bad in [
            "",
            "musl",
            "pkg:",
            "pkg:apk",
            "pkg:apk/",
            "pkg:/musl",
            "pkg:apk/a%",
            "pkg:apk/a%zz",
            "pkg:apk/a%ff",
            "pkg:apk/a@%",
            "pkg:apk/a?arch=%4",
            // The `oci` type has no namespace; `swift` needs one.
            "pkg:oci/library/alpine@sha256:ab",
            "pkg:swift/Alamofire@5.4.3",
            "pkg:a%2Fb/x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let image = parse("pkg:oci/alpine@sha256%3Aab?repository_url=docker.io%2Flibrary%2Falpine");
        assert_eq!(
            image,
            Some(PurlKey {
                purl_type: "oci".into(),
                namespace: String::new(),
                name: "alpine".into(),
                version: Some("sha256:ab".into()),
            })
        );
        assert_eq!(parse("pkg:oci/alpine@sha256:ab"), image);
    }

    #[test]
    fn hostile_input_is_refused_without_panicking() {
        for text in [
            "pkg:%",
            "pkg:é/é@é?é=é#é",
            "pkg:a/%C3",
            "pkg:a/b%2F%C3%A9/c",
            "pkg:a/%2F/%2F",
            "pkg:a/%2f@%2f?%2f#%2f",
            "pkg:a/b@/",
            "pkg:a/b?=&=&",
            "pkg:a/b#/../..",
            "pkg:////",
            "pkg:a/b@1?k=é%",
        ] {
            let _ = parse(text);
        }
        assert_eq!(
            parse("pkg:a/b%2F%C3%A9/c").map(|k| k.namespace),
            Some("b/é".to_string())
        );
    }
}
