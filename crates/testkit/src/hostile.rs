//! Hostile images, as extra tags in the test layout (see [`HostileImage`]), and helpers to
//! damage a real registry's storage.

use crate::layout::{OciLayout, TarBuilder};
use crate::registry::Registry;

/// Hostile variants of `alpine-3.20`, each a tag in [`crate::TestImages::layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileImage {
    /// Its only layer blob is the first half of the real gzip stream (digest and size in
    /// the manifest recomputed, so only decompression fails).
    TruncatedGzip,
    /// An extra layer with an entry named `../etc/passwd`.
    DotDotPath,
    /// An extra layer with an entry named `/etc/shadow`.
    AbsolutePath,
    /// An extra layer making `etc/os-release -> a`, `etc/a -> b`, `etc/b -> a`.
    SymlinkLoop,
}

impl HostileImage {
    /// Every hostile image.
    pub const ALL: [Self; 4] = [
        Self::TruncatedGzip,
        Self::DotDotPath,
        Self::AbsolutePath,
        Self::SymlinkLoop,
    ];

    /// The tag in the layout.
    pub fn tag(self) -> &'static str {
        match self {
            Self::TruncatedGzip => "hostile-truncated-gzip",
            Self::DotDotPath => "hostile-dotdot-path",
            Self::AbsolutePath => "hostile-absolute-path",
            Self::SymlinkLoop => "hostile-symlink-loop",
        }
    }
}

/// Content of the `../etc/passwd` and `/etc/shadow` entries.
pub const ESCAPE_CONTENT: &[u8] = b"root::0:0:escaped:/root:/bin/sh\n";

/// Add every hostile tag to `layout`, derived from `base` (a tag).
pub(crate) fn build(layout: &OciLayout, base: &str) {
    for image in HostileImage::ALL {
        let tag = image.tag();
        layout.retag(base, tag);
        match image {
            HostileImage::TruncatedGzip => {
                let manifest = layout.manifest(tag);
                let digest = manifest["layers"][0]["digest"].as_str().unwrap();
                let blob = layout.read_blob(digest);
                layout.replace_layer_blob(tag, 0, &blob[..blob.len() / 2]);
            }
            HostileImage::DotDotPath => {
                let tar = TarBuilder::new()
                    .file("../etc/passwd", ESCAPE_CONTENT)
                    .finish();
                layout.append_layer(tag, &tar);
            }
            HostileImage::AbsolutePath => {
                let tar = TarBuilder::new()
                    .file("/etc/shadow", ESCAPE_CONTENT)
                    .finish();
                layout.append_layer(tag, &tar);
            }
            HostileImage::SymlinkLoop => {
                let tar = TarBuilder::new()
                    .dir("etc/")
                    .symlink("etc/os-release", "a")
                    .symlink("etc/a", "b")
                    .symlink("etc/b", "a")
                    .finish();
                layout.append_layer(tag, &tar);
            }
        }
    }
}

/// Overwrite the bytes of blob `digest` in `registry`'s storage with different bytes of
/// the same length (every byte inverted), so the registry serves content that does not
/// match its digest.
pub fn corrupt_registry_blob(registry: &Registry, digest: &str) {
    let path = registry.blob_data_path(digest);
    let mut bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read registry blob {}: {e}", path.display()));
    for b in &mut bytes {
        *b = !*b;
    }
    std::fs::write(&path, bytes).unwrap();
}
