//! End-to-end tests of the registry client against the in-process mock server.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portcullis_testkit::sleep::{record_sleep, slept};

use super::mock::{MockRequest, MockResponse, MockServer};
use super::open;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::manifest::{OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};
use crate::options::{Credentials, ImageOptions, RegistryOptions, RetryPolicy};
use crate::platform::Platform;
use crate::reference::Reference;

const REPO: &str = "lib/img";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

struct TestImage {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest_digest: Digest,
    config_digest: Digest,
    layer_digest: Digest,
    diff_id: Digest,
}

fn test_image(arch: &str, layer: &[u8]) -> TestImage {
    let layer_digest = Digest::sha256_of(layer);
    let diff_id = Digest::sha256_of(format!("uncompressed {arch}").as_bytes());
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"User":"app"}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    )
    .into_bytes();
    let config_digest = Digest::sha256_of(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{LAYER_TYPE}","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    )
    .into_bytes();
    TestImage {
        manifest_digest: Digest::sha256_of(&manifest),
        manifest,
        config,
        layer: layer.to_vec(),
        config_digest,
        layer_digest,
        diff_id,
    }
}

/// What a fake registry holds for repository [`REPO`].
#[derive(Default, Clone)]
struct Content {
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
}

impl Content {
    fn with_image(tag: &str, image: &TestImage) -> Self {
        let mut content = Self::default();
        content.add_image(Some(tag), image);
        content
    }

    fn add_image(&mut self, tag: Option<&str>, image: &TestImage) {
        let entry = (OCI_MANIFEST.to_string(), image.manifest.clone());
        if let Some(tag) = tag {
            self.manifests.insert(tag.to_string(), entry.clone());
        }
        self.manifests
            .insert(image.manifest_digest.to_string(), entry);
        self.blobs
            .insert(image.config_digest.to_string(), image.config.clone());
        self.blobs
            .insert(image.layer_digest.to_string(), image.layer.clone());
    }

    fn serve(&self, request: &MockRequest) -> MockResponse {
        let path = request.path();
        if path == "/v2/" {
            return MockResponse::ok("{}");
        }
        if let Some(name) = path.strip_prefix(&format!("/v2/{REPO}/manifests/")) {
            return match self.manifests.get(name) {
                Some((media_type, bytes)) => MockResponse::ok(bytes.clone())
                    .header("Content-Type", media_type)
                    .header("Docker-Content-Digest", Digest::sha256_of(bytes).as_str()),
                None => registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            };
        }
        if let Some(digest) = path.strip_prefix(&format!("/v2/{REPO}/blobs/")) {
            return match self.blobs.get(digest) {
                Some(bytes) => MockResponse::ok(bytes.clone())
                    .header("Content-Type", "application/octet-stream"),
                None => registry_error(404, "BLOB_UNKNOWN", "blob unknown to registry"),
            };
        }
        registry_error(404, "NAME_UNKNOWN", "repository name not known to registry")
    }
}

fn registry_error(status: u16, code: &str, message: &str) -> MockResponse {
    MockResponse::new(status)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"errors":[{{"code":"{code}","message":"{message}","detail":null}}]}}"#
        ))
}

/// [`options`] for `server`, logging in as `username` with `password`.
fn options_as(server: &MockServer, username: &str, password: &str) -> ImageOptions {
    let mut opts = options(&[server]);
    opts.registry.credentials = Some(Credentials {
        username: username.into(),
        password: password.into(),
    });
    opts
}

fn options(servers: &[&MockServer]) -> ImageOptions {
    ImageOptions {
        platform: Some("linux/amd64".parse().unwrap()),
        registry: RegistryOptions {
            insecure_registries: servers.iter().map(|s| s.authority()).collect(),
            docker_config_dir: Some("/nonexistent/portcullis-test-docker-config".into()),
            read_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                max_total: Duration::from_secs(20),
                sleep: record_sleep,
            },
            ..RegistryOptions::default()
        },
        ..ImageOptions::default()
    }
}

fn reference(server: &MockServer, tag: &str) -> Reference {
    Reference::parse(&format!("{}/{REPO}:{tag}", server.authority())).unwrap()
}

fn read_layer(store: &dyn crate::BlobStore, info: &crate::ImageInfo) -> crate::Result<Vec<u8>> {
    let mut reader = store.open_layer(&info.layers[0])?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| Error::io("reading layer", e))?;
    Ok(out)
}

/// Display and Debug of the whole error chain.
fn full_text(err: &Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}

#[test]
fn opens_an_image_anonymously_over_plain_http_when_insecure() {
    let image = test_image("amd64", b"layer bytes");
    let content = Content::with_image("1.0", &image);
    let server = MockServer::start(move |r| content.serve(r));
    let (info, store) = open(&reference(&server, "1.0"), &options(&[&server])).unwrap();

    assert_eq!(
        info.reference,
        format!("{}/lib/img:1.0", server.authority())
    );
    assert_eq!(info.source, crate::SourceKind::Registry);
    assert_eq!(info.digest.as_ref(), Some(&image.manifest_digest));
    assert_eq!(info.manifest_digest, None);
    assert_eq!(info.config_digest.as_ref(), Some(&image.config_digest));
    assert_eq!(info.platform.as_ref().unwrap().to_string(), "linux/amd64");
    assert_eq!(info.config.user.as_deref(), Some("app"));
    assert_eq!(info.layers.len(), 1);
    assert_eq!(info.layers[0].digest, image.layer_digest);
    assert_eq!(info.layers[0].size, 11);
    assert_eq!(info.layers[0].media_type, LAYER_TYPE);
    assert_eq!(info.layers[0].diff_id.as_ref(), Some(&image.diff_id));
    assert_eq!(read_layer(store.as_ref(), &info).unwrap(), b"layer bytes");

    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(MockRequest::path).collect();
    assert_eq!(
        paths,
        vec![
            "/v2/".to_string(),
            "/v2/lib/img/manifests/1.0".to_string(),
            format!("/v2/lib/img/blobs/{}", image.config_digest),
            format!("/v2/lib/img/blobs/{}", image.layer_digest),
        ]
    );
    let manifest_request = &requests[1];
    assert_eq!(manifest_request.method, "GET");
    assert_eq!(
        manifest_request.header("accept"),
        Some(crate::manifest::MANIFEST_ACCEPT)
    );
    assert_eq!(
        manifest_request.header("user-agent"),
        Some(format!("portcullis/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(manifest_request.header("authorization"), None);
}

#[test]
fn a_plain_http_registry_that_is_not_insecure_is_a_tls_error() {
    let image = test_image("amd64", b"x");
    let content = Content::with_image("1", &image);
    let server = MockServer::start(move |r| content.serve(r));
    let err = open(&reference(&server, "1"), &options(&[])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "registry {}: TLS with {}",
            server.authority(),
            server.authority()
        )),
        "{err}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn pinned_digest_is_fetched_by_digest() {
    let image = test_image("amd64", b"abc");
    let content = Content::with_image("1", &image);
    let server = MockServer::start(move |r| content.serve(r));
    let r = Reference::parse(&format!(
        "{}/{REPO}@{}",
        server.authority(),
        image.manifest_digest
    ))
    .unwrap();
    let (info, _) = open(&r, &options(&[&server])).unwrap();
    assert_eq!(info.digest.as_ref(), Some(&image.manifest_digest));
    assert_eq!(
        server.requests()[1].path(),
        format!("/v2/{REPO}/manifests/{}", image.manifest_digest)
    );
}

/// A registry that wants `Bearer <token>` from a token endpoint on the same server.
fn bearer_server(content: Content, user_pass: Option<&'static str>) -> MockServer {
    let tokens = Arc::new(AtomicUsize::new(0));
    let authority = Arc::new(std::sync::OnceLock::<String>::new());
    let realm_authority = Arc::clone(&authority);
    let server = MockServer::start(move |r| {
        let realm = format!("http://{}/token", realm_authority.get().unwrap());
        if r.path() == "/token" {
            if let Some(up) = user_pass {
                let expected = format!(
                    "Basic {}",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, up)
                );
                if r.header("authorization") != Some(expected.as_str()) {
                    return registry_error(401, "UNAUTHORIZED", "bad credentials");
                }
            }
            let n = tokens.fetch_add(1, Ordering::SeqCst);
            return MockResponse::ok(format!(r#"{{"access_token":"tok{n}","expires_in":60}}"#));
        }
        let current = format!(
            "Bearer tok{}",
            tokens.load(Ordering::SeqCst).saturating_sub(1)
        );
        if r.header("authorization") != Some(current.as_str()) {
            return registry_error(401, "UNAUTHORIZED", "authentication required").header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="{realm}",service="mock registry",scope="repository:{REPO}:pull""#),
            );
        }
        content.serve(r)
    });
    authority.set(server.authority()).unwrap();
    server
}

#[test]
fn bearer_token_flow_with_credentials() {
    let image = test_image("amd64", b"layer");
    let server = bearer_server(Content::with_image("t", &image), Some("user:pass"));
    let opts = options_as(&server, "user", "pass");
    let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
    assert_eq!(info.digest.as_ref(), Some(&image.manifest_digest));
    assert_eq!(read_layer(store.as_ref(), &info).unwrap(), b"layer");

    let requests = server.requests();
    let token_requests: Vec<&MockRequest> =
        requests.iter().filter(|r| r.path() == "/token").collect();
    assert_eq!(token_requests.len(), 1);
    assert_eq!(
        token_requests[0].target,
        "/token?service=mock%20registry&scope=repository%3Alib%2Fimg%3Apull"
    );
    assert_eq!(
        token_requests[0].header("authorization"),
        Some("Basic dXNlcjpwYXNz")
    );
    // Everything after the token carries it.
    let last = requests.last().unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer tok0"));
}

#[test]
fn anonymous_bearer_token_and_refetch_after_expiry() {
    let image = test_image("amd64", b"layer");
    let server = bearer_server(Content::with_image("t", &image), None);
    let opts = options(&[&server]);
    let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
    let token_requests = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count();
    assert_eq!(token_requests, 1);
    assert_eq!(
        server
            .requests()
            .iter()
            .find(|r| r.path() == "/token")
            .unwrap()
            .header("authorization"),
        None
    );

    // Another client takes a new token: ours is now stale, a 401 makes us fetch again once.
    let _other = open(&reference(&server, "t"), &opts).unwrap();
    assert_eq!(read_layer(store.as_ref(), &info).unwrap(), b"layer");
    let tokens_now = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count();
    assert_eq!(tokens_now, 3);
}

fn basic_server(content: Content) -> MockServer {
    MockServer::start(move |r| {
        if r.header("authorization") != Some("Basic dXNlcjpwYXNz") {
            return registry_error(401, "UNAUTHORIZED", "authentication required")
                .header("WWW-Authenticate", r#"Basic realm="Registry Realm""#);
        }
        content.serve(r)
    })
}

#[test]
fn basic_auth_from_the_docker_config() {
    let image = test_image("amd64", b"layer");
    let server = basic_server(Content::with_image("t", &image));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(
            r#"{{"auths":{{"http://{}":{{"auth":"dXNlcjpwYXNz"}}}}}}"#,
            server.authority()
        ),
    )
    .unwrap();
    let mut opts = options(&[&server]);
    opts.registry.docker_config_dir = Some(dir.path().to_path_buf());
    let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
    assert_eq!(read_layer(store.as_ref(), &info).unwrap(), b"layer");
}

#[test]
fn wrong_password_is_unauthorized_and_never_shown() {
    let image = test_image("amd64", b"layer");
    let password = "hunter2-very-secret";
    let server = basic_server(Content::with_image("t", &image));
    let opts = options_as(&server, "alice", password);
    let err = open(&reference(&server, "t"), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let text = full_text(&err);
    assert!(text.contains(&server.authority()), "{text}");
    assert!(text.contains("'alice'"), "{text}");
    assert!(!text.contains(password), "{text}");
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("alice:{password}"),
    );
    assert!(!text.contains(&encoded), "{text}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}/lib/img:t: registry {} refused the credentials of user 'alice' (HTTP 401, UNAUTHORIZED: authentication required)",
            server.authority(),
            server.authority()
        )
    );

    // The same through a token endpoint.
    let server = bearer_server(Content::with_image("t", &image), Some("alice:other"));
    let opts = options_as(&server, "alice", password);
    let err = open(&reference(&server, "t"), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let text = full_text(&err);
    assert!(
        text.contains("'alice'") && !text.contains(password),
        "{text}"
    );
}

#[test]
fn a_hostile_registry_echoing_the_password_is_redacted() {
    let password = "s3cret-echoed";
    let server = MockServer::start(move |r| {
        let auth = r.header("authorization").unwrap_or("").to_string();
        if auth.is_empty() {
            return MockResponse::new(401).header("WWW-Authenticate", r#"Basic realm="x""#);
        }
        registry_error(403, "DENIED", &format!("you sent {auth} i.e. {password}"))
    });
    let opts = options_as(&server, "bob", password);
    let err = open(&reference(&server, "t"), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let text = full_text(&err);
    assert!(!text.contains(password), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
}

#[test]
fn missing_tag_is_not_found() {
    let image = test_image("amd64", b"layer");
    let content = Content::with_image("t", &image);
    let server = MockServer::start(move |r| content.serve(r));
    let err = open(&reference(&server, "nope"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!(
            "{a}/lib/img:nope: repository or tag not found in registry {a} (HTTP 404, MANIFEST_UNKNOWN: manifest unknown)",
            a = server.authority()
        )
    );
}

#[test]
fn oversized_manifests_are_refused() {
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    for close_delimited in [false, true] {
        let big = big.clone();
        let server = MockServer::start(move |r| {
            if r.path() == "/v2/" {
                return MockResponse::ok("{}");
            }
            let mut response = MockResponse::ok(big.clone()).header("Content-Type", OCI_MANIFEST);
            response.close_delimited = close_delimited;
            response
        });
        let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}/lib/img:t: the manifest is larger than the 4194304-byte limit",
                server.authority()
            )
        );
    }
}

#[test]
fn manifest_digest_mismatches_are_caught() {
    let image = test_image("amd64", b"layer");
    let other = test_image("arm64", b"other");
    // The registry serves another manifest under the pinned digest.
    let mut content = Content::with_image("t", &image);
    content.manifests.insert(
        image.manifest_digest.to_string(),
        (OCI_MANIFEST.to_string(), other.manifest.clone()),
    );
    let server = MockServer::start(move |r| content.serve(r));
    let pinned = Reference::parse(&format!(
        "{}/{REPO}@{}",
        server.authority(),
        image.manifest_digest
    ))
    .unwrap();
    let err = open(&pinned, &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(
        err.to_string().starts_with(&format!(
            "manifest of {pinned}: digest mismatch: expected {}",
            image.manifest_digest
        )),
        "{err}"
    );

    // A wrong Docker-Content-Digest header.
    let content = Content::with_image("t", &image);
    let wrong = other.manifest_digest.to_string();
    let server = MockServer::start(move |r| {
        let mut response = content.serve(r);
        if r.path().contains("/manifests/") {
            response
                .headers
                .retain(|(n, _)| n != "Docker-Content-Digest");
            response = response.header("Docker-Content-Digest", &wrong);
        }
        response
    });
    let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(err.to_string().contains("Docker-Content-Digest"), "{err}");
}

#[test]
fn blob_digest_mismatch_surfaces_at_the_end_of_the_stream() {
    let image = test_image("amd64", b"good layer");
    let mut content = Content::with_image("t", &image);
    content
        .blobs
        .insert(image.layer_digest.to_string(), b"evil layer".to_vec());
    let server = MockServer::start(move |r| content.serve(r));
    let (info, store) = open(&reference(&server, "t"), &options(&[&server])).unwrap();
    let err = read_layer(store.as_ref(), &info).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(
        err.to_string().contains(&format!(
            "layer {} of {}: digest mismatch",
            image.layer_digest,
            reference(&server, "t")
        )),
        "{err}"
    );
}

#[test]
fn config_digest_mismatch_is_caught() {
    let image = test_image("amd64", b"layer");
    let mut content = Content::with_image("t", &image);
    let mut tampered = image.config.clone();
    tampered[0] = b' ';
    content
        .blobs
        .insert(image.config_digest.to_string(), tampered);
    let server = MockServer::start(move |r| content.serve(r));
    let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(err.to_string().starts_with("config sha256:"), "{err}");
}

#[test]
fn retries_503_then_succeeds() {
    let image = test_image("amd64", b"layer");
    let content = Content::with_image("t", &image);
    let failures = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&failures);
    let server = MockServer::start(move |r| {
        if r.path().contains("/manifests/") && counter.fetch_add(1, Ordering::SeqCst) < 2 {
            return MockResponse::new(503).body("busy");
        }
        content.serve(r)
    });
    let (info, _) = open(&reference(&server, "t"), &options(&[&server])).unwrap();
    assert_eq!(info.digest.as_ref(), Some(&image.manifest_digest));
    let manifest_requests = server
        .requests()
        .iter()
        .filter(|r| r.path().contains("/manifests/"))
        .count();
    assert_eq!(manifest_requests, 3);
}

#[test]
fn gives_up_after_max_attempts() {
    let server = MockServer::start(|r| {
        if r.path() == "/v2/" {
            return MockResponse::ok("{}");
        }
        registry_error(502, "UNAVAILABLE", "upstream down")
    });
    let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry);
    assert_eq!(
        err.to_string(),
        format!(
            "{a}/lib/img:t: registry {a} answered HTTP 502, UNAVAILABLE: upstream down (gave up after 3 attempts)",
            a = server.authority()
        )
    );
    assert_eq!(server.requests().len(), 4); // the ping and three attempts
}

#[test]
fn honours_retry_after_on_429() {
    let image = test_image("amd64", b"layer");
    let content = Content::with_image("t", &image);
    let limited = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&limited);
    let server = MockServer::start(move |r| {
        if r.path().contains("/manifests/") && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return registry_error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "1");
        }
        content.serve(r)
    });
    slept();
    let (info, _) = open(&reference(&server, "t"), &options(&[&server])).unwrap();
    assert_eq!(info.digest.as_ref(), Some(&image.manifest_digest));
    assert_eq!(limited.load(Ordering::SeqCst), 2);
    // The server's delay, not the computed backoff (10 ms).
    assert_eq!(slept(), [Duration::from_secs(1)]);

    // A Retry-After beyond the whole retry budget fails at once.
    let server = MockServer::start(|r| {
        if r.path() == "/v2/" {
            return MockResponse::ok("{}");
        }
        registry_error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "3600")
    });
    let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry);
    assert!(
        err.to_string().contains("asked to retry after 3600s"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2);
    assert!(slept().is_empty());
}

#[test]
fn redirects_never_carry_credentials_to_another_origin() {
    let image = test_image("amd64", b"layer from the cdn");
    let layer = image.layer.clone();
    let cdn = MockServer::start(move |r| {
        if r.path() == "/blob" {
            MockResponse::ok(layer.clone())
        } else {
            MockResponse::new(404)
        }
    });
    let cdn_authority = cdn.authority();
    let content = Content::with_image("t", &image);
    let layer_path = format!("/v2/{REPO}/blobs/{}", image.layer_digest);
    let config_path = format!("/v2/{REPO}/blobs/{}", image.config_digest);
    let server = MockServer::start(move |r| {
        if r.header("authorization") != Some("Basic dXNlcjpwYXNz") {
            return MockResponse::new(401).header("WWW-Authenticate", r#"Basic realm="r""#);
        }
        if r.path() == layer_path {
            return MockResponse::new(307)
                .header("Location", &format!("http://{cdn_authority}/blob?sig=abc"));
        }
        if r.path() == config_path && !r.target.contains("moved") {
            // A same-origin redirect keeps the credentials.
            return MockResponse::new(302).header("Location", &format!("{config_path}?moved=1"));
        }
        content.serve(r)
    });
    let opts = options_as(&server, "user", "pass");
    let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
    assert_eq!(info.config_digest.as_ref(), Some(&image.config_digest));
    assert_eq!(
        read_layer(store.as_ref(), &info).unwrap(),
        b"layer from the cdn"
    );

    let cdn_requests = cdn.requests();
    assert_eq!(cdn_requests.len(), 1);
    assert_eq!(cdn_requests[0].target, "/blob?sig=abc");
    assert_eq!(cdn_requests[0].header("authorization"), None);
    let moved = server
        .requests()
        .into_iter()
        .find(|r| r.target.contains("moved=1"))
        .unwrap();
    assert_eq!(moved.header("authorization"), Some("Basic dXNlcjpwYXNz"));
}

#[test]
fn redirect_loops_are_bounded() {
    let server = MockServer::start(|r| {
        if r.path() == "/v2/" {
            return MockResponse::ok("{}");
        }
        MockResponse::new(302).header("Location", r.path())
    });
    let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry);
    assert!(err.to_string().contains("more than 5 redirects"), "{err}");
}

/// A registry serving image `t` whose layer blob stalls after 100 bytes.
fn stalling_layer_registry() -> (TestImage, MockServer) {
    let image = test_image("amd64", &[7u8; 4096]);
    let content = Content::with_image("t", &image);
    let layer_path = format!("/v2/{REPO}/blobs/{}", image.layer_digest);
    let server = MockServer::start(move |r| {
        let mut response = content.serve(r);
        if r.path() == layer_path {
            response.stall_after = Some(100);
        }
        response
    });
    (image, server)
}

#[test]
fn a_stalled_blob_is_a_network_error() {
    let (image, server) = stalling_layer_registry();
    let mut opts = options(&[&server]);
    opts.registry.read_timeout = Duration::from_secs(1);
    let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
    let err = read_layer(store.as_ref(), &info).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("layer {} of", image.layer_digest)),
        "{err}"
    );
}

#[test]
fn selects_the_platform_from_an_index() {
    let amd = test_image("amd64", b"amd layer");
    let arm = test_image("arm64", b"arm layer");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"os":"unknown","architecture":"unknown"}}}}]}}"#,
        amd.manifest_digest,
        amd.manifest.len(),
        arm.manifest_digest,
        arm.manifest.len(),
        amd.manifest_digest,
        amd.manifest.len(),
    )
    .into_bytes();
    let index_digest = Digest::sha256_of(&index);
    let mut content = Content::default();
    content.add_image(None, &amd);
    content.add_image(None, &arm);
    content
        .manifests
        .insert("multi".into(), (OCI_INDEX.to_string(), index));
    let server = MockServer::start(move |r| content.serve(r));

    let mut opts = options(&[&server]);
    opts.platform = Some("linux/arm64".parse().unwrap());
    let (info, store) = open(&reference(&server, "multi"), &opts).unwrap();
    assert_eq!(info.digest.as_ref(), Some(&index_digest));
    assert_eq!(info.manifest_digest.as_ref(), Some(&arm.manifest_digest));
    assert_eq!(info.config_digest.as_ref(), Some(&arm.config_digest));
    assert_eq!(info.platform.as_ref().unwrap().to_string(), "linux/arm64");
    assert_eq!(read_layer(store.as_ref(), &info).unwrap(), b"arm layer");

    opts.platform = Some(Platform {
        os: "linux".into(),
        architecture: "s390x".into(),
        variant: None,
    });
    let err = open(&reference(&server, "multi"), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlatformNotFound);
    assert_eq!(
        err.to_string(),
        format!(
            "{}/lib/img:multi: no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8",
            server.authority()
        )
    );
}

#[test]
fn hostile_replies_are_errors_not_panics() {
    // Garbage manifest JSON, a negative size, an unknown media type, huge headers.
    let cases: Vec<(MockResponse, ErrorKind)> = vec![
        (
            MockResponse::ok("{not json").header("Content-Type", OCI_MANIFEST),
            ErrorKind::InvalidManifest,
        ),
        (
            MockResponse::ok(format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"digest":"{}","size":-1}},"layers":[]}}"#,
                Digest::sha256_of(b"")
            )),
            ErrorKind::InvalidManifest,
        ),
        (
            MockResponse::ok("<html>hello</html>").header("Content-Type", "text/html"),
            ErrorKind::InvalidManifest,
        ),
        (
            MockResponse::ok("{}").header("X-Huge", &"a".repeat(100 * 1024)),
            ErrorKind::Registry,
        ),
        (MockResponse::new(418).body("teapot"), ErrorKind::Registry),
    ];
    for (response, kind) in cases {
        let server = MockServer::start(move |r| {
            if r.path() == "/v2/" {
                return MockResponse::ok("{}");
            }
            response.clone()
        });
        let err = open(&reference(&server, "t"), &options(&[&server])).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(&server.authority()), "{err}");
    }
}

#[test]
fn connection_refused_is_a_network_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    drop(listener);
    let r = Reference::parse(&format!("{authority}/{REPO}:t")).unwrap();
    let mut opts = options(&[]);
    opts.registry.insecure_registries = vec![authority.clone()];
    let err = open(&r, &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("registry {authority}: registry {authority}")),
        "{err}"
    );
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
}

/// Manual check against a real registry (not run in CI): set
/// `PORTCULLIS_MANUAL_REGISTRY_REF` (e.g. `127.0.0.1:5000/alpine:t`, treated as insecure)
/// and compare the printed digest with `skopeo inspect`.
#[test]
#[ignore = "needs a real registry; see the doc comment"]
fn manual_real_registry() {
    let wanted = std::env::var("PORTCULLIS_MANUAL_REGISTRY_REF")
        .expect("set PORTCULLIS_MANUAL_REGISTRY_REF to an image in a running registry");
    let r = Reference::parse(&wanted).unwrap();
    let mut opts = ImageOptions::default();
    opts.registry.insecure_registries = vec![r.registry().to_string()];
    let (info, store) = open(&r, &opts).unwrap();
    println!("digest {:?}", info.digest);
    println!("manifest_digest {:?}", info.manifest_digest);
    println!("config_digest {:?}", info.config_digest);
    println!("platform {:?}", info.platform);
    for layer in &info.layers {
        let mut reader = store.open_layer(layer).unwrap();
        let n = std::io::copy(&mut reader, &mut std::io::sink())
            .map_err(|e| Error::io("layer", e))
            .unwrap();
        println!(
            "layer {} {} bytes read, diff_id {:?}",
            layer.digest, n, layer.diff_id
        );
    }
}

#[test]
fn an_overall_deadline_ends_a_stalled_blob_before_the_read_timeout() {
    let (_image, server) = stalling_layer_registry();
    let mut opts = options(&[&server]);
    // The idle timeout alone would wait past the mock's 10 s stall.
    opts.registry.read_timeout = Duration::from_secs(60);
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    let err = super::with_deadline(Some(deadline), || {
        let (info, store) = open(&reference(&server, "t"), &opts).unwrap();
        read_layer(store.as_ref(), &info).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    // ureq's whole-call timeout, set from the deadline, ends the stalled read.
    assert!(err.to_string().contains("timeout: global"), "{err}");
    // Past the deadline nothing new starts: the next request fails at once.
    let late = super::with_deadline(Some(std::time::Instant::now()), || {
        open(&reference(&server, "t"), &opts).unwrap_err()
    });
    assert!(late.to_string().contains("overall deadline"), "{late}");
}

/// A registry with the referrers API: it answers the artifact's manifest upload with
/// `OCI-Subject`, so no fallback tag is read or written; listing uses the API and filters
/// by artifact type.
#[test]
fn attach_to_a_registry_with_the_referrers_api_leaves_the_fallback_tag_alone() {
    use super::{Artifact, Indexed, RegistryClient};
    use crate::manifest::Descriptor;

    let subject = Digest::sha256_of(b"the image manifest");
    let sbom_type = "application/vnd.cyclonedx+json";
    let listed = Digest::sha256_of(b"an artifact");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"mediaType":"{OCI_MANIFEST}","digest":"{listed}","size":10,"artifactType":"{sbom_type}"}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":11,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}]}}"#
    );
    let server = MockServer::start(move |r| match (r.method.as_str(), r.path()) {
        ("HEAD", p) if p.contains("/blobs/") => MockResponse::new(404),
        ("POST", _) => MockResponse::new(202).header("Location", "/v2/lib/img/blobs/uploads/u1"),
        ("PUT", p) if p.starts_with("/v2/lib/img/blobs/uploads/") => MockResponse::new(201),
        ("PUT", p) if p.starts_with("/v2/lib/img/manifests/sha256:") => {
            MockResponse::new(201).header("OCI-Subject", "sha256:x")
        }
        ("GET", p) if p.contains("/referrers/") => {
            MockResponse::ok(index.clone()).header("Content-Type", OCI_INDEX)
        }
        _ => MockResponse::new(404),
    });
    let reference = reference(&server, "1");
    let client = RegistryClient::connect(&reference, &options(&[&server]).registry).unwrap();
    let descriptor = Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: subject.clone(),
        size: 18,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
    };
    let artifact = Artifact {
        artifact_type: sbom_type,
        media_type: sbom_type,
        content: b"{\"bomFormat\":\"CycloneDX\"}",
        title: Some("sbom.cdx.json"),
        annotations: Default::default(),
    };
    let attached = client
        .attach_artifact(&descriptor, &artifact, "sbom")
        .unwrap();
    assert_eq!(attached.indexed, Indexed::ByRegistry);
    let found = client.referrers(&subject, Some(sbom_type), "sbom").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].digest, listed);
    assert_eq!(client.referrers(&subject, None, "sbom").unwrap().len(), 2);

    let requests = server.requests();
    let calls: Vec<(String, String)> = requests
        .iter()
        .filter(|r| r.path() != "/v2/")
        .map(|r| (r.method.clone(), r.path().to_string()))
        .collect();
    let empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let content = Digest::sha256_of(b"{\"bomFormat\":\"CycloneDX\"}");
    let put = |p: &str| ("PUT".to_string(), p.to_string());
    assert_eq!(
        calls,
        vec![
            ("HEAD".to_string(), format!("/v2/lib/img/blobs/{empty}")),
            ("POST".to_string(), "/v2/lib/img/blobs/uploads/".to_string()),
            put("/v2/lib/img/blobs/uploads/u1"),
            ("HEAD".to_string(), format!("/v2/lib/img/blobs/{content}")),
            ("POST".to_string(), "/v2/lib/img/blobs/uploads/".to_string()),
            put("/v2/lib/img/blobs/uploads/u1"),
            put(&format!("/v2/lib/img/manifests/{}", attached.digest)),
            (
                "GET".to_string(),
                format!("/v2/lib/img/referrers/{subject}")
            ),
            (
                "GET".to_string(),
                format!("/v2/lib/img/referrers/{subject}")
            ),
        ]
    );
    let manifest_put = requests
        .iter()
        .find(|r| r.path().contains("/manifests/"))
        .unwrap();
    assert_eq!(manifest_put.header("content-type"), Some(OCI_MANIFEST));
}
