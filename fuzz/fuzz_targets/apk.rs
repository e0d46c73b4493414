#![no_main]
//! The apk installed-database parser never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::apk::parse_installed(data, "lib/apk/db/installed", None);
});
