//! The one error of this crate (a value that does not parse), and [`error_type!`], the
//! pattern of every crate's error type.

/// What kind of value failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A content digest (`sha256:<hex>`).
    Digest,
    /// An image reference (`registry/repository:tag@digest`).
    Reference,
    /// A platform (`os/arch[/variant]`).
    Platform,
    /// An image config document.
    ImageConfig,
}

crate::error_type! {
    /// A value that does not parse; the message names the value and says why.
    pub struct ParseError(ParseErrorKind);
}

/// Declares a crate's error type, the one pattern of the workspace: a `thiserror` struct
/// with a stable kind for callers to branch on (`kind()`), a message that names the failing
/// input (its `Display`), and, in the `with source` form, the underlying cause as its
/// `#[source]` (`with_source`). The plain form also derives `Clone` and `PartialEq`. The
/// calling crate depends on `thiserror`.
///
/// ```
/// /// What failed.
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// pub enum ErrorKind {
///     /// Reading.
///     Io,
/// }
///
/// portcullis_types::error_type! {
///     /// This crate's error.
///     pub struct Error(ErrorKind) with source;
/// }
///
/// let e = Error::new(ErrorKind::Io, "reading x").with_source(std::fmt::Error);
/// assert_eq!((e.kind(), e.to_string()), (ErrorKind::Io, "reading x".to_string()));
/// assert!(std::error::Error::source(&e).is_some());
/// ```
#[macro_export]
macro_rules! error_type {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($kind:ty) with source;) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        #[error("{message}")]
        $vis struct $name {
            kind: $kind,
            message: String,
            #[source]
            source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
        }

        impl $name {
            /// A new error of `kind` with a message that names the failing input.
            pub fn new(kind: $kind, message: impl Into<String>) -> Self {
                Self {
                    kind,
                    message: message.into(),
                    source: None,
                }
            }

            /// Attach the underlying cause.
            #[must_use]
            pub fn with_source(
                mut self,
                source: impl std::error::Error + Send + Sync + 'static,
            ) -> Self {
                self.source = Some(Box::new(source));
                self
            }

            /// The stable kind of this error.
            pub fn kind(&self) -> $kind {
                self.kind
            }
        }
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident($kind:ty);) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{message}")]
        $vis struct $name {
            kind: $kind,
            message: String,
        }

        impl $name {
            /// A new error of `kind` with a message that names the failing input.
            pub fn new(kind: $kind, message: impl Into<String>) -> Self {
                Self {
                    kind,
                    message: message.into(),
                }
            }

            /// The stable kind of this error.
            pub fn kind(&self) -> $kind {
                self.kind
            }
        }
    };
}

/// An error and its causes on one line, joined with `": "`, as the CLI, the server's answers
/// and the notifications show it. A cause whose text the line already holds is left out, so
/// a message that quotes its cause does not say it twice.
///
/// ```
/// use portcullis_types::error::Chain;
/// use portcullis_types::{ParseError, ParseErrorKind};
///
/// let e = ParseError::new(ParseErrorKind::Digest, "digest 'x': not sha256:<hex>");
/// assert_eq!(Chain(&e).to_string(), "digest 'x': not sha256:<hex>");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod chain_tests {
    #![allow(dead_code)]

    use super::Chain;

    crate::error_type! {
        /// A test error.
        struct Outer(u8) with source;
    }

    #[test]
    fn causes_are_joined_once() {
        let io = std::io::Error::other("connection reset");
        let plain = Outer::new(1, "reading layer sha256:ab").with_source(io);
        assert_eq!(
            Chain(&plain).to_string(),
            "reading layer sha256:ab: connection reset"
        );
        let quoted = Outer::new(1, "reading layer sha256:ab: connection reset")
            .with_source(std::io::Error::other("connection reset"));
        assert_eq!(
            Chain(&quoted).to_string(),
            "reading layer sha256:ab: connection reset"
        );
        let nested = Outer::new(2, "scanning nginx")
            .with_source(Outer::new(1, "pulling").with_source(std::io::Error::other("timed out")));
        assert_eq!(
            Chain(&nested).to_string(),
            "scanning nginx: pulling: timed out"
        );
        assert_eq!(Chain(&Outer::new(3, "alone")).to_string(), "alone");
    }
}
