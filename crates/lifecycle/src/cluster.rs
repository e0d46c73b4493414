//! `activate`, `deactivate` and `status` through the Kubernetes API (kube-rs), with
//! server-side apply so a second `activate` changes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Config};
use serde::Serialize;

use crate::cert::{self, TlsMaterial};
use crate::error::{Error, ErrorKind, Result};
use crate::manifests::{self, Manifest, ManifestOptions, TlsSource};
use crate::resources::{self, ResourceType};
use crate::spec::{Spec, parse_spec};
use crate::validate::{Problem, validate};

/// The `wgpolicyk8s.io/v1alpha2` report CRDs the server writes to: the community's own
/// definitions (kubernetes-sigs/wg-policy-prototypes), byte for byte as in `testdata/specs/`.
/// `activate` installs them when absent (labelled as ours) and re-applies them only when
/// they are ours; one installed by another tool (Kyverno, Policy Reporter) is never
/// touched, and `deactivate --purge` deletes only ours.
pub const REPORT_CRDS: [(&str, &str); 2] = [
    (
        "policyreports.wgpolicyk8s.io",
        include_str!("../../../testdata/specs/wgpolicyk8s.io_policyreports.yaml"),
    ),
    (
        "clusterpolicyreports.wgpolicyk8s.io",
        include_str!("../../../testdata/specs/wgpolicyk8s.io_clusterpolicyreports.yaml"),
    ),
];

/// Whether a stored object carries our `managed-by` label.
fn ours(object: &DynamicObject) -> bool {
    object
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(manifests::MANAGED_BY.0))
        .is_some_and(|v| v == manifests::MANAGED_BY.1)
}

/// Install the report CRDs that are absent, re-apply ours, leave other tools' alone.
async fn ensure_report_crds(client: &Client) -> Result<Vec<ObjectChange>> {
    let api = dynamic(client, &resources::CRD, None);
    let mut out = Vec::new();
    for (name, text) in REPORT_CRDS {
        let existing = api
            .get_opt(name)
            .await
            .map_err(|e| kube_error(&format!("reading CustomResourceDefinition {name}"), e))?;
        if existing.as_ref().is_some_and(|o| !ours(o)) {
            out.push(ObjectChange {
                object: format!("{}/{name}", resources::CRD.kind),
                namespace: None,
                change: Change::Unchanged,
            });
            continue;
        }
        let mut object: serde_json::Value = yaml_serde::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Syntax, format!("the {name} definition: {e}")))?;
        object["metadata"]["labels"] = serde_json::json!(manifests::labels());
        let manifest = Manifest::from_value(resources::CRD, object);
        out.push(apply(client, &manifest, None).await?);
    }
    Ok(out)
}

/// Delete the report CRDs we installed (never another tool's).
async fn remove_report_crds(client: &Client) -> Result<Vec<ObjectChange>> {
    let api = dynamic(client, &resources::CRD, None);
    let mut out = Vec::new();
    for (name, _) in REPORT_CRDS {
        let existing = api
            .get_opt(name)
            .await
            .map_err(|e| kube_error(&format!("reading CustomResourceDefinition {name}"), e))?;
        if existing.as_ref().is_some_and(ours) {
            out.push(delete(client, &resources::CRD, None, name).await?);
        }
    }
    Ok(out)
}

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "portcullis";
/// The metric `status` reads the database age from.
pub const DATABASE_AGE_METRIC: &str = "portcullis_database_age_seconds";

/// A kube-rs client from `kubeconfig` (else `$KUBECONFIG`, `~/.kube/config`, or the
/// in-cluster service account) and `context` (else the current one).
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                Error::new(
                    ErrorKind::Kube,
                    format!("kubeconfig {}: {e}", path.display()),
                )
            })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Kube,
                        format!("kubeconfig {}: {e}", path.display()),
                    )
                })?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| Error::new(ErrorKind::Kube, format!("kubeconfig: {e}")))?,
        None => Config::infer()
            .await
            .map_err(|e| Error::new(ErrorKind::Kube, format!("no cluster configuration: {e}")))?,
    };
    Client::try_from(config).map_err(|e| {
        Error::new(
            ErrorKind::Kube,
            format!("creating the Kubernetes client: {e}"),
        )
    })
}

fn kube_error(what: &str, e: kube::Error) -> Error {
    Error::new(ErrorKind::Kube, format!("{what}: {e}"))
}

/// The `K` named `name` in namespace `ns`, if there is one.
async fn get_namespaced<K>(client: &Client, ns: &str, name: &str) -> Result<Option<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| {
            kube_error(
                &format!(
                    "reading {} {ns}/{name}",
                    K::kind(&K::DynamicType::default())
                ),
                e,
            )
        })
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

fn dynamic(
    client: &Client,
    resource: &ResourceType,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let ar = resource.api_resource();
    match namespace {
        Some(ns) if resource.namespaced => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed.
    Configured,
    /// It existed as wanted.
    Unchanged,
    /// It was deleted.
    Deleted,
    /// It was to be deleted but did not exist.
    Absent,
}

impl Change {
    /// The word shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::Absent => "absent",
        }
    }
}

/// One object and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    /// `Kind/name`.
    pub object: String,
    /// Its namespace, for namespaced kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// What happened.
    pub change: Change,
}

/// What happened to the webhook's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateAction {
    /// There was none; a CA and certificate were made.
    Created,
    /// The existing one is valid for more than 30 days and was kept.
    Kept,
    /// The existing one expired within 30 days and was replaced.
    Renewed,
}

/// What `activate` did.
#[derive(Debug, Clone, Serialize)]
pub struct ActivationReport {
    /// The install namespace.
    pub namespace: String,
    /// Every object applied or removed, in order.
    pub objects: Vec<ObjectChange>,
    /// What happened to the certificate.
    pub certificate: CertificateAction,
    /// When the serving certificate expires (RFC 3339).
    pub certificate_expires: String,
    /// Ready replicas of the Deployment when activation finished.
    pub ready_replicas: i32,
}

/// How to activate.
#[derive(Debug, Clone)]
pub struct ActivateOptions {
    /// The install namespace.
    pub namespace: String,
    /// The container image.
    pub image: String,
    /// How long to wait for the Deployment to become ready.
    pub wait_timeout: Duration,
    /// How often to look while waiting.
    pub poll_interval: Duration,
    /// The current time (Unix seconds), for certificate validity.
    pub now: i64,
}

/// Install or update Portcullis from `spec`: check it, apply every object with server-side
/// apply, wait for the Deployment to be ready, then register the webhook.
pub async fn activate(
    client: &Client,
    spec: &Spec,
    options: &ActivateOptions,
) -> Result<ActivationReport> {
    let ns = options.namespace.as_str();
    validate(spec, ns)?;
    check_registry_secrets(client, spec, ns).await?;
    let (tls, certificate) = tls_material(client, ns, options.now).await?;
    let certificate_expires = cert::rfc3339(cert::not_after(&tls.cert)?);
    let manifest_options = ManifestOptions {
        namespace: ns.to_string(),
        image: options.image.clone(),
        tls: TlsSource::Generated(tls),
    };
    let built = manifests::build(spec, &manifest_options)?;
    let mut objects = Vec::new();
    let (early, late): (Vec<&Manifest>, Vec<&Manifest>) = built
        .iter()
        .partition(|m| m.resource != resources::WHITELIST_ITEM && m.resource != resources::WEBHOOK);
    for manifest in early {
        objects.push(apply(client, manifest, None).await?);
        if manifest.resource == resources::CRD
            && manifest.name == format!("audits.{}", portcullis_k8s::GROUP)
        {
            objects.extend(ensure_report_crds(client).await?);
        }
    }
    let ready_replicas = wait_ready(client, ns, options).await?;
    for manifest in late {
        // Custom objects may 404 for a moment after their CRD was created.
        let retry = (manifest.resource == resources::WHITELIST_ITEM).then_some(options);
        objects.push(apply(client, manifest, retry).await?);
    }
    if !spec.webhook_config.enabled {
        objects.push(delete(client, &resources::WEBHOOK, None, manifests::NAME).await?);
    }
    if spec.builder.is_none() {
        // A builder removed from the spec; reported only when there was one.
        let removed = delete(
            client,
            &resources::CRON_JOB,
            Some(ns),
            manifests::BUILDER_NAME,
        );
        let removed = removed.await?;
        if removed.change != Change::Absent {
            objects.push(removed);
        }
    }
    Ok(ActivationReport {
        namespace: ns.to_string(),
        objects,
        certificate,
        certificate_expires,
        ready_replicas,
    })
}

/// Every registry's Secret must exist in `ns` with type dockerconfigjson or basic-auth; with
/// a `builder`, `database.secretId` must be a dockerconfigjson Secret (mounted as the
/// builder's docker config).
async fn check_registry_secrets(client: &Client, spec: &Spec, ns: &str) -> Result<()> {
    let mut problems = Vec::new();
    let fields = spec
        .registry
        .iter()
        .map(|r| ("registry".to_string(), r))
        .chain(
            spec.registries
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("registries[{i}]"), r)),
        );
    for (field, registry) in fields {
        let name = &registry.secret_id;
        let found = get_namespaced::<Secret>(client, ns, name).await?;
        let message = match found.as_ref().and_then(|s| s.type_.as_deref()) {
            _ if found.is_none() => format!("Secret '{name}' not found in namespace '{ns}'"),
            Some("kubernetes.io/dockerconfigjson" | "kubernetes.io/basic-auth") => continue,
            other => format!(
                "Secret '{name}' has type '{}', not kubernetes.io/dockerconfigjson or kubernetes.io/basic-auth",
                other.unwrap_or("Opaque")
            ),
        };
        problems.push(Problem {
            field: format!("{field}.secretId"),
            message,
        });
    }
    if let (Some(_), Some(name)) = (
        &spec.builder,
        spec.database.as_ref().and_then(|d| d.secret_id.as_ref()),
    ) {
        let found = get_namespaced::<Secret>(client, ns, name).await?;
        let message = match found.as_ref().map(|s| s.type_.as_deref()) {
            None => Some(format!("Secret '{name}' not found in namespace '{ns}'")),
            Some(Some("kubernetes.io/dockerconfigjson")) => None,
            Some(other) => Some(format!(
                "Secret '{name}' has type '{}', not kubernetes.io/dockerconfigjson (the builder mounts it as its docker config)",
                other.unwrap_or("Opaque")
            )),
        };
        if let Some(message) = message {
            problems.push(Problem {
                field: "database.secretId".to_string(),
                message,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(problems))
    }
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok()
}

/// Keep the installed certificate unless it expires within 30 days; a renewal keeps the
/// old CA in the bundle (while valid) so pods still serving the old certificate are trusted.
async fn tls_material(
    client: &Client,
    ns: &str,
    now: i64,
) -> Result<(TlsMaterial, CertificateAction)> {
    let existing = get_namespaced::<Secret>(client, ns, manifests::TLS_SECRET_NAME).await?;
    let current = existing.as_ref().and_then(|s| {
        Some(TlsMaterial {
            ca_bundle: secret_text(s, "ca.crt")?,
            cert: secret_text(s, "tls.crt")?,
            key: secret_text(s, "tls.key")?,
        })
    });
    let Some(current) = current else {
        return Ok((
            cert::generate(manifests::NAME, ns, now)?,
            CertificateAction::Created,
        ));
    };
    match cert::not_after(&current.cert) {
        Ok(expiry) if !cert::needs_renewal(expiry, now) => Ok((current, CertificateAction::Kept)),
        _ => {
            let mut fresh = cert::generate(manifests::NAME, ns, now)?;
            if let Some(old_ca) = cert::pem_blocks(&current.ca_bundle).into_iter().next()
                && cert::not_after(&old_ca).is_ok_and(|expiry| expiry > now)
            {
                fresh.ca_bundle.push_str(&old_ca);
            }
            Ok((fresh, CertificateAction::Renewed))
        }
    }
}

async fn apply(
    client: &Client,
    manifest: &Manifest,
    retry_not_found: Option<&ActivateOptions>,
) -> Result<ObjectChange> {
    let api = dynamic(client, &manifest.resource, manifest.namespace.as_deref());
    let what = format!("applying {}", manifest.id());
    let started = Instant::now();
    let before = loop {
        match api.get_opt(&manifest.name).await {
            Ok(found) => break found,
            Err(e) if is_not_found(&e) => {
                // The resource type itself is unknown (CRD not established yet).
                match retry_not_found {
                    Some(options) if started.elapsed() < options.wait_timeout => {
                        tokio::time::sleep(options.poll_interval).await;
                    }
                    _ => return Err(kube_error(&what, e)),
                }
            }
            Err(e) => return Err(kube_error(&what, e)),
        }
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api
        .patch(&manifest.name, &params, &Patch::Apply(&manifest.object))
        .await
        .map_err(|e| kube_error(&what, e))?;
    let change = match before {
        None => Change::Created,
        Some(before) if before.metadata.resource_version == after.metadata.resource_version => {
            Change::Unchanged
        }
        Some(_) => Change::Configured,
    };
    Ok(ObjectChange {
        object: manifest.id(),
        namespace: manifest.namespace.clone(),
        change,
    })
}

async fn delete(
    client: &Client,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<ObjectChange> {
    let api = dynamic(client, resource, namespace);
    let change = match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Change::Deleted,
        Err(e) if is_not_found(&e) => Change::Absent,
        Err(e) => return Err(kube_error(&format!("deleting {}/{name}", resource.kind), e)),
    };
    Ok(ObjectChange {
        object: format!("{}/{name}", resource.kind),
        namespace: namespace
            .filter(|_| resource.namespaced)
            .map(str::to_string),
        change,
    })
}

/// Ready and desired replicas, when the Deployment has caught up with its spec.
fn readiness(deployment: &Deployment) -> (i32, i32, bool) {
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let generation = deployment.metadata.generation.unwrap_or(0);
    let Some(status) = &deployment.status else {
        return (0, desired, false);
    };
    let ready = status.ready_replicas.unwrap_or(0);
    let done = status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) >= desired
        && ready >= desired;
    (ready, desired, done)
}

async fn wait_ready(client: &Client, ns: &str, options: &ActivateOptions) -> Result<i32> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let started = Instant::now();
    loop {
        let deployment = api
            .get(manifests::NAME)
            .await
            .map_err(|e| kube_error(&format!("reading Deployment {ns}/{}", manifests::NAME), e))?;
        let (ready, desired, done) = readiness(&deployment);
        if done {
            return Ok(ready);
        }
        if started.elapsed() >= options.wait_timeout {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "Deployment {ns}/{}: {ready} of {desired} replicas ready after {}s; the webhook was not registered (see `kubectl -n {ns} describe deployment {}`)",
                    manifests::NAME,
                    options.wait_timeout.as_secs(),
                    manifests::NAME
                ),
            ));
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

/// Remove Portcullis: the webhook configuration first (so nothing fails closed), then the
/// rest. CRDs, their objects and the namespace are kept unless `purge`.
pub async fn deactivate(
    client: &Client,
    namespace: &str,
    purge: bool,
) -> Result<Vec<ObjectChange>> {
    let ns = Some(namespace);
    let mut out = vec![delete(client, &resources::WEBHOOK, None, manifests::NAME).await?];
    let namespaced = [
        (resources::CRON_JOB, manifests::BUILDER_NAME),
        (resources::DEPLOYMENT, manifests::NAME),
        (resources::PDB, manifests::NAME),
        (resources::SERVICE, manifests::NAME),
        (resources::SECRET, manifests::TLS_SECRET_NAME),
        (resources::CONFIG_MAP, manifests::CONFIG_MAP_NAME),
        (resources::ROLE_BINDING, manifests::NAME),
        (resources::ROLE, manifests::NAME),
        (resources::SERVICE_ACCOUNT, manifests::NAME),
    ];
    for (resource, name) in namespaced {
        let change = delete(client, &resource, ns, name).await?;
        // The builder is there only with `builder` in the spec: its absence is no news.
        if resource == resources::CRON_JOB && change.change == Change::Absent {
            continue;
        }
        out.push(change);
    }
    for resource in [resources::CLUSTER_ROLE_BINDING, resources::CLUSTER_ROLE] {
        out.push(delete(client, &resource, None, manifests::NAME).await?);
    }
    if purge {
        let items = dynamic(client, &resources::WHITELIST_ITEM, None);
        match items.list(&ListParams::default()).await {
            Ok(list) => {
                for item in list.items {
                    let name = item.metadata.name.unwrap_or_default();
                    out.push(delete(client, &resources::WHITELIST_ITEM, None, &name).await?);
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(kube_error("listing WhiteListItems", e)),
        }
        for crd in ["whitelistitems", "audits"] {
            let name = format!("{crd}.{}", portcullis_k8s::GROUP);
            out.push(delete(client, &resources::CRD, None, &name).await?);
        }
        out.extend(remove_report_crds(client).await?);
        out.push(delete(client, &resources::NAMESPACE, None, namespace).await?);
    }
    Ok(out)
}

/// What `status` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The install namespace.
    pub namespace: String,
    /// The webhook configuration exists and the Deployment has every replica ready.
    pub active: bool,
    /// The webhook configuration exists.
    pub webhook_registered: bool,
    /// Ready replicas (`None`: no Deployment).
    pub ready_replicas: Option<i32>,
    /// Desired replicas.
    pub desired_replicas: Option<i32>,
    /// The spec in force (from the ConfigMap).
    pub spec: Option<Spec>,
    /// When the serving certificate expires (RFC 3339).
    pub certificate_expires: Option<String>,
    /// Days left before the certificate expires.
    pub certificate_days_left: Option<i64>,
    /// Seconds since the server's database was built (from its metrics, via the API
    /// server's service proxy); `None` when it could not be read.
    pub database_age_seconds: Option<u64>,
}

/// Read the state of an install in `namespace`.
pub async fn status(client: &Client, namespace: &str, now: i64) -> Result<Status> {
    let ns = namespace;
    let webhook_registered = dynamic(client, &resources::WEBHOOK, None)
        .get_opt(manifests::NAME)
        .await
        .map_err(|e| kube_error("reading the webhook configuration", e))?
        .is_some();
    let namespace_exists = Api::<Namespace>::all(client.clone())
        .get_opt(ns)
        .await
        .map_err(|e| kube_error(&format!("reading Namespace {ns}"), e))?
        .is_some();
    let (mut ready_replicas, mut desired_replicas, mut done) = (None, None, false);
    let mut spec = None;
    let mut certificate_expires = None;
    let mut certificate_days_left = None;
    if namespace_exists {
        let deployment = get_namespaced::<Deployment>(client, ns, manifests::NAME).await?;
        if let Some(deployment) = deployment {
            let (ready, desired, caught_up) = readiness(&deployment);
            (ready_replicas, desired_replicas, done) = (Some(ready), Some(desired), caught_up);
        }
        let config = get_namespaced::<ConfigMap>(client, ns, manifests::CONFIG_MAP_NAME).await?;
        spec = config
            .and_then(|c| c.data?.get("spec.json").cloned())
            .and_then(|text| parse_spec(&text).ok());
        let secret = get_namespaced::<Secret>(client, ns, manifests::TLS_SECRET_NAME).await?;
        if let Some(expiry) = secret
            .as_ref()
            .and_then(|s| secret_text(s, "tls.crt"))
            .and_then(|pem| cert::not_after(&pem).ok())
        {
            certificate_expires = Some(cert::rfc3339(expiry));
            certificate_days_left = Some(expiry.saturating_sub(now).div_euclid(86_400));
        }
    }
    let database_age_seconds = if ready_replicas.unwrap_or(0) > 0 {
        database_age(client, ns).await
    } else {
        None
    };
    Ok(Status {
        namespace: ns.to_string(),
        active: webhook_registered && done,
        webhook_registered,
        ready_replicas,
        desired_replicas,
        spec,
        certificate_expires,
        certificate_days_left,
        database_age_seconds,
    })
}

/// The database age from the server's `/metrics`, through the API server's service proxy.
async fn database_age(client: &Client, ns: &str) -> Option<u64> {
    let path = format!(
        "/api/v1/namespaces/{ns}/services/https:{}:443/proxy/metrics",
        manifests::NAME
    );
    let request = http::Request::get(path).body(Vec::new()).ok()?;
    let text = client.request_text(request).await.ok()?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next()? == DATABASE_AGE_METRIC).then(|| parts.next())?
        })
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u64)
}

/// The namespaces of the cluster, sorted.
pub async fn list_namespaces(client: &Client) -> Result<Vec<String>> {
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| kube_error("listing namespaces", e))?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}
