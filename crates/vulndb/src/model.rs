//! The data model: vulnerabilities, their severities, and the packages they affect.
//!
//! # Canonical ids and alias merging
//!
//! Every record keeps the id its source gave it (`GHSA-…`, `PYSEC-…`, `DSA-5380-1`,
//! `CVE-…`) and its aliases. Each record also gets a [`canonical_id`]: the record's own id
//! when it is a CVE, otherwise its single CVE alias when it has exactly one, otherwise its own
//! id. Records about one flaw from different sources (an Alpine secdb `CVE-…` entry, a Debian
//! OVAL definition, an OSV `GHSA-…` whose alias is that CVE, the NVD record) therefore share
//! one canonical id, and a consumer groups affected entries for one package by
//! `(canonical_id, ecosystem, package)` to report one flaw once. Records that name several
//! CVEs (a DSA fixing ten flaws) keep their own id: they are not one flaw.

use serde::{Deserialize, Serialize};

/// One vulnerability record from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// The id the source gave it (`CVE-2024-9143`, `GHSA-…`, `GO-2023-0001`, `DSA-5380-1`).
    pub id: String,
    /// The source it came from (`osv:Go`, `alpine-secdb:v3.20/main`, `debian-oval:12`, `nvd`).
    pub source: String,
    /// The id shared by every record of the same flaw; see the module docs.
    pub canonical_id: String,
    /// Other ids of the same flaw, as the source lists them (sorted, unique).
    pub aliases: Vec<String>,
    /// Ids of closely related flaws (OSV `related`), e.g. the CVE of a bundled library's flaw
    /// that a language advisory is about; not aliases, so they do not change the canonical id.
    #[serde(default)]
    pub related: Vec<String>,
    /// A one-line summary (or the start of the details when the source has no summary).
    pub summary: Option<String>,
    /// When it was published (as the source wrote it, RFC 3339 in practice).
    pub published: Option<String>,
    /// When it was last modified; `None` when the source gives none or a placeholder such
    /// as Go's `0001-01-01T00:00:00Z`.
    pub modified: Option<String>,
    /// When it was withdrawn; a withdrawn record must not produce findings.
    pub withdrawn: Option<String>,
    /// Severities, per source and scoring system.
    pub severities: Vec<Severity>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// CWE ids of the weakness (`CWE-787`), from NVD's `weaknesses` or OSV's
    /// `database_specific.cwe_ids`; sorted, unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwe_ids: Vec<String>,
}

impl Vulnerability {
    /// A new record with only its id and source set (canonical id computed from the id).
    pub fn new(id: impl Into<String>, source: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            canonical_id: canonical_id(&id, &[]),
            id,
            source: source.into(),
            aliases: Vec::new(),
            related: Vec::new(),
            summary: None,
            published: None,
            modified: None,
            withdrawn: None,
            severities: Vec::new(),
            cwe_ids: Vec::new(),
            references: Vec::new(),
        }
    }

    /// Recompute [`Vulnerability::canonical_id`] after changing the id or aliases.
    pub fn refresh_canonical_id(&mut self) {
        self.aliases.sort();
        self.aliases.dedup();
        self.aliases.retain(|alias| alias != &self.id);
        self.canonical_id = canonical_id(&self.id, &self.aliases);
    }
}

/// The canonical id of a record: its own id if it is a CVE, else its only CVE alias, else
/// its own id.
pub fn canonical_id(id: &str, aliases: &[String]) -> String {
    if is_cve(id) {
        return id.to_owned();
    }
    let mut cves = aliases.iter().filter(|alias| is_cve(alias));
    match (cves.next(), cves.next()) {
        (Some(only), None) => only.clone(),
        _ => id.to_owned(),
    }
}

fn is_cve(id: &str) -> bool {
    id.starts_with("CVE-")
}

/// The key a package name is stored and looked up under in `ecosystem`.
///
/// PyPI names are normalised as PEP 503 says (lower case, runs of `-`, `_`, `.` become one
/// `-`); every other ecosystem is case-sensitive and kept as is.
pub fn package_key(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" || ecosystem.starts_with("PyPI:") {
        let mut out = String::with_capacity(name.len());
        let mut in_sep = false;
        for c in name.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !in_sep {
                    out.push('-');
                }
                in_sep = true;
            } else {
                out.extend(c.to_lowercase());
                in_sep = false;
            }
        }
        out
    } else {
        name.to_owned()
    }
}

/// Which scoring system a [`Severity`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SeverityKind {
    /// CVSS version 2.
    #[serde(rename = "CVSS_V2")]
    CvssV2,
    /// CVSS version 3.0 or 3.1.
    #[serde(rename = "CVSS_V3")]
    CvssV3,
    /// CVSS version 4.0.
    #[serde(rename = "CVSS_V4")]
    CvssV4,
    /// A vendor's own rating (`HIGH`, `moderate`, Ubuntu's priorities…).
    #[serde(rename = "VENDOR")]
    Vendor,
}

impl SeverityKind {
    /// The kind of a CVSS vector, by its prefix (`CVSS:4.0/…`, `CVSS:3.1/…`, else v2).
    pub fn of_vector(vector: &str) -> Self {
        if vector.starts_with("CVSS:4") {
            Self::CvssV4
        } else if vector.starts_with("CVSS:3") {
            Self::CvssV3
        } else {
            Self::CvssV2
        }
    }

    /// The stored name (`CVSS_V3`, `VENDOR`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CvssV2 => "CVSS_V2",
            Self::CvssV3 => "CVSS_V3",
            Self::CvssV4 => "CVSS_V4",
            Self::Vendor => "VENDOR",
        }
    }

    /// Parse a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "CVSS_V2" => Self::CvssV2,
            "CVSS_V3" => Self::CvssV3,
            "CVSS_V4" => Self::CvssV4,
            "VENDOR" => Self::Vendor,
            _ => return None,
        })
    }
}

/// One severity statement about a vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// Who said it (`nvd@nist.gov`, `osv:crates.io`, `GHSA`, `alpine-secdb`, …).
    pub source: String,
    /// The scoring system.
    pub kind: SeverityKind,
    /// The CVSS vector, as given (`None` for vendor ratings).
    pub vector: Option<String>,
    /// The base score computed from the vector (or given by the source when no vector can be
    /// scored). `None` when it cannot be computed.
    pub score: Option<f64>,
    /// A textual rating (`HIGH`, `moderate`, …) for vendor ratings, or the one the source gave.
    pub rating: Option<String>,
    /// NVD's metric type: `Primary` (NVD's own analysis) or `Secondary` (the CNA's or an
    /// ADP's); `None` for other sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
}

impl Severity {
    /// A severity from a CVSS vector, its kind detected from the vector and its base score
    /// computed (v2 here, v3.0/v3.1/v4.0 with the `cvss` crate). A vector that cannot be
    /// scored is kept with no score.
    pub fn from_vector(source: impl Into<String>, vector: &str) -> Self {
        let vector = vector.trim();
        let kind = SeverityKind::of_vector(vector);
        let score = match kind {
            SeverityKind::CvssV2 => crate::cvss2::base_score(vector),
            _ => vector
                .parse::<cvss::Cvss>()
                .ok()
                .map(|parsed| parsed.score())
                .filter(|score| score.is_finite()),
        };
        Self {
            source: source.into(),
            kind,
            vector: Some(vector.to_owned()),
            score,
            rating: None,
            metric_type: None,
        }
    }

    /// A severity from a CVSS vector and the base score its source gave (in 0..=10), its kind
    /// detected from the vector; nothing is computed.
    pub fn scored(source: impl Into<String>, vector: &str, score: f64) -> Self {
        let vector = vector.trim();
        Self {
            source: source.into(),
            kind: SeverityKind::of_vector(vector),
            vector: Some(vector.to_owned()),
            score: Some(score),
            rating: None,
            metric_type: None,
        }
    }

    /// A vendor rating (`HIGH`, `moderate`).
    pub fn vendor(source: impl Into<String>, rating: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            kind: SeverityKind::Vendor,
            vector: None,
            score: None,
            rating: Some(rating.into()),
            metric_type: None,
        }
    }
}

/// The kind of an OSV range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RangeType {
    /// Versions ordered by the ecosystem's own scheme.
    #[serde(rename = "ECOSYSTEM")]
    Ecosystem,
    /// SemVer 2.0 versions.
    #[serde(rename = "SEMVER")]
    Semver,
    /// Git commits: kept, but they never match a package version.
    #[serde(rename = "GIT")]
    Git,
}

/// One event of an OSV range, in OSV's own JSON shape (`{"introduced": "0"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The first affected version (`0` means every version before the next event).
    Introduced(String),
    /// The first version no longer affected.
    Fixed(String),
    /// The last affected version (when no fix exists).
    LastAffected(String),
    /// An upper limit on the range (exclusive), for branches.
    Limit(String),
}

/// An OSV-style version range.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Range {
    /// How its versions are ordered.
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// The repository of a GIT range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The events, in the source's order.
    pub events: Vec<Event>,
}

/// Whether (and how) an affected package is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixStatus {
    /// A fixed version exists.
    Fixed,
    /// Affected and no fix yet.
    NotFixed,
    /// Affected and the distribution will not fix it (ignored, no-dsa, end of life).
    WontFix,
    /// The distribution states this package in this release is not affected (Alpine's fixed
    /// version `0`, Debian's `<not-affected>`). Never a finding; kept so a matcher can
    /// suppress other sources' claims.
    NotAffected,
}

impl FixStatus {
    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            Self::Fixed => 0,
            Self::NotFixed => 1,
            Self::WontFix => 2,
            Self::NotAffected => 3,
        }
    }

    /// From a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::Fixed,
            1 => Self::NotFixed,
            2 => Self::WontFix,
            3 => Self::NotAffected,
            _ => return None,
        })
    }
}

/// One package (in one ecosystem release) affected by one vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedEntry {
    /// The record's own id.
    pub vuln_id: String,
    /// The record's canonical id (group by it to merge sources).
    pub canonical_id: String,
    /// The source of the record.
    pub source: String,
    /// The ecosystem, with the release for distributions (`Alpine:v3.20`, `Debian:12`, `Go`).
    pub ecosystem: String,
    /// The package name (the source package for distributions), as the source wrote it.
    pub package: String,
    /// Affected version ranges.
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    pub versions: Vec<String>,
    /// Fix status.
    pub status: FixStatus,
    /// The fixed version(s) for display: the distinct `fixed` events of the non-GIT ranges,
    /// joined with `", "`; `None` when there is no fix.
    pub fixed_version: Option<String>,
    /// Free text the source attached (Alpine's trailing text after the id, Debian's notes).
    pub notes: Option<String>,
}

impl AffectedEntry {
    /// A distribution-style entry: affected below `fixed` (every version when `None`).
    pub fn distro(
        vuln: &Vulnerability,
        ecosystem: impl Into<String>,
        package: impl Into<String>,
        status: FixStatus,
        fixed: Option<String>,
    ) -> Self {
        let ranges = distro_ranges(status, fixed.as_deref());
        Self {
            vuln_id: vuln.id.clone(),
            canonical_id: vuln.canonical_id.clone(),
            source: vuln.source.clone(),
            ecosystem: ecosystem.into(),
            package: package.into(),
            ranges,
            versions: Vec::new(),
            status,
            fixed_version: fixed,
            notes: None,
        }
    }

    /// True when the ranges are exactly what [`AffectedEntry::distro`] derives from the
    /// status and fixed version (so the store need not keep them).
    pub(crate) fn has_derived_ranges(&self) -> bool {
        self.versions.is_empty()
            && self.ranges == distro_ranges(self.status, self.fixed_version.as_deref())
    }
}

/// The ranges of a distribution entry: `introduced 0, fixed X` when fixed, `introduced 0`
/// when affected without a fix, none when not affected.
pub(crate) fn distro_ranges(status: FixStatus, fixed: Option<&str>) -> Vec<Range> {
    let events = match (status, fixed) {
        (FixStatus::NotAffected, _) => return Vec::new(),
        (FixStatus::Fixed, Some(fixed)) => vec![
            Event::Introduced("0".to_owned()),
            Event::Fixed(fixed.to_owned()),
        ],
        _ => vec![Event::Introduced("0".to_owned())],
    };
    vec![Range {
        kind: RangeType::Ecosystem,
        repo: None,
        events,
    }]
}

/// One record as an importer produces it: the vulnerability and its affected packages.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The vulnerability.
    pub vuln: Vulnerability,
    /// The packages it affects (empty for enrichment-only sources such as NVD).
    pub affected: Vec<AffectedEntry>,
}

/// The CWE ids among `values` (`CWE-` and digits; NVD's `NVD-CWE-Other` and
/// `NVD-CWE-noinfo` are not weaknesses), sorted and unique.
pub fn cwe_ids<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = values
        .into_iter()
        .map(str::trim)
        .filter(|v| {
            v.strip_prefix("CWE-").is_some_and(|n| {
                !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit())
            })
        })
        .map(str::to_string)
        .collect();
    ids.sort_by_key(|id| id[4..].parse::<u32>().unwrap_or(u32::MAX));
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids() {
        assert_eq!(canonical_id("CVE-2024-1", &[]), "CVE-2024-1");
        let one = vec!["CVE-2024-2".to_owned(), "PYSEC-1".to_owned()];
        assert_eq!(canonical_id("GHSA-x", &one), "CVE-2024-2");
        let two = vec!["CVE-2024-2".to_owned(), "CVE-2024-3".to_owned()];
        assert_eq!(canonical_id("DSA-1-1", &two), "DSA-1-1");
        assert_eq!(canonical_id("GO-2020-1", &[]), "GO-2020-1");
    }

    #[test]
    fn pypi_names_normalise() {
        assert_eq!(
            package_key("PyPI", "Django_REST.framework"),
            "django-rest-framework"
        );
        assert_eq!(package_key("PyPI", "a--b"), "a-b");
        assert_eq!(package_key("Go", "GitHub.com/X"), "GitHub.com/X");
    }

    #[test]
    fn severity_scores() {
        let v3 = Severity::from_vector("nvd", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H");
        assert_eq!((v3.kind, v3.score), (SeverityKind::CvssV3, Some(5.5)));
        let v2 = Severity::from_vector("nvd", "AV:N/AC:L/Au:N/C:P/I:P/A:P");
        assert_eq!((v2.kind, v2.score), (SeverityKind::CvssV2, Some(7.5)));
        let v4 = Severity::from_vector(
            "x",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        );
        assert_eq!((v4.kind, v4.score), (SeverityKind::CvssV4, Some(9.3)));
        let bad = Severity::from_vector("x", "CVSS:3.1/garbage");
        assert_eq!((bad.kind, bad.score), (SeverityKind::CvssV3, None));
    }

    #[test]
    fn events_use_osv_json() {
        let r: Range = serde_json::from_str(
            r#"{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}"#,
        )
        .unwrap();
        assert_eq!(r.kind, RangeType::Semver);
        assert_eq!(r.events[1], Event::Fixed("1.2.3".into()));
    }

    #[test]
    fn cwe_ids_keep_only_weaknesses_in_numeric_order() {
        assert_eq!(
            cwe_ids([
                "CWE-787",
                "NVD-CWE-Other",
                "CWE-20",
                " CWE-787 ",
                "CWE-",
                "CWE-12a",
                "NVD-CWE-noinfo"
            ]),
            ["CWE-20", "CWE-787"]
        );
    }
}
