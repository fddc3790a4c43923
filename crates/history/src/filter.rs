//! Which versions of a history to show.

use cma_client::types::{Actor, Operation, Timestamp};

use crate::model::History;

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

impl VersionFilter {
    pub fn matches(&self, history: &History, index: usize) -> bool {
        let Some(v) = history.versions().get(index) else {
            return false;
        };
        if self.memory_id.as_ref().is_some_and(|m| *m != v.memory_id) {
            return false;
        }
        if self.operation.as_ref().is_some_and(|op| *op != v.operation) {
            return false;
        }
        if self.since.is_some_and(|t| v.created_at < t)
            || self.until.is_some_and(|t| v.created_at > t)
        {
            return false;
        }
        if let Some(session) = &self.session_id {
            match &v.created_by {
                Some(Actor::Session(a)) if a.session_id == *session => {}
                _ => return false,
            }
        }
        if let Some(wanted) = &self.path {
            let previous_path = history
                .previous(index)
                .and_then(|p| history.versions()[p].path.as_deref());
            let hit = |path: Option<&str>| path.is_some_and(|p| path_matches(wanted, p));
            if !hit(v.path.as_deref()) && !hit(previous_path) {
                return false;
            }
        }
        true
    }
}

fn path_matches(wanted: &str, path: &str) -> bool {
    if wanted.ends_with('/') {
        path.starts_with(wanted)
    } else {
        path == wanted
    }
}
