//! What clients send to a session (`POST /v1/sessions/{id}/events`, reference 6.2): each batch is
//! validated whole, then every event is echoed and acted on in order. Answers to pending calls
//! go through [`super::pending`].

use cma_types::{
    ClientEvent, ContentBlock, Marker, ModelRequestEnd, ModelUsage, SessionEvent, SessionStatus,
    StopReason,
};
use serde_json::Value;

use super::pending::{Answer, PendingCall, PendingKind, Queued};
use super::{Effect, Model};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::ids;

fn text_of(blocks: &[ContentBlock]) -> String {
    blocks
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_content_blocks(field: &str, blocks: &[ContentBlock], text_only: bool) -> ApiResult<()> {
    if blocks.is_empty() {
        return Err(ApiError::invalid(format!(
            "{field}: must contain at least one content block"
        )));
    }
    for (i, b) in blocks.iter().enumerate() {
        match b {
            ContentBlock::Text(t) if t.text.is_empty() => {
                return Err(ApiError::invalid(format!(
                    "{field}[{i}].text: text content blocks must be non-empty"
                )));
            }
            ContentBlock::Text(_) => {}
            ContentBlock::Image(_) | ContentBlock::Document(_) | ContentBlock::Redacted(_)
                if !text_only => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "{field}[{i}].type: block type {:?} is not allowed here",
                    other.type_name()
                )));
            }
        }
    }
    Ok(())
}

/// A tool result's blocks: `text`, `image`, `document` or `search_result` (reference 6.2).
fn check_result_blocks(field: &str, blocks: &[ContentBlock]) -> ApiResult<()> {
    for (i, b) in blocks.iter().enumerate() {
        if let ContentBlock::Text(t) = b
            && t.text.is_empty()
        {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].text: text content blocks must be non-empty"
            )));
        }
        if !matches!(
            b.type_name(),
            "text" | "image" | "document" | "search_result"
        ) {
            return Err(ApiError::invalid(format!(
                "{field}[{i}].type: block type {:?} is not allowed in a tool result",
                b.type_name()
            )));
        }
    }
    Ok(())
}

impl Model {
    /// `POST /events`: validates every event first, then echoes and acts on each in order.
    /// Returns the echoes and whether a runner must start.
    pub fn send_events(
        &mut self,
        id: &str,
        events: Vec<ClientEvent>,
    ) -> ApiResult<(Vec<SessionEvent>, bool)> {
        let rec = self.session(id)?;
        if rec.session.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "session {id:?} is archived and cannot receive events"
            )));
        }
        if events.is_empty() {
            return Err(ApiError::invalid("events: must contain at least one event"));
        }
        let self_hosted = matches!(
            self.environments
                .get(&rec.session.environment_id)
                .and_then(|e| e.env.config.as_ref()),
            Some(cma_types::EnvironmentConfig::SelfHosted(_))
        );
        let outcome_active = rec
            .session
            .outcome_evaluations
            .iter()
            .any(|o| o.is_active());
        validate_events("events", &events, &rec.pending, self_hosted, outcome_active)?;
        let result = self.accept_events(id, events)?;
        if result.1 {
            // A dormant self-hosted session (its worker stopped) needs a worker again.
            self.queue_session_work(id);
        }
        Ok(result)
    }

    /// Echoes already-validated events and applies them.
    pub(crate) fn accept_events(
        &mut self,
        id: &str,
        events: Vec<ClientEvent>,
    ) -> ApiResult<(Vec<SessionEvent>, bool)> {
        let mut echoes = Vec::new();
        let mut start = false;
        let mut answered = false;
        let thread = super::threads::primary_thread_id(id);
        for mut event in events {
            if let ClientEvent::UserDefineOutcome(o) = &mut event {
                o.outcome_id = Some(ids::new_id(ids::OUTCOME));
            }
            // A message that waits behind a running turn is not processed yet.
            let queued = matches!(event, ClientEvent::UserMessage(_))
                && self
                    .sessions
                    .get(id)
                    .is_some_and(|r| r.rt.runner_active || r.stalled || !r.pending.is_empty());
            let mut echo = None;
            let stored = self
                .append_stamped(id, |event_id, at| {
                    let mut stamped = super::threads::routed(
                        event.clone().into_session_event(event_id, at),
                        &thread,
                    );
                    if queued && let SessionEvent::UserMessage(m) = &mut stamped {
                        m.processed_at = None;
                    }
                    echo = Some(stamped.clone());
                    stamped
                })
                .ok_or_else(|| ApiError::not_found(format!("session {id:?} not found")))?;
            echoes.extend(echo);
            match event {
                ClientEvent::UserMessage(m) => {
                    let Some(rec) = self.sessions.get_mut(id) else {
                        continue;
                    };
                    rec.queue.push_back(Queued {
                        event_id: stored.id.clone(),
                        text: text_of(&m.content),
                        outcome: None,
                    });
                    start |= self.start_runner(id);
                }
                ClientEvent::UserDefineOutcome(o) => {
                    self.define_outcome(id, &stored.id, &o);
                    start |= self.start_runner(id);
                }
                ClientEvent::UserInterrupt(_) => self.interrupt(id),
                ClientEvent::UserToolConfirmation(c) => {
                    let answer = Answer::Confirmation {
                        allow: c.result == "allow",
                        deny_message: c.deny_message,
                    };
                    self.answer_pending(id, &c.tool_use_id, answer);
                    answered = true;
                }
                ClientEvent::UserCustomToolResult(r) => {
                    let answer = Answer::Result {
                        content: r.content.unwrap_or_default(),
                        is_error: r.is_error.unwrap_or(false),
                    };
                    self.answer_pending(id, &r.custom_tool_use_id, answer);
                    answered = true;
                }
                ClientEvent::UserToolResult(r) => {
                    let answer = Answer::Result {
                        content: r.content.unwrap_or_default(),
                        is_error: r.is_error.unwrap_or(false),
                    };
                    self.answer_pending(id, &r.tool_use_id, answer);
                    answered = true;
                }
                _ => {}
            }
        }
        if answered {
            self.settle_answers(id);
        }
        Ok((echoes, start))
    }

    /// Marks the session running when its queue has work and no runner is on it, and has the
    /// commit start its runner; returns whether it did.
    fn start_runner(&mut self, id: &str) -> bool {
        let Some(rec) = self.sessions.get_mut(id) else {
            return false;
        };
        if rec.rt.runner_active || rec.stalled || !rec.pending.is_empty() {
            return false;
        }
        rec.rt.runner_active = true;
        let flag = rec.rt.interrupted.clone();
        rec.session.status = SessionStatus::Running;
        rec.session.updated_at = clock::now();
        self.after_commit(Effect::SetFlag(flag, false));
        self.append_event(id, SessionEvent::SessionStatusRunning, Marker {});
        self.after_commit(Effect::StartTurn(id.to_string()));
        true
    }

    /// `user.interrupt` jumps the queue: queued messages are dropped and the running turn ends.
    /// A runner (working or waiting on answers) ends it itself: its pending calls get error
    /// results, its span is closed, and it idles `end_turn`; so does a runner started for a turn
    /// whose pending calls outlived its runner. With no runner (a stalled turn) it ends here. With nothing running it only clears the queue (the echo is all there is).
    fn interrupt(&mut self, id: &str) {
        let Some(rec) = self.sessions.get_mut(id) else {
            return;
        };
        rec.queue.clear();
        if rec.rt.cut_by_restart && !rec.pending.is_empty() && rec.turn.is_some() {
            // A turn whose pending calls outlived its runner (a restart): a new runner ends it
            // the way a live one would.
            self.resume_turn(id, true);
            return;
        }
        if !rec.rt.runner_active && !rec.stalled {
            return;
        }
        let flag = rec.rt.interrupted.clone();
        // Dropping the waiting runner's wake sender wakes it.
        rec.rt.wake = None;
        if !rec.rt.runner_active {
            // A stalled turn (`emulator:stall`, or one a restart cut while it ran) ends here,
            // its outcome interrupted; a cut one's model request is closed as failed.
            rec.stalled = false;
            rec.pending.clear();
            if std::mem::take(&mut rec.rt.cut_by_restart) {
                self.close_cut_span(id);
            }
            self.end_outcomes(id, "interrupted", "the turn was interrupted");
            self.go_idle(id, StopReason::EndTurn(Marker {}));
        }
        self.after_commit(Effect::SetFlag(flag, true));
    }
}

impl Model {
    /// Closes the last model-request span of a turn that has no runner, if it is open: the
    /// request was cut (by a restart), so it ends as an error with no usage.
    fn close_cut_span(&mut self, id: &str) {
        let Some(rec) = self.sessions.get(id) else {
            return;
        };
        let open = rec
            .rt
            .log
            .snapshot()
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                SessionEvent::SpanModelRequestEnd(_) => Some(None),
                SessionEvent::SpanModelRequestStart(_) => Some(Some(e.id.clone())),
                _ => None,
            });
        if let Some(Some(start)) = open {
            let end = ModelRequestEnd {
                model_request_start_id: start,
                is_error: Some(true),
                model_usage: ModelUsage::default(),
            };
            self.append_event(id, SessionEvent::SpanModelRequestEnd, end);
        }
    }
}

/// Checks that `id` names an unanswered pending call of `kind` (and is not answered twice in
/// one batch); the error names the id.
fn check_pending(
    f: &str,
    field: &str,
    id: &str,
    kind: PendingKind,
    pending: &[PendingCall],
    answered: &mut Vec<String>,
) -> ApiResult<()> {
    let call = pending.iter().find(|p| p.event_id == id);
    let what = match kind {
        PendingKind::CustomResult => "no custom tool use",
        PendingKind::Confirmation => "no tool use",
        PendingKind::ToolResult => "no tool use",
    };
    let waits_for = match kind {
        PendingKind::Confirmation => "confirmation",
        _ => "a result",
    };
    match call {
        Some(p) if p.kind != kind => Err(ApiError::invalid(format!(
            "{f}.{field}: {id:?} is not waiting for {} (it waits for a `{}`)",
            kind.answered_by(),
            p.kind.answered_by()
        ))),
        Some(p) if p.answer.is_some() || answered.iter().any(|a| a == id) => Err(
            ApiError::invalid(format!("{f}.{field}: {id:?} is already answered")),
        ),
        Some(_) => {
            answered.push(id.to_string());
            Ok(())
        }
        None => Err(ApiError::invalid(format!(
            "{f}.{field}: {what} {id:?} is waiting for {waits_for}"
        ))),
    }
}

/// Checks a batch of client events before any is applied.
pub fn validate_events(
    field: &str,
    events: &[ClientEvent],
    pending: &[PendingCall],
    self_hosted: bool,
    mut outcome_active: bool,
) -> ApiResult<()> {
    let last = events.len().saturating_sub(1);
    let mut answered = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match e {
            ClientEvent::UserMessage(m) => {
                check_content_blocks(&format!("{f}.content"), &m.content, false)?
            }
            ClientEvent::UserInterrupt(_) => {}
            ClientEvent::UserToolConfirmation(c) => {
                if !matches!(c.result.as_str(), "allow" | "deny") {
                    return Err(ApiError::invalid(format!(
                        "{f}.result: must be `allow` or `deny`"
                    )));
                }
                if c.deny_message.is_some() && c.result != "deny" {
                    return Err(ApiError::invalid(format!(
                        "{f}.deny_message: only allowed with `deny`"
                    )));
                }
                check_pending(
                    &f,
                    "tool_use_id",
                    &c.tool_use_id,
                    PendingKind::Confirmation,
                    pending,
                    &mut answered,
                )?;
            }
            ClientEvent::UserCustomToolResult(c) => {
                if let Some(content) = &c.content {
                    check_result_blocks(&format!("{f}.content"), content)?;
                }
                check_pending(
                    &f,
                    "custom_tool_use_id",
                    &c.custom_tool_use_id,
                    PendingKind::CustomResult,
                    pending,
                    &mut answered,
                )?;
            }
            ClientEvent::UserToolResult(r) => {
                if !self_hosted {
                    return Err(ApiError::invalid(format!(
                        "{f}.type: `user.tool_result` is only accepted in self_hosted environments"
                    )));
                }
                check_pending(
                    &f,
                    "tool_use_id",
                    &r.tool_use_id,
                    PendingKind::ToolResult,
                    pending,
                    &mut answered,
                )?;
            }
            ClientEvent::UserDefineOutcome(o) => {
                if outcome_active {
                    return Err(ApiError::invalid(format!(
                        "{f}: an outcome is already being worked on; wait for its final evaluation (or interrupt it) before defining another"
                    )));
                }
                outcome_active = true;
                if o.description.trim().is_empty() {
                    return Err(ApiError::invalid(format!(
                        "{f}.description: must not be empty"
                    )));
                }
                let ok = match o.rubric.get("type").and_then(Value::as_str) {
                    Some("text") => o
                        .rubric
                        .get("content")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    Some("file") => o
                        .rubric
                        .get("file_id")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::invalid(format!(
                        "{f}.rubric: must be {{\"type\":\"text\",\"content\"}} or {{\"type\":\"file\",\"file_id\"}}"
                    )));
                }
                if let Some(n) = o.max_iterations
                    && !(1..=20).contains(&n)
                {
                    return Err(ApiError::invalid(format!(
                        "{f}.max_iterations: must be between 1 and 20"
                    )));
                }
            }
            ClientEvent::SystemMessage(m) => {
                check_content_blocks(&format!("{f}.content"), &m.content, true)?;
                if i != last {
                    return Err(ApiError::invalid(format!(
                        "{f}: a `system.message` must be the last event of the request"
                    )));
                }
                let prev = i.checked_sub(1).and_then(|p| events.get(p));
                if !matches!(
                    prev,
                    Some(
                        ClientEvent::UserMessage(_)
                            | ClientEvent::UserToolResult(_)
                            | ClientEvent::UserCustomToolResult(_)
                    )
                ) {
                    return Err(ApiError::invalid(format!(
                        "{f}: a `system.message` must directly follow a `user.message`, `user.tool_result` or `user.custom_tool_result`"
                    )));
                }
            }
            other => {
                let t = other.type_name();
                return Err(ApiError::invalid(format!(
                    "{f}.type: unknown event type {t:?}"
                )));
            }
        }
    }
    Ok(())
}
