//! Labels, notes and path spellings shared by the renderers.

use crate::change::{ChangeKind, Note};
use crate::model::Version;
use crate::snapshot::{Snapshot, SnapshotPoint};
use crate::time::format_time;

/// `memver_…  2026-05-01T10:00:00Z  modified  session sesn_…`
pub(crate) fn version_summary(v: &Version) -> String {
    format!(
        "{}  {}  {}  {}",
        v.id,
        format_time(&v.created_at),
        v.operation,
        v.author_label()
    )
}

/// A snapshot's point: the time, or the version id with the time it stands for.
pub(crate) fn point_label(s: &Snapshot) -> String {
    match &s.point {
        SnapshotPoint::Time(t) => format_time(t),
        SnapshotPoint::Version(id) => format!("{id} ({})", format_time(&s.as_of)),
    }
}

/// A one-line explanation for an entry's note.
pub(crate) fn note_text(note: &Note<'_>, kind: ChangeKind) -> String {
    match note {
        Note::Redacted { at, by } => {
            let by = by.map_or_else(|| "an unknown actor".to_string(), |a| a.label());
            let at = at.map_or_else(|| "an unknown time".to_string(), |t| format_time(&t));
            format!("[redacted by {by} at {at}; content and path removed]")
        }
        Note::PreviousRedacted if kind == ChangeKind::Deleted => {
            "(the previous version is redacted; the content before deletion is unknown)".to_string()
        }
        Note::PreviousUnavailable if kind == ChangeKind::Deleted => {
            "(the content before deletion is not available)".to_string()
        }
        Note::PreviousRedacted => "(the previous version is redacted; shown whole)".to_string(),
        Note::PreviousUnavailable => {
            "(the previous content is not available; shown whole)".to_string()
        }
        Note::ContentUnavailable => "(content not available)".to_string(),
    }
}

/// A memory path as a git path with a prefix (`a/`, `b/` or none): the leading `/` dropped and
/// C-style quoted when git would quote it.
pub(crate) fn git_path(prefix: &str, path: &str) -> String {
    let joined = format!("{prefix}{}", path.strip_prefix('/').unwrap_or(path));
    if needs_quoting(&joined) {
        c_quote(&joined)
    } else {
        joined
    }
}

/// Characters git quotes in paths (non-ASCII is left raw; `git apply` reads it either way).
pub(crate) fn needs_quoting(s: &str) -> bool {
    s.bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == b'"' || b == b'\\')
}

pub(crate) fn c_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_paths_drop_the_leading_slash_and_quote_like_git() {
        assert_eq!(git_path("a/", "/notes/x.md"), "a/notes/x.md");
        assert_eq!(git_path("b/", "/caf\u{e9} menu.md"), "b/caf\u{e9} menu.md");
        assert_eq!(git_path("a/", "/say \"hi\".md"), "\"a/say \\\"hi\\\".md\"");
    }
}
