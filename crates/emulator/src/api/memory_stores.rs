//! `/v1/memory_stores` (reference 4.1).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{CreateMemoryStore, UpdateMemoryStore};

use super::extract::{Params, TimeRange, json_body};
use super::{AppState, Ctx, deleted, ok_json, page_json, read, write};
use crate::error::ApiResult;
use crate::pagination::{Cursor, Key, paginate};

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let p: CreateMemoryStore = json_body(&body, &["name", "description", "metadata"])?;
    let store = write(&st, move |m| m.create_store(p)).await?;
    Ok(ok_json(store))
}

pub async fn retrieve(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let store = read(&st, move |m| m.store(&id).map(|r| r.store.clone())).await?;
    Ok(ok_json(store))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: UpdateMemoryStore = json_body(&body, &["name", "description", "metadata"])?;
    let store = write(&st, move |m| m.update_store(&id, p)).await?;
    Ok(ok_json(store))
}

pub async fn archive(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let store = write(&st, move |m| m.archive_store(&id)).await?;
    Ok(ok_json(store))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id2 = id.clone();
    write(&st, move |m| m.delete_store(&id2)).await?;
    Ok(deleted(&id, "memory_store_deleted"))
}

pub async fn list(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit(20, 100)?;
    let range = TimeRange::parse(&p, "created_at", &["gte", "lte"])?;
    let include_archived = p.bool("include_archived")?.unwrap_or(false);
    let scope = format!("{}#{}", p.scope("memory_stores"), ctx.beta);
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let mut items: Vec<_> = m
            .stores
            .values()
            .filter(|r| include_archived || r.store.archived_at.is_none())
            .filter(|r| range.contains(r.store.created_at))
            .map(|r| (Key::Seq(r.seq), r.store.clone()))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}
