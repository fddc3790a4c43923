//! The one table of check kinds. Each kind's name, whether it takes `not_`, the fields it
//! takes, what it reads, its docs-facing description and how it is built from the file are
//! declared here once; parsing ([`super::parse`]), [`Check::kind`], the load-time field checks,
//! `cma lint` and the README test are driven from it. How a built [`Check`] is judged is the
//! exhaustive match in [`super::eval::evaluate`].

use super::Fields;
use crate::check::{Check, CountRange, TextMatch};
use crate::error::LoadError;

/// What a kind looks at; also the section of scenarios/README.md that documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Section {
    /// The text of the replies in scope.
    Replies,
    /// The agent's tool uses (and, for read-only stores, the store's versions).
    ToolUse,
    /// The stores' current memories.
    MemoryState,
    /// The versions the sessions in scope wrote.
    History,
    /// How each turn ended.
    TurnOutcome,
    /// Other customers' CSV values in replies and stores.
    Isolation,
}

impl Section {
    /// The README heading (`#### Replies`, …).
    pub fn title(self) -> &'static str {
        match self {
            Section::Replies => "Replies",
            Section::ToolUse => "Tool use",
            Section::MemoryState => "Memory state",
            Section::History => "History",
            Section::TurnOutcome => "Turn outcome",
            Section::Isolation => "Isolation",
        }
    }
}

/// What text a kind asserts, for `cma lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Asserts {
    /// No text: tool use, counts, history, outcome, isolation.
    Nothing,
    /// `value` (or every one of `values`) must be in the reply.
    EachValue,
    /// At least one of `values` must be in the reply.
    AnyValue,
    /// `value` is a regex over the reply.
    Pattern,
    /// `value` must be in a memory (and `path`, when given, names it).
    Memory,
    /// `path` names a memory.
    Path,
}

/// One check kind.
#[derive(Debug)]
pub struct Kind {
    /// As written in a file, without `not_`.
    pub name: &'static str,
    /// Takes the `not_` prefix.
    pub negatable: bool,
    /// The fields it takes besides `kind`, `name` and `portable`; `?` marks optional ones.
    pub fields: &'static [&'static str],
    pub section: Section,
    /// Judging it needs the stores' memories and versions.
    pub reads_stores: bool,
    pub asserts: Asserts,
    /// One line for docs and `--help`-like listings.
    pub summary: &'static str,
    pub(crate) build: fn(&Fields<'_>) -> Result<Check, LoadError>,
}

impl Kind {
    /// The field names, without the `?` of optional ones.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.trim_end_matches('?'))
    }
}

/// Every kind a file may name, in the README's order.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "contains",
        negatable: true,
        fields: &["value"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply contains `value`",
        build: |f| f.reply(TextMatch::Contains(f.value()?)),
    },
    Kind {
        name: "icontains",
        negatable: true,
        fields: &["value"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply contains `value`, ignoring case",
        build: |f| f.reply(TextMatch::IContains(f.value()?)),
    },
    Kind {
        name: "contains_any",
        negatable: true,
        fields: &["values"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::AnyValue,
        summary: "the reply contains at least one of `values`",
        build: |f| f.reply(TextMatch::ContainsAny(f.values()?)),
    },
    Kind {
        name: "icontains_any",
        negatable: true,
        fields: &["values"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::AnyValue,
        summary: "the reply contains at least one of `values`, ignoring case",
        build: |f| f.reply(TextMatch::IContainsAny(f.values()?)),
    },
    Kind {
        name: "contains_all",
        negatable: true,
        fields: &["values"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply contains every one of `values`",
        build: |f| f.reply(TextMatch::ContainsAll(f.values()?)),
    },
    Kind {
        name: "icontains_all",
        negatable: true,
        fields: &["values"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply contains every one of `values`, ignoring case",
        build: |f| f.reply(TextMatch::IContainsAll(f.values()?)),
    },
    Kind {
        name: "starts_with",
        negatable: true,
        fields: &["value"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply starts with `value`",
        build: |f| f.reply(TextMatch::StartsWith(f.value()?)),
    },
    Kind {
        name: "regex",
        negatable: true,
        fields: &["value"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::Pattern,
        summary: "the reply matches the regex `value`",
        build: |f| f.reply(TextMatch::Regex(f.regex()?)),
    },
    Kind {
        name: "equals",
        negatable: true,
        fields: &["value"],
        section: Section::Replies,
        reads_stores: false,
        asserts: Asserts::EachValue,
        summary: "the reply, trimmed, equals `value`",
        build: |f| f.reply(TextMatch::Equals(f.value()?)),
    },
    Kind {
        name: "read_memory_before_reply",
        negatable: true,
        fields: &["store?"],
        section: Section::ToolUse,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "in every visit in scope the agent read the store's mount before replying",
        build: |f| {
            Ok(Check::ReadMemoryBeforeReply {
                store: f.optional_store()?,
                negate: f.negate,
            })
        },
    },
    Kind {
        name: "wrote_memory",
        negatable: true,
        fields: &["store?"],
        section: Section::ToolUse,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "some tool use in scope wrote under the store's mount",
        build: |f| {
            Ok(Check::WroteMemory {
                store: f.optional_store()?,
                negate: f.negate,
            })
        },
    },
    Kind {
        name: "no_write_to_read_only",
        negatable: false,
        fields: &["store?"],
        section: Section::ToolUse,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "nothing wrote to the read_only store(s), by tool use or by version",
        build: |f| {
            Ok(Check::NoWriteToReadOnly {
                store: f.read_only_store()?,
            })
        },
    },
    Kind {
        name: "called_tool",
        negatable: true,
        fields: &["tool", "input_contains?"],
        section: Section::ToolUse,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "some call in scope (custom or toolset) is of `tool`, with an input containing `input_contains`",
        build: |f| {
            Ok(Check::CalledTool {
                tool: f.called_tool()?,
                input: f.input_contains()?,
                negate: f.negate,
            })
        },
    },
    Kind {
        name: "tool_answered",
        negatable: false,
        fields: &["tool?", "count?", "min?", "max?"],
        section: Section::ToolUse,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "the runner answered that many custom tool calls in scope (default at least 1)",
        build: |f| {
            Ok(Check::ToolAnswered {
                tool: f.answered_tool()?,
                range: f.range(Some(CountRange::at_least(1)))?,
            })
        },
    },
    Kind {
        name: "memory_contains",
        negatable: true,
        fields: &["store?", "value", "ignore_case?", "path?"],
        section: Section::MemoryState,
        reads_stores: true,
        asserts: Asserts::Memory,
        summary: "some current memory contains `value`",
        build: |f| f.memory_contains(f.negate),
    },
    Kind {
        name: "memory_not_contains",
        negatable: false,
        fields: &["store?", "value", "ignore_case?", "path?"],
        section: Section::MemoryState,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "no current memory contains `value`",
        build: |f| f.memory_contains(true),
    },
    Kind {
        name: "path_exists",
        negatable: true,
        fields: &["store?", "path"],
        section: Section::MemoryState,
        reads_stores: true,
        asserts: Asserts::Path,
        summary: "a memory has exactly this `path`",
        build: |f| {
            Ok(Check::PathExists {
                path: f.memory_path()?,
                store: f.store()?,
                negate: f.negate,
            })
        },
    },
    Kind {
        name: "memory_count",
        negatable: false,
        fields: &["store?", "count?", "min?", "max?"],
        section: Section::MemoryState,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "the store holds that many memories",
        build: |f| {
            Ok(Check::MemoryCount {
                store: f.store()?,
                range: f.range(None)?,
            })
        },
    },
    Kind {
        name: "session_wrote",
        negatable: false,
        fields: &["store?", "count?", "min?", "max?"],
        section: Section::History,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "the sessions in scope wrote that many versions (default at least 1)",
        build: |f| {
            Ok(Check::SessionWrote {
                store: f.store()?,
                range: f.range(Some(CountRange::at_least(1)))?,
            })
        },
    },
    Kind {
        name: "operations_include",
        negatable: true,
        fields: &["store?", "values"],
        section: Section::History,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "every listed operation is among the sessions' versions",
        build: |f| {
            Ok(Check::OperationsInclude {
                operations: f.operations()?,
                store: f.store()?,
                negate: f.negate,
            })
        },
    },
    Kind {
        name: "deleted",
        negatable: false,
        fields: &["store?", "count?", "min?", "max?"],
        section: Section::History,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "the sessions in scope wrote that many `deleted` versions (default at least 1)",
        build: |f| {
            Ok(Check::Deleted {
                store: f.store()?,
                range: f.range(Some(CountRange::at_least(1)))?,
            })
        },
    },
    Kind {
        name: "stop_reason",
        negatable: false,
        fields: &["value"],
        section: Section::TurnOutcome,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "every turn in scope went idle with this stop reason",
        build: |f| {
            Ok(Check::StopReason {
                value: f.stop_reason()?,
            })
        },
    },
    Kind {
        name: "latency_ms",
        negatable: false,
        fields: &["max"],
        section: Section::TurnOutcome,
        reads_stores: false,
        asserts: Asserts::Nothing,
        summary: "every turn in scope went idle within `max` milliseconds",
        build: |f| Ok(Check::LatencyMs { max: f.max_ms()? }),
    },
    Kind {
        name: "isolation",
        negatable: false,
        fields: &["columns"],
        section: Section::Isolation,
        reads_stores: true,
        asserts: Asserts::Nothing,
        summary: "no other customer's value of these CSV columns is in this customer's replies or stores",
        build: |f| {
            Ok(Check::Isolation {
                columns: f.columns()?,
            })
        },
    },
    Kind {
        name: "llm_rubric",
        negatable: false,
        fields: &["rubric"],
        section: Section::Replies,
        reads_stores: false,
        // A rubric is judged by a grader model, not matched as text, so lint has nothing to hold it to.
        asserts: Asserts::Nothing,
        summary: "a grader model (`--grader`) judges the reply to meet `rubric`",
        build: |f| {
            Ok(Check::LlmRubric {
                rubric: f.rubric()?,
            })
        },
    },
];

/// The kind named `name` (without `not_`).
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Every field any kind takes (besides `kind`, `name` and `portable`).
pub fn all_fields() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS {
        for f in k.field_names() {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// The table entry of a built check, and whether it is written with `not_`. The one place that
/// maps [`Check`]'s variants to kinds.
pub fn of(check: &Check) -> (&'static Kind, bool) {
    let (name, negate) = match check {
        Check::Reply { matcher, negate } => (matcher.kind(), *negate),
        Check::ReadMemoryBeforeReply { negate, .. } => ("read_memory_before_reply", *negate),
        Check::WroteMemory { negate, .. } => ("wrote_memory", *negate),
        Check::NoWriteToReadOnly { .. } => ("no_write_to_read_only", false),
        Check::CalledTool { negate, .. } => ("called_tool", *negate),
        Check::ToolAnswered { .. } => ("tool_answered", false),
        Check::MemoryContains { negate: true, .. } => ("memory_not_contains", false),
        Check::MemoryContains { .. } => ("memory_contains", false),
        Check::PathExists { negate, .. } => ("path_exists", *negate),
        Check::MemoryCount { .. } => ("memory_count", false),
        Check::SessionWrote { .. } => ("session_wrote", false),
        Check::OperationsInclude { negate, .. } => ("operations_include", *negate),
        Check::Deleted { .. } => ("deleted", false),
        Check::StopReason { .. } => ("stop_reason", false),
        Check::LatencyMs { .. } => ("latency_ms", false),
        Check::Isolation { .. } => ("isolation", false),
        Check::LlmRubric { .. } => ("llm_rubric", false),
    };
    // Every name above is in the table: the `every_kind_round_trips` test loads each kind and
    // compares, so this fallback is never taken.
    (find(name).unwrap_or(&KINDS[0]), negate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_memory_not_contains_is_its_own_kind() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(
                KINDS[i + 1..].iter().all(|o| o.name != k.name),
                "{} twice",
                k.name
            );
        }
        assert!(!find("memory_not_contains").is_some_and(|k| k.negatable));
    }
}
