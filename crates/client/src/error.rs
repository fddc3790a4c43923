//! The client's one error type.

use std::time::Duration;

/// An error body from the API: `{"type":"error","error":{...},"request_id":...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// `error.type`, such as `not_found_error` or `memory_precondition_failed_error`.
    pub error_type: String,
    pub message: String,
    /// `error.details.error_code`, when it is a string.
    pub error_code: Option<String>,
    /// The `request-id` response header (else the body's `request_id`).
    pub request_id: Option<String>,
    /// The whole parsed body, or the raw text as a JSON string when it was not JSON.
    pub body: serde_json::Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.status, self.error_type, self.message
        )?;
        if let Some(code) = &self.error_code {
            write!(f, " (error_code {code})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request-id {id}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status (or an `error` frame inside an event stream,
    /// which carries the stream's status, 200, as the official SDK reports it).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server could not be reached, or the connection broke.
    #[error("connection error: {message}")]
    Connection { message: String },
    /// No response (or no next event) within the configured time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A response arrived but was not what the API documents.
    #[error("could not decode {what}: {message}; body starts: {snippet:?}")]
    Decode {
        what: String,
        message: String,
        snippet: String,
    },
    /// An event stream ended or misbehaved in a way that is not an API error.
    #[error("event stream: {0}")]
    Stream(String),
    /// The call was refused locally before anything was sent (an empty id, no credentials, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// `error.type`, for API errors.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Error::Api(e) => Some(&e.error_type),
            _ => None,
        }
    }

    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// A failed `content_sha256` precondition or `expected_content_sha256` check.
    pub fn is_precondition_failed(&self) -> bool {
        self.error_type() == Some("memory_precondition_failed_error")
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn decode(
        what: impl Into<String>,
        err: impl std::fmt::Display,
        body: &[u8],
    ) -> Self {
        Error::Decode {
            what: what.into(),
            message: err.to_string(),
            snippet: snippet(body),
        }
    }

    pub(crate) fn from_reqwest(err: reqwest::Error, timeout: Duration) -> Self {
        if err.is_timeout() {
            Error::Timeout(timeout)
        } else {
            // reqwest's Display names the URL, never headers, so no key can leak here.
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            Error::Connection { message }
        }
    }
}

/// The first 200 characters of a body, for error context.
pub(crate) fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
