//! `/v1/environments/{environment_id}/work`: the work queue of a self-hosted environment, which
//! the environment worker polls for sessions to serve. Timestamps are RFC 3339 strings, as in the
//! SDK models.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::shared::{Metadata, MetadataPatch};

/// Where a work item is in its life: polled items are `queued` until acknowledged, then
/// `starting` until the first heartbeat makes them `active`; a stop makes them `stopping`
/// (graceful) or `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkState {
    Queued,
    Starting,
    Active,
    Stopping,
    Stopped,
    /// A state this version of the crate does not know.
    #[serde(other)]
    Unknown,
}

/// What a work item asks the worker to do: serve the session `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkData {
    /// `session` (the queue also knows kinds the SDK does not model, such as health checks).
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// A unit of work in a self-hosted environment (`type: "work"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Work {
    #[serde(rename = "type", default = "work_type")]
    pub kind: String,
    pub id: String,
    pub environment_id: String,
    pub data: WorkData,
    pub state: WorkState,
    #[serde(default)]
    pub metadata: Metadata,
    /// The per-item credential payload: set only on the poll response that hands the item out.
    #[serde(default)]
    pub secret: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub acknowledged_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub latest_heartbeat_at: Option<String>,
    #[serde(default)]
    pub stop_requested_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

fn work_type() -> String {
    "work".into()
}

/// The answer to a heartbeat (`type: "work_heartbeat"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkHeartbeat {
    #[serde(rename = "type")]
    pub kind: String,
    /// Echo it as `expected_last_heartbeat` on the next heartbeat; empty when none was recorded.
    pub last_heartbeat: String,
    pub lease_extended: bool,
    pub state: WorkState,
    pub ttl_seconds: u64,
}

/// The lease as the server holds it, in the `details.current_state` of a refused heartbeat (412).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkLeaseState {
    pub last_heartbeat: Option<String>,
    /// Always false: a refused heartbeat does not extend the lease.
    pub lease_extended: bool,
    pub state: WorkState,
    pub ttl_seconds: u64,
}

impl WorkLeaseState {
    /// The lease state as the `details` fields of the 412 error body (beside `error_code`).
    pub fn as_details(&self) -> Map<String, Value> {
        let mut details = Map::new();
        details.insert(
            "current_state".into(),
            serde_json::to_value(self).unwrap_or(Value::Null),
        );
        details
    }
}

/// `GET …/work/stats` (`type: "work_queue_stats"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkQueueStats {
    #[serde(rename = "type")]
    pub kind: String,
    /// Items waiting to be picked up.
    pub depth: u64,
    /// Items polled but not acknowledged.
    pub pending: u64,
    #[serde(default)]
    pub oldest_queued_at: Option<String>,
    /// Distinct workers that polled in the last 30 seconds (only those sending a worker id).
    #[serde(default)]
    pub workers_polling: Option<u64>,
}

/// Query of `GET …/work/poll`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollWork {
    /// Long-poll for up to this many milliseconds (1–999); `None` returns at once.
    pub block_ms: Option<u32>,
    /// Hand out again items polled but not acknowledged for this long (default 5000 ms).
    pub reclaim_older_than_ms: Option<u64>,
    /// Sent as the `Anthropic-Worker-ID` header.
    pub worker_id: Option<String>,
}

/// Query of `POST …/work/{work_id}/heartbeat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatWork {
    pub desired_ttl_seconds: Option<u64>,
    /// `NO_HEARTBEAT` to claim a fresh lease, else the previous answer's `last_heartbeat`.
    pub expected_last_heartbeat: Option<String>,
}

/// The `expected_last_heartbeat` that claims a lease nobody has heartbeated yet.
pub const NO_HEARTBEAT: &str = "NO_HEARTBEAT";

/// Body of `POST …/work/{work_id}/stop`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopWork {
    /// Stop at once instead of asking the worker to wind down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// Body of `POST …/work/{work_id}`: a metadata patch (`null` removes a key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateWork {
    pub metadata: MetadataPatch,
}

/// Query of `GET …/work`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListWork {
    pub limit: Option<u32>,
    pub page: Option<String>,
}
