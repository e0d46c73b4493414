//! What a policy decided: the action, each triggered rule, and the database freshness a
//! policy reads.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a triggered rule asks for, in increasing order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Allow.
    Go,
    /// Allow, but tell.
    Warn,
    /// Refuse.
    Stop,
}

impl Action {
    /// The serialised name (`go`, `warn`, `stop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Go => "go",
            Self::Warn => "warn",
            Self::Stop => "stop",
        }
    }

    /// Parse a name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "go" => Some(Self::Go),
            "warn" => Some(Self::Warn),
            "stop" => Some(Self::Stop),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When one vulnerability source was last updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFreshness {
    /// The source name (`alpine-secdb:v3.20/main`, `osv:PyPI`, ...).
    pub name: String,
    /// When it was last updated (RFC 3339).
    pub updated_at: String,
}

/// How fresh the vulnerability database is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DbFreshness {
    /// When the database file was built (RFC 3339).
    pub built_at: Option<String>,
    /// Every source with its update time.
    pub sources: Vec<SourceFreshness>,
}

/// One triggered rule (or one rule that could not be evaluated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleResult {
    /// The gate (`dockerfile`, `vulnerabilities`, `always`).
    pub gate: String,
    /// The trigger.
    pub trigger: String,
    /// The rule's action (WARN when the rule could not be evaluated).
    pub action: Action,
    /// What triggered it, or why it could not be evaluated.
    pub message: String,
}

/// The outcome of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The policy's id.
    #[serde(rename = "id")]
    pub policy_id: String,
    /// The most severe action of the results; `go` when there are none.
    pub final_action: Action,
    /// The results: STOP first, then WARN, then GO; within one action by gate, trigger and
    /// message.
    pub results: Vec<RuleResult>,
}
