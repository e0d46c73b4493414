//! Findings for the tests of the crates that judge, filter and report them.

use portcullis_types::{Ecosystem, Finding, FindingPackage, FindingStatus, Severity};

/// A finding of `id` on the Alpine package `name` `version` (read from
/// `lib/apk/db/installed`, purl `pkg:apk/alpine/<name>@<version>`), rated `severity`, fixed
/// in `fixed` when given, from the secdb of Alpine `release` (`v3.20`). Nothing else is
/// known: no aliases, source package, rating source, CVSS score, summary, date, KEV or EPSS
/// entry; tests set what they need on the result.
pub fn apk_finding(
    id: &str,
    name: &str,
    version: &str,
    severity: Severity,
    fixed: Option<&str>,
    release: &str,
) -> Finding {
    Finding {
        id: id.to_string(),
        aliases: Vec::new(),
        package: FindingPackage {
            name: name.to_string(),
            version: version.to_string(),
            ecosystem: Ecosystem::Apk,
            source_name: None,
            location: "lib/apk/db/installed".to_string(),
            purl: format!("pkg:apk/alpine/{name}@{version}"),
        },
        fixed_version: fixed.map(str::to_string),
        status: if fixed.is_some() {
            FindingStatus::Fixed
        } else {
            FindingStatus::NotFixed
        },
        severity,
        severity_source: None,
        cvss_score: None,
        summary: None,
        published: None,
        advisory_ecosystem: format!("Alpine:{release}"),
        sources: vec![format!("alpine-secdb:{release}/main")],
        kev: None,
        epss: None,
    }
}
