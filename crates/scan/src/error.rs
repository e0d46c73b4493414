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

portcullis_types::error_type! {
    /// A scan error; the message names the image, database file or filter file.
    pub struct Error(ErrorKind) with source;
}

impl Error {
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
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
