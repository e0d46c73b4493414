//! The one error type of this crate.

use std::fmt;

use crate::Scheme;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The string is not a valid version in the scheme.
    Invalid,
    /// The string is longer than [`crate::MAX_VERSION_LEN`] bytes.
    TooLong,
    /// The scheme name is not one this crate knows.
    UnknownScheme,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "invalid version",
            Self::TooLong => "version too long",
            Self::UnknownScheme => "unknown version scheme",
        })
    }
}

/// An error from parsing or comparing versions. The message names the scheme and the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// `input` is not a valid `scheme` version, because of `reason`.
    pub(crate) fn invalid(scheme: Scheme, input: &str, reason: &str) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            message: format!("invalid {scheme} version {input:?}: {reason}"),
        }
    }

    /// `input` is longer than the cap.
    pub(crate) fn too_long(scheme: Scheme, input: &str) -> Self {
        let shown: String = input.chars().take(64).collect();
        Self {
            kind: ErrorKind::TooLong,
            message: format!(
                "{scheme} version {shown:?}... is {} bytes long, more than the limit of {}",
                input.len(),
                crate::MAX_VERSION_LEN
            ),
        }
    }

    /// `name` is not a known scheme.
    pub(crate) fn unknown_scheme(name: &str) -> Self {
        let shown: String = name.chars().take(64).collect();
        Self {
            kind: ErrorKind::UnknownScheme,
            message: format!("unknown version scheme {shown:?}"),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
