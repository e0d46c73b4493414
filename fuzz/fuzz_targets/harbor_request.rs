#![no_main]
//! A Harbor scan request never panics the parser; an accepted one names an image pinned to
//! a digest in the registry of its URL, and every refusal carries a status of the spec.

use libfuzzer_sys::fuzz_target;
use portcullis_harbor::request::parse;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(request) => {
            assert!(request.reference.digest().is_some());
            assert_eq!(request.reference.registry(), request.registry);
            assert!(request.vulnerability || request.sbom);
            let _ = portcullis_harbor::media::negotiate(std::str::from_utf8(data).ok());
        }
        Err(e) => assert!([400, 422, 501].contains(&e.status())),
    }
});
