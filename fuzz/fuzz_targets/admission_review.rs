#![no_main]
//! AdmissionReview parsing, workload extraction, responses and audits never panic, and a
//! body that parses is always answered in its own apiVersion.

use libfuzzer_sys::fuzz_target;
use portcullis_config::UnknownImageAction;
use portcullis_webhook::{
    audit, audit_name, parse_review, respond, skip_requested, workload, ImageOutcome,
    ImageVerdict, Outcome,
};

fuzz_target!(|data: &[u8]| {
    let Ok(review) = parse_review(data) else {
        return;
    };
    let found = workload(&review).ok().flatten();
    let outcome = match &found {
        Some(w) if skip_requested(w) => Outcome::LabelSkipped,
        Some(w) => Outcome::Judged {
            verdicts: w
                .images
                .iter()
                .map(|image| ImageVerdict {
                    image: image.image.clone(),
                    digest: None,
                    outcome: ImageOutcome::Unknown {
                        kind: "unreachable".to_string(),
                        reason: image.container.clone(),
                    },
                })
                .collect(),
            unknown_action: UnknownImageAction::Reject,
            policy_id: "fuzz".to_string(),
        },
        None => Outcome::NotJudged,
    };
    let response = respond(&review, found.as_ref(), &outcome);
    let body: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
    assert_eq!(body["apiVersion"], review.version.as_str());
    assert_eq!(body["response"]["uid"], review.request.uid.as_str());
    if let Some(w) = &found {
        let _ = audit(w, &outcome, None, "1970-01-01T00:00:00Z");
        let name = audit_name(w);
        assert!(!name.is_empty() && name.len() <= 253);
    }
});
