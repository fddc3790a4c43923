//! `json`: a stable, documented schema, written one entry at a time.
//!
//! History and snapshot diffs (`"schema": "cma.history.v1"`):
//!
//! ```text
//! {
//!   "schema": "cma.history.v1",
//!   "kind": "history" | "snapshot_diff",
//!   "store_id": "memstore_…",
//!   "from": Point | null,            // snapshot_diff only
//!   "to": Point | null,              // snapshot_diff only
//!   "entries": [Entry, …]            // oldest first (history) or by path (snapshot_diff)
//! }
//! Point = { "point": "<RFC 3339 or memver_…>", "as_of": "<RFC 3339>",
//!           "unknown": [{ "memory_id", "version_id", "redacted": bool }] }
//! Entry = {
//!   "version": null | {              // null in a snapshot_diff
//!     "id", "memory_id", "operation": "created"|"modified"|"deleted"|…,
//!     "created_at", "created_by": Actor | null, "author": "session sesn_…" | "unknown actor",
//!     "redacted_at": … | null, "redacted_by": Actor | null,
//!     "content_sha256": … | null, "content_size_bytes": n | null },
//!   "memory_id": "mem_…",
//!   "change": "created"|"modified"|"renamed"|"renamed_modified"|"deleted"|"redacted"|"unchanged",
//!   "note": null | "redacted" | "previous_redacted" | "previous_unavailable" | "content_unavailable",
//!   "old": null | { "path": "/…", "content_known": bool },   // the file before
//!   "new": null | { "path": "/…", "content_known": bool },   // the file after
//!   "hunks": [{ "header": "@@ -1,2 +1,2 @@", "old_start", "old_lines", "new_start", "new_lines",
//!               "lines": [{ "op": "context"|"removed"|"added", "text": "<line without \n>",
//!                           "old_line": n | null, "new_line": n | null, "no_newline": bool }] }]
//! }
//! Actor = the API's object: { "type": "session_actor", "session_id": … } and so on.
//! ```
//!
//! Snapshots (`"schema": "cma.snapshot.v1"`):
//! `{ "schema", "store_id", "point", "as_of", "memories": [{ "path", "memory_id", "version_id",
//! "content" }], "unknown": [{ "memory_id", "version_id", "redacted" }] }`, memories sorted by path.
//!
//! Fields are only ever added within a schema version; a change in meaning bumps the version.

use std::io::{self, Write};

use cma_client::types::Actor;
use serde::Serialize;

use crate::change::{Entry, FileState, Note};
use crate::diff::{Hunk, LineTag, diff_lines};
use crate::model::Version;
use crate::render::{RenderOptions, Subject};
use crate::snapshot::{Snapshot, UnknownMemory};
use crate::time::format_time;

pub const HISTORY_SCHEMA: &str = "cma.history.v1";
pub const SNAPSHOT_SCHEMA: &str = "cma.snapshot.v1";

#[derive(Serialize)]
struct Point<'a> {
    point: String,
    as_of: String,
    unknown: Vec<UnknownJson<'a>>,
}

#[derive(Serialize)]
struct UnknownJson<'a> {
    memory_id: &'a str,
    version_id: &'a str,
    redacted: bool,
}

fn unknown_json(u: &[UnknownMemory]) -> Vec<UnknownJson<'_>> {
    u.iter()
        .map(|u| UnknownJson {
            memory_id: &u.memory_id,
            version_id: &u.version_id,
            redacted: u.redacted,
        })
        .collect()
}

fn point(s: &Snapshot) -> Point<'_> {
    Point {
        point: s.point.to_string(),
        as_of: format_time(&s.as_of),
        unknown: unknown_json(&s.unknown),
    }
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    kind: &'static str,
    store_id: &'a str,
    from: Option<Point<'a>>,
    to: Option<Point<'a>>,
}

#[derive(Serialize)]
struct VersionJson<'a> {
    id: &'a str,
    memory_id: &'a str,
    operation: &'a str,
    created_at: String,
    created_by: Option<&'a Actor>,
    author: String,
    redacted_at: Option<String>,
    redacted_by: Option<&'a Actor>,
    content_sha256: Option<&'a str>,
    content_size_bytes: Option<u64>,
}

fn version_json(v: &Version) -> VersionJson<'_> {
    VersionJson {
        id: &v.id,
        memory_id: &v.memory_id,
        operation: v.operation.as_str(),
        created_at: format_time(&v.created_at),
        created_by: v.created_by.as_ref(),
        author: v.author_label(),
        redacted_at: v.redacted_at.as_ref().map(format_time),
        redacted_by: v.redacted_by.as_ref(),
        content_sha256: v.content_sha256.as_deref(),
        content_size_bytes: v.content_size_bytes,
    }
}

#[derive(Serialize)]
struct SideJson<'a> {
    path: &'a str,
    content_known: bool,
}

fn side(s: Option<FileState<'_>>) -> Option<SideJson<'_>> {
    s.map(|s| SideJson {
        path: s.path,
        content_known: s.content.is_some(),
    })
}

#[derive(Serialize)]
struct LineJson<'a> {
    op: &'static str,
    text: &'a str,
    old_line: Option<usize>,
    new_line: Option<usize>,
    no_newline: bool,
}

#[derive(Serialize)]
struct HunkJson<'a> {
    header: String,
    old_start: usize,
    old_lines: usize,
    new_start: usize,
    new_lines: usize,
    lines: Vec<LineJson<'a>>,
}

/// The numbers as the `@@` header prints them: 1-based, or the line before for an empty side.
fn display_start(start: usize, len: usize) -> usize {
    if len == 0 { start } else { start + 1 }
}

fn hunk_json<'a>(h: &Hunk<'a>) -> HunkJson<'a> {
    HunkJson {
        header: h.header(),
        old_start: display_start(h.old_start, h.old_len),
        old_lines: h.old_len,
        new_start: display_start(h.new_start, h.new_len),
        new_lines: h.new_len,
        lines: h
            .lines
            .iter()
            .map(|l| LineJson {
                op: match l.tag {
                    LineTag::Context => "context",
                    LineTag::Removed => "removed",
                    LineTag::Added => "added",
                },
                text: l.text,
                old_line: l.old_number,
                new_line: l.new_number,
                no_newline: l.no_newline,
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct EntryJson<'a> {
    version: Option<VersionJson<'a>>,
    memory_id: &'a str,
    change: &'static str,
    note: Option<&'static str>,
    old: Option<SideJson<'a>>,
    new: Option<SideJson<'a>>,
    hunks: Vec<HunkJson<'a>>,
}

fn note_name(note: &Note<'_>) -> &'static str {
    match note {
        Note::Redacted { .. } => "redacted",
        Note::PreviousRedacted => "previous_redacted",
        Note::PreviousUnavailable => "previous_unavailable",
        Note::ContentUnavailable => "content_unavailable",
    }
}

fn to_io(e: serde_json::Error) -> io::Error {
    io::Error::other(e)
}

pub(crate) fn render(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'_>>,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let doc = match subject {
        Subject::History { store_id } => Document {
            schema: HISTORY_SCHEMA,
            kind: "history",
            store_id,
            from: None,
            to: None,
        },
        Subject::SnapshotDiff { from, to } => Document {
            schema: HISTORY_SCHEMA,
            kind: "snapshot_diff",
            store_id: subject.store_id(),
            from: Some(point(from)),
            to: Some(point(to)),
        },
    };
    // The document's own fields, then the entries array written element by element.
    let head = serde_json::to_string(&doc).map_err(to_io)?;
    let head = head.strip_suffix('}').unwrap_or(&head);
    write!(out, "{head},\"entries\":[")?;
    for (n, entry) in entries.enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n")?;
        let change = &entry.change;
        let (old, new) = (
            change.old.and_then(|s| s.content),
            change.new.and_then(|s| s.content),
        );
        let diffable =
            (change.old.is_none() || old.is_some()) && (change.new.is_none() || new.is_some());
        let redacted = matches!(change.note, Some(Note::Redacted { .. }));
        let diff = (diffable && !redacted)
            .then(|| diff_lines(old.unwrap_or(""), new.unwrap_or(""), &options.diff, false));
        let json = EntryJson {
            version: entry.version.map(version_json),
            memory_id: change.memory_id,
            change: change.kind().as_str(),
            note: change.note.as_ref().map(note_name),
            old: side(change.old),
            new: side(change.new),
            hunks: diff
                .as_ref()
                .map_or_else(Vec::new, |d| d.hunks.iter().map(hunk_json).collect()),
        };
        serde_json::to_writer(&mut *out, &json).map_err(to_io)?;
    }
    writeln!(out, "\n]}}")
}

#[derive(Serialize)]
struct SnapshotJson<'a> {
    schema: &'static str,
    store_id: &'a str,
    point: String,
    as_of: String,
    memories: Vec<SnapshotMemoryJson<'a>>,
    unknown: Vec<UnknownJson<'a>>,
}

#[derive(Serialize)]
struct SnapshotMemoryJson<'a> {
    path: &'a str,
    memory_id: Option<&'a str>,
    version_id: Option<&'a str>,
    content: &'a str,
}

pub(crate) fn render_snapshot(snapshot: &Snapshot, out: &mut dyn Write) -> io::Result<()> {
    let json = SnapshotJson {
        schema: SNAPSHOT_SCHEMA,
        store_id: &snapshot.store_id,
        point: snapshot.point.to_string(),
        as_of: format_time(&snapshot.as_of),
        memories: snapshot
            .memories
            .iter()
            .map(|(path, content)| {
                let source = snapshot.sources.get(path);
                SnapshotMemoryJson {
                    path,
                    memory_id: source.map(|s| s.memory_id.as_str()),
                    version_id: source.map(|s| s.version_id.as_str()),
                    content,
                }
            })
            .collect(),
        unknown: unknown_json(&snapshot.unknown),
    };
    serde_json::to_writer_pretty(&mut *out, &json).map_err(to_io)?;
    writeln!(out)
}
