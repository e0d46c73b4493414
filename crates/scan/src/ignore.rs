//! Ignore files: findings the user has looked at and decided to accept, each with a reason.
//!
//! ```yaml
//! ignore:
//!   - id: CVE-2020-28928          # the finding's id or one of its aliases
//!     package: musl               # optional: a name, source name, or purl
//!     expires: 2030-01-31         # optional: from this day (UTC) on the entry no longer applies
//!     reason: musl's wcsnrtombs is not used by our code
//! ```
//!
//! The document may also be the bare list. A package given as a purl (`pkg:apk/alpine/musl`)
//! matches on type, namespace, name and, if it has one, version; qualifiers are ignored. A
//! plain name matches the package name or its source package name (`openssl` covers
//! `libcrypto3` and `libssl3`). An expired entry ignores nothing and yields a warning.

use std::path::Path;

use portcullis_matcher::Finding;
use serde_json::Value;

use crate::doc::{self, error, list, optional_string, required_string};
use crate::error::Result;
use crate::purl::{self, PurlKey};

/// The fields an ignore entry may have.
const FIELDS: [&str; 4] = ["id", "package", "expires", "reason"];

/// One parsed ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreFile {
    /// The file as named on the command line (used in messages).
    pub name: String,
    /// The entries, in file order.
    pub entries: Vec<IgnoreEntry>,
}

/// One entry of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    /// Its 1-based position in the file, for messages.
    pub number: usize,
    /// The vulnerability id (or alias) it ignores.
    pub id: String,
    /// The package it is limited to: a name, source name or purl.
    pub package: Option<String>,
    /// The expiry date as written (`YYYY-MM-DD`).
    pub expires: Option<String>,
    /// Why it is ignored.
    pub reason: String,
    expires_at: Option<i64>,
    package_purl: Option<PurlKey>,
}

impl IgnoreFile {
    /// Read and parse the ignore file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        doc::load(path, Self::parse)
    }

    /// Parse an ignore file's bytes; `name` is used in error messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self> {
        doc::check_len(name, bytes)?;
        let text =
            std::str::from_utf8(bytes).map_err(|e| error(name, format!("not UTF-8: {e}")))?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            yaml_serde::from_str(text).map_err(|e| error(name, format!("invalid YAML: {e}")))?
        };
        let items: &[Value] = match &value {
            Value::Null => &[],
            Value::Array(_) => list(&value, "the document").map_err(|e| error(name, e))?,
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| k.as_str() != "ignore") {
                    return Err(error(
                        name,
                        format!("unknown field '{key}' (expected 'ignore', a list of entries)"),
                    ));
                }
                match map.get("ignore") {
                    None | Some(Value::Null) => &[],
                    Some(v) => list(v, "ignore").map_err(|e| error(name, e))?,
                }
            }
            other => {
                return Err(error(
                    name,
                    format!(
                        "expected a mapping with 'ignore' or a list, found {}",
                        doc::type_name(other)
                    ),
                ));
            }
        };
        Ok(Self {
            name: name.to_string(),
            entries: doc::read_numbered(name, items, "entry", IgnoreEntry::read)?,
        })
    }
}

impl IgnoreEntry {
    fn read(value: &Value, number: usize) -> std::result::Result<Self, String> {
        let map = doc::mapping(value)?;
        if let Some(key) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field '{key}' (expected {})",
                FIELDS.join(", ")
            ));
        }
        let id = required_string(map, "id")?;
        let package = optional_string(map, "package")?;
        let package_purl = match &package {
            Some(p) if p.starts_with("pkg:") => {
                Some(purl::parse(p).ok_or_else(|| format!("package: invalid purl '{p}'"))?)
            }
            _ => None,
        };
        let expires = optional_string(map, "expires")?;
        let expires_at =
            match &expires {
                Some(date) => Some(portcullis_policy::time::parse_date(date).ok_or_else(|| {
                    format!("expires: invalid date '{date}' (expected YYYY-MM-DD)")
                })?),
                None => None,
            };
        let reason = required_string(map, "reason")?;
        Ok(Self {
            number,
            id,
            package,
            expires,
            reason,
            expires_at,
            package_purl,
        })
    }

    /// Whether the entry has expired at `now` (seconds since the epoch).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|until| now >= until)
    }

    /// Whether the entry names `finding` (ignoring expiry).
    pub fn matches(&self, finding: &Finding) -> bool {
        if !crate::vex::has_id_ignoring_case(finding, &self.id) {
            return false;
        }
        match (&self.package_purl, &self.package) {
            (Some(pattern), _) => purl::parse(&finding.package.purl)
                .is_some_and(|installed| pattern.matches(&installed)),
            (None, Some(name)) => {
                finding.package.name == *name
                    || finding.package.source_name.as_deref() == Some(name.as_str())
            }
            (None, None) => true,
        }
    }
}
