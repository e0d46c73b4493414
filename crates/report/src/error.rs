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

/// An error from rendering a report. The message names what was being rendered.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message naming the failing input.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attach the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

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
