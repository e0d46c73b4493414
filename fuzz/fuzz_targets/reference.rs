#![no_main]
//! Image references and source strings never panic, and a parsed reference re-parses to itself.

use libfuzzer_sys::fuzz_target;
use portcullis_oci::{ImageSource, Reference};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = Reference::parse(s) {
            let again = Reference::parse(&r.to_string()).expect("a normalised reference re-parses");
            assert_eq!(r, again);
        }
        let _ = ImageSource::parse(s);
    }
});
