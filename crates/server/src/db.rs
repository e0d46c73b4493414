//! The vulnerability database: a verified generation of open handles, swapped whole.
//!
//! A [`Generation`] is a fixed set of read-only handles opened on one version of the file.
//! Updates rename a new file over the old one; handles already open keep reading the old
//! file, so the old generation serves until the new one has opened and been verified.

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
    handles: Mutex<Vec<Database>>,
    permits: Semaphore,
}

impl Generation {
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
    /// from the current one. Returns whether a new generation was swapped in. On error the
    /// current generation keeps serving.
    pub fn load(&self) -> Result<bool> {
        let label = self.path.display().to_string();
        let db_error = |e: portcullis_vulndb::Error| Error::new(ErrorKind::Database, e.to_string());
        // `version()` is one indexed read: verifying a generation must not page the whole
        // file in (every handle maps it, and touched pages count towards resident memory).
        let first = Database::open(&self.path).map_err(db_error)?;
        let version = first.version().map_err(db_error)?;
        if self.current().is_some_and(|g| g.version == version) {
            return Ok(false);
        }
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
        let generation = Arc::new(Generation {
            version: version.clone(),
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
