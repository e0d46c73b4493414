//! The embedded SQLite store: reading ([`Database`]) and atomic writing ([`Builder`]).

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
use crate::model::{AffectedEntry, Record, Severity, Vulnerability, package_key};
use crate::nvd_store;
use crate::schema::{self, SCHEMA_VERSION};
use crate::time::now_rfc3339;

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

fn content_hash(conn: &Connection, label: &str) -> Result<String> {
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

    fn finish(&mut self) -> Result<()> {
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

/// Prefix (after the database file name) of the temporary files builds of it write.
const TEMP_INFIX: &str = ".tmp-";

/// The temporary file a build of `path` by this process writes: `<name>.tmp-<pid>` in the
/// same directory.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db.sqlite".to_owned());
    path.with_file_name(format!("{name}{TEMP_INFIX}{}", std::process::id()))
}

/// The lock file of the database at `path`: `<path>.lock`, next to it. It is created when
/// first needed and never removed (removing a lock file races with its next user).
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "db.sqlite".into());
    name.push(".lock");
    path.with_file_name(name)
}

/// The update lock of one database file: an exclusive advisory lock (`flock`) on
/// [`lock_path`], held while a new version is built and renamed into place, so that two
/// updates of one file (two `db import` processes, a scheduled update and a manual one)
/// never run at once and none is lost. The lock is released when this value is dropped, or
/// when the process dies.
#[derive(Debug)]
pub struct UpdateLock {
    _file: fs::File,
}

impl UpdateLock {
    /// Take the lock of the database at `path` without waiting. Fails with
    /// [`ErrorKind::Locked`], naming the database and its lock file, if another update
    /// (in this process or another) holds it.
    pub fn try_acquire(path: &Path) -> Result<Self> {
        let lock = lock_path(path);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock)
            .map_err(|e| Error::io(format!("{}: opening the lock file", lock.display()), e))?;
        // `File::try_lock` is stable since Rust 1.89 (the workspace's rust-version on main).
        let locked = file.try_lock();
        match locked {
            Ok(()) => Ok(Self { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::new(
                ErrorKind::Locked,
                format!(
                    "{}: another update of this database is in progress (it holds {}); \
                     nothing was changed, try again when it has finished",
                    path.display(),
                    lock.display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => {
                Err(Error::io(format!("{}: locking", lock.display()), e))
            }
        }
    }
}

/// Remove the temporary files (`<name>.tmp-<digits>`, see [`temp_path`]) that builds of
/// `path` killed mid-way left next to it. Call only while holding the [`UpdateLock`]: then
/// no build is running, so every such file is stale. Returns how many were removed.
pub(crate) fn remove_stale_temps(path: &Path, _held: &UpdateLock) -> usize {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}{TEMP_INFIX}", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) && fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "removed a temporary database left by an interrupted update");
            removed += 1;
        }
    }
    removed
}

/// Build a new version of the database at `path` and swap it in atomically.
///
/// First the [`UpdateLock`] of `path` is taken (without waiting: if another update holds
/// it, this fails with [`ErrorKind::Locked`] and changes nothing), and temporary files
/// left by killed updates are removed. The new version is built in `<path>.tmp-<pid>` in
/// the same directory: a copy of the current database (if any), migrated to
/// [`SCHEMA_VERSION`], changed by `build` in one transaction, then verified (`PRAGMA
/// integrity_check`, every source's record count), fsynced and renamed over `path` (and
/// the directory fsynced). On any error, or if the process is killed, `path` is untouched;
/// the temporary file is removed on error, and by the next update if the process was killed.
pub fn update_atomically<T>(
    path: &Path,
    build: impl FnOnce(&mut Builder<'_>) -> Result<T>,
) -> Result<T> {
    let label = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("{}: creating directory", dir.display()), e))?;
    }
    let lock = UpdateLock::try_acquire(path)?;
    remove_stale_temps(path, &lock);
    let temp = temp_path(path);
    let result = build_into(path, &temp, build);
    match result {
        Ok(value) => {
            fs::rename(&temp, path).map_err(|e| {
                let _ = fs::remove_file(&temp);
                Error::io(format!("{label}: replacing with {}", temp.display()), e)
            })?;
            sync_parent(path);
            drop(lock);
            Ok(value)
        }
        Err(err) => {
            let _ = fs::remove_file(&temp);
            Err(err)
        }
    }
}

/// Make a rename in `path`'s directory durable; not every platform can open a directory.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(handle) = fs::File::open(dir)
    {
        let _ = handle.sync_all();
    }
}

fn build_into<T>(
    path: &Path,
    temp: &Path,
    build: impl FnOnce(&mut Builder<'_>) -> Result<T>,
) -> Result<T> {
    let label = temp.display().to_string();
    if path.exists() {
        fs::copy(path, temp)
            .map_err(|e| Error::io(format!("{}: copying to {label}", path.display()), e))?;
    }
    let value = {
        let mut conn =
            Connection::open(temp).map_err(|e| Error::store(format!("{label}: creating"), e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .map_err(|e| Error::store(format!("{label}: configuring"), e))?;
        schema::migrate(&conn, &label)?;
        let tx = conn
            .transaction()
            .map_err(|e| Error::store(format!("{label}: beginning"), e))?;
        let value = {
            let mut builder = Builder {
                conn: &tx,
                label: label.clone(),
                touched: BTreeSet::new(),
                dirty: BTreeSet::new(),
            };
            let value = build(&mut builder)?;
            builder.finish()?;
            value
        };
        tx.commit()
            .map_err(|e| Error::store(format!("{label}: committing"), e))?;
        verify(&conn, &label)?;
        conn.execute_batch("PRAGMA journal_mode = DELETE;")
            .map_err(|e| Error::store(format!("{label}: finalising"), e))?;
        conn.close()
            .map_err(|(_, e)| Error::store(format!("{label}: closing"), e))?;
        value
    };
    fs::File::open(temp)
        .and_then(|file| file.sync_all())
        .map_err(|e| Error::io(format!("{label}: syncing"), e))?;
    Ok(value)
}

/// Check a freshly built database: SQLite's integrity check, and every source's recorded
/// record count against the rows present.
pub(crate) fn verify(conn: &Connection, label: &str) -> Result<()> {
    let err = |e| Error::store(format!("{label}: verifying"), e);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(err)?;
    if check != "ok" {
        return Err(Error::new(
            ErrorKind::Store,
            format!("{label}: integrity check failed: {check}"),
        ));
    }
    let mismatched: Option<String> = conn
        .query_row(
            "SELECT s.name FROM sources s WHERE s.records != CASE s.name \
             WHEN 'kev' THEN (SELECT COUNT(*) FROM kev) \
             WHEN 'epss' THEN (SELECT COUNT(*) FROM epss) \
             WHEN 'nvd' THEN (SELECT COUNT(*) FROM nvd) \
             ELSE (SELECT COUNT(*) FROM vulnerabilities v WHERE v.source = s.name) END LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(err)?;
    if let Some(source) = mismatched {
        return Err(Error::new(
            ErrorKind::Store,
            format!("{label}: record count of source {source} does not match its rows"),
        ));
    }
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM affected WHERE vuln NOT IN (SELECT pk FROM vulnerabilities)",
            [],
            |row| row.get(0),
        )
        .map_err(err)?;
    if orphans != 0 {
        return Err(Error::new(
            ErrorKind::Store,
            format!("{label}: {orphans} affected entries without a record"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, FixStatus, Range, RangeType};

    fn record(id: &str, source: &str, aliases: &[&str], affected: &[(&str, &str)]) -> Record {
        let mut vuln = Vulnerability::new(id, source);
        vuln.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        vuln.refresh_canonical_id();
        let affected = affected
            .iter()
            .map(|(ecosystem, package)| {
                if ecosystem.starts_with("Alpine") {
                    AffectedEntry::distro(
                        &vuln,
                        *ecosystem,
                        *package,
                        FixStatus::Fixed,
                        Some("1.2-r1".to_owned()),
                    )
                } else {
                    let mut entry =
                        AffectedEntry::distro(&vuln, *ecosystem, *package, FixStatus::Fixed, None);
                    entry.ranges = vec![Range {
                        kind: RangeType::Ecosystem,
                        repo: None,
                        events: vec![Event::Introduced("1.0".into()), Event::Fixed("1.1".into())],
                    }];
                    entry.versions = vec!["1.0".into(), "1.0.1".into()];
                    entry.fixed_version = Some("1.1".into());
                    entry
                }
            })
            .collect();
        Record { vuln, affected }
    }

    fn sample() -> Vec<Record> {
        vec![
            record(
                "CVE-2024-1",
                "s1",
                &[],
                &[("Alpine:v3.9", "musl"), ("PyPI", "Django")],
            ),
            record("GHSA-x", "s2", &["CVE-2024-1"], &[("PyPI", "django")]),
            record("CVE-2024-3", "s1", &[], &[("Alpine:v3.9", "busybox")]),
        ]
    }

    fn build(path: &Path, records: &[Record], mode: SourceMode) {
        update_atomically(path, |builder| {
            for source in ["s1", "s2"] {
                builder.begin_source(source, mode)?;
            }
            for r in records {
                builder.put(r)?;
            }
            Ok(())
        })
        .unwrap();
    }

    fn ids(entries: &[AffectedEntry]) -> Vec<(&str, &str)> {
        entries
            .iter()
            .map(|e| (e.canonical_id.as_str(), e.vuln_id.as_str()))
            .collect()
    }

    #[test]
    fn database_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Database>();
    }

    #[test]
    fn lookup_many_matches_single_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        let queries = [
            ("Alpine:v3.9", "musl"),
            ("PyPI", "Django"),
            ("PyPI", "django"),
            ("Alpine:v3.9", "nothing"),
            ("Go", "x"),
            ("Alpine:v3.9", "musl"),
        ];
        let found = db.lookup_many(&queries).unwrap();
        assert_eq!(found.len(), 5);
        for (ecosystem, package) in queries {
            let key = (ecosystem.to_owned(), package.to_owned());
            assert_eq!(found[&key], db.lookup(ecosystem, package).unwrap());
        }
        let django = &found[&("PyPI".to_owned(), "Django".to_owned())];
        assert_eq!(
            ids(django),
            [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-1", "GHSA-x")]
        );
        assert_eq!(django[0].versions, ["1.0", "1.0.1"]);
        assert_eq!(django[0].ecosystem, "PyPI");
        let musl = &found[&("Alpine:v3.9".to_owned(), "musl".to_owned())];
        assert_eq!(ids(musl), [("CVE-2024-1", "CVE-2024-1")]);
        assert_eq!(
            musl[0].ranges[0].events,
            [Event::Introduced("0".into()), Event::Fixed("1.2-r1".into())]
        );
        assert!(found[&("Go".to_owned(), "x".to_owned())].is_empty());
        let none: [(&str, &str); 0] = [];
        assert!(db.lookup_many(&none).unwrap().is_empty());
    }

    #[test]
    fn records_for_many_groups_by_canonical_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        let found = db
            .records_for_many(&["CVE-2024-3", "CVE-2024-1", "nothing", "CVE-2024-1"])
            .unwrap();
        assert_eq!(found.len(), 3);
        let one: Vec<(&str, &str)> = found["CVE-2024-1"]
            .iter()
            .map(|r| (r.source.as_str(), r.id.as_str()))
            .collect();
        assert_eq!(one, [("s1", "CVE-2024-1"), ("s2", "GHSA-x")]);
        assert_eq!(found["CVE-2024-1"], db.records_for("CVE-2024-1").unwrap());
        assert_eq!(found["CVE-2024-3"].len(), 1);
        assert!(found["nothing"].is_empty());
    }

    #[test]
    fn ecosystems_with_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let streams = [
            ("Red Hat:enterprise_linux:9::baseos", "openssl"),
            ("Red Hat:enterprise_linux:9::appstream", "openssl"),
            ("Red Hat:enterprise_linux:9::appstream", "curl"),
            ("Red Hat:enterprise_linux:8::baseos", "openssl"),
            ("Red Hat:enterprise_linux:90::baseos", "openssl"),
        ];
        let mut records = sample();
        records.push(record("CVE-2024-9", "s2", &[], &streams));
        build(&path, &records, SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        assert_eq!(
            db.ecosystems_with_prefix("Red Hat:enterprise_linux:9::")
                .unwrap(),
            [
                "Red Hat:enterprise_linux:9::appstream",
                "Red Hat:enterprise_linux:9::baseos"
            ]
        );
        assert_eq!(
            db.ecosystems_with_prefix("Alpine:").unwrap(),
            ["Alpine:v3.9"]
        );
        assert!(db.ecosystems_with_prefix("SUSE:").unwrap().is_empty());
    }

    #[test]
    fn has_ecosystem_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        assert!(db.has_ecosystem("Alpine:v3.9").unwrap());
        assert!(db.has_ecosystem("PyPI").unwrap());
        assert!(!db.has_ecosystem("Alpine:v3.20").unwrap());
        assert!(!db.has_ecosystem("Alpine").unwrap());
        let version = db.version().unwrap();
        assert_eq!(version, format!("sha256:{}", db.content_hash().unwrap()));
        assert_eq!(version.len(), "sha256:".len() + 64);
        drop(db);

        // Same content built again (another file, another time): same version.
        let other = dir.path().join("other.sqlite");
        build(&other, &sample(), SourceMode::Replace);
        assert_eq!(Database::open(&other).unwrap().version().unwrap(), version);
        // Re-importing the same records changes nothing.
        build(&path, &sample(), SourceMode::Upsert);
        assert_eq!(Database::open(&path).unwrap().version().unwrap(), version);
        // Changed content: a new version.
        build(&path, &sample()[..1], SourceMode::Replace);
        assert_ne!(Database::open(&path).unwrap().version().unwrap(), version);
    }

    #[test]
    fn updates_rebuild_the_packages_they_touch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        // Upsert: CVE-2024-1 now affects only busybox; musl loses its only entry.
        let moved = record("CVE-2024-1", "s1", &[], &[("Alpine:v3.9", "busybox")]);
        build(&path, &[moved], SourceMode::Upsert);
        let db = Database::open(&path).unwrap();
        assert!(db.lookup("Alpine:v3.9", "musl").unwrap().is_empty());
        assert_eq!(
            ids(&db.lookup("Alpine:v3.9", "busybox").unwrap()),
            [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-3", "CVE-2024-3")]
        );
        assert_eq!(
            ids(&db.lookup("PyPI", "django").unwrap()),
            [("CVE-2024-1", "GHSA-x")]
        );
        drop(db);
        // Replace s2 with nothing: django is gone, and so is PyPI.
        update_atomically(&path, |builder| {
            builder.begin_source("s2", SourceMode::Replace)
        })
        .unwrap();
        let db = Database::open(&path).unwrap();
        assert!(db.lookup("PyPI", "django").unwrap().is_empty());
        assert!(!db.has_ecosystem("PyPI").unwrap());
        let rows: i64 = db
            .connection()
            .query_row("SELECT COUNT(*) FROM packages", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }

    /// Overwrite the page-type byte of `table`'s root page with 0 (no valid b-tree page
    /// has it): the file still opens, but every query of that table fails.
    pub(crate) fn break_root_page(path: &Path, table: &str) {
        let conn = Connection::open(path).unwrap();
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [table],
                |row| row.get(0),
            )
            .unwrap();
        drop(conn);
        let mut bytes = fs::read(path).unwrap();
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        // Page 1 starts with the 100-byte file header.
        let offset = (root as usize - 1) * page_size + if root == 1 { 100 } else { 0 };
        assert!(matches!(bytes[offset], 0x02 | 0x05 | 0x0a | 0x0d));
        bytes[offset] = 0;
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn quick_check_finds_a_broken_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        Database::open(&path).unwrap().quick_check().unwrap();
        break_root_page(&path, "packages");
        let db = Database::open(&path).unwrap();
        // Still opens and answers what lives elsewhere, but fails every lookup.
        assert!(db.version().is_ok());
        assert!(db.lookup("Alpine:v3.9", "musl").is_err());
        let err = db.quick_check().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{}: integrity check failed (the file is corrupt; rebuild or re-download it): ",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn a_file_changed_in_place_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        let size = fs::metadata(&path).unwrap().len();
        assert_eq!(db.lookup("Alpine:v3.9", "musl").unwrap().len(), 1);
        // What `cp new old` does first: truncate the file the handle reads.
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let expected = format!(
            "{}: the database file was changed in place while open ({size} bytes when opened, 0 now); \
             replace a database by writing a new file in the same directory and renaming it over the old one",
            path.display()
        );
        for err in [
            db.lookup("Alpine:v3.9", "busybox").unwrap_err(),
            db.lookup_many(&[("PyPI", "django")]).unwrap_err(),
            db.records_for("CVE-2024-1").unwrap_err(),
            db.version().unwrap_err(),
            db.status().unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Changed);
            assert_eq!(err.to_string(), expected);
        }
    }

    #[test]
    fn a_renamed_over_file_leaves_open_handles_working() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let db = Database::open(&path).unwrap();
        build(&path, &sample()[..1], SourceMode::Replace);
        assert_eq!(
            ids(&db.lookup("PyPI", "django").unwrap()),
            [("CVE-2024-1", "CVE-2024-1"), ("CVE-2024-1", "GHSA-x")]
        );
    }

    #[test]
    fn a_held_lock_makes_an_update_fail_at_once_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let before = fs::read(&path).unwrap();
        let held = UpdateLock::try_acquire(&path).unwrap();
        assert_eq!(lock_path(&path), dir.path().join("db.sqlite.lock"));
        let err = update_atomically(&path, |builder| {
            builder.begin_source("s1", SourceMode::Replace)
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Locked);
        assert_eq!(
            err.to_string(),
            format!(
                "{}: another update of this database is in progress (it holds {}); \
                 nothing was changed, try again when it has finished",
                path.display(),
                dir.path().join("db.sqlite.lock").display()
            )
        );
        assert_eq!(fs::read(&path).unwrap(), before);
        drop(held);
        update_atomically(&path, |builder| {
            builder.begin_source("s1", SourceMode::Replace)
        })
        .unwrap();
        assert!(
            Database::open(&path)
                .unwrap()
                .lookup("Alpine:v3.9", "musl")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn stale_temporary_files_are_removed_only_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let names = [
            "db.sqlite.tmp-4242",
            "db.sqlite.tmp-1",
            "db.sqlite.tmp-x1",
            "db.sqlite.tmp-",
            "other.sqlite.tmp-4242",
            "db.sqlite.lock",
        ];
        for name in names {
            fs::write(dir.path().join(name), b"left over").unwrap();
        }
        let listing = || {
            let mut names: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        // Another update holds the lock: nothing is touched.
        let held = UpdateLock::try_acquire(&path).unwrap();
        assert!(update_atomically(&path, |_| Ok(())).is_err());
        assert_eq!(listing().len(), names.len() + 1);
        drop(held);
        update_atomically(&path, |_| Ok(())).unwrap();
        assert_eq!(
            listing(),
            [
                "db.sqlite",
                "db.sqlite.lock",
                "db.sqlite.tmp-",
                "db.sqlite.tmp-x1",
                "other.sqlite.tmp-4242"
            ]
        );
    }

    #[test]
    fn corrupt_package_blob_is_an_error_naming_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        build(&path, &sample(), SourceMode::Replace);
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE packages SET entries = x'05ff' WHERE package_key = 'musl'",
            [],
        )
        .unwrap();
        drop(conn);
        let db = Database::open(&path).unwrap();
        let err = db.lookup("Alpine:v3.9", "musl").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store);
        assert!(
            err.to_string().ends_with(
                "entries of Alpine:v3.9/musl: corrupt stored data: count larger than the blob"
            ),
            "{err}"
        );
    }
}
