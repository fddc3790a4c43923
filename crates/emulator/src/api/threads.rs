//! `/v1/sessions/{id}/threads` (reference 4.7): list, retrieve and archive a session's threads,
//! and list or stream a thread's events. See [`crate::store::threads`] for what a thread is here.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::events::{LogFilter, page_of_log};
use super::extract::Params;
use super::{AppState, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};

/// `GET …/threads`: `limit` (default and max 1000), `page`, `statuses[]`.
pub async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(1000, 1000)?;
    let statuses: Vec<String> = p.all("statuses").into_iter().map(str::to_string).collect();
    if let Some(bad) = statuses.iter().find(|s| {
        !matches!(
            s.as_str(),
            "rescheduling" | "running" | "idle" | "terminated"
        )
    }) {
        return Err(ApiError::invalid(format!(
            "statuses: must be `rescheduling`, `running`, `idle` or `terminated` (got {bad:?})"
        )));
    }
    let scope = format!("{}#{id}", p.scope("threads"));
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let items = m
            .threads(&id)?
            .into_iter()
            .filter(|t| statuses.is_empty() || statuses.iter().any(|s| s == t.status.as_str()))
            .enumerate()
            .map(|(i, t)| (Key::Seq(i as u64), t))
            .collect();
        Ok(paginate(items, false, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let t = read(&st, move |m| m.thread(&id, &thread_id)).await?;
    Ok(ok_json(t))
}

pub async fn archive(
    State(st): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let t = write(&st, move |m| m.archive_thread(&id, &thread_id)).await?;
    Ok(ok_json(t))
}

/// `GET …/threads/{tid}/events`: `limit`, `page`. The primary thread's events are the session's.
pub async fn events(
    State(st): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let sid = id.clone();
    let check = move |m: &crate::store::Model| m.thread(&sid, &thread_id).map(|_| ());
    page_of_log(&st, id, &p, "thread_events", LogFilter::default(), check).await
}

/// `GET …/threads/{tid}/stream`: the thread's live events, framed as the session stream's.
pub async fn stream(
    State(st): State<AppState>,
    Path((id, thread_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let sid = id.clone();
    let check = move |m: &crate::store::Model| m.thread(&sid, &thread_id).map(|_| ());
    super::sse::open(st, id, q.as_deref(), check).await
}
