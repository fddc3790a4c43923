//! Request decoding: JSON bodies whose errors name the field, and query strings with `key[]`
//! arrays and `created_at[gte]` ranges. Nothing here uses axum's plain-text rejections.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::{self, Timestamp};
use crate::error::{ApiError, ApiResult};

/// Decodes a JSON object body into `T`. Top-level fields outside `allowed` are rejected, as the
/// API does. An empty body counts as `{}`.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8], allowed: &[&str]) -> ApiResult<T> {
    json_body_with(bytes, allowed, &[])
}

/// As [`json_body`]; the keys in `required` must be present even where `null` is allowed.
pub fn json_body_with<T: DeserializeOwned>(
    bytes: &[u8],
    allowed: &[&str],
    required: &[&str],
) -> ApiResult<T> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    let Some(obj) = value.as_object() else {
        return Err(ApiError::invalid("body: expected a JSON object"));
    };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "{extra}: Extra inputs are not permitted"
        )));
    }
    if let Some(missing) = required.iter().find(|k| !obj.contains_key(**k)) {
        return Err(ApiError::invalid(format!("{missing}: Field required")));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            ApiError::invalid(inner)
        } else {
            ApiError::invalid(format!("{path}: {inner}"))
        }
    })
}

/// Raw query pairs, decoded.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter, sent as `name[]=` or repeated `name=`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        let bracket = format!("{name}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == bracket || k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `limit` in `1..=max`, else `default`.
    pub fn limit(&self, default: usize, max: usize) -> ApiResult<usize> {
        match self.get("limit") {
            None => Ok(default.min(max)),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(format!(
                    "limit: must be an integer between 1 and {max} (got {v:?})"
                ))),
            },
        }
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!(
                "{name}: must be `true` or `false` (got {v:?})"
            ))),
        }
    }

    pub fn u64(&self, name: &str) -> ApiResult<Option<u64>> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::invalid(format!(
                        "{name}: must be a non-negative integer (got {v:?})"
                    ))
                })
            })
            .transpose()
    }

    pub fn time(&self, name: &str) -> ApiResult<Option<Timestamp>> {
        self.get(name)
            .map(|v| {
                clock::parse(v).ok_or_else(|| {
                    ApiError::invalid(format!("{name}: must be an RFC 3339 timestamp (got {v:?})"))
                })
            })
            .transpose()
    }

    /// `view`: `basic` or `full`.
    pub fn full_view(&self, default_full: bool) -> ApiResult<bool> {
        match self.get("view") {
            None => Ok(default_full),
            Some("basic") => Ok(false),
            Some("full") => Ok(true),
            Some(v) => Err(ApiError::invalid(format!(
                "view: must be `basic` or `full` (got {v:?})"
            ))),
        }
    }

    /// `order`: `asc` or `desc`; returns whether it is descending.
    pub fn desc(&self, default_desc: bool) -> ApiResult<bool> {
        match self.get("order") {
            None => Ok(default_desc),
            Some("asc") => Ok(false),
            Some("desc") => Ok(true),
            Some(v) => Err(ApiError::invalid(format!(
                "order: must be `asc` or `desc` (got {v:?})"
            ))),
        }
    }

    /// The list's identity for cursors: every parameter except `page`, `limit` and `view`.
    pub fn scope(&self, endpoint: &str) -> String {
        let mut pairs: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "page" | "limit" | "view"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        format!("{endpoint}?{}", pairs.join("&"))
    }
}

/// Timestamp bounds from `created_at[gt|gte|lt|lte]`.
#[derive(Debug, Clone, Default)]
pub struct TimeRange {
    gt: Option<Timestamp>,
    gte: Option<Timestamp>,
    lt: Option<Timestamp>,
    lte: Option<Timestamp>,
}

impl TimeRange {
    /// Reads the bounds `allowed` (a subset of `gt`, `gte`, `lt`, `lte`).
    pub fn parse(p: &Params, field: &str, allowed: &[&str]) -> ApiResult<Self> {
        let get = |op: &str| {
            if allowed.contains(&op) {
                p.time(&format!("{field}[{op}]"))
            } else {
                Ok(None)
            }
        };
        Ok(TimeRange {
            gt: get("gt")?,
            gte: get("gte")?,
            lt: get("lt")?,
            lte: get("lte")?,
        })
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.gt.is_none_or(|b| t > b)
            && self.gte.is_none_or(|b| t >= b)
            && self.lt.is_none_or(|b| t < b)
            && self.lte.is_none_or(|b| t <= b)
    }
}
