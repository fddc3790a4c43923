//! The steps that end a turn or a run of turns, each one write: close a model-request span
//! ([`end_span`]), go idle ([`finish`], [`end_interrupted`]), fail ([`fail`]), give the calls
//! nobody will answer an error result ([`answer_unanswered`]), and stop a runner whose writes
//! cannot be stored ([`give_up`], [`stall`]). Every place a turn goes idle is in this file.

use cma_types::{
    AgentToolResult, ContentBlock, Marker, ModelRequestEnd, RetryStatus, SessionError,
    SessionErrorDetail, SessionEvent, StopReason,
};
use std::sync::atomic::Ordering;

use crate::agent::ModelUsage;
use crate::store::pending::PendingKind;
use crate::store::{Db, Model};

/// Said for a call the turn ended before it was answered (an interrupt, an archive).
pub const INTERRUPTED: &str = "Error: the turn was interrupted before this tool call was answered";

/// A write of this runner could not be stored, so none of it happened and the session is as
/// last stored: `running`, its message still queued. The runner stops. If an interrupt already
/// asked the turn to end, it ends here when that can be stored; otherwise the session is left
/// stalled, as a restart would leave it, and the next `user.interrupt` ends the turn. Checked
/// and done in one write, so an interrupt lands either before (and is honoured here) or after
/// (and finds the session stalled).
pub(super) fn give_up(db: &Db, sid: &str) {
    tracing::error!(session_id = %sid, "a turn's write could not be stored; the turn stops");
    let settled = db.write(|m| {
        let Some(rec) = m.sessions.get_mut(sid) else {
            return Ok(());
        };
        if rec.rt.interrupted.load(Ordering::SeqCst) {
            finish(m, sid, StopReason::EndTurn(Marker {}));
        } else {
            rec.rt.runner_active = false;
            rec.stalled = true;
        }
        Ok(())
    });
    if settled.is_err() {
        stall(db, sid);
    }
}

/// Leaves the session stalled with no runner. Only runtime state changes (a restart sets
/// `stalled` on a running session the same way), unjournaled, so this write has nothing to
/// commit and cannot fail (but for a shutdown, which makes the process's state moot).
pub(super) fn stall(db: &Db, sid: &str) {
    let _ = db.write(|m| {
        if let Some(rec) = m.sessions.get_mut_unjournaled(sid) {
            rec.rt.runner_active = false;
            rec.stalled = true;
        }
        Ok(())
    });
}

/// Ends the current run: idle with `stop_reason`, queue flushed, no runner.
pub(super) fn finish(m: &mut Model, sid: &str, stop_reason: StopReason) {
    let Some(rec) = m.sessions.get_mut(sid) else {
        return;
    };
    rec.rt.runner_active = false;
    rec.queue.clear();
    m.go_idle(sid, stop_reason);
}

/// Closes the model-request span `span_id` with `usage`, and adds it to the session's usage.
pub(super) fn end_span(m: &mut Model, sid: &str, span_id: &str, usage: ModelUsage, is_error: bool) {
    let end = ModelRequestEnd {
        model_request_start_id: span_id.to_string(),
        is_error: is_error.then_some(true),
        model_usage: usage.clone(),
    };
    if m.append_event(sid, SessionEvent::SpanModelRequestEnd, end)
        .is_none()
    {
        return;
    }
    m.add_usage(sid, &usage);
}

/// Every outcome still being worked on ends with `result` (the turn that would serve it ended).
pub(super) fn end_outcomes(m: &mut Model, sid: &str, result: &str, why: &str) {
    m.end_outcomes(sid, result, why);
}

/// The failure of a turn: `session.error`, then idle with `retries_exhausted`.
pub(super) fn fail(m: &mut Model, sid: &str, message: &str) {
    end_outcomes(m, sid, "failed", message);
    let error = SessionErrorDetail {
        kind: "unknown_error".into(),
        message: message.into(),
        retry_status: Some(RetryStatus::Exhausted(Marker {})),
        extra: Default::default(),
    };
    m.append_event(sid, SessionEvent::SessionError, SessionError { error });
    finish(m, sid, StopReason::RetriesExhausted(Marker {}));
}

/// The pending calls an ended turn leaves get error results: an `agent.tool_result` for each
/// toolset call (a custom call's result is the client's to send; the model's transcript gets
/// the error, see [`crate::agent::model::history`]).
pub(super) fn answer_unanswered(m: &mut Model, sid: &str) {
    for call in m.take_pending(sid) {
        if call.kind == PendingKind::CustomResult {
            continue;
        }
        let result = AgentToolResult {
            tool_use_id: call.event_id,
            content: Some(vec![ContentBlock::text(INTERRUPTED)]),
            is_error: Some(true),
        };
        m.append_event(sid, SessionEvent::AgentToolResult, result);
    }
}

/// An interrupted turn idles `end_turn`. Messages sent after the interrupt (it dropped the
/// ones before) start the next turn: returns whether the runner goes on.
pub(super) fn end_interrupted(m: &mut Model, sid: &str) -> bool {
    m.go_idle(sid, StopReason::EndTurn(Marker {}));
    let Some(rec) = m.sessions.get_mut(sid) else {
        return false;
    };
    if rec.queue.is_empty() {
        rec.rt.runner_active = false;
        return false;
    }
    let flag = rec.rt.interrupted.clone();
    rec.session.status = cma_types::SessionStatus::Running;
    m.after_commit(crate::store::Effect::SetFlag(flag, false));
    m.append_event(sid, SessionEvent::SessionStatusRunning, Marker {});
    true
}
