//! HTTP plumbing: responses, bounded bodies, bearer tokens.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
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
pub async fn read_body(
    request: Request<Incoming>,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyError> {
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
}
