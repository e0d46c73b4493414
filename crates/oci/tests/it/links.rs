//! Wanted files that are links are read through them, as the runtime would; the root entry
//! of a layer is not reported.

use portcullis_oci::{
    FileContent, FileSet, Image, ImageOptions, ImageSource, Limits, PathPatterns,
};
use portcullis_testkit::layout::TarBuilder;

fn read(tar: Vec<u8>, patterns: &[&str], limits: &Limits) -> FileSet {
    let dir = portcullis_testkit::temp_dir("oci-links");
    let path = dir.path().join("rootfs.tar");
    std::fs::write(&path, tar).unwrap();
    let image = Image::open(&ImageSource::Tar { path }, &ImageOptions::default()).unwrap();
    image
        .read_files(&PathPatterns::new(patterns).unwrap(), limits)
        .unwrap()
}

fn data<'a>(set: &'a FileSet, path: &str) -> Option<&'a [u8]> {
    set.files.get(path).and_then(|f| f.data())
}

#[test]
fn root_entries_are_not_reported() {
    for root in ["/", "./", "."] {
        let tar = TarBuilder::new().dir(root).file("./etc/x", b"x").finish();
        let set = read(tar, &["etc/x"], &Limits::default());
        assert_eq!(set.warnings, Vec::<String>::new(), "{root}");
        assert_eq!(data(&set, "etc/x"), Some(&b"x"[..]), "{root}");
    }
    // A real absolute path is still reported, once.
    let tar = TarBuilder::new().dir("/").file("/etc/x", b"x").finish();
    let set = read(tar, &["etc/x"], &Limits::default());
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(
        set.warnings[0].contains("entry '/etc/x' has an absolute path"),
        "{}",
        set.warnings[0]
    );
}

#[test]
fn symlinks_are_followed_to_files_not_otherwise_read() {
    let tar = TarBuilder::new()
        .file("srv/real/db", b"content")
        .symlink("srv/alias", "real")
        .symlink("srv/chain", "/srv/alias/db")
        // absolute, chained, then relative through a symlinked directory, `..` clamped
        .symlink("lib/apk/db/installed", "../../../../../../srv/chain")
        .finish();
    let set = read(tar, &["lib/apk/db/installed"], &Limits::default());
    assert_eq!(data(&set, "lib/apk/db/installed"), Some(&b"content"[..]));
    // The target was read only for the link: not a file of the result.
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["lib/apk/db/installed"]
    );
}

#[test]
fn literal_paths_below_symlinked_directories_are_followed() {
    let tar = TarBuilder::new()
        .symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm")
        .file("usr/lib/sysimage/rpm/Packages", b"bdb")
        .symlink("lib", "usr/lib")
        .finish();
    let set = read(
        tar,
        &["var/lib/rpm/Packages", "lib/apk/db/installed"],
        &Limits::default(),
    );
    assert_eq!(data(&set, "var/lib/rpm/Packages"), Some(&b"bdb"[..]));
    // `lib/apk/db/installed` -> `usr/lib/apk/db/installed`, which does not exist: no file.
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["var/lib/rpm/Packages"]
    );
}

#[test]
fn a_link_to_a_wanted_file_adds_nothing() {
    let tar = TarBuilder::new()
        .symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm")
        .file("usr/lib/sysimage/rpm/Packages", b"bdb")
        .finish();
    let set = read(
        tar,
        &["var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages"],
        &Limits::default(),
    );
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["usr/lib/sysimage/rpm/Packages"]
    );
}

#[test]
fn hard_links_to_files_not_otherwise_read_are_followed() {
    let tar = TarBuilder::new()
        .file("srv/real", b"first")
        .hardlink("lib/apk/db/installed", "srv/real")
        // Replaced after the link: the link keeps the content it had.
        .file("srv/real", b"second")
        .finish();
    let set = read(tar, &["lib/apk/db/installed"], &Limits::default());
    assert_eq!(data(&set, "lib/apk/db/installed"), Some(&b"first"[..]));
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["lib/apk/db/installed"]
    );
}

#[test]
fn links_to_files_over_the_cap_or_loops_are_reported_not_dropped() {
    let tar = TarBuilder::new()
        .file("srv/big", b"0123456789")
        .symlink("a/sym", "/srv/big")
        .hardlink("a/hard", "srv/big")
        .symlink("a/loop", "loop2")
        .symlink("a/loop2", "loop")
        .symlink("a/dangling", "/nowhere")
        .finish();
    let limits = Limits {
        max_file_size: 5,
        ..Limits::default()
    };
    let set = read(tar, &["a/*"], &limits);
    let reason = |path: &str| match &set.files[path].content {
        FileContent::Skipped { reason, .. } => reason.clone(),
        FileContent::Data(_) => panic!("{path} was read"),
    };
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        ["a/hard", "a/loop", "a/loop2", "a/sym"]
    );
    assert_eq!(
        reason("a/sym"),
        "links to 'srv/big', which was not read: larger than the per-file cap of 5 bytes"
    );
    assert_eq!(reason("a/hard"), "larger than the per-file cap of 5 bytes");
    assert!(
        reason("a/loop").contains("too many levels of symbolic links"),
        "{}",
        reason("a/loop")
    );
}

#[test]
fn globs_below_symlinked_directories_are_followed() {
    let tar = TarBuilder::new()
        .file("srv/dpkg/base", b"base")
        .file("srv/dpkg/netbase", b"netbase")
        .file("srv/dpkg/sub/deeper", b"no")
        .symlink("var/lib/dpkg/status.d", "/srv/dpkg")
        .symlink("a", "a2")
        .symlink("a2", "a")
        .finish();
    let set = read(
        tar,
        &["var/lib/dpkg/status.d/*", "a/x/*"],
        &Limits::default(),
    );
    assert_eq!(
        set.files.keys().collect::<Vec<_>>(),
        [
            "a/x/*",
            "var/lib/dpkg/status.d/base",
            "var/lib/dpkg/status.d/netbase"
        ]
    );
    assert_eq!(data(&set, "var/lib/dpkg/status.d/base"), Some(&b"base"[..]));
    assert_eq!(
        data(&set, "var/lib/dpkg/status.d/netbase"),
        Some(&b"netbase"[..])
    );
    // A loop on the way is reported at the pattern's path.
    assert!(data(&set, "a/x/*").is_none());
}

#[test]
fn two_links_to_one_target_both_read_it() {
    let tar = TarBuilder::new()
        .file("srv/real", b"content")
        .symlink("a/one", "/srv/real")
        .symlink("a/two", "../srv/real")
        .finish();
    let set = read(tar, &["a/*"], &Limits::default());
    assert_eq!(data(&set, "a/one"), Some(&b"content"[..]));
    assert_eq!(data(&set, "a/two"), Some(&b"content"[..]));
    assert_eq!(set.files.keys().collect::<Vec<_>>(), ["a/one", "a/two"]);
}
