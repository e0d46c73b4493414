//! `POST /imagecheck`: the ValidatingAdmissionWebhook endpoint (wired once the webhook
//! crate lands).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::http::{HttpResponse, error, read_body};
use crate::server::App;

/// Answer one AdmissionReview.
pub async fn handle(_app: &Arc<App>, request: Request<Incoming>) -> HttpResponse {
    if let Err(e) = read_body(request).await {
        return e.response();
    }
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "admission is not wired yet",
    )
}
