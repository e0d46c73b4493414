#![no_main]
//! The Debian security tracker JSON parser never panics; what it accepts is one source per
//! release, with CVE ids only, each entry in that release's ecosystem, and every problem
//! names the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::import::parse_debian_tracker;

fuzz_target!(|data: &[u8]| {
    let Ok((sources, problems)) = parse_debian_tracker("tracker.json", data) else {
        return;
    };
    for (source, records) in &sources {
        let version = source.strip_prefix("debian-tracker:").expect("source name");
        for record in records {
            assert!(record.vuln.id.starts_with("CVE-"));
            for entry in &record.affected {
                assert_eq!(entry.ecosystem, format!("Debian:{version}"));
            }
        }
    }
    for problem in &problems {
        assert_eq!(problem.file, "tracker.json");
    }
});
