//! What the model-backend tests share: an emulator whose agent is a fake model of either
//! protocol, and reading a session's events back.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cma_client::types::Access;
use cma_emulator::{AgentConfig, ApiKey, Backend, EmulatorConfig};
use reqwest::Method;
use serde_json::{Value, json};

use super::common::{Env, MA, start_with};
use super::fake_models::{FakeModel, Proto, Script, Seen, Step};

pub const PROTOS: [Proto; 2] = [Proto::Anthropic, Proto::OpenAi];

pub fn config(fake: &FakeModel, proto: Proto) -> AgentConfig {
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

pub async fn emulator(agent: AgentConfig) -> Env {
    start_with(EmulatorConfig {
        agent,
        ..EmulatorConfig::default()
    })
    .await
}

pub async fn send(env: &Env, sid: &str, text: &str) {
    let body = json!({ "events": [{ "type": "user.message", "content": [{ "type": "text", "text": text }] }] });
    let r = env
        .raw(
            Method::POST,
            &format!("/v1/sessions/{sid}/events"),
            &[MA],
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

pub async fn interrupt(env: &Env, sid: &str) {
    let body = json!({ "events": [{ "type": "user.interrupt" }] });
    let r = env
        .raw(
            Method::POST,
            &format!("/v1/sessions/{sid}/events"),
            &[MA],
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

pub async fn events(env: &Env, sid: &str) -> Vec<Value> {
    let r = env
        .raw(
            Method::GET,
            &format!("/v1/sessions/{sid}/events?limit=1000"),
            &[MA],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

/// Sends `text` and waits for the turn to end; the events of this turn (from the user message on).
pub async fn turn(env: &Env, sid: &str, text: &str) -> Vec<Value> {
    let before = events(env, sid).await.len();
    send(env, sid, text).await;
    env.wait_idle(sid).await;
    events(env, sid).await.split_off(before)
}

pub fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

pub fn texts(events: &[Value], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["content"][0]["text"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn idle_reason(events: &[Value]) -> String {
    events
        .iter()
        .rev()
        .find(|e| e["type"] == "session.status_idle")
        .map(|e| e["stop_reason"]["type"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A store, an agent on `model` and a session with the store mounted with `access`.
pub async fn session_on_store(env: &Env, model: &str, access: Access) -> (String, String) {
    let store = env.store("Customer Notes").await;
    let s = env.session(model, &[(store.id.as_str(), access)]).await;
    (s.id, store.id)
}

pub fn script(f: impl Fn(&Seen) -> Step + Send + Sync + 'static) -> Script {
    Arc::new(f)
}
