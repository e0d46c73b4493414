//! Writing into the new version of a database: [`Builder`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};

use super::content_hash;
use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::import::{ImportOptions, ImportSummary};
use crate::model::{Record, package_key};
use crate::nvd_store;
use crate::time::now_rfc3339;

/// How an import replaces what a source had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    /// The input is a full snapshot of the source: every old record of it is dropped first.
    Replace,
    /// The input holds some records of the source: records with the same id are replaced,
    /// others kept.
    Upsert,
}

/// Writes into the new version of a database inside [`update_atomically`]. All writes happen
/// in one transaction on a temporary file.
#[derive(Debug)]
pub struct Builder<'a> {
    conn: &'a Connection,
    label: String,
    touched: BTreeSet<String>,
    /// (ecosystem, package key) whose `packages` row must be rebuilt at the end.
    dirty: BTreeSet<(String, String)>,
}

impl<'a> Builder<'a> {
    /// A builder writing through `conn` (inside the build's transaction); `label` names the
    /// file in errors.
    pub(super) fn new(conn: &'a Connection, label: String) -> Self {
        Self {
            conn,
            label,
            touched: BTreeSet::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// The label (temporary file path) used in error messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Start writing `source`. With [`SourceMode::Replace`] every old record of it is
    /// dropped. A source is listed in the status (with its new record count and update
    /// time) once the build succeeds.
    pub fn begin_source(&mut self, source: &str, mode: SourceMode) -> Result<()> {
        if mode == SourceMode::Replace {
            let err = |e| Error::store(format!("{}: clearing source {source}", self.label), e);
            mark_dirty(
                self.conn,
                &mut self.dirty,
                "SELECT DISTINCT ecosystem, package_key FROM affected WHERE vuln IN \
                 (SELECT pk FROM vulnerabilities WHERE source = ?1)",
                source,
            )
            .map_err(err)?;
            self.conn
                .execute(
                    "DELETE FROM affected WHERE vuln IN \
                     (SELECT pk FROM vulnerabilities WHERE source = ?1)",
                    [source],
                )
                .map_err(err)?;
            self.conn
                .execute("DELETE FROM vulnerabilities WHERE source = ?1", [source])
                .map_err(err)?;
            if source == nvd_store::SOURCE {
                self.conn.execute("DELETE FROM nvd", []).map_err(err)?;
            }
        }
        self.touched.insert(source.to_owned());
        Ok(())
    }

    /// Insert `record`, replacing a record with the same source and id.
    pub fn put(&mut self, record: &Record) -> Result<()> {
        let vuln = &record.vuln;
        let err = |e| {
            Error::store(
                format!("{}: writing {} from {}", self.label, vuln.id, vuln.source),
                e,
            )
        };
        if !self.touched.contains(&vuln.source) {
            self.touched.insert(vuln.source.clone());
        }
        if vuln.source == nvd_store::SOURCE {
            return self.put_nvd(record);
        }
        let existing: Option<i64> = self
            .conn
            .prepare_cached("SELECT pk FROM vulnerabilities WHERE source = ?1 AND id = ?2")
            .map_err(err)?
            .query_row(params![vuln.source, vuln.id], |row| row.get(0))
            .optional()
            .map_err(err)?;
        if let Some(pk) = existing {
            mark_dirty(
                self.conn,
                &mut self.dirty,
                "SELECT ecosystem, package_key FROM affected WHERE vuln = ?1",
                pk,
            )
            .map_err(err)?;
            self.conn
                .prepare_cached("DELETE FROM affected WHERE vuln = ?1")
                .map_err(err)?
                .execute([pk])
                .map_err(err)?;
            self.conn
                .prepare_cached("DELETE FROM vulnerabilities WHERE pk = ?1")
                .map_err(err)?
                .execute([pk])
                .map_err(err)?;
        }
        let json = |value: &dyn erased::Json| value.to_json();
        self.conn
            .prepare_cached(
                "INSERT INTO vulnerabilities (source, id, canonical_id, summary, published, \
                 modified, withdrawn, aliases, severities, refs, related, cwes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .map_err(err)?
            .execute(params![
                vuln.source,
                vuln.id,
                vuln.canonical_id,
                vuln.summary,
                vuln.published,
                vuln.modified,
                vuln.withdrawn,
                json(&vuln.aliases),
                json(&vuln.severities),
                json(&vuln.references),
                json(&vuln.related),
                json(&vuln.cwe_ids),
            ])
            .map_err(err)?;
        let pk = self.conn.last_insert_rowid();
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO affected (ecosystem, package_key, vuln, seq, package, vuln_id, \
                 canonical_id, source, status, fixed_version, ranges, versions, notes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(err)?;
        for (seq, entry) in record.affected.iter().enumerate() {
            let ranges = (!entry.has_derived_ranges()).then(|| codec::encode_ranges(&entry.ranges));
            let versions =
                (!entry.versions.is_empty()).then(|| codec::encode_versions(&entry.versions));
            let key = package_key(&entry.ecosystem, &entry.package);
            if !self.dirty.contains(&(entry.ecosystem.clone(), key.clone())) {
                self.dirty.insert((entry.ecosystem.clone(), key.clone()));
            }
            insert
                .execute(params![
                    entry.ecosystem,
                    key,
                    pk,
                    seq as i64,
                    entry.package,
                    vuln.id,
                    vuln.canonical_id,
                    vuln.source,
                    entry.status.code(),
                    entry.fixed_version,
                    ranges,
                    versions,
                    entry.notes,
                ])
                .map_err(err)?;
        }
        Ok(())
    }

    /// Insert or replace an NVD record in the `nvd` table.
    fn put_nvd(&mut self, record: &Record) -> Result<()> {
        let vuln = &record.vuln;
        if !record.affected.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{}: NVD record {} has affected entries; NVD records carry none",
                    self.label, vuln.id
                ),
            ));
        }
        let stored = nvd_store::put(self.conn, vuln).map_err(|e| {
            Error::store(format!("{}: writing {} from nvd", self.label, vuln.id), e)
        })?;
        if !stored {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{}: NVD record {:?} is not a CVE id", self.label, vuln.id),
            ));
        }
        Ok(())
    }

    /// Import `paths` (files or directories; formats detected by content) into this build.
    pub fn import_paths(
        &mut self,
        paths: &[PathBuf],
        options: &ImportOptions,
    ) -> Result<ImportSummary> {
        crate::import::import_paths(self, paths, options, &())
    }

    /// Record that feed `name` was imported from content with SHA-256 `sha256` (kept in
    /// `meta` as `feed:<name>`, outside the content hash): the next update skips the feed
    /// while its `.meta` says the same.
    pub fn set_feed_digest(&mut self, name: &str, sha256: &str) -> Result<()> {
        let err = |e| Error::store(format!("recording the digest of feed {name}"), e);
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .map_err(err)?
            .execute(params![format!("feed:{name}"), sha256])
            .map_err(err)?;
        Ok(())
    }

    /// The connection of this build (for the KEV and EPSS tables, see `exploit`).
    pub(crate) fn connection(&self) -> &Connection {
        self.conn
    }

    /// Record counts of `source` in this build so far.
    pub fn records(&self, source: &str) -> Result<u64> {
        source_records(self.conn, source)
            .map(|n| n.max(0) as u64)
            .map_err(|e| Error::store(format!("{}: counting {source}", self.label), e))
    }

    pub(super) fn finish(&mut self) -> Result<()> {
        self.rebuild_packages()?;
        let now = now_rfc3339();
        let err = |e| Error::store(format!("{}: writing source metadata", self.label), e);
        for source in &self.touched {
            let records = source_records(self.conn, source).map_err(err)?;
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO sources (name, records, updated_at) VALUES \
                     (?1, ?2, ?3)",
                    params![source, records, now],
                )
                .map_err(err)?;
        }
        crate::exploit::count_sources(self.conn).map_err(err)?;
        // A replaced source that is now empty stays listed with 0 records: the update ran.
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('built_at', ?1)",
                [&now],
            )
            .map_err(err)?;
        let hash = content_hash(self.conn, &self.label)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('content_hash', ?1)",
                [&hash],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Rewrite the `packages` rows of every changed package (of every package after the
    /// migration that created the table) from `affected`.
    fn rebuild_packages(&mut self) -> Result<()> {
        let err = |e| Error::store(format!("{}: writing package entries", self.label), e);
        let stale = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'packages_stale')",
                [],
                |row| row.get::<_, bool>(0),
            )
            .map_err(err)?;
        if stale {
            self.conn
                .execute_batch(
                    "DELETE FROM packages; DELETE FROM meta WHERE key = 'packages_stale';",
                )
                .map_err(err)?;
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT ecosystem, package_key FROM affected")
                .map_err(err)?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(err)?;
            for row in rows {
                self.dirty.insert(row.map_err(err)?);
            }
        }
        for (ecosystem, key) in std::mem::take(&mut self.dirty) {
            self.rebuild_package(&ecosystem, &key).map_err(err)?;
        }
        Ok(())
    }

    fn rebuild_package(&self, ecosystem: &str, key: &str) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vuln_id, canonical_id, source, package, status, fixed_version, notes, \
             ranges, versions, seq FROM affected WHERE ecosystem = ?1 AND package_key = ?2",
        )?;
        let rows = stmt
            .query_map(params![ecosystem, key], |row| {
                Ok(OwnedEntry {
                    vuln_id: row.get(0)?,
                    canonical_id: row.get(1)?,
                    source: row.get(2)?,
                    package: row.get(3)?,
                    status: row.get(4)?,
                    fixed_version: row.get(5)?,
                    notes: row.get(6)?,
                    ranges: row.get(7)?,
                    versions: row.get(8)?,
                    seq: row.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if rows.is_empty() {
            self.conn
                .prepare_cached("DELETE FROM packages WHERE ecosystem = ?1 AND package_key = ?2")?
                .execute(params![ecosystem, key])?;
            return Ok(());
        }
        let mut rows = rows;
        rows.sort_by(|a, b| {
            (&a.canonical_id, &a.vuln_id, &a.source, a.seq).cmp(&(
                &b.canonical_id,
                &b.vuln_id,
                &b.source,
                b.seq,
            ))
        });
        let blob = codec::encode_package(rows.iter().map(OwnedEntry::borrowed)).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Blob, Box::new(e))
        })?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO packages (ecosystem, package_key, entries) \
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![ecosystem, key, blob])?;
        Ok(())
    }
}

/// Add the (ecosystem, package key) pairs `sql` selects (with one parameter) to `dirty`.
/// The number of records of `source` (NVD's in their own table).
fn source_records(conn: &Connection, source: &str) -> rusqlite::Result<i64> {
    if source == nvd_store::SOURCE {
        return nvd_store::count(conn);
    }
    conn.prepare_cached("SELECT COUNT(*) FROM vulnerabilities WHERE source = ?1")?
        .query_row([source], |row| row.get(0))
}

fn mark_dirty(
    conn: &Connection,
    dirty: &mut BTreeSet<(String, String)>,
    sql: &str,
    param: impl rusqlite::ToSql,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([param], |row| Ok((row.get(0)?, row.get(1)?)))?;
    for row in rows {
        dirty.insert(row?);
    }
    Ok(())
}

/// One `affected` row, owned, while its package's blob is rebuilt.
struct OwnedEntry {
    vuln_id: String,
    canonical_id: String,
    source: String,
    package: String,
    status: i64,
    fixed_version: Option<String>,
    notes: Option<String>,
    ranges: Option<Vec<u8>>,
    versions: Option<Vec<u8>>,
    seq: i64,
}

impl OwnedEntry {
    fn borrowed(&self) -> codec::StoredEntry<'_> {
        codec::StoredEntry {
            vuln_id: &self.vuln_id,
            canonical_id: &self.canonical_id,
            source: &self.source,
            package: &self.package,
            status: self.status,
            fixed_version: self.fixed_version.as_deref(),
            notes: self.notes.as_deref(),
            ranges: self.ranges.as_deref(),
            versions: self.versions.as_deref(),
        }
    }
}

mod erased {
    /// Object-safe JSON encoding for the small serialisable values we store.
    pub trait Json {
        fn to_json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            // Serialising plain data (strings, numbers, enums) into a String cannot fail.
            serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned())
        }
    }
}
