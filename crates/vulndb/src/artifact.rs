//! The database as an OCI artifact, so that one build is shared through any registry.
//!
//! The artifact is an OCI image manifest with [`ARTIFACT_TYPE`] and two blobs: the config,
//! [`ArtifactMetadata`] as JSON ([`CONFIG_MEDIA_TYPE`]), and one layer, the SQLite file
//! compressed with zstd ([`LAYER_MEDIA_TYPE`]). Installing one checks, beyond the digests the
//! registry client verifies, the uncompressed size and SHA-256, the schema version, SQLite's
//! integrity and the content id, and only then renames the new file into place.

use std::fs;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::export::{ExportHeader, install, unpack_payload};
use crate::schema::SCHEMA_VERSION;
use crate::store::{Database, SourceStatus, Status, temp_path};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.portcullis.vulndb.v1";
/// The media type of the config blob, [`ArtifactMetadata`] as JSON.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.portcullis.vulndb.config.v1+json";
/// The media type of the layer: the SQLite file, compressed with zstd.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.portcullis.vulndb.layer.v1.sqlite+zstd";
/// The largest config blob read (the metadata is a few KiB).
pub const MAX_CONFIG_SIZE: u64 = 1 << 20;
/// zstd level for the layer: a good ratio at a few seconds for the full database.
const ZSTD_LEVEL: i32 = 9;

/// What the artifact's config says about the database it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMetadata {
    /// The schema version of the SQLite file.
    pub schema_version: u32,
    /// [`Database::version`] of the file: `sha256:` and the content hash.
    pub content_id: String,
    /// When the database was built (RFC 3339, UTC).
    pub built_at: Option<String>,
    /// When a newer build is expected (RFC 3339, UTC); clients may pull again after it.
    pub next_update: Option<String>,
    /// SHA-256 (hex) of the uncompressed SQLite file.
    pub sha256: String,
    /// Size in bytes of the uncompressed SQLite file.
    pub size: u64,
    /// Every source with its record count.
    pub sources: Vec<SourceStatus>,
}

impl Database {
    /// Write this database, compressed, to `layer` (atomically) and return the metadata
    /// for the artifact's config. `next_update` is stored as given.
    pub fn pack_artifact(
        &self,
        layer: impl AsRef<Path>,
        next_update: Option<String>,
    ) -> Result<ArtifactMetadata> {
        let layer = layer.as_ref();
        let snapshot = temp_path(&layer.with_extension("snapshot"));
        let _ = fs::remove_file(&snapshot);
        let result = self.pack_via(layer, &snapshot, next_update);
        let _ = fs::remove_file(&snapshot);
        if result.is_err() {
            let _ = fs::remove_file(temp_path(layer));
        }
        result
    }

    fn pack_via(
        &self,
        layer: &Path,
        snapshot: &Path,
        next_update: Option<String>,
    ) -> Result<ArtifactMetadata> {
        let (header, status) = self.snapshot(snapshot)?;
        let content_id = self.version()?;
        let temp = temp_path(layer);
        let label = temp.display().to_string();
        let io = |e| Error::io(format!("{label}: writing"), e);
        let mut source = fs::File::open(snapshot)
            .map_err(|e| Error::io(format!("{}: reading", snapshot.display()), e))?;
        let out = fs::File::create(&temp).map_err(io)?;
        let mut encoder = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io)?;
        std::io::copy(&mut source, &mut encoder).map_err(io)?;
        let mut out = encoder.finish().map_err(io)?;
        out.flush().map_err(io)?;
        out.sync_all().map_err(io)?;
        drop(out);
        fs::rename(&temp, layer)
            .map_err(|e| Error::io(format!("{}: replacing", layer.display()), e))?;
        Ok(ArtifactMetadata {
            schema_version: header.schema_version,
            content_id,
            built_at: header.built_at,
            next_update,
            sha256: header.sha256,
            size: header.size,
            sources: status.sources,
        })
    }
}

impl ArtifactMetadata {
    /// Parse a config blob, naming `label` in errors.
    pub fn from_json(bytes: &[u8], label: &str) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: not a Portcullis database artifact config: {e}"),
            )
        })
    }

    /// Whether this build can read the artifact's schema; the error says which side to
    /// upgrade.
    pub fn check_schema(&self, label: &str) -> Result<()> {
        match self.schema_version {
            SCHEMA_VERSION => Ok(()),
            newer if newer > SCHEMA_VERSION => Err(Error::new(
                ErrorKind::Schema,
                format!(
                    "{label}: the database has schema version {newer}, newer than this build reads ({SCHEMA_VERSION}): upgrade portcullis"
                ),
            )),
            older => Err(Error::new(
                ErrorKind::Schema,
                format!(
                    "{label}: the database has schema version {older}, older than this build reads ({SCHEMA_VERSION}): push one built by this version"
                ),
            )),
        }
    }
}

/// Install the artifact layer read from `layer` (zstd) as the database at `db_path`: verify
/// size, SHA-256, schema, integrity and content id against `metadata`, then rename it into
/// place. On any error `db_path` is untouched.
pub fn install_artifact(
    db_path: impl AsRef<Path>,
    metadata: &ArtifactMetadata,
    layer: impl BufRead,
    label: &str,
) -> Result<Status> {
    metadata.check_schema(label)?;
    let header = ExportHeader {
        schema_version: metadata.schema_version,
        built_at: metadata.built_at.clone(),
        sha256: metadata.sha256.clone(),
        size: metadata.size,
    };
    install(db_path.as_ref(), |temp| {
        unpack_payload(layer, &header, label, temp)?;
        let unpacked = Database::open(temp)?;
        let computed = format!("sha256:{}", unpacked.content_hash()?);
        if computed != metadata.content_id {
            return Err(Error::new(
                ErrorKind::ChecksumMismatch,
                format!(
                    "{label}: content id mismatch: the config says {}, the database holds {computed}",
                    metadata.content_id
                ),
            ));
        }
        Ok(())
    })
}
