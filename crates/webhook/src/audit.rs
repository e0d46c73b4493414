//! The `Audit` record of one decision.

use portcullis_k8s::{AuditImage, AuditOwner, AuditResult, AuditSpec};
use portcullis_policy::Action;

use crate::outcome::{ImageOutcome, Outcome};
use crate::summary::summarize;
use crate::text::truncate_chars;
use crate::workload::Workload;

/// The most results an audit keeps.
pub const MAX_AUDIT_RESULTS: usize = 50;
/// The most images an audit lists.
pub const MAX_AUDIT_IMAGES: usize = 100;
/// The longest message (and image reference, reason) an audit keeps, in characters.
pub const MAX_AUDIT_TEXT: usize = 512;
/// The longest Kubernetes object name.
pub const MAX_NAME_LEN: usize = 253;

/// The `Audit` spec for this decision. Bounded so the object never nears etcd's limit: at
/// most [`MAX_AUDIT_IMAGES`] images and [`MAX_AUDIT_RESULTS`] results (STOP first, then
/// WARN, then GO; `truncated` tells when some were left out), texts cut to
/// [`MAX_AUDIT_TEXT`] characters.
pub fn audit(
    workload: &Workload,
    outcome: &Outcome,
    database_version: Option<&str>,
    now_rfc3339: &str,
) -> AuditSpec {
    let summary = summarize(Some(workload), outcome);
    let text = |s: &str| truncate_chars(s, MAX_AUDIT_TEXT);
    let mut images = Vec::new();
    let mut results: Vec<(u8, AuditResult)> = Vec::new();
    let (policy, database) = match outcome {
        Outcome::Judged {
            verdicts,
            unknown_action,
            policy_id,
        } => {
            for verdict in verdicts {
                let findings = verdict.outcome.findings().len();
                images.push(AuditImage {
                    image: text(&verdict.image),
                    digest: verdict.digest.as_deref().map(text),
                    action: verdict.action().to_string(),
                    vulnerabilities: u32::try_from(findings).unwrap_or(u32::MAX),
                });
                match &verdict.outcome {
                    ImageOutcome::Judged { scan } => {
                        let decision = scan.decision.iter();
                        results.extend(decision.flat_map(|d| &d.results).map(|r| {
                            (
                                rank(r.action),
                                AuditResult {
                                    image: text(&verdict.image),
                                    gate: text(&r.gate),
                                    trigger: text(&r.trigger),
                                    action: r.action.as_str().to_string(),
                                    message: text(&r.message),
                                },
                            )
                        }));
                    }
                    ImageOutcome::Unknown { reason, .. } => {
                        let action = match unknown_action {
                            portcullis_config::UnknownImageAction::Reject => Action::Stop,
                            portcullis_config::UnknownImageAction::Allow => Action::Warn,
                        };
                        results.push((
                            rank(action),
                            AuditResult {
                                image: text(&verdict.image),
                                gate: "admission".to_string(),
                                trigger: "unknown_image".to_string(),
                                action: action.as_str().to_string(),
                                message: text(reason),
                            },
                        ));
                    }
                }
            }
            (
                Some(policy_id.clone()),
                database_version.map(str::to_string),
            )
        }
        _ => {
            for image in &workload.images {
                if images.iter().all(|i: &AuditImage| i.image != image.image) {
                    images.push(AuditImage {
                        image: text(&image.image),
                        digest: None,
                        action: summary.action.to_string(),
                        vulnerabilities: 0,
                    });
                }
            }
            (None, None)
        }
    };
    let truncated = images.len() > MAX_AUDIT_IMAGES || results.len() > MAX_AUDIT_RESULTS;
    images.truncate(MAX_AUDIT_IMAGES);
    // Stable: within one action, results keep their image and policy order.
    results.sort_by_key(|(rank, _)| *rank);
    results.truncate(MAX_AUDIT_RESULTS);
    AuditSpec {
        owner: AuditOwner {
            kind: workload.kind.clone(),
            name: workload.name.clone(),
            namespace: workload.namespace.clone(),
        },
        operation: workload.operation.clone(),
        action: summary.action.to_string(),
        allowed: summary.allowed,
        reason: Some(text(&summary.reason)),
        policy,
        database,
        images,
        results: results.into_iter().map(|(_, r)| r).collect(),
        truncated,
        timestamp: now_rfc3339.to_string(),
    }
}

/// STOP sorts first.
fn rank(action: Action) -> u8 {
    match action {
        Action::Stop => 0,
        Action::Warn => 1,
        Action::Go => 2,
    }
}

/// The `Audit` object name for a workload: `<kind>-<name>` lowercased, characters outside
/// `[a-z0-9.-]` replaced by `-`, starting and ending with a letter or digit, at most 253
/// characters (a DNS-1123 subdomain). A `generateName` keeps its stem (`pod-web-5d4f8c`).
pub fn audit_name(workload: &Workload) -> String {
    let raw = format!("{}-{}", workload.kind, workload.name).to_lowercase();
    let mut name = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
            c
        } else {
            '-'
        };
        // No empty DNS labels (`..`, `.-`, `-.`).
        if c == '.' && name.ends_with(['.', '-']) {
            continue;
        }
        if c == '-' && name.ends_with('.') {
            continue;
        }
        name.push(c);
    }
    let trim = |s: &str| -> String {
        s.trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string()
    };
    let mut name = trim(&name);
    if name.len() > MAX_NAME_LEN {
        name = trim(name.get(..MAX_NAME_LEN).unwrap_or_default());
    }
    if name.is_empty() {
        name = "workload".to_string();
    }
    name
}
