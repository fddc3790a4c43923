//! `/v1/environments` (reference 4.5).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{CreateEnvironment, UpdateEnvironment};

use super::extract::{Params, json_body};
use super::{AppState, deleted, ok_json, page_json, read, write};
use crate::error::ApiResult;
use crate::pagination::{Cursor, Key, paginate};

const FIELDS: &[&str] = &["name", "config", "description", "metadata", "scope"];

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let p: CreateEnvironment = json_body(&body, FIELDS)?;
    Ok(ok_json(write(&st, move |m| m.create_environment(p)).await?))
}

pub async fn retrieve(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok_json(
        read(&st, move |m| m.environment(&id).map(|r| r.env.clone())).await?,
    ))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: UpdateEnvironment = json_body(&body, FIELDS)?;
    Ok(ok_json(
        write(&st, move |m| m.update_environment(&id, p)).await?,
    ))
}

pub async fn archive(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok_json(
        write(&st, move |m| m.archive_environment(&id)).await?,
    ))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id2 = id.clone();
    write(&st, move |m| m.delete_environment(&id2)).await?;
    Ok(deleted(&id, "environment_deleted"))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let include_archived = p.bool("include_archived")?.unwrap_or(false);
    let scope = p.scope("environments");
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let mut items: Vec<_> = m
            .environments
            .values()
            .filter(|r| include_archived || r.env.archived_at.is_none())
            .map(|r| (Key::Seq(r.seq), r.env.clone()))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}
