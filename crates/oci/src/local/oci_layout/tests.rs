use super::*;
use crate::files::PathPatterns;
use crate::local::test_support::*;
use crate::{Image, ImageSource, Limits};

fn two_layers() -> Vec<Vec<u8>> {
    vec![
        tar_of(&[
            ("etc/alpine-release", b"3.20.3\n"),
            ("lib/apk/db/installed", b"P:musl\nV:1\n\n"),
            ("etc/os-release->../usr/lib/os-release", b""),
            ("usr/lib/os-release", b"ID=alpine\n"),
        ]),
        tar_of(&[("etc/.wh.alpine-release", b""), ("etc/motd", b"hi")]),
    ]
}

fn patterns() -> PathPatterns {
    PathPatterns::new(["lib/apk/db/installed", "etc/*", "usr/lib/os-release"]).unwrap()
}

#[test]
fn opens_a_layout_directory_and_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = put_image(dir.path(), &two_layers(), "amd64");
    put_index(dir.path(), &[tagged(&manifest, "v1")]);
    for source in [
        format!("oci-dir:{}", dir.path().display()),
        format!("oci-dir:{}:v1", dir.path().display()),
    ] {
        let image = open(&source).unwrap();
        let info = image.info();
        assert_eq!(info.reference, source);
        assert_eq!(info.source, SourceKind::OciDir);
        assert_eq!(info.digest, Some(Digest::sha256_of(&manifest)));
        assert_eq!(info.manifest_digest, None);
        assert_eq!(info.layers.len(), 2);
        assert_eq!(
            info.layers[0].diff_id,
            Some(Digest::sha256_of(&two_layers()[0]))
        );
        assert_eq!(info.platform.as_ref().unwrap().to_string(), "linux/amd64");
        assert_eq!(info.config.user.as_deref(), Some("app"));
        let set = image.read_files(&patterns(), &Limits::default()).unwrap();
        assert_eq!(
            set.files.keys().collect::<Vec<_>>(),
            ["etc/motd", "lib/apk/db/installed", "usr/lib/os-release"]
        );
        assert_eq!(
            set.files["lib/apk/db/installed"].layer,
            info.layers[0].diff_id
        );
        let os = set.resolve("etc/os-release", 40).unwrap().unwrap();
        assert_eq!(os.data().unwrap(), b"ID=alpine\n");
    }
}

#[test]
fn picks_by_tag_and_lists_names() {
    let dir = tempfile::tempdir().unwrap();
    let m1 = put_image(dir.path(), &two_layers(), "amd64");
    let m2 = put_image(dir.path(), &[tar_of(&[("x", b"x")])], "amd64");
    put_index(dir.path(), &[tagged(&m1, "one"), tagged(&m2, "two")]);
    let base = format!("oci-dir:{}", dir.path().display());
    let err = open(&base).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the layout holds 2 images; name one with ':<tag>'; available: one, two"),
        "{err}"
    );
    let err = open(&format!("{base}:three")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .ends_with("no image named 'three'; available: one, two")
    );
    let image = open(&format!("{base}:two")).unwrap();
    assert_eq!(image.info().digest, Some(Digest::sha256_of(&m2)));
}

#[test]
fn selects_the_platform_from_a_nested_index() {
    let dir = tempfile::tempdir().unwrap();
    let amd = put_image(dir.path(), &[tar_of(&[("arch", b"amd64")])], "amd64");
    let arm = put_image(dir.path(), &[tar_of(&[("arch", b"arm64")])], "arm64");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{},{}]}}"#,
        descriptor(
            "application/vnd.oci.image.manifest.v1+json",
            &amd,
            r#","platform":{"os":"linux","architecture":"amd64"}"#
        ),
        descriptor(
            "application/vnd.oci.image.manifest.v1+json",
            &arm,
            r#","platform":{"os":"linux","architecture":"arm64","variant":"v8"}"#
        ),
    )
    .into_bytes();
    put_blob(dir.path(), &index);
    put_index(
        dir.path(),
        &[descriptor(
            "application/vnd.oci.image.index.v1+json",
            &index,
            "",
        )],
    );
    let options = ImageOptions {
        platform: Some("linux/arm64".parse().unwrap()),
        ..ImageOptions::default()
    };
    let source = ImageSource::parse(&format!("oci-dir:{}", dir.path().display())).unwrap();
    let image = Image::open(&source, &options).unwrap();
    assert_eq!(image.info().digest, Some(Digest::sha256_of(&index)));
    assert_eq!(image.info().manifest_digest, Some(Digest::sha256_of(&arm)));
    let set = image
        .read_files(&PathPatterns::new(["arch"]).unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(set.files["arch"].data().unwrap(), b"arm64");
    let options = ImageOptions {
        platform: Some("linux/s390x".parse().unwrap()),
        ..ImageOptions::default()
    };
    assert_eq!(
        Image::open(&source, &options).unwrap_err().kind(),
        ErrorKind::PlatformNotFound
    );
}

#[test]
fn detects_tampering_and_bad_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = put_image(dir.path(), &two_layers(), "amd64");
    put_index(dir.path(), &[tagged(&manifest, "v1")]);
    let source = format!("oci-dir:{}", dir.path().display());
    // A layer blob changed in place: found when the layers are read.
    let image = open(&source).unwrap();
    let layer = dir.path().join(blob_path(&image.info().layers[1].digest));
    let mut bytes = std::fs::read(&layer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();
    let err = image
        .read_files(&patterns(), &Limits::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
    // The manifest changed in place: found when opening.
    let manifest_path = dir.path().join(blob_path(&Digest::sha256_of(&manifest)));
    std::fs::write(&manifest_path, b"{}").unwrap();
    assert_eq!(open(&source).unwrap_err().kind(), ErrorKind::DigestMismatch);
    // Layout marker problems.
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"2.0"}"#,
    )
    .unwrap();
    let err = open(&source).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidManifest);
    assert!(
        err.to_string()
            .contains("unsupported imageLayoutVersion 2.0"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("oci-layout")).unwrap();
    assert_eq!(open(&source).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn caps_documents() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = put_image(dir.path(), &two_layers(), "amd64");
    put_index(dir.path(), &[tagged(&manifest, "v1")]);
    let mut options = ImageOptions::default();
    options.limits.max_config_size = 10;
    let source = ImageSource::parse(&format!("oci-dir:{}", dir.path().display())).unwrap();
    assert_eq!(
        Image::open(&source, &options).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn opens_an_oci_archive_without_extracting() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    let manifest = put_image(&layout, &two_layers(), "amd64");
    put_index(&layout, &[tagged(&manifest, "v1")]);
    let archive = dir.path().join("image.tar");
    tar_dir(&layout, &archive);
    let source = format!("oci-archive:{}:v1", archive.display());
    let image = open(&source).unwrap();
    assert_eq!(image.info().source, SourceKind::OciArchive);
    assert_eq!(image.info().reference, source);
    assert_eq!(image.info().digest, Some(Digest::sha256_of(&manifest)));
    let set = image.read_files(&patterns(), &Limits::default()).unwrap();
    assert_eq!(
        set.files["lib/apk/db/installed"].data().unwrap(),
        b"P:musl\nV:1\n\n"
    );
    assert_eq!(set.files.len(), 3);
}
