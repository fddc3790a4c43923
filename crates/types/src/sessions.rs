//! `/v1/sessions`

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agents::{ExecutionIdentity, McpServer, ModelRef, Skill, Tool};
use crate::open_union;
use crate::shared::{Metadata, MetadataPatch, Timestamp, double_option};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionStatus {
    Rescheduling,
    Running,
    Idle,
    Terminated,
    #[serde(untagged)]
    Other(String),
}

impl SessionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            SessionStatus::Rescheduling => "rescheduling",
            SessionStatus::Running => "running",
            SessionStatus::Idle => "idle",
            SessionStatus::Terminated => "terminated",
            SessionStatus::Other(s) => s,
        }
    }
}

/// The agent as the session pinned it at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAgent {
    #[serde(rename = "type", default = "agent_type")]
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    pub model: ModelRef,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub mcp_servers: Vec<McpServer>,
    #[serde(default)]
    pub skills: Vec<Skill>,
    #[serde(default)]
    pub multiagent: Option<Value>,
    #[serde(default)]
    pub execution_identity: Option<ExecutionIdentity>,
}

fn agent_type() -> String {
    "agent".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    ReadWrite,
    ReadOnly,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::ReadWrite => "read_write",
            Access::ReadOnly => "read_only",
        }
    }
}

/// A memory store attached to a session (response form). It has no `id` of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStoreResource {
    pub memory_store_id: String,
    #[serde(default)]
    pub access: Option<Access>,
    #[serde(default)]
    pub instructions: Option<String>,
    /// `/mnt/memory/<slug of the store name>`.
    #[serde(default)]
    pub mount_path: Option<String>,
    /// Copied at attach time; later renames do not reach it.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileResource {
    pub id: String,
    pub file_id: String,
    pub mount_path: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GithubRepositoryResource {
    pub id: String,
    pub url: String,
    pub mount_path: String,
    #[serde(default)]
    pub checkout: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

open_union! {
    /// A resource mounted into a session (response form).
    pub enum SessionResource {
        "memory_store" => MemoryStore(MemoryStoreResource),
        "file" => File(FileResource),
        "github_repository" => GithubRepository(GithubRepositoryResource),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryStoreResourceParams {
    pub memory_store_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// At most 4,096 characters; added to the memory section of the system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileResourceParams {
    pub file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GithubRepositoryResourceParams {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
}

open_union! {
    /// A resource to mount when creating a session.
    pub enum ResourceParams {
        "memory_store" => MemoryStore(MemoryStoreResourceParams),
        "file" => File(FileResourceParams),
        "github_repository" => GithubRepository(GithubRepositoryResourceParams),
    }
}

impl ResourceParams {
    pub fn memory_store(
        id: impl Into<String>,
        access: Access,
        instructions: Option<String>,
    ) -> Self {
        ResourceParams::MemoryStore(MemoryStoreResourceParams {
            memory_store_id: id.into(),
            access: Some(access),
            instructions,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentVersionRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentWithOverrides {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub system: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

open_union! {
    pub enum AgentSpec {
        "agent" => Version(AgentVersionRef),
        "agent_with_overrides" => WithOverrides(AgentWithOverrides),
    }
}

/// The `agent` field of a session create: a bare id (latest version) or an object.
// A request parameter built once per session; boxing the large variant would only cost ergonomics.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AgentRef {
    Id(String),
    Spec(AgentSpec),
}

impl AgentRef {
    pub fn version(id: impl Into<String>, version: Option<u64>) -> Self {
        AgentRef::Spec(AgentSpec::Version(AgentVersionRef {
            id: id.into(),
            version,
        }))
    }

    pub fn agent_id(&self) -> Option<&str> {
        match self {
            AgentRef::Id(id) => Some(id),
            AgentRef::Spec(AgentSpec::Version(v)) => Some(&v.id),
            AgentRef::Spec(AgentSpec::WithOverrides(v)) => Some(&v.id),
            AgentRef::Spec(AgentSpec::Unknown(raw)) => raw.get("id").and_then(|v| v.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units, as an integer string.
    pub amount: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    #[serde(rename = "type")]
    pub kind: String,
    pub max_list_cost: Money,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

/// Token and cost counters; nested objects are kept as JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_tool_use: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_cost: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_seconds: Option<f64>,
}

/// The state of one outcome a `user.define_outcome` set (`session.outcome_evaluations[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvaluation {
    #[serde(rename = "type", default = "outcome_evaluation_type")]
    pub kind: String,
    pub outcome_id: String,
    pub description: String,
    /// The 0-based revision cycle the outcome is on.
    pub iteration: u32,
    /// `pending`, `running`, `evaluating`, or terminal: `satisfied`, `max_iterations_reached`,
    /// `failed`, `interrupted`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
}

fn outcome_evaluation_type() -> String {
    "outcome_evaluation".into()
}

impl OutcomeEvaluation {
    /// Whether the outcome is still being worked on or graded.
    pub fn is_active(&self) -> bool {
        matches!(self.result.as_str(), "pending" | "running" | "evaluating")
    }
}

/// A conversation with an agent in an environment; each visit of a scenario is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "type", default = "session_type")]
    pub kind: String,
    pub id: String,
    pub status: SessionStatus,
    pub agent: SessionAgent,
    pub environment_id: String,
    #[serde(default)]
    pub resources: Vec<SessionResource>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub vault_ids: Vec<String>,
    #[serde(default)]
    pub budget: Option<Budget>,
    #[serde(default)]
    pub outcome_evaluations: Vec<OutcomeEvaluation>,
    #[serde(default)]
    pub stats: Option<SessionStats>,
    #[serde(default)]
    pub usage: Option<SessionUsage>,
    #[serde(default)]
    pub deployment_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

fn session_type() -> String {
    "session".into()
}

impl Session {
    /// The memory stores attached to this session.
    pub fn memory_stores(&self) -> impl Iterator<Item = &MemoryStoreResource> {
        self.resources.iter().filter_map(|r| match r {
            SessionResource::MemoryStore(m) => Some(m),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionAgentUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<McpServer>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateSession {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub title: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub metadata: Option<Option<MetadataPatch>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub budget: Option<Option<Budget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<SessionAgentUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSessions {
    pub agent_id: Option<String>,
    /// Needs `agent_id`.
    pub agent_version: Option<u64>,
    pub deployment_id: Option<String>,
    /// Sessions whose resources include this store.
    pub memory_store_id: Option<String>,
    pub statuses: Vec<SessionStatus>,
    pub include_archived: Option<bool>,
    pub created_at_gt: Option<Timestamp>,
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lt: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub order: Option<Order>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}
