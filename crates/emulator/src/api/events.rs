//! `/v1/sessions/{id}/events`: send and list (reference 4.8). The stream is in [`super::sse`].

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{SendEvents, SentEvents, SessionEvent};

use super::extract::{Params, TimeRange, json_body};
use super::{AppState, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, Paged, paginate};

pub async fn send(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: SendEvents = json_body(&body, &["events"])?;
    // A runner, when these events queued a turn, starts as the write commits.
    let (echoes, _) = write(&st, move |m| m.send_events(&id, p.events)).await?;
    Ok(ok_json(SentEvents { data: echoes }))
}

pub async fn list(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let range = TimeRange::parse(&p, "created_at", &["gt", "gte", "lt", "lte"])?;
    let desc = p.desc(false)?;
    let types: Vec<String> = p.all("types").into_iter().map(str::to_string).collect();
    if let Some(bad) = types.iter().find(|t| {
        !SessionEvent::KNOWN_TYPES.contains(&t.as_str())
            || matches!(t.as_str(), "event_start" | "event_delta")
    }) {
        return Err(ApiError::invalid(format!(
            "types: unknown event type {bad:?}"
        )));
    }
    let filter = LogFilter { range, desc, types };
    page_of_log(&st, id, &p, "events", filter, |_| Ok(())).await
}

/// Which events of a log a list returns, and in which order (the default: all, oldest first).
#[derive(Debug, Default)]
pub struct LogFilter {
    pub range: TimeRange,
    pub desc: bool,
    /// Event types to keep; empty keeps every type.
    pub types: Vec<String>,
}

/// A page of session `id`'s log, once `check` accepts the session. Shared by the session's and
/// its threads' event lists, which page the same log.
pub async fn page_of_log(
    st: &AppState,
    id: String,
    p: &Params,
    list: &str,
    filter: LogFilter,
    check: impl FnOnce(&crate::store::Model) -> ApiResult<()> + Send + 'static,
) -> ApiResult<Response> {
    let LogFilter { range, desc, types } = filter;
    let limit = p.limit(20, 1000)?;
    let scope = format!("{}#{id}", p.scope(list));
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(st, move |m| {
        let log = m.session(&id)?.rt.log.clone();
        check(m)?;
        let mut items: Vec<_> = log
            .snapshot()
            .into_iter()
            .enumerate()
            .filter(|(_, e)| types.is_empty() || types.iter().any(|t| t == e.kind()))
            .filter(|(_, e)| range.contains(e.processed_at))
            .map(|(i, e)| (Key::Seq(i as u64), e))
            .collect();
        if desc {
            items.reverse();
        }
        Ok(paginate(items, desc, limit, cursor.as_ref(), &scope))
    })
    .await?;
    let data: Vec<_> = page.data.iter().map(|e| e.wire()).collect();
    Ok(page_json(Paged {
        data,
        next_page: page.next_page,
        prev_page: page.prev_page,
    }))
}
