//! The versioned SQLite schema and its migrations.
//!
//! Migrations are ordered steps (SQL scripts, or code where data must be converted); the
//! schema version of a database is the number of migrations applied to it, kept in `meta`
//! under `schema_version`. A writer applies the
//! missing ones (on the temporary copy it builds, so a failed migration changes nothing);
//! a reader refuses a database whose version differs from [`SCHEMA_VERSION`].

use rusqlite::{Connection, OptionalExtension};

use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Range, Vulnerability};

/// One migration step.
enum Migration {
    /// A SQL script.
    Sql(&'static str),
    /// Code, for steps that convert data.
    Code(fn(&Connection, &str) -> Result<()>),
}

/// The ordered migrations; migration `n` (1-based) brings a database to version `n`.
const MIGRATIONS: &[Migration] = &[
    // 1: the initial schema.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        records INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE vulnerabilities (
        pk INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        canonical_id TEXT NOT NULL,
        summary TEXT,
        published TEXT,
        modified TEXT,
        withdrawn TEXT,
        aliases TEXT NOT NULL,
        severities TEXT NOT NULL,
        refs TEXT NOT NULL,
        UNIQUE (source, id)
    );
    CREATE INDEX vulnerabilities_canonical ON vulnerabilities (canonical_id);
    CREATE TABLE affected (
        ecosystem TEXT NOT NULL,
        package_key TEXT NOT NULL,
        vuln INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        package TEXT NOT NULL,
        vuln_id TEXT NOT NULL,
        canonical_id TEXT NOT NULL,
        source TEXT NOT NULL,
        status INTEGER NOT NULL,
        fixed_version TEXT,
        ranges TEXT,
        versions TEXT,
        notes TEXT,
        PRIMARY KEY (ecosystem, package_key, vuln, seq)
    ) WITHOUT ROWID;
    CREATE INDEX affected_vuln ON affected (vuln);",
    ),
    // 2: ranges and versions in the compact binary encoding ([`codec`]) instead of JSON, and
    // the `packages` table: every affected entry of one (ecosystem, package key) in one blob,
    // in lookup order, rebuilt by every update (see `Builder`).
    Migration::Code(binary_affected),
    // 3: OSV `related` ids on records, and the exploitation tables: CISA's KEV catalog
    // (keyed by CVE id) and FIRST's EPSS scores (keyed by the CVE id packed into an integer,
    // scores in billionths; see `exploit`).
    Migration::Sql(
        "ALTER TABLE vulnerabilities ADD COLUMN related TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE kev (
        cve TEXT PRIMARY KEY,
        date_added TEXT NOT NULL,
        due_date TEXT NOT NULL,
        ransomware TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE epss (
        cve INTEGER PRIMARY KEY,
        score INTEGER NOT NULL,
        percentile INTEGER NOT NULL
    );",
    ),
    // 4: CWE ids on records.
    Migration::Sql("ALTER TABLE vulnerabilities ADD COLUMN cwes TEXT NOT NULL DEFAULT '[]';"),
    // 5: NVD records in their own compact table, keyed by the packed CVE id (see `nvd_store`);
    // the ones already stored move there.
    Migration::Code(nvd_table),
    // 6: package blobs in a text encoding read in place by lookups (replaced by the word
    // tables of migration 8), in a
    // rowid table with its key in a separate index: in the former WITHOUT ROWID table the
    // blobs sat in the key b-tree, so every search loaded the overflow pages of the blobs
    // on its path to compare keys. Every package is rebuilt from `affected` at the end of
    // this build.
    Migration::Sql(
        "DROP TABLE packages;
    CREATE TABLE packages (
        ecosystem TEXT NOT NULL,
        package_key TEXT NOT NULL,
        entries BLOB NOT NULL
    );
    CREATE UNIQUE INDEX packages_key ON packages (ecosystem, package_key);
    INSERT OR REPLACE INTO meta (key, value) VALUES ('packages_stale', '1');",
    ),
    // 7: an index of the records that say more than their id and source (see
    // `INFORMATIVE_RECORD`): the records a finding reads, without the bare ones Alpine's
    // secdb repeats for each branch.
    Migration::Sql(
        "CREATE INDEX vulnerabilities_informative ON vulnerabilities (canonical_id) WHERE \
         aliases != '[]' OR related != '[]' OR summary IS NOT NULL OR published IS NOT NULL \
         OR modified IS NOT NULL OR withdrawn IS NOT NULL OR severities != '[]' \
         OR refs != '[]' OR cwes != '[]';",
    ),
    // 8: package blobs in fixed-width tables over a text of distinct strings (see
    // `codec::encode_package`), checked by index and read by position. Every package is
    // rebuilt from `affected` at the end of this build.
    Migration::Sql("INSERT OR REPLACE INTO meta (key, value) VALUES ('packages_stale', '1');"),
];

/// The condition of the partial index of migration 7, as a query must repeat it for SQLite
/// to use that index: a record with an alias, a related id, a summary, a date, a severity,
/// a reference or a CWE.
pub(crate) const INFORMATIVE_RECORD: &str = "(aliases != '[]' OR related != '[]' \
     OR summary IS NOT NULL OR published IS NOT NULL OR modified IS NOT NULL \
     OR withdrawn IS NOT NULL OR severities != '[]' OR refs != '[]' OR cwes != '[]')";

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The SQL of migration 2 (before its data conversion).
const PACKAGES_TABLE: &str = "CREATE TABLE packages (
        ecosystem TEXT NOT NULL,
        package_key TEXT NOT NULL,
        entries BLOB NOT NULL,
        PRIMARY KEY (ecosystem, package_key)
    ) WITHOUT ROWID;";

/// Migration 2: convert `affected.ranges`/`affected.versions` from JSON to [`codec`]
/// blobs, create `packages` and mark it for a full rebuild (the builder fills it).
fn binary_affected(conn: &Connection, label: &str) -> Result<()> {
    let err = |e| Error::store(format!("{label}: migration 2"), e);
    conn.execute_batch(PACKAGES_TABLE).map_err(err)?;
    // (vuln, seq, ranges, versions): one affected row, converted.
    type Converted = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);
    let mut rows: Vec<Converted> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT vuln, seq, ranges, versions FROM affected \
                 WHERE ranges IS NOT NULL OR versions IS NOT NULL",
            )
            .map_err(err)?;
        let mut query = stmt.query([]).map_err(err)?;
        while let Some(row) = query.next().map_err(err)? {
            let ranges: Option<String> = row.get(2).map_err(err)?;
            let versions: Option<String> = row.get(3).map_err(err)?;
            let corrupt = |e: serde_json::Error| {
                Error::new(
                    ErrorKind::Store,
                    format!("{label}: migration 2: corrupt stored JSON: {e}"),
                )
            };
            let ranges = match ranges {
                Some(json) => Some(codec::encode_ranges(
                    &serde_json::from_str::<Vec<Range>>(&json).map_err(corrupt)?,
                )),
                None => None,
            };
            let versions = match versions {
                Some(json) => Some(codec::encode_versions(
                    &serde_json::from_str::<Vec<String>>(&json).map_err(corrupt)?,
                )),
                None => None,
            };
            rows.push((
                row.get(0).map_err(err)?,
                row.get(1).map_err(err)?,
                ranges,
                versions,
            ));
        }
    }
    let mut update = conn
        .prepare("UPDATE affected SET ranges = ?3, versions = ?4 WHERE vuln = ?1 AND seq = ?2")
        .map_err(err)?;
    for (vuln, seq, ranges, versions) in &rows {
        update
            .execute(rusqlite::params![vuln, seq, ranges, versions])
            .map_err(err)?;
    }
    // Mark every package for the rebuild at the end of this build.
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('packages_stale', '1')",
        [],
    )
    .map_err(err)?;
    Ok(())
}

/// Migration 5: create the `nvd` table and move the NVD records into it (their references
/// are dropped; NVD records have no affected entries, any found are dropped with them).
fn nvd_table(conn: &Connection, label: &str) -> Result<()> {
    let err = |e| Error::store(format!("{label}: migration 5"), e);
    conn.execute_batch(crate::nvd_store::TABLE_SQL)
        .map_err(err)?;
    let mut records = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT id, summary, published, modified, withdrawn, severities, cwes \
                 FROM vulnerabilities WHERE source = 'nvd'",
            )
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let id: String = row.get(0).map_err(err)?;
            let corrupt = |e: serde_json::Error| {
                Error::new(
                    ErrorKind::Store,
                    format!("{label}: migration 5: corrupt stored JSON of {id}: {e}"),
                )
            };
            let mut vuln = Vulnerability::new(id.clone(), crate::nvd_store::SOURCE);
            vuln.summary = row.get(1).map_err(err)?;
            vuln.published = row.get(2).map_err(err)?;
            vuln.modified = row.get(3).map_err(err)?;
            vuln.withdrawn = row.get(4).map_err(err)?;
            let severities: String = row.get(5).map_err(err)?;
            vuln.severities = serde_json::from_str(&severities).map_err(corrupt)?;
            let cwes: String = row.get(6).map_err(err)?;
            vuln.cwe_ids = serde_json::from_str(&cwes).map_err(corrupt)?;
            records.push(vuln);
        }
    }
    for vuln in &records {
        if !crate::nvd_store::put(conn, vuln).map_err(err)? {
            tracing::warn!(id = %vuln.id, "migration 5: an NVD record whose id is not a CVE id is dropped");
        }
    }
    conn.execute_batch(
        "DELETE FROM affected WHERE vuln IN (SELECT pk FROM vulnerabilities WHERE source = 'nvd');
         DELETE FROM vulnerabilities WHERE source = 'nvd';
         UPDATE sources SET records = (SELECT COUNT(*) FROM nvd) WHERE name = 'nvd';",
    )
    .map_err(err)?;
    Ok(())
}

/// The schema version recorded in `conn` (0 for an empty database).
pub(crate) fn current_version(conn: &Connection, label: &str) -> Result<u32> {
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| Error::store(format!("{label}: reading the schema"), e))?;
    if !has_meta {
        return Ok(0);
    }
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| Error::store(format!("{label}: reading the schema version"), e))?;
    match value {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            Error::new(
                ErrorKind::Schema,
                format!("{label}: unreadable schema version {v:?}"),
            )
        }),
    }
}

/// Apply every missing migration to `conn`.
pub(crate) fn migrate(conn: &Connection, label: &str) -> Result<()> {
    migrate_to(conn, label, SCHEMA_VERSION)
}

/// Apply the missing migrations up to version `target` to `conn`.
fn migrate_to(conn: &Connection, label: &str, target: u32) -> Result<()> {
    let current = current_version(conn, label)?;
    if current > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Schema,
            format!(
                "{label}: schema version {current} is newer than this build supports ({SCHEMA_VERSION})"
            ),
        ));
    }
    let pending = MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(current as usize);
    for (index, migration) in pending {
        let version = index + 1;
        match migration {
            Migration::Sql(sql) => conn
                .execute_batch(sql)
                .map_err(|e| Error::store(format!("{label}: migration {version}"), e))?,
            Migration::Code(step) => step(conn, label)?,
        }
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
            [version.to_string()],
        )
        .map_err(|e| Error::store(format!("{label}: migration {version}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_empty_and_is_repeatable() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(current_version(&conn, "mem").unwrap(), 0);
        migrate(&conn, "mem").unwrap();
        assert_eq!(current_version(&conn, "mem").unwrap(), SCHEMA_VERSION);
        migrate(&conn, "mem").unwrap();
        conn.execute(
            "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&conn, "mem").unwrap_err().kind(), ErrorKind::Schema);
    }

    #[test]
    fn version_4_nvd_records_move_to_their_table() {
        let conn = Connection::open_in_memory().unwrap();
        migrate_to(&conn, "mem", 4).unwrap();
        conn.execute_batch(
            r#"INSERT INTO sources (name, records, updated_at) VALUES ('nvd', 2, 'x');
               INSERT INTO vulnerabilities (source, id, canonical_id, summary, published, aliases,
                 severities, refs, cwes)
               VALUES ('nvd', 'CVE-2023-4863', 'CVE-2023-4863', 'Heap overflow.',
                 '2023-09-12T15:15:24.327', '[]',
                 '[{"source":"nvd@nist.gov","kind":"CVSS_V3","vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H","score":8.8,"rating":"HIGH","metric_type":"Primary"}]',
                 '["https://example.org"]', '["CWE-787"]'),
                 ('nvd', 'not-a-cve', 'not-a-cve', NULL, NULL, '[]', '[]', '[]', '[]'),
                 ('osv:Go', 'GO-1', 'GO-1', NULL, NULL, '[]', '[]', '[]', '[]');"#,
        )
        .unwrap();
        migrate(&conn, "mem").unwrap();
        let left: Vec<String> = conn
            .prepare("SELECT id FROM vulnerabilities")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, ["GO-1"]);
        let moved = conn
            .query_row(
                &format!("SELECT {} FROM nvd", crate::nvd_store::COLUMNS),
                [],
                crate::nvd_store::from_row,
            )
            .unwrap();
        assert_eq!(moved.id, "CVE-2023-4863");
        assert_eq!(moved.published.as_deref(), Some("2023-09-12T15:15:24.327"));
        assert_eq!(moved.severities[0].score, Some(8.8));
        assert_eq!(moved.severities[0].metric_type.as_deref(), Some("Primary"));
        assert_eq!(moved.cwe_ids, ["CWE-787"]);
        assert!(moved.references.is_empty());
        let count: i64 = conn
            .query_row(
                "SELECT records FROM sources WHERE name = 'nvd'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn version_1_json_is_converted_to_binary() {
        let conn = Connection::open_in_memory().unwrap();
        migrate_to(&conn, "mem", 1).unwrap();
        assert_eq!(current_version(&conn, "mem").unwrap(), 1);
        conn.execute_batch(
            r#"INSERT INTO affected (ecosystem, package_key, vuln, seq, package, vuln_id,
                 canonical_id, source, status, fixed_version, ranges, versions, notes)
               VALUES ('PyPI', 'a', 1, 0, 'A', 'X-1', 'X-1', 'osv:PyPI', 0, '1.0',
                 '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]',
                 '["0.9"]', NULL),
                 ('Alpine:v3.9', 'musl', 2, 0, 'musl', 'CVE-1', 'CVE-1', 'a', 0, '1-r1',
                 NULL, NULL, NULL);"#,
        )
        .unwrap();
        migrate(&conn, "mem").unwrap();
        assert_eq!(current_version(&conn, "mem").unwrap(), SCHEMA_VERSION);
        let (ranges, versions): (Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT ranges, versions FROM affected WHERE vuln = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(versions, vec![1, 3, b'0', b'.', b'9']);
        assert_eq!(
            codec::decode_ranges(&ranges).unwrap(),
            vec![Range {
                kind: crate::model::RangeType::Ecosystem,
                repo: None,
                events: vec![
                    crate::model::Event::Introduced("0".into()),
                    crate::model::Event::Fixed("1.0".into())
                ],
            }]
        );
        let untouched: Option<Vec<u8>> = conn
            .query_row("SELECT ranges FROM affected WHERE vuln = 2", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(untouched, None);
        let stale: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'packages_stale'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(stale, "1");
    }
}
