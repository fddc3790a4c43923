//! Helpers for the turn tests (custom tools, confirmations, interrupts, outcomes, usage): a
//! session with given tools, its live stream read up to an idle, and event orders as strings.

use cma_client::EventStream;
use cma_client::types::*;
use serde_json::{Value, json};

use super::{Env, t};

/// A custom tool definition.
pub fn custom(name: &str) -> Tool {
    Tool::Custom(CustomTool {
        name: name.into(),
        description: format!("The {name} tool"),
        input_schema: json!({"type": "object"}),
    })
}

/// The whole toolset under `policy`.
pub fn toolset(policy: PermissionPolicy) -> Tool {
    Tool::AgentToolset20260401(AgentToolset::all(policy))
}

/// A session of a reference agent with `tools`, the given stores attached, and its live stream
/// (opened before anything is sent).
pub async fn session_with(
    env: &Env,
    tools: Vec<Tool>,
    stores: &[(&str, Access)],
) -> (Session, EventStream) {
    session_full(env, tools, stores, None).await
}

pub async fn session_full(
    env: &Env,
    tools: Vec<Tool>,
    stores: &[(&str, Access)],
    budget: Option<Budget>,
) -> (Session, EventStream) {
    let mut p = CreateAgent::new("Order desk", "claude-sonnet-4-6");
    p.tools = Some(tools);
    let agent = t(env.client.agents().create(&p)).await.unwrap();
    let environment = env.environment().await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id), environment.id);
    p.resources = Some(
        stores
            .iter()
            .map(|(id, a)| ResourceParams::memory_store(*id, *a, None))
            .collect(),
    );
    p.budget = budget;
    let session = t(env.client.sessions().create(&p)).await.unwrap();
    let stream = env.stream(&session.id).await;
    (session, stream)
}

/// Reads the stream up to and including the next `session.status_idle`.
pub async fn until_idle(stream: &mut EventStream) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    loop {
        let e = t(stream.next_event())
            .await
            .expect("the stream ended before an idle")
            .unwrap();
        if thread_twin(&e) {
            continue;
        }
        let idle = matches!(e, SessionEvent::SessionStatusIdle(_));
        out.push(e);
        if idle {
            return out;
        }
    }
}

/// Reads the stream up to and including the first event `pred` accepts.
pub async fn until(
    stream: &mut EventStream,
    pred: impl Fn(&SessionEvent) -> bool,
) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    loop {
        let e = t(stream.next_event())
            .await
            .expect("the stream ended first")
            .unwrap();
        if thread_twin(&e) {
            continue;
        }
        let done = pred(&e);
        out.push(e);
        if done {
            return out;
        }
    }
}

/// An event's type, with an idle's stop reason: `session.status_idle(requires_action)`.
pub fn kind(e: &SessionEvent) -> String {
    match e {
        SessionEvent::SessionStatusIdle(i) => {
            format!("session.status_idle({})", i.body.stop_reason.type_name())
        }
        other => other.type_name().to_string(),
    }
}

pub fn kinds(events: &[SessionEvent]) -> Vec<String> {
    events.iter().map(kind).collect()
}

/// The primary thread's status twins (`session.thread_status_*`, asserted in `tests/threads.rs`
/// and `tests/sessions.rs`): the turn tests read the session's own events without them.
fn thread_twin(e: &SessionEvent) -> bool {
    e.type_name().starts_with("session.thread_status_")
}

/// The `event_ids` of a `requires_action` idle.
pub fn requires(e: &SessionEvent) -> Vec<String> {
    match e {
        SessionEvent::SessionStatusIdle(i) => match &i.body.stop_reason {
            StopReason::RequiresAction(r) => r.event_ids.clone(),
            other => panic!("not requires_action: {other:?}"),
        },
        other => panic!("not an idle: {other:?}"),
    }
}

/// The ids of the events of a type.
pub fn ids_of(events: &[SessionEvent], type_name: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.type_name() == type_name)
        .filter_map(|e| e.id().map(str::to_string))
        .collect()
}

/// The text of the last `agent.message`.
pub fn reply(events: &[SessionEvent]) -> String {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            SessionEvent::AgentMessage(m) => Some(m.body.text()),
            _ => None,
        })
        .unwrap_or_default()
}

pub fn custom_result(id: &str, text: &str, is_error: bool) -> ClientEvent {
    ClientEvent::UserCustomToolResult(UserCustomToolResult {
        custom_tool_use_id: id.into(),
        content: Some(vec![ContentBlock::text(text)]),
        is_error: Some(is_error),
        session_thread_id: None,
    })
}

pub fn confirmation(id: &str, allow: bool, deny_message: Option<&str>) -> ClientEvent {
    ClientEvent::UserToolConfirmation(UserToolConfirmation {
        tool_use_id: id.into(),
        result: if allow { "allow" } else { "deny" }.into(),
        deny_message: deny_message.map(str::to_string),
        session_thread_id: None,
    })
}

pub async fn send(env: &Env, session: &str, events: Vec<ClientEvent>) {
    t(env.client.sessions().events().send(session, events))
        .await
        .unwrap();
}

/// Sends and expects a 400 whose message contains `needle`.
pub async fn send_bad(env: &Env, session: &str, events: Vec<ClientEvent>, needle: &str) {
    let err = t(env.client.sessions().events().send(session, events))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains(needle), "{needle:?} not in {err}");
}

/// The raw JSON of an event (for fields the typed view leaves out).
pub fn json_of(e: &SessionEvent) -> Value {
    serde_json::to_value(e).unwrap()
}
