//! The Harbor pluggable scanner adapter API, version 1.2 (compatible with 1.1), as data.
//!
//! Harbor registers a scanner by URL and talks to it with three operations: `GET
//! /api/v1/metadata`, `POST /api/v1/scan` and `GET /api/v1/scan/{id}/report`. This crate
//! holds everything of that contract that needs no I/O:
//! - [`media`]: the media types and the `Accept` negotiation of a report;
//! - [`request`]: a scan request, validated into an image reference and the registry
//!   credentials Harbor passed (never printed by `Debug`);
//! - [`metadata`]: the scanner's name, capabilities and properties;
//! - [`report`]: a [`portcullis_scan::ScanResult`] mapped to Harbor's vulnerability report,
//!   or its package list to an SBOM report;
//! - [`ErrorBody`]: the error document of every failure.
//!
//! The server (`portcullis-server`) does the HTTP, the authentication and the scanning.
//! The contract itself is `testdata/specs/harbor-scanner-adapter-openapi-v1.2.yaml`.

pub mod media;
pub mod metadata;
pub mod report;
pub mod request;

use serde::Serialize;

pub use media::ReportType;
pub use request::{RegistryAuth, RequestError, ScanRequest};

/// The error document of the API (`{"error": {"message": ...}}`), served as
/// [`media::ERROR`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorMessage,
}

/// The message of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorMessage {
    /// What went wrong, for a person.
    pub message: String,
}

impl ErrorBody {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            error: ErrorMessage {
                message: message.into(),
            },
        }
    }

    /// The JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{\"error\":{}}".to_vec())
    }
}

/// The scanner as Harbor shows it: `Portcullis`, its vendor and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scanner {
    /// `Portcullis`.
    pub name: String,
    /// `Portcullis`.
    pub vendor: String,
    /// This build's version.
    pub version: String,
}

impl Default for Scanner {
    fn default() -> Self {
        Self {
            name: "Portcullis".to_string(),
            vendor: "Portcullis".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape() {
        assert_eq!(
            String::from_utf8(ErrorBody::new("no \"scan\"").to_bytes()).unwrap(),
            r#"{"error":{"message":"no \"scan\""}}"#
        );
    }
}
