//! Errors: [`ApiError`] is an HTTP error answer in the API's body shape; [`EmulatorError`] is
//! what embedding the emulator can fail with.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cma_types::{ErrorBody, ErrorDetails, ErrorObject};

/// An error the API answers with: `{"type":"error","error":{"type","message","details"?},"request_id"}`.
/// The request id is filled in by the outer middleware, which sees every response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct ApiError {
    pub status: u16,
    /// `error.type`, such as `invalid_request_error`.
    pub kind: &'static str,
    pub message: String,
    /// `error.details.error_code`.
    pub error_code: Option<&'static str>,
    /// Extra response headers (`retry-after`, …).
    pub headers: Vec<(&'static str, String)>,
    /// `error.details` fields beside `error_code` (such as a refused heartbeat's lease).
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            error_code: None,
            headers: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(401, "authentication_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "api_error", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "request_too_large", message)
    }

    /// A 409 whose outcome cannot change on retry.
    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, kind, message).header("x-should-retry", "false")
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }

    pub fn details(mut self, details: serde_json::Map<String, serde_json::Value>) -> Self {
        self.details = details;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The body, with the request id when known.
    pub fn body(&self, request_id: Option<&str>) -> ErrorBody {
        let error = ErrorObject {
            kind: self.kind.to_string(),
            message: self.message.clone(),
            details: (self.error_code.is_some() || !self.details.is_empty()).then(|| {
                ErrorDetails {
                    error_code: self.error_code.map(str::to_string),
                    extra: self.details.clone(),
                }
            }),
        };
        ErrorBody::new(error, request_id.map(str::to_string))
    }

    /// The error type the API uses for a status when nothing more specific applies.
    pub fn kind_for_status(status: u16) -> &'static str {
        match status {
            400 | 405 | 422 => "invalid_request_error",
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            408 | 504 => "timeout_error",
            409 => "conflict_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(self.body(None))).into_response();
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        // The middleware rewrites the body with the request id.
        resp.extensions_mut().insert(self);
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Errors starting or running the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("binding {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("storage at {path}: {message}")]
    Storage { path: String, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
}
