//! The Debian security tracker's JSON (`https://security-tracker.debian.org/tracker/data/json`):
//! per source package, per CVE, per release, the status, fixed version, urgency and no-DSA
//! decision. It gives Debian's own ratings and its "will not fix" decisions, which OVAL lacks.
//!
//! One source per release, `debian-tracker:<version>` (`debian-tracker:12`), replaced by each
//! import, in ecosystem `Debian:<version>` (the one Debian OVAL uses). Per release entry:
//!
//! | tracker | affected entry |
//! |---|---|
//! | `resolved` with `fixed_version` `0` | none (never affected) |
//! | `resolved` with a version | fixed in that version |
//! | `open` / `undetermined` with `nodsa` or `nodsa_reason` (`postponed`, `ignored`) | `wont_fix`, note `no-dsa: <reason>` |
//! | `open` / `undetermined` with urgency `end-of-life` | `wont_fix`, note `end-of-life` |
//! | `open` / `undetermined` otherwise | not fixed |
//!
//! The urgency is the rating (`unimportant` = negligible, `low`, `medium`, `high`; a
//! trailing `*` of a guessed urgency is dropped); `not yet assigned` and `end-of-life` are
//! not ratings. A record carries the highest urgency its packages have in that release.
//! Only `CVE-` ids are kept (`TEMP-` ids name nothing other sources know). Codenames without
//! a release number here (`sid`, `experimental`) are skipped.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::debian_list::debian_release;
use super::{Parsed, Problem, first_line};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AffectedEntry, FixStatus, Record, Severity, Vulnerability};

/// The Debian code names read (their release numbers are [`debian_release`]'s).
const RELEASES: [&str; 6] = [
    "stretch", "buster", "bullseye", "bookworm", "trixie", "forky",
];

/// Whether a JSON object looks like the tracker's document: package names mapping to CVE
/// ids mapping to objects with `releases`.
pub(crate) fn looks_like_tracker(object: &Map<String, Value>) -> bool {
    object.values().take(3).any(|cves| {
        cves.as_object().is_some_and(|cves| {
            cves.iter().take(3).any(|(id, cve)| {
                (id.starts_with("CVE-") || id.starts_with("TEMP-"))
                    && cve.get("releases").is_some_and(Value::is_object)
            })
        })
    })
}

/// Urgency order: a higher one wins for a record.
fn urgency_rank(rating: &str) -> u8 {
    match rating {
        "negligible" => 1,
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        _ => 0,
    }
}

/// The rating of an urgency, if it is one.
fn rating(urgency: &str) -> Option<&'static str> {
    match urgency.trim().trim_end_matches('*').trim() {
        "unimportant" => Some("negligible"),
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        _ => None,
    }
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    // Each package's part is kept as raw text and read on its own: never the whole file
    // as one tree of values.
    let doc: BTreeMap<String, &serde_json::value::RawValue> = serde_json::from_slice(bytes)
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: malformed Debian security tracker JSON: {e}"),
            )
        })?;
    let mut parsed = Parsed::default();
    // release -> id -> (record, best urgency rank)
    let mut releases: BTreeMap<&str, BTreeMap<String, (Record, u8)>> = BTreeMap::new();
    for (package, raw) in &doc {
        let cves: Option<Map<String, Value>> = serde_json::from_str(raw.get()).ok();
        let Some(cves) = cves else {
            parsed.problems.push(Problem {
                file: label.to_owned(),
                record: Some(package.clone()),
                message: "expected an object of CVE ids".to_owned(),
            });
            continue;
        };
        for (id, cve) in &cves {
            if !id.starts_with("CVE-") {
                continue;
            }
            let problem = |message: String| Problem {
                file: label.to_owned(),
                record: Some(format!("{id} ({package})")),
                message,
            };
            let Some(per_release) = cve.get("releases").and_then(Value::as_object) else {
                parsed
                    .problems
                    .push(problem("no `releases` object".to_owned()));
                continue;
            };
            let summary = cve
                .get("description")
                .and_then(Value::as_str)
                .and_then(first_line);
            for (codename, release) in per_release {
                let read = RELEASES.contains(&codename.as_str());
                let Some(version) = debian_release(codename).filter(|_| read) else {
                    continue;
                };
                let text = |key: &str| release.get(key).and_then(Value::as_str).unwrap_or("");
                let status = text("status");
                let urgency = text("urgency");
                let (fix, fixed, note) = match status {
                    "resolved" => match text("fixed_version") {
                        "" => {
                            parsed.problems.push(problem(format!(
                                "{codename}: resolved without a fixed_version"
                            )));
                            continue;
                        }
                        "0" => continue,
                        fixed => (FixStatus::Fixed, Some(fixed.to_owned()), None),
                    },
                    "open" | "undetermined" => {
                        let reason = text("nodsa_reason");
                        let nodsa = release.get("nodsa").is_some() || !reason.is_empty();
                        if urgency.trim() == "end-of-life" {
                            (FixStatus::WontFix, None, Some("end-of-life".to_owned()))
                        } else if nodsa {
                            let reason = if reason.is_empty() { "no-dsa" } else { reason };
                            (FixStatus::WontFix, None, Some(format!("no-dsa: {reason}")))
                        } else {
                            (FixStatus::NotFixed, None, None)
                        }
                    }
                    other => {
                        parsed.problems.push(problem(format!(
                            "{codename}: unknown status {:?}",
                            other.chars().take(40).collect::<String>()
                        )));
                        continue;
                    }
                };
                let source = format!("debian-tracker:{version}");
                let (record, best) = releases
                    .entry(version)
                    .or_default()
                    .entry(id.clone())
                    .or_insert_with(|| {
                        let mut vuln = Vulnerability::new(id.clone(), &source);
                        vuln.summary.clone_from(&summary);
                        vuln.references
                            .push(format!("https://security-tracker.debian.org/tracker/{id}"));
                        (
                            Record {
                                vuln,
                                affected: Vec::new(),
                            },
                            0,
                        )
                    });
                if let Some(rated) = rating(urgency)
                    && urgency_rank(rated) > *best
                {
                    *best = urgency_rank(rated);
                    record.vuln.severities = vec![Severity::vendor(&source, rated)];
                }
                let mut entry = AffectedEntry::distro(
                    &record.vuln,
                    format!("Debian:{version}"),
                    package.as_str(),
                    fix,
                    fixed,
                );
                entry.notes = note;
                record.affected.push(entry);
            }
        }
    }
    for (version, records) in releases {
        parsed.replace(
            format!("debian-tracker:{version}"),
            records.into_values().map(|(record, _)| record).collect(),
        );
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tracker's shape, with the cases of the mapping table.
    const DOC: &str = r#"{
      "glibc": {
        "CVE-2019-1010022": {"description": "GNU Libc current is affected by: Mitigation bypass.\nMore.",
          "scope": "local",
          "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "2.36-9+deb12u4"}, "urgency": "unimportant"},
                       "sid": {"status": "open", "repositories": {"sid": "2.40-3"}, "urgency": "unimportant"}}},
        "CVE-2023-4911": {"description": "Looney Tunables",
          "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "2.36-9+deb12u4"}, "fixed_version": "2.36-9+deb12u3", "urgency": "high"},
                       "bullseye": {"status": "resolved", "repositories": {"bullseye": "2.31-13+deb11u7"}, "fixed_version": "0", "urgency": "not yet assigned"}}},
        "TEMP-0000000-ABCDEF": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}
      },
      "curl": {
        "CVE-2024-2398": {"description": "HTTP/2 push headers memory-leak",
          "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "7.88.1-10+deb12u5"}, "urgency": "medium*", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
                       "bullseye": {"status": "open", "repositories": {"bullseye": "7.74.0-1.3+deb11u11"}, "urgency": "end-of-life"}}}
      },
      "libxml2": {
        "CVE-2024-25062": {"releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "2.9.14+dfsg-1.3~deb12u1"}, "urgency": "low"},
                                        "trixie": {"status": "weird"}}}
      },
      "broken": []
    }"#;

    fn entry<'a>(parsed: &'a Parsed, source: &str, id: &str) -> &'a Record {
        let batch = parsed.batches.iter().find(|b| b.source == source).unwrap();
        batch.records.iter().find(|r| r.vuln.id == id).unwrap()
    }

    #[test]
    fn maps_statuses_urgencies_and_no_dsa() {
        let value: Value = serde_json::from_str(DOC).unwrap();
        assert!(looks_like_tracker(value.as_object().unwrap()));
        let parsed = parse("tracker.json", DOC.as_bytes()).unwrap();
        let sources: Vec<&str> = parsed.batches.iter().map(|b| b.source.as_str()).collect();
        assert_eq!(sources, ["debian-tracker:11", "debian-tracker:12"]);

        let disputed = entry(&parsed, "debian-tracker:12", "CVE-2019-1010022");
        assert_eq!(
            disputed.vuln.summary.as_deref(),
            Some("GNU Libc current is affected by: Mitigation bypass.")
        );
        assert_eq!(
            disputed.vuln.severities[0].rating.as_deref(),
            Some("negligible")
        );
        assert_eq!(disputed.affected[0].ecosystem, "Debian:12");
        assert_eq!(disputed.affected[0].package, "glibc");
        assert_eq!(disputed.affected[0].status, FixStatus::NotFixed);

        let fixed = entry(&parsed, "debian-tracker:12", "CVE-2023-4911");
        assert_eq!(
            fixed.affected[0].fixed_version.as_deref(),
            Some("2.36-9+deb12u3")
        );
        assert_eq!(fixed.vuln.severities[0].rating.as_deref(), Some("high"));
        // Fixed version 0: bullseye was never affected.
        let bullseye = parsed
            .batches
            .iter()
            .find(|b| b.source == "debian-tracker:11")
            .unwrap();
        assert!(
            bullseye
                .records
                .iter()
                .all(|r| r.vuln.id != "CVE-2023-4911")
        );

        let postponed = entry(&parsed, "debian-tracker:12", "CVE-2024-2398");
        assert_eq!(postponed.affected[0].status, FixStatus::WontFix);
        assert_eq!(
            postponed.affected[0].notes.as_deref(),
            Some("no-dsa: postponed")
        );
        assert_eq!(
            postponed.vuln.severities[0].rating.as_deref(),
            Some("medium")
        );
        let eol = entry(&parsed, "debian-tracker:11", "CVE-2024-2398");
        assert_eq!(eol.affected[0].status, FixStatus::WontFix);
        assert_eq!(eol.affected[0].notes.as_deref(), Some("end-of-life"));
        assert!(eol.vuln.severities.is_empty());

        // TEMP ids are skipped; an unknown status and a non-object package are problems.
        assert!(
            parsed
                .batches
                .iter()
                .all(|b| b.records.iter().all(|r| r.vuln.id.starts_with("CVE-")))
        );
        let problems: Vec<String> = parsed
            .problems
            .iter()
            .map(|p| format!("{:?}: {}", p.record, p.message))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("broken"), "{problems:?}");
        assert!(
            problems[1].contains("CVE-2024-25062") && problems[1].contains("weird"),
            "{problems:?}"
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let err = parse("t.json", b"[1,2]").unwrap_err();
        assert!(err.to_string().starts_with("t.json: "), "{err}");
    }
}
