//! The outcome in words: action, allowed, reason, deny message, warnings. Shared by the
//! response and the audit so both always agree.

use portcullis_config::UnknownImageAction;
use portcullis_policy::Action;
use portcullis_types::Finding;

use crate::outcome::{ImageOutcome, ImageVerdict, Outcome, top_findings};
use crate::text::truncate_bytes;
use crate::workload::{SKIP_LABEL, Workload};

/// The longest deny message; `kubectl` shows it whole.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The longest warning (the API server may cut longer ones).
pub const MAX_WARNING_BYTES: usize = 256;
/// The most warnings in one response.
pub const MAX_WARNINGS: usize = 10;
/// How many findings the deny message shows per image.
pub const TOP_FINDINGS: usize = 3;

const MAX_LINE_BYTES: usize = 400;

/// The outcome in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub action: &'static str,
    pub allowed: bool,
    pub reason: String,
    pub message: Option<String>,
    pub warnings: Vec<String>,
}

impl Summary {
    fn allowed(action: &'static str, reason: String) -> Self {
        Self {
            action,
            allowed: true,
            reason,
            message: None,
            warnings: Vec::new(),
        }
    }
}

pub(crate) fn summarize(workload: Option<&Workload>, outcome: &Outcome) -> Summary {
    match outcome {
        Outcome::NotJudged => {
            Summary::allowed("not_judged", "not a request Portcullis judges".to_string())
        }
        Outcome::NamespaceSkipped { namespace } => {
            Summary::allowed("skipped", format!("namespace {namespace} is not judged"))
        }
        Outcome::LabelSkipped => Summary::allowed(
            "skipped",
            format!("label {}={}", SKIP_LABEL.0, SKIP_LABEL.1),
        ),
        Outcome::Whitelisted { entry } => {
            let release = workload
                .and_then(|w| w.release.as_deref())
                .unwrap_or(&entry.name);
            Summary::allowed(
                "whitelisted",
                format!(
                    "release {release} whitelisted by {}: {}",
                    entry.origin, entry.reason
                ),
            )
        }
        Outcome::Judged {
            verdicts,
            unknown_action,
            policy_id,
        } => judged(workload, verdicts, *unknown_action, policy_id),
    }
}

fn judged(
    workload: Option<&Workload>,
    verdicts: &[ImageVerdict],
    unknown_action: UnknownImageAction,
    policy_id: &str,
) -> Summary {
    let with = |action: Option<Action>| -> Vec<&ImageVerdict> {
        verdicts
            .iter()
            .filter(|v| v.final_action() == action)
            .collect()
    };
    let (stops, warns, unknowns) = (
        with(Some(Action::Stop)),
        with(Some(Action::Warn)),
        with(None),
    );
    let total = verdicts.len();
    let first_unknown = unknowns.iter().find_map(|v| match &v.outcome {
        ImageOutcome::Unknown { reason, .. } => Some(reason.as_str()),
        ImageOutcome::Judged { .. } => None,
    });
    let unknown_reason = |verb: &str| {
        format!(
            "{} not judged yet, {verb}: {}",
            of(unknowns.len(), total),
            first_unknown.unwrap_or_default()
        )
    };
    let reject_unknown = unknown_action == UnknownImageAction::Reject && !unknowns.is_empty();
    if !stops.is_empty() || reject_unknown {
        let refused_unknowns: &[&ImageVerdict] = if reject_unknown { &unknowns } else { &[] };
        let (action, reason) = if stops.is_empty() {
            ("unknown", unknown_reason("refused"))
        } else {
            (
                "stop",
                format!("{} stopped by policy {policy_id}", of(stops.len(), total)),
            )
        };
        let message = deny_message(workload, &reason, &stops, refused_unknowns);
        return Summary {
            action,
            allowed: false,
            reason,
            message: Some(message),
            warnings: Vec::new(),
        };
    }
    let mut warnings: Vec<String> = unknowns.iter().map(|v| unknown_warning(v)).collect();
    for verdict in &warns {
        warnings.extend(warn_results(verdict));
    }
    let (action, reason) = if !unknowns.is_empty() {
        ("unknown", unknown_reason("allowed"))
    } else if !warns.is_empty() {
        (
            "warn",
            format!("{} warned by policy {policy_id}", of(warns.len(), total)),
        )
    } else {
        (
            "go",
            format!("{} passed policy {policy_id}", of(total, total)),
        )
    };
    Summary {
        action,
        allowed: true,
        reason,
        message: None,
        warnings: bound_warnings(warnings),
    }
}

/// `3 of 4 images`, `1 of 1 image`.
fn of(count: usize, total: usize) -> String {
    let noun = if total == 1 { "image" } else { "images" };
    format!("{count} of {total} {noun}")
}

fn deny_message(
    workload: Option<&Workload>,
    reason: &str,
    stops: &[&ImageVerdict],
    unknowns: &[&ImageVerdict],
) -> String {
    let subject = workload
        .map(|w| format!(" {} {}", w.kind, w.name))
        .unwrap_or_default();
    let mut message = format!("Portcullis refused{subject}: {reason}");
    let lines: Vec<String> = stops
        .iter()
        .map(|v| stop_line(v))
        .chain(unknowns.iter().map(|v| unknown_line(v)))
        .collect();
    const RESERVE: usize = 40;
    for (index, line) in lines.iter().enumerate() {
        let line = truncate_bytes(line, MAX_LINE_BYTES);
        let left = lines.len() - index;
        let room = if left > 1 {
            MAX_MESSAGE_BYTES - RESERVE
        } else {
            MAX_MESSAGE_BYTES
        };
        if message.len() + 1 + line.len() > room {
            message.push_str(&format!("\n- … and {left} more"));
            break;
        }
        message.push('\n');
        message.push_str(&line);
    }
    truncate_bytes(&message, MAX_MESSAGE_BYTES)
}

fn image_label(verdict: &ImageVerdict) -> String {
    match &verdict.digest {
        Some(digest) if !verdict.image.contains('@') => {
            let short: String = digest.chars().take("sha256:".len() + 12).collect();
            format!("{} ({short})", verdict.image)
        }
        _ => verdict.image.clone(),
    }
}

fn stop_line(verdict: &ImageVerdict) -> String {
    let Some(decision) = verdict.outcome.decision() else {
        return unknown_line(verdict);
    };
    let findings = verdict.outcome.findings();
    let mut parts: Vec<String> = top_findings(findings, TOP_FINDINGS)
        .into_iter()
        .map(finding_text)
        .collect();
    if findings.len() > TOP_FINDINGS {
        parts.push(format!("+{} more", findings.len() - TOP_FINDINGS));
    }
    if parts.is_empty() {
        parts = decision
            .results
            .iter()
            .filter(|r| r.action == Action::Stop)
            .take(2)
            .map(|r| format!("{}/{}: {}", r.gate, r.trigger, r.message))
            .collect();
    }
    format!("- {}: {}", image_label(verdict), parts.join("; "))
}

fn finding_text(finding: &Finding) -> String {
    let fix = match &finding.fixed_version {
        Some(fixed) => format!("fixed in {fixed}"),
        None => "no fix".to_string(),
    };
    format!(
        "{} ({}) {} {}, {fix}",
        finding.id, finding.severity, finding.package.name, finding.package.version
    )
}

fn unknown_line(verdict: &ImageVerdict) -> String {
    format!("- {}", unknown_text(verdict))
}

fn unknown_text(verdict: &ImageVerdict) -> String {
    let reason = match &verdict.outcome {
        ImageOutcome::Unknown { reason, .. } => reason.as_str(),
        ImageOutcome::Judged { .. } => "",
    };
    format!(
        "{}: not judged yet ({reason}); the scan goes on, retry shortly",
        image_label(verdict)
    )
}

fn unknown_warning(verdict: &ImageVerdict) -> String {
    format!("allowed unjudged: {}", unknown_text(verdict))
}

fn warn_results(verdict: &ImageVerdict) -> Vec<String> {
    let Some(decision) = verdict.outcome.decision() else {
        return Vec::new();
    };
    decision
        .results
        .iter()
        .filter(|r| r.action == Action::Warn)
        .map(|r| format!("{}: {}/{}: {}", verdict.image, r.gate, r.trigger, r.message))
        .collect()
}

fn bound_warnings(warnings: Vec<String>) -> Vec<String> {
    let total = warnings.len();
    let keep = if total > MAX_WARNINGS {
        MAX_WARNINGS - 1
    } else {
        total
    };
    let mut out: Vec<String> = warnings
        .iter()
        .take(keep)
        .map(|w| truncate_bytes(w, MAX_WARNING_BYTES))
        .collect();
    if total > keep {
        out.push(format!("… and {} more warnings", total - keep));
    }
    out
}
