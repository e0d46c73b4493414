//! From a reference to an [`ImageInfo`]: manifest, platform choice, config, layers.

use super::client::RegistryClient;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
use crate::manifest::{ImageManifest, Manifest};
use crate::options::ImageOptions;
use crate::platform::Platform;
use crate::reference::Reference;

/// Most levels of indexes followed (an index pointing at an index).
const MAX_INDEX_DEPTH: usize = 2;

/// Fetch and verify everything about `reference` except the layers.
pub(crate) fn resolve(
    client: &RegistryClient,
    reference: &Reference,
    options: &ImageOptions,
) -> Result<ImageInfo> {
    let what = reference.to_string();
    let limits = &options.limits;
    let top = client.fetch_manifest(
        &reference.manifest_reference(),
        reference.digest(),
        limits.max_manifest_size,
        &what,
    )?;
    let mut document = Manifest::parse(
        &top.bytes,
        top.media_type.as_deref(),
        &format!("manifest of {what}"),
    )?;
    let wanted = options.platform.clone().unwrap_or_else(Platform::host);
    let mut manifest_digest = top.digest.clone();
    let mut index_platform: Option<Platform> = None;
    let mut depth = 0;
    let image: ImageManifest = loop {
        let index = match document {
            Manifest::Image(image) => break image,
            Manifest::Index(index) => index,
        };
        depth += 1;
        if depth > MAX_INDEX_DEPTH {
            return Err(Error::new(
                ErrorKind::InvalidManifest,
                format!("{what}: indexes nested more than {MAX_INDEX_DEPTH} deep"),
            ));
        }
        let (next, platform, digest) = fetch_index_entry(client, &index, &wanted, &what, options)?;
        document = next;
        index_platform = platform;
        manifest_digest = digest;
    };

    let config_descriptor = &image.config;
    let config = fetch_config(client, &image, &what, options)?;
    let layers = layer_descriptors(&image, &config);
    let platform = config.platform().or(index_platform);
    Ok(ImageInfo {
        reference: what,
        source: SourceKind::Registry,
        digest: Some(top.digest.clone()),
        manifest_digest: (manifest_digest != top.digest).then_some(manifest_digest),
        config_digest: Some(config_descriptor.digest.clone()),
        platform,
        config,
        layers,
    })
}

/// Choose the index entry for `wanted` and fetch its manifest, checked against the entry's
/// digest and size: the parsed manifest, the entry's platform and the manifest's digest.
fn fetch_index_entry(
    client: &RegistryClient,
    index: &crate::manifest::ImageIndex,
    wanted: &Platform,
    what: &str,
    options: &ImageOptions,
) -> Result<(Manifest, Option<Platform>, crate::digest::Digest)> {
    let limits = &options.limits;
    let entry = index.select(wanted, what)?;
    let entry_what = format!("{what} ({wanted}: {})", entry.digest);
    if entry.size > limits.max_manifest_size {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{entry_what}: the manifest is {} bytes, over the {}-byte limit",
                entry.size, limits.max_manifest_size
            ),
        ));
    }
    let fetched = client.fetch_manifest(
        entry.digest.as_str(),
        Some(&entry.digest),
        limits.max_manifest_size,
        &entry_what,
    )?;
    if fetched.bytes.len() as u64 != entry.size {
        return Err(Error::new(
            ErrorKind::DigestMismatch,
            format!(
                "manifest of {entry_what}: got {} bytes, the index declares {}",
                fetched.bytes.len(),
                entry.size
            ),
        ));
    }
    let media_type = if entry.media_type.is_empty() {
        fetched.media_type.clone()
    } else {
        Some(entry.media_type.clone())
    };
    let document = Manifest::parse(
        &fetched.bytes,
        media_type.as_deref(),
        &format!("manifest of {entry_what}"),
    )?;
    Ok((document, entry.platform.clone(), fetched.digest))
}

/// Fetch and parse the image's config, within `max_config_size`.
fn fetch_config(
    client: &RegistryClient,
    image: &ImageManifest,
    what: &str,
    options: &ImageOptions,
) -> Result<ImageConfig> {
    let limits = &options.limits;
    let descriptor = &image.config;
    let config_what = format!("config {} of {what}", descriptor.digest);
    if descriptor.size > limits.max_config_size {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{config_what}: {} bytes, over the {}-byte limit",
                descriptor.size, limits.max_config_size
            ),
        ));
    }
    let bytes = client.fetch_blob(
        &descriptor.digest,
        Some(descriptor.size),
        limits.max_config_size,
        &config_what,
    )?;
    Ok(ImageConfig::parse(&bytes, &config_what)?)
}

/// The image's layers, each with its `diff_id` when the config lists one per layer.
fn layer_descriptors(image: &ImageManifest, config: &ImageConfig) -> Vec<LayerDescriptor> {
    if config.diff_ids.len() != image.layers.len() {
        tracing::debug!(
            layers = image.layers.len(),
            diff_ids = config.diff_ids.len(),
            "config diff_ids do not match the layers; leaving them out"
        );
    }
    image.layer_descriptors(config)
}
