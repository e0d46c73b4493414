//! The server's one error type.

/// What went wrong starting or running the server.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The kind of an [`Error`], for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration is unusable (policy, listen address, TLS files).
    Config,
    /// Binding or serving failed.
    Io,
    /// The vulnerability database could not be opened or verified.
    Database,
    /// The Kubernetes API failed.
    Kubernetes,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
