use crate::digest::DigestExt;
use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::Mutex;

use super::*;
use crate::files::PathPatterns;

/// A tar entry for building test layers.
enum Ent<'a> {
    File(&'a str, &'a [u8]),
    Exec(&'a str, &'a [u8]),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn header(name: &str, kind: tar::EntryType, size: u64, mode: u32, link: &str) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        // Raw names, so that hostile paths (`..`, absolute) can be written too.
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_cksum();
    h
}

fn tar_of(entries: &[Ent<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (h, data): (tar::Header, &[u8]) = match e {
            Ent::File(p, d) => (
                header(p, tar::EntryType::Regular, d.len() as u64, 0o644, ""),
                d,
            ),
            Ent::Exec(p, d) => (
                header(p, tar::EntryType::Regular, d.len() as u64, 0o755, ""),
                d,
            ),
            Ent::Dir(p) => (header(p, tar::EntryType::Directory, 0, 0o755, ""), b""),
            Ent::Sym(p, t) => (header(p, tar::EntryType::Symlink, 0, 0o777, t), b""),
            Ent::Hard(p, t) => (header(p, tar::EntryType::Link, 0, 0o644, t), b""),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Blobs in memory, read through the digest check as a real store's are (also the store
/// of `integrity_tests`).
#[derive(Debug, Default)]
pub(super) struct MemStore {
    pub(super) blobs: HashMap<Digest, Vec<u8>>,
}

impl BlobStore for MemStore {
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<Box<dyn Read + Send + '_>> {
        let bytes = self
            .blobs
            .get(&layer.digest)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("blob {}", layer.digest)))?;
        Ok(Box::new(layer.digest.verifying_reader(
            Cursor::new(bytes.as_slice()),
            Some(layer.size),
            format!("layer {}", layer.digest),
        )))
    }
}

/// Stores each blob under its true digest.
fn image(blobs: Vec<Vec<u8>>) -> (MemStore, Vec<LayerDescriptor>) {
    let mut store = MemStore::default();
    let mut layers = Vec::new();
    for bytes in blobs {
        let digest = Digest::sha256_of(&bytes);
        layers.push(LayerDescriptor {
            digest: digest.clone(),
            size: bytes.len() as u64,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            diff_id: None,
        });
        store.blobs.insert(digest, bytes);
    }
    (store, layers)
}

fn all() -> PathPatterns {
    PathPatterns::new(["**"]).unwrap()
}

fn read(blobs: Vec<Vec<u8>>, filter: &dyn FileFilter, limits: &Limits) -> Result<FileSet> {
    let (store, layers) = image(blobs);
    read_stored(&store, &layers, filter, limits)
}

/// Read the layers of `store` with `filter` and `limits`, without progress.
fn read_stored(
    store: &MemStore,
    layers: &[LayerDescriptor],
    filter: &dyn FileFilter,
    limits: &Limits,
) -> Result<FileSet> {
    read_layers(
        store,
        layers,
        filter,
        limits,
        &NoProgressForTests,
        &mut SeenPaths::default(),
    )
}

struct NoProgressForTests;
impl Progress for NoProgressForTests {}

fn paths(set: &FileSet) -> Vec<&str> {
    set.files.keys().map(String::as_str).collect()
}

fn text<'a>(set: &'a FileSet, path: &str) -> &'a str {
    std::str::from_utf8(set.files[path].data().unwrap()).unwrap()
}

#[test]
fn whiteout_of_a_file() {
    let l1 = tar_of(&[
        Ent::Dir("etc/"),
        Ent::File("etc/a", b"a"),
        Ent::File("etc/b", b"b"),
    ]);
    let l2 = tar_of(&[Ent::File("etc/.wh.a", b"")]);
    let set = read(vec![gzip(&l1), gzip(&l2)], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["etc/b"]);
}

#[test]
fn whiteout_of_a_directory_keeps_siblings_with_the_same_prefix() {
    let l1 = tar_of(&[
        Ent::File("usr/lib/x/f1", b"1"),
        Ent::File("usr/lib/x/g/f2", b"2"),
        Ent::Sym("usr/lib/x/link", "f1"),
        Ent::File("usr/lib/xy", b"3"),
        Ent::File("usr/lib/x.so", b"4"),
    ]);
    let l2 = tar_of(&[Ent::File("usr/lib/.wh.x", b"")]);
    let set = read(vec![l1, l2], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["usr/lib/x.so", "usr/lib/xy"]);
    assert!(set.symlinks.is_empty());
}

#[test]
fn opaque_directory_hides_lower_layers_only() {
    let l1 = tar_of(&[
        Ent::File("d/old", b"o"),
        Ent::File("d/sub/old2", b"o"),
        Ent::Sym("d/oldlink", "old"),
        Ent::File("e/keep", b"k"),
        Ent::File("dd/keep", b"k"),
    ]);
    let l2 = tar_of(&[
        Ent::Dir("d/"),
        Ent::File("d/new1", b"1"),
        Ent::File("d/.wh..wh..opq", b""),
        Ent::File("d/new2", b"2"),
    ]);
    let set = read(vec![gzip(&l1), gzip(&l2)], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["d/new1", "d/new2", "dd/keep", "e/keep"]);
    assert!(set.symlinks.is_empty());
}

#[test]
fn whiteouts_naming_nothing_are_ignored() {
    let l1 = tar_of(&[Ent::File("a", b"a")]);
    let l2 = tar_of(&[Ent::File(".wh.", b""), Ent::File("x/.wh..", b"")]);
    let set = read(vec![l1, l2], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["a"]);
}

#[test]
fn opaque_root_hides_all_lower_layers() {
    let l1 = tar_of(&[Ent::File("a", b"a"), Ent::Sym("l", "a")]);
    let l2 = tar_of(&[Ent::File("b", b"b"), Ent::File(".wh..wh..opq", b"")]);
    let set = read(vec![l1, l2], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["b"]);
    assert!(set.symlinks.is_empty());
}

#[test]
fn whiteout_does_not_hide_entries_of_its_own_layer() {
    let l1 = tar_of(&[Ent::File("a", b"old")]);
    let l2 = tar_of(&[Ent::File("a", b"new"), Ent::File(".wh.a", b"")]);
    let set = read(vec![l1, l2], &all(), &Limits::default()).unwrap();
    assert_eq!(text(&set, "a"), "new");
}

#[test]
fn file_replaces_directory_and_directory_replaces_symlink() {
    let l1 = tar_of(&[
        Ent::File("d/f", b"f"),
        Ent::Sym("lib", "usr/lib"),
        Ent::File("keep", b"k"),
    ]);
    let l2 = tar_of(&[
        Ent::File("d", b"now a file"),
        Ent::Dir("lib/"),
        Ent::File("lib/x", b"x"),
    ]);
    let (store, layers) = image(vec![l1, l2]);
    let set = read_stored(&store, &layers, &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["d", "keep", "lib/x"]);
    assert_eq!(text(&set, "d"), "now a file");
    assert!(set.symlinks.is_empty());
    assert_eq!(set.files["d"].layer.as_ref(), Some(&layers[1].digest));
    assert_eq!(set.files["keep"].layer.as_ref(), Some(&layers[0].digest));
}

#[test]
fn upper_unwanted_version_hides_lower_wanted_one() {
    let l1 = tar_of(&[Ent::Exec("usr/bin/tool", b"elf")]);
    let l2 = tar_of(&[Ent::File("usr/bin/tool", b"text")]);
    let filter = PathPatterns::new(["nothing"])
        .unwrap()
        .with_executables(true);
    let set = read(vec![l1, l2], &filter, &Limits::default()).unwrap();
    assert!(set.files.is_empty());
}

#[test]
fn symlinks_are_recorded_and_resolved() {
    let l1 = tar_of(&[
        Ent::File("usr/lib/os-release", b"ID=debian\n"),
        Ent::Sym("etc/os-release", "../usr/lib/os-release"),
        Ent::Sym("lib", "/usr/lib"),
        Ent::Sym("gone", "x"),
    ]);
    let l2 = tar_of(&[Ent::File(".wh.gone", b"")]);
    let filter = PathPatterns::new(["usr/lib/os-release"]).unwrap();
    let set = read(vec![l1, l2], &filter, &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["usr/lib/os-release"]);
    assert_eq!(
        set.symlinks.keys().map(String::as_str).collect::<Vec<_>>(),
        ["etc/os-release", "lib"]
    );
    assert_eq!(set.symlinks["lib"], "/usr/lib");
    let found = set.resolve("etc/os-release", 40).unwrap().unwrap();
    assert_eq!(found.data().unwrap(), b"ID=debian\n");
    let found = set.resolve("/lib/os-release", 40).unwrap().unwrap();
    assert_eq!(found.path, "usr/lib/os-release");
}

#[test]
fn symlink_loop_is_a_resolve_error() {
    let l1 = tar_of(&[Ent::Sym("a", "b"), Ent::Sym("b", "./a")]);
    let set = read(vec![l1], &all(), &Limits::default()).unwrap();
    let err = set.resolve("a/x", 40).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer);
    assert!(err.to_string().contains("'a/x'"), "{err}");
}

#[test]
fn dotdot_entry_is_hostile() {
    let l1 = tar_of(&[Ent::File("etc/ok", b"1"), Ent::File("../etc/passwd", b"x")]);
    let digest = Digest::sha256_of(&l1);
    let err = read(vec![l1], &all(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer);
    assert_eq!(
        err.to_string(),
        format!("layer {digest}: entry '../etc/passwd' has a '..' component")
    );
    let inner = tar_of(&[Ent::File("a/../../b", b"x")]);
    let err = read(vec![inner], &all(), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("entry 'a/../../b'"), "{err}");
}

#[test]
fn dotdot_hardlink_target_is_hostile() {
    let l1 = tar_of(&[Ent::Hard("etc/x", "../../etc/shadow")]);
    let err = read(vec![l1], &all(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer);
    assert!(
        err.to_string()
            .contains("entry 'etc/x' links to '../../etc/shadow', which has a '..' component"),
        "{err}"
    );
}

#[test]
fn absolute_and_dotted_paths_are_normalised_under_the_root() {
    let l1 = tar_of(&[
        Ent::Dir("./"),
        Ent::File("/etc/abs", b"a"),
        Ent::File("./etc/dot", b"d"),
        Ent::File("etc//double", b"2"),
    ]);
    let l2 = tar_of(&[Ent::File("/etc/.wh.dot", b"")]);
    let set = read(vec![l1, l2], &all(), &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["etc/abs", "etc/double"]);
    assert_eq!(set.files["etc/abs"].path, "etc/abs");
}

#[test]
fn hardlinks_take_the_captured_content() {
    let l1 = tar_of(&[
        Ent::Exec("usr/bin/perl", b"perl binary"),
        Ent::File("usr/share/big", b"unwanted"),
    ]);
    let l2 = tar_of(&[
        Ent::Hard("usr/bin/perl5.36", "usr/bin/perl"),
        Ent::Hard("usr/share/wanted", "/usr/share/big"),
    ]);
    let filter = PathPatterns::new(["usr/share/wanted"])
        .unwrap()
        .with_executables(true);
    let (store, layers) = image(vec![l1, l2]);
    let set = read_stored(&store, &layers, &filter, &Limits::default()).unwrap();
    assert_eq!(
        paths(&set),
        ["usr/bin/perl", "usr/bin/perl5.36", "usr/share/wanted"]
    );
    assert_eq!(text(&set, "usr/bin/perl5.36"), "perl binary");
    assert_eq!(set.files["usr/bin/perl5.36"].mode, 0o755);
    assert_eq!(
        set.files["usr/bin/perl5.36"].layer.as_ref(),
        Some(&layers[1].digest)
    );
    assert_eq!(
        set.files["usr/share/wanted"].content,
        FileContent::Skipped {
            size: 0,
            reason: "hard link to 'usr/share/big', whose content was not read".into()
        }
    );
    assert_eq!(
        set.warnings,
        [format!(
            "layer {}: 'usr/share/wanted': hard link to 'usr/share/big', whose content was not read",
            layers[1].digest
        )]
    );
}

#[test]
fn truncated_gzip_is_an_invalid_layer() {
    let mut entries = Vec::new();
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    entries.push(Ent::File("big", &data));
    let gz = gzip(&tar_of(&entries));
    for cut in [gz.len() / 2, gz.len() - 4, 5] {
        let truncated = gz[..cut].to_vec();
        let digest = Digest::sha256_of(&truncated);
        let err = read(vec![truncated], &all(), &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidLayer, "cut {cut}: {err}");
        assert!(
            err.to_string().starts_with(&format!("layer {digest}: ")),
            "{err}"
        );
    }
}

#[test]
fn garbage_and_short_tars_are_invalid_layers() {
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
    let err = read(vec![garbage], &all(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer, "{err}");
    let tar = tar_of(&[Ent::File("f", &[7u8; 3000])]);
    let short = tar[..512 + 1000].to_vec();
    let err = read(vec![short], &all(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer, "{err}");
    let err = read(vec![vec![0x1f, 0x8b, 0, 0]], &all(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLayer, "{err}");
    let empty = read(vec![Vec::new()], &all(), &Limits::default()).unwrap();
    assert!(empty.files.is_empty());
}

#[test]
fn digest_mismatch_is_reported_even_after_the_tar_end() {
    let tar = tar_of(&[Ent::File("f", b"content")]);
    for blob in [gzip(&tar), tar.clone()] {
        let (mut store, layers) = image(vec![blob]);
        // Same length, one byte changed in the trailing zero padding / gzip trailer.
        let stored = store.blobs.get_mut(&layers[0].digest).unwrap();
        let last = stored.len() - 1;
        stored[last] ^= 1;
        let err = read_stored(&store, &layers, &all(), &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
        assert!(err.to_string().contains(layers[0].digest.as_str()), "{err}");
    }
}

#[test]
fn files_over_the_caps_are_skipped() {
    let l1 = tar_of(&[
        Ent::File("a", &[1u8; 100]),
        Ent::File("b", &[2u8; 10]),
        Ent::File("c", &[3u8; 10]),
        Ent::File("d", &[4u8; 5]),
    ]);
    let limits = Limits {
        max_file_size: 50,
        max_total_file_bytes: 18,
        ..Limits::default()
    };
    let set = read(vec![l1], &all(), &limits).unwrap();
    assert_eq!(
        set.files["a"].content,
        FileContent::Skipped {
            size: 100,
            reason: "larger than the per-file cap of 50 bytes".into()
        }
    );
    assert_eq!(set.files["b"].data(), Some(&[2u8; 10][..]));
    assert_eq!(
        set.files["c"].content,
        FileContent::Skipped {
            size: 10,
            reason: "the cap of 18 bytes for all files was reached".into()
        }
    );
    assert_eq!(set.files["d"].data(), Some(&[4u8; 5][..]));
}

#[test]
fn entry_count_is_capped() {
    let l1 = tar_of(&[
        Ent::File("a", b""),
        Ent::File("b", b""),
        Ent::File("c", b""),
    ]);
    let limits = Limits {
        max_entries_per_layer: 2,
        ..Limits::default()
    };
    let err = read(vec![l1], &all(), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().ends_with("more than 2 entries"), "{err}");
}

#[test]
fn zstd_and_plain_layers_and_diff_ids() {
    let l1 = tar_of(&[Ent::File("etc/alpine-release", b"3.20.3\n")]);
    let l2 = tar_of(&[Ent::File("etc/issue", b"hello\n")]);
    let zst = zstd::encode_all(l1.as_slice(), 3).unwrap();
    let (store, mut layers) = image(vec![zst, l2.clone()]);
    let diff = Digest::sha256_of(&l2);
    layers[1].diff_id = Some(diff.clone());
    let set = read_stored(&store, &layers, &all(), &Limits::default()).unwrap();
    assert_eq!(text(&set, "etc/alpine-release"), "3.20.3\n");
    assert_eq!(text(&set, "etc/issue"), "hello\n");
    assert_eq!(set.files["etc/issue"].layer.as_ref(), Some(&diff));
    assert_eq!(
        set.files["etc/alpine-release"].layer.as_ref(),
        Some(&layers[0].digest)
    );
}

#[test]
fn executables_filter() {
    let l1 = tar_of(&[
        Ent::Exec("usr/bin/app", b"\x7fELF"),
        Ent::File("usr/share/doc", b"doc"),
        Ent::File("lib/apk/db/installed", b"P:musl\n"),
    ]);
    let only_patterns = PathPatterns::new(["lib/apk/db/installed"]).unwrap();
    let set = read(vec![gzip(&l1)], &only_patterns, &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["lib/apk/db/installed"]);
    let with_exec = only_patterns.with_executables(true);
    let set = read(vec![gzip(&l1)], &with_exec, &Limits::default()).unwrap();
    assert_eq!(paths(&set), ["lib/apk/db/installed", "usr/bin/app"]);
    assert_eq!(set.files["usr/bin/app"].mode, 0o755);
}

#[derive(Default)]
struct Recorder {
    bytes: Mutex<Vec<(usize, u64)>>,
    done: Mutex<Vec<usize>>,
}
impl Progress for Recorder {
    fn layer_bytes(&self, index: usize, bytes: u64) {
        self.bytes.lock().unwrap().push((index, bytes));
    }
    fn layer_done(&self, index: usize) {
        self.done.lock().unwrap().push(index);
    }
}

#[test]
fn progress_counts_stored_bytes() {
    let l1 = gzip(&tar_of(&[Ent::File("a", &[0u8; 70_000])]));
    let l2 = tar_of(&[Ent::File("b", b"b")]);
    let sizes = [l1.len() as u64, l2.len() as u64];
    let (store, layers) = image(vec![l1, l2]);
    let recorder = Recorder::default();
    read_layers(
        &store,
        &layers,
        &all(),
        &Limits::default(),
        &recorder,
        &mut SeenPaths::default(),
    )
    .unwrap();
    let bytes = recorder.bytes.lock().unwrap();
    for (index, size) in sizes.iter().enumerate() {
        let total: u64 = bytes
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(total, *size);
    }
    assert_eq!(*recorder.done.lock().unwrap(), [0, 1]);
}

#[test]
fn sniffs_compression() {
    assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
    assert_eq!(
        Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
        Compression::Zstd
    );
    assert_eq!(Compression::sniff(b"etc/"), Compression::None);
    assert_eq!(Compression::sniff(&[0x1f]), Compression::None);
}

mod concurrent;
