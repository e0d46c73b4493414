//! The creation time written into SBOMs, chosen so that output is reproducible.
//!
//! [`Timestamp::for_image`] picks, in order: the `SOURCE_DATE_EPOCH` environment variable
//! (the reproducible-builds convention), then the image config's `created`, else nothing.
//! Never the wall clock: the same image gives the same document. Formats that require a
//! time (SPDX `created`) fall back to the Unix epoch, `1970-01-01T00:00:00Z`; CycloneDX,
//! where it is optional, then leaves it out.

use portcullis_types::ImageInfo;

/// The largest time we format: 9999-12-31T23:59:59Z.
const MAX_SECONDS: i64 = 253_402_300_799;

/// A point in time, whole seconds since the Unix epoch, UTC, within years 1970..=9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// From seconds since the epoch; `None` outside 1970..=9999.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        (0..=MAX_SECONDS)
            .contains(&seconds)
            .then_some(Self(seconds))
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The time for an SBOM of `image`: `SOURCE_DATE_EPOCH` if set to a valid number, else
    /// the image config's `created` if it parses, else `None`.
    pub fn for_image(image: &ImageInfo) -> Option<Self> {
        let from_env = std::env::var("SOURCE_DATE_EPOCH").ok();
        Self::choose(from_env.as_deref(), image.config.created.as_deref())
    }

    /// [`Timestamp::for_image`] without the environment: `source_date_epoch` first, then
    /// `created` (RFC 3339).
    pub fn choose(source_date_epoch: Option<&str>, created: Option<&str>) -> Option<Self> {
        source_date_epoch
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(Self::from_unix)
            .or_else(|| created.and_then(Self::parse_rfc3339))
    }

    /// Parse an RFC 3339 date-time (`2024-09-06T22:20:07.972381771Z`, `...+02:00`);
    /// fractions of a second are dropped. `None` if malformed or out of range.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.trim().as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = b.get(range)?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            digits
                .iter()
                .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
        };
        let sep = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        // The calendar (month lengths, leap years) is jiff's.
        let date = jiff::civil::Date::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        let offset = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
                let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
                if *sign == b'+' { minutes } else { -minutes }
            }
            _ => return None,
        };
        let midnight = jiff::tz::Offset::UTC
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .ok()?
            .as_second();
        let seconds = midnight + hour * 3600 + minute * 60 + second.min(59) - offset * 60;
        Self::from_unix(seconds)
    }

    /// `YYYY-MM-DDThh:mm:ssZ`, the form both SPDX and CycloneDX accept.
    pub fn to_rfc3339(self) -> String {
        // Through the civil calendar: jiff's `Timestamp` stops a day before year 9999 ends.
        let (days, secs) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let date = jiff::civil::Date::constant(1970, 1, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(jiff::civil::Date::MAX);
        format!(
            "{date}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(Timestamp::EPOCH.to_rfc3339(), "1970-01-01T00:00:00Z");
        let t = Timestamp::parse_rfc3339("2024-09-06T22:20:07.972381771Z").unwrap();
        assert_eq!(t.unix(), 1_725_661_207);
        assert_eq!(t.to_rfc3339(), "2024-09-06T22:20:07Z");
        let t = Timestamp::parse_rfc3339("2024-02-29T01:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-02-28T23:00:00Z");
        assert_eq!(
            Timestamp::from_unix(MAX_SECONDS).unwrap().to_rfc3339(),
            "9999-12-31T23:59:59Z"
        );
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2024-01-01T00:00:00+0200",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn chooses_source_date_epoch_first() {
        let created = Some("2024-09-06T22:20:07Z");
        assert_eq!(
            Timestamp::choose(Some("1700000000"), created).map(Timestamp::to_rfc3339),
            Some("2023-11-14T22:13:20Z".to_string())
        );
        assert_eq!(
            Timestamp::choose(Some("garbage"), created).map(Timestamp::to_rfc3339),
            Some("2024-09-06T22:20:07Z".to_string())
        );
        assert_eq!(Timestamp::choose(Some("-5"), None), None);
        assert_eq!(Timestamp::choose(None, Some("yesterday")), None);
    }

    #[test]
    fn round_trips_every_day_boundary_of_some_years() {
        for days in (0..2_932_896).step_by(997) {
            let t = Timestamp::from_unix(days * 86_400).unwrap();
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        }
    }
}
