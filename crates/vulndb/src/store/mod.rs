//! The embedded SQLite store: reading ([`Database`], here), writing into a new version
//! ([`Builder`], `build.rs`) and swapping it in atomically under a lock
//! ([`update_atomically`], `swap.rs`).

mod build;
mod swap;
#[cfg(test)]
mod tests;

pub use build::{Builder, SourceMode};
pub use swap::{UpdateLock, lock_path, update_atomically};
pub(crate) use swap::{remove_stale_temps, sync_parent, temp_path, verify};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::codec;
use crate::entries::PackageEntries;
use crate::error::{Error, ErrorKind, Result};
use crate::import::{ImportOptions, ImportProgress, ImportSummary};
use crate::model::{AffectedEntry, Severity, Vulnerability, package_key};
use crate::nvd_store;
use crate::schema::{self, SCHEMA_VERSION};

/// The default database location: `$PORTCULLIS_DB` if set, else
/// `$XDG_CACHE_HOME/portcullis/db.sqlite`, else `~/.cache/portcullis/db.sqlite`.
/// `None` when none of `PORTCULLIS_DB`, `XDG_CACHE_HOME` and `HOME` is set.
pub fn default_path() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = non_empty("PORTCULLIS_DB") {
        return Some(PathBuf::from(path));
    }
    let cache = match non_empty("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME")?).join(".cache"),
    };
    Some(cache.join("portcullis").join("db.sqlite"))
}

/// The state of a database, as `portcullis db status --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The schema version of the file.
    pub schema_version: u32,
    /// When the file was last built (RFC 3339, UTC).
    pub built_at: Option<String>,
    /// Every source, sorted by name.
    pub sources: Vec<SourceStatus>,
    /// Distinct vulnerabilities (distinct canonical ids over all sources).
    pub vulnerabilities: u64,
    /// Affected entries over all sources.
    pub affected: u64,
}

/// One source in a [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceStatus {
    /// Source name (`osv:Go`, `alpine-secdb:v3.20/main`, `debian-oval:12`, `nvd`, …).
    pub name: String,
    /// Vulnerability records from this source.
    pub records: u64,
    /// When this source was last updated successfully (RFC 3339, UTC).
    pub updated_at: String,
}

/// A read-only handle on a vulnerability database file.
///
/// Readers never see a half-written database: writers build a new file and rename it over the
/// old one, so an open handle keeps reading the file it opened. One handle serves one thread
/// at a time: it is `Send`, not `Sync` (SQLite connection), so a server opens one per worker
/// thread or shares one behind a `Mutex`.
///
/// A file changed in place (truncated, or copied over with `cp`) cannot crash the reader:
/// pages are read with plain reads, never through a memory map, and every query first checks
/// (one `fstat`) that the open file still has the size and modification time it had when
/// opened; if not it fails with [`ErrorKind::Changed`].
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
    /// The file as opened, to notice changes made in place.
    watch: fs::File,
    stamp: FileStamp,
}

/// What identifies one version of a database file: inode, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Self {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

const LOOKUP_SQL: &str = "SELECT entries FROM packages WHERE ecosystem = ?1 AND package_key = ?2";

const LOOKUP_MANY_SQL: &str = "SELECT package_key, entries FROM packages \
     WHERE ecosystem = ?1 AND package_key IN (SELECT value FROM json_each(?2))";

const RECORD_COLUMNS: &str = "source, id, canonical_id, summary, published, modified, withdrawn, \
     aliases, severities, refs, related, cwes";

/// Keys per batched query.
const BATCH: usize = 2000;

impl Database {
    /// Open an existing database read-only. Fails with [`ErrorKind::Schema`] when the file
    /// has another schema version (rebuild it with an update).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let label = path.display().to_string();
        if !path.is_file() {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{label}: no vulnerability database here (run an import or update)"),
            ));
        }
        let watch = fs::File::open(&path).map_err(|e| Error::io(format!("{label}: opening"), e))?;
        let stamp = FileStamp::of(
            &watch
                .metadata()
                .map_err(|e| Error::io(format!("{label}: opening"), e))?,
        );
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::store(format!("{label}: opening"), e))?;
        let version = schema::current_version(&conn, &label)?;
        if version != SCHEMA_VERSION {
            return Err(Error::new(
                ErrorKind::Schema,
                format!(
                    "{label}: schema version {version}, this build reads {SCHEMA_VERSION} (rebuild the database)"
                ),
            ));
        }
        // Writers never change a database file in place (they rename a new one over it), so
        // this handle can keep its shared lock for its lifetime: no lock, change-counter and
        // hot-journal checks per query. No memory map: a file truncated under a mapping
        // kills the process with SIGBUS, where a plain read returns an error.
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; PRAGMA mmap_size = 0;")
            .map_err(|e| Error::store(format!("{label}: configuring"), e))?;
        conn.set_prepared_statement_cache_capacity(32);
        let db = Self {
            conn,
            path,
            watch,
            stamp,
        };
        // The connection must read the file `watch` holds (no rename in between), and that
        // file must not have changed while the schema was read.
        let now = fs::metadata(&db.path)
            .map(|m| FileStamp::of(&m))
            .map_err(|e| Error::io(format!("{label}: opening"), e))?;
        if (now.dev, now.ino) != (db.stamp.dev, db.stamp.ino) {
            return Err(Error::new(
                ErrorKind::Changed,
                format!("{label}: replaced while being opened; try again"),
            ));
        }
        db.check_unchanged()?;
        Ok(db)
    }

    /// Fail with [`ErrorKind::Changed`] if the open file was changed in place since it was
    /// opened (its size or modification time differ): its pages can no longer be trusted.
    /// One `fstat`; every query calls it first.
    pub fn check_unchanged(&self) -> Result<()> {
        let label = self.label();
        let now = self
            .watch
            .metadata()
            .map(|m| FileStamp::of(&m))
            .map_err(|e| Error::io(format!("{label}: checking the open file"), e))?;
        if now == self.stamp {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Changed,
            format!(
                "{label}: the database file was changed in place while open ({} bytes when opened, {} now); \
                 replace a database by writing a new file in the same directory and renaming it over the old one",
                self.stamp.len, now.len
            ),
        ))
    }

    /// SQLite's `PRAGMA quick_check` (page structure, cell bounds, free list; time
    /// proportional to the file size): the check a server runs before it serves a new file.
    pub fn quick_check(&self) -> Result<()> {
        self.check_unchanged()?;
        let failed = |what: &dyn std::fmt::Display| {
            Error::new(
                ErrorKind::Store,
                format!(
                    "{}: integrity check failed (the file is corrupt; rebuild or re-download it): {what}",
                    self.label()
                ),
            )
        };
        let problems = self
            .conn
            .prepare("PRAGMA quick_check(5)")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            // Damage can stop the check itself (SQLITE_CORRUPT).
            .map_err(|e| failed(&e).with_source(e))?;
        if problems.len() == 1 && problems.first().is_some_and(|p| p == "ok") {
            return Ok(());
        }
        Err(failed(&problems.join("; ")))
    }

    /// Create an empty database at `path` if none exists (atomically), then open it.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            update_atomically(path, |_| Ok(()))?;
        }
        Self::open(path)
    }

    /// Build a new version of the database at `path` and swap it in atomically; see
    /// [`update_atomically`].
    pub fn update_atomically<T>(
        path: impl AsRef<Path>,
        build: impl FnOnce(&mut Builder<'_>) -> Result<T>,
    ) -> Result<T> {
        update_atomically(path.as_ref(), build)
    }

    /// Import `paths` (files or directories, formats detected by content) into the database
    /// at `path`, atomically: on any error the old database is left untouched.
    pub fn import_paths(
        path: impl AsRef<Path>,
        inputs: &[PathBuf],
        options: &ImportOptions,
    ) -> Result<ImportSummary> {
        Self::import_paths_with_progress(path, inputs, options, &())
    }

    /// [`Database::import_paths`], telling `progress` how it advances.
    pub fn import_paths_with_progress(
        path: impl AsRef<Path>,
        inputs: &[PathBuf],
        options: &ImportOptions,
        progress: &dyn ImportProgress,
    ) -> Result<ImportSummary> {
        update_atomically(path.as_ref(), |builder| {
            crate::import::import_paths(builder, inputs, options, progress)
        })
    }

    /// The file this handle reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// Every affected entry for `package` in `ecosystem` (`Alpine:v3.20`, `Debian:12`, `Go`,
    /// `PyPI`, …), in one indexed query, sorted by canonical id, record id and source.
    /// PyPI names are normalised before the lookup. Owned values: [`Database::entries`] gives
    /// the same entries borrowed, without decoding them.
    pub fn lookup(&self, ecosystem: &str, package: &str) -> Result<Vec<AffectedEntry>> {
        Ok(self.entries(ecosystem, package)?.to_vec())
    }

    /// [`Database::lookup`], borrowed: the package's stored entries, checked once and read
    /// in place (no allocation per entry; see [`PackageEntries`]).
    pub fn entries(&self, ecosystem: &str, package: &str) -> Result<PackageEntries> {
        self.check_unchanged()?;
        let key = package_key(ecosystem, package);
        let err = |e| Error::store(format!("{}: lookup {ecosystem}/{package}", self.label()), e);
        let mut stmt = self.conn.prepare_cached(LOOKUP_SQL).map_err(err)?;
        let mut rows = stmt.query(params![ecosystem, key]).map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => self.decode_package(row.get_ref(0).map_err(err)?, ecosystem, &key),
            None => Ok(PackageEntries::default()),
        }
    }

    /// [`Database::lookup`] for many `(ecosystem, package)` queries at once: one indexed
    /// query per ecosystem (per 2,000 packages). The map has one key per distinct query, as
    /// given (empty when nothing is affected); queries that name the same package (PyPI
    /// `Django` and `django`) get the same entries.
    pub fn lookup_many<E: AsRef<str>, P: AsRef<str>>(
        &self,
        queries: &[(E, P)],
    ) -> Result<HashMap<(String, String), Vec<AffectedEntry>>> {
        Ok(self
            .entries_many(queries)?
            .into_iter()
            .map(|(key, entries)| (key, entries.to_vec()))
            .collect())
    }

    /// [`Database::lookup_many`], borrowed (see [`Database::entries`]).
    pub fn entries_many<E: AsRef<str>, P: AsRef<str>>(
        &self,
        queries: &[(E, P)],
    ) -> Result<HashMap<(String, String), PackageEntries>> {
        self.check_unchanged()?;
        // ecosystem -> package key -> the queries' package names.
        let mut wanted: BTreeMap<&str, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
        for (ecosystem, package) in queries {
            let (ecosystem, package) = (ecosystem.as_ref(), package.as_ref());
            let names = wanted
                .entry(ecosystem)
                .or_default()
                .entry(package_key(ecosystem, package))
                .or_default();
            if !names.contains(&package) {
                names.push(package);
            }
        }
        let mut out = HashMap::with_capacity(queries.len());
        for (ecosystem, keys) in &wanted {
            let err = |e| {
                Error::store(
                    format!(
                        "{}: lookup of {} {ecosystem} packages",
                        self.label(),
                        keys.len()
                    ),
                    e,
                )
            };
            let key_list: Vec<&String> = keys.keys().collect();
            let mut found: HashMap<String, PackageEntries> = HashMap::new();
            for chunk in key_list.chunks(BATCH) {
                let json = serde_json::to_string(chunk).map_err(|e| {
                    Error::new(ErrorKind::Store, format!("{}: batch: {e}", self.label()))
                })?;
                let mut stmt = self.conn.prepare_cached(LOOKUP_MANY_SQL).map_err(err)?;
                let mut rows = stmt.query(params![ecosystem, json]).map_err(err)?;
                while let Some(row) = rows.next().map_err(err)? {
                    let key: String = row.get(0).map_err(err)?;
                    let entries =
                        self.decode_package(row.get_ref(1).map_err(err)?, ecosystem, &key)?;
                    found.insert(key, entries);
                }
            }
            for (key, names) in keys {
                let entries = found.remove(key).unwrap_or_default();
                if let Some((last, rest)) = names.split_last() {
                    for name in rest {
                        out.insert((ecosystem.to_string(), name.to_string()), entries.clone());
                    }
                    out.insert((ecosystem.to_string(), last.to_string()), entries);
                }
            }
        }
        Ok(out)
    }

    fn decode_package(
        &self,
        blob: ValueRef<'_>,
        ecosystem: &str,
        key: &str,
    ) -> Result<PackageEntries> {
        let corrupt = |what: &str| {
            Error::new(
                ErrorKind::Store,
                format!(
                    "{}: entries of {ecosystem}/{key}: corrupt stored data: {what}",
                    self.label()
                ),
            )
        };
        let bytes = blob.as_blob().map_err(|_| corrupt("not a blob"))?;
        PackageEntries::from_blob(bytes, ecosystem).map_err(|codec::Corrupt(what)| corrupt(what))
    }

    /// True when the database has any affected entry in `ecosystem` (`Alpine:v3.9`,
    /// `Debian:12`, `Go`): false means it has no data for it, so no finding there proves
    /// nothing. One indexed probe.
    pub fn has_ecosystem(&self, ecosystem: &str) -> Result<bool> {
        self.check_unchanged()?;
        let err = |e| Error::store(format!("{}: probing {ecosystem}", self.label()), e);
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM packages WHERE ecosystem = ?1)")
            .map_err(err)?
            .query_row([ecosystem], |row| row.get(0))
            .map_err(err)
    }

    /// Every ecosystem with affected entries whose name starts with `prefix` (`Red
    /// Hat:enterprise_linux:9::` gives its repository streams), sorted. One indexed range scan
    /// of the distinct ecosystems.
    pub fn ecosystems_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.check_unchanged()?;
        let err = |e| Error::store(format!("{}: ecosystems under {prefix}", self.label()), e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT ecosystem FROM packages WHERE ecosystem >= ?1 AND ecosystem < ?2 \
                 ORDER BY ecosystem",
            )
            .map_err(err)?;
        // Every text starting with `prefix` sorts below it followed by the highest character.
        let end = format!("{prefix}{}", char::MAX);
        let rows = stmt
            .query_map(params![prefix, end], |row| row.get::<_, String>(0))
            .map_err(err)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(err)
    }

    /// A stable identifier of the database content, for caches of results computed from it:
    /// `sha256:` and the [`Database::content_hash`] recorded when the file was built (one
    /// indexed read, no scan). Equal versions mean equal answers; an update that changes
    /// nothing keeps the version.
    pub fn version(&self) -> Result<String> {
        self.check_unchanged()?;
        let err = |e| Error::store(format!("{}: reading the version", self.label()), e);
        let hash: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'content_hash'")
            .map_err(err)?
            .query_row([], |row| row.get(0))
            .optional()
            .map_err(err)?;
        match hash {
            Some(hash) => Ok(format!("sha256:{hash}")),
            None => Err(Error::new(
                ErrorKind::Schema,
                format!(
                    "{}: no content hash recorded (rebuild the database)",
                    self.label()
                ),
            )),
        }
    }

    /// The SHA-256 of the content feed `name` was last imported from (see
    /// [`Builder::set_feed_digest`]), if it was.
    pub fn feed_digest(&self, name: &str) -> Result<Option<String>> {
        self.check_unchanged()?;
        let err = |e| {
            Error::store(
                format!("{}: reading the digest of feed {name}", self.label()),
                e,
            )
        };
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .map_err(err)?
            .query_row([format!("feed:{name}")], |row| row.get(0))
            .optional()
            .map_err(err)
    }

    /// Every record (from any source) whose canonical id is `canonical_id`, sorted by source:
    /// the place to find severities (e.g. NVD's) for a finding.
    pub fn records_for(&self, canonical_id: &str) -> Result<Vec<Vulnerability>> {
        Ok(self
            .records_for_many(&[canonical_id])?
            .remove(canonical_id)
            .unwrap_or_default())
    }

    /// [`Database::records_for`] for many canonical ids at once, in one query per 2,000 ids.
    /// The map has one key per distinct id asked for (empty when there is no record).
    pub fn records_for_many<S: AsRef<str>>(
        &self,
        canonical_ids: &[S],
    ) -> Result<HashMap<String, Vec<Vulnerability>>> {
        self.records_where(canonical_ids, "")
    }

    /// [`Database::records_for_many`] without the bare records: those that carry nothing
    /// but their id and source (no alias, related id, summary, date, severity, reference
    /// or CWE), such as Alpine's secdb records, one per branch and repository for each CVE.
    /// A bare record's id is its canonical id, so it adds nothing to a finding made from the
    /// others; skipping them, through a partial index that leaves them out, is what makes
    /// the records of Alpine findings cheap.
    pub fn finding_records_many<S: AsRef<str>>(
        &self,
        canonical_ids: &[S],
    ) -> Result<HashMap<String, Vec<Vulnerability>>> {
        self.records_where(
            canonical_ids,
            &format!(" AND {}", schema::INFORMATIVE_RECORD),
        )
    }

    /// The records of `canonical_ids` (and NVD's), per id, with `filter` appended to the
    /// `WHERE` clause of the `vulnerabilities` query.
    fn records_where<S: AsRef<str>>(
        &self,
        canonical_ids: &[S],
        filter: &str,
    ) -> Result<HashMap<String, Vec<Vulnerability>>> {
        self.check_unchanged()?;
        let ids: BTreeSet<&str> = canonical_ids.iter().map(AsRef::as_ref).collect();
        let ids: Vec<&str> = ids.into_iter().collect();
        let err = |e| {
            Error::store(
                format!("{}: records for {} ids", self.label(), ids.len()),
                e,
            )
        };
        let mut out: HashMap<String, Vec<Vulnerability>> = ids
            .iter()
            .map(|id| ((*id).to_owned(), Vec::new()))
            .collect();
        for chunk in ids.chunks(BATCH) {
            let json = self.batch_json(chunk)?;
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM vulnerabilities \
                     WHERE canonical_id IN (SELECT value FROM json_each(?1)){filter}"
                ))
                .map_err(err)?;
            let mut rows = stmt.query([json]).map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let record = self.record_from_row(row)?;
                out.entry(record.canonical_id.clone())
                    .or_default()
                    .push(record);
            }
        }
        for record in self.nvd_records(&nvd_store::keys_of(ids.iter().copied()))? {
            out.entry(record.canonical_id.clone())
                .or_default()
                .push(record);
        }
        // Sorted here rather than in SQL: no temporary b-tree over every row.
        for records in out.values_mut() {
            records.sort_by(|a, b| (&a.source, &a.id).cmp(&(&b.source, &b.id)));
        }
        Ok(out)
    }

    /// One batch of keys as the JSON array a `json_each(?1)` query reads.
    fn batch_json<T: Serialize>(&self, chunk: &[T]) -> Result<String> {
        serde_json::to_string(chunk)
            .map_err(|e| Error::new(ErrorKind::Store, format!("{}: batch: {e}", self.label())))
    }

    /// The NVD records of the packed CVE ids `keys`, in one query per 2,000 keys.
    fn nvd_records(&self, keys: &[i64]) -> Result<Vec<Vulnerability>> {
        let err = |e| Error::store(format!("{}: NVD records", self.label()), e);
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH) {
            let json = self.batch_json(chunk)?;
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {} FROM nvd WHERE cve IN (SELECT value FROM json_each(?1))",
                    nvd_store::COLUMNS
                ))
                .map_err(err)?;
            let rows = stmt.query_map([json], nvd_store::from_row).map_err(err)?;
            for row in rows {
                out.push(row.map_err(err)?);
            }
        }
        Ok(out)
    }

    /// One `vulnerabilities` row selected with [`RECORD_COLUMNS`].
    fn record_from_row(&self, row: &rusqlite::Row<'_>) -> Result<Vulnerability> {
        let err = |e| Error::store(format!("{}: reading a record", self.label()), e);
        let id: String = row.get(1).map_err(err)?;
        let json = |i: usize| -> Result<&str> {
            row.get_ref(i)
                .map_err(err)?
                .as_str()
                .map_err(|e| err(rusqlite::Error::from(e)))
        };
        let (aliases, severities, refs) = (json(7)?, json(8)?, json(9)?);
        let label = self.path.display();
        Ok(Vulnerability {
            source: row.get(0).map_err(err)?,
            canonical_id: row.get(2).map_err(err)?,
            summary: row.get(3).map_err(err)?,
            published: row.get(4).map_err(err)?,
            modified: row.get(5).map_err(err)?,
            withdrawn: row.get(6).map_err(err)?,
            aliases: decode_json(aliases, &label, &id)?,
            severities: decode_json::<Vec<Severity>>(severities, &label, &id)?,
            references: decode_json(refs, &label, &id)?,
            related: decode_json(json(10)?, &label, &id)?,
            cwe_ids: decode_json(json(11)?, &label, &id)?,
            id,
        })
    }

    /// When the file was built (RFC 3339, UTC), from one indexed read.
    pub fn built_at(&self) -> Result<Option<String>> {
        self.check_unchanged()?;
        built_at_of(&self.conn, &self.label())
    }

    /// Schema, build time, sources and counts (the counts read whole tables: use
    /// [`Database::built_at`] for the build time alone).
    pub fn status(&self) -> Result<Status> {
        self.check_unchanged()?;
        status_of(&self.conn, &self.label())
    }

    /// Every source with its record count and update time, sorted by name: the part of
    /// [`Database::status`] a scan reports, without counting rows (one small read).
    pub fn sources(&self) -> Result<Vec<SourceStatus>> {
        self.check_unchanged()?;
        sources_of(&self.conn, &self.label())
    }

    /// A SHA-256 over a canonical dump of the content (every record, affected entry and
    /// source record count, in key order), excluding timestamps and internal row ids: equal
    /// hashes mean equal answers.
    pub fn content_hash(&self) -> Result<String> {
        self.check_unchanged()?;
        content_hash(&self.conn, &self.label())
    }

    /// Affected entries per (source, ecosystem), sorted.
    pub fn affected_counts(&self) -> Result<Vec<(String, String, u64)>> {
        self.check_unchanged()?;
        let err = |e| Error::store(format!("{}: counting", self.label()), e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source, ecosystem, COUNT(*) FROM affected \
                 GROUP BY source, ecosystem ORDER BY source, ecosystem",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get::<_, i64>(2)?.max(0) as u64,
                ))
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(
    json: &str,
    label: &dyn std::fmt::Display,
    id: &str,
) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(
            ErrorKind::Store,
            format!("{label}: record {id}: corrupt stored JSON: {e}"),
        )
    })
}

fn built_at_of(conn: &Connection, label: &str) -> Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = 'built_at'", [], |row| {
        row.get(0)
    })
    .optional()
    .map_err(|e| Error::store(format!("{label}: reading the build time"), e))
}

fn sources_of(conn: &Connection, label: &str) -> Result<Vec<SourceStatus>> {
    let err = |e| Error::store(format!("{label}: sources"), e);
    let mut stmt = conn
        .prepare("SELECT name, records, updated_at FROM sources ORDER BY name")
        .map_err(err)?;
    let sources = stmt
        .query_map([], |row| {
            Ok(SourceStatus {
                name: row.get(0)?,
                records: row.get::<_, i64>(1)?.max(0) as u64,
                updated_at: row.get(2)?,
            })
        })
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    Ok(sources)
}

fn status_of(conn: &Connection, label: &str) -> Result<Status> {
    let err = |e| Error::store(format!("{label}: status"), e);
    let built_at = built_at_of(conn, label)?;
    let sources = sources_of(conn, label)?;
    let count = |sql: &str| -> Result<u64> {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(err)
    };
    Ok(Status {
        schema_version: schema::current_version(conn, label)?,
        built_at,
        sources,
        vulnerabilities: count(&format!(
            "SELECT (SELECT COUNT(DISTINCT canonical_id) FROM vulnerabilities) + \
             (SELECT COUNT(*) FROM nvd WHERE NOT EXISTS (SELECT 1 FROM vulnerabilities v \
               WHERE v.canonical_id = {}))",
            nvd_store::ID_SQL
        ))?,
        affected: count("SELECT COUNT(*) FROM affected")?,
    })
}

pub(super) fn content_hash(conn: &Connection, label: &str) -> Result<String> {
    let err = |e| Error::store(format!("{label}: content hash"), e);
    let mut hasher = Sha256::new();
    let queries = [
        "SELECT name, records FROM sources ORDER BY name",
        "SELECT source, id, canonical_id, summary, published, modified, withdrawn, aliases, \
         severities, refs, related, cwes FROM vulnerabilities ORDER BY source, id",
        "SELECT cve, published, modified, withdrawn, summary, cwes, metrics FROM nvd ORDER BY cve",
        // Every affected entry, through `packages` (one canonical blob per package, built
        // from `affected` by `rebuild_package`), read in its key order: no sort, so no
        // temporary b-tree the size of the table.
        "SELECT ecosystem, package_key, entries FROM packages ORDER BY ecosystem, package_key",
        crate::exploit::HASH_KEV_SQL,
        crate::exploit::HASH_EPSS_SQL,
        crate::exploit::HASH_META_SQL,
    ];
    for sql in queries {
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            for i in 0..columns {
                // Each value as a type tag, its length and its bytes (numbers as text).
                let number;
                let (tag, bytes): (u8, &[u8]) = match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => (b'N', b""),
                    ValueRef::Integer(n) => {
                        number = n.to_string();
                        (b'I', number.as_bytes())
                    }
                    ValueRef::Real(f) => {
                        number = f.to_string();
                        (b'R', number.as_bytes())
                    }
                    ValueRef::Text(t) => (b'T', t),
                    ValueRef::Blob(b) => (b'B', b),
                };
                hasher.update([tag]);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
        }
        hasher.update(b"\x1e");
    }
    Ok(hex::encode(hasher.finalize()))
}
