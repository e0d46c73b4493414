//! The versioned SQLite schema and its migrations.
//!
//! Migrations are ordered SQL scripts; the schema version of a database is the number of
//! migrations applied to it, kept in `meta` under `schema_version`. A writer applies the
//! missing ones (on the temporary copy it builds, so a failed migration changes nothing);
//! a reader refuses a database whose version differs from [`SCHEMA_VERSION`].

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, ErrorKind, Result};

/// The ordered migrations; migration `n` (1-based) brings a database to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
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
];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

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
    let current = current_version(conn, label)?;
    if current > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Schema,
            format!(
                "{label}: schema version {current} is newer than this build supports ({SCHEMA_VERSION})"
            ),
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index + 1;
        conn.execute_batch(sql)
            .map_err(|e| Error::store(format!("{label}: migration {version}"), e))?;
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
}
