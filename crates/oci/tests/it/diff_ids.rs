//! `rootfs.diff_ids` of the image config are checked against the layers' content: an image
//! built by `umoci` from the Alpine mini root filesystem reads, the same image with a config
//! that lies about its diff_id is refused.

use std::path::{Path, PathBuf};

use portcullis_oci::{Digest, ErrorKind, Image, ImageOptions, ImageSource, Limits, PathPatterns};
use serde_json::Value;

use crate::common::umoci_layout;

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Write `bytes` as a blob of `layout`; its descriptor fields (digest, size).
fn put_blob(layout: &Path, bytes: &[u8]) -> (String, u64) {
    let digest = Digest::sha256_of(bytes).to_string();
    std::fs::write(blob_path(layout, &digest), bytes).unwrap();
    (digest, bytes.len() as u64)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Rewrite the config of the only image of `layout` with `diff_ids[0] = lie` (and the
/// manifest and index that point at it). Returns the layer digest.
fn lie_about_the_diff_id(layout: &Path, lie: &str) -> String {
    let mut index = read_json(&layout.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut manifest = read_json(&blob_path(layout, &manifest_digest));
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let mut config = read_json(&blob_path(layout, &config_digest));
    assert_ne!(config["rootfs"]["diff_ids"][0], lie);
    config["rootfs"]["diff_ids"][0] = Value::from(lie);
    let (digest, size) = put_blob(layout, &serde_json::to_vec(&config).unwrap());
    manifest["config"]["digest"] = Value::from(digest);
    manifest["config"]["size"] = Value::from(size);
    let (digest, size) = put_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    index["manifests"][0]["digest"] = Value::from(digest);
    index["manifests"][0]["size"] = Value::from(size);
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_config_lying_about_a_diff_id_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    umoci_layout(
        dir,
        &portcullis_testkit::testdata_dir()
            .join("images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"),
    );
    let patterns = PathPatterns::new(["etc/alpine-release"]).unwrap();
    let source = ImageSource::parse(&format!("oci-dir:{}:t", dir.join("L").display())).unwrap();

    // As built: the diff_id matches and the image reads.
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let diff_id = image.info().layers[0].diff_id.clone().unwrap();
    let set = image.read_files(&patterns, &Limits::default()).unwrap();
    assert_eq!(set.files["etc/alpine-release"].data().unwrap(), b"3.20.3\n");
    assert_eq!(
        set.files["etc/alpine-release"].layer.as_ref(),
        Some(&diff_id)
    );

    // The same layer under a config that names another diff_id.
    let lie = Digest::sha256_of(b"not this layer").to_string();
    let layer = lie_about_the_diff_id(&dir.join("L"), &lie);
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    assert_eq!(
        image.info().layers[0].diff_id.as_ref().unwrap().to_string(),
        lie
    );
    let err = image.read_files(&patterns, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert_eq!(
        err.to_string(),
        format!(
            "layer {layer} (index 0): its uncompressed content against rootfs.diff_ids[0] of the image config: \
             digest mismatch: expected {lie}, got {diff_id}"
        )
    );
}
