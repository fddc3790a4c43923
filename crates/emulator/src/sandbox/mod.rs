//! The agent's sandbox: runs one toolset call (`bash`, `read`, `write`, `edit`, `glob`, `grep`)
//! on a session's mounts and returns its output ([`execute`], or `bash` in the real shell,
//! [`bwrap`]), and decides under which permission a call may run ([`judge`]). It records no
//! events and knows nothing of turns: the turn's context in [`crate::session`] makes each call
//! an `agent.tool_use` / `agent.tool_result` pair and waits for answers.

#[cfg(test)]
mod atomic_tests;
pub mod bash;
pub mod bwrap;
#[cfg(test)]
mod file_mount_tests;
pub mod files;
pub mod fs;
mod launch;
pub mod limits;
#[cfg(test)]
mod limits_tests;
pub mod pool;
mod procs;
mod sync;
#[cfg(test)]
pub(crate) mod tests;

use cma_types::{
    AutoEvaluation, AutoJudgement, AutoPermission, Marker, PermissionPolicy, Tool, ToolEvaluation,
};
use serde_json::Value;

use crate::store::agents::TOOLSET_TOOLS;
use files::{err, ok};
pub use fs::{Fs, FsMount};

/// The result of one tool call, as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub is_error: bool,
    pub text: String,
}

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
