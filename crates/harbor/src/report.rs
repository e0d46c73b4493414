//! Reports: a scan mapped to Harbor's vulnerability report, or its packages to an SBOM
//! report.
//!
//! The mapping of one finding:
//!
//! | Harbor | Portcullis |
//! |---|---|
//! | `id` | the finding's id (the CVE when the flaw has exactly one) |
//! | `package`, `version` | the installed package's name and version |
//! | `fix_version` | the fixed version, only when a fix exists |
//! | `severity` | the chosen severity; `unknown` is `Unknown`, never `None` |
//! | `description` | the advisory's summary |
//! | `links` | the advisory's page, then the references the database holds (≤ 10) |
//! | `preferred_cvss` | NVD's own v3 and v2 metrics, else the CNA's, else the advisory's |
//! | `vendor_attributes` | severity source, CVSS score, fix status, aliases, purl, location, KEV and EPSS entries, `CVSS` by source as Harbor's console reads it |

use std::collections::HashMap;

use portcullis_catalog::{Os, Package};
use portcullis_matcher::{Finding, FindingStatus, Severity};
use portcullis_oci::ImageInfo;
use portcullis_report::sbom::{Sbom, SbomFormat};
use portcullis_scan::ScanResult;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Scanner;
use crate::media;
use crate::request::Artifact;

/// Most links listed for one vulnerability.
pub const MAX_LINKS: usize = 10;

/// What the database knows of a vulnerability beyond the finding itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// Reference URLs of the advisories (http and https only).
    pub references: Vec<String>,
    /// The preferred CVSS metrics.
    pub cvss: Cvss,
    /// CWE ids (`CWE-476`).
    pub cwe_ids: Vec<String>,
    /// Where `cvss` came from (`nvd`, `nvd:cna:<source>`, an advisory source).
    pub cvss_source: Option<String>,
}

/// Harbor's `CVSSDetails`: a v3 and a v2 score and vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cvss {
    /// The CVSS v3.x base score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_v3: Option<f64>,
    /// The CVSS v2 base score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_v2: Option<f64>,
    /// The CVSS v3.x vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_v3: Option<String>,
    /// The CVSS v2 vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_v2: Option<String>,
}

impl Cvss {
    fn is_empty(&self) -> bool {
        self.score_v3.is_none()
            && self.score_v2.is_none()
            && self.vector_v3.is_none()
            && self.vector_v2.is_none()
    }
}

/// Harbor's name of a severity. `Unknown` stays `Unknown`: an unrated flaw is never
/// reported as harmless.
pub fn harbor_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Unknown => "Unknown",
        Severity::Negligible => "Negligible",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// The page of an advisory id: NVD for CVEs, GitHub for GHSAs, OSV for the rest.
pub fn advisory_link(id: &str) -> String {
    if id.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{id}")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}

/// One vulnerability of the report.
#[derive(Debug, Clone, Serialize)]
pub struct VulnerabilityItem {
    /// The vulnerability id.
    pub id: String,
    /// The package name.
    pub package: String,
    /// The installed version.
    pub version: String,
    /// The fixed version, when a fix exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_version: Option<String>,
    /// Harbor's severity name.
    pub severity: &'static str,
    /// The summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Pages about it.
    pub links: Vec<String>,
    /// The preferred CVSS metrics, when any is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_cvss: Option<Cvss>,
    /// CWE ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cwe_ids: Vec<String>,
    /// Portcullis's own attributes.
    pub vendor_attributes: Map<String, Value>,
}

/// Harbor's vulnerability report.
#[derive(Debug, Clone, Serialize)]
pub struct VulnerabilityReport {
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// The artifact, as the request named it.
    pub artifact: Artifact,
    /// The scanner.
    pub scanner: Scanner,
    /// The highest severity of all vulnerabilities (`Unknown` when there is none).
    pub severity: &'static str,
    /// One item per (package, vulnerability), in the order of `portcullis scan`.
    pub vulnerabilities: Vec<VulnerabilityItem>,
}

fn item(finding: &Finding, details: Option<&Details>) -> VulnerabilityItem {
    let mut links = vec![advisory_link(&finding.id)];
    if let Some(details) = details {
        for reference in &details.references {
            if links.len() >= MAX_LINKS {
                break;
            }
            let web = reference.starts_with("https://") || reference.starts_with("http://");
            if web && !links.contains(reference) {
                links.push(reference.clone());
            }
        }
    }
    let mut vendor = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            vendor.insert(key.to_string(), value);
        }
    };
    put("severity_source", json!(finding.severity_source));
    put("cvss_score", json!(finding.cvss_score));
    put("status", json!(finding.status.as_str()));
    if !finding.aliases.is_empty() {
        put("aliases", json!(finding.aliases));
    }
    put("package_type", json!(finding.package.ecosystem));
    put("purl", json!(finding.package.purl));
    put("location", json!(finding.package.location));
    put("published", json!(finding.published));
    put("kev", json!(finding.kev));
    put("epss", json!(finding.epss));
    let cvss = details.map(|d| d.cvss.clone()).filter(|c| !c.is_empty());
    if let (Some(cvss), Some(source)) = (&cvss, details.and_then(|d| d.cvss_source.as_ref())) {
        let mut by_source = Map::new();
        let mut metric = Map::new();
        if let Some(s) = cvss.score_v3 {
            metric.insert("V3Score".into(), json!(s));
        }
        if let Some(v) = &cvss.vector_v3 {
            metric.insert("V3Vector".into(), json!(v));
        }
        if let Some(s) = cvss.score_v2 {
            metric.insert("V2Score".into(), json!(s));
        }
        if let Some(v) = &cvss.vector_v2 {
            metric.insert("V2Vector".into(), json!(v));
        }
        by_source.insert(source.clone(), Value::Object(metric));
        put("CVSS", Value::Object(by_source));
    }
    VulnerabilityItem {
        id: finding.id.clone(),
        package: finding.package.name.clone(),
        version: finding.package.version.clone(),
        fix_version: match finding.status {
            FindingStatus::Fixed => finding.fixed_version.clone(),
            FindingStatus::NotFixed | FindingStatus::WontFix => None,
        },
        severity: harbor_severity(finding.severity),
        description: finding.summary.clone(),
        links,
        preferred_cvss: cvss,
        cwe_ids: details.map(|d| d.cwe_ids.clone()).unwrap_or_default(),
        vendor_attributes: vendor,
    }
}

/// The vulnerability report of `result`; `details` by finding id (missing ones are fine).
pub fn vulnerability_report(
    result: &ScanResult,
    artifact: &Artifact,
    scanner: &Scanner,
    generated_at: &str,
    details: &HashMap<String, Details>,
) -> VulnerabilityReport {
    let highest = result
        .findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Unknown);
    VulnerabilityReport {
        generated_at: generated_at.to_string(),
        artifact: artifact.clone(),
        scanner: scanner.clone(),
        severity: harbor_severity(highest),
        vulnerabilities: result
            .findings
            .iter()
            .map(|f| item(f, details.get(&f.id)))
            .collect(),
    }
}

/// An SBOM format of the SBOM report, by its `sbom_media_type`.
pub fn sbom_format(media_type: &str) -> Option<SbomFormat> {
    if media::matches(media_type, media::SPDX_JSON) {
        Some(SbomFormat::Spdx)
    } else if media::matches(media_type, media::CYCLONEDX_JSON) {
        Some(SbomFormat::CycloneDx)
    } else {
        None
    }
}

/// The SBOM report of an image's packages in `format` (SPDX 2.3 or CycloneDX 1.6 JSON).
pub fn sbom_report(
    image: &ImageInfo,
    os: Option<&Os>,
    packages: &[Package],
    format: SbomFormat,
    artifact: &Artifact,
    scanner: &Scanner,
    generated_at: &str,
) -> Result<Value, portcullis_report::Error> {
    let sbom = Sbom::new(image, os, packages);
    let mut rendered = Vec::new();
    portcullis_report::sbom::render(&sbom, format, &mut rendered)?;
    let document: Value = serde_json::from_slice(&rendered).unwrap_or(Value::Null);
    let media_type = match format {
        SbomFormat::Spdx => media::SPDX_JSON,
        _ => media::CYCLONEDX_JSON,
    };
    Ok(json!({
        "generated_at": generated_at,
        "artifact": artifact,
        "scanner": scanner,
        "media_type": media_type,
        "sbom": document,
        "vendor_attributes": { "packages": packages.len() },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_testkit::findings::apk_finding;

    fn finding(id: &str, severity: Severity, fixed: Option<&str>) -> Finding {
        let mut finding = apk_finding(id, "musl", "1.1.20-r3", severity, fixed, "v3.9");
        finding.package.source_name = Some("musl".into());
        finding
    }

    #[test]
    fn every_severity_has_a_harbor_name_and_unknown_is_never_none() {
        let names: Vec<_> = Severity::ALL.iter().map(|s| harbor_severity(*s)).collect();
        assert_eq!(
            names,
            ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
        );
    }

    #[test]
    fn items_carry_fix_links_and_cvss() {
        let details = Details {
            references: vec![
                "https://www.openwall.com/lists/musl/2019/04/18/1".into(),
                "ftp://not.a.web.link".into(),
                "https://nvd.nist.gov/vuln/detail/CVE-2019-14697".into(),
            ],
            cvss: Cvss {
                score_v3: Some(9.8),
                vector_v3: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                ..Cvss::default()
            },
            cwe_ids: vec!["CWE-787".into()],
            cvss_source: Some("nvd".into()),
        };
        let f = finding("CVE-2019-14697", Severity::Critical, Some("1.1.20-r5"));
        let item = item(&f, Some(&details));
        let value = serde_json::to_value(&item).unwrap();
        assert_eq!(value["fix_version"], "1.1.20-r5");
        assert_eq!(value["severity"], "Critical");
        assert_eq!(
            value["links"],
            json!([
                "https://nvd.nist.gov/vuln/detail/CVE-2019-14697",
                "https://www.openwall.com/lists/musl/2019/04/18/1"
            ])
        );
        assert_eq!(value["preferred_cvss"]["score_v3"], 9.8);
        assert_eq!(value["cwe_ids"], json!(["CWE-787"]));
        assert_eq!(value["vendor_attributes"]["CVSS"]["nvd"]["V3Score"], 9.8);
        assert_eq!(value["vendor_attributes"]["status"], "fixed");
        let unfixed = serde_json::to_value(item_of("GHSA-xxxx-yyyy-zzzz")).unwrap();
        assert!(unfixed.get("fix_version").is_none());
        assert!(unfixed.get("preferred_cvss").is_none());
        assert_eq!(unfixed["severity"], "Unknown");
        assert_eq!(
            unfixed["links"],
            json!(["https://github.com/advisories/GHSA-xxxx-yyyy-zzzz"])
        );
    }

    fn item_of(id: &str) -> VulnerabilityItem {
        item(&finding(id, Severity::Unknown, None), None)
    }

    #[test]
    fn at_most_ten_links() {
        let details = Details {
            references: (0..30).map(|i| format!("https://e.example/{i}")).collect(),
            ..Details::default()
        };
        let f = finding("ALPINE-1", Severity::Low, None);
        assert_eq!(item(&f, Some(&details)).links.len(), MAX_LINKS);
    }
}
