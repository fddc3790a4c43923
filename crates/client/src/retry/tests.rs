//! The retry policy's rules on their own: backoff, the server's hints, and which statuses are
//! retried (the HTTP behaviour is in `tests/retry.rs`).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

#[test]
fn backoff_doubles_from_half_a_second_with_jitter_and_caps_at_eight() {
    let bounds = [
        (0, 0.375, 0.5),
        (1, 0.75, 1.0),
        (2, 1.5, 2.0),
        (3, 3.0, 4.0),
        (4, 6.0, 8.0),
        (5, 6.0, 8.0),
        (40, 6.0, 8.0),
    ];
    for (n, lo, hi) in bounds {
        let mut min = f64::MAX;
        let mut max = 0f64;
        for _ in 0..500 {
            let s = backoff(n).as_secs_f64();
            assert!(
                (lo..=hi).contains(&s),
                "backoff({n}) = {s}, outside [{lo}, {hi}]"
            );
            min = min.min(s);
            max = max.max(s);
        }
        // The jitter really varies (500 draws never land in one narrow band).
        assert!(
            max - min > (hi - lo) * 0.2,
            "backoff({n}) has no jitter: {min}..{max}"
        );
    }
    assert!(backoff(u32::MAX) <= Duration::from_secs(8));
}

#[test]
fn retry_after_hint_reads_milliseconds_first() {
    assert_eq!(
        retry_after_hint(&headers(&[("retry-after-ms", "1500")])),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        retry_after_hint(&headers(&[("retry-after-ms", "0.5")])),
        Some(Duration::from_micros(500))
    );
    assert_eq!(
        retry_after_hint(&headers(&[
            ("retry-after-ms", "250"),
            ("retry-after", "30")
        ])),
        Some(Duration::from_millis(250))
    );
    // An unparseable ms header falls through to retry-after.
    assert_eq!(
        retry_after_hint(&headers(&[
            ("retry-after-ms", "soon"),
            ("retry-after", "3")
        ])),
        Some(Duration::from_secs(3))
    );
}

#[test]
fn retry_after_hint_reads_seconds_and_http_dates() {
    assert_eq!(
        retry_after_hint(&headers(&[("retry-after", "2")])),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        retry_after_hint(&headers(&[("retry-after", "1.25")])),
        Some(Duration::from_millis(1250))
    );
    let in_a_minute =
        chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(60));
    let date = in_a_minute.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let hint =
        retry_after_hint(&headers(&[("retry-after", &date)])).expect("a future date is a hint");
    assert!(
        hint > Duration::from_secs(50) && hint <= Duration::from_secs(60),
        "{hint:?} from {date}"
    );
    // A date in the past is no hint.
    assert_eq!(
        retry_after_hint(&headers(&[(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT"
        )])),
        None
    );
}

#[test]
fn retry_after_hint_ignores_nonsense() {
    for (name, value) in [
        ("retry-after-ms", "-5"),
        ("retry-after-ms", "0"),
        ("retry-after-ms", "NaN"),
        ("retry-after-ms", "inf"),
        ("retry-after-ms", "1e300"),
        ("retry-after", "-1"),
        ("retry-after", "0"),
        ("retry-after", "nan"),
        ("retry-after", "1e10"),
        ("retry-after", "tomorrow"),
        ("retry-after", ""),
    ] {
        assert_eq!(
            retry_after_hint(&headers(&[(name, value)])),
            None,
            "{name}: {value}"
        );
    }
    assert_eq!(retry_after_hint(&HeaderMap::new()), None);
}

#[test]
fn retry_decision_follows_the_sdk_except_for_memory_conflicts() {
    use RetryDecision::{DoNotRetry, Retry};
    let none = HeaderMap::new();
    let yes = headers(&[("x-should-retry", "true")]);
    let no = headers(&[("x-should-retry", "false")]);
    for status in [408, 409, 429, 500, 502, 503, 504, 529, 599] {
        assert_eq!(
            retry_decision(status, &none, "api_error"),
            Retry,
            "{status}"
        );
        assert_eq!(
            retry_decision(status, &no, "api_error"),
            DoNotRetry,
            "{status} with x-should-retry: false"
        );
    }
    for status in [400, 401, 402, 403, 404, 412, 413, 422] {
        assert_eq!(
            retry_decision(status, &none, "invalid_request_error"),
            DoNotRetry,
            "{status}"
        );
        assert_eq!(
            retry_decision(status, &yes, "invalid_request_error"),
            Retry,
            "{status} with x-should-retry: true"
        );
    }
    for kind in [
        "memory_precondition_failed_error",
        "memory_path_conflict_error",
    ] {
        assert_eq!(retry_decision(409, &none, kind), DoNotRetry);
        assert_eq!(retry_decision(409, &yes, kind), DoNotRetry);
    }
    assert_eq!(retry_decision(409, &none, "conflict_error"), Retry);
}
