//! The vulnerability database: a verified generation of open handles, swapped whole.
//!
//! A [`Generation`] is a fixed set of read-only handles opened on one version of the file.
//! Updates rename a new file over the old one; handles already open keep reading the old
//! file, so the old generation serves until the new one has opened and been verified
//! (`PRAGMA quick_check`: a corrupt file is refused and never makes `/readyz` true).
//!
//! A file changed in place instead (truncated, `cp` over it) cannot crash the server: the
//! handles read without a memory map and refuse to answer from a changed file
//! ([`portcullis_vulndb::ErrorKind::Changed`]); the next load opens the file again and swaps
//! it in if it verifies, else the current generation stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use portcullis_vulndb::Database;
use tokio::sync::Semaphore;

use crate::error::{Error, ErrorKind, Result};

/// One loaded version of the database.
#[derive(Debug)]
pub struct Generation {
    /// The content version used in cache keys ([`Database::version`]).
    pub version: String,
    /// When the file was built (RFC 3339), read once at load.
    pub built_at: Option<String>,
    handles: Mutex<Vec<Database>>,
    permits: Semaphore,
}

impl Generation {
    /// False once the file this generation reads was changed in place (a free handle is
    /// checked; if none is free, the generation is taken as intact).
    pub fn intact(&self) -> bool {
        let handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        handles.first().is_none_or(|h| h.check_unchanged().is_ok())
    }

    /// Run `job` with a handle of this generation on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> T + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::new(ErrorKind::Database, "database closed"))?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let handle = this.handles.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(handle) = handle else {
                return Err(Error::new(ErrorKind::Database, "no database handle free"));
            };
            let out = job(&handle);
            this.handles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
            Ok(out)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Database, format!("database job: {e}")))?
    }
}

/// The current generation of the database at one path.
#[derive(Debug)]
pub struct DbPool {
    path: PathBuf,
    size: usize,
    current: RwLock<Option<Arc<Generation>>>,
}

impl DbPool {
    /// A pool for the database at `path`, opening `size` handles per generation.
    pub fn new(path: impl Into<PathBuf>, size: usize) -> Self {
        Self {
            path: path.into(),
            size: size.max(1),
            current: RwLock::new(None),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generation serving now, if one is loaded.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Open and verify the file as it is now (blocking); swap it in if its version differs
    /// from the current one, or if the current generation's file was changed in place.
    /// A new file must pass `PRAGMA quick_check` (a read of the whole file, once per new
    /// version). Returns whether a new generation was swapped in. On error the current
    /// generation keeps serving.
    pub fn load(&self) -> Result<bool> {
        let label = self.path.display().to_string();
        let db_error = |e: portcullis_vulndb::Error| {
            Error::new(
                ErrorKind::Database,
                portcullis_types::error::Chain(&e).to_string(),
            )
        };
        // `version()` is one indexed read: an unchanged file costs next to nothing.
        let first = Database::open(&self.path).map_err(db_error)?;
        let version = first.version().map_err(db_error)?;
        if self
            .current()
            .is_some_and(|g| g.version == version && g.intact())
        {
            return Ok(false);
        }
        first.quick_check().map_err(db_error)?;
        let mut handles = vec![first];
        for _ in 1..self.size {
            let handle = Database::open(&self.path).map_err(db_error)?;
            // Every handle must see the same file (no rename in between).
            if handle.version().map_err(db_error)? != version {
                return Err(Error::new(
                    ErrorKind::Database,
                    format!("{label}: changed while loading; will retry"),
                ));
            }
            handles.push(handle);
        }
        let built_at = handles[0].built_at().map_err(db_error)?;
        let generation = Arc::new(Generation {
            version: version.clone(),
            built_at,
            permits: Semaphore::new(handles.len()),
            handles: Mutex::new(handles),
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(generation);
        tracing::info!(database = %label, %version, "vulnerability database loaded");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn secdb(branch: &str) -> PathBuf {
        let data = std::env::var_os("PORTCULLIS_TESTDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata"));
        let file = data.join(format!("advisories/alpine-secdb/{branch}/main.json"));
        assert!(
            file.is_file(),
            "test data file {} is missing (set PORTCULLIS_TESTDATA)",
            file.display()
        );
        file
    }

    fn affected(generation: &Generation) -> u64 {
        let handle = generation.handles.lock().unwrap().pop().unwrap();
        let n = handle.status().unwrap().affected;
        generation.handles.lock().unwrap().push(handle);
        n
    }

    /// Overwrite the page-type byte of the `packages` table's root page with 0 (no valid
    /// b-tree page has it): the file still opens and has a version, but every lookup fails.
    /// The root page comes from the `sqlite3` command-line tool.
    fn break_packages_table(path: &std::path::Path) {
        let out = std::process::Command::new("sqlite3")
            .arg(path)
            .arg("SELECT rootpage FROM sqlite_master WHERE name = 'packages'")
            .output()
            .unwrap();
        assert!(out.status.success(), "sqlite3: {out:?}");
        let root: usize = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        assert!(root > 1);
        let offset = (root - 1) * page_size;
        assert!(matches!(bytes[offset], 0x02 | 0x05 | 0x0a | 0x0d));
        bytes[offset] = 0;
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_refused_and_the_current_generation_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Database::import_paths(&path, &[secdb("v3.9")], &Default::default()).unwrap();
        let broken = dir.path().join("broken.sqlite");
        Database::import_paths(&broken, &[secdb("v3.20")], &Default::default()).unwrap();
        break_packages_table(&broken);
        // The damage is real: the file opens, but a lookup fails.
        let db = Database::open(&broken).unwrap();
        assert!(db.version().is_ok());
        assert!(db.lookup("Alpine:v3.20", "musl").is_err());
        drop(db);

        // Never loaded: nothing serves (so `/readyz` stays 503).
        let fresh = DbPool::new(&broken, 2);
        let err = fresh.load().unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}: integrity check failed (the file is corrupt; rebuild or re-download it): ",
                broken.display()
            )),
            "{err}"
        );
        assert!(fresh.current().is_none());

        // Renamed over a served file: refused, the current generation keeps serving.
        let pool = DbPool::new(&path, 2);
        assert!(pool.load().unwrap());
        let served = pool.current().unwrap();
        std::fs::rename(&broken, &path).unwrap();
        assert!(pool.load().is_err());
        assert_eq!(pool.current().unwrap().version, served.version);
        assert!(affected(&pool.current().unwrap()) > 0);
    }

    #[test]
    fn a_file_truncated_in_place_gives_errors_until_a_good_file_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Database::import_paths(&path, &[secdb("v3.9")], &Default::default()).unwrap();
        let original = std::fs::read(&path).unwrap();
        let pool = DbPool::new(&path, 2);
        assert!(pool.load().unwrap());
        let served = pool.current().unwrap();
        let expected = affected(&served);
        assert!(served.intact());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        assert!(!served.intact());
        let handle = served.handles.lock().unwrap().pop().unwrap();
        let err = handle.lookup("Alpine:v3.9", "musl").unwrap_err();
        assert_eq!(err.kind(), portcullis_vulndb::ErrorKind::Changed);
        served.handles.lock().unwrap().push(handle);
        // The truncated file does not load; the current generation stays.
        assert!(pool.load().is_err());
        assert_eq!(pool.current().unwrap().version, served.version);
        // The content is written back in place: the next load serves it again.
        std::fs::write(&path, &original).unwrap();
        pool.load().unwrap();
        assert_eq!(affected(&pool.current().unwrap()), expected);
    }

    #[test]
    fn a_new_file_is_swapped_in_only_once_verified() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let pool = DbPool::new(&path, 2);
        assert!(pool.load().is_err());
        assert!(pool.current().is_none());
        Database::import_paths(&path, &[secdb("v3.9")], &Default::default()).unwrap();
        assert!(pool.load().unwrap());
        assert!(!pool.load().unwrap());
        let old = pool.current().unwrap();
        let old_affected = affected(&old);
        Database::import_paths(&path, &[secdb("v3.20")], &Default::default()).unwrap();
        assert!(pool.load().unwrap());
        let new = pool.current().unwrap();
        assert_ne!(new.version, old.version);
        assert!(affected(&new) > old_affected);
        // The old generation still reads the file it opened.
        assert_eq!(affected(&old), old_affected);
        // A broken file keeps the current generation.
        std::fs::write(&path, b"not sqlite").unwrap();
        assert!(pool.load().is_err());
        assert_eq!(pool.current().unwrap().version, new.version);
    }
}
