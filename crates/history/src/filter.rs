//! Which versions of a history to show (the conditions; `model` applies them to a history).

use cma_client::types::{Operation, Timestamp};

/// All conditions must hold; an unset field matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionFilter {
    /// A memory path, or a directory prefix ending in `/`. A version matches if it, or the
    /// memory's previous version, is at a matching path — so renames away from the path, deletions
    /// and redactions of a matching memory are shown too.
    pub path: Option<String>,
    pub memory_id: Option<String>,
    /// Versions written by this session (`session_actor`).
    pub session_id: Option<String>,
    pub operation: Option<Operation>,
    /// Inclusive.
    pub since: Option<Timestamp>,
    /// Inclusive.
    pub until: Option<Timestamp>,
}
