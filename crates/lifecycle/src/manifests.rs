//! Every object an install consists of, built from a validated [`Spec`], in the order they
//! are applied: CRDs, Namespace, ServiceAccount and RBAC, ConfigMap, TLS Secret, Service,
//! Deployment, PodDisruptionBudget, the database builder CronJob (with `builder`), WhiteListItems, and last the webhook configuration (so
//! the API server calls the webhook only once it runs).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration,
    WebhookClientConfig,
};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, HTTPGetAction, KeyToPath, Namespace, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, Secret, SecretVolumeSource, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResourceExt;
use portcullis_config::{
    DatabaseConfig, PolicyConfig, RegistryConfig, Selector, ServerConfig, TlsConfig,
    UnknownImageAction, WebhookConfig,
};
use portcullis_k8s::{Audit, WhiteListItem, WhiteListItemSpec};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::cert::TlsMaterial;
use crate::error::{Error, ErrorKind, Result};
use crate::resources::{self, ResourceType};
use crate::spec::Spec;
use crate::validate::{KUBE_SYSTEM, custom_policy, is_glob};

/// The name of the Deployment, Service, ServiceAccount, RBAC objects and webhook.
pub const NAME: &str = "portcullis";
/// The ConfigMap holding `config.yaml` (the server config) and `spec.json` (the spec).
pub const CONFIG_MAP_NAME: &str = "portcullis-config";
/// The TLS Secret (`tls.crt`, `tls.key`, `ca.crt`).
pub const TLS_SECRET_NAME: &str = "portcullis-tls";
/// The webhook's name inside the configuration.
pub const WEBHOOK_NAME: &str = "imagecheck.security.portcullis.dev";
/// The label marking workloads the webhook skips (value `skip`).
pub const SKIP_LABEL: &str = "portcullis.dev/validate";
/// The label every installed object carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "portcullis");
/// Where the config is mounted in the pod.
pub const CONFIG_PATH: &str = "/etc/portcullis/config.yaml";
/// The port the server listens on.
pub const SERVER_PORT: i32 = 8443;
/// The CronJob that builds and pushes the database (`builder` in the spec).
pub const BUILDER_NAME: &str = "portcullis-db-builder";
/// Where the builder's registry credentials (`database.secretId`, a dockerconfigjson
/// Secret) are mounted: `DOCKER_CONFIG` names this folder, which holds `config.json`.
pub const BUILDER_DOCKER_CONFIG: &str = "/etc/portcullis/docker";
/// The annotation on the pod template holding the hash of the config (rolls pods on change).
pub const CONFIG_HASH_ANNOTATION: &str = "portcullis.dev/config-hash";

/// The image to run: `flag` (`--image`), else the spec's `image`, else [`default_image`].
pub fn image_for(flag: Option<&str>, spec: &Spec) -> String {
    flag.map(str::to_string)
        .or_else(|| spec.image.clone())
        .unwrap_or_else(default_image)
}

/// The image run unless told otherwise.
pub fn default_image() -> String {
    format!(
        "ghcr.io/portcullis/portcullis:v{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Where the webhook's TLS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Certificates made (or kept) by the installer: the Secret is emitted and the CA bundle
    /// is set in the webhook configuration.
    Generated(TlsMaterial),
    /// Supplied from outside (GitOps: a secret store or cert-manager): no Secret is emitted
    /// and `caBundle` is left for the operator to fill in.
    External,
}

/// How to build the manifests.
#[derive(Debug, Clone)]
pub struct ManifestOptions {
    /// The install namespace.
    pub namespace: String,
    /// The container image.
    pub image: String,
    /// The TLS material.
    pub tls: TlsSource,
}

/// One object of the install.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// What kind of object it is.
    pub resource: ResourceType,
    /// Its name.
    pub name: String,
    /// Its namespace (namespaced kinds only).
    pub namespace: Option<String>,
    /// The object as JSON (with `apiVersion` and `kind`).
    pub object: Value,
}

impl Manifest {
    /// A manifest of `resource` from a JSON object (`metadata.name`, maybe
    /// `metadata.namespace`).
    pub fn from_value(resource: ResourceType, object: Value) -> Self {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        Self {
            resource,
            name,
            namespace,
            object,
        }
    }

    fn new<T: Serialize>(resource: ResourceType, object: &T) -> Result<Self> {
        let object = serde_json::to_value(object).map_err(|e| {
            Error::new(
                ErrorKind::Syntax,
                format!("serialising a {}: {e}", resource.kind),
            )
        })?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        Ok(Self {
            resource,
            name,
            namespace,
            object,
        })
    }

    /// `Kind/name` (`Deployment/portcullis`).
    pub fn id(&self) -> String {
        format!("{}/{}", self.resource.kind, self.name)
    }
}

/// The common labels of every object.
pub fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), NAME.to_string()),
        ("app.kubernetes.io/part-of".to_string(), NAME.to_string()),
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
    ])
}

/// The labels selecting the server's pods.
pub fn selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), NAME.to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            "server".to_string(),
        ),
    ])
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_string()).collect())
}

/// The server configuration the ConfigMap carries for `spec`.
pub fn server_config(spec: &Spec, namespace: &str) -> Result<ServerConfig> {
    let policy = policy_config(spec)?;
    let update_interval = portcullis_config::parse_duration(&spec.update_interval)
        .map_err(|e| Error::new(ErrorKind::Invalid, format!("updateInterval: {e}")))?;
    Ok(ServerConfig {
        listen: format!("0.0.0.0:{SERVER_PORT}"),
        tls: Some(TlsConfig {
            cert: "/etc/portcullis/tls/tls.crt".to_string(),
            key: "/etc/portcullis/tls/tls.key".to_string(),
        }),
        plain_http: false,
        namespace: namespace.to_string(),
        database: DatabaseConfig {
            path: Some("/var/lib/portcullis/db.sqlite".to_string()),
            update_interval,
            repository: spec.database.as_ref().map(|d| d.repository.clone()),
            secret_name: spec.database.as_ref().and_then(|d| d.secret_id.clone()),
            insecure: spec.database.as_ref().is_some_and(|d| d.insecure),
            ..DatabaseConfig::default()
        },
        policy,
        webhook: WebhookConfig {
            enabled: spec.webhook_config.enabled,
            selector: if spec.webhook_config.selector == "exclude" {
                Selector::Exclude
            } else {
                Selector::Include
            },
            namespaces: spec.webhook_config.namespaces.clone(),
        },
        unknown_image_action: if spec.unknown_image_action == "allow" {
            UnknownImageAction::Allow
        } else {
            UnknownImageAction::Reject
        },
        registries: spec
            .all_registries()
            .map(|r| RegistryConfig {
                registry: r.registry.clone(),
                secret: Some(r.secret_id.clone()),
                insecure: r.insecure,
            })
            .collect(),
        kubernetes: true,
        engine: spec.engine_config(),
        notifications: spec
            .notifications
            .iter()
            .map(|n| portcullis_config::NotificationConfig {
                name: n.name.clone(),
                url: n.url.clone(),
                secret_file: n.secret_file(),
                events: n.events.clone(),
                min_severity: n.min_severity.clone(),
                format: n.format.clone(),
            })
            .collect(),
        ..ServerConfig::default()
    })
}

/// The policy part of the server configuration: a built-in id alone, or one policy-set
/// document (JSON) holding every custom policy (`policies`, and the enabled
/// `customPolicy`, which is then the default) with `policyId` as the default.
fn policy_config(spec: &Spec) -> Result<PolicyConfig> {
    let custom = match spec.policy.enabled_custom() {
        Some(document) => Some(custom_policy(document).map_err(|e| {
            Error::new(
                ErrorKind::Invalid,
                format!("policy.customPolicy.policy: {e}"),
            )
        })?),
        None => None,
    };
    if spec.policies.is_empty() {
        // One policy at most: the id, or the custom document as it was given.
        return Ok(match (custom, spec.policy.enabled_custom()) {
            (Some(_), Some(document)) => PolicyConfig {
                id: None,
                file: None,
                inline: Some(match document {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }),
            },
            _ => PolicyConfig {
                id: spec.policy.policy_id.clone(),
                file: None,
                inline: None,
            },
        });
    }
    let mut problems = crate::validate::Problems(Vec::new());
    let mut set = crate::validate::check_policies(&spec.policies, &mut problems);
    if !problems.0.is_empty() {
        return Err(Error::invalid(problems.0));
    }
    set.default_policy = match custom {
        Some(policy) => {
            let id = policy.id.clone();
            set.policies.retain(|p| p.id != id);
            set.policies.push(policy);
            id
        }
        None => spec
            .policy
            .policy_id
            .clone()
            .unwrap_or_else(|| "allow_all_and_warn".to_string()),
    };
    let document = portcullis_policy::set_to_string(&set, portcullis_policy::Format::Json)
        .map_err(|e| Error::new(ErrorKind::Invalid, format!("policies: {e}")))?;
    Ok(PolicyConfig {
        id: None,
        file: None,
        inline: Some(document),
    })
}

/// Every object of the install for `spec` (validate it first), in apply order.
pub fn build(spec: &Spec, options: &ManifestOptions) -> Result<Vec<Manifest>> {
    let ns = options.namespace.as_str();
    let mut out = Vec::new();
    for mut crd in [WhiteListItem::crd(), Audit::crd()] {
        crd.metadata.labels = Some(labels());
        out.push(Manifest::new(resources::CRD, &crd)?);
    }
    out.push(Manifest::new(resources::NAMESPACE, &namespace(ns))?);
    out.push(Manifest::new(
        resources::SERVICE_ACCOUNT,
        &ServiceAccount {
            metadata: meta(NAME, Some(ns)),
            ..ServiceAccount::default()
        },
    )?);
    let (cluster_role, cluster_binding, role, binding) = rbac(ns);
    out.push(Manifest::new(resources::CLUSTER_ROLE, &cluster_role)?);
    out.push(Manifest::new(
        resources::CLUSTER_ROLE_BINDING,
        &cluster_binding,
    )?);
    out.push(Manifest::new(resources::ROLE, &role)?);
    out.push(Manifest::new(resources::ROLE_BINDING, &binding)?);
    let server = server_config(spec, ns)?;
    let config = server.to_yaml();
    let config_hash = config_hash(&server);
    out.push(Manifest::new(
        resources::CONFIG_MAP,
        &ConfigMap {
            metadata: meta(CONFIG_MAP_NAME, Some(ns)),
            data: Some(BTreeMap::from([
                ("config.yaml".to_string(), config),
                ("spec.json".to_string(), spec.to_json()),
            ])),
            ..ConfigMap::default()
        },
    )?);
    if let TlsSource::Generated(tls) = &options.tls {
        out.push(Manifest::new(resources::SECRET, &tls_secret(ns, tls))?);
    }
    out.push(Manifest::new(resources::SERVICE, &service(ns))?);
    out.push(Manifest::new(
        resources::DEPLOYMENT,
        &deployment(ns, &options.image, &config_hash, &secret_mounts(spec)),
    )?);
    out.push(Manifest::new(resources::PDB, &pdb(ns))?);
    if let Some(cron) = builder(spec, ns, &options.image) {
        out.push(Manifest::new(resources::CRON_JOB, &cron)?);
    }
    for item in &spec.release_white_list {
        let mut object = WhiteListItem::new(
            &item.name,
            WhiteListItemSpec {
                reason: item.reason.clone(),
                creator: Some("portcullis activate".to_string()),
                regexp: item.regexp.clone(),
            },
        );
        object.metadata.labels = Some(labels());
        out.push(Manifest::new(resources::WHITELIST_ITEM, &object)?);
    }
    if spec.webhook_config.enabled {
        let ca_bundle = match &options.tls {
            TlsSource::Generated(tls) => Some(tls.ca_bundle.as_bytes()),
            TlsSource::External => None,
        };
        out.push(Manifest::new(
            resources::WEBHOOK,
            &webhook(spec, ns, ca_bundle),
        )?);
    }
    Ok(out)
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn namespace(ns: &str) -> Namespace {
    let mut metadata = meta(ns, None);
    if let Some(labels) = metadata.labels.as_mut() {
        // Restricted Pod Security: the server needs nothing more.
        labels.insert(
            "pod-security.kubernetes.io/enforce".to_string(),
            "restricted".to_string(),
        );
    }
    Namespace {
        metadata,
        ..Namespace::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: strings(verbs).unwrap_or_default(),
        ..PolicyRule::default()
    }
}

fn subject(ns: &str) -> Option<Vec<Subject>> {
    Some(vec![Subject {
        kind: "ServiceAccount".to_string(),
        name: NAME.to_string(),
        namespace: Some(ns.to_string()),
        ..Subject::default()
    }])
}

/// Least privilege: WhiteListItems read and watched, Audits written, Namespaces read,
/// Pods read and watched (the inventory of what runs) with their ReplicaSet and Job owners
/// read, PolicyReports and ClusterPolicyReports written, cluster-wide; Secrets read and the
/// leader-election Lease written in the install namespace only.
fn rbac(ns: &str) -> (ClusterRole, ClusterRoleBinding, Role, RoleBinding) {
    let group = portcullis_k8s::GROUP;
    let cluster_role = ClusterRole {
        metadata: meta(NAME, None),
        rules: Some(vec![
            rule(&[group], &["whitelistitems"], &["get", "list", "watch"]),
            rule(&[group], &["audits"], &["create", "update", "patch", "get"]),
            rule(&[""], &["namespaces"], &["get", "list", "watch"]),
            rule(&[""], &["pods"], &["get", "list", "watch"]),
            rule(&["apps"], &["replicasets"], &["get"]),
            rule(&["batch"], &["jobs"], &["get"]),
            rule(
                &["wgpolicyk8s.io"],
                &["policyreports", "clusterpolicyreports"],
                &["get", "create", "patch", "update"],
            ),
        ]),
        ..ClusterRole::default()
    };
    let cluster_binding = ClusterRoleBinding {
        metadata: meta(NAME, None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: NAME.to_string(),
        },
        subjects: subject(ns),
    };
    let role = Role {
        metadata: meta(NAME, Some(ns)),
        rules: Some(vec![
            rule(&[""], &["secrets"], &["get", "list", "watch"]),
            rule(
                &["coordination.k8s.io"],
                &["leases"],
                &["get", "create", "update"],
            ),
        ]),
    };
    let binding = RoleBinding {
        metadata: meta(NAME, Some(ns)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: NAME.to_string(),
        },
        subjects: subject(ns),
    };
    (cluster_role, cluster_binding, role, binding)
}

fn tls_secret(ns: &str, tls: &TlsMaterial) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Secret {
        metadata: meta(TLS_SECRET_NAME, Some(ns)),
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_string(), bytes(&tls.ca_bundle)),
            ("tls.crt".to_string(), bytes(&tls.cert)),
            ("tls.key".to_string(), bytes(&tls.key)),
        ])),
        ..Secret::default()
    }
}

fn service(ns: &str) -> Service {
    Service {
        metadata: meta(NAME, Some(ns)),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some("https".to_string()),
                port: 443,
                target_port: Some(IntOrString::String("https".to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("https".to_string()),
            scheme: Some("HTTPS".to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> Option<BTreeMap<String, Quantity>> {
    Some(BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ]))
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn spread(topology_key: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: topology_key.to_string(),
        when_unsatisfiable: "ScheduleAnyway".to_string(),
        label_selector: Some(LabelSelector {
            match_labels: Some(selector_labels()),
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    }
}

/// The hash that rolls the Deployment when its configuration changes: of everything but
/// `policy`, which the server reloads from the ConfigMap without a restart (so a policy
/// change does not restart the pods).
pub fn config_hash(config: &ServerConfig) -> String {
    let mut rolled = config.clone();
    rolled.policy = portcullis_config::PolicyConfig::default();
    hex_sha256(rolled.to_yaml().as_bytes())
}

/// A Secret mounted read-only into the server: (volume name, Secret name, mount path).
type SecretMount = (String, String, String);

/// The Secrets the server reads: each notification receiver's (distinct, sorted), then the
/// remote engine's token.
fn secret_mounts(spec: &Spec) -> Vec<SecretMount> {
    let set: std::collections::BTreeSet<String> = spec
        .notifications
        .iter()
        .filter_map(|n| n.secret_name.clone())
        .collect();
    let mut mounts: Vec<SecretMount> = set
        .into_iter()
        .enumerate()
        .map(|(i, secret)| {
            let path = format!("{}/{secret}", crate::spec::NOTIFICATION_SECRETS_DIR);
            (format!("notify-{i}"), secret, path)
        })
        .collect();
    if let Some(secret) = spec.engine_secret() {
        mounts.push((
            "engine".to_string(),
            secret.to_string(),
            crate::spec::ENGINE_SECRET_DIR.to_string(),
        ));
    }
    mounts
}

/// The pods' security context: the image's non-root user (65532), default seccomp.
fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(65532),
        run_as_group: Some(65532),
        fs_group: Some(65532),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

fn deployment(ns: &str, image: &str, config_hash: &str, secrets: &[SecretMount]) -> Deployment {
    let mut pod_labels = labels();
    pod_labels.extend(selector_labels());
    let container = Container {
        name: "server".to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        args: strings(&["serve", "--config", CONFIG_PATH]),
        ports: Some(vec![ContainerPort {
            name: Some("https".to_string()),
            container_port: SERVER_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz", 5)),
        liveness_probe: Some(probe("/healthz", 10)),
        resources: Some(ResourceRequirements {
            requests: quantities("100m", "128Mi"),
            limits: quantities("1", "512Mi"),
            ..ResourceRequirements::default()
        }),
        security_context: Some(restricted()),
        volume_mounts: Some(
            vec![
                mount("config", "/etc/portcullis", true),
                mount("tls", "/etc/portcullis/tls", true),
                mount("data", "/var/lib/portcullis", false),
                mount("tmp", "/tmp", false),
            ]
            .into_iter()
            .chain(
                secrets
                    .iter()
                    .map(|(volume, _, path)| mount(volume, path, true)),
            )
            .collect(),
        ),
        ..Container::default()
    };
    let empty_dir = |name: &str| Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    Deployment {
        metadata: meta(NAME, Some(ns)),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_string(),
                        config_hash.to_string(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(NAME.to_string()),
                    security_context: Some(pod_security_context()),
                    containers: vec![container],
                    topology_spread_constraints: Some(vec![
                        spread("kubernetes.io/hostname"),
                        spread("topology.kubernetes.io/zone"),
                    ]),
                    volumes: Some(
                        vec![
                            Volume {
                                name: "config".to_string(),
                                config_map: Some(ConfigMapVolumeSource {
                                    name: CONFIG_MAP_NAME.to_string(),
                                    ..ConfigMapVolumeSource::default()
                                }),
                                ..Volume::default()
                            },
                            Volume {
                                name: "tls".to_string(),
                                secret: Some(SecretVolumeSource {
                                    secret_name: Some(TLS_SECRET_NAME.to_string()),
                                    ..SecretVolumeSource::default()
                                }),
                                ..Volume::default()
                            },
                            empty_dir("data"),
                            empty_dir("tmp"),
                        ]
                        .into_iter()
                        .chain(secrets.iter().map(|(volume, secret, _)| Volume {
                            name: volume.clone(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(secret.clone()),
                                ..SecretVolumeSource::default()
                            }),
                            ..Volume::default()
                        }))
                        .collect(),
                    ),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// How long clients should wait for the next build of a `schedule`: twice its interval
/// when the expression has a simple period (every N minutes or hours, daily, weekly), else
/// 24 h.
pub fn builder_next_update(schedule: &str) -> String {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let fixed = |f: &str| f.parse::<u32>().is_ok();
    let every = |f: &str| f.strip_prefix("*/").and_then(|n| n.parse::<u64>().ok());
    let minutes: Option<u64> = match fields.as_slice() {
        [m, "*", "*", "*", "*"] => every(m).or_else(|| fixed(m).then_some(60)),
        [m, h, "*", "*", "*"] if fixed(m) => every(h)
            .map(|n| n * 60)
            .or_else(|| fixed(h).then_some(24 * 60)),
        [m, h, "*", "*", d] if fixed(m) && fixed(h) && fixed(d) => Some(7 * 24 * 60),
        _ => None,
    };
    match minutes.filter(|m| *m > 0).map(|m| m * 2) {
        Some(m) if m % 60 == 0 => format!("{}h", m / 60),
        Some(m) => format!("{m}m"),
        None => "24h".to_string(),
    }
}

/// A container security context with no privileges: non-root, read-only root filesystem,
/// every capability dropped.
fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: strings(&["ALL"]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// The CronJob of `builder`: an init container builds the database into an emptyDir, the
/// container pushes it to `database.repository` (the image has no shell to chain them).
fn builder(spec: &Spec, ns: &str, image: &str) -> Option<CronJob> {
    let schedule = &spec.builder.as_ref()?.schedule;
    let database = spec.database.as_ref()?;
    let db_file = "/work/db.sqlite";
    let security = restricted();
    let env = |docker: bool| {
        let mut vars = vec![EnvVar {
            name: "HOME".to_string(),
            value: Some("/work".to_string()),
            ..EnvVar::default()
        }];
        if docker {
            vars.push(EnvVar {
                name: "DOCKER_CONFIG".to_string(),
                value: Some(BUILDER_DOCKER_CONFIG.to_string()),
                ..EnvVar::default()
            });
        }
        Some(vars)
    };
    let mut push_args = vec![
        "db".to_string(),
        "push".to_string(),
        database.repository.clone(),
        "--next-update".to_string(),
        builder_next_update(schedule),
        "--db".to_string(),
        db_file.to_string(),
    ];
    if database.insecure {
        push_args.push("--insecure".to_string());
    }
    let mut push_mounts = vec![mount("work", "/work", false), mount("tmp", "/tmp", false)];
    let mut volumes = vec![
        Volume {
            name: "work".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        Volume {
            name: "tmp".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    if let Some(secret) = &database.secret_id {
        push_mounts.push(mount("docker-config", BUILDER_DOCKER_CONFIG, true));
        volumes.push(Volume {
            name: "docker-config".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(vec![KeyToPath {
                    key: ".dockerconfigjson".to_string(),
                    path: "config.json".to_string(),
                    ..KeyToPath::default()
                }]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    let container =
        |name: &str, args: Vec<String>, mounts: Vec<VolumeMount>, docker: bool| Container {
            name: name.to_string(),
            image: Some(image.to_string()),
            image_pull_policy: Some("IfNotPresent".to_string()),
            args: Some(args),
            env: env(docker),
            resources: Some(ResourceRequirements {
                requests: quantities("100m", "256Mi"),
                limits: quantities("1", "1Gi"),
                ..ResourceRequirements::default()
            }),
            security_context: Some(security.clone()),
            volume_mounts: Some(mounts),
            ..Container::default()
        };
    let build = container(
        "build",
        ["db", "build", "-o", db_file]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        vec![mount("work", "/work", false), mount("tmp", "/tmp", false)],
        false,
    );
    let has_secret = database.secret_id.is_some();
    let push = container("push", push_args, push_mounts, has_secret);
    let mut pod_labels = labels();
    pod_labels.insert(
        "app.kubernetes.io/component".to_string(),
        "db-builder".to_string(),
    );
    Some(CronJob {
        metadata: meta(BUILDER_NAME, Some(ns)),
        spec: Some(CronJobSpec {
            schedule: schedule.clone(),
            concurrency_policy: Some("Forbid".to_string()),
            successful_jobs_history_limit: Some(1),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(pod_labels),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(PodSpec {
                            restart_policy: Some("OnFailure".to_string()),
                            automount_service_account_token: Some(false),
                            security_context: Some(pod_security_context()),
                            init_containers: Some(vec![build]),
                            containers: vec![push],
                            volumes: Some(volumes),
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    })
}

fn pdb(ns: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(NAME, Some(ns)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

fn webhook_rule(group: &str, operations: &[&str], resources: &[&str]) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: strings(&[group]),
        api_versions: strings(&["v1"]),
        operations: strings(operations),
        resources: strings(resources),
        scope: Some("Namespaced".to_string()),
    }
}

fn requirement(operator: &str, values: Vec<String>) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: "kubernetes.io/metadata.name".to_string(),
        operator: operator.to_string(),
        values: Some(values),
    }
}

/// The namespace selector for `spec`: exact names are matched by the API server with the
/// `kubernetes.io/metadata.name` label; globs can not be, so their filtering is left to the
/// server (which reads the same list). `kube-system` and `ns` are always excluded.
pub fn namespace_selector(spec: &Spec, ns: &str) -> LabelSelector {
    let names = &spec.webhook_config.namespaces;
    let mut never: Vec<String> = vec![KUBE_SYSTEM.to_string(), ns.to_string()];
    let mut expressions = Vec::new();
    let exact: Vec<String> = names.iter().filter(|n| !is_glob(n)).cloned().collect();
    if spec.webhook_config.selector == "exclude" {
        never.extend(exact);
    } else if !exact.is_empty() && exact.len() == names.len() {
        let mut exact = exact;
        exact.sort();
        exact.dedup();
        expressions.push(requirement("In", exact));
    }
    never.sort();
    never.dedup();
    expressions.push(requirement("NotIn", never));
    LabelSelector {
        match_expressions: Some(expressions),
        ..LabelSelector::default()
    }
}

fn webhook(spec: &Spec, ns: &str, ca_bundle: Option<&[u8]>) -> ValidatingWebhookConfiguration {
    let config = &spec.webhook_config;
    ValidatingWebhookConfiguration {
        metadata: meta(NAME, None),
        webhooks: Some(vec![ValidatingWebhook {
            name: WEBHOOK_NAME.to_string(),
            admission_review_versions: vec!["v1".to_string(), "v1beta1".to_string()],
            client_config: WebhookClientConfig {
                ca_bundle: ca_bundle.map(|b| ByteString(b.to_vec())),
                service: Some(ServiceReference {
                    name: NAME.to_string(),
                    namespace: ns.to_string(),
                    path: Some("/imagecheck".to_string()),
                    port: Some(443),
                }),
                url: None,
            },
            rules: Some(vec![
                webhook_rule("", &["CREATE"], &["pods"]),
                webhook_rule("", &["UPDATE"], &["pods/ephemeralcontainers"]),
                webhook_rule(
                    "apps",
                    &["CREATE", "UPDATE"],
                    &["daemonsets", "deployments", "replicasets", "statefulsets"],
                ),
                webhook_rule("batch", &["CREATE", "UPDATE"], &["cronjobs", "jobs"]),
            ]),
            failure_policy: Some(config.failure_policy.clone()),
            timeout_seconds: Some(config.timeout_seconds),
            side_effects: "None".to_string(),
            match_policy: Some("Equivalent".to_string()),
            namespace_selector: Some(namespace_selector(spec, ns)),
            object_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: SKIP_LABEL.to_string(),
                    operator: "NotIn".to_string(),
                    values: strings(&["skip"]),
                }]),
                ..LabelSelector::default()
            }),
            ..ValidatingWebhook::default()
        }]),
    }
}

/// The objects as multi-document YAML, each introduced by `---`.
pub fn to_yaml(manifests: &[Manifest]) -> Result<String> {
    let mut out = String::new();
    for manifest in manifests {
        let text = yaml_serde::to_string(&manifest.object).map_err(|e| {
            Error::new(
                ErrorKind::Syntax,
                format!("rendering {} as YAML: {e}", manifest.id()),
            )
        })?;
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Every YAML document of `text` (empty documents skipped).
pub fn parse_yaml_documents(text: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (i, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value = <Value as serde::Deserialize>::deserialize(document)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("YAML document {}: {e}", i + 1)))?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The file of the kustomize base holding every object.
pub const KUSTOMIZE_RESOURCES: &str = "portcullis.yaml";

/// The files of a kustomize base (`kustomization.yaml` and [`KUSTOMIZE_RESOURCES`]) holding
/// `manifests`, as (file name, content).
pub fn kustomize_files(manifests: &[Manifest]) -> Result<Vec<(String, String)>> {
    let header = "# Generated by `portcullis manifests --kustomize deploy` from the default spec: do not edit.\n\
# Not included: the TLS Secret `portcullis-tls` (tls.crt, tls.key, ca.crt) and the webhook's\n\
# caBundle. Supply both (a secret store, cert-manager), or install with `portcullis activate`,\n\
# or print a complete set with `portcullis manifests -f SPEC`.\n";
    let kustomization = format!(
        "{header}apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {KUSTOMIZE_RESOURCES}\n"
    );
    Ok(vec![
        ("kustomization.yaml".to_string(), kustomization),
        (
            KUSTOMIZE_RESOURCES.to_string(),
            format!("{header}{}", to_yaml(manifests)?),
        ),
    ])
}
