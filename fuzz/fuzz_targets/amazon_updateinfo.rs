#![no_main]
//! The Amazon Linux `updateinfo.xml` parser never panics; what it accepts is one source
//! per release (`alas:<release>`), ALAS records whose CVEs are sorted unique CVE ids, each
//! entry fixed at an `EPOCH:VERSION-RELEASE` in that release's ecosystem, and every
//! problem names the file.

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::FixStatus;
use portcullis_vulndb::import::parse_amazon_updateinfo;

fuzz_target!(|data: &[u8]| {
    let Ok((sources, problems)) = parse_amazon_updateinfo("updateinfo.xml", data) else {
        return;
    };
    for (source, records) in &sources {
        let release = source.strip_prefix("alas:").expect("source name");
        for record in records {
            assert!(record.vuln.id.starts_with("ALAS"));
            let mut related = record.vuln.related.clone();
            related.sort();
            related.dedup();
            assert_eq!(related, record.vuln.related);
            for entry in &record.affected {
                assert_eq!(entry.ecosystem, format!("Amazon Linux:{release}"));
                assert_eq!(entry.status, FixStatus::Fixed);
                let fixed = entry.fixed_version.as_deref().expect("fixed version");
                assert!(fixed.contains(':') && fixed.contains('-'), "{fixed}");
            }
        }
    }
    for problem in &problems {
        assert_eq!(problem.file, "updateinfo.xml");
    }
});
