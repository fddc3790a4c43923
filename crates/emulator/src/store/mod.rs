//! The one in-memory model every request and every agent tool call goes through, with
//! write-through persistence: a mutation records [`Change`]s, and [`Db::write`] commits them to
//! SQLite (when configured) before the caller answers.
//!
//! A write is all or nothing: tables keep before-images of what it touches ([`journal`]), and
//! side effects other threads could see (runner flags, confirmations, closing a log, waking
//! streams) wait in [`Effect`]s until the commit succeeds. A failed commit, or a write that
//! returns `Err`, puts everything back.

pub mod agents;
pub mod environments;
pub mod files;
pub mod history;
pub mod journal;
pub mod log;
pub mod memory;
pub mod outbox;
pub mod outcomes;
pub mod pending;
pub mod session_events;
pub mod sessions;
pub mod threads;
pub mod usage;
pub mod work;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use crate::error::{ApiError, ApiResult};
use crate::faults::CommitFaults;
use crate::persist::{Change, Persist};

pub use agents::AgentRec;
pub use environments::EnvRec;
pub use files::FileRec;
pub use history::History;
pub use journal::{Durable, Table, Undo};
pub use log::{EventLog, StoredEvent};
pub use memory::{MemoryRec, StoreRec, VersionRec};
pub use outbox::WebhookRec;
use sessions::Runtime;
pub use sessions::SessionRec;
pub use work::WorkRec;

/// The answer to a write whose commit failed: nothing of it was kept.
pub const NOT_STORED: &str = "the write could not be stored durably (is the disk full?); nothing was changed, and the same request can be retried";

/// Something a write does that other threads can observe, done only once the write is committed.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Sets a turn's interrupt flag (read by its runner outside the model's lock).
    SetFlag(Arc<AtomicBool>, bool),
    /// Wakes the runner waiting on pending calls: all are answered.
    Wake(mpsc::Sender<()>),
    /// Closes a deleted session's log, ending its streams.
    Close(Arc<EventLog>),
    /// Hands a stored webhook to its URL's delivery task (never waits).
    Webhook(
        crate::webhooks::Notifier,
        String,
        Box<crate::webhooks::Delivery>,
    ),
    /// Wakes the long polls waiting for work.
    WakePollers(Arc<tokio::sync::Notify>),
    /// Replaces an event of a log (its stored copy is replaced in the same commit).
    Replace(Arc<EventLog>, usize, Arc<StoredEvent>),
    /// Starts the turn runner of a session whose queue got work (through the starter
    /// [`Db::set_turn_starter`] installed; run after the model's lock is released, since the
    /// runner's first act is a write).
    StartTurn(String),
    /// Ends what an archived or deleted session holds outside the store (its idle real shell),
    /// through the hook [`Db::set_session_end`] installed.
    EndShell(String),
}

/// Starts a session's turn runner: installed by the layer that owns turns
/// ([`crate::session::starter`]), so that queueing a message is all a handler does.
pub type TurnStarter = Arc<dyn Fn(String) + Send + Sync>;

/// Ends what a session held outside the store once it is archived or deleted: installed by the
/// layer that owns those things (the sandbox's shell pool), so the store imports nothing above it.
pub type SessionEnd = Arc<dyn Fn(&str) + Send + Sync>;

impl Effect {
    fn run(self) {
        match self {
            Effect::SetFlag(flag, value) => flag.store(value, Ordering::SeqCst),
            Effect::Wake(tx) => {
                // The runner may be gone (interrupted, shut down); nothing waits any more then.
                let _ = tx.send(());
            }
            Effect::Close(log) => log.close(),
            Effect::Webhook(notifier, target, delivery) => {
                // A refused delivery stays in the outbox for the next start.
                notifier.send(&target, *delivery);
            }
            Effect::WakePollers(ready) => ready.notify_waiters(),
            Effect::Replace(log, index, event) => log.replace(index, event),
            // Taken out by `Db::write` and run once the lock is released.
            Effect::StartTurn(_) | Effect::EndShell(_) => {}
        }
    }
}

/// Everything the emulator knows.
#[derive(Debug, Default)]
pub struct Model {
    /// Creation order of every object, for stable list order and cursors.
    pub seq: u64,
    pub stores: Table<StoreRec>,
    pub memories: Table<MemoryRec>,
    pub versions: Table<VersionRec>,
    pub agents: Table<AgentRec>,
    pub environments: Table<EnvRec>,
    pub sessions: Table<SessionRec>,
    pub files: Table<FileRec>,
    /// Work items of self-hosted environments.
    pub work: Table<WorkRec>,
    /// Webhooks not yet delivered (see [`outbox`]).
    pub outbox: Table<WebhookRec>,
    /// Notified when work is queued, for long polls.
    pub work_ready: Arc<tokio::sync::Notify>,
    /// When each worker last polled, per environment (runtime only, for the queue stats).
    pub(crate) work_pollers: work::Pollers,
    /// Changes made by the current write, committed by [`Db::write`].
    pub(crate) changes: Vec<Change>,
    /// Logs the current write appended to: committed and woken once it is stored, cut back
    /// to their committed length if it is not.
    pub(crate) notify: Vec<Arc<EventLog>>,
    /// What the current write does outside the model once it is committed.
    pub(crate) effects: Vec<Effect>,
    /// Where committed changes are announced (`cma serve --webhook`).
    pub(crate) webhooks: crate::webhooks::Notifier,
    /// Whether [`Db::write`] stores `changes` (a data directory is configured). Without one
    /// nothing reads them, and serializing a session (its whole history) on every write of
    /// every turn was the largest cost of an emulated turn, growing with the session.
    pub(crate) persisting: bool,
}

/// Every table of the model, once. Commit, rollback and staging all go through this list, so a
/// table missing from it would not roll back either (which the atomic-write tests catch), and a
/// table on it is stored with no further code.
macro_rules! each_table {
    ($model:expr, $table:ident => $body:expr) => {{
        {
            let $table = &mut $model.stores;
            $body;
        }
        {
            let $table = &mut $model.memories;
            $body;
        }
        {
            let $table = &mut $model.versions;
            $body;
        }
        {
            let $table = &mut $model.agents;
            $body;
        }
        {
            let $table = &mut $model.environments;
            $body;
        }
        {
            let $table = &mut $model.sessions;
            $body;
        }
        {
            let $table = &mut $model.files;
            $body;
        }
        {
            let $table = &mut $model.work;
            $body;
        }
        {
            let $table = &mut $model.outbox;
            $body;
        }
    }};
}

impl Durable for StoreRec {
    const KIND: &'static str = memory::KIND_STORE;
}
impl Durable for MemoryRec {
    const KIND: &'static str = memory::KIND_MEMORY;
}
impl Durable for VersionRec {
    const KIND: &'static str = memory::KIND_VERSION;
}
impl Durable for AgentRec {
    const KIND: &'static str = agents::KIND_AGENT;
}
impl Durable for EnvRec {
    const KIND: &'static str = environments::KIND_ENVIRONMENT;
}
impl Durable for SessionRec {
    const KIND: &'static str = sessions::KIND_SESSION;
}
impl Durable for FileRec {
    const KIND: &'static str = files::KIND_FILE;
}
impl Durable for WorkRec {
    const KIND: &'static str = work::KIND_WORK;
}
impl Durable for WebhookRec {
    const KIND: &'static str = outbox::KIND_WEBHOOK;
}

impl Undo for StoreRec {
    /// Without the path index: rollback rebuilds it from the restored memories.
    fn before_image(&self) -> Self {
        Self {
            seq: self.seq,
            store: self.store.clone(),
            paths: BTreeMap::new(),
        }
    }
}

impl Undo for MemoryRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for VersionRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for AgentRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for EnvRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for WorkRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for WebhookRec {
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for FileRec {
    /// The bytes are shared, not copied.
    fn before_image(&self) -> Self {
        self.clone()
    }
}

impl Undo for SessionRec {
    /// The runtime shares the live log and interrupt flag: the log is cut back separately, and
    /// the flag only changes through an [`Effect`] after commit. The confirmation sender is a
    /// clone, so a write that takes it drops the channel only when the image goes (on commit).
    fn before_image(&self) -> Self {
        Self {
            seq: self.seq,
            session: self.session.clone(),
            history: self.history.clone(),
            queue: self.queue.clone(),
            stalled: self.stalled,
            pending: self.pending.clone(),
            turn: self.turn.clone(),
            usage: self.usage,
            outcomes: self.outcomes.clone(),
            thread_archived_at: self.thread_archived_at,
            rt: Runtime {
                log: self.rt.log.clone(),
                runner_active: self.rt.runner_active,
                wake: self.rt.wake.clone(),
                interrupted: self.rt.interrupted.clone(),
                cut_by_restart: self.rt.cut_by_restart,
            },
        }
    }
}

impl Model {
    /// Runs `effect` once the current write is committed (never, if it is not).
    pub(crate) fn after_commit(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// The current write is stored: forget its before-images.
    fn commit_undo(&mut self) {
        each_table!(self, table => table.commit());
    }

    /// What the current write stores: every row its journal touched, as it is now, then the
    /// events and file bytes it recorded.
    fn stage(&mut self) -> Result<Vec<Change>, serde_json::Error> {
        let mut rows = Vec::new();
        each_table!(self, table => table.stage(&mut rows)?);
        rows.append(&mut self.changes);
        Ok(rows)
    }

    /// The current write is not stored: put back every record it touched, the sequence counter,
    /// the path indexes, and cut its events from the logs (streams never saw them).
    fn rollback(&mut self, seq_before: u64) {
        let paths_stale = self.stores.touched() || self.memories.touched();
        each_table!(self, table => table.rollback());
        if paths_stale {
            self.rebuild_path_index();
        }
        for log in std::mem::take(&mut self.notify) {
            log.rollback();
        }
        self.changes.clear();
        self.effects.clear();
        self.seq = seq_before;
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// The shared model, its persistence and the shutdown flag.
pub struct Db {
    model: Mutex<Model>,
    persist: Option<Mutex<Persist>>,
    commit_faults: CommitFaults,
    shutting_down: AtomicBool,
    turn_starter: Mutex<Option<TurnStarter>>,
    session_end: Mutex<Option<SessionEnd>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("persistent", &self.persist.is_some())
            .finish()
    }
}

impl Db {
    pub fn new(mut model: Model, persist: Option<Persist>) -> Self {
        // Whatever built the model (a load) is the starting state, not a write to undo.
        model.commit_undo();
        model.changes.clear();
        model.notify.clear();
        model.effects.clear();
        model.persisting = persist.is_some();
        Self {
            model: Mutex::new(model),
            commit_faults: persist
                .as_ref()
                .map(Persist::commit_faults)
                .unwrap_or_default(),
            persist: persist.map(Mutex::new),
            shutting_down: AtomicBool::new(false),
            turn_starter: Mutex::new(None),
            session_end: Mutex::new(None),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&self.lock())
    }

    /// Mutates the model and commits what changed before returning. All or nothing: when `f`
    /// returns `Err` or the commit fails, the model is left exactly as it was (a failed commit
    /// answers 500 with [`NOT_STORED`]), and no stream or runner has seen any of it.
    ///
    /// Once [`Db::shut_down`] ran, every write is refused (503) and changes nothing: what was
    /// acknowledged before is what a restart finds, and a runner woken by the shutdown cannot
    /// end its turn on the way out (a restart resumes it instead).
    pub fn write<R>(&self, f: impl FnOnce(&mut Model) -> ApiResult<R>) -> ApiResult<R> {
        let model = self.lock();
        if self.is_shutting_down() {
            return Err(ApiError::new(
                503,
                "api_error",
                "the emulator is shutting down; nothing was changed",
            ));
        }
        let mut pending = Pending {
            seq_before: model.seq,
            model,
            done: false,
        };
        let result = f(&mut pending.model).and_then(|value| {
            let changes = match &self.persist {
                Some(_) => pending.model.stage().map_err(|e| {
                    tracing::error!(error = %e, "a record does not serialize; the write is rolled back");
                    ApiError::internal(NOT_STORED)
                })?,
                None => std::mem::take(&mut pending.model.changes),
            };
            match &self.persist {
                Some(p) if !changes.is_empty() => {
                    let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
                    match p.apply(&changes) {
                        Ok(()) => Ok(value),
                        Err(e) => {
                            tracing::error!(error = %e, "could not persist a write; rolled it back");
                            Err(ApiError::internal(NOT_STORED))
                        }
                    }
                }
                _ => Ok(value),
            }
        });
        // On an `Err` this returns, and dropping `pending` rolls the write back.
        let value = result?;
        pending.done = true;
        let model = &mut pending.model;
        model.commit_undo();
        model.changes.clear();
        // Still under the model's lock: streams may now read what this write appended, and the
        // effects happen in the order the write made them.
        let mut turns = Vec::new();
        let mut ended = Vec::new();
        for effect in std::mem::take(&mut model.effects) {
            match effect {
                Effect::StartTurn(sid) => turns.push(sid),
                Effect::EndShell(sid) => ended.push(sid),
                effect => effect.run(),
            }
        }
        let notify = std::mem::take(&mut model.notify);
        for log in &notify {
            log.commit();
        }
        drop(pending);
        for log in notify {
            log.notify();
        }
        if !turns.is_empty() {
            let starter = self
                .turn_starter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match starter {
                Some(start) => turns.into_iter().for_each(|sid| start(sid)),
                None => tracing::debug!(sessions = turns.len(), "no turn starter installed"),
            }
        }
        if !ended.is_empty() {
            let end = self
                .session_end
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(end) = end {
                ended.iter().for_each(|sid| end(sid));
            }
        }
        Ok(value)
    }

    /// Makes every committed archive or delete of a session end what it held outside the store.
    pub(crate) fn set_session_end(&self, end: SessionEnd) {
        *self.session_end.lock().unwrap_or_else(|e| e.into_inner()) = Some(end);
    }

    /// Makes every committed write that queues a session's first message start its turn runner.
    pub(crate) fn set_turn_starter(&self, starter: TurnStarter) {
        *self.turn_starter.lock().unwrap_or_else(|e| e.into_inner()) = Some(starter);
    }

    /// The switch that makes this database's commits fail (it has no effect without a data
    /// directory, where nothing is committed).
    pub fn commit_faults(&self) -> CommitFaults {
        self.commit_faults.clone()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Wakes every waiting agent runner and closes every stream.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let logs: Vec<Arc<EventLog>> = {
            let mut m = self.lock();
            // A runner waiting on answers blocks on its wake channel: dropping the sender ends
            // the wait. Runtime state, not journaled: no write is in progress while we hold the
            // lock, so there is nothing to roll back.
            for rec in m.sessions.values_mut_unjournaled() {
                rec.rt.wake = None;
            }
            m.sessions.values().map(|s| s.rt.log.clone()).collect()
        };
        for log in logs {
            log.notify();
        }
    }
}

/// A write in progress: rolled back when dropped before it is marked done (an `Err`, a failed
/// commit, or a panic inside the write).
struct Pending<'a> {
    model: MutexGuard<'a, Model>,
    seq_before: u64,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            let seq_before = self.seq_before;
            self.model.rollback(seq_before);
        }
    }
}

#[cfg(test)]
mod tests {
    use cma_types::CreateMemoryStore;

    use super::*;

    fn create_store(m: &mut Model) -> ApiResult<String> {
        m.create_store(CreateMemoryStore {
            name: "notes".into(),
            ..Default::default()
        })
        .map(|s| s.id)
    }

    /// A write that fails after it mutated (an `Err`, or a panic) leaves no trace, the sequence
    /// counter included. Break it: set `pending.done = true` before `let value = result?;` in
    /// `Db::write` (the `Err` case), or drop `Pending`'s rollback (the panic case).
    #[test]
    fn a_write_that_fails_after_mutating_leaves_nothing() {
        let db = Db::new(Model::default(), None);
        let kept = db.write(create_store).unwrap();
        let seq = db.read(|m| m.seq);
        let refused = db.write(|m| {
            create_store(m)?;
            Err::<(), _>(ApiError::invalid("changed my mind"))
        });
        assert!(refused.is_err());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.write(|m| -> ApiResult<()> {
                create_store(m)?;
                panic!("a bug in a write");
            })
        }));
        assert!(panicked.is_err());
        db.read(|m| {
            assert_eq!(m.stores.keys().collect::<Vec<_>>(), [&kept]);
            assert_eq!(m.seq, seq);
            assert!(m.changes.is_empty() && m.effects.is_empty() && m.notify.is_empty());
        });
        // The next write starts clean.
        db.write(create_store).unwrap();
        assert_eq!(db.read(|m| m.stores.len()), 2);
    }
}
