//! The retry policy: which statuses are retried, how `x-should-retry` overrides them, what the
//! final error carries, and how long the client waits (server hints first, then jittered backoff).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cma_client::{Client, ClientBuilder, Config, Error};
use common::{MockServer, Reply, memory_store_json, within};
use serde_json::json;

fn store() -> Reply {
    Reply::ok(memory_store_json("memstore_1"))
}

fn builder(base: &str) -> ClientBuilder {
    ClientBuilder::from_config(Config::default())
        .base_url(base)
        .api_key("test")
        .backoff_scale(0.0)
}

/// A client whose computed backoff would take days: a call that completes in time must have
/// waited on the server's hint, not on the backoff.
fn slow_backoff_client(base: &str) -> Client {
    builder(base)
        .backoff_scale(1_000_000.0)
        .build()
        .expect("client")
}

async fn retrieve(c: &Client) -> cma_client::Result<cma_client::types::MemoryStore> {
    within("retrieve", c.memory_stores().retrieve("memstore_1")).await
}

fn retry_counts(srv: &MockServer) -> Vec<u32> {
    srv.requests().iter().map(|r| r.retry_count()).collect()
}

fn api(err: &Error) -> &cma_client::ApiError {
    err.api()
        .unwrap_or_else(|| panic!("expected an API error, got {err:?}"))
}

// ------------------------------------------------------------------------------------------------
// Retried statuses and the retry-count header
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_with_retry_after_ms_waits_on_the_hint() {
    let srv = MockServer::scripted(vec![
        Reply::error(429, "rate_limit_error", "slow down").header("retry-after-ms", "1"),
        store(),
    ])
    .await;
    let got = retrieve(&slow_backoff_client(&srv.base))
        .await
        .expect("retried to success");
    assert_eq!(got.id, "memstore_1");
    assert_eq!(retry_counts(&srv), vec![0, 1]);
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds_waits_on_the_hint() {
    let srv = MockServer::scripted(vec![
        Reply::error(429, "rate_limit_error", "slow down").header("retry-after", "0.001"),
        store(),
    ])
    .await;
    retrieve(&slow_backoff_client(&srv.base))
        .await
        .expect("retried to success");
    assert_eq!(retry_counts(&srv), vec![0, 1]);
}

#[tokio::test]
async fn a_long_hint_is_waited_out_not_skipped() {
    // The hint says ten minutes; the client must still be waiting (one request seen) when the
    // test gives up on it. This timeout is the behaviour under test, not synchronisation.
    let srv = MockServer::scripted(vec![
        Reply::error(429, "rate_limit_error", "slow down").header("retry-after-ms", "600000"),
        store(),
    ])
    .await;
    let c = srv.client();
    let outcome = tokio::time::timeout(
        Duration::from_millis(300),
        c.memory_stores().retrieve("memstore_1"),
    )
    .await;
    assert!(
        outcome.is_err(),
        "the call should still be waiting on the hint, got {outcome:?}"
    );
    assert_eq!(srv.count(), 1);
}

#[tokio::test]
async fn overloaded_then_server_error_then_success() {
    let srv = MockServer::scripted(vec![
        Reply::error(529, "overloaded_error", "overloaded"),
        Reply::error(500, "api_error", "boom"),
        store(),
    ])
    .await;
    retrieve(&srv.client())
        .await
        .expect("third attempt succeeds");
    assert_eq!(retry_counts(&srv), vec![0, 1, 2]);
    // Each attempt is the same request, rebuilt.
    let reqs = srv.requests();
    assert!(
        reqs.iter()
            .all(|r| r.path == "/v1/memory_stores/memstore_1" && r.method == "GET")
    );
}

#[tokio::test]
async fn post_bodies_are_resent_on_retry() {
    let srv =
        MockServer::scripted(vec![Reply::error(503, "api_error", "unavailable"), store()]).await;
    let c = srv.client();
    within(
        "create",
        c.memory_stores()
            .create(&cma_client::types::CreateMemoryStore {
                name: "x".into(),
                ..Default::default()
            }),
    )
    .await
    .expect("retried");
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body_str(), r#"{"name":"x"}"#);
    assert_eq!(reqs[1].body_str(), r#"{"name":"x"}"#);
    assert_eq!(retry_counts(&srv), vec![0, 1]);
}

#[tokio::test]
async fn exhausted_retries_return_the_last_error_in_full() {
    let srv = MockServer::scripted(vec![
        Reply::error(500, "api_error", "first"),
        Reply::error(503, "api_error", "second"),
        Reply::json(
            529,
            json!({"type": "error",
                   "error": {"type": "overloaded_error", "message": "third", "details": {"error_code": "capacity"}},
                   "request_id": "req_from_body"}),
        )
        .header("request-id", "req_from_header"),
        store(),
    ])
    .await;
    let err = retrieve(&srv.client())
        .await
        .expect_err("three failures exhaust max_retries = 2");
    assert_eq!(retry_counts(&srv), vec![0, 1, 2]);
    let e = api(&err);
    assert_eq!(e.status, 529);
    assert_eq!(e.error_type, "overloaded_error");
    assert_eq!(e.message, "third");
    assert_eq!(e.error_code.as_deref(), Some("capacity"));
    assert_eq!(
        e.request_id.as_deref(),
        Some("req_from_header"),
        "the header wins over the body"
    );
    assert_eq!(e.body["error"]["details"]["error_code"], "capacity");
    assert_eq!(err.status(), Some(529));
    assert_eq!(err.error_type(), Some("overloaded_error"));
    let shown = err.to_string();
    for part in [
        "529",
        "overloaded_error",
        "third",
        "capacity",
        "req_from_header",
    ] {
        assert!(shown.contains(part), "{part} missing from {shown}");
    }
}

#[tokio::test]
async fn max_retries_sets_the_number_of_attempts() {
    for (max, attempts) in [(0u32, 1usize), (1, 2), (4, 5)] {
        let srv = MockServer::start(|_, _| Reply::error(500, "api_error", "always")).await;
        let c = builder(&srv.base).max_retries(max).build().expect("client");
        let err = retrieve(&c).await.expect_err("always fails");
        assert_eq!(err.status(), Some(500));
        assert_eq!(srv.count(), attempts, "max_retries {max}");
        let expected: Vec<u32> = (0..attempts as u32).collect();
        assert_eq!(retry_counts(&srv), expected);
    }
}

#[tokio::test]
async fn request_timeout_408_is_retried() {
    let srv = MockServer::scripted(vec![Reply::error(408, "timeout_error", "slow"), store()]).await;
    retrieve(&srv.client()).await.expect("retried");
    assert_eq!(srv.count(), 2);
}

// ------------------------------------------------------------------------------------------------
// Statuses that are not retried, and the 409 special cases
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_errors_are_not_retried() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (412, "invalid_request_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
    ] {
        let srv = MockServer::scripted(vec![Reply::error(status, kind, "no"), store()]).await;
        let err = retrieve(&srv.client()).await.expect_err("not retried");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.error_type(), Some(kind));
        assert_eq!(srv.count(), 1, "status {status} must not be retried");
        if status == 404 {
            assert!(err.is_not_found());
        }
    }
}

#[tokio::test]
async fn precondition_conflict_is_never_retried_even_if_the_server_says_so() {
    for should_retry in [None, Some("true")] {
        let mut reply = Reply::error(
            409,
            "memory_precondition_failed_error",
            "content_sha256 precondition failed",
        );
        if let Some(v) = should_retry {
            reply = reply.header("x-should-retry", v);
        }
        let srv = MockServer::scripted(vec![reply, store()]).await;
        let err = retrieve(&srv.client()).await.expect_err("not retried");
        assert_eq!(srv.count(), 1, "x-should-retry {should_retry:?}");
        assert!(err.is_precondition_failed());
        assert_eq!(err.status(), Some(409));
    }
}

#[tokio::test]
async fn path_conflict_is_not_retried() {
    let srv = MockServer::scripted(vec![
        Reply::error(409, "memory_path_conflict_error", "path taken"),
        store(),
    ])
    .await;
    let err = retrieve(&srv.client()).await.expect_err("not retried");
    assert_eq!(srv.count(), 1);
    assert_eq!(err.error_type(), Some("memory_path_conflict_error"));
    assert!(!err.is_precondition_failed());
}

#[tokio::test]
async fn a_generic_conflict_is_retried_as_the_sdk_does() {
    let srv =
        MockServer::scripted(vec![Reply::error(409, "conflict_error", "busy"), store()]).await;
    retrieve(&srv.client()).await.expect("retried to success");
    assert_eq!(retry_counts(&srv), vec![0, 1]);
}

#[tokio::test]
async fn x_should_retry_false_stops_a_server_error() {
    let srv = MockServer::scripted(vec![
        Reply::error(500, "api_error", "final").header("x-should-retry", "false"),
        store(),
    ])
    .await;
    let err = retrieve(&srv.client()).await.expect_err("not retried");
    assert_eq!(err.status(), Some(500));
    assert_eq!(srv.count(), 1);
}

#[tokio::test]
async fn x_should_retry_true_retries_a_bad_request() {
    let srv = MockServer::scripted(vec![
        Reply::error(400, "invalid_request_error", "try again").header("x-should-retry", "true"),
        store(),
    ])
    .await;
    retrieve(&srv.client()).await.expect("retried to success");
    assert_eq!(retry_counts(&srv), vec![0, 1]);
}

// ------------------------------------------------------------------------------------------------
// Transport failures
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn connection_refused_is_a_connection_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener); // nothing listens there any more
    let c = common::client(&format!("http://{addr}"));
    let err = retrieve(&c).await.expect_err("refused");
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(err.status(), None);
}

/// Accepts connections and closes each at once; counts them.
async fn closing_server() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{addr}"), accepted, task)
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported() {
    let (base, accepted, task) = closing_server().await;
    let err = retrieve(&common::client(&base))
        .await
        .expect_err("every connection drops");
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "one attempt and two retries"
    );
    task.abort();
}

#[tokio::test]
async fn a_silent_server_times_out_and_the_timeout_is_retried() {
    // Accepts and holds every connection without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    let c = builder(&format!("http://{addr}"))
        .timeout(Duration::from_millis(200))
        .max_retries(1)
        .build()
        .expect("client");
    let err = retrieve(&c).await.expect_err("times out");
    assert!(
        matches!(err, Error::Timeout(d) if d == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    task.abort();
}

// ------------------------------------------------------------------------------------------------
// Odd bodies
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_error_body_that_is_not_json_keeps_the_raw_text() {
    let raw = "<html><body>502 Bad Gateway</body></html>";
    let srv =
        MockServer::scripted(vec![Reply::text(502, raw).header("request-id", "req_gw")]).await;
    let c = builder(&srv.base).max_retries(0).build().expect("client");
    let err = retrieve(&c).await.expect_err("502");
    let e = api(&err);
    assert_eq!(e.status, 502);
    assert_eq!(e.error_type, "api_error");
    assert!(e.message.contains("502 Bad Gateway"), "{}", e.message);
    assert_eq!(e.body, json!(raw));
    assert_eq!(e.request_id.as_deref(), Some("req_gw"));
    assert_eq!(e.error_code, None);

    let srv = MockServer::scripted(vec![Reply::text(503, "")]).await;
    let c = builder(&srv.base).max_retries(0).build().expect("client");
    let err = retrieve(&c).await.expect_err("503");
    assert_eq!(api(&err).message, "Service Unavailable");
}

#[tokio::test]
async fn the_request_id_falls_back_to_the_body() {
    let srv = MockServer::scripted(vec![Reply::json(
        404,
        json!({"type": "error", "error": {"type": "not_found_error", "message": "gone"}, "request_id": "req_b"}),
    )])
    .await;
    let err = retrieve(&srv.client()).await.expect_err("404");
    assert_eq!(api(&err).request_id.as_deref(), Some("req_b"));
    assert_eq!(api(&err).message, "gone");
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error_with_a_snippet() {
    let srv = MockServer::scripted(vec![Reply::text(200, r#"{"id": "memstore_1", oops"#)]).await;
    let err = retrieve(&srv.client()).await.expect_err("not JSON");
    match &err {
        Error::Decode { what, snippet, .. } => {
            assert!(what.contains("/v1/memory_stores/memstore_1"), "{what}");
            assert_eq!(snippet, r#"{"id": "memstore_1", oops"#);
        }
        other => panic!("expected Error::Decode, got {other:?}"),
    }
    assert_eq!(srv.count(), 1, "a decode error is not retried");

    // Valid JSON of the wrong shape is a decode error too, and long bodies are cut short.
    let long = json!({"unexpected": "x".repeat(1000)});
    let srv = MockServer::scripted(vec![Reply::ok(long)]).await;
    match retrieve(&srv.client()).await.expect_err("wrong shape") {
        Error::Decode {
            snippet, message, ..
        } => {
            assert!(snippet.starts_with(r#"{"unexpected":"xxx"#), "{snippet}");
            assert_eq!(snippet.chars().count(), 200);
            assert!(message.contains("missing field"), "{message}");
        }
        other => panic!("expected Error::Decode, got {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------------
// The policy functions themselves
// ------------------------------------------------------------------------------------------------
