//! What a resumed turn did before the restart (see [`super::resume`]), read from its events, and
//! matched against what the agent does as it runs the turn again.

use std::collections::VecDeque;
use std::sync::Arc;

use cma_types::{ContentBlock, SessionEvent};
use serde_json::Value;

use crate::agent::{ToolCall, ToolOutput};
use crate::store::StoredEvent;
use crate::store::pending::Answer;

/// Something the turn did before the restart.
#[derive(Debug)]
enum Recorded {
    Say(String),
    Call {
        id: String,
        name: String,
        input: Value,
        /// Its result, if the turn had one before the restart (an `agent.tool_result`, or the
        /// client's `user.custom_tool_result` / `user.tool_result`).
        result: Option<ToolOutput>,
    },
}

/// The recorded part of a resumed turn, consumed as the agent repeats it.
#[derive(Debug, Default)]
pub struct Replay {
    recorded: VecDeque<Recorded>,
    /// The agent did something else: the turn fails.
    pub diverged: bool,
}

/// A call of the agent's, matched with what the turn recorded for it.
#[derive(Debug)]
pub enum Replayed {
    /// Its result from before the restart.
    Recorded(Option<ToolOutput>),
    /// It was waiting for an answer (the tool-use event id).
    Waiting(String),
}

fn output(content: Option<&[ContentBlock]>, is_error: Option<bool>) -> ToolOutput {
    ToolOutput {
        is_error: is_error == Some(true),
        text: Answer::result_text(content.unwrap_or_default()),
    }
}

impl Replay {
    /// The turn's events, from its first.
    pub fn from_events(events: &[Arc<StoredEvent>]) -> Self {
        let mut recorded = VecDeque::new();
        let set_result = |recorded: &mut VecDeque<Recorded>, for_id: &str, out: ToolOutput| {
            for r in recorded.iter_mut() {
                if let Recorded::Call { id, result, .. } = r
                    && id == for_id
                {
                    *result = Some(out);
                    return;
                }
            }
        };
        for e in events {
            match &e.event {
                SessionEvent::AgentMessage(m) => {
                    recorded.push_back(Recorded::Say(Answer::result_text(&m.body.content)));
                }
                SessionEvent::AgentToolUse(u) => recorded.push_back(Recorded::Call {
                    id: e.id.clone(),
                    name: u.body.name.clone(),
                    input: u.body.input.clone(),
                    result: None,
                }),
                SessionEvent::AgentCustomToolUse(u) => recorded.push_back(Recorded::Call {
                    id: e.id.clone(),
                    name: u.body.name.clone(),
                    input: u.body.input.clone(),
                    result: None,
                }),
                SessionEvent::AgentToolResult(r) => {
                    let out = output(r.body.content.as_deref(), r.body.is_error);
                    set_result(&mut recorded, &r.body.tool_use_id, out);
                }
                SessionEvent::UserCustomToolResult(r) => {
                    let out = output(r.body.content.as_deref(), r.body.is_error);
                    set_result(&mut recorded, &r.body.custom_tool_use_id, out);
                }
                SessionEvent::UserToolResult(r) => {
                    let out = output(r.body.content.as_deref(), r.body.is_error);
                    set_result(&mut recorded, &r.body.tool_use_id, out);
                }
                _ => {}
            }
        }
        Self {
            recorded,
            diverged: false,
        }
    }
}

impl Replay {
    /// Whether everything recorded was repeated.
    pub fn is_done(&self) -> bool {
        self.recorded.is_empty()
    }

    /// The agent says `text`: whether the turn said it before (else the replay diverged).
    pub fn say(&mut self, text: &str) -> bool {
        match self.recorded.pop_front() {
            Some(Recorded::Say(said)) if said == text => true,
            _ => {
                self.diverged = true;
                false
            }
        }
    }

    /// The agent makes `calls`: each matched with the recorded call in its place (`pending`: the
    /// ids still waiting for an answer); `None` if one differs (the replay diverged).
    pub fn calls(&mut self, calls: &[ToolCall], pending: &[String]) -> Option<Vec<Replayed>> {
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            match self.recorded.pop_front() {
                Some(Recorded::Call {
                    id,
                    name,
                    input,
                    result,
                }) if name == call.name && input == call.input => {
                    out.push(if pending.contains(&id) {
                        Replayed::Waiting(id)
                    } else {
                        Replayed::Recorded(result)
                    });
                }
                _ => {
                    self.diverged = true;
                    return None;
                }
            }
        }
        Some(out)
    }
}
