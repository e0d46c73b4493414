//! Filters that drop findings before the policy and the report see them: ignore files, VEX
//! statements, `--ignore-unfixed` and `--severity`. Every dropped finding is recorded with
//! the filter that dropped it, so the user can be told what was hidden and why.

use std::collections::BTreeSet;
use std::fmt;

use portcullis_matcher::{Finding, FindingStatus, Severity};
use serde::Serialize;

use crate::ScanResult;
use crate::error::{Error, ErrorKind, Result};
use crate::ignore::IgnoreFile;
use crate::vex::VexDocument;

/// What to drop from a scan result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Keep only findings of these severities (`None` keeps all).
    pub severities: Option<BTreeSet<Severity>>,
    /// Drop findings without a fixed version.
    pub ignore_unfixed: bool,
    /// Ignore files, applied in order.
    pub ignore_files: Vec<IgnoreFile>,
    /// OpenVEX documents; for each finding the last matching statement of the last document
    /// that has one decides.
    pub vex: Vec<VexDocument>,
}

/// The filter that dropped a finding (the first that applies, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressedBy {
    /// An ignore file entry.
    IgnoreFile,
    /// A VEX statement (`not_affected` or `fixed`).
    Vex,
    /// `--ignore-unfixed`: no fixed version exists.
    Unfixed,
    /// `--severity`: the severity is not in the list.
    Severity,
}

/// One finding a filter dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The finding's id.
    pub id: String,
    /// The package name.
    pub package: String,
    /// The package version.
    pub version: String,
    /// Which filter dropped it.
    pub by: SuppressedBy,
    /// Why: the ignore file entry and its reason, the VEX statement with its status and
    /// justification, or the severity.
    pub detail: String,
}

/// What the filters did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FilterSummary {
    /// Every dropped finding, in the result's order.
    pub suppressed: Vec<Suppression>,
    /// Problems worth telling the user (expired ignore entries), each naming its file and entry.
    pub warnings: Vec<String>,
}

impl FilterSummary {
    /// How many findings `by` dropped.
    pub fn count(&self, by: SuppressedBy) -> usize {
        self.suppressed.iter().filter(|s| s.by == by).count()
    }

    /// One line for the user (`3 findings ignored (ignore file), 1 finding suppressed by
    /// VEX`), or `None` when nothing was dropped.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (SuppressedBy::IgnoreFile, "ignored (ignore file)"),
            (SuppressedBy::Vex, "suppressed by VEX"),
            (
                SuppressedBy::Unfixed,
                "without a fix hidden (--ignore-unfixed)",
            ),
            (SuppressedBy::Severity, "hidden by --severity"),
        ]
        .into_iter()
        .filter_map(|(by, what)| {
            let n = self.count(by);
            (n > 0).then(|| format!("{n} {} {what}", plural(n)))
        })
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "finding" } else { "findings" }
}

impl fmt::Display for SuppressedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IgnoreFile => "ignore file",
            Self::Vex => "VEX",
            Self::Unfixed => "unfixed",
            Self::Severity => "severity",
        })
    }
}

/// Parse a `--severity` list (`critical,high`; case-insensitive, `moderate` and
/// `important` accepted as vendors write them).
pub fn parse_severity_list(list: &str) -> Result<BTreeSet<Severity>> {
    let mut out = BTreeSet::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let severity = Severity::from_rating(item).ok_or_else(|| {
            Error::new(
                ErrorKind::Filter,
                format!(
                    "unknown severity '{item}' (expected a comma-separated list of {})",
                    Severity::ALL.map(Severity::as_str).join(", ")
                ),
            )
        })?;
        out.insert(severity);
    }
    if out.is_empty() {
        return Err(Error::new(
            ErrorKind::Filter,
            "empty severity list (expected e.g. critical,high)",
        ));
    }
    Ok(out)
}

/// Drop the findings `filters` exclude from `result` (its findings stay in order), add the
/// warnings to `result.warnings`, and say what was dropped. `now` is seconds since the
/// epoch, for ignore entry expiry.
pub fn apply_filters(result: &mut ScanResult, filters: &Filters, now: i64) -> FilterSummary {
    let mut summary = FilterSummary::default();
    for file in &filters.ignore_files {
        for entry in file.entries.iter().filter(|e| e.is_expired(now)) {
            summary.warnings.push(format!(
                "{}: entry {} ({}) expired on {}; it no longer ignores anything",
                file.name,
                entry.number,
                entry.id,
                entry.expires.as_deref().unwrap_or("")
            ));
        }
    }
    let digests: Vec<String> = [
        &result.image.digest,
        &result.image.manifest_digest,
        &result.image.config_digest,
    ]
    .into_iter()
    .flatten()
    .map(ToString::to_string)
    .collect();
    let findings = std::mem::take(&mut result.findings);
    for finding in findings {
        match why_dropped(&finding, filters, now, &digests) {
            None => result.findings.push(finding),
            Some((by, detail)) => summary.suppressed.push(Suppression {
                id: finding.id,
                package: finding.package.name,
                version: finding.package.version,
                by,
                detail,
            }),
        }
    }
    for warning in &summary.warnings {
        tracing::warn!("{warning}");
    }
    result.warnings.extend(summary.warnings.iter().cloned());
    summary
}

fn why_dropped(
    finding: &Finding,
    filters: &Filters,
    now: i64,
    digests: &[String],
) -> Option<(SuppressedBy, String)> {
    for file in &filters.ignore_files {
        if let Some(entry) = file
            .entries
            .iter()
            .find(|e| !e.is_expired(now) && e.matches(finding))
        {
            return Some((
                SuppressedBy::IgnoreFile,
                format!("{}: entry {}: {}", file.name, entry.number, entry.reason),
            ));
        }
    }
    let vex = filters.vex.iter().rev().find_map(|doc| {
        doc.statement_for(finding, digests)
            .map(|statement| (doc, statement))
    });
    if let Some((doc, statement)) = vex.filter(|(_, s)| s.status.suppresses()) {
        let mut detail = format!(
            "{}: statement {}: {}",
            doc.name,
            statement.number,
            statement.status.as_str()
        );
        if let Some(justification) = &statement.justification {
            detail.push_str(&format!(" ({justification})"));
        }
        return Some((SuppressedBy::Vex, detail));
    }
    if filters.ignore_unfixed && finding.status != FindingStatus::Fixed {
        return Some((
            SuppressedBy::Unfixed,
            format!("no fixed version ({})", finding.status.as_str()),
        ));
    }
    if let Some(keep) = &filters.severities
        && !keep.contains(&finding.severity)
    {
        return Some((
            SuppressedBy::Severity,
            format!("severity {}", finding.severity),
        ));
    }
    None
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
