//! Query strings as the API reads them: `key[]=a&key[]=b` arrays, `created_at[gte]=` ranges.

use crate::types::Timestamp;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query(pub(crate) Vec<(String, String)>);

impl Query {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn opt(mut self, key: &str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.0.push((key.to_string(), v.to_string()));
        }
        self
    }

    /// Timestamps go in the SDK's `isoformat()` form, `2026-01-01T00:00:00+00:00`.
    pub(crate) fn time(self, key: &str, value: Option<Timestamp>) -> Self {
        self.opt(key, value.map(|t| t.to_rfc3339()))
    }

    /// An array parameter in the brackets format: `statuses[]=idle&statuses[]=running`.
    pub(crate) fn array<S: AsRef<str>>(mut self, key: &str, values: &[S]) -> Self {
        for v in values {
            self.0.push((format!("{key}[]"), v.as_ref().to_string()));
        }
        self
    }

    pub(crate) fn set_page(&mut self, cursor: &str) {
        self.0.retain(|(k, _)| k != "page");
        self.0.push(("page".into(), cursor.into()));
    }

    pub(crate) fn encode(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            ser.append_pair(k, v);
        }
        ser.finish()
    }
}

/// Percent-encodes one path segment (ids are opaque strings).
pub(crate) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
