//! The scenario file as written: TOML tables deserialized with their spans, so that every later
//! check of their meaning can point at `line:column`. Nothing here is validated beyond types
//! and field names; [`crate::load`] turns these into [`crate::Scenario`]s.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type Str = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Str>,
    pub description: Option<Str>,
    #[serde(default)]
    pub tags: Vec<Str>,
    /// A CSV file, relative to the scenario file: one customer per row.
    pub customers: Option<Str>,
    #[serde(default)]
    pub agent: Option<Spanned<RawAgent>>,
    #[serde(default)]
    pub stores: Vec<Spanned<RawStore>>,
    #[serde(default)]
    pub visits: Vec<Spanned<RawVisit>>,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
    /// Canned answers to the agent's custom tool calls, for every visit (after the visit's own).
    #[serde(default)]
    pub tool_answers: Vec<Spanned<RawToolAnswer>>,
    /// How the runner answers tool uses awaiting confirmation: `allow` or `deny`.
    pub confirm: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub name: Option<Str>,
    pub model: Option<Str>,
    pub system: Option<Str>,
    pub description: Option<Str>,
    /// The agent toolset's permission policy: `always_allow` (default), `always_ask` or `auto`.
    pub permission_policy: Option<Str>,
    #[serde(default)]
    pub custom_tools: Vec<Spanned<RawCustomTool>>,
}

/// A tool the application runs: the agent calls it, the runner answers from `tool_answers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCustomTool {
    pub name: Str,
    pub description: Option<Str>,
    pub input_schema: Option<Spanned<toml::Table>>,
}

/// A canned answer: the result the runner sends for a matching custom tool call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToolAnswer {
    pub tool: Str,
    /// A subset of the call's input that must match for this answer to be used.
    pub when_input_contains: Option<Spanned<toml::Table>>,
    pub content: Str,
    pub is_error: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub key: Str,
    pub name: Option<Str>,
    pub description: Option<Str>,
    pub access: Option<Str>,
    pub instructions: Option<Str>,
    pub shared: Option<Spanned<bool>>,
    #[serde(default)]
    pub memories: Vec<Spanned<RawMemory>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMemory {
    pub path: Str,
    pub content: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVisit {
    pub name: Option<Str>,
    #[serde(default)]
    pub turns: Vec<Spanned<RawTurn>>,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
    /// Canned answers for this visit, tried before the scenario's.
    #[serde(default)]
    pub tool_answers: Vec<Spanned<RawToolAnswer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTurn {
    pub user: Str,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
}

/// Every field any check kind takes; [`crate::check::parse`] decides which apply to a kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub kind: Str,
    pub name: Option<Str>,
    /// `false` silences `cma lint` for this check (it knowingly asserts the agent's wording).
    pub portable: Option<Spanned<bool>>,
    pub value: Option<Str>,
    pub values: Option<Spanned<Vec<Str>>>,
    pub store: Option<Str>,
    pub path: Option<Str>,
    pub ignore_case: Option<Spanned<bool>>,
    pub count: Option<Spanned<u64>>,
    pub min: Option<Spanned<u64>>,
    pub max: Option<Spanned<u64>>,
    pub columns: Option<Spanned<Vec<Str>>>,
    pub rubric: Option<Str>,
    /// A tool's name (`called_tool`, `tool_answered`).
    pub tool: Option<Str>,
    /// A subset of a call's input (`called_tool`).
    pub input_contains: Option<Spanned<toml::Table>>,
}
