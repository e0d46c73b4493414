//! The one error type of this crate.

use std::fmt;

use portcullis_vulndb::Database;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The image could not be opened or its layers read.
    Image,
    /// The vulnerability database failed.
    Database,
    /// A filter input (ignore file, VEX document) is invalid.
    Filter,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Image => "image",
            Self::Database => "database",
            Self::Filter => "filter",
        })
    }
}

/// A scan error; the message names the image, database file or filter file.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn image(
        reference: &str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind: ErrorKind::Image,
            message: format!("{reference}: {e}"),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn database(
        db: &Database,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind: ErrorKind::Database,
            message: format!("{}: {e}", db.path().display()),
            source: Some(Box::new(e)),
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
