//! NVD API 2.0 JSON: single CVE records (`nvd/CVE-*.json`, the layout of NVD's JSON 2.0
//! feed mirrors) or API responses/feeds wrapping many in `vulnerabilities[].cve`.
//!
//! Used for severity enrichment: records go to the `nvd` source (upserted by CVE id) with
//! their CVSS metrics and no affected entries; a consumer finds them by canonical id.
//! `Rejected` CVEs are marked withdrawn.

use serde::Deserialize;
use serde_json::Value;

use super::{Batch, Parsed, Problem, first_line};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Record, Severity, SeverityKind, Vulnerability};
use crate::store::SourceMode;

/// The source name of NVD records.
pub(crate) const SOURCE: &str = "nvd";

#[derive(Debug, Deserialize)]
struct Cve {
    id: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default, rename = "lastModified")]
    last_modified: Option<String>,
    #[serde(default, rename = "vulnStatus")]
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    metrics: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    weaknesses: Vec<Weakness>,
}

#[derive(Debug, Deserialize)]
struct Weakness {
    #[serde(default)]
    description: Vec<Description>,
}

#[derive(Debug, Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: String,
}

pub(crate) fn parse(label: &str, bytes: &[u8]) -> Result<Parsed> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: malformed NVD JSON: {e}"),
        )
    })?;
    let items: Vec<Value> = match value.get("vulnerabilities").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|item| item.get("cve").cloned().unwrap_or(Value::Null))
            .collect(),
        None => vec![value],
    };
    let mut parsed = Parsed::default();
    let mut records = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let id_hint = item
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("#{index}"));
        match serde_json::from_value::<Cve>(item) {
            Ok(cve) => records.push(convert(cve)),
            Err(e) => parsed.problems.push(Problem {
                file: label.to_owned(),
                record: Some(id_hint),
                message: format!("malformed NVD CVE record: {e}"),
            }),
        }
    }
    parsed.batches.push(Batch {
        source: SOURCE.to_owned(),
        mode: SourceMode::Upsert,
        records,
    });
    Ok(parsed)
}

fn convert(cve: Cve) -> Record {
    let mut vuln = Vulnerability::new(cve.id.trim(), SOURCE);
    vuln.summary = cve
        .descriptions
        .iter()
        .find(|d| d.lang == "en")
        .or_else(|| cve.descriptions.first())
        .and_then(|d| first_line(&d.value));
    vuln.published = cve.published;
    vuln.modified = cve.last_modified;
    if cve.vuln_status.as_deref() == Some("Rejected") {
        vuln.withdrawn = vuln.modified.clone().or_else(|| Some(String::new()));
    }
    vuln.references = cve.references.into_iter().map(|r| r.url).collect();
    vuln.cwe_ids = crate::model::cwe_ids(
        cve.weaknesses
            .iter()
            .flat_map(|w| w.description.iter().map(|d| d.value.as_str())),
    );
    // Metrics in a fixed order: v4.0, v3.1, v3.0, v2.
    let keys = [
        "cvssMetricV40",
        "cvssMetricV31",
        "cvssMetricV30",
        "cvssMetricV2",
    ];
    for key in keys {
        let Some(list) = cve
            .metrics
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for metric in list {
            let data = metric.get("cvssData");
            let Some(vector) = data
                .and_then(|d| d.get("vectorString"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let who = metric
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or(SOURCE);
            let mut severity = Severity::from_vector(who, vector);
            if key == "cvssMetricV2" {
                severity.kind = SeverityKind::CvssV2;
            }
            // NVD's own base score when it gives one (the severity rule reports the
            // metric as published), else the one computed from the vector.
            if let Some(given) = data
                .and_then(|d| d.get("baseScore"))
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite() && (0.0..=10.0).contains(x))
            {
                severity.score = Some(given);
            }
            severity.rating = data
                .and_then(|d| d.get("baseSeverity"))
                .or_else(|| metric.get("baseSeverity"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            severity.metric_type = metric
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned);
            vuln.severities.push(severity);
        }
    }
    Record {
        vuln,
        affected: Vec::new(),
    }
}
