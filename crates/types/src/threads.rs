//! `/v1/sessions/{session_id}/threads`: a session's execution threads. Every session has one
//! primary thread (`parent_thread_id` null); multi-agent sessions add child threads.

use serde::{Deserialize, Serialize};

use crate::sessions::{SessionAgent, SessionStats, SessionStatus, SessionUsage};
use crate::shared::Timestamp;

/// A `session_thread` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionThread {
    /// Always `session_thread`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub session_id: String,
    /// The agent the thread runs, as snapshotted when the thread was created.
    pub agent: SessionAgent,
    /// Thread statuses take the session's four values.
    pub status: SessionStatus,
    /// `None` for the primary thread.
    #[serde(default)]
    pub parent_thread_id: Option<String>,
    #[serde(default)]
    pub workflow_run_id: Option<String>,
    /// `None` until the thread's first status transition.
    #[serde(default)]
    pub stats: Option<SessionStats>,
    /// `None` until the thread first goes idle.
    #[serde(default)]
    pub usage: Option<SessionUsage>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

/// Query of `GET /v1/sessions/{id}/threads`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListThreads {
    /// Default 1000.
    pub limit: Option<u32>,
    pub page: Option<String>,
    /// Only threads with one of these statuses; empty means all.
    pub statuses: Vec<SessionStatus>,
}

/// Query of `GET /v1/sessions/{id}/threads/{thread_id}/events`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListThreadEvents {
    pub limit: Option<u32>,
    pub page: Option<String>,
}
