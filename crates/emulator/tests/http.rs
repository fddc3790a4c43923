//! Transport rules: beta headers, auth, body limits, error bodies, malformed input, faults.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use cma_client::types::*;
use cma_emulator::{EmulatorConfig, FaultConfig};
use common::*;
use reqwest::Method;

#[tokio::test]
async fn beta_header_rules() {
    let env = start().await;
    let ok = env.raw(Method::GET, "/v1/memory_stores", &[AM], None).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers
            .get("request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("req_01")
    );
    assert_eq!(
        env.raw(Method::GET, "/v1/memory_stores", &[MA], None)
            .await
            .status,
        200
    );
    assert_eq!(
        env.raw(
            Method::GET,
            "/v1/memory_stores",
            &["foo-2025-01-01", AM],
            None
        )
        .await
        .status,
        200
    );

    let both = env
        .raw(Method::GET, "/v1/memory_stores", &[AM, MA], None)
        .await;
    both.assert_error(400, "invalid_request_error");
    assert!(both.message().contains("anthropic-beta"));
    // Both headers on a write change nothing.
    let w = env
        .raw(
            Method::POST,
            "/v1/memory_stores",
            &[AM, MA],
            Some(r#"{"name":"x"}"#),
        )
        .await;
    w.assert_error(400, "invalid_request_error");
    assert!(
        t(env
            .client
            .memory_stores()
            .list(&ListMemoryStores::default()))
        .await
        .unwrap()
        .data
        .is_empty()
    );

    let none = env.raw(Method::GET, "/v1/memory_stores", &[], None).await;
    none.assert_error(400, "invalid_request_error");
    assert!(none.message().contains(AM));

    for path in ["/v1/agents", "/v1/environments", "/v1/sessions"] {
        let r = env.raw(Method::GET, path, &[AM], None).await;
        r.assert_error(400, "invalid_request_error");
        assert!(r.message().contains(MA), "{}", r.message());
        assert_eq!(env.raw(Method::GET, path, &[MA], None).await.status, 200);
    }
}

/// Breaks if the emulator stops requiring `anthropic-version` (drop the check in `api/mod.rs`).
#[tokio::test]
async fn version_header_is_required() {
    let env = start().await;
    let url = env.url("/v1/memory_stores");
    let bare = reqwest::Client::new();
    let resp = t(bare
        .post(&url)
        .header("anthropic-beta", AM)
        .header("content-type", "application/json")
        .body(r#"{"name":"no version"}"#)
        .send())
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().contains_key("request-id"));
    let body: serde_json::Value = t(resp.json()).await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("anthropic-version"),
        "{body}"
    );
    // Nothing was created.
    let stores = t(env
        .client
        .memory_stores()
        .list(&ListMemoryStores::default()))
    .await
    .unwrap();
    assert!(stores.data.is_empty(), "{:?}", stores.data);
}

#[tokio::test]
async fn auth_rules() {
    let env = start_with(EmulatorConfig {
        api_key: Some("sekret".into()),
        ..Default::default()
    })
    .await;
    let url = env.url("/v1/memory_stores");
    let send = |rb: reqwest::RequestBuilder| async move {
        let resp = t(rb.header("anthropic-beta", AM).send()).await.unwrap();
        (resp.status().as_u16(), t(resp.text()).await.unwrap())
    };
    let (s, body) = send(env.http.get(&url)).await;
    assert_eq!(s, 401);
    assert!(body.contains("authentication_error"), "{body}");
    assert_eq!(
        send(env.http.get(&url).header("x-api-key", "wrong"))
            .await
            .0,
        401
    );
    assert_eq!(
        send(env.http.get(&url).header("authorization", "Bearer wrong"))
            .await
            .0,
        401
    );
    assert_eq!(
        send(env.http.get(&url).header("x-api-key", "sekret"))
            .await
            .0,
        200
    );
    assert_eq!(
        send(env.http.get(&url).header("authorization", "Bearer sekret"))
            .await
            .0,
        200
    );
    // The typed client (x-api-key) works with the right key only.
    let good = client_for(&env.emu.base_url(), Some("sekret"));
    t(good.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap();
    let bad = client_for(&env.emu.base_url(), Some("nope"));
    let e = t(bad.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), Some("authentication_error"));

    // Without a configured key anything goes, even no key at all.
    let open = start().await;
    let anon = client_for(&open.emu.base_url(), None);
    t(anon.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap();
}

#[tokio::test]
async fn body_limit_is_413() {
    let env = start_with(EmulatorConfig {
        max_body_bytes: 1024,
        ..Default::default()
    })
    .await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(2000));
    let r = env
        .raw(Method::POST, "/v1/memory_stores", &[AM], Some(&big))
        .await;
    r.assert_error(413, "request_too_large");
    assert!(
        t(env
            .client
            .memory_stores()
            .list(&ListMemoryStores::default()))
        .await
        .unwrap()
        .data
        .is_empty()
    );
    assert_eq!(
        env.raw(
            Method::POST,
            "/v1/memory_stores",
            &[AM],
            Some(r#"{"name":"ok"}"#)
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let env = start().await;
    env.raw(Method::GET, "/v1/nope", &[MA], None)
        .await
        .assert_error(404, "not_found_error");
    env.raw(Method::GET, "/", &[], None)
        .await
        .assert_error(404, "not_found_error");
    env.raw(Method::PUT, "/v1/memory_stores", &[AM], None)
        .await
        .assert_error(405, "invalid_request_error");
    env.raw(Method::DELETE, "/v1/agents/agent_01x/archive", &[MA], None)
        .await
        .assert_error(405, "invalid_request_error");
    env.raw(
        Method::GET,
        "/v1/memory_stores/memstore_01missing",
        &[AM],
        None,
    )
    .await
    .assert_error(404, "not_found_error");
    env.raw(
        Method::GET,
        "/v1/sessions/sesn_01missing/events",
        &[MA],
        None,
    )
    .await
    .assert_error(404, "not_found_error");
    env.raw(Method::GET, "/v1/agents/agent_01missing", &[MA], None)
        .await
        .assert_error(404, "not_found_error");
    let r = env
        .raw(Method::GET, "/v1/environments/env_01missing", &[MA], None)
        .await;
    r.assert_error(404, "not_found_error");
    assert_eq!(
        r.body["error"]["details"]["error_code"],
        "environment_not_found"
    );
}

#[tokio::test]
async fn malformed_bodies_name_the_field_and_change_nothing() {
    let env = start().await;
    let store = env.store("s").await;
    let mem = env.memory(&store.id, "/a.md", "x").await;
    let memories = format!("/v1/memory_stores/{}/memories", store.id);
    let memory = format!("{memories}/{}", mem.id);
    let cases: Vec<(Method, String, &str, &str, &str)> = vec![
        (Method::POST, "/v1/memory_stores".into(), AM, "{", "JSON"),
        (
            Method::POST,
            "/v1/memory_stores".into(),
            AM,
            "[1]",
            "object",
        ),
        (Method::POST, "/v1/memory_stores".into(), AM, "{}", "name"),
        (
            Method::POST,
            "/v1/memory_stores".into(),
            AM,
            r#"{"name":5}"#,
            "name",
        ),
        (
            Method::POST,
            "/v1/memory_stores".into(),
            AM,
            r#"{"name":"x","metadata":{"k":1}}"#,
            "metadata",
        ),
        (
            Method::POST,
            "/v1/memory_stores".into(),
            AM,
            r#"{"name":"x","color":"red"}"#,
            "color",
        ),
        (
            Method::POST,
            memories.clone(),
            AM,
            r#"{"content":"x"}"#,
            "path",
        ),
        (
            Method::POST,
            memories.clone(),
            AM,
            r#"{"path":"/b"}"#,
            "content",
        ),
        (
            Method::POST,
            memories.clone(),
            AM,
            r#"{"path":["/b"],"content":"x"}"#,
            "path",
        ),
        (
            Method::POST,
            memory.clone(),
            AM,
            r#"{"content":7}"#,
            "content",
        ),
        (
            Method::POST,
            memory.clone(),
            AM,
            r#"{"precondition":{"type":"content_sha256"}}"#,
            "content_sha256",
        ),
        (
            Method::POST,
            memory.clone(),
            AM,
            r#"{"precondition":{"type":"etag","content_sha256":"x"}}"#,
            "precondition",
        ),
        (
            Method::POST,
            memory.clone(),
            AM,
            r#"{"precondition":{"type":"content_sha256","content_sha256":"zz"}}"#,
            "content_sha256",
        ),
        (
            Method::POST,
            "/v1/agents".into(),
            MA,
            r#"{"name":"a"}"#,
            "model",
        ),
        (
            Method::POST,
            "/v1/agents".into(),
            MA,
            r#"{"name":"a","model":"m","tools":[{"type":"nope"}]}"#,
            "tools[0]",
        ),
        (
            Method::POST,
            "/v1/environments".into(),
            MA,
            r#"{"name":1}"#,
            "name",
        ),
        (
            Method::POST,
            "/v1/sessions".into(),
            MA,
            r#"{"environment_id":"env_01x"}"#,
            "agent",
        ),
        (
            Method::POST,
            "/v1/sessions".into(),
            MA,
            r#"{"agent":"agent_01x"}"#,
            "environment_id",
        ),
    ];
    for (method, path, beta, body, needle) in cases {
        let r = env.raw(method.clone(), &path, &[beta], Some(body)).await;
        r.assert_error(400, "invalid_request_error");
        assert!(
            r.message().contains(needle),
            "{method} {path} {body}: {}",
            r.message()
        );
    }
    let stores = t(env
        .client
        .memory_stores()
        .list(&ListMemoryStores::default()))
    .await
    .unwrap()
    .data;
    assert_eq!(stores.len(), 1);
    let got = t(env
        .client
        .memory_stores()
        .memories()
        .retrieve(&store.id, &mem.id, None))
    .await
    .unwrap();
    assert_eq!(
        got,
        Memory {
            content: Some("x".into()),
            ..mem.clone()
        }
    );
    let versions = t(env
        .client
        .memory_stores()
        .memory_versions()
        .list(&store.id, &ListMemoryVersions::default()))
    .await
    .unwrap();
    assert_eq!(versions.data.len(), 1);
    assert!(
        t(env.client.agents().list(&ListAgents::default()))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    // Bad query values name the parameter.
    for (q, needle) in [
        ("limit=abc", "limit"),
        ("view=huge", "view"),
        ("depth=-1", "depth"),
    ] {
        let r = env
            .raw(Method::GET, &format!("{memories}?{q}"), &[AM], None)
            .await;
        r.assert_error(400, "invalid_request_error");
        assert!(r.message().contains(needle), "{q}: {}", r.message());
    }
}

#[tokio::test]
async fn injected_rate_limits_answer_before_processing() {
    let faults = FaultConfig {
        seed: 1,
        error_rate: 1.0,
        error_statuses: vec![429],
        retry_after_ms: 1500,
        ..Default::default()
    };
    let env = start_with(EmulatorConfig {
        faults,
        ..Default::default()
    })
    .await;
    let r = env
        .raw(
            Method::POST,
            "/v1/memory_stores",
            &[AM],
            Some(r#"{"name":"x"}"#),
        )
        .await;
    r.assert_error(429, "rate_limit_error");
    assert_eq!(r.headers.get("retry-after").unwrap(), "2");
    assert_eq!(r.headers.get("retry-after-ms").unwrap(), "1500");
    let e = t(env
        .client
        .memory_stores()
        .list(&ListMemoryStores::default()))
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(429));

    let faults = FaultConfig {
        seed: 1,
        error_rate: 1.0,
        error_statuses: vec![529],
        ..Default::default()
    };
    let env2 = start_with(EmulatorConfig {
        faults,
        ..Default::default()
    })
    .await;
    env2.raw(Method::GET, "/v1/agents", &[MA], None)
        .await
        .assert_error(529, "overloaded_error");
}

#[tokio::test]
async fn seeded_faults_replay() {
    let run = || async {
        let faults = FaultConfig {
            seed: 42,
            error_rate: 0.5,
            ..Default::default()
        };
        let env = start_with(EmulatorConfig {
            faults,
            ..Default::default()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(env.raw(Method::GET, "/v1/agents", &[MA], None).await.status);
        }
        statuses
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&200) && a.iter().any(|s| *s != 200));
}

#[tokio::test]
async fn latency_is_added() {
    let faults = FaultConfig {
        latency: Duration::from_millis(200),
        ..Default::default()
    };
    let env = start_with(EmulatorConfig {
        faults,
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        env.raw(Method::GET, "/v1/agents", &[MA], None).await.status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}
