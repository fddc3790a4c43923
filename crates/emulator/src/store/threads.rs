//! Session threads (reference 4.7, 6.3) and the notifications that follow a session's status.
//!
//! The emulator's agents are single-threaded, so every session has exactly one thread: its
//! primary thread (`parent_thread_id` null), which shares the session's status, log and usage.
//! Its id is derived from the session's, so it needs no storage and survives restarts.
//!
//! [`Model::append_stamped`] calls [`Model::before_event`] and [`Model::after_event`] around
//! every event it appends: session status events get their primary-thread twin (the SDK's runner
//! takes the first `session.thread_status_*` event of a log as the primary thread's), and the
//! matching webhook is queued ([`super::outbox`]) to go out once the write is committed.

use cma_types::{
    SessionEvent, SessionStatus, SessionThread, StopReason, ThreadStatus, ThreadStatusIdle,
};

use super::Model;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::ids;

/// The primary thread's id: `sthr_` plus the session id's random part.
pub fn primary_thread_id(session_id: &str) -> String {
    let suffix = session_id.strip_prefix(ids::SESSION).unwrap_or(session_id);
    format!("{}{suffix}", ids::SESSION_THREAD)
}

/// An echoed client event routed to `thread_id`: results and confirmations say which thread got
/// them (reference 6.2); other events are returned unchanged.
pub fn routed(mut event: SessionEvent, thread_id: &str) -> SessionEvent {
    let slot = match &mut event {
        SessionEvent::UserToolConfirmation(e) => &mut e.body.session_thread_id,
        SessionEvent::UserCustomToolResult(e) => &mut e.body.session_thread_id,
        SessionEvent::UserToolResult(e) => &mut e.body.session_thread_id,
        _ => return event,
    };
    if slot.is_none() {
        *slot = Some(thread_id.to_string());
    }
    event
}

impl Model {
    /// The thread `thread_id` of session `session_id`.
    pub fn thread(&self, session_id: &str, thread_id: &str) -> ApiResult<SessionThread> {
        let rec = self.session(session_id)?;
        if thread_id != primary_thread_id(session_id) {
            return Err(ApiError::not_found(format!(
                "thread {thread_id:?} not found in session {session_id:?}"
            )));
        }
        let s = &rec.session;
        let log = rec.rt.log.snapshot();
        let ran = log.iter().any(|e| {
            matches!(
                e.event,
                SessionEvent::SessionThreadStatusRunning(_)
                    | SessionEvent::SessionThreadStatusIdle(_)
                    | SessionEvent::SessionThreadStatusRescheduled(_)
                    | SessionEvent::SessionThreadStatusTerminated(_)
            )
        });
        let idled = log
            .iter()
            .any(|e| matches!(e.event, SessionEvent::SessionThreadStatusIdle(_)));
        let archived_at = rec.thread_archived_at.or(s.archived_at);
        Ok(SessionThread {
            kind: "session_thread".into(),
            id: thread_id.to_string(),
            session_id: s.id.clone(),
            agent: cma_types::SessionAgent {
                // The roster is the session's, not repeated per thread.
                multiagent: None,
                ..s.agent.clone()
            },
            status: s.status.clone(),
            parent_thread_id: None,
            workflow_run_id: None,
            stats: ran.then(|| s.stats.clone()).flatten(),
            usage: idled.then(|| s.usage.clone()).flatten(),
            created_at: s.created_at,
            updated_at: archived_at.map_or(s.updated_at, |a| a.max(s.updated_at)),
            archived_at,
        })
    }

    /// Every thread of a session, oldest first: the primary thread.
    pub fn threads(&self, session_id: &str) -> ApiResult<Vec<SessionThread>> {
        Ok(vec![
            self.thread(session_id, &primary_thread_id(session_id))?,
        ])
    }

    /// `POST …/threads/{id}/archive`. Like a session, a running thread cannot be archived; the
    /// thread keeps its events and the session goes on.
    pub fn archive_thread(
        &mut self,
        session_id: &str,
        thread_id: &str,
    ) -> ApiResult<SessionThread> {
        let thread = self.thread(session_id, thread_id)?;
        if thread.archived_at.is_some() {
            return Ok(thread);
        }
        if thread.status == SessionStatus::Running {
            return Err(ApiError::invalid(format!(
                "thread {thread_id:?} is running; wait for it to go idle before archiving it"
            )));
        }
        if let Some(rec) = self.sessions.get_mut(session_id) {
            rec.thread_archived_at = Some(clock::now());
        }
        self.thread(session_id, thread_id)
    }

    /// The primary thread's `(id, agent name)` for its status events; `None` if the session is gone.
    fn thread_status(&self, sid: &str) -> Option<ThreadStatus> {
        let rec = self.sessions.get(sid)?;
        Some(ThreadStatus {
            session_thread_id: primary_thread_id(sid),
            agent_name: rec.session.agent.name.clone(),
        })
    }

    /// Before `event` is appended to session `sid`'s log: a session that stops stops its
    /// primary thread first, so the session's own status event stays the last of a turn. The
    /// twin takes the event's time, so log order and time order still agree (lists filter on it).
    pub(crate) fn before_event(&mut self, sid: &str, event: &SessionEvent) {
        let at = event.processed_at().unwrap_or_else(clock::now);
        // Most events are not status changes: check that before building anything.
        let twin: fn(Box<cma_types::Event<ThreadStatus>>) -> SessionEvent = match event {
            SessionEvent::SessionStatusIdle(e) => {
                let Some(ThreadStatus {
                    session_thread_id,
                    agent_name,
                }) = self.thread_status(sid)
                else {
                    return;
                };
                let idle = ThreadStatusIdle {
                    session_thread_id,
                    agent_name,
                    stop_reason: e.body.stop_reason.clone(),
                    stop_details: e.body.stop_details.clone(),
                };
                self.append_stamped_at(sid, at, |id, at| {
                    SessionEvent::SessionThreadStatusIdle(Box::new(cma_types::Event::new(
                        id, at, idle,
                    )))
                });
                return;
            }
            SessionEvent::SessionStatusTerminated(_) => SessionEvent::SessionThreadStatusTerminated,
            SessionEvent::SessionStatusRescheduled(_) => {
                SessionEvent::SessionThreadStatusRescheduled
            }
            _ => return,
        };
        if let Some(body) = self.thread_status(sid) {
            self.append_stamped_at(sid, at, |id, at| {
                twin(Box::new(cma_types::Event::new(id, at, body)))
            });
        }
    }

    /// After `event` was appended to session `sid`'s log: a session that starts running starts
    /// its primary thread, and status changes are announced by webhook.
    pub(crate) fn after_event(&mut self, sid: &str, event: &SessionEvent) {
        match event {
            SessionEvent::SessionStatusRunning(_) => {
                if let Some(body) = self.thread_status(sid) {
                    self.append_event(sid, SessionEvent::SessionThreadStatusRunning, body);
                }
                self.webhook("session.status_run_started", sid);
            }
            SessionEvent::SessionStatusIdle(e) => {
                // A session blocked on the client says so; any other idle is a finished run.
                let kind = match e.body.stop_reason {
                    StopReason::RequiresAction(_) => "session.requires_action",
                    _ => "session.status_idled",
                };
                self.webhook(kind, sid);
            }
            SessionEvent::SessionStatusRescheduled(_) => {
                self.webhook("session.status_rescheduled", sid)
            }
            SessionEvent::SessionStatusTerminated(_) => {
                self.webhook("session.status_terminated", sid)
            }
            SessionEvent::SessionUpdated(_) => self.webhook("session.updated", sid),
            SessionEvent::SessionDeleted(_) => self.webhook("session.deleted", sid),
            _ => {}
        }
    }
}
