//! `rpmdb.sqlite`: table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`, read from a copy
//! of the bytes in memory.
//!
//! The file is hostile input: `Packages` must be a plain table (a view could run an endless
//! recursive query), values are capped in length and rows in number.

use std::io::Read;

use rusqlite::limits::Limit;
use rusqlite::{Connection, MAIN_DB, OpenFlags};

/// The SQLite file magic.
pub const MAGIC: &[u8] = b"SQLite format 3\0";
/// Largest value SQLite may produce while we read (a header blob is far smaller).
const MAX_VALUE: i32 = 64 * 1024 * 1024;
/// Most rows read.
const MAX_ROWS: usize = 1_000_000;

/// The header blobs of every package, in `hnum` order, each with its `hnum`.
pub fn read_blobs(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, String> {
    if bytes.is_empty() {
        return Err("empty file, not an SQLite database".into());
    }
    if !bytes.starts_with(MAGIC) || bytes.len() < 100 {
        return Err("not an SQLite database (bad magic)".into());
    }
    // A database left in WAL mode (bytes 18 and 19 = 2) cannot be opened from memory; with
    // no -wal file beside it the main file alone is what there is, so read it as a
    // rollback-journal database.
    let head = bytes.get(..18).unwrap_or_default();
    let modes: Vec<u8> = bytes
        .get(18..20)
        .unwrap_or_default()
        .iter()
        .map(|&b| if b == 2 { 1 } else { b })
        .collect();
    let tail = bytes.get(20..).unwrap_or_default();
    let reader = head.chain(&modes[..]).chain(tail);
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("opening SQLite in memory: {e}"))?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE)
        .map_err(|e| format!("limiting SQLite: {e}"))?;
    conn.deserialize_read_exact(MAIN_DB, reader, bytes.len(), true)
        .map_err(|e| format!("loading SQLite database: {e}"))?;
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_schema WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .ok();
    if kind.as_deref() != Some("table") {
        return Err(format!(
            "no table Packages (found {})",
            kind.as_deref().unwrap_or("nothing")
        ));
    }
    let mut statement = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("reading table Packages: {e}"))?;
    let rows = statement
        .query_map([], |row| {
            let hnum: i64 = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            Ok((u32::try_from(hnum).unwrap_or(u32::MAX), blob))
        })
        .map_err(|e| format!("reading table Packages: {e}"))?;
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows in table Packages"));
        }
        out.push(row.map_err(|e| format!("reading a row of table Packages: {e}"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(sql: &str) -> Vec<u8> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        conn.serialize(MAIN_DB).unwrap().to_vec()
    }

    #[test]
    fn reads_rows_and_rejects_views() {
        let db = database(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
             INSERT INTO Packages VALUES (2, x'0102'), (1, x'03');",
        );
        assert_eq!(
            read_blobs(&db).unwrap(),
            vec![(1, vec![3]), (2, vec![1, 2])]
        );
        let view = database(
            "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
             SELECT x AS hnum, x'00' AS blob FROM c;",
        );
        let err = read_blobs(&view).unwrap_err();
        assert!(err.contains("found view"), "{err}");
        let huge = database(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, n INTEGER,
                 blob BLOB GENERATED ALWAYS AS (zeroblob(n)));
             INSERT INTO Packages (hnum, n) VALUES (1, 900000000);",
        );
        assert!(read_blobs(&huge).is_err());
        assert!(read_blobs(b"").is_err());
        assert!(read_blobs(b"SQLite format 3\0").is_err());
    }
}
