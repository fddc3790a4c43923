//! The host's side of the real shell's mounts: reading what the shell left in a mount (never
//! following a link the shell may have planted: the read-write mounts are read through
//! `/proc/<pid>/root`, where an absolute link would resolve on the host), and bringing the
//! store's files into one.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::limits::own;
use crate::store::memory::MAX_CONTENT_BYTES;

/// The changes that make the read-write mounts hold the store's files again, staged in the
/// control directory for a script the sandbox runs: their tmpfs belongs to the sandbox's user
/// namespace, in which the emulator's own user may have no id to create files with (root's
/// has none when the sandbox runs as `nobody`). Inside, a link the shell planted resolves in
/// the sandbox, where it can do no harm.
pub(super) struct Staging {
    /// `<ctl>/in` on the host, `/run/cma/in` inside.
    dir: PathBuf,
    script: String,
    files: usize,
    owner: Option<(u32, u32)>,
}

/// Where the sandbox reads the control directory.
pub(super) const CTL_INSIDE: &str = "/run/cma";

impl Staging {
    pub(super) fn new(ctl: &Path, owner: Option<(u32, u32)>) -> std::io::Result<Self> {
        let dir = ctl.join("in");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir(&dir)?;
        own(&dir, owner)?;
        Ok(Self {
            dir,
            script: String::new(),
            files: 0,
            owner,
        })
    }

    /// Removes `path` (a file, or whatever the shell put there).
    pub(super) fn remove(&mut self, path: &str) {
        self.script
            .push_str(&format!("/bin/rm -rf -- {} || exit 1\n", quote(path)));
    }

    /// Makes `path` a file holding `content`, with its parent directories.
    pub(super) fn write(&mut self, path: &str, content: &[u8]) -> std::io::Result<()> {
        self.files += 1;
        let staged = self.dir.join(self.files.to_string());
        std::fs::write(&staged, content)?;
        own(&staged, self.owner)?;
        let parent = path.rsplit_once('/').map_or("/", |(p, _)| p);
        self.script.push_str(&format!(
            "/bin/mkdir -p -- {parent} && /bin/rm -rf -- {path} && /bin/cat {CTL_INSIDE}/in/{n} > {path} || exit 1\n",
            parent = quote(if parent.is_empty() { "/" } else { parent }),
            path = quote(path),
            n = self.files,
        ));
        Ok(())
    }

    /// The command that applies the staged changes (`None`: nothing to do). It runs in a bash
    /// of its own, started by absolute path with a clean environment, so nothing the agent
    /// defined in its shell (functions, aliases, `PATH`) takes part.
    pub(super) fn finish(self, ctl: &Path) -> std::io::Result<Option<String>> {
        if self.script.is_empty() {
            return Ok(None);
        }
        let script = ctl.join("sync.sh");
        std::fs::write(&script, format!("cd / || exit 1\n{}", self.script))?;
        own(&script, self.owner)?;
        Ok(Some(format!(
            "/usr/bin/env -i /bin/bash --noprofile --norc {CTL_INSIDE}/sync.sh"
        )))
    }
}

/// `s` as one single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Makes a read-only mount's host directory (which the sandbox cannot write) hold `want`.
pub(super) fn sync_host_dir(host: &Path, want: &BTreeMap<String, String>) -> std::io::Result<()> {
    let have = scan(host);
    for rel in have.keys() {
        if !want.contains_key(rel) {
            let _ = std::fs::remove_file(host.join(rel.trim_start_matches('/')));
        }
    }
    for (rel, content) in want {
        if have
            .get(rel)
            .and_then(|f| f.as_ref().ok())
            .map(Vec::as_slice)
            == Some(content.as_bytes())
        {
            continue;
        }
        let path = host.join(rel.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    Ok(())
}

/// Every file under `dir` by memory path (`/a/b.md`): its bytes, or why it cannot be stored.
pub(super) fn scan(dir: &Path) -> BTreeMap<String, Result<Vec<u8>, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            let rel = format!("/{}", rel.display());
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() => {
                    // Read one byte past the limit at most: an oversized file is never loaded whole.
                    let read = std::fs::File::open(&path).and_then(|f| {
                        let mut buf = Vec::new();
                        f.take(MAX_CONTENT_BYTES as u64 + 1).read_to_end(&mut buf)?;
                        Ok(buf)
                    });
                    let size = m.len() as usize;
                    out.insert(
                        rel,
                        match read {
                            Ok(_) if size > MAX_CONTENT_BYTES => Err(format!(
                                "{size} bytes is more than a memory may hold ({MAX_CONTENT_BYTES})"
                            )),
                            Ok(b) => Ok(b),
                            Err(e) => Err(e.to_string()),
                        },
                    );
                }
                Ok(m) if m.file_type().is_symlink() => {
                    out.insert(
                        rel,
                        Err("a symbolic link (memories are plain files)".into()),
                    );
                }
                _ => {
                    out.insert(rel, Err("not a regular file".into()));
                }
            }
        }
    }
    out
}
