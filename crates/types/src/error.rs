//! The one error of this crate: a value that does not parse.

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

/// A value that does not parse; the message names the value and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    kind: ParseErrorKind,
    message: String,
}

impl ParseError {
    /// A new error of `kind`.
    pub fn new(kind: ParseErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of value failed to parse.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
}
