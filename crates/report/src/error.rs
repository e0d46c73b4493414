//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Writing the output failed.
    Io,
    /// A document could not be serialised.
    Serialize,
    /// An output format name was not recognised.
    UnknownFormat,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Io => "io",
            Self::Serialize => "serialize",
            Self::UnknownFormat => "unknown format",
        })
    }
}

portcullis_types::error_type! {
    /// An error from rendering a report. The message names what was being rendered.
    pub struct Error(ErrorKind) with source;
}

impl Error {
    /// Writing `what` failed.
    pub(crate) fn io(what: &str, e: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("writing {what}: {e}")).with_source(e)
    }

    /// Serialising `what` failed.
    pub(crate) fn serialize(what: &str, e: serde_json::Error) -> Self {
        Self::new(ErrorKind::Serialize, format!("serialising {what}: {e}")).with_source(e)
    }
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
