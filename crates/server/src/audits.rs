//! Audit records: kept in a bounded local store for the API, and written as `Audit`
//! objects when the Kubernetes API is enabled (failures are logged and counted, never
//! failing the admission).
//!
//! An admission only hands over what it decided ([`AuditLog::record`]: a map insert); the
//! `Audit` spec is built later, off the request path, and only for the newest decision of
//! each workload: when the API lists the records, when more than [`BATCH`] workloads wait,
//! or, with a cluster, by a task started by the first decision to wait.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use portcullis_k8s::AuditSpec;
use portcullis_webhook::{Outcome, Workload};
use serde::Serialize;

use crate::metrics::Metrics;

/// How many workloads' decisions may wait to be built; one more builds them all.
pub const BATCH: usize = 64;

/// One audit as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// The `Audit` object name.
    pub name: String,
    /// Its namespace (the workload's).
    pub namespace: String,
    /// The spec.
    pub spec: AuditSpec,
}

/// What one admission decided about one workload: its audit, not yet built.
#[derive(Debug)]
pub struct Decided {
    /// The `Audit` object name.
    pub name: String,
    /// The workload.
    pub workload: Workload,
    /// The outcome.
    pub outcome: Outcome,
    /// The database version that judged it.
    pub database: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

impl Decided {
    fn build(self) -> AuditRecord {
        let spec = portcullis_webhook::audit(
            &self.workload,
            &self.outcome,
            self.database.as_deref(),
            &self.at,
        );
        AuditRecord {
            name: self.name,
            namespace: self.workload.namespace,
            spec,
        }
    }
}

/// The local store and the writer.
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// Decisions not yet built, newest per workload, with their arrival number.
    waiting: Mutex<HashMap<Owner, (u64, Decided)>>,
    /// The arrival number of the next decision.
    arrivals: AtomicU64,
    store: Mutex<Store>,
    capacity: usize,
    client: Option<kube::Client>,
    /// Workloads with a write in flight, each with the newest record not yet written (at
    /// most `capacity` workloads; past that a record is not written and counted as a
    /// failure).
    writing: Mutex<HashMap<Owner, Option<Arc<AuditRecord>>>>,
    metrics: Arc<Metrics>,
}

/// An `Audit`'s namespace and name.
type Owner = (String, String);

/// The records kept, oldest first, with an index by owner: replacing a workload's record
/// and evicting the oldest cost a map operation, not a scan.
#[derive(Default)]
struct Store {
    by_age: BTreeMap<u64, Arc<AuditRecord>>,
    by_owner: HashMap<Owner, u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("capacity", &self.inner.capacity)
            .field("kubernetes", &self.inner.client.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// A log keeping `capacity` records, writing through `client` when there is one.
    pub fn new(capacity: usize, client: Option<kube::Client>, metrics: Arc<Metrics>) -> Self {
        Self {
            inner: Arc::new(Inner {
                waiting: Mutex::default(),
                arrivals: AtomicU64::new(0),
                store: Mutex::default(),
                capacity: capacity.max(1),
                client,
                writing: Mutex::default(),
                metrics,
            }),
        }
    }

    /// Keep what an admission decided (replacing an older decision about the same
    /// workload); its `Audit` is built and written in the background.
    pub fn record(&self, decided: Decided) {
        let owner = (decided.workload.namespace.clone(), decided.name.clone());
        let arrival = self.inner.arrivals.fetch_add(1, Ordering::Relaxed);
        let (first, waiting) = {
            let mut waiting = lock(&self.inner.waiting);
            waiting.insert(owner, (arrival, decided));
            (waiting.len() == 1, waiting.len())
        };
        if waiting > BATCH {
            self.inner.build_waiting();
        } else if first && self.inner.client.is_some() {
            let inner = Arc::clone(&self.inner);
            tokio::spawn(async move {
                // Let the decisions of this moment gather: each workload is built once.
                tokio::task::yield_now().await;
                inner.build_waiting();
            });
        }
    }

    /// Every record kept, newest first.
    pub fn list(&self) -> Vec<Arc<AuditRecord>> {
        self.inner.build_waiting();
        lock(&self.inner.store)
            .by_age
            .values()
            .rev()
            .cloned()
            .collect()
    }
}

impl Inner {
    /// Build the waiting decisions, keep them, and write them to the cluster.
    fn build_waiting(self: &Arc<Self>) {
        let mut waiting: Vec<(u64, Decided)> = std::mem::take(&mut *lock(&self.waiting))
            .into_values()
            .collect();
        waiting.sort_unstable_by_key(|(arrival, _)| *arrival);
        for (arrival, decided) in waiting {
            let record = Arc::new(decided.build());
            let owner = (record.namespace.clone(), record.name.clone());
            self.keep(arrival, owner.clone(), Arc::clone(&record));
            self.write(owner, record);
        }
    }

    fn keep(&self, arrival: u64, owner: Owner, record: Arc<AuditRecord>) {
        let mut store = lock(&self.store);
        if let Some(old) = store.by_owner.insert(owner, arrival) {
            store.by_age.remove(&old);
        }
        store.by_age.insert(arrival, record);
        while store.by_age.len() > self.capacity {
            if let Some((_, evicted)) = store.by_age.pop_first() {
                let owner = (evicted.namespace.clone(), evicted.name.clone());
                store.by_owner.remove(&owner);
            }
        }
    }

    /// Write `record` to the cluster, coalesced per workload: while one write is in flight,
    /// only the newest record waits, and is written next.
    fn write(self: &Arc<Self>, owner: Owner, record: Arc<AuditRecord>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        {
            let mut writing = lock(&self.writing);
            if let Some(next) = writing.get_mut(&owner) {
                *next = Some(record);
                return;
            }
            if writing.len() >= self.capacity {
                drop(writing);
                self.metrics.audit_failures.inc();
                tracing::warn!(
                    namespace = %owner.0,
                    name = %owner.1,
                    "not writing an Audit: {} workloads already wait for theirs",
                    self.capacity
                );
                return;
            }
            writing.insert(owner.clone(), Some(record));
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let next = {
                    let mut writing = lock(&inner.writing);
                    match writing.get_mut(&owner).and_then(Option::take) {
                        Some(next) => next,
                        None => {
                            writing.remove(&owner);
                            return;
                        }
                    }
                };
                let (namespace, name) = &owner;
                let spec = next.spec.clone();
                if let Err(e) = portcullis_k8s::audit::write(&client, namespace, name, spec).await {
                    inner.metrics.audit_failures.inc();
                    tracing::warn!(error = %e, "writing an Audit");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(namespace: &str, name: &str, at: &str) -> Decided {
        Decided {
            name: format!("pod-{name}"),
            workload: Workload {
                namespace: namespace.to_string(),
                name: name.to_string(),
                kind: "Pod".to_string(),
                operation: "CREATE".to_string(),
                uid: "uid".to_string(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                images: Vec::new(),
                pull_secrets: Vec::new(),
                release: None,
                service_account: None,
            },
            outcome: Outcome::LabelSkipped,
            database: None,
            at: at.to_string(),
        }
    }

    fn listed(log: &AuditLog) -> Vec<(String, String, String)> {
        log.list()
            .iter()
            .map(|r| {
                (
                    r.namespace.clone(),
                    r.name.clone(),
                    r.spec.timestamp.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn the_newest_decision_per_workload_is_kept_newest_first_within_the_bound() {
        let log = AuditLog::new(2, None, Arc::default());
        log.record(decided("a", "one", "t1"));
        log.record(decided("a", "two", "t2"));
        log.record(decided("a", "one", "t3"));
        let expected = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
            rows.iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect()
        };
        assert_eq!(
            listed(&log),
            expected(&[("a", "pod-one", "t3"), ("a", "pod-two", "t2")])
        );
        // A third workload evicts the oldest record (two), not one's newer one.
        log.record(decided("b", "three", "t4"));
        assert_eq!(
            listed(&log),
            expected(&[("b", "pod-three", "t4"), ("a", "pod-one", "t3")])
        );
    }

    #[test]
    fn decisions_are_built_once_more_than_a_batch_of_workloads_wait() {
        let log = AuditLog::new(1000, None, Arc::default());
        for i in 0..=BATCH {
            log.record(decided("a", &format!("w{i}"), "t"));
        }
        assert!(lock(&log.inner.waiting).is_empty());
        assert_eq!(lock(&log.inner.store).by_age.len(), BATCH + 1);
    }
}
