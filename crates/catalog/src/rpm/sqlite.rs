//! `rpmdb.sqlite`: table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`, read from a copy
//! of the bytes in memory.

use rusqlite::{Connection, MAIN_DB, OpenFlags};

/// The SQLite file magic.
pub const MAGIC: &[u8] = b"SQLite format 3\0";

/// The header blobs of every package, in `hnum` order, each with its `hnum`.
pub fn read_blobs(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, String> {
    if bytes.is_empty() {
        return Err("empty file, not an SQLite database".into());
    }
    if !bytes.starts_with(MAGIC) {
        return Err("not an SQLite database (bad magic)".into());
    }
    let mut copy = bytes.to_vec();
    // A database left in WAL mode (bytes 18 and 19 = 2) cannot be opened from memory; with
    // no -wal file beside it, the main file alone is the rollback-journal equivalent.
    for at in [18, 19] {
        if let Some(b) = copy.get_mut(at) {
            if *b == 2 {
                *b = 1;
            }
        }
    }
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("opening SQLite in memory: {e}"))?;
    let len = copy.len();
    conn.deserialize_read_exact(MAIN_DB, &copy[..], len, true)
        .map_err(|e| format!("loading SQLite database: {e}"))?;
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
        out.push(row.map_err(|e| format!("reading a row of table Packages: {e}"))?);
    }
    Ok(out)
}
