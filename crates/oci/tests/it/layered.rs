//! Whiteouts and opaque directories, from a layout and from a registry.

use portcullis_oci::{Digest, Image, Limits, PathPatterns};
use portcullis_testkit::images;
use portcullis_testkit::images::{
    ImageName, LAYERED_APK_WORLD, LAYERED_PROFILE_SCRIPT, minirootfs_file,
};

use crate::common::{Shared, chain, local_options, open, options_for, registry};
use crate::sources::assert_info_matches_layout;

fn check_layered(image: &Image) {
    assert_info_matches_layout(image.info(), ImageName::Layered);
    let diff_ids: Vec<Option<Digest>> = image
        .info()
        .layers
        .iter()
        .map(|l| l.diff_id.clone())
        .collect();
    assert_eq!(diff_ids.len(), 3);
    let patterns = PathPatterns::new([
        "etc/motd",
        "etc/profile.d/**",
        "etc/apk/**",
        "etc/alpine-release",
        "lib/apk/db/installed",
        "**/.wh.*",
    ])
    .unwrap();
    let files = image
        .read_files(&patterns, &Limits::default())
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let paths: Vec<&str> = files.files.keys().map(String::as_str).collect();
    // Gone: etc/motd (file whiteout), etc/profile.d/{README,20locale.sh,...} (directory
    // whiteout), etc/apk/{arch,repositories,keys/*} (opaque directory). No `.wh.` entry
    // is ever reported as a file.
    assert_eq!(
        paths,
        vec![
            "etc/alpine-release",
            "etc/apk/world",
            "etc/profile.d/portcullis.sh",
            "lib/apk/db/installed",
        ]
    );
    let file = |p: &str| &files.files[p];
    assert_eq!(file("etc/alpine-release").data(), Some(&b"3.20.99\n"[..]));
    assert_eq!(file("etc/alpine-release").layer, diff_ids[1]);
    assert_eq!(file("etc/apk/world").data(), Some(LAYERED_APK_WORLD));
    assert_eq!(file("etc/apk/world").layer, diff_ids[2]);
    assert_eq!(
        file("etc/profile.d/portcullis.sh").data(),
        Some(LAYERED_PROFILE_SCRIPT)
    );
    assert_eq!(file("etc/profile.d/portcullis.sh").layer, diff_ids[2]);
    let installed = minirootfs_file("3.20.3", "lib/apk/db/installed").unwrap();
    assert_eq!(
        file("lib/apk/db/installed").data(),
        Some(installed.as_slice())
    );
    assert_eq!(file("lib/apk/db/installed").layer, diff_ids[0]);
    assert!(
        files.symlinks.keys().all(|p| !p.contains(".wh.")),
        "{:?}",
        files.symlinks
    );
    assert_eq!(files.resolve("etc/motd", 40).unwrap(), None);
    assert!(files.warnings.is_empty(), "{:?}", files.warnings);
}

#[test]
fn layered_from_oci_dir() {
    let image = open(
        &images().oci_dir_source(ImageName::Layered),
        &local_options(),
    );
    check_layered(&image);
}

#[test]
fn layered_from_registry() {
    let registry = registry(Shared::Plain);
    let image = open(
        &registry.reference("layered:latest"),
        &options_for(registry),
    );
    check_layered(&image);
}

#[test]
fn layered_from_docker_archive() {
    let archive = images().docker_archive(ImageName::Layered);
    let image = open(
        &format!("docker-archive:{}", archive.display()),
        &local_options(),
    );
    let patterns = PathPatterns::new(["etc/motd", "etc/apk/**", "etc/alpine-release"]).unwrap();
    let files = image.read_files(&patterns, &Limits::default()).unwrap();
    let paths: Vec<&str> = files.files.keys().map(String::as_str).collect();
    assert_eq!(paths, vec!["etc/alpine-release", "etc/apk/world"]);
    assert_eq!(files.files["etc/apk/world"].data(), Some(LAYERED_APK_WORLD));
}
