//! Alpine secdb: `v3.X/{main,community}.json`.
//!
//! Each file is a snapshot of one source, `alpine-secdb:<branch>/<repo>`. Entries are keyed
//! by origin (source) package and branch (`Alpine:v3.20`). A fixed version `0` means "not
//! affected in this branch" ([`FixStatus::NotAffected`]). An id may carry trailing text
//! (`CVE-2017-14316 XSA-231`): the first token is the id, the rest goes to the entry's notes.
//! An id listed under several fixed versions of one package (a regression fix) gives one
//! entry with the highest fixed version (apk ordering) and all the notes.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Parsed, Problem};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AffectedEntry, FixStatus, Record, Vulnerability};

#[derive(Debug, Deserialize)]
struct SecDb {
    distroversion: String,
    #[serde(default)]
    reponame: Option<String>,
    #[serde(default)]
    packages: Vec<PackageItem>,
}

#[derive(Debug, Deserialize)]
struct PackageItem {
    pkg: Package,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    secfixes: Option<BTreeMap<String, Option<Vec<String>>>>,
}

/// An entry being merged: (fixed version or None for "0", notes).
#[derive(Debug)]
struct Pending {
    fixed: Option<String>,
    notes: Vec<String>,
}

fn apk_cmp(a: &str, b: &str) -> Ordering {
    portcullis_versions::compare(portcullis_versions::Scheme::Apk, a, b)
        .unwrap_or_else(|_| a.cmp(b))
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let db: SecDb = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: malformed Alpine secdb JSON: {e}"),
        )
    })?;
    let branch = db.distroversion.trim();
    if branch.is_empty() || branch.contains(char::is_whitespace) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: bad distroversion {:?}", db.distroversion),
        ));
    }
    let repo = db.reponame.as_deref().unwrap_or("main").trim();
    let source = format!("alpine-secdb:{branch}/{repo}");
    let ecosystem = format!("Alpine:{branch}");
    let mut parsed = Parsed::default();
    // id -> package -> pending entry; BTreeMaps keep the output deterministic.
    let mut by_id: BTreeMap<String, BTreeMap<String, Pending>> = BTreeMap::new();
    for item in &db.packages {
        let package = item.pkg.name.trim();
        for (version, ids) in item.pkg.secfixes.iter().flatten() {
            let version = version.trim();
            for raw_id in ids.iter().flatten() {
                let mut tokens = raw_id.trim().splitn(2, char::is_whitespace);
                let Some(id) = tokens.next().filter(|t| !t.is_empty()) else {
                    parsed.problems.push(Problem {
                        file: label.to_owned(),
                        record: None,
                        message: format!("package {package}: empty id under {version}"),
                    });
                    continue;
                };
                let note = tokens.next().map(str::trim).filter(|t| !t.is_empty());
                let fixed = (version != "0").then(|| version.to_owned());
                let pending = by_id
                    .entry(id.to_owned())
                    .or_default()
                    .entry(package.to_owned())
                    .or_insert_with(|| Pending {
                        fixed: fixed.clone(),
                        notes: Vec::new(),
                    });
                if let (Some(new), Some(old)) = (&fixed, &pending.fixed)
                    && apk_cmp(new, old) == Ordering::Greater
                {
                    pending.fixed = Some(new.clone());
                } else if pending.fixed.is_none() && fixed.is_some() {
                    pending.fixed = fixed;
                }
                if let Some(note) = note
                    && !pending.notes.iter().any(|n| n == note)
                {
                    pending.notes.push(note.to_owned());
                }
            }
        }
    }
    let mut records = Vec::with_capacity(by_id.len());
    for (id, packages) in by_id {
        let vuln = Vulnerability::new(id, &source);
        let affected = packages
            .into_iter()
            .map(|(package, pending)| {
                let status = if pending.fixed.is_some() {
                    FixStatus::Fixed
                } else {
                    FixStatus::NotAffected
                };
                let mut entry =
                    AffectedEntry::distro(&vuln, &ecosystem, package, status, pending.fixed);
                entry.notes = (!pending.notes.is_empty()).then(|| pending.notes.join("; "));
                entry
            })
            .collect();
        records.push(Record { vuln, affected });
    }
    parsed.replace(source, records);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let json = r#"{"distroversion":"v3.9","reponame":"main","packages":[
            {"pkg":{"name":"xen","secfixes":{
                "4.9.0-r1":["CVE-2017-14316 XSA-231"],
                "4.9.0-r10":["CVE-2017-14316 (+ regression fix)"],
                "0":["CVE-2000-1"]}}},
            {"pkg":{"name":"musl","secfixes":{"1.1.20-r6":["CVE-2020-28928"]}}},
            {"pkg":{"name":"empty","secfixes":null}}]}"#;
        let parsed = parse("v3.9/main.json", json.as_bytes()).unwrap();
        let batch = &parsed.batches[0];
        assert_eq!(batch.source, "alpine-secdb:v3.9/main");
        assert_eq!(batch.records.len(), 3);
        let xen = batch
            .records
            .iter()
            .find(|r| r.vuln.id == "CVE-2017-14316")
            .unwrap();
        assert_eq!(xen.affected.len(), 1);
        assert_eq!(xen.affected[0].fixed_version.as_deref(), Some("4.9.0-r10"));
        assert_eq!(
            xen.affected[0].notes.as_deref(),
            Some("XSA-231; (+ regression fix)")
        );
        let not_affected = batch
            .records
            .iter()
            .find(|r| r.vuln.id == "CVE-2000-1")
            .unwrap();
        assert_eq!(not_affected.affected[0].status, FixStatus::NotAffected);
        assert_eq!(not_affected.affected[0].fixed_version, None);
        assert_eq!(not_affected.affected[0].ecosystem, "Alpine:v3.9");
    }
}
