//! Real language models behind a session: the agent loop the service runs (one model call per
//! span, tool calls through [`Tools`], the model's own token usage). The clients for both
//! protocols, their HTTP and retries are `cma-models`'; this module adds the loop, the tool
//! definitions ([`tools`]) and the transcript rebuilt from a session's events ([`history`]).

pub mod history;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use cma_types::Tool;
use serde_json::Value;

pub use cma_models::{
    ApiKey, Backend, Block, CallError, ClientConfig, Message, ModelReply, Protocol, Request, Role,
    Stop, ToolDef, anthropic, call_with_retries, openai, push_block,
};

use super::{AgentBehavior, ToolCall, ToolOutput, Tools, TurnInput, TurnOutcome};
pub use tools::{tool_defs, toolset_definitions};

/// How the emulator's sessions reach a model.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub backend: Backend,
    /// `https://api.anthropic.com` (anthropic) or `http://127.0.0.1:11434/v1` (openai) when unset.
    pub base_url: Option<String>,
    /// Sent instead of the session agent's `model` (`emulator:*` ids keep their behaviours).
    pub model: Option<String>,
    /// Unset: see [`ClientConfig::key`] (read at each turn).
    pub api_key: Option<ApiKey>,
    /// The variable whose key goes to any base URL (`--agent-api-key-env`).
    pub api_key_env: Option<String>,
    /// Model calls per turn before the turn fails.
    pub max_iterations: u32,
    /// The output limit of each model request (see [`ClientConfig::max_tokens`]).
    pub max_tokens: u32,
    /// Sent with each model request when set (default 0).
    pub temperature: Option<f64>,
    /// Sent where the protocol has one (chat completions).
    pub seed: Option<u64>,
    /// Retries after the first attempt, as the official client's `max_retries`.
    pub max_retries: u32,
    /// Bound on each model request.
    pub request_timeout: Duration,
    /// No byte from the model server for this long ends the request (`--agent-stall-timeout`).
    pub stall_timeout: Duration,
    /// Where each model request's timing goes besides its span (`cma bench turns`).
    pub timings: Option<cma_models::TimingLog>,
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
            api_key_env: None,
            max_iterations: 50,
            max_tokens: cma_models::DEFAULT_MAX_TOKENS,
            temperature: Some(0.0),
            seed: None,
            max_retries: 2,
            request_timeout: Duration::from_secs(600),
            stall_timeout: cma_models::DEFAULT_STALL_TIMEOUT,
            timings: None,
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
        self.client().effective_base_url()
    }

    /// What the model client needs of this configuration.
    pub fn client(&self) -> ClientConfig {
        ClientConfig {
            backend: self.backend,
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            api_key_env: self.api_key_env.clone(),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            seed: self.seed,
            max_retries: self.max_retries,
            request_timeout: self.request_timeout,
            stall_timeout: self.stall_timeout,
            timings: self.timings.clone(),
        }
    }
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
    let protocol = config.client().protocol();
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
            tools.model_usage(reply.usage.clone());
            // A refused, cut-off, filtered or otherwise abnormal response ends the turn here,
            // before any of its tool calls runs: a call cut by max_tokens is half-formed, and
            // one from a context-exceeded response was made without the whole conversation.
            if reply.stop == Stop::Refusal {
                return TurnOutcome::Refused(reply.text().join("\n\n"));
            }
            if let Some(why) = reply.unusable() {
                return TurnOutcome::Failed(why);
            }
            // A call of a tool the model was never given is a broken response, not a slip: none
            // of its calls runs. The web tools are the toolset's, answered with an error result.
            if let Some(why) = reply.unknown_tool(&self.tools, &["web_fetch", "web_search"]) {
                return TurnOutcome::Failed(why);
            }
            let calls_tools = reply
                .blocks
                .iter()
                .any(|b| matches!(b, Block::ToolUse { .. }));
            if !calls_tools {
                return TurnOutcome::Reply(reply.text().join("\n\n"));
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
