//! Judging the custom-tool kinds: `called_tool` and `tool_answered`, from the events in scope.

use cma_client::types::SessionEvent;
use serde_json::Value;

use super::Evidence;
use crate::text::{input_contains, shorten, show_input};

/// Every tool call in scope — toolset, MCP and custom — as (name, input), in order.
fn calls<'a>(ev: &'a Evidence<'_>) -> impl Iterator<Item = (&'a str, &'a str, &'a Value)> + 'a {
    ev.turns
        .iter()
        .flat_map(|t| &t.events)
        .filter_map(|e| match e {
            SessionEvent::AgentToolUse(u) => {
                Some((u.id.as_str(), u.body.name.as_str(), &u.body.input))
            }
            SessionEvent::AgentMcpToolUse(u) => {
                Some((u.id.as_str(), u.body.name.as_str(), &u.body.input))
            }
            SessionEvent::AgentCustomToolUse(u) => {
                Some((u.id.as_str(), u.body.name.as_str(), &u.body.input))
            }
            _ => None,
        })
}

fn listed(items: Vec<String>, none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        shorten(&items.join("; "), 600)
    }
}

/// Whether some call is of `tool` with an input containing `want`, and the calls seen.
pub(crate) fn called_tool(
    ev: &Evidence<'_>,
    tool: &str,
    want: Option<&serde_json::Map<String, Value>>,
) -> (bool, String) {
    let mut hit = false;
    let mut seen = Vec::new();
    for (_, name, input) in calls(ev) {
        let matches = name == tool && want.is_none_or(|w| input_contains(input, w));
        hit |= matches;
        seen.push(format!("{name} {}", show_input(input)));
    }
    (hit, listed(seen, "no tool calls"))
}

/// How many `user.custom_tool_result`s in scope answered calls of `tool` (any custom tool
/// when `None`), and which.
pub(crate) fn tool_answered(ev: &Evidence<'_>, tool: Option<&str>) -> (u64, String) {
    let custom: Vec<(&str, &str, &Value)> = calls(ev).collect();
    let mut answered = Vec::new();
    for e in ev.turns.iter().flat_map(|t| &t.events) {
        let SessionEvent::UserCustomToolResult(r) = e else {
            continue;
        };
        let call = custom
            .iter()
            .find(|(id, _, _)| *id == r.body.custom_tool_use_id);
        let name = call.map_or("(an unseen call)", |(_, n, _)| n);
        if tool.is_none_or(|t| t == name) {
            let error = if r.body.is_error == Some(true) {
                " (as an error)"
            } else {
                ""
            };
            answered.push(match call {
                Some((_, n, input)) => format!("{n} {}{error}", show_input(input)),
                None => format!("{name}{error}"),
            });
        }
    }
    let n = answered.len() as u64;
    (n, format!("{n}: {}", listed(answered, "none answered")))
}
