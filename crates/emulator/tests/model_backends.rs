//! The model backends against scripted fake servers of both protocols (tests/common/fake_models.rs):
//! the loop, its events and usage, history, retries, failures and the iteration cap.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_models.rs"]
mod fake_models;
#[path = "common/model_env.rs"]
mod model_env;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cma_client::types::Access;
use cma_emulator::{AgentConfig, ApiKey, Backend};
use common::t;
use fake_models::{Either, FakeModel, Proto, Seen, Step, memory_model, say, tool};
use model_env::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn reads_writes_and_answers_with_one_span_per_model_call_and_history() {
    for proto in PROTOS {
        let fake = FakeModel::start(memory_model(true), true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, store) = session_on_store(&env, "claude-sonnet-4-6", Access::ReadWrite).await;

        let first = turn(&env, &sid, "Hello! My shoe size is 41.").await;
        assert_eq!(
            kinds(&first),
            [
                "user.message",
                "session.status_running",
                "session.thread_status_running",
                "span.model_request_start",
                "agent.tool_use",
                "agent.tool_result",
                "span.model_request_end",
                "span.model_request_start",
                "agent.tool_use",
                "agent.tool_result",
                "span.model_request_end",
                "span.model_request_start",
                "agent.message",
                "span.model_request_end",
                "session.usage",
                "session.thread_status_idle",
                "session.status_idle",
            ],
            "{proto:?}: {first:#?}"
        );
        assert_eq!(texts(&first, "agent.message"), ["Noted, thank you."]);
        assert_eq!(idle_reason(&first), "end_turn");
        // Each span reports the fake model's own usage for its call, and closes its own start.
        let ends: Vec<&Value> = first
            .iter()
            .filter(|e| e["type"] == "span.model_request_end")
            .collect();
        let starts: Vec<&Value> = first
            .iter()
            .filter(|e| e["type"] == "span.model_request_start")
            .collect();
        let base = if proto == Proto::Anthropic {
            1000
        } else {
            2000
        };
        for (i, (end, start)) in ends.iter().zip(&starts).enumerate() {
            assert_eq!(end["model_request_start_id"], start["id"]);
            assert_eq!(
                end["model_usage"]["output_tokens"],
                json!(if proto == Proto::Anthropic {
                    10 + i
                } else {
                    20 + i
                })
            );
            assert_eq!(end["model_usage"]["input_tokens"], json!(base + i));
        }
        // The write is a memory version by the session.
        let mem = t(env
            .client
            .memory_stores()
            .memories()
            .list(&store, &Default::default()))
        .await
        .unwrap();
        let paths: Vec<String> = mem.data.iter().map(|m| format!("{:?}", m)).collect();
        assert!(
            paths.iter().any(|p| p.contains("notes.md")),
            "{proto:?}: {paths:?}"
        );

        let second = turn(&env, &sid, "What is my shoe size?").await;
        assert_eq!(
            texts(&second, "agent.message"),
            ["From my notes: shoe size: 41"],
            "{proto:?}"
        );

        fake.assert_clean();
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 5, "{proto:?}");
        let last = &reqs[4].body;
        assert_eq!(last["model"], "claude-sonnet-4-6");
        // The second turn's first request carries the first turn, as the model produced it.
        let history = serde_json::to_string(&reqs[3].body["messages"]).unwrap();
        for piece in [
            "My shoe size is 41.",
            "Noted, thank you.",
            "shoe size: 41",
            "What is my shoe size?",
        ] {
            assert!(
                history.contains(piece),
                "{proto:?}: {piece:?} missing from {history}"
            );
        }
        // The debug route returns the very system prompt the model was sent.
        let r = env
            .raw(
                Method::GET,
                &format!("/emulator/sessions/{sid}/system_prompt"),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = match proto {
            Proto::Anthropic => reqs[0].body["system"].as_str().unwrap().to_string(),
            Proto::OpenAi => reqs[0].body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_string(),
        };
        assert_eq!(r.body["system_prompt"], json!(sent));
        assert!(
            sent.contains("## /mnt/memory/customer-notes\n- name: Customer Notes\n"),
            "{sent}"
        );
        // The key goes as the protocol wants it.
        let h = &reqs[0].headers;
        match proto {
            Proto::Anthropic => assert_eq!(h["x-api-key"], "sk-test-not-secret"),
            Proto::OpenAi => assert_eq!(h["authorization"], "Bearer sk-test-not-secret"),
        }
    }
}

#[tokio::test]
async fn several_tool_uses_in_one_response_and_text_mixed_with_tools() {
    for proto in PROTOS {
        let s = script(|s: &Seen| match s.results.len() {
            0 => Step::Mixed(vec![
                Either::Text("Let me look.".into()),
                Either::Tool(
                    "glob".into(),
                    json!({ "pattern": "**/*", "path": s.mount() }),
                ),
                Either::Text("And the notes.".into()),
                Either::Tool(
                    "read".into(),
                    json!({ "file_path": format!("{}/notes.md", s.mount()) }),
                ),
            ]),
            n => say(&format!("{n} results")),
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "claude-sonnet-4-6", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "Anything?").await;
        let k = kinds(&ev);
        let order: Vec<&str> = k
            .iter()
            .copied()
            .filter(|k| k.starts_with("agent."))
            .collect();
        match proto {
            // The Messages API keeps the blocks' order.
            Proto::Anthropic => assert_eq!(
                order,
                [
                    "agent.message",
                    "agent.tool_use",
                    "agent.tool_result",
                    "agent.message",
                    "agent.tool_use",
                    "agent.tool_result",
                    "agent.message"
                ]
            ),
            // A chat completion has one text, before its tool calls.
            Proto::OpenAi => assert_eq!(
                order,
                [
                    "agent.message",
                    "agent.tool_use",
                    "agent.tool_result",
                    "agent.tool_use",
                    "agent.tool_result",
                    "agent.message"
                ]
            ),
        }
        assert_eq!(texts(&ev, "agent.message").last().unwrap(), "2 results");
        assert_eq!(fake.requests().len(), 2);
        fake.assert_clean();
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    for proto in PROTOS {
        let s = script(|s: &Seen| match s.call {
            0 => Step::Raw {
                status: 429,
                headers: vec![("retry-after", "1".into())],
                body:
                    r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
                        .into(),
            },
            _ => say("ok"),
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        let started = Instant::now();
        let ev = turn(&env, &sid, "hi").await;
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "retry-after was not honoured"
        );
        assert_eq!(texts(&ev, "agent.message"), ["ok"]);
        assert_eq!(idle_reason(&ev), "end_turn");
        assert_eq!(fake.requests().len(), 2);
        fake.assert_clean();
    }
}

#[tokio::test]
async fn overloaded_until_retries_run_out_ends_with_session_error() {
    for proto in PROTOS {
        let s = script(|_| Step::Raw {
            status: 529,
            headers: vec![("retry-after-ms", "10".into())],
            body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                .into(),
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "hi").await;
        assert_eq!(
            fake.requests().len(),
            3,
            "one attempt and the client's two retries"
        );
        let err = ev
            .iter()
            .find(|e| e["type"] == "session.error")
            .expect("a session.error");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("3 attempts") && msg.contains("HTTP 529") && msg.contains("Overloaded"),
            "{msg}"
        );
        assert_eq!(idle_reason(&ev), "retries_exhausted");
        assert!(!ev.iter().any(|e| e["type"] == "agent.message"));
    }
}

#[tokio::test]
async fn a_write_to_a_read_only_mount_is_fed_back_as_an_error() {
    for proto in PROTOS {
        let s = script(|s: &Seen| match s.results.first() {
            None => tool(
                "write",
                json!({ "file_path": format!("{}/notes.md", s.mount()), "content": "x" }),
            ),
            Some(r) => say(&format!("error={} {}", r.is_error, r.text)),
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, store) = session_on_store(&env, "m", Access::ReadOnly).await;
        let ev = turn(&env, &sid, "save it").await;
        let result = ev
            .iter()
            .find(|e| e["type"] == "agent.tool_result")
            .unwrap();
        assert_eq!(result["is_error"], true);
        let reply = &texts(&ev, "agent.message")[0];
        assert!(
            reply.starts_with("error=true") && reply.contains("Read-only"),
            "{reply}"
        );
        let mem = t(env
            .client
            .memory_stores()
            .memories()
            .list(&store, &Default::default()))
        .await
        .unwrap();
        assert!(mem.data.is_empty(), "nothing was stored");
        assert!(
            fake.requests()[0]
                .body
                .to_string()
                .contains("- access: read_only")
        );
        fake.assert_clean();
    }
}

/// Input the model got wrong (missing fields, text that is not JSON) and the toolset's web
/// tools, which the emulator cannot run, are error results the model can recover from.
#[tokio::test]
async fn invalid_input_and_web_tools_become_error_results() {
    for proto in PROTOS {
        let s = script(move |s: &Seen| match s.results.len() {
            0 => tool("read", json!({ "path": "no file_path" })),
            1 => tool("web_fetch", json!({ "url": "https://example.com" })),
            // Streamed as the tool input's raw text (both protocols).
            2 => tool("read", Value::String("{not json".into())),
            _ => say(&format!(
                "{:?}",
                s.results.iter().map(|r| r.is_error).collect::<Vec<_>>()
            )),
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "go").await;
        assert_eq!(
            texts(&ev, "agent.message"),
            ["[true, true, true]"],
            "{proto:?}: {ev:#?}"
        );
        assert_eq!(idle_reason(&ev), "end_turn");
        fake.assert_clean();
    }
}

#[tokio::test]
async fn an_interrupt_stops_the_loop_between_calls() {
    for proto in PROTOS {
        let s = script(|s: &Seen| tool("glob", json!({ "pattern": "*", "path": s.mount() })));
        let fake = FakeModel::start(s, true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        // The third model call is held until the interrupt is in; its tool call must not run.
        let (arrived, release) = fake.hold(2);
        send(&env, &sid, "loop").await;
        t(arrived.notified()).await;
        interrupt(&env, &sid).await;
        release.notify_one();
        env.wait_idle(&sid).await;
        let ev = events(&env, &sid).await;
        let at = ev
            .iter()
            .position(|e| e["type"] == "user.interrupt")
            .unwrap();
        assert_eq!(
            ev[..at]
                .iter()
                .filter(|e| e["type"] == "agent.tool_result")
                .count(),
            2
        );
        let after = ev[at..]
            .iter()
            .filter(|e| e["type"] == "agent.tool_use")
            .count();
        assert_eq!(after, 0, "a tool use after the interrupt: {ev:#?}");
        assert_eq!(idle_reason(&ev), "end_turn");
        assert!(!ev.iter().any(|e| e["type"] == "session.error"));
        let calls = fake.requests().len();
        assert_eq!(calls, 3, "no model call after the interrupt");
        // The loop has ended: nothing more reaches the model.
        assert_eq!(fake.requests().len(), calls);
    }
}

#[tokio::test]
async fn a_model_that_never_stops_calling_tools_hits_the_iteration_cap() {
    for proto in PROTOS {
        let s = script(|s: &Seen| tool("glob", json!({ "pattern": "*", "path": s.mount() })));
        let fake = FakeModel::start(s, true).await;
        let env = emulator(AgentConfig {
            max_iterations: 4,
            ..config(&fake, proto)
        })
        .await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        let ev = turn(&env, &sid, "loop").await;
        assert_eq!(fake.requests().len(), 4);
        let err = ev
            .iter()
            .find(|e| e["type"] == "session.error")
            .expect("a session.error");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("iteration cap")
        );
        assert_eq!(idle_reason(&ev), "retries_exhausted");
        let spans = ev
            .iter()
            .filter(|e| e["type"] == "span.model_request_end")
            .count();
        assert_eq!(spans, 4);
        fake.assert_clean();
    }
}

#[tokio::test]
async fn a_malformed_response_and_a_rejected_key_fail_the_turn_without_the_key() {
    const KEY: &str = "sk-ant-very-secret-123";
    for proto in PROTOS {
        let s = script(|s: &Seen| match s.call {
            0 => Step::Raw {
                status: 200,
                headers: vec![],
                body: "{\"unexpected\": true}".into(),
            },
            _ => Step::Raw {
                status: 401,
                headers: vec![],
                body: format!(
                    "{{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key {KEY}\"}}}}"
                ),
            },
        });
        let fake = FakeModel::start(s, true).await;
        let env = emulator(AgentConfig {
            api_key: Some(ApiKey::new(KEY)),
            ..config(&fake, proto)
        })
        .await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        let first = turn(&env, &sid, "one").await;
        let msg = first.iter().find(|e| e["type"] == "session.error").unwrap()["error"]["message"]
            .to_string();
        assert!(msg.contains("malformed model response"), "{msg}");
        let second = turn(&env, &sid, "two").await;
        let msg = second
            .iter()
            .find(|e| e["type"] == "session.error")
            .unwrap()["error"]["message"]
            .to_string();
        assert!(
            msg.contains("HTTP 401") && msg.contains("[redacted]"),
            "{msg}"
        );
        assert_eq!(fake.requests().len(), 2, "a 401 is not retried");
        let all = serde_json::to_string(&events(&env, &sid).await).unwrap();
        assert!(
            !all.contains(KEY),
            "the key leaked into the session's events"
        );
        assert!(
            !format!(
                "{:?}",
                AgentConfig {
                    api_key: Some(ApiKey::new(KEY)),
                    ..AgentConfig::default()
                }
            )
            .contains(KEY)
        );
    }
}

#[tokio::test]
async fn agent_model_overrides_the_model_id_and_emulator_ids_keep_their_behaviours() {
    let fake = FakeModel::start(Arc::new(|_: &Seen| say("hi")), false).await;
    let env = emulator(AgentConfig {
        model: Some("qwen2.5:7b".into()),
        ..config(&fake, Proto::OpenAi)
    })
    .await;
    let (sid, _) = session_on_store(&env, "claude-sonnet-4-6", Access::ReadWrite).await;
    turn(&env, &sid, "hello").await;
    assert_eq!(fake.requests()[0].body["model"], "qwen2.5:7b");
    let (sid, _) = session_on_store(&env, "emulator:stall", Access::ReadWrite).await;
    send(&env, &sid, "hello").await;
    // A stalled session stays running; the model is never asked.
    let s = t(env.client.sessions().retrieve(&sid)).await.unwrap();
    assert_eq!(format!("{:?}", s.status), "Running");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn no_network_model_server_fails_the_turn_after_retries() {
    // A port nothing listens on: connection refused, retried, then a session.error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let env = emulator(AgentConfig {
        backend: Backend::Anthropic,
        base_url: Some(format!("http://127.0.0.1:{port}")),
        max_retries: 1,
        ..AgentConfig::default()
    })
    .await;
    let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
    let ev = turn(&env, &sid, "hi").await;
    let msg =
        ev.iter().find(|e| e["type"] == "session.error").unwrap()["error"]["message"].to_string();
    assert!(
        msg.contains("2 attempts") && msg.contains("could not reach"),
        "{msg}"
    );
    assert_eq!(idle_reason(&ev), "retries_exhausted");
}

#[tokio::test]
async fn a_models_bash_runs_in_the_real_shell_and_its_writes_are_versions() {
    if !cma_emulator::real_shell_available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "bubblewrap is required under CI=true"
        );
        eprintln!("bwrap is not available: skipping (CI=true makes this a failure)");
        return;
    }
    let s = script(|s: &Seen| match s.results.len() {
        0 => tool(
            "bash",
            json!({ "command": format!("printf 'size: 41\\n' | tee {m}/a.md {m}/b.md > /dev/null; cat {m}/*.md | wc -l; cd {m}", m = s.mount()) }),
        ),
        1 => tool(
            "bash",
            json!({ "command": "pwd; sed -i 's/41/42/' b.md && cat b.md" }),
        ),
        _ => say(&s
            .results
            .iter()
            .map(|r| r.text.trim().to_string())
            .collect::<Vec<_>>()
            .join("|")),
    });
    let fake = FakeModel::start(s, true).await;
    let env = emulator(config(&fake, Proto::Anthropic)).await;
    let (sid, store) = session_on_store(&env, "m", Access::ReadWrite).await;
    let ev = turn(&env, &sid, "go").await;
    assert_eq!(
        texts(&ev, "agent.message"),
        ["2|/mnt/memory/customer-notes\nsize: 42"],
        "{ev:#?}"
    );
    let mem = t(env
        .client
        .memory_stores()
        .memories()
        .list(&store, &Default::default()))
    .await
    .unwrap();
    let mut got: Vec<String> = mem
        .data
        .iter()
        .filter_map(|m| match m {
            cma_client::types::MemoryListItem::Memory(m) => Some(m.path.clone()),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, ["/a.md", "/b.md"]);
    let r = env
        .raw(
            Method::GET,
            &format!("/v1/memory_stores/{store}/memory_versions?limit=100"),
            &[common::AM],
            None,
        )
        .await;
    let versions = r.body["data"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "two creations and one edit: {}", r.text);
    assert!(
        versions
            .iter()
            .all(|v| v["created_by"]["session_id"] == json!(sid)),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn an_interrupt_during_a_slow_model_call_ends_the_turn_at_once() {
    for proto in PROTOS {
        let fake = FakeModel::start(Arc::new(|_: &Seen| say("too late")), true).await;
        let env = emulator(config(&fake, proto)).await;
        let (sid, _) = session_on_store(&env, "m", Access::ReadWrite).await;
        // The first answer is held until after the session is idle.
        let (arrived, release) = fake.hold(0);
        send(&env, &sid, "hello").await;
        t(arrived.notified()).await;
        interrupt(&env, &sid).await;
        env.wait_idle(&sid).await;
        let ev = events(&env, &sid).await;
        assert_eq!(idle_reason(&ev), "end_turn");
        assert!(!ev.iter().any(|e| e["type"] == "agent.message"), "{ev:#?}");
        release.notify_one();
    }
}

/// The reference model's parser is the inverse of the one rendering of the system prompt: what
/// the fake agent is given is exactly what the prompt says, and a store without its access is
/// refused rather than guessed.
#[test]
fn the_reference_model_reads_mounts_back_from_the_rendered_prompt() {
    use cma_emulator::agent::{Mount, prompt};
    use fake_models::reference_model::parse_memory_section;
    let mounts = vec![
        Mount {
            path: "/mnt/memory/shopper-prefs".into(),
            store_name: "Shopper Preferences".into(),
            store_description: "Sizes and budget.".into(),
            access: Access::ReadWrite,
            instructions: Some("Keep it current.".into()),
        },
        Mount {
            path: "/mnt/memory/catalog".into(),
            store_name: "Catalog".into(),
            store_description: String::new(),
            access: Access::ReadOnly,
            instructions: None,
        },
    ];
    let text = prompt::render(Some("You help shoppers.\n\nBe brief."), &mounts);
    let (system, parsed) = parse_memory_section(&text).unwrap();
    assert_eq!(system.as_deref(), Some("You help shoppers.\n\nBe brief."));
    assert_eq!(parsed, mounts);
    let (system, parsed) = parse_memory_section(&prompt::render(None, &mounts)).unwrap();
    assert_eq!((system, parsed), (None, mounts));
    let broken = text.replace("- access: read_only\n", "");
    let err = parse_memory_section(&broken).unwrap_err();
    assert!(err.contains("/mnt/memory/catalog"), "{err}");
}
