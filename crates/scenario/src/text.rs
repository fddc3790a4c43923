//! Text and JSON rules shared by checks, scripted tools and reports: shortening, redacting a URL,
//! and matching a call's input.

use serde_json::Value;

/// At most `max` characters, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A URL without any `user:password@` part, for reports and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// Whether `input` holds every key of `want` with a matching value: objects match when they
/// contain the wanted keys (recursively), numbers by value (`2` matches `2.0`), anything else —
/// strings, booleans, arrays — only when equal.
pub fn input_contains(input: &Value, want: &serde_json::Map<String, Value>) -> bool {
    let Value::Object(have) = input else {
        return false;
    };
    want.iter()
        .all(|(k, w)| have.get(k).is_some_and(|h| value_contains(h, w)))
}

fn value_contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(_), Value::Object(w)) => input_contains(have, w),
        (Value::Number(h), Value::Number(w)) => match (h.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => h == w,
        },
        _ => have == want,
    }
}

/// A short rendering of a call's input for verdicts and errors.
pub(crate) fn show_input(input: &Value) -> String {
    shorten(&input.to_string(), 120)
}
