//! OCI image layouts: a directory (`oci-dir:`) or a tar of one (`oci-archive:`).

use std::io::Read;
use std::path::Path;

use super::archive::ArchiveFiles;
use super::{DirFiles, Files, read_small};
use crate::BlobStore;
use crate::digest::Digest;
use crate::digest::DigestExt;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
use crate::manifest::{Descriptor, ImageIndex, Manifest};
use crate::options::ImageOptions;
use crate::platform::Platform;

/// The annotation naming an index entry (its tag).
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Deepest nesting of indexes followed.
const MAX_INDEX_DEPTH: u32 = 4;

/// Open an OCI layout directory.
pub(crate) fn open_oci_dir(
    path: &Path,
    tag: Option<&str>,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let files = DirFiles::new(path);
    let reference = reference("oci-dir", path, tag);
    let info = open_layout(&files, tag, options, reference, SourceKind::OciDir)?;
    Ok((info, Box::new(LayoutStore { files })))
}

/// Open a tar of an OCI layout, without extracting it.
pub(crate) fn open_oci_archive(
    path: &Path,
    tag: Option<&str>,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let files = ArchiveFiles::scan(path)?;
    let reference = reference("oci-archive", path, tag);
    let info = open_layout(&files, tag, options, reference, SourceKind::OciArchive)?;
    Ok((info, Box::new(LayoutStore { files })))
}

fn reference(transport: &str, path: &Path, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("{transport}:{}:{tag}", path.display()),
        None => format!("{transport}:{}", path.display()),
    }
}

/// The path of a blob inside a layout. [`Digest`] guarantees plain hex, no separators.
pub(crate) fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// Reads layer blobs from a layout, verifying digest and size.
#[derive(Debug)]
struct LayoutStore<F> {
    files: F,
}

impl<F: Files> BlobStore for LayoutStore<F> {
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
        let name = blob_path(&layer.digest);
        let (reader, _) = self.files.open(&name)?;
        Ok(Box::new(layer.digest.verifying_reader(
            reader,
            Some(layer.size),
            format!("layer {}", layer.digest),
        )))
    }
}

/// Read and verify the blob a descriptor points to, capped at `cap` bytes.
pub(crate) fn read_blob(files: &dyn Files, descriptor: &Descriptor, cap: u64) -> Result<Vec<u8>> {
    let name = blob_path(&descriptor.digest);
    if descriptor.size > cap {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{}: declared size {} is more than the cap of {cap}",
                files.describe(&name),
                descriptor.size
            ),
        ));
    }
    let bytes = read_small(files, &name, cap)?;
    descriptor.digest.verify(&bytes, &files.describe(&name))?;
    Ok(bytes)
}

/// Check `oci-layout` and return the parsed `index.json`.
pub(crate) fn read_layout_index(files: &dyn Files, options: &ImageOptions) -> Result<ImageIndex> {
    let layout = read_small(files, "oci-layout", 64 * 1024)?;
    let version = serde_json::from_slice::<serde_json::Value>(&layout)
        .ok()
        .and_then(|v| {
            v.get("imageLayoutVersion")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        });
    match version.as_deref() {
        Some(v) if v.starts_with("1.") => {}
        other => {
            return Err(Error::new(
                ErrorKind::InvalidManifest,
                format!(
                    "{}: unsupported imageLayoutVersion {}",
                    files.describe("oci-layout"),
                    other.unwrap_or("(missing)")
                ),
            ));
        }
    }
    let what = files.describe("index.json");
    let bytes = read_small(files, "index.json", options.limits.max_manifest_size)?;
    match Manifest::parse(&bytes, Some(crate::manifest::OCI_INDEX), &what)? {
        Manifest::Index(index) => Ok(index),
        Manifest::Image(_) => Err(Error::new(
            ErrorKind::InvalidManifest,
            format!("{what}: expected an image index"),
        )),
    }
}

fn open_layout(
    files: &dyn Files,
    tag: Option<&str>,
    options: &ImageOptions,
    reference: String,
    source: SourceKind,
) -> Result<ImageInfo> {
    let index = read_layout_index(files, options)?;
    let top = pick_entry(&index, tag, &files.describe("index.json"))?.clone();
    let wanted = options.platform.clone().unwrap_or_else(Platform::host);
    let limits = &options.limits;
    let mut current = top.clone();
    let mut depth = 0;
    let (manifest, manifest_descriptor) = loop {
        let bytes = read_blob(files, &current, limits.max_manifest_size)?;
        let what = files.describe(&blob_path(&current.digest));
        let media_type = (!current.media_type.is_empty()).then_some(current.media_type.as_str());
        match Manifest::parse(&bytes, media_type, &what)? {
            Manifest::Image(m) => break (m, current),
            Manifest::Index(nested) => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(Error::new(
                        ErrorKind::InvalidManifest,
                        format!("{what}: indexes nested more than {MAX_INDEX_DEPTH} deep"),
                    ));
                }
                current = nested.select(&wanted, &what)?.clone();
            }
        }
    };
    let config_bytes = read_blob(files, &manifest.config, limits.max_config_size)?;
    let config = ImageConfig::parse(
        &config_bytes,
        &files.describe(&blob_path(&manifest.config.digest)),
    )?;
    let layers = manifest.layer_descriptors(&config);
    let platform = config
        .platform()
        .or_else(|| manifest_descriptor.platform.clone());
    Ok(ImageInfo {
        reference,
        source,
        manifest_digest: (manifest_descriptor.digest != top.digest)
            .then(|| manifest_descriptor.digest.clone()),
        digest: Some(top.digest),
        config_digest: Some(manifest.config.digest.clone()),
        platform,
        config,
        layers,
    })
}

/// The index entry named `tag`, or the only entry.
fn pick_entry<'a>(index: &'a ImageIndex, tag: Option<&str>, what: &str) -> Result<&'a Descriptor> {
    let names = || {
        let names: Vec<&str> = index
            .manifests
            .iter()
            .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    match tag {
        Some(tag) => index
            .manifests
            .iter()
            .find(|d| d.annotations.get(REF_NAME).is_some_and(|n| n == tag))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{what}: no image named '{tag}'; available: {}", names()),
                )
            }),
        None => match index.manifests.as_slice() {
            [only] => Ok(only),
            [] => Err(Error::new(
                ErrorKind::NotFound,
                format!("{what}: the layout holds no image"),
            )),
            _ => Err(Error::new(
                ErrorKind::InvalidReference,
                format!(
                    "{what}: the layout holds {} images; name one with ':<tag>'; available: {}",
                    index.manifests.len(),
                    names()
                ),
            )),
        },
    }
}

#[cfg(test)]
mod tests;
