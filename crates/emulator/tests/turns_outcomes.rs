//! Outcomes over HTTP: `user.define_outcome` starts work, the rule-based grader evaluates each
//! turn (`span.outcome_evaluation_start` → `_end`), revisions run up to `max_iterations`, and
//! `session.outcome_evaluations` tracks the outcome to its final result. It never hangs.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::turns::*;
use common::*;
use serde_json::json;

fn define(description: &str, rubric: &str, max_iterations: Option<u32>) -> ClientEvent {
    ClientEvent::UserDefineOutcome(UserDefineOutcome {
        description: description.into(),
        rubric: json!({"type": "text", "content": rubric}),
        max_iterations,
        outcome_id: None,
    })
}

fn evaluations(events: &[SessionEvent]) -> Vec<(u32, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::SpanOutcomeEvaluationEnd(end) => Some((
                end.body.iteration,
                end.body.result.clone(),
                end.body.explanation.clone(),
            )),
            _ => None,
        })
        .collect()
}

async fn outcome_state(env: &Env, session: &str) -> OutcomeEvaluation {
    t(env.client.sessions().retrieve(session))
        .await
        .unwrap()
        .outcome_evaluations
        .pop()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_met_rubric_is_satisfied_after_one_turn() {
    let env = start().await;
    let store = env.store("Customer Notes").await;
    let tools = vec![toolset(PermissionPolicy::AlwaysAllow(Empty {}))];
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    let sent = t(env.client.sessions().events().send(
        &session.id,
        vec![define(
            "I wear shoe size 41.",
            "- The notes are in preferences.md\n- They say \"shoe size 41\"\n- Be brief.",
            None,
        )],
    ))
    .await
    .unwrap();
    let SessionEvent::UserDefineOutcome(echo) = &sent.data[0] else {
        panic!("{:?}", sent.data[0]);
    };
    let outcome_id = echo.body.outcome_id.clone().unwrap();
    assert!(outcome_id.starts_with("outc_"), "{outcome_id}");

    let events = until_idle(&mut stream).await;
    let k = kinds(&events);
    assert_eq!(
        k[..3],
        [
            "user.define_outcome",
            "session.status_running",
            "span.model_request_start"
        ]
    );
    assert_eq!(
        k[k.len() - 5..],
        [
            "span.model_request_end",
            "span.outcome_evaluation_start",
            "span.outcome_evaluation_end",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    let SessionEvent::SpanOutcomeEvaluationStart(start) = &events[k.len() - 4] else {
        unreachable!()
    };
    assert_eq!(start.body.outcome_id, outcome_id);
    assert_eq!(start.body.iteration, 0);
    let SessionEvent::SpanOutcomeEvaluationEnd(end) = &events[k.len() - 3] else {
        unreachable!()
    };
    assert_eq!(end.body.outcome_evaluation_start_id, start.id);
    assert_eq!(end.body.result, "satisfied", "{}", end.body.explanation);
    assert!(
        end.body.explanation.contains("preferences.md"),
        "{}",
        end.body.explanation
    );

    let state = outcome_state(&env, &session.id).await;
    assert_eq!(state.outcome_id, outcome_id);
    assert_eq!(state.result, "satisfied");
    assert_eq!(state.iteration, 0);
    assert!(state.completed_at.is_some());
    assert_eq!(state.description, "I wear shoe size 41.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmet_rubric_is_revised_up_to_max_iterations_then_acknowledged() {
    let env = start().await;
    let store = env.store("Customer Notes").await;
    let tools = vec![toolset(PermissionPolicy::AlwaysAllow(Empty {}))];
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    send(
        &env,
        &session.id,
        vec![define(
            "I like tea.",
            "- It records my \"passport number\"",
            Some(2),
        )],
    )
    .await;
    let events = until_idle(&mut stream).await;
    assert_eq!(
        kind(events.last().unwrap()),
        "session.status_idle(end_turn)"
    );
    let evals = evaluations(&events);
    assert_eq!(
        evals
            .iter()
            .map(|(i, r, _)| (*i, r.as_str()))
            .collect::<Vec<_>>(),
        [(0, "needs_revision"), (1, "max_iterations_reached")]
    );
    assert!(evals[0].2.contains("passport number"), "{}", evals[0].2);
    // Two working turns, and one acknowledgment after the last evaluation.
    let k = kinds(&events);
    let last_eval = k
        .iter()
        .rposition(|x| x == "span.outcome_evaluation_end")
        .unwrap();
    assert_eq!(
        k[last_eval + 1..],
        [
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    assert!(
        reply(&events).contains("within 2 iterations"),
        "{}",
        reply(&events)
    );
    let state = outcome_state(&env, &session.id).await;
    assert_eq!(state.result, "max_iterations_reached");
    assert_eq!(state.iteration, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_outcome_while_one_is_active_is_refused() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    send(
        &env,
        &session.id,
        vec![define(
            "Run lookup_order for me.",
            "- The reply says \"lookup_order returned\"",
            None,
        )],
    )
    .await;
    let first = until_idle(&mut stream).await;
    let call = ids_of(&first, "agent.custom_tool_use").pop().unwrap();
    assert_eq!(outcome_state(&env, &session.id).await.result, "running");
    send_bad(
        &env,
        &session.id,
        vec![define("Something else", "- \"x\"", None)],
        "already being worked on",
    )
    .await;
    // Two in one request are refused too (on a fresh session).
    let (other, _) = session_with(&env, vec![], &[]).await;
    send_bad(
        &env,
        &other.id,
        vec![define("A", "- \"a\"", None), define("B", "- \"b\"", None)],
        "already being worked on",
    )
    .await;

    send(
        &env,
        &session.id,
        vec![custom_result(&call, "shipped", false)],
    )
    .await;
    let rest = until_idle(&mut stream).await;
    assert_eq!(
        evaluations(&rest)
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["satisfied"]
    );
    // Done: a new outcome is accepted now.
    send(
        &env,
        &session.id,
        vec![define("Say hello.", "Be nice.", Some(1))],
    )
    .await;
    let last = until_idle(&mut stream).await;
    // Nothing in that rubric can be checked by rules: the grader fails it, and the session idles.
    assert_eq!(
        evaluations(&last)
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["failed"]
    );
    assert_eq!(kind(last.last().unwrap()), "session.status_idle(end_turn)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_ends_the_outcome_as_interrupted() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    send(
        &env,
        &session.id,
        vec![define("lookup_order now", "- \"returned\"", None)],
    )
    .await;
    until_idle(&mut stream).await;
    send(
        &env,
        &session.id,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    )
    .await;
    let ended = until_idle(&mut stream).await;
    assert_eq!(kind(ended.last().unwrap()), "session.status_idle(end_turn)");
    env.wait_idle(&session.id).await;
    let state = outcome_state(&env, &session.id).await;
    assert_eq!(state.result, "interrupted");
    assert!(state.completed_at.is_some());
}
