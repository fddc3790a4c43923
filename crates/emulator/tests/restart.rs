//! A restart of an emulator with a data directory in every state of a turn: running, waiting for
//! a custom tool, for a confirmation, for a self-hosted worker, evaluating an outcome. Each test
//! stops the emulator in that state and starts another on the same directory, checks that the
//! session's log, its pending calls (the `requires_action` idle, and which answers are taken) and
//! its stores are exactly as acknowledged before, then that the turn resumes (answers taken, the
//! turn goes on to its idle as it would have without the restart) or ends cleanly.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;
#[path = "common/model_env.rs"]
mod model_env;

use std::path::Path;

use cma_client::types::*;
use cma_emulator::EmulatorConfig;
use common::turns::*;
use common::*;
use fake_models::{FakeModel, Proto, Seen, say, tool};
use serde_json::json;

fn persistent(dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

/// What a restart must keep of a session: its log, itself, and its store's memories.
#[derive(Debug, PartialEq)]
struct Acknowledged {
    events: Vec<SessionEvent>,
    session: Session,
    memories: Vec<MemoryListItem>,
}

async fn acknowledged(env: &Env, sid: &str, store: &str) -> Acknowledged {
    let p = ListMemories {
        view: Some(View::Full),
        ..Default::default()
    };
    Acknowledged {
        events: env.events(sid).await,
        session: t(env.client.sessions().retrieve(sid)).await.unwrap(),
        memories: t(env.client.memory_stores().memories().list(store, &p))
            .await
            .unwrap()
            .data,
    }
}

/// The session's events as types (idles with their stop reason), without the primary thread's
/// status twins.
fn visible(events: &[SessionEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !e.type_name().starts_with("session.thread_status_"))
        .map(kind)
        .collect()
}

/// The calls the last idle waits on; empty when the turn ended.
fn waiting(events: &[SessionEvent]) -> Vec<String> {
    let idle = events
        .iter()
        .rev()
        .find(|e| matches!(e, SessionEvent::SessionStatusIdle(_)))
        .unwrap();
    match idle {
        SessionEvent::SessionStatusIdle(i) => match &i.body.stop_reason {
            StopReason::RequiresAction(r) => r.event_ids.clone(),
            _ => Vec::new(),
        },
        _ => unreachable!(),
    }
}

/// The tool use (name, input) an event id names.
fn call_of(events: &[SessionEvent], id: &str) -> (String, serde_json::Value) {
    events
        .iter()
        .find_map(|e| match e {
            SessionEvent::AgentToolUse(u) if u.id == id => {
                Some((u.body.name.clone(), u.body.input.clone()))
            }
            SessionEvent::AgentCustomToolUse(u) if u.id == id => {
                Some((u.body.name.clone(), u.body.input.clone()))
            }
            _ => None,
        })
        .unwrap()
}

/// How a test answers one waiting call (its id, tool name).
type Answerer = fn(&str, &str) -> ClientEvent;

/// Sets up a scenario's session: `(session id, store id)`.
type Setup = for<'a> fn(&'a Env) -> std::pin::Pin<Box<dyn Future<Output = (String, String)> + 'a>>;

/// A conversation with one turn whose waits are answered by `answer`: sends `message`, then
/// answers every `requires_action` idle until the turn ends. With `dir`, the emulator is stopped
/// and started again on it at every wait, and what it was acknowledged before is checked after;
/// the answers are then sent to the new one. Returns the emulator running at the end.
async fn converse(
    mut env: Env,
    dir: Option<&Path>,
    sid: &str,
    store: &str,
    message: &str,
    answer: Answerer,
) -> Env {
    t(env.client.sessions().events().send_text(sid, message))
        .await
        .unwrap();
    for round in 0.. {
        assert!(round < 20, "the turn never ends");
        env.wait_idle(sid).await;
        let events = env.events(sid).await;
        let ids = waiting(&events);
        if ids.is_empty() {
            return env;
        }
        if let Some(dir) = dir {
            let before = acknowledged(&env, sid, store).await;
            env.emu.shutdown().await;
            env = start_with(persistent(dir)).await;
            assert_eq!(
                acknowledged(&env, sid, store).await,
                before,
                "round {round}"
            );
            // The pending calls are still validated: an answer to nothing is refused.
            send_bad(
                &env,
                sid,
                vec![answer("sevt_01nothing", "")],
                "sevt_01nothing",
            )
            .await;
        }
        let answers = ids
            .iter()
            .map(|id| answer(id, &call_of(&events, id).0))
            .collect();
        send(&env, sid, answers).await;
    }
    unreachable!()
}

/// Runs `scenario` on a fresh emulator without restarts and on one restarted at every wait, and
/// checks that both sessions end the same: the same events in the same order, the same replies,
/// the same memories.
async fn same_with_and_without_restarts(
    setup: Setup,
    message: &str,
    answer: Answerer,
) -> Vec<SessionEvent> {
    let mut outcomes = Vec::new();
    for restarting in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let env = start_with(persistent(dir.path())).await;
        let (sid, store) = setup(&env).await;
        let restart = restarting.then_some(dir.path());
        let env = converse(env, restart, &sid, &store, message, answer).await;
        let events = env.events(&sid).await;
        let memories: Vec<(String, Option<String>)> = acknowledged(&env, &sid, &store)
            .await
            .memories
            .into_iter()
            .filter_map(|m| match m {
                MemoryListItem::Memory(m) => Some((m.path, m.content)),
                _ => None,
            })
            .collect();
        env.emu.shutdown().await;
        outcomes.push((events, memories));
    }
    let (live, restarted) = (&outcomes[0], &outcomes[1]);
    assert_eq!(visible(&restarted.0), visible(&live.0));
    let replies = |events: &[SessionEvent]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::AgentMessage(m) => Some(m.body.text()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(replies(&restarted.0), replies(&live.0));
    assert_eq!(restarted.1, live.1);
    assert_eq!(
        visible(&restarted.0).last().map(String::as_str),
        Some("session.status_idle(end_turn)")
    );
    outcomes.pop().unwrap().0
}

async fn agent_with(env: &Env, model: &str, tools: Vec<Tool>) -> Agent {
    let mut p = CreateAgent::new("Order desk", model);
    p.tools = Some(tools);
    t(env.client.agents().create(&p)).await.unwrap()
}

async fn session_of(env: &Env, agent: Agent, environment: &str, store: &str) -> String {
    let mut p = CreateSession::new(AgentRef::Id(agent.id), environment);
    p.resources = Some(vec![ResourceParams::memory_store(
        store,
        Access::ReadWrite,
        None,
    )]);
    t(env.client.sessions().create(&p)).await.unwrap().id
}

/// Break it: clear `pending` on load again (the answer after the restart gets 400), or drop the
/// `resume_turn` call from `settle_answers` (the session never runs again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waiting_for_a_custom_tool_resumes_after_a_restart() {
    let events = same_with_and_without_restarts(
        |env| {
            Box::pin(async move {
                let store = env.store("Customer Notes").await;
                let agent =
                    agent_with(env, "claude-sonnet-4-6", vec![custom("lookup_order")]).await;
                let environment = env.environment().await;
                (
                    session_of(env, agent, &environment.id, &store.id).await,
                    store.id,
                )
            })
        },
        r#"I wear size 41. Where is my parcel? lookup_order {"order_id": "A17"}"#,
        |id, _| custom_result(id, "Order A17 left the depot today", false),
    )
    .await;
    assert!(
        reply(&events).starts_with("lookup_order returned: Order A17 left the depot today"),
        "{}",
        reply(&events)
    );
}

/// Every call of the reference agent waits for a confirmation; the emulator restarts at each
/// wait, and the allowed calls run after it (the notes are written). Break it: make the replay
/// run a recorded call again (the events then differ from the run without restarts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waiting_for_confirmations_resumes_after_each_restart() {
    let events = same_with_and_without_restarts(
        |env| {
            Box::pin(async move {
                let store = env.store("Customer Notes").await;
                env.memory(&store.id, "/a.md", "- You wear shoe size 41.\n")
                    .await;
                let policy = PermissionPolicy::AlwaysAsk(Empty {});
                let agent = agent_with(env, "claude-sonnet-4-6", vec![toolset(policy)]).await;
                let environment = env.environment().await;
                (
                    session_of(env, agent, &environment.id, &store.id).await,
                    store.id,
                )
            })
        },
        "My locker code is 7789. What shoe size do I wear?",
        |id, _| confirmation(id, true, None),
    )
    .await;
    let confirmations = events
        .iter()
        .filter(|e| matches!(e, SessionEvent::UserToolConfirmation(_)))
        .count();
    assert!(confirmations >= 2, "several waits: {:?}", visible(&events));
    assert!(reply(&events).contains("41"), "{}", reply(&events));
}

/// A self-hosted session's calls wait for the worker's `user.tool_result`; the emulator restarts
/// at each wait, and the worker's results after it are taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waiting_for_a_worker_resumes_after_each_restart() {
    let events = same_with_and_without_restarts(
        |env| {
            Box::pin(async move {
                let store = env.store("Shopper Preferences").await;
                let agent = env.agent("claude-sonnet-4-6").await;
                let p = CreateEnvironment {
                    name: "my-hosts".into(),
                    config: Some(EnvironmentConfig::SelfHosted(Empty {})),
                    ..Default::default()
                };
                let environment = t(env.client.environments().create(&p)).await.unwrap();
                (
                    session_of(env, agent, &environment.id, &store.id).await,
                    store.id,
                )
            })
        },
        "I wear a size medium.",
        |id, name| {
            let text = if name == "glob" {
                "No files found"
            } else {
                "File written"
            };
            ClientEvent::UserToolResult(UserToolResult {
                tool_use_id: id.into(),
                content: Some(vec![ContentBlock::text(text)]),
                is_error: Some(false),
                session_thread_id: None,
            })
        },
    )
    .await;
    let results = events
        .iter()
        .filter(|e| matches!(e, SessionEvent::UserToolResult(_)))
        .count();
    assert_eq!(results, 2, "the worker lists the store, then writes");
}

/// An interrupt after the restart ends a turn that waits for answers as a live interrupt does:
/// the unanswered toolset call gets its error result and the session idles `end_turn`; the next
/// message runs a turn. Break it: drop the `resume_turn` branch of `interrupt` (nothing ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_after_a_restart_ends_the_waiting_turn() {
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(persistent(dir.path())).await;
    let store = env.store("Customer Notes").await;
    let policy = PermissionPolicy::AlwaysAsk(Empty {});
    let agent = agent_with(&env, "claude-sonnet-4-6", vec![toolset(policy)]).await;
    let environment = env.environment().await;
    let sid = session_of(&env, agent, &environment.id, &store.id).await;
    t(env.client.sessions().events().send_text(&sid, "hello"))
        .await
        .unwrap();
    env.wait_idle(&sid).await;
    let before = acknowledged(&env, &sid, &store.id).await;
    let ids = waiting(&before.events);
    assert_eq!(ids.len(), 1);
    env.emu.shutdown().await;
    let env = start_with(persistent(dir.path())).await;
    assert_eq!(acknowledged(&env, &sid, &store.id).await, before);
    // The session is idle throughout: the stream shows when the turn has ended.
    let mut stream = env.stream(&sid).await;
    send(
        &env,
        &sid,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    )
    .await;
    until_idle(&mut stream).await;
    let events = env.events(&sid).await;
    assert_eq!(
        visible(&events[before.events.len()..]),
        [
            "user.interrupt",
            "agent.tool_result",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    let SessionEvent::AgentToolResult(result) = events
        .iter()
        .rfind(|e| matches!(e, SessionEvent::AgentToolResult(_)))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(result.body.tool_use_id, ids[0]);
    assert_eq!(result.body.is_error, Some(true));
    // The answer now comes too late, and the session takes new work.
    send_bad(&env, &sid, vec![confirmation(&ids[0], true, None)], &ids[0]).await;
    t(env.client.sessions().events().send_text(&sid, "again"))
        .await
        .unwrap();
    env.wait_idle(&sid).await;
    assert_eq!(waiting(&env.events(&sid).await).len(), 1, "a new turn asks");
    env.emu.shutdown().await;
}

/// A model-backed emulator on a data directory.
fn model_config(fake: &FakeModel, dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        agent: model_env::config(fake, Proto::Anthropic),
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

/// The last `span.model_request_end` closes the open span as failed, with no usage.
fn assert_cut_span_closed(events: &[SessionEvent]) {
    let start = events
        .iter()
        .rev()
        .find(|e| matches!(e, SessionEvent::SpanModelRequestStart(_)))
        .unwrap();
    let Some(SessionEvent::SpanModelRequestEnd(end)) = events
        .iter()
        .rev()
        .find(|e| matches!(e, SessionEvent::SpanModelRequestEnd(_)))
    else {
        panic!("no span end: {:?}", visible(events));
    };
    assert_eq!(Some(end.body.model_request_start_id.as_str()), start.id());
    assert_eq!(end.body.is_error, Some(true));
    assert_eq!(end.body.model_usage, ModelUsage::default());
}

/// A turn cut while its model request runs: after the restart the session is `running` with no
/// runner, as acknowledged; an interrupt ends it (the cut request's span closed as failed) and
/// the next message runs. Break it: drop the `close_cut_span` call in `interrupt` (the span
/// stays open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_cut_while_running_ends_cleanly_on_interrupt() {
    let fake = FakeModel::start(model_env::script(|_: &Seen| say("Done.")), false).await;
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(model_config(&fake, dir.path())).await;
    let store = env.store("Customer Notes").await;
    let agent = agent_with(&env, "claude-sonnet-4-6", Vec::new()).await;
    let environment = env.environment().await;
    let sid = session_of(&env, agent, &environment.id, &store.id).await;
    let (arrived, release) = fake.hold(0);
    t(env.client.sessions().events().send_text(&sid, "hello"))
        .await
        .unwrap();
    t(arrived.notified()).await;
    let before = acknowledged(&env, &sid, &store.id).await;
    assert_eq!(before.session.status, SessionStatus::Running);
    env.emu.shutdown().await;
    let env = start_with(model_config(&fake, dir.path())).await;
    let after = acknowledged(&env, &sid, &store.id).await;
    assert_eq!(after.events, before.events);
    assert_eq!(after.memories, before.memories);
    assert_eq!(after.session.status, SessionStatus::Running);
    // The old runner's reply comes after the shutdown: nothing of it is stored.
    release.notify_one();
    send(
        &env,
        &sid,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    )
    .await;
    env.wait_idle(&sid).await;
    let events = env.events(&sid).await;
    assert_eq!(
        visible(&events[before.events.len()..]),
        [
            "user.interrupt",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    assert_cut_span_closed(&events);
    t(env.client.sessions().events().send_text(&sid, "again"))
        .await
        .unwrap();
    env.wait_idle(&sid).await;
    assert_eq!(reply(&env.events(&sid).await), "Done.");
    env.emu.shutdown().await;
}

/// An outcome whose turn is being graded (the model grader's call in flight) when the emulator
/// stops: after the restart the outcome is still `running` as acknowledged; an interrupt ends
/// the turn and the outcome (`interrupted`), so a new outcome can be defined. Break it: drop the
/// `end_outcomes` call in `interrupt` (the outcome stays active and the new one is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_cut_while_evaluated_ends_cleanly_on_interrupt() {
    let fake = FakeModel::start(
        model_env::script(|s: &Seen| {
            if s.system.contains("grade") || s.system.contains("rubric") {
                say("satisfied: it is done")
            } else {
                say("The report is written.")
            }
        }),
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(model_config(&fake, dir.path())).await;
    let store = env.store("Customer Notes").await;
    let agent = agent_with(&env, "claude-sonnet-4-6", Vec::new()).await;
    let environment = env.environment().await;
    let sid = session_of(&env, agent, &environment.id, &store.id).await;
    // Call 0 is the turn, call 1 its grading.
    let (arrived, release) = fake.hold(1);
    let define = |description: &str| {
        ClientEvent::UserDefineOutcome(UserDefineOutcome {
            description: description.into(),
            rubric: json!({"type": "text", "content": "A report is written."}),
            max_iterations: Some(1),
            outcome_id: None,
        })
    };
    send(&env, &sid, vec![define("Write the report")]).await;
    t(arrived.notified()).await;
    let before = acknowledged(&env, &sid, &store.id).await;
    assert_eq!(before.session.outcome_evaluations[0].result, "running");
    env.emu.shutdown().await;
    let env = start_with(model_config(&fake, dir.path())).await;
    let after = acknowledged(&env, &sid, &store.id).await;
    assert_eq!(after.events, before.events);
    assert_eq!(after.memories, before.memories);
    assert_eq!(
        after.session.outcome_evaluations,
        before.session.outcome_evaluations
    );
    release.notify_one();
    send(
        &env,
        &sid,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    )
    .await;
    env.wait_idle(&sid).await;
    let events = env.events(&sid).await;
    assert_cut_span_closed(&events);
    let session = t(env.client.sessions().retrieve(&sid)).await.unwrap();
    assert_eq!(session.outcome_evaluations[0].result, "interrupted");
    send(&env, &sid, vec![define("Write it again")]).await;
    env.wait_idle(&sid).await;
    let session = t(env.client.sessions().retrieve(&sid)).await.unwrap();
    assert_eq!(session.outcome_evaluations.len(), 2);
    assert!(!session.outcome_evaluations[1].is_active());
    env.emu.shutdown().await;
}

/// A model-backed turn waiting for a custom tool: after the restart the model is asked again for
/// the request that made the call, repeats it, and the turn goes on with the answer; the
/// replayed request's usage is not counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_turn_waiting_for_a_custom_tool_resumes_after_a_restart() {
    let fake = FakeModel::start(
        model_env::script(|s: &Seen| match s.results.first() {
            None => tool("lookup_order", json!({"order_id": "A17"})),
            Some(r) => say(&format!("Your order: {}", r.text)),
        }),
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(model_config(&fake, dir.path())).await;
    let store = env.store("Customer Notes").await;
    let agent = agent_with(&env, "claude-sonnet-4-6", vec![custom("lookup_order")]).await;
    let environment = env.environment().await;
    let sid = session_of(&env, agent, &environment.id, &store.id).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&sid, "Where is my parcel?"))
    .await
    .unwrap();
    env.wait_idle(&sid).await;
    let before = acknowledged(&env, &sid, &store.id).await;
    let ids = waiting(&before.events);
    assert_eq!(ids.len(), 1);
    env.emu.shutdown().await;
    let env = start_with(model_config(&fake, dir.path())).await;
    assert_eq!(acknowledged(&env, &sid, &store.id).await, before);
    send(
        &env,
        &sid,
        vec![custom_result(&ids[0], "left the depot", false)],
    )
    .await;
    env.wait_idle(&sid).await;
    let events = env.events(&sid).await;
    assert_eq!(
        visible(&events[before.events.len()..]),
        [
            "user.custom_tool_result",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    assert_eq!(reply(&events), "Your order: left the depot");
    // Three model calls: the first, its replay, the reply; two spans count.
    assert_eq!(fake.requests().len(), 3);
    let spans = events
        .iter()
        .filter(|e| matches!(e, SessionEvent::SpanModelRequestEnd(_)))
        .count();
    assert_eq!(spans, 2);
    env.emu.shutdown().await;
}
