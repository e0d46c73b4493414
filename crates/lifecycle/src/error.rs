//! The one error type of this crate.

use std::fmt;

use crate::validate::Problem;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The spec is not valid JSON or YAML, or a field has the wrong type.
    Syntax,
    /// The spec is well-formed but breaks one or more rules (see [`Error::problems`]).
    Invalid,
    /// The spec is larger than [`crate::spec::MAX_SPEC_LEN`].
    TooLarge,
    /// Generating or reading a certificate failed.
    Certificate,
    /// The Kubernetes API refused a request or could not be reached.
    Kube,
    /// Something did not become ready in time.
    Timeout,
    /// A prompt of the interactive wizard failed (no terminal, interrupted).
    Prompt,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "syntax",
            Self::Invalid => "invalid",
            Self::TooLarge => "too large",
            Self::Certificate => "certificate",
            Self::Kube => "kubernetes api",
            Self::Timeout => "timeout",
            Self::Prompt => "prompt",
        })
    }
}

/// A lifecycle error. Validation errors carry every problem found, each naming its field.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    problems: Vec<Problem>,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// A validation error listing `problems` (one per line in the message).
    pub fn invalid(problems: Vec<Problem>) -> Self {
        let mut message = format!("the spec has {} problem(s):", problems.len());
        for problem in &problems {
            message.push_str("\n  ");
            message.push_str(&problem.to_string());
        }
        Self {
            kind: ErrorKind::Invalid,
            message,
            problems,
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The validation problems (empty unless the kind is [`ErrorKind::Invalid`]).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
