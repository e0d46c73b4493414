//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The AdmissionReview body is malformed; the server answers HTTP 400 with the message.
    BadRequest,
    /// The webhook configuration is unusable (a namespace glob that does not compile).
    InvalidConfig,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadRequest => "bad request",
            Self::InvalidConfig => "invalid config",
        })
    }
}

portcullis_types::error_type! {
    /// An admission error. The message names what is wrong, by its JSON path for requests
    /// (`request.object.spec.containers[1].image: missing`).
    pub struct Error(ErrorKind);
}

impl Error {
    /// A [`ErrorKind::BadRequest`] error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
