//! Kubernetes types of Portcullis.
//!
//! - [`crd`]: the `WhiteListItem` and `Audit` custom resources (group
//!   `security.portcullis.dev`, version `v1alpha1`), with their CRDs generated from the types.

pub mod crd;

pub use crd::{
    Audit, AuditImage, AuditOwner, AuditResult, AuditSpec, GROUP, VERSION, WhiteListItem,
    WhiteListItemSpec,
};
