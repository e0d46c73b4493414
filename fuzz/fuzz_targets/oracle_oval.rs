#![no_main]
//! The ELSA OVAL parser never panics; what it accepts is ELSA records (source
//! `oracle-oval`) whose CVEs are sorted unique CVE ids, each entry fixed in an `Oracle
//! Linux:<digits>` ecosystem, never at a Ksplice build, and every problem names the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::FixStatus;
use portcullis_vulndb::import::parse_oracle_oval;

fuzz_target!(|data: &[u8]| {
    let Ok((records, problems)) = parse_oracle_oval("elsa.xml", data) else {
        return;
    };
    for record in &records {
        assert_eq!(record.vuln.source, "oracle-oval");
        assert!(record.vuln.id.starts_with("ELSA-"));
        let mut related = record.vuln.related.clone();
        related.sort();
        related.dedup();
        assert_eq!(related, record.vuln.related);
        assert!(related.iter().all(|id| id.starts_with("CVE-")));
        for entry in &record.affected {
            let release = entry.ecosystem.strip_prefix("Oracle Linux:").expect("ecosystem");
            assert!(!release.is_empty() && release.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(entry.status, FixStatus::Fixed);
            let fixed = entry.fixed_version.as_deref().expect("fixed version");
            assert!(!fixed.to_ascii_lowercase().contains("ksplice"));
        }
    }
    for problem in &problems {
        assert_eq!(problem.file, "elsa.xml");
    }
});
