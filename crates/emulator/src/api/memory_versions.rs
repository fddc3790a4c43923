//! `/v1/memory_stores/{id}/memory_versions` (reference 4.3).

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use cma_types::{Actor, MemoryVersion};

use super::extract::{Params, TimeRange};
use super::{AppState, Ctx, ok_json, page_json, read, write};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};

/// A version as the API shows it (`content` only with `full`).
pub fn version_json(v: &MemoryVersion, full: bool) -> MemoryVersion {
    let mut v = v.clone();
    if !full {
        v.content = None;
    }
    v
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
    let range = TimeRange::parse(&p, "created_at", &["gte", "lte"])?;
    let operation = p.get("operation").map(str::to_string);
    if let Some(op) = &operation
        && !matches!(op.as_str(), "created" | "modified" | "deleted")
    {
        return Err(ApiError::invalid(format!(
            "operation: must be `created`, `modified` or `deleted` (got {op:?})"
        )));
    }
    let memory_id = p.get("memory_id").map(str::to_string);
    let session_id = p.get("session_id").map(str::to_string);
    let api_key_id = p.get("api_key_id").map(str::to_string);
    let service_account_id = p.get("service_account_id").map(str::to_string);
    let scope = format!("{}#{}#{}", p.scope("memory_versions"), store_id, ctx.beta);
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        m.store(&store_id)?;
        let mut items: Vec<_> = m
            .versions
            .values()
            .filter(|r| r.version.memory_store_id == store_id)
            .filter(|r| memory_id.as_ref().is_none_or(|id| r.version.memory_id == *id))
            .filter(|r| operation.as_ref().is_none_or(|op| r.version.operation.as_str() == op))
            .filter(|r| range.contains(r.version.created_at))
            .filter(|r| {
                let by = r.version.created_by.as_ref();
                session_id.as_ref().is_none_or(|s| matches!(by, Some(Actor::Session(a)) if a.session_id == *s))
                    && api_key_id.as_ref().is_none_or(|k| matches!(by, Some(Actor::Api(a)) if a.api_key_id == *k))
                    && service_account_id
                        .as_ref()
                        .is_none_or(|k| matches!(by, Some(Actor::ServiceAccount(a)) if a.service_account_id == *k))
            })
            .map(|r| (Key::Seq(r.seq), version_json(&r.version, full)))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path((store_id, version_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let full = Params::parse(q.as_deref()).full_view(true)?;
    let v = read(&st, move |m| {
        m.version(&store_id, &version_id).map(|r| r.version.clone())
    })
    .await?;
    Ok(ok_json(version_json(&v, full)))
}

pub async fn redact(
    State(st): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((store_id, version_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let v = write(&st, move |m| {
        m.redact_version(&store_id, &version_id, &ctx.actor)
    })
    .await?;
    Ok(ok_json(version_json(&v, true)))
}
