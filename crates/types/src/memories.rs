//! `/v1/memory_stores/{memory_store_id}/memories`

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::shared::{Timestamp, double_option};

/// One text file in a memory store.
///
/// Serializes with `"type":"memory"` first, as the API sends it (the tag is not a field; any
/// `type` on input is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "memory")]
pub struct Memory {
    pub id: String,
    pub memory_store_id: String,
    pub path: String,
    /// `None` with `view=basic`.
    #[serde(default)]
    pub content: Option<String>,
    pub content_sha256: String,
    pub content_size_bytes: u64,
    pub memory_version_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A collapsed directory in a `depth`-limited listing; its path ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPrefix {
    pub path: String,
}

/// An item of a memory listing.
///
/// Written out rather than with `open_union!` because [`Memory`] serializes its own `type` tag,
/// which the macro's tagging would repeat.
#[derive(Debug, Clone, PartialEq)]
pub enum MemoryListItem {
    Memory(Memory),
    Prefix(MemoryPrefix),
    /// A `type` this version of the crate does not know, kept verbatim.
    Unknown(serde_json::Value),
}

impl MemoryListItem {
    /// Every `type` string this crate knows for this union.
    pub const KNOWN_TYPES: &'static [&'static str] = &["memory", "memory_prefix"];

    /// The wire `type` string of this value.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Memory(_) => "memory",
            Self::Prefix(_) => "memory_prefix",
            Self::Unknown(raw) => raw.get("type").and_then(|t| t.as_str()).unwrap_or(""),
        }
    }
}

impl Serialize for MemoryListItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Memory(inner) => inner.serialize(serializer),
            Self::Prefix(inner) => super::union::Tagged {
                tag: "memory_prefix",
                inner,
            }
            .serialize(serializer),
            Self::Unknown(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for MemoryListItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = serde_json::Value::deserialize(deserializer)?;
        match raw.get("type") {
            Some(serde_json::Value::String(tag)) if tag == "memory" => Memory::deserialize(&raw)
                .map(Self::Memory)
                .map_err(|e| D::Error::custom(format_args!("MemoryListItem `memory`: {e}"))),
            Some(serde_json::Value::String(tag)) if tag == "memory_prefix" => {
                MemoryPrefix::deserialize(&raw)
                    .map(Self::Prefix)
                    .map_err(|e| {
                        D::Error::custom(format_args!("MemoryListItem `memory_prefix`: {e}"))
                    })
            }
            Some(serde_json::Value::String(_)) => Ok(Self::Unknown(raw)),
            Some(_) => Err(D::Error::custom("MemoryListItem: `type` is not a string")),
            None => Err(D::Error::custom("MemoryListItem: missing field `type`")),
        }
    }
}

/// `basic` leaves `content` null; `full` includes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Basic,
    Full,
}

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Basic => "basic",
            View::Full => "full",
        }
    }
}

/// SHA-256 of the raw UTF-8 bytes, lowercase hex: the API's `content_sha256`.
pub fn content_sha256(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateMemory {
    pub path: String,
    /// A required key; `None` sends `null`.
    pub content: Option<String>,
}

/// `{"type":"content_sha256","content_sha256":"<hex>"}`: the only precondition variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub content_sha256: String,
}

impl Precondition {
    pub fn content_sha256(sha: impl Into<String>) -> Self {
        Self {
            kind: "content_sha256".into(),
            content_sha256: sha.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMemory {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub content: Option<Option<String>>,
    /// A new path renames the memory; its id stays the same.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub path: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMemories {
    /// Must end with `/`; matches whole segments.
    pub path_prefix: Option<String>,
    /// 0 lists everything below the prefix; 1 collapses deeper entries into prefixes.
    pub depth: Option<u32>,
    pub view: Option<View>,
    /// 1–100, default 20; at most 20 with `view=full`.
    pub limit: Option<u32>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteMemory {
    pub expected_content_sha256: Option<String>,
}
