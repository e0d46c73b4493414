//! [`match_packages`]: packages and affected entries to findings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use portcullis_catalog::{Ecosystem, Os, Package};
use portcullis_versions::Scheme;
#[cfg(test)]
use portcullis_vulndb::AffectedEntry;
use portcullis_vulndb::{EntryRef, EpssScore, Exploitation, FixStatus, Vulnerability};
use serde::Serialize;

use crate::ecosystem::{Query, os_ecosystem, os_stream_matches, os_stream_prefix, queries_for};
use crate::error::Result;
use crate::finding::{
    Finding, FindingEpss, FindingKev, FindingPackage, FindingStatus, Severity, sort_findings,
};
use crate::range::{Installed, Verdict, evaluate};
use crate::rpm::{applies, installed_module_build, select_streams};
use crate::severity::choose;
use crate::source::{AdvisorySource, AffectedMap, RecordMap};

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
    /// For an OS filed under several ecosystems (Red Hat's repository streams, SUSE's
    /// modules; see [`crate::ecosystem::os_stream_prefix`]), those of them the database has,
    /// which its packages were looked up in; empty otherwise.
    pub os_streams: Vec<String>,
}

/// A flaw found affecting one package, waiting for its records.
struct Candidate<'a> {
    /// The package's index in the plan (two copies of one package are two packages).
    index: usize,
    package: &'a Package,
    ecosystem: &'a str,
    canonical_id: String,
    affected: Vec<(EntryRef<'a>, Option<String>)>,
    /// Distribution advisories folded into this flaw: their ids become aliases.
    advisories: BTreeSet<String>,
    /// Made from advisories only (the package has no entry of the CVE itself).
    folded: bool,
}

/// Id prefixes of distribution advisories: records that bundle the fixes of several CVEs
/// for one package update (Debian's DSA/DLA, AlmaLinux's ALSA, Rocky's RLSA, Red Hat's
/// RHSA, Ubuntu's USN, Oracle's ELSA, SUSE's and openSUSE's update ids, ...).
const ADVISORY_PREFIXES: &[&str] = &[
    "DSA-",
    "DLA-",
    "DTSA-",
    "ALSA-",
    "ALBA-",
    "ALEA-",
    "RLSA-",
    "RLBA-",
    "RXSA-",
    "RHSA-",
    "RHBA-",
    "RHEA-",
    "USN-",
    "LSN-",
    "ELSA-",
    // Amazon Linux: ALAS-, ALAS2-, ALAS2023-, ...
    "ALAS",
    "SUSE-SU-",
    "SUSE-RU-",
    "openSUSE-SU-",
    "CGA-",
    "PHSA-",
    "MGASA-",
];

/// True for the id of a distribution advisory (see [`ADVISORY_PREFIXES`]).
pub(crate) fn is_distribution_advisory(id: &str) -> bool {
    ADVISORY_PREFIXES.iter().any(|p| id.starts_with(p))
}

/// The CVE ids a distribution advisory fixes: the CVE aliases and `related` ids of its own
/// (non-withdrawn) records, sorted, each once.
fn advisory_cves(advisory: &str, records: &[Vulnerability]) -> Vec<String> {
    let cves: BTreeSet<&String> = records
        .iter()
        .filter(|r| r.id == advisory && r.withdrawn.is_none())
        .flat_map(|r| r.aliases.iter().chain(&r.related))
        .filter(|id| id.starts_with("CVE-"))
        .collect();
    cves.into_iter().cloned().collect()
}

/// Match `packages` (of an image whose OS is `os`) against `db`.
///
/// OS packages are looked up only in their own distribution release (see
/// [`crate::ecosystem`]; rpms by source and binary name); language packages in OSV's
/// ecosystems. Entries of one flaw (same canonical id) for one package become one finding;
/// a distribution's "not affected" statement for the package suppresses the flaw; withdrawn
/// records are ignored. A Red Hat image whose content manifests name its repositories is
/// looked up in those streams only; on the rpm distributions with modules, entries fixed in
/// module builds apply only to module builds and the reverse (see [`crate::rpm`]).
///
/// A distribution advisory naming several CVEs (a DSA, ALSA or USN; see
/// [`ADVISORY_PREFIXES`]) is folded into one finding per CVE, carrying the advisory id as an
/// alias: into the CVE's own finding when the package has one, nothing when the package's
/// own entries for that CVE say it is not affected, else a new finding with the CVE's id,
/// the advisory's fix and the CVE's records (NVD's severity, say) or, without any, the
/// advisory's. No finding is left with the advisory's own id unless it names no CVE.
///
/// The database is queried four times at most, in batch: every package's affected entries
/// ([`AdvisorySource::affected_many`]), the records of every flaw that matched and then of
/// the CVEs of folded advisories ([`AdvisorySource::records_many`]), then the KEV entries and
/// EPSS scores of every CVE id the findings carry ([`AdvisorySource::exploitation`]).
pub fn match_packages<S: AdvisorySource + ?Sized>(
    os: Option<&Os>,
    packages: &[Package],
    db: &S,
) -> Result<MatchOutput> {
    let mut warnings = Vec::new();
    let Plan {
        os_label,
        os_streams,
        planned,
    } = plan(os, packages, db, &mut warnings)?;
    // Step 2: every package's entries in one batch.
    let mut keys: Vec<(String, String)> = planned
        .iter()
        .flat_map(|p| p.queries.iter())
        .map(|q| (q.ecosystem.clone(), q.package.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let affected_map = db.affected_many(&keys)?;
    let (evaluated, outcomes) = evaluate_planned(os, &planned, &affected_map);
    let (candidates, seen) = candidates_of(&planned, &evaluated, &outcomes, &mut warnings);
    let mut findings = findings_of(candidates, &seen, db)?;
    sort_findings(&mut findings);
    warnings.sort();
    warnings.dedup();
    Ok(MatchOutput {
        findings,
        warnings,
        os_ecosystem: os_label,
        os_streams,
    })
}

/// Where to look each package up.
struct Plan<'p> {
    /// The advisory ecosystem of the OS's packages.
    os_label: Option<String>,
    /// The ecosystems the database files that OS under (Red Hat's streams), or none.
    os_streams: Vec<String>,
    /// The packages with a version comparator, with their queries.
    planned: Vec<Planned<'p>>,
}

/// One package to look up: its queries, and the scheme that compares its version.
struct Planned<'p> {
    package: &'p Package,
    queries: Vec<Query>,
    scheme: Scheme,
}

/// Step 1, where to look each package up: an OS filed under several ecosystems in each of those
/// the database has (Red Hat: only the streams the image's content sets name, when it names
/// them).
fn plan<'p, S: AdvisorySource + ?Sized>(
    os: Option<&Os>,
    packages: &'p [Package],
    db: &S,
    warnings: &mut Vec<String>,
) -> Result<Plan<'p>> {
    let os_label = os.and_then(os_ecosystem);
    let os_streams: Vec<String> = match os_label.as_deref().and_then(os_stream_prefix) {
        Some(prefix) => db
            .ecosystems_under(&prefix)?
            .into_iter()
            .filter(|candidate| {
                os_label
                    .as_deref()
                    .is_some_and(|l| os_stream_matches(l, candidate))
            })
            .collect(),
        None => Vec::new(),
    };
    let os_streams = match os {
        Some(os) if !os_streams.is_empty() => select_streams(os, os_streams, warnings),
        _ => os_streams,
    };
    let mut planned = Vec::new();
    for package in packages {
        let mut queries = queries_for(package, os);
        if !os_streams.is_empty()
            && queries
                .iter()
                .any(|q| Some(&q.ecosystem) == os_label.as_ref())
        {
            queries = os_streams
                .iter()
                .flat_map(|stream| {
                    queries.iter().map(|q| Query {
                        ecosystem: stream.clone(),
                        ..q.clone()
                    })
                })
                .collect();
        }
        let Some(first) = queries.first() else {
            continue;
        };
        let Some(scheme) = Scheme::for_ecosystem(&first.ecosystem) else {
            warnings.push(format!(
                "{} {}: no version comparator for ecosystem {}",
                package.name, package.version, first.ecosystem
            ));
            continue;
        };
        planned.push(Planned {
            package,
            queries,
            scheme,
        });
    }
    Ok(Plan {
        os_label,
        os_streams,
        planned,
    })
}

/// Step 3: evaluate versions, once per distinct (queries, version, module build): the binary
/// packages of one source, and copies of one package, share the outcome. Gives the
/// outcomes, and each planned package's outcome (by index).
fn evaluate_planned<'e>(
    os: Option<&Os>,
    planned: &[Planned<'_>],
    affected_map: &'e AffectedMap,
) -> (Vec<Evaluated<'e>>, Vec<Option<usize>>) {
    let mut evaluated: Vec<Evaluated<'e>> = Vec::new();
    let mut outcome_of: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut outcomes: Vec<Option<usize>> = vec![None; planned.len()];
    for (index, planned) in planned.iter().enumerate() {
        let Some(first) = planned.queries.first() else {
            continue;
        };
        // A module build's fix is not a non-modular package's, nor the reverse.
        let module_build = installed_module_build(os, planned.package);
        let build = match module_build {
            None => "",
            Some(false) => "0",
            Some(true) => "1",
        };
        let mut key: Vec<&str> = vec![first.version.as_str(), build];
        for q in &planned.queries {
            key.extend([q.ecosystem.as_str(), q.package.as_str()]);
        }
        let slot = match outcome_of.get(&key) {
            Some(&slot) => slot,
            None => {
                evaluated.push(evaluate_package(
                    &planned.queries,
                    &first.version,
                    planned.scheme,
                    module_build,
                    affected_map,
                ));
                outcome_of.insert(key, evaluated.len() - 1);
                evaluated.len() - 1
            }
        };
        outcomes[index] = Some(slot);
    }
    (evaluated, outcomes)
}

/// One candidate finding per (package, affecting flaw), and `seen`: per planned package,
/// every flaw it has entries for, affected or not (sorted).
fn candidates_of<'a>(
    planned: &'a [Planned<'a>],
    evaluated: &'a [Evaluated<'a>],
    outcomes: &[Option<usize>],
    warnings: &mut Vec<String>,
) -> (Vec<Candidate<'a>>, Vec<&'a [&'a str]>) {
    let mut seen: Vec<&[&str]> = vec![&[]; planned.len()];
    let mut candidates: Vec<Candidate<'a>> = Vec::new();
    for (index, (planned, slot)) in planned.iter().zip(outcomes).enumerate() {
        let Some(outcome) = slot.and_then(|slot| evaluated.get(slot)) else {
            continue;
        };
        let package = planned.package;
        if let Some(ids) = seen.get_mut(index) {
            *ids = &outcome.seen;
        }
        for w in &outcome.warnings {
            warnings.push(format!("{} {}: {w}", package.name, package.version));
        }
        for (canonical_id, affected) in &outcome.affected {
            if let Some((entry, _)) = affected.first() {
                candidates.push(Candidate {
                    index,
                    package,
                    ecosystem: entry.ecosystem,
                    canonical_id: canonical_id.to_string(),
                    affected: affected.clone(),
                    advisories: BTreeSet::new(),
                    folded: false,
                });
            }
        }
    }
    (candidates, seen)
}

/// Steps 4 to 6: the records of every matched flaw in one batch (withdrawn records' entries
/// go), distribution advisories folded into their CVEs and then the CVEs' records, the
/// findings, and the exploitation data of every CVE id they carry, in one batch.
fn findings_of<S: AdvisorySource + ?Sized>(
    mut candidates: Vec<Candidate<'_>>,
    seen: &[&[&str]],
    db: &S,
) -> Result<Vec<Finding>> {
    let mut ids: Vec<String> = candidates.iter().map(|c| c.canonical_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut records_map = db.records_many(&ids)?;
    for candidate in &mut candidates {
        let records = records_map
            .get(&candidate.canonical_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        candidate.affected.retain(|(e, _)| {
            !records
                .iter()
                .any(|r| r.id == e.vuln_id && r.source == e.source && r.withdrawn.is_some())
        });
    }
    candidates.retain(|c| !c.affected.is_empty());
    let candidates = fold_advisories(candidates, &records_map, seen);
    let mut missing: Vec<String> = candidates
        .iter()
        .filter(|c| !records_map.contains_key(&c.canonical_id))
        .map(|c| c.canonical_id.clone())
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        records_map.extend(db.records_many(&missing)?);
    }
    let mut findings = Vec::new();
    let mut finding_cves: Vec<Vec<String>> = Vec::new();
    for candidate in candidates {
        let records_of = |id: &str| records_map.get(id).map(Vec::as_slice).unwrap_or_default();
        let records = records_of(&candidate.canonical_id);
        let mut finding = make_finding(
            candidate.package,
            candidate.ecosystem,
            &candidate.canonical_id,
            &candidate.affected,
            records,
        );
        if !candidate.advisories.is_empty() {
            let advisory_records: Vec<Vulnerability> = candidate
                .advisories
                .iter()
                .flat_map(|id| records_of(id).iter().filter(move |r| &r.id == id))
                .filter(|r| r.withdrawn.is_none())
                .cloned()
                .collect();
            complete_from_advisories(&mut finding, &candidate, &advisory_records);
        }
        finding_cves.push(carried_cves(&finding, records));
        findings.push(finding);
    }
    let mut all_cves: Vec<String> = finding_cves.iter().flatten().cloned().collect();
    all_cves.sort();
    all_cves.dedup();
    if !all_cves.is_empty() {
        let known = db.exploitation(&all_cves)?;
        for (finding, cves) in findings.iter_mut().zip(&finding_cves) {
            attach_exploitation(finding, cves, &known);
        }
    }
    Ok(findings)
}

/// The entries of one flaw that say a version is affected, each with its fix.
type AffectedBy<'e> = Vec<(EntryRef<'e>, Option<String>)>;

/// What one package's entries say about its installed version.
struct Evaluated<'e> {
    /// Every flaw the package has entries for, affected or not, sorted.
    seen: Vec<&'e str>,
    /// The flaws the version is affected by (no entry of the flaw saying "not affected"),
    /// in canonical id order, with the entries that say so and their fixes.
    affected: Vec<(&'e str, AffectedBy<'e>)>,
    /// What could not be evaluated, without the package's name.
    warnings: Vec<String>,
}

/// Evaluate `version` (in `scheme`; a module build or not) against the entries of
/// `queries`.
fn evaluate_package<'e>(
    queries: &[Query],
    version: &str,
    scheme: Scheme,
    module_build: Option<bool>,
    affected_map: &'e AffectedMap,
) -> Evaluated<'e> {
    let mut entries: Vec<EntryRef<'e>> = Vec::new();
    for q in queries {
        if let Some(found) = affected_map.get(&(q.ecosystem.clone(), q.package.clone())) {
            entries.extend(found.iter().filter(|entry| applies(module_build, entry)));
        }
    }
    // Grouped by canonical id, each group in query order (the stored order is already by
    // canonical id, so this sort is a single pass for one query).
    entries.sort_by(|a, b| a.canonical_id.cmp(b.canonical_id));
    let mut out = Evaluated {
        seen: Vec::new(),
        affected: Vec::new(),
        warnings: Vec::new(),
    };
    if entries.is_empty() {
        return out;
    }
    let mut installed = Installed::new(version, scheme);
    for group in entries.chunk_by(|a, b| a.canonical_id == b.canonical_id) {
        let Some(canonical_id) = group.first().map(|e| e.canonical_id) else {
            continue;
        };
        out.seen.push(canonical_id);
        if group.iter().any(|e| e.status == FixStatus::NotAffected) {
            continue;
        }
        let mut affected: AffectedBy<'e> = Vec::new();
        for entry in group {
            if let Verdict::Affected { fixed } = evaluate(entry, &mut installed, &mut out.warnings)
            {
                affected.push((*entry, fixed));
            }
        }
        if !affected.is_empty() {
            out.affected.push((canonical_id, affected));
        }
    }
    out.warnings.extend(installed.skipped());
    out
}

/// Replace every distribution package's candidate whose flaw is a distribution advisory
/// naming CVEs by per-CVE candidates (see [`match_packages`]).
fn fold_advisories<'a>(
    candidates: Vec<Candidate<'a>>,
    records_map: &RecordMap,
    seen: &[&[&str]],
) -> Vec<Candidate<'a>> {
    let is_distro = |p: &Package| {
        matches!(
            p.ecosystem,
            Ecosystem::Apk | Ecosystem::Deb | Ecosystem::Rpm
        )
    };
    let mut kept: Vec<Candidate<'a>> = Vec::with_capacity(candidates.len());
    let mut folded: Vec<(Candidate<'a>, Vec<String>)> = Vec::new();
    for candidate in candidates {
        let cves =
            if is_distro(candidate.package) && is_distribution_advisory(&candidate.canonical_id) {
                let records = records_map
                    .get(&candidate.canonical_id)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                advisory_cves(&candidate.canonical_id, records)
            } else {
                Vec::new()
            };
        if cves.is_empty() {
            kept.push(candidate);
        } else {
            folded.push((candidate, cves));
        }
    }
    let mut position: BTreeMap<(usize, String), usize> = kept
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.index, c.canonical_id.clone()), i))
        .collect();
    for (advisory, cves) in folded {
        for cve in cves {
            let key = (advisory.index, cve.clone());
            if let Some(&i) = position.get(&key) {
                if let Some(target) = kept.get_mut(i) {
                    // A candidate made by folding takes every advisory's fix; the CVE's own
                    // candidate keeps its entries and only gains the alias.
                    if target.folded {
                        target.affected.extend(advisory.affected.iter().cloned());
                    }
                    target.advisories.insert(advisory.canonical_id.clone());
                }
                continue;
            }
            let has_entries = seen
                .get(advisory.index)
                .is_some_and(|ids| ids.binary_search(&cve.as_str()).is_ok());
            if has_entries {
                // The package's own entries for this CVE say it is not affected.
                continue;
            }
            position.insert(key, kept.len());
            kept.push(Candidate {
                index: advisory.index,
                package: advisory.package,
                ecosystem: advisory.ecosystem,
                canonical_id: cve,
                affected: advisory.affected.clone(),
                advisories: BTreeSet::from([advisory.canonical_id.clone()]),
                folded: true,
            });
        }
    }
    kept
}

/// Add the folded advisories of `candidate` to `finding`: their ids as aliases, and, when the
/// CVE's own records give none, the advisories' summary, publication date and severity.
fn complete_from_advisories(
    finding: &mut Finding,
    candidate: &Candidate<'_>,
    advisories: &[Vulnerability],
) {
    let mut aliases: BTreeSet<String> = finding.aliases.drain(..).collect();
    aliases.extend(candidate.advisories.iter().cloned());
    aliases.remove(&finding.id);
    finding.aliases = aliases.into_iter().collect();
    if finding.summary.is_none() {
        finding.summary = advisories
            .iter()
            .find_map(|r| r.summary.clone().filter(|s| !s.trim().is_empty()));
    }
    if finding.published.is_none() {
        finding.published = advisories
            .iter()
            .filter_map(|r| r.published.as_deref())
            .filter(|p| !p.is_empty())
            .min()
            .map(str::to_string);
    }
    if finding.severity == Severity::Unknown && finding.severity_source.is_none() {
        let sources: BTreeSet<&str> = candidate.affected.iter().map(|(e, _)| e.source).collect();
        let chosen = choose(advisories, &sources);
        finding.severity = chosen.severity;
        finding.severity_source = chosen.source;
        finding.cvss_score = finding.cvss_score.or(chosen.cvss_score);
    }
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
    affected: &[(EntryRef<'_>, Option<String>)],
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
        aliases.insert(entry.vuln_id);
    }
    for record in records.iter().filter(|r| r.withdrawn.is_none()) {
        aliases.insert(&record.id);
        aliases.extend(record.aliases.iter().map(String::as_str));
    }
    aliases.remove(canonical_id);
    let sources: BTreeSet<&str> = affected.iter().map(|(e, _)| e.source).collect();
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

#[cfg(test)]
mod tests {
    use portcullis_catalog::{Extra, os::from_os_release};
    use portcullis_vulndb::{Record, Severity as Rating};

    use super::*;
    use crate::source::MemorySource;

    fn os(id: &str, version: &str) -> Os {
        from_os_release(
            &format!("ID={id}\nVERSION_ID={version}\n"),
            "etc/os-release",
        )
        .unwrap()
    }

    fn package(ecosystem: Ecosystem, name: &str, source: &str, version: &str) -> Package {
        let mut package = Package::new(ecosystem, name, version, "db", String::new(), Extra::None);
        package.source_name = Some(source.into());
        package.source_version = Some(version.into());
        package
    }

    /// A record `id` (aliases, related) fixing `packages` in `ecosystem` at `fixed`.
    fn record(
        id: &str,
        source: &str,
        aliases: &[&str],
        related: &[&str],
        ecosystem: &str,
        packages: &[&str],
        fixed: &str,
    ) -> Record {
        let mut vuln = Vulnerability::new(id, source);
        vuln.aliases = aliases.iter().map(|a| a.to_string()).collect();
        vuln.related = related.iter().map(|a| a.to_string()).collect();
        vuln.summary = Some(format!("{id} summary"));
        vuln.refresh_canonical_id();
        let affected = packages
            .iter()
            .map(|p| {
                AffectedEntry::distro(&vuln, ecosystem, *p, FixStatus::Fixed, Some(fixed.into()))
            })
            .collect();
        Record { vuln, affected }
    }

    /// (id, aliases, package, fixed version) of every finding.
    fn rows(out: &MatchOutput) -> Vec<(String, Vec<String>, String, Option<String>)> {
        out.findings
            .iter()
            .map(|f| {
                (
                    f.id.clone(),
                    f.aliases.clone(),
                    f.package.name.clone(),
                    f.fixed_version.clone(),
                )
            })
            .collect()
    }

    fn row(
        id: &str,
        aliases: &[&str],
        package: &str,
        fixed: &str,
    ) -> (String, Vec<String>, String, Option<String>) {
        (
            id.into(),
            aliases.iter().map(|a| a.to_string()).collect(),
            package.into(),
            Some(fixed.into()),
        )
    }

    #[test]
    fn rpm_matches_by_source_and_binary_name_once() {
        let alma = os("almalinux", "9.2");
        let mut db = MemorySource::new();
        // Names both the source and the binary: one finding, not two.
        db.add(record(
            "ALSA-2023:1",
            "osv:AlmaLinux",
            &[],
            &["CVE-2023-1"],
            "AlmaLinux:9",
            &["openssl", "openssl-libs"],
            "1:3.0.7-18.el9",
        ));
        // Names only the binary rpm, as AlmaLinux does.
        db.add(record(
            "ALSA-2023:2",
            "osv:AlmaLinux",
            &[],
            &["CVE-2023-2"],
            "AlmaLinux:9",
            &["openssl-libs"],
            "1:3.0.7-20.el9",
        ));
        // Another binary of the same source: not this package.
        db.add(record(
            "ALSA-2023:3",
            "osv:AlmaLinux",
            &[],
            &["CVE-2023-3"],
            "AlmaLinux:9",
            &["openssl-devel"],
            "1:3.0.7-20.el9",
        ));
        let libs = package(Ecosystem::Rpm, "openssl-libs", "openssl", "1:3.0.7-16.el9");
        let out = match_packages(Some(&alma), &[libs], &db).unwrap();
        assert_eq!(
            rows(&out),
            vec![
                row(
                    "CVE-2023-1",
                    &["ALSA-2023:1"],
                    "openssl-libs",
                    "1:3.0.7-18.el9"
                ),
                row(
                    "CVE-2023-2",
                    &["ALSA-2023:2"],
                    "openssl-libs",
                    "1:3.0.7-20.el9"
                ),
            ]
        );
        // Epochs count: 0 (none) < 1.
        let old_epoch = package(Ecosystem::Rpm, "openssl-libs", "openssl", "3.0.9-1.el9");
        let out = match_packages(Some(&alma), &[old_epoch], &db).unwrap();
        assert_eq!(out.findings.len(), 2);
        let fixed = package(Ecosystem::Rpm, "openssl-libs", "openssl", "1:3.0.7-20.el9");
        assert!(
            match_packages(Some(&alma), &[fixed], &db)
                .unwrap()
                .findings
                .is_empty()
        );
    }

    /// A version the scheme cannot read skips every range with one warning per package, not
    /// one per range.
    #[test]
    fn an_incomparable_version_gives_one_warning_per_package() {
        let debian = os("debian", "12");
        let mut db = MemorySource::new();
        for n in 1..=7 {
            let id = format!("CVE-2024-{n}");
            db.add(record(
                &id,
                "debian-oval:12",
                &[],
                &[],
                "Debian:12",
                &["zlib"],
                "1.3-1",
            ));
        }
        let bad = package(Ecosystem::Deb, "zlib1g", "zlib", "not-a-version");
        let out = match_packages(Some(&debian), &[bad], &db).unwrap();
        assert!(out.findings.is_empty());
        assert_eq!(
            out.warnings,
            [
                "zlib1g not-a-version: installed version not comparable (invalid dpkg version \
                 \"not-a-version\": version number does not start with digit); the ranges of 7 \
                 flaw(s) skipped: CVE-2024-1, CVE-2024-2, CVE-2024-3, CVE-2024-4, CVE-2024-5, …"
            ]
        );
    }

    #[test]
    fn multi_cve_advisories_fold_into_their_cves() {
        let debian = os("debian", "12");
        let oval = "debian-oval:12";
        let mut db = MemorySource::new();
        db.add(record(
            "CVE-2023-1",
            oval,
            &[],
            &[],
            "Debian:12",
            &["openssl"],
            "3.0.9-2",
        ));
        // The package is past this CVE's own fix: the DSA must not bring it back.
        db.add(record(
            "CVE-2023-3",
            oval,
            &[],
            &[],
            "Debian:12",
            &["openssl"],
            "3.0.8-1",
        ));
        db.add(record(
            "DSA-1-1",
            oval,
            &["CVE-2023-1", "CVE-2023-2", "CVE-2023-3"],
            &[],
            "Debian:12",
            &["openssl"],
            "3.0.9-3",
        ));
        // CVE-2023-2 has only NVD's record: its severity is NVD's.
        let mut nvd = Vulnerability::new("CVE-2023-2", "nvd");
        nvd.severities.push(Rating::from_vector(
            "nvd@nist.gov",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        ));
        db.add(Record {
            vuln: nvd,
            affected: vec![],
        });
        // An advisory naming no CVE stays as it is.
        db.add(record(
            "DSA-2-1",
            oval,
            &[],
            &[],
            "Debian:12",
            &["openssl"],
            "3.0.9-4",
        ));
        let libssl = package(Ecosystem::Deb, "libssl3", "openssl", "3.0.9-1");
        let out = match_packages(Some(&debian), &[libssl], &db).unwrap();
        let mut got = rows(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                row("CVE-2023-1", &["DSA-1-1"], "libssl3", "3.0.9-2"),
                row("CVE-2023-2", &["DSA-1-1"], "libssl3", "3.0.9-3"),
                row("DSA-2-1", &[], "libssl3", "3.0.9-4"),
            ]
        );
        let cve2 = out.findings.iter().find(|f| f.id == "CVE-2023-2").unwrap();
        assert_eq!(cve2.severity, Severity::Critical);
        assert_eq!(cve2.cvss_score, Some(9.8));
        assert_eq!(cve2.summary.as_deref(), Some("DSA-1-1 summary"));
        assert_eq!(cve2.sources, ["debian-oval:12"]);
    }

    #[test]
    fn two_advisories_of_one_cve_make_one_finding() {
        let alma = os("almalinux", "9.2");
        let mut db = MemorySource::new();
        for (id, fixed) in [
            ("ALSA-2023:1", "2.34-60.el9"),
            ("ALSA-2023:2", "2.34-83.el9"),
        ] {
            db.add(record(
                id,
                "osv:AlmaLinux",
                &[],
                &["CVE-2023-4911"],
                "AlmaLinux:9",
                &["glibc"],
                fixed,
            ));
        }
        let glibc = package(Ecosystem::Rpm, "glibc", "glibc", "2.34-40.el9");
        let out = match_packages(Some(&alma), &[glibc], &db).unwrap();
        assert_eq!(
            rows(&out),
            vec![row(
                "CVE-2023-4911",
                &["ALSA-2023:1", "ALSA-2023:2"],
                "glibc",
                "2.34-60.el9, 2.34-83.el9"
            )]
        );
    }

    #[test]
    fn red_hat_packages_are_looked_up_in_every_stream_of_their_release() {
        let rhel = os("rhel", "9.4");
        let mut db = MemorySource::new();
        let red_hat = "osv:Red Hat";
        // One advisory, filed under two streams, by source and by binary name.
        let mut rhsa = record(
            "RHSA-2024:2447",
            red_hat,
            &[],
            &["CVE-2023-5678"],
            "Red Hat:enterprise_linux:9::appstream",
            &["openssl"],
            "1:3.0.7-27.el9",
        );
        let baseos = AffectedEntry::distro(
            &rhsa.vuln,
            "Red Hat:enterprise_linux:9::baseos",
            "openssl-libs",
            FixStatus::Fixed,
            Some("1:3.0.7-27.el9".into()),
        );
        rhsa.affected.push(baseos);
        db.add(rhsa);
        // Another major release: never.
        db.add(record(
            "RHSA-2024:1",
            red_hat,
            &[],
            &["CVE-2024-1"],
            "Red Hat:enterprise_linux:8::baseos",
            &["openssl-libs"],
            "1:9.9-1.el8",
        ));
        let libs = package(Ecosystem::Rpm, "openssl-libs", "openssl", "1:3.0.7-25.el9");
        let out = match_packages(Some(&rhel), &[libs], &db).unwrap();
        assert_eq!(
            out.os_ecosystem.as_deref(),
            Some("Red Hat:enterprise_linux:9")
        );
        assert_eq!(
            out.os_streams,
            [
                "Red Hat:enterprise_linux:9::appstream",
                "Red Hat:enterprise_linux:9::baseos"
            ]
        );
        assert_eq!(
            rows(&out),
            vec![row(
                "CVE-2023-5678",
                &["RHSA-2024:2447"],
                "openssl-libs",
                "1:3.0.7-27.el9"
            )]
        );
    }

    #[test]
    fn red_hat_content_sets_select_the_streams_looked_up() {
        let red_hat = "osv:Red Hat";
        let mut db = MemorySource::new();
        // Fixed in baseos, which the content sets name.
        db.add(record(
            "RHSA-2024:1",
            red_hat,
            &[],
            &["CVE-2024-1"],
            "Red Hat:enterprise_linux:9::baseos",
            &["openssl-libs"],
            "1:3.0.7-27.el9",
        ));
        // Fixed only in CodeReady Builder, which they do not.
        db.add(record(
            "RHSA-2024:2",
            red_hat,
            &[],
            &["CVE-2024-2"],
            "Red Hat:enterprise_linux:9::crb",
            &["openssl"],
            "1:3.0.7-28.el9",
        ));
        let libs = package(Ecosystem::Rpm, "openssl-libs", "openssl", "1:3.0.7-25.el9");
        let mut ubi = os("rhel", "9.4");
        ubi.content_sets = vec![
            "rhel-9-for-x86_64-appstream-rpms".into(),
            "rhel-9-for-x86_64-baseos-rpms".into(),
        ];
        let out = match_packages(Some(&ubi), std::slice::from_ref(&libs), &db).unwrap();
        assert_eq!(out.os_streams, ["Red Hat:enterprise_linux:9::baseos"]);
        assert_eq!(
            rows(&out),
            vec![row(
                "CVE-2024-1",
                &["RHSA-2024:1"],
                "openssl-libs",
                "1:3.0.7-27.el9"
            )]
        );
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        // Without content manifests every stream of the release is used.
        let rhel = os("rhel", "9.4");
        let out = match_packages(Some(&rhel), std::slice::from_ref(&libs), &db).unwrap();
        assert_eq!(
            out.os_streams,
            [
                "Red Hat:enterprise_linux:9::baseos",
                "Red Hat:enterprise_linux:9::crb"
            ]
        );
        assert_eq!(
            rows(&out),
            vec![
                row(
                    "CVE-2024-1",
                    &["RHSA-2024:1"],
                    "openssl-libs",
                    "1:3.0.7-27.el9"
                ),
                row(
                    "CVE-2024-2",
                    &["RHSA-2024:2"],
                    "openssl-libs",
                    "1:3.0.7-28.el9"
                ),
            ]
        );
    }

    /// An rpm `name` `evr` with `MODULARITYLABEL` `label`.
    fn rpm(name: &str, evr: &str, label: Option<&str>) -> Package {
        let mut p = package(Ecosystem::Rpm, name, name, evr);
        p.extra = Extra::Rpm {
            epoch: None,
            version: String::new(),
            release: String::new(),
            modularity_label: label.map(str::to_string),
            source_rpm: None,
        };
        p
    }

    #[test]
    fn module_build_fixes_apply_to_module_builds_only() {
        for (id, ecosystem, source, prefix, module) in [
            (
                "rhel",
                "Red Hat:enterprise_linux:9::appstream",
                "osv:Red Hat",
                "RHSA",
                ".module+el9.4.0+21731+46b5c8a7",
            ),
            (
                "almalinux",
                "AlmaLinux:9",
                "osv:AlmaLinux",
                "ALSA",
                ".module_el9.4.0+105+bc2d7ab0",
            ),
            (
                "rocky",
                "Rocky Linux:9",
                "osv:Rocky Linux",
                "RLSA",
                ".module+el9.4.0+17993+a5fb9ae3",
            ),
            (
                "ol",
                "Oracle Linux:9",
                "oracle-oval",
                "ELSA",
                ".module+el9.4.0+90217+ac0a1f4b",
            ),
        ] {
            let mut db = MemorySource::new();
            let advisory = |n: u32, package: &str, fixed: &str| {
                record(
                    &format!("{prefix}-2024:{n}"),
                    source,
                    &[],
                    &[&format!("CVE-2024-{n}")],
                    ecosystem,
                    &[package],
                    fixed,
                )
            };
            // nodejs: the distribution's own build, and the nodejs:18 module's.
            db.add(advisory(1, "nodejs", "1:16.20.2-8.el9_4"));
            db.add(advisory(2, "nodejs", &format!("1:18.20.2-2{module}")));
            // nginx: installed from the nginx:1.22 module.
            db.add(advisory(3, "nginx", "1:1.24.0-1.el9"));
            db.add(advisory(4, "nginx", &format!("1:1.22.1-4{module}")));
            let os = os(id, "9.4");
            let plain_nodejs = rpm("nodejs", "1:16.20.2-4.el9_3", None);
            let module_nginx = rpm(
                "nginx",
                &format!("1:1.22.1-3{module}"),
                Some("nginx:1.22:9040020240213:rhel9"),
            );
            // A module build known by its release alone (no label in the header).
            let unlabelled_nginx = rpm("nginx", &format!("1:1.22.1-3{module}"), None);
            let out = match_packages(Some(&os), &[plain_nodejs, module_nginx], &db).unwrap();
            let fix = |n: u32, package: &str, fixed: String| {
                row(
                    &format!("CVE-2024-{n}"),
                    &[&format!("{prefix}-2024:{n}")],
                    package,
                    &fixed,
                )
            };
            assert_eq!(
                rows(&out),
                vec![
                    fix(4, "nginx", format!("1:1.22.1-4{module}")),
                    fix(1, "nodejs", "1:16.20.2-8.el9_4".into()),
                ],
                "{id}"
            );
            let out = match_packages(Some(&os), &[unlabelled_nginx], &db).unwrap();
            assert_eq!(
                rows(&out),
                vec![fix(4, "nginx", format!("1:1.22.1-4{module}"))],
                "{id}"
            );
        }
    }

    #[test]
    fn without_modules_every_fix_counts() {
        // openSUSE has no modules: a release that looks like a module build's is a version.
        let leap = os("opensuse-leap", "15.5");
        let mut db = MemorySource::new();
        for (n, fixed) in [
            (1, "16.20.2-8.1"),
            (2, "18.20.2-2.module+el9.4.0+21731+46b5c8a7"),
        ] {
            db.add(record(
                &format!("openSUSE-SU-2024:{n}"),
                "osv:openSUSE",
                &[],
                &[&format!("CVE-2024-{n}")],
                "openSUSE:Leap 15.5",
                &["nodejs"],
                fixed,
            ));
        }
        let nodejs = rpm("nodejs", "16.20.2-4.1", None);
        let out = match_packages(Some(&leap), &[nodejs], &db).unwrap();
        let mut got = rows(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                row(
                    "CVE-2024-1",
                    &["openSUSE-SU-2024:1"],
                    "nodejs",
                    "16.20.2-8.1"
                ),
                row(
                    "CVE-2024-2",
                    &["openSUSE-SU-2024:2"],
                    "nodejs",
                    "18.20.2-2.module+el9.4.0+21731+46b5c8a7"
                ),
            ]
        );
    }
}
