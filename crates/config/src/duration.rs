//! Durations written as `500ms`, `8s`, `30m`, `1h`, `1h30m`, `2d`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration that reads and writes as text (`8s`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }

    /// The standard-library duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<Duration> for std::time::Duration {
    fn from(value: Duration) -> Self {
        value.0
    }
}

/// Parse `500ms`, `8s`, `30m`, `1h`, `2d` and sums of them (`1h30m`), with jiff's friendly
/// duration format (so `1h 30m`, `1.5h` and `2 days` are read too); a day is 24 hours.
/// Negative durations and a missing unit are errors.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let span: jiff::Span = text
        .parse()
        .map_err(|e| format!("'{text}': not a duration such as 8s, 30m, 1h30m or 2d ({e})"))?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("'{text}': {e}"))?;
    let duration = std::time::Duration::try_from(signed)
        .map_err(|_| format!("'{text}': a duration cannot be negative"))?;
    Ok(Duration(duration))
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        let units: [(u128, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (size, unit) in units {
            if millis != 0 && millis.is_multiple_of(size) {
                return write!(f, "{}{unit}", millis / size);
            }
        }
        if millis == 0 {
            f.write_str("0s")
        } else {
            write!(f, "{millis}ms")
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, millis, printed) in [
            ("8s", 8_000, "8s"),
            ("500ms", 500, "500ms"),
            ("1h30m", 5_400_000, "90m"),
            ("2d", 172_800_000, "2d"),
            ("0s", 0, "0s"),
            ("1h 30m", 5_400_000, "90m"),
            ("1.5h", 5_400_000, "90m"),
            ("2 days", 172_800_000, "2d"),
            ("1d12h", 129_600_000, "36h"),
        ] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parsed, Duration::from_millis(millis), "{text}");
            assert_eq!(parsed.to_string(), printed);
        }
    }

    #[test]
    fn rejects_bad_text() {
        for text in [
            "",
            "s",
            "5",
            "5x",
            "99999999999999999999s",
            "1h-",
            "-1h",
            "1h ago",
            "99999999d",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}
