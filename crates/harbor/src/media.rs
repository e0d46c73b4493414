//! Media types of the adapter API, and which report an `Accept` header asks for.

/// A scan request body (Harbor 2.x sends version 1.0 or 1.1).
pub const SCAN_REQUEST: &str = "application/vnd.scanner.adapter.scan.request+json";
/// The answer to an accepted scan request.
pub const SCAN_RESPONSE: &str = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
/// The scanner metadata (version 1.1 of the document).
pub const METADATA: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
/// Every error body.
pub const ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";
/// Harbor's vulnerability report.
pub const HARBOR_VULNERABILITY_REPORT: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
/// The vulnerability report of the 1.1 spec (same document).
pub const SECURITY_VULNERABILITY_REPORT: &str =
    "application/vnd.security.vulnerability.report; version=1.1";
/// A scanner's raw report: not produced by Portcullis.
pub const RAW_REPORT: &str = "application/vnd.scanner.adapter.vuln.report.raw";
/// The SBOM report.
pub const SBOM_REPORT: &str = "application/vnd.security.sbom.report+json; version=1.0";
/// The artifact types scanned: OCI and Docker v2 image manifests.
pub const CONSUMED: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// SPDX JSON, an SBOM format of the SBOM report.
pub const SPDX_JSON: &str = "application/spdx+json";
/// CycloneDX JSON, an SBOM format of the SBOM report.
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";

/// A report Portcullis produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    /// [`HARBOR_VULNERABILITY_REPORT`].
    HarborVulnerability,
    /// [`SECURITY_VULNERABILITY_REPORT`].
    SecurityVulnerability,
    /// [`SBOM_REPORT`].
    Sbom,
}

impl ReportType {
    /// Every report type, in the order the metadata lists them.
    pub const ALL: [ReportType; 3] = [
        ReportType::HarborVulnerability,
        ReportType::SecurityVulnerability,
        ReportType::Sbom,
    ];

    /// The media type, as the `Content-Type` of the report.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::HarborVulnerability => HARBOR_VULNERABILITY_REPORT,
            Self::SecurityVulnerability => SECURITY_VULNERABILITY_REPORT,
            Self::Sbom => SBOM_REPORT,
        }
    }

    /// A short name for logs and metrics (`vulnerability`, `sbom`).
    pub fn capability(self) -> &'static str {
        match self {
            Self::HarborVulnerability | Self::SecurityVulnerability => "vulnerability",
            Self::Sbom => "sbom",
        }
    }
}

/// Why an `Accept` header names no report Portcullis produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptError {
    /// A media type of the API that Portcullis does not produce (the raw report): 501.
    NotProduced(String),
    /// Anything else: 400.
    Unknown(String),
}

/// The essence (`type/subtype`, lower case) and the `version` parameter of a media type.
fn split(media_type: &str) -> (String, Option<String>) {
    let mut parts = media_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let version = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("version")
            .then(|| value.trim().trim_matches('"').to_string())
    });
    (essence, version)
}

/// Whether `offered` names the media type `ours` (same essence, same version).
pub fn matches(offered: &str, ours: &str) -> bool {
    let (essence, version) = split(offered);
    let (our_essence, our_version) = split(ours);
    essence == our_essence && (version.is_none() || version == our_version)
}

/// The report an `Accept` header asks for. Missing, empty, `*/*` and `application/*` mean
/// Harbor's vulnerability report; of several media types the first produced one wins.
pub fn negotiate(accept: Option<&str>) -> Result<ReportType, AcceptError> {
    let accept = accept.unwrap_or("").trim();
    if accept.is_empty() {
        return Ok(ReportType::HarborVulnerability);
    }
    let mut not_produced = None;
    for offered in accept.split(',') {
        let (essence, _) = split(offered);
        if essence == "*/*" || essence == "application/*" {
            return Ok(ReportType::HarborVulnerability);
        }
        if let Some(found) = ReportType::ALL
            .into_iter()
            .find(|t| matches(offered, t.media_type()))
        {
            return Ok(found);
        }
        if essence == RAW_REPORT {
            not_produced = Some(offered.trim().to_string());
        }
    }
    match not_produced {
        Some(raw) => Err(AcceptError::NotProduced(raw)),
        None => Err(AcceptError::Unknown(accept.chars().take(200).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_harbor_accept_headers() {
        assert_eq!(
            negotiate(Some(HARBOR_VULNERABILITY_REPORT)),
            Ok(ReportType::HarborVulnerability)
        );
        assert_eq!(
            negotiate(Some(
                "application/vnd.security.vulnerability.report; version=1.1"
            )),
            Ok(ReportType::SecurityVulnerability)
        );
        assert_eq!(
            negotiate(Some(
                "application/vnd.security.sbom.report+json;version=\"1.0\""
            )),
            Ok(ReportType::Sbom)
        );
        assert_eq!(negotiate(None), Ok(ReportType::HarborVulnerability));
        assert_eq!(negotiate(Some("*/*")), Ok(ReportType::HarborVulnerability));
        assert_eq!(
            negotiate(Some("text/html, application/vnd.security.sbom.report+json")),
            Ok(ReportType::Sbom)
        );
        assert_eq!(
            negotiate(Some(RAW_REPORT)),
            Err(AcceptError::NotProduced(RAW_REPORT.to_string()))
        );
        assert!(matches!(
            negotiate(Some("text/html")),
            Err(AcceptError::Unknown(_))
        ));
        // A version we do not produce is not ours.
        assert!(matches!(
            negotiate(Some(
                "application/vnd.scanner.adapter.vuln.report.harbor+json; version=2.0"
            )),
            Err(AcceptError::Unknown(_))
        ));
    }
}
