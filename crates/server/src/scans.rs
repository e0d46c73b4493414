//! Manual scans requested through the REST API.

use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::bounded::BoundedMap;

/// Where a manual scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    /// Still running.
    Pending,
    /// Finished with a report.
    Done,
    /// Failed; see `error`.
    Failed,
}

/// One manual scan as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ScanEntry {
    /// Its id.
    pub id: String,
    /// The image asked for.
    pub image: String,
    /// Where it is.
    pub status: ScanStatus,
    /// The digest, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The kind of failure (`unauthorized`, `not_found`, `unreachable`, `timeout`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The report, as `scan --format json` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

/// The manual scans kept (bounded).
#[derive(Debug)]
pub struct ScanStore {
    entries: Mutex<BoundedMap<String, ScanEntry>>,
    counter: Mutex<u64>,
}

impl ScanStore {
    /// A store keeping `capacity` scans.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(BoundedMap::new(capacity)),
            counter: Mutex::new(0),
        }
    }

    /// Register a pending scan of `image`; returns its entry.
    pub fn start(&self, image: &str) -> ScanEntry {
        let n = {
            let mut counter = self.counter.lock().unwrap_or_else(|e| e.into_inner());
            *counter = counter.saturating_add(1);
            *counter
        };
        let id = hex::encode(&unique_id(n, image)[..12]);
        let entry = ScanEntry {
            id: id.clone(),
            image: image.to_string(),
            status: ScanStatus::Pending,
            digest: None,
            error: None,
            reason: None,
            report: None,
        };
        self.put(entry.clone());
        entry
    }

    /// Store `entry` (replacing the one with its id).
    pub fn put(&self, entry: ScanEntry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entry.id.clone(), entry);
    }

    /// The scan `id`.
    pub fn get(&self, id: &str) -> Option<ScanEntry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id.to_string())
            .cloned()
    }
}

/// 32 bytes unique to (`n`, now, `salt`): the SHA-256 of the three.
pub fn unique_id(n: u64, salt: &str) -> [u8; 32] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut hasher = Sha256::new();
    hasher.update(n.to_le_bytes());
    hasher.update(nanos.to_le_bytes());
    hasher.update(salt.as_bytes());
    hasher.finalize().into()
}
