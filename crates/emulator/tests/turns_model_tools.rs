//! A model backend's custom tool calls (scripted fake servers of both protocols, no network):
//! every call of one model response is pending at once, and the model's next request carries
//! the client's answers.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;

use std::sync::Arc;
use std::time::Duration;

use cma_emulator::{AgentConfig, ApiKey, Backend, EmulatorConfig};
use common::turns::*;
use common::*;
use fake_models::{FakeModel, Proto, Seen, Step, Stop, say};
use serde_json::json;

fn config(fake: &FakeModel, proto: Proto) -> AgentConfig {
    AgentConfig {
        backend: match proto {
            Proto::Anthropic => Backend::Anthropic,
            Proto::OpenAi => Backend::OpenAi,
        },
        base_url: Some(fake.base_url(proto)),
        api_key: Some(ApiKey::new("sk-test-not-secret")),
        request_timeout: Duration::from_secs(10),
        ..AgentConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_response_with_two_custom_calls_waits_for_both() {
    for proto in [Proto::Anthropic, Proto::OpenAi] {
        let script = Arc::new(|s: &Seen| -> Step {
            if s.turn_text == "Thanks" {
                say("You're welcome.")
            } else if s.results.is_empty() {
                Step::Reply {
                    text: vec!["Checking.".into()],
                    tools: vec![
                        ("lookup_order".into(), json!({"order_id": "A17"})),
                        ("check_stock".into(), json!({"sku": "B-2"})),
                    ],
                    stop: Stop::Tools,
                }
            } else {
                let got: Vec<String> = s
                    .results
                    .iter()
                    .map(|r| format!("{}{}", if r.is_error { "error " } else { "" }, r.text))
                    .collect();
                say(&format!("Got: {}", got.join(" | ")))
            }
        });
        let fake = FakeModel::start(script, false).await;
        let env = start_with(EmulatorConfig {
            agent: config(&fake, proto),
            ..EmulatorConfig::default()
        })
        .await;
        let tools = vec![custom("lookup_order"), custom("check_stock")];
        let (session, mut stream) = session_with(&env, tools, &[]).await;
        env.client
            .sessions()
            .events()
            .send_text(&session.id, "Where is my order?")
            .await
            .unwrap();
        let first = until_idle(&mut stream).await;
        assert_eq!(
            kinds(&first),
            [
                "user.message",
                "session.status_running",
                "span.model_request_start",
                "agent.message",
                "agent.custom_tool_use",
                "agent.custom_tool_use",
                "span.model_request_end",
                "session.usage",
                "session.status_idle(requires_action)",
            ],
            "{proto:?}"
        );
        let calls = ids_of(&first, "agent.custom_tool_use");
        assert_eq!(requires(first.last().unwrap()), calls, "{proto:?}");
        send(
            &env,
            &session.id,
            vec![
                custom_result(&calls[1], "3 in stock", false),
                custom_result(&calls[0], "no such order", true),
            ],
        )
        .await;
        let second = until_idle(&mut stream).await;
        assert_eq!(
            kinds(&second),
            [
                "user.custom_tool_result",
                "user.custom_tool_result",
                "session.status_running",
                "span.model_request_start",
                "agent.message",
                "span.model_request_end",
                "session.usage",
                "session.status_idle(end_turn)",
            ],
            "{proto:?}"
        );
        // The model got each answer for its own call, in its order, errors marked.
        // (Chat completions has no error flag: the backend marks the text.)
        let expected = match proto {
            Proto::Anthropic => "Got: error no such order | 3 in stock",
            Proto::OpenAi => "Got: error Error: no such order | 3 in stock",
        };
        assert_eq!(reply(&second), expected, "{proto:?}");
        // The next turn's transcript carries the answered calls (the fake checks every
        // tool use is answered).
        env.client
            .sessions()
            .events()
            .send_text(&session.id, "Thanks")
            .await
            .unwrap();
        let third = until_idle(&mut stream).await;
        assert_eq!(kind(third.last().unwrap()), "session.status_idle(end_turn)");
        fake.assert_clean();
    }
}

/// A model-backed agent's outcome is graded by its model: a `NEEDS_REVISION` answer brings a
/// revision turn, `SATISFIED` ends the outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_backed_agent_grades_outcomes_with_its_model() {
    let script = Arc::new(|s: &Seen| -> Step {
        if s.system.contains("grader of an agent") {
            if s.turn_text.contains("revised answer") {
                say("SATISFIED\nThe reply now names the order.")
            } else {
                say("NEEDS_REVISION\nName the order id.")
            }
        } else if s.turn_text.contains("asks for a revision") {
            say("revised answer: order A17")
        } else {
            say("first answer")
        }
    });
    let fake = FakeModel::start(script, false).await;
    let env = start_with(EmulatorConfig {
        agent: config(&fake, Proto::Anthropic),
        ..EmulatorConfig::default()
    })
    .await;
    let (session, mut stream) = session_with(&env, vec![], &[]).await;
    let define =
        cma_client::types::ClientEvent::UserDefineOutcome(cma_client::types::UserDefineOutcome {
            description: "Tell me about my order.".into(),
            rubric: json!({"type": "text", "content": "- Names the order id"}),
            max_iterations: None,
            outcome_id: None,
        });
    send(&env, &session.id, vec![define]).await;
    let events = until_idle(&mut stream).await;
    let verdicts: Vec<(u32, String, String)> = events
        .iter()
        .filter_map(|e| match e {
            cma_client::types::SessionEvent::SpanOutcomeEvaluationEnd(end) => Some((
                end.body.iteration,
                end.body.result.clone(),
                end.body.explanation.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (0, "needs_revision".into(), "Name the order id.".into()),
            (
                1,
                "satisfied".into(),
                "The reply now names the order.".into()
            )
        ]
    );
    assert_eq!(
        kind(events.last().unwrap()),
        "session.status_idle(end_turn)"
    );
    assert_eq!(reply(&events), "revised answer: order A17");
}
