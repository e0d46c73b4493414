//! The one error type of this crate.

use std::fmt;

/// What kind of failure happened; stable, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The image reference or source string could not be parsed.
    InvalidReference,
    /// The repository, tag, digest or file does not exist.
    NotFound,
    /// The registry refused our credentials (or wanted some we did not have).
    Unauthorized,
    /// A TLS handshake or certificate verification failed.
    Tls,
    /// A network failure: connection refused, timeout, reset, mid-body stall.
    Network,
    /// The registry answered with an unexpected status after retries.
    Registry,
    /// Content did not match its digest.
    DigestMismatch,
    /// Input exceeded a configured size cap.
    TooLarge,
    /// A manifest, index, config or layout document was malformed or unsupported.
    InvalidManifest,
    /// A layer could not be decompressed or its tar stream was malformed or hostile.
    InvalidLayer,
    /// No manifest in an index matched the requested platform.
    PlatformNotFound,
    /// A local I/O error (reading an archive, a directory, a credentials file).
    Io,
    /// The options given were inconsistent or incomplete.
    InvalidOptions,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::InvalidReference => "invalid reference",
            Self::NotFound => "not found",
            Self::Unauthorized => "unauthorized",
            Self::Tls => "tls",
            Self::Network => "network",
            Self::Registry => "registry",
            Self::DigestMismatch => "digest mismatch",
            Self::TooLarge => "too large",
            Self::InvalidManifest => "invalid manifest",
            Self::InvalidLayer => "invalid layer",
            Self::PlatformNotFound => "platform not found",
            Self::Io => "io",
            Self::InvalidOptions => "invalid options",
        };
        f.write_str(s)
    }
}

portcullis_types::error_type! {
    /// An error from reading an image. The message always names the input that failed
    /// (a reference, a digest, a file, an entry path) and never contains a secret.
    pub struct Error(ErrorKind) with source;
}

impl Error {
    /// Wrap an I/O error with a message naming what was being read.
    ///
    /// If the I/O error carries one of our own errors (as readers in this crate do when a
    /// digest does not match or a cap is exceeded), that error's kind is kept.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        let context = context.into();
        let kind = match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>())
        {
            Some(inner) => inner.kind,
            None if err.kind() == std::io::ErrorKind::TimedOut => ErrorKind::Network,
            None => ErrorKind::Io,
        };
        Self::new(kind, format!("{context}: {err}")).with_source(err)
    }

    /// Turn this error into an `std::io::Error` (for `Read` implementations); [`Error::io`]
    /// recovers the kind on the other side.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

impl From<portcullis_types::ParseError> for Error {
    /// A digest or reference that does not parse is an invalid reference, a platform
    /// invalid options, an image config an invalid manifest; the message is kept.
    fn from(err: portcullis_types::ParseError) -> Self {
        use portcullis_types::ParseErrorKind as K;
        let kind = match err.kind() {
            K::Digest | K::Reference => ErrorKind::InvalidReference,
            K::Platform => ErrorKind::InvalidOptions,
            _ => ErrorKind::InvalidManifest,
        };
        Self::new(kind, err.to_string())
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
