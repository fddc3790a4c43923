//! Custom tools over HTTP: the reference agent calls a custom tool its customer's message names,
//! the session idles `requires_action` until the client answers, and the turn goes on.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::turns::*;
use common::*;
use serde_json::json;

const ASK: &str = r#"Where is my parcel? lookup_order {"order_id": "A17", "rush": true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_call_idles_until_answered_then_the_turn_goes_on() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, ASK)
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&first),
        [
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.custom_tool_use",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(requires_action)",
        ]
    );
    let SessionEvent::AgentCustomToolUse(call) = &first[3] else {
        panic!("{:?}", first[3]);
    };
    assert_eq!(call.body.name, "lookup_order");
    assert_eq!(call.body.input, json!({"order_id": "A17", "rush": true}));
    assert_eq!(requires(first.last().unwrap()), [call.id.clone()]);
    let retrieved = t(env.client.sessions().retrieve(&session.id))
        .await
        .unwrap();
    assert_eq!(retrieved.status, SessionStatus::Idle);

    send(
        &env,
        &session.id,
        vec![custom_result(
            &call.id,
            "Order A17 left the depot today",
            false,
        )],
    )
    .await;
    let second = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&second),
        [
            "user.custom_tool_result",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(end_turn)",
        ]
    );
    let text = reply(&second);
    assert!(
        text.starts_with("lookup_order returned: Order A17 left the depot today"),
        "{text}"
    );
    // The new span's end names the new span's start.
    let SessionEvent::SpanModelRequestEnd(end) = &second[4] else {
        panic!("{:?}", second[4]);
    };
    assert_eq!(
        Some(end.body.model_request_start_id.as_str()),
        second[2].id()
    );

    // The id is answered now: a second answer is refused, naming it.
    send_bad(
        &env,
        &session.id,
        vec![custom_result(&call.id, "again", false)],
        &call.id,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_result_is_what_the_agent_quotes() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "Please run lookup_order for me")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let call_id = ids_of(&first, "agent.custom_tool_use").pop().unwrap();
    let SessionEvent::AgentCustomToolUse(call) = first
        .iter()
        .find(|e| e.id() == Some(call_id.as_str()))
        .unwrap()
    else {
        unreachable!()
    };
    // No JSON object follows the name: the input is `{}`.
    assert_eq!(call.body.input, json!({}));
    send(
        &env,
        &session.id,
        vec![custom_result(&call_id, "order service unavailable", true)],
    )
    .await;
    let second = until_idle(&mut stream).await;
    let text = reply(&second);
    assert!(
        text.starts_with("lookup_order failed: order service unavailable"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_turn_is_pending_at_once_and_partial_answers_reidle() {
    let env = start().await;
    let tools = vec![custom("lookup_order"), custom("check_stock")];
    let (session, mut stream) = session_with(&env, tools, &[]).await;
    env.client
        .sessions()
        .events()
        .send_text(
            &session.id,
            r#"check_stock {"sku": "B-2"} and then lookup_order {"order_id": "A17"}"#,
        )
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let calls = ids_of(&first, "agent.custom_tool_use");
    assert_eq!(calls.len(), 2, "{:?}", kinds(&first));
    // In the order the message names them, both in one idle.
    let names: Vec<String> = first
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentCustomToolUse(c) => Some(c.body.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["check_stock", "lookup_order"]);
    assert_eq!(requires(first.last().unwrap()), calls);

    // Answering the second only re-emits the idle with the first.
    send(
        &env,
        &session.id,
        vec![custom_result(&calls[1], "shipped", false)],
    )
    .await;
    let partial = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&partial),
        [
            "user.custom_tool_result",
            "session.usage",
            "session.status_idle(requires_action)"
        ]
    );
    assert_eq!(requires(partial.last().unwrap()), [calls[0].clone()]);
    assert_eq!(
        t(env.client.sessions().retrieve(&session.id))
            .await
            .unwrap()
            .status,
        SessionStatus::Idle
    );

    send(
        &env,
        &session.id,
        vec![custom_result(&calls[0], "3 in stock", false)],
    )
    .await;
    let last = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&last)[..2],
        ["user.custom_tool_result", "session.status_running"]
    );
    assert_eq!(kind(last.last().unwrap()), "session.status_idle(end_turn)");
    let text = reply(&last);
    assert!(
        text.starts_with("check_stock returned: 3 in stock\nlookup_order returned: shipped"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_answers_in_one_request_resume_once() {
    let env = start().await;
    let tools = vec![custom("lookup_order"), custom("check_stock")];
    let (session, mut stream) = session_with(&env, tools, &[]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "check_stock then lookup_order")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let calls = ids_of(&first, "agent.custom_tool_use");
    send(
        &env,
        &session.id,
        vec![
            custom_result(&calls[0], "one", false),
            custom_result(&calls[1], "two", false),
        ],
    )
    .await;
    let rest = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&rest)[..3],
        [
            "user.custom_tool_result",
            "user.custom_tool_result",
            "session.status_running"
        ]
    );
    assert_eq!(kind(rest.last().unwrap()), "session.status_idle(end_turn)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_refused_naming_the_id_and_change_nothing() {
    let env = start().await;
    let tools = vec![
        custom("lookup_order"),
        toolset(PermissionPolicy::AlwaysAsk(Empty {})),
    ];
    let store = env.store("orders").await;
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    // The reference agent lists the store (a bash call, under always_ask) and calls the tool.
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "lookup_order please")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let asked = ids_of(&first, "agent.tool_use");
    assert_eq!(asked.len(), 1, "{:?}", kinds(&first));
    assert_eq!(requires(first.last().unwrap()), asked);
    let before = env.events(&session.id).await.len();

    send_bad(
        &env,
        &session.id,
        vec![custom_result("sevt_nope", "x", false)],
        "sevt_nope",
    )
    .await;
    // A result for a call that waits for a confirmation.
    send_bad(
        &env,
        &session.id,
        vec![custom_result(&asked[0], "x", false)],
        &asked[0],
    )
    .await;
    send_bad(
        &env,
        &session.id,
        vec![confirmation("sevt_nope", true, None)],
        "sevt_nope",
    )
    .await;
    // The same id twice in one request.
    send_bad(
        &env,
        &session.id,
        vec![
            confirmation(&asked[0], true, None),
            confirmation(&asked[0], true, None),
        ],
        "already answered",
    )
    .await;
    // A refused batch stores none of its events.
    assert_eq!(env.events(&session.id).await.len(), before);

    // Allowing the listing goes on to the custom call.
    send(&env, &session.id, vec![confirmation(&asked[0], true, None)]).await;
    let second = until_idle(&mut stream).await;
    let custom_ids = ids_of(&second, "agent.custom_tool_use");
    assert_eq!(custom_ids.len(), 1, "{:?}", kinds(&second));
    // A confirmation for a custom call.
    send_bad(
        &env,
        &session.id,
        vec![confirmation(&custom_ids[0], true, None)],
        &custom_ids[0],
    )
    .await;
    send(
        &env,
        &session.id,
        vec![custom_result(&custom_ids[0], "ok", false)],
    )
    .await;
    let last = until_idle(&mut stream).await;
    assert_eq!(kind(last.last().unwrap()), "session.status_idle(end_turn)");
}
