//! `/v1/environments/{environment_id}/work`: the work queue of a self-hosted environment, as the
//! SDK's `environments.work` resource and `EnvironmentWorker` use it. The rules are in
//! [`crate::store::work`].

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use cma_types::{StopWork, UpdateWork};

use super::extract::{Params, json_body};
use super::{AppState, ok_json, page_json, read, write};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};
use crate::store::work::DEFAULT_RECLAIM_MS;

/// The API caps a long poll at 999 ms.
const MAX_BLOCK_MS: u64 = 999;

/// `GET …/work/poll`: the next item, or `null`. With `block_ms` the request waits that long
/// for work to be queued, woken by the queueing itself rather than by re-polling.
pub async fn poll(
    State(st): State<AppState>,
    Path(env_id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let block_ms = p.u64("block_ms")?;
    if let Some(ms) = block_ms
        && !(1..=MAX_BLOCK_MS).contains(&ms)
    {
        return Err(ApiError::invalid(format!(
            "block_ms: must be between 1 and {MAX_BLOCK_MS} (leave it out for a non-blocking poll)"
        )));
    }
    let reclaim_ms = p
        .u64("reclaim_older_than_ms")?
        .unwrap_or(DEFAULT_RECLAIM_MS);
    let worker = headers
        .get("anthropic-worker-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ready = st.db.read(|m| m.work_ready.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(block_ms.unwrap_or(0));
    loop {
        // Registered before the check, so work queued between the check and the wait wakes it.
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (env, worker) = (env_id.clone(), worker.clone());
        let item = write(&st, move |m| {
            m.poll_work(&env, reclaim_ms, worker.as_deref(), clock::now())
        })
        .await?;
        let now = tokio::time::Instant::now();
        if item.is_some() || now >= deadline || st.db.is_shutting_down() {
            return Ok(ok_json(item));
        }
        // On timeout the loop polls once more (an unacknowledged item may be reclaimable by
        // now), then returns at the deadline.
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

pub async fn ack(
    State(st): State<AppState>,
    Path((env_id, work_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok_json(
        write(&st, move |m| m.ack_work(&env_id, &work_id, clock::now())).await?,
    ))
}

/// `POST …/work/{id}/heartbeat`: its parameters are in the query, as the SDK sends them.
pub async fn heartbeat(
    State(st): State<AppState>,
    Path((env_id, work_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let ttl = p.u64("desired_ttl_seconds")?;
    let expected = p.get("expected_last_heartbeat").map(str::to_string);
    Ok(ok_json(
        write(&st, move |m| {
            m.heartbeat_work(&env_id, &work_id, expected.as_deref(), ttl, clock::now())
        })
        .await?,
    ))
}

pub async fn stop(
    State(st): State<AppState>,
    Path((env_id, work_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: StopWork = if body.is_empty() {
        StopWork::default()
    } else {
        json_body(&body, &["force"])?
    };
    let force = p.force.unwrap_or(false);
    Ok(ok_json(
        write(&st, move |m| {
            m.stop_work(&env_id, &work_id, force, clock::now())
        })
        .await?,
    ))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path((env_id, work_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok_json(
        read(&st, move |m| {
            m.work_item(&env_id, &work_id).map(|w| w.work.clone())
        })
        .await?,
    ))
}

pub async fn update(
    State(st): State<AppState>,
    Path((env_id, work_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: UpdateWork = json_body(&body, &["metadata"])?;
    Ok(ok_json(
        write(&st, move |m| {
            m.update_work_metadata(&env_id, &work_id, &p.metadata)
        })
        .await?,
    ))
}

pub async fn stats(State(st): State<AppState>, Path(env_id): Path<String>) -> ApiResult<Response> {
    Ok(ok_json(
        read(&st, move |m| m.work_stats(&env_id, clock::now())).await?,
    ))
}

/// `GET …/work`: newest first.
pub async fn list(
    State(st): State<AppState>,
    Path(env_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let scope = format!("{}#{env_id}", p.scope("work"));
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        m.environment(&env_id)?;
        let mut items: Vec<_> = m
            .work
            .values()
            .filter(|w| w.work.environment_id == env_id)
            .map(|w| (Key::Seq(w.seq), w.work.clone()))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}
