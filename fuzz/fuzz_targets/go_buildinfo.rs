#![no_main]
//! The executable readers (whole object files, the raw Go blob, and the one-pass sieve fed in
//! two reads) never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::lang::golang::parse_buildinfo_blob(data);
    let _ = portcullis_catalog::lang::binary::parse_executable(data, "fuzz");
    // Two reads, so patterns can straddle them.
    let mut reader = std::io::Read::chain(&data[..data.len() / 2], &data[data.len() / 2..]);
    let _ = portcullis_catalog::lang::sieve::read_executable(&mut reader, "fuzz");
});
