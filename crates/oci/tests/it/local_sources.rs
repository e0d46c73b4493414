//! Local sources against images made by real tools (umoci, skopeo) from the Alpine mini
//! root filesystem in the shared test data.

use std::path::PathBuf;

use portcullis_oci::{
    Digest, ErrorKind, Image, ImageOptions, ImageSource, Limits, PathPatterns, SourceKind,
};

use crate::common::{run, umoci_layout};

use portcullis_testkit::testdata_dir as testdata;

fn alpine_rootfs() -> PathBuf {
    testdata().join("images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz")
}

fn patterns() -> PathPatterns {
    PathPatterns::new(["lib/apk/db/installed", "etc/alpine-release"]).unwrap()
}

/// Open `source`, read the apk database and the release file, and check them.
fn check_alpine(source: &str) -> Image {
    let source = ImageSource::parse(source).unwrap();
    let image = Image::open(&source, &ImageOptions::default())
        .unwrap_or_else(|e| panic!("opening {source}: {e}"));
    let set = image
        .read_files(&patterns(), &Limits::default())
        .unwrap_or_else(|e| panic!("reading {source}: {e}"));
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["etc/alpine-release", "lib/apk/db/installed"],
        "{source}"
    );
    assert_eq!(
        set.files["etc/alpine-release"].data().unwrap(),
        b"3.20.3\n",
        "{source}"
    );
    let db = std::str::from_utf8(set.files["lib/apk/db/installed"].data().unwrap()).unwrap();
    assert_eq!(db.lines().filter(|l| l.starts_with("P:")).count(), 14);
    assert!(db.contains("P:musl\n"));
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    image
}

#[test]
fn rootfs_tarballs_from_testdata() {
    for name in [
        "alpine-minirootfs-3.20.3-x86_64.tar.gz",
        "alpine-minirootfs-3.9.6-x86_64.tar.gz",
    ] {
        let path = testdata().join("images/alpine").join(name);
        let source = ImageSource::parse(&format!("tar:{}", path.display())).unwrap();
        let image = Image::open(&source, &ImageOptions::default()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(image.info().layers[0].digest, Digest::sha256_of(&bytes));
        let set = image.read_files(&patterns(), &Limits::default()).unwrap();
        let db = std::str::from_utf8(set.files["lib/apk/db/installed"].data().unwrap()).unwrap();
        assert_eq!(
            db.lines().filter(|l| l.starts_with("P:")).count(),
            14,
            "{name}"
        );
        let release = set.files["etc/alpine-release"].data().unwrap();
        let expected: &[u8] = if name.contains("3.9.6") {
            b"3.9.6\n"
        } else {
            b"3.20.3\n"
        };
        assert_eq!(release, expected);
        // Busybox applets are symlinks; they are all recorded.
        assert_eq!(set.symlinks["bin/sh"], "/bin/busybox");
    }
}

#[test]
fn layouts_and_archives_made_by_umoci_and_skopeo() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    umoci_layout(dir, &alpine_rootfs());
    run(
        "skopeo",
        &["copy", "oci:L:t", "docker-archive:docker.tar:alpine:t"],
        dir,
    );
    run("skopeo", &["copy", "oci:L:t", "oci-archive:oci.tar:t"], dir);

    let layout = check_alpine(&format!("oci-dir:{}:t", dir.join("L").display()));
    let info = layout.info();
    assert_eq!(info.source, SourceKind::OciDir);
    assert!(info.digest.is_some());
    assert_eq!(info.layers.len(), 1);
    assert!(info.layers[0].diff_id.is_some());

    let archive = check_alpine(&format!("oci-archive:{}", dir.join("oci.tar").display()));
    assert_eq!(archive.info().source, SourceKind::OciArchive);
    assert_eq!(archive.info().config_digest, info.config_digest);

    let docker = check_alpine(&format!(
        "docker-archive:{}",
        dir.join("docker.tar").display()
    ));
    let dinfo = docker.info();
    assert_eq!(dinfo.source, SourceKind::DockerArchive);
    assert_eq!(dinfo.digest, None);
    assert_eq!(dinfo.layers[0].diff_id, info.layers[0].diff_id);

    // The unpacked root filesystem as a `dir:` source.
    check_alpine(&format!("dir:{}", dir.join("B/rootfs").display()));

    // A tag that is not there.
    let err = Image::open(
        &ImageSource::parse(&format!("oci-dir:{}:nope", dir.join("L").display())).unwrap(),
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().ends_with("available: t"), "{err}");
}
