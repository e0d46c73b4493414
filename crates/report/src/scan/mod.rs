//! Renderings of one scan result ([`ScanResult`]): [`ScanFormat::Table`] for people,
//! [`ScanFormat::Json`] (our own, stable, documented in the README), [`ScanFormat::Sarif`]
//! (SARIF 2.1.0 for GitHub code scanning) and [`ScanFormat::CycloneDx`] (1.6, the SBOM with
//! its `vulnerabilities`).
//!
//! Every rendering is deterministic: packages and findings are sorted (findings in
//! [`Finding::output_cmp`] order), and nothing random or wall-clock goes in.

pub mod cyclonedx;
pub mod json;
pub mod sarif;
pub mod table;

use std::io::Write;

use percent_encoding::utf8_percent_encode;
use portcullis_types::purl::NOT_UNRESERVED;
use portcullis_types::{Finding, ScanResult, Severity};

use crate::error::Result;
use crate::format::output_format;
use crate::sbom::Sbom;

output_format! {
    /// The scan output formats.
    pub enum ScanFormat ("scan") {
        /// A table for people, readable at 100 columns.
        Table => "table",
        /// Portcullis's own JSON (see [`json`]).
        Json => "json",
        /// SARIF 2.1.0, as GitHub code scanning accepts it.
        Sarif => "sarif",
        /// CycloneDX 1.6 JSON with `vulnerabilities`.
        CycloneDx => "cyclonedx",
    }
}

/// Render `result` as `format` to `out`.
pub fn render(result: &ScanResult, format: ScanFormat, out: &mut dyn Write) -> Result<()> {
    match format {
        ScanFormat::Table => table::render(result, out),
        ScanFormat::Json => json::render(result, out),
        ScanFormat::Sarif => sarif::render(result, out),
        ScanFormat::CycloneDx => cyclonedx::render(result, out),
    }
}

/// The stable JSON document of `result` (see [`json`]), as a value. Its keys are the same
/// as [`ScanFormat::Json`] writes; their order inside objects depends on `serde_json`.
pub fn to_json_value(result: &ScanResult) -> serde_json::Value {
    // Serialising our own structs to a value cannot fail: every map key is a string and
    // non-finite scores were already dropped.
    serde_json::to_value(json::document(result)).unwrap_or(serde_json::Value::Null)
}

/// The findings in output order ([`Finding::output_cmp`]), exact duplicates removed.
pub fn sorted_findings(result: &ScanResult) -> Vec<&Finding> {
    let mut sorted: Vec<&Finding> = result.findings.iter().collect();
    sorted.sort_by(|a, b| a.output_cmp(b));
    sorted.dedup_by(|a, b| a == b);
    sorted
}

/// The SBOM part of `result`: image, OS and packages.
pub fn sbom(result: &ScanResult) -> Sbom<'_> {
    Sbom::new(&result.image, result.os.as_ref(), &result.packages)
}

/// The finding's CVSS base score, when it is a number in 0..=10.
pub fn cvss_score(finding: &Finding) -> Option<f64> {
    finding
        .cvss_score
        .filter(|s| s.is_finite() && (0.0..=10.0).contains(s))
}

/// How many findings there are of each severity, highest first.
pub fn severity_counts(findings: &[&Finding]) -> [(Severity, usize); 6] {
    let mut counts = [
        (Severity::Critical, 0),
        (Severity::High, 0),
        (Severity::Medium, 0),
        (Severity::Low, 0),
        (Severity::Negligible, 0),
        (Severity::Unknown, 0),
    ];
    for f in findings {
        for (severity, count) in &mut counts {
            if *severity == f.severity {
                *count += 1;
            }
        }
    }
    counts
}

/// Who publishes a vulnerability id, and the page describing it: NVD for `CVE-`, the
/// GitHub Advisory Database for `GHSA-`, OSV for everything else.
pub fn advisory_source(id: &str) -> (&'static str, String) {
    let encoded = utf8_percent_encode(id, NOT_UNRESERVED);
    if id.starts_with("CVE-") {
        ("NVD", format!("https://nvd.nist.gov/vuln/detail/{encoded}"))
    } else if id.starts_with("GHSA-") {
        (
            "GitHub Advisory Database",
            format!("https://github.com/advisories/{encoded}"),
        )
    } else {
        ("OSV", format!("https://osv.dev/vulnerability/{encoded}"))
    }
}

/// `name version (type)` of the finding's package, for messages.
pub fn package_label(f: &Finding) -> String {
    format!(
        "{} {} ({})",
        f.package.name,
        f.package.version,
        f.package.ecosystem.purl_type()
    )
}

/// What the finding's fix status means, in words: `fixed in 1.2-r3`, `no fix yet`,
/// `will not be fixed`.
pub fn fix_phrase(finding: &Finding) -> String {
    use portcullis_types::FindingStatus;
    match (finding.status, finding.fixed_version.as_deref()) {
        (FindingStatus::Fixed, Some(v)) => format!("fixed in {v}"),
        (FindingStatus::Fixed, None) => "fixed (version unknown)".to_string(),
        (FindingStatus::NotFixed, _) => "no fix yet".to_string(),
        (FindingStatus::WontFix, _) => "will not be fixed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn format_names_round_trip() {
        for (format, name) in ScanFormat::ALL.iter().copied().zip(ScanFormat::NAMES) {
            assert_eq!(format.to_string(), *name);
            assert_eq!(name.parse::<ScanFormat>().unwrap(), format);
        }
        assert_eq!(" SARIF ".parse::<ScanFormat>().unwrap(), ScanFormat::Sarif);
        let err = "spdx".parse::<ScanFormat>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownFormat);
        assert!(err.to_string().contains("'spdx'"));
    }

    #[test]
    fn advisory_sources() {
        assert_eq!(
            advisory_source("CVE-2024-9143"),
            (
                "NVD",
                "https://nvd.nist.gov/vuln/detail/CVE-2024-9143".into()
            )
        );
        assert_eq!(
            advisory_source("GHSA-jfh8-c2jp-5v3q").1,
            "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q"
        );
        assert_eq!(
            advisory_source("PYSEC-2023/74 x"),
            (
                "OSV",
                "https://osv.dev/vulnerability/PYSEC-2023%2F74%20x".into()
            )
        );
    }
}
