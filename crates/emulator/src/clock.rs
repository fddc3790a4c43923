//! Timestamps that strictly increase within the process, so orderings by time are stable.

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};

pub type Timestamp = DateTime<Utc>;

static LAST_MICROS: Mutex<i64> = Mutex::new(0);

/// Now, at microsecond precision, later than every earlier call.
pub fn now() -> Timestamp {
    let mut last = LAST_MICROS.lock().unwrap_or_else(|e| e.into_inner());
    let micros = Utc::now().timestamp_micros().max(*last + 1);
    *last = micros;
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or_else(Utc::now)
}

/// Makes every later [`now`] come after `t` (used after loading persisted data).
pub fn observe(t: Timestamp) {
    let mut last = LAST_MICROS.lock().unwrap_or_else(|e| e.into_inner());
    *last = (*last).max(t.timestamp_micros());
}

/// Parses an RFC 3339 query value.
pub fn parse(value: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn strictly_increasing() {
        let a = super::now();
        let b = super::now();
        assert!(b > a);
    }
}
