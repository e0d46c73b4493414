//! RFC 3339 timestamps (UTC, whole seconds), with `jiff` doing the calendar.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_unix(secs)
}

/// Format seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC); past year 9999 the
/// last representable second.
pub fn format_unix(secs: u64) -> String {
    let seconds = i64::try_from(secs).unwrap_or(i64::MAX);
    let timestamp = jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::MAX);
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_732_000_000), "2024-11-19T07:06:40Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
    }
}
