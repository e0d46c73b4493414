//! Problems met while cataloging: warnings, and errors that leave the package list
//! incomplete.

use std::fmt;

/// How bad a problem is.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something minor was skipped; the packages of the file are known.
    #[default]
    Warning,
    /// A package database or manifest could not be read completely (not read, over a cap,
    /// a link that could not be followed, truncated or corrupt): the image's packages are
    /// not all known, so it cannot be judged on its vulnerabilities.
    Error,
}

impl Level {
    /// Is this [`Level::Warning`]?
    pub fn is_warning(&self) -> bool {
        *self == Self::Warning
    }
}

/// A problem with one input: the file (and where useful the record) plus what was wrong.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Warning {
    /// The file the problem is in, relative to the image root.
    pub location: String,
    /// What was wrong, naming the stanza or record where there is one.
    pub message: String,
    /// How bad it is; absent in JSON for a plain warning.
    #[serde(default, skip_serializing_if = "Level::is_warning")]
    pub level: Level,
}

impl Warning {
    /// A warning about `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
            level: Level::Warning,
        }
    }

    /// An error about `location`: its packages are not all known.
    pub fn error(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            ..Self::new(location, message)
        }
    }

    /// Is this an [`Level::Error`]?
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Where catalogers report their warnings and errors.
pub type Warnings = Vec<Warning>;

/// The error for stanza `index` of a package database `location`, starting at `line` and
/// naming package `name` if it has one, skipped because of `why`.
pub(crate) fn skipped_stanza(
    location: &str,
    index: usize,
    line: usize,
    name: Option<&str>,
    why: &str,
) -> Warning {
    Warning::error(
        location,
        format!(
            "stanza {index} (line {line}){}: {why}; skipped",
            name.map(|n| format!(" package '{n}'")).unwrap_or_default()
        ),
    )
}

/// [`skipped_stanza`] for a stanza without a package name or version: `why` names the
/// missing name, else the missing version.
pub(crate) fn stanza_without(
    location: &str,
    index: usize,
    line: usize,
    name: Option<&str>,
    why: [&str; 2],
) -> Warning {
    let [no_name, no_version] = why;
    let why = if name.is_none() { no_name } else { no_version };
    skipped_stanza(location, index, line, name, why)
}
