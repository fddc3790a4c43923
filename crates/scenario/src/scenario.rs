//! A loaded, validated scenario: one script per customer, every `{{column}}` already filled in.

use std::path::PathBuf;

use cma_client::types::Access;

use crate::check::CheckSpec;
use crate::template::Customer;
use crate::tools::{Confirm, CustomToolSpec, ToolAnswer};

/// The model a scenario's agent gets when the file names none.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-6";

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub path: PathBuf,
    /// The customers CSV, when the scenario is templated.
    pub customers_file: Option<PathBuf>,
    /// One script per customer, in CSV order (one for an untemplated scenario).
    pub scripts: Vec<Script>,
}

impl Scenario {
    /// `tag:x` matches a scenario tagged exactly `x`; anything else matches a name containing it.
    pub fn matches(&self, filter: &str) -> bool {
        match filter.strip_prefix("tag:") {
            Some(tag) => self.tags.iter().any(|t| t == tag),
            None => self.name.contains(filter),
        }
    }

    pub fn customers(&self) -> Vec<Customer> {
        self.scripts.iter().map(|s| s.customer.clone()).collect()
    }

    /// How many checks one run of every script holds.
    pub fn check_count(&self) -> usize {
        self.scripts.iter().map(Script::check_count).sum()
    }
}

/// One customer's script.
#[derive(Debug, Clone)]
pub struct Script {
    pub customer: Customer,
    pub agent: AgentSpec,
    pub stores: Vec<StoreSpec>,
    pub visits: Vec<VisitSpec>,
    /// End-of-script checks.
    pub checks: Vec<CheckSpec>,
    /// Canned answers to custom tool calls, for every visit (after the visit's own).
    pub tool_answers: Vec<ToolAnswer>,
    /// How tool uses awaiting confirmation are answered; `None`: such a call fails the turn.
    pub confirm: Option<Confirm>,
}

impl Script {
    /// Every check, in script order: each turn's, then each visit's, then the end checks.
    pub fn all_checks(&self) -> impl Iterator<Item = &CheckSpec> {
        self.visits
            .iter()
            .flat_map(|v| {
                v.turns
                    .iter()
                    .flat_map(|t| t.checks.iter())
                    .chain(v.checks.iter())
            })
            .chain(self.checks.iter())
    }

    pub fn check_count(&self) -> usize {
        self.all_checks().count()
    }
}

/// The agent a scenario runs: created once per distinct spec in a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentSpec {
    pub name: String,
    pub model: String,
    pub system: Option<String>,
    pub description: Option<String>,
    /// The agent toolset's permission policy: `always_allow`, `always_ask` or `auto`.
    pub permission_policy: String,
    /// Tools the application runs; the runner answers their calls from canned answers.
    pub custom_tools: Vec<CustomToolSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    pub key: String,
    /// The last part of the created store's name (`cma-<run>-<scenario>-<customer>-<name>`).
    pub name: String,
    pub description: Option<String>,
    pub access: Access,
    pub instructions: Option<String>,
    /// One store for all the scenario's customers (per repeat) instead of one each.
    pub shared: bool,
    pub memories: Vec<SeedMemory>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedMemory {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct VisitSpec {
    pub name: Option<String>,
    pub turns: Vec<TurnSpec>,
    pub checks: Vec<CheckSpec>,
    /// Canned answers tried before the scenario's.
    pub tool_answers: Vec<ToolAnswer>,
}

#[derive(Debug, Clone)]
pub struct TurnSpec {
    pub user: String,
    pub checks: Vec<CheckSpec>,
}
