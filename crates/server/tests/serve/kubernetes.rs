//! Against the mock Kubernetes API server: registry credentials from Secrets (pod pull
//! secrets and configured registries), the WhiteListItem reflector, whitelist writes.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use portcullis_config::{RegistryConfig, ServerConfig};
use portcullis_testkit::kube::KubeMock;
use portcullis_testkit::{ImageName, Registry, RegistryKind, images};
use serde_json::{Value, json};

use crate::harness::{TestServer, base_config, whitelist_names};

/// A TLS registry with basic auth holding `private/alpine:3.20`.
fn private_registry() -> Registry {
    let registry = Registry::start(RegistryKind::basic("puller", "s3cret-pw"));
    registry.push(
        &images().skopeo_ref(ImageName::Alpine320),
        "private/alpine:3.20",
        false,
    );
    registry
}

fn start(config: ServerConfig, mock: &KubeMock, registry: Option<&Registry>) -> TestServer {
    let mut config = config;
    config.kubernetes = true;
    config.namespace = "portcullis-system".to_string();
    let server = TestServer::start(config, |settings| {
        settings.kube = Some(mock.client());
        if let Some(registry) = registry {
            settings
                .registry
                .ca_certs
                .push(registry.ca_cert_pem_path().unwrap().to_path_buf());
        }
    });
    server.wait_ready();
    server
}

fn docker_config_secret(namespace: &str, name: &str, registry: &str) -> Value {
    let auth = base64::engine::general_purpose::STANDARD.encode("puller:s3cret-pw");
    let config = json!({"auths": {registry: {"auth": auth}}}).to_string();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config)}
    })
}

#[test]
fn a_private_image_is_pulled_with_the_pods_pull_secret() {
    let registry = private_registry();
    let mock = KubeMock::start();
    mock.seed(
        "v1/secrets",
        docker_config_secret("team-a", "regcred", &registry.host_port()),
    );
    let server = start(base_config(None), &mock, Some(&registry));
    let engine = Arc::clone(&server.app().engine);
    let image = registry.reference("private/alpine:3.20");
    let without = server
        .runtime
        .block_on(engine.check(&image, "team-a", &[], None));
    let reason = without.outcome.unwrap_err();
    assert_eq!(
        reason.kind(),
        portcullis_server::CheckErrorKind::Unauthorized,
        "{reason}"
    );
    assert!(!reason.message().contains("s3cret-pw"));
    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains("portcullis_check_errors_total{reason=\"unauthorized\"} 1\n"),
        "{metrics}"
    );
    let with = server.runtime.block_on(engine.check(
        &image,
        "team-a",
        &["missing".to_string(), "regcred".to_string()],
        None,
    ));
    let result = with.outcome.unwrap();
    assert!(result.findings.iter().any(|f| f.id == "CVE-2024-9143"));
    assert_eq!(
        with.digest,
        Some(registry.manifest_digest("private/alpine:3.20"))
    );
    let reads: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("/secrets/"))
        .map(|r| r.line())
        .collect();
    assert_eq!(
        reads,
        vec![
            "GET /api/v1/namespaces/team-a/secrets/missing".to_string(),
            "GET /api/v1/namespaces/team-a/secrets/regcred".to_string(),
        ]
    );
}

#[test]
fn a_configured_registry_secret_of_type_basic_auth_is_used() {
    let registry = private_registry();
    let mock = KubeMock::start();
    mock.seed(
        "v1/secrets",
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "private-registry", "namespace": "portcullis-system"},
            "type": "kubernetes.io/basic-auth",
            "data": {
                "username": base64::engine::general_purpose::STANDARD.encode("puller"),
                "password": base64::engine::general_purpose::STANDARD.encode("s3cret-pw"),
            }
        }),
    );
    let mut config = base_config(None);
    config.registries.push(RegistryConfig {
        registry: registry.host_port(),
        secret: Some("private-registry".to_string()),
        insecure: false,
    });
    let server = start(config, &mock, Some(&registry));
    let engine = Arc::clone(&server.app().engine);
    let check = server.runtime.block_on(engine.check(
        &registry.reference("private/alpine:3.20"),
        "team-b",
        &[],
        None,
    ));
    assert!(check.outcome.is_ok(), "{:?}", check.outcome.err());
}

fn wait_for_whitelist(server: &TestServer, wanted: &[(&str, &str)]) {
    let wanted: Vec<(String, String)> = wanted
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = whitelist_names(server);
        if seen == wanted {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen, wanted);
}

fn whitelist_item(name: &str, regexp: Option<&str>) -> Value {
    let mut spec = json!({"reason": "vendor appliance", "creator": "ops"});
    if let Some(regexp) = regexp {
        spec["regexp"] = json!(regexp);
    }
    json!({
        "apiVersion": "security.portcullis.dev/v1alpha1",
        "kind": "WhiteListItem",
        "metadata": {"name": name},
        "spec": spec
    })
}

#[test]
fn whitelist_items_are_watched_and_written_through_the_api() {
    let mock = KubeMock::start();
    mock.seed(
        "security.portcullis.dev/v1alpha1/whitelistitems",
        whitelist_item("legacy", Some("legacy-.*")),
    );
    let server = start(base_config(None), &mock, None);
    wait_for_whitelist(&server, &[("legacy", "WhiteListItem/legacy")]);
    // A new item arrives through the watch.
    mock.seed(
        "security.portcullis.dev/v1alpha1/whitelistitems",
        whitelist_item("vendor", None),
    );
    wait_for_whitelist(
        &server,
        &[
            ("legacy", "WhiteListItem/legacy"),
            ("vendor", "WhiteListItem/vendor"),
        ],
    );
    // The API writes WhiteListItems; the reflector brings them back.
    let added = server.post(
        "/api/v1/whitelists",
        Some("token-one"),
        br#"{"name":"batch","reason":"nightly jobs","creator":"amy"}"#,
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let stored = mock.get(
        "security.portcullis.dev/v1alpha1/whitelistitems",
        "",
        "batch",
    );
    assert_eq!(stored.unwrap()["spec"]["reason"], "nightly jobs");
    wait_for_whitelist(
        &server,
        &[
            ("batch", "WhiteListItem/batch"),
            ("legacy", "WhiteListItem/legacy"),
            ("vendor", "WhiteListItem/vendor"),
        ],
    );
    let deleted = server.request(
        "DELETE",
        "/api/v1/whitelists/legacy",
        Some("token-one"),
        b"",
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    wait_for_whitelist(
        &server,
        &[
            ("batch", "WhiteListItem/batch"),
            ("vendor", "WhiteListItem/vendor"),
        ],
    );
}

fn audit_actions(mock: &KubeMock, namespace: &str, name: &str) -> Option<String> {
    mock.get("security.portcullis.dev/v1alpha1/audits", namespace, name)
        .map(|a| a["spec"]["action"].as_str().unwrap_or("").to_string())
}

#[test]
fn admissions_write_audits_and_honour_whitelist_items() {
    use crate::admission::{POLICIES, Registries, admit, admit_image, fixture};
    let registries = Registries::start();
    let mock = KubeMock::start();
    mock.seed(
        "security.portcullis.dev/v1alpha1/whitelistitems",
        whitelist_item("vendor", Some("vendor-.*")),
    );
    mock.respond_raw(
        "/apis/security.portcullis.dev/v1alpha1/namespaces/broken/audits",
        500,
        "application/json",
        br#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}"#,
    );
    let mut config = base_config(None);
    config.policy.id = None;
    config.policy.inline = Some(POLICIES.to_string());
    for mock in [&registries.go, &registries.warn, &registries.stop] {
        config.registries.push(RegistryConfig {
            registry: mock.host_port(),
            secret: None,
            insecure: true,
        });
    }
    let server = start(config, &mock, None);
    wait_for_whitelist(&server, &[("vendor", "WhiteListItem/vendor")]);
    let stop = registries.stop_image();
    let whitelisted = admit_image(
        &server,
        "team-a",
        json!({"app.kubernetes.io/instance": "vendor-db"}),
        &stop,
    );
    assert_eq!(whitelisted["allowed"], true, "{whitelisted}");
    let deployment = fixture("deployment-web.json", &|_| stop.clone());
    assert_eq!(admit(&server, "v1", &deployment)["allowed"], false);
    assert_eq!(admit(&server, "v1", &deployment)["allowed"], false);
    // The second decision replaced the first Audit (create, then 409, read, replace).
    let replaced =
        "PUT /apis/security.portcullis.dev/v1alpha1/namespaces/team-a/audits/deployment-web";
    for _ in 0..200 {
        if mock.write_lines().iter().any(|l| l == replaced)
            && audit_actions(&mock, "team-a", "pod-web").is_some()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        mock.write_lines().iter().any(|l| l == replaced),
        "{:?}",
        mock.write_lines()
    );
    assert_eq!(
        audit_actions(&mock, "team-a", "deployment-web").as_deref(),
        Some("stop")
    );
    assert_eq!(
        audit_actions(&mock, "team-a", "pod-web").as_deref(),
        Some("whitelisted")
    );
    // A failing Audit write never fails the admission; it is counted.
    let mut broken = deployment.clone();
    broken["metadata"]["namespace"] = json!("broken");
    assert_eq!(admit(&server, "v1", &broken)["allowed"], false);
    let mut metrics = String::new();
    for _ in 0..200 {
        metrics = server.get("/metrics", None).text();
        if metrics.contains("portcullis_audit_write_failures_total 1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        metrics.contains("portcullis_audit_write_failures_total 1"),
        "{metrics}"
    );
}
