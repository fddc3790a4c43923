//! The agent's view of its memory mounts as a filesystem: `/mnt/memory/<slug>/<memory path>`.
//! Directories are implied by memory paths. Every write goes through the same store code as the
//! REST API, with the session as the actor.
//!
//! A session's `file` resources appear as read-only files at their mount paths (by default
//! `/mnt/session/uploads/<file_id>`); the directories above them are implied and read-only too.

use std::sync::Arc;

use cma_types::{Access, Actor};

use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::store::memory::MemoryChange;
use crate::store::{Db, Model};

pub use crate::paths::{MOUNT_ROOT, normalize};

/// A mounted store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsMount {
    /// `/mnt/memory/<slug>`, no trailing slash.
    pub path: String,
    pub store_id: String,
    pub access: Access,
}

/// An uploaded file mounted read-only at `path` (a session `file` resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    /// Absolute and normalized, no trailing slash.
    pub path: String,
    pub file_id: String,
}

/// What a filesystem call can fail with, worded as a shell would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Errno {
    NotFound,
    IsDir,
    NotDir,
    ReadOnly,
    Exists,
    /// The store refused the write (a path rule, the content limit, an archived store…).
    Invalid(String),
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Errno::NotFound => f.write_str("No such file or directory"),
            Errno::IsDir => f.write_str("Is a directory"),
            Errno::NotDir => f.write_str("Not a directory"),
            Errno::ReadOnly => f.write_str("Read-only file system"),
            Errno::Exists => f.write_str("File exists"),
            Errno::Invalid(m) => f.write_str(m),
        }
    }
}

/// A resolved absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    /// `/mnt/memory` itself: lists the mounts, read-only.
    Root,
    /// Inside a mount: `rel` is `""` for the mount's root, else a memory path such as `/a/b.md`.
    Mount { mount: usize, rel: String },
    /// A mounted file ([`Fs::files`] index).
    File(usize),
    /// A path in the read-only tree above mounted files: a directory of them (such as
    /// `/mnt/session/uploads`), or a missing entry in one.
    Dir(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    File,
    Dir,
    Missing,
}

/// One file found by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub full_path: String,
    pub content: String,
    pub updated_at: Timestamp,
}

/// Why [`Fs::update`] changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateError<E> {
    /// The filesystem refused (read-only, a directory, a path rule, the write not stored…).
    Fs(Errno),
    /// The caller's edit refused the current content.
    Refused(E),
}

/// What a file at `rel` of store `store_id` is, as of `model`.
fn stat_in(model: &Model, store_id: &str, rel: &str) -> Stat {
    let Some(store) = model.stores.get(store_id) else {
        return Stat::Missing;
    };
    if rel.is_empty() {
        return Stat::Dir;
    }
    if store.paths.contains_key(rel) {
        return Stat::File;
    }
    let dir = format!("{rel}/");
    match store.paths.range(dir.clone()..).next() {
        Some((p, _)) if p.starts_with(&dir) => Stat::Dir,
        _ => Stat::Missing,
    }
}

/// The parent of `rel` must not be a file.
fn check_parent_in(model: &Model, store_id: &str, rel: &str) -> Result<(), Errno> {
    let mut prefix = String::new();
    let segments: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    for seg in segments.iter().take(segments.len().saturating_sub(1)) {
        prefix.push('/');
        prefix.push_str(seg);
        if stat_in(model, store_id, &prefix) == Stat::File {
            return Err(Errno::NotDir);
        }
    }
    Ok(())
}

/// A store's refusal as the shell would word it.
fn errno_of(e: ApiError) -> Errno {
    if e.status == 404 {
        Errno::NotFound
    } else {
        Errno::Invalid(e.message)
    }
}

pub struct Fs {
    db: Arc<Db>,
    actor: Actor,
    mounts: Vec<FsMount>,
    files: Vec<FileMount>,
}

impl Fs {
    pub fn new(db: Arc<Db>, actor: Actor, mounts: Vec<FsMount>) -> Self {
        Self {
            db,
            actor,
            mounts,
            files: Vec::new(),
        }
    }

    /// Adds the session's mounted files.
    pub fn with_files(mut self, files: Vec<FileMount>) -> Self {
        self.files = files;
        self
    }

    pub fn mounts(&self) -> &[FsMount] {
        &self.mounts
    }

    pub fn files(&self) -> &[FileMount] {
        &self.files
    }

    /// A mounted file's bytes (`None` once the file was deleted).
    pub fn file_bytes(&self, i: usize) -> Option<bytes::Bytes> {
        let id = &self.files.get(i)?.file_id;
        self.db
            .read(|model| model.files.get(id).map(|f| f.content.clone()))
    }

    /// Paths of everything mounted (memory mounts and their root as directories, files as
    /// files): what a [`Loc::Dir`] lists and walks.
    fn mounted(&self) -> Vec<(&str, bool)> {
        let mut all: Vec<(&str, bool)> = self
            .files
            .iter()
            .map(|f| (f.path.as_str(), false))
            .collect();
        if !self.mounts.is_empty() {
            all.push((MOUNT_ROOT, true));
        }
        all
    }

    /// Whether `dir` is a directory above a mounted file.
    fn holds_files(&self, dir: &str) -> bool {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.files.iter().any(|f| f.path.starts_with(&prefix))
    }

    /// Where `norm` is among the mounted files, when it is not in a memory mount.
    fn resolve_file(&self, norm: &str) -> Option<Loc> {
        if let Some(i) = self.files.iter().position(|f| f.path == norm) {
            return Some(Loc::File(i));
        }
        let parent = match norm.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((p, _)) => p,
            None => return None,
        };
        (self.holds_files(norm) || self.holds_files(parent)).then(|| Loc::Dir(norm.to_string()))
    }

    /// `None` when the path is outside `/mnt/memory`, or names no mount.
    pub fn resolve(&self, path: &str) -> Option<Loc> {
        let norm = normalize(path)?;
        if norm == MOUNT_ROOT {
            return Some(Loc::Root);
        }
        let in_mount = self.mounts.iter().enumerate().find_map(|(i, m)| {
            if norm == m.path {
                Some(Loc::Mount {
                    mount: i,
                    rel: String::new(),
                })
            } else {
                norm.strip_prefix(&m.path)
                    .filter(|rest| rest.starts_with('/'))
                    .map(|rest| Loc::Mount {
                        mount: i,
                        rel: rest.to_string(),
                    })
            }
        });
        in_mount.or_else(|| self.resolve_file(&norm))
    }

    pub fn display(&self, loc: &Loc) -> String {
        match loc {
            Loc::Root => MOUNT_ROOT.to_string(),
            Loc::Mount { mount, rel } => format!("{}{}", self.mounts[*mount].path, rel),
            Loc::File(i) => self.files[*i].path.clone(),
            Loc::Dir(d) => d.clone(),
        }
    }

    fn mount(&self, i: usize) -> &FsMount {
        &self.mounts[i]
    }

    pub fn stat(&self, loc: &Loc) -> Stat {
        let (mount, rel) = match loc {
            Loc::Mount { mount, rel } => (mount, rel),
            Loc::Root => return Stat::Dir,
            Loc::Dir(d) if self.holds_files(d) => return Stat::Dir,
            Loc::Dir(_) => return Stat::Missing,
            Loc::File(i) => {
                return match self.file_bytes(*i) {
                    Some(_) => Stat::File,
                    None => Stat::Missing,
                };
            }
        };
        let m = self.mount(*mount);
        self.db.read(|model| stat_in(model, &m.store_id, rel))
    }

    /// Direct children: `(name, is_dir)`, sorted by name.
    pub fn list(&self, loc: &Loc) -> Result<Vec<(String, bool)>, Errno> {
        match loc {
            Loc::Root => {
                let mut names: Vec<(String, bool)> = self
                    .mounts
                    .iter()
                    .filter_map(|m| m.path.rsplit('/').next().map(|n| (n.to_string(), true)))
                    .collect();
                names.sort();
                Ok(names)
            }
            Loc::File(_) => Err(Errno::NotDir),
            Loc::Dir(d) if !self.holds_files(d) => Err(Errno::NotFound),
            Loc::Dir(d) => {
                let prefix = if d == "/" {
                    "/".to_string()
                } else {
                    format!("{d}/")
                };
                let mut names: Vec<(String, bool)> = self
                    .mounted()
                    .into_iter()
                    .filter_map(|(path, is_dir)| {
                        let rest = path.strip_prefix(&prefix)?;
                        Some(match rest.split_once('/') {
                            Some((first, _)) => (first.to_string(), true),
                            None => (rest.to_string(), is_dir),
                        })
                    })
                    .collect();
                names.sort();
                names.dedup();
                Ok(names)
            }
            Loc::Mount { mount, rel } => match self.stat(loc) {
                Stat::Missing => Err(Errno::NotFound),
                Stat::File => Err(Errno::NotDir),
                Stat::Dir => {
                    let m = self.mount(*mount);
                    let dir = format!("{rel}/");
                    let mut out: Vec<(String, bool)> = self.db.read(|model| {
                        let Some(store) = model.stores.get(&m.store_id) else {
                            return Vec::new();
                        };
                        store
                            .paths
                            .keys()
                            .filter_map(|p| p.strip_prefix(&dir))
                            .map(|rest| match rest.split_once('/') {
                                Some((first, _)) => (first.to_string(), true),
                                None => (rest.to_string(), false),
                            })
                            .collect()
                    });
                    out.sort();
                    out.dedup();
                    Ok(out)
                }
            },
        }
    }

    pub fn read(&self, loc: &Loc) -> Result<String, Errno> {
        let (mount, rel) = match loc {
            Loc::Mount { mount, rel } => (mount, rel),
            Loc::Root => return Err(Errno::IsDir),
            Loc::Dir(d) if self.holds_files(d) => return Err(Errno::IsDir),
            Loc::Dir(_) => return Err(Errno::NotFound),
            // A binary upload reads as text with replacement characters, as `cat` would show it.
            Loc::File(i) => {
                return self
                    .file_bytes(*i)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or(Errno::NotFound);
            }
        };
        let m = self.mount(*mount);
        let content = self.db.read(|model| {
            model
                .memory_by_path(&m.store_id, rel)
                .map(|r| r.memory.content.clone().unwrap_or_default())
        });
        match content {
            Some(c) => Ok(c),
            None if self.stat(loc) == Stat::Dir => Err(Errno::IsDir),
            None => Err(Errno::NotFound),
        }
    }

    fn writable(&self, loc: &Loc) -> Result<(usize, String), Errno> {
        match loc {
            Loc::Root | Loc::File(_) | Loc::Dir(_) => Err(Errno::ReadOnly),
            Loc::Mount { mount, rel } => {
                if self.mount(*mount).access == Access::ReadOnly {
                    return Err(Errno::ReadOnly);
                }
                Ok((*mount, rel.clone()))
            }
        }
    }

    /// Creates or overwrites a file. Returns whether it was created.
    pub fn write(&self, loc: &Loc, content: &str) -> Result<bool, Errno> {
        self.update(loc, |_| {
            Ok::<_, std::convert::Infallible>(content.to_string())
        })
        .map_err(|e| match e {
            UpdateError::Fs(e) => e,
            UpdateError::Refused(never) => match never {},
        })
    }

    /// Replaces a file's content with `edit(current content)` (`None`: no such file, which
    /// then is created) in one write under the model's lock, so no other write lands between
    /// the read and the write and no update is lost. Returns whether the file was created.
    pub fn update<E>(
        &self,
        loc: &Loc,
        edit: impl FnOnce(Option<&str>) -> Result<String, E>,
    ) -> Result<bool, UpdateError<E>> {
        let (mount, rel) = self.writable(loc).map_err(UpdateError::Fs)?;
        if rel.is_empty() {
            return Err(UpdateError::Fs(Errno::IsDir));
        }
        let m = self.mount(mount).clone();
        let actor = self.actor.clone();
        let written = self.db.write(|model| {
            if !model.stores.contains_key(&m.store_id) {
                return Ok(Err(UpdateError::Fs(Errno::NotFound)));
            }
            match stat_in(model, &m.store_id, &rel) {
                Stat::Dir => return Ok(Err(UpdateError::Fs(Errno::IsDir))),
                Stat::Missing => {
                    if let Err(e) = check_parent_in(model, &m.store_id, &rel) {
                        return Ok(Err(UpdateError::Fs(e)));
                    }
                }
                Stat::File => {}
            }
            let current = model.memory_by_path(&m.store_id, &rel).map(|r| {
                (
                    r.memory.id.clone(),
                    r.memory.content.clone().unwrap_or_default(),
                )
            });
            let content = match edit(current.as_ref().map(|(_, c)| c.as_str())) {
                Ok(c) => c,
                Err(e) => return Ok(Err(UpdateError::Refused(e))),
            };
            match current {
                Some((id, _)) => {
                    let change = MemoryChange {
                        content: Some(content),
                        ..Default::default()
                    };
                    model
                        .update_memory(&m.store_id, &id, change, &actor)
                        .map(|_| Ok(false))
                }
                None => model
                    .create_memory(&m.store_id, &rel, Some(&content), &actor)
                    .map(|_| Ok(true)),
            }
        });
        match written {
            Ok(outcome) => outcome,
            Err(e) => Err(UpdateError::Fs(errno_of(e))),
        }
    }

    /// Deletes one file.
    pub fn remove_file(&self, loc: &Loc) -> Result<(), Errno> {
        let (mount, rel) = self.writable(loc)?;
        match self.stat(loc) {
            Stat::Dir => return Err(Errno::IsDir),
            Stat::Missing => return Err(Errno::NotFound),
            Stat::File => {}
        }
        let m = self.mount(mount).clone();
        let actor = self.actor.clone();
        self.db
            .write(|model| {
                let id = model
                    .memory_by_path(&m.store_id, &rel)
                    .map(|r| r.memory.id.clone())
                    .ok_or_else(|| crate::error::ApiError::not_found("gone"))?;
                model.delete_memory(&m.store_id, &id, None, &actor)
            })
            .map_err(errno_of)
    }

    /// Every file at or below `loc`, sorted by path.
    pub fn walk(&self, loc: &Loc) -> Vec<FileEntry> {
        let mut out = Vec::new();
        let targets: Vec<(usize, String)> = match loc {
            Loc::Root => (0..self.mounts.len()).map(|i| (i, String::new())).collect(),
            Loc::Mount { mount, rel } => vec![(*mount, rel.clone())],
            Loc::File(i) => {
                self.push_file(*i, &mut out);
                Vec::new()
            }
            Loc::Dir(d) => {
                let prefix = if d == "/" {
                    "/".to_string()
                } else {
                    format!("{d}/")
                };
                for i in 0..self.files.len() {
                    if self.files[i].path.starts_with(&prefix) {
                        self.push_file(i, &mut out);
                    }
                }
                (0..self.mounts.len())
                    .filter(|i| self.mounts[*i].path.starts_with(&prefix))
                    .map(|i| (i, String::new()))
                    .collect()
            }
        };
        for (i, rel) in targets {
            let m = self.mount(i);
            let dir = format!("{rel}/");
            self.db.read(|model| {
                for mem in model.store_memories(&m.store_id) {
                    if mem.path == rel || mem.path.starts_with(&dir) {
                        out.push(FileEntry {
                            full_path: format!("{}{}", m.path, mem.path),
                            content: mem.content.clone().unwrap_or_default(),
                            updated_at: mem.updated_at,
                        });
                    }
                }
            });
        }
        out.sort_by(|a, b| a.full_path.cmp(&b.full_path));
        out
    }

    fn push_file(&self, i: usize, out: &mut Vec<FileEntry>) {
        let m = &self.files[i];
        let found = self.db.read(|model| {
            model
                .files
                .get(&m.file_id)
                .map(|f| (f.content.clone(), f.file.created_at))
        });
        if let Some((content, created_at)) = found {
            out.push(FileEntry {
                full_path: m.path.clone(),
                content: String::from_utf8_lossy(&content).into_owned(),
                updated_at: created_at,
            });
        }
    }
}
