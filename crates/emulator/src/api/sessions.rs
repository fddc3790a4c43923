//! `/v1/sessions` (reference 4.6, 4.7).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{CreateSession, Page, Session, SessionResource, UpdateSession};
use serde::Serialize;

use super::extract::{Params, TimeRange, json_body};
use super::{AppState, deleted, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};

/// `GET /v1/sessions` is the one list that carries `prev_page`, always (`null` on the first
/// page); the shared [`Page`] leaves it out when it is `None`.
#[derive(Serialize)]
struct SessionsPage {
    #[serde(flatten)]
    page: Page<Session>,
    prev_page: Option<String>,
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let p: CreateSession = json_body(
        &body,
        &[
            "agent",
            "environment_id",
            "resources",
            "initial_events",
            "metadata",
            "title",
            "vault_ids",
            "budget",
        ],
    )?;
    // Its runner (when initial events queued a turn) starts as the write commits.
    let (session, _) = write(&st, move |m| m.create_session(p)).await?;
    Ok(ok_json(session))
}

pub async fn retrieve(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = read(&st, move |m| m.session(&id).map(|r| r.session.clone())).await?;
    Ok(ok_json(s))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: UpdateSession = json_body(
        &body,
        &["title", "metadata", "budget", "agent", "vault_ids"],
    )?;
    let s = write(&st, move |m| m.update_session(&id, p)).await?;
    Ok(ok_json(s))
}

pub async fn archive(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = write(&st, move |m| m.archive_session(&id)).await?;
    Ok(ok_json(s))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id2 = id.clone();
    write(&st, move |m| m.delete_session(&id2)).await?;
    Ok(deleted(&id, "session_deleted"))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let range = TimeRange::parse(&p, "created_at", &["gt", "gte", "lt", "lte"])?;
    let include_archived = p.bool("include_archived")?.unwrap_or(false);
    let desc = p.desc(true)?;
    let agent_id = p.get("agent_id").map(str::to_string);
    let agent_version = p.u64("agent_version")?;
    if agent_version.is_some() && agent_id.is_none() {
        return Err(ApiError::invalid("agent_version: requires agent_id"));
    }
    let deployment_id = p.get("deployment_id").map(str::to_string);
    let store_id = p.get("memory_store_id").map(str::to_string);
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
    let scope = p.scope("sessions");
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let mut items: Vec<_> = m
            .sessions
            .values()
            .map(|r| (r.seq, &r.session))
            .filter(|(_, s)| include_archived || s.archived_at.is_none())
            .filter(|(_, s)| range.contains(s.created_at))
            .filter(|(_, s)| agent_id.as_ref().is_none_or(|a| s.agent.id == *a))
            .filter(|(_, s)| agent_version.is_none_or(|v| s.agent.version == v))
            .filter(|(_, s)| deployment_id.as_ref().is_none_or(|d| s.deployment_id.as_ref() == Some(d)))
            .filter(|(_, s)| statuses.is_empty() || statuses.iter().any(|st| st == s.status.as_str()))
            .filter(|(_, s)| {
                store_id.as_ref().is_none_or(|id| {
                    s.resources.iter().any(|r| matches!(r, SessionResource::MemoryStore(ms) if ms.memory_store_id == *id))
                })
            })
            .map(|(seq, s)| (Key::Seq(seq), s.clone()))
            .collect();
        items.sort_by(|a, b| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
        Ok(paginate(items, desc, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(ok_json(SessionsPage {
        page: Page {
            data: page.data,
            next_page: page.next_page,
            prev_page: None,
        },
        prev_page: page.prev_page,
    }))
}

/// `GET /v1/sessions/{id}/resources`: every resource unless `limit` is given (max 1000).
pub async fn resources(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(1000, 1000)?;
    let scope = format!("{}#{id}", p.scope("session_resources"));
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let s = &m.session(&id)?.session;
        let items = s
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (Key::Seq(i as u64), r.clone()))
            .collect();
        Ok(paginate(items, false, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}

/// `GET /emulator/sessions/{id}/system_prompt` (emulator-only): the system prompt a model
/// backend sends for this session, as `{"session_id", "system_prompt"}`.
pub async fn system_prompt(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let sid = id.clone();
    let guidance = st.memory_guidance;
    let prompt = read(&st, move |m| {
        let s = &m.session(&sid)?.session;
        let (mounts, _) = crate::session::mounts_of(s);
        Ok(crate::agent::prompt::render(
            s.agent.system.as_deref(),
            &mounts,
            guidance,
        ))
    })
    .await?;
    Ok(ok_json(
        serde_json::json!({ "session_id": id, "system_prompt": prompt }),
    ))
}
