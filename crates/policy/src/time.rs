//! Dates and timestamps (RFC 3339 and `YYYY-MM-DD`) as seconds since the Unix epoch.

/// Seconds in a day.
pub const DAY: i64 = 86_400;

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Seconds since the epoch of `date` at `time`, UTC (the calendar is `jiff`'s).
fn utc_seconds(date: jiff::civil::Date, time: jiff::civil::Time) -> Option<i64> {
    jiff::tz::Offset::UTC
        .to_timestamp(date.to_datetime(time))
        .ok()
        .map(jiff::Timestamp::as_second)
}

/// Parse `YYYY-MM-DD` into seconds at 00:00:00 UTC that day.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let date = jiff::civil::Date::new(
        i16::try_from(digits(y)?).ok()?,
        i8::try_from(digits(m)?).ok()?,
        i8::try_from(digits(d)?).ok()?,
    )
    .ok()?;
    utc_seconds(date, jiff::civil::Time::midnight())
}

/// Parse an RFC 3339 timestamp (`2024-11-19T07:06:40Z`, fractions and offsets allowed; no
/// zone, as NVD writes them, means UTC) or a bare `YYYY-MM-DD` date into seconds since the epoch (UTC).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        return parse_date(s);
    }
    let date = parse_date(s.get(..10)?)?;
    let rest = s.get(10..)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let clock = rest.get(..8)?;
    let mut hms = clock.split(':');
    let (h, m, sec) = (
        digits(hms.next()?)?,
        digits(hms.next()?)?,
        digits(hms.next()?)?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut zone = rest.get(8..)?;
    if let Some(fraction) = zone.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        zone = fraction.get(end..)?;
    }
    let offset = match zone {
        // NVD writes local-less timestamps; they are UTC.
        "Z" | "z" | "" => 0,
        _ => {
            let sign = match zone.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = zone.get(1..)?.split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (digits(oh)? * 3600 + digits(om)? * 60)
        }
    };
    Some(date + h * 3600 + m * 60 + sec - offset)
}

/// The current time in seconds since the epoch (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2001-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("24-01-01"), None);
        assert_eq!(parse_timestamp("2024-11-19T07:06:40Z"), Some(1_732_000_000));
        assert_eq!(
            parse_timestamp("2024-11-19T07:06:40.123Z"),
            Some(1_732_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-11-19T09:06:40+02:00"),
            Some(1_732_000_000)
        );
        assert_eq!(parse_timestamp("2024-11-19"), Some(1_731_974_400));
        // NVD's zone-less timestamps are UTC.
        assert_eq!(
            parse_timestamp("2024-11-19T07:06:40.730"),
            Some(1_732_000_000)
        );
        for bad in [
            "",
            "2024-11-19T",
            "2024-11-19T07:06",
            "2024-11-19T07:06:40+2",
            "2024-11-19T07:06:40.Z",
            "x",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
