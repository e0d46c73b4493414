//! [`match_packages`]: packages and affected entries to findings.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_catalog::{Ecosystem, Os, Package};
use portcullis_versions::Scheme;
use portcullis_vulndb::{AffectedEntry, EpssScore, Exploitation, FixStatus, Vulnerability};
use serde::Serialize;

use crate::ecosystem::{Query, os_ecosystem, query_for};
use crate::error::Result;
use crate::finding::{
    Finding, FindingEpss, FindingKev, FindingPackage, FindingStatus, sort_findings,
};
use crate::range::{Installed, Verdict, evaluate};
use crate::severity::choose;
use crate::source::AdvisorySource;

/// The result of matching one image's packages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchOutput {
    /// One finding per (package, vulnerability), sorted (see [`Finding::output_cmp`]).
    pub findings: Vec<Finding>,
    /// What could not be evaluated (unparseable versions, unknown ecosystems), each naming
    /// the package or record.
    pub warnings: Vec<String>,
    /// The advisory ecosystem of the image's OS packages (`Alpine:v3.9`), or `None` when the
    /// OS is unknown or has no supported data source.
    pub os_ecosystem: Option<String>,
}

/// A flaw found affecting one package, waiting for its records.
struct Candidate<'a> {
    package: &'a Package,
    ecosystem: &'a str,
    canonical_id: &'a str,
    affected: Vec<(&'a AffectedEntry, Option<String>)>,
}

/// Match `packages` (of an image whose OS is `os`) against `db`.
///
/// OS packages are looked up only in their own distribution release (see
/// [`crate::ecosystem`]); language packages in OSV's ecosystems. Entries of one flaw (same
/// canonical id) for one package become one finding; a distribution's "not affected"
/// statement for the package suppresses the flaw; withdrawn records are ignored.
///
/// The database is queried three times, in batch: every package's affected entries
/// ([`AdvisorySource::affected_many`]), the records of every flaw that matched
/// ([`AdvisorySource::records_many`]), then the KEV entries and EPSS scores of every CVE id
/// the findings carry ([`AdvisorySource::exploitation`]).
pub fn match_packages<S: AdvisorySource + ?Sized>(
    os: Option<&Os>,
    packages: &[Package],
    db: &S,
) -> Result<MatchOutput> {
    let mut warnings = Vec::new();
    // 1. Where to look each package up.
    let mut planned: Vec<(&Package, Query, Scheme)> = Vec::new();
    for package in packages {
        let Some(query) = query_for(package, os) else {
            continue;
        };
        let Some(scheme) = Scheme::for_ecosystem(&query.ecosystem) else {
            warnings.push(format!(
                "{} {}: no version comparator for ecosystem {}",
                package.name, package.version, query.ecosystem
            ));
            continue;
        };
        planned.push((package, query, scheme));
    }
    // 2. Every package's entries in one batch.
    let mut keys: Vec<(String, String)> = planned
        .iter()
        .map(|(_, q, _)| (q.ecosystem.clone(), q.package.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let affected_map = db.affected_many(&keys)?;
    // 3. Evaluate versions.
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (package, query, scheme) in &planned {
        let key = (query.ecosystem.clone(), query.package.clone());
        let Some(entries) = affected_map.get(&key).filter(|e| !e.is_empty()) else {
            continue;
        };
        let installed = Installed::new(&query.version, *scheme);
        let mut groups: BTreeMap<&str, Vec<&AffectedEntry>> = BTreeMap::new();
        for entry in entries {
            groups
                .entry(entry.canonical_id.as_str())
                .or_default()
                .push(entry);
        }
        for (canonical_id, group) in groups {
            if group.iter().any(|e| e.status == FixStatus::NotAffected) {
                continue;
            }
            let mut affected: Vec<(&AffectedEntry, Option<String>)> = Vec::new();
            let mut entry_warnings = Vec::new();
            for entry in group {
                if let Verdict::Affected { fixed } =
                    evaluate(entry, &installed, &mut entry_warnings)
                {
                    affected.push((entry, fixed));
                }
            }
            for w in entry_warnings {
                warnings.push(format!("{} {}: {w}", package.name, package.version));
            }
            if !affected.is_empty() {
                candidates.push(Candidate {
                    package,
                    ecosystem: &query.ecosystem,
                    canonical_id,
                    affected,
                });
            }
        }
    }
    // 4. The records of every matched flaw in one batch, then the findings.
    let mut ids: Vec<String> = candidates
        .iter()
        .map(|c| c.canonical_id.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    let records_map = db.records_many(&ids)?;
    let mut findings = Vec::new();
    let mut finding_cves: Vec<Vec<String>> = Vec::new();
    for mut candidate in candidates {
        let records = records_map
            .get(candidate.canonical_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let withdrawn = |e: &AffectedEntry| {
            records
                .iter()
                .any(|r| r.id == e.vuln_id && r.source == e.source && r.withdrawn.is_some())
        };
        candidate.affected.retain(|(e, _)| !withdrawn(e));
        if candidate.affected.is_empty() {
            continue;
        }
        let finding = make_finding(
            candidate.package,
            candidate.ecosystem,
            candidate.canonical_id,
            &candidate.affected,
            records,
        );
        finding_cves.push(carried_cves(&finding, records));
        findings.push(finding);
    }
    // 5. Exploitation data of every CVE id carried, in one batch.
    let mut all_cves: Vec<String> = finding_cves.iter().flatten().cloned().collect();
    all_cves.sort();
    all_cves.dedup();
    if !all_cves.is_empty() {
        let known = db.exploitation(&all_cves)?;
        for (finding, cves) in findings.iter_mut().zip(&finding_cves) {
            attach_exploitation(finding, cves, &known);
        }
    }
    sort_findings(&mut findings);
    warnings.sort();
    warnings.dedup();
    Ok(MatchOutput {
        findings,
        warnings,
        os_ecosystem: os.and_then(os_ecosystem),
    })
}

/// The CVE ids a finding carries, in lookup order: its id, its aliases (sorted), then the
/// CVEs its (non-withdrawn) records list as `related` (sorted); each once.
fn carried_cves(finding: &Finding, records: &[Vulnerability]) -> Vec<String> {
    let is_cve = |id: &&String| id.starts_with("CVE-");
    let mut out: Vec<String> = std::iter::once(&finding.id)
        .chain(&finding.aliases)
        .filter(is_cve)
        .cloned()
        .collect();
    let related: BTreeSet<&String> = records
        .iter()
        .filter(|r| r.withdrawn.is_none())
        .flat_map(|r| r.related.iter())
        .filter(is_cve)
        .collect();
    for id in related {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// Set `finding.kev` (the first of `cves` in the catalog) and `finding.epss` (the highest
/// score of `cves`; the first on a tie).
fn attach_exploitation(finding: &mut Finding, cves: &[String], known: &Exploitation) {
    finding.kev = cves.iter().find_map(|cve| {
        let entry = known.kev.get(cve)?;
        Some(FindingKev {
            cve: cve.clone(),
            date_added: entry.date_added.clone(),
            due_date: entry.due_date.clone(),
            known_ransomware_use: entry.known_ransomware_use.clone(),
        })
    });
    let mut best: Option<(&String, EpssScore)> = None;
    for cve in cves {
        if let Some(score) = known.epss.get(cve)
            && best.is_none_or(|(_, b)| score.score > b.score)
        {
            best = Some((cve, *score));
        }
    }
    finding.epss = best.map(|(cve, score)| FindingEpss {
        cve: cve.clone(),
        score: score.score,
        percentile: score.percentile,
        date: known.epss_date.clone(),
    });
}

fn make_finding(
    package: &Package,
    advisory_ecosystem: &str,
    canonical_id: &str,
    affected: &[(&AffectedEntry, Option<String>)],
    records: &[Vulnerability],
) -> Finding {
    let fixes: BTreeSet<&str> = affected.iter().filter_map(|(_, f)| f.as_deref()).collect();
    let (status, fixed_version) = if fixes.is_empty() {
        let wont = affected.iter().any(|(e, _)| e.status == FixStatus::WontFix);
        let status = if wont {
            FindingStatus::WontFix
        } else {
            FindingStatus::NotFixed
        };
        (status, None)
    } else {
        let list: Vec<&str> = fixes.into_iter().collect();
        (FindingStatus::Fixed, Some(list.join(", ")))
    };
    let matched = |r: &Vulnerability| {
        affected
            .iter()
            .any(|(e, _)| e.vuln_id == r.id && e.source == r.source)
    };
    let mut aliases: BTreeSet<&str> = BTreeSet::new();
    for (entry, _) in affected {
        aliases.insert(&entry.vuln_id);
    }
    for record in records.iter().filter(|r| r.withdrawn.is_none()) {
        aliases.insert(&record.id);
        aliases.extend(record.aliases.iter().map(String::as_str));
    }
    aliases.remove(canonical_id);
    let sources: BTreeSet<&str> = affected.iter().map(|(e, _)| e.source.as_str()).collect();
    let is_distro = matches!(
        package.ecosystem,
        Ecosystem::Apk | Ecosystem::Deb | Ecosystem::Rpm
    );
    let distro_sources = if is_distro {
        sources.clone()
    } else {
        BTreeSet::new()
    };
    let chosen = choose(records, &distro_sources);
    let summary = records
        .iter()
        .filter(|r| matched(r))
        .chain(records.iter())
        .find_map(|r| r.summary.clone().filter(|s| !s.trim().is_empty()));
    let published = records
        .iter()
        .filter_map(|r| r.published.as_deref())
        .filter(|p| !p.is_empty())
        .min()
        .map(str::to_string);
    Finding {
        id: canonical_id.to_string(),
        aliases: aliases.into_iter().map(str::to_string).collect(),
        package: FindingPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            ecosystem: package.ecosystem,
            source_name: package.source_name.clone(),
            location: package.location.clone(),
            purl: package.purl.clone(),
        },
        fixed_version,
        status,
        severity: chosen.severity,
        severity_source: chosen.source,
        cvss_score: chosen.cvss_score,
        summary,
        published,
        advisory_ecosystem: advisory_ecosystem.to_string(),
        sources: sources.into_iter().map(str::to_string).collect(),
        kev: None,
        epss: None,
    }
}
