//! Matching installed packages against the vulnerability database.

pub mod finding;

pub use finding::{Finding, FindingPackage, FindingStatus, Severity, sort_findings};
