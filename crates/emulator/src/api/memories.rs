//! `/v1/memory_stores/{id}/memories` (reference 4.2).

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{CreateMemory, Memory, MemoryListItem, MemoryPrefix, UpdateMemory};

use super::extract::{Params, json_body, json_body_with};
use super::{AppState, Ctx, deleted, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};
use crate::paths::validate_path_prefix;
use crate::store::memory::MemoryChange;

/// A memory as the API shows it (`type` included; `content` only with `full`).
pub fn memory_json(m: &Memory, full: bool) -> MemoryListItem {
    let mut m = m.clone();
    if !full {
        m.content = None;
    }
    MemoryListItem::Memory(m)
}

pub async fn create(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(store_id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let full = Params::parse(q.as_deref()).full_view(false)?;
    let p: CreateMemory = json_body_with(&body, &["path", "content"], &["path", "content"])?;
    let memory = write(&st, move |m| {
        m.create_memory(&store_id, &p.path, p.content.as_deref(), &ctx.actor)
    })
    .await?;
    Ok(ok_json(memory_json(&memory, full)))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path((store_id, memory_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let full = Params::parse(q.as_deref()).full_view(true)?;
    let memory = read(&st, move |m| {
        m.memory(&store_id, &memory_id).map(|r| r.memory.clone())
    })
    .await?;
    Ok(ok_json(memory_json(&memory, full)))
}

pub async fn update(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((store_id, memory_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let full = Params::parse(q.as_deref()).full_view(false)?;
    let p: UpdateMemory = json_body(&body, &["content", "path", "precondition"])?;
    if let Some(pre) = &p.precondition
        && pre.kind != "content_sha256"
    {
        return Err(ApiError::invalid(
            "precondition.type: must be `content_sha256`",
        ));
    }
    // An explicit `null` content or path leaves it unchanged, like leaving it out.
    let change = MemoryChange {
        content: p.content.flatten(),
        path: p.path.flatten(),
        precondition_sha256: p.precondition.map(|p| p.content_sha256),
    };
    let memory = write(&st, move |m| {
        m.update_memory(&store_id, &memory_id, change, &ctx.actor)
    })
    .await?;
    Ok(ok_json(memory_json(&memory, full)))
}

pub async fn delete(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((store_id, memory_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let expected = p.get("expected_content_sha256").map(str::to_string);
    let id = memory_id.clone();
    write(&st, move |m| {
        m.delete_memory(&store_id, &id, expected.as_deref(), &ctx.actor)
    })
    .await?;
    Ok(deleted(&memory_id, "memory_deleted"))
}

/// Lists memories below `prefix`, collapsing anything deeper than `depth` segments (0 = no
/// collapsing) into `memory_prefix` items. Sorted by path.
pub fn listing(
    memories: Vec<&Memory>,
    prefix: &str,
    depth: usize,
    full: bool,
) -> Vec<(String, MemoryListItem)> {
    let mut out: BTreeMap<String, MemoryListItem> = BTreeMap::new();
    for m in memories {
        let Some(rest) = m.path.strip_prefix(prefix) else {
            continue;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if depth == 0 || segments.len() <= depth {
            out.insert(m.path.clone(), memory_json(m, full));
        } else {
            let collapsed = format!("{prefix}{}/", segments[..depth].join("/"));
            out.entry(collapsed.clone())
                .or_insert_with(|| MemoryListItem::Prefix(MemoryPrefix { path: collapsed }));
        }
    }
    out.into_iter().collect()
}

pub async fn list(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(store_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let full = p.full_view(false)?;
    let limit = p.limit(20, if full { 20 } else { 100 })?;
    let prefix = p.get("path_prefix").unwrap_or("/").to_string();
    validate_path_prefix(&prefix).map_err(ApiError::invalid)?;
    let depth = p.u64("depth")?.unwrap_or(0);
    if depth > 20 {
        return Err(ApiError::invalid(format!(
            "depth: must be between 0 and 20 (got {depth})"
        )));
    }
    let scope = format!("{}#{}#{}", p.scope("memories"), store_id, ctx.beta);
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        m.store(&store_id)?;
        let items = listing(m.store_memories(&store_id), &prefix, depth as usize, full)
            .into_iter()
            .map(|(path, v)| (Key::Str(path), v))
            .collect();
        Ok(paginate(items, false, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}
