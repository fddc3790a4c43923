//! Checks: what a scenario asserts after a turn, after a visit, or at the end of a customer's
//! script. [`parse`] builds them from the file (with located errors); [`eval`] judges them
//! against a [`crate::record`] of what happened.

mod describe;
pub(crate) mod eval;
mod eval_tools;
pub(crate) mod parse;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::{StoreState, TurnRecord};
use crate::template::Customer;
use crate::text::shorten;

pub use describe::expected;
pub use eval::{Outcome, Verdict, evaluate};
pub use parse::kinds;

/// Everything a check may look at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The turns in the check's scope, in order: the turn, the visit's turns, or all turns.
    pub turns: &'a [TurnRecord],
    /// The sessions in scope (the visit's, or every visit's for an end check).
    pub sessions: &'a [String],
    /// Every store the customer's sessions attach, with the last state read.
    pub stores: &'a [StoreState],
    pub customer: &'a Customer,
    /// Every customer of the scenario, this one included.
    pub customers: &'a [Customer],
}

/// Where a check sits in the script; `visit` and `turn` count from 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CheckId {
    /// `None` for an end-of-script check.
    pub visit: Option<usize>,
    /// `None` for a visit or end-of-script check.
    pub turn: Option<usize>,
    /// 1-based position among the checks at that place.
    pub index: usize,
}

impl CheckId {
    pub fn level(&self) -> Level {
        match (self.visit, self.turn) {
            (Some(_), Some(_)) => Level::Turn,
            (Some(_), None) => Level::Visit,
            _ => Level::End,
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.visit, self.turn) {
            (Some(v), Some(t)) => write!(f, "visit {v} turn {t} check {}", self.index),
            (Some(v), None) => write!(f, "visit {v} check {}", self.index),
            _ => write!(f, "end check {}", self.index),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Turn,
    Visit,
    End,
}

/// A check as the scenario states it (after templating for one customer).
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub id: CheckId,
    /// The check's `name`, else a short description such as `icontains "medium"`.
    pub label: String,
    pub check: Check,
}

/// An inclusive range of counts: `count = n`, or `min` and/or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRange {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl CountRange {
    pub fn at_least(n: u64) -> Self {
        CountRange {
            min: Some(n),
            max: None,
        }
    }

    pub fn exactly(n: u64) -> Self {
        CountRange {
            min: Some(n),
            max: Some(n),
        }
    }

    pub fn contains(&self, n: u64) -> bool {
        self.min.is_none_or(|m| n >= m) && self.max.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "exactly {a}"),
            (Some(a), Some(b)) => write!(f, "between {a} and {b}"),
            (Some(a), None) => write!(f, "at least {a}"),
            (None, Some(b)) => write!(f, "at most {b}"),
            (None, None) => write!(f, "any number"),
        }
    }
}

/// How a reply is matched.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Contains(String),
    IContains(String),
    ContainsAny(Vec<String>),
    IContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    IContainsAll(Vec<String>),
    StartsWith(String),
    Regex(regex::Regex),
    /// The whole reply, trimmed.
    Equals(String),
}

impl TextMatch {
    pub fn kind(&self) -> &'static str {
        match self {
            TextMatch::Contains(_) => "contains",
            TextMatch::IContains(_) => "icontains",
            TextMatch::ContainsAny(_) => "contains_any",
            TextMatch::IContainsAny(_) => "icontains_any",
            TextMatch::ContainsAll(_) => "contains_all",
            TextMatch::IContainsAll(_) => "icontains_all",
            TextMatch::StartsWith(_) => "starts_with",
            TextMatch::Regex(_) => "regex",
            TextMatch::Equals(_) => "equals",
        }
    }
}

/// One check. The store fields hold the scenario's store `key`.
#[derive(Debug, Clone)]
pub enum Check {
    /// The reply (a visit's or the script's replies, joined, above turn level) matches.
    Reply {
        matcher: TextMatch,
        negate: bool,
    },
    /// A tool use naming `/mnt/memory/` (the store's mount, if given) comes before the first
    /// `agent.message` — in each visit in scope.
    ReadMemoryBeforeReply {
        store: Option<String>,
        negate: bool,
    },
    /// Some tool use in scope wrote under `/mnt/memory/` (the store's mount, if given).
    WroteMemory {
        store: Option<String>,
        negate: bool,
    },
    /// No tool use in scope writes under a read-only store's mount, and the store has no version
    /// written by a session. Without `store`, every read-only store.
    NoWriteToReadOnly {
        store: Option<String>,
    },
    /// Some tool call in scope — `agent.tool_use`, `agent.mcp_tool_use` or
    /// `agent.custom_tool_use` — is named `tool` and its input contains `input` (see
    /// [`crate::tools::input_contains`]).
    CalledTool {
        tool: String,
        input: Option<serde_json::Map<String, serde_json::Value>>,
        negate: bool,
    },
    /// The runner answered that many custom tool calls in scope (`user.custom_tool_result`s),
    /// of `tool` when given.
    ToolAnswered {
        tool: Option<String>,
        range: CountRange,
    },
    /// Some current memory (at `path`, or under it when it ends with `/`) contains the text.
    MemoryContains {
        store: String,
        text: String,
        ignore_case: bool,
        path: Option<String>,
        negate: bool,
    },
    PathExists {
        store: String,
        path: String,
        negate: bool,
    },
    MemoryCount {
        store: String,
        range: CountRange,
    },
    /// Versions in the store written by the sessions in scope.
    SessionWrote {
        store: String,
        range: CountRange,
    },
    /// Every listed operation appears among the versions the sessions in scope wrote.
    OperationsInclude {
        store: String,
        operations: Vec<String>,
        negate: bool,
    },
    /// `deleted` versions written by the sessions in scope.
    Deleted {
        store: String,
        range: CountRange,
    },
    /// Every turn in scope went idle with this stop reason.
    StopReason {
        value: String,
    },
    /// Every turn in scope went idle within this many milliseconds of sending.
    LatencyMs {
        max: u64,
    },
    /// No other customer's value of these CSV columns appears in this customer's replies or
    /// (non-shared) stores.
    Isolation {
        columns: Vec<String>,
    },
    /// A grader model judges the reply in scope (as the reply checks join it) against the rubric
    /// (see [`crate::grade`]).
    LlmRubric {
        rubric: String,
    },
}

impl Check {
    /// Its entry in the table of kinds.
    pub fn spec(&self) -> &'static kinds::Kind {
        kinds::of(self).0
    }

    /// The kind as written in the file, with its `not_` prefix when negated.
    pub fn kind(&self) -> String {
        match kinds::of(self) {
            (k, true) => format!("not_{}", k.name),
            (k, false) => k.name.to_string(),
        }
    }

    /// Whether judging it needs the stores' memories and versions.
    pub fn needs_store_state(&self) -> bool {
        self.spec().reads_stores
    }

    /// A short description such as `icontains "medium"` or `session_wrote [prefs] at least 1`.
    pub fn default_label(&self) -> String {
        let kind = self.kind();
        let q = |s: &str| format!("{:?}", shorten(s, 60));
        let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
        match self {
            Check::Reply { matcher, .. } => match matcher {
                TextMatch::Contains(s)
                | TextMatch::IContains(s)
                | TextMatch::StartsWith(s)
                | TextMatch::Equals(s) => format!("{kind} {}", q(s)),
                TextMatch::ContainsAny(v)
                | TextMatch::IContainsAny(v)
                | TextMatch::ContainsAll(v)
                | TextMatch::IContainsAll(v) => format!("{kind} [{}]", list(v)),
                TextMatch::Regex(r) => format!("{kind} /{}/", shorten(r.as_str(), 60)),
            },
            Check::ReadMemoryBeforeReply { store, .. }
            | Check::WroteMemory { store, .. }
            | Check::NoWriteToReadOnly { store } => match store {
                Some(s) => format!("{kind} [{s}]"),
                None => kind,
            },
            Check::CalledTool { tool, input, .. } => match input {
                Some(i) => format!(
                    "{kind} {tool} {}",
                    shorten(&serde_json::Value::Object(i.clone()).to_string(), 60)
                ),
                None => format!("{kind} {tool}"),
            },
            Check::ToolAnswered { tool, range } => match tool {
                Some(t) => format!("{kind} {t} {range}"),
                None => format!("{kind} {range}"),
            },
            Check::MemoryContains { store, text, .. } => format!("{kind} [{store}] {}", q(text)),
            Check::PathExists { store, path, .. } => format!("{kind} [{store}] {path}"),
            Check::MemoryCount { store, range }
            | Check::SessionWrote { store, range }
            | Check::Deleted { store, range } => {
                format!("{kind} [{store}] {range}")
            }
            Check::OperationsInclude {
                store, operations, ..
            } => format!("{kind} [{store}] {}", operations.join(", ")),
            Check::StopReason { value } => format!("{kind} {value}"),
            Check::LatencyMs { max } => format!("{kind} <= {max}"),
            Check::Isolation { columns } => format!("{kind} ({})", columns.join(", ")),
            Check::LlmRubric { rubric } => format!("{kind} {}", q(rubric)),
        }
    }
}
