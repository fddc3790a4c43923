//! Version history, diffs and point-in-time snapshots of Claude Managed Agents memory stores.
//!
//! Memory versions are whole snapshots, not deltas, so every diff here is computed client-side
//! between consecutive versions of one memory (same `memory_id`). The pieces:
//!
//! * [`fetch`] lists a store's versions with `view=basic` and then fetches full content only for
//!   the versions that will be rendered, once per distinct `content_sha256`, with bounded
//!   concurrency and a timeout on every request;
//! * [`History`] holds every version, oldest first, linked to the same memory's previous version,
//!   plus a content cache keyed by sha256; a [`VersionFilter`] picks the versions to show;
//! * [`Snapshot`] rebuilds the whole store as of a time or a version id, and [`SnapshotDiff`]
//!   compares two snapshots;
//! * [`render`] writes a history or a snapshot diff as `text`, `patch`, `json`, `html` or
//!   `git-fast-import`, in time linear in the number of versions.
//!
//! ```
//! use cma_history::{History, Format, RenderOptions, render_history};
//! let history = History::new("memstore_1", Vec::new());
//! let mut out = Vec::new();
//! render_history(&history, Format::Json, &RenderOptions::default(), &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("\"schema\":\"cma.history.v1\""));
//! ```

pub mod change;
pub mod diff;
pub mod error;
pub mod fetch;
pub mod filter;
pub mod model;
pub mod render;
pub mod snapshot;
pub mod time;

pub use change::{ChangeKind, Entry, FileChange, FileState, Note};
pub use diff::{DiffAlgorithm, DiffOptions};
pub use error::{FetchError, ParseError};
pub use fetch::{FetchOptions, FetchStats, HistoryFetcher};
pub use filter::VersionFilter;
pub use model::{History, MemoryTimeline, Version};
pub use render::{
    Format, RenderOptions, escape_html, render_history, render_snapshot, render_snapshot_diff,
};
pub use snapshot::{
    Snapshot, SnapshotDiff, SnapshotError, SnapshotPoint, SnapshotSource, UnknownMemory,
};
