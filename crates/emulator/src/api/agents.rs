//! `/v1/agents` (reference 4.4).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{CreateAgent, UpdateAgent};

use super::extract::{Params, TimeRange, json_body};
use super::{AppState, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};

const FIELDS: &[&str] = &[
    "name",
    "model",
    "description",
    "system",
    "tools",
    "mcp_servers",
    "skills",
    "metadata",
    "multiagent",
    "execution_identity",
];

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let p: CreateAgent = json_body(&body, FIELDS)?;
    let agent = write(&st, move |m| m.create_agent(p)).await?;
    Ok(ok_json(agent))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let version = p.u64("version")?;
    if version == Some(0) {
        return Err(ApiError::invalid("version: must be at least 1"));
    }
    let agent = read(&st, move |m| {
        let rec = m.agent(&id)?;
        match version {
            Some(v) => rec
                .at_version(v)
                .ok_or_else(|| ApiError::not_found(format!("agent {id:?} has no version {v}"))),
            None => rec
                .latest()
                .ok_or_else(|| ApiError::internal("agent has no versions")),
        }
    })
    .await?;
    Ok(ok_json(agent))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let mut fields = FIELDS.to_vec();
    fields.push("version");
    let p: UpdateAgent = json_body(&body, &fields)?;
    let agent = write(&st, move |m| m.update_agent(&id, p)).await?;
    Ok(ok_json(agent))
}

pub async fn archive(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let agent = write(&st, move |m| m.archive_agent(&id)).await?;
    Ok(ok_json(agent))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let range = TimeRange::parse(&p, "created_at", &["gte", "lte"])?;
    let include_archived = p.bool("include_archived")?.unwrap_or(false);
    let scope = p.scope("agents");
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let mut items: Vec<_> = m
            .agents
            .values()
            .filter(|r| include_archived || r.archived_at.is_none())
            .filter_map(|r| r.latest().map(|a| (r.seq, a)))
            .filter(|(_, a)| range.contains(a.created_at))
            .map(|(seq, a)| (Key::Seq(seq), a))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}

/// Every version, newest first.
pub async fn versions(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let scope = format!("{}#{id}", p.scope("agent_versions"));
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let rec = m.agent(&id)?;
        let items: Vec<_> = rec
            .versions
            .iter()
            .rev()
            .filter_map(|a| rec.at_version(a.version))
            .map(|a| (Key::Seq(a.version), a))
            .collect();
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}
