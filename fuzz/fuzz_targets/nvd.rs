#![no_main]
//! The NVD JSON 2.0 parser never panics; what it accepts is NVD's own records (source `nvd`),
//! each with an id, sorted unique CWE ids and finite CVSS scores within 0..=10, and every
//! problem names the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::import::parse_nvd;

fuzz_target!(|data: &[u8]| {
    let Ok((records, problems)) = parse_nvd("nvd.json", data) else {
        return;
    };
    for record in &records {
        assert_eq!(record.vuln.source, "nvd");
        assert!(!record.vuln.id.is_empty());
        let mut sorted = record.vuln.cwe_ids.clone();
        sorted.dedup();
        assert_eq!(sorted, record.vuln.cwe_ids);
        for severity in &record.vuln.severities {
            if let Some(score) = severity.score {
                assert!(score.is_finite() && (0.0..=10.0).contains(&score), "{score}");
            }
        }
    }
    for problem in &problems {
        assert_eq!(problem.file, "nvd.json");
    }
});
