//! Streamed model answers (issue #20, "streaming" and "bad input"): both protocols' streams are
//! put back together, tool input split across events and writes; a server that stalls ends the
//! call after `--agent-stall-timeout`; and every broken answer (HTML, an empty body, truncated
//! JSON, no choices or content, a tool the model was not given, a JSON string inside a string,
//! a stream cut mid-event or an error event) ends the turn with a `session.error` naming it,
//! runs none of the response's tool calls and writes nothing.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;
#[path = "common/model_env.rs"]
mod model_env;

use std::time::{Duration, Instant};

use cma_client::types::Access;
use cma_emulator::{AgentConfig, TimingLog};
use fake_models::{Either, FakeModel, Proto, Seen, Step, Stop, say};
use model_env::*;
use reqwest::Method;
use serde_json::{Value, json};

fn session_error(ev: &[Value]) -> String {
    ev.iter()
        .find(|e| e["type"] == "session.error")
        .map(|e| e["error"]["message"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn memories(env: &common::Env, store: &str) -> Vec<Value> {
    let r = env
        .raw(
            Method::GET,
            &format!("/v1/memory_stores/{store}/memories?view=full"),
            &[common::MA],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

/// Text with multi-byte characters, long enough to span many events and writes.
const NOTE: &str = "Größe: M — budget < 200 €; likes 🧥 jackets, \"quoted\" and \\ back";

#[tokio::test]
async fn streamed_answers_with_tool_input_split_across_chunks_are_put_back_together() {
    for proto in PROTOS {
        let s = script(|s: &Seen| match s.results.len() {
            0 => Step::Ordered(
                vec![
                    Either::Text("Saving that.".into()),
                    Either::Tool(
                        "write".into(),
                        json!({ "file_path": format!("{}/notes.md", s.mount()), "content": NOTE }),
                    ),
                    Either::Tool(
                        "glob".into(),
                        json!({ "pattern": "*.md", "path": s.mount() }),
                    ),
                ],
                Stop::Tools,
            ),
            _ => say(&format!("Saved: {NOTE}")),
        });
        let fake = FakeModel::start(s, true).await;
        let timings = TimingLog::new();
        let env = emulator(AgentConfig {
            timings: Some(timings.clone()),
            ..config(&fake, proto)
        })
        .await;
        let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "remember my size").await;
        let what = format!("{proto:?}");
        assert_eq!(session_error(&ev), "", "{what}: {ev:#?}");
        assert_eq!(
            texts(&ev, "agent.message"),
            ["Saving that.".to_string(), format!("Saved: {NOTE}")],
            "{what}"
        );
        let uses: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "agent.tool_use")
            .collect();
        assert_eq!(uses.len(), 2, "{what}: {ev:#?}");
        assert_eq!(uses[0]["input"]["content"], NOTE, "{what}");
        let kept = memories(&env, &store).await;
        assert_eq!(kept.len(), 1, "{what}");
        assert_eq!(kept[0]["content"], NOTE, "{what}");
        // The usage came from the stream's last events (message_delta; the usage chunk).
        let ends: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "span.model_request_end")
            .collect();
        let (input, output) = match proto {
            Proto::Anthropic => (1000, 10),
            Proto::OpenAi => (2000, 20),
        };
        assert_eq!(ends[0]["model_usage"]["output_tokens"], output, "{what}");
        assert_eq!(
            ends[1]["model_usage"]["output_tokens"],
            output + 1,
            "{what}"
        );
        assert_eq!(ends[0]["model_usage"]["input_tokens"], input, "{what}");
        // Each request's timing: a first token, and the server's output count.
        let seen = timings.snapshot();
        assert_eq!(seen.len(), 2, "{what}");
        assert!(
            seen.iter()
                .all(|t| t.first_token.is_some() && t.first_token <= Some(t.total)),
            "{what}: {seen:?}"
        );
        assert_eq!(
            seen.iter().map(|t| t.output_tokens).collect::<Vec<_>>(),
            [output, output + 1],
            "{what}"
        );
        fake.assert_clean();
    }
}

/// A server that sends its headers and then nothing, and one that never sends a byte: the call
/// ends after the stall timeout (not the request's 10 s), names the flag, and is not retried
/// into the busy local server.
#[tokio::test]
async fn a_stalled_server_ends_the_call_after_the_stall_timeout() {
    for proto in PROTOS {
        for headers_first in [true, false] {
            let fake = FakeModel::start(
                script(move |_| match headers_first {
                    true => Step::Stall,
                    false => say("never sent"),
                }),
                true,
            )
            .await;
            // Without headers: the answer is held until the test ends.
            let _held = (!headers_first).then(|| fake.hold(0));
            let env = emulator(AgentConfig {
                stall_timeout: Duration::from_millis(200),
                ..config(&fake, proto)
            })
            .await;
            let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
            let started = Instant::now();
            let ev = turn(&env, &sid, "hi").await;
            let took = started.elapsed();
            let what = format!("{proto:?}, headers first: {headers_first}");
            let msg = session_error(&ev);
            assert!(
                msg.contains("sent nothing for 0.2 s (--agent-stall-timeout); not retried"),
                "{what}: {msg:?}"
            );
            assert!(took >= Duration::from_millis(200), "{what}: {took:?}");
            assert!(took < Duration::from_secs(8), "{what}: waited {took:?}");
            assert_eq!(fake.requests().len(), 1, "{what}: retried");
            assert_eq!(idle_reason(&ev), "retries_exhausted", "{what}");
            assert!(memories(&env, &store).await.is_empty(), "{what}");
        }
    }
}

fn raw(content_type: &str, body: &str) -> Step {
    Step::Raw {
        status: 200,
        headers: vec![("content-type", content_type.to_string())],
        body: body.to_string(),
    }
}

/// A write of the session's note, for responses that must not run it.
fn write_note(s: &Seen) -> Either {
    Either::Tool(
        "write".into(),
        json!({ "file_path": format!("{}/x.md", s.mount()), "content": "broken" }),
    )
}

#[tokio::test]
async fn each_broken_answer_is_a_session_error_naming_it_and_writes_nothing() {
    const JSON: &str = "application/json";
    const SSE: &str = "text/event-stream";
    type Case = (Proto, &'static str, fn(&Seen) -> Step, &'static str);
    let cases: Vec<Case> = vec![
        (
            Proto::OpenAi,
            "HTML",
            |_| {
                raw(
                    "text/html",
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                )
            },
            "the server answered HTML, not JSON: <html><body><h1>502 Bad Gateway",
        ),
        (
            Proto::Anthropic,
            "an empty body",
            |_| raw(JSON, ""),
            "the body is empty",
        ),
        (
            Proto::Anthropic,
            "truncated JSON",
            |_| raw(JSON, r#"{"id":"msg_1","content":[{"type":"te"#),
            "not JSON: EOF while parsing",
        ),
        (
            Proto::OpenAi,
            "choices: []",
            |_| raw(JSON, r#"{"choices":[],"usage":{"prompt_tokens":3}}"#),
            "no `choices[0]`",
        ),
        (
            Proto::OpenAi,
            "a stream of no choices",
            |_| raw(SSE, "data: {\"choices\":[]}\n\ndata: [DONE]\n\n"),
            "no `choices[0]`",
        ),
        (
            Proto::Anthropic,
            "no content",
            |_| raw(JSON, r#"{"type":"message","stop_reason":"end_turn"}"#),
            "no `content` array",
        ),
        (
            Proto::Anthropic,
            "a tool the model was not given",
            |s| {
                Step::Ordered(
                    vec![write_note(s), Either::Tool("teleport".into(), json!({}))],
                    Stop::Tools,
                )
            },
            "the model called a tool it was not given (\"teleport\"); none of its tool calls ran",
        ),
        (
            Proto::OpenAi,
            "a tool the model was not given",
            |s| {
                Step::Ordered(
                    vec![write_note(s), Either::Tool("teleport".into(), json!({}))],
                    Stop::Tools,
                )
            },
            "the model called a tool it was not given (\"teleport\")",
        ),
        (
            Proto::OpenAi,
            "a JSON string inside a string",
            |s| {
                let args = json!({ "file_path": format!("{}/x.md", s.mount()), "content": "x" });
                Step::Ordered(
                    vec![Either::Tool(
                        "write".into(),
                        json!(json!(args.to_string()).to_string()),
                    )],
                    Stop::Tools,
                )
            },
            "the arguments of tool call `write` is a JSON string inside a string, not a JSON object",
        ),
        (
            Proto::Anthropic,
            "a JSON string as the input",
            |s| {
                let args = json!({ "file_path": format!("{}/x.md", s.mount()), "content": "x" });
                Step::Ordered(
                    vec![Either::Tool(
                        "write".into(),
                        json!(json!(args.to_string()).to_string()),
                    )],
                    Stop::Tools,
                )
            },
            "the input of tool call `write` is a JSON string, not a JSON object",
        ),
        (
            Proto::Anthropic,
            "a stream cut mid-event",
            |_| {
                raw(
                    SSE,
                    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[],\"usage\":{\"input_tokens\":5}}}\n\n\
                     event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"write\",\"input\":{}}}\n\n\
                     event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"file_pa",
                )
            },
            "the stream was cut mid-event",
        ),
        (
            Proto::OpenAi,
            "a stream cut mid-event",
            |_| {
                raw(
                    SSE,
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"My size\"}}]}\n\ndata: {\"choices\":[{\"ind",
                )
            },
            "the stream was cut mid-event",
        ),
        (
            Proto::OpenAi,
            "a stream that ends before its finish",
            |_| {
                raw(
                    SSE,
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"My\"}}]}\n\n",
                )
            },
            "the stream ended after",
        ),
        (
            Proto::Anthropic,
            "an error event",
            |_| {
                raw(
                    SSE,
                    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt too long\"}}\n\n",
                )
            },
            "sent an error mid-stream: invalid_request_error: prompt too long",
        ),
    ];
    for (proto, name, step, want) in cases {
        let fake = FakeModel::start(script(step), true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "hi").await;
        let what = format!("{proto:?}, {name}");
        let msg = session_error(&ev);
        assert!(msg.contains(want), "{what}: {msg:?} lacks {want:?}");
        assert!(
            !ev.iter().any(|e| e["type"] == "agent.tool_use"),
            "{what}: a tool call of the broken response ran"
        );
        assert!(
            texts(&ev, "agent.message").is_empty(),
            "{what}: said something"
        );
        assert_eq!(idle_reason(&ev), "retries_exhausted", "{what}");
        assert!(memories(&env, &store).await.is_empty(), "{what}");
        assert_eq!(fake.requests().len(), 1, "{what}: retried");
    }
}
