//! Kubernetes types of Portcullis, and the API calls the server makes.
//!
//! - [`crd`]: the `WhiteListItem` and `Audit` custom resources (group
//!   `security.portcullis.dev`, version `v1alpha1`), with their CRDs generated from the types.
//! - [`client`]: connecting, and the [`Error`] of the API helpers.
//! - [`credentials`]: registry credentials from dockerconfigjson and basic-auth Secrets.
//! - [`whitelist`]: a reflector over `WhiteListItem`s.
//! - [`audit`]: writing `Audit` objects (create or replace).

pub mod audit;
pub mod client;
pub mod crd;
pub mod credentials;
pub mod whitelist;

pub use client::{Error, ErrorKind};
pub use crd::{
    Audit, AuditImage, AuditOwner, AuditResult, AuditSpec, GROUP, VERSION, WhiteListItem,
    WhiteListItemSpec,
};
pub use credentials::RegistryCredential;
