//! `POST /imagecheck`: the ValidatingAdmissionWebhook endpoint. The pure decision logic is
//! `portcullis-webhook`; this module reads the body, asks the engine about each image
//! within the budget, answers, and records the audit.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Request;
use hyper::StatusCode;
use portcullis_webhook::{ImageOutcome, ImageVerdict, Outcome, Workload};
use tokio::time::Instant;

use crate::audits::Decided;
use crate::engine::ImageCheck;
use crate::http::{HttpResponse, error, respond};
use crate::metrics::label;
use crate::server::App;

/// Answer one AdmissionReview.
pub async fn handle(app: &Arc<App>, request: Request) -> HttpResponse {
    let started = std::time::Instant::now();
    let body = match app.read_body(request).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let review = match portcullis_webhook::parse_review(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(app, &e.to_string()),
    };
    let workload = match portcullis_webhook::workload(&review) {
        Ok(w) => w,
        Err(e) => return bad_request(app, &e.to_string()),
    };
    let outcome = decide(app, workload.as_ref()).await;
    let answer = portcullis_webhook::respond(&review, workload.as_ref(), &outcome);
    // The event is built only for configured receivers: a denial costs no formatting else.
    if !answer.allowed
        && app.notifier.is_active()
        && let Some(workload) = &workload
    {
        let images: Vec<&str> = workload.images.iter().map(|c| c.image.as_str()).collect();
        app.notifier.emit(crate::notify::Event {
            event: "admission_denied".to_string(),
            at: crate::engine::unix_now(),
            database: app.engine.database_version(),
            namespace: Some(workload.namespace.clone()),
            workloads: vec![crate::inventory::WorkloadRef {
                namespace: workload.namespace.clone(),
                kind: workload.kind.clone(),
                name: workload.name.clone(),
            }],
            message: format!(
                "{} {}/{} was denied ({}): {}",
                workload.kind,
                workload.namespace,
                workload.name,
                answer.action,
                images.join(", ")
            ),
            subject: format!(
                "{}/{}/{}/{}",
                workload.namespace,
                workload.kind,
                workload.name,
                images.join(",")
            ),
            ..crate::notify::Event::default()
        });
    }
    if let Some(workload) = workload
        && !matches!(
            outcome,
            Outcome::NotJudged | Outcome::NamespaceSkipped { .. }
        )
    {
        app.audits.record(Decided {
            name: portcullis_webhook::audit_name(&workload),
            workload,
            outcome,
            database: app.engine.database_version(),
            at: portcullis_vulndb::time::now_rfc3339(),
        });
    }
    app.metrics.admissions.inc(answer.action);
    app.metrics
        .admission_seconds
        .observe(started.elapsed().as_secs_f64());
    respond(StatusCode::OK, "application/json", answer.body)
}

fn bad_request(app: &Arc<App>, message: &str) -> HttpResponse {
    app.metrics
        .refused
        .get_or_create(&label("reason", "bad_request"))
        .inc();
    error(StatusCode::BAD_REQUEST, message)
}

/// What the webhook decides about `workload`.
async fn decide(app: &Arc<App>, workload: Option<&Workload>) -> Outcome {
    let Some(workload) = workload else {
        return Outcome::NotJudged;
    };
    if !app.config.webhook.enabled {
        return Outcome::NotJudged;
    }
    if !app.selection.judges(&workload.namespace) {
        return Outcome::NamespaceSkipped {
            namespace: workload.namespace.clone(),
        };
    }
    if portcullis_webhook::skip_requested(workload) {
        return Outcome::LabelSkipped;
    }
    if let Some(release) = &workload.release
        && let Some(entry) = app.whitelist_find(release)
    {
        return Outcome::Whitelisted { entry };
    }
    let deadline = Instant::now() + app.config.scan_budget.get();
    let mut unique: Vec<&str> = workload.images.iter().map(|c| c.image.as_str()).collect();
    unique.sort_unstable();
    unique.dedup();
    // Cached images answer at once; of the others, only the first `maxInlineImages` are
    // judged inline, the rest follow `unknownImageAction` (checked in the background).
    let cap = app.config.max_inline_images;
    let mut checks = Vec::with_capacity(unique.len());
    let mut inline = Vec::new();
    for image in unique {
        if let Some(check) = app.engine.cached(image) {
            checks.push(check);
        } else if inline.len() < cap {
            inline.push(image);
        } else {
            checks.push(app.engine.check_later(
                image,
                &workload.namespace,
                &workload.pull_secrets,
                &format!("the review names more than {cap} images without a cached verdict"),
            ));
        }
    }
    checks.extend(
        futures_util::future::join_all(inline.iter().map(|image| {
            app.engine.check(
                image,
                &workload.namespace,
                &workload.pull_secrets,
                Some(deadline),
            )
        }))
        .await,
    );
    let by_image: BTreeMap<String, ImageCheck> =
        checks.into_iter().map(|c| (c.image.clone(), c)).collect();
    let mut policy_ids: Vec<String> = Vec::new();
    let verdicts = workload
        .images
        .iter()
        .filter_map(|container| by_image.get(&container.image))
        .map(|check| {
            let outcome = match &check.outcome {
                Ok(scan) => ImageOutcome::judged(Arc::clone(scan)),
                Err(reason) => ImageOutcome::Unknown {
                    reason: reason.to_string(),
                    kind: reason.kind().as_str().to_string(),
                },
            };
            if let Some(decision) = outcome.decision()
                && !policy_ids.contains(&decision.policy_id)
            {
                policy_ids.push(decision.policy_id.clone());
            }
            ImageVerdict {
                image: check.image.clone(),
                digest: check.digest.clone(),
                outcome,
            }
        })
        .collect();
    let policy_id = if policy_ids.is_empty() {
        app.engine.policies().default_policy.clone()
    } else {
        policy_ids.join(",")
    };
    Outcome::Judged {
        verdicts,
        unknown_action: app.config.unknown_image_action,
        policy_id,
    }
}
