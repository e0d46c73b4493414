//! Audit records: kept in a bounded local store for the API, and written as `Audit`
//! objects when the Kubernetes API is enabled (failures are logged and counted, never
//! failing the admission).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use portcullis_k8s::AuditSpec;
use serde::Serialize;

use crate::metrics::Metrics;

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

/// The local store and the writer.
pub struct AuditLog {
    records: Mutex<VecDeque<AuditRecord>>,
    capacity: usize,
    client: Option<kube::Client>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("capacity", &self.capacity)
            .field("kubernetes", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// A log keeping `capacity` records, writing through `client` when there is one.
    pub fn new(capacity: usize, client: Option<kube::Client>, metrics: Arc<Metrics>) -> Self {
        Self {
            records: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            client,
            metrics,
        }
    }

    /// Keep `record` (replacing an older one of the same owner) and write it to the cluster
    /// in the background.
    pub fn record(&self, record: AuditRecord) {
        {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            records.retain(|r| !(r.name == record.name && r.namespace == record.namespace));
            records.push_back(record.clone());
            while records.len() > self.capacity {
                records.pop_front();
            }
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        let metrics = Arc::clone(&self.metrics);
        tokio::spawn(async move {
            let AuditRecord {
                name,
                namespace,
                spec,
            } = record;
            if let Err(e) = portcullis_k8s::audit::write(&client, &namespace, &name, spec).await {
                metrics.audit_failures.inc();
                tracing::warn!(error = %e, "writing an Audit");
            }
        });
    }

    /// Every record kept, newest first.
    pub fn list(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .rev()
            .cloned()
            .collect()
    }
}
