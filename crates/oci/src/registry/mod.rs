//! OCI distribution (Docker Registry v2) client: resolve a reference, fetch and verify the
//! manifest (choosing the platform from an index) and the config, and stream layer blobs.
//!
//! Everything is synchronous (`ureq`). See [`RegistryClient::connect`] for how the scheme
//! is chosen for insecure registries; credentials are sent only to the registry's own
//! origin (and Basic credentials to its token realm), never to redirect targets elsewhere.

mod auth;
mod client;
mod resolve;
mod tls;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use std::io::Read;

pub(crate) use auth::{parse_challenges, parse_token_response, preferred_challenge, token_url};
pub(crate) use client::referrers::parse_referrers_index;
pub use client::referrers::{
    Artifact, Attached, EMPTY_CONFIG, Indexed, MAX_FALLBACK_ENTRIES, MAX_REFERRERS_INDEX,
    fallback_tag,
};
pub use client::{FetchedManifest, RegistryClient, with_deadline};
pub use tls::tls_config;

use crate::BlobStore;
use crate::digest::Digest;
use crate::error::Result;
use crate::image::{ImageInfo, LayerDescriptor};
use crate::manifest::Descriptor;
use crate::options::{ImageOptions, RegistryOptions};
use crate::reference::Reference;

/// Resolve `reference` in its registry, fetch and verify the manifest (choosing the
/// platform from an index) and the config, and return a blob store for its layers.
pub fn open(
    reference: &Reference,
    options: &ImageOptions,
) -> Result<(ImageInfo, Box<dyn BlobStore>)> {
    let span = tracing::debug_span!("registry_open", reference = %reference);
    let _entered = span.enter();
    let client = RegistryClient::connect(reference, &options.registry)?;
    let info = resolve::resolve(&client, reference, options)?;
    let store = RegistryBlobs {
        client,
        reference: reference.to_string(),
    };
    Ok((info, Box::new(store)))
}

/// The largest subject manifest read by [`attach`], in bytes.
const MAX_SUBJECT_MANIFEST: u64 = 4 << 20;

/// Attach `artifact` (an SBOM, say) to manifest `subject` of `reference`'s repository as an
/// OCI 1.1 referrer (see [`RegistryClient::attach_artifact`]). The subject's media type and
/// size are read from the registry, so it must be there already.
pub fn attach(
    reference: &Reference,
    subject: &Digest,
    options: &RegistryOptions,
    artifact: &Artifact<'_>,
) -> Result<Attached> {
    let what = format!("{} for {reference}", artifact.artifact_type);
    let client = RegistryClient::connect(reference, options)?;
    let manifest = client.fetch_manifest(
        subject.as_str(),
        Some(subject),
        MAX_SUBJECT_MANIFEST,
        &format!("{reference}@{subject}"),
    )?;
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| crate::manifest::OCI_MANIFEST.to_string());
    let descriptor = Descriptor {
        media_type,
        digest: subject.clone(),
        size: manifest.bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
    };
    client.attach_artifact(&descriptor, artifact, &what)
}

/// Layer blobs streamed from a registry.
#[derive(Debug)]
struct RegistryBlobs {
    client: RegistryClient,
    reference: String,
}

impl BlobStore for RegistryBlobs {
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
        let what = format!("layer {} of {}", layer.digest, self.reference);
        tracing::debug!(layer = %layer.digest, size = layer.size, "opening layer blob");
        self.client
            .open_blob(&layer.digest, Some(layer.size), &what)
    }
}
