#![no_main]
//! Every version comparator parses arbitrary input without panicking, and compares a
//! version equal to itself.
use libfuzzer_sys::fuzz_target;
use portcullis_versions::Scheme;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    for scheme in Scheme::ALL {
        if let Ok(parsed) = portcullis_versions::parse(scheme, a) {
            assert_eq!(parsed.cmp(&parsed), std::cmp::Ordering::Equal);
        }
        let _ = portcullis_versions::compare(scheme, a, b);
    }
});
