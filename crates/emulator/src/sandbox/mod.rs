//! The agent's sandbox: the [`Tools`] an [`crate::agent::AgentBehavior`] acts through. Each call
//! becomes an `agent.tool_use` / `agent.tool_result` pair in the session's log, checked against
//! the toolset's permission policy, and runs against the session's memory mounts.

#[cfg(test)]
mod atomic_tests;
pub mod bash;
pub mod bwrap;
mod calls;
#[cfg(test)]
mod file_mount_tests;
pub mod files;
pub mod fs;
mod launch;
pub mod limits;
pub mod pool;
mod sync;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cma_types::{
    AutoEvaluation, AutoJudgement, AutoPermission, Event, Marker, PermissionPolicy, SessionEvent,
    Tool, ToolEvaluation,
};
use serde_json::Value;

use crate::agent::{ModelUsage, ToolOutput};
use crate::store::Db;
use crate::store::agents::TOOLSET_TOOLS;
pub use calls::INTERRUPTED;
use files::{err, ok};
pub use fs::{Fs, FsMount};

/// How a tool call is allowed to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Permission {
    /// Runs at once; the `evaluation` to record.
    Allow(ToolEvaluation),
    /// Waits for a `user.tool_confirmation`; the `evaluation` to record.
    Ask(ToolEvaluation),
    /// Refused by the policy (`auto` judged it); the `evaluation` to record.
    Refuse(ToolEvaluation),
    /// Refused before any policy applied (tool not enabled).
    Deny,
}

impl Permission {
    /// `evaluated_permission` and `evaluation` of the `agent.tool_use`.
    pub fn recorded(&self) -> (&'static str, Option<ToolEvaluation>) {
        match self {
            Permission::Allow(e) => ("allow", Some(e.clone())),
            Permission::Ask(e) => ("ask", Some(e.clone())),
            Permission::Refuse(e) => ("deny", Some(e.clone())),
            Permission::Deny => ("deny", None),
        }
    }
}

/// What the emulated `auto` policy decides for one call. The real service's judgement is a
/// model's and undocumented; this stand-in is a fixed rule so tests can rely on it: reading
/// and searching are allowed, writing files under the session's mounts is allowed, a `bash`
/// command that only reads (`ls`, `cat`, `find`, `grep`, `head`, `tail`, `wc`, `echo`, `pwd`)
/// is allowed, `rm -r`/`rm -rf` of a root-level path or anything with `sudo` is denied
/// (`high_risk`), any other `rm`/`mv` asks (`high_risk`), and any other command asks
/// (`indeterminate`).
pub fn auto_judgement(name: &str, input: &Value) -> AutoPermission {
    let ask = |code: &str| {
        AutoPermission::Ask(AutoJudgement {
            reason_code: code.into(),
        })
    };
    if name != "bash" {
        return AutoPermission::Allow(Marker {});
    }
    if input.get("restart").and_then(Value::as_bool) == Some(true) {
        return AutoPermission::Allow(Marker {});
    }
    let command = input.get("command").and_then(Value::as_str).unwrap_or("");
    let words: Vec<&str> = command.split_whitespace().collect();
    let recursive = words.iter().any(|w| w.starts_with('-') && w.contains('r'));
    let root_path = words.iter().any(|w| {
        *w == "/" || *w == "/*" || *w == "~" || w.matches('/').count() == 1 && w.starts_with('/')
    });
    match words.first().copied() {
        Some("sudo") => AutoPermission::Deny(AutoJudgement {
            reason_code: "high_risk".into(),
        }),
        Some("rm") if recursive && root_path => AutoPermission::Deny(AutoJudgement {
            reason_code: "high_risk".into(),
        }),
        Some("rm" | "mv" | "rmdir") => ask("high_risk"),
        Some("ls" | "cat" | "find" | "grep" | "head" | "tail" | "wc" | "echo" | "pwd")
            if !command.contains('>') =>
        {
            AutoPermission::Allow(Marker {})
        }
        _ => ask("indeterminate"),
    }
}

/// The permission for calling `name` with `input` under an agent's tools.
pub fn judge(tools: &[Tool], name: &str, input: &Value) -> Permission {
    match permission_for(tools, name) {
        Permission::Allow(ToolEvaluation::Auto(_)) => {
            let judged = auto_judgement(name, input);
            let evaluation = ToolEvaluation::Auto(AutoEvaluation {
                evaluated_permission: judged.clone(),
            });
            match judged {
                AutoPermission::Allow(_) => Permission::Allow(evaluation),
                AutoPermission::Deny(_) => Permission::Refuse(evaluation),
                _ => Permission::Ask(evaluation),
            }
        }
        other => other,
    }
}

/// Whether `name` is enabled for an agent with `tools`, and under which policy (an `auto`
/// policy is reported as allowing; [`judge`] decides each call).
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
        Some(PermissionPolicy::AlwaysAsk(_)) => {
            Permission::Ask(ToolEvaluation::AlwaysAsk(Marker {}))
        }
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
    /// Whether that span is still open (a wait for answers closes it; the runner opens the
    /// turn's first).
    pub span_open: bool,
    /// The span was opened as the turn resumed after a wait and nothing happened in it yet: the
    /// agent's next model request is this one.
    span_fresh: bool,
    /// The session's budget was reached at a model-request boundary: the turn stops there.
    pub budget_reached: bool,
    /// Characters of the turn's input, for the token estimate of a span a wait closes.
    pub input_chars: usize,
    /// The usage a model backend reported for the open span (else the runner estimates it).
    pub usage: Option<ModelUsage>,
    /// Run `bash` in a real shell under bubblewrap (see [`bwrap`]) rather than the emulated one.
    pub real_shell: bool,
    /// The real shell, once a `bash` call started it (the runner keeps it for the next turn).
    pub shell: Option<bwrap::BwrapShell>,
    /// The caps of the real shell.
    pub shell_limits: limits::SandboxLimits,
    /// The session's environment is self-hosted: its worker runs the toolset calls.
    pub self_hosted: bool,
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
            span_open: false,
            span_fresh: false,
            budget_reached: false,
            input_chars: 0,
            usage: None,
            real_shell: false,
            shell: None,
            shell_limits: limits::SandboxLimits::default(),
            self_hosted: false,
        }
    }

    /// Runs one tool (see [`Sandbox::run_tool_unredacted`]); no secret `cma` holds reaches the
    /// model or the session's events through its result.
    fn run_tool(&mut self, name: &str, input: &Value) -> ToolOutput {
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
                match bwrap::BwrapShell::for_fs(&self.fs, self.shell_limits) {
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
