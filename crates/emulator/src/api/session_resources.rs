//! `/v1/sessions/{id}/resources/…` beyond the list (reference 4.7): add a `file`, retrieve,
//! rotate a repository token, delete.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use cma_types::{ResourceParams, UpdateSessionResource};

use super::extract::json_body;
use super::{AppState, deleted, ok_json, read, write};
use crate::error::ApiResult;

pub async fn add(
    State(st): State<AppState>,
    Path(sid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: ResourceParams = json_body(
        &body,
        &[
            "type",
            "file_id",
            "mount_path",
            "memory_store_id",
            "access",
            "instructions",
            "url",
            "authorization_token",
            "checkout",
        ],
    )?;
    let r = write(&st, move |m| m.add_session_resource(&sid, p)).await?;
    Ok(ok_json(r))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Path((sid, rid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = read(&st, move |m| m.session_resource(&sid, &rid)).await?;
    Ok(ok_json(r))
}

pub async fn update(
    State(st): State<AppState>,
    Path((sid, rid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let p: UpdateSessionResource = json_body(&body, &["authorization_token"])?;
    let r = write(&st, move |m| {
        m.update_session_resource(&sid, &rid, &p.authorization_token)
    })
    .await?;
    Ok(ok_json(r))
}

pub async fn delete(
    State(st): State<AppState>,
    Path((sid, rid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let rid2 = rid.clone();
    write(&st, move |m| m.delete_session_resource(&sid, &rid2)).await?;
    Ok(deleted(&rid, "session_resource_deleted"))
}
