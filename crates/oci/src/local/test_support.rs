//! Builders for small layouts and archives in tests.

use std::io::Write;
use std::path::Path;

use crate::digest::Digest;
use crate::{Image, ImageOptions, ImageSource, Result};

/// The image `source` names (`tar:…`, `oci-dir:…`), opened with the default options.
pub(crate) fn open(source: &str) -> Result<Image> {
    Image::open(&ImageSource::parse(source)?, &ImageOptions::default())
}

/// A plain tar of regular files (mode 0644) and symlinks (`->` in the name: `a->b`).
pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        if let Some((link, target)) = name.split_once("->") {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, link, target).unwrap();
        } else {
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
    }
    b.into_inner().unwrap()
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub(crate) fn config_json(diff_ids: &[Digest], arch: &str) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"Env":["PATH=/bin"],"User":"app"}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        ids.join(",")
    )
    .into_bytes()
}

/// A JSON descriptor.
pub(crate) fn descriptor(media_type: &str, bytes: &[u8], extra: &str) -> String {
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{}","size":{}{extra}}}"#,
        Digest::sha256_of(bytes),
        bytes.len()
    )
}

/// Write `bytes` as a blob of the layout at `root`.
pub(crate) fn put_blob(root: &Path, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(digest.hex()), bytes).unwrap();
    digest
}

/// A single-platform image (layers given as plain tars, stored gzipped) in the layout at
/// `root`; returns the manifest bytes.
pub(crate) fn put_image(root: &Path, layers: &[Vec<u8>], arch: &str) -> Vec<u8> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = config_json(&diff_ids, arch);
    put_blob(root, &config);
    let mut layer_descs = Vec::new();
    for layer in layers {
        let gz = gzip(layer);
        put_blob(root, &gz);
        layer_descs.push(descriptor(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &gz,
            "",
        ));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}}"#,
        descriptor("application/vnd.oci.image.config.v1+json", &config, ""),
        layer_descs.join(",")
    )
    .into_bytes();
    put_blob(root, &manifest);
    manifest
}

/// Write `oci-layout` and an `index.json` with the given entries.
pub(crate) fn put_index(root: &Path, entries: &[String]) {
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            entries.join(",")
        ),
    )
    .unwrap();
}

/// An index.json entry for a manifest, named `tag`.
pub(crate) fn tagged(manifest: &[u8], tag: &str) -> String {
    descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        manifest,
        &format!(r#","annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}"#),
    )
}

/// Tar up the directory `dir` into `out`, with `./`-less member names.
pub(crate) fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}
