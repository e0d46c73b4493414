//! `docker save` / `skopeo copy ... docker-archive:` tarballs.
//!
//! Layer files in these archives are normally the uncompressed diffs, so each layer's digest
//! is its diff_id from the config, and reading it verifies that. If a layer file is
//! compressed, its blob digest is taken from its content-addressed name
//! (`blobs/<alg>/<hex>`), or else computed by hashing the member once while opening.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::archive::ArchiveFiles;
use super::oci_layout::read_layout_index;
use super::{Files, read_small, sha256_of_reader};
use crate::BlobStore;
use crate::digest::Digest;
use crate::digest::DigestExt;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
use crate::layers::Compression;
use crate::options::ImageOptions;

/// Media type of an uncompressed Docker layer.
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

/// Open a docker archive: the first image of its `manifest.json`.
pub(crate) fn open_docker_archive(
    path: &Path,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let files = ArchiveFiles::scan(path)?;
    let limits = &options.limits;
    let what = files.describe("manifest.json");
    let bytes = read_small(&files, "manifest.json", limits.max_manifest_size)?;
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidManifest,
            format!("{what}: malformed docker archive manifest: {e}"),
        )
    })?;
    let entry = entries.first().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidManifest,
            format!("{what}: the archive holds no image"),
        )
    })?;
    let config_bytes = read_small(&files, &entry.config, limits.max_config_size)?;
    let config = ImageConfig::parse(&config_bytes, &files.describe(&entry.config))?;
    if config.diff_ids.len() != entry.layers.len() {
        return Err(Error::new(
            ErrorKind::InvalidManifest,
            format!(
                "{what}: {} layers but the config lists {} diff_ids",
                entry.layers.len(),
                config.diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(entry.layers.len());
    let mut paths = HashMap::new();
    for (name, diff_id) in entry.layers.iter().zip(&config.diff_ids) {
        let layer = describe_layer(&files, name, diff_id)?;
        paths.insert(layer.digest.clone(), name.clone());
        layers.push(layer);
    }
    // Docker 25+ also writes an OCI index.json; its entry carries the manifest digest.
    let digest = if files.exists("index.json") && files.exists("oci-layout") {
        read_layout_index(&files, options)
            .ok()
            .and_then(|index| index.manifests.first().map(|d| d.digest.clone()))
    } else {
        None
    };
    let info = ImageInfo {
        reference: format!("docker-archive:{}", path.display()),
        source: SourceKind::DockerArchive,
        digest,
        manifest_digest: None,
        config_digest: Some(Digest::sha256_of(&config_bytes)),
        platform: config.platform(),
        config,
        layers,
    };
    Ok((info, Box::new(DockerStore { files, paths })))
}

fn describe_layer(files: &ArchiveFiles, name: &str, diff_id: &Digest) -> Result<LayerDescriptor> {
    let (mut reader, size) = files.open(name)?;
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        let n = reader
            .read(prefix.get_mut(got..).unwrap_or(&mut []))
            .map_err(|e| Error::io(files.describe(name), e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let compression = Compression::sniff(prefix.get(..got).unwrap_or(&[]));
    if compression == Compression::None {
        return Ok(LayerDescriptor {
            digest: diff_id.clone(),
            size,
            media_type: DOCKER_LAYER.to_string(),
            diff_id: Some(diff_id.clone()),
        });
    }
    let named = name
        .strip_prefix("blobs/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(alg, hex)| Digest::parse(&format!("{alg}:{hex}")).ok());
    let digest = match named {
        Some(d) => d,
        None => {
            let (reader, _) = files.open(name)?;
            sha256_of_reader(reader).map_err(|e| Error::io(files.describe(name), e))?
        }
    };
    Ok(LayerDescriptor {
        digest,
        size,
        media_type: compression.oci_layer_media_type().to_string(),
        diff_id: Some(diff_id.clone()),
    })
}

/// Reads layers from the archive by their member name, verifying the digest.
#[derive(Debug)]
struct DockerStore {
    files: ArchiveFiles,
    paths: HashMap<Digest, String>,
}

impl BlobStore for DockerStore {
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
        let name = self.paths.get(&layer.digest).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("layer {}: not in the archive", layer.digest),
            )
        })?;
        let (reader, _) = self.files.open(name)?;
        Ok(Box::new(layer.digest.verifying_reader(
            reader,
            Some(layer.size),
            format!("layer {}", layer.digest),
        )))
    }
}

#[cfg(test)]
mod tests;
