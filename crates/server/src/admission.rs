//! `POST /imagecheck`: the ValidatingAdmissionWebhook endpoint (wired once the webhook
//! crate lands).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::http::{HttpResponse, error};
use crate::server::App;

/// Answer one AdmissionReview.
pub async fn handle(_app: &Arc<App>, _request: Request<Incoming>) -> HttpResponse {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "admission is not wired yet",
    )
}
