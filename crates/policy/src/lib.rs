//! Policies: what to do with an image, given its config and its vulnerability findings.
//!
//! - [`bundles`]: the built-in policies (`allow_all_and_warn`, `reject_critical`,
//!   `reject_high`, `block_root`, `deny_all`, `reject_exploited`).
//! - [`document`]: custom policies and policy sets in YAML or JSON, and [`show`] to print a
//!   built-in in that form.
//! - [`evaluate`]: rules, whitelist and findings to a [`Decision`] whose final action is the
//!   most severe result (STOP over WARN over GO).
//! - [`PolicySet`]: mappings choosing a policy by registry, repository and tag glob.

pub mod bundles;
pub mod document;
pub mod error;
pub mod eval;
pub mod model;
pub mod time;
pub mod user;

pub use bundles::{BUILTIN_IDS, builtin, builtins};
pub use document::{
    Format, MAX_DOCUMENT_LEN, PolicyDocument, load_set, parse_document, parse_policy,
    policy_to_string, read_document, set_to_string, show,
};
pub use error::{Error, ErrorKind, Result};
pub use eval::{PolicyInput, evaluate};
pub use model::{
    Action, Comparison, Mapping, ParamValue, Policy, PolicySet, PortSpec, Probability, Rule,
    Trigger, UnknownSeverity, WhitelistEntry,
};
pub use portcullis_types::{DbFreshness, Decision, RuleResult, SourceFreshness};
pub use user::is_root_user;

/// A built-in policy by id, or an [`ErrorKind::UnknownPolicy`] error naming the known ids.
pub fn builtin_or_error(id: &str) -> Result<Policy> {
    bundles::builtin(id).ok_or_else(|| document::unknown_policy(id))
}
