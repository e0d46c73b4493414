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

pub use client::{FetchedManifest, RegistryClient, with_deadline};

use crate::BlobStore;
use crate::error::Result;
use crate::image::{ImageInfo, LayerDescriptor};
use crate::options::ImageOptions;
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
