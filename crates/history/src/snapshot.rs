//! The whole store as it was at a point in time, and the difference between two such points.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use cma_client::types::{Operation, Timestamp};

use crate::change::{Entry, FileChange, FileState};
use crate::error::ParseError;
use crate::model::History;
use crate::time::{format_time, parse_time};

/// A point in time could not be resolved against a history.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    #[error("version {version_id} is not in the history of memory store {store_id}")]
    UnknownVersion {
        store_id: String,
        version_id: String,
    },
    #[error(
        "{} is before memory store {store_id} existed (it was created at {})",
        format_time(at),
        format_time(created_at)
    )]
    BeforeStore {
        store_id: String,
        at: Timestamp,
        created_at: Timestamp,
    },
}

/// A point in a store's history: a time, or just after a given version was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPoint {
    Time(Timestamp),
    Version(String),
}

impl FromStr for SnapshotPoint {
    type Err = ParseError;

    /// `memver_…` is a version id; anything else must be a time (see [`parse_time`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("memver_") {
            return Ok(SnapshotPoint::Version(s.to_string()));
        }
        parse_time(s)
            .map(SnapshotPoint::Time)
            .map_err(|e| ParseError(format!("{}, or a memory version id (memver_…)", e.0)))
    }
}

impl fmt::Display for SnapshotPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotPoint::Time(t) => f.write_str(&format_time(t)),
            SnapshotPoint::Version(id) => f.write_str(id),
        }
    }
}

/// Which memory and version a snapshot's file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSource {
    pub memory_id: String,
    pub version_id: String,
}

/// A memory that exists at the snapshot's point but whose current version cannot be shown: it is
/// redacted (so even its path is unknown) or its content was not fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMemory {
    pub memory_id: String,
    pub version_id: String,
    pub redacted: bool,
}

/// The store's files at one point: path → content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub store_id: String,
    pub point: SnapshotPoint,
    /// The time the snapshot stands for (a version's `created_at` for a version point).
    pub as_of: Timestamp,
    pub memories: BTreeMap<String, String>,
    pub sources: BTreeMap<String, SnapshotSource>,
    pub unknown: Vec<UnknownMemory>,
}

impl Snapshot {
    /// An empty store (the "before" of a snapshot rendered as a patch).
    pub fn empty(store_id: impl Into<String>, as_of: Timestamp) -> Self {
        Snapshot {
            store_id: store_id.into(),
            point: SnapshotPoint::Time(as_of),
            as_of,
            memories: BTreeMap::new(),
            sources: BTreeMap::new(),
            unknown: Vec::new(),
        }
    }

    /// The index one past the last version at `point`, and the time it stands for.
    fn cutoff(
        history: &History,
        point: &SnapshotPoint,
    ) -> Result<(usize, Timestamp), SnapshotError> {
        match point {
            SnapshotPoint::Version(id) => {
                let i = history
                    .index_of(id)
                    .ok_or_else(|| SnapshotError::UnknownVersion {
                        store_id: history.store_id().to_string(),
                        version_id: id.clone(),
                    })?;
                Ok((i + 1, history.versions()[i].created_at))
            }
            SnapshotPoint::Time(t) => {
                if let Some(created_at) = history.store_created_at()
                    && *t < created_at
                {
                    return Err(SnapshotError::BeforeStore {
                        store_id: history.store_id().to_string(),
                        at: *t,
                        created_at,
                    });
                }
                Ok((
                    history.versions().partition_point(|v| v.created_at <= *t),
                    *t,
                ))
            }
        }
    }

    /// For each memory, the index of its latest version before `end` (a binary search per memory).
    fn latest_versions(history: &History, end: usize) -> impl Iterator<Item = usize> + '_ {
        history.memories().iter().filter_map(move |m| {
            let n = m.versions.partition_point(|&i| i < end);
            n.checked_sub(1).map(|k| m.versions[k])
        })
    }

    /// The versions whose content a snapshot at `point` needs; fetch these before [`Snapshot::at`].
    pub fn required_versions(
        history: &History,
        point: &SnapshotPoint,
    ) -> Result<Vec<usize>, SnapshotError> {
        let (end, _) = Self::cutoff(history, point)?;
        Ok(Self::latest_versions(history, end).collect())
    }

    /// Rebuilds the store at `point`. Linear in the number of memories (plus a log factor).
    pub fn at(history: &History, point: &SnapshotPoint) -> Result<Snapshot, SnapshotError> {
        let (end, as_of) = Self::cutoff(history, point)?;
        let mut snapshot = Snapshot::empty(history.store_id(), as_of);
        snapshot.point = point.clone();
        for i in Self::latest_versions(history, end) {
            let v = &history.versions()[i];
            if v.operation == Operation::Deleted && !v.is_redacted() {
                continue;
            }
            let unknown = UnknownMemory {
                memory_id: v.memory_id.clone(),
                version_id: v.id.clone(),
                redacted: true,
            };
            if v.is_redacted() {
                snapshot.unknown.push(unknown);
                continue;
            }
            match (v.path.as_ref(), history.content(v)) {
                (Some(path), Some(content)) => {
                    snapshot.memories.insert(path.clone(), content.to_string());
                    snapshot.sources.insert(
                        path.clone(),
                        SnapshotSource {
                            memory_id: v.memory_id.clone(),
                            version_id: v.id.clone(),
                        },
                    );
                }
                _ => snapshot.unknown.push(UnknownMemory {
                    redacted: false,
                    ..unknown
                }),
            }
        }
        Ok(snapshot)
    }

    /// Each file with the memory it belongs to (files without a source are skipped).
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, FileState<'_>)> + '_ {
        self.sources.iter().filter_map(|(path, src)| {
            let content = self.memories.get(path)?;
            Some((
                src.memory_id.as_str(),
                FileState {
                    path,
                    content: Some(content),
                    sha256: None,
                },
            ))
        })
    }
}

/// Two snapshots of one store, compared memory by memory (so a rename is a rename, not a delete
/// and a create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDiff {
    pub from: Snapshot,
    pub to: Snapshot,
}

impl SnapshotDiff {
    pub fn new(from: Snapshot, to: Snapshot) -> Self {
        SnapshotDiff { from, to }
    }

    /// One entry per memory that differs, ordered by path (the new path, else the old one).
    pub fn entries(&self) -> Vec<Entry<'_>> {
        let to_by_memory: HashMap<&str, FileState<'_>> = self.to.files().collect();
        let mut from_memories = std::collections::HashSet::new();
        let mut entries: Vec<Entry<'_>> = Vec::new();
        for (memory_id, old) in self.from.files() {
            from_memories.insert(memory_id);
            push_if_changed(
                &mut entries,
                memory_id,
                Some(old),
                to_by_memory.get(memory_id).copied(),
            );
        }
        for (memory_id, new) in self.to.files() {
            if !from_memories.contains(memory_id) {
                push_if_changed(&mut entries, memory_id, None, Some(new));
            }
        }
        entries.sort_by(|a, b| sort_path(a).cmp(sort_path(b)));
        entries
    }
}

fn push_if_changed<'a>(
    entries: &mut Vec<Entry<'a>>,
    memory_id: &'a str,
    old: Option<FileState<'a>>,
    new: Option<FileState<'a>>,
) {
    let change = FileChange {
        memory_id,
        old,
        new,
        note: None,
    };
    if change.kind() != crate::change::ChangeKind::Unchanged {
        entries.push(Entry {
            version: None,
            change,
        });
    }
}

fn sort_path<'a>(e: &Entry<'a>) -> &'a str {
    e.change.new.or(e.change.old).map_or("", |s| s.path)
}
