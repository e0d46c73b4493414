//! Photon OS CVE metadata (`cve_data_photon<version>.json` from
//! `packages.vmware.com/photon/photon_cve_metadata/`).
//!
//! The file is a JSON array of `{"cve_id", "pkg", "cve_score", "aff_ver", "res_ver"}`; the
//! release is not in it but in the file name (`cve_data_photon4.0.json` → `Photon OS:4.0`),
//! so a file must keep that name. Each CVE becomes one record of source `photon:<version>`
//! with an entry per package (a source rpm name; the matcher also looks binaries up under
//! their source's name): fixed at `res_ver` (`2.9.4-1.ph4`), or not fixed when `res_ver`
//! is `NA` (or empty). `cve_score` (a CVSS v3 base score, no vector) becomes Photon's
//! vendor rating on the CVSS v3 scale (`7.5` → `HIGH`), with the score kept.
//! `aff_ver` is not parsed ("all versions before X are vulnerable" always names `res_ver`
//! when one exists). An entry with no CVE id, no package or an unusable version is a
//! [`Problem`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{Parsed, Problem};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AffectedEntry, FixStatus, Record, Severity, Vulnerability};

/// True when a JSON array looks like Photon's CVE metadata.
pub(crate) fn looks_like_photon(text: &[u8]) -> bool {
    let head = &text[..text.len().min(4096)];
    text.starts_with(b"[")
        && super::contains(head, b"\"cve_id\"")
        && super::contains(head, b"\"pkg\"")
}

/// The Photon release in a file name (`…cve_data_photon4.0.json` → `4.0`).
pub(crate) fn release_from_name(name: &str) -> Option<String> {
    let start = name.rfind("cve_data_photon")? + "cve_data_photon".len();
    let rest = name.get(start..)?;
    let version = rest.strip_suffix(".json").unwrap_or(rest);
    let valid = !version.is_empty()
        && version.len() <= 8
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    valid.then(|| version.to_owned())
}

fn text<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn score(entry: &Value) -> Option<f64> {
    let value = entry.get("cve_score")?;
    let score = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))?;
    (score.is_finite() && (0.0..=10.0).contains(&score)).then_some(score)
}

/// The CVSS v3 qualitative rating of a base score.
fn cvss3_rating(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "CRITICAL",
        s if s >= 7.0 => "HIGH",
        s if s >= 4.0 => "MEDIUM",
        s if s > 0.0 => "LOW",
        _ => "NONE",
    }
}

/// Is `version` usable as an rpm `VERSION-RELEASE`?
fn plausible_version(version: &str) -> bool {
    version.len() <= 128
        && version
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~:-^".contains(&b))
}

/// Parse Photon's CVE metadata for the release named by `path`'s file name.
pub(crate) fn parse(label: &str, path: &Path, bytes: &[u8]) -> Result<Parsed> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let release = release_from_name(&name).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{label}: Photon CVE metadata, but the file name does not tell the release \
                 (keep the upstream name cve_data_photon<version>.json)"
            ),
        )
    })?;
    let entries: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: not a JSON array of Photon CVE entries: {e}"),
        )
        .with_source(e)
    })?;
    let source = format!("photon:{release}");
    let ecosystem = format!("Photon OS:{release}");
    let mut parsed = Parsed::default();
    // CVE -> (record, package -> (status, fixed))
    let mut records: BTreeMap<String, (Record, BTreeMap<String, Option<String>>)> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let cve = text(entry, "cve_id");
        let problem = |message: &str| Problem {
            file: label.to_owned(),
            record: Some(
                cve.map(|c| c.chars().take(80).collect())
                    .unwrap_or_else(|| format!("entry {index}")),
            ),
            message: message.to_owned(),
        };
        let Some(cve) = cve.filter(|c| c.starts_with("CVE-") && c.len() <= 32) else {
            parsed.problems.push(problem("no CVE id"));
            continue;
        };
        let Some(package) = text(entry, "pkg").filter(|p| p.len() <= 256) else {
            parsed.problems.push(problem("no package"));
            continue;
        };
        let fixed = match text(entry, "res_ver") {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("NA") => None,
            Some(v) if plausible_version(v) => Some(v.to_owned()),
            Some(_) => {
                parsed.problems.push(problem("res_ver is not a version"));
                continue;
            }
        };
        let (record, packages) = records.entry(cve.to_owned()).or_insert_with(|| {
            (
                Record {
                    vuln: Vulnerability::new(cve, &source),
                    affected: Vec::new(),
                },
                BTreeMap::new(),
            )
        });
        if record.vuln.severities.is_empty()
            && let Some(score) = score(entry)
        {
            let mut rating = Severity::vendor(&source, cvss3_rating(score));
            rating.score = Some(score);
            record.vuln.severities.push(rating);
        }
        // A package listed twice keeps its first fixed version.
        packages.entry(package.to_owned()).or_insert(fixed);
    }
    let records = records
        .into_values()
        .map(|(mut record, packages)| {
            record.affected = packages
                .into_iter()
                .map(|(package, fixed)| {
                    let status = if fixed.is_some() {
                        FixStatus::Fixed
                    } else {
                        FixStatus::NotFixed
                    };
                    AffectedEntry::distro(&record.vuln, ecosystem.clone(), package, status, fixed)
                })
                .collect();
            record
        })
        .collect();
    parsed.replace(source, records);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_util::{fixed, fixture, rows};
    use crate::import::{ImportOptions, parse_bytes};
    use crate::model::SeverityKind;
    use crate::store::SourceMode;

    const NAME: &str = "cve_data_photon5.0.json";

    #[test]
    fn entries_become_one_record_per_cve() {
        let parsed = parse_bytes(
            NAME,
            Path::new(NAME),
            fixture(NAME),
            &ImportOptions::default(),
        )
        .unwrap();
        let batch = &parsed.batches[0];
        assert_eq!(
            (batch.source.as_str(), batch.mode),
            ("photon:5.0", SourceMode::Replace)
        );
        let eco = "Photon OS:5.0";
        assert_eq!(
            rows(&batch.records),
            vec![
                fixed("CVE-2024-4001", eco, "libxml2", "2.11.7-1.ph5", None),
                fixed("CVE-2024-4002", eco, "curl", "8.7.1-1.ph5", None),
                (
                    "CVE-2024-4003".into(),
                    eco.into(),
                    "linux".into(),
                    FixStatus::NotFixed,
                    None,
                    None
                ),
                fixed("CVE-2024-4004", eco, "glibc", "2.36-9.ph5", None),
                fixed("CVE-2024-4004", eco, "openssh", "9.3p2-1.ph5", None),
            ]
        );
        let ratings: Vec<(SeverityKind, &str, Option<&str>, Option<f64>)> = batch
            .records
            .iter()
            .map(|r| {
                let s = &r.vuln.severities[0];
                (s.kind, s.source.as_str(), s.rating.as_deref(), s.score)
            })
            .collect();
        let vendor = |rating, score| {
            (
                SeverityKind::Vendor,
                "photon:5.0",
                Some(rating),
                Some(score),
            )
        };
        assert_eq!(
            ratings,
            vec![
                vendor("HIGH", 7.5),
                vendor("MEDIUM", 5.3),
                vendor("HIGH", 7.8),
                vendor("CRITICAL", 9.8),
            ]
        );
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            vec![
                format!("{NAME}: record entry 6: no CVE id"),
                format!("{NAME}: record CVE-2024-4005: res_ver is not a version"),
                format!("{NAME}: record entry 8: no CVE id"),
            ]
        );
    }

    #[test]
    fn the_release_comes_from_the_file_name() {
        assert_eq!(
            release_from_name("cve_data_photon4.0.json").as_deref(),
            Some("4.0")
        );
        assert_eq!(
            release_from_name("012-cve_data_photon3.0.json").as_deref(),
            Some("3.0")
        );
        assert_eq!(release_from_name("cve_data_photon.json"), None);
        assert_eq!(release_from_name("cve_data_photon../x.json"), None);
        let err = parse("data.json", Path::new("data.json"), &fixture(NAME)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("cve_data_photon<version>.json"),
            "{err}"
        );
        let err = parse(NAME, Path::new(NAME), b"[{\"cve_id\": \"CVE-1\", \"pkg\"").unwrap_err();
        assert!(err.to_string().starts_with(NAME), "{err}");
    }
}
