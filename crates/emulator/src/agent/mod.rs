//! The agent behind an emulated session.
//!
//! A session's turn is handed to an [`AgentBehavior`], which acts only through [`Tools`] (the
//! agent toolset: `bash`, `read`, `write`, `edit`, `glob`, `grep`) and its returned reply. The
//! session code turns every tool call into an `agent.tool_use` / `agent.tool_result` pair and runs
//! it against the mounted memory stores through the same store code as the REST API, so an agent
//! write becomes a memory version with a `session_actor`.
//!
//! The built-in default is [`reference::ReferenceAgent`], a **deterministic rule-based agent, not a
//! language model**. The agent's `model` selects a behaviour (see [`behavior_for_model`]).

pub mod model;
pub mod prompt;
pub mod reference;

use cma_types::Access;

// Defined where they are produced (the store sums usage, the sandbox runs a call); the agent
// sees them here.
pub use crate::sandbox::ToolOutput;
/// The token usage of one model call, as `span.model_request_end` reports it.
pub use cma_types::ModelUsage;

/// A memory store as the agent sees it inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `/mnt/memory/<slug>` (no trailing slash).
    pub path: String,
    pub store_name: String,
    pub store_description: String,
    pub access: Access,
    pub instructions: Option<String>,
}

/// One earlier exchange in the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub user: String,
    pub agent: String,
}

/// What the agent is given for one turn.
#[derive(Debug, Clone)]
pub struct TurnInput<'a> {
    /// The agent's model id (after session overrides).
    pub model: &'a str,
    pub system: Option<&'a str>,
    pub mounts: &'a [Mount],
    /// The paths of the session's mounted files (`file` resources), read-only.
    pub files: &'a [String],
    /// Earlier turns of this session, oldest first (empty on a session's first turn).
    pub history: &'a [Exchange],
    /// The text of the user's message (text blocks joined with newlines).
    pub message: &'a str,
    /// The names of the agent's custom tools.
    pub custom_tools: &'a [String],
    /// Whether the memory section advises reading and writing memory
    /// ([`prompt::GUIDANCE`], `--agent-memory-guidance`).
    pub memory_guidance: bool,
}

impl TurnInput<'_> {
    /// The rendered system prompt (the agent's `system` and the memory section), the same text
    /// every backend sends.
    pub fn system_prompt(&self) -> String {
        prompt::render(self.system, self.mounts, self.memory_guidance)
    }
}

/// One tool call the agent makes: a toolset tool or one of the agent's custom tools.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub input: serde_json::Value,
}

impl ToolCall {
    pub fn new(name: impl Into<String>, input: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            input,
        }
    }
}

/// The agent toolset and the agent's custom tools. Each toolset call is recorded as an `agent.tool_use` event with exactly this
/// `name` and `input`, executed, and answered with an `agent.tool_result`.
///
/// Inputs follow the toolset's schemas (reference section 7.2): `bash {command}`,
/// `read {file_path}`, `write {file_path, content}`, `edit {file_path, old_string, new_string}`,
/// `glob {pattern, path?}`, `grep {pattern, path?}`. The sandbox understands these bash commands
/// on memory mounts: `ls [-1] DIR`, `cat FILE`, `rm FILE`, `mkdir -p DIR` (a no-op: directories
/// are implied by paths), and `find DIR -type f`. A write to a `read_only` mount fails with
/// `is_error: true` ("Read-only file system") and writes nothing.
///
/// A custom tool call is recorded as an `agent.custom_tool_use` and answered by the client
/// (`user.custom_tool_result`); a call under `always_ask` waits for a `user.tool_confirmation`.
/// Such calls block until answered: the session idles with `requires_action` meanwhile, and the
/// model request that made them ends there (the agent reads the answers in its next request).
pub trait Tools {
    fn call(&mut self, name: &str, input: serde_json::Value) -> ToolOutput;

    /// The calls of one model response, made together: every call that needs an answer is
    /// pending at once. The outputs are in the order of `calls`.
    fn call_all(&mut self, calls: Vec<ToolCall>) -> Vec<ToolOutput> {
        calls
            .into_iter()
            .map(|c| self.call(&c.name, c.input))
            .collect()
    }

    /// Sends an `agent.message` mid-turn (the final reply is sent by the session code).
    fn say(&mut self, text: &str);

    /// The model call of the current span returned with this usage (backends calling a real
    /// model); the span's `span.model_request_end` reports it instead of an estimate.
    fn model_usage(&mut self, _usage: ModelUsage) {}

    /// Another model call begins: the current span ends (`span.model_request_end`) and a new one
    /// opens (`span.model_request_start`), as the real service records one span per call.
    fn next_model_request(&mut self) {}

    /// The turn was interrupted (or the session is gone): stop before the next model call.
    fn interrupted(&self) -> bool {
        false
    }
}

/// What the agent decided for this turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    /// The final `agent.message` text; the session then goes idle with `end_turn`.
    Reply(String),
    /// Never go idle (the `emulator:stall` behaviour): the session stays `running` until it is
    /// interrupted, archived or deleted.
    Stall,
    /// The turn failed (model unreachable after retries, iteration cap, a response cut at
    /// max_tokens, ...): the session gets a `session.error` with this message and goes idle with
    /// `retries_exhausted`.
    Failed(String),
    /// The model refused: its text (if any) is said, and the session goes idle with `refusal`.
    Refused(String),
}

/// A pluggable agent. Implementations must be deterministic for a given input and store state.
pub trait AgentBehavior: Send + Sync {
    fn run_turn(&self, input: &TurnInput<'_>, tools: &mut dyn Tools) -> TurnOutcome;
}

/// Model ids with special meaning in the emulator; any other id gets the reference agent.
pub const MODEL_FORGETFUL: &str = "emulator:forgetful";
pub const MODEL_AMNESIAC: &str = "emulator:amnesiac";
pub const MODEL_STALL: &str = "emulator:stall";

/// The behaviour an agent's `model` selects:
/// * `emulator:forgetful` — reads memory but never writes it;
/// * `emulator:amnesiac` — writes memory but never reads it (so it cannot recall);
/// * `emulator:stall` — never goes idle;
/// * anything else — the reference agent.
pub fn behavior_for_model(model: &str) -> Box<dyn AgentBehavior> {
    use reference::{ReferenceAgent, Regression};
    match model {
        MODEL_FORGETFUL => Box::new(ReferenceAgent::with_regression(Regression::NeverWrites)),
        MODEL_AMNESIAC => Box::new(ReferenceAgent::with_regression(Regression::NeverReads)),
        MODEL_STALL => Box::new(Stall),
        _ => Box::new(ReferenceAgent::default()),
    }
}

struct Stall;

impl AgentBehavior for Stall {
    fn run_turn(&self, _input: &TurnInput<'_>, _tools: &mut dyn Tools) -> TurnOutcome {
        TurnOutcome::Stall
    }
}
