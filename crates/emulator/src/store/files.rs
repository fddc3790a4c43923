//! Uploaded files (`/v1/files`) and the `file` resources that mount them into sessions
//! (`/v1/sessions/{id}/resources`).
//!
//! A file's record is persisted like every other object; its bytes go to their own table in the
//! same transaction ([`Change::FileContent`]), so an upload is stored whole or not at all.
//!
//! Pinned from the SDK (2.10.0): the routes, the `file` object and `file_deleted`, the
//! `expires_in_seconds` bounds, the kept filename (last component, else `unnamed` + extension),
//! `ids`/`scope_id`/`limit` on the list, `file_not_downloadable` (400) for uploads, the
//! resource objects, `session_resource_deleted`, add taking only `file`, token rotation only for
//! `github_repository`. Inferred: 404 for an unknown file id (as for an unknown memory store),
//! 413 `request_too_large` past the size limit (the 500 MB default is the public docs' figure),
//! the mount-path rules, resources of archived sessions being frozen, and a deleted file
//! vanishing from the mounts while its resource stays.

use bytes::Bytes;
use cma_types::{FileMetadata, FileResource, FileResourceParams, ResourceParams, SessionResource};
use serde::{Deserialize, Serialize};

use super::Model;
use crate::clock::{self, Timestamp};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::paths::{MOUNT_ROOT, normalize};
use crate::persist::Change;

pub const KIND_FILE: &str = "file";

/// The default per-file size limit: the Files API's documented 500 MB.
pub const DEFAULT_MAX_FILE_BYTES: usize = 500 * 1024 * 1024;
/// `expires_in_seconds` bounds (one hour to ninety days), from the SDK's docstring.
pub const MIN_EXPIRES_IN_SECONDS: u64 = 3_600;
pub const MAX_EXPIRES_IN_SECONDS: u64 = 7_776_000;
/// Where a `file` resource is mounted when it names no `mount_path`.
pub const UPLOADS_ROOT: &str = "/mnt/session/uploads";

/// A stored file: its metadata and (not in the JSON record) its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRec {
    pub seq: u64,
    pub file: FileMetadata,
    #[serde(skip)]
    pub content: Bytes,
}

/// One file being uploaded, as the multipart form carried it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: Option<String>,
    pub mime_type: Option<String>,
    pub content: Bytes,
    pub expires_in_seconds: Option<u64>,
}

fn file_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("file {id:?} not found"))
}

/// The last path component of a part's filename (either separator); `unnamed` plus the usual
/// extension of `mime_type` when there is none (as the SDK documents).
pub fn stored_filename(filename: Option<&str>, mime_type: &str) -> String {
    let leaf = filename
        .and_then(|f| f.rsplit(['/', '\\']).next())
        .map(str::trim)
        .unwrap_or("");
    if !leaf.is_empty() && leaf != "." && leaf != ".." {
        return leaf.to_string();
    }
    let ext = match mime_type {
        "text/plain" => ".txt",
        "text/markdown" => ".md",
        "text/csv" => ".csv",
        "text/html" => ".html",
        "application/json" => ".json",
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        _ => "",
    };
    format!("unnamed{ext}")
}

impl Model {
    pub fn file(&self, id: &str) -> ApiResult<&FileRec> {
        self.files.get(id).ok_or_else(|| file_not_found(id))
    }

    /// The file's bytes, stored in the same commit as its record.
    fn store_content(&mut self, id: &str, bytes: Option<Bytes>) {
        self.changes.push(Change::FileContent {
            id: id.to_string(),
            bytes,
        });
    }

    /// Stores an upload. The size limit is checked by the caller, which sees the bytes first.
    pub fn upload_file(&mut self, u: Upload) -> ApiResult<FileMetadata> {
        let now = clock::now();
        let expires_at = match u.expires_in_seconds {
            None => None,
            Some(s) if (MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS).contains(&s) => {
                Some(now + chrono::Duration::seconds(s as i64))
            }
            Some(s) => {
                return Err(ApiError::invalid(format!(
                    "expires_in_seconds: must be between {MIN_EXPIRES_IN_SECONDS} and {MAX_EXPIRES_IN_SECONDS} (got {s})"
                )));
            }
        };
        let mime_type = u
            .mime_type
            .map(|m| {
                m.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into());
        let file = FileMetadata {
            kind: KIND_FILE.into(),
            id: ids::new_id(ids::FILE),
            filename: stored_filename(u.filename.as_deref(), &mime_type),
            mime_type,
            size_bytes: u.content.len() as u64,
            created_at: now,
            // Only files a tool generated can be downloaded (the SDK's `file_not_downloadable`).
            downloadable: Some(false),
            expires_at,
            scope: None,
        };
        let seq = self.next_seq();
        let id = file.id.clone();
        let content = u.content;
        self.files.insert(
            id.clone(),
            FileRec {
                seq,
                file: file.clone(),
                content: content.clone(),
            },
        );
        self.store_content(&id, Some(content));
        Ok(file)
    }

    /// Deletes a file. Sessions that mount it keep their resource, but the file is gone from
    /// their sandbox from the next tool call on.
    pub fn delete_file(&mut self, id: &str) -> ApiResult<()> {
        self.file(id)?;
        self.files.remove(id);
        self.store_content(id, None);
        Ok(())
    }

    /// A `file` resource for a session whose other resources are `existing`: the file must
    /// exist, and the mount path must be absolute, outside the memory mounts and apart from
    /// every other mounted path.
    pub fn file_resource(
        &self,
        field: &str,
        p: &FileResourceParams,
        existing: &[SessionResource],
        now: Timestamp,
    ) -> ApiResult<FileResource> {
        let name = |f: &str| {
            if field.is_empty() {
                f.to_string()
            } else {
                format!("{field}.{f}")
            }
        };
        if p.file_id.is_empty() {
            return Err(ApiError::invalid(format!(
                "{}: must not be empty",
                name("file_id")
            )));
        }
        self.file(&p.file_id)?;
        let mount_path = match &p.mount_path {
            None => format!("{UPLOADS_ROOT}/{}", p.file_id),
            Some(m) => normalize(m).filter(|n| n != "/").ok_or_else(|| {
                ApiError::invalid(format!(
                    "{}: must be an absolute path to a file (got {m:?})",
                    name("mount_path")
                ))
            })?,
        };
        let overlaps = |a: &str, b: &str| {
            a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
        };
        if overlaps(&mount_path, MOUNT_ROOT) {
            return Err(ApiError::invalid(format!(
                "{}: {mount_path:?} is inside {MOUNT_ROOT}, where memory stores are mounted",
                name("mount_path")
            )));
        }
        let taken = existing.iter().find_map(|r| match r {
            SessionResource::File(f) if overlaps(&f.mount_path, &mount_path) => {
                Some(f.mount_path.as_str())
            }
            SessionResource::GithubRepository(g) if overlaps(&g.mount_path, &mount_path) => {
                Some(g.mount_path.as_str())
            }
            _ => None,
        });
        if let Some(taken) = taken {
            return Err(ApiError::invalid(format!(
                "{}: {mount_path:?} overlaps {taken:?}, where another resource of this session is mounted",
                name("mount_path")
            )));
        }
        Ok(FileResource {
            id: ids::new_id(ids::SESSION_RESOURCE),
            file_id: p.file_id.clone(),
            mount_path,
            created_at: now,
            updated_at: now,
        })
    }

    /// `POST /v1/sessions/{id}/resources`: only a `file` can be added; memory stores attach
    /// when the session is created.
    pub fn add_session_resource(
        &mut self,
        sid: &str,
        p: ResourceParams,
    ) -> ApiResult<SessionResource> {
        let file = match p {
            ResourceParams::File(f) => f,
            ResourceParams::MemoryStore(_) => {
                return Err(ApiError::invalid(
                    "type: a memory_store cannot be added to an existing session; memory stores attach when the session is created",
                ));
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "type: only `file` resources can be added to a session (got {:?})",
                    other.type_name()
                )));
            }
        };
        let s = &self.session(sid)?.session;
        if s.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "session {sid:?} is archived; its resources cannot change"
            )));
        }
        let now = clock::now();
        let resource = SessionResource::File(self.file_resource("", &file, &s.resources, now)?);
        let rec = self
            .sessions
            .get_mut(sid)
            .ok_or_else(|| ApiError::internal("session vanished"))?;
        rec.session.resources.push(resource.clone());
        rec.session.updated_at = now;
        Ok(resource)
    }

    /// A resource by id. Memory store resources have no id, so only files and repositories
    /// are found.
    pub fn session_resource(&self, sid: &str, rid: &str) -> ApiResult<SessionResource> {
        self.session(sid)?
            .session
            .resources
            .iter()
            .find(|r| resource_id(r) == Some(rid))
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(format!("resource {rid:?} not found in session {sid:?}"))
            })
    }

    /// `POST /v1/sessions/{id}/resources/{rid}`: rotates a `github_repository` token (the token
    /// is never returned, so only `updated_at` shows it).
    pub fn update_session_resource(
        &mut self,
        sid: &str,
        rid: &str,
        authorization_token: &str,
    ) -> ApiResult<SessionResource> {
        let current = self.session_resource(sid, rid)?;
        if authorization_token.is_empty() {
            return Err(ApiError::invalid("authorization_token: must not be empty"));
        }
        if !matches!(current, SessionResource::GithubRepository(_)) {
            return Err(ApiError::invalid(
                "only github_repository resources support token rotation",
            ));
        }
        let now = clock::now();
        let rec = self
            .sessions
            .get_mut(sid)
            .ok_or_else(|| ApiError::internal("session vanished"))?;
        let mut updated = current;
        for r in &mut rec.session.resources {
            if let SessionResource::GithubRepository(g) = r
                && g.id == rid
            {
                g.updated_at = now;
                updated = r.clone();
            }
        }
        Ok(updated)
    }

    /// `DELETE /v1/sessions/{id}/resources/{rid}`: the mount is gone from the next turn on.
    pub fn delete_session_resource(&mut self, sid: &str, rid: &str) -> ApiResult<()> {
        self.session_resource(sid, rid)?;
        let now = clock::now();
        let rec = self
            .sessions
            .get_mut(sid)
            .ok_or_else(|| ApiError::internal("session vanished"))?;
        rec.session
            .resources
            .retain(|r| resource_id(r) != Some(rid));
        rec.session.updated_at = now;
        Ok(())
    }
}

fn resource_id(r: &SessionResource) -> Option<&str> {
    match r {
        SessionResource::File(f) => Some(&f.id),
        SessionResource::GithubRepository(g) => Some(&g.id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_filename_keeps_the_last_component_or_names_it_unnamed() {
        assert_eq!(stored_filename(Some("a/b/c.txt"), "text/plain"), "c.txt");
        assert_eq!(stored_filename(Some(r"C:\x\y.md"), "text/plain"), "y.md");
        assert_eq!(stored_filename(Some(""), "text/plain"), "unnamed.txt");
        assert_eq!(stored_filename(None, "application/x-thing"), "unnamed");
        assert_eq!(stored_filename(Some("dir/"), "image/png"), "unnamed.png");
    }
}
