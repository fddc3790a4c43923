//! A session's event log: an append-only list plus a `watch` of its length, so every stream
//! reads from its own cursor and never loses an event to lag.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::watch;

use crate::clock::Timestamp;

/// One stored event: its wire JSON plus what lists filter on.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub kind: String,
    pub processed_at: Timestamp,
    pub json: Value,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Arc<StoredEvent>>,
    closed: bool,
}

#[derive(Debug)]
pub struct EventLog {
    inner: Mutex<Inner>,
    /// Bumped after every append or close; streams wait on it.
    tx: watch::Sender<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            tx: watch::channel(0).0,
        }
    }
}

impl EventLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn from_events(events: Vec<StoredEvent>) -> Self {
        let log = Self::default();
        log.lock().events = events.into_iter().map(Arc::new).collect();
        log
    }

    /// Appends unless the log is closed; returns whether it was appended.
    pub fn push(&self, event: Arc<StoredEvent>) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.events.push(event);
        true
    }

    /// Closes the log (session deleted); no later event is appended.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify();
    }

    /// Wakes every stream.
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n += 1);
    }

    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Arc<StoredEvent>> {
        self.lock().events.clone()
    }

    /// Events from `cursor` on, and whether the log is closed.
    pub fn read_from(&self, cursor: usize) -> (Vec<Arc<StoredEvent>>, bool) {
        let inner = self.lock();
        (
            inner
                .events
                .get(cursor..)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            inner.closed,
        )
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}
