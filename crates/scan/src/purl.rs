//! Package URL matching for ignore files and VEX documents: type, namespace, name and
//! (when the pattern has one) version must agree; qualifiers and subpath are ignored.

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

/// Parse `pkg:type/namespace/name@version?qualifiers#subpath`; `None` when it is not a
/// purl or its percent-encoding is broken.
pub(crate) fn parse(purl: &str) -> Option<PurlKey> {
    let rest = purl.trim().strip_prefix("pkg:")?.trim_start_matches('/');
    let rest = rest.split('#').next().unwrap_or("");
    let rest = rest.split('?').next().unwrap_or("");
    let (purl_type, path) = rest.split_once('/')?;
    let (path, version) = match path.rsplit_once('@') {
        Some((path, version)) => (path, Some(decode(version)?)),
        None => (path, None),
    };
    let mut segments = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        segments.push(decode(segment)?.to_lowercase());
    }
    let name = segments.pop()?;
    if purl_type.is_empty() || name.is_empty() {
        return None;
    }
    Some(PurlKey {
        purl_type: purl_type.to_ascii_lowercase(),
        namespace: segments.join("/"),
        name,
        version: version.filter(|v| !v.is_empty()),
    })
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

/// Decode `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
fn decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = component.get(i.checked_add(1)?..i.checked_add(3)?)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i = i.checked_add(3)?;
        } else {
            out.push(byte);
            i = i.checked_add(1)?;
        }
    }
    String::from_utf8(out).ok()
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
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
