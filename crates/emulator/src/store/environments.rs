//! Environments (reference 4.5, 5.8). Their timestamps are plain RFC 3339 strings.

use cma_types::{
    CloudConfig, CreateEnvironment, Empty, Environment, EnvironmentConfig, LimitedNetworking,
    Networking, Packages, UpdateEnvironment,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Model;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::validate;

pub const KIND_ENVIRONMENT: &str = "environment";
const MAX_NAME_CHARS: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvRec {
    pub seq: u64,
    pub env: Environment,
}

fn stamp() -> String {
    clock::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Every manager's list present (empty when not given), as responses show it.
fn resolve_packages(p: Option<Packages>) -> Packages {
    let mut p = p.unwrap_or_default();
    p.kind = Some("packages".into());
    for list in [
        &mut p.apt,
        &mut p.cargo,
        &mut p.gem,
        &mut p.go,
        &mut p.npm,
        &mut p.pip,
    ] {
        list.get_or_insert_with(Vec::new);
    }
    p
}

fn resolve_networking(n: Option<Networking>) -> Networking {
    match n {
        Some(Networking::Limited(l)) => Networking::Limited(LimitedNetworking {
            allowed_hosts: Some(l.allowed_hosts.unwrap_or_default()),
            allow_mcp_servers: Some(l.allow_mcp_servers.unwrap_or(false)),
            allow_package_managers: Some(l.allow_package_managers.unwrap_or(false)),
        }),
        Some(other) => other,
        None => Networking::Unrestricted(Empty {}),
    }
}

/// A config with every field filled in, checked.
fn resolve_config(field: &str, config: Option<EnvironmentConfig>) -> ApiResult<EnvironmentConfig> {
    let config = config.unwrap_or(EnvironmentConfig::Cloud(CloudConfig::default()));
    match config {
        EnvironmentConfig::Cloud(c) => {
            let networking = resolve_networking(c.networking);
            let packages = resolve_packages(c.packages);
            let has_packages = [
                &packages.apt,
                &packages.cargo,
                &packages.gem,
                &packages.go,
                &packages.npm,
                &packages.pip,
            ]
            .iter()
            .any(|list| list.as_ref().is_some_and(|l| !l.is_empty()));
            match &networking {
                Networking::Limited(LimitedNetworking {
                    allow_package_managers: Some(false),
                    ..
                }) if has_packages => {
                    return Err(ApiError::invalid(format!(
                        "{field}.networking.allow_package_managers: packages under limited networking require `allow_package_managers: true`"
                    )));
                }
                Networking::Unknown(_) => {
                    return Err(ApiError::invalid(format!(
                        "{field}.networking.type: must be `unrestricted` or `limited`"
                    )));
                }
                _ => {}
            }
            Ok(EnvironmentConfig::Cloud(CloudConfig {
                networking: Some(networking),
                packages: Some(packages),
            }))
        }
        EnvironmentConfig::SelfHosted(e) => Ok(EnvironmentConfig::SelfHosted(e)),
        _ => Err(ApiError::invalid(format!(
            "{field}.type: must be `cloud` or `self_hosted`"
        ))),
    }
}

fn check_scope(scope: Option<&str>) -> ApiResult<()> {
    match scope {
        None | Some("organization") => Ok(()),
        Some("account") => Err(ApiError::invalid(
            "scope: API organizations accept only `organization`",
        )),
        Some(_) => Err(ApiError::invalid(
            "scope: must be `organization` or `account`",
        )),
    }
}

impl Model {
    pub fn environment(&self, id: &str) -> ApiResult<&EnvRec> {
        self.environments.get(id).ok_or_else(|| {
            ApiError::not_found(format!("environment {id:?} not found"))
                .code("environment_not_found")
        })
    }

    pub fn create_environment(&mut self, p: CreateEnvironment) -> ApiResult<Environment> {
        validate::name("name", &p.name, MAX_NAME_CHARS)?;
        let config = resolve_config("config", p.config)?;
        let metadata = p.metadata.unwrap_or_default();
        validate::metadata("metadata", &metadata)?;
        check_scope(p.scope.as_deref())?;
        let now = stamp();
        let env = Environment {
            kind: "environment".into(),
            id: ids::new_id(ids::ENVIRONMENT),
            name: p.name,
            description: p.description,
            metadata,
            config: Some(config),
            scope: Some(p.scope.unwrap_or_else(|| "organization".into())),
            created_at: now.clone(),
            updated_at: now,
            archived_at: None,
        };
        let seq = self.next_seq();
        let id = env.id.clone();
        self.environments.insert(
            id.clone(),
            EnvRec {
                seq,
                env: env.clone(),
            },
        );
        self.webhook("environment.created", &id);
        Ok(env)
    }

    pub fn update_environment(&mut self, id: &str, p: UpdateEnvironment) -> ApiResult<Environment> {
        let mut env = self.environment(id)?.env.clone();
        if env.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "environment {id:?} is archived and cannot be updated"
            ))
            .code("environment_archived"));
        }
        if let Some(name) = &p.name {
            validate::name("name", name, MAX_NAME_CHARS)?;
            env.name = name.clone();
        }
        if let Some(config) = &p.config {
            let requested: Option<EnvironmentConfig> = match config {
                None => None,
                Some(v) => Some(
                    serde_json::from_value(v.clone())
                        .map_err(|e| ApiError::invalid(format!("config: {e}")))?,
                ),
            };
            if let Some(requested) = requested {
                let merged = merge_config(env.config.as_ref(), requested)?;
                env.config = Some(resolve_config("config", Some(merged))?);
            }
        }
        if let Some(d) = &p.description {
            env.description = d.clone();
        }
        if let Some(patch) = &p.metadata {
            env.metadata = validate::patch_metadata("metadata", &env.metadata, patch, true)?;
        }
        if let Some(scope) = &p.scope {
            check_scope(scope.as_deref())?;
            if let Some(s) = scope {
                env.scope = Some(s.clone());
            }
        }
        env.updated_at = stamp();
        if let Some(rec) = self.environments.get_mut(id) {
            rec.env = env.clone();
        }
        self.webhook("environment.updated", id);
        Ok(env)
    }

    pub fn archive_environment(&mut self, id: &str) -> ApiResult<Environment> {
        let env = self.environment(id)?.env.clone();
        if env.archived_at.is_some() {
            return Ok(env);
        }
        let now = stamp();
        let env = match self.environments.get_mut(id) {
            Some(rec) => {
                rec.env.archived_at = Some(now.clone());
                rec.env.updated_at = now;
                rec.env.clone()
            }
            None => return Err(ApiError::not_found(format!("environment {id:?} not found"))),
        };
        self.webhook("environment.archived", id);
        Ok(env)
    }

    pub fn delete_environment(&mut self, id: &str) -> ApiResult<()> {
        self.environment(id)?;
        self.environments.remove(id);
        self.webhook("environment.deleted", id);
        Ok(())
    }
}

/// Fields left out of an update keep their values; the config type cannot change.
fn merge_config(
    current: Option<&EnvironmentConfig>,
    requested: EnvironmentConfig,
) -> ApiResult<EnvironmentConfig> {
    match (current, requested) {
        (Some(EnvironmentConfig::Cloud(cur)), EnvironmentConfig::Cloud(req)) => {
            Ok(EnvironmentConfig::Cloud(CloudConfig {
                networking: req.networking.or_else(|| cur.networking.clone()),
                packages: req.packages.or_else(|| cur.packages.clone()),
            }))
        }
        (Some(EnvironmentConfig::SelfHosted(_)), r @ EnvironmentConfig::SelfHosted(_))
        | (None, r) => Ok(r),
        (Some(_), EnvironmentConfig::Unknown(v)) => Err(ApiError::invalid(format!(
            "config.type: unknown config type {:?}",
            v.get("type").and_then(Value::as_str).unwrap_or("")
        ))),
        (Some(_), _) => Err(ApiError::invalid(
            "config.type: an environment's config type cannot change",
        )
        .code("invalid_config_type_change")),
    }
}
