//! Building a new version of a database file beside it and renaming it over the old one,
//! under the update lock: [`update_atomically`].

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::Builder;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{self};

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
            let mut builder = Builder::new(&tx, label.clone());
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
