//! What a check expects, in words, for verdicts and reports.

use super::{Check, TextMatch};

/// What a check expects, in words.
pub fn expected(check: &Check) -> String {
    let not = |negate: bool| if negate { "not " } else { "" };
    match check {
        Check::Reply { matcher, negate } => {
            let n = not(*negate);
            let list = |v: &[String]| {
                v.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match matcher {
                TextMatch::Contains(s) => format!("reply {n}containing {s:?}"),
                TextMatch::IContains(s) => format!("reply {n}containing {s:?} (any case)"),
                TextMatch::ContainsAny(v) => format!("reply {n}containing any of {}", list(v)),
                TextMatch::IContainsAny(v) => {
                    format!("reply {n}containing any of {} (any case)", list(v))
                }
                TextMatch::ContainsAll(v) => format!("reply {n}containing all of {}", list(v)),
                TextMatch::IContainsAll(v) => {
                    format!("reply {n}containing all of {} (any case)", list(v))
                }
                TextMatch::StartsWith(s) => format!("reply {n}starting with {s:?}"),
                TextMatch::Regex(r) => format!("reply {n}matching /{}/", r.as_str()),
                TextMatch::Equals(s) => format!("reply {n}equal to {s:?}"),
            }
        }
        Check::ReadMemoryBeforeReply { store, negate } => {
            format!(
                "{}a read of {} before the first reply",
                not(*negate),
                store_words(store.as_deref())
            )
        }
        Check::WroteMemory { store, negate } => format!(
            "{}a write to {}",
            not(*negate),
            store_words(store.as_deref())
        ),
        Check::CalledTool {
            tool,
            input,
            negate,
        } => format!(
            "{}a call of {tool}{}",
            not(*negate),
            match input {
                Some(i) => format!(
                    " with an input containing {}",
                    serde_json::Value::Object(i.clone())
                ),
                None => String::new(),
            }
        ),
        Check::ToolAnswered { tool, range } => format!(
            "{range} {}calls answered from the canned answers",
            match tool {
                Some(t) => format!("{t} "),
                None => "custom tool ".to_string(),
            }
        ),
        Check::NoWriteToReadOnly { store } => match store {
            Some(s) => format!("no write to read_only store `{s}`"),
            None => "no write to any read_only store".to_string(),
        },
        Check::MemoryContains {
            store,
            text,
            ignore_case,
            path,
            negate,
        } => format!(
            "{}{:?}{} in {}{}",
            if *negate { "no " } else { "" },
            text,
            if *ignore_case { " (any case)" } else { "" },
            match path {
                Some(p) => format!("{p} of "),
                None => String::new(),
            },
            format_args!("store `{store}`")
        ),
        Check::PathExists {
            store,
            path,
            negate,
        } => format!(
            "{path} {}in store `{store}`",
            if *negate { "absent " } else { "present " }
        ),
        Check::MemoryCount { store, range } => format!("{range} memories in store `{store}`"),
        Check::SessionWrote { store, range } => {
            format!("{range} versions in store `{store}` written by the session(s)")
        }
        Check::OperationsInclude {
            store,
            operations,
            negate,
        } => {
            format!(
                "{}{} among the session(s)' versions in store `{store}`",
                not(*negate),
                operations.join(" and ")
            )
        }
        Check::Deleted { store, range } => {
            format!("{range} deletions in store `{store}` by the session(s)")
        }
        Check::StopReason { value } => format!("stop reason {value}"),
        Check::LatencyMs { max } => format!("idle within {max} ms"),
        Check::Isolation { columns } => format!("no other customer's {}", columns.join(", ")),
        Check::LlmRubric { rubric } => format!("a grader judges the reply to meet: {rubric}"),
    }
}

fn store_words(store: Option<&str>) -> String {
    match store {
        Some(s) => format!("store `{s}`'s mount"),
        None => "/mnt/memory/".to_string(),
    }
}
