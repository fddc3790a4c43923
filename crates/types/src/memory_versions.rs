//! `/v1/memory_stores/{memory_store_id}/memory_versions`

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::memories::View;
use crate::shared::{Actor, Timestamp};

/// An immutable snapshot written by every change to a memory.
///
/// Serializes with `"type":"memory_version"` first, as the API sends it (the tag is not a field;
/// any `type` on input is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "memory_version")]
pub struct MemoryVersion {
    pub id: String,
    pub memory_id: String,
    pub memory_store_id: String,
    pub operation: Operation,
    /// `None` with `view=basic`, for `deleted`, and once redacted.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub content_sha256: Option<String>,
    #[serde(default)]
    pub content_size_bytes: Option<u64>,
    /// The path at write time; `None` if and only if redacted.
    #[serde(default)]
    pub path: Option<String>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub created_by: Option<Actor>,
    #[serde(default)]
    pub redacted_at: Option<Timestamp>,
    #[serde(default)]
    pub redacted_by: Option<Actor>,
}

impl MemoryVersion {
    pub fn is_redacted(&self) -> bool {
        self.redacted_at.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    Created,
    Modified,
    Deleted,
    #[serde(untagged)]
    Other(String),
}

impl Operation {
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Created => "created",
            Operation::Modified => "modified",
            Operation::Deleted => "deleted",
            Operation::Other(s) => s,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListMemoryVersions {
    /// Still works after the memory is deleted.
    pub memory_id: Option<String>,
    pub operation: Option<Operation>,
    pub session_id: Option<String>,
    pub api_key_id: Option<String>,
    pub service_account_id: Option<String>,
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub view: Option<View>,
    /// 1–100, default 20; at most 20 with `view=full`.
    pub limit: Option<u32>,
    pub page: Option<String>,
}
