//! Choosing one severity for a finding from every source's statements.
//!
//! Order: the distribution's own rating (a vendor rating in the record of a distribution
//! source that reported the package affected), then the best CVSS score of any record of the
//! flaw (the matched records and NVD's), then any other vendor rating (GHSA's `HIGH`, ...),
//! else unknown. "Best CVSS" is the newest CVSS version present (v4, v3, v2), NVD's own
//! (`nvd@nist.gov`) statement first, then the highest score. The CVSS v2 score maps with the
//! v2 scale (no critical). `cvss_score` is that best score whichever step chose the
//! severity.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use portcullis_vulndb::{Severity as Statement, SeverityKind, Vulnerability};

use crate::finding::Severity;

/// The chosen severity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chosen {
    pub severity: Severity,
    pub source: Option<String>,
    pub cvss_score: Option<f64>,
}

fn version_rank(kind: SeverityKind) -> u8 {
    match kind {
        SeverityKind::CvssV4 => 3,
        SeverityKind::CvssV3 => 2,
        SeverityKind::CvssV2 => 1,
        SeverityKind::Vendor => 0,
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

fn statement_source(statement: &Statement, record: &Vulnerability) -> String {
    if statement.source.is_empty() {
        record.source.clone()
    } else {
        statement.source.clone()
    }
}

/// Choose from `records`; `distro_sources` are the sources of distribution entries that
/// reported the package affected.
pub(crate) fn choose(records: &[Vulnerability], distro_sources: &BTreeSet<&str>) -> Chosen {
    let all = || {
        records
            .iter()
            .flat_map(|r| r.severities.iter().map(move |s| (r, s)))
    };
    let vendor = |(r, s): (&Vulnerability, &Statement)| {
        if s.kind != SeverityKind::Vendor {
            return None;
        }
        let rating = s.rating.as_deref().and_then(Severity::from_rating)?;
        (rating != Severity::Unknown).then(|| (rating, statement_source(s, r)))
    };
    let best_cvss = all()
        .filter(|(_, s)| s.kind != SeverityKind::Vendor)
        .filter_map(|(r, s)| {
            let score = s.score.filter(|x| (0.0..=10.0).contains(x))?;
            Some((r, s, score))
        })
        .max_by(|a, b| {
            version_rank(a.1.kind)
                .cmp(&version_rank(b.1.kind))
                .then_with(|| (a.1.source == "nvd@nist.gov").cmp(&(b.1.source == "nvd@nist.gov")))
                .then_with(|| a.2.partial_cmp(&b.2).unwrap_or(Ordering::Equal))
                // Deterministic among equals: the smaller source name wins.
                .then_with(|| b.1.source.cmp(&a.1.source))
        });
    let cvss_score = best_cvss.map(|(_, _, score)| score);
    let distro = all()
        .filter(|(r, _)| distro_sources.contains(r.source.as_str()))
        .find_map(vendor);
    if let Some((severity, source)) = distro {
        return Chosen {
            severity,
            source: Some(source),
            cvss_score,
        };
    }
    if let Some((r, s, score)) = best_cvss {
        let severity = if s.kind == SeverityKind::CvssV2 {
            v2_severity(score)
        } else {
            Severity::from_cvss_score(score)
        };
        if let Some(severity) = severity {
            return Chosen {
                severity,
                source: Some(statement_source(s, r)),
                cvss_score,
            };
        }
    }
    if let Some((severity, source)) = all().find_map(vendor) {
        return Chosen {
            severity,
            source: Some(source),
            cvss_score,
        };
    }
    Chosen {
        severity: Severity::Unknown,
        source: None,
        cvss_score,
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

    #[test]
    fn order_of_choice() {
        let nvd = record(
            "nvd",
            vec![
                Statement::from_vector("nvd@nist.gov", "AV:N/AC:L/Au:N/C:P/I:P/A:P"),
                Statement::from_vector("cna@x", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
                Statement::from_vector(
                    "nvd@nist.gov",
                    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
                ),
            ],
        );
        let distro = record("debian-oval:12", vec![Statement::vendor("debian", "low")]);
        let ghsa = record("osv:PyPI", vec![Statement::vendor("osv:PyPI", "MODERATE")]);
        let sources: BTreeSet<&str> = ["debian-oval:12"].into();
        // The distribution's rating first; the best CVSS score is still reported.
        let c = choose(&[distro.clone(), nvd.clone()], &sources);
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::Low, Some("debian"), Some(5.5))
        );
        // Without it, NVD's own v3 statement (5.5) over the CNA's 9.8 and the v2 7.5.
        let c = choose(&[distro.clone(), nvd.clone()], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref()),
            (Severity::Medium, Some("nvd@nist.gov"))
        );
        // A v2 score alone uses the v2 scale.
        let v2 = record(
            "nvd",
            vec![Statement::from_vector(
                "nvd@nist.gov",
                "AV:N/AC:L/Au:N/C:C/I:C/A:C",
            )],
        );
        let c = choose(&[v2], &BTreeSet::new());
        assert_eq!((c.severity, c.cvss_score), (Severity::High, Some(10.0)));
        // Vendor ratings last.
        let c = choose(&[ghsa], &BTreeSet::new());
        assert_eq!(
            (c.severity, c.source.as_deref(), c.cvss_score),
            (Severity::Medium, Some("osv:PyPI"), None)
        );
        let c = choose(&[], &BTreeSet::new());
        assert_eq!((c.severity, c.source), (Severity::Unknown, None));
    }
}
