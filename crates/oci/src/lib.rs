//! Reading container images: references, sources, registry access, and streaming layers.
//!
//! Open an image from any [`ImageSource`] with [`Image::open`], look at what it is with
//! [`Image::info`], then read just the files the catalogers want with [`Image::read_files`].
//! Layers are streamed exactly once, never unpacked to disk, and memory stays bounded by
//! the size caps in [`Limits`].

pub mod digest;
pub mod error;
pub mod files;
pub mod image;
mod layers;
pub mod links;
mod local;
pub mod manifest;
pub mod options;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod source;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

pub use digest::{Digest, DigestExt};
pub use error::{Error, ErrorKind, Result};
pub use files::{EntryInfo, FileContent, FileFilter, FileSet, FoundFile, PathPatterns, read_whole};
pub use image::{Healthcheck, ImageConfig, ImageInfo, LayerDescriptor, SourceKind};
pub use options::{Credentials, ImageOptions, Limits, RegistryOptions, RegistryToken, RetryPolicy};
pub use platform::Platform;
pub use reference::Reference;
pub use source::ImageSource;

/// Somewhere layer blobs can be opened for reading.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Open the stored (possibly compressed) bytes of `layer`. The reader verifies the
    /// digest and size as it goes and fails at the end if they do not match.
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>>;
}

/// Told how reading layers progresses; used for progress bars.
pub trait Progress: Sync {
    /// `bytes` more stored bytes of layer `index` were read.
    fn layer_bytes(&self, index: usize, bytes: u64) {
        let _ = (index, bytes);
    }
    /// Layer `index` was read to its end.
    fn layer_done(&self, index: usize) {
        let _ = index;
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug)]
enum Backend {
    Blobs(Box<dyn BlobStore>),
    Directory(PathBuf),
}

/// An opened image: its metadata, and a way to read its files.
#[derive(Debug)]
pub struct Image {
    info: ImageInfo,
    backend: Backend,
}

impl Image {
    /// Open `source`: resolve the reference, fetch and verify the manifest and config (for
    /// registries and layouts), or index the archive or directory. Layers are not read yet.
    pub fn open(source: &ImageSource, options: &ImageOptions) -> Result<Self> {
        match source {
            ImageSource::Registry(reference) => {
                let (info, store) = registry::open(reference, options)?;
                Ok(Self::from_blobs(info, store))
            }
            ImageSource::OciDir { path, tag } => {
                let (info, store) = local::open_oci_dir(path, tag.as_deref(), options)?;
                Ok(Self::from_blobs(info, store))
            }
            ImageSource::OciArchive { path, tag } => {
                let (info, store) = local::open_oci_archive(path, tag.as_deref(), options)?;
                Ok(Self::from_blobs(info, store))
            }
            ImageSource::DockerArchive { path } => {
                let (info, store) = local::open_docker_archive(path, options)?;
                Ok(Self::from_blobs(info, store))
            }
            ImageSource::Tar { path } => {
                let (info, store) = local::open_rootfs_tar(path, options)?;
                Ok(Self::from_blobs(info, store))
            }
            ImageSource::Dir { path } => {
                let info = local::dir_info(path)?;
                Ok(Self {
                    info,
                    backend: Backend::Directory(path.clone()),
                })
            }
        }
    }

    fn from_blobs(info: ImageInfo, store: Box<dyn BlobStore>) -> Self {
        Self {
            info,
            backend: Backend::Blobs(store),
        }
    }

    /// What is known about the image before reading layers.
    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// Read every layer once and return the files `filter` wants, as they are in the final
    /// filesystem (whiteouts and opaque directories applied), with all symlinks. A wanted
    /// path that is a symlink or hard link holds its target's content, as the runtime
    /// would see it (see [`links`]; this may read the layers up to
    /// [`links::MAX_PASSES`] times); a link that cannot be resolved is a
    /// [`FileContent::Skipped`] file naming the target.
    pub fn read_files(&self, filter: &dyn FileFilter, limits: &Limits) -> Result<FileSet> {
        self.read_files_with_progress(filter, limits, &NoProgress)
    }

    /// [`Image::read_files`], reporting progress.
    pub fn read_files_with_progress(
        &self,
        filter: &dyn FileFilter,
        limits: &Limits,
        progress: &dyn Progress,
    ) -> Result<FileSet> {
        match &self.backend {
            Backend::Blobs(store) => {
                read_blobs(store.as_ref(), &self.info.layers, filter, limits, progress)
            }
            Backend::Directory(root) => {
                links::read_following_links(filter, limits, &mut |wanted| {
                    let files = local::read_dir_files(root, wanted, limits)?;
                    Ok(links::Pass {
                        files,
                        may_exist: Box::new(move |path| {
                            std::fs::symlink_metadata(root.join(path)).is_ok_and(|m| m.is_file())
                        }),
                        missing_link_targets: std::collections::BTreeSet::new(),
                    })
                })
            }
        }
    }
}

/// Read the layers of a blob store, following wanted links with further passes.
fn read_blobs(
    store: &dyn BlobStore,
    layers: &[LayerDescriptor],
    filter: &dyn FileFilter,
    limits: &Limits,
    progress: &dyn Progress,
) -> Result<FileSet> {
    links::read_following_links(filter, limits, &mut |wanted| {
        let mut seen = layers::SeenPaths::default();
        let files = layers::read_layers(store, layers, wanted, limits, progress, &mut seen)?;
        let missing_link_targets = std::mem::take(&mut seen.missing_link_targets);
        Ok(links::Pass {
            files,
            may_exist: Box::new(move |path| seen.may_contain(path)),
            missing_link_targets,
        })
    })
}

/// Entry points for the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::io::Read;

    use crate::{
        BlobStore, Digest, FileFilter, FileSet, LayerDescriptor, Limits, NoProgress, Result,
    };

    /// Serves the same bytes for every pass.
    #[derive(Debug)]
    struct OneLayer(Vec<u8>);

    impl BlobStore for OneLayer {
        fn open_layer(&self, _layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
            Ok(Box::new(std::io::Cursor::new(self.0.as_slice())))
        }
    }

    /// Parse `data` as a referrers index (the referrers API's answer or the fallback tag's
    /// index), as [`crate::registry::RegistryClient::referrers`] does.
    pub fn referrers_index(data: &[u8]) -> Result<Vec<crate::manifest::Descriptor>> {
        crate::registry::parse_referrers_index(data, "fuzz")
    }

    /// Read `data` as a registry's authentication replies, as the client does: as a
    /// `WWW-Authenticate` header value (its challenges, the one answered and that one's token
    /// URL for `library/x`) and as a token endpoint's JSON reply. The token URL and the token.
    pub fn registry_auth(data: &[u8]) -> (Option<String>, Result<String>) {
        let header = String::from_utf8_lossy(data);
        let challenges = crate::registry::parse_challenges(&header);
        let url = crate::registry::preferred_challenge(&challenges)
            .and_then(|c| crate::registry::token_url(c, "library/x"));
        let token = crate::registry::parse_token_response(data, "fuzz");
        (url, token)
    }

    /// Read `data` as one layer (tar, gzip or zstd), as the layer reader does for an image,
    /// following wanted links (with further passes) as [`crate::Image::read_files`] does.
    pub fn read_layer_bytes(
        data: &[u8],
        filter: &dyn FileFilter,
        limits: &Limits,
    ) -> Result<FileSet> {
        let layer = LayerDescriptor {
            digest: Digest::sha256_of(data),
            size: data.len() as u64,
            media_type: String::new(),
            diff_id: None,
        };
        let store = OneLayer(data.to_vec());
        crate::read_blobs(
            &store,
            std::slice::from_ref(&layer),
            filter,
            limits,
            &NoProgress,
        )
    }
}
