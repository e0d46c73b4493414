#![no_main]
//! The ignore-file (YAML) and OpenVEX (JSON) parsers, with the purl parsing they use, never
//! panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_scan::IgnoreFile::parse("ignore.yaml", data);
    let _ = portcullis_scan::VexDocument::parse("vex.json", data);
});
