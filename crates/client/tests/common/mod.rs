//! Shared test scaffolding: a recording mock server on 127.0.0.1:0, a fast test client, and a
//! timeout wrapper for every await that could hang.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use cma_client::{Client, ClientBuilder, Config};
use serde_json::Value;

/// The longest any single step of a test may take before it counts as hung.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test (instead of hanging it) after [`WAIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {WAIT:?}"),
    }
}

/// A client for tests: no environment, API key `test`, no computed backoff waits.
pub fn client(base: &str) -> Client {
    ClientBuilder::from_config(Config::default())
        .base_url(base)
        .api_key("test")
        .backoff_scale(0.0)
        .build()
        .expect("test client builds")
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub raw_query: Option<String>,
    /// Decoded `key=value` pairs in wire order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The header's only value; panics if it was sent more than once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut all = self.headers.get_all(name).iter();
        let first = all.next()?;
        assert!(all.next().is_none(), "header {name} sent more than once");
        Some(first.to_str().expect("header is ASCII"))
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is UTF-8")
    }

    /// The body parsed as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body_str()))
    }

    /// The query value of `key`, if it appears exactly once.
    pub fn query_one(&self, key: &str) -> Option<&str> {
        let mut it = self.query.iter().filter(|(k, _)| k == key);
        let first = it.next()?;
        assert!(
            it.next().is_none(),
            "query key {key} appears more than once"
        );
        Some(&first.1)
    }

    /// The `x-stainless-retry-count` header as a number.
    pub fn retry_count(&self) -> u32 {
        self.header("x-stainless-retry-count")
            .expect("x-stainless-retry-count sent")
            .parse()
            .expect("retry count is a number")
    }
}

/// Decodes a raw query string into pairs, in order.
pub fn decode_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// Pairs sorted by key only (a stable sort), so repeated keys keep their relative order.
pub fn sorted_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = pairs.to_vec();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A canned response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&value).expect("serializes"),
        }
    }

    pub fn ok(value: Value) -> Self {
        Self::json(200, value)
    }

    pub fn text(status: u16, text: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// An API error body: `{"type":"error","error":{"type":..,"message":..}}`.
    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"type": "error", "error": {"type": error_type, "message": message}}),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = StatusCode::from_u16(self.status).expect("valid status");
        for (k, v) in self.headers {
            resp.headers_mut().append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_str(&v).expect("header value"),
            );
        }
        resp
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct ServerState {
    log: Arc<Mutex<Vec<Recorded>>>,
    responder: Arc<Responder>,
}

/// An HTTP server on 127.0.0.1 whose one fallback handler records every request and answers
/// with whatever the responder returns for it (it also gets the request's index, from 0).
pub struct MockServer {
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_at("", responder).await
    }

    /// `prefix` is appended to the base URL (for example `/prefix`).
    pub async fn start_at(
        prefix: &str,
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            log: log.clone(),
            responder: Arc::new(responder),
        };
        let app = Router::new().fallback(record_and_reply).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock server runs");
        });
        MockServer {
            base: format!("http://{addr}{prefix}"),
            log,
            task,
        }
    }

    /// Answers the replies in order; once they run out, every further request gets a 599
    /// "unexpected request" error that is not retried (`x-should-retry: false`).
    pub async fn scripted(replies: Vec<Reply>) -> Self {
        Self::start(move |_, i| {
            replies.get(i).cloned().unwrap_or_else(|| {
                Reply::error(
                    599,
                    "unexpected_request",
                    "the script has no reply for this request",
                )
                .header("x-should-retry", "false")
            })
        })
        .await
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("log lock").clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().expect("log lock").len()
    }

    /// The only request the server received.
    pub fn only(&self) -> Recorded {
        let reqs = self.requests();
        assert_eq!(reqs.len(), 1, "expected exactly one request, got {reqs:#?}");
        reqs.into_iter().next().expect("one request")
    }

    pub fn client(&self) -> Client {
        client(&self.base)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record_and_reply(State(state): State<ServerState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let raw_query = parts.uri.query().map(str::to_string);
    let rec = Recorded {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: raw_query.as_deref().map(decode_query).unwrap_or_default(),
        raw_query,
        headers: parts.headers,
        body,
    };
    let index = {
        let mut log = state.log.lock().expect("log lock");
        log.push(rec.clone());
        log.len() - 1
    };
    (state.responder)(&rec, index).into_response()
}

// ------------------------------------------------------------------------------------------------
// Minimal valid objects, written from the reference (section 5).
// ------------------------------------------------------------------------------------------------

pub const T0: &str = "2026-04-23T16:57:44.310Z";

pub fn memory_store_json(id: &str) -> Value {
    serde_json::json!({
        "type": "memory_store", "id": id, "name": "Shopper Preferences", "description": "",
        "metadata": {}, "created_at": T0, "updated_at": T0, "archived_at": null
    })
}

pub fn memory_json(id: &str, path: &str) -> Value {
    serde_json::json!({
        "type": "memory", "id": id, "memory_store_id": "memstore_1", "path": path, "content": null,
        "content_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "content_size_bytes": 0, "memory_version_id": "memver_1", "created_at": T0, "updated_at": T0
    })
}

pub fn memory_version_json(id: &str) -> Value {
    serde_json::json!({
        "type": "memory_version", "id": id, "memory_id": "mem_1", "memory_store_id": "memstore_1",
        "operation": "created", "content": null,
        "content_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "content_size_bytes": 0, "path": "/a.md", "created_at": T0,
        "created_by": {"type": "api_actor", "api_key_id": "apikey_1"},
        "redacted_at": null, "redacted_by": null
    })
}

pub fn agent_json(id: &str) -> Value {
    serde_json::json!({
        "type": "agent", "id": id, "version": 1, "name": "Personal Shopper", "description": null,
        "system": null, "model": {"id": "claude-sonnet-4-6"}, "tools": [], "mcp_servers": [], "skills": [],
        "metadata": {}, "multiagent": null, "execution_identity": {"type": "service_account"},
        "created_at": T0, "updated_at": T0, "archived_at": null
    })
}

pub fn environment_json(id: &str) -> Value {
    serde_json::json!({
        "type": "environment", "id": id, "name": "shopping-demo", "description": null, "metadata": {},
        "config": {"type": "self_hosted"}, "scope": "organization",
        "created_at": T0, "updated_at": T0, "archived_at": null
    })
}

pub fn session_json(id: &str, status: &str) -> Value {
    serde_json::json!({
        "type": "session", "id": id, "status": status,
        "agent": {
            "type": "agent", "id": "agent_1", "version": 1, "name": "Personal Shopper",
            "model": {"id": "claude-sonnet-4-6"}, "tools": [], "mcp_servers": [], "skills": [],
            "execution_identity": {"type": "service_account"}
        },
        "environment_id": "env_1", "resources": [], "metadata": {}, "title": null, "vault_ids": [],
        "outcome_evaluations": [], "created_at": T0, "updated_at": T0, "archived_at": null
    })
}

pub fn deleted_json(id: &str, kind: &str) -> Value {
    serde_json::json!({"id": id, "type": kind})
}

pub fn page_json(data: Vec<Value>, next_page: Option<&str>) -> Value {
    serde_json::json!({"data": data, "next_page": next_page})
}
