//! `/v1/environments`

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::open_union;
use crate::shared::{Metadata, MetadataPatch, double_option};

/// Requests send only the fields given (as the SDK does); responses carry every field, resolved.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LimitedNetworking {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_mcp_servers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_package_managers: Option<bool>,
}

open_union! {
    pub enum Networking {
        "unrestricted" => Unrestricted(super::agents::Empty),
        "limited" => Limited(LimitedNetworking),
    }
}

/// Package lists per manager; requests send only the lists given, responses carry all of them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Packages {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apt: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cargo: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gem: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CloudConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Packages>,
}

open_union! {
    /// Where the agent's tools run.
    pub enum EnvironmentConfig {
        "cloud" => Cloud(CloudConfig),
        "self_hosted" => SelfHosted(super::agents::Empty),
    }
}

/// The container sessions run in. Its timestamps are plain strings in the SDK models too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    #[serde(rename = "type", default = "environment_type")]
    pub kind: String,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub config: Option<EnvironmentConfig>,
    #[serde(default)]
    pub scope: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub archived_at: Option<String>,
}

fn environment_type() -> String {
    "environment".into()
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateEnvironment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<EnvironmentConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateEnvironment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub config: Option<Option<Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataPatch>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub scope: Option<Option<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListEnvironments {
    pub include_archived: Option<bool>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}
