//! Editing OCI image layouts by hand (configs, manifests, indexes, layers) with correct
//! digests, and building layer tarballs, hostile ones included.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::sha256_hex;

/// OCI media type of an image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI media type of an image index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// OCI media type of a gzip layer.
pub const LAYER_GZIP_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
#[derive(Debug, Clone)]
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Wrap an existing layout directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `oci:DIR:TAG`, the skopeo name of image `tag`.
    pub fn skopeo_ref(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    /// `oci-dir:DIR:TAG`, the Portcullis source string of image `tag`.
    pub fn source(&self, tag: &str) -> String {
        format!("oci-dir:{}:{tag}", self.dir.display())
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap()).unwrap()
    }

    fn write_index(&self, index: &Value) {
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(index).unwrap(),
        )
        .unwrap();
    }

    /// Path of blob `digest` (`sha256:HEX`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("blobs/sha256").join(hex)
    }

    /// The bytes of blob `digest`.
    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.blob_path(digest)).unwrap()
    }

    /// Store `bytes` as a blob; returns (`sha256:HEX`, size).
    pub fn write_blob(&self, bytes: &[u8]) -> (String, u64) {
        let digest = format!("sha256:{}", sha256_hex(bytes));
        std::fs::write(self.blob_path(&digest), bytes).unwrap();
        (digest, bytes.len() as u64)
    }

    /// Store `doc` (compact JSON) as a blob; returns (`sha256:HEX`, size).
    pub fn write_json_blob(&self, doc: &Value) -> (String, u64) {
        self.write_blob(&serde_json::to_vec(doc).unwrap())
    }

    /// The `index.json` descriptor named `tag`.
    pub fn descriptor(&self, tag: &str) -> Value {
        self.index()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"][REF_NAME] == tag)
            .cloned()
            .unwrap_or_else(|| panic!("no image tagged '{tag}' in {}", self.dir.display()))
    }

    /// The digest `index.json` gives for `tag` (manifest or index digest).
    pub fn digest(&self, tag: &str) -> String {
        self.descriptor(tag)["digest"].as_str().unwrap().to_string()
    }

    /// The image manifest tagged `tag`.
    pub fn manifest(&self, tag: &str) -> Value {
        serde_json::from_slice(&self.read_blob(&self.digest(tag))).unwrap()
    }

    /// The image config of `tag`.
    pub fn config(&self, tag: &str) -> Value {
        let manifest = self.manifest(tag);
        let digest = manifest["config"]["digest"].as_str().unwrap();
        serde_json::from_slice(&self.read_blob(digest)).unwrap()
    }

    /// Point `tag` at `descriptor` (adding or replacing the index entry).
    pub fn set_descriptor(&self, tag: &str, mut descriptor: Value) {
        descriptor["annotations"][REF_NAME] = json!(tag);
        let mut index = self.index();
        let manifests = index["manifests"].as_array_mut().unwrap();
        manifests.retain(|d| d["annotations"][REF_NAME] != tag);
        manifests.push(descriptor);
        self.write_index(&index);
    }

    /// Store `manifest` and point `tag` at it; returns its digest.
    pub fn set_manifest(&self, tag: &str, manifest: &Value) -> String {
        let (digest, size) = self.write_json_blob(manifest);
        let media_type = manifest["mediaType"]
            .as_str()
            .unwrap_or(MANIFEST_MEDIA_TYPE)
            .to_string();
        self.set_descriptor(
            tag,
            json!({"mediaType": media_type, "digest": digest, "size": size}),
        );
        digest
    }

    /// Copy image `from` as `to` (same manifest).
    pub fn retag(&self, from: &str, to: &str) {
        self.set_descriptor(to, self.descriptor(from));
    }

    /// Rewrite the config of `tag` with `edit`, then its manifest; digests are recomputed.
    pub fn edit_config(&self, tag: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut config = self.config(tag);
        edit(&mut config);
        let (digest, size) = self.write_json_blob(&config);
        let mut manifest = self.manifest(tag);
        manifest["config"]["digest"] = json!(digest);
        manifest["config"]["size"] = json!(size);
        self.set_manifest(tag, &manifest)
    }

    /// Append a gzip layer (`gz` = compressed bytes of `tar`) to image `tag`.
    pub fn append_layer(&self, tag: &str, tar: &[u8]) -> String {
        let gz = gzip(tar);
        let diff_id = format!("sha256:{}", sha256_hex(tar));
        let (digest, size) = self.write_blob(&gz);
        self.edit_manifest_and_config(tag, |manifest, config| {
            manifest["layers"]
                .as_array_mut()
                .unwrap()
                .push(json!({"mediaType": LAYER_GZIP_MEDIA_TYPE, "digest": digest, "size": size}));
            config["rootfs"]["diff_ids"]
                .as_array_mut()
                .unwrap()
                .push(json!(diff_id));
            if let Some(history) = config["history"].as_array_mut() {
                history.push(json!({"created_by": "portcullis-testkit"}));
            }
        });
        digest
    }

    /// Replace the stored bytes of layer `index` of `tag` with `stored` (as is, e.g. a
    /// truncated gzip); the manifest gets the new digest and size, the config is unchanged.
    pub fn replace_layer_blob(&self, tag: &str, index: usize, stored: &[u8]) -> String {
        let (digest, size) = self.write_blob(stored);
        let mut manifest = self.manifest(tag);
        manifest["layers"][index]["digest"] = json!(digest);
        manifest["layers"][index]["size"] = json!(size);
        self.set_manifest(tag, &manifest);
        digest
    }

    /// Edit manifest and config of `tag` together; digests are recomputed.
    pub fn edit_manifest_and_config(&self, tag: &str, edit: impl FnOnce(&mut Value, &mut Value)) {
        let mut manifest = self.manifest(tag);
        let mut config = self.config(tag);
        edit(&mut manifest, &mut config);
        let (digest, size) = self.write_json_blob(&config);
        manifest["config"]["digest"] = json!(digest);
        manifest["config"]["size"] = json!(size);
        self.set_manifest(tag, &manifest);
    }
}

/// gzip `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Builds an uncompressed tar with raw entry names (`../x` and `/x` are written as given,
/// which the `tar` crate's safe path setters refuse).
#[derive(Debug, Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    /// An empty tar.
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(
        mut self,
        name: &str,
        kind: tar::EntryType,
        mode: u32,
        link: &str,
        data: &[u8],
    ) -> Self {
        assert!(
            name.len() <= 100 && link.len() <= 100,
            "name too long: {name}"
        );
        let mut header = tar::Header::new_ustar();
        header.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        header.as_mut_bytes()[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        header.set_cksum();
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(data);
        let padding = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, padding));
        self
    }

    /// A regular file.
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, 0o644, "", data)
    }

    /// A directory.
    pub fn dir(self, name: &str) -> Self {
        self.entry(name, tar::EntryType::Directory, 0o755, "", b"")
    }

    /// A symlink `name -> target`.
    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, 0o777, target, b"")
    }

    /// A hard link `name` to `target`.
    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, 0o644, target, b"")
    }

    /// The finished tar (with its two zero end blocks).
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }
}
