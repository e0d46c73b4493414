//! Findings and severities: the types live in `portcullis-types`.

pub use portcullis_types::finding::{
    Finding, FindingEpss, FindingKev, FindingPackage, FindingStatus, Severity, sort_findings,
};
