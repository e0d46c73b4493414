#![no_main]
//! The CISA KEV catalog parser never panics; what it accepts has unique, well-formed CVE ids
//! and dates, and every rejected entry is a problem naming the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::exploit::cve_key;
use portcullis_vulndb::import::parse_kev_catalog;

fuzz_target!(|data: &[u8]| {
    let Ok((entries, problems)) = parse_kev_catalog("kev.json", data) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for entry in &entries {
        assert!(cve_key(&entry.cve).is_some(), "{}", entry.cve);
        assert!(seen.insert(entry.cve.clone()), "duplicate {}", entry.cve);
        assert_eq!(entry.date_added.len(), 10);
        assert_eq!(entry.due_date.len(), 10);
        assert!(!entry.known_ransomware_use.is_empty());
    }
    for problem in &problems {
        assert_eq!(problem.file, "kev.json");
    }
});
