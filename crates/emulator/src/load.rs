//! Rebuilds the model from persisted records at start.

use std::collections::HashMap;
use std::sync::Arc;

use cma_types::{SessionEvent, SessionStatus};
use serde::Deserialize;
use serde_json::Value;

use crate::clock;
use crate::persist::Loaded;
use crate::store::{EventLog, Model, StoredEvent};

/// A stored event. A message still queued behind a turn has a null `processed_at` on the wire;
/// it is filtered on as of the event before it (`before`).
fn event(json: &str, before: Option<clock::Timestamp>) -> Result<StoredEvent, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("event does not decode: {e}"))?;
    let field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(id), Some(_)) = (field("id"), field("type")) else {
        return Err("event without id or type".into());
    };
    let queued = value.get("processed_at") == Some(&Value::Null);
    let processed_at = field("processed_at")
        .and_then(|t| clock::parse(&t))
        .or_else(|| queued.then(|| before.unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)))
        .ok_or("event without processed_at")?;
    let event = SessionEvent::deserialize(&value)
        .map_err(|e| format!("event {id} does not decode: {e}"))?;
    Ok(StoredEvent {
        id,
        processed_at,
        event,
        json: value,
    })
}

pub fn model(loaded: Loaded) -> Result<Model, String> {
    let mut m = Model::default();
    let mut latest = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for (kind, id, json) in &loaded.objects {
        match kind.as_str() {
            "memory_store" => {
                let r = m.stores.load(id, json).map_err(|e| e.to_string())?;
                latest = latest.max(r.store.updated_at);
                m.seq = m.seq.max(r.seq);
            }
            "memory" => {
                let r = m.memories.load(id, json).map_err(|e| e.to_string())?;
                latest = latest.max(r.memory.updated_at);
                m.seq = m.seq.max(r.seq);
            }
            "memory_version" => {
                let r = m.versions.load(id, json).map_err(|e| e.to_string())?;
                latest = latest
                    .max(r.version.created_at)
                    .max(r.version.redacted_at.unwrap_or(latest));
                m.seq = m.seq.max(r.seq);
            }
            "agent" => {
                let r = m.agents.load(id, json).map_err(|e| e.to_string())?;
                for a in &r.versions {
                    latest = latest.max(a.updated_at);
                }
                m.seq = m.seq.max(r.seq);
            }
            "environment" => {
                let r = m.environments.load(id, json).map_err(|e| e.to_string())?;
                m.seq = m.seq.max(r.seq);
            }
            "session" => {
                let r = m.sessions.load(id, json).map_err(|e| e.to_string())?;
                latest = latest.max(r.session.updated_at);
                m.seq = m.seq.max(r.seq);
                // No runner survives a restart: a running session waits for an interrupt. A
                // turn paused for answers keeps its pending calls; the last answer (or an
                // interrupt) starts a runner that resumes (or ends) it.
                if r.session.status == SessionStatus::Running {
                    r.stalled = true;
                }
                r.rt.cut_by_restart = r.stalled || !r.pending.is_empty();
            }
            "file" => {
                let r = m.files.load(id, json).map_err(|e| e.to_string())?;
                latest = latest.max(r.file.created_at);
                m.seq = m.seq.max(r.seq);
            }
            "work" => {
                let r = m.work.load(id, json).map_err(|e| e.to_string())?;
                m.seq = m.seq.max(r.seq);
            }
            "webhook" => {
                let r = m.outbox.load(id, json).map_err(|e| e.to_string())?;
                m.seq = m.seq.max(r.seq);
            }
            other => return Err(format!("unknown record kind {other:?}")),
        }
    }
    for (id, bytes) in loaded.file_contents {
        match m.files.get_mut(&id) {
            Some(f) => f.content = bytes::Bytes::from(bytes),
            None => tracing::warn!(file_id = %id, "file bytes without a file record; ignored"),
        }
    }
    if let Some(f) = m
        .files
        .values()
        .find(|f| f.content.len() as u64 != f.file.size_bytes)
    {
        return Err(format!(
            "file {} has {} bytes stored but its record says {}",
            f.file.id,
            f.content.len(),
            f.file.size_bytes
        ));
    }
    let mut events: HashMap<String, Vec<StoredEvent>> = HashMap::new();
    for (session_id, json) in &loaded.events {
        let list = events.entry(session_id.clone()).or_default();
        let e = event(json, list.last().map(|e| e.processed_at))?;
        latest = latest.max(e.processed_at);
        list.push(e);
    }
    for (session_id, list) in events {
        if let Some(rec) = m.sessions.get_mut(&session_id) {
            rec.rt.log = Arc::new(EventLog::from_events(list));
        }
    }
    m.rebuild_path_index();
    clock::observe(latest);
    Ok(m)
}
