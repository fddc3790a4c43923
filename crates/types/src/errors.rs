//! The body of every error answer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{"type":"error","error":{...},"request_id":...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Always `error`.
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub error: ErrorObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(error: ErrorObject, request_id: Option<String>) -> Self {
        Self {
            kind: error_type(),
            error,
            request_id,
        }
    }
}

fn error_type() -> String {
    "error".into()
}

/// `error`: its `type` (`invalid_request_error`, `memory_precondition_failed_error`, …) and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
}

/// `error.details`; fields beyond `error_code` are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
