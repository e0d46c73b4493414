//! The JSON report of a scan, as `portcullis scan --format json` prints it.

use portcullis_scan::ScanResult;

/// The stable JSON form of `result`.
pub fn to_json(result: &ScanResult) -> serde_json::Value {
    portcullis_report::scan::to_json_value(result)
}
