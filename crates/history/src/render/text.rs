//! `text`: unified diffs for a terminal, with word-level emphasis when coloured.

use std::io::{self, Write};

use crate::change::{ChangeKind, Entry, Note};
use crate::diff::{DiffLine, LineTag, diff_lines};
use crate::render::names::{git_path, note_text, point_label, version_summary};
use crate::render::{RenderOptions, Subject};
use crate::snapshot::Snapshot;

const RESET: &str = "\x1b[0m";
const HEADER: &str = "\x1b[1;33m";
const META: &str = "\x1b[1m";
const HUNK: &str = "\x1b[36m";
const REMOVED: &str = "\x1b[31m";
const ADDED: &str = "\x1b[32m";
/// Reverse video on top of the line colour marks the changed words.
const EMPHASIS: &str = "\x1b[7m";
const NOTE: &str = "\x1b[2m";

struct Painter {
    color: bool,
}

impl Painter {
    fn line(&self, out: &mut dyn Write, style: &str, text: &str) -> io::Result<()> {
        if self.color {
            writeln!(out, "{style}{text}{RESET}")
        } else {
            writeln!(out, "{text}")
        }
    }

    fn diff_line(&self, out: &mut dyn Write, line: &DiffLine<'_>) -> io::Result<()> {
        let sign = line.tag.sign();
        let style = match line.tag {
            LineTag::Context => "",
            LineTag::Removed => REMOVED,
            LineTag::Added => ADDED,
        };
        if !self.color || style.is_empty() {
            writeln!(out, "{sign}{}", line.text)?;
        } else {
            write!(out, "{style}{sign}")?;
            let mut at = 0;
            for r in &line.emphasis {
                write!(
                    out,
                    "{}{EMPHASIS}{}{RESET}{style}",
                    &line.text[at..r.start],
                    &line.text[r.clone()]
                )?;
                at = r.end;
            }
            writeln!(out, "{}{RESET}", &line.text[at..])?;
        }
        if line.no_newline {
            self.line(out, NOTE, "\\ No newline at end of file")?;
        }
        Ok(())
    }
}

pub(crate) fn render(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'_>>,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let painter = Painter {
        color: options.color,
    };
    if let Subject::SnapshotDiff { from, to } = subject {
        let title = format!(
            "memory store {}: {} -> {}",
            from.store_id,
            point_label(from),
            point_label(to)
        );
        painter.line(out, HEADER, &title)?;
        for (side, s) in [("from", from), ("to", to)] {
            for u in &s.unknown {
                let why = if u.redacted {
                    "is redacted"
                } else {
                    "was not fetched"
                };
                let text = format!(
                    "({side}: {} {why} in version {}; left out)",
                    u.memory_id, u.version_id
                );
                painter.line(out, NOTE, &text)?;
            }
        }
    }
    let mut first = matches!(subject, Subject::History { .. });
    let mut any = false;
    for entry in entries {
        if !first {
            writeln!(out)?;
        }
        first = false;
        any = true;
        render_entry(&painter, &entry, options, out)?;
    }
    if !any {
        painter.line(out, NOTE, "(no changes)")?;
    }
    Ok(())
}

fn render_entry(
    painter: &Painter,
    entry: &Entry<'_>,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let change = &entry.change;
    let kind = change.kind();
    if let Some(v) = entry.version {
        painter.line(out, HEADER, &format!("version {}", version_summary(v)))?;
    }
    if let Some(note @ Note::Redacted { .. }) = &change.note {
        return painter.line(out, NOTE, &note_text(note, kind));
    }
    if let (Some(old), Some(new)) = (&change.old, &change.new)
        && old.path != new.path
    {
        painter.line(out, META, &format!("rename from {}", old.path))?;
        painter.line(out, META, &format!("rename to {}", new.path))?;
    }
    if kind == ChangeKind::Unchanged {
        let path = change.new.or(change.old).map_or("", |s| s.path);
        return painter.line(out, NOTE, &format!("(no change to {path})"));
    }
    let old_label = change
        .old
        .map_or_else(|| "/dev/null".to_string(), |s| git_path("a/", s.path));
    let new_label = change
        .new
        .map_or_else(|| "/dev/null".to_string(), |s| git_path("b/", s.path));
    if kind != ChangeKind::Renamed {
        painter.line(out, META, &format!("--- {old_label}"))?;
        painter.line(out, META, &format!("+++ {new_label}"))?;
    }
    if let Some(note) = &change.note {
        painter.line(out, NOTE, &note_text(note, kind))?;
    }
    let old = change.old.and_then(|s| s.content);
    let new = change.new.and_then(|s| s.content);
    let known = (change.old.is_none() || old.is_some()) && (change.new.is_none() || new.is_some());
    if !known || kind == ChangeKind::Renamed {
        return Ok(());
    }
    let (old, new) = (old.unwrap_or(""), new.unwrap_or(""));
    if old.is_empty() && new.is_empty() {
        return painter.line(out, NOTE, "(empty)");
    }
    let diff = diff_lines(old, new, &options.diff, options.color);
    for hunk in &diff.hunks {
        painter.line(out, HUNK, &hunk.header())?;
        for line in &hunk.lines {
            painter.diff_line(out, line)?;
        }
    }
    Ok(())
}

/// The files of a snapshot, each under a header line.
pub(crate) fn render_snapshot(
    snapshot: &Snapshot,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let painter = Painter {
        color: options.color,
    };
    let count = match snapshot.memories.len() {
        1 => "1 memory".to_string(),
        n => format!("{n} memories"),
    };
    let title = format!(
        "memory store {} at {}: {count}",
        snapshot.store_id,
        point_label(snapshot)
    );
    painter.line(out, HEADER, &title)?;
    for u in &snapshot.unknown {
        let why = if u.redacted {
            "is redacted"
        } else {
            "was not fetched"
        };
        painter.line(
            out,
            NOTE,
            &format!(
                "({} {why} in version {}; left out)",
                u.memory_id, u.version_id
            ),
        )?;
    }
    for (path, content) in &snapshot.memories {
        writeln!(out)?;
        let source = snapshot.sources.get(path).map_or_else(String::new, |s| {
            format!("  {}  {}", s.memory_id, s.version_id)
        });
        painter.line(out, META, &format!("==> {path}{source}"))?;
        out.write_all(content.as_bytes())?;
        if !content.is_empty() && !content.ends_with('\n') {
            writeln!(out)?;
            painter.line(out, NOTE, "\\ No newline at end of file")?;
        }
    }
    Ok(())
}
