#![no_main]
//! Manifest, index and referrers-index parsing (and platform selection) never panic.

use libfuzzer_sys::fuzz_target;
use portcullis_oci::manifest::Manifest;
use portcullis_oci::Platform;

fuzz_target!(|data: &[u8]| {
    if let Ok(Manifest::Index(index)) = Manifest::parse(data, None, "fuzz") {
        let _ = index.select(&Platform::host(), "fuzz");
    }
    let _ = portcullis_oci::fuzzing::referrers_index(data);
});
