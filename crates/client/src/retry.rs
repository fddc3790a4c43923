//! The retry policy of the official SDK, minus its one known mistake: a memory precondition or
//! path conflict (409) is never retried, since the same request will fail the same way.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    Retry,
    DoNotRetry,
}

/// 409 types whose outcome cannot change on retry.
const PERMANENT_CONFLICTS: &[&str] = &[
    "memory_precondition_failed_error",
    "memory_path_conflict_error",
];

/// `x-should-retry` overrides the status rules; then 408, 409, 429 and ≥ 500 are retried.
pub fn retry_decision(status: u16, headers: &HeaderMap, error_type: &str) -> RetryDecision {
    if status == 409 && PERMANENT_CONFLICTS.contains(&error_type) {
        return RetryDecision::DoNotRetry;
    }
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("true") => return RetryDecision::Retry,
        Some("false") => return RetryDecision::DoNotRetry,
        _ => {}
    }
    if matches!(status, 408 | 409 | 429) || status >= 500 {
        RetryDecision::Retry
    } else {
        RetryDecision::DoNotRetry
    }
}

/// The SDK caps hints at about 4.29e6 s; anything larger (or not finite) is ignored.
const MAX_HINT_SECS: f64 = 4_294_967.0;

/// The server's hint: `retry-after-ms` first, then `retry-after` as seconds or an HTTP date.
pub fn retry_after_hint(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let secs = header("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|ms| ms / 1000.0)
        .or_else(|| {
            let v = header("retry-after")?;
            v.parse::<f64>().ok().or_else(|| {
                let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
                let at: SystemTime = at.into();
                Some(
                    at.duration_since(SystemTime::now())
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0),
                )
            })
        })?;
    (secs.is_finite() && secs > 0.0 && secs <= MAX_HINT_SECS).then(|| Duration::from_secs_f64(secs))
}

/// `min(0.5 · 2^n, 8) · (1 − 0.25·U[0,1))` seconds, `n` being the retries already taken.
pub fn backoff(retries_taken: u32) -> Duration {
    let base = (0.5 * 2f64.powi(retries_taken.min(16) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * rand::random::<f64>();
    Duration::from_secs_f64(base * jitter)
}

pub(crate) fn retry_wait(headers: &HeaderMap, retries_taken: u32, scale: f64) -> Duration {
    retry_after_hint(headers).unwrap_or_else(|| backoff(retries_taken).mul_f64(scale))
}

#[cfg(test)]
mod tests;
