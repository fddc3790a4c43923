//! The body of `POST /v1/sessions`. It is the one session type that holds events (the initial
//! ones), so it sits above both `sessions` and `events`, which `events` needs below it.

use serde::{Deserialize, Serialize};

use crate::events::ClientEvent;
use crate::sessions::{AgentRef, Budget, ResourceParams};
use crate::shared::Metadata;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSession {
    pub agent: AgentRef,
    pub environment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceParams>>,
    /// At most 50 `user.message` / `user.define_outcome` events, processed in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_events: Option<Vec<ClientEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

impl CreateSession {
    pub fn new(agent: AgentRef, environment_id: impl Into<String>) -> Self {
        Self {
            agent,
            environment_id: environment_id.into(),
            resources: None,
            initial_events: None,
            metadata: None,
            title: None,
            vault_ids: None,
            budget: None,
        }
    }
}
