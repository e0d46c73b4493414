//! The JSON report of a scan, as `portcullis scan --format json` prints it.

use portcullis_scan::ScanResult;

/// The stable JSON form of `result`.
pub fn to_json(result: &ScanResult) -> serde_json::Value {
    serde_json::to_value(result).unwrap_or(serde_json::Value::Null)
}
