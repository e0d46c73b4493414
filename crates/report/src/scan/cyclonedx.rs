//! CycloneDX 1.6 JSON of a scan: the SBOM's BOM ([`crate::sbom::cyclonedx`]: image, OS,
//! components, dependencies) plus `vulnerabilities`, one per vulnerability id (sorted):
//! - `id`, and `source` naming who publishes that id (NVD, GitHub, OSV) with its page;
//! - `references`: the aliases;
//! - `ratings`: the chosen severity with its source, and the CVSS score (in the same
//!   rating when the score gives that severity, else in a second one). The finding does not
//!   say which CVSS version the score is, so the method is `other`;
//! - `description` (the summary), `published`, `advisories` (the id's page);
//! - `recommendation`: which version fixes which package;
//! - `analysis` when some affected package has no fix: `will_not_fix` when the distribution
//!   said so, and a detail naming the packages;
//! - `affects`: each affected component by its `bom-ref`, with the installed version
//!   `affected` and the fixed version `unaffected`;
//! - `properties`: exploitation data, when known: `portcullis:kev:cve`,
//!   `portcullis:kev:dateAdded`, `portcullis:kev:dueDate`,
//!   `portcullis:kev:knownRansomwareCampaignUse` (CISA KEV) and `portcullis:epss:cve`,
//!   `portcullis:epss:score`, `portcullis:epss:percentile`, `portcullis:epss:date` (FIRST
//!   EPSS; a probability is not a severity, so it is no `rating`).
//!
//! The serial number is derived from the SBOM's content hash and the vulnerabilities, so the
//! same scan always gets the same serial, different from the plain SBOM's.

use std::collections::BTreeMap;
use std::io::Write;

use portcullis_types::{Finding, FindingStatus, ScanResult, Severity};
use serde::Serialize;

use super::{advisory_source, cvss_score, package_label, sorted_findings};
use crate::error::{Error, Result};
use crate::ids;
use crate::sbom::cyclonedx::{self as sbom_cdx, Bom, Property};
use crate::sbom::{Sbom, write_json};
use crate::timestamp::Timestamp;

/// A CycloneDX 1.6 BOM with vulnerabilities.
#[derive(Debug, Serialize)]
pub struct VulnerabilityBom {
    /// The SBOM part.
    #[serde(flatten)]
    pub bom: Bom,
    /// One entry per vulnerability id.
    pub vulnerabilities: Vec<Vulnerability>,
}

/// A `vulnerabilities` entry.
#[derive(Debug, Serialize)]
pub struct Vulnerability {
    /// `vulnerability:<id>`.
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    /// The id.
    pub id: String,
    /// Who publishes the id.
    pub source: Source,
    /// Aliases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Severity ratings.
    pub ratings: Vec<Rating>,
    /// The summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which version fixes which package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    /// The id's page.
    pub advisories: Vec<Advisory>,
    /// When the flaw was first published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// For packages without a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// The affected components.
    pub affects: Vec<Affect>,
    /// KEV and EPSS data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// `source` of a vulnerability or rating.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// Name.
    pub name: String,
    /// Page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An alias.
#[derive(Debug, Serialize)]
pub struct Reference {
    /// The alias.
    pub id: String,
    /// Who publishes it.
    pub source: Source,
}

/// A rating.
#[derive(Debug, PartialEq, Serialize)]
pub struct Rating {
    /// Where the rating came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceName>,
    /// CVSS base score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// CycloneDX severity.
    pub severity: &'static str,
    /// Always `other`: the CVSS version is not known.
    pub method: &'static str,
}

/// A rating's source, by name only.
#[derive(Debug, PartialEq, Serialize)]
pub struct SourceName {
    /// Name (`alpine-secdb`, `nvd@nist.gov`).
    pub name: String,
}

/// An advisory.
#[derive(Debug, Serialize)]
pub struct Advisory {
    /// Title.
    pub title: String,
    /// URL.
    pub url: String,
}

/// `analysis`.
#[derive(Debug, Serialize)]
pub struct Analysis {
    /// `will_not_fix` when every package without a fix will not get one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<&'static str>,
    /// Which packages have no fix.
    pub detail: String,
}

/// An `affects` entry.
#[derive(Debug, Serialize)]
pub struct Affect {
    /// The component's `bom-ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Installed version (affected) and fixed version (unaffected).
    pub versions: Vec<AffectedVersion>,
}

/// A version and its status.
#[derive(Debug, PartialEq, Serialize)]
pub struct AffectedVersion {
    /// The version.
    pub version: String,
    /// `affected` or `unaffected`.
    pub status: &'static str,
}

/// The CycloneDX name of a severity.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Negligible => "info",
        Severity::Unknown => "unknown",
    }
}

/// Component `bom-ref`s by (purl, location), from the SBOM's components.
fn component_refs(bom: &Bom) -> BTreeMap<(&str, &str), &str> {
    let mut refs = BTreeMap::new();
    for c in &bom.components {
        let (Some(purl), Some(bom_ref)) = (c.purl.as_deref(), c.bom_ref.as_deref()) else {
            continue;
        };
        let location = c
            .properties
            .iter()
            .find(|p| p.name == "portcullis:location")
            .map_or("", |p| p.value.as_str());
        refs.entry((purl, location)).or_insert(bom_ref);
    }
    refs
}

fn ratings(findings: &[&Finding]) -> Vec<Rating> {
    let mut out: Vec<Rating> = Vec::new();
    for f in findings {
        let score = cvss_score(f);
        let source = f
            .severity_source
            .as_ref()
            .map(|name| SourceName { name: name.clone() });
        let same = score.and_then(Severity::from_cvss_score) == Some(f.severity);
        let mut add = |rating: Rating| {
            if !out.contains(&rating) {
                out.push(rating);
            }
        };
        add(Rating {
            source,
            score: score.filter(|_| same),
            severity: severity_name(f.severity),
            method: "other",
        });
        if let (Some(s), false) = (score, same) {
            add(Rating {
                source: None,
                score: Some(s),
                severity: severity_name(Severity::from_cvss_score(s).unwrap_or_default()),
                method: "other",
            });
        }
    }
    out
}

fn properties(findings: &[&Finding]) -> Vec<Property> {
    let mut out = Vec::new();
    if let Some(kev) = findings.iter().find_map(|f| f.kev.as_ref()) {
        out.push(property("portcullis:kev:cve", &kev.cve));
        out.push(property("portcullis:kev:dateAdded", &kev.date_added));
        out.push(property("portcullis:kev:dueDate", &kev.due_date));
        out.push(property(
            "portcullis:kev:knownRansomwareCampaignUse",
            &kev.known_ransomware_use,
        ));
    }
    let epss = findings
        .iter()
        .filter_map(|f| f.epss.as_ref())
        .filter(|e| e.score.is_finite() && e.percentile.is_finite())
        .max_by(|a, b| a.score.total_cmp(&b.score));
    if let Some(epss) = epss {
        out.push(property("portcullis:epss:cve", &epss.cve));
        out.push(property("portcullis:epss:score", &epss.score.to_string()));
        out.push(property(
            "portcullis:epss:percentile",
            &epss.percentile.to_string(),
        ));
        if let Some(date) = &epss.date {
            out.push(property("portcullis:epss:date", date));
        }
    }
    out
}

fn property(name: &'static str, value: &str) -> Property {
    Property {
        name,
        value: value.to_string(),
    }
}

fn recommendation(findings: &[&Finding]) -> Option<String> {
    let fixes: Vec<String> = findings
        .iter()
        .filter_map(|f| {
            let fixed = f.fixed_version.as_deref()?;
            (f.status == FindingStatus::Fixed)
                .then(|| format!("upgrade {} to {fixed}", f.package.name))
        })
        .collect();
    (!fixes.is_empty()).then(|| {
        let mut text = fixes.join("; ");
        if let Some(first) = text.get(..1) {
            text = first.to_ascii_uppercase() + text.get(1..).unwrap_or("");
        }
        text.push('.');
        text
    })
}

fn analysis(findings: &[&Finding]) -> Option<Analysis> {
    let unfixed: Vec<&&Finding> = findings
        .iter()
        .filter(|f| f.status != FindingStatus::Fixed)
        .collect();
    if unfixed.is_empty() {
        return None;
    }
    let parts: Vec<String> = unfixed
        .iter()
        .map(|f| match f.status {
            FindingStatus::WontFix => format!("{}: will not be fixed", package_label(f)),
            _ => format!("{}: no fixed version yet", package_label(f)),
        })
        .collect();
    let all_wont_fix = unfixed.iter().all(|f| f.status == FindingStatus::WontFix);
    Some(Analysis {
        response: if all_wont_fix {
            vec!["will_not_fix"]
        } else {
            Vec::new()
        },
        detail: format!("{}.", parts.join("; ")),
    })
}

fn affects(findings: &[&Finding], refs: &BTreeMap<(&str, &str), &str>) -> Vec<Affect> {
    let mut by_ref: BTreeMap<String, Vec<AffectedVersion>> = BTreeMap::new();
    for f in findings {
        let p = &f.package;
        let reference = refs
            .get(&(p.purl.as_str(), p.location.as_str()))
            .or_else(|| {
                refs.iter()
                    .find(|((purl, _), _)| *purl == p.purl)
                    .map(|(_, r)| r)
            })
            .map_or_else(|| p.purl.clone(), |r| r.to_string());
        let versions = by_ref.entry(reference).or_default();
        let mut add = |version: &str, status: &'static str| {
            let v = AffectedVersion {
                version: version.to_string(),
                status,
            };
            if !versions.contains(&v) {
                versions.push(v);
            }
        };
        add(&p.version, "affected");
        if let (FindingStatus::Fixed, Some(fixed)) = (f.status, f.fixed_version.as_deref()) {
            add(fixed, "unaffected");
        }
    }
    by_ref
        .into_iter()
        .map(|(reference, versions)| Affect {
            reference,
            versions,
        })
        .collect()
}

fn vulnerability(
    id: &str,
    findings: &[&Finding],
    refs: &BTreeMap<(&str, &str), &str>,
) -> Vulnerability {
    let (name, url) = advisory_source(id);
    let mut aliases: Vec<&str> = findings
        .iter()
        .flat_map(|f| f.aliases.iter().map(String::as_str))
        .filter(|a| *a != id)
        .collect();
    aliases.sort_unstable();
    aliases.dedup();
    let published = findings
        .iter()
        .filter_map(|f| f.published.as_deref().and_then(Timestamp::parse_rfc3339))
        .min()
        .map(Timestamp::to_rfc3339);
    Vulnerability {
        bom_ref: format!("vulnerability:{id}"),
        id: id.to_string(),
        source: Source {
            name: name.to_string(),
            url: Some(url.clone()),
        },
        references: aliases
            .into_iter()
            .map(|alias| {
                let (name, url) = advisory_source(alias);
                Reference {
                    id: alias.to_string(),
                    source: Source {
                        name: name.to_string(),
                        url: Some(url),
                    },
                }
            })
            .collect(),
        ratings: ratings(findings),
        description: findings.iter().find_map(|f| f.summary.clone()),
        recommendation: recommendation(findings),
        advisories: vec![Advisory {
            title: format!("{id} ({name})"),
            url,
        }],
        published,
        analysis: analysis(findings),
        affects: affects(findings, refs),
        properties: properties(findings),
    }
}

/// The BOM with vulnerabilities for `result`, timed by [`Timestamp::for_image`].
pub fn bom(result: &ScanResult) -> Result<VulnerabilityBom> {
    bom_with(result, &super::sbom(result))
}

/// The BOM with vulnerabilities for `result`, with the SBOM part (tool, time, packages)
/// taken from `sbom`.
pub fn bom_with(result: &ScanResult, sbom: &Sbom<'_>) -> Result<VulnerabilityBom> {
    let mut bom = sbom_cdx::bom(sbom)?;
    let findings = sorted_findings(result);
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &findings {
        by_id.entry(f.id.as_str()).or_default().push(f);
    }
    let vulnerabilities: Vec<Vulnerability> = {
        let refs = component_refs(&bom);
        by_id
            .iter()
            .map(|(id, fs)| vulnerability(id, fs, &refs))
            .collect()
    };
    let vulns_json = serde_json::to_vec(&vulnerabilities)
        .map_err(|e| Error::serialize("CycloneDX vulnerabilities", e))?;
    let hash = ids::content_hash(&[&sbom.content_hash()?, &vulns_json]);
    bom.serial_number = format!("urn:uuid:{}", ids::uuid_from_hash(&hash));
    Ok(VulnerabilityBom {
        bom,
        vulnerabilities,
    })
}

/// Write CycloneDX 1.6 JSON with vulnerabilities for `result`.
pub fn render(result: &ScanResult, out: &mut dyn Write) -> Result<()> {
    write_json(&bom(result)?, "CycloneDX BOM with vulnerabilities", out)
}
