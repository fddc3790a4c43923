//! What each rendered entry changes: the file before and after, as every renderer sees it.
//!
//! A redacted version's content is unknown, so the file it leaves behind is treated as absent:
//! the redaction removes the memory's last known content and its next version is shown whole.
//! That keeps the `patch` and `git-fast-import` trees honest (they never hold content the store
//! no longer had) and means no diff ever has to be computed against unknown text.

use cma_client::types::{Actor, Operation, Timestamp};

use crate::model::{History, Version};

/// A memory's file at one side of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState<'a> {
    /// The memory path, with its leading `/`.
    pub path: &'a str,
    /// `None` when not known (not fetched, or the side was reconstructed from a deletion record).
    pub content: Option<&'a str>,
    pub sha256: Option<&'a str>,
}

/// Why an entry is shown the way it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Note<'a> {
    /// The version itself is redacted: its content and path are gone.
    Redacted {
        at: Option<Timestamp>,
        by: Option<&'a Actor>,
    },
    /// The memory's previous version is redacted, so this one is shown whole.
    PreviousRedacted,
    /// The previous version's content was not fetched, so this one is shown whole.
    PreviousUnavailable,
    /// This version's content was not fetched.
    ContentUnavailable,
}

/// A change to one memory's file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileChange<'a> {
    pub memory_id: &'a str,
    /// `None`: the file did not exist (or is unknown) before.
    pub old: Option<FileState<'a>>,
    /// `None`: the file does not exist after (deleted, or redacted).
    pub new: Option<FileState<'a>>,
    pub note: Option<Note<'a>>,
}

/// The shape of a change, as the renderers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Created,
    Modified,
    Renamed,
    /// Renamed and content changed.
    RenamedModified,
    Deleted,
    Redacted,
    /// Same path and content (a write of identical content).
    Unchanged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
            ChangeKind::RenamedModified => "renamed_modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Redacted => "redacted",
            ChangeKind::Unchanged => "unchanged",
        }
    }
}

impl FileChange<'_> {
    pub fn kind(&self) -> ChangeKind {
        if matches!(self.note, Some(Note::Redacted { .. })) {
            return ChangeKind::Redacted;
        }
        match (&self.old, &self.new) {
            (None, Some(_)) => ChangeKind::Created,
            (Some(_), None) => ChangeKind::Deleted,
            (Some(old), Some(new)) => match (old.path != new.path, content_changed(old, new)) {
                (true, true) => ChangeKind::RenamedModified,
                (true, false) => ChangeKind::Renamed,
                (false, true) => ChangeKind::Modified,
                (false, false) => ChangeKind::Unchanged,
            },
            (None, None) => ChangeKind::Unchanged,
        }
    }
}

/// Hashes decide when both are known (no need to compare 100 KB strings); unknown counts as changed.
pub(crate) fn content_changed(old: &FileState<'_>, new: &FileState<'_>) -> bool {
    match (old.sha256, new.sha256) {
        (Some(a), Some(b)) => a != b,
        _ => match (old.content, new.content) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        },
    }
}

/// One rendered unit: a change, and the version that made it (`None` in a snapshot diff).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    pub version: Option<&'a Version>,
    pub change: FileChange<'a>,
}

impl History {
    /// The file a version leaves behind; redacted and deleted versions leave none.
    fn state_after(&self, index: usize) -> Option<FileState<'_>> {
        let v = self.versions().get(index)?;
        if v.is_redacted() || v.operation == Operation::Deleted {
            return None;
        }
        Some(FileState {
            path: v.path.as_deref()?,
            content: self.content(v),
            sha256: v.content_sha256.as_deref(),
        })
    }

    /// The entry for `versions()[index]`, diffed against the same memory's previous version.
    /// Constant time: it looks only at that version and its predecessor.
    pub fn entry(&self, index: usize) -> Option<Entry<'_>> {
        let v = self.versions().get(index)?;
        let previous = self.previous(index);
        let previous_redacted = previous.is_some_and(|p| self.versions()[p].is_redacted());
        let mut old = previous.and_then(|p| self.state_after(p));
        let (new, note) = if v.is_redacted() {
            (
                None,
                Some(Note::Redacted {
                    at: v.redacted_at,
                    by: v.redacted_by.as_ref(),
                }),
            )
        } else if v.operation == Operation::Deleted {
            let known = old.is_some_and(|o| o.content.is_some());
            if old.is_none() {
                // The deletion record still names the path even when the content before it is unknown.
                old = v.path.as_deref().map(|path| FileState {
                    path,
                    content: None,
                    sha256: None,
                });
            }
            let note = match (known, previous_redacted) {
                (true, _) => None,
                (false, true) => Some(Note::PreviousRedacted),
                (false, false) => Some(Note::PreviousUnavailable),
            };
            (None, note)
        } else {
            let new = self.state_after(index);
            let note = if new.is_some_and(|n| n.content.is_none()) {
                Some(Note::ContentUnavailable)
            } else if old.is_some_and(|o| o.content.is_none()) {
                old = None;
                Some(Note::PreviousUnavailable)
            } else if old.is_none() && previous_redacted {
                Some(Note::PreviousRedacted)
            } else {
                None
            };
            (new, note)
        };
        Some(Entry {
            version: Some(v),
            change: FileChange {
                memory_id: &v.memory_id,
                old,
                new,
                note,
            },
        })
    }

    /// The entries of the shown versions, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.shown().iter().filter_map(|&i| self.entry(i))
    }
}
