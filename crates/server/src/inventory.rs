//! The inventory of what runs: the Pods of the judged namespaces, their containers, the
//! image digest each container runs, and the workload each Pod belongs to; and, per
//! distinct digest, the latest verdict.
//!
//! Bounds: at most `inventory.maxPods` Pods and `inventory.maxImages` distinct digests are
//! tracked (further ones are left out and logged); at most [`MAX_CONTAINERS_PER_POD`]
//! containers of one Pod; the owner lookups and the tag → digest resolutions of Pods
//! without an `imageID` are cached in maps of `maxPods` entries.
//!
//! The running digest comes from `status.containerStatuses[].imageID`
//! (`repo@sha256:…`, `docker-pullable://repo@sha256:…`); a bare `sha256:…` (a local image
//! id, not a manifest digest) or no `imageID` at all falls back to the spec's reference,
//! which the engine resolves with the Pod's pull secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use portcullis_scan::ScanResult;
use serde::Serialize;
use tokio::sync::Notify;

use crate::bounded::BoundedMap;

/// Most containers of one Pod kept (init and regular together).
pub const MAX_CONTAINERS_PER_POD: usize = 64;

/// A workload: the top of a Pod's owner chain (Deployment, StatefulSet, DaemonSet, Job,
/// CronJob, another controller kind, or the Pod itself when it has no owner).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct WorkloadRef {
    /// Its namespace.
    pub namespace: String,
    /// Its kind (`Deployment`, `Pod`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
}

impl WorkloadRef {
    /// The `apiVersion` of the kind (empty when not a built-in kind).
    pub fn api_version(&self) -> &'static str {
        match self.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
            "Job" | "CronJob" => "batch/v1",
            "Pod" => "v1",
            _ => "",
        }
    }
}

/// One container of a running Pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningContainer {
    /// The container name.
    pub container: String,
    /// The image reference of the Pod's spec.
    pub image: String,
    /// The manifest digest it runs (from `imageID`, or a spec reference pinned by digest).
    pub digest: Option<String>,
}

/// What the inventory keeps of one Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its controlling owner (kind, name), if any.
    pub owner: Option<(String, String)>,
    /// The workload it belongs to (filled by the owner resolution).
    pub workload: WorkloadRef,
    /// Its image pull secrets.
    pub pull_secrets: Vec<String>,
    /// Its containers.
    pub containers: Vec<RunningContainer>,
}

/// The manifest digest in a container status's `imageID`: `repo@sha256:HEX` with or
/// without a `scheme://` prefix (`docker-pullable://`). `None` for a bare `sha256:…` (a
/// local image id, which names a config, not a manifest), an empty or malformed value.
pub fn image_id_digest(image_id: &str) -> Option<String> {
    let rest = image_id
        .split_once("://")
        .map_or(image_id, |(_, rest)| rest);
    let (_, digest) = rest.rsplit_once('@')?;
    valid_digest(digest).then(|| digest.to_string())
}

fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The digest a spec reference is pinned to (`repo@sha256:…`), if it is.
fn spec_digest(image: &str) -> Option<String> {
    let (_, digest) = image.rsplit_once('@')?;
    valid_digest(digest).then(|| digest.to_string())
}

/// The inventory entry of `pod`: `None` without a namespace or name, or once it has ended
/// (`Succeeded`, `Failed`) or is being deleted. The workload is the Pod itself until the
/// owner resolution replaces it.
pub fn pod_entry(pod: &Pod) -> Option<PodEntry> {
    let namespace = pod.metadata.namespace.clone()?;
    let name = pod.metadata.name.clone()?;
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref();
    if status
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed")
    {
        return None;
    }
    let owner = pod.metadata.owner_references.as_ref().and_then(|owners| {
        owners
            .iter()
            .find(|o| o.controller == Some(true))
            .or_else(|| owners.first())
            .map(|o| (o.kind.clone(), o.name.clone()))
    });
    let spec = pod.spec.as_ref()?;
    let statuses: Vec<&ContainerStatus> = status
        .into_iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .collect();
    let mut containers = Vec::new();
    let specs = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    for container in specs.take(MAX_CONTAINERS_PER_POD) {
        let Some(image) = container.image.clone().filter(|i| !i.trim().is_empty()) else {
            continue;
        };
        let digest = statuses
            .iter()
            .find(|s| s.name == container.name)
            .and_then(|s| image_id_digest(&s.image_id))
            .or_else(|| spec_digest(&image));
        containers.push(RunningContainer {
            container: container.name.clone(),
            image,
            digest,
        });
    }
    let pull_secrets = spec
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    Some(PodEntry {
        workload: WorkloadRef {
            namespace: namespace.clone(),
            kind: "Pod".to_string(),
            name: name.clone(),
        },
        namespace,
        name,
        owner,
        pull_secrets,
        containers,
    })
}

/// The latest verdict of one running digest.
#[derive(Debug, Clone, Default)]
pub struct ImageState {
    /// The references it runs as.
    pub references: BTreeSet<String>,
    /// When it was last judged (seconds since the Unix epoch).
    pub last_scan: Option<i64>,
    /// The database content id it was judged with.
    pub database: Option<String>,
    /// The judged scan (no package list), when it could be judged.
    pub result: Option<Arc<ScanResult>>,
    /// Why it could not be judged.
    pub error: Option<String>,
}

/// Counts of findings by severity, the decision and the top findings of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `go`, `warn`, `stop`, or `unknown` when not judged.
    pub action: String,
    /// The policy that judged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The gate of the most severe policy result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// The highest finding severity, `none` without findings.
    pub highest: String,
    /// Findings by severity.
    pub counts: BTreeMap<String, usize>,
    /// The most severe findings (`id (severity, package)`), at most `inventory.topFindings`.
    pub top: Vec<String>,
    /// Why it could not be judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The rank of a severity name (`none` lowest, then `unknown` ... `critical`).
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "unknown" => 1,
        "negligible" => 2,
        "low" => 3,
        "medium" => 4,
        "high" => 5,
        "critical" => 6,
        _ => 0,
    }
}

impl ImageState {
    /// The summary of the latest verdict, naming at most `top` findings.
    pub fn summary(&self, top: usize) -> Summary {
        let Some(result) = &self.result else {
            return Summary {
                action: "unknown".to_string(),
                highest: "none".to_string(),
                error: Some(
                    self.error
                        .clone()
                        .unwrap_or_else(|| "not judged yet".to_string()),
                ),
                ..Summary::default()
            };
        };
        let mut counts = BTreeMap::new();
        let mut highest = "none";
        for finding in &result.findings {
            let severity = finding.severity.as_str();
            *counts.entry(severity.to_string()).or_insert(0) += 1;
            if severity_rank(severity) > severity_rank(highest) {
                highest = severity;
            }
        }
        let mut ranked: Vec<_> = result.findings.iter().collect();
        ranked.sort_by(|a, b| {
            severity_rank(b.severity.as_str())
                .cmp(&severity_rank(a.severity.as_str()))
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut named = BTreeSet::new();
        let top = ranked
            .into_iter()
            .filter(|f| named.insert(f.id.clone()))
            .take(top)
            .map(|f| format!("{} ({}, {})", f.id, f.severity.as_str(), f.package.name))
            .collect();
        let decision = result.decision.as_ref();
        Summary {
            action: decision
                .map_or("unknown", |d| d.final_action.as_str())
                .to_string(),
            policy: decision.map(|d| d.policy_id.clone()),
            gate: decision.and_then(|d| d.results.first().map(|r| r.gate.clone())),
            highest: highest.to_string(),
            counts,
            top,
            error: None,
        }
    }
}

/// The shared inventory: Pods, digest resolutions and per-digest verdicts, each bounded.
#[derive(Debug)]
pub struct Inventory {
    max_pods: usize,
    max_images: usize,
    /// Findings named per summary.
    pub top_findings: usize,
    pods: Mutex<BTreeMap<(String, String), PodEntry>>,
    /// (namespace, spec reference) → digest, for containers without an `imageID`.
    resolved: Mutex<BoundedMap<(String, String), String>>,
    images: Mutex<BTreeMap<String, ImageState>>,
    /// Signalled when the Pods change.
    pub changed: Notify,
}

/// A running container with its Pod's workload and the digest it runs, if known.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The workload.
    pub workload: WorkloadRef,
    /// The Pod.
    pub pod: String,
    /// The Pod's pull secrets.
    pub pull_secrets: Vec<String>,
    /// The container.
    pub container: RunningContainer,
}

impl Inventory {
    /// An empty inventory of at most `max_pods` Pods and `max_images` digests.
    pub fn new(max_pods: usize, max_images: usize, top_findings: usize) -> Self {
        Self {
            max_pods: max_pods.max(1),
            max_images: max_images.max(1),
            top_findings,
            pods: Mutex::new(BTreeMap::new()),
            resolved: Mutex::new(BoundedMap::new(max_pods.max(1))),
            images: Mutex::new(BTreeMap::new()),
            changed: Notify::new(),
        }
    }

    /// Most distinct digests tracked.
    pub fn max_images(&self) -> usize {
        self.max_images
    }

    /// Replace every Pod (after a complete list); returns how many were left out.
    pub fn replace_pods(&self, pods: Vec<PodEntry>) -> usize {
        let mut map = BTreeMap::new();
        let total = pods.len();
        for pod in pods {
            if map.len() >= self.max_pods {
                break;
            }
            map.insert((pod.namespace.clone(), pod.name.clone()), pod);
        }
        let left_out = total.saturating_sub(map.len());
        *self.pods.lock().unwrap_or_else(|e| e.into_inner()) = map;
        self.changed.notify_one();
        left_out
    }

    /// Add or replace one Pod; false when it was left out (over `maxPods`).
    pub fn upsert_pod(&self, pod: PodEntry) -> bool {
        let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        let key = (pod.namespace.clone(), pod.name.clone());
        if !pods.contains_key(&key) && pods.len() >= self.max_pods {
            return false;
        }
        if pods.get(&key) != Some(&pod) {
            pods.insert(key, pod);
            drop(pods);
            self.changed.notify_one();
        }
        true
    }

    /// Forget one Pod.
    pub fn remove_pod(&self, namespace: &str, name: &str) {
        let removed = self
            .pods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_string(), name.to_string()))
            .is_some();
        if removed {
            self.changed.notify_one();
        }
    }

    /// How many Pods are tracked.
    pub fn pod_count(&self) -> usize {
        self.pods.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Every running container with the digest it runs (from its Pod, or resolved).
    pub fn placed(&self) -> Vec<Placed> {
        let pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        let resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for pod in pods.values() {
            for container in &pod.containers {
                let mut container = container.clone();
                if container.digest.is_none() {
                    container.digest = resolved
                        .get(&(pod.namespace.clone(), container.image.clone()))
                        .cloned();
                }
                out.push(Placed {
                    workload: pod.workload.clone(),
                    pod: pod.name.clone(),
                    pull_secrets: pod.pull_secrets.clone(),
                    container,
                });
            }
        }
        out
    }

    /// Remember that `image` in `namespace` resolved to `digest`.
    pub fn remember_resolution(&self, namespace: &str, image: &str, digest: &str) {
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (namespace.to_string(), image.to_string()),
                digest.to_string(),
            );
    }

    /// The state of `digest`.
    pub fn image(&self, digest: &str) -> Option<ImageState> {
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned()
    }

    /// Every tracked digest's state.
    pub fn images(&self) -> BTreeMap<String, ImageState> {
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Record a verdict (or a failure) for `digest`.
    pub fn record(&self, digest: &str, state: ImageState) {
        let mut images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        if images.contains_key(digest) || images.len() < self.max_images {
            images.insert(digest.to_string(), state);
        }
    }

    /// Keep only the digests of `running` (with their references updated).
    pub fn retain_images(&self, running: &BTreeMap<String, BTreeSet<String>>) {
        let mut images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        images.retain(|digest, _| running.contains_key(digest));
        for (digest, state) in images.iter_mut() {
            if let Some(references) = running.get(digest) {
                state.references = references.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn image_ids() {
        let digest = format!("sha256:{HEX}");
        assert_eq!(
            image_id_digest(&format!("docker-pullable://alpine@{digest}")),
            Some(digest.clone())
        );
        assert_eq!(
            image_id_digest(&format!("registry.local:5000/a/b@{digest}")),
            Some(digest.clone())
        );
        assert_eq!(image_id_digest(&digest), None);
        assert_eq!(image_id_digest(&format!("docker://{digest}")), None);
        assert_eq!(image_id_digest(""), None);
        assert_eq!(image_id_digest("x@sha256:abc"), None);
        assert_eq!(image_id_digest("x@sha256:{HEX}Z"), None);
        assert_eq!(image_id_digest("@@@://"), None);
    }

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pod_entries() {
        let digest = format!("sha256:{HEX}");
        let entry = pod_entry(&pod(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "a", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d", "uid": "u", "controller": true}
            ]},
            "spec": {
                "imagePullSecrets": [{"name": "regcred"}],
                "initContainers": [{"name": "init", "image": format!("busybox@{digest}")}],
                "containers": [
                    {"name": "app", "image": "alpine:3.20"},
                    {"name": "side", "image": "alpine:3.9"},
                    {"name": "noimage"}
                ]
            },
            "status": {"containerStatuses": [
                {"name": "app", "image": "alpine:3.20", "imageID": format!("docker-pullable://alpine@{digest}"),
                 "ready": true, "restartCount": 0},
                {"name": "side", "image": "alpine:3.9", "imageID": "", "ready": false, "restartCount": 0}
            ]}
        })))
        .unwrap();
        assert_eq!(entry.owner, Some(("ReplicaSet".into(), "web-5d".into())));
        assert_eq!(entry.pull_secrets, vec!["regcred".to_string()]);
        let digests: Vec<_> = entry
            .containers
            .iter()
            .map(|c| (c.container.as_str(), c.digest.clone()))
            .collect();
        assert_eq!(
            digests,
            vec![
                ("init", Some(digest.clone())),
                ("app", Some(digest.clone())),
                ("side", None)
            ]
        );
        // Ended, being deleted, or without a name: not running.
        for hostile in [
            serde_json::json!({"metadata": {"name": "p", "namespace": "a"}, "spec": {"containers": []}, "status": {"phase": "Succeeded"}}),
            serde_json::json!({"metadata": {"name": "p", "namespace": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"containers": []}}),
            serde_json::json!({"metadata": {"namespace": "a"}, "spec": {"containers": []}}),
            serde_json::json!({"metadata": {"name": "p", "namespace": "a"}}),
        ] {
            assert_eq!(pod_entry(&pod(hostile)), None);
        }
    }

    #[test]
    fn pods_and_images_are_bounded() {
        let inventory = Inventory::new(2, 1, 3);
        let entry = |name: &str| PodEntry {
            namespace: "a".into(),
            name: name.into(),
            owner: None,
            workload: WorkloadRef {
                namespace: "a".into(),
                kind: "Pod".into(),
                name: name.into(),
            },
            pull_secrets: vec![],
            containers: vec![],
        };
        assert_eq!(
            inventory.replace_pods(vec![entry("a"), entry("b"), entry("c")]),
            1
        );
        assert!(!inventory.upsert_pod(entry("d")));
        assert!(inventory.upsert_pod(entry("a")));
        inventory.remove_pod("a", "a");
        assert!(inventory.upsert_pod(entry("d")));
        assert_eq!(inventory.pod_count(), 2);
        inventory.record("sha256:1", ImageState::default());
        inventory.record("sha256:2", ImageState::default());
        assert_eq!(inventory.images().len(), 1);
    }
}
