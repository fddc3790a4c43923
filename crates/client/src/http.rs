//! The `Client`: request building, headers, retries and pagination shared by every resource.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{API_VERSION, Config, Credentials, Secret};
use crate::error::{ApiError, Error, Result};
use crate::query::{Query, segment};
use crate::retry::{RetryDecision, retry_decision, retry_wait};
use crate::types::Page;

pub const USER_AGENT: &str = concat!("cma-client/", env!("CARGO_PKG_VERSION"));

/// Which `anthropic-beta` header a resource group sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Beta {
    /// Memory stores, memories and memory versions: `agent-memory-2026-07-22` alone.
    /// Sending both headers on a memory call is a 400.
    Memory,
    /// Agents, environments and sessions: `managed-agents-2026-04-01`.
    ManagedAgents,
    /// Files: `files-api-2025-04-14` (the SDK sends none by default; the API accepts it).
    Files,
}

impl Beta {
    pub fn header_value(self) -> &'static str {
        match self {
            Beta::Memory => "agent-memory-2026-07-22",
            Beta::ManagedAgents => "managed-agents-2026-04-01",
            Beta::Files => "files-api-2025-04-14",
        }
    }
}

/// One API call, rebuilt for every attempt.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) beta: Beta,
    pub(crate) query: Query,
    pub(crate) body: Option<Vec<u8>>,
    /// The body's type when it is not JSON (a multipart upload).
    pub(crate) content_type: Option<String>,
    /// Headers of this call only (such as a work poll's `anthropic-worker-id`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl ApiRequest {
    /// `segments` are literal path pieces and ids; ids are checked non-empty and percent-encoded.
    pub(crate) fn new(method: Method, beta: Beta, segments: &[Seg<'_>]) -> Result<Self> {
        let mut path = String::from("v1");
        for seg in segments {
            path.push('/');
            match seg {
                Seg::Lit(s) => path.push_str(s),
                Seg::Id(name, id) => {
                    if id.is_empty() {
                        return Err(Error::InvalidArgument(format!(
                            "`{name}` must not be empty"
                        )));
                    }
                    path.push_str(&segment(id));
                }
            }
        }
        Ok(Self {
            method,
            path,
            beta,
            query: Query::new(),
            body: None,
            content_type: None,
            headers: Vec::new(),
        })
    }

    pub(crate) fn query(mut self, query: Query) -> Self {
        self.query = query;
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidArgument(format!("request body does not serialize: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// A body that is not JSON, with its `Content-Type`.
    pub(crate) fn raw_body(mut self, content_type: String, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.content_type = Some(content_type);
        self
    }
}

/// A piece of a request path.
pub(crate) enum Seg<'a> {
    Lit(&'a str),
    /// (parameter name for errors, value)
    Id(&'a str, &'a str),
}

struct Inner {
    http: reqwest::Client,
    config: Config,
    base: String,
}

/// The Managed Agents API client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Builds a [`Client`]; starts from the environment (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
/// `ANTHROPIC_BASE_URL`) and lets each setting be overridden.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    pub fn from_env() -> Self {
        Self {
            config: Config::from_env(),
        }
    }

    /// Ignores the environment entirely.
    pub fn from_config(config: Config) -> Self {
        Self { config }
    }

    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }

    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.credentials = Credentials::ApiKey(Secret::new(key));
        self
    }

    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.config.credentials = Credentials::AuthToken(Secret::new(token));
        self
    }

    pub fn no_credentials(mut self) -> Self {
        self.config.credentials = Credentials::None;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    pub fn max_retries(mut self, n: u32) -> Self {
        self.config.max_retries = n;
        self
    }

    pub fn workspace_id(mut self, id: impl Into<String>) -> Self {
        self.config.workspace_id = Some(id.into());
        self
    }

    /// Scales computed backoff waits (not server `retry-after` hints); `0.0` disables them.
    pub fn backoff_scale(mut self, scale: f64) -> Self {
        self.config.backoff_scale = scale.max(0.0);
        self
    }

    pub fn build(self) -> Result<Client> {
        let base = normalize_base(&self.config.base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.config.connect_timeout)
            .pool_max_idle_per_host(100)
            .tcp_nodelay(true)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config: self.config,
                base,
            }),
        })
    }
}

fn normalize_base(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::InvalidArgument(format!("base URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidArgument(format!(
            "base URL {url:?}: scheme must be http or https"
        )));
    }
    let mut base = parsed.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

impl Client {
    /// A client configured from the environment, as the official SDK is.
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env().build()
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::from_env()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The base URL requests go to, with a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    fn headers(&self, req: &ApiRequest, retry_count: u32) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        h.insert(
            "anthropic-beta",
            HeaderValue::from_static(req.beta.header_value()),
        );
        h.insert("accept", HeaderValue::from_static("application/json"));
        h.insert("x-stainless-retry-count", HeaderValue::from(retry_count));
        if req.method != Method::GET {
            let json = HeaderValue::from_static("application/json");
            let value = req
                .content_type
                .as_deref()
                .and_then(|t| HeaderValue::from_str(t).ok())
                .unwrap_or(json);
            h.insert("content-type", value);
        }
        let secret = |s: &Secret, prefix: &str| {
            let mut v = HeaderValue::from_str(&format!("{prefix}{}", s.expose()))
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            v.set_sensitive(true);
            v
        };
        match &self.inner.config.credentials {
            Credentials::ApiKey(k) => {
                h.insert("x-api-key", secret(k, ""));
            }
            Credentials::AuthToken(t) => {
                h.insert("authorization", secret(t, "Bearer "));
            }
            Credentials::None => {}
        }
        if let Some(ws) = &self.inner.config.workspace_id
            && let Ok(v) = HeaderValue::from_str(ws)
        {
            h.insert("anthropic-workspace-id", v);
        }
        for (name, value) in &req.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(*name, v);
            }
        }
        h
    }

    fn build(&self, req: &ApiRequest, retry_count: u32) -> reqwest::RequestBuilder {
        let mut url = format!("{}{}", self.inner.base, req.path);
        if !req.query.0.is_empty() {
            url.push('?');
            url.push_str(&req.query.encode());
        }
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url)
            .headers(self.headers(req, retry_count));
        match &req.body {
            Some(body) => rb = rb.body(body.clone()),
            // A bodyless POST/DELETE still says `Content-Length: 0`, as the SDK's POSTs do: hyper
            // omits it for an empty body, and some front ends answer 411 without it.
            None if req.method != Method::GET => {
                rb = rb
                    .header(reqwest::header::CONTENT_LENGTH, "0")
                    .body(Vec::new());
            }
            None => {}
        }
        rb
    }

    /// Sends with retries until a success status arrives; the body is left unread.
    /// `whole_timeout` bounds the full exchange for ordinary calls; streams bound only the headers.
    async fn send_with_retries(&self, req: &ApiRequest, stream: bool) -> Result<reqwest::Response> {
        let config = &self.inner.config;
        let mut retries_taken = 0u32;
        loop {
            let mut rb = self.build(req, retries_taken);
            if !stream {
                rb = rb.timeout(config.timeout);
            }
            let outcome = match tokio::time::timeout(config.timeout, rb.send()).await {
                Ok(Ok(resp)) => Ok(resp),
                Ok(Err(e)) => Err(Error::from_reqwest(e, config.timeout)),
                Err(_) => Err(Error::Timeout(config.timeout)),
            };
            let can_retry = retries_taken < config.max_retries;
            match outcome {
                Ok(resp) if resp.status().is_success() => {
                    tracing::debug!(method = %req.method, path = %req.path, status = resp.status().as_u16(), retries_taken, "response");
                    return Ok(resp);
                }
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let body = read_body(resp, config.timeout).await.unwrap_or_default();
                    let err = api_error(status, &headers, &body);
                    tracing::debug!(method = %req.method, path = %req.path, status = status.as_u16(), error_type = %err.error_type, retries_taken, "error response");
                    match retry_decision(status.as_u16(), &headers, &err.error_type) {
                        RetryDecision::Retry if can_retry => {
                            let wait = retry_wait(&headers, retries_taken, config.backoff_scale);
                            tracing::info!(
                                status = status.as_u16(),
                                wait_ms = wait.as_millis() as u64,
                                attempt = retries_taken + 1,
                                "retrying"
                            );
                            tokio::time::sleep(wait).await;
                            retries_taken += 1;
                        }
                        _ => return Err(Error::Api(Box::new(err))),
                    }
                }
                Err(err) => {
                    if !can_retry {
                        return Err(err);
                    }
                    let wait = retry_wait(&HeaderMap::new(), retries_taken, config.backoff_scale);
                    tracing::info!(error = %err, wait_ms = wait.as_millis() as u64, attempt = retries_taken + 1, "retrying after transport error");
                    tokio::time::sleep(wait).await;
                    retries_taken += 1;
                }
            }
        }
    }

    /// Sends a request and decodes the JSON response.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T> {
        let resp = self.send_with_retries(&req, false).await?;
        let body = read_body(resp, self.inner.config.timeout).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::decode(format!("{} /{}", req.method, req.path), e, &body))
    }

    /// Sends a request and returns the response body as it is (a file download).
    pub(crate) async fn call_bytes(&self, req: ApiRequest) -> Result<bytes::Bytes> {
        let resp = self.send_with_retries(&req, false).await?;
        read_body(resp, self.inner.config.timeout).await
    }

    /// Opens a streaming response (retried only until its status line arrives).
    pub(crate) async fn open_stream(&self, req: ApiRequest) -> Result<reqwest::Response> {
        self.send_with_retries(&req, true).await
    }

    /// Every item of a cursor-paginated list, fetching pages lazily. Follows `next_page` until it
    /// is null or empty, also across empty pages, as the SDK does; a cursor seen before (back to back
    /// or in a longer cycle) ends with an error rather than looping forever.
    pub(crate) fn paginate<T>(&self, req: Result<ApiRequest>) -> BoxStream<'static, Result<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let req = match req {
            Ok(req) => req,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        struct State {
            client: Client,
            req: ApiRequest,
            done: bool,
            seen_cursors: std::collections::HashSet<String>,
            /// Reported after the items of the page that caused it.
            pending_error: Option<Error>,
        }
        let seen_cursors = req
            .query
            .0
            .iter()
            .filter(|(k, _)| k == "page")
            .map(|(_, v)| v.clone())
            .collect();
        let state = State {
            client: self.clone(),
            req,
            done: false,
            seen_cursors,
            pending_error: None,
        };
        stream::try_unfold(state, |mut st| async move {
            if let Some(e) = st.pending_error.take() {
                return Err(e);
            }
            if st.done {
                return Ok(None);
            }
            let page: Page<T> = st.client.call(st.req.clone()).await?;
            match page.next_cursor() {
                Some(next) if st.seen_cursors.contains(next) => {
                    st.pending_error = Some(Error::Decode {
                        what: format!("GET /{}", st.req.path),
                        message: format!(
                            "server returned a next_page cursor it had already returned ({next:?})"
                        ),
                        snippet: String::new(),
                    });
                }
                Some(next) => {
                    st.req.query.set_page(next);
                    st.seen_cursors.insert(next.to_string());
                }
                None => st.done = true,
            }
            Ok(Some((stream::iter(page.data.into_iter().map(Ok)), st)))
        })
        .try_flatten()
        .boxed()
    }
}

async fn read_body(resp: reqwest::Response, timeout: Duration) -> Result<bytes::Bytes> {
    match tokio::time::timeout(timeout, resp.bytes()).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(Error::from_reqwest(e, timeout)),
        Err(_) => Err(Error::Timeout(timeout)),
    }
}

/// Builds an [`ApiError`] from an error response, whatever its body looks like.
pub(crate) fn api_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let get = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let request_id = headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("request_id"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
    ApiError {
        status: status.as_u16(),
        error_type: get("type").unwrap_or_else(|| fallback_type(status).to_string()),
        message: get("message").unwrap_or_else(|| {
            let text = crate::error::snippet(body);
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        }),
        error_code: error
            .and_then(|e| e.get("details"))
            .and_then(|d| d.get("error_code"))
            .and_then(|c| c.as_str())
            .map(str::to_string),
        request_id,
        body: parsed.unwrap_or_else(|| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        }),
    }
}

fn fallback_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        409 => "conflict_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}
