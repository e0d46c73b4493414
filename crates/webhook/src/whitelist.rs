//! Releases allowed whatever their images contain.

use portcullis_config::WhitelistConfig;
use portcullis_k8s::WhiteListItem;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::text::{last_line, truncate_chars};

/// The longest regexp accepted in a whitelist entry.
pub const MAX_REGEXP_LEN: usize = 1024;

/// The most memory one compiled regexp may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One whitelisted release, from the config file, a `WhiteListItem` resource or the API
/// (which shows entries in this shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistEntry {
    /// The release name matched exactly.
    pub name: String,
    /// Why it is allowed.
    pub reason: String,
    /// An anchored regexp matched against release names as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
    /// Who added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Where it came from: `config`, `WhiteListItem/<name>` or `api`.
    #[serde(default)]
    pub origin: String,
}

/// The whitelisted releases, ready to match.
#[derive(Debug, Clone, Default)]
pub struct Whitelist {
    entries: Vec<(WhitelistEntry, Option<Regex>)>,
}

impl Whitelist {
    /// Compile the entries' regexps (anchored: `^(?:regexp)$`). An entry whose regexp does
    /// not compile is skipped, with a warning naming it.
    pub fn new(entries: Vec<WhitelistEntry>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut compiled = Vec::with_capacity(entries.len());
        for entry in entries {
            let regexp = entry.regexp.as_deref().filter(|r| !r.trim().is_empty());
            let regex = match regexp.map(compile) {
                None => None,
                Some(Ok(regex)) => Some(regex),
                Some(Err(why)) => {
                    warnings.push(format!(
                        "whitelist entry {:?} ({}): regexp {:?} {why}; entry skipped",
                        entry.name,
                        entry.origin,
                        truncate_chars(regexp.unwrap_or_default(), 80)
                    ));
                    continue;
                }
            };
            compiled.push((entry, regex));
        }
        (Self { entries: compiled }, warnings)
    }

    /// The entries of the config file's `whitelist`.
    pub fn from_config(items: &[WhitelistConfig]) -> Vec<WhitelistEntry> {
        items
            .iter()
            .map(|item| WhitelistEntry {
                name: item.name.clone(),
                reason: item.reason.clone(),
                regexp: item.regexp.clone(),
                creator: item.creator.clone(),
                origin: "config".to_string(),
            })
            .collect()
    }

    /// The entry of a `WhiteListItem` resource; `None` when it has no name.
    pub fn from_resource(item: &WhiteListItem) -> Option<WhitelistEntry> {
        let name = item.metadata.name.clone().filter(|n| !n.is_empty())?;
        Some(WhitelistEntry {
            origin: format!("WhiteListItem/{name}"),
            name,
            reason: item.spec.reason.clone(),
            regexp: item.spec.regexp.clone(),
            creator: item.spec.creator.clone(),
        })
    }

    /// The entry allowing `release`: the first whose name is exactly `release`, else the
    /// first whose regexp matches all of it.
    pub fn find(&self, release: &str) -> Option<&WhitelistEntry> {
        if release.is_empty() {
            return None;
        }
        let exact = self.entries.iter().find(|(entry, _)| entry.name == release);
        let matched = || {
            self.entries
                .iter()
                .find(|(_, regex)| regex.as_ref().is_some_and(|r| r.is_match(release)))
        };
        exact.or_else(matched).map(|(entry, _)| entry)
    }

    /// How many entries are in use.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn compile(regexp: &str) -> Result<Regex, String> {
    if regexp.len() > MAX_REGEXP_LEN {
        return Err(format!("is longer than {MAX_REGEXP_LEN} bytes"));
    }
    RegexBuilder::new(&format!("^(?:{regexp})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("is invalid: {}", last_line(&e.to_string())))
}
