//! SARIF 2.1.0, in the subset GitHub code scanning reads:
//! - `tool.driver`: `portcullis`, its version and `informationUri`, and one rule per
//!   vulnerability id (sorted), with short and full descriptions, `helpUri` (NVD, GitHub
//!   advisories or OSV), `help` text and markdown listing the affected packages, a default
//!   level, and `properties.security-severity` (the CVSS score, or when unknown a score
//!   standing for the severity) plus `tags`;
//! - one result per finding, in output order: `level` from the severity (critical and high
//!   are `error`, medium `warning`, the rest `note`), a message naming package, version and
//!   fix, the package's file as a region-free location (`artifactLocation.uri` relative,
//!   percent-encoded), and a `partialFingerprints` entry that stays the same when only the
//!   installed version changes.

use std::collections::BTreeMap;
use std::io::Write;

use percent_encoding::{AsciiSet, utf8_percent_encode};
use portcullis_types::{Ecosystem, Finding, FindingEpss, FindingKev, ScanResult, Severity};
use serde::Serialize;

use super::{advisory_source, cvss_score, fix_phrase, package_label, sorted_findings};
use crate::ToolInfo;
use crate::error::Result;
use crate::ids;
use crate::sbom::table::fit;
use crate::sbom::write_json;

/// The schema URL for `$schema`.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// The longest short description, in characters (longer summaries are cut with `…`).
const MAX_SHORT: usize = 200;
/// The longest full description, in characters.
const MAX_FULL: usize = 1000;
/// The `partialFingerprints` key of our fingerprint.
pub const FINGERPRINT_KEY: &str = "portcullisPackageVulnerability/v1";

/// A SARIF log (the subset we write).
#[derive(Debug, Serialize)]
pub struct Log {
    /// `$schema`.
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// Always `2.1.0`.
    pub version: &'static str,
    /// One run.
    pub runs: Vec<Run>,
}

/// A run.
#[derive(Debug, Serialize)]
pub struct Run {
    /// The tool.
    pub tool: Tool,
    /// The findings.
    pub results: Vec<SarifResult>,
    /// Which image was scanned.
    pub properties: RunProperties,
}

/// `tool`.
#[derive(Debug, Serialize)]
pub struct Tool {
    /// The driver.
    pub driver: Driver,
}

/// `tool.driver`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    /// `portcullis`.
    pub name: String,
    /// The version.
    pub version: String,
    /// The project's page.
    pub information_uri: &'static str,
    /// One rule per vulnerability id.
    pub rules: Vec<Rule>,
}

/// A `message` or description.
#[derive(Debug, Serialize)]
pub struct Text {
    /// Plain text.
    pub text: String,
}

/// A rule's `help`.
#[derive(Debug, Serialize)]
pub struct Help {
    /// Plain text.
    pub text: String,
    /// GitHub-flavoured markdown.
    pub markdown: String,
}

/// A rule: one vulnerability id.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The vulnerability id.
    pub id: String,
    /// `OsPackageVulnerability` or `LanguagePackageVulnerability`.
    pub name: &'static str,
    /// The summary, or the id.
    pub short_description: Text,
    /// The summary with id and severity.
    pub full_description: Text,
    /// The advisory page.
    pub help_uri: String,
    /// What it is and which packages it affects.
    pub help: Help,
    /// The level of the most severe finding.
    pub default_configuration: Configuration,
    /// `security-severity` and tags.
    pub properties: RuleProperties,
}

/// `defaultConfiguration`.
#[derive(Debug, Serialize)]
pub struct Configuration {
    /// `error`, `warning` or `note`.
    pub level: &'static str,
}

/// A rule's property bag.
#[derive(Debug, Serialize)]
pub struct RuleProperties {
    /// The CVSS score as a string (`"9.8"`), which GitHub maps to its severity.
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    pub security_severity: Option<String>,
    /// `vulnerability`, `security`, the severity, and the package types.
    pub tags: Vec<String>,
}

/// A result: one finding.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    /// The vulnerability id.
    pub rule_id: String,
    /// Its index in `rules`.
    pub rule_index: usize,
    /// `error`, `warning` or `note`.
    pub level: &'static str,
    /// Package, version, fix.
    pub message: Text,
    /// The package's file.
    pub locations: Vec<Location>,
    /// A fingerprint of vulnerability, package and file.
    pub partial_fingerprints: BTreeMap<&'static str, String>,
    /// The finding's details.
    pub properties: ResultProperties,
}

/// A location.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The file, without a region.
    pub physical_location: PhysicalLocation,
}

/// `physicalLocation`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    /// The file.
    pub artifact_location: ArtifactLocation,
}

/// `artifactLocation`.
#[derive(Debug, Serialize)]
pub struct ArtifactLocation {
    /// Relative URI of the file in the image.
    pub uri: String,
}

/// A result's property bag.
#[derive(Debug, Serialize)]
pub struct ResultProperties {
    /// Package name.
    pub package: String,
    /// Installed version.
    pub installed_version: String,
    /// Fixing version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// `fixed`, `not_fixed`, `wont_fix`.
    pub status: &'static str,
    /// Our severity.
    pub severity: &'static str,
    /// Package URL.
    pub purl: String,
    /// The CISA KEV entry of a CVE the finding carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kev: Option<FindingKev>,
    /// The highest EPSS score of the CVEs the finding carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<FindingEpss>,
}

/// The run's property bag.
#[derive(Debug, Serialize)]
pub struct RunProperties {
    /// The image reference.
    pub image: String,
    /// The image digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The SARIF level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Negligible | Severity::Unknown => "note",
    }
}

/// A score standing for a severity when no CVSS score is known (the middle of its CVSS
/// band); `None` for unknown.
fn representative_score(severity: Severity) -> Option<f64> {
    match severity {
        Severity::Critical => Some(9.5),
        Severity::High => Some(8.0),
        Severity::Medium => Some(5.5),
        Severity::Low => Some(2.0),
        Severity::Negligible => Some(0.0),
        Severity::Unknown => None,
    }
}

fn is_os_package(ecosystem: Ecosystem) -> bool {
    matches!(ecosystem, Ecosystem::Apk | Ecosystem::Deb | Ecosystem::Rpm)
}

/// `location` as a relative URI reference: no leading `/`, and every byte but ASCII
/// letters, digits, `-._~/!$&'()*+,;=@` percent-encoded (`:` too, so the first segment
/// never looks like a scheme).
pub fn relative_uri(location: &str) -> String {
    utf8_percent_encode(location.trim_start_matches('/'), RELATIVE_PATH).to_string()
}

/// What [`relative_uri`] percent-encodes: all but RFC 3986's `pchar` (unreserved,
/// sub-delims, `@`; not `:`) and the segment separator `/`.
const RELATIVE_PATH: &AsciiSet = &portcullis_types::purl::NOT_UNRESERVED
    .remove(b'/')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

fn fingerprint(f: &Finding) -> String {
    let p = &f.package;
    let hash = ids::content_hash(&[
        f.id.as_bytes(),
        p.ecosystem.as_str().as_bytes(),
        p.name.as_bytes(),
        p.location.as_bytes(),
    ]);
    ids::short_hex(&hash, 16)
}

/// The rule for `id`, from all its findings (not empty).
fn rule(id: &str, findings: &[&Finding]) -> Rule {
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or_default();
    let score = findings
        .iter()
        .filter_map(|f| cvss_score(f))
        .max_by(f64::total_cmp);
    let summary = findings.iter().find_map(|f| f.summary.as_deref());
    let (_, url) = advisory_source(id);
    let mut tags = vec![
        "vulnerability".to_string(),
        "security".to_string(),
        worst.as_str().to_string(),
    ];
    let mut kinds: Vec<&str> = findings
        .iter()
        .map(|f| f.package.ecosystem.purl_type())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    tags.extend(kinds.iter().map(|k| k.to_string()));
    let mut aliases: Vec<&str> = findings
        .iter()
        .flat_map(|f| f.aliases.iter().map(String::as_str))
        .collect();
    aliases.sort_unstable();
    aliases.dedup();

    let score_text = score.map_or_else(|| "unknown".to_string(), |s| format!("{s:.1}"));
    let mut text = format!(
        "{id}: {}\nSeverity: {worst}\nCVSS score: {score_text}\n",
        summary.unwrap_or("no summary")
    );
    if !aliases.is_empty() {
        text.push_str(&format!("Aliases: {}\n", aliases.join(", ")));
    }
    text.push_str("Affected packages:\n");
    let mut markdown = format!(
        "**{id}**: {}\n\n| Package | Installed | Fix | Severity | File |\n|---|---|---|---|---|\n",
        markdown_cell(summary.unwrap_or("no summary"))
    );
    for f in findings {
        text.push_str(&format!("- {}: {}\n", package_label(f), fix_phrase(f)));
        markdown.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            markdown_cell(&f.package.name),
            markdown_cell(&f.package.version),
            markdown_cell(&fix_phrase(f)),
            f.severity,
            markdown_cell(&f.package.location)
        ));
    }
    if !aliases.is_empty() {
        markdown.push_str(&format!(
            "\nAliases: {}\n",
            markdown_cell(&aliases.join(", "))
        ));
    }
    text.push_str(&format!("More: {url}\n"));
    markdown.push_str(&format!("\n[{}]({url})\n", markdown_cell(id)));
    let name = if findings.iter().all(|f| is_os_package(f.package.ecosystem)) {
        "OsPackageVulnerability"
    } else {
        "LanguagePackageVulnerability"
    };
    Rule {
        id: id.to_string(),
        name,
        short_description: Text {
            text: fit(summary.unwrap_or(id), MAX_SHORT),
        },
        full_description: Text {
            text: fit(
                &format!(
                    "{id} ({worst}): {}",
                    summary.unwrap_or("no summary is available")
                ),
                MAX_FULL,
            ),
        },
        help_uri: url,
        help: Help { text, markdown },
        default_configuration: Configuration {
            level: level(worst),
        },
        properties: RuleProperties {
            security_severity: score
                .or_else(|| representative_score(worst))
                .map(|s| format!("{s:.1}")),
            tags,
        },
    }
}

/// Text safe inside a markdown table cell: `|`, `\`, `<`, `>`, backticks and brackets
/// escaped, line breaks and control characters as spaces.
fn markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '[' | ']' | '*' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn result_of(f: &Finding, rule_index: usize) -> SarifResult {
    let score = cvss_score(f)
        .map(|s| format!(", CVSS {s:.1}"))
        .unwrap_or_default();
    SarifResult {
        rule_id: f.id.clone(),
        rule_index,
        level: level(f.severity),
        message: Text {
            text: format!(
                "{} is affected by {} ({}{score}); {}.",
                package_label(f),
                f.id,
                f.severity,
                fix_phrase(f)
            ),
        },
        locations: vec![Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: relative_uri(&f.package.location),
                },
            },
        }],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(f))]),
        properties: ResultProperties {
            package: f.package.name.clone(),
            installed_version: f.package.version.clone(),
            fixed_version: f.fixed_version.clone(),
            status: f.status.as_str(),
            severity: f.severity.as_str(),
            purl: f.package.purl.clone(),
            kev: f.kev.clone(),
            epss: f
                .epss
                .clone()
                .filter(|e| e.score.is_finite() && e.percentile.is_finite()),
        },
    }
}

/// The SARIF log for `result`, made by `tool`.
pub fn log(result: &ScanResult, tool: &ToolInfo) -> Log {
    let findings = sorted_findings(result);
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &findings {
        by_id.entry(f.id.as_str()).or_default().push(f);
    }
    let index: BTreeMap<&str, usize> = by_id.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules = by_id.iter().map(|(id, fs)| rule(id, fs)).collect();
    let results = findings
        .iter()
        .map(|f| result_of(f, index.get(f.id.as_str()).copied().unwrap_or(0)))
        .collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: tool.name.clone(),
                    version: tool.version.clone(),
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules,
                },
            },
            results,
            properties: RunProperties {
                image: result.image.reference.clone(),
                digest: result.image.digest.as_ref().map(|d| d.to_string()),
            },
        }],
    }
}

/// Write SARIF 2.1.0 for `result`.
pub fn render(result: &ScanResult, out: &mut dyn Write) -> Result<()> {
    write_json(&log(result, &ToolInfo::portcullis()), "SARIF log", out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(
            relative_uri("/lib/apk/db/installed"),
            "lib/apk/db/installed"
        );
        assert_eq!(
            relative_uri("app/a b:c%/ü.jar"),
            "app/a%20b%3Ac%25/%C3%BC.jar"
        );
    }

    #[test]
    fn levels() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Unknown), "note");
    }

    #[test]
    fn markdown_cells_are_escaped() {
        assert_eq!(markdown_cell("a|b<c>\n`d`"), "a\\|b&lt;c&gt; \\`d\\`");
    }
}
