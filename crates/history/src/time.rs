//! Parsing and printing times the way the CLI and every renderer show them.

use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use cma_client::types::Timestamp;

use crate::error::ParseError;

/// Accepts RFC 3339 (`2026-05-01T10:00:00Z`, `2026-05-01T12:00:00+02:00`) or a bare date
/// (`2026-05-01`, meaning midnight UTC).
pub fn parse_time(input: &str) -> Result<Timestamp, ParseError> {
    let s = input.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(midnight) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Utc.from_utc_datetime(&midnight));
    }
    Err(ParseError(format!(
        "{input:?} is not a time: use RFC 3339 such as 2026-05-01T10:00:00Z, or a date such as 2026-05-01"
    )))
}

/// RFC 3339 in UTC with a `Z`, with fractional seconds only when there are any.
pub fn format_time(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_offset_and_bare_dates() {
        let t = parse_time("2026-05-01T12:00:00+02:00").expect("rfc3339");
        assert_eq!(format_time(&t), "2026-05-01T10:00:00Z");
        assert_eq!(
            format_time(&parse_time("2026-05-01").expect("date")),
            "2026-05-01T00:00:00Z"
        );
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = parse_time("yesterday").expect_err("garbage");
        assert!(err.0.contains("RFC 3339"), "{err}");
        assert!(parse_time("2026-13-01").is_err());
    }
}
