//! A whole turn through the client's turn loop: against the embedded emulator on loopback (what
//! users' CI sees), and against a server replaying a canned stream (the client's own cost, with
//! no agent work on the other side).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};
use cma_client::Client;
use cma_client::turn::{TurnOptions, run_turn};
use cma_client::types::{
    Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateMemoryStore,
    CreateSession, PermissionPolicy, ResourceParams, Tool,
};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;

fn options() -> TurnOptions {
    TurnOptions {
        turn_timeout: Duration::from_secs(30),
        gap_timeout: Duration::from_secs(30),
        max_reconnects: 2,
    }
}

fn against_emulator(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (emulator, client, session_params) = rt.block_on(async {
        let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default())
            .await
            .expect("emulator");
        let client = Client::builder()
            .base_url(emulator.base_url())
            .api_key("bench")
            .build()
            .expect("client");
        let env = client
            .environments()
            .create(&CreateEnvironment {
                name: "bench".into(),
                ..Default::default()
            })
            .await
            .expect("env");
        let mut agent = CreateAgent::new("bench", "claude-sonnet-4-6");
        agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
            PermissionPolicy::AlwaysAllow(Default::default()),
        ))]);
        let agent = client.agents().create(&agent).await.expect("agent");
        let store = client
            .memory_stores()
            .create(&CreateMemoryStore {
                name: "Bench Prefs".into(),
                ..Default::default()
            })
            .await
            .expect("store");
        let mut params = CreateSession::new(AgentRef::Id(agent.id), env.id);
        params.resources = Some(vec![ResourceParams::memory_store(
            store.id,
            Access::ReadWrite,
            None,
        )]);
        let first = client.sessions().create(&params).await.expect("session");
        run_turn(&client, &first.id, "Hi! I wear a size medium.", &options())
            .await
            .expect("the visit that writes the notes");
        (emulator, client, params)
    });
    // Each measured turn is the first of a new session (a return visit): it reads the store and
    // recalls. Reusing one session would grow its conversation with every iteration.
    c.bench_function("turn_loop/emulator_return_visit_turn", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (client, params) = (client.clone(), session_params.clone());
            async move {
                let mut measured = Duration::ZERO;
                for _ in 0..iters {
                    let session = client.sessions().create(&params).await.expect("session");
                    let started = std::time::Instant::now();
                    let turn = run_turn(&client, &session.id, "What size do I wear?", &options())
                        .await
                        .expect("turn");
                    measured += started.elapsed();
                    assert!(turn.ended_normally() && turn.reply.contains("medium"));
                }
                measured
            }
        })
    });
    rt.block_on(emulator.shutdown());
}

/// The frames of one turn, with the echo id the canned POST returns.
fn canned_turn() -> String {
    let frames = [
        r#"{"type":"user.message","id":"sevt_u","processed_at":"2026-11-24T12:00:00Z","content":[{"type":"text","text":"What size do I wear?"}]}"#,
        r#"{"type":"session.status_running","id":"sevt_1","processed_at":"2026-11-24T12:00:00Z"}"#,
        r#"{"type":"span.model_request_start","id":"sevt_2","processed_at":"2026-11-24T12:00:00Z"}"#,
        r#"{"type":"agent.tool_use","id":"sevt_3","processed_at":"2026-11-24T12:00:00Z","name":"read","input":{"file_path":"/mnt/memory/bench-prefs/preferences.md"}}"#,
        r##"{"type":"agent.tool_result","id":"sevt_4","processed_at":"2026-11-24T12:00:00Z","tool_use_id":"sevt_3","content":[{"type":"text","text":"# Customer notes\n\n## Size\n- Size: medium\n"}]}"##,
        r#"{"type":"agent.message","id":"sevt_5","processed_at":"2026-11-24T12:00:00Z","content":[{"type":"text","text":"Your size is medium."}]}"#,
        r#"{"type":"span.model_request_end","id":"sevt_6","processed_at":"2026-11-24T12:00:00Z","model_request_start_id":"sevt_2","model_usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}"#,
        r#"{"type":"session.status_idle","id":"sevt_7","processed_at":"2026-11-24T12:00:00Z","stop_reason":{"type":"end_turn"}}"#,
    ];
    frames
        .iter()
        .map(|data| {
            let ty = serde_json::from_str::<serde_json::Value>(data).expect("canned json")["type"]
                .as_str()
                .unwrap_or("")
                .to_string();
            format!("event: {ty}\ndata: {data}\n\n")
        })
        .collect()
}

fn against_canned_stream(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let stream_body = canned_turn();
    let (client, server) = rt.block_on(async move {
        let app = Router::new()
            .route(
                "/v1/sessions/{id}/events/stream",
                get(move || {
                    let body = stream_body.clone();
                    async move {
                        // Like a real server, the stream stays open after the turn's frames.
                        let frames = futures::stream::once(async move {
                            Ok::<_, std::convert::Infallible>(body)
                        })
                        .chain(futures::stream::pending());
                        Response::builder()
                            .header(header::CONTENT_TYPE, "text/event-stream")
                            .body(Body::from_stream(frames))
                            .expect("response")
                    }
                }),
            )
            .route(
                "/v1/sessions/{id}/events",
                post(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"data":[{"type":"user.message","id":"sevt_u","processed_at":"2026-11-24T12:00:00Z","content":[{"type":"text","text":"What size do I wear?"}]}]}"#,
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::builder().base_url(format!("http://{addr}")).api_key("bench").build().expect("client");
        (client, server)
    });
    c.bench_function("turn_loop/client_only_canned_stream", |b| {
        b.to_async(&rt).iter(|| async {
            let turn = run_turn(&client, "sesn_bench", "What size do I wear?", &options())
                .await
                .expect("turn");
            assert_eq!(turn.events.len(), 8);
        })
    });
    server.abort();
}

criterion_group!(benches, against_emulator, against_canned_stream);
criterion_main!(benches);
