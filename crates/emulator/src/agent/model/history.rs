//! A session's earlier turns as a model transcript, rebuilt from its events (`user.message`,
//! `agent.message`, `agent.tool_use`, `agent.tool_result`, `agent.custom_tool_use`,
//! `user.custom_tool_result`), so a later turn sees what the model
//! produced and what its tools answered.

use std::collections::HashSet;

use cma_types::{ContentBlock, SessionEvent};
use serde_json::Value;

use super::{Block, Message, Role, push_block};
use crate::store::StoredEvent;

/// Said for a tool call whose result never came (the turn was interrupted or cut by a restart):
/// both protocols need every tool use answered.
const NO_RESULT: &str = "Error: the tool call was interrupted before it finished";

/// The text blocks of `content`, joined.
fn text_of(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn tool_use(id: &str, name: &str, input: &Value) -> Block {
    Block::ToolUse {
        id: id.to_string(),
        name: name.to_string(),
        input: input.clone(),
        invalid: None,
    }
}

fn tool_result(
    tool_use_id: &str,
    content: Option<&[ContentBlock]>,
    is_error: Option<bool>,
) -> Block {
    Block::ToolResult {
        tool_use_id: tool_use_id.to_string(),
        text: content.map(text_of).unwrap_or_default(),
        is_error: is_error == Some(true),
    }
}

/// The transcript of the events before the one with id `until` (the message this turn answers).
pub fn from_events<'a>(
    events: impl IntoIterator<Item = &'a StoredEvent>,
    until: &str,
) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for e in events {
        if e.id == until {
            break;
        }
        let (role, block) = match &e.event {
            SessionEvent::UserMessage(m) => (Role::User, Block::Text(text_of(&m.body.content))),
            SessionEvent::AgentMessage(m) => {
                (Role::Assistant, Block::Text(text_of(&m.body.content)))
            }
            SessionEvent::AgentToolUse(u) => (
                Role::Assistant,
                tool_use(&e.id, &u.body.name, &u.body.input),
            ),
            SessionEvent::AgentCustomToolUse(u) => (
                Role::Assistant,
                tool_use(&e.id, &u.body.name, &u.body.input),
            ),
            SessionEvent::AgentToolResult(r) => (
                Role::User,
                tool_result(
                    &r.body.tool_use_id,
                    r.body.content.as_deref(),
                    r.body.is_error,
                ),
            ),
            SessionEvent::UserCustomToolResult(r) => (
                Role::User,
                tool_result(
                    &r.body.custom_tool_use_id,
                    r.body.content.as_deref(),
                    r.body.is_error,
                ),
            ),
            _ => continue,
        };
        if matches!(&block, Block::Text(t) if t.trim().is_empty()) {
            continue;
        }
        push_block(&mut out, role, block);
    }
    repair(out)
}

/// Makes the transcript one both protocols accept: it starts with the user, every tool use is
/// answered in the next user message (before any text there), and no result answers nothing.
fn repair(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    let mut open: Vec<String> = Vec::new();
    for m in messages {
        match m.role {
            Role::Assistant => {
                if out.is_empty() {
                    continue;
                }
                close(&mut out, &mut open, Vec::new());
                open = m
                    .blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse { id, .. } => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                out.push(m);
            }
            Role::User => close(&mut out, &mut open, m.blocks),
        }
    }
    close(&mut out, &mut open, Vec::new());
    out.retain(|m| !m.blocks.is_empty());
    out
}

/// Appends a user message answering the `open` tool uses (results from `blocks` first, an
/// error for each missing one), then the rest of `blocks`.
fn close(out: &mut Vec<Message>, open: &mut Vec<String>, blocks: Vec<Block>) {
    if open.is_empty() && blocks.is_empty() {
        return;
    }
    let wanted: HashSet<String> = open.drain(..).collect();
    let mut results = Vec::new();
    let mut rest = Vec::new();
    let mut answered = HashSet::new();
    for b in blocks {
        match b {
            Block::ToolResult {
                ref tool_use_id, ..
            } => {
                if wanted.contains(tool_use_id) && answered.insert(tool_use_id.clone()) {
                    results.push(b);
                }
            }
            other => rest.push(other),
        }
    }
    // Keep the assistant's order for the synthesised answers.
    let mut missing: Vec<&String> = wanted.iter().filter(|id| !answered.contains(*id)).collect();
    missing.sort();
    for id in missing {
        results.push(Block::ToolResult {
            tool_use_id: id.clone(),
            text: NO_RESULT.into(),
            is_error: true,
        });
    }
    results.extend(rest);
    if results.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(m) if m.role == Role::User => m.blocks.extend(results),
        _ => out.push(Message {
            role: Role::User,
            blocks: results,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: &str, kind: &str, fields: Value) -> StoredEvent {
        let mut json = fields;
        json["type"] = json!(kind);
        json["id"] = json!(id);
        StoredEvent {
            id: id.into(),
            processed_at: crate::clock::now(),
            event: serde_json::from_value(json.clone()).unwrap(),
            json,
        }
    }

    fn text(t: &str) -> Value {
        json!({ "content": [{ "type": "text", "text": t }] })
    }

    #[test]
    fn turns_with_tools_come_back_in_order_up_to_the_current_message() {
        let events = [
            ev("e1", "user.message", text("I like green")),
            ev("e2", "span.model_request_start", json!({})),
            ev(
                "e3",
                "agent.tool_use",
                json!({ "name": "write", "input": { "file_path": "/mnt/memory/a/x.md", "content": "green" } }),
            ),
            ev(
                "e4",
                "agent.tool_result",
                json!({ "tool_use_id": "e3", "content": [{ "type": "text", "text": "ok" }], "is_error": false }),
            ),
            ev("e5", "agent.message", text("Noted.")),
            ev(
                "e6",
                "session.status_idle",
                json!({ "stop_reason": { "type": "end_turn" } }),
            ),
            ev("e7", "user.message", text("What do I like?")),
            ev("e8", "user.message", text("queued later")),
        ];
        let t = from_events(&events, "e7");
        assert_eq!(t.len(), 4, "{t:#?}");
        assert_eq!(t[0].blocks, vec![Block::Text("I like green".into())]);
        assert_eq!(t[1].role, Role::Assistant);
        assert!(
            matches!(&t[1].blocks[0], Block::ToolUse { id, name, .. } if id == "e3" && name == "write")
        );
        assert_eq!(
            t[2].blocks,
            vec![Block::ToolResult {
                tool_use_id: "e3".into(),
                text: "ok".into(),
                is_error: false
            }]
        );
        // The reply after the tool result is the start of the next assistant message.
        assert_eq!(t[3].blocks, vec![Block::Text("Noted.".into())]);
        let all = from_events(&events, "none");
        assert_eq!(all[3].blocks, vec![Block::Text("Noted.".into())]);
        assert_eq!(
            all[4].blocks,
            vec![
                Block::Text("What do I like?".into()),
                Block::Text("queued later".into())
            ]
        );
    }

    #[test]
    fn an_unanswered_tool_use_gets_an_error_result_before_the_next_text() {
        let events = [
            ev("e1", "user.message", text("hi")),
            ev(
                "e2",
                "agent.tool_use",
                json!({ "name": "bash", "input": { "command": "sleep 99" } }),
            ),
            ev("e3", "user.interrupt", json!({})),
            ev("e4", "user.message", text("again")),
            ev(
                "e5",
                "agent.tool_result",
                json!({ "tool_use_id": "nope", "content": [] }),
            ),
        ];
        let t = from_events(&events, "none");
        assert_eq!(t.len(), 3);
        assert!(
            matches!(&t[2].blocks[0], Block::ToolResult { tool_use_id, is_error: true, .. } if tool_use_id == "e2")
        );
        assert_eq!(t[2].blocks[1], Block::Text("again".into()));
        assert_eq!(t[2].blocks.len(), 2, "the orphan result is dropped");
    }
}
