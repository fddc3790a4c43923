//! Renderers: `text`, `patch`, `json`, `html` and `git-fast-import`.
//!
//! Each renderer walks entries once, and each entry costs only its own diff, so rendering is
//! linear in the number of versions. Output goes straight to an `io::Write` (wrap stdout in a
//! `BufWriter`) rather than being built up in one string.

mod fast_import;
mod html;
mod json;
mod names;
mod patch;
mod text;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::change::Entry;
use crate::diff::DiffOptions;
use crate::error::ParseError;
use crate::model::History;
use crate::snapshot::{Snapshot, SnapshotDiff};

pub use html::escape as escape_html;
pub use json::{HISTORY_SCHEMA, SNAPSHOT_SCHEMA};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Unified diffs for a terminal, coloured when asked, with word-level emphasis.
    #[default]
    Text,
    /// A git-style patch that `git apply` accepts on a tree holding the older snapshot.
    Patch,
    /// A stable JSON document (schema `cma.history.v1` / `cma.snapshot.v1`).
    Json,
    /// One standalone HTML page with inline CSS.
    Html,
    /// A `git fast-import` stream: one commit per version on `refs/heads/main`.
    GitFastImport,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Patch,
        Format::Json,
        Format::Html,
        Format::GitFastImport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Patch => "patch",
            Format::Json => "json",
            Format::Html => "html",
            Format::GitFastImport => "git-fast-import",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                ParseError(format!(
                    "unknown format {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderOptions {
    pub diff: DiffOptions,
    /// ANSI colour in `text` output. The caller decides (a terminal, and `NO_COLOR` unset).
    pub color: bool,
}

/// What is being rendered, for headers and document metadata.
pub(crate) enum Subject<'a> {
    History {
        store_id: &'a str,
    },
    SnapshotDiff {
        from: &'a Snapshot,
        to: &'a Snapshot,
    },
}

impl Subject<'_> {
    fn store_id(&self) -> &str {
        match self {
            Subject::History { store_id } => store_id,
            Subject::SnapshotDiff { from, .. } => &from.store_id,
        }
    }
}

/// Renders the history's shown versions.
pub fn render_history(
    history: &History,
    format: Format,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let subject = Subject::History {
        store_id: history.store_id(),
    };
    let mut entries = history.entries();
    render_entries(&subject, &mut entries, format, options, out)
}

/// Renders the difference between two snapshots of a whole store.
pub fn render_snapshot_diff(
    diff: &SnapshotDiff,
    format: Format,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::GitFastImport {
        return fast_import::render_snapshots(&[&diff.from, &diff.to], out);
    }
    let subject = Subject::SnapshotDiff {
        from: &diff.from,
        to: &diff.to,
    };
    let mut entries = diff.entries().into_iter();
    render_entries(&subject, &mut entries, format, options, out)
}

/// Renders one snapshot: its files (`text`, `json`), the patch or page that creates them from an
/// empty store (`patch`, `html`), or a single commit (`git-fast-import`).
pub fn render_snapshot(
    snapshot: &Snapshot,
    format: Format,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::render_snapshot(snapshot, options, out),
        Format::Json => json::render_snapshot(snapshot, out),
        Format::GitFastImport => fast_import::render_snapshots(&[snapshot], out),
        Format::Patch | Format::Html => {
            let empty = Snapshot::empty(&snapshot.store_id, snapshot.as_of);
            let diff = SnapshotDiff::new(empty, snapshot.clone());
            render_snapshot_diff(&diff, format, options, out)
        }
    }
}

fn render_entries<'a>(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'a>>,
    format: Format,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::render(subject, entries, options, out),
        Format::Patch => patch::render(subject, entries, options, out),
        Format::Json => json::render(subject, entries, options, out),
        Format::Html => html::render(subject, entries, options, out),
        Format::GitFastImport => fast_import::render(subject, entries, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip_and_unknown_ones_are_listed() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().expect("round trip"), f);
        }
        let err = "yaml".parse::<Format>().expect_err("unknown");
        assert!(err.0.contains("git-fast-import"), "{err}");
    }
}
