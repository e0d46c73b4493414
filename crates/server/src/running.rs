//! Keeping the inventory of what runs up to date and judged.
//!
//! - [`watch_pods`]: a kube-rs `watcher` on Pods (list, then watch; a dropped watch resumes,
//!   a `410 Gone` lists again) feeding the bounded [`Inventory`]; each Pod's owner chain
//!   is resolved (ReplicaSet → Deployment, Job → CronJob; an owner that no longer exists
//!   stays the workload) with lookups cached in a map of `inventory.maxPods` entries.
//! - [`rescan_loop`]: whenever the Pods change, the database content id changes, or
//!   `rescan.interval` passes, every distinct running digest not yet judged with the
//!   current database is judged again through the engine (whose catalogue cache makes it
//!   a re-match, not a pull), at most `rescan.concurrency` at once; then the metrics and
//!   the PolicyReports are brought up to date. It never holds anything admission needs
//!   beyond the scan slots it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use sha2::Digest as _;
use tokio::sync::Semaphore;

use crate::bounded::BoundedMap;
use crate::engine::{Engine, Trigger, unix_now};
use crate::inventory::{Inventory, PodEntry, WorkloadRef, pod_entry, severity_rank};
use crate::metrics::Metrics;
use crate::policyreport::{self, FIELD_MANAGER, REPORT_NAME, Row};

/// Which namespaces are inventoried: those the webhook judges, never `kube-system` nor
/// Portcullis's own.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The webhook's selection.
    pub selection: portcullis_webhook::Selection,
    /// Portcullis's namespace.
    pub own: String,
}

impl Scope {
    /// Whether Pods of `namespace` are inventoried.
    pub fn includes(&self, namespace: &str) -> bool {
        namespace != "kube-system" && namespace != self.own && self.selection.judges(namespace)
    }
}

/// Owner lookups: (namespace, kind, name) → workload, at most `capacity` entries.
pub struct Owners {
    client: Client,
    cache: Mutex<BoundedMap<(String, String, String), WorkloadRef>>,
}

impl std::fmt::Debug for Owners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owners").finish_non_exhaustive()
    }
}

impl Owners {
    /// Lookups through `client`, caching `capacity` answers.
    pub fn new(client: Client, capacity: usize) -> Self {
        Self {
            client,
            cache: Mutex::new(BoundedMap::new(capacity)),
        }
    }

    /// The workload of `pod`: the top of its owner chain.
    pub async fn workload(&self, pod: &PodEntry) -> WorkloadRef {
        let Some((kind, name)) = &pod.owner else {
            return pod.workload.clone();
        };
        let key = (pod.namespace.clone(), kind.clone(), name.clone());
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
        {
            return hit;
        }
        let direct = WorkloadRef {
            namespace: pod.namespace.clone(),
            kind: kind.clone(),
            name: name.clone(),
        };
        let parent = match kind.as_str() {
            "ReplicaSet" => {
                let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &pod.namespace);
                api.get_opt(name)
                    .await
                    .map(|rs| rs.and_then(|rs| controller(&rs.metadata)))
            }
            "Job" => {
                let api: Api<Job> = Api::namespaced(self.client.clone(), &pod.namespace);
                api.get_opt(name)
                    .await
                    .map(|job| job.and_then(|job| controller(&job.metadata)))
            }
            _ => Ok(None),
        };
        let workload = match parent {
            Ok(Some((kind, name))) => WorkloadRef {
                namespace: pod.namespace.clone(),
                kind,
                name,
            },
            // No owner above it, or it is gone: it is the workload.
            Ok(None) => direct,
            Err(e) => {
                tracing::debug!(error = %e, owner = %name, "looking up a Pod's owner (not cached)");
                return direct;
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, workload.clone());
        workload
    }
}

fn controller(meta: &kube::api::ObjectMeta) -> Option<(String, String)> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
        .map(|o| (o.kind.clone(), o.name.clone()))
}

/// Watch every Pod of the cluster into `inventory` (only the namespaces of `scope`). Runs
/// until dropped; watch errors are logged and retried with backoff.
pub async fn watch_pods(
    client: Client,
    inventory: Arc<Inventory>,
    owners: Arc<Owners>,
    scope: Scope,
) {
    let api: Api<Pod> = Api::all(client);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    futures_util::pin_mut!(stream);
    let mut listing: Option<Vec<PodEntry>> = None;
    let entry = |pod: &Pod| pod_entry(pod).filter(|e| scope.includes(&e.namespace));
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Init) => listing = Some(Vec::new()),
            Ok(watcher::Event::InitApply(pod)) => {
                if let (Some(list), Some(mut e)) = (listing.as_mut(), entry(&pod)) {
                    e.workload = owners.workload(&e).await;
                    list.push(e);
                }
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(list) = listing.take() {
                    let left_out = inventory.replace_pods(list);
                    if left_out > 0 {
                        tracing::warn!(
                            left_out,
                            "more Pods than inventory.maxPods; some are not tracked"
                        );
                    }
                }
            }
            Ok(watcher::Event::Apply(pod)) => match entry(&pod) {
                Some(mut e) => {
                    e.workload = owners.workload(&e).await;
                    if !inventory.upsert_pod(e) {
                        tracing::debug!("inventory.maxPods reached; a Pod is not tracked");
                    }
                }
                None => {
                    if let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) {
                        inventory.remove_pod(ns, name);
                    }
                }
            },
            Ok(watcher::Event::Delete(pod)) => {
                if let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) {
                    inventory.remove_pod(ns, name);
                }
            }
            Err(e) => tracing::warn!(error = %e, "watching Pods (retrying)"),
        }
    }
}

/// What the rescan loop needs.
pub struct Rescanner {
    /// The inventory.
    pub inventory: Arc<Inventory>,
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where reports are written (`None`: not written).
    pub reports: Option<Client>,
    /// Judgements running at once.
    pub concurrency: usize,
    /// How often everything is judged again without a database change (zero: never).
    pub interval: Duration,
    /// Where events about running images go.
    pub notifier: Arc<crate::notify::Notifier>,
    /// Whether this replica leads (only the leader judges and writes reports).
    pub leading: tokio::sync::watch::Receiver<bool>,
    /// (namespace, reference) whose resolution failed → when; not retried for
    /// [`RESOLVE_RETRY_AFTER`], so a Pod that keeps changing does not hammer a registry.
    /// At most `inventory.maxPods` entries.
    pub failed: Mutex<BoundedMap<(String, String), tokio::time::Instant>>,
}

/// How long a reference that could not be resolved is left alone.
pub const RESOLVE_RETRY_AFTER: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Rescanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rescanner")
            .field("concurrency", &self.concurrency)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// One piece of work: judge `image` (a pinned reference, or a spec reference to resolve).
struct Job1 {
    image: String,
    namespace: String,
    pull_secrets: Vec<String>,
    /// The (namespace, spec reference) to remember the digest for, when resolving.
    resolves: Option<(String, String)>,
}

/// Run until dropped: judge what runs whenever it or the database changes.
pub async fn rescan_loop(this: Arc<Rescanner>) {
    let mut judged_with: Option<String> = None;
    let mut last_full = tokio::time::Instant::now();
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = this.leading.clone();
    loop {
        tokio::select! {
            () = this.inventory.changed.notified() => {}
            changed = leading.changed() => {
                if changed.is_err() {
                    // The election ended (shutdown): no more work.
                    return;
                }
            }
            _ = poll.tick() => {
                let current = this.engine.database_version();
                let due = !this.interval.is_zero() && last_full.elapsed() >= this.interval;
                if current == judged_with && !due {
                    continue;
                }
            }
        }
        if !*leading.borrow() {
            // A follower: the leader does the work; start afresh on taking over.
            judged_with = None;
            written.clear();
            continue;
        }
        let Some(version) = this.engine.database_version() else {
            continue;
        };
        let full = !this.interval.is_zero() && last_full.elapsed() >= this.interval;
        if full {
            last_full = tokio::time::Instant::now();
        }
        this.pass(&version, full).await;
        judged_with = Some(version);
        this.publish(&mut written).await;
    }
}

impl Rescanner {
    /// Judge every running digest not yet judged with `version` (all of them when `full`),
    /// and resolve the references of containers whose digest is unknown.
    async fn pass(self: &Arc<Self>, version: &str, full: bool) {
        let placed = self.inventory.placed();
        let mut jobs: BTreeMap<String, Job1> = BTreeMap::new();
        let mut running: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let known = self.inventory.images();
        for p in &placed {
            match &p.container.digest {
                Some(digest) => {
                    if !running.contains_key(digest) && running.len() >= self.inventory.max_images()
                    {
                        continue;
                    }
                    running
                        .entry(digest.clone())
                        .or_default()
                        .insert(p.container.image.clone());
                    let stale = known
                        .get(digest)
                        .is_none_or(|s| full || s.database.as_deref() != Some(version));
                    if stale && !jobs.contains_key(digest) {
                        let Some(pinned) = pin(&p.container.image, digest) else {
                            continue;
                        };
                        jobs.insert(
                            digest.clone(),
                            Job1 {
                                image: pinned,
                                namespace: p.workload.namespace.clone(),
                                pull_secrets: p.pull_secrets.clone(),
                                resolves: None,
                            },
                        );
                    }
                }
                None => {
                    let failed_at = self
                        .failed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&(p.workload.namespace.clone(), p.container.image.clone()))
                        .copied();
                    if failed_at.is_some_and(|at| at.elapsed() < RESOLVE_RETRY_AFTER) {
                        continue;
                    }
                    let key = format!("resolve {} {}", p.workload.namespace, p.container.image);
                    jobs.entry(key).or_insert_with(|| Job1 {
                        image: p.container.image.clone(),
                        namespace: p.workload.namespace.clone(),
                        pull_secrets: p.pull_secrets.clone(),
                        resolves: Some((p.workload.namespace.clone(), p.container.image.clone())),
                    });
                }
            }
        }
        self.inventory.retain_images(&running);
        if jobs.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let count = jobs.len();
        let places = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (_, job) in jobs {
            let this = Arc::clone(self);
            let places = Arc::clone(&places);
            set.spawn(async move {
                let Ok(_place) = places.acquire_owned().await else {
                    return;
                };
                this.judge(job).await;
            });
        }
        while set.join_next().await.is_some() {}
        self.metrics
            .rescan_seconds
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            judged = count,
            database = %version,
            seconds = started.elapsed().as_secs_f64(),
            "running images judged"
        );
        // Digests learned by resolution join the inventory now.
        let mut running: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in self.inventory.placed() {
            if let Some(d) = p.container.digest {
                running.entry(d).or_default().insert(p.container.image);
            }
        }
        self.inventory.retain_images(&running);
    }

    async fn judge(&self, job: Job1) {
        let version = self.engine.database_version();
        let check = self
            .engine
            .check_for(
                Trigger::Rescan,
                &job.image,
                &job.namespace,
                &job.pull_secrets,
                None,
            )
            .await;
        let Some(digest) = check.digest.clone() else {
            if let Err(reason) = &check.outcome {
                tracing::warn!(image = %job.image, namespace = %job.namespace, %reason, "a running image could not be resolved");
            }
            if let Some(key) = job.resolves {
                self.failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, tokio::time::Instant::now());
            }
            return;
        };
        if let Some((namespace, image)) = &job.resolves {
            self.inventory
                .remember_resolution(namespace, image, &digest);
        }
        let previous = self.inventory.image(&digest);
        if let (Some(before), Ok(after)) = (
            previous.as_ref().and_then(|p| p.result.clone()),
            check.outcome.as_ref(),
        ) {
            self.notify_changes(&digest, &job.image, version.as_deref(), &before, after);
        }
        let mut state = previous.unwrap_or_default();
        state.references.insert(job.image.clone());
        state.last_scan = Some(unix_now());
        state.database = version;
        match check.outcome {
            Ok(result) => {
                state.result = Some(result);
                state.error = None;
            }
            Err(reason) => {
                tracing::warn!(image = %job.image, %reason, "a running image could not be judged");
                state.error = Some(reason.to_string());
            }
        }
        self.inventory.record(&digest, state);
    }

    /// Tell the notifier what changed between two verdicts of a running image.
    fn notify_changes(
        &self,
        digest: &str,
        image: &str,
        database: Option<&str>,
        before: &portcullis_scan::ScanResult,
        after: &portcullis_scan::ScanResult,
    ) {
        if !self.notifier.is_active() {
            return;
        }
        let workloads: Vec<WorkloadRef> = self
            .inventory
            .placed()
            .into_iter()
            .filter(|p| p.container.digest.as_deref() == Some(digest))
            .map(|p| p.workload)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let known: BTreeSet<(&str, &str)> = before
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.package.name.as_str()))
            .collect();
        let mut new: Vec<_> = after
            .findings
            .iter()
            .filter(|f| !known.contains(&(f.id.as_str(), f.package.name.as_str())))
            .collect();
        new.sort_by(|a, b| {
            severity_rank(b.severity.as_str())
                .cmp(&severity_rank(a.severity.as_str()))
                .then_with(|| a.id.cmp(&b.id))
        });
        let base = crate::notify::Event {
            at: unix_now(),
            digest: Some(digest.to_string()),
            database: database.map(str::to_string),
            image: Some(image.to_string()),
            workloads,
            ..crate::notify::Event::default()
        };
        if let Some(top) = new.first() {
            let findings: Vec<String> = new
                .iter()
                .take(20)
                .map(|f| format!("{} ({}, {})", f.id, f.severity.as_str(), f.package.name))
                .collect();
            self.notifier.emit(crate::notify::Event {
                event: "new_findings".to_string(),
                severity: Some(top.severity.as_str().to_string()),
                message: format!(
                    "{image} ({digest}) has {} new findings: {}",
                    new.len(),
                    findings.join(", ")
                ),
                findings,
                ..base.clone()
            });
        }
        let action = |r: &portcullis_scan::ScanResult| {
            r.decision
                .as_ref()
                .map_or("unknown", |d| d.final_action.as_str())
        };
        if action(before) != action(after) {
            self.notifier.emit(crate::notify::Event {
                event: "verdict_changed".to_string(),
                message: format!(
                    "{image} ({digest}): {} -> {}",
                    action(before),
                    action(after)
                ),
                subject: format!("{}->{}", action(before), action(after)),
                ..base
            });
        }
    }

    /// One row per workload, container and digest (the replicas of a workload are one row;
    /// during a rollout its old and new digests are two), with the image's verdict.
    pub fn rows(&self) -> Vec<Row> {
        let images = self.inventory.images();
        let mut rows = BTreeMap::new();
        for p in self.inventory.placed() {
            let key = (
                p.workload.clone(),
                p.container.container.clone(),
                p.container.digest.clone(),
                p.container.image.clone(),
            );
            rows.entry(key).or_insert_with(|| Row {
                state: p
                    .container
                    .digest
                    .as_ref()
                    .and_then(|d| images.get(d).cloned()),
                workload: p.workload,
                container: p.container.container,
                image: p.container.image,
                digest: p.container.digest,
            });
        }
        rows.into_values().collect()
    }

    /// Update the exposure metrics and write the reports that changed.
    async fn publish(&self, written: &mut BTreeMap<String, String>) {
        let rows = self.rows();
        self.update_metrics(&rows);
        let Some(client) = &self.reports else {
            return;
        };
        let top = self.inventory.top_findings;
        let mut by_namespace: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for row in &rows {
            by_namespace
                .entry(row.workload.namespace.clone())
                .or_default()
                .push(row.clone());
        }
        // Namespaces that no longer run anything get an empty report.
        for namespace in written.keys() {
            if namespace.is_empty() {
                continue;
            }
            by_namespace.entry(namespace.clone()).or_default();
        }
        let report_resource = |kind: &str, plural: &str| {
            ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", kind),
                plural,
            )
        };
        let namespaced = report_resource("PolicyReport", "policyreports");
        // The policy named for images not judged: the default of the set in force.
        let default_policy = self.engine.policies().default_policy.clone();
        let mut writes: Vec<(String, serde_json::Value)> = by_namespace
            .iter()
            .map(|(namespace, rows)| {
                (
                    namespace.clone(),
                    policyreport::namespace_report(namespace, rows, top, &default_policy),
                )
            })
            .collect();
        writes.push((
            String::new(),
            policyreport::cluster_report(&rows, &default_policy),
        ));
        let params = PatchParams::apply(FIELD_MANAGER).force();
        for (namespace, report) in writes {
            // A digest of what was written, not the report itself (up to 512 KiB each).
            let text = hex::encode(sha2::Sha256::digest(report.to_string().as_bytes()));
            if written.get(&namespace) == Some(&text) {
                continue;
            }
            let api: Api<DynamicObject> = if namespace.is_empty() {
                Api::all_with(
                    client.clone(),
                    &report_resource("ClusterPolicyReport", "clusterpolicyreports"),
                )
            } else {
                Api::namespaced_with(client.clone(), &namespace, &namespaced)
            };
            match api
                .patch(REPORT_NAME, &params, &Patch::Apply(&report))
                .await
            {
                Ok(_) => {
                    let empty = report["results"].as_array().is_none_or(Vec::is_empty);
                    if empty && !namespace.is_empty() {
                        written.remove(&namespace);
                    } else {
                        written.insert(namespace, text);
                    }
                }
                Err(e) => {
                    self.metrics.report_failures.inc();
                    tracing::warn!(error = %e, namespace = %namespace, "writing a PolicyReport");
                }
            }
        }
    }

    fn update_metrics(&self, rows: &[Row]) {
        let severities = [
            "none",
            "unknown",
            "negligible",
            "low",
            "medium",
            "high",
            "critical",
        ];
        let mut images: BTreeMap<&str, i64> = BTreeMap::new();
        let mut workloads: BTreeMap<&str, BTreeSet<&WorkloadRef>> = BTreeMap::new();
        let mut highest_of: BTreeMap<&WorkloadRef, &str> = BTreeMap::new();
        let states = self.inventory.images();
        for state in states.values() {
            let highest = state.summary(0).highest;
            let name = severities
                .iter()
                .find(|s| **s == highest)
                .copied()
                .unwrap_or("none");
            *images.entry(name).or_insert(0) += 1;
        }
        for row in rows {
            let highest = row
                .state
                .as_ref()
                .map_or_else(|| "none".to_string(), |s| s.summary(0).highest);
            let name = severities
                .iter()
                .find(|s| **s == highest)
                .copied()
                .unwrap_or("none");
            let entry = highest_of.entry(&row.workload).or_insert("none");
            if severity_rank(name) > severity_rank(entry) {
                *entry = name;
            }
        }
        for (workload, highest) in highest_of {
            if highest != "none" {
                workloads.entry(highest).or_default().insert(workload);
            }
        }
        for severity in severities {
            let label = crate::metrics::label("severity", severity);
            self.metrics
                .running_images
                .get_or_create(&label)
                .set(images.get(severity).copied().unwrap_or(0));
            if severity != "none" {
                let n = workloads.get(severity).map_or(0, BTreeSet::len);
                self.metrics
                    .running_workloads_with_findings
                    .get_or_create(&label)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }
}

/// `image` (a spec reference) pinned to `digest`: `registry/repository@digest`.
fn pin(image: &str, digest: &str) -> Option<String> {
    let reference = portcullis_oci::Reference::parse(image).ok()?;
    Some(format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    ))
}

#[cfg(test)]
mod tests {
    use portcullis_oci::Reference;

    use super::*;

    #[test]
    fn pinned_references_and_scope() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            pin("alpine:3.20", &digest),
            Some(format!("docker.io/library/alpine@{digest}"))
        );
        assert_eq!(
            pin("registry.local:5000/team/app:1@sha256:00", &digest).is_some(),
            Reference::parse("registry.local:5000/team/app:1@sha256:00").is_ok()
        );
        assert_eq!(pin("UPPER CASE/!!", &digest), None);
        let config = portcullis_config::WebhookConfig {
            enabled: true,
            selector: portcullis_config::Selector::Exclude,
            namespaces: vec!["dev-*".to_string()],
        };
        let scope = Scope {
            selection: portcullis_webhook::Selection::new(&config, "portcullis-system").unwrap(),
            own: "portcullis-system".to_string(),
        };
        assert!(scope.includes("team-a"));
        assert!(!scope.includes("dev-1"));
        assert!(!scope.includes("kube-system"));
        assert!(!scope.includes("portcullis-system"));
    }
}
