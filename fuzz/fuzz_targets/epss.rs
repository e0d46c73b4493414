#![no_main]
//! The FIRST EPSS CSV parser never panics; what it accepts has unique CVE ids whose packed
//! key round-trips, and scores and percentiles in [0, 1].

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::exploit::{cve_from_key, cve_key};
use portcullis_vulndb::import::parse_epss_csv;

fuzz_target!(|data: &[u8]| {
    let Ok((scores, _date, problems)) = parse_epss_csv("epss.csv", data) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for (cve, score, percentile) in &scores {
        let key = cve_key(cve).expect("a stored id is a CVE id");
        assert_eq!(&cve_from_key(key), cve);
        assert!(seen.insert(key), "duplicate {cve}");
        assert!((0.0..=1.0).contains(score) && (0.0..=1.0).contains(percentile));
    }
    for problem in &problems {
        assert_eq!(problem.file, "epss.csv");
    }
});
