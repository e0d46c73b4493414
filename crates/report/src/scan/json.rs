//! Portcullis's own scan JSON, documented in the README and stable:
//!
//! ```text
//! {"image": {"reference", "digest"},
//!  "os": {...} | null, "os_ecosystem", "os_supported",
//!  "packages": [...],                       (as in the SBOM JSON)
//!  "vulnerabilities": [{"id", "aliases", "package": {"name", "version", "type",
//!                       "source_name", "location", "purl"}, "fixed_version", "status",
//!                       "severity", "severity_source", "cvss_score", "summary",
//!                       "published", "advisory_ecosystem", "sources",
//!                       "kev": {"cve", "date_added", "due_date", "known_ransomware_use"} | null,
//!                       "epss": {"cve", "score", "percentile", "date"} | null}],
//!  "policy": {"id", "final_action": "go|warn|stop",
//!             "results": [{"gate", "trigger", "action", "message"}]} | null,
//!  "database": {"built_at", "sources": [{"name", "records", "updated_at"}]},
//!  "summary": {"total", "critical", "high", "medium", "low", "negligible", "unknown",
//!              "fixable"},
//!  "warnings": [...],
//!  "errors": [...]}                         (what leaves the package list incomplete)
//! ```
//!
//! Keys are always present (`null` when unknown), in this order. New keys may be added;
//! none is renamed or removed.

use std::io::Write;

use portcullis_types::{
    DatabaseInfo, Decision, Finding, FindingEpss, FindingKev, FindingStatus, Os, ScanResult,
};
use serde::Serialize;

use super::{cvss_score, severity_counts, sorted_findings};
use crate::error::Result;
use crate::sbom::json::{ImageRef, PackageEntry};
use crate::sbom::write_json;

/// The document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// The image.
    pub image: ImageRef<'a>,
    /// The detected OS, as the catalog describes it.
    pub os: Option<&'a Os>,
    /// The advisory ecosystem of the OS packages (`Alpine:v3.20`).
    pub os_ecosystem: Option<&'a str>,
    /// Whether the database has vulnerability data for the OS.
    pub os_supported: bool,
    /// The packages, sorted, as in the SBOM JSON.
    pub packages: Vec<PackageEntry<'a>>,
    /// The findings, in output order.
    pub vulnerabilities: Vec<Vulnerability<'a>>,
    /// The policy decision; `null` when no policy ran.
    pub policy: Option<Policy<'a>>,
    /// The database the findings came from.
    pub database: Database<'a>,
    /// Counts.
    pub summary: Summary,
    /// What could not be read or evaluated.
    pub warnings: &'a [String],
    /// What leaves the package list incomplete (a package database not read completely);
    /// when not empty the image is not judgeable.
    pub errors: &'a [String],
}

/// One finding.
#[derive(Debug, Serialize)]
pub struct Vulnerability<'a> {
    /// The canonical id (the CVE when there is exactly one).
    pub id: &'a str,
    /// Other ids of the same flaw and the distribution advisories fixing it (DSA, ALSA,
    /// USN, ...), sorted.
    pub aliases: Vec<&'a str>,
    /// The affected package.
    pub package: AffectedPackage<'a>,
    /// The fixing version; `null` unless `status` is `fixed`.
    pub fixed_version: Option<&'a str>,
    /// `fixed`, `not_fixed` or `wont_fix`.
    pub status: &'static str,
    /// `critical`, `high`, `medium`, `low`, `negligible` or `unknown`.
    pub severity: &'static str,
    /// Where the severity came from.
    pub severity_source: Option<&'a str>,
    /// The best CVSS base score known.
    pub cvss_score: Option<f64>,
    /// A one-line summary.
    pub summary: Option<&'a str>,
    /// When the flaw was first published (RFC 3339).
    pub published: Option<&'a str>,
    /// The advisory ecosystem the match was made in (`Alpine:v3.9`, `PyPI`).
    pub advisory_ecosystem: &'a str,
    /// The vulnerability sources that reported the package affected, sorted.
    pub sources: Vec<&'a str>,
    /// The CISA KEV entry of a CVE the finding carries; `null` when none is listed.
    pub kev: Option<&'a FindingKev>,
    /// The highest EPSS score of the CVEs the finding carries; `null` when none is scored.
    pub epss: Option<&'a FindingEpss>,
}

/// The package a finding is about.
#[derive(Debug, Serialize)]
pub struct AffectedPackage<'a> {
    /// Name.
    pub name: &'a str,
    /// Installed version.
    pub version: &'a str,
    /// Ecosystem, as the purl type (the same `type` as in `packages`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Source package name.
    pub source_name: Option<&'a str>,
    /// File it was found in.
    pub location: &'a str,
    /// Package URL.
    pub purl: &'a str,
}

/// The policy decision.
#[derive(Debug, Serialize)]
pub struct Policy<'a> {
    /// The policy id.
    pub id: &'a str,
    /// `go`, `warn` or `stop`.
    pub final_action: &'static str,
    /// Every result, in the decision's order.
    pub results: Vec<PolicyResult<'a>>,
}

/// One rule result.
#[derive(Debug, Serialize)]
pub struct PolicyResult<'a> {
    /// The gate.
    pub gate: &'a str,
    /// The trigger.
    pub trigger: &'a str,
    /// `go`, `warn` or `stop`.
    pub action: &'static str,
    /// What triggered it.
    pub message: &'a str,
}

/// The database.
#[derive(Debug, Serialize)]
pub struct Database<'a> {
    /// When it was built (RFC 3339).
    pub built_at: Option<&'a str>,
    /// Its sources, sorted by name.
    pub sources: Vec<DatabaseSource<'a>>,
}

/// One database source.
#[derive(Debug, Serialize)]
pub struct DatabaseSource<'a> {
    /// Name (`alpine-secdb:v3.20/main`).
    pub name: &'a str,
    /// Record count.
    pub records: u64,
    /// Last update (RFC 3339).
    pub updated_at: &'a str,
}

/// Finding counts.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// All findings.
    pub total: usize,
    /// Critical.
    pub critical: usize,
    /// High.
    pub high: usize,
    /// Medium.
    pub medium: usize,
    /// Low.
    pub low: usize,
    /// Negligible.
    pub negligible: usize,
    /// Unknown severity.
    pub unknown: usize,
    /// Findings with a fixed version.
    pub fixable: usize,
}

impl<'a> Vulnerability<'a> {
    /// The entry for `f`.
    pub fn new(f: &'a Finding) -> Self {
        let mut aliases: Vec<&str> = f.aliases.iter().map(String::as_str).collect();
        aliases.sort_unstable();
        aliases.dedup();
        let mut sources: Vec<&str> = f.sources.iter().map(String::as_str).collect();
        sources.sort_unstable();
        sources.dedup();
        Self {
            id: &f.id,
            aliases,
            package: AffectedPackage {
                name: &f.package.name,
                version: &f.package.version,
                kind: f.package.ecosystem.purl_type(),
                source_name: f.package.source_name.as_deref(),
                location: &f.package.location,
                purl: &f.package.purl,
            },
            fixed_version: f.fixed_version.as_deref(),
            status: f.status.as_str(),
            severity: f.severity.as_str(),
            severity_source: f.severity_source.as_deref(),
            cvss_score: cvss_score(f),
            summary: f.summary.as_deref(),
            published: f.published.as_deref(),
            advisory_ecosystem: &f.advisory_ecosystem,
            sources,
            kev: f.kev.as_ref(),
            epss: f
                .epss
                .as_ref()
                .filter(|e| e.score.is_finite() && e.percentile.is_finite()),
        }
    }
}

fn policy(decision: &Decision) -> Policy<'_> {
    Policy {
        id: &decision.policy_id,
        final_action: decision.final_action.as_str(),
        results: decision
            .results
            .iter()
            .map(|r| PolicyResult {
                gate: &r.gate,
                trigger: &r.trigger,
                action: r.action.as_str(),
                message: &r.message,
            })
            .collect(),
    }
}

fn database(info: &DatabaseInfo) -> Database<'_> {
    let mut sources: Vec<DatabaseSource<'_>> = info
        .sources
        .iter()
        .map(|s| DatabaseSource {
            name: &s.name,
            records: s.records,
            updated_at: &s.updated_at,
        })
        .collect();
    sources
        .sort_by(|a, b| (a.name, a.updated_at, a.records).cmp(&(b.name, b.updated_at, b.records)));
    Database {
        built_at: info.built_at.as_deref(),
        sources,
    }
}

/// The counts of `findings`.
pub fn summary(findings: &[&Finding]) -> Summary {
    let [critical, high, medium, low, negligible, unknown] =
        severity_counts(findings).map(|(_, n)| n);
    Summary {
        total: findings.len(),
        critical,
        high,
        medium,
        low,
        negligible,
        unknown,
        fixable: findings
            .iter()
            .filter(|f| f.status == FindingStatus::Fixed)
            .count(),
    }
}

/// The document for `result`.
pub fn document(result: &ScanResult) -> Document<'_> {
    let findings = sorted_findings(result);
    Document {
        image: ImageRef {
            reference: &result.image.reference,
            digest: result.image.digest.as_ref().map(|d| d.as_str()),
        },
        os: result.os.as_ref(),
        os_ecosystem: result.os_ecosystem.as_deref(),
        os_supported: result.os_supported,
        packages: super::sbom(result)
            .sorted_packages()
            .into_iter()
            .map(PackageEntry::new)
            .collect(),
        summary: summary(&findings),
        vulnerabilities: findings.into_iter().map(Vulnerability::new).collect(),
        policy: result.decision.as_ref().map(policy),
        database: database(&result.database),
        warnings: &result.warnings,
        errors: &result.errors,
    }
}

/// Write our JSON for `result`.
pub fn render(result: &ScanResult, out: &mut dyn Write) -> Result<()> {
    write_json(&document(result), "scan JSON", out)
}
