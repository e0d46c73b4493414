//! CISA's Known Exploited Vulnerabilities catalog (`known_exploited_vulnerabilities.json`):
//! `{"catalogVersion", "vulnerabilities": [{"cveID", "dateAdded", "dueDate",
//! "knownRansomwareCampaignUse", ...}]}`. A full snapshot: it replaces the `kev` table.
//!
//! Every entry needs a well-formed `cveID`, `dateAdded` and `dueDate` as `YYYY-MM-DD`, and a
//! non-empty `knownRansomwareCampaignUse`; a bad entry or a repeated CVE id is a problem
//! naming the file and the entry.

use std::collections::HashMap;

use serde_json::Value;

use super::{Parsed, Problem};
use crate::error::{Error, ErrorKind, Result};
use crate::exploit::{KevEntry, cve_key};

/// True when `object` looks like the KEV catalog.
pub(crate) fn looks_like_kev(object: &serde_json::Map<String, Value>) -> bool {
    let Some(list) = object.get("vulnerabilities").and_then(Value::as_array) else {
        return false;
    };
    object.contains_key("catalogVersion")
        || list
            .first()
            .and_then(Value::as_object)
            .is_some_and(|first| first.contains_key("cveID"))
}

/// `YYYY-MM-DD` with a plausible month and day.
pub(crate) fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    matches!(
        (number(0..4), number(5..7), number(8..10)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: malformed KEV JSON: {e}"),
        )
    })?;
    let list = value
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{label}: KEV catalog without a `vulnerabilities` list"),
            )
        })?;
    let mut parsed = Parsed::default();
    let mut entries = Vec::with_capacity(list.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let number = index + 1;
        match entry(item) {
            Ok(entry) => {
                if let Some(first) = seen.get(&entry.cve) {
                    parsed.problems.push(Problem {
                        file: label.to_owned(),
                        record: Some(entry.cve.clone()),
                        message: format!(
                            "entry {number}: duplicate CVE id (also entry {first}); the file is \
                             inconsistent"
                        ),
                    });
                    continue;
                }
                seen.insert(entry.cve.clone(), number);
                entries.push(entry);
            }
            Err((cve, message)) => parsed.problems.push(Problem {
                file: label.to_owned(),
                record: cve,
                message: format!("entry {number}: {message}"),
            }),
        }
    }
    parsed.kev = Some(entries);
    Ok(parsed)
}

/// One entry, or (its CVE id when readable, what is wrong).
fn entry(item: &Value) -> std::result::Result<KevEntry, (Option<String>, String)> {
    let Some(object) = item.as_object() else {
        return Err((None, "not a JSON object".to_owned()));
    };
    let cve = match object.get("cveID") {
        None | Some(Value::Null) => return Err((None, "missing field cveID".to_owned())),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err((None, "cveID is not a string".to_owned())),
    };
    if cve_key(&cve).is_none() {
        let shown: String = cve.chars().take(64).collect();
        return Err((None, format!("cveID {shown:?} is not a CVE id")));
    }
    let field = |name: &str| -> std::result::Result<String, (Option<String>, String)> {
        match object.get(name) {
            None | Some(Value::Null) => Err((Some(cve.clone()), format!("missing field {name}"))),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Some(_) => Err((
                Some(cve.clone()),
                format!("{name} is not a non-empty string"),
            )),
        }
    };
    let date = |name: &str| -> std::result::Result<String, (Option<String>, String)> {
        let value = field(name)?;
        if is_date(&value) {
            Ok(value)
        } else {
            let shown: String = value.chars().take(32).collect();
            Err((
                Some(cve.clone()),
                format!("{name} {shown:?} is not a YYYY-MM-DD date"),
            ))
        }
    };
    Ok(KevEntry {
        date_added: date("dateAdded")?,
        due_date: date("dueDate")?,
        known_ransomware_use: field("knownRansomwareCampaignUse")?,
        cve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(entries: &str) -> Vec<u8> {
        format!(r#"{{"catalogVersion":"1","vulnerabilities":[{entries}]}}"#).into_bytes()
    }

    const GOOD: &str = r#"{"cveID":"CVE-2023-4863","dateAdded":"2023-09-13","dueDate":"2023-10-04","knownRansomwareCampaignUse":"Unknown"}"#;

    #[test]
    fn reads_entries() {
        let parsed = parse("kev.json", &catalog(GOOD)).unwrap();
        assert!(parsed.problems.is_empty());
        assert_eq!(
            parsed.kev.unwrap(),
            vec![KevEntry {
                cve: "CVE-2023-4863".into(),
                date_added: "2023-09-13".into(),
                due_date: "2023-10-04".into(),
                known_ransomware_use: "Unknown".into(),
            }]
        );
    }

    #[test]
    fn bad_entries_are_problems_naming_them() {
        let missing = r#"{"cveID":"CVE-2024-1111","dateAdded":"2024-01-01","knownRansomwareCampaignUse":"Known"}"#;
        let no_id = r#"{"dateAdded":"2024-01-01"}"#;
        let bad_date = r#"{"cveID":"CVE-2024-2222","dateAdded":"2024-13-01","dueDate":"2024-01-02","knownRansomwareCampaignUse":"Known"}"#;
        let text = catalog(&[GOOD, missing, no_id, bad_date, GOOD].join(","));
        let parsed = parse("kev.json", &text).unwrap();
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "kev.json: record CVE-2024-1111: entry 2: missing field dueDate",
                "kev.json: entry 3: missing field cveID",
                "kev.json: record CVE-2024-2222: entry 4: dateAdded \"2024-13-01\" is not a YYYY-MM-DD date",
                "kev.json: record CVE-2023-4863: entry 5: duplicate CVE id (also entry 1); the file is inconsistent",
            ]
        );
        assert_eq!(parsed.kev.unwrap().len(), 1);
    }

    #[test]
    fn dates() {
        assert!(is_date("2023-09-13"));
        assert!(!is_date("2023-9-13"));
        assert!(!is_date("2023-00-13"));
        assert!(!is_date("2023-09-32"));
        assert!(!is_date("2023-09-1x"));
        assert!(!is_date("２０２３-09-13"));
    }
}
