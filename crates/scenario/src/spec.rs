//! The scenario file as written: TOML tables deserialized with their spans, so that every later
//! check of their meaning can point at `line:column`. Nothing here is validated beyond types
//! and field names; [`crate::load`] turns these into [`crate::Scenario`]s. [`Ctx`] is what reading
//! a check or a scripted tool needs to know about its file and customer, shared by both.

use std::collections::BTreeMap;
use std::path::Path;

use cma_client::types::Access;
use serde::Deserialize;
use toml::Spanned;

use crate::error::LoadError;
use crate::template::{TemplateError, render};

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

/// A store as checks may refer to it.
#[derive(Debug, Clone)]
pub(crate) struct StoreRef {
    pub key: String,
    pub access: Access,
}

/// What parsing a check needs to know about its file and customer.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub source: &'a str,
    pub stores: &'a [StoreRef],
    /// The agent's custom tools' names.
    pub tools: &'a [String],
    /// The customers file's columns, when there is one.
    pub columns: Option<&'a [String]>,
    /// The customer's values (empty without a customers file).
    pub values: &'a BTreeMap<String, String>,
    /// The customer's id, named in errors that depend on the values.
    pub customer: Option<&'a str>,
}

impl Ctx<'_> {
    pub fn err(&self, offset: usize, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::at(self.path, self.source, offset, field, message)
    }

    /// Renders `{{column}}` placeholders; an unknown column is an error at the placeholder.
    pub fn render(&self, s: &Str, field: &str) -> Result<String, LoadError> {
        let start = s.span().start;
        // Where in the source the string's text starts: after the opening quote(s), when the
        // raw text can be found verbatim; otherwise at the value.
        let raw = self.source.get(s.span()).unwrap_or("");
        let body_at = |at: usize| -> usize {
            let needle = s.get_ref().get(at..).unwrap_or("");
            let needle: String = needle.chars().take(12).collect();
            raw.find(&needle).map_or(start, |i| start + i)
        };
        render(s.get_ref(), self.values).map_err(|e| match e {
            TemplateError::Unknown { name, at } => {
                let message = match self.columns {
                    None => format!(
                        "`{{{{{name}}}}}` needs a customers file (`customers = \"file.csv\"`) with a `{name}` column"
                    ),
                    Some(cols) => format!("no column `{name}` in the customers file (columns: {})", cols.join(", ")),
                };
                self.err(body_at(at), field, message)
            }
            TemplateError::Unclosed { at } => self.err(body_at(at), field, "`{{` without a closing `}}`"),
        })
    }
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// ` (did you mean `x`?)` when some candidate is close.
pub(crate) fn suggest(word: &str, candidates: &[&str]) -> String {
    let normalized = word.replace('-', "_").to_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&normalized, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}
