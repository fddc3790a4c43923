//! The calls a turn cannot go on without: custom tool calls (answered by
//! `user.custom_tool_result`), calls awaiting a `user.tool_confirmation`, and toolset calls a
//! self-hosted worker runs (answered by `user.tool_result`). Each is registered in the same
//! write that emits its tool-use event, so an answer may arrive before the turn idles. While
//! the runner waits the session idles with `requires_action{event_ids}` listing every
//! unanswered call; a partial answer re-emits that idle with the rest, and the last one returns
//! the session to `running` and wakes the runner.
//!
//! Pending calls are stored with the session, and so is the turn they belong to
//! ([`TurnStart`]), so a restart keeps them: the session stays idle `requires_action`, and
//! answers are accepted as before. With no runner to wake, the last answer (or an interrupt)
//! starts one that resumes the turn (see `crate::session::resume`).

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

/// A `user.message` waiting for its turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub event_id: String,
    pub text: String,
    /// The outcome this turn works toward (its grader runs when the turn ends).
    #[serde(default)]
    pub outcome: Option<String>,
}

/// The turn a session's runner is on: the queued message it serves and where its events begin
/// in the log. Stored with the session, so a turn paused for answers can resume after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnStart {
    pub queued: Queued,
    /// The index in the session's log of the turn's first event.
    pub first_event: usize,
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
    /// (A runner not yet waiting finds its answers when it gets there.) With no runner at all
    /// (a restart took it), the last answer starts one that resumes the turn.
    pub(crate) fn settle_answers(&mut self, sid: &str) {
        let Some(rec) = self.sessions.get_mut(sid) else {
            return;
        };
        // Nobody waits and no runner will: a restart took the runner.
        let orphaned = rec.rt.cut_by_restart && !rec.rt.runner_active;
        if rec.rt.wake.is_none() && !orphaned {
            return;
        }
        if rec.pending.iter().any(|p| p.answer.is_none()) {
            self.idle_requires_action(sid);
            return;
        }
        if orphaned {
            // A new runner resumes the turn.
            self.resume_turn(sid, false);
            return;
        }
        if let Some(tx) = rec.rt.wake.take() {
            rec.session.status = SessionStatus::Running;
            rec.session.updated_at = clock::now();
            self.after_commit(Effect::Wake(tx));
            self.append_event(sid, SessionEvent::SessionStatusRunning, Marker {});
        }
    }

    /// Starts a runner on a turn whose runner is gone (a restart) but whose pending calls are
    /// kept: to go on with the answers, or, `interrupted`, to end the turn as a live runner
    /// would (error results for the unanswered calls, outcomes ended, idle `end_turn`).
    pub(crate) fn resume_turn(&mut self, sid: &str, interrupted: bool) {
        let Some(rec) = self.sessions.get_mut(sid) else {
            return;
        };
        rec.rt.runner_active = true;
        rec.rt.cut_by_restart = false;
        rec.stalled = false;
        let flag = rec.rt.interrupted.clone();
        if !interrupted {
            rec.session.status = SessionStatus::Running;
            rec.session.updated_at = clock::now();
        }
        self.after_commit(Effect::SetFlag(flag, interrupted));
        if !interrupted {
            self.append_event(sid, SessionEvent::SessionStatusRunning, Marker {});
        }
        self.after_commit(Effect::StartTurn(sid.to_string()));
    }

    /// Stamps a queued message's `processed_at` (null while it waited behind a running turn) as
    /// it is taken up: on the typed event, re-serialized into a new stored event.
    pub(crate) fn mark_processed(&mut self, sid: &str, event_id: &str) {
        let Some(rec) = self.sessions.get(sid) else {
            return;
        };
        let log = rec.rt.log.clone();
        let Some((index, old)) = log.find(event_id) else {
            return;
        };
        let mut event = old.event.clone();
        let SessionEvent::UserMessage(message) = &mut event else {
            return;
        };
        if message.processed_at.is_some() {
            return;
        }
        let now = clock::now();
        message.processed_at = Some(now);
        let event = match StoredEvent::new(event, now) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(session_id = sid, error = %e, "event does not serialize");
                return;
            }
        };
        self.changes.push(crate::persist::Change::Event {
            session_id: sid.to_string(),
            seq: index as u64,
            json: event.json.to_string(),
        });
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
