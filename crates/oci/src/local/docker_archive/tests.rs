use super::*;
use crate::files::PathPatterns;
use crate::local::test_support::*;
use crate::{Image, ImageSource, Limits};

/// Write a docker archive with the given (member name, bytes) layers and the diff_ids of
/// the given plain tars.
fn write_archive(path: &Path, layers: &[(&str, Vec<u8>)], plain: &[Vec<u8>]) -> Vec<u8> {
    write_archive_with(path, layers, plain, &[])
}

fn write_archive_with(
    path: &Path,
    layers: &[(&str, Vec<u8>)],
    plain: &[Vec<u8>],
    extra: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let diff_ids: Vec<Digest> = plain.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = config_json(&diff_ids, "arm64");
    let names: Vec<String> = layers.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let manifest = format!(
        r#"[{{"Config":"cfg.json","RepoTags":["example:1"],"Layers":[{}]}}]"#,
        names.join(",")
    );
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("cfg.json", &config);
    for (name, data) in layers {
        add(name, data);
    }
    add("manifest.json", manifest.as_bytes());
    for (name, data) in extra {
        add(name, data);
    }
    b.into_inner().unwrap();
    config
}

fn layers() -> Vec<Vec<u8>> {
    vec![
        tar_of(&[("etc/alpine-release", b"3.20.3\n"), ("bin/sh", b"sh")]),
        tar_of(&[("etc/alpine-release", b"3.21.0\n")]),
    ]
}

#[test]
fn opens_a_docker_save_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.tar");
    let plain = layers();
    let config = write_archive(
        &path,
        &[
            ("aaa/layer.tar", plain[0].clone()),
            ("bbb/layer.tar", plain[1].clone()),
        ],
        &plain,
    );
    let source = format!("docker-archive:{}", path.display());
    let image = open(&source).unwrap();
    let info = image.info();
    assert_eq!(info.reference, source);
    assert_eq!(info.source, SourceKind::DockerArchive);
    assert_eq!(info.digest, None);
    assert_eq!(info.config_digest, Some(Digest::sha256_of(&config)));
    assert_eq!(info.platform.as_ref().unwrap().to_string(), "linux/arm64");
    assert_eq!(info.layers[1].digest, Digest::sha256_of(&plain[1]));
    assert_eq!(info.layers[1].diff_id, Some(Digest::sha256_of(&plain[1])));
    assert_eq!(info.layers[1].media_type, DOCKER_LAYER);
    let set = image
        .read_files(&PathPatterns::new(["etc/*"]).unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(set.files["etc/alpine-release"].data().unwrap(), b"3.21.0\n");
    assert_eq!(
        set.files["etc/alpine-release"].layer,
        info.layers[1].diff_id
    );
}

#[test]
fn compressed_layers_and_diff_id_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.tar");
    let plain = layers();
    let gz0 = gzip(&plain[0]);
    let gz1 = gzip(&plain[1]);
    let named = format!("blobs/sha256/{}", Digest::sha256_of(&gz0).hex());
    write_archive(
        &path,
        &[
            (named.as_str(), gz0.clone()),
            ("x/layer.tar.gz", gz1.clone()),
        ],
        &plain,
    );
    let source = ImageSource::parse(&format!("docker-archive:{}", path.display())).unwrap();
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let info = image.info();
    assert_eq!(info.layers[0].digest, Digest::sha256_of(&gz0));
    assert_eq!(info.layers[1].digest, Digest::sha256_of(&gz1));
    assert_eq!(
        info.layers[1].media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let set = image
        .read_files(&PathPatterns::new(["bin/sh"]).unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(set.files["bin/sh"].data().unwrap(), b"sh");

    // Layer bytes that are not the diff the config promises.
    let other = tar_of(&[("etc/alpine-release", b"evil\n")]);
    write_archive(
        &path,
        &[("a/layer.tar", plain[0].clone()), ("b/layer.tar", other)],
        &plain,
    );
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    let err = image
        .read_files(&PathPatterns::new(["etc/*"]).unwrap(), &Limits::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");

    // Layer count and diff_ids disagree.
    write_archive(&path, &[("a/layer.tar", plain[0].clone())], &plain);
    let err = Image::open(&source, &ImageOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidManifest);
    assert!(
        err.to_string()
            .contains("1 layers but the config lists 2 diff_ids"),
        "{err}"
    );
}

#[test]
fn docker_25_archives_report_the_index_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.tar");
    let plain = layers();
    let manifest = br#"{"schemaVersion":2}"#.to_vec();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        descriptor("application/vnd.oci.image.manifest.v1+json", &manifest, "")
    );
    let names: Vec<String> = plain
        .iter()
        .map(|l| format!("blobs/sha256/{}", Digest::sha256_of(l).hex()))
        .collect();
    write_archive_with(
        &path,
        &[(&names[0], plain[0].clone()), (&names[1], plain[1].clone())],
        &plain,
        &[
            ("index.json", index.into_bytes()),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ],
    );
    let source = ImageSource::parse(&format!("docker-archive:{}", path.display())).unwrap();
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    assert_eq!(image.info().digest, Some(Digest::sha256_of(&manifest)));
    let set = image
        .read_files(&PathPatterns::new(["etc/*"]).unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(set.files["etc/alpine-release"].data().unwrap(), b"3.21.0\n");
}
