//! Answers a session's `requires_action` from the scenario: each custom tool call with its canned
//! answer (the visit's first, then the scenario's), each tool use awaiting confirmation with the
//! scenario's `confirm`. A call the scenario cannot answer fails the turn, naming the tool and
//! its input, instead of leaving the session waiting until the turn times out.

use cma_client::types::{
    ClientEvent, ContentBlock, SessionEvent, UserCustomToolResult, UserToolConfirmation,
};

use crate::tools::{Confirm, ToolAnswer, select_answer, show_input};

/// What a scenario answers with, for one visit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answers<'a> {
    pub visit: &'a [ToolAnswer],
    pub scenario: &'a [ToolAnswer],
    pub confirm: Option<Confirm>,
}

impl Answers<'_> {
    /// The events answering `calls`, or every reason some call cannot be answered.
    pub fn answer(&self, calls: &[SessionEvent]) -> Result<Vec<ClientEvent>, String> {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for call in calls {
            match self.one(call) {
                Ok(e) => out.push(e),
                Err(reason) => missing.push(reason),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(missing.join("; "))
        }
    }

    fn one(&self, call: &SessionEvent) -> Result<ClientEvent, String> {
        match call {
            SessionEvent::AgentCustomToolUse(u) => {
                let name = &u.body.name;
                let input = &u.body.input;
                let a = select_answer(self.visit, self.scenario, name, input).ok_or_else(|| {
                    format!(
                        "no canned answer for custom tool `{name}` with input {} (add a `[[tool_answers]]` for it)",
                        show_input(input)
                    )
                })?;
                Ok(ClientEvent::UserCustomToolResult(UserCustomToolResult {
                    custom_tool_use_id: u.id.clone(),
                    // An empty text block is not valid content: an empty answer sends none.
                    content: (!a.content.is_empty()).then(|| vec![ContentBlock::text(&a.content)]),
                    is_error: a.is_error.then_some(true),
                    session_thread_id: u.body.session_thread_id.clone(),
                }))
            }
            SessionEvent::AgentToolUse(u) => self.confirmation(
                &u.id,
                &u.body.name,
                &u.body.input,
                &u.body.session_thread_id,
            ),
            SessionEvent::AgentMcpToolUse(u) => self.confirmation(
                &u.id,
                &u.body.name,
                &u.body.input,
                &u.body.session_thread_id,
            ),
            other => Err(format!(
                "the session waits on a `{}` event, which a scenario cannot answer",
                other.type_name()
            )),
        }
    }

    fn confirmation(
        &self,
        id: &str,
        name: &str,
        input: &serde_json::Value,
        thread: &Option<String>,
    ) -> Result<ClientEvent, String> {
        let confirm = self.confirm.ok_or_else(|| {
            format!(
                "tool use `{name}` {} awaits confirmation and the scenario sets no `confirm = \"allow\"|\"deny\"`",
                show_input(input)
            )
        })?;
        Ok(ClientEvent::UserToolConfirmation(UserToolConfirmation {
            tool_use_id: id.to_string(),
            result: confirm.as_str().to_string(),
            deny_message: None,
            session_thread_id: thread.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use cma_client::types::{AgentCustomToolUse, AgentToolUse, Event, Marker, Timestamp};
    use serde_json::json;

    use super::*;

    fn at() -> Timestamp {
        "2026-04-23T17:03:00Z".parse().expect("timestamp")
    }

    fn custom(id: &str, name: &str, input: serde_json::Value) -> SessionEvent {
        SessionEvent::AgentCustomToolUse(Box::new(Event::new(
            id,
            at(),
            AgentCustomToolUse {
                name: name.into(),
                input,
                session_thread_id: None,
            },
        )))
    }

    fn bash(id: &str) -> SessionEvent {
        SessionEvent::AgentToolUse(Box::new(Event::new(
            id,
            at(),
            AgentToolUse {
                name: "bash".into(),
                input: json!({"command": "ls /mnt/memory"}),
                evaluated_permission: Some("ask".into()),
                evaluation: None,
                session_thread_id: None,
            },
        )))
    }

    fn answer(
        tool: &str,
        when: Option<serde_json::Value>,
        content: &str,
        is_error: bool,
    ) -> ToolAnswer {
        ToolAnswer {
            tool: tool.into(),
            when_input_contains: when.and_then(|w| w.as_object().cloned()),
            content: content.into(),
            is_error,
        }
    }

    #[test]
    fn custom_calls_get_their_canned_answers_and_confirmations_the_confirm() {
        let visit = [answer(
            "lookup",
            Some(json!({"pet": "Rex"})),
            "Rex: Friday 9:00",
            false,
        )];
        let scenario = [
            answer("lookup", None, "no appointment", true),
            answer("empty", None, "", false),
        ];
        let answers = Answers {
            visit: &visit,
            scenario: &scenario,
            confirm: Some(Confirm::Deny),
        };
        let events = answers
            .answer(&[
                custom("c1", "lookup", json!({"pet": "Rex"})),
                custom("c2", "lookup", json!({"pet": "Tom"})),
                custom("c3", "empty", json!({})),
                bash("t1"),
            ])
            .expect("answered");
        let sent: Vec<serde_json::Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).expect("json"))
            .collect();
        assert_eq!(
            sent,
            [
                json!({"type": "user.custom_tool_result", "custom_tool_use_id": "c1",
                       "content": [{"type": "text", "text": "Rex: Friday 9:00"}]}),
                json!({"type": "user.custom_tool_result", "custom_tool_use_id": "c2",
                       "content": [{"type": "text", "text": "no appointment"}], "is_error": true}),
                json!({"type": "user.custom_tool_result", "custom_tool_use_id": "c3"}),
                json!({"type": "user.tool_confirmation", "tool_use_id": "t1", "result": "deny"}),
            ]
        );
    }

    #[test]
    fn a_call_without_an_answer_names_the_tool_and_its_input() {
        let visit = [answer("lookup", Some(json!({"pet": "Rex"})), "Rex", false)];
        let answers = Answers {
            visit: &visit,
            scenario: &[],
            confirm: None,
        };
        let e = answers
            .answer(&[
                custom("c1", "lookup", json!({"pet": "Rex"})),
                custom("c2", "lookup", json!({"pet": "Tom"})),
                bash("t1"),
                SessionEvent::AgentThinking(Box::new(Event::new("x", at(), Marker {}))),
            ])
            .expect_err("unanswerable");
        assert!(
            e.contains(r#"no canned answer for custom tool `lookup` with input {"pet":"Tom"}"#),
            "{e}"
        );
        assert!(
            e.contains("tool use `bash`") && e.contains("sets no `confirm"),
            "{e}"
        );
        assert!(e.contains("`agent.thinking` event"), "{e}");
        assert!(
            !e.contains("Rex"),
            "the answered call is not a problem: {e}"
        );
    }
}
