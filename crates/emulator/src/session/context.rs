//! The turn's context: the session, the open model-request span, the usage reported for it,
//! the budget and the real shell of one turn. The agent's [`crate::agent::Tools`] are
//! implemented on it in [`super::tools`]; the turn loop ([`super::turn`]) builds it and reads it
//! back once the turn ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cma_types::{Event, SessionEvent, Tool};
use serde_json::Value;

use super::replay::Replay;
use crate::agent::{ModelUsage, ToolOutput};
use crate::sandbox::bwrap::BwrapShell;
use crate::sandbox::limits::SandboxLimits;
use crate::sandbox::{Fs, execute};
use crate::store::Db;

/// The [`Tools`] of one turn of one session: what the agent acts through, and what the turn loop
/// reads back after the turn (the span, the usage, whether the budget stopped it).
pub struct TurnContext {
    pub(super) db: Arc<Db>,
    pub(super) session_id: String,
    pub(super) fs: Fs,
    pub(super) tools: Vec<Tool>,
    pub(super) interrupted: Arc<AtomicBool>,
    /// The session is gone or the turn was interrupted: nothing more is recorded.
    pub(super) aborted: bool,
    /// Characters of tool input and agent output, for the token estimate.
    pub(super) output_chars: usize,
    /// The open `span.model_request_start`'s event id.
    pub(super) span_id: String,
    /// Whether that span is still open (a wait for answers closes it; the runner opens the
    /// turn's first).
    pub(super) span_open: bool,
    /// The span was opened as the turn resumed after a wait and nothing happened in it yet: the
    /// agent's next model request is this one.
    pub(super) span_fresh: bool,
    /// The session's budget was reached at a model-request boundary: the turn stops there.
    pub(super) budget_reached: bool,
    /// Characters of the turn's input, for the token estimate of a span a wait closes.
    pub(super) input_chars: usize,
    /// The usage a model backend reported for the open span (else the runner estimates it).
    pub(super) usage: Option<ModelUsage>,
    /// Run `bash` in a real shell under bubblewrap (see [`crate::sandbox::bwrap`]) rather than the emulated one.
    pub(super) real_shell: bool,
    /// The real shell, once a `bash` call started it (the runner keeps it for the next turn).
    pub(super) shell: Option<BwrapShell>,
    /// The caps of the real shell.
    pub(super) shell_limits: SandboxLimits,
    /// The session's environment is self-hosted: its worker runs the toolset calls.
    pub(super) self_hosted: bool,
    /// What a resumed turn did before the restart, repeated before it goes on live (see
    /// [`super::resume`]).
    pub(super) replay: Option<Replay>,
}

impl TurnContext {
    pub(super) fn new(
        db: Arc<Db>,
        session_id: String,
        fs: Fs,
        tools: Vec<Tool>,
        interrupted: Arc<AtomicBool>,
    ) -> Self {
        Self {
            db,
            session_id,
            fs,
            tools,
            interrupted,
            aborted: false,
            output_chars: 0,
            span_id: String::new(),
            span_open: false,
            span_fresh: false,
            budget_reached: false,
            input_chars: 0,
            usage: None,
            real_shell: false,
            shell: None,
            shell_limits: SandboxLimits::default(),
            self_hosted: false,
            replay: None,
        }
    }

    /// Runs one tool (see [`TurnContext::run_tool_unredacted`]); no secret `cma` holds reaches
    /// the model or the session's events through its result.
    pub(super) fn run_tool(&mut self, name: &str, input: &Value) -> ToolOutput {
        let mut out = self.run_tool_unredacted(name, input);
        if let std::borrow::Cow::Owned(text) = cma_types::redact::redact(&out.text) {
            out.text = text;
        }
        out
    }

    /// Runs one tool: `bash` in the real shell when there is one, else [`execute`].
    fn run_tool_unredacted(&mut self, name: &str, input: &Value) -> ToolOutput {
        if name == "bash" && self.real_shell {
            if self.shell.is_none() {
                match BwrapShell::for_fs(&self.fs, self.shell_limits) {
                    Ok(s) => self.shell = Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "no real shell for this turn; using the emulated one");
                        self.real_shell = false;
                    }
                }
            }
            if let Some(shell) = self.shell.as_mut() {
                return shell.call(&self.fs, input);
            }
        }
        execute(&self.fs, name, input)
    }

    pub(super) fn aborted(&self) -> bool {
        self.aborted || self.interrupted.load(Ordering::SeqCst)
    }

    /// Appends an event; a vanished session aborts the turn.
    pub(super) fn emit<T>(
        &mut self,
        variant: impl FnOnce(Box<Event<T>>) -> SessionEvent,
        body: T,
    ) -> Option<String> {
        let sid = self.session_id.clone();
        let id = self
            .db
            .write(|m| Ok(m.append_event(&sid, variant, body).map(|e| e.id.clone())))
            .ok()
            .flatten();
        if id.is_none() {
            self.aborted = true;
        }
        id
    }
}
