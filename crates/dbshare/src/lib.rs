//! The vulnerability database as an OCI artifact: [`push`] a built database to any registry,
//! [`pull`] it back and install it atomically. The CLI (`portcullis db push|pull`) calls these;
//! the layout and media types are in [`portcullis_vulndb::artifact`].
//!
//! Everything goes through the registry client of `portcullis-oci`: the same authentication
//! (anonymous, basic, bearer, docker config), TLS options, retries and digest checks as image
//! pulls.

use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use portcullis_oci::registry::RegistryClient;
use portcullis_oci::{Digest, Reference, RegistryOptions};
use portcullis_vulndb::Database;
use portcullis_vulndb::artifact::{
    ARTIFACT_TYPE, ArtifactMetadata, CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, MAX_CONFIG_SIZE,
    install_artifact,
};
use sha2::{Digest as _, Sha256};

/// The media type of the manifest that carries the database.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The largest manifest read when pulling.
const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Why a push or a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry refused, failed or sent something that does not verify.
    #[error(transparent)]
    Registry(#[from] portcullis_oci::Error),
    /// The database could not be read, packed, verified or installed.
    #[error(transparent)]
    Database(#[from] portcullis_vulndb::Error),
    /// The reference names something that is not a Portcullis database artifact.
    #[error("{reference}: not a Portcullis database artifact ({why})")]
    NotAnArtifact {
        /// The reference pulled.
        reference: String,
        /// What was found instead.
        why: String,
    },
    /// A local file could not be written or read.
    #[error("{path}: {action}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<portcullis_types::ParseError> for Error {
    /// A reference or digest that does not parse, as the registry client reports it.
    fn from(err: portcullis_types::ParseError) -> Self {
        Self::Registry(err.into())
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What a push published.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest's digest: pin it with `REF@DIGEST`.
    pub digest: Digest,
    /// The metadata in the artifact's config.
    pub metadata: ArtifactMetadata,
    /// Size of the compressed layer, in bytes.
    pub layer_size: u64,
}

/// What a pull installed.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest.
    pub digest: Digest,
    /// The metadata in the artifact's config.
    pub metadata: ArtifactMetadata,
    /// Size of the compressed layer, in bytes.
    pub layer_size: u64,
}

/// Pack the database at `db_path` and push it to `reference` (its tag, `latest` if none).
/// `next_update` goes into the metadata as given. The compressed layer is written next to
/// the database first and streamed from there; it is removed afterwards.
pub fn push(
    db_path: &Path,
    reference: &Reference,
    options: &RegistryOptions,
    next_update: Option<String>,
) -> Result<Pushed> {
    let db = Database::open(db_path)?;
    let layer_path = scratch_path(db_path, "push");
    let result = push_packed(&db, &layer_path, reference, options, next_update);
    let _ = fs::remove_file(&layer_path);
    result
}

fn push_packed(
    db: &Database,
    layer_path: &Path,
    reference: &Reference,
    options: &RegistryOptions,
    next_update: Option<String>,
) -> Result<Pushed> {
    let metadata = db.pack_artifact(layer_path, next_update)?;
    let io = |action, source| Error::Io {
        path: layer_path.to_path_buf(),
        action,
        source,
    };
    let mut file = fs::File::open(layer_path).map_err(|e| io("reading the packed layer", e))?;
    let mut hasher = Sha256::new();
    let layer_size =
        std::io::copy(&mut file, &mut hasher).map_err(|e| io("reading the packed layer", e))?;
    let layer_digest = Digest::parse(&format!("sha256:{}", hex::encode(hasher.finalize())))?;
    let config = serde_json::to_vec(&metadata).map_err(|e| Error::Io {
        path: layer_path.to_path_buf(),
        action: "encoding the artifact config",
        source: e.into(),
    })?;
    let config_digest = Digest::sha256_of(&config);
    let what = format!("database artifact {reference}");
    let client = RegistryClient::connect(reference, options)?;
    let owned_path = layer_path.to_path_buf();
    client.push_blob(
        &layer_digest,
        layer_size,
        &mut || {
            let file = fs::File::open(&owned_path)?;
            Ok(Box::new(file) as Box<dyn Read + Send>)
        },
        &format!("{what}: layer"),
    )?;
    let config_len = config.len() as u64;
    let config_for_upload = config.clone();
    client.push_blob(
        &config_digest,
        config_len,
        &mut || {
            Ok(Box::new(std::io::Cursor::new(config_for_upload.clone())) as Box<dyn Read + Send>)
        },
        &format!("{what}: config"),
    )?;
    let mut annotations = serde_json::Map::new();
    if let Some(built_at) = &metadata.built_at {
        annotations.insert(
            "org.opencontainers.image.created".to_owned(),
            built_at.clone().into(),
        );
    }
    annotations.insert(
        "dev.portcullis.vulndb.content-id".to_owned(),
        metadata.content_id.clone().into(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": config_digest.to_string(),
            "size": config_len,
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest.to_string(),
            "size": layer_size,
            "annotations": {"org.opencontainers.image.title": "db.sqlite.zst"},
        }],
        "annotations": annotations,
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Io {
        path: layer_path.to_path_buf(),
        action: "encoding the manifest",
        source: e.into(),
    })?;
    let tag = reference
        .digest()
        .map(ToString::to_string)
        .or_else(|| reference.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".to_owned());
    let digest = client.push_manifest(&tag, MANIFEST_MEDIA_TYPE, &bytes, &what)?;
    tracing::info!(%reference, %digest, content_id = %metadata.content_id, layer_size, "pushed the database");
    Ok(Pushed {
        digest,
        metadata,
        layer_size,
    })
}

/// Pull the database artifact `reference` and install it at `db_path`, atomically: the
/// manifest, config and layer digests, the uncompressed size and SHA-256, the schema
/// version, SQLite's integrity and the content id are all checked before the rename. On any
/// error the database in place is untouched. Where it came from is recorded next to it
/// (see [`Provenance`]).
pub fn pull(db_path: &Path, reference: &Reference, options: &RegistryOptions) -> Result<Pulled> {
    pull_with_progress(db_path, reference, options, &NoProgress)
}

/// [`pull`], telling `progress` how much of the layer was read.
pub fn pull_with_progress(
    db_path: &Path,
    reference: &Reference,
    options: &RegistryOptions,
    progress: &dyn PullProgress,
) -> Result<Pulled> {
    let found = Found::fetch(reference, options)?;
    found.install(db_path, reference, progress)
}

/// Told how a pull reads the artifact's layer (the database, compressed): a caller draws a
/// progress bar with it. Calls come from the pulling thread.
pub trait PullProgress {
    /// The layer is about to be read: `total` bytes, from the manifest. Not called when
    /// the layer is not read (the content is installed already).
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `bytes` more bytes of the layer were read.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
    /// The layer was read to its end, or the pull stopped.
    fn finish(&self) {}
}

/// No progress reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl PullProgress for NoProgress {}

/// A layer stream that reports what is read through it.
struct Counted<'a, R> {
    inner: R,
    progress: &'a dyn PullProgress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// What [`pull_unless`] did.
#[derive(Debug, Clone)]
pub enum Pull {
    /// The artifact holds the content already installed: only its manifest and config were
    /// read.
    Unchanged {
        /// The manifest's digest.
        digest: Digest,
        /// The artifact's metadata.
        metadata: ArtifactMetadata,
    },
    /// A new database was installed.
    Installed(Pulled),
}

/// [`pull`], unless the artifact's content id is `installed` (the content id of the
/// database at `db_path`): then nothing but its manifest and config is read.
pub fn pull_unless(
    db_path: &Path,
    reference: &Reference,
    options: &RegistryOptions,
    installed: Option<&str>,
) -> Result<Pull> {
    pull_unless_with_progress(db_path, reference, options, installed, &NoProgress)
}

/// [`pull_unless`], telling `progress` how much of the layer was read (nothing when only
/// the manifest and config are).
pub fn pull_unless_with_progress(
    db_path: &Path,
    reference: &Reference,
    options: &RegistryOptions,
    installed: Option<&str>,
    progress: &dyn PullProgress,
) -> Result<Pull> {
    let found = Found::fetch(reference, options)?;
    if installed == Some(found.metadata.content_id.as_str()) {
        write_provenance(db_path, reference, &found.digest, &found.metadata)?;
        return Ok(Pull::Unchanged {
            digest: found.digest,
            metadata: found.metadata,
        });
    }
    found
        .install(db_path, reference, progress)
        .map(Pull::Installed)
}

/// An artifact's manifest and config, read and checked; its layer not yet.
struct Found {
    client: RegistryClient,
    what: String,
    digest: Digest,
    layer: (Digest, u64),
    metadata: ArtifactMetadata,
}

impl Found {
    fn fetch(reference: &Reference, options: &RegistryOptions) -> Result<Self> {
        let what = format!("database artifact {reference}");
        let client = RegistryClient::connect(reference, options)?;
        let manifest = client.fetch_manifest(
            &reference.manifest_reference(),
            reference.digest(),
            MAX_MANIFEST_SIZE,
            &what,
        )?;
        let (config, layer) = artifact_parts(&manifest.bytes, reference)?;
        let config_bytes = client.fetch_blob(
            &config.0,
            Some(config.1),
            MAX_CONFIG_SIZE,
            &format!("{what}: config"),
        )?;
        let metadata = ArtifactMetadata::from_json(&config_bytes, &what)?;
        metadata.check_schema(&what)?;
        Ok(Self {
            client,
            what,
            digest: manifest.digest,
            layer,
            metadata,
        })
    }

    /// Stream the layer into a verified database at `db_path`.
    fn install(
        self,
        db_path: &Path,
        reference: &Reference,
        progress: &dyn PullProgress,
    ) -> Result<Pulled> {
        let what = &self.what;
        let stream =
            self.client
                .open_blob(&self.layer.0, Some(self.layer.1), &format!("{what}: layer"))?;
        progress.start(self.layer.1);
        let counted = Counted {
            inner: stream,
            progress,
        };
        let installed = install_artifact(db_path, &self.metadata, BufReader::new(counted), what);
        progress.finish();
        installed?;
        write_provenance(db_path, reference, &self.digest, &self.metadata)?;
        tracing::info!(%reference, digest = %self.digest, content_id = %self.metadata.content_id, "pulled the database");
        Ok(Pulled {
            digest: self.digest,
            metadata: self.metadata,
            layer_size: self.layer.1,
        })
    }
}

/// The digest `reference` names now, from one `HEAD` of its manifest (a `GET` when the
/// registry sends no digest header): the cheap check of whether anything changed.
pub fn current_digest(reference: &Reference, options: &RegistryOptions) -> Result<Digest> {
    let what = format!("database artifact {reference}");
    let client = RegistryClient::connect(reference, options)?;
    let tag = reference.manifest_reference();
    if let Some(digest) = client.manifest_digest(&tag, &what)? {
        return Ok(digest);
    }
    Ok(client
        .fetch_manifest(&tag, reference.digest(), MAX_MANIFEST_SIZE, &what)?
        .digest)
}

/// Where a pulled database came from, kept next to it as `<db>.artifact.json`: what
/// `scan --db-repository` reads to know whether its database is past `next_update`, and
/// what `serve` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The reference pulled.
    pub reference: String,
    /// The manifest's digest.
    pub digest: String,
    /// The content id of the database.
    pub content_id: String,
    /// When it was built (RFC 3339).
    pub built_at: Option<String>,
    /// When its builder expects the next one (RFC 3339), if it said.
    pub next_update: Option<String>,
}

/// The file holding the [`Provenance`] of the database at `db_path`.
pub fn provenance_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".artifact.json");
    db_path.with_file_name(name)
}

/// The [`Provenance`] of the database at `db_path`; `None` when it was not pulled (or the
/// record is unreadable, which only costs an early pull).
pub fn read_provenance(db_path: &Path) -> Option<Provenance> {
    let bytes = fs::read(provenance_path(db_path)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_provenance(
    db_path: &Path,
    reference: &Reference,
    digest: &Digest,
    metadata: &ArtifactMetadata,
) -> Result<()> {
    let record = Provenance {
        reference: reference.to_string(),
        digest: digest.to_string(),
        content_id: metadata.content_id.clone(),
        built_at: metadata.built_at.clone(),
        next_update: metadata.next_update.clone(),
    };
    let path = provenance_path(db_path);
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let io = |action: &'static str| {
        let path = path.clone();
        move |source| Error::Io {
            path,
            action,
            source,
        }
    };
    let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
    fs::write(&temp, bytes).map_err(io("writing the provenance record"))?;
    fs::rename(&temp, &path).map_err(io("renaming the provenance record into place"))?;
    Ok(())
}

/// The config and layer descriptors (digest, size) of a database artifact manifest.
fn artifact_parts(bytes: &[u8], reference: &Reference) -> Result<((Digest, u64), (Digest, u64))> {
    let not = |why: String| Error::NotAnArtifact {
        reference: reference.to_string(),
        why,
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| not(format!("the manifest is not JSON: {e}")))?;
    let config_type = manifest["config"]["mediaType"].as_str().unwrap_or_default();
    let artifact_type = manifest["artifactType"].as_str().unwrap_or(config_type);
    if artifact_type != ARTIFACT_TYPE && config_type != CONFIG_MEDIA_TYPE {
        return Err(not(format!(
            "artifact type '{}', expected '{ARTIFACT_TYPE}'",
            if artifact_type.is_empty() {
                "none"
            } else {
                artifact_type
            }
        )));
    }
    let descriptor = |value: &serde_json::Value, what: &str| -> Result<(Digest, u64)> {
        let digest = value["digest"]
            .as_str()
            .ok_or_else(|| not(format!("the {what} has no digest")))?;
        let size = value["size"]
            .as_u64()
            .ok_or_else(|| not(format!("the {what} has no size")))?;
        Ok((Digest::parse(digest)?, size))
    };
    let config = descriptor(&manifest["config"], "config")?;
    let layers: Vec<&serde_json::Value> = manifest["layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .filter(|l| l["mediaType"].as_str() == Some(LAYER_MEDIA_TYPE))
                .collect()
        })
        .unwrap_or_default();
    let [layer] = layers.as_slice() else {
        return Err(not(format!(
            "{} layers of type {LAYER_MEDIA_TYPE}, expected one",
            layers.len()
        )));
    };
    Ok((config, descriptor(layer, "layer")?))
}

/// A scratch file next to the database (same filesystem), unique to this process.
fn scratch_path(db_path: &Path, purpose: &str) -> PathBuf {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db.sqlite".to_owned());
    db_path.with_file_name(format!("{name}.{purpose}-{}.zst", std::process::id()))
}
