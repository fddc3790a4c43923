//! What a run observed: each turn's reply, tool uses, events and timings, and each store's
//! memories and versions at the moment a check looked. Checks are pure functions of these, and
//! `run.json` stores them.

use cma_client::turn::{ToolUse, TurnTimings};
use cma_client::types::{Access, Actor, MemoryVersion, SessionEvent};
use serde::{Deserialize, Serialize};

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TurnStatus {
    /// The session went idle (with any stop reason).
    Idle,
    /// Timed out, the session ended, a call failed, or the turn was never sent; `reason` says which.
    Incomplete { reason: String },
}

/// One user message and everything it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// 1-based.
    pub visit: usize,
    /// 1-based within the visit.
    pub turn: usize,
    pub user: String,
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub status: TurnStatus,
    pub reply: String,
    /// `end_turn`, `requires_action`, … (the idle event's `stop_reason.type`).
    pub stop_reason: Option<String>,
    pub tool_uses: Vec<ToolUse>,
    pub events: Vec<SessionEvent>,
    pub timings: Option<TurnTimings>,
}

impl TurnRecord {
    pub fn finished(&self) -> bool {
        self.status == TurnStatus::Idle
    }

    /// Why the turn did not finish, if it did not.
    pub fn problem(&self) -> Option<&str> {
        match &self.status {
            TurnStatus::Idle => None,
            TurnStatus::Incomplete { reason } => Some(reason),
        }
    }

    /// Why the turn ended abnormally although it went idle: the model refused (`refusal`) or
    /// the turn failed (`retries_exhausted`, with the session's error, e.g. "the model stopped
    /// at max_tokens (4,096 output tokens)").
    pub fn abnormal_end(&self) -> Option<String> {
        match self.stop_reason.as_deref()? {
            "refusal" => Some("ended with the model's refusal (stop reason `refusal`)".into()),
            "retries_exhausted" => {
                let errors: Vec<&str> = self
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        SessionEvent::SessionError(e) => Some(e.body.error.message.as_str()),
                        _ => None,
                    })
                    .collect();
                Some(match errors.is_empty() {
                    true => "ended with `retries_exhausted`".into(),
                    false => format!("ended with a session error: {}", errors.join("; ")),
                })
            }
            _ => None,
        }
    }

    /// A turn that was never sent.
    pub fn not_run(visit: usize, turn: usize, user: &str, reason: impl Into<String>) -> Self {
        TurnRecord {
            visit,
            turn,
            user: user.to_string(),
            session_id: None,
            status: TurnStatus::Incomplete {
                reason: reason.into(),
            },
            reply: String::new(),
            stop_reason: None,
            tool_uses: Vec::new(),
            events: Vec::new(),
            timings: None,
        }
    }
}

/// One memory's current path and content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryFile {
    pub path: String,
    pub content: String,
}

/// A store's memories and versions, read through the API at one moment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StoreSnapshot {
    pub memories: Vec<MemoryFile>,
    /// Oldest first.
    pub versions: Vec<MemoryVersion>,
}

impl StoreSnapshot {
    /// Versions written by an agent through a session (any session when `sessions` is `None`).
    pub fn versions_by_sessions<'a>(
        &'a self,
        sessions: Option<&'a [String]>,
    ) -> impl Iterator<Item = &'a MemoryVersion> + 'a {
        self.versions.iter().filter(move |v| match &v.created_by {
            Some(Actor::Session(a)) => sessions.is_none_or(|s| s.contains(&a.session_id)),
            _ => false,
        })
    }
}

/// A store a customer's sessions attach, as created for the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreState {
    /// The scenario's `key` for it.
    pub key: String,
    pub store_id: String,
    /// As the scenario names it (customers' stores share it; the run, scenario and customer are
    /// in the store's metadata).
    pub name: String,
    /// Unique within the run (`<scenario>-<owner>-<name>`, slugged): names its history file.
    /// Empty in run.json files written when store names were unique themselves.
    #[serde(default)]
    pub label: String,
    pub access: Access,
    pub shared: bool,
    /// Where the sessions mount it (`/mnt/memory/<slug>`), as the created session's
    /// `resources[].mount_path` reports it; empty until a session has been created. Never
    /// derived from the name here: the server decides it (and makes it unique per session).
    pub mount_path: String,
    /// Read when a check needed it; the last read.
    pub snapshot: Option<StoreSnapshot>,
}

/// Lowercase ASCII letters and digits, other runs collapsed to `-`, no leading or trailing `-`.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

impl StoreState {
    /// The run-unique name of its history file (`history/<stem>.diff`).
    pub fn file_stem(&self) -> String {
        if self.label.is_empty() {
            slug(&self.name)
        } else {
            self.label.clone()
        }
    }

    /// The mount path a session reported, if a session has mounted the store yet.
    pub fn mount(&self) -> Option<&str> {
        Some(self.mount_path.as_str()).filter(|m| !m.is_empty())
    }
}

/// Whether `path` is the mount itself or under it.
pub(crate) fn under_mount(path: &str, mount: &str) -> bool {
    let mount = mount.trim_end_matches('/');
    path == mount
        || path
            .strip_prefix(mount)
            .is_some_and(|rest| rest.starts_with('/'))
}
