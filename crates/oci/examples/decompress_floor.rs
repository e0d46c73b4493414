//! The floor of a layer scan: decompress layer blobs to nowhere with the fastest decoders in
//! the tree (flate2 on zlib-rs for gzip, zstd), nothing else: no digest (unless asked), no
//! tar walk. Used by `bench/layers.sh`, `bench/growth.sh` and `bench/scan.sh`.
//!
//! `cargo run --release -p portcullis-oci --example decompress_floor -- [--threads N]
//! [--digests] BLOB...` decodes the blobs with up to N at once (default 1), taking them in
//! order, and prints the wall time in seconds and the decompressed bytes. With `--digests`
//! it also takes the two SHA-256s every scan computes, of the blob (its digest) and of its
//! decompressed bytes (the config's diff_id): on one thread, the time is then the CPU that
//! any scan which verifies both must spend on the layer.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// Read buffer size, as the layer reader uses.
const BUFFER_SIZE: usize = 256 * 1024;

/// A reader that hashes what passes through it (when asked to).
struct Hashing<R> {
    inner: R,
    hash: Option<Sha256>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hash.as_mut() {
            h.update(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

impl<R> Drop for Hashing<R> {
    fn drop(&mut self) {
        // Keep the digest from being optimised away.
        if let Some(h) = self.hash.take() {
            std::hint::black_box(h.finalize());
        }
    }
}

/// Decompress one blob (gzip, zstd or plain, judged by its first bytes) to nowhere, with
/// both SHA-256s if `digests`.
fn decompress(path: &PathBuf, digests: bool) -> io::Result<u64> {
    let hashing = Hashing {
        inner: File::open(path)?,
        hash: digests.then(Sha256::new),
    };
    let mut file = BufReader::with_capacity(BUFFER_SIZE, hashing);
    let mut magic = [0u8; 4];
    let got = file.read(&mut magic)?;
    let head = magic.get(..got).unwrap_or(&[]).to_vec();
    let stream = io::Cursor::new(head.clone()).chain(file);
    let decoded: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            BUFFER_SIZE,
            stream,
        )))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(stream)?)
    } else {
        Box::new(stream)
    };
    // The diff_id: the same hashing reader, over the decompressed bytes.
    let mut decoded = Hashing {
        inner: decoded,
        hash: digests.then(Sha256::new),
    };
    let mut buffer = vec![0u8; BUFFER_SIZE];
    let mut total = 0u64;
    loop {
        match decoded.read(&mut buffer)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

fn main() -> ExitCode {
    let mut threads = 1usize;
    let mut digests = false;
    let mut blobs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--digests" {
            digests = true;
        } else if arg == "--threads" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => threads = n,
                _ => {
                    eprintln!("--threads needs a positive number");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            blobs.push(PathBuf::from(arg));
        }
    }
    if blobs.is_empty() {
        eprintln!("usage: decompress_floor [--threads N] [--digests] BLOB...");
        return ExitCode::FAILURE;
    }
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let failed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(blobs.len()) {
            scope.spawn(|| {
                while let Some(blob) = blobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match decompress(blob, digests) {
                        Ok(n) => {
                            bytes.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("{}: {e}", blob.display());
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    println!("{seconds:.3} {}", bytes.load(Ordering::Relaxed));
    if failed.load(Ordering::Relaxed) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
