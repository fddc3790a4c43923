//! Shared helpers for the emulator's HTTP tests: every await that could hang is bounded.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

pub mod fixtures;
pub mod turns;

use cma_client::Client;
use cma_client::types::*;
use cma_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use serde_json::Value;

pub const AM: &str = "agent-memory-2026-07-22";
pub const MA: &str = "managed-agents-2026-04-01";
pub const LIMIT: Duration = Duration::from_secs(15);
/// How long a turn may take to go idle: longer than [`LIMIT`], since a turn of a sandboxed shell
/// waits for the processes it killed to exit, and CI runs many test binaries at once on 2 cores.
pub const IDLE_BOUND: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn t<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("operation timed out")
}

pub struct Env {
    pub emu: RunningEmulator,
    pub client: Client,
    pub http: reqwest::Client,
}

pub fn client_for(base: &str, key: Option<&str>) -> Client {
    let b = Client::builder()
        .base_url(base)
        .max_retries(0)
        .backoff_scale(0.0)
        .timeout(LIMIT);
    match key {
        Some(k) => b.api_key(k),
        None => b.no_credentials(),
    }
    .build()
    .unwrap()
}

/// A plain HTTP client for raw requests; like every SDK it sends `anthropic-version`.
pub fn raw_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "anthropic-version",
        reqwest::header::HeaderValue::from_static("2026-10-21"),
    );
    reqwest::Client::builder()
        .timeout(LIMIT)
        .default_headers(headers)
        .build()
        .unwrap()
}

pub async fn start_with(config: EmulatorConfig) -> Env {
    let emu = t(Emulator::start(config)).await.unwrap();
    let client = client_for(&emu.base_url(), Some("test-key"));
    let http = raw_http();
    Env { emu, client, http }
}

pub async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    /// A raw request with the given beta header(s).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        beta: &[&str],
        body: Option<&str>,
    ) -> Raw {
        let mut rb = self.http.request(method, self.url(path));
        if !beta.is_empty() {
            rb = rb.header("anthropic-beta", beta.join(","));
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Raw::from(t(rb.send()).await.unwrap()).await
    }

    pub async fn store(&self, name: &str) -> MemoryStore {
        let p = CreateMemoryStore {
            name: name.into(),
            ..Default::default()
        };
        t(self.client.memory_stores().create(&p)).await.unwrap()
    }

    pub async fn memory(&self, store: &str, path: &str, content: &str) -> Memory {
        let p = CreateMemory {
            path: path.into(),
            content: Some(content.into()),
        };
        t(self
            .client
            .memory_stores()
            .memories()
            .create(store, &p, None))
        .await
        .unwrap()
    }

    pub async fn agent(&self, model: &str) -> Agent {
        let mut p = CreateAgent::new("Personal Shopper", model);
        p.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
            PermissionPolicy::AlwaysAllow(Empty {}),
        ))]);
        t(self.client.agents().create(&p)).await.unwrap()
    }

    pub async fn environment(&self) -> Environment {
        let p = CreateEnvironment {
            name: "shopping-demo".into(),
            ..Default::default()
        };
        t(self.client.environments().create(&p)).await.unwrap()
    }

    /// An agent with `model`, an environment and a session with the given stores attached.
    pub async fn session(&self, model: &str, stores: &[(&str, Access)]) -> Session {
        let agent = self.agent(model).await;
        let env = self.environment().await;
        let mut p = CreateSession::new(AgentRef::Id(agent.id), env.id);
        p.resources = Some(
            stores
                .iter()
                .map(|(id, a)| ResourceParams::memory_store(*id, *a, None))
                .collect(),
        );
        t(self.client.sessions().create(&p)).await.unwrap()
    }

    /// The session's live event stream, opened now (before anything is sent).
    pub async fn stream(&self, session: &str) -> cma_client::EventStream {
        t(self
            .client
            .sessions()
            .events()
            .stream(session, &StreamEvents::default()))
        .await
        .unwrap()
    }

    pub async fn events(&self, session: &str) -> Vec<SessionEvent> {
        let p = ListEvents {
            limit: Some(1000),
            ..Default::default()
        };
        t(self.client.sessions().events().list(session, &p))
            .await
            .unwrap()
            .data
    }

    /// Polls until the session is idle (bounded by [`IDLE_BOUND`]).
    pub async fn wait_idle(&self, session: &str) -> Session {
        let sessions = self.client.sessions();
        tokio::time::timeout(
            IDLE_BOUND + LIMIT,
            sessions.wait_for_idle(session, IDLE_BOUND),
        )
        .await
        .expect("wait_for_idle did not return")
        .unwrap()
    }
}

/// A response read whole.
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Raw {
    pub async fn from(resp: reqwest::Response) -> Raw {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = t(resp.text()).await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Raw {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    /// Asserts the API's error body shape, with the request id matching the header.
    pub fn assert_error(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["type"], "error", "body: {}", self.text);
        assert_eq!(self.error_type(), kind, "body: {}", self.text);
        let rid = self
            .headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap();
        assert!(rid.starts_with("req_01"), "{rid}");
        assert_eq!(self.body["request_id"], rid);
    }
}

/// A raw SSE connection, parsed into `(event name, data)` frames.
pub struct RawStream {
    resp: reqwest::Response,
    buf: String,
    pub content_type: String,
}

impl RawStream {
    pub async fn open(env: &Env, session: &str, query: &str) -> RawStream {
        let url = env.url(&format!("/v1/sessions/{session}/events/stream{query}"));
        let client = raw_http();
        let resp = t(client.get(url).header("anthropic-beta", MA).send())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        RawStream {
            resp,
            buf: String::new(),
            content_type,
        }
    }

    /// The next frame, or `None` once the server closed the stream.
    pub async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = v.to_string();
                    }
                }
                return Some((event, data));
            }
            match t(self.resp.chunk()).await.unwrap() {
                Some(bytes) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Frames up to and including the first whose event name is `until` (pings skipped).
    pub async fn until(&mut self, until: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some((event, data)) = self.next().await {
            if event == "ping" {
                continue;
            }
            let done = event == until;
            out.push((event, serde_json::from_str(&data).unwrap()));
            if done {
                break;
            }
        }
        out
    }
}
