//! `activate`, `deactivate` and `status` against the HTTP-level mock API server.

use std::time::Duration;

use portcullis_lifecycle::cert;
use portcullis_lifecycle::cluster::{
    self, ActivateOptions, CertificateAction, Change, ObjectChange,
};
use portcullis_lifecycle::{DEFAULT_NAMESPACE, ErrorKind, Spec, parse_spec};
use portcullis_testkit::KubeMock;
use serde_json::{Value, json};

use crate::spec_text;

const NOW: i64 = 1_780_000_000;
const DAY: i64 = 86_400;
const NS: &str = DEFAULT_NAMESPACE;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A mock whose Deployments become ready as soon as they are written.
fn ready_mock() -> KubeMock {
    let mock = KubeMock::start();
    mock.on_write_set_status("apps/v1/deployments", |d| {
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        Some(json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas
        }))
    });
    mock
}

fn seed_registry_secrets(mock: &KubeMock) {
    for (name, kind) in [
        ("ghcr-pull", "kubernetes.io/dockerconfigjson"),
        ("internal-basic", "kubernetes.io/basic-auth"),
    ] {
        mock.seed(
            "v1/secrets",
            json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
                   "metadata": {"name": name, "namespace": NS}, "data": {}}),
        );
    }
}

/// A [`ready_mock`] with the registry Secrets the full spec names.
fn seeded_mock() -> KubeMock {
    let mock = ready_mock();
    seed_registry_secrets(&mock);
    mock
}

/// A [`seeded_mock`] where the full spec was activated.
fn activated() -> KubeMock {
    let mock = seeded_mock();
    activate(&mock, &full(), NOW).unwrap();
    mock
}

/// Portcullis's ValidatingWebhookConfiguration in `mock`, if there is one.
fn webhook_configuration(mock: &KubeMock) -> Option<Value> {
    mock.get(
        "admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        "",
        "portcullis",
    )
}

fn full() -> Spec {
    parse_spec(&spec_text("full.json")).unwrap()
}

fn options(now: i64) -> ActivateOptions {
    ActivateOptions {
        namespace: NS.to_string(),
        image: "ghcr.io/portcullis/portcullis:test".to_string(),
        wait_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        now,
    }
}

fn activate(
    mock: &KubeMock,
    spec: &Spec,
    now: i64,
) -> portcullis_lifecycle::Result<cluster::ActivationReport> {
    runtime().block_on(async {
        let client = mock.client();
        cluster::activate(&client, spec, &options(now)).await
    })
}

/// The objects `report` created or changed.
fn changed(report: &cluster::ActivationReport) -> Vec<&str> {
    report
        .objects
        .iter()
        .filter(|o| o.change != Change::Unchanged)
        .map(|o| o.object.as_str())
        .collect()
}

fn deactivate(mock: &KubeMock, purge: bool) -> Vec<ObjectChange> {
    runtime().block_on(async {
        let client = mock.client();
        cluster::deactivate(&client, NS, purge).await.unwrap()
    })
}

fn changes(objects: &[ObjectChange]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{} {}", o.object, o.change.as_str()))
        .collect()
}

/// Asserts that `objects` hold `change` (`Kind/name change`), listing them all if not.
#[track_caller]
fn assert_changed(objects: &[ObjectChange], change: &str) {
    let changes = changes(objects);
    assert!(changes.contains(&change.to_string()), "{changes:?}");
}

const APPLY_ORDER: [&str; 18] = [
    "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/whitelistitems.security.portcullis.dev",
    "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/audits.security.portcullis.dev",
    "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/policyreports.wgpolicyk8s.io",
    "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterpolicyreports.wgpolicyk8s.io",
    "PATCH /api/v1/namespaces/portcullis-system",
    "PATCH /api/v1/namespaces/portcullis-system/serviceaccounts/portcullis",
    "PATCH /apis/rbac.authorization.k8s.io/v1/clusterroles/portcullis",
    "PATCH /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/portcullis",
    "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/portcullis-system/roles/portcullis",
    "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/portcullis-system/rolebindings/portcullis",
    "PATCH /api/v1/namespaces/portcullis-system/configmaps/portcullis-config",
    "PATCH /api/v1/namespaces/portcullis-system/secrets/portcullis-tls",
    "PATCH /api/v1/namespaces/portcullis-system/services/portcullis",
    "PATCH /apis/apps/v1/namespaces/portcullis-system/deployments/portcullis",
    "PATCH /apis/policy/v1/namespaces/portcullis-system/poddisruptionbudgets/portcullis",
    "PATCH /apis/security.portcullis.dev/v1alpha1/whitelistitems/monitoring",
    "PATCH /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/portcullis",
    // No `builder` in the spec: a database builder left from an earlier spec is removed.
    "DELETE /apis/batch/v1/namespaces/portcullis-system/cronjobs/portcullis-db-builder",
];

#[test]
fn activate_applies_everything_in_order_with_server_side_apply() {
    let mock = seeded_mock();
    let report = activate(&mock, &full(), NOW).unwrap();
    assert_eq!(mock.write_lines(), APPLY_ORDER);
    assert!(
        report.objects.iter().all(|o| o.change == Change::Created),
        "{report:?}"
    );
    assert_eq!(report.certificate, CertificateAction::Created);
    assert_eq!(report.ready_replicas, 2);
    assert_eq!(
        report.certificate_expires,
        cert::rfc3339(NOW - NOW % DAY + 365 * DAY)
    );
    for request in mock
        .requests()
        .iter()
        .filter(|r| r.is_write() && r.method != "DELETE")
    {
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(
            request.query_value("fieldManager").as_deref(),
            Some("portcullis")
        );
        assert_eq!(request.query_value("force").as_deref(), Some("true"));
    }
    // The webhook is registered only after the Deployment was seen ready.
    let lines: Vec<String> = mock.requests().iter().map(|r| r.line()).collect();
    let ready_check = lines
        .iter()
        .rposition(|l| l == "GET /apis/apps/v1/namespaces/portcullis-system/deployments/portcullis")
        .unwrap();
    let webhook = lines.iter().position(|l| l == APPLY_ORDER[16]).unwrap();
    let pdb = lines.iter().position(|l| l == APPLY_ORDER[14]).unwrap();
    assert!(pdb < ready_check && ready_check < webhook, "{lines:#?}");
    // What was stored is what was built.
    let vwc = webhook_configuration(&mock).unwrap();
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["service"]["path"],
        "/imagecheck"
    );
    let secret = mock.get("v1/secrets", NS, "portcullis-tls").unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["caBundle"],
        secret["data"]["ca.crt"]
    );
}

#[test]
fn a_second_activate_changes_nothing() {
    let mock = activated();
    let before = mock.objects();
    let version = mock.resource_version();
    mock.clear_requests();
    let report = activate(&mock, &full(), NOW + DAY).unwrap();
    assert_eq!(mock.objects(), before);
    assert_eq!(mock.resource_version(), version);
    assert_eq!(report.certificate, CertificateAction::Kept);
    assert!(
        report.objects.iter().all(|o| o.change == Change::Unchanged),
        "{:?}",
        changes(&report.objects)
    );
    // Only applies (and the removal of a builder there is none of): nothing created,
    // replaced or deleted by other means.
    assert_eq!(mock.write_lines(), APPLY_ORDER);
}

#[test]
fn a_changed_spec_reconfigures_only_what_it_touches() {
    let mock = activated();
    let mut spec = full();
    spec.webhook_config.timeout_seconds = 5;
    spec.unknown_image_action = "allow".to_string();
    let report = activate(&mock, &spec, NOW).unwrap();
    let configured = changed(&report);
    // The server config lives in the ConfigMap; its hash rolls the Deployment.
    assert_eq!(
        configured,
        [
            "ConfigMap/portcullis-config",
            "Deployment/portcullis",
            "ValidatingWebhookConfiguration/portcullis"
        ]
    );
}

#[test]
fn a_changed_policy_is_reloaded_without_rolling_the_pods() {
    let mock = activated();
    let mut spec = full();
    spec.policy.policy_id = Some("deny_all".to_string());
    let report = activate(&mock, &spec, NOW).unwrap();
    let configured = changed(&report);
    // The server reloads `policy` from the ConfigMap: the Deployment stays as it is.
    assert_eq!(configured, ["ConfigMap/portcullis-config"]);
}

#[test]
fn certificates_are_renewed_within_30_days_of_expiry() {
    let mock = activated();
    let first = mock.get("v1/secrets", NS, "portcullis-tls").unwrap();
    // 300 days on, 65 days are left: kept.
    let report = activate(&mock, &full(), NOW + 300 * DAY).unwrap();
    assert_eq!(report.certificate, CertificateAction::Kept);
    assert_eq!(mock.get("v1/secrets", NS, "portcullis-tls").unwrap(), first);
    // 340 days on, 25 days are left: renewed, and the old CA stays trusted.
    let report = activate(&mock, &full(), NOW + 340 * DAY).unwrap();
    assert_eq!(report.certificate, CertificateAction::Renewed);
    let renewed = mock.get("v1/secrets", NS, "portcullis-tls").unwrap();
    assert_ne!(renewed["data"]["tls.crt"], first["data"]["tls.crt"]);
    let text = |v: &Value| {
        use base64::Engine as _;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let bundle = cert::pem_blocks(&text(&renewed["data"]["ca.crt"]));
    assert_eq!(bundle.len(), 2);
    assert_eq!(bundle[1], text(&first["data"]["ca.crt"]));
    let expiry = cert::not_after(&text(&renewed["data"]["tls.crt"])).unwrap();
    let day = (NOW + 340 * DAY) - (NOW + 340 * DAY) % DAY;
    assert_eq!(expiry, day + 365 * DAY);
    let vwc = webhook_configuration(&mock).unwrap();
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["caBundle"],
        renewed["data"]["ca.crt"]
    );
    let changed: Vec<String> = changes(&report.objects)
        .into_iter()
        .filter(|c| !c.ends_with("unchanged"))
        .collect();
    assert_eq!(
        changed,
        [
            "Secret/portcullis-tls configured",
            "ValidatingWebhookConfiguration/portcullis configured"
        ]
    );
}

#[test]
fn registry_secrets_must_exist_with_the_right_type() {
    let mock = ready_mock();
    mock.seed(
        "v1/secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "ghcr-pull", "namespace": NS}}),
    );
    let err = activate(&mock, &full(), NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "registry.secretId: Secret 'ghcr-pull' has type 'Opaque', not kubernetes.io/dockerconfigjson or kubernetes.io/basic-auth",
            "registries[0].secretId: Secret 'internal-basic' not found in namespace 'portcullis-system'"
        ]
    );
    assert_eq!(mock.write_lines(), Vec::<String>::new());
}

#[test]
fn an_invalid_spec_touches_nothing() {
    let mock = ready_mock();
    let mut spec = full();
    spec.webhook_config.selector = "sometimes".to_string();
    let err = activate(&mock, &spec, NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(mock.requests(), Vec::new());
}

#[test]
fn activation_waits_for_readiness_and_gives_up_without_registering_the_webhook() {
    let mock = KubeMock::start();
    let spec = parse_spec(&spec_text("minimal.json")).unwrap();
    let mut options = options(NOW);
    options.wait_timeout = Duration::from_millis(300);
    let err = runtime()
        .block_on(async { cluster::activate(&mock.client(), &spec, &options).await })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().starts_with("Deployment portcullis-system/portcullis: 0 of 2 replicas ready after 0s; the webhook was not registered"),
        "{err}"
    );
    assert!(webhook_configuration(&mock).is_none());
    // Once the pods are ready, a re-run completes.
    mock.set_status(
        "apps/v1/deployments",
        NS,
        "portcullis",
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}),
    );
    let report = activate(&mock, &spec, NOW).unwrap();
    assert_eq!(report.ready_replicas, 2);
    assert!(webhook_configuration(&mock).is_some());
}

#[test]
fn disabling_the_webhook_removes_its_configuration() {
    let mock = ready_mock();
    let mut spec = parse_spec(&spec_text("minimal.json")).unwrap();
    activate(&mock, &spec, NOW).unwrap();
    spec.webhook_config.enabled = false;
    let report = activate(&mock, &spec, NOW).unwrap();
    assert_eq!(
        changes(&report.objects).last().unwrap(),
        "ValidatingWebhookConfiguration/portcullis deleted"
    );
    assert!(webhook_configuration(&mock).is_none());
}

const DELETE_ORDER: [&str; 12] = [
    "DELETE /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/portcullis",
    "DELETE /apis/batch/v1/namespaces/portcullis-system/cronjobs/portcullis-db-builder",
    "DELETE /apis/apps/v1/namespaces/portcullis-system/deployments/portcullis",
    "DELETE /apis/policy/v1/namespaces/portcullis-system/poddisruptionbudgets/portcullis",
    "DELETE /api/v1/namespaces/portcullis-system/services/portcullis",
    "DELETE /api/v1/namespaces/portcullis-system/secrets/portcullis-tls",
    "DELETE /api/v1/namespaces/portcullis-system/configmaps/portcullis-config",
    "DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/portcullis-system/rolebindings/portcullis",
    "DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/portcullis-system/roles/portcullis",
    "DELETE /api/v1/namespaces/portcullis-system/serviceaccounts/portcullis",
    "DELETE /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/portcullis",
    "DELETE /apis/rbac.authorization.k8s.io/v1/clusterroles/portcullis",
];

#[test]
fn deactivate_removes_the_webhook_first_and_keeps_crds() {
    let mock = activated();
    mock.clear_requests();
    let removed = deactivate(&mock, false);
    assert_eq!(mock.write_lines(), DELETE_ORDER);
    assert!(removed.iter().all(|o| o.change == Change::Deleted));
    assert_eq!(
        mock.object_ids(),
        [
            "apiextensions.k8s.io/v1/customresourcedefinitions audits.security.portcullis.dev",
            "apiextensions.k8s.io/v1/customresourcedefinitions clusterpolicyreports.wgpolicyk8s.io",
            "apiextensions.k8s.io/v1/customresourcedefinitions policyreports.wgpolicyk8s.io",
            "apiextensions.k8s.io/v1/customresourcedefinitions whitelistitems.security.portcullis.dev",
            "security.portcullis.dev/v1alpha1/whitelistitems monitoring",
            "v1/namespaces portcullis-system",
            "v1/secrets portcullis-system/ghcr-pull",
            "v1/secrets portcullis-system/internal-basic",
        ]
    );
    // Again: everything is already gone.
    let again = deactivate(&mock, false);
    assert!(
        again.iter().all(|o| o.change == Change::Absent),
        "{:?}",
        changes(&again)
    );
}

#[test]
fn deactivate_purge_removes_crds_their_objects_and_the_namespace() {
    let mock = activated();
    mock.clear_requests();
    deactivate(&mock, true);
    let mut expected: Vec<String> = DELETE_ORDER.iter().map(|s| (*s).to_string()).collect();
    expected.extend(
        [
            "DELETE /apis/security.portcullis.dev/v1alpha1/whitelistitems/monitoring",
            "DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/whitelistitems.security.portcullis.dev",
            "DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/audits.security.portcullis.dev",
            "DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/policyreports.wgpolicyk8s.io",
            "DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterpolicyreports.wgpolicyk8s.io",
            "DELETE /api/v1/namespaces/portcullis-system",
        ]
        .map(String::from),
    );
    assert_eq!(mock.write_lines(), expected);
    // The mock does not cascade a namespace deletion: the user's Secrets are what is left.
    assert_eq!(
        mock.object_ids(),
        [
            "v1/secrets portcullis-system/ghcr-pull",
            "v1/secrets portcullis-system/internal-basic"
        ]
    );
}

#[test]
fn report_crds_are_installed_when_absent_and_never_taken_from_another_tool() {
    // Ours: the community's definitions byte for byte (testdata/specs), labelled as ours.
    let mock = activated();
    for (name, text) in cluster::REPORT_CRDS {
        let file = portcullis_testkit::testdata_dir()
            .join("specs")
            .join(format!(
                "wgpolicyk8s.io_{}.yaml",
                name.split('.').next().unwrap()
            ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        let definition: Value = yaml_serde::from_str(text).unwrap();
        let stored = mock
            .get(
                "apiextensions.k8s.io/v1/customresourcedefinitions",
                "",
                name,
            )
            .unwrap();
        assert_eq!(stored["spec"], definition["spec"]);
        assert_eq!(
            stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "portcullis"
        );
    }

    // Another tool's (Kyverno's): never written, never deleted.
    let mock = seeded_mock();
    let theirs: Value = yaml_serde::from_str(cluster::REPORT_CRDS[0].1).unwrap();
    let mut theirs = theirs;
    theirs["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "kyverno"});
    mock.seed("apiextensions.k8s.io/v1/customresourcedefinitions", theirs);
    let report = activate(&mock, &full(), NOW).unwrap();
    let writes = mock.write_lines();
    assert!(
        !writes
            .iter()
            .any(|w| w.ends_with("/policyreports.wgpolicyk8s.io")),
        "{writes:?}"
    );
    assert_changed(
        &report.objects,
        "CustomResourceDefinition/policyreports.wgpolicyk8s.io unchanged",
    );
    mock.clear_requests();
    deactivate(&mock, true);
    let writes = mock.write_lines();
    assert!(
        writes.contains(&"DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterpolicyreports.wgpolicyk8s.io".to_string()),
        "{writes:?}"
    );
    assert!(
        !writes
            .iter()
            .any(|w| w.ends_with("/policyreports.wgpolicyk8s.io")),
        "{writes:?}"
    );
    let kept = mock
        .get(
            "apiextensions.k8s.io/v1/customresourcedefinitions",
            "",
            "policyreports.wgpolicyk8s.io",
        )
        .unwrap();
    assert_eq!(
        kept["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kyverno"
    );
}

#[test]
fn status_reports_the_install() {
    let mock = ready_mock();
    let client_status = |mock: &KubeMock, now: i64| {
        runtime().block_on(async { cluster::status(&mock.client(), NS, now).await.unwrap() })
    };
    let before = client_status(&mock, NOW);
    assert!(!before.active);
    assert!(!before.webhook_registered);
    assert_eq!(before.ready_replicas, None);
    assert_eq!(before.spec, None);
    let spec = parse_spec(&spec_text("minimal.json")).unwrap();
    activate(&mock, &spec, NOW).unwrap();
    mock.respond_raw(
        "/api/v1/namespaces/portcullis-system/services/https:portcullis:443/proxy/metrics",
        200,
        "text/plain; version=0.0.4",
        b"# HELP portcullis_database_age_seconds Age of the database.\n# TYPE portcullis_database_age_seconds gauge\nportcullis_database_age_seconds 5400\n",
    );
    let status = client_status(&mock, NOW + 10 * DAY);
    assert!(status.active);
    assert!(status.webhook_registered);
    assert_eq!(
        (status.ready_replicas, status.desired_replicas),
        (Some(2), Some(2))
    );
    assert_eq!(status.spec, Some(spec));
    assert_eq!(status.certificate_days_left, Some(354));
    assert_eq!(status.database_age_seconds, Some(5400));
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        json["certificateExpires"],
        cert::rfc3339(NOW - NOW % DAY + 365 * DAY)
    );
}

#[test]
fn the_mock_serves_a_kube_rs_reflector() {
    use futures::StreamExt as _;
    use kube::runtime::{WatchStreamExt as _, reflector, watcher};
    use portcullis_k8s::WhiteListItem;

    let mock = KubeMock::start();
    let item = |name: &str| {
        json!({"apiVersion": "security.portcullis.dev/v1alpha1", "kind": "WhiteListItem",
               "metadata": {"name": name}, "spec": {"reason": "test"}})
    };
    mock.seed(
        "security.portcullis.dev/v1alpha1/whitelistitems",
        item("first"),
    );
    runtime().block_on(async {
        let api: kube::Api<WhiteListItem> = kube::Api::all(mock.client());
        let (store, writer) = reflector::store();
        let mut stream = reflector(writer, watcher(api, watcher::Config::default()))
            .applied_objects()
            .boxed();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.metadata.name.as_deref(), Some("first"));
        mock.seed(
            "security.portcullis.dev/v1alpha1/whitelistitems",
            item("second"),
        );
        let second = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(second.metadata.name.as_deref(), Some("second"));
        let mut names: Vec<String> = store
            .state()
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["first", "second"]);
    });
    let watch = mock
        .requests()
        .into_iter()
        .find(|r| r.query_value("watch").as_deref() == Some("true"))
        .unwrap();
    assert_eq!(
        watch.path,
        "/apis/security.portcullis.dev/v1alpha1/whitelistitems"
    );
}

/// A ready mock with the registry Secrets, and the full spec with a database in a registry
/// pulled with the Secret `secret_id`, built every 6 hours.
fn with_builder(secret_id: &str) -> (KubeMock, Spec) {
    let mock = seeded_mock();
    let mut spec = full();
    spec.database = Some(portcullis_lifecycle::DatabaseSpec {
        repository: "registry.internal:5000/portcullis/db:latest".to_string(),
        secret_id: Some(secret_id.to_string()),
        insecure: false,
    });
    spec.builder = Some(portcullis_lifecycle::BuilderSpec {
        schedule: "0 */6 * * *".to_string(),
    });
    (mock, spec)
}

#[test]
fn a_builder_is_applied_removed_with_it_from_the_spec_and_by_deactivate() {
    let (mock, mut spec) = with_builder("ghcr-pull");
    let cron = "batch/v1/cronjobs portcullis-system/portcullis-db-builder";
    let report = activate(&mock, &spec, NOW).unwrap();
    assert_changed(&report.objects, "CronJob/portcullis-db-builder created");
    assert!(mock.object_ids().iter().any(|id| id == cron));
    // Without `builder` the CronJob goes.
    spec.builder = None;
    let report = activate(&mock, &spec, NOW).unwrap();
    assert_changed(&report.objects, "CronJob/portcullis-db-builder deleted");
    assert!(!mock.object_ids().iter().any(|id| id == cron));
    // And `deactivate` removes one that is there.
    spec.builder = Some(portcullis_lifecycle::BuilderSpec {
        schedule: "30 2 * * *".to_string(),
    });
    activate(&mock, &spec, NOW).unwrap();
    assert!(mock.object_ids().iter().any(|id| id == cron));
    let removed = deactivate(&mock, false);
    assert_changed(&removed, "CronJob/portcullis-db-builder deleted");
    assert!(!mock.object_ids().iter().any(|id| id == cron));
}

#[test]
fn a_builder_needs_a_dockerconfigjson_secret() {
    let (mock, mut spec) = with_builder("internal-basic");
    let err = activate(&mock, &spec, NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "database.secretId: Secret 'internal-basic' has type 'kubernetes.io/basic-auth', not kubernetes.io/dockerconfigjson (the builder mounts it as its docker config)"
        ]
    );
    spec.database.as_mut().unwrap().secret_id = Some("missing".to_string());
    let err = activate(&mock, &spec, NOW).unwrap_err();
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        ["database.secretId: Secret 'missing' not found in namespace 'portcullis-system'"]
    );
    assert_eq!(mock.write_lines(), Vec::<String>::new());
}
