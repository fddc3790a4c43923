//! The one in-memory model every request and every agent tool call goes through, with
//! write-through persistence: a mutation records [`Change`]s, and [`Db::write`] commits them to
//! SQLite (when configured) before the caller answers.

pub mod agents;
pub mod environments;
pub mod log;
pub mod memory;
pub mod sessions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::persist::{Change, Persist};

pub use agents::AgentRec;
pub use environments::EnvRec;
pub use log::{EventLog, StoredEvent};
pub use memory::{MemoryRec, StoreRec, VersionRec};
pub use sessions::SessionRec;

/// Everything the emulator knows.
#[derive(Debug, Default)]
pub struct Model {
    /// Creation order of every object, for stable list order and cursors.
    pub seq: u64,
    pub stores: HashMap<String, StoreRec>,
    pub memories: HashMap<String, MemoryRec>,
    pub versions: HashMap<String, VersionRec>,
    pub agents: HashMap<String, AgentRec>,
    pub environments: HashMap<String, EnvRec>,
    pub sessions: HashMap<String, SessionRec>,
    /// Changes made by the current write, committed by [`Db::write`].
    pub(crate) changes: Vec<Change>,
    /// Logs to wake once the current write is committed.
    pub(crate) notify: Vec<Arc<EventLog>>,
}

impl Model {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn record<T: Serialize>(&mut self, kind: &'static str, id: &str, rec: Option<&T>) {
        let change = match rec {
            Some(rec) => match serde_json::to_string(rec) {
                Ok(json) => Change::Put {
                    kind,
                    id: id.to_string(),
                    json,
                },
                Err(e) => {
                    tracing::error!(kind, id, error = %e, "record does not serialize");
                    return;
                }
            },
            None => Change::Delete {
                kind,
                id: id.to_string(),
            },
        };
        self.changes.push(change);
    }
}

/// The shared model, its persistence and the shutdown flag.
pub struct Db {
    model: Mutex<Model>,
    persist: Option<Mutex<Persist>>,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("persistent", &self.persist.is_some())
            .finish()
    }
}

impl Db {
    pub fn new(model: Model, persist: Option<Persist>) -> Self {
        Self {
            model: Mutex::new(model),
            persist: persist.map(Mutex::new),
            shutting_down: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&self.lock())
    }

    /// Mutates the model and commits what changed before returning. `f` must validate before
    /// it mutates, so an `Err` leaves the model as it was.
    pub fn write<R>(&self, f: impl FnOnce(&mut Model) -> ApiResult<R>) -> ApiResult<R> {
        let mut model = self.lock();
        let result = f(&mut model);
        let changes = std::mem::take(&mut model.changes);
        let notify = std::mem::take(&mut model.notify);
        let result = match result {
            Ok(value) => match &self.persist {
                Some(p) if !changes.is_empty() => {
                    let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
                    match p.apply(&changes) {
                        Ok(()) => Ok(value),
                        Err(e) => {
                            tracing::error!(error = %e, "could not persist a write");
                            Err(ApiError::internal("the write could not be stored durably"))
                        }
                    }
                }
                _ => Ok(value),
            },
            Err(e) => {
                debug_assert!(
                    changes.is_empty(),
                    "a failed write recorded changes: {changes:?}"
                );
                Err(e)
            }
        };
        if result.is_ok() {
            // Still under the model's lock: streams may now read what this write appended.
            for log in &notify {
                log.commit();
            }
        }
        drop(model);
        for log in notify {
            log.notify();
        }
        result
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Wakes every waiting agent runner and closes every stream.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let logs: Vec<Arc<EventLog>> =
            self.read(|m| m.sessions.values().map(|s| s.rt.log.clone()).collect());
        for log in logs {
            log.notify();
        }
    }
}
