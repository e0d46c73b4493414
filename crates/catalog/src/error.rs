//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A path pattern could not be compiled.
    InvalidPattern,
    /// A package database could not be read at all.
    InvalidDatabase,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidPattern => "invalid pattern",
            Self::InvalidDatabase => "invalid database",
        })
    }
}

portcullis_types::error_type! {
    /// An error from the catalog crate; the message names the failing input.
    pub struct Error(ErrorKind);
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
