//! One thin handle per resource group; the tree mirrors the API's URL tree
//! (`memory_stores/{memories, memory_versions}`, `agents/versions`, `sessions/{events,
//! resources}`, `files`).

pub mod agents;
pub mod environments;
pub mod files;
pub mod memory_stores;
pub mod sessions;

use crate::Client;

impl Client {
    /// `/v1/memory_stores` and, below it, memories and memory versions.
    pub fn memory_stores(&self) -> memory_stores::MemoryStores<'_> {
        memory_stores::MemoryStores::new(self)
    }

    /// `/v1/agents`.
    pub fn agents(&self) -> agents::Agents<'_> {
        agents::Agents::new(self)
    }

    /// `/v1/environments`.
    pub fn environments(&self) -> environments::Environments<'_> {
        environments::Environments::new(self)
    }

    /// `/v1/sessions` and, below it, session events and resources.
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions::new(self)
    }

    /// `/v1/files`.
    pub fn files(&self) -> files::Files<'_> {
        files::Files::new(self)
    }
}
