//! How a model's response ends decides what the session shows (issue #20, "loud ends"): a
//! refusal idles with `refusal`; a response cut at the output limit, over the context window,
//! filtered, or stopped for a reason cma does not know ends the turn with a `session.error`
//! naming the reason and the numbers; none of their tool calls runs, nothing is written.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;
#[path = "common/model_env.rs"]
mod model_env;

use cma_client::types::Access;
use fake_models::{FakeModel, Proto, Seen, Step, Stop};
use model_env::*;
use reqwest::Method;
use serde_json::{Value, json};

/// A reply that says something and writes a note, ending with `stop`.
fn writes_then(stop: Stop) -> fake_models::Script {
    script(move |s: &Seen| Step::Reply {
        text: vec!["Your size is".into()],
        tools: vec![(
            "write".into(),
            json!({ "file_path": format!("{}/x.md", s.mount()), "content": "half" }),
        )],
        stop: stop.clone(),
    })
}

fn session_error(ev: &[Value]) -> String {
    ev.iter()
        .find(|e| e["type"] == "session.error")
        .map(|e| e["error"]["message"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn memory_count(env: &common::Env, store: &str) -> usize {
    let r = env
        .raw(
            Method::GET,
            &format!("/v1/memory_stores/{store}/memories"),
            &[common::MA],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn each_abnormal_stop_is_a_session_error_naming_it_and_runs_no_tool_call() {
    let cases: [(Proto, Stop, &[&str]); 8] = [
        (
            Proto::Anthropic,
            Stop::MaxTokens,
            &["the model stopped at max_tokens (10 output tokens)"],
        ),
        (
            Proto::OpenAi,
            Stop::MaxTokens,
            &["the model stopped at length (20 output tokens)"],
        ),
        (
            Proto::Anthropic,
            Stop::Reason("model_context_window_exceeded"),
            &[
                "stopped at model_context_window_exceeded",
                "(1,007 prompt tokens) does not fit its context window",
            ],
        ),
        (
            Proto::OpenAi,
            Stop::Reason("content_filter"),
            &["stopped at content_filter", "withheld its output"],
        ),
        (
            Proto::Anthropic,
            Stop::Reason("pause_turn"),
            &["a reason cma does not know (\"pause_turn\")"],
        ),
        (
            Proto::OpenAi,
            Stop::Reason("eos_weird"),
            &["a reason cma does not know (\"eos_weird\")"],
        ),
        (
            Proto::Anthropic,
            Stop::Reason("content_filter"),
            &["a reason cma does not know (\"content_filter\")"],
        ),
        (
            Proto::OpenAi,
            Stop::Reason("model_context_window_exceeded"),
            &["a reason cma does not know (\"model_context_window_exceeded\")"],
        ),
    ];
    for (proto, stop, wants) in cases {
        let fake = FakeModel::start(writes_then(stop.clone()), true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "hi").await;
        let what = format!("{proto:?} {stop:?}");
        let msg = session_error(&ev);
        for want in wants {
            assert!(msg.contains(want), "{what}: {msg:?} lacks {want:?}");
        }
        assert!(msg.contains("none of its tool calls ran"), "{what}: {msg}");
        assert!(
            !ev.iter().any(|e| e["type"] == "agent.tool_use"),
            "{what}: a tool call of the cut response ran"
        );
        assert!(
            texts(&ev, "agent.message").is_empty(),
            "{what}: the cut text was said"
        );
        assert_eq!(idle_reason(&ev), "retries_exhausted", "{what}");
        assert_eq!(memory_count(&env, &store).await, 0, "{what}");
        assert_eq!(fake.requests().len(), 1, "{what}: not retried");
    }
}

#[tokio::test]
async fn a_refusal_idles_with_refusal_says_why_and_runs_no_tool_call() {
    for proto in PROTOS {
        let s = script(|s: &Seen| Step::Reply {
            text: vec!["I can't help with that.".into()],
            tools: vec![(
                "write".into(),
                json!({ "file_path": format!("{}/x.md", s.mount()), "content": "no" }),
            )],
            stop: Stop::Refusal,
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "hi").await;
        assert_eq!(idle_reason(&ev), "refusal", "{proto:?}");
        assert_eq!(
            texts(&ev, "agent.message"),
            ["I can't help with that."],
            "{proto:?}"
        );
        assert!(!ev.iter().any(|e| e["type"] == "agent.tool_use"));
        assert!(!ev.iter().any(|e| e["type"] == "session.error"));
        assert_eq!(memory_count(&env, &store).await, 0);
    }
}

#[tokio::test]
async fn a_chat_completion_with_no_content_and_no_calls_is_an_error() {
    let s = script(|_| Step::Raw {
        status: 200,
        headers: vec![],
        body: r#"{"choices":[{"index":0,"message":{"role":"assistant"},"finish_reason":"stop"}]}"#
            .into(),
    });
    let fake = FakeModel::start(s, true).await;
    let env = emulator(config(&fake, Proto::OpenAi)).await;
    let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
    let ev = turn(&env, &sid, "hi").await;
    let msg = session_error(&ev);
    assert!(msg.contains("no `content` and no `tool_calls`"), "{msg:?}");
    assert_eq!(idle_reason(&ev), "retries_exhausted");
}

/// Arguments that are not JSON get an error result the model sees, and go back in the history
/// as `{}`: the fake refuses non-object arguments in a history as Ollama does, so the model's
/// next request succeeds and it recovers within the turn.
#[tokio::test]
async fn invalid_json_arguments_are_replayed_as_an_object_and_the_model_recovers() {
    let s = script(|s: &Seen| match s.results.first() {
        None => Step::Reply {
            text: vec![],
            tools: vec![("read".into(), json!("{\"file_path\": \"/mnt/memory/x"))],
            stop: Stop::Tools,
        },
        Some(r) if r.is_error && r.text.contains("not valid JSON") => {
            fake_models::say("Recovered.")
        }
        Some(r) => fake_models::say(&format!("unexpected result: {}", r.text)),
    });
    let fake = FakeModel::start(s, true).await;
    let env = emulator(config(&fake, Proto::OpenAi)).await;
    let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
    let ev = turn(&env, &sid, "hi").await;
    assert_eq!(session_error(&ev), "");
    assert_eq!(texts(&ev, "agent.message"), ["Recovered."]);
    assert_eq!(idle_reason(&ev), "end_turn");
    assert_eq!(fake.requests().len(), 2);
    let replayed = &fake.requests()[1].body["messages"];
    let args = replayed
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["tool_calls"][0]["function"]["arguments"].as_str())
        .unwrap();
    assert_eq!(args, "{}");
    fake.assert_clean();
}

/// A request to a server on this machine that times out is not sent again into the server that
/// is still busy with it: the turn fails at once, saying so.
#[tokio::test]
async fn a_timed_out_call_to_a_local_server_is_not_retried() {
    let fake = FakeModel::start(script(|_| fake_models::say("late")), true).await;
    // The first answer is held until the test ends.
    let (_arrived, _release) = fake.hold(0);
    let env = emulator(cma_emulator::AgentConfig {
        request_timeout: std::time::Duration::from_secs(1),
        ..config(&fake, Proto::OpenAi)
    })
    .await;
    let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
    let ev = turn(&env, &sid, "hi").await;
    let msg = session_error(&ev);
    assert!(
        msg.contains("did not answer within 1 s; not retried"),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), 1, "retried into the busy server");
    assert_eq!(idle_reason(&ev), "retries_exhausted");
}
