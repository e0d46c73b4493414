#![no_main]
//! The Go build-info reader (object files and the raw blob) never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::lang::golang::parse_buildinfo_blob(data);
    let _ = portcullis_catalog::lang::binary::parse_executable(data, "fuzz");
});
