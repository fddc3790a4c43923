//! Webhook payloads: thin notifications that name what changed (fetch the object for details),
//! delivered as Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use serde::{Deserialize, Serialize};

use crate::shared::Timestamp;

/// The body of every webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Always `event`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique per event and the same on every retry, so receivers can drop duplicates.
    pub id: String,
    pub created_at: Timestamp,
    pub data: WebhookEventData,
}

/// What happened, and to which object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEventData {
    /// For example `session.status_idled` or `memory_store.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id of the object the event is about (a session, a memory store, …).
    pub id: String,
    pub organization_id: String,
    pub workspace_id: String,
    /// Set on `session.thread_*` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
    /// Set on `vault_credential.*` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
}
