//! Real language models behind a session: the agent loop the service runs (one model call per
//! span, tool calls through [`Tools`], the model's own token usage), over the Messages API
//! ([`anthropic`]) or any OpenAI-compatible chat completions server ([`openai`]).
//!
//! Requests are not streamed: each model call is one blocking HTTP request on the turn's own
//! thread, bounded by [`AgentConfig::request_timeout`]. Failures are retried as the official
//! client retries them (408, 409, 429 and 5xx, `retry-after` honoured, two retries by default),
//! then the turn fails with a `session.error`.

pub mod anthropic;
pub mod history;
mod http;
pub mod openai;
mod tools;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use cma_types::Tool;
use serde_json::Value;

use super::{AgentBehavior, ModelUsage, ToolCall, ToolOutput, Tools, TurnInput, TurnOutcome};
pub use tools::{ToolDef, tool_defs, toolset_definitions};

/// Which agent runs a session's turns.
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

/// How the emulator's sessions reach a model.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub backend: Backend,
    /// `https://api.anthropic.com` (anthropic) or `http://127.0.0.1:11434/v1` (openai) when unset.
    pub base_url: Option<String>,
    /// Sent instead of the session agent's `model` (`emulator:*` ids keep their behaviours).
    pub model: Option<String>,
    /// Unset: `ANTHROPIC_API_KEY` (anthropic) or `OPENAI_API_KEY` (openai) at each turn.
    pub api_key: Option<ApiKey>,
    /// Model calls per turn before the turn fails.
    pub max_iterations: u32,
    /// `max_tokens` of each Messages API request (and `max_tokens` for openai).
    pub max_tokens: u32,
    /// Retries after the first attempt, as the official client's `max_retries`.
    pub max_retries: u32,
    /// Bound on each model request.
    pub request_timeout: Duration,
    /// Run the agent's `bash` (every backend's, the reference agent's too) in a real shell under
    /// bubblewrap when `bwrap` is available; `false`, or no `bwrap`, uses the emulated shell.
    pub real_shell: bool,
    /// The caps of the real shell's sandbox (`--sandbox-disk-mb`, `--sandbox-memory-mb`).
    pub sandbox: crate::sandbox::limits::SandboxLimits,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Reference,
            base_url: None,
            model: None,
            api_key: None,
            max_iterations: 50,
            max_tokens: 8192,
            max_retries: 2,
            request_timeout: Duration::from_secs(600),
            real_shell: true,
            sandbox: crate::sandbox::limits::SandboxLimits::default(),
        }
    }
}

impl AgentConfig {
    /// Whether sessions get the bubblewrap shell (checks for `bwrap` once per process).
    pub fn uses_real_shell(&self) -> bool {
        self.real_shell && crate::sandbox::bwrap::available()
    }

    /// The base URL requests go to.
    pub fn effective_base_url(&self) -> String {
        let url = match (&self.base_url, self.backend) {
            (Some(u), _) => u.as_str(),
            (None, Backend::OpenAi) => openai::DEFAULT_BASE_URL,
            (None, _) => anthropic::DEFAULT_BASE_URL,
        };
        url.trim_end_matches('/').to_string()
    }

    fn key(&self) -> Option<ApiKey> {
        let var = match self.backend {
            Backend::Anthropic => "ANTHROPIC_API_KEY",
            Backend::OpenAi => "OPENAI_API_KEY",
            Backend::Reference => return None,
        };
        self.api_key.clone().or_else(|| {
            std::env::var(var)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .map(ApiKey)
        })
    }
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

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    EndTurn,
    ToolUse,
    MaxTokens,
    Other(String),
}

/// One model response.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReply {
    /// Text and tool-use blocks, in the model's order.
    pub blocks: Vec<Block>,
    pub stop: Stop,
    pub usage: ModelUsage,
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

/// The agent for a session whose model is `model`: a model backend, unless the configured
/// backend is the reference agent or the id is one of the emulator's own (`emulator:*`).
pub fn behavior(
    config: &AgentConfig,
    model: &str,
    tools: &[Tool],
    transcript: Vec<Message>,
) -> Box<dyn AgentBehavior> {
    if config.backend == Backend::Reference || model.starts_with("emulator:") {
        return super::behavior_for_model(model);
    }
    let model_id = config.model.clone().unwrap_or_else(|| model.to_string());
    let url = config.effective_base_url();
    let protocol: Result<Arc<dyn Protocol>, CallError> = match config.backend {
        Backend::OpenAi => openai::OpenAi::new(&url, config.key(), config)
            .map(|p| Arc::new(p) as Arc<dyn Protocol>),
        _ => anthropic::Anthropic::new(&url, config.key(), config)
            .map(|p| Arc::new(p) as Arc<dyn Protocol>),
    };
    Box::new(ModelAgent {
        protocol,
        model: model_id,
        tools: tool_defs(tools),
        transcript,
        max_iterations: config.max_iterations.max(1),
        max_retries: config.max_retries,
    })
}

/// The agent loop over one [`Protocol`].
pub struct ModelAgent {
    protocol: Result<Arc<dyn Protocol>, CallError>,
    model: String,
    tools: Vec<ToolDef>,
    /// The session's earlier turns, rebuilt from its events.
    transcript: Vec<Message>,
    max_iterations: u32,
    max_retries: u32,
}

impl ModelAgent {
    pub fn new(
        protocol: Arc<dyn Protocol>,
        model: String,
        tools: Vec<ToolDef>,
        transcript: Vec<Message>,
        config: &AgentConfig,
    ) -> Self {
        Self {
            protocol: Ok(protocol),
            model,
            tools,
            transcript,
            max_iterations: config.max_iterations.max(1),
            max_retries: config.max_retries,
        }
    }

    /// One model call with the client's retries; `Err` is the `session.error` message.
    fn call(&self, request: &Request<'_>, tools: &dyn Tools) -> Result<ModelReply, String> {
        let protocol = self.protocol.as_ref().map_err(ToString::to_string)?;
        call_with_retries(protocol, request, self.max_retries, &|| tools.interrupted())
    }
}

/// One model call, retried as the official client retries; `Err` says why it failed.
fn call_with_retries(
    protocol: &Arc<dyn Protocol>,
    request: &Request<'_>,
    max_retries: u32,
    interrupted: &dyn Fn() -> bool,
) -> Result<ModelReply, String> {
    let mut attempt = 0;
    loop {
        let Some(sent) = send_unless_interrupted(protocol, request, interrupted) else {
            return Err("the turn was interrupted".into());
        };
        match sent {
            Ok(reply) => return Ok(reply),
            Err(CallError::Retryable {
                message,
                retry_after,
            }) if attempt < max_retries => {
                let delay = retry_delay(attempt, retry_after);
                tracing::warn!(attempt, ?delay, error = %message, "model request failed; retrying");
                if !wait_unless_interrupted(delay, interrupted) {
                    return Err("the turn was interrupted".into());
                }
                attempt += 1;
            }
            Err(e @ CallError::Retryable { .. }) => {
                return Err(format!(
                    "the model request failed after {} attempts: {e}",
                    attempt + 1
                ));
            }
            Err(CallError::Fatal(message)) => {
                return Err(format!("the model request failed: {message}"));
            }
        }
    }
}

/// One question to a model with no tools, answered with its text (blocking; for graders). Uses
/// `config`'s backend, base URL, key, retries and timeout.
pub fn complete(
    config: &AgentConfig,
    model: &str,
    system: &str,
    question: &str,
) -> Result<String, String> {
    let url = config.effective_base_url();
    let protocol: Arc<dyn Protocol> = match config.backend {
        Backend::OpenAi => {
            Arc::new(openai::OpenAi::new(&url, config.key(), config).map_err(|e| e.to_string())?)
        }
        _ => Arc::new(
            anthropic::Anthropic::new(&url, config.key(), config).map_err(|e| e.to_string())?,
        ),
    };
    let messages = [Message {
        role: Role::User,
        blocks: vec![Block::Text(question.to_string())],
    }];
    let request = Request {
        model,
        system,
        messages: &messages,
        tools: &[],
    };
    let reply = call_with_retries(&protocol, &request, config.max_retries, &|| false)?;
    Ok(reply
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Sends `request` on a thread of its own and waits for the answer, giving up (`None`) as soon
/// as the turn is interrupted: a slow model must not hold an interrupted session `running`. The
/// abandoned request ends on its own within the request timeout.
fn send_unless_interrupted(
    protocol: &Arc<dyn Protocol>,
    request: &Request<'_>,
    interrupted: &dyn Fn() -> bool,
) -> Option<Result<ModelReply, CallError>> {
    let (tx, rx) = mpsc::channel();
    let protocol = protocol.clone();
    let (model, system) = (request.model.to_string(), request.system.to_string());
    let (messages, defs) = (request.messages.to_vec(), request.tools.to_vec());
    let spawned = std::thread::Builder::new()
        .name("model-request".into())
        .spawn(move || {
            let request = Request {
                model: &model,
                system: &system,
                messages: &messages,
                tools: &defs,
            };
            let _ = tx.send(protocol.send(&request));
        });
    if let Err(e) = spawned {
        return Some(Err(CallError::Retryable {
            message: format!("could not start the model request: {e}"),
            retry_after: None,
        }));
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(answer) => return Some(answer),
            Err(mpsc::RecvTimeoutError::Timeout) if interrupted() => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some(Err(CallError::Fatal("the model request failed".into())));
            }
        }
    }
}

/// The official client's backoff: `retry-after` when it is given and at most 60 s, else 0.5 s
/// doubling to at most 8 s, less up to 25 % jitter.
fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after.filter(|d| *d <= Duration::from_secs(60)) {
        return d;
    }
    let base = (0.5 * 2f64.powi(attempt.min(16) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * rand::random::<f64>();
    Duration::from_secs_f64(base * jitter)
}

/// Waits `delay` in short slices; `false` when the turn was interrupted meanwhile.
fn wait_unless_interrupted(delay: Duration, interrupted: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + delay;
    loop {
        if interrupted() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Makes the collected calls of a response together and appends their results (an input that
/// could not be used is answered with its error without a call).
fn flush_calls(
    run: &mut Vec<(String, Option<ToolCall>, Option<ToolOutput>)>,
    results: &mut Vec<Block>,
    tools: &mut dyn Tools,
) {
    if run.is_empty() {
        return;
    }
    let items = std::mem::take(run);
    let calls: Vec<ToolCall> = items.iter().filter_map(|(_, c, _)| c.clone()).collect();
    let mut outputs = if tools.interrupted() {
        Vec::new()
    } else {
        tools.call_all(calls)
    }
    .into_iter();
    for (id, call, local) in items {
        let out = local
            .or_else(|| call.and_then(|_| outputs.next()))
            .unwrap_or(ToolOutput {
                is_error: true,
                text: "Error: the turn was interrupted".into(),
            });
        results.push(Block::ToolResult {
            tool_use_id: id,
            text: out.text,
            is_error: out.is_error,
        });
    }
}

fn push_block(messages: &mut Vec<Message>, role: Role, block: Block) {
    match messages.last_mut() {
        Some(m) if m.role == role => m.blocks.push(block),
        _ => messages.push(Message {
            role,
            blocks: vec![block],
        }),
    }
}

impl AgentBehavior for ModelAgent {
    fn run_turn(&self, input: &TurnInput<'_>, tools: &mut dyn Tools) -> TurnOutcome {
        let system = input.system_prompt();
        let mut messages = self.transcript.clone();
        let text = if input.message.trim().is_empty() {
            "(the message has no text)".to_string()
        } else {
            input.message.to_string()
        };
        push_block(&mut messages, Role::User, Block::Text(text));
        for call in 0..self.max_iterations {
            if tools.interrupted() {
                return TurnOutcome::Reply(String::new());
            }
            if call > 0 {
                tools.next_model_request();
            }
            let request = Request {
                model: &self.model,
                system: &system,
                messages: &messages,
                tools: &self.tools,
            };
            let reply = match self.call(&request, &*tools) {
                Ok(r) => r,
                Err(_) if tools.interrupted() => return TurnOutcome::Reply(String::new()),
                Err(message) => return TurnOutcome::Failed(message),
            };
            tools.model_usage(reply.usage);
            let calls_tools = reply
                .blocks
                .iter()
                .any(|b| matches!(b, Block::ToolUse { .. }));
            if !calls_tools || reply.stop == Stop::MaxTokens {
                // The turn ends here; a tool call cut by max_tokens is never run half-formed.
                let text: Vec<&str> = reply
                    .blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::Text(t) if !t.trim().is_empty() => Some(t.as_str()),
                        _ => None,
                    })
                    .collect();
                return TurnOutcome::Reply(text.join("\n\n"));
            }
            // The calls of the response are made together, so the ones that need an answer
            // (custom tools, confirmations) are pending at once. Text between calls is said in
            // its place, which splits them (a response rarely has any).
            let mut results = Vec::new();
            let mut run: Vec<(String, Option<ToolCall>, Option<ToolOutput>)> = Vec::new();
            for block in &reply.blocks {
                match block {
                    Block::Text(t) if !t.trim().is_empty() => {
                        flush_calls(&mut run, &mut results, &mut *tools);
                        tools.say(t);
                    }
                    Block::ToolUse {
                        id,
                        name,
                        input,
                        invalid,
                    } => run.push(match (invalid, input) {
                        (Some(why), _) => (
                            id.clone(),
                            None,
                            Some(ToolOutput {
                                is_error: true,
                                text: format!("InputValidationError: {why}"),
                            }),
                        ),
                        (None, Value::Object(_)) => (
                            id.clone(),
                            Some(ToolCall::new(name.clone(), input.clone())),
                            None,
                        ),
                        (None, _) => (
                            id.clone(),
                            None,
                            Some(ToolOutput {
                                is_error: true,
                                text: "InputValidationError: the tool input must be a JSON object"
                                    .into(),
                            }),
                        ),
                    }),
                    _ => {}
                }
            }
            flush_calls(&mut run, &mut results, &mut *tools);
            if tools.interrupted() {
                return TurnOutcome::Reply(String::new());
            }
            let kept: Vec<Block> = reply
                .blocks
                .into_iter()
                .filter(|b| !matches!(b, Block::Text(t) if t.trim().is_empty()))
                .collect();
            messages.push(Message {
                role: Role::Assistant,
                blocks: kept,
            });
            messages.push(Message {
                role: Role::User,
                blocks: results,
            });
        }
        TurnOutcome::Failed(format!(
            "the model was still calling tools after {} model calls (the iteration cap)",
            self.max_iterations
        ))
    }
}

#[cfg(test)]
mod tests;
