//! Reporting periods and instants: unix milliseconds, UTC.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

/// A half-open reporting period `[from, to)` in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Parses `from`/`to` as RFC 3339 instants or `YYYY-MM-DD` dates (a `to` date includes that whole day).
pub fn parse_period(from: Option<&str>, to: Option<&str>) -> Result<Period, String> {
    let from_ms = match from {
        Some(raw) => parse_bound(raw, false)?,
        None => i64::MIN,
    };
    let to_ms = match to {
        Some(raw) => parse_bound(raw, true)?,
        None => i64::MAX,
    };
    if from_ms >= to_ms {
        return Err("from is not before to".into());
    }
    Ok(Period { from_ms, to_ms })
}

fn parse_bound(raw: &str, end: bool) -> Result<i64, String> {
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(to_ms(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(raw, &format).map_err(|_| format!("{raw:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
    let date = if end { date.next_day().ok_or("date out of range")? } else { date };
    Ok(to_ms(date.with_time(Time::MIDNIGHT).assume_utc()))
}

/// Unix milliseconds of an instant.
pub fn to_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant of unix milliseconds (the epoch if out of range).
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The instant of unix milliseconds, as RFC 3339 UTC.
pub fn rfc3339_of_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.format(&Rfc3339).unwrap_or_default())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_to_date_includes_its_whole_day() {
        let p = parse_period(Some("2026-11-01"), Some("2026-11-01")).unwrap();
        assert_eq!(p.to_ms - p.from_ms, 86_400_000);
        assert_eq!(rfc3339_of_ms(p.from_ms), "2026-11-01T00:00:00Z");
    }

    #[test]
    fn bad_bounds_are_refused() {
        assert!(parse_period(Some("yesterday"), None).is_err());
        assert!(parse_period(Some("2026-11-02"), Some("2026-11-01")).is_err());
        assert_eq!(parse_period(None, None).unwrap().from_ms, i64::MIN);
    }
}
