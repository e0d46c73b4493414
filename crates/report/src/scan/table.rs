//! A table for people, every line at most [`WIDTH`] columns:
//! - a header naming the image, OS, package count and database;
//! - the findings grouped by package (one line `name version (type, source X)` per package),
//!   each group sorted by severity (critical first) then id, in columns ID, SEVERITY,
//!   EXPLOIT, STATUS, FIXED IN and SUMMARY (cut with `…`). EXPLOIT marks exploitation:
//!   `KEV` when a CVE of the finding is in CISA's catalog, `EPSS 12%` when its EPSS score
//!   is 10% or more (`KEV 12%` for both), `-` otherwise;
//! - a summary line with the count per severity, or `No vulnerabilities found.`;
//! - the policy decision, when one was made, with every result (long messages wrapped);
//! - what leaves the package list incomplete (the image is then not judgeable);
//! - the scan's warnings.
//!
//! Control characters are replaced so hostile names cannot drive a terminal.

use std::io::Write;

use portcullis_types::{Ecosystem, Finding, FindingStatus, ScanResult};

use super::{severity_counts, sorted_findings};
use crate::error::{Error, Result};
use crate::sbom::table::{clean, fit, os_description, pad};

/// The width every line fits in.
pub const WIDTH: usize = 100;
/// Widest ID and FIXED IN columns; longer values are cut with `…`.
const MAX_ID: usize = 24;
const MAX_FIXED: usize = 20;
/// Indent of finding rows and result lines.
const INDENT: &str = "  ";

fn status_word(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Fixed => "fixed",
        FindingStatus::NotFixed => "not fixed",
        FindingStatus::WontFix => "won't fix",
    }
}

/// The group header: `name version (type, source X)`, and the file for language packages.
fn package_line(f: &Finding) -> String {
    let p = &f.package;
    let mut line = format!("{} {} ({}", p.name, p.version, p.ecosystem.purl_type());
    if let Some(source) = p.source_name.as_deref().filter(|s| *s != p.name) {
        line.push_str(&format!(", source {source}"));
    }
    line.push(')');
    if !matches!(
        p.ecosystem,
        Ecosystem::Apk | Ecosystem::Deb | Ecosystem::Rpm
    ) {
        line.push_str(&format!(" in {}", p.location));
    }
    fit(&line, WIDTH)
}

/// The EPSS score from which the table marks a finding.
const EPSS_MARK: f64 = 0.1;

/// The EXPLOIT cell: `KEV`, `EPSS 12%`, `KEV 12%` or `-`.
fn exploit_mark(f: &Finding) -> String {
    let epss = f
        .epss
        .as_ref()
        .map(|e| e.score)
        .filter(|s| s.is_finite() && *s >= EPSS_MARK && *s <= 1.0)
        .map(|s| format!("{:.0}%", s * 100.0));
    match (f.kev.is_some(), epss) {
        (true, Some(p)) => format!("KEV {p}"),
        (true, None) => "KEV".to_string(),
        (false, Some(p)) => format!("EPSS {p}"),
        (false, None) => "-".to_string(),
    }
}

/// The cells of one finding row.
fn row(f: &Finding) -> [String; 6] {
    [
        fit(&f.id, MAX_ID),
        f.severity.as_str().to_string(),
        exploit_mark(f),
        status_word(f.status).to_string(),
        fit(f.fixed_version.as_deref().unwrap_or("-"), MAX_FIXED),
        one_line(f.summary.as_deref().unwrap_or("")),
    ]
}

/// `text` on one line: runs of white space (tabs, line breaks) become one space.
fn one_line(text: &str) -> String {
    clean(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Split `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in clean(text).split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line: break it.
            let rest = word.split_off(width.min(word.len()));
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn header(result: &ScanResult, text: &mut String) {
    text.push_str(&format!(
        "Image:    {}\n",
        fit(&result.image.reference, WIDTH - 10)
    ));
    if let Some(digest) = &result.image.digest {
        text.push_str(&format!("Digest:   {}\n", fit(digest.as_str(), WIDTH - 10)));
    }
    let mut os = os_description(result.os.as_ref());
    if result.os.is_some() && !result.os_supported {
        os.push_str(" - no vulnerability data, OS packages not checked");
    }
    text.push_str(&format!("OS:       {}\n", fit(&os, WIDTH - 10)));
    text.push_str(&format!("Packages: {}\n", result.packages.len()));
    let db = &result.database;
    let built = db.built_at.as_deref().unwrap_or("unknown");
    let sources = match db.sources.len() {
        1 => "1 source".to_string(),
        n => format!("{n} sources"),
    };
    text.push_str(&format!(
        "Database: {}\n",
        fit(&format!("built {built}, {sources}"), WIDTH - 10)
    ));
}

fn findings_table(findings: &[&Finding], text: &mut String) {
    let rows: Vec<[String; 6]> = findings.iter().map(|f| row(f)).collect();
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [
        width(0, "ID"),
        width(1, "SEVERITY"),
        width(2, "EXPLOIT"),
        width(3, "STATUS"),
        width(4, "FIXED IN"),
    ];
    let used = INDENT.len() + widths.iter().map(|w| w + 2).sum::<usize>();
    let summary_w = WIDTH.saturating_sub(used);
    let line = |cells: [&str; 6]| {
        let mut out = INDENT.to_string();
        for (cell, w) in cells.iter().zip(widths) {
            out.push_str(&pad(cell, w));
            out.push_str("  ");
        }
        out.push_str(&fit(cells[5], summary_w));
        format!("{}\n", out.trim_end())
    };
    text.push_str(&line([
        "ID", "SEVERITY", "EXPLOIT", "STATUS", "FIXED IN", "SUMMARY",
    ]));
    let mut previous: Option<&Finding> = None;
    for (f, r) in findings.iter().zip(&rows) {
        let same_package = previous.is_some_and(|p| p.package == f.package);
        if !same_package {
            text.push('\n');
            text.push_str(&package_line(f));
            text.push('\n');
        }
        text.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        previous = Some(f);
    }
}

fn totals(findings: &[&Finding]) -> String {
    let counts: Vec<String> = severity_counts(findings)
        .iter()
        .map(|(severity, n)| format!("{n} {severity}"))
        .collect();
    let fixable = findings
        .iter()
        .filter(|f| f.status == FindingStatus::Fixed)
        .count();
    let noun = if findings.len() == 1 {
        "vulnerability"
    } else {
        "vulnerabilities"
    };
    format!(
        "{} {noun}: {}; {fixable} fixable",
        findings.len(),
        counts.join(", ")
    )
}

fn policy(result: &ScanResult, text: &mut String) {
    let Some(decision) = &result.decision else {
        return;
    };
    text.push('\n');
    text.push_str(&fit(
        &format!(
            "Policy {}: {}",
            decision.policy_id,
            decision.final_action.as_str().to_ascii_uppercase()
        ),
        WIDTH,
    ));
    text.push('\n');
    for r in &decision.results {
        let action = format!("{:<4}", r.action.as_str().to_ascii_uppercase());
        let prefix = format!("{INDENT}{action}  ");
        let body = format!("{}/{}: {}", r.gate, r.trigger, r.message);
        let continuation = " ".repeat(prefix.len());
        for (i, part) in wrap(&body, WIDTH - prefix.len()).iter().enumerate() {
            let lead = if i == 0 { &prefix } else { &continuation };
            text.push_str(&format!("{lead}{part}\n"));
        }
    }
}

fn errors(result: &ScanResult, text: &mut String) {
    if result.errors.is_empty() {
        return;
    }
    text.push_str(&format!(
        "\nNot judgeable: the package list is incomplete ({} {}):\n",
        result.errors.len(),
        if result.errors.len() == 1 {
            "error"
        } else {
            "errors"
        }
    ));
    for e in &result.errors {
        for (i, part) in wrap(e, WIDTH - 4).iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            text.push_str(&format!("{lead}{part}\n"));
        }
    }
}

fn warnings(result: &ScanResult, text: &mut String) {
    if result.warnings.is_empty() {
        return;
    }
    text.push_str(&format!("\nWarnings: {}\n", result.warnings.len()));
    for w in &result.warnings {
        for (i, part) in wrap(w, WIDTH - 4).iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            text.push_str(&format!("{lead}{part}\n"));
        }
    }
}

/// The table for `result`, as text.
pub fn to_string(result: &ScanResult) -> String {
    let findings = sorted_findings(result);
    let mut text = String::new();
    header(result, &mut text);
    text.push('\n');
    if findings.is_empty() {
        text.push_str("No vulnerabilities found.\n");
    } else {
        findings_table(&findings, &mut text);
        text.push('\n');
        text.push_str(&fit(&totals(&findings), WIDTH));
        text.push('\n');
    }
    policy(result, &mut text);
    errors(result, &mut text);
    warnings(result, &mut text);
    text
}

/// Write the table for `result`.
pub fn render(result: &ScanResult, out: &mut dyn Write) -> Result<()> {
    out.write_all(to_string(result).as_bytes())
        .map_err(|e| Error::io("scan table", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("x abcdefgh", 4), vec!["x", "abcd", "efgh"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(wrap("a\u{1b}[31m b", 10), vec!["a?[31m b"]);
    }
}
