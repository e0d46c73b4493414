//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A local I/O error (reading an input, writing the database file).
    Io,
    /// The SQLite store failed (open, query, integrity check).
    Store,
    /// The database file has a schema this build cannot read.
    Schema,
    /// An input file's format could not be recognised.
    UnknownFormat,
    /// An input file (or one record in it) is malformed or uses something unsupported.
    InvalidInput,
    /// An input exceeded a size cap.
    TooLarge,
    /// An archive entry name is hostile (`..`, absolute).
    UnsafePath,
    /// An export file's checksum did not match its content.
    ChecksumMismatch,
    /// Fetching a source over the network failed.
    Network,
    /// The options given were inconsistent or incomplete.
    InvalidOptions,
    /// Another update of the same database file holds its lock.
    Locked,
    /// The database file was changed in place while open (it must be replaced by rename).
    Changed,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Io => "io",
            Self::Store => "store",
            Self::Schema => "schema",
            Self::UnknownFormat => "unknown format",
            Self::InvalidInput => "invalid input",
            Self::TooLarge => "too large",
            Self::UnsafePath => "unsafe path",
            Self::ChecksumMismatch => "checksum mismatch",
            Self::Network => "network",
            Self::InvalidOptions => "invalid options",
            Self::Locked => "locked",
            Self::Changed => "changed",
        };
        f.write_str(s)
    }
}

portcullis_types::error_type! {
    /// An error from the vulnerability database. The message names the failing input (file,
    /// archive entry, record id, database path) and never contains a secret.
    pub struct Error(ErrorKind) with source;
}

impl Error {
    /// Wrap an I/O error with a message naming what was being read or written.
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        let kind = match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>())
        {
            Some(inner) => inner.kind,
            None => ErrorKind::Io,
        };
        Self::new(kind, format!("{context}: {err}")).with_source(err)
    }

    /// Wrap a SQLite error with a message naming the database.
    pub fn store(context: impl fmt::Display, err: rusqlite::Error) -> Self {
        Self::new(ErrorKind::Store, format!("{context}: {err}")).with_source(err)
    }

    /// An invalid-input error naming the file (and record, when known).
    pub fn invalid(file: impl fmt::Display, record: Option<&str>, what: impl fmt::Display) -> Self {
        let message = match record {
            Some(id) => format!("{file}: record {id}: {what}"),
            None => format!("{file}: {what}"),
        };
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Turn this error into an `std::io::Error` (for `Read` adapters); [`Error::io`]
    /// recovers the kind on the other side.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
