#![no_main]
//! Image config parsing never panics.

use libfuzzer_sys::fuzz_target;
use portcullis_oci::ImageConfig;

fuzz_target!(|data: &[u8]| {
    let _ = ImageConfig::parse(data, "fuzz");
});
