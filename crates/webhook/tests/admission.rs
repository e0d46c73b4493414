//! The admission logic against real object shapes (kubectl-made and hand-written fixtures),
//! wrapped in AdmissionReview v1 and v1beta1.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use kube::core::DynamicObject;
use kube::core::admission::AdmissionReview;
use portcullis_config::{Selector, ServerConfig, UnknownImageAction, WebhookConfig};
use portcullis_testkit::findings::apk_finding;
use portcullis_types::{Action, Decision, RuleResult};
use portcullis_types::{DatabaseInfo, ImageInfo, ScanResult, SourceKind};
use portcullis_types::{Finding, Severity};
use portcullis_webhook::{
    ApiVersion, ContainerImage, ContainerRole, ErrorKind, ImageOutcome, ImageVerdict, Outcome,
    Review, Selection, Whitelist, WhitelistEntry, Workload, audit, audit_name, parse_review,
    respond, skip_requested, workload,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------- building requests

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is missing: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `(group, version, kind, resource)` of an object, from its `apiVersion` and `kind`.
fn type_of(object: &Value) -> (String, String, String, String) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap().to_string();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = format!("{}s", kind.to_lowercase());
    (group.to_string(), version.to_string(), kind, resource)
}

/// A request as the API server sends it.
struct Request {
    version: ApiVersion,
    operation: &'static str,
    object: Option<Value>,
    old_object: Option<Value>,
    sub_resource: Option<&'static str>,
}

impl Request {
    fn create(object: Value) -> Self {
        Self {
            version: ApiVersion::V1,
            operation: "CREATE",
            object: Some(object),
            old_object: None,
            sub_resource: None,
        }
    }

    fn update(old: Value, new: Value) -> Self {
        Self {
            operation: "UPDATE",
            old_object: Some(old),
            ..Self::create(new)
        }
    }

    fn v1beta1(mut self) -> Self {
        self.version = ApiVersion::V1Beta1;
        self
    }

    fn subresource(mut self, name: &'static str) -> Self {
        self.sub_resource = Some(name);
        self
    }

    fn json(&self) -> Value {
        let typed = self.object.as_ref().or(self.old_object.as_ref()).unwrap();
        let (group, version, kind, resource) = type_of(typed);
        let name = typed["metadata"]["name"].as_str().unwrap_or("");
        let namespace = typed["metadata"]["namespace"].as_str().unwrap_or("");
        let options_kind = match self.operation {
            "CREATE" => "CreateOptions",
            "UPDATE" => "UpdateOptions",
            _ => "DeleteOptions",
        };
        let mut request = json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": name,
            "namespace": namespace,
            "operation": self.operation,
            "userInfo": {
                "username": "kubernetes-admin",
                "groups": ["system:masters", "system:authenticated"]
            },
            "object": self.object,
            "oldObject": self.old_object,
            "dryRun": false,
            "options": {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"}
        });
        if let Some(sub) = self.sub_resource {
            request["subResource"] = json!(sub);
            request["requestSubResource"] = json!(sub);
        }
        json!({
            "kind": "AdmissionReview",
            "apiVersion": self.version.as_str(),
            "request": request,
        })
    }

    fn review(&self) -> Review {
        parse_review(self.json().to_string().as_bytes()).unwrap()
    }

    fn workload(&self) -> Option<Workload> {
        workload(&self.review()).unwrap()
    }
}

fn image(container: &str, image: &str, role: ContainerRole) -> ContainerImage {
    ContainerImage {
        container: container.to_string(),
        image: image.to_string(),
        role,
    }
}

use ContainerRole::{Container, Ephemeral, Init};

// ---------------------------------------------------------------- workloads

#[test]
fn every_fixture_in_both_versions_gives_its_workload() {
    struct Expected {
        fixture: &'static str,
        kind: &'static str,
        name: &'static str,
        namespace: &'static str,
        images: Vec<ContainerImage>,
        pull_secrets: &'static [&'static str],
        release: Option<&'static str>,
        service_account: Option<&'static str>,
        skip: bool,
    }
    let cases = [
        Expected {
            fixture: "deployment-web.json",
            kind: "Deployment",
            name: "web",
            namespace: "team-a",
            images: vec![
                image("nginx", "nginx:1.25", Container),
                image("redis", "redis:7.2", Container),
            ],
            pull_secrets: &[],
            release: None,
            service_account: None,
            skip: false,
        },
        Expected {
            fixture: "deployment-helm.json",
            kind: "Deployment",
            name: "legacy",
            namespace: "team-a",
            images: vec![image(
                "app",
                "registry.local:5000/legacy/app:1.0",
                Container,
            )],
            pull_secrets: &[],
            release: Some("legacy-1"),
            service_account: None,
            skip: false,
        },
        Expected {
            fixture: "job-migrate.json",
            kind: "Job",
            name: "migrate",
            namespace: "team-a",
            images: vec![image(
                "migrate",
                "registry.local:5000/app/migrate:2.1",
                Container,
            )],
            pull_secrets: &[],
            release: None,
            service_account: None,
            skip: false,
        },
        Expected {
            fixture: "cronjob-nightly.json",
            kind: "CronJob",
            name: "nightly",
            namespace: "team-a",
            images: vec![image("nightly", "busybox:1.36", Container)],
            pull_secrets: &[],
            release: None,
            service_account: None,
            skip: false,
        },
        Expected {
            fixture: "pod-init-ephemeral.json",
            kind: "Pod",
            name: "web-0",
            namespace: "team-a",
            images: vec![
                image("app", "registry.local:5000/app/web:3.2", Container),
                image("proxy", "envoyproxy/envoy:v1.29.1", Container),
                image("init-db", "busybox:1.36", Init),
                image("debugger-1", "alpine:3.19", Ephemeral),
            ],
            pull_secrets: &["regcred", "mirror-cred"],
            release: Some("web-release"),
            service_account: Some("web"),
            skip: false,
        },
        Expected {
            fixture: "pod-skip.json",
            kind: "Pod",
            name: "batch-7c9f6d8b5-",
            namespace: "team-b",
            images: vec![image(
                "worker",
                "registry.local:5000/batch/worker@sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                Container,
            )],
            pull_secrets: &[],
            release: None,
            service_account: Some("default"),
            skip: true,
        },
        Expected {
            fixture: "statefulset-db.json",
            kind: "StatefulSet",
            name: "db",
            namespace: "team-a",
            images: vec![
                image("postgres", "postgres:16.2-bookworm", Container),
                image("chown", "busybox:1.36", Init),
            ],
            pull_secrets: &["dockerhub"],
            release: Some("db-release"),
            service_account: None,
            skip: false,
        },
        Expected {
            fixture: "daemonset-agent.json",
            kind: "DaemonSet",
            name: "node-agent",
            namespace: "monitoring",
            images: vec![image(
                "agent",
                "quay.io/prometheus/node-exporter:v1.7.0",
                Container,
            )],
            pull_secrets: &[],
            release: Some("agents"),
            service_account: Some("node-agent"),
            skip: false,
        },
        Expected {
            fixture: "replicaset-web.json",
            kind: "ReplicaSet",
            name: "web-5d4f8c7b9",
            namespace: "team-a",
            images: vec![image("nginx", "nginx:1.25", Container)],
            pull_secrets: &[],
            release: Some("web-from-template"),
            service_account: None,
            skip: false,
        },
    ];
    for case in cases {
        for version in [ApiVersion::V1, ApiVersion::V1Beta1] {
            let mut request = Request::create(fixture(case.fixture));
            request.version = version;
            let review = request.review();
            assert_eq!(review.version, version);
            let w = workload(&review)
                .unwrap()
                .unwrap_or_else(|| panic!("{} not judged", case.fixture));
            let what = format!("{} {version:?}", case.fixture);
            assert_eq!(w.kind, case.kind, "{what}");
            assert_eq!(w.name, case.name, "{what}");
            assert_eq!(w.namespace, case.namespace, "{what}");
            assert_eq!(w.operation, "CREATE", "{what}");
            assert_eq!(w.uid, "705ab4f5-6393-11e8-b7cc-42010a800002", "{what}");
            assert_eq!(w.images, case.images, "{what}");
            assert_eq!(w.pull_secrets, case.pull_secrets, "{what}");
            assert_eq!(w.release.as_deref(), case.release, "{what}");
            assert_eq!(w.service_account.as_deref(), case.service_account, "{what}");
            assert_eq!(skip_requested(&w), case.skip, "{what}");
        }
    }
}

fn with_metadata(mut object: Value, key: &str, name: &str, value: &str) -> Value {
    object["metadata"][key][name] = json!(value);
    object
}

#[test]
fn release_name_precedence() {
    let base = fixture("deployment-web.json");
    let release = |object: &Value| Request::create(object.clone()).workload().unwrap().release;

    let legacy = with_metadata(base.clone(), "labels", "release", "from-release-label");
    assert_eq!(release(&legacy).as_deref(), Some("from-release-label"));

    let helm = with_metadata(
        legacy.clone(),
        "annotations",
        "meta.helm.sh/release-name",
        "from-helm",
    );
    assert_eq!(release(&helm).as_deref(), Some("from-helm"));

    let instance = with_metadata(
        helm.clone(),
        "labels",
        "app.kubernetes.io/instance",
        "from-instance",
    );
    assert_eq!(release(&instance).as_deref(), Some("from-instance"));

    // An empty value does not count: the next source is used.
    let empty = with_metadata(helm, "labels", "app.kubernetes.io/instance", "");
    assert_eq!(release(&empty).as_deref(), Some("from-helm"));
    assert_eq!(release(&base), None);
}

#[test]
fn skip_label_on_the_pod_template_counts() {
    let mut deployment = fixture("deployment-web.json");
    deployment["spec"]["template"]["metadata"]["labels"]["portcullis.dev/validate"] = json!("skip");
    let w = Request::create(deployment.clone()).workload().unwrap();
    assert!(skip_requested(&w));
    deployment["spec"]["template"]["metadata"]["labels"]["portcullis.dev/validate"] = json!("yes");
    let w = Request::create(deployment).workload().unwrap();
    assert!(!skip_requested(&w));
}

#[test]
fn pod_update_adding_an_ephemeral_container_judges_only_the_new_one() {
    let before = fixture("pod-init-ephemeral.json");
    let after = fixture("pod-ephemeral-added.json");
    for version in [ApiVersion::V1, ApiVersion::V1Beta1] {
        let mut request =
            Request::update(before.clone(), after.clone()).subresource("ephemeralcontainers");
        request.version = version;
        let w = request.workload().unwrap();
        assert_eq!(w.operation, "UPDATE");
        assert_eq!(
            w.images,
            [image("debugger-2", "nicolaka/netshoot:v0.12", Ephemeral)]
        );
    }
}

#[test]
fn pod_update_without_new_containers_is_not_judged() {
    let before = fixture("pod-init-ephemeral.json");
    let relabelled = with_metadata(before.clone(), "labels", "tier", "frontend");
    assert_eq!(Request::update(before.clone(), relabelled).workload(), None);
    assert_eq!(
        Request::update(before.clone(), before.clone())
            .subresource("ephemeralcontainers")
            .workload(),
        None
    );
}

#[test]
fn pod_update_changing_an_image_judges_that_image() {
    let before = fixture("pod-init-ephemeral.json");
    let mut after = before.clone();
    after["spec"]["containers"][1]["image"] = json!("envoyproxy/envoy:v1.30.0");
    let w = Request::update(before, after).workload().unwrap();
    assert_eq!(
        w.images,
        [image("proxy", "envoyproxy/envoy:v1.30.0", Container)]
    );
}

#[test]
fn workload_updates_judge_every_image() {
    let before = fixture("deployment-web.json");
    let mut after = before.clone();
    after["spec"]["replicas"] = json!(3);
    let w = Request::update(before, after).workload().unwrap();
    assert_eq!(w.operation, "UPDATE");
    assert_eq!(w.images.len(), 2);
}

#[test]
fn deletes_connects_subresources_and_other_kinds_are_not_judged() {
    let pod = fixture("pod-init-ephemeral.json");
    let delete = Request {
        operation: "DELETE",
        object: None,
        old_object: Some(pod.clone()),
        ..Request::create(pod.clone())
    };
    assert_eq!(delete.workload(), None);
    let connect = Request {
        operation: "CONNECT",
        ..Request::create(pod.clone())
    };
    assert_eq!(connect.workload(), None);
    assert_eq!(
        Request::update(pod.clone(), pod.clone())
            .subresource("status")
            .workload(),
        None
    );
    let deployment = fixture("deployment-web.json");
    assert_eq!(
        Request::update(deployment.clone(), deployment)
            .subresource("scale")
            .workload(),
        None
    );
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "team-a"}, "data": {"image": "x"}
    });
    assert_eq!(Request::create(config_map).workload(), None);
    // A Deployment kind in another group is not ours to judge.
    let mut foreign = fixture("deployment-web.json");
    foreign["apiVersion"] = json!("example.com/v1");
    assert_eq!(Request::create(foreign).workload(), None);
}

// ---------------------------------------------------------------- namespaces and whitelist

#[test]
fn namespace_selection_from_the_server_config() {
    let config = ServerConfig::default();
    let selection = Selection::new(&config.webhook, &config.namespace).unwrap();
    assert!(selection.judges("team-a"));
    assert!(selection.judges("default"));
    assert!(!selection.judges("kube-system"));
    assert!(!selection.judges("portcullis-system"));

    let teams = WebhookConfig {
        enabled: true,
        selector: Selector::Include,
        namespaces: vec!["team-*".to_string()],
    };
    let selection = Selection::new(&teams, "security").unwrap();
    assert!(selection.judges("team-a"));
    assert!(!selection.judges("monitoring"));
    assert!(!selection.judges("security"));

    let not_teams = WebhookConfig {
        selector: Selector::Exclude,
        ..teams
    };
    let selection = Selection::new(&not_teams, "security").unwrap();
    assert!(!selection.judges("team-a"));
    assert!(selection.judges("monitoring"));
    assert!(!selection.judges("kube-system"));
    assert!(!selection.judges("security"));
}

fn entry(name: &str, regexp: Option<&str>) -> WhitelistEntry {
    WhitelistEntry {
        name: name.to_string(),
        reason: format!("{name} is vetted"),
        regexp: regexp.map(str::to_string),
        creator: Some("alice".to_string()),
        origin: format!("WhiteListItem/{name}"),
    }
}

#[test]
fn whitelist_matches_exact_names_and_anchored_regexps() {
    let (whitelist, warnings) = Whitelist::new(vec![
        entry("legacy", None),
        entry("legacy-pattern", Some("legacy-.*")),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(whitelist.len(), 2);
    assert_eq!(whitelist.find("legacy").unwrap().name, "legacy");
    assert_eq!(whitelist.find("legacy-1").unwrap().name, "legacy-pattern");
    assert_eq!(whitelist.find("legacy-x").unwrap().name, "legacy-pattern");
    assert_eq!(whitelist.find("xlegacy-1"), None);
    assert_eq!(whitelist.find("legac"), None);
    assert_eq!(whitelist.find(""), None);

    let (exact_only, _) = Whitelist::new(vec![entry("legacy", None)]);
    assert_eq!(exact_only.find("legacy-x"), None);
    assert_eq!(exact_only.find("xlegacy"), None);

    // An exact name wins over an earlier regexp.
    let (whitelist, _) = Whitelist::new(vec![entry("any", Some(".*")), entry("legacy", None)]);
    assert_eq!(whitelist.find("legacy").unwrap().name, "legacy");
    assert_eq!(whitelist.find("other").unwrap().name, "any");

    // Alternation stays anchored as a whole.
    let (whitelist, _) = Whitelist::new(vec![entry("alt", Some("a|b"))]);
    assert!(whitelist.find("b").is_some());
    assert_eq!(whitelist.find("ab"), None);
    assert_eq!(whitelist.find("xb"), None);
}

#[test]
fn whitelist_skips_entries_with_a_bad_regexp() {
    let (whitelist, warnings) = Whitelist::new(vec![
        entry("broken", Some("legacy-(")),
        entry("legacy", None),
        entry("huge", Some(&"a".repeat(2000))),
    ]);
    assert_eq!(whitelist.len(), 1);
    assert_eq!(whitelist.find("broken"), None);
    assert_eq!(whitelist.find("legacy").unwrap().name, "legacy");
    assert_eq!(warnings.len(), 2);
    assert_eq!(
        warnings[0],
        "whitelist entry \"broken\" (WhiteListItem/broken): regexp \"legacy-(\" is invalid: error: unclosed group; entry skipped"
    );
    assert!(
        warnings[1].starts_with("whitelist entry \"huge\" (WhiteListItem/huge): regexp \"aaa"),
        "{}",
        warnings[1]
    );
    assert!(
        warnings[1].ends_with("is longer than 1024 bytes; entry skipped"),
        "{}",
        warnings[1]
    );
}

#[test]
fn whitelist_entries_from_config_and_resources() {
    let config = ServerConfig::from_yaml(
        "whitelist:\n- {name: legacy, reason: vendor image, regexp: 'legacy-.*', creator: bob}\n- {name: tools, reason: internal}\n",
        "x",
    )
    .unwrap();
    let from_config = Whitelist::from_config(&config.whitelist);
    assert_eq!(
        from_config,
        [
            WhitelistEntry {
                name: "legacy".to_string(),
                reason: "vendor image".to_string(),
                regexp: Some("legacy-.*".to_string()),
                creator: Some("bob".to_string()),
                origin: "config".to_string(),
            },
            WhitelistEntry {
                name: "tools".to_string(),
                reason: "internal".to_string(),
                regexp: None,
                creator: None,
                origin: "config".to_string(),
            },
        ]
    );
    let item: portcullis_k8s::WhiteListItem = serde_json::from_value(json!({
        "apiVersion": "security.portcullis.dev/v1alpha1",
        "kind": "WhiteListItem",
        "metadata": {"name": "monitoring"},
        "spec": {"reason": "scraped metrics only", "regexp": "prom-.*", "creator": "ops"}
    }))
    .unwrap();
    assert_eq!(
        Whitelist::from_resource(&item),
        Some(WhitelistEntry {
            name: "monitoring".to_string(),
            reason: "scraped metrics only".to_string(),
            regexp: Some("prom-.*".to_string()),
            creator: Some("ops".to_string()),
            origin: "WhiteListItem/monitoring".to_string(),
        })
    );
    let mut nameless = item;
    nameless.metadata.name = None;
    assert_eq!(Whitelist::from_resource(&nameless), None);
}

// ---------------------------------------------------------------- responses

fn finding(
    id: &str,
    package: &str,
    version: &str,
    fixed: Option<&str>,
    severity: Severity,
) -> Finding {
    let mut finding = apk_finding(id, package, version, severity, fixed, "v3.19");
    finding.severity_source = Some("alpine-secdb".to_string());
    finding
}

fn result(action: Action, trigger: &str, message: &str) -> RuleResult {
    RuleResult {
        gate: "vulnerabilities".to_string(),
        trigger: trigger.to_string(),
        action,
        message: message.to_string(),
    }
}

fn judged(
    image: &str,
    action: Action,
    results: Vec<RuleResult>,
    findings: Vec<Finding>,
) -> ImageVerdict {
    ImageVerdict {
        image: image.to_string(),
        digest: Some(
            "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1".to_string(),
        ),
        outcome: ImageOutcome::judged(Arc::new(ScanResult {
            image: ImageInfo::new(image, SourceKind::Registry),
            os: None,
            os_ecosystem: None,
            os_supported: true,
            packages: Vec::new(),
            findings,
            warnings: Vec::new(),
            errors: Vec::new(),
            decision: Some(Decision {
                policy_id: "reject_critical".to_string(),
                final_action: action,
                results,
            }),
            database: DatabaseInfo::default(),
        })),
    }
}

fn go_image() -> ImageVerdict {
    judged("nginx:1.25", Action::Go, Vec::new(), Vec::new())
}

fn warn_image() -> ImageVerdict {
    judged(
        "redis:7.2",
        Action::Warn,
        vec![result(
            Action::Warn,
            "package",
            "CVE-2024-0727 (medium) in openssl 3.1.4-r2, fixed in 3.1.4-r5",
        )],
        vec![finding(
            "CVE-2024-0727",
            "openssl",
            "3.1.4-r2",
            Some("3.1.4-r5"),
            Severity::Medium,
        )],
    )
}

fn stop_image() -> ImageVerdict {
    judged(
        "registry.local:5000/legacy/app:1.0",
        Action::Stop,
        vec![
            result(
                Action::Stop,
                "package",
                "CVE-2023-5363 (critical) in openssl 3.1.2-r0",
            ),
            result(
                Action::Warn,
                "package",
                "CVE-2023-5678 (medium) in openssl 3.1.2-r0",
            ),
        ],
        vec![
            finding(
                "CVE-2023-5678",
                "openssl",
                "3.1.2-r0",
                Some("3.1.4-r1"),
                Severity::Medium,
            ),
            finding(
                "CVE-2023-5363",
                "openssl",
                "3.1.2-r0",
                Some("3.1.4-r0"),
                Severity::Critical,
            ),
            finding(
                "CVE-2023-42363",
                "busybox",
                "1.36.1-r2",
                None,
                Severity::Critical,
            ),
            finding(
                "CVE-2023-4807",
                "openssl",
                "3.1.2-r0",
                Some("3.1.4-r0"),
                Severity::High,
            ),
            finding(
                "CVE-2023-42366",
                "busybox",
                "1.36.1-r2",
                None,
                Severity::Medium,
            ),
        ],
    )
}

fn unknown_image() -> ImageVerdict {
    ImageVerdict {
        image: "registry.local:5000/app/new:1".to_string(),
        digest: None,
        outcome: ImageOutcome::Unknown {
            reason: "not judged within the 8s budget".to_string(),
            kind: "timeout".to_string(),
        },
    }
}

fn judged_outcome(verdicts: Vec<ImageVerdict>, unknown_action: UnknownImageAction) -> Outcome {
    Outcome::Judged {
        verdicts,
        unknown_action,
        policy_id: "reject_critical".to_string(),
    }
}

/// The response body, checked to read back as kube's own AdmissionReview type.
fn answer(
    review: &Review,
    workload: Option<&Workload>,
    outcome: &Outcome,
) -> (Value, bool, &'static str) {
    let response = respond(review, workload, outcome);
    let typed: AdmissionReview<DynamicObject> = serde_json::from_slice(&response.body).unwrap();
    let inner = typed.response.unwrap();
    assert_eq!(inner.uid, review.request.uid);
    assert_eq!(inner.allowed, response.allowed);
    assert!(
        inner.audit_annotations.contains_key("action"),
        "auditAnnotations on every outcome"
    );
    assert_eq!(inner.audit_annotations["action"], response.action);
    let value: Value = serde_json::from_slice(&response.body).unwrap();
    (value, response.allowed, response.action)
}

fn deployment_review() -> (Review, Workload) {
    let review = Request::create(with_metadata(
        fixture("deployment-web.json"),
        "labels",
        "app.kubernetes.io/instance",
        "web-release",
    ))
    .review();
    let w = workload(&review).unwrap().unwrap();
    (review, w)
}

#[test]
fn go_is_allowed_without_warnings() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(vec![go_image()], UnknownImageAction::Reject);
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(allowed);
    assert_eq!(action, "go");
    assert!(body["response"].get("warnings").is_none());
    insta::assert_json_snapshot!("go", body);
}

#[test]
fn warn_is_allowed_with_warnings() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(vec![go_image(), warn_image()], UnknownImageAction::Reject);
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(allowed);
    assert_eq!(action, "warn");
    assert_eq!(
        body["response"]["warnings"],
        json!([
            "redis:7.2: vulnerabilities/package: CVE-2024-0727 (medium) in openssl 3.1.4-r2, fixed in 3.1.4-r5"
        ])
    );
    insta::assert_json_snapshot!("warn", body);
}

#[test]
fn stop_is_denied_with_the_top_findings() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(
        vec![go_image(), warn_image(), stop_image()],
        UnknownImageAction::Reject,
    );
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(!allowed);
    assert_eq!(action, "stop");
    assert_eq!(
        body["response"]["status"]["message"],
        "Portcullis refused Deployment web: 1 of 3 images stopped by policy reject_critical\n\
         - registry.local:5000/legacy/app:1.0 (sha256:4bcff63911fc): \
         CVE-2023-5363 (critical) openssl 3.1.2-r0, fixed in 3.1.4-r0; \
         CVE-2023-42363 (critical) busybox 1.36.1-r2, no fix; \
         CVE-2023-4807 (high) openssl 3.1.2-r0, fixed in 3.1.4-r0; +2 more"
    );
    assert_eq!(body["response"]["status"]["code"], 403);
    assert!(body["response"].get("warnings").is_none());
    insta::assert_json_snapshot!("stop", body);
}

#[test]
fn stop_without_findings_shows_the_stop_results() {
    let (review, w) = deployment_review();
    let root = judged(
        "nginx:1.25",
        Action::Stop,
        vec![RuleResult {
            gate: "dockerfile".to_string(),
            trigger: "effective_user".to_string(),
            action: Action::Stop,
            message: "the image runs as root".to_string(),
        }],
        Vec::new(),
    );
    let (body, allowed, _) = answer(
        &review,
        Some(&w),
        &judged_outcome(vec![root], UnknownImageAction::Allow),
    );
    assert!(!allowed);
    assert_eq!(
        body["response"]["status"]["message"],
        "Portcullis refused Deployment web: 1 of 1 image stopped by policy reject_critical\n\
         - nginx:1.25 (sha256:4bcff63911fc): dockerfile/effective_user: the image runs as root"
    );
}

#[test]
fn deny_message_stays_under_one_kib() {
    let (review, w) = deployment_review();
    let many: Vec<ImageVerdict> = (0..40)
        .map(|i| {
            let mut v = stop_image();
            v.image = format!(
                "registry.local:5000/team/service-{i:02}:{}",
                "v1".repeat(20)
            );
            v
        })
        .collect();
    let (body, allowed, action) = answer(
        &review,
        Some(&w),
        &judged_outcome(many, UnknownImageAction::Reject),
    );
    assert!(!allowed);
    assert_eq!(action, "stop");
    let message = body["response"]["status"]["message"].as_str().unwrap();
    assert!(message.len() <= 1024, "{} bytes", message.len());
    assert!(message.starts_with(
        "Portcullis refused Deployment web: 40 of 40 images stopped by policy reject_critical\n- registry.local:5000/team/service-00:"
    ));
    assert!(message.contains("CVE-2023-5363 (critical) openssl 3.1.2-r0, fixed in 3.1.4-r0"));
    assert!(message.ends_with("more"), "{message}");
    let listed = message
        .lines()
        .filter(|l| l.starts_with("- registry"))
        .count();
    assert!(
        message.ends_with(&format!("\n- … and {} more", 40 - listed)),
        "{message}"
    );
}

#[test]
fn unknown_images_with_reject_are_denied() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(
        vec![go_image(), unknown_image()],
        UnknownImageAction::Reject,
    );
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(!allowed);
    assert_eq!(action, "unknown");
    assert_eq!(
        body["response"]["status"]["message"],
        "Portcullis refused Deployment web: 1 of 2 images not judged yet, refused: not judged within the 8s budget\n\
         - registry.local:5000/app/new:1: not judged yet (not judged within the 8s budget); the scan goes on, retry shortly"
    );
    insta::assert_json_snapshot!("unknown_reject", body);
}

#[test]
fn unknown_images_with_allow_are_allowed_with_a_warning() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(
        vec![go_image(), warn_image(), unknown_image()],
        UnknownImageAction::Allow,
    );
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(allowed);
    assert_eq!(action, "unknown");
    assert_eq!(body["response"]["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["response"]["warnings"][0],
        "allowed unjudged: registry.local:5000/app/new:1: not judged yet (not judged within the 8s budget); the scan goes on, retry shortly"
    );
    insta::assert_json_snapshot!("unknown_allow", body);
}

#[test]
fn stop_wins_over_unknown_allowed() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(
        vec![unknown_image(), stop_image()],
        UnknownImageAction::Allow,
    );
    let (body, allowed, action) = answer(&review, Some(&w), &outcome);
    assert!(!allowed);
    assert_eq!(action, "stop");
    let message = body["response"]["status"]["message"].as_str().unwrap();
    assert!(
        !message.contains("registry.local:5000/app/new:1"),
        "{message}"
    );
}

#[test]
fn warnings_are_bounded() {
    let (review, w) = deployment_review();
    let noisy = judged(
        "redis:7.2",
        Action::Warn,
        (0..30)
            .map(|i| {
                result(
                    Action::Warn,
                    "package",
                    &format!("CVE-2024-{i:04} {}", "x".repeat(400)),
                )
            })
            .collect(),
        Vec::new(),
    );
    let (body, allowed, _) = answer(
        &review,
        Some(&w),
        &judged_outcome(vec![noisy], UnknownImageAction::Reject),
    );
    assert!(allowed);
    let warnings = body["response"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 10);
    assert!(warnings.iter().all(|w| w.as_str().unwrap().len() <= 256));
    assert_eq!(warnings[9], "… and 21 more warnings");
}

#[test]
fn whitelisted_and_skipped_are_allowed_and_audited() {
    let (review, w) = deployment_review();
    let whitelisted = Outcome::Whitelisted {
        entry: entry("web-release", None),
    };
    let (body, allowed, action) = answer(&review, Some(&w), &whitelisted);
    assert!(allowed);
    assert_eq!(action, "whitelisted");
    insta::assert_json_snapshot!("whitelisted", body);

    let skipped = Outcome::NamespaceSkipped {
        namespace: "team-a".to_string(),
    };
    let (body, allowed, action) = answer(&review, Some(&w), &skipped);
    assert!(allowed);
    assert_eq!(action, "skipped");
    insta::assert_json_snapshot!("skipped_namespace", body);

    let pod = Request::create(fixture("pod-skip.json")).review();
    let pod_workload = workload(&pod).unwrap().unwrap();
    let (body, allowed, action) = answer(&pod, Some(&pod_workload), &Outcome::LabelSkipped);
    assert!(allowed);
    assert_eq!(action, "skipped");
    insta::assert_json_snapshot!("skipped_label", body);

    let (body, allowed, action) = answer(&pod, None, &Outcome::NotJudged);
    assert!(allowed);
    assert_eq!(action, "not_judged");
    assert_eq!(
        body["response"]["auditAnnotations"],
        json!({"action": "not_judged", "reason": "not a request Portcullis judges"})
    );
}

#[test]
fn v1beta1_requests_are_answered_in_v1beta1() {
    let review = Request::create(fixture("job-migrate.json"))
        .v1beta1()
        .review();
    assert_eq!(review.version, ApiVersion::V1Beta1);
    assert_eq!(review.request.types.api_version, "admission.k8s.io/v1beta1");
    let w = workload(&review).unwrap().unwrap();
    let outcome = judged_outcome(vec![stop_image()], UnknownImageAction::Reject);
    let (body, allowed, _) = answer(&review, Some(&w), &outcome);
    assert!(!allowed);
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(
        body["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );

    let v1 = Request::create(fixture("job-migrate.json")).review();
    let (body, _, _) = answer(&v1, Some(&w), &outcome);
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
}

#[test]
fn responses_are_byte_identical_for_the_same_input() {
    let (review, w) = deployment_review();
    let outcome = judged_outcome(
        vec![warn_image(), unknown_image()],
        UnknownImageAction::Allow,
    );
    assert_eq!(
        respond(&review, Some(&w), &outcome),
        respond(&review, Some(&w), &outcome)
    );
}

// ---------------------------------------------------------------- audits

#[test]
fn audit_records_a_stop() {
    let (_, w) = deployment_review();
    let outcome = judged_outcome(
        vec![go_image(), warn_image(), stop_image(), unknown_image()],
        UnknownImageAction::Reject,
    );
    let spec = audit(
        &w,
        &outcome,
        Some("2025-11-29T12:00:00Z"),
        "2025-11-29T22:00:00Z",
    );
    assert_eq!(spec.owner.kind, "Deployment");
    assert_eq!(spec.owner.name, "web");
    assert_eq!(spec.owner.namespace, "team-a");
    assert_eq!(spec.operation, "CREATE");
    assert_eq!(spec.action, "stop");
    assert!(!spec.allowed);
    assert_eq!(
        spec.reason.as_deref(),
        Some("1 of 4 images stopped by policy reject_critical")
    );
    assert_eq!(spec.policy.as_deref(), Some("reject_critical"));
    assert_eq!(spec.database.as_deref(), Some("2025-11-29T12:00:00Z"));
    assert_eq!(spec.timestamp, "2025-11-29T22:00:00Z");
    let images: Vec<(&str, &str, u32)> = spec
        .images
        .iter()
        .map(|i| (i.image.as_str(), i.action.as_str(), i.vulnerabilities))
        .collect();
    assert_eq!(
        images,
        [
            ("nginx:1.25", "go", 0),
            ("redis:7.2", "warn", 1),
            ("registry.local:5000/legacy/app:1.0", "stop", 5),
            ("registry.local:5000/app/new:1", "unknown", 0),
        ]
    );
    let results: Vec<(&str, &str, &str)> = spec
        .results
        .iter()
        .map(|r| (r.image.as_str(), r.trigger.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        results,
        [
            ("registry.local:5000/legacy/app:1.0", "package", "stop"),
            ("registry.local:5000/app/new:1", "unknown_image", "stop"),
            ("redis:7.2", "package", "warn"),
            ("registry.local:5000/legacy/app:1.0", "package", "warn"),
        ]
    );
    assert!(!spec.truncated);
}

#[test]
fn audit_bounds_its_results() {
    let (_, w) = deployment_review();
    let verdicts: Vec<ImageVerdict> = (0..10)
        .map(|i| {
            judged(
                &format!("img-{i}"),
                Action::Warn,
                (0..20)
                    .map(|j| {
                        result(
                            Action::Warn,
                            "package",
                            &format!("CVE-{j} {}", "y".repeat(2000)),
                        )
                    })
                    .chain([result(Action::Go, "always", "fine")])
                    .collect(),
                Vec::new(),
            )
        })
        .collect();
    let spec = audit(
        &w,
        &judged_outcome(verdicts, UnknownImageAction::Reject),
        None,
        "t",
    );
    assert_eq!(spec.results.len(), 50);
    assert!(spec.truncated);
    assert!(spec.results.iter().all(|r| r.action == "warn"));
    assert!(
        spec.results
            .iter()
            .all(|r| r.message.chars().count() <= 512)
    );
    assert_eq!(spec.results[0].message.chars().count(), 512);
    assert!(spec.results[0].message.ends_with('…'));
    assert_eq!(spec.images.len(), 10);
    let size = serde_json::to_vec(&spec).unwrap().len();
    assert!(size < 64 * 1024, "{size} bytes");
}

#[test]
fn audit_records_decisions_made_without_images() {
    let pod = Request::create(fixture("pod-init-ephemeral.json")).review();
    let w = workload(&pod).unwrap().unwrap();
    let spec = audit(&w, &Outcome::LabelSkipped, Some("db-1"), "t");
    assert_eq!(spec.action, "skipped");
    assert!(spec.allowed);
    assert_eq!(
        spec.reason.as_deref(),
        Some("label portcullis.dev/validate=skip")
    );
    assert_eq!(spec.policy, None);
    assert_eq!(spec.database, None);
    assert_eq!(spec.images.len(), 4);
    assert!(spec.images.iter().all(|i| i.action == "skipped"));
    assert!(spec.results.is_empty());

    let spec = audit(
        &w,
        &Outcome::Whitelisted {
            entry: entry("web-release", None),
        },
        None,
        "t",
    );
    assert_eq!(spec.action, "whitelisted");
    assert_eq!(
        spec.reason.as_deref(),
        Some("release web-release whitelisted by WhiteListItem/web-release: web-release is vetted")
    );
}

#[test]
fn audit_names_are_dns_safe() {
    let named = |kind: &str, name: &str| {
        let (_, mut w) = deployment_review();
        w.kind = kind.to_string();
        w.name = name.to_string();
        audit_name(&w)
    };
    assert_eq!(named("Deployment", "web"), "deployment-web");
    assert_eq!(named("Pod", "batch-7c9f6d8b5-"), "pod-batch-7c9f6d8b5");
    assert_eq!(named("Pod", "Web_App.v2"), "pod-web-app.v2");
    assert_eq!(named("Pod", "a..b.-c"), "pod-a.b.c");
    assert_eq!(named("Pod", "ünïcode"), "pod--n-code");
    let long = named("StatefulSet", &"x".repeat(400));
    assert_eq!(long.len(), 253);
    assert!(long.starts_with("statefulset-xxx"));
    let dns =
        regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .unwrap();
    for name in ["web", "-x-", "..", "A.B", "x.-y", &"y.".repeat(200), "___"] {
        let out = named("Job", name);
        assert!(
            dns.is_match(&out) && out.len() <= 253,
            "{name:?} -> {out:?}"
        );
    }
}

// ---------------------------------------------------------------- malformed bodies

#[test]
fn malformed_bodies_are_bad_requests_naming_the_problem() {
    let valid = Request::create(fixture("pod-init-ephemeral.json")).json();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = valid.clone();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "body: empty"),
        (
            b"<html>".to_vec(),
            "body: not JSON: expected value at line 1 column 1",
        ),
        (
            b"{\"kind\":".to_vec(),
            "body: not JSON: EOF while parsing a value at line 1 column 8",
        ),
        (
            b"[1,2]".to_vec(),
            "body: expected a JSON object, got an array",
        ),
        (
            edit(&|v| v["kind"] = json!("Pod")),
            "kind: expected AdmissionReview, got \"Pod\"",
        ),
        (
            edit(&|v| v["kind"] = json!(7)),
            "kind: expected a string, got a number",
        ),
        (
            edit(&|v| v["apiVersion"] = json!("admission.k8s.io/v2")),
            "apiVersion: expected admission.k8s.io/v1 or admission.k8s.io/v1beta1, got \"admission.k8s.io/v2\"",
        ),
        (
            edit(&|v| {
                v.as_object_mut().unwrap().remove("apiVersion");
            }),
            "apiVersion: missing",
        ),
        (
            edit(&|v| {
                v.as_object_mut().unwrap().remove("request");
            }),
            "request: missing",
        ),
        (
            edit(&|v| v["request"] = json!("x")),
            "request: expected an object, got a string",
        ),
        (
            edit(&|v| {
                v["request"].as_object_mut().unwrap().remove("uid");
            }),
            "request.uid: missing",
        ),
        (
            edit(&|v| v["request"]["uid"] = json!("")),
            "request.uid: empty",
        ),
        (
            edit(&|v| v["request"]["kind"]["kind"] = json!(null)),
            "request.kind.kind: missing",
        ),
        (
            edit(&|v| {
                v["request"].as_object_mut().unwrap().remove("resource");
            }),
            "request.resource: missing",
        ),
        (
            edit(&|v| v["request"]["operation"] = json!("PATCH")),
            "request.operation: expected CREATE, UPDATE, DELETE or CONNECT, got \"PATCH\"",
        ),
        (
            edit(&|v| v["request"]["userInfo"] = json!([])),
            "request.userInfo: expected an object, got an array",
        ),
        (
            edit(&|v| v["request"]["object"] = json!("pod")),
            "request.object: expected an object, got a string",
        ),
        (
            edit(&|v| v["request"]["object"]["metadata"] = json!(1)),
            "request.object.metadata: expected an object, got a number",
        ),
        (
            edit(&|v| v["request"]["object"]["metadata"]["labels"]["app"] = json!(true)),
            "request.object.metadata.labels.app: expected a string, got a boolean",
        ),
        (
            edit(&|v| v["request"]["oldObject"] = json!({"metadata": {"name": 5}})),
            "request.oldObject.metadata.name: expected a string, got a number",
        ),
    ];
    for (body, expected) in cases {
        let err = parse_review(&body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{expected}");
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn undecodable_objects_are_bad_requests_naming_the_field() {
    let valid = Request::create(fixture("pod-init-ephemeral.json")).json();
    let deployment = Request::create(fixture("deployment-web.json")).json();
    let cronjob = Request::create(fixture("cronjob-nightly.json")).json();
    let edit = |base: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            edit(&valid, &|v| {
                v["request"]["object"]["spec"]["containers"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("image");
            }),
            "request.object.spec.containers[1].image: missing",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["object"]["spec"]["containers"][0]["image"] = json!(" ")
            }),
            "request.object.spec.containers[0].image: empty",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["object"]["spec"]["initContainers"][0]["name"] = json!(3)
            }),
            "request.object.spec.initContainers[0].name: expected a string, got a number",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["object"]["spec"]["ephemeralContainers"] = json!({})
            }),
            "request.object.spec.ephemeralContainers: expected an array, got an object",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["object"]["spec"]["containers"][0] = json!("nginx")
            }),
            "request.object.spec.containers[0]: expected an object, got a string",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["object"]
                    .as_object_mut()
                    .unwrap()
                    .remove("spec");
            }),
            "request.object.spec: missing",
        ),
        (
            edit(&valid, &|v| v["request"]["object"] = json!(null)),
            "request.object: missing for CREATE of Pod",
        ),
        (
            edit(&deployment, &|v| {
                v["request"]["object"]["spec"]["template"] = json!([])
            }),
            "request.object.spec.template: expected an object, got an array",
        ),
        (
            edit(&cronjob, &|v| {
                v["request"]["object"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("containers");
            }),
            // No containers at all is allowed by the shape: the workload has no images.
            "",
        ),
        (
            edit(&valid, &|v| {
                v["request"]["operation"] = json!("UPDATE");
                v["request"]["oldObject"] = json!({"metadata": {}, "spec": {"containers": 1}});
            }),
            "request.oldObject.spec.containers: expected an array, got a number",
        ),
    ];
    for (body, expected) in cases {
        let review = parse_review(body.to_string().as_bytes()).unwrap();
        match workload(&review) {
            Ok(w) => assert_eq!(expected, "", "{w:?}"),
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::BadRequest);
                assert_eq!(err.to_string(), expected);
            }
        }
    }
}

#[test]
fn huge_bodies_and_deep_nesting_are_refused() {
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    let err = parse_review(&huge).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(
        err.to_string(),
        "body: 3145729 bytes, more than the 3145728 allowed"
    );

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse_review(deep.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "body: not JSON: recursion limit exceeded at line 1 column 128"
    );

    // Too many containers within the size cap.
    let mut many = Request::create(fixture("pod-init-ephemeral.json")).json();
    let container = many["request"]["object"]["spec"]["containers"][0].clone();
    many["request"]["object"]["spec"]["containers"] = Value::Array(vec![container; 1001]);
    let review = parse_review(many.to_string().as_bytes()).unwrap();
    assert_eq!(
        workload(&review).unwrap_err().to_string(),
        "request.object.spec: more than 1000 containers"
    );
}

/// Arbitrary JSON values, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer into `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(here.clone());
                pointers(v, here, out);
            }
        }
        Value::Array(list) => {
            for (i, v) in list.iter().enumerate() {
                let here = format!("{at}/{i}");
                out.push(here.clone());
                pointers(v, here, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(err) = parse_review(&body) {
            prop_assert_eq!(err.kind(), ErrorKind::BadRequest);
        }
    }

    #[test]
    fn mutated_reviews_never_panic(
        which in 0usize..4,
        slot in any::<prop::sample::Index>(),
        replacement in any_json(),
    ) {
        let names = ["pod-init-ephemeral.json", "deployment-web.json", "cronjob-nightly.json", "statefulset-db.json"];
        let mut review = Request::update(fixture(names[which]), fixture(names[which])).json();
        let mut all = Vec::new();
        pointers(&review, String::new(), &mut all);
        let pointer = &all[slot.index(all.len())];
        if let Some(target) = review.pointer_mut(pointer) {
            *target = replacement;
        }
        if let Ok(parsed) = parse_review(review.to_string().as_bytes())
            && let Ok(Some(w)) = workload(&parsed) {
                let outcome = judged_outcome(vec![stop_image(), unknown_image()], UnknownImageAction::Reject);
                let response = respond(&parsed, Some(&w), &outcome);
                prop_assert!(!response.allowed);
                let _ = audit(&w, &outcome, None, "t");
                let _ = audit_name(&w);
            }
    }
}
