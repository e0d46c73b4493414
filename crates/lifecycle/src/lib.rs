//! Installing Portcullis in a cluster.
//!
//! - [`spec`]: the activation spec (JSON or YAML, the shape of the product it replaces).
//! - [`validate`]: every rule of the spec, all problems reported at once, each naming its field.

pub mod error;
pub mod spec;
pub mod validate;

pub use error::{Error, ErrorKind, Result};
pub use spec::{
    CustomPolicySpec, PolicySpec, RegistrySpec, Spec, WebhookSpec, WhitelistItemSpec, parse_spec,
};
pub use validate::{Problem, validate};

/// The namespace Portcullis is installed in unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "portcullis-system";
