use super::*;
use crate::files::PathPatterns;
use crate::local::test_support::*;
use crate::{Image, ImageSource};

#[test]
fn opens_a_rootfs_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let plain = tar_of(&[
        ("./etc/alpine-release", b"3.20.3\n"),
        ("./etc/os-release->../usr/lib/os-release", b""),
        ("./usr/lib/os-release", b"ID=alpine\n"),
    ]);
    for (name, bytes, media_type) in [
        (
            "r.tar.gz",
            gzip(&plain),
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ),
        (
            "r.tar.zst",
            zstd::encode_all(plain.as_slice(), 1).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        (
            "r.tar",
            plain.clone(),
            "application/vnd.oci.image.layer.v1.tar",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let source = format!("tar:{}", path.display());
        let image = open(&source).unwrap();
        let info = image.info();
        assert_eq!(info.reference, source);
        assert_eq!(info.digest, None);
        assert_eq!(info.layers.len(), 1);
        assert_eq!(info.layers[0].digest, crate::Digest::sha256_of(&bytes));
        assert_eq!(info.layers[0].size, bytes.len() as u64);
        assert_eq!(info.layers[0].media_type, media_type);
        let set = image
            .read_files(
                &PathPatterns::new(["etc/alpine-release", "usr/lib/os-release"]).unwrap(),
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(set.files["etc/alpine-release"].data().unwrap(), b"3.20.3\n");
        let os = set.resolve("etc/os-release", 40).unwrap().unwrap();
        assert_eq!(os.data().unwrap(), b"ID=alpine\n");
    }
    let missing = ImageSource::parse("tar:/nonexistent/x.tar").unwrap();
    assert_eq!(
        Image::open(&missing, &ImageOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn walks_a_directory_without_following_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/lib/os-release"), "ID=debian\n").unwrap();
    std::fs::write(root.join("etc/big"), vec![b'x'; 100]).unwrap();
    std::fs::write(root.join("usr/bin/tool"), "elf").unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    // A symlink to a directory outside the root must not be followed.
    std::os::unix::fs::symlink("/etc", root.join("hostetc")).unwrap();
    let source = ImageSource::parse(&format!("dir:{}", root.display())).unwrap();
    let image = Image::open(&source, &ImageOptions::default()).unwrap();
    assert_eq!(image.info().source, SourceKind::Dir);
    assert!(image.info().layers.is_empty());
    let filter = PathPatterns::new(["usr/lib/os-release", "etc/*", "hostetc/*"])
        .unwrap()
        .with_executables(true);
    let limits = Limits {
        max_file_size: 50,
        ..Limits::default()
    };
    let set = image.read_files(&filter, &limits).unwrap();
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["etc/big", "usr/bin/tool", "usr/lib/os-release"]
    );
    assert_eq!(set.files["usr/bin/tool"].mode, 0o755);
    assert_eq!(set.files["usr/bin/tool"].layer, None);
    assert!(matches!(
        set.files["etc/big"].content,
        FileContent::Skipped { size: 100, .. }
    ));
    assert_eq!(set.symlinks["hostetc"], "/etc");
    let os = set.resolve("etc/os-release", 40).unwrap().unwrap();
    assert_eq!(os.data().unwrap(), b"ID=debian\n");
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    let file = ImageSource::parse(&format!("dir:{}", root.join("etc/big").display())).unwrap();
    assert_eq!(
        Image::open(&file, &ImageOptions::default())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidOptions
    );
}
