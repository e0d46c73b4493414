//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The document is not valid YAML or JSON.
    Syntax,
    /// The document is well-formed but breaks the policy schema (unknown gate, trigger or
    /// parameter, bad value, missing field, duplicate id).
    Invalid,
    /// No policy has the requested id.
    UnknownPolicy,
    /// The document is larger than [`crate::MAX_DOCUMENT_LEN`].
    TooLarge,
    /// The policy file could not be read.
    Io,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "syntax",
            Self::Invalid => "invalid",
            Self::UnknownPolicy => "unknown policy",
            Self::TooLarge => "too large",
            Self::Io => "io",
        })
    }
}

portcullis_types::error_type! {
    /// A policy error. The message names the document and, for schema errors, the field
    /// (`rules[2].params.severity: unknown severity 'hgih'`).
    pub struct Error(ErrorKind);
}

impl Error {
    /// A schema error at `path` (`rules[0].action`); an empty path means the document root.
    pub fn invalid(path: &str, why: impl fmt::Display) -> Self {
        let message = if path.is_empty() {
            why.to_string()
        } else {
            format!("{path}: {why}")
        };
        Self::new(ErrorKind::Invalid, message)
    }

    /// Prefix the message with the name of the document it came from.
    #[must_use]
    pub fn in_document(mut self, name: &str) -> Self {
        self.message = format!("{name}: {}", self.message);
        self
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
