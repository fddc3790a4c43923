//! Interrupts over HTTP: a turn waiting on answers ends at once, its pending calls answered
//! with errors; an interrupt with nothing running changes nothing but the log.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::turns::*;
use common::*;

fn interrupt() -> ClientEvent {
    ClientEvent::UserInterrupt(UserInterrupt::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_answers_pending_calls_with_errors_and_ends_the_turn() {
    let env = start().await;
    let store = env.store("Customer Notes").await;
    let tools = vec![
        custom("lookup_order"),
        toolset(PermissionPolicy::AlwaysAsk(Empty {})),
    ];
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "lookup_order now")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let asked = ids_of(&first, "agent.tool_use");
    assert_eq!(requires(first.last().unwrap()), asked);

    send(&env, &session.id, vec![interrupt()]).await;
    let ended = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&ended),
        [
            "user.interrupt",
            "agent.tool_result",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    let SessionEvent::AgentToolResult(r) = &ended[1] else {
        unreachable!()
    };
    assert_eq!(r.body.tool_use_id, asked[0]);
    assert_eq!(r.body.is_error, Some(true));
    let s = env.wait_idle(&session.id).await;
    assert_eq!(s.status, SessionStatus::Idle);
    // The call is no longer waiting.
    send_bad(
        &env,
        &session.id,
        vec![confirmation(&asked[0], true, None)],
        &asked[0],
    )
    .await;

    // The session takes the next message as usual (and pauses on its custom call again after
    // its listing is confirmed).
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "lookup_order again")
        .await
        .unwrap();
    let next = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&next)[..2],
        ["user.message", "session.status_running"]
    );
    let asked = ids_of(&next, "agent.tool_use");
    send(&env, &session.id, vec![confirmation(&asked[0], true, None)]).await;
    let custom_wait = until_idle(&mut stream).await;
    let call = ids_of(&custom_wait, "agent.custom_tool_use");
    assert_eq!(requires(custom_wait.last().unwrap()), call);

    // Interrupting a custom call: no result event (the client owns it), the turn ends.
    send(&env, &session.id, vec![interrupt()]).await;
    let ended = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&ended),
        [
            "user.interrupt",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
    send_bad(
        &env,
        &session.id,
        vec![custom_result(&call[0], "late", false)],
        &call[0],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_with_nothing_running_is_only_echoed() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    send(&env, &session.id, vec![interrupt()]).await;
    // Then a normal turn: the interrupt left nothing behind to end it.
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "hello there")
        .await
        .unwrap();
    let events = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&events),
        [
            "user.interrupt",
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(end_turn)"
        ]
    );
}
