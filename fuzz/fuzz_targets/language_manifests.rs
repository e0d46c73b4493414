#![no_main]
//! Python METADATA, jar archives, npm manifests and lock files, and Cargo.lock never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::lang::python::parse_metadata(data, "fuzz");
    let _ = portcullis_catalog::lang::java::parse_archive(data, "fuzz.jar");
    let _ = portcullis_catalog::lang::npm::parse_package_lock(data, "package-lock.json");
    let _ = portcullis_catalog::lang::rust::parse_cargo_lock(data, "Cargo.lock");
});
