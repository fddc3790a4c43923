//! Clients for the models behind cma's agents and graders: Claude through the Messages API
//! ([`anthropic`]) and any OpenAI-compatible chat completions server ([`openai`]), both behind
//! one [`Protocol`], with the official client's retries ([`call_with_retries`]).
//!
//! Each model call is one blocking HTTP request asking for a stream, read as it arrives (a
//! server that answers plain JSON instead is read as well): no byte for
//! [`ClientConfig::stall_timeout`] ends it, and [`ClientConfig::request_timeout`] bounds it
//! whole. Its `model_request` tracing span records the time to first token and the output
//! tokens per second ([`RequestTiming`]). Failures are retried as the official client retries
//! them (408, 409, 429 and 5xx, `retry-after` honoured, two retries by default). The emulator's
//! agent loop and the scenario grader both call models through this crate.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod anthropic;
mod http;
pub mod openai;
mod retry;
mod stream;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use cma_types::ModelUsage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use retry::{call_with_retries, complete, retry_delay};
pub use stream::{Assembler, RequestTiming, TimingLog};

/// Which agent runs a session's turns (`--agent`), and so which protocol a model is called with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// The deterministic rule-based reference agent (no model).
    #[default]
    Reference,
    /// Claude through the Messages API.
    Anthropic,
    /// Any OpenAI-compatible chat completions server (Ollama, llama.cpp, vLLM, ...).
    OpenAi,
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "reference" => Ok(Backend::Reference),
            "anthropic" => Ok(Backend::Anthropic),
            "openai" => Ok(Backend::OpenAi),
            other => Err(format!(
                "the agent is `reference`, `anthropic` or `openai`, not {other:?}"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Reference => "reference",
            Backend::Anthropic => "anthropic",
            Backend::OpenAi => "openai",
        })
    }
}

/// A secret that never shows in `Debug`, logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// `--agent-max-tokens` when none is given: enough for a turn's reply or tool call, and within
/// the output limit of small local models (vLLM rejects a request asking more than its
/// `--max-model-len` leaves).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// `--agent-stall-timeout` when none is given: the longest a model server may send nothing
/// (before its first byte, or between two) before the call ends.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What each request asks of the model's sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub max_tokens: u32,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
}

/// How a client reaches a model.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The protocol: `Anthropic` (Messages API) or `OpenAi` (chat completions); `Reference`
    /// calls no model and is treated as `Anthropic` if a client is built for it anyway.
    pub backend: Backend,
    /// `https://api.anthropic.com` (anthropic) or `http://127.0.0.1:11434/v1` (openai) when unset.
    pub base_url: Option<String>,
    /// Unset: the variable [`Self::api_key_env`] names, else `ANTHROPIC_API_KEY` (anthropic) or
    /// `OPENAI_API_KEY` (openai) when the base URL is that company's own API.
    pub api_key: Option<ApiKey>,
    /// The environment variable whose key goes to the base URL, whatever it is
    /// (`--agent-api-key-env`).
    pub api_key_env: Option<String>,
    /// The output limit of each request (`max_tokens`; `max_completion_tokens` on OpenAI's own
    /// endpoint, whose reasoning models reject `max_tokens`).
    pub max_tokens: u32,
    /// Sent with every request when set; 0 makes a model's answers as repeatable as it allows.
    pub temperature: Option<f64>,
    /// Sent where the protocol has one (chat completions' `seed`; the Messages API has none).
    pub seed: Option<u64>,
    /// Retries after the first attempt, as the official client's `max_retries`.
    pub max_retries: u32,
    /// Bound on each model request, from the send to the response's end.
    pub request_timeout: Duration,
    /// No byte for this long (before the first, or between two) ends the request.
    pub stall_timeout: Duration,
    /// Where each request's timing goes besides its span (`cma bench turns` reads it).
    pub timings: Option<TimingLog>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Anthropic,
            base_url: None,
            api_key: None,
            api_key_env: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: Some(0.0),
            seed: None,
            max_retries: 2,
            request_timeout: Duration::from_secs(600),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            timings: None,
        }
    }
}

impl ClientConfig {
    /// The base URL requests go to.
    pub fn effective_base_url(&self) -> String {
        let url = match (&self.base_url, self.backend) {
            (Some(u), _) => u.as_str(),
            (None, Backend::OpenAi) => openai::DEFAULT_BASE_URL,
            (None, _) => anthropic::DEFAULT_BASE_URL,
        };
        url.trim_end_matches('/').to_string()
    }

    /// Whether the model server is on this machine (a loopback address or `localhost`).
    pub fn is_local(&self) -> bool {
        is_loopback(&self.effective_base_url())
    }

    /// The key sent: the configured one, else the named variable's, else the backend's own
    /// variable, but only to its company's endpoint (api.anthropic.com, api.openai.com): a key
    /// meant for a cloud API never goes to a local or third-party server unless the user names it.
    pub fn key(&self) -> Option<ApiKey> {
        if let Some(k) = &self.api_key {
            return Some(k.clone());
        }
        let url = self.effective_base_url();
        let var = match (&self.api_key_env, self.backend) {
            (Some(name), _) => name.as_str(),
            (None, Backend::Anthropic) if is_host(&url, "api.anthropic.com") => "ANTHROPIC_API_KEY",
            (None, Backend::OpenAi) if is_host(&url, "api.openai.com") => "OPENAI_API_KEY",
            _ => return None,
        };
        std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(ApiKey)
    }

    /// The variable whose key [`Self::key`] would send, if any.
    pub fn key_variable(&self) -> Option<String> {
        let url = self.effective_base_url();
        match (&self.api_key_env, self.backend) {
            (Some(name), _) => Some(name.clone()),
            (None, Backend::Anthropic) if is_host(&url, "api.anthropic.com") => {
                Some("ANTHROPIC_API_KEY".into())
            }
            (None, Backend::OpenAi) if is_host(&url, "api.openai.com") => {
                Some("OPENAI_API_KEY".into())
            }
            _ => None,
        }
    }

    pub fn sampling(&self) -> Sampling {
        Sampling {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            seed: self.seed,
        }
    }

    /// The client for this configuration's protocol.
    pub fn protocol(&self) -> Result<Arc<dyn Protocol>, CallError> {
        let url = self.effective_base_url();
        Ok(match self.backend {
            Backend::OpenAi => Arc::new(openai::OpenAi::new(&url, self.key(), self)?),
            _ => Arc::new(anthropic::Anthropic::new(&url, self.key(), self)?),
        })
    }
}

/// Whether `url`'s host is `host`.
pub fn is_host(url: &str, host: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(host)))
        .unwrap_or(false)
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// A tool as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// One content block of the transcript, in neither protocol's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
        /// Why the model's input could not be used (e.g. arguments that are not JSON); the call
        /// is answered with this error instead of running.
        invalid: Option<String>,
    },
    ToolResult {
        tool_use_id: String,
        text: String,
        is_error: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub blocks: Vec<Block>,
}

/// Appends `block` to the last message when it has `role`, else starts a message.
pub fn push_block(messages: &mut Vec<Message>, role: Role, block: Block) {
    match messages.last_mut() {
        Some(m) if m.role == role => m.blocks.push(block),
        _ => messages.push(Message {
            role,
            blocks: vec![block],
        }),
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `end_turn`, `stop_sequence` (Messages API); `stop` (chat completions); or none given.
    EndTurn,
    /// `tool_use`; `tool_calls` or `function_call`.
    ToolUse,
    /// The output limit: `max_tokens`; `length`.
    MaxTokens,
    /// The model declined: `refusal`; a chat completion message with a `refusal`.
    Refusal,
    /// `model_context_window_exceeded`: the conversation no longer fits the model's window.
    ContextWindowExceeded,
    /// `content_filter`: the server withheld the output.
    ContentFilter,
    /// A stop reason cma does not know (e.g. `pause_turn`), by its wire name.
    Other(String),
}

/// One model response.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReply {
    /// Text and tool-use blocks, in the model's order.
    pub blocks: Vec<Block>,
    pub stop: Stop,
    /// The stop reason as the server sent it (`max_tokens`, `length`, ...), for messages.
    pub stop_reason: Option<String>,
    pub usage: ModelUsage,
}

impl ModelReply {
    /// The text blocks that say something, in order.
    pub fn text(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Text(t) if !t.trim().is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Why this response cannot be used, as the session's error says it: cut at the output
    /// limit, over the context window, filtered, or stopped for a reason cma does not know.
    /// `None` for a normal end or a refusal (which ends the turn as a refusal, not an error).
    pub fn unusable(&self) -> Option<String> {
        let reason = self.stop_reason.as_deref().unwrap_or("(none)");
        let output = thousands(self.usage.output_tokens);
        let prompt = thousands(
            self.usage.input_tokens
                + self.usage.cache_read_input_tokens
                + self.usage.cache_creation_input_tokens,
        );
        match &self.stop {
            Stop::EndTurn | Stop::ToolUse | Stop::Refusal => None,
            Stop::MaxTokens => Some(format!(
                "the model stopped at {reason} ({output} output tokens); its reply was cut off and \
                 none of its tool calls ran (raise --agent-max-tokens)"
            )),
            Stop::ContextWindowExceeded => Some(format!(
                "the model stopped at {reason}: the conversation ({prompt} prompt tokens) does not \
                 fit its context window; none of its tool calls ran"
            )),
            Stop::ContentFilter => Some(format!(
                "the model stopped at {reason}: the server withheld its output (after {output} \
                 output tokens); none of its tool calls ran"
            )),
            Stop::Other(_) => Some(format!(
                "the model stopped for a reason cma does not know ({reason:?}); none of its tool \
                 calls ran"
            )),
        }
    }
}

impl ModelReply {
    /// The first tool call naming a tool the model was not given (`offered`, and `also`: names
    /// answered with an error result though never offered), as the session's error says it.
    pub fn unknown_tool(&self, offered: &[ToolDef], also: &[&str]) -> Option<String> {
        self.blocks.iter().find_map(|b| match b {
            Block::ToolUse { name, .. }
                if !offered.iter().any(|t| t.name == *name) && !also.contains(&name.as_str()) =>
            {
                Some(format!(
                    "the model called a tool it was not given ({name:?}); none of its tool calls \
                     ran"
                ))
            }
            _ => None,
        })
    }
}

/// Why a tool call's input (`value`) that is JSON but not an object breaks the protocol;
/// `in_string`: chat completions' arguments, JSON text inside a string.
fn not_an_object(name: &str, value: &Value, in_string: bool) -> String {
    let (field, what) = match in_string {
        true => ("arguments", "a JSON string inside a string"),
        false => ("input", "a JSON string"),
    };
    let what = match value {
        Value::String(_) => what,
        Value::Array(_) => "an array",
        Value::Null => "null",
        _ => "a bare value",
    };
    let text = value.to_string();
    format!(
        "the {field} of tool call `{name}` is {what}, not a JSON object: {}",
        stream::excerpt(&text)
    )
}

/// `4096` as `4,096`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One model request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolDef],
}

/// A failed model call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// Worth another attempt (429, 529, 5xx, a timeout or a dropped connection).
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Another attempt would fail the same way (400, 401, a malformed response, ...).
    #[error("{0}")]
    Fatal(String),
}

/// A wire protocol to a model.
pub trait Protocol: Send + Sync {
    fn send(&self, request: &Request<'_>) -> Result<ModelReply, CallError>;
}

#[cfg(test)]
mod tests;
