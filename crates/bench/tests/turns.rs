//! The turn workers against an embedded emulator: every turn is counted, the fixture is cleaned up,
//! and the summary's fields agree with the samples.

use std::time::Duration;

use cma_bench::{BenchError, TurnsConfig, run_turns};
use cma_client::Client;
use cma_client::turn::TurnOptions;
use cma_emulator::{Emulator, EmulatorConfig};

const LIMIT: Duration = Duration::from_secs(60);

fn config(turns: usize, concurrency: usize, per_session: usize) -> TurnsConfig {
    TurnsConfig {
        target: "test".into(),
        model: "claude-sonnet-4-6".into(),
        turns,
        concurrency,
        warmup: 1,
        turns_per_session: per_session,
        turn_options: TurnOptions {
            turn_timeout: Duration::from_secs(30),
            gap_timeout: Duration::from_secs(30),
            max_reconnects: 2,
        },
        p95_budget_ms: None,
        model_timings: None,
    }
}

async fn client_for(emulator: &cma_emulator::RunningEmulator) -> Client {
    Client::builder()
        .base_url(emulator.base_url())
        .no_credentials()
        .build()
        .expect("client")
}

#[tokio::test]
async fn every_turn_is_measured_across_workers_and_sessions() {
    let emulator = tokio::time::timeout(LIMIT, Emulator::start(EmulatorConfig::default()))
        .await
        .expect("emulator starts in time")
        .expect("emulator starts");
    let client = client_for(&emulator).await;
    // 5 turns over 2 workers (3 + 2) plus one warm-up each, a new session every 2 turns.
    let mut cfg = config(5, 2, 2);
    cfg.p95_budget_ms = Some(f64::INFINITY);
    let report = tokio::time::timeout(LIMIT, run_turns(&client, &cfg))
        .await
        .expect("the run finishes in time")
        .expect("the run works");
    let s = &report.summary;
    assert_eq!((s.turns, s.failed_turns, s.concurrency), (5, 0, 2));
    assert_eq!(report.turns.len(), 5);
    assert!(!s.over_budget && !report.failed());
    let idle = &s.idle_ms;
    assert!(idle.p50 > 0.0 && idle.p50 <= idle.p95 && idle.p95 <= idle.max);
    for t in &report.turns {
        assert!(t.idle_ms >= t.first_byte_ms, "{t:?}");
    }
    assert!(s.process_cpu_ms_per_turn.is_some_and(|c| c >= 0.0));

    // The fixture's sessions are archived and its store deleted.
    // Worker 0 runs 1 + 3 turns, worker 1 runs 1 + 2: two sessions each at two turns a session.
    let listed = cma_client::types::ListSessions {
        include_archived: Some(true),
        ..Default::default()
    };
    let sessions = client
        .sessions()
        .list(&listed)
        .await
        .expect("list sessions");
    assert_eq!(sessions.data.len(), 4);
    assert!(sessions.data.iter().all(|s| s.archived_at.is_some()));
    let stores = client
        .memory_stores()
        .list(&Default::default())
        .await
        .expect("list stores");
    assert!(stores.data.is_empty(), "{:?}", stores.data);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_budget_no_turn_can_meet_fails_the_run() {
    let emulator = tokio::time::timeout(LIMIT, Emulator::start(EmulatorConfig::default()))
        .await
        .expect("emulator starts in time")
        .expect("emulator starts");
    let client = client_for(&emulator).await;
    let mut cfg = config(2, 1, 10);
    cfg.p95_budget_ms = Some(0.0);
    let report = tokio::time::timeout(LIMIT, run_turns(&client, &cfg))
        .await
        .expect("the run finishes in time")
        .expect("the run works");
    assert!(report.summary.over_budget && report.failed());
    emulator.shutdown().await;
}

#[tokio::test]
async fn zero_turns_or_workers_are_refused_before_anything_is_created() {
    // No server at all: a refused setting must not reach the network.
    let client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .no_credentials()
        .build()
        .expect("client");
    for cfg in [config(0, 1, 1), config(1, 0, 1)] {
        let r = run_turns(&client, &cfg).await;
        assert!(matches!(r, Err(BenchError::InvalidSettings(_))), "{r:?}");
    }
}

#[tokio::test]
async fn an_unreachable_target_is_a_client_error_naming_the_step() {
    let client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .no_credentials()
        .max_retries(0)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let r = tokio::time::timeout(LIMIT, run_turns(&client, &config(1, 1, 1)))
        .await
        .expect("fails in time");
    match r {
        Err(BenchError::Client { what, .. }) => assert!(what.contains("environment"), "{what}"),
        other => panic!("expected a client error, got {other:?}"),
    }
}

/// A chat-completions server that streams "Noted." in two pieces, then its usage (8 tokens).
async fn streaming_model() -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::{Body, Bytes};
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|| async {
            let chunks = [
                r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Not"}}]}"#,
                r#"data: {"choices":[{"index":0,"delta":{"content":"ed."},"finish_reason":"stop"}]}"#,
                r#"data: {"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":8}}"#,
                "data: [DONE]",
            ];
            let writes: Vec<Result<Bytes, std::convert::Infallible>> = chunks
                .iter()
                .map(|c| Ok(Bytes::from(format!("{c}\n\n"))))
                .collect();
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures::stream::iter(writes)))
                .expect("response")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn a_model_agents_time_to_first_token_and_tokens_per_second_are_reported() {
    let (url, server) = streaming_model().await;
    let timings = cma_emulator::TimingLog::new();
    let agent = cma_emulator::AgentConfig {
        backend: cma_emulator::Backend::OpenAi,
        base_url: Some(url),
        timings: Some(timings.clone()),
        real_shell: false,
        ..Default::default()
    };
    let emulator = tokio::time::timeout(
        LIMIT,
        Emulator::start(EmulatorConfig {
            agent,
            ..EmulatorConfig::default()
        }),
    )
    .await
    .expect("emulator starts in time")
    .expect("emulator starts");
    let client = client_for(&emulator).await;
    let mut cfg = config(3, 1, 3);
    cfg.model_timings = Some(timings);
    let report = tokio::time::timeout(LIMIT, run_turns(&client, &cfg))
        .await
        .expect("the run finishes in time")
        .expect("the run works");
    server.abort();
    assert_eq!((report.summary.turns, report.summary.failed_turns), (3, 0));
    let m = report.summary.model_requests.expect("model figures");
    // One request a turn, the warm-up's included.
    assert_eq!(m.requests, 4);
    assert!(
        m.first_token_ms.p50.is_finite() && m.first_token_ms.p50 > 0.0,
        "{m:?}"
    );
    assert!(m.output_tokens_per_second.p50 > 0.0, "{m:?}");
}
