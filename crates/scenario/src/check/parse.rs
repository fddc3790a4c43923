//! Builds [`Check`]s from the file's `[[...checks]]` tables, refusing unknown kinds, fields that
//! do not apply to a kind, bad regexes, unknown stores and unknown CSV columns — each with its
//! `line:column` and field path.

use std::collections::BTreeMap;
use std::path::Path;

use cma_client::types::Access;
use toml::Spanned;

use super::{Check, CountRange, TextMatch};
use crate::error::LoadError;
use crate::spec::{RawCheck, Str};
use crate::template::{TemplateError, render};

/// Every kind a file may name (before the optional `not_` prefix).
pub const KINDS: &[&str] = &[
    "contains",
    "icontains",
    "contains_any",
    "icontains_any",
    "contains_all",
    "icontains_all",
    "starts_with",
    "regex",
    "equals",
    "read_memory_before_reply",
    "wrote_memory",
    "no_write_to_read_only",
    "memory_contains",
    "memory_not_contains",
    "path_exists",
    "memory_count",
    "session_wrote",
    "operations_include",
    "deleted",
    "stop_reason",
    "latency_ms",
    "isolation",
    "llm_rubric",
];

/// Kinds that take the `not_` prefix.
pub const NEGATABLE: &[&str] = &[
    "contains",
    "icontains",
    "contains_any",
    "icontains_any",
    "contains_all",
    "icontains_all",
    "starts_with",
    "regex",
    "equals",
    "read_memory_before_reply",
    "wrote_memory",
    "memory_contains",
    "path_exists",
    "operations_include",
];

pub const STOP_REASONS: &[&str] = &[
    "end_turn",
    "requires_action",
    "retries_exhausted",
    "budget_reached",
    "refusal",
];
pub const OPERATIONS: &[&str] = &["created", "modified", "deleted"];

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

pub(crate) fn parse(
    raw: &Spanned<RawCheck>,
    field: &str,
    ctx: &Ctx<'_>,
) -> Result<Check, LoadError> {
    let r = raw.get_ref();
    let kind_field = format!("{field}.kind");
    let written = r.kind.get_ref().as_str();
    let (negate, base) = match written.strip_prefix("not_") {
        Some(rest) if rest != "memory_not_contains" && NEGATABLE.contains(&rest) => (true, rest),
        Some(rest) if KINDS.contains(&rest) => {
            return Err(ctx.err(
                r.kind.span().start,
                &kind_field,
                format!(
                    "`{rest}` cannot be negated with `not_` (negatable kinds: {})",
                    NEGATABLE.join(", ")
                ),
            ));
        }
        _ => (false, written),
    };
    if !KINDS.contains(&base) {
        let mut all: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
        all.extend(NEGATABLE.iter().map(|k| format!("not_{k}")));
        let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        return Err(ctx.err(
            r.kind.span().start,
            &kind_field,
            format!(
                "unknown check kind `{written}`{}; kinds: {}",
                suggest(written, &all_refs),
                KINDS.join(", ")
            ),
        ));
    }

    // Which optional fields this kind takes.
    let allowed: &[&str] = match base {
        "contains" | "icontains" | "starts_with" | "equals" | "regex" | "stop_reason" => &["value"],
        "contains_any" | "icontains_any" | "contains_all" | "icontains_all" => &["values"],
        "read_memory_before_reply" | "wrote_memory" | "no_write_to_read_only" => &["store"],
        "memory_contains" | "memory_not_contains" => &["store", "value", "ignore_case", "path"],
        "path_exists" => &["store", "path"],
        "memory_count" | "session_wrote" | "deleted" => &["store", "count", "min", "max"],
        "operations_include" => &["store", "values"],
        "latency_ms" => &["max"],
        "isolation" => &["columns"],
        "llm_rubric" => &["rubric"],
        _ => &[],
    };
    let present: [(&str, Option<usize>); 10] = [
        ("value", r.value.as_ref().map(|v| v.span().start)),
        ("values", r.values.as_ref().map(|v| v.span().start)),
        ("store", r.store.as_ref().map(|v| v.span().start)),
        ("path", r.path.as_ref().map(|v| v.span().start)),
        (
            "ignore_case",
            r.ignore_case.as_ref().map(|v| v.span().start),
        ),
        ("count", r.count.as_ref().map(|v| v.span().start)),
        ("min", r.min.as_ref().map(|v| v.span().start)),
        ("max", r.max.as_ref().map(|v| v.span().start)),
        ("columns", r.columns.as_ref().map(|v| v.span().start)),
        ("rubric", r.rubric.as_ref().map(|v| v.span().start)),
    ];
    for (name, at) in present {
        if let Some(at) = at
            && !allowed.contains(&name)
        {
            let takes = if allowed.is_empty() {
                "no fields besides `name`".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(ctx.err(
                at,
                &format!("{field}.{name}"),
                format!("`{written}` does not take `{name}` (it takes: {takes})"),
            ));
        }
    }

    let start = raw.span().start;
    let need_value = || -> Result<String, LoadError> {
        match &r.value {
            Some(v) => ctx.render(v, &format!("{field}.value")),
            None => Err(ctx.err(
                start,
                &format!("{field}.value"),
                format!("`{written}` needs `value`"),
            )),
        }
    };
    let need_values = || -> Result<Vec<String>, LoadError> {
        let Some(vs) = &r.values else {
            return Err(ctx.err(
                start,
                &format!("{field}.values"),
                format!("`{written}` needs `values = [...]`"),
            ));
        };
        if vs.get_ref().is_empty() {
            return Err(ctx.err(
                vs.span().start,
                &format!("{field}.values"),
                "`values` is empty",
            ));
        }
        vs.get_ref()
            .iter()
            .enumerate()
            .map(|(i, v)| ctx.render(v, &format!("{field}.values[{}]", i + 1)))
            .collect()
    };
    let store_field = format!("{field}.store");
    let resolve_store = |s: &Str| -> Result<&StoreRef, LoadError> {
        ctx.stores
            .iter()
            .find(|st| st.key == *s.get_ref())
            .ok_or_else(|| {
                let keys: Vec<&str> = ctx.stores.iter().map(|s| s.key.as_str()).collect();
                ctx.err(
                    s.span().start,
                    &store_field,
                    format!(
                        "no store with key `{}`{} (stores: {})",
                        s.get_ref(),
                        suggest(s.get_ref(), &keys),
                        if keys.is_empty() {
                            "none".to_string()
                        } else {
                            keys.join(", ")
                        }
                    ),
                )
            })
    };
    // A memory check's store: as given, or the only read_write store.
    let need_store = || -> Result<String, LoadError> {
        if let Some(s) = &r.store {
            return Ok(resolve_store(s)?.key.clone());
        }
        let rw: Vec<&StoreRef> = ctx
            .stores
            .iter()
            .filter(|s| s.access == Access::ReadWrite)
            .collect();
        match rw.as_slice() {
            [only] => Ok(only.key.clone()),
            _ => Err(ctx.err(
                start,
                &store_field,
                format!(
                    "`{written}` needs `store` (it may be left out only when the scenario has exactly one read_write store; it has {})",
                    rw.len()
                ),
            )),
        }
    };
    let optional_store = || -> Result<Option<String>, LoadError> {
        r.store
            .as_ref()
            .map(|s| resolve_store(s).map(|st| st.key.clone()))
            .transpose()
    };
    let range = |default: Option<CountRange>| -> Result<CountRange, LoadError> {
        if let Some(c) = &r.count {
            if let Some(other) = r.min.as_ref().or(r.max.as_ref()) {
                return Err(ctx.err(
                    other.span().start,
                    &format!("{field}.count"),
                    "give either `count` or `min`/`max`, not both",
                ));
            }
            return Ok(CountRange::exactly(*c.get_ref()));
        }
        let range = CountRange {
            min: r.min.as_ref().map(|m| *m.get_ref()),
            max: r.max.as_ref().map(|m| *m.get_ref()),
        };
        if let (Some(a), Some(b)) = (range.min, range.max)
            && a > b
        {
            return Err(ctx.err(
                r.min.as_ref().map_or(start, |m| m.span().start),
                &format!("{field}.min"),
                format!("`min` ({a}) is above `max` ({b})"),
            ));
        }
        match (range.min, range.max, default) {
            (None, None, Some(d)) => Ok(d),
            (None, None, None) => Err(ctx.err(
                start,
                &format!("{field}.count"),
                format!("`{written}` needs `count`, `min` or `max`"),
            )),
            _ => Ok(range),
        }
    };

    let reply = |matcher: TextMatch| Ok(Check::Reply { matcher, negate });
    match base {
        "contains" => reply(TextMatch::Contains(need_value()?)),
        "icontains" => reply(TextMatch::IContains(need_value()?)),
        "starts_with" => reply(TextMatch::StartsWith(need_value()?)),
        "equals" => reply(TextMatch::Equals(need_value()?)),
        "contains_any" => reply(TextMatch::ContainsAny(need_values()?)),
        "icontains_any" => reply(TextMatch::IContainsAny(need_values()?)),
        "contains_all" => reply(TextMatch::ContainsAll(need_values()?)),
        "icontains_all" => reply(TextMatch::IContainsAll(need_values()?)),
        "regex" => {
            let pattern = need_value()?;
            match regex::Regex::new(&pattern) {
                Ok(re) => reply(TextMatch::Regex(re)),
                Err(e) => {
                    let at = r.value.as_ref().map_or(start, |v| v.span().start);
                    let who = ctx
                        .customer
                        .map(|c| format!(" (customer `{c}`)"))
                        .unwrap_or_default();
                    let detail = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    Err(ctx.err(
                        at,
                        &format!("{field}.value"),
                        format!("invalid regex{who}: {detail}"),
                    ))
                }
            }
        }
        "read_memory_before_reply" => Ok(Check::ReadMemoryBeforeReply {
            store: optional_store()?,
            negate,
        }),
        "wrote_memory" => Ok(Check::WroteMemory {
            store: optional_store()?,
            negate,
        }),
        "no_write_to_read_only" => {
            if let Some(s) = &r.store {
                let st = resolve_store(s)?;
                if st.access != Access::ReadOnly {
                    return Err(ctx.err(
                        s.span().start,
                        &store_field,
                        format!("store `{}` is not read_only", st.key),
                    ));
                }
            } else if !ctx.stores.iter().any(|s| s.access == Access::ReadOnly) {
                return Err(ctx.err(start, &kind_field, "the scenario has no read_only store"));
            }
            Ok(Check::NoWriteToReadOnly {
                store: optional_store()?,
            })
        }
        "memory_contains" | "memory_not_contains" => Ok(Check::MemoryContains {
            store: need_store()?,
            text: need_value()?,
            ignore_case: r.ignore_case.as_ref().is_some_and(|b| *b.get_ref()),
            path: r
                .path
                .as_ref()
                .map(|p| ctx.render(p, &format!("{field}.path")))
                .transpose()?,
            negate: negate || base == "memory_not_contains",
        }),
        "path_exists" => {
            let Some(p) = &r.path else {
                return Err(ctx.err(
                    start,
                    &format!("{field}.path"),
                    "`path_exists` needs `path`",
                ));
            };
            let path = ctx.render(p, &format!("{field}.path"))?;
            if !path.starts_with('/') {
                return Err(ctx.err(
                    p.span().start,
                    &format!("{field}.path"),
                    "a memory path starts with `/`",
                ));
            }
            Ok(Check::PathExists {
                store: need_store()?,
                path,
                negate,
            })
        }
        "memory_count" => Ok(Check::MemoryCount {
            store: need_store()?,
            range: range(None)?,
        }),
        "session_wrote" => Ok(Check::SessionWrote {
            store: need_store()?,
            range: range(Some(CountRange::at_least(1)))?,
        }),
        "deleted" => Ok(Check::Deleted {
            store: need_store()?,
            range: range(Some(CountRange::at_least(1)))?,
        }),
        "operations_include" => {
            let ops = need_values()?;
            if let Some(vs) = &r.values {
                for (i, op) in ops.iter().enumerate() {
                    if !OPERATIONS.contains(&op.as_str()) {
                        let at = vs.get_ref().get(i).map_or(start, |v| v.span().start);
                        return Err(ctx.err(
                            at,
                            &format!("{field}.values[{}]", i + 1),
                            format!(
                                "unknown operation `{op}`{} (operations: {})",
                                suggest(op, OPERATIONS),
                                OPERATIONS.join(", ")
                            ),
                        ));
                    }
                }
            }
            Ok(Check::OperationsInclude {
                store: need_store()?,
                operations: ops,
                negate,
            })
        }
        "stop_reason" => {
            let value = need_value()?;
            if !STOP_REASONS.contains(&value.as_str()) {
                let at = r.value.as_ref().map_or(start, |v| v.span().start);
                return Err(ctx.err(
                    at,
                    &format!("{field}.value"),
                    format!(
                        "unknown stop reason `{value}`{} (stop reasons: {})",
                        suggest(&value, STOP_REASONS),
                        STOP_REASONS.join(", ")
                    ),
                ));
            }
            Ok(Check::StopReason { value })
        }
        "llm_rubric" => match &r.rubric {
            Some(v) => Ok(Check::LlmRubric {
                rubric: ctx.render(v, &format!("{field}.rubric"))?,
            }),
            None => Err(ctx.err(
                start,
                &format!("{field}.rubric"),
                "`llm_rubric` needs `rubric` (what a grader model judges the reply against)",
            )),
        },
        "latency_ms" => match &r.max {
            Some(m) => Ok(Check::LatencyMs { max: *m.get_ref() }),
            None => Err(ctx.err(
                start,
                &format!("{field}.max"),
                "`latency_ms` needs `max` (milliseconds to idle)",
            )),
        },
        "isolation" => {
            let Some(cols) = &r.columns else {
                return Err(ctx.err(
                    start,
                    &format!("{field}.columns"),
                    "`isolation` needs `columns = [...]` (CSV columns)",
                ));
            };
            let Some(known) = ctx.columns else {
                return Err(ctx.err(
                    start,
                    &kind_field,
                    "`isolation` needs a customers file (`customers = \"file.csv\"`)",
                ));
            };
            if cols.get_ref().is_empty() {
                return Err(ctx.err(
                    cols.span().start,
                    &format!("{field}.columns"),
                    "`columns` is empty",
                ));
            }
            let mut columns = Vec::new();
            for (i, c) in cols.get_ref().iter().enumerate() {
                if !known.contains(c.get_ref()) {
                    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                    return Err(ctx.err(
                        c.span().start,
                        &format!("{field}.columns[{}]", i + 1),
                        format!(
                            "no column `{}` in the customers file{} (columns: {})",
                            c.get_ref(),
                            suggest(c.get_ref(), &refs),
                            known.join(", ")
                        ),
                    ));
                }
                columns.push(c.get_ref().clone());
            }
            Ok(Check::Isolation { columns })
        }
        other => Err(ctx.err(
            start,
            &kind_field,
            format!("unhandled check kind `{other}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("contians", KINDS), " (did you mean `contains`?)");
        assert_eq!(
            suggest("contains-any", KINDS),
            " (did you mean `contains_any`?)"
        );
        assert_eq!(suggest("zzzzzz", KINDS), "");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
