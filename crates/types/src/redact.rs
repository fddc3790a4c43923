//! The one redaction rule: every secret `cma` holds (the target's key, the agent model's key, the
//! grader's key, the webhook secret, `cma serve`'s key) is registered once, where it is read, and
//! [`redact`] replaces each occurrence in any text by [`REDACTED`]. Tool results are redacted
//! before they reach the model; every event of a session as it is stored and served
//! ([`redact_json`]: what the model said and called with too, so transcripts and reports); the
//! scenario reports before they are written; and the CLI's log lines.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not treated as secrets (they would match ordinary text).
const MIN_SECRET_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers `secret` for this process (ignored when shorter than 8 characters or known).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers the values of the environment variables that hold keys `cma` may use.
pub fn register_env(names: &[&str]) {
    for name in names {
        if let Ok(value) = std::env::var(name) {
            register(&value);
        }
    }
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in all.iter() {
        out = out.replace(s.as_str(), REDACTED);
    }
    Cow::Owned(out)
}

/// Redacts every string in `value` (an event as stored and served), in place.
/// Returns whether anything was replaced, so a caller holding a typed copy knows to rebuild it.
pub fn redact_json(value: &mut serde_json::Value) -> bool {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if all.is_empty() {
        return false;
    }
    let mut changed = false;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(text) if all.iter().any(|s| text.contains(s.as_str())) => {
                for s in all.iter() {
                    *text = text.replace(s.as_str(), REDACTED);
                }
                changed = true;
            }
            serde_json::Value::Array(items) => stack.extend(items.iter_mut()),
            serde_json::Value::Object(fields) => stack.extend(fields.values_mut()),
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Break it: return the text unchanged.
    #[test]
    fn a_registered_secret_is_replaced_everywhere_and_short_values_are_not_secrets() {
        register("sk-redact-test-0123456789");
        register("sk-redact-test-0123456789-longer");
        register("short");
        let text = "a sk-redact-test-0123456789 b sk-redact-test-0123456789-longer c short";
        assert_eq!(redact(text), "a [redacted] b [redacted] c short");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    /// Break it: skip arrays (or objects) in `redact_json`.
    #[test]
    fn every_string_of_a_json_value_is_redacted() {
        register("sk-redact-json-0123456789");
        let mut v = serde_json::json!({
            "type": "agent.tool_use",
            "input": { "command": "echo sk-redact-json-0123456789", "n": 1 },
            "content": [{ "text": "key sk-redact-json-0123456789" }],
        });
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "type": "agent.tool_use",
                "input": { "command": "echo [redacted]", "n": 1 },
                "content": [{ "text": "key [redacted]" }],
            })
        );
    }
}
