//! `wgpolicyk8s.io/v1alpha2` reports of what runs: one `PolicyReport` per namespace (one
//! result per workload and container) and one `ClusterPolicyReport` (one result per
//! namespace), written with server-side apply.
//!
//! Each report keeps counts and the top findings only, and is cut to at most
//! [`MAX_REPORT_BYTES`] (the least severe results are dropped first, and the number dropped
//! is written in the `portcullis.dev/results-omitted` annotation).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::inventory::{ImageState, Summary, WorkloadRef, severity_rank};

/// The largest report written (etcd's limit is about 1.5 MiB; dashboards want less).
pub const MAX_REPORT_BYTES: usize = 512 * 1024;

/// The name of every report Portcullis writes (one per namespace) and of its
/// `ClusterPolicyReport`.
pub const REPORT_NAME: &str = "portcullis";

/// The field manager of the server-side applies.
pub const FIELD_MANAGER: &str = "portcullis";

/// One row: a container of a workload, and the latest verdict of the image it runs.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload.
    pub workload: WorkloadRef,
    /// The container.
    pub container: String,
    /// The spec reference.
    pub image: String,
    /// The digest it runs, when known.
    pub digest: Option<String>,
    /// The verdict of that digest, when there is one.
    pub state: Option<ImageState>,
}

/// A v1alpha2 result for a policy action (`go`, `warn`, `stop`; anything else `error`).
fn result_of(action: &str) -> &'static str {
    match action {
        "go" => "pass",
        "warn" => "warn",
        "stop" => "fail",
        _ => "error",
    }
}

/// A v1alpha2 severity (`critical`, `high`, `medium`, `low`, `info`) for a finding
/// severity; `None` for `none`.
fn report_severity(highest: &str) -> Option<&'static str> {
    match highest {
        "critical" => Some("critical"),
        "high" => Some("high"),
        "medium" => Some("medium"),
        "low" => Some("low"),
        "negligible" | "unknown" => Some("info"),
        _ => None,
    }
}

fn summary_message(summary: &Summary) -> String {
    if let Some(error) = &summary.error {
        return format!("not judged: {error}");
    }
    let total: usize = summary.counts.values().sum();
    if total == 0 {
        return "no known vulnerabilities".to_string();
    }
    let mut message = format!("{total} vulnerabilities");
    if !summary.top.is_empty() {
        message.push_str("; top: ");
        message.push_str(&summary.top.join(", "));
    }
    message
}

/// The `PolicyReport` of `namespace` for `rows` (already of that namespace).
/// `default_policy` names the policy when an image was not judged.
pub fn namespace_report(namespace: &str, rows: &[Row], top: usize, default_policy: &str) -> Value {
    let mut results: Vec<Value> = rows
        .iter()
        .map(|row| {
            let summary = row.state.as_ref().map_or_else(
                || Summary {
                    action: "unknown".to_string(),
                    highest: "none".to_string(),
                    error: Some("not judged yet".to_string()),
                    ..Summary::default()
                },
                |s| s.summary(top),
            );
            let mut properties: BTreeMap<String, String> = summary
                .counts
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            properties.insert("container".to_string(), row.container.clone());
            properties.insert("image".to_string(), row.image.clone());
            if let Some(digest) = &row.digest {
                properties.insert("digest".to_string(), digest.clone());
            }
            if let Some(database) = row.state.as_ref().and_then(|s| s.database.clone()) {
                properties.insert("database".to_string(), database);
            }
            let mut result = json!({
                "policy": summary.policy.clone().unwrap_or_else(|| default_policy.to_string()),
                "rule": summary.gate.clone().unwrap_or_else(|| "vulnerabilities".to_string()),
                "result": result_of(&summary.action),
                "message": summary_message(&summary),
                "properties": properties,
                "resources": [{
                    "apiVersion": row.workload.api_version(),
                    "kind": row.workload.kind,
                    "name": row.workload.name,
                    "namespace": row.workload.namespace,
                }],
                "source": "portcullis",
                "scored": true,
            });
            if let Some(severity) = report_severity(&summary.highest) {
                result["severity"] = json!(severity);
            }
            if let Some(at) = row.state.as_ref().and_then(|s| s.last_scan) {
                result["timestamp"] = json!({"seconds": at, "nanos": 0});
            }
            result
        })
        .collect();
    results.sort_by(|a, b| {
        let key = |v: &Value| {
            let r = &v["resources"][0];
            (
                r["kind"].as_str().unwrap_or("").to_string(),
                r["name"].as_str().unwrap_or("").to_string(),
                v["properties"]["container"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let report = json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {
            "name": REPORT_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "portcullis"},
        },
        "scope": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
        "summary": summarise(&results),
        "results": results,
    });
    fit(report)
}

/// The `ClusterPolicyReport`: one result per namespace (`rows` of every namespace).
pub fn cluster_report(rows: &[Row], default_policy: &str) -> Value {
    let mut by_namespace: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_namespace
            .entry(row.workload.namespace.as_str())
            .or_default()
            .push(row);
    }
    let results: Vec<Value> = by_namespace
        .iter()
        .map(|(namespace, rows)| {
            let mut worst = "go".to_string();
            let mut highest = "none".to_string();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            let mut workloads = std::collections::BTreeSet::new();
            let mut with_findings = std::collections::BTreeSet::new();
            let mut digests = std::collections::BTreeSet::new();
            for row in rows {
                workloads.insert(&row.workload);
                if let Some(d) = &row.digest {
                    digests.insert(d.clone());
                }
                let summary = row
                    .state
                    .as_ref()
                    .map_or_else(Summary::default, |s| s.summary(0));
                let action = if row.state.as_ref().is_some_and(|s| s.result.is_some()) {
                    summary.action.as_str()
                } else {
                    "unknown"
                };
                if action_rank(action) > action_rank(&worst) {
                    worst = action.to_string();
                }
                if severity_rank(&summary.highest) > severity_rank(&highest) {
                    highest = summary.highest.clone();
                }
                if !summary.counts.is_empty() {
                    with_findings.insert(&row.workload);
                }
                for (k, v) in &summary.counts {
                    *counts.entry(k.clone()).or_insert(0) += v;
                }
            }
            let mut properties: BTreeMap<String, String> = counts
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            properties.insert("workloads".to_string(), workloads.len().to_string());
            properties.insert(
                "workloadsWithFindings".to_string(),
                with_findings.len().to_string(),
            );
            properties.insert("images".to_string(), digests.len().to_string());
            let mut result = json!({
                "policy": default_policy,
                "rule": "vulnerabilities",
                "result": result_of(&worst),
                "message": format!(
                    "{} of {} workloads run images with known vulnerabilities",
                    with_findings.len(),
                    workloads.len()
                ),
                "properties": properties,
                "resources": [{"apiVersion": "v1", "kind": "Namespace", "name": namespace}],
                "source": "portcullis",
                "scored": true,
            });
            if let Some(severity) = report_severity(&highest) {
                result["severity"] = json!(severity);
            }
            result
        })
        .collect();
    let report = json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "ClusterPolicyReport",
        "metadata": {
            "name": REPORT_NAME,
            "labels": {"app.kubernetes.io/managed-by": "portcullis"},
        },
        "summary": summarise(&results),
        "results": results,
    });
    fit(report)
}

fn action_rank(action: &str) -> u8 {
    match action {
        "go" => 0,
        "warn" => 1,
        "unknown" => 2,
        "stop" => 3,
        _ => 2,
    }
}

fn summarise(results: &[Value]) -> Value {
    let mut summary = json!({"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0});
    for result in results {
        if let Some(r) = result["result"].as_str()
            && let Some(n) = summary[r].as_u64()
        {
            summary[r] = json!(n + 1);
        }
    }
    summary
}

/// Cut `report` to [`MAX_REPORT_BYTES`]: drop the least severe results (pass, then warn,
/// error and fail; lowest severity first) and name how many were dropped.
fn fit(mut report: Value) -> Value {
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if size(&report) <= MAX_REPORT_BYTES {
        return report;
    }
    let Some(results) = report["results"].as_array_mut() else {
        return report;
    };
    let importance = |v: &Value| {
        let result = match v["result"].as_str() {
            Some("fail") => 3,
            Some("error") => 2,
            Some("warn") => 1,
            _ => 0,
        };
        let severity = match v["severity"].as_str() {
            Some("critical") => 5,
            Some("high") => 4,
            Some("medium") => 3,
            Some("low") => 2,
            Some("info") => 1,
            _ => 0,
        };
        (result, severity)
    };
    results.sort_by_key(|v| std::cmp::Reverse(importance(v)));
    let total = results.len();
    // Each result is of similar size: cut in proportion, then one by one.
    let mut keep = total;
    loop {
        if let Some(results) = report["results"].as_array_mut() {
            results.truncate(keep);
        }
        report["metadata"]["annotations"] =
            json!({"portcullis.dev/results-omitted": (total - keep).to_string()});
        if size(&report) <= MAX_REPORT_BYTES || keep == 0 {
            return report;
        }
        keep = (keep * 9 / 10).min(keep - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_reports_are_cut_under_the_bound() {
        let rows: Vec<Row> = (0..20_000)
            .map(|i| Row {
                workload: WorkloadRef {
                    namespace: "a".into(),
                    kind: "Deployment".into(),
                    name: format!("web-{i:05}"),
                },
                container: "app".into(),
                image: format!("registry.local/team/app-{i}:1.0"),
                digest: Some(format!("sha256:{i:064}")),
                state: None,
            })
            .collect();
        let report = namespace_report("a", &rows, 5, "reject_critical");
        let bytes = serde_json::to_vec(&report).unwrap().len();
        assert!(bytes <= MAX_REPORT_BYTES, "{bytes}");
        let kept = report["results"].as_array().unwrap().len();
        assert!(kept > 100 && kept < 20_000, "{kept}");
        assert_eq!(
            report["metadata"]["annotations"]["portcullis.dev/results-omitted"],
            json!((20_000 - kept).to_string())
        );
        assert_eq!(report["summary"]["error"], json!(20_000));
    }
}
