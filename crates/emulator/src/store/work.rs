//! The work queue of self-hosted environments: a session created in one (or a dormant one that
//! gets a new message) queues a work item; an environment worker polls it, acknowledges it,
//! holds its lease with heartbeats and stops it. The lifecycle, the lease check and the 412 body
//! follow the SDK's `environments.work` resource and `EnvironmentWorker`.
//!
//! Leases expire lazily: every operation on an environment's queue first hands expired leases
//! back to the queue (no timer thread), so a worker that stopped heartbeating loses its item to
//! the next poll, and its next heartbeat is refused with 412.

use std::collections::HashMap;

use base64::Engine;
use cma_types::{
    EnvironmentConfig, NO_HEARTBEAT, Work, WorkData, WorkHeartbeat, WorkLeaseState, WorkQueueStats,
    WorkState,
};
use serde::{Deserialize, Serialize};

use super::{Effect, Model};
use crate::clock::{self, Timestamp};
use crate::error::{ApiError, ApiResult};
use crate::ids;

pub const KIND_WORK: &str = "work";
pub const WORK_PREFIX: &str = "work_";
/// The lease a heartbeat grants when it asks for no TTL, and the one an acknowledgement starts.
pub const DEFAULT_TTL_SECONDS: u64 = 60;
pub const MAX_TTL_SECONDS: u64 = 3_600;
/// Polled items not acknowledged for this long are handed out again (the documented default).
pub const DEFAULT_RECLAIM_MS: u64 = 5_000;
/// A worker counts in `workers_polling` for this long after its last poll.
const POLLER_WINDOW_SECS: i64 = 30;
/// Prefix of the per-item sessions token carried in the work item's `secret`.
pub const SESSIONS_TOKEN_PREFIX: &str = "sk-ant-wst-";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkRec {
    pub seq: u64,
    /// As retrieve shows it (`secret` always `None` here).
    pub work: Work,
    /// The bearer token the item's `secret` carries: it authorizes the worker's session and
    /// memory calls for this item while the item is not stopped.
    pub sessions_token: String,
    pub ttl_seconds: u64,
    /// When a poll last handed the item out unacknowledged.
    #[serde(default)]
    pub polled_at: Option<Timestamp>,
    /// When the current lease runs out (acknowledged items only).
    #[serde(default)]
    pub lease_until: Option<Timestamp>,
}

impl WorkRec {
    fn lease(&self) -> WorkLeaseState {
        WorkLeaseState {
            last_heartbeat: self.work.latest_heartbeat_at.clone(),
            lease_extended: false,
            state: self.work.state,
            ttl_seconds: self.ttl_seconds,
        }
    }
}

fn stamp(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The `secret` of a polled item: URL-safe base64 of `{"sessions_token": …}`, which is what the
/// SDK's worker decodes to find the bearer for the item's session and memory calls.
fn secret_for(token: &str) -> String {
    let payload = serde_json::json!({ "sessions_token": token }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
}

fn work_not_found(env_id: &str, work_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "work {work_id:?} not found in environment {env_id:?}"
    ))
}

/// Whether this expected value matches the stored heartbeat (`NO_HEARTBEAT` matches none).
fn heartbeat_matches(stored: Option<&str>, expected: &str) -> bool {
    match stored {
        None => expected == NO_HEARTBEAT,
        Some(s) => s == expected,
    }
}

impl Model {
    pub fn is_self_hosted(&self, env_id: &str) -> bool {
        matches!(
            self.environments
                .get(env_id)
                .and_then(|e| e.env.config.as_ref()),
            Some(EnvironmentConfig::SelfHosted(_))
        )
    }

    /// The environment, which must be self-hosted to have a work queue.
    fn work_environment(&self, env_id: &str) -> ApiResult<()> {
        self.environment(env_id)?;
        if !self.is_self_hosted(env_id) {
            return Err(ApiError::invalid(format!(
                "environment {env_id:?} is not self_hosted: only self_hosted environments have a work queue"
            )));
        }
        Ok(())
    }

    pub fn work_item(&self, env_id: &str, work_id: &str) -> ApiResult<&WorkRec> {
        self.environment(env_id)?;
        self.work
            .get(work_id)
            .filter(|w| w.work.environment_id == env_id)
            .ok_or_else(|| work_not_found(env_id, work_id))
    }

    /// The session a live work item's sessions token belongs to (a stopped item's token is dead).
    pub fn session_of_token(&self, token: &str) -> Option<String> {
        if !token.starts_with(SESSIONS_TOKEN_PREFIX) {
            return None;
        }
        self.work
            .values()
            .find(|w| w.work.state != WorkState::Stopped && w.sessions_token == token)
            .map(|w| w.work.data.id.clone())
    }

    /// Queues a work item for the session: at creation, and when a message arrives while no
    /// item of the session is live (the worker served it and stopped). Only in self-hosted
    /// environments; elsewhere nothing happens.
    pub fn queue_session_work(&mut self, session_id: &str) {
        let Some(env_id) = self
            .sessions
            .get(session_id)
            .map(|s| s.session.environment_id.clone())
        else {
            return;
        };
        if !self.is_self_hosted(&env_id) {
            return;
        }
        let live = self
            .work
            .values()
            .any(|w| w.work.data.id == session_id && w.work.state != WorkState::Stopped);
        if live {
            return;
        }
        let now = clock::now();
        let work = Work {
            kind: "work".into(),
            id: ids::new_id(WORK_PREFIX),
            environment_id: env_id,
            data: WorkData {
                kind: "session".into(),
                id: session_id.to_string(),
            },
            state: WorkState::Queued,
            metadata: Default::default(),
            secret: None,
            created_at: stamp(now),
            acknowledged_at: None,
            started_at: None,
            latest_heartbeat_at: None,
            stop_requested_at: None,
            stopped_at: None,
        };
        let id = work.id.clone();
        let seq = self.next_seq();
        self.work.insert(
            id.clone(),
            WorkRec {
                seq,
                work,
                sessions_token: ids::new_id(SESSIONS_TOKEN_PREFIX),
                ttl_seconds: DEFAULT_TTL_SECONDS,
                polled_at: None,
                lease_until: None,
            },
        );
        self.after_commit(Effect::WakePollers(self.work_ready.clone()));
    }

    /// Hands expired leases of the environment back: a `starting`/`active` item returns to the
    /// queue with no heartbeat (so its old holder's next heartbeat gets 412), a `stopping` one
    /// stops.
    fn expire_leases(&mut self, env_id: &str, now: Timestamp) {
        let expired: Vec<String> = self
            .work
            .values()
            .filter(|w| w.work.environment_id == env_id)
            .filter(|w| {
                matches!(
                    w.work.state,
                    WorkState::Starting | WorkState::Active | WorkState::Stopping
                ) && w.lease_until.is_some_and(|t| t < now)
            })
            .map(|w| w.work.id.clone())
            .collect();
        for id in expired {
            let Some(rec) = self.work.get_mut(&id) else {
                continue;
            };
            rec.lease_until = None;
            if rec.work.state == WorkState::Stopping {
                rec.work.state = WorkState::Stopped;
                rec.work.stopped_at = Some(stamp(now));
            } else {
                tracing::info!(work_id = %id, "work lease expired; back in the queue");
                rec.work.state = WorkState::Queued;
                rec.work.acknowledged_at = None;
                rec.work.latest_heartbeat_at = None;
                rec.polled_at = None;
            }
        }
    }

    /// One poll: the oldest queued item not handed out in the last `reclaim_ms`, marked as
    /// handed out, with its `secret`; `None` when there is none.
    pub fn poll_work(
        &mut self,
        env_id: &str,
        reclaim_ms: u64,
        worker_id: Option<&str>,
        now: Timestamp,
    ) -> ApiResult<Option<Work>> {
        self.work_environment(env_id)?;
        if let Some(worker) = worker_id {
            self.work_pollers
                .entry(env_id.to_string())
                .or_default()
                .insert(worker.to_string(), now);
        }
        self.expire_leases(env_id, now);
        let reclaim = chrono::Duration::milliseconds(i64::try_from(reclaim_ms).unwrap_or(i64::MAX));
        let next = self
            .work
            .values()
            .filter(|w| w.work.environment_id == env_id && w.work.state == WorkState::Queued)
            .filter(|w| w.polled_at.is_none_or(|t| now - t >= reclaim))
            .min_by_key(|w| w.seq)
            .map(|w| w.work.id.clone());
        let Some(id) = next else {
            return Ok(None);
        };
        let Some(rec) = self.work.get_mut(&id) else {
            return Ok(None);
        };
        rec.polled_at = Some(now);
        let mut work = rec.work.clone();
        work.secret = Some(secret_for(&rec.sessions_token));
        Ok(Some(work))
    }

    /// `queued` → `starting`: the worker has the item, and the lease starts.
    pub fn ack_work(&mut self, env_id: &str, work_id: &str, now: Timestamp) -> ApiResult<Work> {
        self.work_environment(env_id)?;
        self.expire_leases(env_id, now);
        let state = self.work_item(env_id, work_id)?.work.state;
        if state != WorkState::Queued {
            return Err(ApiError::conflict(
                "conflict_error",
                format!("work {work_id:?} cannot be acknowledged: it is {state:?}, not queued")
                    .to_lowercase(),
            ));
        }
        let Some(rec) = self.work.get_mut(work_id) else {
            return Err(work_not_found(env_id, work_id));
        };
        rec.work.state = WorkState::Starting;
        rec.work.acknowledged_at = Some(stamp(now));
        rec.polled_at = None;
        rec.lease_until = Some(now + chrono::Duration::seconds(rec.ttl_seconds as i64));
        let work = rec.work.clone();
        Ok(work)
    }

    /// Extends the lease if `expected` matches the stored heartbeat (412 with the lease as the
    /// server holds it otherwise). A `stopping`/`stopped` item is not compared: the answer says
    /// so, and does not extend the lease.
    pub fn heartbeat_work(
        &mut self,
        env_id: &str,
        work_id: &str,
        expected: Option<&str>,
        desired_ttl: Option<u64>,
        now: Timestamp,
    ) -> ApiResult<WorkHeartbeat> {
        self.work_environment(env_id)?;
        if let Some(ttl) = desired_ttl
            && !(1..=MAX_TTL_SECONDS).contains(&ttl)
        {
            return Err(ApiError::invalid(format!(
                "desired_ttl_seconds: must be between 1 and {MAX_TTL_SECONDS}"
            )));
        }
        self.expire_leases(env_id, now);
        let rec = self.work_item(env_id, work_id)?;
        let answer = |rec: &WorkRec, extended: bool| WorkHeartbeat {
            kind: "work_heartbeat".into(),
            last_heartbeat: rec.work.latest_heartbeat_at.clone().unwrap_or_default(),
            lease_extended: extended,
            state: rec.work.state,
            ttl_seconds: rec.ttl_seconds,
        };
        match rec.work.state {
            WorkState::Stopping | WorkState::Stopped => return Ok(answer(rec, false)),
            // Nobody holds the lease of a queued item (never acknowledged, or handed back).
            WorkState::Queued => return Err(lease_lost(work_id, rec)),
            _ => {}
        }
        if let Some(expected) = expected
            && !heartbeat_matches(rec.work.latest_heartbeat_at.as_deref(), expected)
        {
            return Err(lease_lost(work_id, rec));
        }
        let Some(rec) = self.work.get_mut(work_id) else {
            return Err(work_not_found(env_id, work_id));
        };
        let at = stamp(now);
        if rec.work.state == WorkState::Starting {
            rec.work.state = WorkState::Active;
            rec.work.started_at = Some(at.clone());
        }
        rec.ttl_seconds = desired_ttl.unwrap_or(DEFAULT_TTL_SECONDS);
        rec.work.latest_heartbeat_at = Some(at);
        rec.lease_until = Some(now + chrono::Duration::seconds(rec.ttl_seconds as i64));
        let out = answer(rec, true);
        Ok(out)
    }

    /// Stops an item: at once when forced or when no worker holds it, else `stopping`, which
    /// the worker learns from its next heartbeat. A stopped item answers 409 (the SDK's worker
    /// reads that as "already stopped").
    pub fn stop_work(
        &mut self,
        env_id: &str,
        work_id: &str,
        force: bool,
        now: Timestamp,
    ) -> ApiResult<Work> {
        self.work_environment(env_id)?;
        self.expire_leases(env_id, now);
        let state = self.work_item(env_id, work_id)?.work.state;
        if state == WorkState::Stopped {
            return Err(ApiError::conflict(
                "conflict_error",
                format!("work {work_id:?} is already stopped"),
            ));
        }
        let Some(rec) = self.work.get_mut(work_id) else {
            return Err(work_not_found(env_id, work_id));
        };
        let at = stamp(now);
        rec.work.stop_requested_at.get_or_insert_with(|| at.clone());
        if force || state == WorkState::Queued {
            rec.work.state = WorkState::Stopped;
            rec.work.stopped_at = Some(at);
            rec.lease_until = None;
            rec.polled_at = None;
        } else {
            rec.work.state = WorkState::Stopping;
        }
        let work = rec.work.clone();
        Ok(work)
    }

    pub fn update_work_metadata(
        &mut self,
        env_id: &str,
        work_id: &str,
        patch: &cma_types::MetadataPatch,
    ) -> ApiResult<Work> {
        let current = self.work_item(env_id, work_id)?.work.metadata.clone();
        let metadata = crate::validate::patch_metadata("metadata", &current, patch, true)?;
        let Some(rec) = self.work.get_mut(work_id) else {
            return Err(work_not_found(env_id, work_id));
        };
        rec.work.metadata = metadata;
        let work = rec.work.clone();
        Ok(work)
    }

    pub fn work_stats(&self, env_id: &str, now: Timestamp) -> ApiResult<WorkQueueStats> {
        self.work_environment(env_id)?;
        let queued: Vec<&WorkRec> = self
            .work
            .values()
            .filter(|w| w.work.environment_id == env_id && w.work.state == WorkState::Queued)
            .collect();
        let pending = queued.iter().filter(|w| w.polled_at.is_some()).count() as u64;
        let oldest = queued
            .iter()
            .min_by_key(|w| w.seq)
            .map(|w| w.work.created_at.clone());
        let window = chrono::Duration::seconds(POLLER_WINDOW_SECS);
        let workers = self
            .work_pollers
            .get(env_id)
            .map_or(0, |m| m.values().filter(|t| now - **t <= window).count())
            as u64;
        Ok(WorkQueueStats {
            kind: "work_queue_stats".into(),
            depth: queued.len() as u64 - pending,
            pending,
            oldest_queued_at: oldest,
            workers_polling: Some(workers),
        })
    }
}

/// 412 `heartbeat_precondition_failed`, with the lease as the server holds it in
/// `error.details.current_state` (where the SDK's worker reads it).
fn lease_lost(work_id: &str, rec: &WorkRec) -> ApiError {
    ApiError::new(
        412,
        "invalid_request_error",
        format!(
            "work {work_id:?}: expected_last_heartbeat does not match the stored heartbeat; another worker may hold the lease"
        ),
    )
    .code("heartbeat_precondition_failed")
    .details(rec.lease().as_details())
    .header("x-should-retry", "false")
}

/// Pollers seen per environment: runtime only, never persisted.
pub type Pollers = HashMap<String, HashMap<String, Timestamp>>;

#[cfg(test)]
mod tests {
    use cma_types::{CreateEnvironment, Empty};

    use super::*;

    fn env(m: &mut Model) -> String {
        m.create_environment(CreateEnvironment {
            name: "mine".into(),
            config: Some(EnvironmentConfig::SelfHosted(Empty {})),
            ..Default::default()
        })
        .unwrap()
        .id
    }

    /// A queued item as a created session would queue it (the session itself is not needed).
    fn queued(m: &mut Model, env_id: &str) -> String {
        let id = ids::new_id(WORK_PREFIX);
        let seq = m.next_seq();
        let now = clock::now();
        m.work.insert(
            id.clone(),
            WorkRec {
                seq,
                work: Work {
                    kind: "work".into(),
                    id: id.clone(),
                    environment_id: env_id.into(),
                    data: WorkData {
                        kind: "session".into(),
                        id: "sesn_x".into(),
                    },
                    state: WorkState::Queued,
                    metadata: Default::default(),
                    secret: None,
                    created_at: stamp(now),
                    acknowledged_at: None,
                    started_at: None,
                    latest_heartbeat_at: None,
                    stop_requested_at: None,
                    stopped_at: None,
                },
                sessions_token: ids::new_id(SESSIONS_TOKEN_PREFIX),
                ttl_seconds: DEFAULT_TTL_SECONDS,
                polled_at: None,
                lease_until: None,
            },
        );
        id
    }

    /// A lease nobody renews runs out: the item goes back to the queue, the next poll hands it
    /// to another worker, and the first worker's heartbeat gets 412 with the server's lease.
    /// Break it: drop the `expire_leases` call from `heartbeat_work` or `poll_work`.
    #[test]
    fn an_expired_lease_goes_back_to_the_queue_and_its_holder_gets_412() {
        let mut m = Model::default();
        let e = env(&mut m);
        let w = queued(&mut m, &e);
        let t0 = clock::now();
        assert_eq!(
            m.poll_work(&e, DEFAULT_RECLAIM_MS, None, t0)
                .unwrap()
                .unwrap()
                .id,
            w
        );
        m.ack_work(&e, &w, t0).unwrap();
        let beat = m
            .heartbeat_work(&e, &w, Some(NO_HEARTBEAT), Some(10), t0)
            .unwrap();
        assert!(beat.lease_extended);
        assert_eq!(beat.state, WorkState::Active);
        let later = t0 + chrono::Duration::seconds(11);
        let again = m.poll_work(&e, DEFAULT_RECLAIM_MS, None, later).unwrap();
        assert_eq!(again.map(|w| w.id), Some(w.clone()));
        let err = m
            .heartbeat_work(&e, &w, Some(&beat.last_heartbeat), None, later)
            .unwrap_err();
        assert_eq!(err.status, 412);
        assert_eq!(err.error_code, Some("heartbeat_precondition_failed"));
        let state = &err.details["current_state"];
        assert_eq!(state["state"], "queued");
        assert_eq!(state["last_heartbeat"], serde_json::Value::Null);
        assert_eq!(state["lease_extended"], false);
    }

    /// A renewed lease does not expire, and a polled but unacknowledged item is handed out again
    /// only after `reclaim_older_than_ms`.
    #[test]
    fn renewed_leases_hold_and_unacknowledged_items_are_reclaimed_late() {
        let mut m = Model::default();
        let e = env(&mut m);
        let w = queued(&mut m, &e);
        let t0 = clock::now();
        assert!(m.poll_work(&e, 1_000, None, t0).unwrap().is_some());
        let soon = t0 + chrono::Duration::milliseconds(500);
        assert!(m.poll_work(&e, 1_000, None, soon).unwrap().is_none());
        let late = t0 + chrono::Duration::milliseconds(1_500);
        assert!(m.poll_work(&e, 1_000, None, late).unwrap().is_some());
        m.ack_work(&e, &w, late).unwrap();
        let mut last = NO_HEARTBEAT.to_string();
        for step in 1..=3 {
            let at = late + chrono::Duration::seconds(8 * step);
            let beat = m.heartbeat_work(&e, &w, Some(&last), Some(10), at).unwrap();
            assert!(beat.lease_extended, "step {step}");
            last = beat.last_heartbeat;
        }
        let stats = m
            .work_stats(&e, late + chrono::Duration::seconds(30))
            .unwrap();
        assert_eq!((stats.depth, stats.pending), (0, 0));
    }
}
