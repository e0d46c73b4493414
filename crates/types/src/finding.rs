//! The [`Finding`] type: one vulnerability affecting one installed package.

use std::cmp::Ordering;
use std::fmt;

use crate::package::Ecosystem;
use serde::{Deserialize, Serialize};

/// How bad a vulnerability is, in increasing order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No rating is known.
    #[default]
    Unknown,
    /// Negligible (Debian's `unimportant`, Ubuntu's `negligible`).
    Negligible,
    /// Low.
    Low,
    /// Medium (also `moderate`).
    Medium,
    /// High (also `important`).
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name (`critical`, ...), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Negligible => "negligible",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parse a rating as vendors write it, case-insensitively: the six names, plus
    /// `moderate` (medium), `important` (high), `unimportant` / `none` (negligible).
    /// `None` for anything else.
    pub fn from_rating(rating: &str) -> Option<Self> {
        let lower = rating.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "unknown" | "not yet assigned" => Self::Unknown,
            "negligible" | "unimportant" | "none" => Self::Negligible,
            "low" => Self::Low,
            "medium" | "moderate" => Self::Medium,
            "high" | "important" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    /// The CVSS v3/v4 qualitative rating of a base score (`0.0` is negligible, as CVSS
    /// calls it "none"). `None` for scores outside 0..=10 or NaN.
    pub fn from_cvss_score(score: f64) -> Option<Self> {
        if !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score >= 0.1 {
            Self::Low
        } else {
            Self::Negligible
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a fix exists for a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// A fixed version exists ([`Finding::fixed_version`]).
    Fixed,
    /// No fix exists yet.
    NotFixed,
    /// The distribution decided not to fix it.
    WontFix,
}

impl FindingStatus {
    /// The serialised name (`fixed`, `not_fixed`, `wont_fix`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::NotFixed => "not_fixed",
            Self::WontFix => "wont_fix",
        }
    }
}

/// The installed package a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FindingPackage {
    /// The package name (binary package for distributions).
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The package type (`apk`, `deb`, `python`, ...).
    #[serde(rename = "type")]
    pub ecosystem: Ecosystem,
    /// The source package it was built from (apk origin, dpkg source), when known.
    pub source_name: Option<String>,
    /// The file the package was found in.
    pub location: String,
    /// The Package URL, to link the finding to an SBOM component.
    pub purl: String,
}

/// One vulnerability affecting one installed package, with every source's view merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The canonical id: the CVE when the flaw has exactly one, else the record's own id.
    /// A distribution advisory naming CVEs (DSA, ALSA, USN, ...) is reported under each of
    /// its CVEs, never under its own id.
    pub id: String,
    /// Every other id of the same flaw (GHSA, PYSEC, GO, RUSTSEC, ...), and the distribution
    /// advisories that fix it, sorted.
    pub aliases: Vec<String>,
    /// The affected package.
    pub package: FindingPackage,
    /// The version(s) that fix it; `None` unless `status` is `fixed`.
    pub fixed_version: Option<String>,
    /// Whether a fix exists.
    pub status: FindingStatus,
    /// The chosen severity.
    pub severity: Severity,
    /// Where the severity came from: `alpine-secdb`, `debian-oval:12`, `nvd@nist.gov`
    /// (`CVSS_V3`), ...; `None` when unknown.
    pub severity_source: Option<String>,
    /// The best CVSS base score known for the flaw, if any.
    pub cvss_score: Option<f64>,
    /// A one-line summary, when a source has one.
    pub summary: Option<String>,
    /// When the flaw was first published (RFC 3339), the earliest date any source gives.
    pub published: Option<String>,
    /// The advisory ecosystem the match was made in (`Alpine:v3.9`, `PyPI`, ...).
    pub advisory_ecosystem: String,
    /// The vulnerability sources that reported this package affected (`alpine-secdb:v3.9/main`,
    /// `osv:PyPI`, ...), sorted.
    pub sources: Vec<String>,
    /// The CISA KEV entry of a CVE this finding carries (its id, an alias or a CVE the
    /// advisory lists as related), when one is known to be exploited.
    pub kev: Option<FindingKev>,
    /// The highest EPSS score among the CVEs this finding carries, when any is scored.
    pub epss: Option<FindingEpss>,
}

/// A finding's entry in CISA's Known Exploited Vulnerabilities catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingKev {
    /// The CVE id of the entry (the finding's id, an alias or a related CVE).
    pub cve: String,
    /// When CISA added it (`YYYY-MM-DD`).
    pub date_added: String,
    /// CISA's remediation due date (`YYYY-MM-DD`).
    pub due_date: String,
    /// `Known` or `Unknown`, as CISA writes it.
    pub known_ransomware_use: String,
}

/// A finding's EPSS score (FIRST's probability of exploitation in the next 30 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEpss {
    /// The CVE id the score is for.
    pub cve: String,
    /// The probability, in [0, 1].
    pub score: f64,
    /// Its percentile among all scored CVEs, in [0, 1].
    pub percentile: f64,
    /// The date of the scores (`YYYY-MM-DD`), when known.
    pub date: Option<String>,
}

impl Finding {
    /// True when `id` is this finding's id or one of its aliases.
    pub fn has_id(&self, id: &str) -> bool {
        self.id == id || self.aliases.iter().any(|alias| alias == id)
    }

    /// The output order: package (ecosystem, name, version, location), then severity
    /// (highest first), then id.
    pub fn output_cmp(&self, other: &Self) -> Ordering {
        let key = |f: &Self| {
            (
                f.package.ecosystem,
                f.package.name.clone(),
                f.package.version.clone(),
                f.package.location.clone(),
            )
        };
        key(self)
            .cmp(&key(other))
            .then_with(|| other.severity.cmp(&self.severity))
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Sort findings into their output order (see [`Finding::output_cmp`]).
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(Finding::output_cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Unknown < Severity::Negligible);
        assert!(Severity::High < Severity::Critical);
        assert_eq!(Severity::from_rating("Moderate"), Some(Severity::Medium));
        assert_eq!(Severity::from_rating("IMPORTANT"), Some(Severity::High));
        assert_eq!(
            Severity::from_rating("unimportant"),
            Some(Severity::Negligible)
        );
        assert_eq!(Severity::from_rating("bogus"), None);
        assert_eq!(Severity::from_cvss_score(9.8), Some(Severity::Critical));
        assert_eq!(Severity::from_cvss_score(7.0), Some(Severity::High));
        assert_eq!(Severity::from_cvss_score(6.9), Some(Severity::Medium));
        assert_eq!(Severity::from_cvss_score(0.1), Some(Severity::Low));
        assert_eq!(Severity::from_cvss_score(0.0), Some(Severity::Negligible));
        assert_eq!(Severity::from_cvss_score(f64::NAN), None);
        assert_eq!(Severity::from_cvss_score(11.0), None);
        for s in Severity::ALL {
            assert_eq!(Severity::from_rating(s.as_str()), Some(s));
        }
    }
}
