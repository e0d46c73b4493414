//! The server's one error type.

portcullis_types::error_type! {
    /// What went wrong starting or running the server.
    pub struct Error(ErrorKind);
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

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
