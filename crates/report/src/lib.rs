//! Renderings of what Portcullis found: SBOMs ([`sbom`]: table, our JSON, CycloneDX 1.6,
//! SPDX 2.3) and scan results ([`scan`]: table, our JSON, SARIF 2.1.0, CycloneDX 1.6 with
//! vulnerabilities).
//!
//! Every rendering is deterministic: the same input gives byte-identical output. Nothing
//! random and no wall-clock time goes in; see [`Timestamp::for_image`] for the time used.

pub mod error;
mod format;
pub mod ids;
pub mod image;
pub mod license;
pub mod sbom;
pub mod scan;
pub mod timestamp;

pub use error::{Error, ErrorKind, Result};
pub use sbom::{Sbom, SbomFormat, render};
pub use timestamp::Timestamp;

/// The tool that produced a document, as named in its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    /// The tool name, e.g. `portcullis`.
    pub name: String,
    /// The tool version, e.g. `0.1.0`.
    pub version: String,
}

impl ToolInfo {
    /// Portcullis itself, at this crate's (the workspace's) version.
    pub fn portcullis() -> Self {
        Self {
            name: "portcullis".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}
