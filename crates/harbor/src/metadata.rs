//! `GET /api/v1/metadata`: who the scanner is and what it can do.

use serde_json::{Value, json};

use crate::Scanner;
use crate::media::{self, ReportType};

/// The property naming when the vulnerability data was built (RFC 3339).
pub const DATABASE_UPDATED_AT: &str = "harbor.scanner-adapter/vulnerability-database-updated-at";
/// The property naming the database's content id (equal ids: equal data).
pub const DATABASE_CONTENT_ID: &str = "org.portcullis/vulnerability-database-content-id";

/// The metadata document: the scanner, its two capabilities (vulnerability reports in
/// both media types, SBOMs in SPDX and CycloneDX) and its properties, with the database's
/// build time and content id when a database is loaded.
pub fn metadata(scanner: &Scanner, built_at: Option<&str>, content_id: Option<&str>) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert(
        "harbor.scanner-adapter/scanner-type".to_string(),
        json!("os-package-vulnerability"),
    );
    if let Some(at) = built_at {
        properties.insert(DATABASE_UPDATED_AT.to_string(), json!(at));
    }
    if let Some(id) = content_id {
        properties.insert(DATABASE_CONTENT_ID.to_string(), json!(id));
    }
    json!({
        "scanner": scanner,
        "capabilities": [
            {
                "type": "vulnerability",
                "consumes_mime_types": media::CONSUMED,
                "produces_mime_types": [
                    ReportType::HarborVulnerability.media_type(),
                    ReportType::SecurityVulnerability.media_type(),
                ],
            },
            {
                "type": "sbom",
                "consumes_mime_types": media::CONSUMED,
                "produces_mime_types": [ReportType::Sbom.media_type()],
                "additional_attributes": {
                    "sbom_media_types": [media::SPDX_JSON, media::CYCLONEDX_JSON],
                },
            },
        ],
        "properties": properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_database_build_time() {
        let doc = metadata(
            &Scanner::default(),
            Some("2026-12-01T00:00:00Z"),
            Some("abc"),
        );
        assert_eq!(doc["scanner"]["name"], "Portcullis");
        assert_eq!(
            doc["properties"][DATABASE_UPDATED_AT],
            "2026-12-01T00:00:00Z"
        );
        assert_eq!(
            doc["capabilities"][0]["produces_mime_types"][1],
            media::SECURITY_VULNERABILITY_REPORT
        );
        let none = metadata(&Scanner::default(), None, None);
        assert!(none["properties"].get(DATABASE_UPDATED_AT).is_none());
    }
}
