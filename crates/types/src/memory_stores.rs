//! `/v1/memory_stores`

use serde::{Deserialize, Serialize};

use crate::shared::{Metadata, MetadataPatch, Timestamp, double_option};

/// A named, versioned set of text files mounted at `/mnt/memory/<slug>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStore {
    #[serde(rename = "type", default = "memory_store_type")]
    pub kind: String,
    pub id: String,
    pub name: String,
    /// `""` when unset, never null.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

fn memory_store_type() -> String {
    "memory_store".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateMemoryStore {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateMemoryStore {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub name: Option<Option<String>>,
    /// `Some(Some(""))` clears the description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub metadata: Option<Option<MetadataPatch>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListMemoryStores {
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub include_archived: Option<bool>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
    pub page: Option<String>,
}
