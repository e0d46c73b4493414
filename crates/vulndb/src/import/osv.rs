//! OSV records: `all.zip` exports and single JSON files.
//!
//! Withdrawn records are kept (with their `withdrawn` time) but get no affected entries, so
//! a lookup never returns them. GIT ranges are kept; they never match a package version.
//! `modified` values that are placeholders (Go's `0001-01-01T00:00:00Z`) are stored as
//! unknown. Severities come from `severity` (CVSS v2/v3/v4 vectors, scored; other types as
//! vendor ratings, such as Ubuntu's priority), `database_specific.severity` (GHSA-style
//! ratings, SUSE's), the impact a Red Hat-family advisory (RHSA, ALSA, RLSA) states at the start
//! of its summary (`Important: …`, kept only for an advisory about one CVE, as the impact is the
//! highest of its CVEs') and the per-package `database_specific.cvss` of RustSec.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Component, Path};

use serde::Deserialize;
use serde_json::Value;

use super::{Batch, ImportOptions, Parsed, Problem, first_line};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    AffectedEntry, Event, FixStatus, Range, RangeType, Record, Severity, Vulnerability,
};
use crate::store::SourceMode;

#[derive(Debug, Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    related: Option<Vec<String>>,
    #[serde(default)]
    upstream: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
    #[serde(default)]
    affected: Option<Vec<OsvAffected>>,
    #[serde(default)]
    references: Option<Vec<OsvReference>>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Option<Vec<OsvRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    events: Vec<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct OsvReference {
    url: String,
}

/// The source name of OSV records of `ecosystem` (`osv:Go`, `osv:Alpine`).
fn source_for(ecosystem: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem).trim();
    if base.is_empty() {
        "osv:unknown".to_owned()
    } else {
        format!("osv:{base}")
    }
}

fn record_ecosystem(value: &OsvRecord) -> Option<&str> {
    value
        .affected
        .as_ref()?
        .iter()
        .find_map(|a| a.package.as_ref().map(|p| p.ecosystem.as_str()))
}

/// Records of an OSV export handed on at once, to bound what a large export holds in memory.
const CHUNK: usize = 1000;

/// Parse an OSV `all.zip` export, handing its records to `each` in chunks of [`CHUNK`]: the
/// first chunk replaces the source ([`SourceMode::Replace`]), later ones add to it. Problems
/// travel with the chunk read when they were found.
pub(crate) fn parse_zip_each(
    label: &str,
    path: &Path,
    bytes: &[u8],
    options: &ImportOptions,
    each: &mut dyn FnMut(Parsed) -> Result<()>,
) -> Result<()> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: not a readable zip archive: {e}"),
        )
    })?;
    let mut chunk = ZipChunks::default();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: zip entry #{index}: {e}"),
            )
        })?;
        let name = entry.name().to_owned();
        check_entry_name(label, &name)?;
        if entry.is_dir() || !name.ends_with(".json") {
            continue;
        }
        let entry_label = format!("{label}!{name}");
        if entry.size() > options.max_entry_size {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{entry_label}: {} bytes, over the {}-byte entry cap",
                    entry.size(),
                    options.max_entry_size
                ),
            ));
        }
        let mut content = Vec::new();
        (&mut entry)
            .take(options.max_entry_size.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{entry_label}: corrupt entry: {e}"),
                )
            })?;
        if content.len() as u64 > options.max_entry_size {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{entry_label}: over the {}-byte entry cap",
                    options.max_entry_size
                ),
            ));
        }
        match serde_json::from_slice::<OsvRecord>(&content) {
            Ok(record) => chunk.add(entry_label, record),
            Err(e) => chunk.problems.push(Problem {
                file: entry_label,
                record: Some(name.trim_end_matches(".json").to_owned()),
                message: format!("malformed OSV JSON: {e}"),
            }),
        }
        if chunk.records.len() >= CHUNK {
            each(chunk.take())?;
        }
    }
    // An export with no readable record is named after its directory (and still replaces
    // that source, with nothing).
    if chunk.source.is_none() {
        let source = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| source_for(&n.to_string_lossy()))
            .unwrap_or_else(|| "osv:unknown".to_owned());
        chunk.set_source(source);
    }
    if !chunk.records.is_empty() || !chunk.problems.is_empty() || !chunk.emitted {
        each(chunk.take())?;
    }
    Ok(())
}

/// The part of an export read since the last chunk was handed on.
#[derive(Default)]
struct ZipChunks {
    /// The source, named after the ecosystem of the first record that has one (the records
    /// of an export share one).
    source: Option<String>,
    /// Records read before the source was known.
    pending: Vec<(String, OsvRecord)>,
    records: Vec<Record>,
    problems: Vec<Problem>,
    /// Whether a chunk was handed on already (later ones add to the source).
    emitted: bool,
}

impl ZipChunks {
    fn add(&mut self, label: String, record: OsvRecord) {
        if self.source.is_none() {
            match record_ecosystem(&record).map(source_for) {
                Some(source) => self.set_source(source),
                None => {
                    self.pending.push((label, record));
                    return;
                }
            }
        }
        let source = self.source.as_deref().unwrap_or("osv:unknown");
        match convert(&label, record, source) {
            Ok(record) => self.records.push(record),
            Err(problem) => self.problems.push(problem),
        }
    }

    fn set_source(&mut self, source: String) {
        self.source = Some(source);
        for (label, record) in std::mem::take(&mut self.pending) {
            self.add(label, record);
        }
    }

    fn take(&mut self) -> Parsed {
        let mode = if self.emitted {
            SourceMode::Upsert
        } else {
            SourceMode::Replace
        };
        self.emitted = true;
        Parsed {
            batches: vec![Batch {
                source: self
                    .source
                    .clone()
                    .unwrap_or_else(|| "osv:unknown".to_owned()),
                mode,
                records: std::mem::take(&mut self.records),
            }],
            problems: std::mem::take(&mut self.problems),
            ..Parsed::default()
        }
    }
}

/// Reject absolute entry names and names that climb out with `..`.
fn check_entry_name(label: &str, name: &str) -> Result<()> {
    let unsafe_name = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.get(1..2) == Some(":")
        || name.split(['/', '\\']).any(|part| part == "..")
        || Path::new(name).components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
    if unsafe_name {
        return Err(Error::new(
            ErrorKind::UnsafePath,
            format!("{label}: unsafe zip entry name {name:?} (absolute or containing ..)"),
        ));
    }
    Ok(())
}

/// Parse one OSV JSON record: an upsert into its ecosystem's source.
pub(crate) fn parse_single(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let record: OsvRecord = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: malformed OSV JSON: {e}"),
        )
    })?;
    let source = record_ecosystem(&record)
        .map(source_for)
        .unwrap_or_else(|| "osv:unknown".to_owned());
    let mut parsed = Parsed::default();
    match convert(label, record, &source) {
        Ok(record) => parsed.batches.push(Batch {
            source,
            mode: SourceMode::Upsert,
            records: vec![record],
        }),
        Err(problem) => parsed.problems.push(problem),
    }
    Ok(parsed)
}

/// The CVE id of an OSV `upstream` id: `CVE-2023-4911` as is, and the CVE a distribution
/// prefixed (`UBUNTU-CVE-2023-4911`, Ubuntu's notices list their CVEs only so).
fn upstream_cve(id: &str) -> Option<String> {
    let start = id.find("CVE-")?;
    let cve = id.get(start..)?;
    let mut parts = cve.split('-').skip(1);
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (digits(parts.next()) && digits(parts.next()) && parts.next().is_none()).then(|| cve.to_owned())
}

/// The impact a Red Hat-family advisory states at the start of its summary
/// (`Important: glibc security update`, optionally after `Red Hat Security Advisory: `):
/// Red Hat's own rating, as RHSA, ALSA, RLSA and ELSA records carry it.
fn advisory_impact(summary: &str) -> Option<&'static str> {
    let summary = summary.trim_start();
    let summary = summary
        .strip_prefix("Red Hat Security Advisory:")
        .map_or(summary, str::trim_start);
    let (impact, _) = summary.split_once(':')?;
    match impact {
        "Critical" => Some("critical"),
        "Important" => Some("important"),
        "Moderate" => Some("moderate"),
        "Low" => Some("low"),
        _ => None,
    }
}

fn is_placeholder_time(value: &str) -> bool {
    value.trim().is_empty() || value.starts_with("0001-01-01")
}

fn convert(label: &str, raw: OsvRecord, source: &str) -> Result<Record, Problem> {
    let problem = |message: String| Problem {
        file: label.to_owned(),
        record: Some(raw.id.clone()),
        message,
    };
    if raw.id.trim().is_empty() {
        return Err(problem("empty id".to_owned()));
    }
    let mut vuln = Vulnerability::new(raw.id.clone(), source);
    vuln.aliases = raw.aliases.clone().unwrap_or_default();
    vuln.refresh_canonical_id();
    vuln.related = raw.related.clone().unwrap_or_default();
    vuln.related.extend(
        raw.upstream
            .iter()
            .flatten()
            .filter_map(|id| upstream_cve(id)),
    );
    vuln.related.sort();
    vuln.related.dedup();
    vuln.cwe_ids = crate::model::cwe_ids(
        raw.database_specific
            .as_ref()
            .and_then(|d| d.get("cwe_ids"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    );
    vuln.summary = raw
        .summary
        .as_deref()
        .and_then(first_line)
        .or_else(|| raw.details.as_deref().and_then(first_line));
    vuln.published = raw.published.clone().filter(|t| !is_placeholder_time(t));
    vuln.modified = raw.modified.clone().filter(|t| !is_placeholder_time(t));
    vuln.withdrawn = raw.withdrawn.clone().filter(|t| !t.trim().is_empty());
    vuln.references = raw
        .references
        .iter()
        .flatten()
        .map(|r| r.url.clone())
        .collect();
    for severity in raw.severity.iter().flatten() {
        vuln.severities.push(osv_severity(source, severity));
    }
    if let Some(rating) = vendor_rating(&raw, &vuln) {
        vuln.severities.push(Severity::vendor(source, rating));
    }
    let mut affected = Vec::new();
    for item in raw.affected.iter().flatten() {
        add_item_severities(&mut vuln, item, source);
        let Some(package) = &item.package else {
            continue;
        };
        let ranges = read_ranges(item, &package.name).map_err(problem)?;
        let (status, fixed_version) = fix_of(&ranges);
        affected.push(AffectedEntry {
            vuln_id: vuln.id.clone(),
            canonical_id: vuln.canonical_id.clone(),
            source: source.to_owned(),
            ecosystem: package.ecosystem.clone(),
            package: package.name.clone(),
            ranges,
            versions: item.versions.clone().unwrap_or_default(),
            status,
            fixed_version,
            notes: None,
        });
    }
    if vuln.withdrawn.is_some() {
        affected.clear();
    }
    Ok(Record { vuln, affected })
}

/// The vendor's own rating of a record: `database_specific.severity` (GHSA, SUSE), else the
/// impact a Red Hat-family advisory states in its summary, when it is about one CVE only (its
/// impact is the highest of its CVEs').
fn vendor_rating<'r>(raw: &'r OsvRecord, vuln: &Vulnerability) -> Option<&'r str> {
    if let Some(rating) = raw
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        return Some(rating);
    }
    let rating = raw.summary.as_deref().and_then(advisory_impact)?;
    let cves: std::collections::BTreeSet<&str> = vuln
        .aliases
        .iter()
        .chain(&vuln.related)
        .chain(std::iter::once(&vuln.id))
        .map(String::as_str)
        .filter(|id| id.starts_with("CVE-"))
        .collect();
    (cves.len() <= 1).then_some(rating)
}

/// Add an affected item's severities (and a `database_specific.cvss` vector) not yet known.
fn add_item_severities(vuln: &mut Vulnerability, item: &OsvAffected, source: &str) {
    for severity in item.severity.iter().flatten() {
        let severity = osv_severity(source, severity);
        if !vuln.severities.contains(&severity) {
            vuln.severities.push(severity);
        }
    }
    if let Some(vector) = item
        .database_specific
        .as_ref()
        .and_then(|d| d.get("cvss"))
        .and_then(Value::as_str)
        && !vuln
            .severities
            .iter()
            .any(|s| s.vector.as_deref() == Some(vector.trim()))
    {
        vuln.severities.push(Severity::from_vector(source, vector));
    }
}

/// An affected item's ranges; an unknown range type or event is an error naming `package`.
fn read_ranges(item: &OsvAffected, package: &str) -> Result<Vec<Range>, String> {
    let mut ranges = Vec::new();
    for range in item.ranges.iter().flatten() {
        let kind = match range.kind.as_str() {
            "ECOSYSTEM" => RangeType::Ecosystem,
            "SEMVER" => RangeType::Semver,
            "GIT" => RangeType::Git,
            other => {
                return Err(format!(
                    "unknown range type {other:?} for package {package}"
                ));
            }
        };
        let mut events = Vec::new();
        for (name, version) in range.events.iter().flatten() {
            events.push(match name.as_str() {
                "introduced" => Event::Introduced(version.clone()),
                "fixed" => Event::Fixed(version.clone()),
                "last_affected" => Event::LastAffected(version.clone()),
                "limit" => Event::Limit(version.clone()),
                other => {
                    return Err(format!(
                        "unknown range event {other:?} for package {package}"
                    ));
                }
            });
        }
        ranges.push(Range {
            kind,
            repo: range.repo.clone(),
            events,
        });
    }
    Ok(ranges)
}

/// Fixed or not, and the fixed versions of the non-git ranges (in order, each once).
fn fix_of(ranges: &[Range]) -> (FixStatus, Option<String>) {
    let mut fixed: Vec<&str> = Vec::new();
    for range in ranges.iter().filter(|r| r.kind != RangeType::Git) {
        for event in &range.events {
            if let Event::Fixed(v) = event
                && !fixed.contains(&v.as_str())
            {
                fixed.push(v);
            }
        }
    }
    if fixed.is_empty() {
        (FixStatus::NotFixed, None)
    } else {
        (FixStatus::Fixed, Some(fixed.join(", ")))
    }
}

fn osv_severity(source: &str, severity: &OsvSeverity) -> Severity {
    match severity.kind.as_str() {
        "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => Severity::from_vector(source, &severity.score),
        other => Severity::vendor(format!("{source}/{other}"), severity.score.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_a_record() {
        let json = r#"{"id":"GHSA-1","aliases":["CVE-2024-1"],"modified":"0001-01-01T00:00:00Z",
            "summary":"bad thing","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "database_specific":{"severity":"HIGH","cwe_ids":["CWE-79","CWE-20","bogus"]},
            "affected":[{"package":{"ecosystem":"PyPI","name":"Foo_Bar"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]},
                        {"type":"GIT","repo":"https://x","events":[{"introduced":"abc"},{"fixed":"def"}]}],
              "versions":["1.0","1.1"]}]}"#;
        let parsed = parse_single("f.json", json.as_bytes()).unwrap();
        let record = &parsed.batches[0].records[0];
        assert_eq!(parsed.batches[0].source, "osv:PyPI");
        assert_eq!(record.vuln.canonical_id, "CVE-2024-1");
        assert_eq!(record.vuln.modified, None);
        assert_eq!(record.vuln.severities.len(), 2);
        assert_eq!(record.vuln.severities[0].score, Some(9.8));
        assert_eq!(record.vuln.severities[1].rating.as_deref(), Some("HIGH"));
        assert_eq!(record.vuln.cwe_ids, ["CWE-20", "CWE-79"]);
        let entry = &record.affected[0];
        assert_eq!(entry.fixed_version.as_deref(), Some("1.2"));
        assert_eq!(entry.status, FixStatus::Fixed);
        assert_eq!(entry.ranges.len(), 2);
        assert_eq!(entry.versions, vec!["1.0", "1.1"]);
    }

    #[test]
    fn ubuntu_upstream_cves_become_related() {
        let json = r#"{"id":"USN-6622-1","aliases":[],"related":[],
            "upstream":["UBUNTU-CVE-2024-0727","UBUNTU-CVE-2023-5678","CVE-2023-6129","UBUNTU-CVE-x","GHSA-1"],
            "affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.2-0ubuntu1.14"}]}]}]}"#;
        let parsed = parse_single("u.json", json.as_bytes()).unwrap();
        let vuln = &parsed.batches[0].records[0].vuln;
        assert_eq!(vuln.canonical_id, "USN-6622-1");
        assert_eq!(
            vuln.related,
            ["CVE-2023-5678", "CVE-2023-6129", "CVE-2024-0727"]
        );
    }

    #[test]
    fn vendor_ratings_of_ubuntu_suse_and_red_hat_family_records() {
        let ratings = |json: &str| -> Vec<(String, Option<String>)> {
            let parsed = parse_single("r.json", json.as_bytes()).unwrap();
            parsed.batches[0].records[0]
                .vuln
                .severities
                .iter()
                .map(|s| (s.source.clone(), s.rating.clone()))
                .collect()
        };
        let affected = r#""affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"glibc"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.34-60.el9_2.7"}]}]}]"#;
        // One CVE: the advisory's impact is that CVE's.
        let one = format!(
            r#"{{"id":"ALSA-2023:5453","summary":"Important: glibc security update","related":["CVE-2023-4911"],{affected}}}"#
        );
        assert_eq!(
            ratings(&one),
            [("osv:AlmaLinux".to_owned(), Some("important".to_owned()))]
        );
        // Several CVEs: the impact is the highest of them, so it rates none.
        let two = one.replace(
            r#"["CVE-2023-4911"]"#,
            r#"["CVE-2023-4911","CVE-2023-4806"]"#,
        );
        assert_eq!(ratings(&two), []);
        let red_hat = one.replace(
            "Important: glibc",
            "Red Hat Security Advisory: Moderate: glibc",
        );
        assert_eq!(ratings(&red_hat)[0].1.as_deref(), Some("moderate"));
        assert_eq!(ratings(&one.replace("Important:", "Update:")), []);
        // Ubuntu's priority, and a rating in database_specific (SUSE, GHSA).
        let ubuntu = r#"{"id":"CVE-2024-0727","severity":[{"type":"Ubuntu","score":"medium"}],
            "affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"}}]}"#;
        assert_eq!(
            ratings(ubuntu),
            [("osv:Ubuntu/Ubuntu".to_owned(), Some("medium".to_owned()))]
        );
        let suse = r#"{"id":"SUSE-SU-2024:0001-1","related":["CVE-2024-1"],"database_specific":{"severity":"important"},
            "affected":[{"package":{"ecosystem":"SUSE:Linux Enterprise Server 15 SP5","name":"openssl-3"}}]}"#;
        assert_eq!(
            ratings(suse),
            [("osv:SUSE".to_owned(), Some("important".to_owned()))]
        );
    }

    #[test]
    fn unknown_range_type_names_file_and_record() {
        let json = r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"WEIRD","events":[]}]}]}"#;
        let parsed = parse_single("dir/x.json", json.as_bytes()).unwrap();
        assert!(parsed.batches.is_empty());
        let problem = &parsed.problems[0];
        assert_eq!(problem.file, "dir/x.json");
        assert_eq!(problem.record.as_deref(), Some("X-1"));
        assert!(problem.message.contains("WEIRD"), "{}", problem.message);
    }

    #[test]
    fn withdrawn_records_have_no_affected_entries() {
        let json = r#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"}}]}"#;
        let parsed = parse_single("x.json", json.as_bytes()).unwrap();
        let record = &parsed.batches[0].records[0];
        assert!(record.affected.is_empty());
        assert_eq!(
            record.vuln.withdrawn.as_deref(),
            Some("2024-02-01T00:00:00Z")
        );
    }

    #[test]
    fn unsafe_entry_names() {
        for bad in [
            "../x.json",
            "/etc/x.json",
            "a/../../x.json",
            "C:/x.json",
            "..\\x.json",
        ] {
            let err = check_entry_name("z.zip", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsafePath, "{bad}");
            assert!(err.to_string().contains("z.zip"));
        }
        check_entry_name("z.zip", "GO-2020-0001.json").unwrap();
        check_entry_name("z.zip", "a/b..c.json").unwrap();
    }
}
