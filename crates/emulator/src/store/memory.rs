//! Memory stores, memories and memory versions (reference 4.1–4.3, 5.2–5.6). The REST API and
//! the agent's sandbox both write through these functions.

use std::collections::BTreeMap;

use cma_types::{
    Actor, CreateMemoryStore, Memory, MemoryStore, MemoryVersion, Operation, UpdateMemoryStore,
    content_sha256,
};
use serde::{Deserialize, Serialize};

use super::Model;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::paths::validate_memory_path;
use crate::validate;

pub const MAX_CONTENT_BYTES: usize = 102_400;
pub const MAX_MEMORIES_PER_STORE: usize = 2_000;
pub const MAX_STORE_NAME_CHARS: usize = 255;
pub const MAX_STORE_DESCRIPTION_CHARS: usize = 1_024;

pub const KIND_STORE: &str = "memory_store";
pub const KIND_MEMORY: &str = "memory";
pub const KIND_VERSION: &str = "memory_version";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRec {
    pub seq: u64,
    pub store: MemoryStore,
    /// path → memory id; rebuilt on load.
    #[serde(skip)]
    pub paths: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRec {
    pub seq: u64,
    /// Always holds its content; views strip it.
    pub memory: Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRec {
    pub seq: u64,
    pub version: MemoryVersion,
}

/// Changes an update asks for, already decoded.
#[derive(Debug, Clone, Default)]
pub struct MemoryChange {
    pub content: Option<String>,
    pub path: Option<String>,
    pub precondition_sha256: Option<String>,
}

fn check_content(field: &str, content: &str) -> ApiResult<()> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::invalid(format!(
            "{field}: must be at most {MAX_CONTENT_BYTES} bytes of UTF-8 (got {})",
            content.len()
        )));
    }
    Ok(())
}

/// A `content_sha256` value: 64 lowercase hex digits.
pub fn check_sha256(field: &str, value: &str) -> ApiResult<()> {
    if value.len() != 64
        || !value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::invalid(format!(
            "{field}: must be 64 lowercase hexadecimal characters"
        )));
    }
    Ok(())
}

fn store_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("memory store {id:?} not found"))
}

fn memory_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("memory {id:?} not found"))
}

impl Model {
    pub fn store(&self, id: &str) -> ApiResult<&StoreRec> {
        self.stores.get(id).ok_or_else(|| store_not_found(id))
    }

    pub fn create_store(&mut self, p: CreateMemoryStore) -> ApiResult<MemoryStore> {
        validate::name("name", &p.name, MAX_STORE_NAME_CHARS)?;
        let description = p.description.unwrap_or_default();
        validate::max_chars("description", &description, MAX_STORE_DESCRIPTION_CHARS)?;
        let metadata = p.metadata.unwrap_or_default();
        validate::metadata("metadata", &metadata)?;
        let now = clock::now();
        let store = MemoryStore {
            kind: "memory_store".into(),
            id: ids::new_id(ids::MEMORY_STORE),
            name: p.name,
            description,
            metadata,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        let seq = self.next_seq();
        let id = store.id.clone();
        self.stores.insert(
            id.clone(),
            StoreRec {
                seq,
                store: store.clone(),
                paths: BTreeMap::new(),
            },
        );
        self.webhook("memory_store.created", &id);
        Ok(store)
    }

    pub fn update_store(&mut self, id: &str, p: UpdateMemoryStore) -> ApiResult<MemoryStore> {
        let rec = self.store(id)?;
        let mut store = rec.store.clone();
        if let Some(Some(name)) = &p.name {
            validate::name("name", name, MAX_STORE_NAME_CHARS)?;
            store.name = name.clone();
        }
        if let Some(description) = &p.description {
            let description = description.clone().unwrap_or_default();
            validate::max_chars("description", &description, MAX_STORE_DESCRIPTION_CHARS)?;
            store.description = description;
        }
        if let Some(Some(patch)) = &p.metadata {
            store.metadata = validate::patch_metadata("metadata", &store.metadata, patch, false)?;
        }
        if store.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "memory store {id:?} is archived and cannot be updated"
            )));
        }
        store.updated_at = clock::now();
        if let Some(rec) = self.stores.get_mut(id) {
            rec.store = store.clone();
        }
        Ok(store)
    }

    /// Idempotent: an archived store is returned unchanged.
    pub fn archive_store(&mut self, id: &str) -> ApiResult<MemoryStore> {
        let rec = self.store(id)?;
        if rec.store.archived_at.is_some() {
            return Ok(rec.store.clone());
        }
        let now = clock::now();
        let store = match self.stores.get_mut(id) {
            Some(rec) => {
                rec.store.archived_at = Some(now);
                rec.store.updated_at = now;
                rec.store.clone()
            }
            None => return Err(store_not_found(id)),
        };
        self.webhook("memory_store.archived", id);
        Ok(store)
    }

    /// Removes the store with every memory and version in it.
    pub fn delete_store(&mut self, id: &str) -> ApiResult<()> {
        let rec = self.stores.remove(id).ok_or_else(|| store_not_found(id))?;
        for mem_id in rec.paths.values() {
            self.memories.remove(mem_id);
        }
        let versions: Vec<String> = self
            .versions
            .values()
            .filter(|v| v.version.memory_store_id == id)
            .map(|v| v.version.id.clone())
            .collect();
        for vid in versions {
            self.versions.remove(&vid);
        }
        self.webhook("memory_store.deleted", id);
        Ok(())
    }

    pub fn memory(&self, store_id: &str, memory_id: &str) -> ApiResult<&MemoryRec> {
        self.store(store_id)?;
        self.memories
            .get(memory_id)
            .filter(|m| m.memory.memory_store_id == store_id)
            .ok_or_else(|| memory_not_found(memory_id))
    }

    pub fn memory_by_path(&self, store_id: &str, path: &str) -> Option<&MemoryRec> {
        let id = self.stores.get(store_id)?.paths.get(path)?;
        self.memories.get(id)
    }

    fn add_version(
        &mut self,
        store_id: &str,
        memory_id: &str,
        operation: Operation,
        content: Option<&str>,
        path: &str,
        actor: &Actor,
    ) -> (String, clock::Timestamp) {
        let now = clock::now();
        let version = MemoryVersion {
            id: ids::new_id(ids::MEMORY_VERSION),
            memory_id: memory_id.to_string(),
            memory_store_id: store_id.to_string(),
            operation,
            content: content.map(str::to_string),
            content_sha256: content.map(content_sha256),
            content_size_bytes: content.map(|c| c.len() as u64),
            path: Some(path.to_string()),
            created_at: now,
            created_by: Some(actor.clone()),
            redacted_at: None,
            redacted_by: None,
        };
        let seq = self.next_seq();
        let id = version.id.clone();
        self.versions
            .insert(id.clone(), VersionRec { seq, version });
        (id, now)
    }

    fn writable_store(&self, store_id: &str) -> ApiResult<()> {
        if self.store(store_id)?.store.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "memory store {store_id:?} is archived: its memories cannot be created or updated"
            )));
        }
        Ok(())
    }

    /// `content: None` makes an empty memory.
    pub fn create_memory(
        &mut self,
        store_id: &str,
        path: &str,
        content: Option<&str>,
        actor: &Actor,
    ) -> ApiResult<Memory> {
        let rec = self.store(store_id)?;
        validate_memory_path(path, "path").map_err(ApiError::invalid)?;
        let content = content.unwrap_or("");
        check_content("content", content)?;
        self.writable_store(store_id)?;
        if rec.paths.contains_key(path) {
            return Err(ApiError::conflict(
                "memory_path_conflict_error",
                format!("a memory already exists at path {path:?}"),
            ));
        }
        if rec.paths.len() >= MAX_MEMORIES_PER_STORE {
            return Err(ApiError::invalid(format!(
                "memory store {store_id:?} already holds the maximum of {MAX_MEMORIES_PER_STORE} memories"
            )));
        }
        let memory_id = ids::new_id(ids::MEMORY);
        let (version_id, now) = self.add_version(
            store_id,
            &memory_id,
            Operation::Created,
            Some(content),
            path,
            actor,
        );
        let memory = Memory {
            id: memory_id.clone(),
            memory_store_id: store_id.to_string(),
            path: path.to_string(),
            content: Some(content.to_string()),
            content_sha256: content_sha256(content),
            content_size_bytes: content.len() as u64,
            memory_version_id: version_id,
            created_at: now,
            updated_at: now,
        };
        let seq = self.next_seq();
        self.memories.insert(
            memory_id.clone(),
            MemoryRec {
                seq,
                memory: memory.clone(),
            },
        );
        if let Some(s) = self.stores.get_mut(store_id) {
            s.paths.insert(path.to_string(), memory_id.clone());
        }
        Ok(memory)
    }

    /// Changes content and/or path. A request that changes neither returns the memory unchanged
    /// and writes no version.
    pub fn update_memory(
        &mut self,
        store_id: &str,
        memory_id: &str,
        change: MemoryChange,
        actor: &Actor,
    ) -> ApiResult<Memory> {
        let current = self.memory(store_id, memory_id)?.memory.clone();
        if let Some(path) = &change.path {
            validate_memory_path(path, "path").map_err(ApiError::invalid)?;
        }
        if let Some(content) = &change.content {
            check_content("content", content)?;
        }
        if let Some(sha) = &change.precondition_sha256 {
            check_sha256("precondition.content_sha256", sha)?;
        }
        self.writable_store(store_id)?;
        if let Some(sha) = &change.precondition_sha256
            && *sha != current.content_sha256
        {
            return Err(ApiError::conflict(
                "memory_precondition_failed_error",
                format!(
                    "precondition failed: the memory's content_sha256 is {}, not {sha}",
                    current.content_sha256
                ),
            ));
        }
        let new_path = change.path.clone().unwrap_or_else(|| current.path.clone());
        let new_content = change
            .content
            .clone()
            .unwrap_or_else(|| current.content.clone().unwrap_or_default());
        let renamed = new_path != current.path;
        let rewritten = Some(&new_content) != current.content.as_ref();
        if !renamed && !rewritten {
            return Ok(current);
        }
        if renamed && self.store(store_id)?.paths.contains_key(&new_path) {
            return Err(ApiError::conflict(
                "memory_path_conflict_error",
                format!("a memory already exists at path {new_path:?}"),
            ));
        }
        let (version_id, now) = self.add_version(
            store_id,
            memory_id,
            Operation::Modified,
            Some(&new_content),
            &new_path,
            actor,
        );
        let mut memory = current.clone();
        memory.path = new_path.clone();
        memory.content_sha256 = content_sha256(&new_content);
        memory.content_size_bytes = new_content.len() as u64;
        memory.content = Some(new_content);
        memory.memory_version_id = version_id;
        memory.updated_at = now;
        if let Some(rec) = self.memories.get_mut(memory_id) {
            rec.memory = memory.clone();
        }
        if renamed && let Some(s) = self.stores.get_mut(store_id) {
            s.paths.remove(&current.path);
            s.paths.insert(new_path, memory_id.to_string());
        }
        Ok(memory)
    }

    pub fn delete_memory(
        &mut self,
        store_id: &str,
        memory_id: &str,
        expected_sha256: Option<&str>,
        actor: &Actor,
    ) -> ApiResult<()> {
        let current = self.memory(store_id, memory_id)?.memory.clone();
        if let Some(sha) = expected_sha256 {
            check_sha256("expected_content_sha256", sha)?;
            if sha != current.content_sha256 {
                return Err(ApiError::conflict(
                    "memory_precondition_failed_error",
                    format!(
                        "precondition failed: the memory's content_sha256 is {}, not {sha}",
                        current.content_sha256
                    ),
                ));
            }
        }
        self.add_version(
            store_id,
            memory_id,
            Operation::Deleted,
            None,
            &current.path,
            actor,
        );
        self.memories.remove(memory_id);
        if let Some(s) = self.stores.get_mut(store_id) {
            s.paths.remove(&current.path);
        }
        Ok(())
    }

    pub fn version(&self, store_id: &str, version_id: &str) -> ApiResult<&VersionRec> {
        self.store(store_id)?;
        self.versions
            .get(version_id)
            .filter(|v| v.version.memory_store_id == store_id)
            .ok_or_else(|| ApiError::not_found(format!("memory version {version_id:?} not found")))
    }

    /// Nulls content, path, hash and size; idempotent.
    pub fn redact_version(
        &mut self,
        store_id: &str,
        version_id: &str,
        actor: &Actor,
    ) -> ApiResult<MemoryVersion> {
        let rec = self.version(store_id, version_id)?;
        if rec.version.redacted_at.is_some() {
            return Ok(rec.version.clone());
        }
        let now = clock::now();
        let version = match self.versions.get_mut(version_id) {
            Some(rec) => {
                let v = &mut rec.version;
                v.content = None;
                v.content_sha256 = None;
                v.content_size_bytes = None;
                v.path = None;
                v.redacted_at = Some(now);
                v.redacted_by = Some(actor.clone());
                v.clone()
            }
            None => {
                return Err(ApiError::not_found(format!(
                    "memory version {version_id:?} not found"
                )));
            }
        };
        Ok(version)
    }

    /// Every memory of a store, by path.
    pub fn store_memories(&self, store_id: &str) -> Vec<&Memory> {
        match self.stores.get(store_id) {
            Some(s) => s
                .paths
                .values()
                .filter_map(|id| self.memories.get(id))
                .map(|m| &m.memory)
                .collect(),
            None => Vec::new(),
        }
    }

    pub(crate) fn rebuild_path_index(&mut self) {
        for s in self.stores.values_mut_unjournaled() {
            s.paths.clear();
        }
        for m in self.memories.values() {
            if let Some(s) = self.stores.get_mut(&m.memory.memory_store_id) {
                s.paths.insert(m.memory.path.clone(), m.memory.id.clone());
            }
        }
    }
}
