//! The Debian security tracker's advisory lists (`data/DSA/list`, `data/DLA/list`).
//!
//! ```text
//! [29 Mar 2023] DSA-5380-1 xorg-server - security update
//!     {CVE-2023-1393}
//!     [bullseye] - xorg-server 2:1.20.11-1+deb11u6
//!     [buster] - foo <not-affected> (Vulnerable code not present)
//!     NOTE: ...
//! ```
//!
//! Each advisory is one record (id `DSA-5380-1`, its CVEs as aliases) with one affected entry
//! per release line, in `Debian:<version>` (`bullseye` → `Debian:11`; unknown code names
//! are kept as they are). A version means fixed; `<not-affected>` → not affected;
//! `<unfixed>`/`<postponed>` → not fixed; `<end-of-life>`, `<no-dsa>`, `<ignored>` → will
//! not fix. Each list is a snapshot source: `debian-dsa` or `debian-dla`.

use std::collections::BTreeMap;

use super::{Parsed, Problem};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AffectedEntry, FixStatus, Record, Vulnerability};

/// Debian release code names and their version numbers.
const RELEASES: &[(&str, &str)] = &[
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// The version number of a Debian code name (`bookworm` → `12`).
pub fn debian_release(codename: &str) -> Option<&'static str> {
    RELEASES
        .iter()
        .find(|(name, _)| *name == codename)
        .map(|(_, version)| *version)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

struct Header<'a> {
    date: Option<String>,
    id: &'a str,
    package: &'a str,
    title: &'a str,
}

/// `[29 Mar 2023] DSA-5380-1 xorg-server - security update`
fn parse_header(line: &str) -> Option<Header<'_>> {
    let rest = line.strip_prefix('[')?;
    let (date, rest) = rest.split_once(']')?;
    let mut parts = date.split_whitespace();
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let date = match (day.parse::<u32>(), year.parse::<u32>()) {
        (Ok(d), Ok(y)) => Some(format!("{y:04}-{month:02}-{d:02}")),
        _ => None,
    };
    let rest = rest.trim_start();
    let (id, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !(id.starts_with("DSA-") || id.starts_with("DLA-")) {
        return None;
    }
    let rest = rest.trim();
    let (package, title) = match rest.split_once(" - ") {
        Some((package, title)) => (package.trim(), title.trim()),
        None => (rest, ""),
    };
    Some(Header {
        date,
        id,
        package,
        title,
    })
}

/// True when the first non-empty line is an advisory header.
pub(crate) fn looks_like_list(text: &[u8]) -> bool {
    let head = &text[..text.len().min(4096)];
    let head = String::from_utf8_lossy(head);
    head.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|line| parse_header(line.trim_end()).is_some())
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: advisory list is not UTF-8: {e}"),
        )
    })?;
    let mut parsed = Parsed::default();
    let mut records: BTreeMap<String, Record> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut source: Option<&'static str> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            let Some(header) = parse_header(line.trim_end()) else {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{label}: line {line_no}: not an advisory header: {line:?}"),
                ));
            };
            let this_source = if header.id.starts_with("DSA-") {
                "debian-dsa"
            } else {
                "debian-dla"
            };
            if *source.get_or_insert(this_source) != this_source {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{label}: line {line_no}: {} in a list of other advisories",
                        header.id
                    ),
                ));
            }
            let record = records
                .entry(header.id.to_owned())
                .or_insert_with(|| Record {
                    vuln: Vulnerability::new(header.id, this_source),
                    affected: Vec::new(),
                });
            record.vuln.published = header.date;
            record.vuln.summary = Some(if header.title.is_empty() {
                header.package.to_owned()
            } else {
                format!("{} - {}", header.package, header.title)
            });
            current = Some(header.id.to_owned());
            continue;
        }
        let body = line.trim();
        let Some(record) = current.as_ref().and_then(|id| records.get_mut(id)) else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: line {line_no}: text before the first advisory"),
            ));
        };
        if let Some(ids) = body.strip_prefix('{') {
            for id in ids.trim_end_matches('}').split_whitespace() {
                if !record.vuln.aliases.iter().any(|a| a == id) {
                    record.vuln.aliases.push(id.to_owned());
                }
            }
            record.vuln.refresh_canonical_id();
        } else if body.starts_with('[') {
            match parse_release_line(body, &record.vuln) {
                Ok(entry) => record.affected.push(entry),
                Err(message) => parsed.problems.push(Problem {
                    file: format!("{label}:{line_no}"),
                    record: Some(record.vuln.id.clone()),
                    message,
                }),
            }
        }
        // NOTE: lines and anything else are commentary.
    }
    for record in records.values_mut() {
        for entry in &mut record.affected {
            entry.canonical_id = record.vuln.canonical_id.clone();
        }
    }
    let Some(source) = source else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: no advisories"),
        ));
    };
    parsed.replace(source, records.into_values().collect());
    Ok(parsed)
}

/// `[bullseye] - xorg-server 2:1.20.11-1+deb11u6 (notes)`
fn parse_release_line(body: &str, vuln: &Vulnerability) -> Result<AffectedEntry, String> {
    let rest = body.strip_prefix('[').ok_or("missing [release]")?;
    let (codename, rest) = rest.split_once(']').ok_or("missing ] after the release")?;
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix('-')
        .ok_or_else(|| format!("expected \"- package version\" in {body:?}"))?
        .trim_start();
    let (package, rest) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("missing version in {body:?}"))?;
    let rest = rest.trim();
    let (version, notes) = match rest.split_once(char::is_whitespace) {
        Some((version, notes)) => (version, Some(notes.trim().to_owned())),
        None => (rest, None),
    };
    let (status, fixed) = match version {
        "<not-affected>" => (FixStatus::NotAffected, None),
        "<unfixed>" | "<postponed>" => (FixStatus::NotFixed, None),
        "<end-of-life>" | "<no-dsa>" | "<ignored>" => (FixStatus::WontFix, None),
        v if v.starts_with('<') => return Err(format!("unknown status {v}")),
        "" => return Err(format!("missing version in {body:?}")),
        v => (FixStatus::Fixed, Some(v.to_owned())),
    };
    let ecosystem = match debian_release(codename) {
        Some(version) => format!("Debian:{version}"),
        None => format!("Debian:{codename}"),
    };
    let mut entry = AffectedEntry::distro(vuln, ecosystem, package, status, fixed);
    entry.notes = notes.filter(|n| !n.is_empty());
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "[29 Mar 2023] DSA-5380-1 xorg-server - security update
\t{CVE-2023-1393}
\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6
[25 Mar 2023] DSA-5378-1 xen - security update
\t{CVE-2022-23824 CVE-2022-42331}
\t[bullseye] - xen 4.14.5+94-ge49571868d-1
\t[lenny] - vlc <not-affected> (Vulnerable code not present)
\tNOTE: fixed in testing
[17 Mar 2023] DSA-5356-2 sox - regression update
\t[jessie] - sox <end-of-life>
";

    #[test]
    fn parses_advisories() {
        let parsed = parse("DSA.list", SAMPLE.as_bytes()).unwrap();
        assert!(parsed.problems.is_empty());
        let batch = &parsed.batches[0];
        assert_eq!(batch.source, "debian-dsa");
        assert_eq!(batch.records.len(), 3);
        let xen = batch
            .records
            .iter()
            .find(|r| r.vuln.id == "DSA-5378-1")
            .unwrap();
        assert_eq!(xen.vuln.canonical_id, "DSA-5378-1");
        assert_eq!(xen.vuln.published.as_deref(), Some("2023-03-25"));
        assert_eq!(xen.affected.len(), 2);
        assert_eq!(xen.affected[0].ecosystem, "Debian:11");
        assert_eq!(
            xen.affected[0].fixed_version.as_deref(),
            Some("4.14.5+94-ge49571868d-1")
        );
        assert_eq!(xen.affected[1].status, FixStatus::NotAffected);
        assert_eq!(
            xen.affected[1].notes.as_deref(),
            Some("(Vulnerable code not present)")
        );
        let xorg = batch
            .records
            .iter()
            .find(|r| r.vuln.id == "DSA-5380-1")
            .unwrap();
        assert_eq!(xorg.vuln.canonical_id, "CVE-2023-1393");
        assert_eq!(xorg.affected[0].canonical_id, "CVE-2023-1393");
        let sox = batch
            .records
            .iter()
            .find(|r| r.vuln.id == "DSA-5356-2")
            .unwrap();
        assert_eq!(sox.affected[0].status, FixStatus::WontFix);
    }
}
