//! The AdmissionReview answer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::outcome::{ImageOutcome, Outcome};
use crate::review::{REVIEW_KIND, Review};
use crate::summary::summarize;
use crate::text::truncate_bytes;
use crate::workload::Workload;

/// The longest audit annotation value.
const MAX_ANNOTATION_BYTES: usize = 256;

/// The answer to one admission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The AdmissionReview JSON, in the request's apiVersion.
    pub body: Vec<u8>,
    /// Whether the request is allowed.
    pub allowed: bool,
    /// `go`, `warn`, `stop`, `skipped`, `whitelisted`, `unknown` or `not_judged` (for
    /// metrics and logs).
    pub action: &'static str,
}

/// The AdmissionReview answering `review`: the request's uid, `allowed`, on denial a status
/// message listing each refused image with its top findings (at most 1 KiB), `warnings`
/// for WARN results and unjudged images allowed, and `auditAnnotations` (`action`, `reason`,
/// and `policy`, `release`, `whitelist` and `unjudged` (the kinds of why images were not judged:
/// `unauthorized`, `not_found`, `unreachable`, `timeout`, `too_large`, ...) when they apply) on
/// every outcome.
pub fn respond(review: &Review, workload: Option<&Workload>, outcome: &Outcome) -> Response {
    let summary = summarize(workload, outcome);
    let mut annotations = BTreeMap::new();
    annotations.insert("action", summary.action.to_string());
    annotations.insert("reason", summary.reason.clone());
    if let Outcome::Judged { policy_id, .. } = outcome {
        annotations.insert("policy", policy_id.clone());
    }
    if let Some(release) = workload.and_then(|w| w.release.as_ref()) {
        annotations.insert("release", release.clone());
    }
    if let Outcome::Whitelisted { entry } = outcome {
        annotations.insert("whitelist", entry.origin.clone());
    }
    if let Outcome::Judged { verdicts, .. } = outcome {
        let mut kinds: Vec<&str> = verdicts
            .iter()
            .filter_map(|v| match &v.outcome {
                ImageOutcome::Unknown { kind, .. } => Some(kind.as_str()),
                ImageOutcome::Judged { .. } => None,
            })
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        if !kinds.is_empty() {
            annotations.insert("unjudged", kinds.join(","));
        }
    }
    for value in annotations.values_mut() {
        if value.len() > MAX_ANNOTATION_BYTES {
            *value = truncate_bytes(value, MAX_ANNOTATION_BYTES);
        }
    }
    let status = match &summary.message {
        Some(message) if !summary.allowed => Status {
            code: 403,
            message: Some(message),
            reason: Some("Forbidden"),
            status: "Failure",
        },
        _ => Status {
            code: 200,
            message: None,
            reason: None,
            status: "Success",
        },
    };
    let body = Body {
        api_version: review.version.as_str(),
        kind: REVIEW_KIND,
        response: Answer {
            allowed: summary.allowed,
            audit_annotations: annotations,
            status,
            uid: &review.request.uid,
            warnings: &summary.warnings,
        },
    };
    Response {
        // Plain structs of strings and numbers: serialising cannot fail.
        body: serde_json::to_vec(&body).unwrap_or_default(),
        allowed: summary.allowed,
        action: summary.action,
    }
}

/// The AdmissionReview, serialised with its keys in sorted order, as a JSON object map
/// would write them.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    response: Answer<'a>,
}

#[derive(Serialize)]
struct Answer<'a> {
    allowed: bool,
    #[serde(rename = "auditAnnotations")]
    audit_annotations: BTreeMap<&'static str, String>,
    status: Status<'a>,
    uid: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    status: &'static str,
}
