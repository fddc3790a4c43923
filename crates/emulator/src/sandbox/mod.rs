//! The agent's sandbox: the [`Tools`] an [`crate::agent::AgentBehavior`] acts through. Each call
//! becomes an `agent.tool_use` / `agent.tool_result` pair in the session's log, checked against
//! the toolset's permission policy, and runs against the session's memory mounts.

#[cfg(test)]
mod atomic_tests;
pub mod bash;
pub mod bwrap;
#[cfg(test)]
mod file_mount_tests;
pub mod files;
pub mod fs;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use cma_types::{
    AgentMessage, AgentToolResult, AgentToolUse, AutoEvaluation, AutoPermission, ContentBlock,
    Event, Marker, PermissionPolicy, RequiresAction, SessionEvent, SessionStatus, StatusIdle,
    StopReason, Tool, ToolEvaluation,
};
use serde_json::Value;

use crate::agent::{ModelUsage, ToolOutput, Tools};
use crate::store::Db;
use crate::store::agents::TOOLSET_TOOLS;
use crate::store::sessions::Confirmation;
use files::{err, ok};
pub use fs::{Fs, FsMount};

/// How a tool call is allowed to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Permission {
    /// Runs at once; the `evaluation` to record.
    Allow(ToolEvaluation),
    /// Waits for a `user.tool_confirmation`.
    Ask,
    /// Refused before any policy applied (tool not enabled).
    Deny,
}

/// The permission for `name` under an agent's tools.
pub fn permission_for(tools: &[Tool], name: &str) -> Permission {
    if !TOOLSET_TOOLS.contains(&name) {
        return Permission::Deny;
    }
    let Some(ts) = tools.iter().find_map(|t| match t {
        Tool::AgentToolset20260401(ts) => Some(ts),
        _ => None,
    }) else {
        return Permission::Deny;
    };
    let default = ts.default_config.clone().unwrap_or_default();
    let config = ts.configs.iter().find(|c| c.name == name);
    let enabled = config
        .and_then(|c| c.enabled)
        .or(default.enabled)
        .unwrap_or(true);
    if !enabled {
        return Permission::Deny;
    }
    let policy = config
        .and_then(|c| c.permission_policy.clone())
        .or(default.permission_policy);
    match policy {
        Some(PermissionPolicy::AlwaysAsk(_)) => Permission::Ask,
        Some(PermissionPolicy::Auto(_)) => {
            Permission::Allow(ToolEvaluation::Auto(AutoEvaluation {
                evaluated_permission: AutoPermission::Allow(Marker {}),
            }))
        }
        _ => Permission::Allow(ToolEvaluation::AlwaysAllow(Marker {})),
    }
}

/// Runs one tool against the mounts (no events, no permission check).
pub fn execute(fs: &Fs, name: &str, input: &Value) -> ToolOutput {
    match name {
        "bash" => {
            if input.get("restart").and_then(Value::as_bool) == Some(true) {
                return ok("The bash tool has been restarted.");
            }
            let Some(command) = input.get("command").and_then(Value::as_str) else {
                return err(
                    "InputValidationError: required parameter `command` is missing or not a string",
                );
            };
            let (output, status) = bash::run(fs, command);
            ToolOutput {
                is_error: status != 0,
                text: output,
            }
        }
        "read" => files::read(fs, input),
        "write" => files::write(fs, input),
        "edit" => files::edit(fs, input),
        "glob" => files::glob(fs, input),
        "grep" => files::grep(fs, input),
        "web_fetch" | "web_search" => {
            err(format!("Error: `{name}` is not available in the emulator"))
        }
        other => err(format!("Error: unknown tool `{other}`")),
    }
}

/// The [`Tools`] of one turn of one session.
pub struct Sandbox {
    db: Arc<Db>,
    session_id: String,
    fs: Fs,
    tools: Vec<Tool>,
    interrupted: Arc<AtomicBool>,
    /// The session is gone or the turn was interrupted: nothing more is recorded.
    aborted: bool,
    /// Characters of tool input and agent output, for the token estimate.
    pub output_chars: usize,
    /// The open `span.model_request_start`'s event id.
    pub span_id: String,
    /// The usage a model backend reported for the open span (else the runner estimates it).
    pub usage: Option<ModelUsage>,
    /// Run `bash` in a real shell under bubblewrap (see [`bwrap`]) rather than the emulated one.
    pub real_shell: bool,
    /// The real shell, once a `bash` call started it (the runner keeps it for the next turn).
    pub shell: Option<bwrap::BwrapShell>,
}

impl Sandbox {
    pub fn new(
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
            usage: None,
            real_shell: false,
            shell: None,
        }
    }

    /// Runs one tool: `bash` in the real shell when there is one, else [`execute`].
    fn run_tool(&mut self, name: &str, input: &Value) -> ToolOutput {
        if name == "bash" && self.real_shell {
            if self.shell.is_none() {
                match bwrap::BwrapShell::for_fs(&self.fs) {
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

    pub fn aborted(&self) -> bool {
        self.aborted || self.interrupted.load(Ordering::SeqCst)
    }

    /// Appends an event; a vanished session aborts the turn.
    fn emit<T>(
        &mut self,
        variant: impl FnOnce(Event<T>) -> SessionEvent,
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

    /// Goes idle with `requires_action` and blocks until the user answers (or the turn ends).
    fn await_confirmation(&mut self, tool_use_id: &str) -> Option<Confirmation> {
        let (tx, rx) = mpsc::channel();
        let sid = self.session_id.clone();
        let id = tool_use_id.to_string();
        let registered = self.db.write(|m| {
            let Some(rec) = m.sessions.get_mut(&sid) else {
                return Ok(false);
            };
            rec.pending_tool_uses.push(id.clone());
            rec.rt.confirm = Some(tx);
            rec.session.status = SessionStatus::Idle;
            let stop_reason = StopReason::RequiresAction(RequiresAction {
                event_ids: vec![id.clone()],
            });
            m.append_event(
                &sid,
                SessionEvent::SessionStatusIdle,
                StatusIdle {
                    stop_reason,
                    stop_details: None,
                },
            );
            m.persist_session(&sid);
            Ok(true)
        });
        if registered != Ok(true) {
            self.aborted = true;
            return None;
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(c) => return Some(c),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.aborted = true;
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.db.is_shutting_down() || self.interrupted.load(Ordering::SeqCst) {
                        self.aborted = true;
                        return None;
                    }
                }
            }
        }
    }
}

impl Tools for Sandbox {
    fn call(&mut self, name: &str, input: Value) -> ToolOutput {
        if self.aborted() {
            self.aborted = true;
            return err("Error: the turn was interrupted");
        }
        self.output_chars += name.len() + input.to_string().len();
        let permission = permission_for(&self.tools, name);
        let (evaluated, evaluation) = match &permission {
            Permission::Allow(evaluation) => ("allow", Some(evaluation.clone())),
            Permission::Ask => ("ask", Some(ToolEvaluation::AlwaysAsk(Marker {}))),
            Permission::Deny => ("deny", None),
        };
        let tool_use = AgentToolUse {
            name: name.to_string(),
            input: input.clone(),
            evaluated_permission: Some(evaluated.to_string()),
            evaluation,
            session_thread_id: None,
        };
        let Some(tool_use_id) = self.emit(SessionEvent::AgentToolUse, tool_use) else {
            return err("Error: the session is gone");
        };
        let output = match permission {
            Permission::Deny => err(format!(
                "Error: the tool `{name}` is not enabled for this agent"
            )),
            Permission::Allow(_) => self.run_tool(name, &input),
            Permission::Ask => match self.await_confirmation(&tool_use_id) {
                None => return err("Error: the turn was interrupted"),
                Some(c) if c.allow => self.run_tool(name, &input),
                Some(c) => err(format!(
                    "Permission denied by the user{}",
                    c.deny_message.map(|m| format!(": {m}")).unwrap_or_default()
                )),
            },
        };
        let result = AgentToolResult {
            tool_use_id,
            content: Some(vec![ContentBlock::text(output.text.clone())]),
            is_error: Some(output.is_error),
        };
        self.emit(SessionEvent::AgentToolResult, result);
        output
    }

    fn model_usage(&mut self, usage: ModelUsage) {
        self.usage = Some(usage);
    }

    fn next_model_request(&mut self) {
        if self.aborted() {
            return;
        }
        let sid = self.session_id.clone();
        let span_id = self.span_id.clone();
        let usage = self.usage.take().unwrap_or_default();
        let opened = self
            .db
            .write(|m| {
                crate::runner::end_span(m, &sid, &span_id, usage, false);
                Ok(
                    m.append_event(&sid, SessionEvent::SpanModelRequestStart, Marker {})
                        .map(|e| e.id.clone()),
                )
            })
            .ok()
            .flatten();
        match opened {
            Some(id) => self.span_id = id,
            None => self.aborted = true,
        }
    }

    fn interrupted(&self) -> bool {
        self.aborted()
    }

    fn say(&mut self, text: &str) {
        if self.aborted() {
            return;
        }
        self.output_chars += text.len();
        let content = vec![ContentBlock::text(text)];
        self.emit(SessionEvent::AgentMessage, AgentMessage { content });
    }
}
