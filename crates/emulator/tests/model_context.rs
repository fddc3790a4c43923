//! The model's context window (issue #20, "context"): given with `--agent-context-tokens`, or
//! asked of a llama-server (`GET /props`) or an Ollama (`POST /api/show`); a request whose
//! prompt would not fit is not sent, and the turn ends with a `session.error` naming both
//! numbers instead of the server cutting the conversation unseen.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;
#[path = "common/model_env.rs"]
mod model_env;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use cma_client::types::Access;
use fake_models::{FakeModel, Proto, Seen, say, tool};
use model_env::*;
use serde_json::{Value, json};

/// What the fake server says of itself, and the info requests it got (`GET /props`,
/// `POST /api/show` with its body).
#[derive(Clone, Default)]
struct Info {
    props: Option<Value>,
    show: Option<Value>,
    asked: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Info {
    fn routes(&self) -> Router {
        let (props, show) = (self.clone(), self.clone());
        Router::new()
            .route(
                "/props",
                get(move || async move {
                    props
                        .asked
                        .lock()
                        .unwrap()
                        .push(("props".into(), Value::Null));
                    match &props.props {
                        Some(v) => (axum::http::StatusCode::OK, axum::Json(v.clone())),
                        None => (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({}))),
                    }
                }),
            )
            .route(
                "/api/show",
                post(move |axum::Json(body): axum::Json<Value>| async move {
                    show.asked.lock().unwrap().push(("show".into(), body));
                    match &show.show {
                        Some(v) => (axum::http::StatusCode::OK, axum::Json(v.clone())),
                        None => (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({}))),
                    }
                }),
            )
    }

    fn asked(&self) -> Vec<(String, Value)> {
        self.asked.lock().unwrap().clone()
    }
}

fn session_error(ev: &[Value]) -> String {
    ev.iter()
        .find(|e| e["type"] == "session.error")
        .map(|e| e["error"]["message"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Starts a fake answering `script` plus `info`, and one turn against it.
async fn one_turn(
    proto: Proto,
    script: fake_models::Script,
    info: &Info,
    context_tokens: Option<u64>,
    seed: Option<&str>,
) -> (FakeModel, Vec<Value>) {
    let fake = FakeModel::start_with_routes(script, true, info.routes()).await;
    let mut agent = config(&fake, proto);
    agent.context_tokens = context_tokens;
    let env = emulator(agent).await;
    let (sid, store) = session_on_store(&env, "qwen2.5:0.5b", Access::ReadWrite).await;
    if let Some(text) = seed {
        env.memory(&store, "/big.md", text).await;
    }
    let events = turn(&env, &sid, "What did I buy last time?").await;
    (fake, events)
}

fn hello() -> fake_models::Script {
    Arc::new(|_: &Seen| say("Hello."))
}

#[tokio::test]
async fn a_llama_server_window_from_props_refuses_a_prompt_that_does_not_fit() {
    for proto in PROTOS {
        let info = Info {
            props: Some(json!({"default_generation_settings": {"n_ctx": 300}, "total_slots": 1})),
            ..Info::default()
        };
        let (fake, ev) = one_turn(proto, hello(), &info, None, None).await;
        let err = session_error(&ev);
        assert!(
            err.contains("prompt tokens against a window of 300 tokens (the server's n_ctx (llama-server /props))"),
            "{proto:?}: {err}"
        );
        let estimate: String = err
            .split("about ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .replace(',', "");
        assert!(estimate.parse::<u64>().unwrap() > 300, "{err}");
        assert!(fake.requests().is_empty(), "{proto:?}: nothing was sent");
        assert_eq!(idle_reason(&ev), "retries_exhausted");
        assert_eq!(info.asked()[0].0, "props");

        // The same server with room: the turn runs.
        let info = Info {
            props: Some(json!({"default_generation_settings": {"n_ctx": 1_000_000}})),
            ..Info::default()
        };
        let (fake, ev) = one_turn(proto, hello(), &info, None, None).await;
        assert_eq!(session_error(&ev), "", "{proto:?}");
        assert_eq!(texts(&ev, "agent.message"), ["Hello."]);
        assert_eq!(fake.requests().len(), 1);
    }
}

#[tokio::test]
async fn an_ollama_window_from_api_show_is_its_num_ctx() {
    let info = Info {
        show: Some(json!({
            "parameters": "num_ctx 200\nstop \"<|im_end|>\"",
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}
        })),
        ..Info::default()
    };
    let (fake, ev) = one_turn(Proto::OpenAi, hello(), &info, None, None).await;
    let err = session_error(&ev);
    assert!(
        err.contains("against a window of 200 tokens (the model's num_ctx (Ollama /api/show))"),
        "{err}"
    );
    assert!(fake.requests().is_empty());
    // llama-server's route first, then Ollama's, asking about the model the agent sends.
    let asked = info.asked();
    assert_eq!(
        asked.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
        ["props", "show"]
    );
    assert_eq!(asked[1].1, json!({"model": "qwen2.5:0.5b"}));
}

#[tokio::test]
async fn a_given_window_wins_and_the_server_is_not_asked() {
    let info = Info {
        props: Some(json!({"default_generation_settings": {"n_ctx": 1_000_000}})),
        ..Info::default()
    };
    let (fake, ev) = one_turn(Proto::Anthropic, hello(), &info, Some(250), None).await;
    assert!(
        session_error(&ev).contains("against a window of 250 tokens (--agent-context-tokens)"),
        "{}",
        session_error(&ev)
    );
    assert!(fake.requests().is_empty());
    assert!(info.asked().is_empty());
}

/// A conversation that fits at first and outgrows the window within the turn (a large file
/// read back) is stopped before the request that would not fit: one request was sent.
#[tokio::test]
async fn a_conversation_that_outgrows_the_window_mid_turn_is_not_sent() {
    for proto in PROTOS {
        let reads: fake_models::Script = Arc::new(|s: &Seen| {
            if s.results.is_empty() {
                tool(
                    "read",
                    json!({ "file_path": format!("{}/big.md", s.mount()) }),
                )
            } else {
                say("You bought shoes.")
            }
        });
        let info = Info {
            props: Some(json!({"default_generation_settings": {"n_ctx": 8000}})),
            ..Info::default()
        };
        let big = "a pair of walking shoes, size 41\n".repeat(1500);
        let (fake, ev) = one_turn(proto, reads, &info, None, Some(&big)).await;
        let err = session_error(&ev);
        assert!(
            err.contains("against a window of 8,000 tokens"),
            "{proto:?}: {err}"
        );
        assert_eq!(
            fake.requests().len(),
            1,
            "{proto:?}: only the first request was sent"
        );
        assert_eq!(
            ev.iter()
                .filter(|e| e["type"] == "agent.tool_result")
                .count(),
            1,
            "{proto:?}"
        );
    }
}
