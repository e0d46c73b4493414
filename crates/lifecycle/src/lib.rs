//! Installing Portcullis in a cluster.
//!
//! - [`spec`]: the activation spec (JSON or YAML, the shape of the product it replaces).
//! - [`validate`]: every rule of the spec, all problems reported at once, each naming its field.
//! - [`manifests`]: every object of an install, as typed Kubernetes objects and as YAML.
//! - [`helm`]: the Helm chart, generated from the same manifests.
//! - [`cert`]: the webhook's CA and serving certificate.
//! - [`wizard`]: the interactive questions of `activate` on a terminal.
//! - [`cluster`]: `activate`, `deactivate` and `status` through the Kubernetes API.

pub mod cert;
pub mod cluster;
pub mod error;
pub mod helm;
pub mod manifests;
pub mod resources;
pub mod spec;
pub mod validate;
pub mod wizard;

pub use error::{Error, ErrorKind, Result};
pub use spec::{
    BuilderSpec, CustomPolicySpec, DatabaseSpec, NotificationSpec, PolicySpec, RegistrySpec, Spec,
    WebhookSpec, WhitelistItemSpec, parse_spec,
};
pub use validate::{Problem, check_cron, validate};

/// The namespace Portcullis is installed in unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "portcullis-system";
