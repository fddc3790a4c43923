//! A session's event log: an append-only list plus a `watch` of its length, so every stream
//! reads from its own cursor and never loses an event to lag.
//!
//! Streams see an event only once the write that appended it is committed (durable, with
//! persistence): [`EventLog::commit`] moves the watermark they read up to. Lists read under the
//! model's lock, which a write holds until it is committed, so they never see more either.

use std::sync::{Arc, Mutex};

use cma_types::SessionEvent;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use tokio::sync::watch;

use crate::clock::Timestamp;

/// One stored event: the typed event, which readers match on, beside its wire JSON, which lists,
/// streams and storage write out as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    /// When it was appended (a queued message's wire `processed_at` is null until its turn
    /// takes it up): what lists filter on.
    pub processed_at: Timestamp,
    pub event: SessionEvent,
    /// `event` serialized; never changed in place (a changed event is a new `StoredEvent`).
    pub json: Value,
}

impl StoredEvent {
    /// `event` with its wire JSON (an error if it does not serialize). No secret `cma` holds is
    /// stored or served, whoever wrote it (a model can repeat one): both forms are redacted.
    pub fn new(event: SessionEvent, processed_at: Timestamp) -> Result<Self, serde_json::Error> {
        let mut json = serde_json::to_value(&event)?;
        let event = if cma_types::redact::redact_json(&mut json) {
            serde_json::from_value(json.clone())?
        } else {
            event
        };
        Ok(Self {
            id: event.id().unwrap_or_default().to_string(),
            processed_at,
            json,
            event,
        })
    }

    /// The event's `type`.
    pub fn kind(&self) -> &str {
        self.event.type_name()
    }

    /// The event as it goes on the wire: its JSON with `type` first in every object.
    pub fn wire(&self) -> TypeFirst<'_> {
        TypeFirst(&self.json)
    }
}

/// JSON with each object's `type` key written first, as the API and the SDKs write it (the
/// stored `Value`'s keys are sorted, which puts `type` last). Decoders stream an object straight
/// into its variant only when `type` comes first; otherwise they buffer the whole object, which
/// made decoding the emulator's streams several times slower than the real API's.
pub struct TypeFirst<'a>(pub &'a Value);

impl Serialize for TypeFirst<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                if let Some(tag) = map.get("type") {
                    out.serialize_entry("type", tag)?;
                }
                for (key, value) in map.iter().filter(|(key, _)| *key != "type") {
                    out.serialize_entry(key, &TypeFirst(value))?;
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(TypeFirst)),
            other => other.serialize(serializer),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Arc<StoredEvent>>,
    /// How many of `events` are committed; streams read no further.
    committed: usize,
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
        {
            let mut inner = log.lock();
            inner.events = events.into_iter().map(Arc::new).collect();
            inner.committed = inner.events.len();
        }
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

    /// Marks everything appended so far as committed (called by [`crate::store::Db::write`] once
    /// the write that appended it is stored).
    pub fn commit(&self) {
        let mut inner = self.lock();
        inner.committed = inner.events.len();
    }

    /// Drops every event appended since the last commit (their write failed); streams never
    /// read past the committed ones, so none saw them.
    pub fn rollback(&self) {
        let mut inner = self.lock();
        let committed = inner.committed;
        inner.events.truncate(committed);
    }

    /// How many events streams may read: the committed ones.
    pub fn committed_len(&self) -> usize {
        self.lock().committed
    }

    /// Wakes every stream.
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n += 1);
    }

    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// The position and the event with `id`, searched from the newest.
    pub fn find(&self, id: &str) -> Option<(usize, Arc<StoredEvent>)> {
        let inner = self.lock();
        inner
            .events
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.id == id)
            .map(|(i, e)| (i, e.clone()))
    }

    /// Puts `event` at `index` in place of the event there (a queued message stamped with its
    /// `processed_at` when taken up); later lists see it, streams that sent it do not resend it.
    pub fn replace(&self, index: usize, event: Arc<StoredEvent>) {
        let mut inner = self.lock();
        if let Some(slot) = inner.events.get_mut(index) {
            *slot = event;
        }
    }

    pub fn snapshot(&self) -> Vec<Arc<StoredEvent>> {
        self.lock().events.clone()
    }

    /// Committed events from `cursor` on, and whether the log is closed with nothing left to
    /// commit (a closing write's last events are read before the close is reported).
    pub fn read_from(&self, cursor: usize) -> (Vec<Arc<StoredEvent>>, bool) {
        let inner = self.lock();
        let committed = inner.committed.min(inner.events.len());
        (
            inner
                .events
                .get(cursor..committed)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            inner.closed && committed == inner.events.len(),
        )
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Arc<StoredEvent> {
        let now = crate::clock::now();
        let event = SessionEvent::SessionDeleted(Box::new(cma_types::Event::new(
            id.to_string(),
            now,
            cma_types::Marker {},
        )));
        Arc::new(StoredEvent::new(event, now).unwrap())
    }

    /// A stream must not deliver an event whose write is not yet stored: a crash in between
    /// would lose an event the client already saw.
    #[test]
    fn streams_read_only_committed_events() {
        let log = EventLog::default();
        assert!(log.push(event("a")));
        assert!(log.read_from(0).0.is_empty(), "uncommitted event visible");
        assert_eq!(log.committed_len(), 0);
        log.commit();
        assert_eq!(log.read_from(0).0.len(), 1);
        // A closing write: its last event is read before the close is reported.
        assert!(log.push(event("deleted")));
        log.close();
        assert_eq!(log.read_from(1), (Vec::new(), false));
        log.commit();
        let (batch, closed) = log.read_from(1);
        assert_eq!(batch.len(), 1);
        assert!(closed);
        assert_eq!(
            EventLog::from_events(vec![(*event("x")).clone()]).committed_len(),
            1
        );
    }

    /// `type` goes first in every object, nested ones included, and nothing else changes.
    #[test]
    fn wire_json_puts_type_first() {
        let json = serde_json::json!({
            "id": "sevt_1",
            "processed_at": "2026-12-01T00:00:00Z",
            "type": "agent.message",
            "content": [{"text": "hi", "type": "text"}, 3, null],
        });
        let event = StoredEvent {
            id: "sevt_1".into(),
            processed_at: crate::clock::now(),
            // Not a valid `agent.message` (the `3`): kept as an unknown event, as it decodes.
            event: SessionEvent::Unknown(json.clone()),
            json: json.clone(),
        };
        let wire = serde_json::to_string(&event.wire()).unwrap();
        assert_eq!(
            wire,
            r#"{"type":"agent.message","content":[{"type":"text","text":"hi"},3,null],"id":"sevt_1","processed_at":"2026-12-01T00:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&wire).unwrap(), json);
    }

    /// A failed write's events leave the log, and the next append takes their place.
    #[test]
    fn rollback_cuts_uncommitted_events() {
        let log = EventLog::default();
        assert!(log.push(event("a")));
        log.commit();
        assert!(log.push(event("b")));
        assert!(log.push(event("c")));
        log.rollback();
        assert_eq!(log.len(), 1);
        assert!(log.push(event("d")));
        log.commit();
        let ids: Vec<String> = log.read_from(0).0.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, ["a", "d"]);
    }
}
