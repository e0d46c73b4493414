#![no_main]
//! The layer reader (decompression, tar walk, whiteouts, symlink resolution, following
//! wanted links with further passes) never panics.

use libfuzzer_sys::fuzz_target;
use portcullis_oci::{Limits, PathPatterns};

fuzz_target!(|data: &[u8]| {
    let filter = PathPatterns::new(["**"]).expect("valid pattern");
    let limits = Limits {
        max_file_size: 1 << 20,
        max_total_file_bytes: 8 << 20,
        max_entries_per_layer: 10_000,
        ..Limits::default()
    };
    if let Ok(files) = portcullis_oci::fuzzing::read_layer_bytes(data, &filter, &limits) {
        for path in files.symlinks.keys() {
            let _ = files.resolve(path, limits.max_symlink_hops);
        }
    }
    // Few wanted paths: links to other files need further passes.
    let narrow = PathPatterns::new(["lib/apk/db/installed", "var/lib/dpkg/status.d/*", "a/*"])
        .expect("valid patterns");
    let _ = portcullis_oci::fuzzing::read_layer_bytes(data, &narrow, &limits);
});
