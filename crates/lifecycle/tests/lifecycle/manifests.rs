//! The manifests: every object survives typed k8s-openapi structs unchanged, and the
//! security-relevant parts are exactly as specified.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use portcullis_config::ServerConfig;
use portcullis_k8s::WhiteListItem;
use portcullis_lifecycle::cert;
use portcullis_lifecycle::manifests::{
    self, ManifestOptions, TlsSource, kustomize_files, parse_yaml_documents, to_yaml,
};
use portcullis_lifecycle::{DEFAULT_NAMESPACE, Spec, parse_spec, validate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::spec_text;

const NOW: i64 = 1_780_000_000;

fn options(tls: TlsSource) -> ManifestOptions {
    ManifestOptions {
        namespace: DEFAULT_NAMESPACE.to_string(),
        image: "ghcr.io/portcullis/portcullis:test".to_string(),
        tls,
    }
}

fn full() -> Spec {
    let spec = parse_spec(&spec_text("full.json")).unwrap();
    validate(&spec, DEFAULT_NAMESPACE).unwrap();
    spec
}

fn generated() -> TlsSource {
    TlsSource::Generated(cert::generate("portcullis", DEFAULT_NAMESPACE, NOW).unwrap())
}

fn via<T: DeserializeOwned + Serialize>(value: &Value) -> Value {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{} does not read as typed: {e}", value["kind"]));
    serde_json::to_value(&typed).unwrap()
}

/// Deserialise into the typed struct of its kind and serialise again.
pub fn round_trip(value: &Value) -> Value {
    match value["kind"].as_str().unwrap_or("") {
        "CustomResourceDefinition" => via::<CustomResourceDefinition>(value),
        "Namespace" => via::<Namespace>(value),
        "ServiceAccount" => via::<ServiceAccount>(value),
        "ClusterRole" => via::<ClusterRole>(value),
        "ClusterRoleBinding" => via::<ClusterRoleBinding>(value),
        "Role" => via::<Role>(value),
        "RoleBinding" => via::<RoleBinding>(value),
        "ConfigMap" => via::<ConfigMap>(value),
        "Secret" => via::<Secret>(value),
        "Service" => via::<Service>(value),
        "Deployment" => via::<Deployment>(value),
        "CronJob" => via::<k8s_openapi::api::batch::v1::CronJob>(value),
        "PodDisruptionBudget" => via::<PodDisruptionBudget>(value),
        "WhiteListItem" => via::<WhiteListItem>(value),
        "ValidatingWebhookConfiguration" => via::<ValidatingWebhookConfiguration>(value),
        other => panic!("no typed struct for kind {other:?}"),
    }
}

fn by_kind(docs: &[Value]) -> BTreeMap<String, Value> {
    docs.iter()
        .map(|d| {
            (
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                ),
                d.clone(),
            )
        })
        .collect()
}

#[test]
fn every_manifest_survives_typed_structs() {
    let built = manifests::build(&full(), &options(generated())).unwrap();
    let yaml = to_yaml(&built).unwrap();
    let docs = parse_yaml_documents(&yaml).unwrap();
    let kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition/whitelistitems.security.portcullis.dev",
            "CustomResourceDefinition/audits.security.portcullis.dev",
            "Namespace/portcullis-system",
            "ServiceAccount/portcullis",
            "ClusterRole/portcullis",
            "ClusterRoleBinding/portcullis",
            "Role/portcullis",
            "RoleBinding/portcullis",
            "ConfigMap/portcullis-config",
            "Secret/portcullis-tls",
            "Service/portcullis",
            "Deployment/portcullis",
            "PodDisruptionBudget/portcullis",
            "WhiteListItem/monitoring",
            "ValidatingWebhookConfiguration/portcullis",
        ]
    );
    for doc in &docs {
        assert_eq!(&round_trip(doc), doc, "{} lost something", doc["kind"]);
    }
    for (manifest, doc) in built.iter().zip(&docs) {
        assert_eq!(&manifest.object, doc, "YAML changed {}", manifest.id());
    }
}

#[test]
fn webhook_configuration_is_exactly_as_specified() {
    let tls = cert::generate("portcullis", DEFAULT_NAMESPACE, NOW).unwrap();
    let built = manifests::build(&full(), &options(TlsSource::Generated(tls.clone()))).unwrap();
    let vwc = &built.last().unwrap().object;
    let hook = &vwc["webhooks"][0];
    let ca = hook["clientConfig"]["caBundle"].as_str().unwrap();
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ca)
            .unwrap(),
        tls.ca_bundle.as_bytes()
    );
    let mut hook = hook.clone();
    hook["clientConfig"]["caBundle"] = json!("CA");
    assert_eq!(
        hook,
        json!({
            "name": "imagecheck.security.portcullis.dev",
            "admissionReviewVersions": ["v1", "v1beta1"],
            "clientConfig": {
                "caBundle": "CA",
                "service": {"name": "portcullis", "namespace": "portcullis-system", "path": "/imagecheck", "port": 443}
            },
            "rules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "Namespaced"},
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["pods/ephemeralcontainers"], "scope": "Namespaced"},
                {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"], "scope": "Namespaced"},
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["cronjobs", "jobs"], "scope": "Namespaced"}
            ],
            "failurePolicy": "Fail",
            "timeoutSeconds": 10,
            "sideEffects": "None",
            "matchPolicy": "Equivalent",
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["dev", "kube-system", "portcullis-system"]}
            ]},
            "objectSelector": {"matchExpressions": [
                {"key": "portcullis.dev/validate", "operator": "NotIn", "values": ["skip"]}
            ]}
        })
    );
}

fn selector_for(webhook: Value) -> Value {
    let mut spec = full();
    spec.webhook_config = serde_json::from_value(webhook).unwrap();
    validate(&spec, DEFAULT_NAMESPACE).unwrap();
    serde_json::to_value(manifests::namespace_selector(&spec, DEFAULT_NAMESPACE)).unwrap()
}

#[test]
fn namespace_selector_implements_include_and_exclude() {
    let never = json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "portcullis-system"]});
    assert_eq!(
        selector_for(json!({"selector": "include", "namespaces": ["*"]})),
        json!({"matchExpressions": [never]})
    );
    assert_eq!(
        selector_for(json!({"selector": "include", "namespaces": ["web", "api"]})),
        json!({"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["api", "web"]},
            never
        ]})
    );
    // A glob can not be matched by a label selector: the server filters it.
    assert_eq!(
        selector_for(json!({"selector": "include", "namespaces": ["web", "team-*"]})),
        json!({"matchExpressions": [never]})
    );
    assert_eq!(
        selector_for(json!({"selector": "exclude", "namespaces": ["legacy", "sandbox-*"]})),
        json!({"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "legacy", "portcullis-system"]}
        ]})
    );
}

#[test]
fn failure_policy_and_timeout_are_configurable_and_a_disabled_webhook_is_left_out() {
    let mut spec = full();
    spec.webhook_config.failure_policy = "Ignore".to_string();
    spec.webhook_config.timeout_seconds = 5;
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let hook = &built.last().unwrap().object["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Ignore");
    assert_eq!(hook["timeoutSeconds"], 5);
    assert_eq!(hook["clientConfig"].get("caBundle"), None);
    assert!(built.iter().all(|m| m.resource.kind != "Secret"));
    spec.webhook_config.enabled = false;
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    assert!(
        built
            .iter()
            .all(|m| m.resource.kind != "ValidatingWebhookConfiguration")
    );
}

#[test]
fn deployment_is_hardened() {
    let built = manifests::build(&full(), &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let d: Deployment = serde_json::from_value(objects["Deployment/portcullis"].clone()).unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("portcullis"));
    let pod_security = pod.security_context.unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(pod.topology_spread_constraints.unwrap().len(), 2);
    let c = &pod.containers[0];
    assert_eq!(
        c.args.clone().unwrap(),
        ["serve", "--config", "/etc/portcullis/config.yaml"]
    );
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    let resources = c.resources.clone().unwrap();
    assert_eq!(resources.requests.unwrap().len(), 2);
    assert_eq!(resources.limits.unwrap().len(), 2);
    let readiness = c.readiness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(readiness.path.as_deref(), Some("/readyz"));
    assert_eq!(readiness.scheme.as_deref(), Some("HTTPS"));
    let liveness = c.liveness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(liveness.path.as_deref(), Some("/healthz"));
    assert_eq!(c.ports.clone().unwrap()[0].container_port, 8443);
    let pdb = &objects["PodDisruptionBudget/portcullis"];
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let service = &objects["Service/portcullis"];
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
}

#[test]
fn rbac_is_least_privilege() {
    let built = manifests::build(&full(), &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    assert_eq!(
        objects["ClusterRole/portcullis"]["rules"],
        json!([
            {"apiGroups": ["security.portcullis.dev"], "resources": ["whitelistitems"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["security.portcullis.dev"], "resources": ["audits"], "verbs": ["create", "update", "patch", "get"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]},
            {"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports", "clusterpolicyreports"], "verbs": ["get", "create", "patch", "update"]}
        ])
    );
    let role = &objects["Role/portcullis"];
    assert_eq!(role["metadata"]["namespace"], "portcullis-system");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
        ])
    );
    assert_eq!(
        objects["RoleBinding/portcullis"]["subjects"],
        json!([{"kind": "ServiceAccount", "name": "portcullis", "namespace": "portcullis-system"}])
    );
}

#[test]
fn config_map_carries_the_server_config_and_the_spec() {
    let spec = full();
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let data = &objects["ConfigMap/portcullis-config"]["data"];
    let config =
        ServerConfig::from_yaml(data["config.yaml"].as_str().unwrap(), "config.yaml").unwrap();
    assert_eq!(config.listen, "0.0.0.0:8443");
    assert_eq!(config.namespace, "portcullis-system");
    assert_eq!(config.policy.id.as_deref(), Some("reject_critical"));
    assert_eq!(config.webhook.namespaces, ["dev", "sandbox-*"]);
    assert_eq!(
        config.webhook.selector,
        portcullis_config::Selector::Exclude
    );
    assert_eq!(config.registries.len(), 2);
    assert_eq!(
        config.registries[1].secret.as_deref(),
        Some("internal-basic")
    );
    assert!(config.registries[1].insecure);
    assert_eq!(config.tls.unwrap().cert, "/etc/portcullis/tls/tls.crt");
    assert!(config.kubernetes);
    assert_eq!(
        config.database.update_interval,
        portcullis_config::Duration::from_secs(3600)
    );
    let kept = parse_spec(data["spec.json"].as_str().unwrap()).unwrap();
    assert_eq!(kept, spec);
    // A custom policy travels inline.
    let mut custom = spec.clone();
    custom.policy.custom_policy = Some(
        serde_json::from_value(json!({"enabled": true, "policy": {"id": "mine", "rules": []}}))
            .unwrap(),
    );
    let config = manifests::server_config(&custom, DEFAULT_NAMESPACE).unwrap();
    assert_eq!(config.policy.id, None);
    assert_eq!(
        config.policy.inline.as_deref(),
        Some(r#"{"id":"mine","rules":[]}"#)
    );
}

#[test]
fn whitelist_items_become_objects() {
    let built = manifests::build(&full(), &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let item = &objects["WhiteListItem/monitoring"];
    assert_eq!(item["apiVersion"], "security.portcullis.dev/v1alpha1");
    assert_eq!(
        item["spec"],
        json!({"reason": "vendor chart, scanned upstream", "creator": "portcullis activate", "regexp": "monitoring-.*"})
    );
}

#[test]
fn full_spec_manifests_snapshot() {
    let built = manifests::build(&full(), &options(TlsSource::External)).unwrap();
    insta::assert_snapshot!(to_yaml(&built).unwrap());
}

fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn default_base() -> Vec<(String, String)> {
    let built = manifests::build(
        &Spec::default(),
        &ManifestOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            image: manifests::default_image(),
            tls: TlsSource::External,
        },
    )
    .unwrap();
    kustomize_files(&built).unwrap()
}

#[test]
fn deploy_base_is_in_sync_with_the_default_spec() {
    for (name, content) in default_base() {
        let path = repo_root().join("deploy").join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == content,
            "{} is out of date: regenerate with `cargo run -p portcullis-cli -- manifests --kustomize deploy`",
            path.display()
        );
    }
}

#[test]
fn kubectl_kustomize_renders_the_base() {
    let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| panic!("the test needs kubectl (Debian package kubernetes-client)"));
    let output = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(repo_root().join("deploy"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered = parse_yaml_documents(&String::from_utf8(output.stdout).unwrap()).unwrap();
    let (_, committed) = default_base().into_iter().nth(1).unwrap();
    let expected = parse_yaml_documents(&committed).unwrap();
    assert_eq!(rendered.len(), expected.len());
    // kustomize writes the float `minimum: 0.0` of a CRD schema as `0`: compare numbers by value.
    let normal = |docs: &[Value]| by_kind(&docs.iter().map(whole_numbers).collect::<Vec<_>>());
    assert_eq!(normal(&rendered), normal(&expected));
}

/// `value` with every float that is a whole number written as an integer.
fn whole_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(whole_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), whole_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn notification_receivers_get_their_secrets_mounted() {
    let mut value: Value = serde_json::from_str(&spec_text("full.json")).unwrap();
    value["spec"]["notifications"] = json!([
        {"name": "hook", "url": "https://hooks.example/portcullis", "secretName": "notify-hmac",
         "events": ["new_findings"], "minSeverity": "high"},
        {"name": "chat", "url": "https://hooks.slack.example/T0", "format": "slack"},
        {"name": "audit", "url": "https://audit.example/in", "secretName": "notify-hmac", "secretKey": "other"}
    ]);
    let spec = parse_spec(&value.to_string()).unwrap();
    validate(&spec, DEFAULT_NAMESPACE).unwrap();
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let data = &objects["ConfigMap/portcullis-config"]["data"];
    let config =
        ServerConfig::from_yaml(data["config.yaml"].as_str().unwrap(), "config.yaml").unwrap();
    let files: Vec<Option<String>> = config
        .notifications
        .iter()
        .map(|n| n.secret_file.clone())
        .collect();
    assert_eq!(
        files,
        [
            Some("/etc/portcullis/notifications/notify-hmac/hmac-key".to_string()),
            None,
            Some("/etc/portcullis/notifications/notify-hmac/other".to_string()),
        ]
    );
    assert_eq!(
        config.notifications[0].min_severity.as_deref(),
        Some("high")
    );
    assert_eq!(config.notifications[1].format, "slack");
    // One read-only volume per distinct Secret, mounted where the config points.
    let pod = &objects["Deployment/portcullis"]["spec"]["template"]["spec"];
    let volumes: Vec<&Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"].as_str().unwrap().starts_with("notify-"))
        .collect();
    assert_eq!(
        volumes,
        [&json!({"name": "notify-0", "secret": {"secretName": "notify-hmac"}})]
    );
    let mounts: Vec<&Value> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "notify-0")
        .collect();
    assert_eq!(
        mounts,
        [
            &json!({"name": "notify-0", "mountPath": "/etc/portcullis/notifications/notify-hmac", "readOnly": true})
        ]
    );

    // Every problem at once.
    value["spec"]["notifications"] = json!([
        {"name": "Bad Name", "url": "ftp://x", "secretName": "UPPER", "secretKey": "a/b",
         "events": ["everything"], "minSeverity": "dire", "format": "xml"},
        {"name": "ok", "url": "https://x"},
        {"name": "ok", "url": "https://y"}
    ]);
    let spec = parse_spec(&value.to_string()).unwrap();
    let err = validate(&spec, DEFAULT_NAMESPACE).unwrap_err();
    let fields: Vec<String> = err.problems().iter().map(|p| p.field.clone()).collect();
    assert_eq!(
        fields,
        [
            "notifications[0].name",
            "notifications[0].url",
            "notifications[0].secretName",
            "notifications[0].secretKey",
            "notifications[0].events",
            "notifications[0].minSeverity",
            "notifications[0].format",
            "notifications[2].name",
        ]
    );
}

fn with_builder(schedule: &str, secret: Option<&str>, insecure: bool) -> Spec {
    let mut spec = full();
    spec.database = Some(portcullis_lifecycle::DatabaseSpec {
        repository: "registry.internal:5000/portcullis/db:latest".to_string(),
        secret_id: secret.map(str::to_string),
        insecure,
    });
    spec.builder = Some(portcullis_lifecycle::BuilderSpec {
        schedule: schedule.to_string(),
    });
    validate(&spec, DEFAULT_NAMESPACE).unwrap();
    spec
}

#[test]
fn the_builder_cron_job_builds_then_pushes_with_the_registry_credentials() {
    let spec = with_builder("0 */6 * * *", Some("db-push"), true);
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let object = objects["CronJob/portcullis-db-builder"].clone();
    // Every field survives the typed struct.
    assert_eq!(whole_numbers(&round_trip(&object)), whole_numbers(&object));
    let cron: k8s_openapi::api::batch::v1::CronJob = serde_json::from_value(object).unwrap();
    assert_eq!(cron.metadata.namespace.as_deref(), Some(DEFAULT_NAMESPACE));
    let spec = cron.spec.unwrap();
    assert_eq!(spec.schedule, "0 */6 * * *");
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
    let pod_security = pod.security_context.unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(pod_security.run_as_user, Some(65532));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let build = &pod.init_containers.unwrap()[0];
    let push = &pod.containers[0];
    assert_eq!(pod.containers.len(), 1);
    assert_eq!(
        build.image.as_deref(),
        Some("ghcr.io/portcullis/portcullis:test")
    );
    assert_eq!(
        push.image.as_deref(),
        Some("ghcr.io/portcullis/portcullis:test")
    );
    assert!(build.command.is_none() && push.command.is_none());
    assert_eq!(
        build.args.clone().unwrap(),
        ["db", "build", "-o", "/work/db.sqlite"]
    );
    // Every 6 hours: the next build is expected within 12.
    assert_eq!(
        push.args.clone().unwrap(),
        [
            "db",
            "push",
            "registry.internal:5000/portcullis/db:latest",
            "--next-update",
            "12h",
            "--db",
            "/work/db.sqlite",
            "--insecure"
        ]
    );
    for container in [build, push] {
        let sc = container.security_context.clone().unwrap();
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    }
    let mounts = |c: &k8s_openapi::api::core::v1::Container| -> Vec<(String, String, bool)> {
        c.volume_mounts
            .clone()
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.mount_path, m.read_only.unwrap_or(false)))
            .collect()
    };
    let owned = |v: &[(&str, &str, bool)]| -> Vec<(String, String, bool)> {
        v.iter()
            .map(|(n, p, r)| ((*n).to_string(), (*p).to_string(), *r))
            .collect()
    };
    assert_eq!(
        mounts(build),
        owned(&[("work", "/work", false), ("tmp", "/tmp", false)])
    );
    assert_eq!(
        mounts(push),
        owned(&[
            ("work", "/work", false),
            ("tmp", "/tmp", false),
            ("docker-config", "/etc/portcullis/docker", true)
        ])
    );
    let env: Vec<(String, String)> = push
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert!(env.contains(&(
        "DOCKER_CONFIG".to_string(),
        "/etc/portcullis/docker".to_string()
    )));
    let volumes = pod.volumes.unwrap();
    let names: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["work", "tmp", "docker-config"]);
    assert!(volumes[0].empty_dir.is_some() && volumes[1].empty_dir.is_some());
    let secret = volumes[2].secret.clone().unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("db-push"));
    let item = &secret.items.unwrap()[0];
    assert_eq!(
        (item.key.as_str(), item.path.as_str()),
        (".dockerconfigjson", "config.json")
    );
}

#[test]
fn without_a_secret_the_builder_mounts_no_credentials_and_next_update_follows_the_schedule() {
    let spec = with_builder("30 2 * * *", None, false);
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let objects = by_kind(&built.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
    let pod = &objects["CronJob/portcullis-db-builder"]["spec"]["jobTemplate"]["spec"]["template"]
        ["spec"];
    assert_eq!(pod["volumes"].as_array().unwrap().len(), 2);
    let push = &pod["containers"][0];
    assert_eq!(
        push["args"],
        json!([
            "db",
            "push",
            "registry.internal:5000/portcullis/db:latest",
            "--next-update",
            "48h",
            "--db",
            "/work/db.sqlite"
        ])
    );
    assert!(
        push["env"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "DOCKER_CONFIG")
    );
    assert_eq!(manifests::builder_next_update("*/15 * * * *"), "30m");
    assert_eq!(manifests::builder_next_update("5 * * * *"), "2h");
    assert_eq!(manifests::builder_next_update("0 3 * * 0"), "336h");
    assert_eq!(manifests::builder_next_update("0 3 1,15 * *"), "24h");
    // No builder in the spec: no CronJob.
    let built = manifests::build(&full(), &options(TlsSource::External)).unwrap();
    assert!(built.iter().all(|m| m.resource.kind != "CronJob"));
}

#[test]
fn image_comes_from_the_flag_then_the_spec_then_the_default() {
    let mut spec = parse_spec(r#"{"policy": {"policyId": "block_root"}}"#).unwrap();
    assert_eq!(
        manifests::image_for(None, &spec),
        format!(
            "ghcr.io/portcullis/portcullis:v{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    spec = parse_spec(
        r#"{"policy": {"policyId": "block_root"}, "image": "registry.example/portcullis:1"}"#,
    )
    .unwrap();
    assert_eq!(
        manifests::image_for(None, &spec),
        "registry.example/portcullis:1"
    );
    assert_eq!(
        manifests::image_for(Some("other.example/p:2"), &spec),
        "other.example/p:2"
    );
    // The spec's image is what the Deployment runs.
    let built = manifests::build(
        &spec,
        &ManifestOptions {
            image: manifests::image_for(None, &spec),
            ..options(TlsSource::External)
        },
    )
    .unwrap();
    let yaml = to_yaml(&built).unwrap();
    assert!(
        yaml.contains("image: registry.example/portcullis:1\n"),
        "{yaml}"
    );
}

#[test]
fn an_enabled_engine_configures_remote_mode_and_mounts_its_token() {
    let spec = parse_spec(
        r#"{"policy": {"policyId": "block_root"},
            "engine": {"enabled": true, "url": "https://central.example:8443", "secretId": "engine-token"}}"#,
    )
    .unwrap();
    validate(&spec, DEFAULT_NAMESPACE).unwrap();
    let config = manifests::server_config(&spec, DEFAULT_NAMESPACE).unwrap();
    assert_eq!(
        config.engine.url.as_deref(),
        Some("https://central.example:8443")
    );
    assert_eq!(
        config.engine.token_file.as_deref(),
        Some("/etc/portcullis/engine/token")
    );
    assert!(!config.engine.insecure);
    let built = manifests::build(&spec, &options(TlsSource::External)).unwrap();
    let yaml = to_yaml(&built).unwrap();
    let docs = parse_yaml_documents(&yaml).unwrap();
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "engine", "secret": {"secretName": "engine-token"}})),
        "{pod:#}"
    );
    assert!(
        pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .contains(
                &json!({"name": "engine", "mountPath": "/etc/portcullis/engine", "readOnly": true})
            ),
        "{pod:#}"
    );
    // Disabled: nothing of it in the configuration or the Deployment.
    let off = parse_spec(
        r#"{"policy": {"policyId": "block_root"}, "engine": {"enabled": false, "url": "https://x", "secretId": "t"}}"#,
    )
    .unwrap();
    assert!(
        manifests::server_config(&off, DEFAULT_NAMESPACE)
            .unwrap()
            .engine
            .is_off()
    );
    let yaml = to_yaml(&manifests::build(&off, &options(TlsSource::External)).unwrap()).unwrap();
    assert!(!yaml.contains("/etc/portcullis/engine"), "{yaml}");
}
