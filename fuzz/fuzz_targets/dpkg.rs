#![no_main]
//! The dpkg status parsers (status and status.d) never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::dpkg::parse_status(data, "var/lib/dpkg/status", None);
    let _ = portcullis_catalog::dpkg::parse_status_d(data, "var/lib/dpkg/status.d/x", None);
});
