//! `/v1/agents`

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::open_union;
use crate::shared::{Metadata, MetadataPatch, Timestamp, double_option};

/// The model an agent runs: a bare id in requests, an object in responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelRef {
    Id(String),
    Config(ModelConfig),
}

impl ModelRef {
    pub fn id(&self) -> &str {
        match self {
            ModelRef::Id(id) => id,
            ModelRef::Config(c) => &c.id,
        }
    }
}

impl From<&str> for ModelRef {
    fn from(id: &str) -> Self {
        ModelRef::Id(id.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub id: String,
    /// Written as `{type}`; a bare level string (which requests may send) reads the same.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "effort_or_level"
    )]
    pub effort: Option<Effort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_geo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<String>,
}

open_union! {
    /// How hard Claude works on each inference call.
    pub enum Effort {
        "low" => Low(Empty),
        "medium" => Medium(Empty),
        "high" => High(Empty),
        "xhigh" => Xhigh(Empty),
        "max" => Max(Empty),
    }
}

/// `effort` as `{type}` or as the bare level.
fn effort_or_level<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Effort>, D::Error> {
    use serde::de::Error as _;
    let effort = match Option::<Value>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Value::String(level)) => serde_json::json!({ "type": level }),
        Some(other) => other,
    };
    Effort::deserialize(effort)
        .map(Some)
        .map_err(D::Error::custom)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsRoleIdentity {
    pub role_arn: String,
}

open_union! {
    /// The principal an agent's tools act as.
    pub enum ExecutionIdentity {
        "service_account" => ServiceAccount(Empty),
        "aws_role" => AwsRole(AwsRoleIdentity),
    }
}

open_union! {
    /// When a tool call may run without asking.
    pub enum PermissionPolicy {
        "always_allow" => AlwaysAllow(Empty),
        "always_ask" => AlwaysAsk(Empty),
        "auto" => Auto(Empty),
    }
}

/// A variant with no fields of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolDefaultConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_policy: Option<PermissionPolicy>,
}

/// One entry of a toolset's `configs`; extra tool-specific settings are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolConfig {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_policy: Option<PermissionPolicy>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The names of the `agent_toolset_20260401` tools, in the API's order: the one list the emulator
/// (which tools a toolset config may name, which calls the sandbox runs) and the scenarios (which
/// names a `called_tool` check may use, which a custom tool may not take) share.
pub const TOOLSET_TOOLS: &[&str] = &[
    "bash",
    "read",
    "write",
    "edit",
    "glob",
    "grep",
    "web_fetch",
    "web_search",
];

/// The built-in `bash`, `read`, `write`, `edit`, `glob`, `grep`, `web_fetch` and `web_search` tools.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentToolset {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<ToolDefaultConfig>,
}

impl AgentToolset {
    /// Every tool enabled with the given policy, as the cookbook configures it.
    pub fn all(policy: PermissionPolicy) -> Self {
        Self {
            configs: Vec::new(),
            default_config: Some(ToolDefaultConfig {
                enabled: Some(true),
                permission_policy: Some(policy),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct McpToolset {
    pub mcp_server_name: String,
    /// Always written: the API's response form requires it, and requests accept an empty list.
    #[serde(default)]
    pub configs: Vec<ToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<ToolDefaultConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub input_schema: Value,
}

open_union! {
    /// An entry of `agent.tools`.
    pub enum Tool {
        "agent_toolset_20260401" => AgentToolset20260401(AgentToolset),
        "mcp_toolset" => McpToolset(McpToolset),
        "custom" => Custom(CustomTool),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    #[serde(rename = "type")]
    pub kind: String,
    pub skill_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
}

/// An agent: the model, system prompt and tools a session runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
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
    pub metadata: Metadata,
    #[serde(default)]
    pub multiagent: Option<Value>,
    /// Always present in responses. Requests carry it as raw JSON, so the server can say what
    /// is wrong with it.
    #[serde(default)]
    pub execution_identity: Option<ExecutionIdentity>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
}

fn agent_type() -> String {
    "agent".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAgent {
    pub name: String,
    pub model: ModelRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiagent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_identity: Option<Value>,
}

impl CreateAgent {
    pub fn new(name: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            model: ModelRef::Id(model.into()),
            description: None,
            system: None,
            tools: None,
            mcp_servers: None,
            skills: None,
            metadata: None,
            multiagent: None,
            execution_identity: None,
        }
    }
}

/// Every field optional; `Some(None)` clears a clearable field. `version` is an optimistic check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateAgent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub system: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub tools: Option<Option<Vec<Tool>>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub mcp_servers: Option<Option<Vec<McpServer>>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub skills: Option<Option<Vec<Skill>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataPatch>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub multiagent: Option<Option<Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub execution_identity: Option<Option<Value>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListAgents {
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub include_archived: Option<bool>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListAgentVersions {
    pub limit: Option<u32>,
    pub page: Option<String>,
}
