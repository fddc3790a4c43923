//! `/v1/files` (the SDK's `beta.files`), and the bodies of `/v1/sessions/{id}/resources`.

use serde::{Deserialize, Serialize};

use crate::shared::Timestamp;

/// What a file was created in (`{"type":"session","id":"sesn_…"}`); `None` for uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileScope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `BetaFileMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// Always `"file"`.
    #[serde(rename = "type", default = "file_type")]
    pub kind: String,
    pub id: String,
    pub filename: String,
    pub mime_type: String,
    pub size_bytes: u64,
    pub created_at: Timestamp,
    /// `false` for uploads: only files a tool generated can be downloaded.
    #[serde(default)]
    pub downloadable: Option<bool>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub scope: Option<FileScope>,
}

fn file_type() -> String {
    "file".into()
}

/// Query of `GET /v1/files`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFiles {
    /// At most 100; excludes `limit` and `page`; answered as one page.
    pub ids: Vec<String>,
    /// 1 to 1000, default 20.
    pub limit: Option<u32>,
    pub page: Option<String>,
    pub scope_id: Option<String>,
}

/// One file to upload (`POST /v1/files`, multipart field `file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// Only its last path component is kept.
    pub filename: String,
    /// Sent as the part's `Content-Type` (default `application/octet-stream`).
    pub mime_type: Option<String>,
    pub content: Vec<u8>,
    /// 3600 to 7776000 seconds.
    pub expires_in_seconds: Option<u64>,
}

/// Body of `POST /v1/sessions/{id}/resources/{resource_id}` (only `github_repository`
/// resources rotate a token).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSessionResource {
    pub authorization_token: String,
}
