//! Agents and their versions (reference 4.4, 5.7, 7.1).

use std::collections::HashSet;

use cma_types::{
    Agent, AgentToolset, CreateAgent, Effort, Empty, ExecutionIdentity, McpServer, McpToolset,
    ModelConfig, ModelRef, PermissionPolicy, Skill, Tool, ToolConfig, ToolDefaultConfig,
    UpdateAgent,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Model;
use crate::clock::{self, Timestamp};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::validate;

pub const KIND_AGENT: &str = "agent";
pub use cma_types::TOOLSET_TOOLS;
const MAX_TOOLS: usize = 256;
const MAX_MCP_SERVERS: usize = 20;
const MAX_NAME_CHARS: usize = 256;
const MAX_SYSTEM_CHARS: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRec {
    pub seq: u64,
    /// Every version, oldest first; each has its own `updated_at`.
    pub versions: Vec<Agent>,
    pub archived_at: Option<Timestamp>,
}

impl AgentRec {
    pub fn latest(&self) -> Option<Agent> {
        self.versions.last().map(|a| self.with_archive(a))
    }

    pub fn at_version(&self, version: u64) -> Option<Agent> {
        self.versions
            .iter()
            .find(|a| a.version == version)
            .map(|a| self.with_archive(a))
    }

    fn with_archive(&self, a: &Agent) -> Agent {
        Agent {
            archived_at: self.archived_at,
            ..a.clone()
        }
    }
}

/// `model` as the response carries it: an object, `effort` as `{type}`.
pub fn resolve_model(field: &str, model: &ModelRef) -> ApiResult<ModelRef> {
    let config = match model {
        ModelRef::Id(id) => ModelConfig {
            id: id.clone(),
            effort: None,
            inference_geo: None,
            speed: None,
        },
        ModelRef::Config(c) => c.clone(),
    };
    if config.id.trim().is_empty() {
        return Err(ApiError::invalid(format!(
            "{field}: the model id must not be empty"
        )));
    }
    match &config.effort {
        None
        | Some(
            Effort::Low(_)
            | Effort::Medium(_)
            | Effort::High(_)
            | Effort::Xhigh(_)
            | Effort::Max(_),
        ) => {}
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "{field}.effort: must be one of low, medium, high, xhigh, max"
            )));
        }
    }
    if let Some(speed) = &config.speed
        && !matches!(speed.as_str(), "standard" | "fast")
    {
        return Err(ApiError::invalid(format!(
            "{field}.speed: must be `standard` or `fast`"
        )));
    }
    Ok(ModelRef::Config(config))
}

fn resolve_configs(
    field: &str,
    configs: &[ToolConfig],
    default: &ToolDefaultConfig,
    known: Option<&[&str]>,
) -> ApiResult<Vec<ToolConfig>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        if let Some(known) = known
            && !known.contains(&c.name.as_str())
        {
            return Err(ApiError::invalid(format!(
                "{field}.configs[{i}].name: unknown tool {:?} (expected one of {})",
                c.name,
                known.join(", ")
            )));
        }
        if c.name.is_empty() || c.name.chars().count() > 128 {
            return Err(ApiError::invalid(format!(
                "{field}.configs[{i}].name: must be 1-128 characters"
            )));
        }
        if !seen.insert(c.name.clone()) {
            return Err(ApiError::invalid(format!(
                "{field}.configs[{i}].name: duplicate tool {:?}",
                c.name
            )));
        }
        if let Some(PermissionPolicy::Unknown(_)) = &c.permission_policy {
            return Err(ApiError::invalid(format!(
                "{field}.configs[{i}].permission_policy.type: unknown policy"
            )));
        }
        let mut c = c.clone();
        if known.is_some() {
            c.kind = Some(c.name.clone());
        }
        c.enabled = Some(c.enabled.or(default.enabled).unwrap_or(true));
        if c.permission_policy.is_none() {
            c.permission_policy = default.permission_policy.clone();
        }
        out.push(c);
    }
    // The response form of the agent toolset lists every tool it has, resolved: tools the request
    // did not configure take the default config (the SDK's models require all of them to parse).
    if let Some(known) = known {
        for name in known.iter().filter(|n| !seen.contains(**n)) {
            out.push(ToolConfig {
                name: name.to_string(),
                kind: Some(name.to_string()),
                enabled: Some(default.enabled.unwrap_or(true)),
                permission_policy: default.permission_policy.clone(),
                extra: Default::default(),
            });
        }
    }
    Ok(out)
}

fn resolve_default(
    field: &str,
    d: Option<&ToolDefaultConfig>,
    policy: PermissionPolicy,
) -> ApiResult<ToolDefaultConfig> {
    let d = d.cloned().unwrap_or_default();
    if let Some(PermissionPolicy::Unknown(_)) = &d.permission_policy {
        return Err(ApiError::invalid(format!(
            "{field}.default_config.permission_policy.type: unknown policy"
        )));
    }
    Ok(ToolDefaultConfig {
        enabled: Some(d.enabled.unwrap_or(true)),
        permission_policy: Some(d.permission_policy.unwrap_or(policy)),
    })
}

/// Validates tools and MCP servers together and returns them fully resolved.
pub fn resolve_tools(
    tools: &[Tool],
    servers: &[McpServer],
) -> ApiResult<(Vec<Tool>, Vec<McpServer>)> {
    if servers.len() > MAX_MCP_SERVERS {
        return Err(ApiError::invalid(format!(
            "mcp_servers: at most {MAX_MCP_SERVERS} servers allowed"
        )));
    }
    let mut names = HashSet::new();
    for (i, s) in servers.iter().enumerate() {
        if s.kind != "url" {
            return Err(ApiError::invalid(format!(
                "mcp_servers[{i}].type: must be `url`"
            )));
        }
        if s.name.is_empty() || !names.insert(s.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "mcp_servers[{i}].name: must be non-empty and unique"
            )));
        }
        if url::Url::parse(&s.url).is_err() {
            return Err(ApiError::invalid(format!(
                "mcp_servers[{i}].url: not a valid URL"
            )));
        }
    }
    let mut referenced = HashSet::new();
    let mut out = Vec::new();
    let mut count = 0usize;
    let mut toolsets = 0;
    let mut custom_names = HashSet::new();
    for (i, t) in tools.iter().enumerate() {
        let field = format!("tools[{i}]");
        match t {
            Tool::AgentToolset20260401(ts) => {
                toolsets += 1;
                if toolsets > 1 {
                    return Err(ApiError::invalid(format!(
                        "{field}: at most one agent_toolset_20260401 is allowed"
                    )));
                }
                let default = resolve_default(
                    &field,
                    ts.default_config.as_ref(),
                    PermissionPolicy::AlwaysAllow(Empty {}),
                )?;
                let configs = resolve_configs(&field, &ts.configs, &default, Some(TOOLSET_TOOLS))?;
                count += TOOLSET_TOOLS.len();
                out.push(Tool::AgentToolset20260401(AgentToolset {
                    configs,
                    default_config: Some(default),
                }));
            }
            Tool::McpToolset(ts) => {
                if !names.contains(ts.mcp_server_name.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "{field}.mcp_server_name: {:?} is not in mcp_servers",
                        ts.mcp_server_name
                    )));
                }
                referenced.insert(ts.mcp_server_name.clone());
                let default = resolve_default(
                    &field,
                    ts.default_config.as_ref(),
                    PermissionPolicy::AlwaysAsk(Empty {}),
                )?;
                let configs = resolve_configs(&field, &ts.configs, &default, None)?;
                count += configs.len().max(1);
                out.push(Tool::McpToolset(McpToolset {
                    mcp_server_name: ts.mcp_server_name.clone(),
                    configs,
                    default_config: Some(default),
                }));
            }
            Tool::Custom(c) => {
                let ok = !c.name.is_empty()
                    && c.name.chars().count() <= 128
                    && c.name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
                if !ok {
                    return Err(ApiError::invalid(format!(
                        "{field}.name: must be 1-128 characters of letters, digits, `_` and `-`"
                    )));
                }
                if !custom_names.insert(c.name.clone()) {
                    return Err(ApiError::invalid(format!(
                        "{field}.name: duplicate custom tool {:?}",
                        c.name
                    )));
                }
                if c.input_schema.get("type").and_then(Value::as_str) != Some("object") {
                    return Err(ApiError::invalid(format!(
                        "{field}.input_schema.type: must be `object`"
                    )));
                }
                count += 1;
                out.push(t.clone());
            }
            other => {
                let kind = other.type_name();
                return Err(ApiError::invalid(format!(
                    "{field}.type: unknown tool type {kind:?}"
                )));
            }
        }
    }
    if count > MAX_TOOLS {
        return Err(ApiError::invalid(format!(
            "tools: at most {MAX_TOOLS} tools allowed across all toolsets"
        )));
    }
    if let Some(s) = servers.iter().find(|s| !referenced.contains(&s.name)) {
        return Err(ApiError::invalid(format!(
            "mcp_servers: server {:?} is not referenced by any mcp_toolset",
            s.name
        )));
    }
    Ok((out, servers.to_vec()))
}

fn check_skills(skills: &[Skill]) -> ApiResult<()> {
    for (i, s) in skills.iter().enumerate() {
        if !matches!(s.kind.as_str(), "anthropic" | "custom") {
            return Err(ApiError::invalid(format!(
                "skills[{i}].type: must be `anthropic` or `custom`"
            )));
        }
        if s.skill_id.is_empty() {
            return Err(ApiError::invalid(format!(
                "skills[{i}].skill_id: must not be empty"
            )));
        }
    }
    Ok(())
}

fn check_identity(v: &Option<Value>) -> ApiResult<ExecutionIdentity> {
    match v {
        None | Some(Value::Null) => Ok(ExecutionIdentity::ServiceAccount(Empty {})),
        Some(v) => match ExecutionIdentity::deserialize(v) {
            Ok(ExecutionIdentity::ServiceAccount(_)) => {
                Ok(ExecutionIdentity::ServiceAccount(Empty {}))
            }
            Ok(ExecutionIdentity::AwsRole(role)) if !role.role_arn.is_empty() => {
                Ok(ExecutionIdentity::AwsRole(role))
            }
            _ => Err(ApiError::invalid(
                "execution_identity: must be {\"type\":\"service_account\"} or {\"type\":\"aws_role\",\"role_arn\":…}",
            )),
        },
    }
}

impl Model {
    pub fn agent(&self, id: &str) -> ApiResult<&AgentRec> {
        self.agents
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("agent {id:?} not found")))
    }

    fn persist_agent(&mut self, id: &str) {
        let rec = self.agents.get(id).cloned();
        self.record(KIND_AGENT, id, rec.as_ref());
    }

    pub fn create_agent(&mut self, p: CreateAgent) -> ApiResult<Agent> {
        validate::name("name", &p.name, MAX_NAME_CHARS)?;
        let model = resolve_model("model", &p.model)?;
        if let Some(system) = &p.system {
            validate::max_chars("system", system, MAX_SYSTEM_CHARS)?;
        }
        let (tools, mcp_servers) = resolve_tools(
            p.tools.as_deref().unwrap_or(&[]),
            p.mcp_servers.as_deref().unwrap_or(&[]),
        )?;
        let skills = p.skills.unwrap_or_default();
        check_skills(&skills)?;
        let metadata = p.metadata.unwrap_or_default();
        validate::metadata("metadata", &metadata)?;
        let execution_identity = check_identity(&p.execution_identity)?;
        let now = clock::now();
        let agent = Agent {
            kind: "agent".into(),
            id: ids::new_id(ids::AGENT),
            version: 1,
            name: p.name,
            description: p.description,
            system: p.system,
            model,
            tools,
            mcp_servers,
            skills,
            metadata,
            multiagent: p.multiagent.filter(|v| !v.is_null()),
            execution_identity: Some(execution_identity),
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        let seq = self.next_seq();
        let id = agent.id.clone();
        self.agents.insert(
            id.clone(),
            AgentRec {
                seq,
                versions: vec![agent.clone()],
                archived_at: None,
            },
        );
        self.persist_agent(&id);
        self.webhook("agent.created", &id);
        Ok(agent)
    }

    /// A new version when anything changes; an update that changes nothing returns the agent as is.
    pub fn update_agent(&mut self, id: &str, p: UpdateAgent) -> ApiResult<Agent> {
        let rec = self.agent(id)?;
        let current = rec
            .latest()
            .ok_or_else(|| ApiError::internal("agent has no versions"))?;
        let mut next = current.clone();
        if let Some(name) = &p.name {
            validate::name("name", name, MAX_NAME_CHARS)?;
            next.name = name.clone();
        }
        if let Some(model) = &p.model {
            next.model = resolve_model("model", model)?;
        }
        if let Some(d) = &p.description {
            next.description = d.clone();
        }
        if let Some(s) = &p.system {
            if let Some(s) = s {
                validate::max_chars("system", s, MAX_SYSTEM_CHARS)?;
            }
            next.system = s.clone();
        }
        let tools = match &p.tools {
            Some(t) => t.clone().unwrap_or_default(),
            None => next.tools.clone(),
        };
        let servers = match &p.mcp_servers {
            Some(s) => s.clone().unwrap_or_default(),
            None => next.mcp_servers.clone(),
        };
        let (tools, servers) = resolve_tools(&tools, &servers)?;
        next.tools = tools;
        next.mcp_servers = servers;
        if let Some(skills) = &p.skills {
            let skills = skills.clone().unwrap_or_default();
            check_skills(&skills)?;
            next.skills = skills;
        }
        if let Some(patch) = &p.metadata {
            next.metadata = validate::patch_metadata("metadata", &next.metadata, patch, false)?;
        }
        if let Some(m) = &p.multiagent {
            next.multiagent = m.clone().filter(|v| !v.is_null());
        }
        if let Some(e) = &p.execution_identity {
            next.execution_identity = Some(check_identity(e)?);
        }
        if rec.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "agent {id:?} is archived and cannot be updated"
            )));
        }
        if let Some(v) = p.version
            && v != current.version
        {
            return Err(ApiError::conflict(
                "conflict_error",
                format!("agent {id:?} is at version {}, not {v}", current.version),
            ));
        }
        if next == current {
            return Ok(current);
        }
        next.version = current.version + 1;
        next.updated_at = clock::now();
        if let Some(rec) = self.agents.get_mut(id) {
            rec.versions.push(next.clone());
        }
        self.persist_agent(id);
        self.webhook("agent.updated", id);
        Ok(next)
    }

    pub fn archive_agent(&mut self, id: &str) -> ApiResult<Agent> {
        let rec = self.agent(id)?;
        if rec.archived_at.is_none() {
            let now = clock::now();
            if let Some(rec) = self.agents.get_mut(id) {
                rec.archived_at = Some(now);
                if let Some(last) = rec.versions.last_mut() {
                    last.updated_at = now;
                }
            }
            self.persist_agent(id);
            self.webhook("agent.archived", id);
        }
        self.agent(id)?
            .latest()
            .ok_or_else(|| ApiError::internal("agent has no versions"))
    }
}
