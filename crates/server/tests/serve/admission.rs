//! `POST /imagecheck` with real AdmissionReview payloads over TLS.

use portcullis_config::{RegistryConfig, ServerConfig, UnknownImageAction, WhitelistConfig};
use portcullis_testkit::{ImageName, MockBehaviour, MockRegistry, images};
use serde_json::{Value, json};

use crate::harness::{Answer, TestServer, base_config};

/// A policy set: `go/*` passes, `warn/*` warns about everything, `stop/*` stops any
/// vulnerability.
pub const POLICIES: &str = r#"
default_policy: pass
mappings:
  - {registry: "*", repository: "warn/*", tag: "*", policy: warn_all}
  - {registry: "*", repository: "stop/*", tag: "*", policy: stop_vulnerable}
policies:
  - id: pass
    rules: []
  - id: warn_all
    rules:
      - {gate: always, trigger: always, action: warn}
  - id: stop_vulnerable
    rules:
      - {gate: vulnerabilities, trigger: package, params: {severity: unknown, severity_comparison: ">="}, action: stop}
"#;

/// Mock registries serving the test images under `go/`, `warn/` and `stop/`.
pub struct Registries {
    pub go: MockRegistry,
    pub warn: MockRegistry,
    pub stop: MockRegistry,
}

impl Registries {
    pub fn start() -> Self {
        let layout = images().layout();
        let a320 = ImageName::Alpine320.tag();
        let a39 = ImageName::Alpine39.tag();
        Self {
            go: MockRegistry::serve_image(layout, a320, "go/alpine", MockBehaviour::Normal),
            warn: MockRegistry::serve_image(layout, a320, "warn/alpine", MockBehaviour::Normal),
            stop: MockRegistry::serve_image(layout, a39, "stop/alpine", MockBehaviour::Normal),
        }
    }

    pub fn go_image(&self) -> String {
        self.go
            .reference(&format!("go/alpine:{}", ImageName::Alpine320.tag()))
    }

    pub fn warn_image(&self) -> String {
        self.warn
            .reference(&format!("warn/alpine:{}", ImageName::Alpine320.tag()))
    }

    pub fn stop_image(&self) -> String {
        self.stop
            .reference(&format!("stop/alpine:{}", ImageName::Alpine39.tag()))
    }

    pub fn configure(&self, config: &mut ServerConfig) {
        for mock in [&self.go, &self.warn, &self.stop] {
            config.registries.push(RegistryConfig {
                registry: mock.host_port(),
                secret: None,
                insecure: true,
            });
        }
    }
}

pub fn server_with(registries: &Registries, adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut config = base_config(None);
    config.policy.id = None;
    config.policy.inline = Some(POLICIES.to_string());
    registries.configure(&mut config);
    adjust(&mut config);
    let server = TestServer::start(config, |_| {});
    server.wait_ready();
    server
}

/// A Pod object.
pub fn pod(namespace: &str, labels: Value, containers: &[&str], init: &[&str]) -> Value {
    let list = |images: &[&str], prefix: &str| -> Vec<Value> {
        images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("{prefix}{i}"), "image": image}))
            .collect()
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": namespace, "labels": labels},
        "spec": {
            "containers": list(containers, "c"),
            "initContainers": list(init, "init"),
        }
    })
}

/// An AdmissionReview (`v1` or `v1beta1`) asking about `object`.
pub fn review(version: &str, object: &Value, operation: &str) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap();
    let (group, resource_version, resource) = match kind {
        "Pod" => ("", "v1", "pods"),
        "Deployment" => ("apps", "v1", "deployments"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        other => panic!("no resource for {other}"),
    };
    json!({
        "apiVersion": format!("admission.k8s.io/{version}"),
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": resource_version, "kind": kind},
            "resource": {"group": group, "version": resource_version, "resource": resource},
            "requestKind": {"group": group, "version": resource_version, "kind": kind},
            "requestResource": {"group": group, "version": resource_version, "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "operation": operation,
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
    .to_string()
    .into_bytes()
}

/// The `response` part of an answer, checked for the uid and apiVersion.
fn response(answer: &Answer, version: &str) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["apiVersion"], format!("admission.k8s.io/{version}"));
    assert_eq!(body["kind"], "AdmissionReview");
    let response = body["response"].clone();
    assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    response
}

pub fn admit(server: &TestServer, version: &str, object: &Value) -> Value {
    let answer = server.post("/imagecheck", None, &review(version, object, "CREATE"));
    response(&answer, version)
}

/// [`admit`] (v1) of a Pod in `namespace` with `labels` and the one container `image`.
pub fn admit_image(server: &TestServer, namespace: &str, labels: Value, image: &str) -> Value {
    admit(server, "v1", &pod(namespace, labels, &[image], &[]))
}

#[test]
fn allowed_warned_and_denied_pods() {
    let registries = Registries::start();
    let server = server_with(&registries, |_| {});
    let allowed = admit(
        &server,
        "v1",
        &pod("team-a", json!({}), &[&registries.go_image()], &[]),
    );
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert!(allowed["auditAnnotations"].is_object(), "{allowed}");

    let warned = admit(
        &server,
        "v1beta1",
        &pod("team-a", json!({}), &[&registries.warn_image()], &[]),
    );
    assert_eq!(warned["allowed"], true, "{warned}");
    let warnings = warned["warnings"].to_string();
    assert!(warnings.contains(&registries.warn_image()), "{warnings}");

    // The failing image is an init container: it is judged too.
    let denied = admit(
        &server,
        "v1",
        &pod(
            "team-a",
            json!({}),
            &[&registries.go_image()],
            &[&registries.stop_image()],
        ),
    );
    assert_eq!(denied["allowed"], false, "{denied}");
    let message = denied["status"]["message"].as_str().unwrap();
    assert!(message.contains(&registries.stop_image()), "{message}");
    assert!(message.contains("CVE-2020-28928"), "{message}");
    assert!(message.len() <= 1024, "{message}");

    let audits = server.get("/api/v1/audits", Some("token-one")).json();
    let actions: Vec<&str> = audits["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["spec"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["stop"], "{audits}");
}

#[test]
fn whitelisted_skipped_and_excluded_workloads_are_allowed_unjudged() {
    let registries = Registries::start();
    let server = server_with(&registries, |config| {
        config.whitelist.push(WhitelistConfig {
            name: "trusted".into(),
            reason: "vendor appliance".into(),
            regexp: None,
            creator: None,
        });
    });
    let stop = registries.stop_image();
    let whitelisted = admit_image(
        &server,
        "team-a",
        json!({"app.kubernetes.io/instance": "trusted"}),
        &stop,
    );
    assert_eq!(whitelisted["allowed"], true, "{whitelisted}");
    let skipped = admit_image(
        &server,
        "team-a",
        json!({"portcullis.dev/validate": "skip"}),
        &stop,
    );
    assert_eq!(skipped["allowed"], true, "{skipped}");
    let system = admit_image(&server, "kube-system", json!({}), &stop);
    assert_eq!(system["allowed"], true, "{system}");
    // None of these pulled anything.
    assert!(
        registries
            .stop
            .requests()
            .iter()
            .all(|r| !r.contains("/manifests/")),
        "{:?}",
        registries.stop.requests()
    );
}

#[test]
fn unknown_images_past_the_budget_follow_unknown_image_action() {
    let registries = Registries::start();
    for (action, allowed) in [
        (UnknownImageAction::Reject, false),
        (UnknownImageAction::Allow, true),
    ] {
        let server = server_with(&registries, |config| {
            config.scan_budget = portcullis_config::Duration::from_millis(0);
            config.unknown_image_action = action;
        });
        let object = pod("team-a", json!({}), &[&registries.go_image()], &[]);
        let first = admit(&server, "v1", &object);
        assert_eq!(first["allowed"], allowed, "{first}");
        let text = first.to_string();
        assert!(text.contains("budget"), "{text}");
        // The scan went on: a retry (still with no budget) finds the verdict.
        let mut judged = Value::Null;
        for _ in 0..600 {
            judged = admit(&server, "v1", &object);
            if judged["allowed"] == true && !judged.to_string().contains("budget") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(judged["allowed"], true, "{judged}");
        assert!(!judged.to_string().contains("budget"), "{judged}");
    }
}

#[test]
fn an_unknown_image_within_the_budget_is_scanned_inline() {
    let registries = Registries::start();
    let server = server_with(&registries, |_| {});
    let denied = admit(
        &server,
        "v1",
        &pod("team-a", json!({}), &[&registries.stop_image()], &[]),
    );
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap()
            .contains("CVE-2020-28928"),
        "{denied}"
    );
}

#[test]
fn a_registry_that_is_down_rejects_by_default() {
    let registries = Registries::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let server = server_with(&registries, |config| {
        config.registries.push(RegistryConfig {
            registry: closed.to_string(),
            secret: None,
            insecure: true,
        });
    });
    let image = format!("{closed}/gone/app:1");
    let denied = admit(&server, "v1", &pod("team-a", json!({}), &[&image], &[]));
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&image),
        "{denied}"
    );
}

#[test]
fn malformed_reviews_get_400_with_a_clear_message() {
    let registries = Registries::start();
    let server = server_with(&registries, |_| {});
    let answer = server.post("/imagecheck", None, b"{not json");
    assert_eq!(answer.status, 400);
    assert!(!answer.json()["error"].as_str().unwrap().is_empty());
    let mut object = pod("team-a", json!({}), &["x"], &[]);
    object["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    let answer = server.post("/imagecheck", None, &review("v1", &object, "CREATE"));
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(
        answer.json()["error"].as_str().unwrap().contains("image"),
        "{}",
        answer.text()
    );
}

/// A fixture object of the webhook crate (made with `kubectl ... --dry-run=client -o json`
/// or by hand), with every image replaced by `image_for(old)`.
pub fn fixture(name: &str, image_for: &dyn Fn(&str) -> String) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../webhook/tests/fixtures")
        .join(name);
    let mut object: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    fn walk(value: &mut Value, image_for: &dyn Fn(&str) -> String) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match (key.as_str(), &*child) {
                        ("image", Value::String(old)) => *child = Value::String(image_for(old)),
                        _ => walk(child, image_for),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, image_for)),
            _ => {}
        }
    }
    walk(&mut object, image_for);
    object
}

#[test]
fn workloads_from_kubectl_are_judged_at_apply_time() {
    let registries = Registries::start();
    let server = server_with(&registries, |_| {});
    let stop = registries.stop_image();
    let go = registries.go_image();
    let deployment = fixture("deployment-web.json", &|old| {
        if old.starts_with("redis") {
            stop.clone()
        } else {
            go.clone()
        }
    });
    for version in ["v1", "v1beta1"] {
        let denied = admit(&server, version, &deployment);
        assert_eq!(denied["allowed"], false, "{denied}");
        let message = denied["status"]["message"].as_str().unwrap();
        assert!(
            message.contains(&stop) && !message.contains(&go),
            "{message}"
        );
    }
    let cronjob = fixture("cronjob-nightly.json", &|_| go.clone());
    let allowed = admit(&server, "v1", &cronjob);
    assert_eq!(allowed["allowed"], true, "{allowed}");
    let job = fixture("job-migrate.json", &|_| stop.clone());
    assert_eq!(admit(&server, "v1", &job)["allowed"], false);
    let audits = server.get("/api/v1/audits", Some("token-one")).json();
    let owners: Vec<String> = audits["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["spec"]["owner"]["kind"].as_str().unwrap(),
                a["spec"]["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(owners, vec!["Job stop", "CronJob go", "Deployment stop"]);
}

#[test]
fn ephemeral_containers_are_judged() {
    let registries = Registries::start();
    let server = server_with(&registries, |_| {});
    let stop = registries.stop_image();
    let go = registries.go_image();
    // The pod's ephemeral container (alpine:3.19 in the fixture) is the failing one.
    let pod = fixture("pod-init-ephemeral.json", &|old| {
        if old == "alpine:3.19" {
            stop.clone()
        } else {
            go.clone()
        }
    });
    let denied = admit(&server, "v1", &pod);
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(
        denied["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&stop),
        "{denied}"
    );
}
