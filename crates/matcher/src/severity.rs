//! Choosing one severity for a finding from every source's statements.
//!
//! The rule, first match wins (the README has it as a table):
//!
//! | step | rating | `severity_source` |
//! |---|---|---|
//! | 1 | the distribution's own rating, from a distribution record that reported the package affected | the statement's source (`osv:Ubuntu/Ubuntu`, ...) |
//! | 2 | NVD's own metric (`type: Primary`), newest CVSS version first: v4.0, v3.1, v3.0, v2 | `nvd` |
//! | 3 | the CNA's (or an ADP's) metric (`type: Secondary`), same order | `nvd:cna:<source>` (`nvd:cna:secalert@redhat.com`) |
//! | 4 | the advisory's own rating (GHSA's `HIGH`, `MODERATE`, ...; else its CVSS, newest version first) | `ghsa` for GHSA records, else the record's source (`osv:crates.io`) |
//! | 5 | none | `null`, severity `unknown` |
//!
//! The severity of a CVSS metric is that metric's own `baseSeverity` (from its score, on
//! the scale of its CVSS version, only when it has none). `cvss_score` is the chosen
//! metric's base score; when a vendor rating was chosen (or none), the first score in the
//! order of steps 2 to 4. NVD metrics stored before the metric type was kept count as
//! Primary when their source is `nvd@nist.gov`, else as Secondary.

use std::collections::BTreeSet;

use portcullis_vulndb::{Severity as Statement, SeverityKind, Vulnerability};

use crate::finding::Severity;

/// The source name of NVD records in the database.
const NVD: &str = "nvd";
/// NVD's own source identifier.
const NVD_SELF: &str = "nvd@nist.gov";

/// The chosen severity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chosen {
    pub severity: Severity,
    pub source: Option<String>,
    pub cvss_score: Option<f64>,
}

/// CVSS versions, newest first (lower rank is preferred).
fn version_rank(statement: &Statement) -> u8 {
    let vector = statement.vector.as_deref().unwrap_or("");
    match statement.kind {
        SeverityKind::CvssV4 => 0,
        SeverityKind::CvssV3 if vector.starts_with("CVSS:3.0") => 2,
        SeverityKind::CvssV3 => 1,
        SeverityKind::CvssV2 => 3,
        SeverityKind::Vendor => 4,
    }
}

fn v2_severity(score: f64) -> Option<Severity> {
    if !(0.0..=10.0).contains(&score) {
        return None;
    }
    Some(if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    })
}

fn valid_score(statement: &Statement) -> Option<f64> {
    statement
        .score
        .filter(|x| x.is_finite() && (0.0..=10.0).contains(x))
}

/// A CVSS statement's severity: its own rating, else one from its score.
fn cvss_severity(statement: &Statement) -> Option<Severity> {
    let own = statement
        .rating
        .as_deref()
        .and_then(Severity::from_rating)
        .filter(|s| *s != Severity::Unknown);
    own.or_else(|| {
        let score = valid_score(statement)?;
        if statement.kind == SeverityKind::CvssV2 {
            v2_severity(score)
        } else {
            Severity::from_cvss_score(score)
        }
    })
}

fn vendor_rating(statement: &Statement) -> Option<Severity> {
    if statement.kind != SeverityKind::Vendor {
        return None;
    }
    statement
        .rating
        .as_deref()
        .and_then(Severity::from_rating)
        .filter(|s| *s != Severity::Unknown)
}

fn statement_source(statement: &Statement, record: &Vulnerability) -> String {
    if statement.source.is_empty() {
        record.source.clone()
    } else {
        statement.source.clone()
    }
}

/// Whether an NVD metric is NVD's own (Primary).
fn is_primary(statement: &Statement) -> bool {
    match statement.metric_type.as_deref() {
        Some(kind) => kind.eq_ignore_ascii_case("Primary"),
        None => statement.source == NVD_SELF,
    }
}

/// The CVSS statements of `records` that satisfy `keep`, newest version first (stable:
/// the stored order within one version).
fn cvss_in_order(
    records: &[Vulnerability],
    keep: impl Fn(&Vulnerability, &Statement) -> bool,
) -> Vec<(&Vulnerability, &Statement)> {
    let mut out: Vec<(&Vulnerability, &Statement)> = records
        .iter()
        .flat_map(|r| r.severities.iter().map(move |s| (r, s)))
        .filter(|(r, s)| s.kind != SeverityKind::Vendor && keep(r, s))
        .collect();
    out.sort_by_key(|(_, s)| version_rank(s));
    out
}

/// Who a step-4 rating is credited to: `ghsa` for GitHub's advisories.
fn advisory_source(statement: &Statement, record: &Vulnerability) -> String {
    if record.id.starts_with("GHSA-") {
        "ghsa".to_owned()
    } else {
        statement_source(statement, record)
    }
}

/// Choose from `records`; `distro_sources` are the sources of distribution entries that
/// reported the package affected.
pub(crate) fn choose(records: &[Vulnerability], distro_sources: &BTreeSet<&str>) -> Chosen {
    let nvd = |r: &Vulnerability| r.source == NVD;
    let primary = cvss_in_order(records, |r, s| nvd(r) && is_primary(s));
    let secondary = cvss_in_order(records, |r, s| nvd(r) && !is_primary(s));
    let others: Vec<&Vulnerability> = records
        .iter()
        .filter(|r| !nvd(r) && !distro_sources.contains(r.source.as_str()))
        .collect();
    let other_cvss = cvss_in_order(records, |r, _| {
        !nvd(r) && !distro_sources.contains(r.source.as_str())
    });
    let first_score = primary
        .iter()
        .chain(&secondary)
        .chain(&other_cvss)
        .find_map(|(_, s)| valid_score(s));
    // 1. The distribution's own rating.
    let distro = records
        .iter()
        .filter(|r| distro_sources.contains(r.source.as_str()))
        .flat_map(|r| r.severities.iter().map(move |s| (r, s)))
        .find_map(|(r, s)| vendor_rating(s).map(|rating| (rating, statement_source(s, r))));
    if let Some((severity, source)) = distro {
        return Chosen {
            severity,
            source: Some(source),
            cvss_score: first_score,
        };
    }
    // 2. and 3. NVD's own metric, then the CNA's.
    let nvd_steps: [(&[(&Vulnerability, &Statement)], bool); 2] =
        [(&primary, true), (&secondary, false)];
    for (metrics, is_nvd_own) in nvd_steps {
        for (_, statement) in metrics {
            if let Some(severity) = cvss_severity(statement) {
                let source = if is_nvd_own {
                    NVD.to_owned()
                } else {
                    format!("nvd:cna:{}", statement.source)
                };
                return Chosen {
                    severity,
                    source: Some(source),
                    cvss_score: valid_score(statement).or(first_score),
                };
            }
        }
    }
    // 4. The advisory's own rating: a vendor rating, else its CVSS.
    let vendor = others
        .iter()
        .flat_map(|r| r.severities.iter().map(move |s| (*r, s)))
        .find_map(|(r, s)| vendor_rating(s).map(|rating| (rating, advisory_source(s, r))));
    if let Some((severity, source)) = vendor {
        return Chosen {
            severity,
            source: Some(source),
            cvss_score: first_score,
        };
    }
    for (record, statement) in &other_cvss {
        if let Some(severity) = cvss_severity(statement) {
            return Chosen {
                severity,
                source: Some(advisory_source(statement, record)),
                cvss_score: valid_score(statement).or(first_score),
            };
        }
    }
    Chosen {
        severity: Severity::Unknown,
        source: None,
        cvss_score: first_score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(source: &str, severities: Vec<Statement>) -> Vulnerability {
        let mut v = Vulnerability::new("CVE-2024-1", source);
        v.severities = severities;
        v
    }

    fn metric(source: &str, kind: &str, vector: &str, rating: Option<&str>) -> Statement {
        let mut s = Statement::from_vector(source, vector);
        s.metric_type = Some(kind.to_owned());
        s.rating = rating.map(str::to_owned);
        s
    }

    const V31_HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    const V31_MEDIUM: &str = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H";
    const V30_LOW: &str = "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N";
    const V2: &str = "AV:N/AC:L/Au:N/C:P/I:P/A:P";

    #[test]
    fn distribution_first_then_nvd_primary() {
        let nvd = record(
            "nvd",
            vec![
                metric("nvd@nist.gov", "Primary", V2, Some("HIGH")),
                metric("cna@x", "Secondary", V31_HIGH, Some("CRITICAL")),
                metric("nvd@nist.gov", "Primary", V31_MEDIUM, Some("MEDIUM")),
            ],
        );
        let distro = record("debian-oval:12", vec![Statement::vendor("debian", "low")]);
        let sources: BTreeSet<&str> = ["debian-oval:12"].into();
        let c = choose(&[distro.clone(), nvd.clone()], &sources);
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::Low, Some("debian"), Some(5.5))
        );
        // Without it, NVD's own v3.1 statement over its v2 and over the CNA's 9.8.
        let c = choose(&[distro, nvd], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::Medium, Some("nvd"), Some(5.5))
        );
    }

    #[test]
    fn primary_of_any_version_beats_secondary() {
        let nvd = record(
            "nvd",
            vec![
                metric("cna@x", "Secondary", V31_HIGH, Some("CRITICAL")),
                metric("nvd@nist.gov", "Primary", V2, Some("HIGH")),
            ],
        );
        let c = choose(&[nvd], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::High, Some("nvd"), Some(7.5))
        );
    }

    #[test]
    fn v31_before_v30_and_the_metric_s_own_rating() {
        // The stored rating wins over the score's (a record whose CNA rated 9.8 "HIGH").
        let nvd = record(
            "nvd",
            vec![
                metric("cna@x", "Secondary", V30_LOW, Some("LOW")),
                metric("cna@y", "Secondary", V31_HIGH, Some("HIGH")),
            ],
        );
        let c = choose(&[nvd], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::High, Some("nvd:cna:cna@y"), Some(9.8))
        );
    }

    #[test]
    fn advisory_rating_last() {
        let mut ghsa = record(
            "osv:PyPI",
            vec![
                Statement::from_vector("osv:PyPI", V31_HIGH),
                Statement::vendor("osv:PyPI", "MODERATE"),
            ],
        );
        ghsa.id = "GHSA-xxxx-yyyy-zzzz".into();
        let c = choose(std::slice::from_ref(&ghsa), &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::Medium, Some("ghsa"), Some(9.8))
        );
        // NVD still comes first.
        let nvd = record(
            "nvd",
            vec![metric(
                "nvd@nist.gov",
                "Primary",
                V31_MEDIUM,
                Some("MEDIUM"),
            )],
        );
        let c = choose(&[ghsa, nvd], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref()),
            (Severity::Medium, Some("nvd"))
        );
        // A RustSec CVSS alone.
        let rustsec = record(
            "osv:crates.io",
            vec![Statement::from_vector("osv:crates.io", V31_HIGH)],
        );
        let c = choose(&[rustsec], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref()),
            (Severity::Critical, Some("osv:crates.io"))
        );
    }

    #[test]
    fn old_nvd_statements_without_a_type() {
        // Stored before the type was kept: nvd@nist.gov is Primary, anything else Secondary.
        let nvd = record(
            "nvd",
            vec![
                Statement::from_vector("cna@x", V31_HIGH),
                Statement::from_vector("nvd@nist.gov", V2),
            ],
        );
        let c = choose(&[nvd], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref()),
            (Severity::High, Some("nvd"))
        );
        let c = choose(&[], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source, c.cvss_score),
            (Severity::Unknown, None, None)
        );
    }
}
