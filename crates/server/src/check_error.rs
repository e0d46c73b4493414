//! Why an image could not be judged, as a kind callers branch on (answers, audits, metrics)
//! and a message that names the image and the cause.

use std::fmt;

/// The kind of a [`CheckError`]; its [`CheckErrorKind::as_str`] is the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckErrorKind {
    /// The reference cannot be parsed.
    InvalidImage,
    /// No vulnerability database is loaded.
    NoDatabase,
    /// No policy applies.
    NoPolicy,
    /// The registry refused the credentials (or wanted some).
    Unauthorized,
    /// The repository, tag or digest does not exist.
    NotFound,
    /// The registry (or the central engine) could not be reached: connection, TLS, 5xx.
    Unreachable,
    /// A deadline passed: the budget, a registry thread, the scan timeout.
    Timeout,
    /// The image is over a configured limit.
    TooLarge,
    /// The central engine refused or failed (remote engine mode).
    Engine,
    /// Anything else while reading or matching the image.
    Scan,
}

impl CheckErrorKind {
    /// The snake_case name (`unauthorized`, `not_found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidImage => "invalid_image",
            Self::NoDatabase => "no_database",
            Self::NoPolicy => "no_policy",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::Engine => "engine",
            Self::Scan => "scan",
        }
    }
}

impl CheckErrorKind {
    /// Every kind.
    pub const ALL: [Self; 10] = [
        Self::InvalidImage,
        Self::NoDatabase,
        Self::NoPolicy,
        Self::Unauthorized,
        Self::NotFound,
        Self::Unreachable,
        Self::Timeout,
        Self::TooLarge,
        Self::Engine,
        Self::Scan,
    ];

    /// The kind named `name` (as [`CheckErrorKind::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for CheckErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an image could not be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    kind: CheckErrorKind,
    message: String,
}

impl CheckError {
    /// An error of `kind`.
    pub fn new(kind: CheckErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A registry or image error, its kind kept, with `context` before its message.
    pub fn from_oci(error: &portcullis_oci::Error, context: &str) -> Self {
        use portcullis_oci::ErrorKind as Oci;
        let kind = match error.kind() {
            Oci::InvalidReference => CheckErrorKind::InvalidImage,
            Oci::NotFound | Oci::PlatformNotFound => CheckErrorKind::NotFound,
            Oci::Unauthorized => CheckErrorKind::Unauthorized,
            Oci::Tls | Oci::Network | Oci::Registry => CheckErrorKind::Unreachable,
            Oci::TooLarge => CheckErrorKind::TooLarge,
            _ => CheckErrorKind::Scan,
        };
        let error = portcullis_types::error::Chain(error);
        let message = if context.is_empty() {
            error.to_string()
        } else {
            format!("{context}: {error}")
        };
        Self::new(kind, message)
    }

    /// The kind.
    pub fn kind(&self) -> CheckErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_kinds_are_kept() {
        use portcullis_oci::{Error, ErrorKind};
        let cases = [
            (ErrorKind::Unauthorized, "unauthorized"),
            (ErrorKind::NotFound, "not_found"),
            (ErrorKind::Network, "unreachable"),
            (ErrorKind::Tls, "unreachable"),
            (ErrorKind::TooLarge, "too_large"),
            (ErrorKind::InvalidManifest, "scan"),
        ];
        for (oci, want) in cases {
            let e = CheckError::from_oci(&Error::new(oci, "r.io/a:1: why"), "resolving");
            assert_eq!(e.kind().as_str(), want);
            assert_eq!(e.to_string(), "resolving: r.io/a:1: why");
            assert_eq!(CheckErrorKind::parse(want), Some(e.kind()));
        }
        assert_eq!(CheckErrorKind::parse("nope"), None);
    }
}
