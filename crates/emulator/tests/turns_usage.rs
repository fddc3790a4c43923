//! Usage and budgets over HTTP: `session.usage` before each idle with the session's cumulative
//! usage (also on the session object), a spent budget stopping turns with `budget_reached`, and
//! `processed_at` null on a message queued behind a running turn until it is taken up.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::turns::*;
use common::*;

/// The summed `model_usage` of the spans among `events`: (input, output).
fn span_tokens(events: &[SessionEvent]) -> (u64, u64) {
    events.iter().fold((0, 0), |(i, o), e| match e {
        SessionEvent::SpanModelRequestEnd(end) => (
            i + end.body.model_usage.input_tokens,
            o + end.body.model_usage.output_tokens,
        ),
        _ => (i, o),
    })
}

fn usage_event(events: &[SessionEvent]) -> SessionUsageEvent {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            SessionEvent::SessionUsage(u) => Some(u.body.clone()),
            _ => None,
        })
        .expect("a session.usage event")
}

fn budget(cents: &str) -> Budget {
    Budget {
        kind: "limit".into(),
        max_list_cost: Money {
            amount: cents.into(),
            currency: "USD".into(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_idle_reports_the_sessions_cumulative_usage() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    let mut total = (0, 0);
    let mut last_cost = 0;
    for text in ["Hello, I'm Ana.", "lookup_order please"] {
        env.client
            .sessions()
            .events()
            .send_text(&session.id, text)
            .await
            .unwrap();
        let mut turn = until_idle(&mut stream).await;
        if let Some(call) = ids_of(&turn, "agent.custom_tool_use").pop() {
            // The pause reports the usage so far.
            let (i, o) = span_tokens(&turn);
            total = (total.0 + i, total.1 + o);
            let u = usage_event(&turn).usage;
            assert_eq!((u.input_tokens.unwrap(), u.output_tokens.unwrap()), total);
            send(&env, &session.id, vec![custom_result(&call, "ok", false)]).await;
            turn = until_idle(&mut stream).await;
        }
        let (i, o) = span_tokens(&turn);
        assert!(i > 0 && o > 0, "{:?}", kinds(&turn));
        total = (total.0 + i, total.1 + o);
        let k = kinds(&turn);
        assert_eq!(k[k.len() - 2], "session.usage");
        let u = usage_event(&turn);
        assert_eq!(
            (
                u.usage.input_tokens.unwrap(),
                u.usage.output_tokens.unwrap()
            ),
            total
        );
        // claude-sonnet-4-6 has a list price: any use costs at least a cent, and it grows.
        let cost = u.usage.list_cost.unwrap();
        assert_eq!(cost.currency, "USD");
        let cents = cost.amount.parse::<u64>().unwrap();
        assert!(cents >= 1 && cents >= last_cost);
        last_cost = cents;
        assert!(u.budget.is_none());
    }
    let s = t(env.client.sessions().retrieve(&session.id))
        .await
        .unwrap();
    let u = s.usage.unwrap();
    assert_eq!((u.input_tokens.unwrap(), u.output_tokens.unwrap()), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_stops_turns_until_it_is_raised() {
    let env = start().await;
    let (session, mut stream) =
        session_full(&env, vec![custom("lookup_order")], &[], Some(budget("1"))).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "Hello, I'm Ana.")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    // The turn ran; its cost (at least a cent) reached the one-cent budget.
    assert_eq!(
        kind(first.last().unwrap()),
        "session.status_idle(budget_reached)"
    );
    assert!(!reply(&first).is_empty());
    assert_eq!(usage_event(&first).budget, Some(budget("1")));

    env.client
        .sessions()
        .events()
        .send_text(&session.id, "Still there?")
        .await
        .unwrap();
    let refused = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&refused),
        [
            "user.message",
            "session.status_running",
            "session.usage",
            "session.status_idle(budget_reached)"
        ]
    );

    let p = UpdateSession {
        budget: Some(Some(budget("100000"))),
        ..Default::default()
    };
    t(env.client.sessions().update(&session.id, &p))
        .await
        .unwrap();
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "And now?")
        .await
        .unwrap();
    let events = until(&mut stream, |e| {
        matches!(e, SessionEvent::SessionStatusIdle(_))
    })
    .await;
    assert_eq!(
        kind(events.last().unwrap()),
        "session.status_idle(end_turn)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_behind_a_turn_has_no_processed_at_until_taken_up() {
    let env = start().await;
    let (session, mut stream) = session_with(&env, vec![custom("lookup_order")], &[]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "lookup_order please")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    assert!(first[0].processed_at().is_some());
    let call = ids_of(&first, "agent.custom_tool_use").pop().unwrap();

    // The turn waits on the custom call: this message queues behind it.
    let echo = t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hello, I'm Ana."))
    .await
    .unwrap();
    let queued_id = echo.data[0].id().unwrap().to_string();
    assert_eq!(echo.data[0].processed_at(), None);
    let listed = env.events(&session.id).await;
    let before = listed
        .iter()
        .find(|e| e.id() == Some(queued_id.as_str()))
        .unwrap();
    assert_eq!(before.processed_at(), None);

    send(&env, &session.id, vec![custom_result(&call, "ok", false)]).await;
    // The first turn ends, then the queued message's turn.
    let mut idles = 0;
    while idles < 1 {
        let batch = until_idle(&mut stream).await;
        if kind(batch.last().unwrap()) == "session.status_idle(end_turn)" {
            idles += 1;
        }
    }
    env.wait_idle(&session.id).await;
    let listed = env.events(&session.id).await;
    let after = listed
        .iter()
        .find(|e| e.id() == Some(queued_id.as_str()))
        .unwrap();
    let answer_at = listed
        .iter()
        .find(|e| e.type_name() == "user.custom_tool_result")
        .unwrap()
        .processed_at()
        .unwrap();
    let taken_up = after.processed_at().expect("stamped when taken up");
    assert!(taken_up >= answer_at, "{taken_up} < {answer_at}");
}
