//! `POST /api/v1/scan`: the request, validated.
//!
//! Malformed JSON or a value of the wrong JSON type is a 400; a required field missing or
//! invalid (registry URL, repository, digest) is a 422; an artifact or capability that
//! Portcullis does not scan is a 501, as the specification lists them. Unknown fields are
//! ignored, for newer Harbor versions.

use base64::Engine as _;
use portcullis_oci::{Credentials, Reference, RegistryToken};
use serde::{Deserialize, Serialize};

use crate::media;

/// The artifact block of a request, echoed in every report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The repository in the registry (`library/mongo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The manifest digest (`sha256:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The tag, when Harbor names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The manifest's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// How to authenticate to the registry, from the request's `authorization` value.
#[derive(Clone, PartialEq, Eq)]
pub enum RegistryAuth {
    /// No `authorization`: anonymous.
    Anonymous,
    /// `Basic BASE64(user:password)`: credentials for the registry's token service.
    Basic(Credentials),
    /// `Bearer TOKEN`: a registry token used as it is.
    Bearer(RegistryToken),
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Anonymous => "Anonymous",
            Self::Basic(_) => "Basic(<redacted>)",
            Self::Bearer(_) => "Bearer(<redacted>)",
        })
    }
}

/// A valid scan request.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// The registry, `host[:port]` as used in the image reference.
    pub registry: String,
    /// Whether the registry URL is `http://` (plain HTTP allowed for that host).
    pub plain_http: bool,
    /// The credentials Harbor passed.
    pub auth: RegistryAuth,
    /// The artifact as Harbor named it.
    pub artifact: Artifact,
    /// The image, pinned to the artifact's digest.
    pub reference: Reference,
    /// Whether a vulnerability report was asked for (absent capabilities: all are).
    pub vulnerability: bool,
    /// Whether an SBOM report was asked for.
    pub sbom: bool,
}

/// Why a request was refused, with the status the specification gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not JSON, or a value of the wrong JSON type: 400.
    #[error("invalid scan request: {0}")]
    InvalidJson(String),
    /// A field missing or invalid: 422.
    #[error("invalid field {field}: {why}")]
    InvalidField {
        /// The field, as a JSON path (`registry.url`).
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// An artifact type or capability Portcullis does not scan: 501.
    #[error("{0}")]
    Unsupported(String),
}

impl RequestError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson(_) => 400,
            Self::InvalidField { .. } => 422,
            Self::Unsupported(_) => 501,
        }
    }
}

#[derive(Deserialize)]
struct RawRequest {
    registry: Option<RawRegistry>,
    artifact: Option<Artifact>,
    enabled_capabilities: Option<Vec<RawCapability>>,
}

#[derive(Deserialize)]
struct RawRegistry {
    url: Option<String>,
    authorization: Option<String>,
}

#[derive(Deserialize)]
struct RawCapability {
    #[serde(rename = "type")]
    kind: String,
}

fn invalid(field: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidField {
        field,
        why: why.into(),
    }
}

/// Parse and validate a request body.
pub fn parse(body: &[u8]) -> Result<ScanRequest, RequestError> {
    let raw: RawRequest = serde_json::from_slice(body).map_err(|e| {
        RequestError::InvalidJson(format!(
            "expected a JSON object with \"registry\" and \"artifact\": {e}"
        ))
    })?;
    let registry = raw
        .registry
        .ok_or_else(|| invalid("registry", "required"))?;
    let url = registry
        .url
        .ok_or_else(|| invalid("registry.url", "required"))?;
    let (host, plain_http) = registry_host(&url)?;
    let auth = match registry.authorization.as_deref().map(str::trim) {
        None | Some("") => RegistryAuth::Anonymous,
        Some(value) => parse_authorization(value)?,
    };
    let artifact = raw
        .artifact
        .ok_or_else(|| invalid("artifact", "required"))?;
    let repository = artifact
        .repository
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| invalid("artifact.repository", "required"))?;
    let digest = artifact
        .digest
        .as_deref()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("artifact.digest", "required"))?;
    if let Some(mime) = artifact.mime_type.as_deref().filter(|m| !m.is_empty())
        && !media::CONSUMED.iter().any(|c| media::matches(mime, c))
    {
        return Err(RequestError::Unsupported(format!(
            "artifacts of type {} are not scanned; Portcullis scans {}",
            shorten(mime),
            media::CONSUMED.join(" and ")
        )));
    }
    let reference = Reference::parse(&format!("{host}/{repository}@{digest}"))
        .map_err(|e| invalid("artifact", e.to_string()))?;
    if reference.registry() != host || reference.repository() != repository {
        return Err(invalid(
            "artifact.repository",
            format!("'{}' is not a repository name", shorten(repository)),
        ));
    }
    let (vulnerability, sbom) = match &raw.enabled_capabilities {
        None => (true, true),
        Some(list) => {
            let vulnerability = list.iter().any(|c| c.kind == "vulnerability");
            let sbom = list.iter().any(|c| c.kind == "sbom");
            if !vulnerability && !sbom {
                return Err(RequestError::Unsupported(format!(
                    "no capability asked for is provided (asked: {}); Portcullis provides vulnerability and sbom",
                    list.iter()
                        .map(|c| shorten(&c.kind))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            (vulnerability, sbom)
        }
    };
    Ok(ScanRequest {
        registry: host,
        plain_http,
        auth,
        artifact,
        reference,
        vulnerability,
        sbom,
    })
}

/// At most 100 characters of outside input, for messages.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(100).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// `host[:port]` of a registry URL (`https://core.harbor.domain`), and whether it is plain
/// HTTP. A host that an image reference would not read as a registry (no dot, no port, not
/// `localhost`) gets the scheme's default port, which names the same server.
fn registry_host(url: &str) -> Result<(String, bool), RequestError> {
    let field = "registry.url";
    let (plain_http, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else {
        return Err(invalid(
            field,
            format!("'{}' is not an http(s) URL", shorten(url)),
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(invalid(field, format!("'{}' names no host", shorten(url))));
    }
    if authority.contains(['/', '?', '#', '@']) {
        return Err(invalid(
            field,
            format!(
                "'{}' must be a registry's base URL (scheme, host and port only)",
                shorten(url)
            ),
        ));
    }
    let valid = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(invalid(
            field,
            format!("'{}' has an invalid host", shorten(url)),
        ));
    }
    let host = authority.to_ascii_lowercase();
    let host = if host.contains('.') || host.contains(':') || host == "localhost" {
        host
    } else if plain_http {
        format!("{host}:80")
    } else {
        format!("{host}:443")
    };
    Ok((host, plain_http))
}

/// An `Authorization` value: `Basic BASE64(user:password)` or `Bearer TOKEN`.
fn parse_authorization(value: &str) -> Result<RegistryAuth, RequestError> {
    let field = "registry.authorization";
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| invalid(field, "Basic credentials are not base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| invalid(field, "Basic credentials are not UTF-8"))?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| invalid(field, "Basic credentials are not user:password"))?;
        return Ok(RegistryAuth::Basic(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }));
    }
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(field, "the Bearer token has white space"));
        }
        return Ok(RegistryAuth::Bearer(RegistryToken::new(rest)));
    }
    Err(invalid(
        field,
        "expected 'Basic BASE64(user:password)' or 'Bearer TOKEN'",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    fn body(url: &str, auth: Option<&str>, repository: &str, digest: &str) -> Vec<u8> {
        let mut registry = serde_json::json!({ "url": url });
        if let Some(a) = auth {
            registry["authorization"] = a.into();
        }
        serde_json::to_vec(&serde_json::json!({
            "registry": registry,
            "artifact": {
                "repository": repository,
                "digest": digest,
                "tag": "3.14",
                "mime_type": "application/vnd.docker.distribution.manifest.v2+json",
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_harbor_request_becomes_a_pinned_reference_with_credentials() {
        // "robot$scanner:secret" in base64.
        let request = parse(&body(
            "https://core.harbor.domain",
            Some("Basic cm9ib3Qkc2Nhbm5lcjpzZWNyZXQ="),
            "library/mongo",
            DIGEST,
        ))
        .unwrap();
        assert_eq!(
            request.reference.to_string(),
            format!("core.harbor.domain/library/mongo@{DIGEST}")
        );
        assert!(!request.plain_http);
        assert!(request.vulnerability && request.sbom);
        match &request.auth {
            RegistryAuth::Basic(c) => {
                assert_eq!(c.username, "robot$scanner");
                assert_eq!(c.password, "secret");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{request:?}").contains("secret"));
        assert_eq!(request.artifact.tag.as_deref(), Some("3.14"));
    }

    #[test]
    fn plain_http_and_bare_hosts_and_bearer_tokens() {
        let request = parse(&body(
            "http://harbor-core",
            Some("Bearer eyJhbGciOi.x.y"),
            "proj/app",
            DIGEST,
        ))
        .unwrap();
        assert_eq!(request.registry, "harbor-core:80");
        assert!(request.plain_http);
        assert_eq!(
            request.reference.to_string(),
            format!("harbor-core:80/proj/app@{DIGEST}")
        );
        assert!(
            matches!(request.auth, RegistryAuth::Bearer(ref t) if t.expose() == "eyJhbGciOi.x.y")
        );
        let local = parse(&body("http://127.0.0.1:5000/", None, "a/b", DIGEST)).unwrap();
        assert_eq!(local.registry, "127.0.0.1:5000");
        assert_eq!(local.auth, RegistryAuth::Anonymous);
    }

    #[test]
    fn statuses_follow_the_specification() {
        let status = |b: &[u8]| parse(b).unwrap_err().status();
        assert_eq!(status(b"not json"), 400);
        assert_eq!(status(b"[]"), 400);
        assert_eq!(status(br#"{"registry": "x", "artifact": {}}"#), 400);
        assert_eq!(status(br#"{"registry": {"url": 5}, "artifact": {}}"#), 400);
        assert_eq!(status(br#"{"artifact": {}}"#), 422);
        assert_eq!(status(&body("ftp://x.io", None, "a", DIGEST)), 422);
        assert_eq!(status(&body("https://x.io/v2/", None, "a", DIGEST)), 422);
        assert_eq!(status(&body("https://u:p@x.io", None, "a", DIGEST)), 422);
        assert_eq!(status(&body("https://x.io", None, "", DIGEST)), 422);
        assert_eq!(
            status(&body("https://x.io", None, "Upper/Case", DIGEST)),
            422
        );
        assert_eq!(
            status(&body("https://x.io", None, "a", "sha256:short")),
            422
        );
        assert_eq!(status(&body("https://x.io", None, "a", "")), 422);
        assert_eq!(
            status(&body("https://x.io", Some("Digest x"), "a", DIGEST)),
            422
        );
        assert_eq!(
            status(&body("https://x.io", Some("Basic !!!"), "a", DIGEST)),
            422
        );
        let index = br#"{"registry": {"url": "https://x.io"}, "artifact": {"repository": "a", "digest": "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", "mime_type": "application/vnd.oci.image.index.v1+json"}}"#;
        assert_eq!(status(index), 501);
        let helm = br#"{"registry": {"url": "https://x.io"}, "artifact": {"repository": "a", "digest": "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"}, "enabled_capabilities": [{"type": "malware"}]}"#;
        assert_eq!(status(helm), 501);
    }

    #[test]
    fn capabilities_select_reports() {
        let only_sbom = br#"{"registry": {"url": "https://x.io"}, "artifact": {"repository": "a", "digest": "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"}, "enabled_capabilities": [{"type": "sbom", "produces_mime_types": ["application/vnd.security.sbom.report+json; version=1.0"], "parameters": {"sbom_media_types": ["application/spdx+json"]}}]}"#;
        let request = parse(only_sbom).unwrap();
        assert!(request.sbom && !request.vulnerability);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn arbitrary_urls_and_auth_never_panic(url in "\\PC{0,60}", auth in "\\PC{0,60}", repo in "\\PC{0,40}") {
            let _ = parse(&body(&url, Some(&auth), &repo, DIGEST));
        }
    }
}
