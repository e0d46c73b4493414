//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The vulnerability database could not be read.
    Database,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Database => "database",
        })
    }
}

portcullis_types::error_type! {
    /// A matching error; the message names the ecosystem and package or id being looked up.
    pub struct Error(ErrorKind) with source;
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
