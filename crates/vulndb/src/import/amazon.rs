//! Amazon Linux advisories (ALAS) from a repository's `updateinfo.xml` (optionally gzip).
//!
//! Each `<update type="security">` is one advisory: its `<id>` (`ALAS2-2024-1234`,
//! `ALAS2023-2024-567`, `ALAS-2024-1`) names the release (`Amazon Linux:2`, `:2023`, `:1`),
//! its `<severity>` is a vendor rating, its `<reference type="cve">` ids go to `related`
//! and every `<package>` of its `<pkglist>` (binary rpms) is fixed at
//! `EPOCH:VERSION-RELEASE` (epoch `0` when absent). A package is one entry whose `notes`
//! list the arches; the arch is not matched, so when arches differ the lowest EVR is used. Each
//! release is a snapshot source `alas:<release>`.
//!
//! Skipped: updates of another type (bugfix, enhancement), and advisories of the Extras
//! and kernel topics (`ALAS2KERNEL-5.10-…`, `ALAS2DOCKER-…`), whose packages replace the
//! core ones only when that topic is enabled. An update with no id, a package with no
//! name or version, or an id that is not an ALAS is a [`Problem`].

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::{BytesStart, Event};

use super::xml::{attr, each_event, push_text};
use super::{Parsed, Problem};
use crate::error::Result;
use crate::model::{Record, Severity, Vulnerability};

/// True when the head of an XML document is an `updateinfo.xml`.
pub(crate) fn looks_like_updateinfo(head: &[u8]) -> bool {
    super::contains(head, b"<updates") && !super::contains(head, b"oval_definitions")
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    name: String,
    evr: Option<String>,
    arch: String,
}

#[derive(Debug, Default)]
struct Update {
    kind: String,
    id: String,
    title: String,
    severity: String,
    issued: Option<String>,
    cves: BTreeSet<String>,
    urls: Vec<String>,
    packages: Vec<Package>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Id,
    Title,
    Severity,
}

fn package(e: &BytesStart<'_>) -> Package {
    let get = |name: &[u8]| {
        attr(e, name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let evr = match (get(b"version"), get(b"release")) {
        (Some(version), Some(release)) => {
            let epoch = get(b"epoch").unwrap_or_else(|| "0".to_owned());
            Some(format!("{epoch}:{version}-{release}"))
        }
        _ => None,
    };
    Package {
        name: get(b"name").unwrap_or_default(),
        evr,
        arch: get(b"arch").unwrap_or_default(),
    }
}

fn read_updates(label: &str, bytes: &[u8]) -> Result<Vec<Update>> {
    let mut updates = Vec::new();
    let mut current: Option<Update> = None;
    let mut capture: Option<Capture> = None;
    let mut text = String::new();
    each_event(label, bytes, ("updateinfo", b"updates"), |event| {
        match *event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let update = current.as_mut();
                match (e.local_name().as_ref(), update) {
                    (b"update", _) => {
                        current = Some(Update {
                            kind: attr(e, b"type").unwrap_or_default(),
                            ..Update::default()
                        })
                    }
                    (b"id", Some(_)) => capture = Some(Capture::Id),
                    (b"title", Some(_)) => capture = Some(Capture::Title),
                    (b"severity", Some(_)) => capture = Some(Capture::Severity),
                    (b"issued", Some(update)) => {
                        update.issued = attr(e, b"date")
                            .and_then(|d| d.get(..10).map(str::to_owned))
                            .filter(|d| d.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
                    }
                    (b"reference", Some(update)) => {
                        let kind = attr(e, b"type").unwrap_or_default();
                        let id = attr(e, b"id").unwrap_or_default().trim().to_owned();
                        if kind.eq_ignore_ascii_case("cve") && id.starts_with("CVE-") {
                            update.cves.insert(id);
                        }
                        if let Some(url) = attr(e, b"href").filter(|u| !u.is_empty())
                            && !update.urls.contains(&url)
                        {
                            update.urls.push(url);
                        }
                    }
                    (b"package", Some(update)) => update.packages.push(package(e)),
                    _ => {}
                }
                if capture.is_some() {
                    text.clear();
                    if matches!(event, Event::Empty(_)) {
                        capture = None;
                    }
                }
            }
            ref event if capture.is_some() && push_text(label, event, &mut text)? => {}
            Event::End(ref e) => match e.local_name().as_ref() {
                b"update" => updates.extend(current.take()),
                b"id" | b"title" | b"severity" => {
                    if let (Some(kind), Some(update)) = (capture.take(), current.as_mut()) {
                        let value = text.trim().to_owned();
                        match kind {
                            Capture::Id => update.id = value,
                            Capture::Title => update.title = value,
                            Capture::Severity => update.severity = value,
                        }
                    }
                    text.clear();
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    })?;
    Ok(updates)
}

/// The release of an ALAS id: `Ok(Some("2"))` for `ALAS2-…`, `Ok(None)` for an Extras or
/// kernel topic (`ALAS2KERNEL-5.10-…`), `Err` for something that is no ALAS.
fn release_of(id: &str) -> std::result::Result<Option<&'static str>, ()> {
    let rest = id.strip_prefix("ALAS").ok_or(())?;
    let (prefix, tail) = rest.split_once('-').ok_or(())?;
    if tail.is_empty() {
        return Err(());
    }
    Ok(match prefix {
        "" => Some("1"),
        "2" => Some("2"),
        "2022" => Some("2022"),
        "2023" => Some("2023"),
        _ => None,
    })
}

/// Parse an (uncompressed) `updateinfo.xml`.
pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let updates = read_updates(label, bytes)?;
    let mut parsed = Parsed::default();
    // release -> id -> (record, (package, evr) -> arches)
    type Entries = BTreeMap<(String, String), BTreeSet<String>>;
    let mut releases: BTreeMap<&str, BTreeMap<String, (Record, Entries)>> = BTreeMap::new();
    for update in updates {
        if !update.kind.eq_ignore_ascii_case("security") {
            continue;
        }
        let id = update.id.clone();
        let problem = |message: String| Problem {
            file: label.to_owned(),
            record: (!id.is_empty()).then(|| id.chars().take(80).collect()),
            message,
        };
        let release = match release_of(&id) {
            Ok(Some(release)) if id.len() <= 64 => release,
            Ok(None) => {
                tracing::debug!(id = %id, "an Extras or kernel topic advisory; skipped");
                continue;
            }
            _ => {
                parsed.problems.push(problem(format!(
                    "not an ALAS id: {:?}",
                    id.chars().take(80).collect::<String>()
                )));
                continue;
            }
        };
        let source = format!("alas:{release}");
        let mut packages = Entries::new();
        for package in &update.packages {
            match (&package.evr, package.name.is_empty()) {
                (Some(evr), false) => {
                    let arches = packages
                        .entry((package.name.clone(), evr.clone()))
                        .or_default();
                    if !package.arch.is_empty() {
                        arches.insert(package.arch.clone());
                    }
                }
                _ => parsed.problems.push(problem(format!(
                    "package {:?} has no name, version or release",
                    package.name.chars().take(80).collect::<String>()
                ))),
            }
        }
        if packages.is_empty() {
            if update.packages.is_empty() {
                parsed.problems.push(problem("no packages".to_owned()));
            }
            continue;
        }
        let (record, entries) = releases
            .entry(release)
            .or_default()
            .entry(id.clone())
            .or_insert_with(|| {
                let mut vuln = Vulnerability::new(id.clone(), &source);
                vuln.summary = super::first_line(&update.title);
                vuln.published = update.issued.clone();
                if !update.severity.is_empty() {
                    vuln.severities
                        .push(Severity::vendor(&source, update.severity.clone()));
                }
                (
                    Record {
                        vuln,
                        affected: Vec::new(),
                    },
                    Entries::new(),
                )
            });
        record.vuln.related.extend(update.cves);
        record.vuln.related.sort();
        record.vuln.related.dedup();
        for url in update.urls {
            if !record.vuln.references.contains(&url) {
                record.vuln.references.push(url);
            }
        }
        for (key, arches) in packages {
            entries.entry(key).or_default().extend(arches);
        }
    }
    for (release, records) in releases {
        let records = records
            .into_values()
            .map(|(mut record, entries)| {
                let fixes = entries.into_iter().map(|((package, evr), arches)| {
                    let key = (format!("Amazon Linux:{release}"), package);
                    (key, evr, arches, BTreeSet::new())
                });
                record.affected = super::rpm_fix_entries(&record.vuln, fixes);
                record
            })
            .collect();
        parsed.replace(format!("alas:{release}"), records);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::error::ErrorKind;
    use crate::import::test_util::{fixed, fixture, rows};
    use crate::import::{ImportOptions, parse_bytes};
    use crate::model::SeverityKind;
    use crate::store::SourceMode;

    #[test]
    fn security_updates_become_records_per_release() {
        let name = "amazon-2-updateinfo.xml";
        let parsed = parse(name, &fixture(name)).unwrap();
        assert_eq!(parsed.batches.len(), 1);
        let batch = &parsed.batches[0];
        assert_eq!(
            (batch.source.as_str(), batch.mode),
            ("alas:2", SourceMode::Replace)
        );
        let curl = "0:8.3.0-1.amzn2.0.5";
        let both = Some("arch aarch64, x86_64");
        assert_eq!(
            rows(&batch.records),
            vec![
                fixed("ALAS2-2024-2001", "Amazon Linux:2", "curl", curl, both),
                fixed("ALAS2-2024-2001", "Amazon Linux:2", "libcurl", curl, both),
                fixed(
                    "ALAS2-2024-2002",
                    "Amazon Linux:2",
                    "openssl11-libs",
                    "1:1.1.1g-3.amzn2.0.2",
                    Some("arch x86_64")
                ),
            ]
        );
        let facts: Vec<_> = batch
            .records
            .iter()
            .map(|r| {
                let s = &r.vuln.severities[0];
                assert_eq!(
                    (s.kind, s.source.as_str()),
                    (SeverityKind::Vendor, "alas:2")
                );
                (
                    r.vuln.canonical_id.clone(),
                    r.vuln.related.clone(),
                    s.rating.clone(),
                    r.vuln.published.clone(),
                )
            })
            .collect();
        assert_eq!(
            facts,
            vec![
                (
                    "ALAS2-2024-2001".to_owned(),
                    vec!["CVE-2024-3001".to_owned(), "CVE-2024-3002".to_owned()],
                    Some("important".to_owned()),
                    Some("2024-03-05".to_owned())
                ),
                (
                    "ALAS2-2024-2002".to_owned(),
                    vec!["CVE-2024-3003".to_owned()],
                    Some("medium".to_owned()),
                    Some("2024-03-07".to_owned())
                ),
            ]
        );
        assert_eq!(
            batch.records[0].vuln.summary.as_deref(),
            Some("Amazon Linux 2 - ALAS2-2024-2001: important priority package update for curl")
        );
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            vec![
                format!("{name}: record <script>: not an ALAS id: \"<script>\""),
                format!(
                    "{name}: record ALAS2-2024-2003: package \"zlib\" has no name, version or release"
                ),
            ]
        );
    }

    #[test]
    fn amazon_linux_2023_gzip_and_a_missing_epoch() {
        let name = "amazon-2023-updateinfo.xml";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&fixture(name)).unwrap();
        let label = "updateinfo.xml.gz";
        let parsed = parse_bytes(
            label,
            std::path::Path::new(label),
            gz.finish().unwrap(),
            &ImportOptions::default(),
        )
        .unwrap();
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.batches[0].source, "alas:2023");
        let evr = "0:2.34-100.amzn2023.0.5";
        let x86 = Some("arch x86_64");
        assert_eq!(
            rows(&parsed.batches[0].records),
            vec![
                fixed("ALAS2023-2024-0500", "Amazon Linux:2023", "glibc", evr, x86),
                fixed(
                    "ALAS2023-2024-0500",
                    "Amazon Linux:2023",
                    "glibc-minimal-langpack",
                    evr,
                    x86
                ),
            ]
        );
    }

    #[test]
    fn release_of_ids() {
        assert_eq!(release_of("ALAS-2024-1"), Ok(Some("1")));
        assert_eq!(release_of("ALAS2-2024-1"), Ok(Some("2")));
        assert_eq!(release_of("ALAS2023-2024-1"), Ok(Some("2023")));
        assert_eq!(release_of("ALAS2KERNEL-5.10-2024-1"), Ok(None));
        assert_eq!(release_of("ALAS2-"), Err(()));
        assert_eq!(release_of("RHSA-2024:1"), Err(()));
    }

    #[test]
    fn truncated_or_hostile_updateinfo_is_an_error_not_a_panic() {
        let xml = String::from_utf8(fixture("amazon-2-updateinfo.xml")).unwrap();
        let cut = &xml[..xml.rfind("</updates>").unwrap()];
        let err = parse("cut.xml", cut.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string().starts_with("cut.xml: truncated updateinfo"),
            "{err}"
        );
        for bad in [
            &b"<updates><update type='security'><id>ALAS2-1-1</id><pkglist><package name='a' version='1' release='1' epoch='&#xFFFFFFFF;'/>"[..],
            b"<updates><update><id>",
            b"<updates></pkglist></updates>",
            b"<updates>\xff</updates>",
        ] {
            let _ = parse("bad.xml", bad);
        }
    }
}
