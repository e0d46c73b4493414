//! Caps on layers and decompressed bytes, and `diff_id` verification.

use super::tests::{MemStore, gzip};
use super::*;
use crate::files::PathPatterns;

struct Quiet;
impl Progress for Quiet {}

/// A tar of regular files.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// One layer descriptor per blob (a blob may be listed more than once), with the given
/// diff_ids.
fn image(blobs: &[&[u8]], diff_ids: &[Option<Digest>]) -> (MemStore, Vec<LayerDescriptor>) {
    let mut store = MemStore::default();
    let mut layers = Vec::new();
    for (blob, diff_id) in blobs.iter().zip(diff_ids) {
        let digest = Digest::sha256_of(blob);
        store.blobs.insert(digest.clone(), blob.to_vec());
        layers.push(LayerDescriptor {
            digest,
            size: blob.len() as u64,
            media_type: String::new(),
            diff_id: diff_id.clone(),
        });
    }
    (store, layers)
}

fn read(store: &MemStore, layers: &[LayerDescriptor], limits: &Limits) -> Result<FileSet> {
    let all = PathPatterns::new(["**"]).unwrap();
    read_layers(
        store,
        layers,
        &all,
        limits,
        &Quiet,
        &mut super::SeenPaths::default(),
    )
}

#[test]
fn the_number_of_layers_is_capped() {
    let layer = gzip(&tar_of(&[("etc/os-release", b"ID=alpine\n")]));
    let limits = Limits {
        max_layers: 2,
        ..Limits::default()
    };
    let (store, layers) = image(&[&layer, &layer], &[None, None]);
    assert_eq!(read(&store, &layers, &limits).unwrap().files.len(), 1);
    let (store, layers) = image(&[&layer, &layer, &layer], &[None, None, None]);
    let err = read(&store, &layers, &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(
        err.to_string(),
        "the image has 3 layers, more than the cap of 2 layers per image"
    );
    assert_eq!(Limits::default().max_layers, 128);
}

#[test]
fn decompressed_bytes_are_capped_per_image() {
    let tar = tar_of(&[("big", &[7u8; 10_000])]);
    // 512 header + 10,240 data (padded) + 1,024 end-of-archive bytes.
    assert_eq!(tar.len(), 11_776);
    let layer = gzip(&tar);
    let (store, layers) = image(&[&layer, &layer], &[None, None]);
    // Exactly the two decompressed tars fit.
    let fits = Limits {
        max_total_layer_bytes: 2 * 11_776,
        ..Limits::default()
    };
    assert_eq!(read(&store, &layers, &fits).unwrap().files.len(), 1);
    // One byte less: the second copy of the layer goes over.
    let tight = Limits {
        max_total_layer_bytes: 2 * 11_776 - 1,
        ..Limits::default()
    };
    let err = read(&store, &layers, &tight).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(
        err.to_string(),
        format!(
            "layer {}: the image's layers decompress to more than 23551 bytes (the cap on decompressed bytes per image)",
            layers[1].digest
        )
    );
    // A small compressed bomb stops at the cap, in the middle of a file.
    let bomb = gzip(&tar_of(&[("zeros", &vec![0u8; 4 << 20])]));
    let (store, layers) = image(&[&bomb], &[None]);
    let small = Limits {
        max_total_layer_bytes: 64 * 1024,
        ..Limits::default()
    };
    let err = read(&store, &layers, &small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().contains("more than 65536 bytes"), "{err}");
    assert_eq!(
        Limits::default().max_total_layer_bytes,
        8 * 1024 * 1024 * 1024
    );
}

#[test]
fn diff_ids_are_verified_for_compressed_and_plain_layers() {
    let tar = tar_of(&[("etc/alpine-release", b"3.20.3\n")]);
    let right = Digest::sha256_of(&tar);
    let gz = gzip(&tar);
    let zst = zstd::encode_all(tar.as_slice(), 3).unwrap();
    for blob in [&gz, &zst, &tar] {
        let (store, layers) = image(&[blob], &[Some(right.clone())]);
        let set = read(&store, &layers, &Limits::default()).unwrap();
        assert_eq!(set.files["etc/alpine-release"].layer.as_ref(), Some(&right));
    }
    let wrong = Digest::sha256_of(b"another layer");
    for blob in [&gz, &zst, &tar] {
        let (store, layers) = image(&[&gz, blob], &[Some(right.clone()), Some(wrong.clone())]);
        let err = read(&store, &layers, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DigestMismatch);
        assert_eq!(
            err.to_string(),
            format!(
                "layer {} (index 1): its uncompressed content against rootfs.diff_ids[1] of the image config: \
                 digest mismatch: expected {wrong}, got {right}",
                layers[1].digest
            )
        );
    }
}

#[test]
fn the_diff_id_covers_bytes_after_the_end_of_the_tar() {
    let mut tar = tar_of(&[("etc/issue", b"hello\n")]);
    let short = Digest::sha256_of(&tar);
    // Tools pad tars to a record size: zeros after the end-of-archive blocks.
    tar.extend_from_slice(&[0u8; 8192]);
    let whole = Digest::sha256_of(&tar);
    let gz = gzip(&tar);
    let (store, layers) = image(&[&gz], &[Some(whole.clone())]);
    read(&store, &layers, &Limits::default()).unwrap();
    let (store, layers) = image(&[&gz], &[Some(short.clone())]);
    let err = read(&store, &layers, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(
        err.to_string()
            .ends_with(&format!("expected {short}, got {whole}")),
        "{err}"
    );
}

#[test]
fn a_wrong_blob_digest_is_reported_before_a_wrong_diff_id() {
    let tar = tar_of(&[("etc/issue", b"hello\n")]);
    let gz = gzip(&tar);
    let (mut store, layers) = image(&[&gz], &[Some(Digest::sha256_of(b"lie"))]);
    // The stored blob is another valid layer than the manifest says.
    let other = gzip(&tar_of(&[("etc/issue", b"HELLO\n")]));
    store.blobs.insert(layers[0].digest.clone(), other);
    let err = read(&store, &layers, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(
        err.to_string()
            .starts_with(&format!("layer {}: ", layers[0].digest))
            && !err.to_string().contains("diff_ids"),
        "{err}"
    );
}

#[test]
fn a_corrupt_stream_is_explained_by_the_blob_digest_whichever_thread_decompresses() {
    let data: Vec<u8> = (0..300_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let gz = gzip(&tar_of(&[("big", &data), ("etc/issue", b"hello\n")]));
    let (mut store, layers) = image(&[&gz], &[None]);
    // Bytes in the middle of the deflate stream are flipped: the inflater fails (or the tar
    // reads garbage) long before the verifying reader reaches the end.
    let stored = store.blobs.get_mut(&layers[0].digest).unwrap();
    let middle = stored.len() / 2;
    for byte in &mut stored[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    for layer_threads in [1, 2] {
        let limits = Limits {
            layer_threads,
            ..Limits::default()
        };
        let err = read(&store, &layers, &limits).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::DigestMismatch,
            "{layer_threads}: {err}"
        );
        assert!(err.to_string().contains(layers[0].digest.as_str()), "{err}");
    }
}
