//! A model's answer as it streams in: SSE frames (framed by the workspace's one decoder,
//! `cma_types::sse`) handed to a protocol's [`Assembler`], which builds the same JSON the
//! non-streaming endpoint would have answered, so one parser reads both; and the request's
//! timing (time to first token, output tokens per second) recorded on its tracing span.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::{CallError, ModelReply};

/// What a frame carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    /// Text, tool input or a refusal: the first one marks the time to first token.
    Output,
    /// Anything else (a start, a stop reason, usage, a ping).
    Other,
}

/// Builds one protocol's response from its stream events.
pub trait Assembler {
    /// One SSE frame (`event` is the frame's `event:` name; chat completions have none). An
    /// error event, or data that is not JSON, ends the call.
    fn frame(&mut self, event: Option<&str>, data: &str) -> Result<Delta, CallError>;
    /// The stream's last event arrived (`message_stop`; `data: [DONE]`).
    fn done(&self) -> bool;
    /// A stop reason arrived: a stream that closes cleanly after it lost nothing.
    fn stopped(&self) -> bool;
    /// The response, read by the same parser as the non-streaming endpoint's answer.
    fn reply(&mut self) -> Result<ModelReply, CallError>;
}

/// `data` as JSON, or the error naming the event it came in.
pub fn frame_json(event: Option<&str>, data: &str) -> Result<Value, CallError> {
    serde_json::from_str(data).map_err(|e| {
        let what = event.map_or_else(
            || "a stream chunk".to_string(),
            |e| format!("a `{e}` event"),
        );
        CallError::Fatal(format!(
            "malformed model response: {what} is not JSON ({e}): {}",
            excerpt(data)
        ))
    })
}

/// The first 200 characters of `text`, for error messages.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text.trim().chars().take(200).collect();
    if text.trim().chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

/// How one model request went, for its span and for `cma bench turns`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestTiming {
    /// From the request being sent to the first text or tool input; `None` when none came or
    /// the server did not stream.
    pub first_token: Option<Duration>,
    /// From the request being sent to the response's end.
    pub total: Duration,
    /// The output tokens the server counted (0 when it said none).
    pub output_tokens: u64,
}

impl RequestTiming {
    pub fn first_token_ms(&self) -> Option<f64> {
        self.first_token.map(|d| d.as_secs_f64() * 1000.0)
    }

    /// Output tokens per second of generation (after the first token): `None` without a first
    /// token, without a token count, or when everything came at once.
    pub fn output_tokens_per_second(&self) -> Option<f64> {
        let generating = self.total.checked_sub(self.first_token?)?;
        (self.output_tokens > 0 && !generating.is_zero())
            .then(|| self.output_tokens as f64 / generating.as_secs_f64())
    }

    /// Records the figures on the current span (a `model_request` span declares them).
    pub fn record_on_current_span(&self) {
        let span = tracing::Span::current();
        span.record("total_ms", self.total.as_secs_f64() * 1000.0);
        span.record("output_tokens", self.output_tokens);
        if let Some(ms) = self.first_token_ms() {
            span.record("ttft_ms", ms);
        }
        if let Some(rate) = self.output_tokens_per_second() {
            span.record("output_tokens_per_s", rate);
        }
    }
}

/// Where a client's requests report their timing (`cma bench turns` with a model agent reads
/// it); cheap to clone, shared by every clone.
#[derive(Debug, Clone, Default)]
pub struct TimingLog(Arc<Mutex<Vec<RequestTiming>>>);

impl TimingLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, timing: RequestTiming) {
        if let Ok(mut log) = self.0.lock() {
            log.push(timing);
        }
    }

    /// Every timing recorded so far, oldest first.
    pub fn snapshot(&self) -> Vec<RequestTiming> {
        self.0.lock().map(|log| log.clone()).unwrap_or_default()
    }
}
