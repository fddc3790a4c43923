//! `GET /v1/sessions/{id}/events/stream` (reference 6.5): live events only, each framed as
//! `event: <type>\ndata: <compact json>\n\n`, `ping` frames every `ping_interval`, closed after
//! `session.deleted`. Each stream reads the session's log from its own cursor and waits on the
//! log's `watch`, so a slow reader never loses an event.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cma_types::{ContentBlock, ContentDelta, EventDelta, EventStart, PreviewedEvent, SessionEvent};

use super::AppState;
use super::extract::Params;
use crate::error::{ApiError, ApiResult};
use crate::store::StoredEvent;

fn frame(kind: &str, data: &impl serde::Serialize) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|e| {
        tracing::error!(kind, error = %e, "stream frame does not serialize");
        "{}".into()
    });
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

/// Keeps idle connections (and proxies) from timing out; not a session event.
const PING_FRAME: &str = "event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// Splits text into a few deltas at word boundaries.
fn chunks(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let per = words.len().div_ceil(3).max(1);
    words.chunks(per).map(|c| c.concat()).collect()
}

/// The frames for one stored event: previews first when asked for.
fn frames(event: &StoredEvent, deltas: &[String]) -> Vec<Bytes> {
    let mut out = Vec::new();
    if deltas.iter().any(|kind| kind == event.kind()) {
        let start = SessionEvent::EventStart(Box::new(EventStart {
            event: PreviewedEvent {
                kind: event.kind().to_string(),
                id: event.id.clone(),
            },
        }));
        out.push(frame("event_start", &start));
        if let SessionEvent::AgentMessage(message) = &event.event {
            let blocks = &message.body.content;
            for (index, block) in (0u32..).zip(blocks) {
                let Some(text) = block.as_text() else {
                    continue;
                };
                for piece in chunks(text) {
                    let delta = SessionEvent::EventDelta(Box::new(EventDelta {
                        event_id: event.id.clone(),
                        delta: ContentDelta {
                            kind: "content_delta".into(),
                            index: Some(index),
                            content: ContentBlock::text(piece),
                        },
                    }));
                    out.push(frame("event_delta", &delta));
                }
            }
        }
    }
    out.push(frame(event.kind(), &event.wire()));
    out
}

pub async fn stream(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    open(st, id, q.as_deref(), |_| Ok(())).await
}

/// Opens session `id`'s live stream once `check` accepts the session (a thread's stream checks
/// that the thread exists).
pub async fn open(
    st: AppState,
    id: String,
    q: Option<&str>,
    check: impl FnOnce(&crate::store::Model) -> ApiResult<()> + Send + 'static,
) -> ApiResult<Response> {
    let p = Params::parse(q);
    let deltas: Vec<String> = p
        .all("event_deltas")
        .into_iter()
        .map(str::to_string)
        .collect();
    if let Some(bad) = deltas
        .iter()
        .find(|d| !matches!(d.as_str(), "agent.message" | "agent.thinking"))
    {
        return Err(ApiError::invalid(format!(
            "event_deltas: must be `agent.message` or `agent.thinking` (got {bad:?})"
        )));
    }
    let db = st.db.clone();
    let log = tokio::task::spawn_blocking(move || {
        db.read(|m| {
            let log = m.session(&id).map(|r| r.rt.log.clone())?;
            check(m)?;
            Ok::<_, ApiError>(log)
        })
    })
    .await
    .map_err(|_| ApiError::internal("internal error"))??;
    let mut changes = log.subscribe();
    changes.borrow_and_update();
    // Live events only: start at the current end of the committed log.
    let mut cursor = log.committed_len();
    let ping_every = st.ping_interval.max(Duration::from_millis(10));
    let mut shutdown = st.shutdown.clone();
    let st2: AppState = Arc::clone(&st);
    let body = async_stream::stream! {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut delivered: u32 = 0;
        loop {
            changes.borrow_and_update();
            let (batch, closed) = log.read_from(cursor);
            for event in batch {
                cursor += 1;
                for f in frames(&event, &deltas) {
                    yield Ok::<Bytes, std::convert::Infallible>(f);
                }
                delivered = delivered.saturating_add(1);
                if st2.faults.cut_stream(delivered) {
                    tracing::info!(delivered, "injected fault: cutting the event stream");
                    return;
                }
                if matches!(event.event, SessionEvent::SessionDeleted(_)) {
                    return;
                }
            }
            if closed || *shutdown.borrow() || st2.db.is_shutting_down() {
                return;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return; },
                _ = ping.tick() => yield Ok(Bytes::from_static(PING_FRAME.as_bytes())),
                _ = shutdown.changed() => return,
            }
        }
    };
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
