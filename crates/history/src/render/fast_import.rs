//! `git-fast-import`: one commit per version on `refs/heads/main`, so `git log -p`, `git blame`
//! and `git bisect` work on a memory store.
//!
//! Author and committer are the version's actor (`session sesn_… <sesn_…@memory.invalid>`), the
//! date its `created_at`, the message `<operation> <path> (<version id>)`. Blobs are inline.

use std::collections::HashMap;
use std::io::{self, Write};

use cma_client::types::{Actor, Timestamp};

use crate::change::{ChangeKind, Entry, Note};
use crate::render::Subject;
use crate::render::names::{c_quote, needs_quoting, note_text};
use crate::snapshot::Snapshot;
use crate::time::format_time;

const BRANCH: &str = "refs/heads/main";

/// A path for a fast-import command: relative, quoted when it holds a space (needed for `R`'s
/// source), a quote, a backslash or a control character.
fn fi_path(path: &str) -> String {
    let p = path.strip_prefix('/').unwrap_or(path);
    if needs_quoting(p) || p.contains(' ') {
        c_quote(p)
    } else {
        p.to_string()
    }
}

/// `Name <email>`; ids become the email's local part, and `<`, `>` and newlines are dropped.
pub(crate) fn identity(actor: Option<&Actor>) -> String {
    let (name, local) = match actor {
        None => ("unknown actor".to_string(), "unknown".to_string()),
        Some(a) => {
            let id = match a {
                Actor::Session(s) => s.session_id.clone(),
                Actor::Api(k) => k.api_key_id.clone(),
                Actor::User(u) => u.user_id.clone(),
                Actor::ServiceAccount(s) => s.service_account_id.clone(),
                _ => "unknown".to_string(),
            };
            (a.label(), id)
        }
    };
    let clean = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '<' | '>' | '\n' | '\r'))
            .collect::<String>()
    };
    let local: String = clean(&local)
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    format!("{} <{}@memory.invalid>", clean(&name), local)
}

fn write_commit_header(
    out: &mut dyn Write,
    mark: usize,
    who: &str,
    at: &Timestamp,
    message: &str,
) -> io::Result<()> {
    // git's raw date format needs a non-negative epoch.
    let secs = at.timestamp().max(0);
    writeln!(out, "commit {BRANCH}\nmark :{mark}")?;
    writeln!(
        out,
        "author {who} {secs} +0000\ncommitter {who} {secs} +0000"
    )?;
    writeln!(out, "data {}\n{message}", message.len())
}

fn write_blob(out: &mut dyn Write, path: &str, content: &str) -> io::Result<()> {
    writeln!(
        out,
        "M 100644 inline {}\ndata {}",
        fi_path(path),
        content.len()
    )?;
    out.write_all(content.as_bytes())?;
    writeln!(out)
}

pub(crate) fn render(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'_>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "feature done")?;
    // What the imported tree holds for each memory: its path there.
    let mut tree: HashMap<String, String> = HashMap::new();
    let fallback_time = match subject {
        Subject::SnapshotDiff { to, .. } => to.as_of,
        Subject::History { .. } => Timestamp::default(),
    };
    for (n, entry) in entries.enumerate() {
        let change = &entry.change;
        let kind = change.kind();
        let path = change.new.or(change.old).map_or("[redacted]", |s| s.path);
        let (who, at, mut message) = match entry.version {
            Some(v) => (
                identity(v.created_by.as_ref()),
                v.created_at,
                format!("{} {path} ({})", v.operation, v.id),
            ),
            None => (
                "cma <cma@memory.invalid>".to_string(),
                fallback_time,
                format!("{} {path}", kind.as_str()),
            ),
        };
        if let Some(note) = &change.note {
            message.push_str("\n\n");
            message.push_str(&note_text(note, kind));
        }
        if let Some(Note::Redacted { at, .. }) = &change.note {
            let at = at.map_or_else(|| "an unknown time".to_string(), |t| format_time(&t));
            message.push_str(&format!(
                "\nRedacted at {at}; the memory's last known content is removed from the tree."
            ));
        }
        message.push('\n');
        write_commit_header(out, n + 1, &who, &at, &message)?;
        let in_tree = tree.get(change.memory_id).cloned();
        match change.new.and_then(|s| s.content.map(|c| (s.path, c))) {
            Some((new_path, content)) => {
                match in_tree.as_deref() {
                    Some(old_path) if old_path != new_path && kind == ChangeKind::Renamed => {
                        writeln!(out, "R {} {}", fi_path(old_path), fi_path(new_path))?;
                    }
                    Some(old_path) if old_path != new_path => {
                        writeln!(out, "D {}", fi_path(old_path))?;
                        write_blob(out, new_path, content)?;
                    }
                    _ => write_blob(out, new_path, content)?,
                }
                tree.insert(change.memory_id.to_string(), new_path.to_string());
            }
            None => {
                if let Some(old_path) = in_tree {
                    writeln!(out, "D {}", fi_path(&old_path))?;
                    tree.remove(change.memory_id);
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "done")
}

/// One commit per snapshot, each replacing the whole tree.
pub(crate) fn render_snapshots(snapshots: &[&Snapshot], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "feature done")?;
    for (n, s) in snapshots.iter().enumerate() {
        let message = format!(
            "snapshot of {} at {} ({})\n",
            s.store_id,
            s.point,
            format_time(&s.as_of)
        );
        write_commit_header(out, n + 1, "cma <cma@memory.invalid>", &s.as_of, &message)?;
        writeln!(out, "deleteall")?;
        for (path, content) in &s.memories {
            write_blob(out, path, content)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "done")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cma_client::types::SessionActor;

    #[test]
    fn identities_use_the_actor_label_and_id() {
        let actor = Actor::Session(SessionActor {
            session_id: "sesn_1".into(),
        });
        assert_eq!(
            identity(Some(&actor)),
            "session sesn_1 <sesn_1@memory.invalid>"
        );
        assert_eq!(identity(None), "unknown actor <unknown@memory.invalid>");
    }

    #[test]
    fn paths_with_spaces_are_quoted() {
        assert_eq!(fi_path("/a b.md"), "\"a b.md\"");
        assert_eq!(fi_path("/notes/x.md"), "notes/x.md");
    }
}
