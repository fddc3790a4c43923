//! The [`Tools`] of a turn's context: how the calls of one model response become events, run, and
//! wait for the client's answers (custom tools, confirmations).
//!
//! Event order for one batch, call by call: the `agent.tool_use` / `agent.custom_tool_use` (a
//! call that needs an answer is registered pending in the same write, so the client may answer
//! at once), followed by its `agent.tool_result` when it runs at once. Then, if answers are
//! still missing, the model-request span ends and the session idles `requires_action` with
//! every one of them; the last answer brings `session.status_running`, then the confirmed
//! calls' `agent.tool_result`s, then a new model-request span.

use std::sync::mpsc;

use cma_types::{
    AgentCustomToolUse, AgentMessage, AgentToolResult, AgentToolUse, ContentBlock, Event, Marker,
    SessionEvent, Tool,
};
use serde_json::Value;

use super::context::TurnContext;
use super::lifecycle::{INTERRUPTED, end_span};
use crate::agent::{ModelUsage, ToolCall, ToolOutput, Tools};
use crate::sandbox::files::err;
use crate::sandbox::{Permission, judge};
use crate::store::pending::{Answer, PendingCall, PendingKind};

/// What becomes of one call of a batch.
pub(super) enum Plan {
    /// Already answered (run, refused, or the session is gone).
    Done(ToolOutput),
    /// A toolset call that runs now; its `agent.tool_use` id.
    Run(String),
    /// Waits for the client; the tool-use event id.
    Wait(String),
}

/// How a wait for answers ended.
enum Waited {
    /// Every pending call, answered.
    Answered(Vec<PendingCall>),
    /// The turn ended first (interrupt, archive, deletion, shutdown).
    Ended,
}

impl TurnContext {
    fn is_custom(&self, name: &str) -> bool {
        self.tools
            .iter()
            .any(|t| matches!(t, Tool::Custom(c) if c.name == name))
    }

    /// Appends a tool-use event and, when it waits for an answer, registers it pending in the
    /// same write.
    fn emit_call<T>(
        &mut self,
        variant: impl FnOnce(Box<Event<T>>) -> SessionEvent,
        body: T,
        pending: Option<PendingKind>,
    ) -> Option<String> {
        let sid = self.session_id.clone();
        let id = self
            .db
            .write(|m| {
                let id = m.append_event(&sid, variant, body).map(|e| e.id.clone());
                if let (Some(id), Some(kind)) = (&id, pending) {
                    m.add_pending(&sid, id, kind);
                }
                Ok(id)
            })
            .ok()
            .flatten();
        if id.is_none() {
            self.aborted = true;
        }
        id
    }

    /// Records one call; runs nothing yet.
    fn plan(&mut self, call: &ToolCall) -> Plan {
        self.span_fresh = false;
        self.output_chars += call.name.len() + call.input.to_string().len();
        if self.is_custom(&call.name) {
            let body = AgentCustomToolUse {
                name: call.name.clone(),
                input: call.input.clone(),
                session_thread_id: None,
            };
            let kind = PendingKind::CustomResult;
            return match self.emit_call(SessionEvent::AgentCustomToolUse, body, Some(kind)) {
                Some(id) => Plan::Wait(id),
                None => Plan::Done(err("Error: the session is gone")),
            };
        }
        let permission = judge(&self.tools, &call.name, &call.input);
        let (evaluated, evaluation) = permission.recorded();
        let body = AgentToolUse {
            name: call.name.clone(),
            input: call.input.clone(),
            evaluated_permission: Some(evaluated.to_string()),
            evaluation,
            session_thread_id: None,
        };
        let pending = match permission {
            Permission::Ask(_) => Some(PendingKind::Confirmation),
            // A self-hosted session's worker runs the call and answers with `user.tool_result`.
            Permission::Allow(_) if self.self_hosted => Some(PendingKind::ToolResult),
            _ => None,
        };
        let Some(id) = self.emit_call(SessionEvent::AgentToolUse, body, pending) else {
            return Plan::Done(err("Error: the session is gone"));
        };
        match permission {
            Permission::Allow(_) if self.self_hosted => Plan::Wait(id),
            Permission::Allow(_) => Plan::Run(id),
            Permission::Ask(_) => Plan::Wait(id),
            Permission::Refuse(_) => self.answer(
                &id,
                err(format!(
                    "Permission denied: the `auto` policy refused this `{}` call",
                    call.name
                )),
            ),
            Permission::Deny => self.answer(
                &id,
                err(format!(
                    "Error: the tool `{}` is not enabled for this agent",
                    call.name
                )),
            ),
        }
    }

    /// Emits the `agent.tool_result` of a toolset call.
    fn answer(&mut self, tool_use_id: &str, output: ToolOutput) -> Plan {
        let result = AgentToolResult {
            tool_use_id: tool_use_id.to_string(),
            content: Some(vec![ContentBlock::text(output.text.clone())]),
            is_error: Some(output.is_error),
        };
        self.emit(SessionEvent::AgentToolResult, result);
        Plan::Done(output)
    }

    /// The estimated (or model-reported) usage of the open span, since it opened.
    fn span_usage(&mut self) -> ModelUsage {
        let out = std::mem::take(&mut self.output_chars);
        self.usage.take().unwrap_or(ModelUsage {
            input_tokens: self.input_chars.div_ceil(4) as u64,
            output_tokens: out.div_ceil(4) as u64,
            ..ModelUsage::default()
        })
    }

    /// Blocks until every pending call is answered. Answered already: no idle, the span stays
    /// open. Otherwise the span ends, the session idles `requires_action`, and the last answer
    /// (see [`crate::store::Model::answer_pending`]) wakes this thread.
    fn await_answers(&mut self) -> Waited {
        let (tx, rx) = mpsc::channel();
        let sid = self.session_id.clone();
        let span_id = self.span_id.clone();
        let usage = self.span_open.then(|| self.span_usage());
        let db = self.db.clone();
        let waiting = self.db.write(|m| {
            if !m.sessions.contains_key(&sid) {
                return Ok(None);
            }
            if m.unanswered(&sid).is_empty() {
                return Ok(Some(Some(m.take_pending(&sid))));
            }
            if let Some(usage) = usage {
                end_span(m, &sid, &span_id, usage, false);
            }
            // Checked under the model's lock, which `Db::shut_down` takes after setting the
            // flag: either it drops this sender, or the sender is never stored (and dropped here).
            if let Some(rec) = m.sessions.get_mut(&sid)
                && !db.is_shutting_down()
            {
                rec.rt.wake = Some(tx);
            }
            m.idle_requires_action(&sid);
            Ok(Some(None))
        });
        match waiting {
            Ok(Some(Some(answered))) => return Waited::Answered(answered),
            Ok(Some(None)) => self.span_open = false,
            _ => {
                self.aborted = true;
                return Waited::Ended;
            }
        }
        // An answer sends on the channel; an interrupt, an archive, a deletion or the server's
        // shutdown drops the sender (once their write commits), which ends the wait.
        if rx.recv().is_err() {
            return Waited::Ended;
        }
        let sid = self.session_id.clone();
        match self.db.write(|m| {
            let calls = m.take_pending(&sid);
            Ok(calls)
        }) {
            Ok(calls) => Waited::Answered(calls),
            Err(_) => {
                self.aborted = true;
                Waited::Ended
            }
        }
    }

    /// Registers `ids` (calls the user allowed) as waiting for a self-hosted worker's
    /// `user.tool_result`, and waits for those results.
    fn await_worker(&mut self, ids: &[String]) -> Vec<PendingCall> {
        if self.aborted() {
            return Vec::new();
        }
        let sid = self.session_id.clone();
        let registered = self.db.write(|m| {
            for id in ids {
                m.add_pending(&sid, id, PendingKind::ToolResult);
            }
            Ok(())
        });
        if registered.is_err() {
            self.aborted = true;
            return Vec::new();
        }
        match self.await_answers() {
            Waited::Answered(calls) => calls,
            Waited::Ended => {
                self.aborted = true;
                Vec::new()
            }
        }
    }

    /// The output the agent sees for an answered pending call (running a confirmed one).
    fn resolve(&mut self, call: &ToolCall, id: &str, answer: Option<&Answer>) -> ToolOutput {
        match answer {
            Some(Answer::Result { content, is_error }) => ToolOutput {
                is_error: *is_error,
                text: Answer::result_text(content),
            },
            Some(Answer::Confirmation { allow: true, .. }) => {
                let output = self.run_tool(&call.name, &call.input);
                self.output_chars += output.text.len();
                self.answer(id, output.clone());
                output
            }
            Some(Answer::Confirmation {
                allow: false,
                deny_message,
            }) => {
                let output = err(format!(
                    "Permission denied by the user{}",
                    deny_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ));
                self.answer(id, output.clone());
                output
            }
            None => err(INTERRUPTED),
        }
    }
}

impl Tools for TurnContext {
    fn call(&mut self, name: &str, input: Value) -> ToolOutput {
        self.call_all(vec![ToolCall::new(name, input)])
            .pop()
            .unwrap_or_else(|| err("Error: the turn was interrupted"))
    }

    fn call_all(&mut self, calls: Vec<ToolCall>) -> Vec<ToolOutput> {
        let interrupted = || err("Error: the turn was interrupted");
        if self.aborted() {
            self.aborted = true;
            return calls.iter().map(|_| interrupted()).collect();
        }
        // A resumed turn repeats what it did before the restart (see `super::resume`); the
        // calls that were waiting then were answered since.
        let (plans, mut outputs, answered) = match self.replay_calls(&calls) {
            Some((plans, answered)) => {
                let outputs = plans
                    .iter()
                    .map(|p| match p {
                        Plan::Done(output) => Some(output.clone()),
                        _ => None,
                    })
                    .collect();
                (plans, outputs, Some(answered))
            }
            None => {
                let (plans, outputs) = self.plan_and_run(&calls);
                (plans, outputs, None)
            }
        };
        if plans.iter().any(|p| matches!(p, Plan::Wait(_))) {
            let answered = match answered {
                Some(answered) => answered,
                None => match self.await_answers() {
                    Waited::Answered(calls) => calls,
                    // The runner gives the pending calls their error results as it ends the turn.
                    Waited::Ended => {
                        self.aborted = true;
                        Vec::new()
                    }
                },
            };
            self.settle(&calls, &plans, &mut outputs, answered);
        }
        outputs
            .into_iter()
            .map(|o| o.unwrap_or_else(interrupted))
            .collect()
    }

    fn model_usage(&mut self, usage: ModelUsage) {
        // A replayed model request's usage was counted before the restart.
        if !self.replaying() {
            self.usage = Some(usage);
        }
    }

    fn next_model_request(&mut self) {
        if self.aborted() || self.replaying() {
            return;
        }
        if std::mem::take(&mut self.span_fresh) {
            return;
        }
        self.open_span();
    }

    fn interrupted(&self) -> bool {
        self.aborted()
    }

    fn say(&mut self, text: &str) {
        if self.aborted() || self.replay_say(text) {
            return;
        }
        self.span_fresh = false;
        self.output_chars += text.len();
        let content = vec![ContentBlock::text(text)];
        self.emit(SessionEvent::AgentMessage, AgentMessage { content });
    }
}

impl TurnContext {
    /// Records each call of a batch, running the ones that run at once (each answered right
    /// after its tool use); the calls that need an answer wait together.
    fn plan_and_run(&mut self, calls: &[ToolCall]) -> (Vec<Plan>, Vec<Option<ToolOutput>>) {
        let interrupted = || err("Error: the turn was interrupted");
        let mut plans = Vec::with_capacity(calls.len());
        let mut outputs: Vec<Option<ToolOutput>> = Vec::with_capacity(calls.len());
        for call in calls {
            let plan = self.plan(call);
            outputs.push(match &plan {
                Plan::Done(output) => Some(output.clone()),
                Plan::Run(id) if self.aborted() => {
                    self.answer(id, interrupted());
                    Some(interrupted())
                }
                Plan::Run(id) => {
                    let output = self.run_tool(&call.name, &call.input);
                    self.output_chars += output.text.len();
                    self.answer(id, output.clone());
                    Some(output)
                }
                Plan::Wait(_) => None,
            });
            plans.push(plan);
        }
        (plans, outputs)
    }

    /// Resolves the waiting calls of a batch with their answers. A self-hosted session's worker
    /// runs a call the user allowed: it waits again, for the worker's `user.tool_result`, and is
    /// resolved in the next round. The agent reads the answers in a new model request.
    fn settle(
        &mut self,
        calls: &[ToolCall],
        plans: &[Plan],
        outputs: &mut [Option<ToolOutput>],
        mut answered: Vec<PendingCall>,
    ) {
        loop {
            let mut to_worker = Vec::new();
            for ((call, plan), out) in calls.iter().zip(plans).zip(outputs.iter_mut()) {
                let Plan::Wait(id) = plan else { continue };
                if out.is_some() {
                    continue;
                }
                let answer = answered
                    .iter()
                    .find(|p| p.event_id == *id)
                    .and_then(|p| p.answer.as_ref());
                if self.self_hosted
                    && matches!(answer, Some(Answer::Confirmation { allow: true, .. }))
                {
                    to_worker.push(id.clone());
                } else {
                    *out = Some(self.resolve(call, id, answer));
                }
            }
            if to_worker.is_empty() {
                break;
            }
            answered = self.await_worker(&to_worker);
        }
        if !self.span_open && !self.aborted() {
            self.open_span();
            self.span_fresh = true;
        }
    }
}

impl TurnContext {
    /// Ends the open span (if any) and opens the next.
    fn open_span(&mut self) {
        let sid = self.session_id.clone();
        let span_id = self.span_id.clone();
        let usage = self.span_open.then(|| self.span_usage());
        let opened = self.db.write(|m| {
            if let Some(usage) = usage {
                end_span(m, &sid, &span_id, usage, false);
            }
            if m.budget_reached(&sid) {
                return Ok(Err(()));
            }
            Ok(Ok(m
                .append_event(&sid, SessionEvent::SpanModelRequestStart, Marker {})
                .map(|e| e.id.clone())))
        });
        match opened {
            Ok(Ok(Some(id))) => {
                self.span_id = id;
                self.span_open = true;
            }
            Ok(Err(())) => {
                self.span_open = false;
                self.budget_reached = true;
                self.aborted = true;
            }
            _ => self.aborted = true,
        }
    }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
