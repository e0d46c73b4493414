#![no_main]
//! The Photon OS CVE metadata parser never panics; what it accepts is CVE records (source
//! `photon:5.0`, from the file name) in `Photon OS:5.0`, fixed with a version or not fixed
//! without one, ratings from scores within 0..=10, and every problem names the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::FixStatus;
use portcullis_vulndb::import::parse_photon_cve;

fuzz_target!(|data: &[u8]| {
    let Ok((records, problems)) = parse_photon_cve("cve_data_photon5.0.json", data) else {
        return;
    };
    for record in &records {
        assert_eq!(record.vuln.source, "photon:5.0");
        assert!(record.vuln.id.starts_with("CVE-"));
        for severity in &record.vuln.severities {
            let score = severity.score.expect("score");
            assert!(score.is_finite() && (0.0..=10.0).contains(&score), "{score}");
        }
        for entry in &record.affected {
            assert_eq!(entry.ecosystem, "Photon OS:5.0");
            match entry.status {
                FixStatus::Fixed => assert!(entry.fixed_version.is_some()),
                _ => assert_eq!(entry.fixed_version, None),
            }
        }
    }
    for problem in &problems {
        assert_eq!(problem.file, "cve_data_photon5.0.json");
    }
});
