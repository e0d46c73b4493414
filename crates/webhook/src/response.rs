//! The AdmissionReview answer.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::outcome::Outcome;
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
/// and `policy`, `release`, `whitelist` when they apply) on every outcome.
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
    let annotations: serde_json::Map<String, Value> = annotations
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(truncate_bytes(&v, MAX_ANNOTATION_BYTES)),
            )
        })
        .collect();

    let status = match &summary.message {
        Some(message) if !summary.allowed => json!({
            "code": 403,
            "message": message,
            "reason": "Forbidden",
            "status": "Failure",
        }),
        _ => json!({"code": 200, "status": "Success"}),
    };
    let mut response = json!({
        "uid": review.request.uid,
        "allowed": summary.allowed,
        "status": status,
        "auditAnnotations": annotations,
    });
    if !summary.warnings.is_empty()
        && let Some(map) = response.as_object_mut()
    {
        map.insert("warnings".to_string(), json!(summary.warnings));
    }
    let body = json!({
        "apiVersion": review.version.as_str(),
        "kind": REVIEW_KIND,
        "response": response,
    });
    Response {
        body: body.to_string().into_bytes(),
        allowed: summary.allowed,
        action: summary.action,
    }
}
