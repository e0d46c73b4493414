//! HTTP plumbing: responses, bounded bodies, bearer tokens.
//!
//! Bodies are read by [`read_body`] rather than by `tower_http`'s body limit and timeout
//! layers: those answer with their own plain-text bodies (and time out a body that stalls
//! between frames rather than one not complete in time), while a refused body here gets
//! the JSON error, the `Connection: close` and the metric it always had.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The response type of every handler.
pub type HttpResponse = Response<Full<Bytes>>;

/// The largest request body accepted on any route: the webhook's AdmissionReview cap, 3 MiB.
pub const MAX_BODY: usize = portcullis_webhook::MAX_BODY;

/// A response with `body` of `content_type`.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", body),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding the answer: {e}"),
        ),
    }
}

/// A JSON error `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "error": message }).to_string();
    respond(status, "application/json", body)
}

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over [`MAX_BODY`].
    TooLarge,
    /// Not complete within the request timeout.
    TimedOut(std::time::Duration),
    /// The connection failed or was closed mid-body.
    Broken(String),
}

impl BodyError {
    /// The metric label (`too_large`, `timeout`, `aborted`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::TimedOut(_) => "timeout",
            Self::Broken(_) => "aborted",
        }
    }

    /// The HTTP answer.
    pub fn response(&self) -> HttpResponse {
        match self {
            Self::TooLarge => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body larger than {MAX_BODY} bytes"),
            ),
            Self::TimedOut(limit) => {
                let mut response = error(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!("request body not complete within {limit:?}"),
                );
                response
                    .headers_mut()
                    .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
            Self::Broken(e) => error(
                StatusCode::BAD_REQUEST,
                &format!("reading the request body: {e}"),
            ),
        }
    }
}

/// Read the whole body within `timeout`, refusing more than [`MAX_BODY`] bytes (by
/// `Content-Length` up front, and while reading). The bytes are collected as they arrive
/// (no buffer is reserved for the declared length), so a slow client holds only what it
/// sent.
pub async fn read_body<B>(
    request: Request<B>,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    let collecting = Limited::new(request.into_body(), MAX_BODY).collect();
    match tokio::time::timeout(timeout, collecting).await {
        Err(_) => Err(BodyError::TimedOut(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
    }
}

/// `request` with its path's empty segments dropped (`/api/v1/scans/` is
/// `/api/v1/scans`, `//` is `/`), as the API and the Harbor adapter always read paths; the
/// path is rebuilt only when it has such a segment.
pub fn without_empty_segments<B>(mut request: Request<B>) -> Request<B> {
    let path = request.uri().path();
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return request;
    }
    let mut normal = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        normal.push('/');
        normal.push_str(segment);
    }
    if normal.is_empty() {
        normal.push('/');
    }
    if let Some(query) = request.uri().query() {
        normal.push('?');
        normal.push_str(query);
    }
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = axum::http::uri::PathAndQuery::try_from(normal)
        && let Some(slot) = parts.path_and_query.as_mut()
    {
        *slot = path_and_query;
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// A router whose requests lose their path's empty segments first (the API's and the
/// Harbor adapter's).
pub type Normalized =
    tower::util::MapRequest<axum::Router, fn(axum::extract::Request) -> axum::extract::Request>;

/// `router` behind [`without_empty_segments`].
pub fn normalized(router: axum::Router) -> Normalized {
    tower::util::MapRequest::new(router, without_empty_segments)
}

/// Accepted bearer tokens, kept as SHA-256 digests and compared in constant time.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl Tokens {
    /// From the configured tokens (empty ones are ignored).
    pub fn new(tokens: &[String]) -> Self {
        Self {
            digests: tokens
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into())
                .collect(),
        }
    }

    /// Whether `request` carries an accepted `Authorization: Bearer` token.
    pub fn admits<B>(&self, request: &Request<B>) -> bool {
        request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| self.accepts(token))
    }

    /// Whether any token is accepted at all.
    pub fn accepts_any(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether `token` is one of the accepted tokens (exactly: surrounding white space is
    /// not trimmed away), compared in constant time.
    pub fn accepts(&self, token: &str) -> bool {
        if token.is_empty() || token.trim() != token {
            return false;
        }
        let offered: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut accepted = false;
        for digest in &self.digests {
            accepted |= constant_time_eq(digest, &offered);
        }
        accepted
    }
}

/// Whether two digests are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The answer to an unauthenticated request: the same whatever was asked.
pub fn unauthorized() -> HttpResponse {
    let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized");
    response.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_accept_only_listed_ones() {
        let tokens = Tokens::new(&["alpha".into(), "beta".into(), String::new()]);
        let with = |value: &str| {
            Request::builder()
                .header("Authorization", value)
                .body(())
                .unwrap()
        };
        assert!(tokens.admits(&with("Bearer beta")));
        assert!(!tokens.admits(&with("Bearer gamma")));
        assert!(!tokens.admits(&with("Bearer ")));
        assert!(!tokens.admits(&with("Bearer  beta")));
        assert!(!tokens.admits(&with("Bearer beta ")));
        assert!(!tokens.admits(&with("Bearer beta\t")));
        assert!(!tokens.admits(&with("Basic beta")));
        assert!(!Tokens::new(&[]).admits(&with("Bearer ")));
    }

    #[test]
    fn empty_segments_are_dropped_and_the_query_kept() {
        let path = |uri: &str| {
            let request = Request::builder().uri(uri).body(()).unwrap();
            without_empty_segments(request).uri().to_string()
        };
        assert_eq!(path("/api/v1/scans"), "/api/v1/scans");
        assert_eq!(path("/api/v1/scans/"), "/api/v1/scans");
        assert_eq!(
            path("/api/v1//whitelists/?name=a"),
            "/api/v1/whitelists?name=a"
        );
        assert_eq!(path("/"), "/");
        assert_eq!(path("//"), "/");
    }
}
