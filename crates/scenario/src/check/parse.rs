//! Builds [`Check`]s from the file's `[[...checks]]` tables, refusing unknown kinds, fields that
//! do not apply to a kind, bad regexes, unknown stores and unknown CSV columns — each with its
//! `line:column` and field path.

use cma_client::types::Access;
use toml::Spanned;

pub mod kinds;
mod tools;

use super::{Check, CountRange, TextMatch};
use crate::error::LoadError;
use crate::spec::{Ctx, RawCheck, StoreRef, Str, suggest};
use kinds::{KINDS, Kind};

pub const STOP_REASONS: &[&str] = &[
    "end_turn",
    "requires_action",
    "retries_exhausted",
    "budget_reached",
    "refusal",
];
pub const OPERATIONS: &[&str] = &["created", "modified", "deleted"];

/// A check's fields as written, with what building it needs: the kind table's `build` functions
/// call these to read, render and validate each field.
pub(crate) struct Fields<'a> {
    raw: &'a RawCheck,
    ctx: &'a Ctx<'a>,
    /// `visits[1].turns[1].checks[2]`.
    field: &'a str,
    /// The kind as written, with any `not_`.
    written: &'a str,
    /// Where the check's table starts, for errors about missing fields.
    start: usize,
    /// Written with `not_`.
    pub negate: bool,
}

impl Fields<'_> {
    fn err(&self, at: usize, name: &str, message: impl Into<String>) -> LoadError {
        self.ctx.err(at, &format!("{}.{name}", self.field), message)
    }

    pub fn reply(&self, matcher: TextMatch) -> Result<Check, LoadError> {
        Ok(Check::Reply {
            matcher,
            negate: self.negate,
        })
    }

    pub fn value(&self) -> Result<String, LoadError> {
        match &self.raw.value {
            Some(v) => self.ctx.render(v, &format!("{}.value", self.field)),
            None => Err(self.err(
                self.start,
                "value",
                format!("`{}` needs `value`", self.written),
            )),
        }
    }

    pub fn values(&self) -> Result<Vec<String>, LoadError> {
        let Some(vs) = &self.raw.values else {
            return Err(self.err(
                self.start,
                "values",
                format!("`{}` needs `values = [...]`", self.written),
            ));
        };
        if vs.get_ref().is_empty() {
            return Err(self.err(vs.span().start, "values", "`values` is empty"));
        }
        vs.get_ref()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                self.ctx
                    .render(v, &format!("{}.values[{}]", self.field, i + 1))
            })
            .collect()
    }

    pub fn regex(&self) -> Result<regex::Regex, LoadError> {
        let pattern = self.value()?;
        regex::Regex::new(&pattern).map_err(|e| {
            let at = self
                .raw
                .value
                .as_ref()
                .map_or(self.start, |v| v.span().start);
            let who = self
                .ctx
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
            self.err(at, "value", format!("invalid regex{who}: {detail}"))
        })
    }

    fn resolve_store(&self, s: &Str) -> Result<&StoreRef, LoadError> {
        self.ctx
            .stores
            .iter()
            .find(|st| st.key == *s.get_ref())
            .ok_or_else(|| {
                let keys: Vec<&str> = self.ctx.stores.iter().map(|s| s.key.as_str()).collect();
                self.err(
                    s.span().start,
                    "store",
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
    }

    /// A memory check's store: as given, or the only read_write store.
    pub fn store(&self) -> Result<String, LoadError> {
        if let Some(s) = &self.raw.store {
            return Ok(self.resolve_store(s)?.key.clone());
        }
        let rw: Vec<&StoreRef> = self
            .ctx
            .stores
            .iter()
            .filter(|s| s.access == Access::ReadWrite)
            .collect();
        match rw.as_slice() {
            [only] => Ok(only.key.clone()),
            _ => Err(self.err(
                self.start,
                "store",
                format!(
                    "`{}` needs `store` (it may be left out only when the scenario has exactly one read_write store; it has {})",
                    self.written,
                    rw.len()
                ),
            )),
        }
    }

    pub fn optional_store(&self) -> Result<Option<String>, LoadError> {
        self.raw
            .store
            .as_ref()
            .map(|s| self.resolve_store(s).map(|st| st.key.clone()))
            .transpose()
    }

    /// A read_only store, if named; without one the scenario must have some read_only store.
    pub fn read_only_store(&self) -> Result<Option<String>, LoadError> {
        if let Some(s) = &self.raw.store {
            let st = self.resolve_store(s)?;
            if st.access != Access::ReadOnly {
                return Err(self.err(
                    s.span().start,
                    "store",
                    format!("store `{}` is not read_only", st.key),
                ));
            }
            return Ok(Some(st.key.clone()));
        }
        if !self.ctx.stores.iter().any(|s| s.access == Access::ReadOnly) {
            return Err(self.err(self.start, "kind", "the scenario has no read_only store"));
        }
        Ok(None)
    }

    pub fn memory_contains(&self, negate: bool) -> Result<Check, LoadError> {
        Ok(Check::MemoryContains {
            store: self.store()?,
            text: self.value()?,
            ignore_case: self.raw.ignore_case.as_ref().is_some_and(|b| *b.get_ref()),
            path: self
                .raw
                .path
                .as_ref()
                .map(|p| self.ctx.render(p, &format!("{}.path", self.field)))
                .transpose()?,
            negate,
        })
    }

    /// A `path` that must be there and start with `/`.
    pub fn memory_path(&self) -> Result<String, LoadError> {
        let Some(p) = &self.raw.path else {
            return Err(self.err(
                self.start,
                "path",
                format!("`{}` needs `path`", self.written),
            ));
        };
        let path = self.ctx.render(p, &format!("{}.path", self.field))?;
        if !path.starts_with('/') {
            return Err(self.err(p.span().start, "path", "a memory path starts with `/`"));
        }
        Ok(path)
    }

    pub fn range(&self, default: Option<CountRange>) -> Result<CountRange, LoadError> {
        let r = self.raw;
        if let Some(c) = &r.count {
            if let Some(other) = r.min.as_ref().or(r.max.as_ref()) {
                return Err(self.err(
                    other.span().start,
                    "count",
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
            return Err(self.err(
                r.min.as_ref().map_or(self.start, |m| m.span().start),
                "min",
                format!("`min` ({a}) is above `max` ({b})"),
            ));
        }
        match (range.min, range.max, default) {
            (None, None, Some(d)) => Ok(d),
            (None, None, None) => Err(self.err(
                self.start,
                "count",
                format!("`{}` needs `count`, `min` or `max`", self.written),
            )),
            _ => Ok(range),
        }
    }

    pub fn operations(&self) -> Result<Vec<String>, LoadError> {
        let ops = self.values()?;
        for (i, op) in ops.iter().enumerate() {
            if !OPERATIONS.contains(&op.as_str()) {
                let at = self
                    .raw
                    .values
                    .as_ref()
                    .and_then(|vs| vs.get_ref().get(i))
                    .map_or(self.start, |v| v.span().start);
                return Err(self.err(
                    at,
                    &format!("values[{}]", i + 1),
                    format!(
                        "unknown operation `{op}`{} (operations: {})",
                        suggest(op, OPERATIONS),
                        OPERATIONS.join(", ")
                    ),
                ));
            }
        }
        Ok(ops)
    }

    pub fn stop_reason(&self) -> Result<String, LoadError> {
        let value = self.value()?;
        if !STOP_REASONS.contains(&value.as_str()) {
            let at = self
                .raw
                .value
                .as_ref()
                .map_or(self.start, |v| v.span().start);
            return Err(self.err(
                at,
                "value",
                format!(
                    "unknown stop reason `{value}`{} (stop reasons: {})",
                    suggest(&value, STOP_REASONS),
                    STOP_REASONS.join(", ")
                ),
            ));
        }
        Ok(value)
    }

    pub fn rubric(&self) -> Result<String, LoadError> {
        match &self.raw.rubric {
            Some(v) => self.ctx.render(v, &format!("{}.rubric", self.field)),
            None => Err(self.err(
                self.start,
                "rubric",
                "`llm_rubric` needs `rubric` (what a grader model judges the reply against)",
            )),
        }
    }

    pub fn max_ms(&self) -> Result<u64, LoadError> {
        match &self.raw.max {
            Some(m) => Ok(*m.get_ref()),
            None => Err(self.err(
                self.start,
                "max",
                format!("`{}` needs `max` (milliseconds to idle)", self.written),
            )),
        }
    }

    pub fn columns(&self) -> Result<Vec<String>, LoadError> {
        let Some(cols) = &self.raw.columns else {
            return Err(self.err(
                self.start,
                "columns",
                format!("`{}` needs `columns = [...]` (CSV columns)", self.written),
            ));
        };
        let Some(known) = self.ctx.columns else {
            return Err(self.err(
                self.start,
                "kind",
                format!(
                    "`{}` needs a customers file (`customers = \"file.csv\"`)",
                    self.written
                ),
            ));
        };
        if cols.get_ref().is_empty() {
            return Err(self.err(cols.span().start, "columns", "`columns` is empty"));
        }
        let mut columns = Vec::new();
        for (i, c) in cols.get_ref().iter().enumerate() {
            if !known.contains(c.get_ref()) {
                let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(self.err(
                    c.span().start,
                    &format!("columns[{}]", i + 1),
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
        Ok(columns)
    }
}

/// The byte offset of each field a check may carry, by name, when present.
fn present_fields(r: &RawCheck) -> [(&'static str, Option<usize>); 12] {
    [
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
        ("tool", r.tool.as_ref().map(|v| v.span().start)),
        (
            "input_contains",
            r.input_contains.as_ref().map(|v| v.span().start),
        ),
    ]
}

/// Splits `not_x` into (`x`, negated), refusing `not_` on a kind that does not take it and
/// naming kinds that do not exist.
pub(crate) fn kind_of(
    written: &str,
    at: usize,
    field: &str,
    ctx: &Ctx<'_>,
) -> Result<(&'static Kind, bool), LoadError> {
    let (base, negate) = match written.strip_prefix("not_") {
        Some(rest) => (rest, true),
        None => (written, false),
    };
    match kinds::find(base) {
        Some(k) if negate && !k.negatable => {
            let negatable: Vec<&str> = KINDS
                .iter()
                .filter(|k| k.negatable)
                .map(|k| k.name)
                .collect();
            Err(ctx.err(
                at,
                field,
                format!(
                    "`{base}` cannot be negated with `not_` (negatable kinds: {})",
                    negatable.join(", ")
                ),
            ))
        }
        Some(k) => Ok((k, negate)),
        None => {
            let mut all: Vec<String> = KINDS.iter().map(|k| k.name.to_string()).collect();
            all.extend(
                KINDS
                    .iter()
                    .filter(|k| k.negatable)
                    .map(|k| format!("not_{}", k.name)),
            );
            let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
            Err(ctx.err(
                at,
                field,
                format!(
                    "unknown check kind `{written}`{}; kinds: {}",
                    suggest(written, &all_refs),
                    names.join(", ")
                ),
            ))
        }
    }
}

pub(crate) fn parse(
    raw: &Spanned<RawCheck>,
    field: &str,
    ctx: &Ctx<'_>,
) -> Result<Check, LoadError> {
    let r = raw.get_ref();
    let written = r.kind.get_ref().as_str();
    let (kind, negate) = kind_of(written, r.kind.span().start, &format!("{field}.kind"), ctx)?;
    for (name, at) in present_fields(r) {
        if let Some(at) = at
            && !kind.field_names().any(|f| f == name)
        {
            let takes: Vec<&str> = kind.field_names().collect();
            let takes = if takes.is_empty() {
                "no fields besides `name` and `portable`".to_string()
            } else {
                takes.join(", ")
            };
            return Err(ctx.err(
                at,
                &format!("{field}.{name}"),
                format!("`{written}` does not take `{name}` (it takes: {takes})"),
            ));
        }
    }
    let fields = Fields {
        raw: r,
        ctx,
        field,
        written,
        start: raw.span().start,
        negate,
    };
    (kind.build)(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::distance;

    #[test]
    fn suggestions() {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        assert_eq!(suggest("contians", &names), " (did you mean `contains`?)");
        assert_eq!(
            suggest("contains-any", &names),
            " (did you mean `contains_any`?)"
        );
        assert_eq!(suggest("zzzzzz", &names), "");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
