//! `patch`: git-style patches.
//!
//! * A snapshot diff is one plain patch: `git apply` on a tree holding the older snapshot
//!   produces the newer one.
//! * A history is a series in `git format-patch` mbox form, one message per version (author =
//!   the actor, date = `created_at`). `git am --empty=keep` applies it commit by commit on a tree
//!   holding the snapshot before the first version; each message alone is what `git apply`
//!   accepts on the tree just before that version. (One `git apply` of a whole series works only
//!   when no memory changes twice: git checks every hunk against the original tree and writes
//!   deletions before creations, so a path touched twice in one patch is refused or left behind.)

use std::io::{self, Write};

use crate::change::{ChangeKind, Entry, FileChange, FileState, Note};
use crate::diff::{diff_lines, similarity_percent};
use crate::render::fast_import::identity;
use crate::render::names::{git_path, note_text, point_label};
use crate::render::{RenderOptions, Subject};

pub(crate) fn render(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'_>>,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    if let Subject::SnapshotDiff { from, to } = subject {
        writeln!(
            out,
            "# memory store {}: {} -> {}",
            from.store_id,
            point_label(from),
            point_label(to)
        )?;
    }
    for entry in entries {
        if let Some(v) = entry.version {
            let path = entry
                .change
                .new
                .or(entry.change.old)
                .map_or("[redacted]", |s| s.path);
            // The same header `git format-patch` writes; mailsplit only needs the date-like tail.
            writeln!(out, "From {} Mon Sep 17 00:00:00 2001", v.id)?;
            writeln!(out, "From: {}", identity(v.created_by.as_ref()))?;
            writeln!(out, "Date: {}", v.created_at.to_rfc2822())?;
            writeln!(out, "Subject: [PATCH] {} {path} ({})", v.operation, v.id)?;
            writeln!(
                out,
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
            )?;
            if let Some(note) = &entry.change.note {
                writeln!(out, "{}", note_text(note, entry.change.kind()))?;
                if matches!(note, Note::Redacted { .. })
                    && entry.change.old.is_some_and(|o| o.content.is_some())
                {
                    writeln!(
                        out,
                        "\nThe memory's last known content is removed; its next version is shown whole."
                    )?;
                }
            }
            // `git am --empty=keep` sees a message as empty only with no `---` at all.
            if has_diff(&entry.change) {
                writeln!(out, "---")?;
            }
        } else if let Some(note) = &entry.change.note {
            writeln!(out, "# {}", note_text(note, entry.change.kind()))?;
        }
        // Nothing follows the diff: a message without one must stay empty after `---` for
        // `git am --empty=keep` to record it as an empty commit.
        render_entry(&entry, options, out)?;
    }
    Ok(())
}

/// Whether [`render_entry`] writes a diff for this change.
fn has_diff(change: &FileChange<'_>) -> bool {
    let old = change.old.filter(|s| s.content.is_some());
    let new = change.new.filter(|s| s.content.is_some());
    match (old, new) {
        (None, None) => false,
        (Some(_), Some(_)) => change.kind() != ChangeKind::Unchanged,
        _ => true,
    }
}

fn render_entry(entry: &Entry<'_>, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let change = &entry.change;
    let kind = change.kind();
    // Only content the patch reader's tree holds can be diffed: a side with unknown content is
    // absent there (see `change`), so it is dropped here.
    let old = change.old.filter(|s| s.content.is_some());
    let new = change.new.filter(|s| s.content.is_some());
    match (old, new) {
        (None, None) => Ok(()),
        (None, Some(new)) => file_diff(out, None, Some(new), options, "new file mode 100644"),
        (Some(old), None) => file_diff(out, Some(old), None, options, "deleted file mode 100644"),
        (Some(old), Some(new)) => {
            if kind == ChangeKind::Unchanged {
                return Ok(());
            }
            file_diff(out, Some(old), Some(new), options, "")
        }
    }
}

fn file_diff(
    out: &mut dyn Write,
    old: Option<FileState<'_>>,
    new: Option<FileState<'_>>,
    options: &RenderOptions,
    mode_line: &str,
) -> io::Result<()> {
    let old_text = old.and_then(|s| s.content).unwrap_or("");
    let new_text = new.and_then(|s| s.content).unwrap_or("");
    let a_path = old.or(new).map_or("", |s| s.path);
    let b_path = new.or(old).map_or("", |s| s.path);
    writeln!(
        out,
        "diff --git {} {}",
        git_path("a/", a_path),
        git_path("b/", b_path)
    )?;
    if !mode_line.is_empty() {
        writeln!(out, "{mode_line}")?;
    }
    let renamed = a_path != b_path;
    let content_changed = old_text != new_text;
    let diff = content_changed.then(|| diff_lines(old_text, new_text, &options.diff, false));
    if renamed {
        // Informational only: `git apply` needs just the rename lines.
        let similarity = diff.as_ref().map_or(100, |d| {
            similarity_percent(old_text, new_text, d.similarity, &options.diff)
        });
        writeln!(out, "similarity index {similarity}%")?;
        writeln!(out, "rename from {}", git_path("", a_path))?;
        writeln!(out, "rename to {}", git_path("", b_path))?;
    }
    let Some(diff) = diff.filter(|d| !d.hunks.is_empty()) else {
        return Ok(());
    };
    let label = |prefix: &str, side: Option<FileState<'_>>| {
        side.map_or_else(
            || "/dev/null".to_string(),
            |s| {
                let name = git_path(prefix, s.path);
                // git ends a name that contains a space with a tab, so it is not read as a timestamp.
                if name.contains(' ') {
                    format!("{name}\t")
                } else {
                    name
                }
            },
        )
    };
    writeln!(out, "--- {}", label("a/", old))?;
    writeln!(out, "+++ {}", label("b/", new))?;
    for hunk in &diff.hunks {
        writeln!(out, "{}", hunk.header())?;
        for line in &hunk.lines {
            writeln!(out, "{}{}", line.tag.sign(), line.text)?;
            if line.no_newline {
                writeln!(out, "\\ No newline at end of file")?;
            }
        }
    }
    Ok(())
}
