//! Export and import of a whole database as one checksummed file, for air-gapped machines.
//!
//! Layout: the line `PORTCULLIS-VULNDB-EXPORT 1`, one line of JSON ([`ExportHeader`]: schema
//! version, build time, SHA-256 and size of the SQLite file), then the SQLite file
//! compressed with zstd. Importing streams the payload into a temporary file next to the
//! target while hashing it, checks size, checksum, schema version and SQLite integrity, and
//! only then renames it into place: a bad or truncated export changes nothing.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::schema::{self, SCHEMA_VERSION};
use crate::store::{
    Database, Status, UpdateLock, remove_stale_temps, sync_parent, temp_path, verify,
};

/// The first line of every export file.
pub const EXPORT_MAGIC: &str = "PORTCULLIS-VULNDB-EXPORT 1";
const MAGIC: &str = EXPORT_MAGIC;
/// The largest database an export may unpack to (8 GiB).
const MAX_DB_SIZE: u64 = 8 << 30;

/// The header line of an export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Schema version of the exported database.
    pub schema_version: u32,
    /// When the exported database was built.
    pub built_at: Option<String>,
    /// SHA-256 (hex) of the uncompressed SQLite file.
    pub sha256: String,
    /// Size in bytes of the uncompressed SQLite file.
    pub size: u64,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let slice = buf.get(..n).unwrap_or_default();
        self.hasher.update(slice);
        self.written = self.written.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Database {
    /// Write this database to `out` as one checksummed export file (atomically: a temporary
    /// file next to `out`, then a rename).
    pub fn export(&self, out: impl AsRef<Path>) -> Result<ExportHeader> {
        let out = out.as_ref();
        let label = out.display().to_string();
        let snapshot = temp_path(&out.with_extension("snapshot"));
        let _ = fs::remove_file(&snapshot);
        let result = self.export_via(out, &snapshot);
        let _ = fs::remove_file(&snapshot);
        result.map_err(|e| {
            let _ = fs::remove_file(temp_path(out));
            Error::new(e.kind(), format!("exporting to {label}: {e}"))
        })
    }

    /// Write a compact copy of this database to `snapshot` (`VACUUM INTO`) and describe it.
    pub(crate) fn snapshot(&self, snapshot: &Path) -> Result<(ExportHeader, Status)> {
        let snapshot_str = snapshot.to_string_lossy().into_owned();
        self.connection()
            .execute("VACUUM INTO ?1", [&snapshot_str])
            .map_err(|e| Error::store(format!("{}: snapshot", self.path().display()), e))?;
        let status = self.status()?;
        let mut file = fs::File::open(snapshot)
            .map_err(|e| Error::io(format!("{snapshot_str}: reading"), e))?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher)
            .map_err(|e| Error::io(format!("{snapshot_str}: reading"), e))?;
        let header = ExportHeader {
            schema_version: status.schema_version,
            built_at: status.built_at.clone(),
            sha256: hex::encode(hasher.finalize()),
            size,
        };
        Ok((header, status))
    }

    fn export_via(&self, out: &Path, snapshot: &Path) -> Result<ExportHeader> {
        let snapshot_str = snapshot.to_string_lossy().into_owned();
        let (header, _) = self.snapshot(snapshot)?;
        let temp = temp_path(out);
        let label = temp.display().to_string();
        let io = |e| Error::io(format!("{label}: writing"), e);
        let mut writer = fs::File::create(&temp).map_err(io)?;
        let header_json = serde_json::to_string(&header)
            .map_err(|e| Error::new(ErrorKind::Io, format!("{label}: header: {e}")))?;
        writeln!(writer, "{MAGIC}").map_err(io)?;
        writeln!(writer, "{header_json}").map_err(io)?;
        let mut source = fs::File::open(snapshot)
            .map_err(|e| Error::io(format!("{snapshot_str}: reading"), e))?;
        let mut encoder = zstd::Encoder::new(writer, 3).map_err(io)?;
        std::io::copy(&mut source, &mut encoder).map_err(io)?;
        let writer = encoder.finish().map_err(io)?;
        writer.sync_all().map_err(io)?;
        drop(writer);
        fs::rename(&temp, out)
            .map_err(|e| Error::io(format!("{}: replacing", out.display()), e))?;
        Ok(header)
    }

    /// Replace the database at `db_path` with the content of the export file `file`, after
    /// verifying its checksum, size, schema version and integrity. On any error `db_path`
    /// is untouched. Holds the database's [`UpdateLock`] meanwhile (failing at once with
    /// [`ErrorKind::Locked`] if another update holds it).
    pub fn import_export_file(db_path: impl AsRef<Path>, file: impl AsRef<Path>) -> Result<Status> {
        let (db_path, file) = (db_path.as_ref(), file.as_ref());
        install(db_path, |temp| unpack(file, temp))
    }
}

/// Build a new database file with `write` into a temporary path next to `db_path`, then
/// rename it into place, holding the database's [`UpdateLock`] (failing at once with
/// [`ErrorKind::Locked`] if another update holds it). On any error the temporary file is
/// removed and `db_path` is untouched.
pub(crate) fn install(db_path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<Status> {
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("{}: creating directory", dir.display()), e))?;
    }
    let lock = UpdateLock::try_acquire(db_path)?;
    remove_stale_temps(db_path, &lock);
    let temp = temp_path(db_path);
    match write(&temp) {
        Ok(()) => {
            fs::rename(&temp, db_path).map_err(|e| {
                let _ = fs::remove_file(&temp);
                Error::io(format!("{}: replacing", db_path.display()), e)
            })?;
            sync_parent(db_path);
            drop(lock);
            Database::open(db_path)?.status()
        }
        Err(err) => {
            let _ = fs::remove_file(&temp);
            Err(err)
        }
    }
}

fn read_line_capped(
    reader: &mut impl BufRead,
    cap: u64,
    label: &str,
    what: &str,
) -> Result<String> {
    let mut line = Vec::new();
    reader
        .take(cap)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io(format!("{label}: reading the {what}"), e))?;
    if line.last() != Some(&b'\n') {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: not a Portcullis database export (bad {what})"),
        ));
    }
    String::from_utf8(line).map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: not a Portcullis database export (bad {what})"),
        )
    })
}

fn unpack(file: &Path, temp: &Path) -> Result<()> {
    let label = file.display().to_string();
    let input = fs::File::open(file).map_err(|e| Error::io(format!("{label}: opening"), e))?;
    let mut reader = BufReader::new(input);
    let magic = read_line_capped(&mut reader, 64, &label, "magic line")?;
    if magic.trim_end() != MAGIC {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: not a Portcullis database export"),
        ));
    }
    let header_line = read_line_capped(&mut reader, 4096, &label, "header")?;
    let header: ExportHeader = serde_json::from_str(&header_line).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: bad export header: {e}"),
        )
    })?;
    if header.schema_version != SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Schema,
            format!(
                "{label}: export has schema version {}, this build reads {SCHEMA_VERSION}",
                header.schema_version
            ),
        ));
    }
    unpack_payload(reader, &header, &label, temp)
}

/// Decompress the zstd `reader` into `temp`, checking the uncompressed size and SHA-256
/// against `header`, then the schema version and SQLite's integrity.
pub(crate) fn unpack_payload(
    reader: impl BufRead,
    header: &ExportHeader,
    label: &str,
    temp: &Path,
) -> Result<()> {
    if header.size > MAX_DB_SIZE {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("{label}: database of {} bytes is over the cap", header.size),
        ));
    }
    let temp_label = temp.display().to_string();
    let out =
        fs::File::create(temp).map_err(|e| Error::io(format!("{temp_label}: creating"), e))?;
    let mut writer = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        written: 0,
    };
    let decoder = zstd::Decoder::with_buffer(reader)
        .map_err(|e| Error::io(format!("{label}: payload"), e))?;
    std::io::copy(
        &mut decoder.take(header.size.saturating_add(1)),
        &mut writer,
    )
    .map_err(|e| {
        Error::new(
            ErrorKind::ChecksumMismatch,
            format!("{label}: corrupt or truncated payload: {e}"),
        )
    })?;
    let HashingWriter {
        inner: out,
        hasher,
        written,
    } = writer;
    let label = label.to_owned();
    let digest = hex::encode(hasher.finalize());
    if written != header.size || digest != header.sha256 {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch,
            format!(
                "{label}: checksum mismatch (expected {} bytes sha256 {}, got {} bytes sha256 {digest})",
                header.size, header.sha256, written
            ),
        ));
    }
    out.sync_all()
        .map_err(|e| Error::io(format!("{temp_label}: syncing"), e))?;
    drop(out);
    let conn = Connection::open_with_flags(temp, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Error::store(format!("{label}: opening the unpacked database"), e))?;
    let version = schema::current_version(&conn, &label)?;
    if version != SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Schema,
            format!("{label}: unpacked database has schema version {version}"),
        ));
    }
    verify(&conn, &label)?;
    Ok(())
}
