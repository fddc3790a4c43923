//! The calls a turn cannot go on without: custom tool calls (answered by
//! `user.custom_tool_result`), calls awaiting a `user.tool_confirmation`, and toolset calls a
//! self-hosted worker runs (answered by `user.tool_result`). Each is registered in the same
//! write that emits its tool-use event, so an answer may arrive before the turn idles. While
//! the runner waits the session idles with `requires_action{event_ids}` listing every
//! unanswered call; a partial answer re-emits that idle with the rest, and the last one returns
//! the session to `running` and wakes the runner.

use cma_types::{ContentBlock, Marker, RequiresAction, SessionEvent, SessionStatus, StopReason};
use serde::{Deserialize, Serialize};

use super::{Effect, Model, StoredEvent};
use crate::clock;

/// What answers a pending call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// An `agent.custom_tool_use`, answered by `user.custom_tool_result`.
    CustomResult,
    /// An `agent.tool_use` under `ask`, answered by `user.tool_confirmation`.
    Confirmation,
    /// An `agent.tool_use` a self-hosted worker runs, answered by `user.tool_result`.
    ToolResult,
}

impl PendingKind {
    /// The client event that answers this kind, for error messages.
    pub fn answered_by(self) -> &'static str {
        match self {
            PendingKind::CustomResult => "user.custom_tool_result",
            PendingKind::Confirmation => "user.tool_confirmation",
            PendingKind::ToolResult => "user.tool_result",
        }
    }
}

/// A client's answer to a pending call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Answer {
    /// A tool's result (custom, or run by a self-hosted worker).
    Result {
        content: Vec<ContentBlock>,
        is_error: bool,
    },
    Confirmation {
        allow: bool,
        deny_message: Option<String>,
    },
}

impl Answer {
    /// The text of a result's content blocks (other blocks are described, not dropped).
    pub fn result_text(content: &[ContentBlock]) -> String {
        content
            .iter()
            .map(|b| match b.as_text() {
                Some(t) => t.to_string(),
                None => format!("[{} block]", b.type_name()),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCall {
    /// The id of the `agent.tool_use` / `agent.custom_tool_use` event.
    pub event_id: String,
    pub kind: PendingKind,
    #[serde(default)]
    pub answer: Option<Answer>,
}

impl Model {
    /// Registers `event_id` as a call the current turn waits on.
    pub(crate) fn add_pending(&mut self, sid: &str, event_id: &str, kind: PendingKind) {
        if let Some(rec) = self.sessions.get_mut(sid) {
            rec.pending.push(PendingCall {
                event_id: event_id.to_string(),
                kind,
                answer: None,
            });
        }
    }

    /// The unanswered pending calls of `sid`, in the order they were made.
    pub(crate) fn unanswered(&self, sid: &str) -> Vec<String> {
        self.sessions.get(sid).map_or_else(Vec::new, |rec| {
            rec.pending
                .iter()
                .filter(|p| p.answer.is_none())
                .map(|p| p.event_id.clone())
                .collect()
        })
    }

    /// Idles with `requires_action` naming the unanswered calls.
    pub(crate) fn idle_requires_action(&mut self, sid: &str) {
        let event_ids = self.unanswered(sid);
        self.go_idle(
            sid,
            StopReason::RequiresAction(RequiresAction { event_ids }),
        );
    }

    /// Records a validated answer; [`Self::settle_answers`] acts on a request's answers.
    pub(crate) fn answer_pending(&mut self, sid: &str, event_id: &str, answer: Answer) {
        if let Some(rec) = self.sessions.get_mut(sid)
            && let Some(p) = rec.pending.iter_mut().find(|p| p.event_id == event_id)
        {
            p.answer = Some(answer);
        }
    }

    /// After a request's answers: when the runner is already waiting, the last answer returns
    /// the session to `running` and wakes it; otherwise the idle is re-emitted with the rest.
    /// (A runner not yet waiting finds its answers when it gets there.)
    pub(crate) fn settle_answers(&mut self, sid: &str) {
        let Some(rec) = self.sessions.get_mut(sid) else {
            return;
        };
        if rec.rt.wake.is_none() {
            return;
        }
        if rec.pending.iter().any(|p| p.answer.is_none()) {
            self.idle_requires_action(sid);
            return;
        }
        if let Some(tx) = rec.rt.wake.take() {
            rec.session.status = SessionStatus::Running;
            rec.session.updated_at = clock::now();
            self.after_commit(Effect::Wake(tx));
            self.append_event(sid, SessionEvent::SessionStatusRunning, Marker {});
        }
    }

    /// Stamps a queued event's `processed_at` (null while it waited behind a running turn) as
    /// it is taken up.
    pub(crate) fn mark_processed(&mut self, sid: &str, event_id: &str) {
        let Some(rec) = self.sessions.get(sid) else {
            return;
        };
        let log = rec.rt.log.clone();
        let Some((index, old)) = log.find(event_id) else {
            return;
        };
        if !old
            .json
            .get("processed_at")
            .is_some_and(serde_json::Value::is_null)
        {
            return;
        }
        let now = clock::now();
        let mut json = old.json.clone();
        json["processed_at"] = serde_json::to_value(now).unwrap_or(serde_json::Value::Null);
        self.changes.push(crate::persist::Change::Event {
            session_id: sid.to_string(),
            seq: index as u64,
            json: json.to_string(),
        });
        let event = StoredEvent {
            id: old.id.clone(),
            kind: old.kind.clone(),
            processed_at: now,
            json,
        };
        self.after_commit(Effect::Replace(log, index, std::sync::Arc::new(event)));
    }

    /// Takes every pending call with its answer (the runner, once all are answered or the turn
    /// ends).
    pub(crate) fn take_pending(&mut self, sid: &str) -> Vec<PendingCall> {
        self.sessions
            .get_mut(sid)
            .map(|rec| std::mem::take(&mut rec.pending))
            .unwrap_or_default()
    }
}
