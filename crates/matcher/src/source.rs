//! Where affected entries and vulnerability records come from.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use portcullis_vulndb::model::package_key;
use portcullis_vulndb::{
    AffectedEntry, Database, EpssScore, Exploitation, KevEntry, PackageEntries, Record,
    Vulnerability,
};

use crate::error::{Error, ErrorKind, Result};

/// Affected entries per `(ecosystem, package)` query, as given: borrowed from the
/// database's stored blobs ([`Database::entries_many`]), or owned ones from a source that
/// answers with [`AffectedEntry`] values.
pub type AffectedMap = HashMap<(String, String), PackageEntries>;

/// Records per canonical id.
pub type RecordMap = HashMap<String, Vec<Vulnerability>>;

/// A store of vulnerability data the matcher can query.
///
/// [`match_packages`](crate::match_packages) calls only the batch methods, once each per
/// image; their default implementations loop over the single ones, so a source need only
/// implement those (and may override the batch ones with fewer queries, as [`Database`]
/// does).
pub trait AdvisorySource {
    /// Every affected entry for `package` in `ecosystem` (`Alpine:v3.20`, `PyPI`, ...).
    fn affected(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>>;
    /// Every record (any source) whose canonical id is `canonical_id`.
    fn records(&self, canonical_id: &str) -> Result<Vec<Vulnerability>>;

    /// [`AdvisorySource::affected`] for each `(ecosystem, package)` query: one map key per
    /// distinct query, as given (empty entries when nothing is affected).
    fn affected_many(&self, queries: &[(String, String)]) -> Result<AffectedMap> {
        let mut out = AffectedMap::with_capacity(queries.len());
        for (ecosystem, package) in queries {
            if let Entry::Vacant(slot) = out.entry((ecosystem.clone(), package.clone())) {
                slot.insert(self.affected(ecosystem, package)?.into());
            }
        }
        Ok(out)
    }

    /// Every ecosystem with affected entries whose name starts with `prefix`, sorted (the
    /// streams of an OS filed under several ecosystems). The default knows none.
    fn ecosystems_under(&self, prefix: &str) -> Result<Vec<String>> {
        let _ = prefix;
        Ok(Vec::new())
    }

    /// The KEV entries and EPSS scores of `cve_ids` (only those that have one). The default
    /// knows none.
    fn exploitation(&self, cve_ids: &[String]) -> Result<Exploitation> {
        let _ = cve_ids;
        Ok(Exploitation::default())
    }

    /// [`AdvisorySource::records`] for each canonical id: one map key per distinct id.
    fn records_many(&self, canonical_ids: &[String]) -> Result<RecordMap> {
        let mut out = RecordMap::with_capacity(canonical_ids.len());
        for id in canonical_ids {
            if let Entry::Vacant(slot) = out.entry(id.clone()) {
                slot.insert(self.records(id)?);
            }
        }
        Ok(out)
    }
}

fn db_error(e: portcullis_vulndb::Error) -> Error {
    Error::new(ErrorKind::Database, e.to_string()).with_source(e)
}

impl AdvisorySource for Database {
    fn affected(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>> {
        self.lookup(ecosystem, package).map_err(db_error)
    }

    fn records(&self, canonical_id: &str) -> Result<Vec<Vulnerability>> {
        self.records_for(canonical_id).map_err(db_error)
    }

    fn affected_many(&self, queries: &[(String, String)]) -> Result<AffectedMap> {
        self.entries_many(queries).map_err(db_error)
    }

    /// Without the bare records, which add nothing to a finding (see
    /// [`Database::finding_records_many`]).
    fn records_many(&self, canonical_ids: &[String]) -> Result<RecordMap> {
        self.finding_records_many(canonical_ids).map_err(db_error)
    }

    fn exploitation(&self, cve_ids: &[String]) -> Result<Exploitation> {
        self.exploitation_many(cve_ids).map_err(db_error)
    }

    fn ecosystems_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.ecosystems_with_prefix(prefix).map_err(db_error)
    }
}

/// An in-memory [`AdvisorySource`], for tests, benchmarks and small tools.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    affected: HashMap<(String, String), Vec<AffectedEntry>>,
    records: HashMap<String, Vec<Vulnerability>>,
    exploitation: Exploitation,
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

    /// Add a KEV entry.
    pub fn add_kev(&mut self, entry: KevEntry) {
        self.exploitation.kev.insert(entry.cve.clone(), entry);
    }

    /// Add an EPSS score for `cve`; `date` is the snapshot's date.
    pub fn add_epss(&mut self, cve: &str, score: EpssScore, date: Option<&str>) {
        self.exploitation.epss.insert(cve.to_owned(), score);
        self.exploitation.epss_date = date.map(str::to_owned);
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

    fn ecosystems_under(&self, prefix: &str) -> Result<Vec<String>> {
        let found: std::collections::BTreeSet<&String> = self
            .affected
            .keys()
            .map(|(ecosystem, _)| ecosystem)
            .filter(|e| e.starts_with(prefix))
            .collect();
        Ok(found.into_iter().cloned().collect())
    }

    fn exploitation(&self, cve_ids: &[String]) -> Result<Exploitation> {
        let kev = cve_ids
            .iter()
            .filter_map(|id| Some((id.clone(), self.exploitation.kev.get(id)?.clone())))
            .collect();
        let epss = cve_ids
            .iter()
            .filter_map(|id| Some((id.clone(), *self.exploitation.epss.get(id)?)))
            .collect();
        Ok(Exploitation {
            kev,
            epss,
            epss_date: self.exploitation.epss_date.clone(),
        })
    }
}
