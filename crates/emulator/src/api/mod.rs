//! The HTTP API: routes, and the gate every request passes (request id, injected faults, auth,
//! beta header, body limit, panic catching, error bodies).

mod agents;
mod environments;
mod events;
pub mod extract;
mod files;
mod memories;
mod memory_stores;
mod memory_versions;
mod session_resources;
mod sessions;
mod sse;
mod threads;
mod work;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cma_types::{Actor, ApiActor, Deleted, Page, SessionActor};
use futures::FutureExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::error::{ApiError, ApiResult};
use crate::faults::Faults;
use crate::ids;
use crate::pagination::Paged;
use crate::store::{Db, Model};

pub const BETA_MEMORY: &str = "agent-memory-2026-07-22";
pub const BETA_MANAGED_AGENTS: &str = "managed-agents-2026-04-01";

/// Shared by every handler.
pub struct Shared {
    pub db: Arc<Db>,
    pub api_key: Option<String>,
    pub faults: Faults,
    pub ping_interval: Duration,
    pub max_body_bytes: usize,
    /// The size limit of one uploaded file (`POST /v1/files` allows its body this much more).
    pub max_file_bytes: usize,
    /// The debug route's system prompt carries the memory guidance the turns get.
    pub memory_guidance: bool,
    /// Becomes `true` when the server shuts down; open streams end.
    pub shutdown: watch::Receiver<bool>,
}

pub type AppState = Arc<Shared>;

/// What the gate learned about a request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `api_actor` REST writes are recorded with.
    pub actor: Actor,
    /// Which beta header a memory call came with (cursors are valid only under the same one).
    pub beta: &'static str,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/memory_stores",
            get(memory_stores::list).post(memory_stores::create),
        )
        .route(
            "/v1/memory_stores/{store_id}",
            get(memory_stores::retrieve)
                .post(memory_stores::update)
                .delete(memory_stores::delete),
        )
        .route(
            "/v1/memory_stores/{store_id}/archive",
            post(memory_stores::archive),
        )
        .route(
            "/v1/memory_stores/{store_id}/memories",
            get(memories::list).post(memories::create),
        )
        .route(
            "/v1/memory_stores/{store_id}/memories/{memory_id}",
            get(memories::retrieve)
                .post(memories::update)
                .delete(memories::delete),
        )
        .route(
            "/v1/memory_stores/{store_id}/memory_versions",
            get(memory_versions::list),
        )
        .route(
            "/v1/memory_stores/{store_id}/memory_versions/{version_id}",
            get(memory_versions::retrieve),
        )
        .route(
            "/v1/memory_stores/{store_id}/memory_versions/{version_id}/redact",
            post(memory_versions::redact),
        )
        .route("/v1/agents", get(agents::list).post(agents::create))
        .route(
            "/v1/agents/{agent_id}",
            get(agents::retrieve).post(agents::update),
        )
        .route("/v1/agents/{agent_id}/archive", post(agents::archive))
        .route("/v1/agents/{agent_id}/versions", get(agents::versions))
        .route(
            "/v1/environments",
            get(environments::list).post(environments::create),
        )
        .route(
            "/v1/environments/{env_id}",
            get(environments::retrieve)
                .post(environments::update)
                .delete(environments::delete),
        )
        .route(
            "/v1/environments/{env_id}/archive",
            post(environments::archive),
        )
        .route("/v1/environments/{env_id}/work", get(work::list))
        .route("/v1/environments/{env_id}/work/poll", get(work::poll))
        .route("/v1/environments/{env_id}/work/stats", get(work::stats))
        .route(
            "/v1/environments/{env_id}/work/{work_id}",
            get(work::retrieve).post(work::update),
        )
        .route(
            "/v1/environments/{env_id}/work/{work_id}/ack",
            post(work::ack),
        )
        .route(
            "/v1/environments/{env_id}/work/{work_id}/heartbeat",
            post(work::heartbeat),
        )
        .route(
            "/v1/environments/{env_id}/work/{work_id}/stop",
            post(work::stop),
        )
        .route("/v1/sessions", get(sessions::list).post(sessions::create))
        .route(
            "/v1/sessions/{session_id}",
            get(sessions::retrieve)
                .post(sessions::update)
                .delete(sessions::delete),
        )
        .route("/v1/sessions/{session_id}/archive", post(sessions::archive))
        .route(
            "/v1/sessions/{session_id}/resources",
            get(sessions::resources).post(session_resources::add),
        )
        .route(
            "/v1/sessions/{session_id}/resources/{resource_id}",
            get(session_resources::retrieve)
                .post(session_resources::update)
                .delete(session_resources::delete),
        )
        .route("/v1/files", get(files::list).post(files::upload))
        .route(
            "/v1/files/{file_id}",
            get(files::retrieve).delete(files::delete),
        )
        .route("/v1/files/{file_id}/content", get(files::download))
        .route(
            "/v1/sessions/{session_id}/events",
            get(events::list).post(events::send),
        )
        .route("/v1/sessions/{session_id}/events/stream", get(sse::stream))
        .route("/v1/sessions/{session_id}/threads", get(threads::list))
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}",
            get(threads::retrieve),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/archive",
            post(threads::archive),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/events",
            get(threads::events),
        )
        .route(
            "/v1/sessions/{session_id}/threads/{thread_id}/stream",
            get(threads::stream),
        )
        // Emulator-only, outside /v1: the rendered system prompt of a session, for debugging.
        .route(
            "/emulator/sessions/{session_id}/system_prompt",
            get(sessions::system_prompt),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        405,
        "invalid_request_error",
        format!(
            "method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Runs a model mutation on the blocking pool (persistence may fsync) and commits it.
pub async fn write<R: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut Model) -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || db.write(f))
        .await
        .map_err(|_| ApiError::internal("internal error while handling the request"))?
}

/// Reads the model on the blocking pool.
pub async fn read<R: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&Model) -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || db.read(f))
        .await
        .map_err(|_| ApiError::internal("internal error while handling the request"))?
}

/// A 200 JSON answer.
pub fn ok_json(value: impl Serialize) -> Response {
    axum::Json(value).into_response()
}

/// `{"id", "type": "<kind>"}`.
pub fn deleted(id: &str, kind: &str) -> Response {
    ok_json(Deleted {
        id: id.to_string(),
        kind: kind.to_string(),
    })
}

/// A page body without `prev_page`, which only the sessions list has.
pub fn page_json<T: Serialize>(page: Paged<T>) -> Response {
    ok_json(Page {
        data: page.data,
        next_page: page.next_page,
        prev_page: None,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The key a request presents: `x-api-key`, else `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(k) = header_str(headers, "x-api-key") {
        return Some(k.trim().to_string());
    }
    let auth = header_str(headers, "authorization")?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn same_key(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Memory,
    ManagedAgents,
    Other,
}

fn group(path: &str) -> Group {
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if under("/v1/memory_stores") {
        Group::Memory
    } else if under("/v1/agents") || under("/v1/environments") || under("/v1/sessions") {
        Group::ManagedAgents
    } else {
        Group::Other
    }
}

/// Checks the `anthropic-beta` header (a comma list, possibly repeated) for the route group.
fn check_beta(headers: &HeaderMap, group: Group) -> ApiResult<&'static str> {
    let values: Vec<String> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let has = |b: &str| values.iter().any(|v| v == b);
    match group {
        Group::Memory => match (has(BETA_MEMORY), has(BETA_MANAGED_AGENTS)) {
            (true, true) => Err(ApiError::invalid(format!(
                "anthropic-beta: memory endpoints take either `{BETA_MEMORY}` or `{BETA_MANAGED_AGENTS}`, not both"
            ))),
            (true, false) => Ok(BETA_MEMORY),
            (false, true) => Ok(BETA_MANAGED_AGENTS),
            (false, false) => Err(ApiError::invalid(format!(
                "anthropic-beta: this endpoint requires the beta header `{BETA_MEMORY}` (or `{BETA_MANAGED_AGENTS}`)"
            ))),
        },
        Group::ManagedAgents if has(BETA_MANAGED_AGENTS) => Ok(BETA_MANAGED_AGENTS),
        Group::ManagedAgents => Err(ApiError::invalid(format!(
            "anthropic-beta: this endpoint requires the beta header `{BETA_MANAGED_AGENTS}`"
        ))),
        Group::Other => Ok(""),
    }
}

/// Bodies are read as UTF-8 JSON and never decompressed, so a body declared in another charset or
/// with a `content-encoding` is refused (reference 2.2's `unsupported_charset` and
/// `request_body_encoding_unsupported`) rather than misread.
fn check_body_encoding(headers: &HeaderMap) -> ApiResult<()> {
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let value = value.to_str().unwrap_or("\u{fffd}");
        if let Some(coding) = value
            .split(',')
            .map(str::trim)
            .find(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        {
            return Err(ApiError::invalid(format!(
                "content-encoding: `{coding}` is not supported; send the body uncompressed"
            ))
            .code("request_body_encoding_unsupported"));
        }
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let content_type = content_type.to_str().unwrap_or("");
    for param in content_type.split(';').skip(1) {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset")
            && !value.eq_ignore_ascii_case("utf-8")
            && !value.eq_ignore_ascii_case("utf8")
        {
            return Err(ApiError::invalid(format!(
                "content-type: charset `{value}` is not supported; bodies are UTF-8"
            ))
            .code("unsupported_charset"));
        }
    }
    Ok(())
}

/// Everything checked before a handler runs. Faults come first: a faulted request changes nothing.
async fn admit(st: &AppState, req: Request) -> ApiResult<Request> {
    let latency = st.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(e) = st.faults.request_error() {
        return Err(e);
    }
    let key = presented_key(req.headers());
    // The sessions token a polled work item carries acts for its session (self-hosted workers
    // call the session and memory endpoints with it); it is live until the item stops.
    let token_session = key
        .as_deref()
        .filter(|k| k.starts_with(crate::store::work::SESSIONS_TOKEN_PREFIX))
        .and_then(|k| st.db.read(|m| m.session_of_token(k)));
    if let Some(expected) = &st.api_key {
        match &key {
            None => {
                return Err(ApiError::authentication(
                    "missing credentials: send `x-api-key` or `Authorization: Bearer <key>`",
                ));
            }
            Some(k) if !same_key(k, expected) && token_session.is_none() => {
                return Err(ApiError::authentication("invalid x-api-key"));
            }
            Some(_) => {}
        }
    }
    // The API requires a version header on every request (the official SDKs always send one).
    if header_str(req.headers(), "anthropic-version").is_none_or(|v| v.trim().is_empty()) {
        return Err(ApiError::invalid(
            "anthropic-version: header is required (the SDKs send `2026-10-21`)",
        ));
    }
    let beta = check_beta(req.headers(), group(req.uri().path()))?;
    check_body_encoding(req.headers())?;
    let (mut parts, body) = req.into_parts();
    let declared = header_str(&parts.headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<usize>().ok());
    // An upload may carry a whole file; the file's own limit is checked by its handler.
    let limit = if parts.method == axum::http::Method::POST && parts.uri.path() == "/v1/files" {
        st.max_body_bytes
            .max(st.max_file_bytes.saturating_add(files::FORM_OVERHEAD_BYTES))
    } else {
        st.max_body_bytes
    };
    let too_large = || {
        ApiError::too_large(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let actor = match token_session {
        Some(session_id) => Actor::Session(SessionActor { session_id }),
        None => Actor::Api(ApiActor {
            api_key_id: ids::api_key_id(key.as_deref()),
        }),
    };
    parts.extensions.insert(Ctx { actor, beta });
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Puts every error into the API's JSON body (with the request id) and adds `request-id`.
async fn finish(resp: Response, request_id: &str) -> Response {
    let status = resp.status();
    let mut resp = if let Some(err) = resp.extensions().get::<ApiError>().cloned() {
        let (mut parts, _) = resp.into_parts();
        let body = serde_json::to_vec(&err.body(Some(request_id))).unwrap_or_default();
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        Response::from_parts(parts, Body::from(body))
    } else if status.as_u16() >= 400 {
        // A rejection that did not come from our own error type: never leak plain text.
        let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_string();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            text
        };
        let err = ApiError::new(
            status.as_u16(),
            ApiError::kind_for_status(status.as_u16()),
            message,
        );
        let bytes = serde_json::to_vec(&err.body(Some(request_id))).unwrap_or_default();
        let mut r = Response::new(Body::from(bytes));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else {
        resp
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = ids::new_id(ids::REQUEST);
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = match admit(&st, req).await {
        Ok(req) => match AssertUnwindSafe(next.run(req)).catch_unwind().await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::error!(%method, %path, request_id, "handler panicked");
                ApiError::internal("internal server error").into_response()
            }
        },
        Err(e) => e.into_response(),
    };
    let resp = finish(resp, &request_id).await;
    tracing::info!(
        %method,
        %path,
        status = resp.status().as_u16(),
        request_id,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}
