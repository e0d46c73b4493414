//! Where affected entries and vulnerability records come from.

use std::collections::HashMap;

use portcullis_vulndb::model::package_key;
use portcullis_vulndb::{AffectedEntry, Database, Record, Vulnerability};

use crate::error::{Error, ErrorKind, Result};

/// A store of vulnerability data the matcher can query.
pub trait AdvisorySource {
    /// Every affected entry for `package` in `ecosystem` (`Alpine:v3.20`, `PyPI`, ...).
    fn affected(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>>;
    /// Every record (any source) whose canonical id is `canonical_id`.
    fn records(&self, canonical_id: &str) -> Result<Vec<Vulnerability>>;
}

impl AdvisorySource for Database {
    fn affected(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>> {
        self.lookup(ecosystem, package)
            .map_err(|e| Error::new(ErrorKind::Database, e.to_string()).with_source(e))
    }

    fn records(&self, canonical_id: &str) -> Result<Vec<Vulnerability>> {
        self.records_for(canonical_id)
            .map_err(|e| Error::new(ErrorKind::Database, e.to_string()).with_source(e))
    }
}

/// An in-memory [`AdvisorySource`], for tests, benchmarks and small tools.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    affected: HashMap<(String, String), Vec<AffectedEntry>>,
    records: HashMap<String, Vec<Vulnerability>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a record and its affected entries.
    pub fn add(&mut self, record: Record) {
        for entry in record.affected {
            let key = (
                entry.ecosystem.clone(),
                package_key(&entry.ecosystem, &entry.package),
            );
            self.affected.entry(key).or_default().push(entry);
        }
        self.records
            .entry(record.vuln.canonical_id.clone())
            .or_default()
            .push(record.vuln);
    }
}

impl AdvisorySource for MemorySource {
    fn affected(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>> {
        let key = (ecosystem.to_string(), package_key(ecosystem, package));
        Ok(self.affected.get(&key).cloned().unwrap_or_default())
    }

    fn records(&self, canonical_id: &str) -> Result<Vec<Vulnerability>> {
        Ok(self.records.get(canonical_id).cloned().unwrap_or_default())
    }
}
