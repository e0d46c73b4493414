//! Non-fatal problems met while cataloging.

use std::fmt;

/// A problem with one input: the file (and where useful the record) plus what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Warning {
    /// The file the problem is in, relative to the image root.
    pub location: String,
    /// What was wrong, naming the stanza or record where there is one.
    pub message: String,
}

impl Warning {
    /// A warning about `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Where catalogers report their warnings.
pub type Warnings = Vec<Warning>;
