//! What the server learned, and the overall outcome of one request.

use std::sync::Arc;

use portcullis_config::UnknownImageAction;
use portcullis_policy::{Action, Decision};
use portcullis_types::{Finding, FindingStatus, ScanResult};

use crate::whitelist::WhitelistEntry;

/// What the server learned about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageVerdict {
    /// The image reference as written in the pod spec.
    pub image: String,
    /// The digest it resolved to, when it did.
    pub digest: Option<String>,
    /// The verdict.
    pub outcome: ImageOutcome,
}

/// One image's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageOutcome {
    /// Scanned and judged by the policy: the scan, shared with the verdict cache (a review
    /// copies none of it). Made by [`ImageOutcome::judged`], so its decision is set.
    Judged {
        /// The judged scan: its decision, and every finding (the response shows the top
        /// ones).
        scan: Arc<ScanResult>,
    },
    /// Not judged in time, registry unreachable, or the scan failed: why, in one line.
    Unknown {
        /// Why.
        reason: String,
        /// Why, as a kind for machines (`unauthorized`, `not_found`, `unreachable`,
        /// `timeout`, `too_large`, ...): the answer's `unjudged` audit annotation.
        kind: String,
    },
}

/// The overall outcome for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// [`workload`](crate::workload()) returned `None`, or the webhook is disabled.
    NotJudged,
    /// The namespace is not judged.
    NamespaceSkipped {
        /// The namespace.
        namespace: String,
    },
    /// The pod (template) carries the skip label.
    LabelSkipped,
    /// The release is whitelisted.
    Whitelisted {
        /// The entry that allowed it.
        entry: WhitelistEntry,
    },
    /// The images were judged (or could not be).
    Judged {
        /// One verdict per distinct image.
        verdicts: Vec<ImageVerdict>,
        /// What to do with images that could not be judged.
        unknown_action: UnknownImageAction,
        /// The policy that judged them.
        policy_id: String,
    },
}

impl ImageOutcome {
    /// The outcome of a finished scan: judged when the policy decided, otherwise unknown
    /// ("scanned but not judged").
    pub fn judged(scan: Arc<ScanResult>) -> Self {
        if scan.decision.is_some() {
            Self::Judged { scan }
        } else {
            Self::Unknown {
                reason: "scanned but not judged".to_string(),
                kind: "not_judged".to_string(),
            }
        }
    }

    /// The policy's decision, when the image was judged.
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Self::Judged { scan } => scan.decision.as_ref(),
            Self::Unknown { .. } => None,
        }
    }

    /// Every finding of a judged image (none otherwise).
    pub fn findings(&self) -> &[Finding] {
        match self {
            Self::Judged { scan } => &scan.findings,
            Self::Unknown { .. } => &[],
        }
    }
}

impl ImageVerdict {
    /// The image's own action: `go`, `warn`, `stop` or `unknown`.
    pub fn action(&self) -> &'static str {
        self.final_action().map_or("unknown", Action::as_str)
    }

    /// The policy's final action, `None` when the image was not judged.
    pub(crate) fn final_action(&self) -> Option<Action> {
        self.outcome.decision().map(|d| d.final_action)
    }
}

/// The `count` most important findings: most severe first, then those with a fix, then
/// the highest CVSS score, then by id.
pub fn top_findings(findings: &[Finding], count: usize) -> Vec<&Finding> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| {
                (b.status == FindingStatus::Fixed).cmp(&(a.status == FindingStatus::Fixed))
            })
            .then_with(|| {
                b.cvss_score
                    .unwrap_or(0.0)
                    .total_cmp(&a.cvss_score.unwrap_or(0.0))
            })
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.name.cmp(&b.package.name))
    });
    sorted.truncate(count);
    sorted
}
