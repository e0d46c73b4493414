//! Every source kind gives the same image facts and the same files, exactly.

use portcullis_oci::{ErrorKind, ImageInfo, LayerDescriptor, SourceKind};
use portcullis_testkit::images::ImageName;
use portcullis_testkit::{alpine_minirootfs, images, sha256_hex};

use crate::common::{
    Shared, amd64, assert_alpine_files, chain, local_options, open, open_err, options_for,
    read_alpine, registry,
};

/// The layers, config digest and diff_ids `info` must have for `image` of the test layout.
pub fn assert_info_matches_layout(info: &ImageInfo, image: ImageName) {
    let layout = images().layout();
    let manifest = layout.manifest(image.tag());
    let config = layout.config(image.tag());
    assert_eq!(
        info.config_digest.as_ref().map(|d| d.to_string()),
        manifest["config"]["digest"].as_str().map(str::to_string)
    );
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let expected: Vec<LayerDescriptor> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&diff_ids)
        .map(|(layer, diff_id)| LayerDescriptor {
            digest: layer["digest"].as_str().unwrap().parse().unwrap(),
            size: layer["size"].as_u64().unwrap(),
            media_type: layer["mediaType"].as_str().unwrap().to_string(),
            diff_id: Some(diff_id.parse().unwrap()),
        })
        .collect();
    assert_eq!(info.layers, expected);
    assert_eq!(
        info.config
            .diff_ids
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        diff_ids
    );
    assert_eq!(info.platform, Some(amd64()));
    assert_eq!(info.config.os.as_deref(), Some("linux"));
    assert_eq!(info.config.architecture.as_deref(), Some("amd64"));
}

fn check_registry(kind: Shared) {
    let registry = registry(kind);
    let reference = registry.reference("alpine:3.20");
    let image = open(&reference, &options_for(registry));
    let info = image.info();
    assert_eq!(info.source, SourceKind::Registry);
    assert_eq!(info.reference, reference);
    // What the registry itself serves, as skopeo sees it, and what the layout holds.
    let served = registry.manifest_digest("alpine:3.20");
    assert_eq!(served, images().digest(ImageName::Alpine320));
    assert_eq!(info.digest.as_ref().map(|d| d.to_string()), Some(served));
    assert_eq!(info.manifest_digest, None);
    assert_info_matches_layout(info, ImageName::Alpine320);
    assert_eq!(
        info.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let files = read_alpine(&image);
    assert_alpine_files(&files, "3.20.3");
    let layer = info.layers[0].diff_id.clone();
    assert_eq!(files.files["lib/apk/db/installed"].layer, layer);
}

#[test]
fn registry_plain_http() {
    check_registry(Shared::Plain);
}

#[test]
fn registry_tls_with_ca() {
    check_registry(Shared::Tls);
}

#[test]
fn registry_basic_auth() {
    check_registry(Shared::Basic);
}

#[test]
fn registry_bearer_token() {
    check_registry(Shared::Bearer);
    assert!(registry(Shared::Bearer).tokens_issued() > 0);
}

#[test]
fn registry_alpine_3_9() {
    let registry = registry(Shared::Plain);
    let image = open(&registry.reference("alpine:3.9"), &options_for(registry));
    assert_info_matches_layout(image.info(), ImageName::Alpine39);
    assert_alpine_files(&read_alpine(&image), "3.9.6");
}

#[test]
fn tls_registry_without_its_ca_is_a_tls_error() {
    let registry = registry(Shared::Tls);
    let mut options = options_for(registry);
    options.registry.ca_certs.clear();
    let reference = registry.reference("alpine:3.20");
    let err = open_err(&reference, &options);
    assert_eq!(err.kind(), ErrorKind::Tls, "{}", chain(&err));
    assert!(err.to_string().contains(&registry.host_port()), "{err}");
}

#[test]
fn oci_dir() {
    let images = images();
    let source = images.oci_dir_source(ImageName::Alpine320);
    check_layout_copy(&source, SourceKind::OciDir);
}

/// `source`, a copy of the layout's Alpine 3.20 image, keeps the layout's digest, layers
/// and files.
fn check_layout_copy(source: &str, kind: SourceKind) {
    let image = open(source, &local_options());
    let info = image.info();
    assert_eq!(info.source, kind);
    assert_eq!(
        info.digest.as_ref().map(|d| d.to_string()),
        Some(images().digest(ImageName::Alpine320))
    );
    assert_info_matches_layout(info, ImageName::Alpine320);
    assert_alpine_files(&read_alpine(&image), "3.20.3");
}

#[test]
fn oci_dir_alpine_3_9() {
    let image = open(
        &images().oci_dir_source(ImageName::Alpine39),
        &local_options(),
    );
    assert_info_matches_layout(image.info(), ImageName::Alpine39);
    assert_alpine_files(&read_alpine(&image), "3.9.6");
}

#[test]
fn oci_archive() {
    let images = images();
    let archive = images.oci_archive(ImageName::Alpine320);
    let source = format!("oci-archive:{}:alpine-3.20", archive.display());
    // skopeo copies OCI to OCI without rewriting the manifest.
    check_layout_copy(&source, SourceKind::OciArchive);
}

#[test]
fn docker_archive() {
    let images = images();
    let archive = images.docker_archive(ImageName::Alpine320);
    let image = open(
        &format!("docker-archive:{}", archive.display()),
        &local_options(),
    );
    let info = image.info();
    assert_eq!(info.source, SourceKind::DockerArchive);
    // The layer is stored uncompressed: its blob digest is its diff_id.
    let diff_ids = &images.layout().config("alpine-3.20")["rootfs"]["diff_ids"];
    let diff_id = diff_ids[0].as_str().unwrap();
    assert_eq!(info.layers.len(), 1);
    assert_eq!(info.layers[0].digest.to_string(), diff_id);
    assert_eq!(
        info.config
            .diff_ids
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        vec![diff_id.to_string()]
    );
    assert_eq!(info.platform, Some(amd64()));
    assert_alpine_files(&read_alpine(&image), "3.20.3");
}

#[test]
fn rootfs_tarball() {
    let tarball = alpine_minirootfs("3.20.3");
    let image = open(&format!("tar:{}", tarball.display()), &local_options());
    let info = image.info();
    assert_eq!(info.source, SourceKind::Tar);
    assert_eq!(info.digest, None);
    assert_eq!(info.layers.len(), 1);
    let bytes = std::fs::read(&tarball).unwrap();
    assert_eq!(info.layers[0].size, bytes.len() as u64);
    assert_eq!(
        info.layers[0].digest.to_string(),
        format!("sha256:{}", sha256_hex(&bytes))
    );
    assert_alpine_files(&read_alpine(&image), "3.20.3");
}

#[test]
fn rootfs_directory() {
    let dir = images().rootfs_dir("3.9.6");
    let image = open(&format!("dir:{}", dir.display()), &local_options());
    let info = image.info();
    assert_eq!(info.source, SourceKind::Dir);
    assert_eq!(info.digest, None);
    let files = read_alpine(&image);
    assert_alpine_files(&files, "3.9.6");
    assert_eq!(files.files["lib/apk/db/installed"].layer, None);
}

#[test]
fn missing_local_sources_are_not_found() {
    for source in [
        "oci-dir:/nonexistent/portcullis/layout:x",
        "oci-archive:/nonexistent/portcullis/a.tar",
        "docker-archive:/nonexistent/portcullis/a.tar",
        "tar:/nonexistent/portcullis/rootfs.tar.gz",
        "dir:/nonexistent/portcullis/rootfs",
    ] {
        let err = open_err(source, &local_options());
        assert_eq!(err.kind(), ErrorKind::NotFound, "{source}: {}", chain(&err));
        assert!(
            err.to_string().contains("/nonexistent/portcullis/"),
            "{err}"
        );
    }
}

#[test]
fn oci_dir_unknown_tag_is_not_found() {
    let layout = images().layout();
    let source = format!("oci-dir:{}:no-such-tag", layout.path().display());
    let err = open_err(&source, &local_options());
    assert_eq!(err.kind(), ErrorKind::NotFound, "{}", chain(&err));
    assert!(err.to_string().contains("no-such-tag"), "{err}");
}
