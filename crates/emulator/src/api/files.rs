//! `/v1/files` (the SDK's `beta.files`): multipart upload, list, metadata, download, delete.

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::Params;
use super::{AppState, deleted, ok_json, page_json, read, write};
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Cursor, Key, paginate};
use crate::store::files::Upload;

/// Room for the multipart framing and the other form fields around the file's bytes: the
/// request limit of an upload is the file limit plus this.
pub const FORM_OVERHEAD_BYTES: usize = 64 * 1024;
/// `ids` takes at most this many entries.
const MAX_IDS: usize = 100;

fn too_large(max: usize) -> ApiError {
    ApiError::too_large(format!("file: larger than the limit of {max} bytes"))
}

fn bad_form(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("body: not a valid multipart/form-data upload: {e}"))
}

/// `POST /v1/files`: a form with `file` (required) and `expires_in_seconds`.
pub async fn upload(State(st): State<AppState>, mut form: Multipart) -> ApiResult<Response> {
    let max = st.max_file_bytes;
    let mut file: Option<Upload> = None;
    let mut expires_in_seconds = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name().unwrap_or("") {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::invalid("file: give exactly one file"));
                }
                let filename = field.file_name().map(str::to_string);
                let mime_type = field.content_type().map(str::to_string);
                // Read chunk by chunk so an oversized file is refused without being held whole.
                let mut content = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    if content.len() + chunk.len() > max {
                        return Err(too_large(max));
                    }
                    content.extend_from_slice(&chunk);
                }
                file = Some(Upload {
                    filename,
                    mime_type,
                    content: Bytes::from(content),
                    expires_in_seconds: None,
                });
            }
            "expires_in_seconds" => {
                let text = field.text().await.map_err(bad_form)?;
                let secs = text.trim().parse::<u64>().map_err(|_| {
                    ApiError::invalid(format!(
                        "expires_in_seconds: must be an integer (got {text:?})"
                    ))
                })?;
                expires_in_seconds = Some(secs);
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "{other}: unknown form field (expected `file` and `expires_in_seconds`)"
                )));
            }
        }
    }
    let mut upload = file.ok_or_else(|| ApiError::invalid("file: field required"))?;
    upload.expires_in_seconds = expires_in_seconds;
    let meta = write(&st, move |m| m.upload_file(upload)).await?;
    Ok(ok_json(meta))
}

/// `GET /v1/files`: newest first; `ids` answers one page, `scope_id` keeps a scope's files.
pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let mut ids: Vec<String> = p.all("ids").into_iter().map(str::to_string).collect();
    ids.sort();
    ids.dedup();
    if !ids.is_empty() && (p.get("page").is_some() || p.get("limit").is_some()) {
        return Err(ApiError::invalid(
            "ids: cannot be combined with `page` or `limit`",
        ));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::invalid(format!(
            "ids: at most {MAX_IDS} entries (got {})",
            ids.len()
        )));
    }
    let limit = if ids.is_empty() {
        p.limit(20, 1000)?
    } else {
        MAX_IDS
    };
    let scope_id = p.get("scope_id").map(str::to_string);
    let scope = p.scope("files");
    let cursor = p
        .get("page")
        .map(|c| Cursor::decode(c, &scope))
        .transpose()?;
    let page = read(&st, move |m| {
        let mut items: Vec<_> = m
            .files
            .values()
            .filter(|f| ids.is_empty() || ids.contains(&f.file.id))
            .filter(|f| {
                scope_id
                    .as_ref()
                    .is_none_or(|s| f.file.scope.as_ref().is_some_and(|sc| sc.id == *s))
            })
            .map(|f| (Key::Seq(f.seq), f.file.clone()))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(paginate(items, true, limit, cursor.as_ref(), &scope))
    })
    .await?;
    Ok(page_json(page))
}

pub async fn retrieve(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let meta = read(&st, move |m| m.file(&id).map(|f| f.file.clone())).await?;
    Ok(ok_json(meta))
}

/// `GET /v1/files/{id}/content`: only files a tool generated are downloadable; uploads answer
/// 400 `file_not_downloadable`, as the SDK documents.
pub async fn download(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let (meta, content) = read(&st, move |m| {
        m.file(&id).map(|f| (f.file.clone(), f.content.clone()))
    })
    .await?;
    if meta.downloadable != Some(true) {
        return Err(ApiError::invalid(format!(
            "file {:?} cannot be downloaded: only files created by a tool can be",
            meta.id
        ))
        .code("file_not_downloadable"));
    }
    if meta.expires_at.is_some_and(|t| t <= clock::now()) {
        return Err(
            ApiError::not_found(format!("file {:?} has expired", meta.id)).code("file_expired"),
        );
    }
    let mut resp = Body::from(content).into_response();
    if let Ok(v) = HeaderValue::from_str(&meta.mime_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id2 = id.clone();
    write(&st, move |m| m.delete_file(&id2)).await?;
    Ok(deleted(&id, "file_deleted"))
}
