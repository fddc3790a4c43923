//! `cma lint`: finds checks that assert one agent's wording instead of what the script gave.
//!
//! A scenario is portable when its reply and memory checks assert values from the script
//! itself — what the customer said (turns), seeded memories (of any store), the customer's CSV
//! values — or phrasing any competent agent would use. For each check, per customer:
//!
//! - `contains`, `icontains`, `starts_with`, `equals`, `contains_all`, `icontains_all` and
//!   `memory_contains`: every value must occur in the inputs, ignoring case;
//! - `contains_any`, `icontains_any`: a list of two or more alternatives is a set of
//!   phrasings (the portable way to accept wording, e.g. ways to abstain) and passes; a single
//!   value must occur in the inputs;
//! - `regex`: a pattern whose top level is an alternation (`a|b`) is a set of phrasings and
//!   passes; otherwise each of its literal fragments (the runs of plain characters, e.g.
//!   `size ` and ` — $` in `size \d+ — \$`) holding a letter or digit must occur in the inputs;
//! - `path_exists`, and `memory_contains` with `path`: the path must be seeded (or, ending in
//!   `/`, hold a seeded memory) — any other path is one agent's notes layout.
//!
//! Negated checks (`not_…`, `memory_not_contains`) assert an absence and are never flagged, nor
//! are tool-use, history, count, outcome and isolation checks. `portable = false` on a check
//! silences it. A templated check is reported once, for the first customer it fails for.
//!
//! Canned tool answers count as inputs (the agent receives them as tool results). A custom
//! tool with no canned answer for some customer is flagged at its name, unless a
//! `not_called_tool` check names it.

use std::fmt;
use std::path::PathBuf;

use regex_syntax::ast::{self, Ast};
use toml::Spanned;

use crate::check::kinds::{self, Asserts};
use crate::check::{Check, CheckSpec, TextMatch};
use crate::error::{LoadError, LoadErrors, line_column};
use crate::load::{load_paths, parse_toml};
use crate::scenario::{Scenario, Script};
use crate::spec::{RawCheck, RawScenario};

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A reply or memory text nobody in the script gave.
    Wording,
    /// A memory path nothing seeded.
    Layout,
    /// A custom tool with no canned answer: any agent that calls it fails the turn.
    Unanswered,
}

/// One non-portable check, located at the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The check's label: its `name`, else a description such as `contains "Noted:"`.
    pub check: String,
    /// The text (or path) not found in the script's inputs.
    pub text: String,
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Problem::Wording => "asserts text the customer never gave (agent-specific wording)",
            Problem::Layout => {
                "names a memory path the script never seeded (agent-specific notes layout)"
            }
            Problem::Unanswered => {
                "has no `[[tool_answers]]`: an agent that calls it fails the turn"
            }
        };
        write!(
            f,
            "{}:{}:{}: {}: {what}",
            self.path.display(),
            self.line,
            self.column,
            self.check
        )
    }
}

/// Loads every scenario under `paths` (a bad file is an error, as for `cma run`) and lints it.
pub fn lint_paths(paths: &[PathBuf]) -> Result<Vec<Finding>, LoadErrors> {
    lint(&load_paths(paths)?)
}

/// Lints loaded scenarios; their files are read again for the checks' positions.
pub fn lint(scenarios: &[Scenario]) -> Result<Vec<Finding>, LoadErrors> {
    let mut out = Vec::new();
    for s in scenarios {
        let source = std::fs::read_to_string(&s.path)
            .map_err(|e| LoadError::file(&s.path, format!("cannot read: {e}")))?;
        out.extend(lint_scenario(s, &source)?);
    }
    Ok(out)
}

/// Lints one scenario loaded from `source`.
pub fn lint_scenario(scenario: &Scenario, source: &str) -> Result<Vec<Finding>, LoadErrors> {
    let raw = parse_toml(&scenario.path, source)?;
    let raw_checks = raw_checks_in_order(&raw);
    let mut findings: Vec<Finding> = Vec::new();
    for script in &scenario.scripts {
        let inputs = Inputs::of(script);
        for (spec, raw) in script.all_checks().zip(&raw_checks) {
            if raw
                .get_ref()
                .portable
                .as_ref()
                .is_some_and(|p| !p.get_ref())
            {
                continue;
            }
            for (at, text, problem) in unfounded(spec, raw.get_ref(), &inputs) {
                let (line, column) = line_column(source, at);
                if findings
                    .iter()
                    .any(|f| f.line == line && f.column == column)
                {
                    continue;
                }
                findings.push(Finding {
                    path: scenario.path.clone(),
                    line,
                    column,
                    check: spec.label.clone(),
                    text,
                    problem,
                });
            }
        }
    }
    findings.extend(unanswered_tools(scenario, &raw, source));
    findings.sort_by_key(|f| (f.line, f.column));
    Ok(findings)
}

/// Custom tools no visit of some customer's script has a canned answer for — unless a
/// `not_called_tool` check names the tool: then a call failing the turn is the point.
fn unanswered_tools(scenario: &Scenario, raw: &RawScenario, source: &str) -> Vec<Finding> {
    let Some(agent) = &raw.agent else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in &agent.get_ref().custom_tools {
        let name = t.get_ref().name.get_ref();
        let unanswered = scenario.scripts.iter().any(|script| {
            let forbidden = script.all_checks().any(|c| {
                matches!(&c.check, Check::CalledTool { tool, negate: true, .. } if tool == name)
            });
            let answered = script
                .visits
                .iter()
                .flat_map(|v| &v.tool_answers)
                .chain(&script.tool_answers)
                .any(|a| a.tool == *name);
            !answered && !forbidden
        });
        if unanswered {
            let (line, column) = line_column(source, t.get_ref().name.span().start);
            out.push(Finding {
                path: scenario.path.clone(),
                line,
                column,
                check: format!("custom tool `{name}`"),
                text: name.clone(),
                problem: Problem::Unanswered,
            });
        }
    }
    out
}

/// The file's checks in [`Script::all_checks`] order: each visit's turns' checks, the visit's
/// checks, then the end checks.
fn raw_checks_in_order(raw: &RawScenario) -> Vec<&Spanned<RawCheck>> {
    let mut out = Vec::new();
    for v in &raw.visits {
        for t in &v.get_ref().turns {
            out.extend(t.get_ref().checks.iter());
        }
        out.extend(v.get_ref().checks.iter());
    }
    out.extend(raw.checks.iter());
    out
}

/// What the script gives the agent (turns, seeded memories, CSV values, canned tool answers),
/// lowercased.
struct Inputs {
    text: String,
    seeded_paths: Vec<String>,
}

impl Inputs {
    fn of(script: &Script) -> Self {
        let mut parts: Vec<&str> = script
            .visits
            .iter()
            .flat_map(|v| v.turns.iter().map(|t| t.user.as_str()))
            .collect();
        parts.extend(
            script
                .stores
                .iter()
                .flat_map(|s| s.memories.iter().map(|m| m.content.as_str())),
        );
        parts.extend(script.customer.values.values().map(String::as_str));
        // Canned tool answers are given to the agent as tool results.
        parts.extend(
            script
                .visits
                .iter()
                .flat_map(|v| &v.tool_answers)
                .chain(&script.tool_answers)
                .map(|a| a.content.as_str()),
        );
        Inputs {
            text: parts.join("\n").to_lowercase(),
            seeded_paths: script
                .stores
                .iter()
                .flat_map(|s| s.memories.iter().map(|m| m.path.clone()))
                .collect(),
        }
    }

    fn has(&self, text: &str) -> bool {
        self.text.contains(&text.to_lowercase())
    }

    fn seeded(&self, path: &str) -> bool {
        if path.ends_with('/') {
            self.seeded_paths.iter().any(|p| p.starts_with(path))
        } else {
            self.seeded_paths.iter().any(|p| p == path)
        }
    }
}

/// Where the check's `value`, its `values[i]`, or its `path` starts (else the check itself).
fn value_at(raw: &RawCheck, i: Option<usize>) -> usize {
    let whole = raw.kind.span().start;
    match i {
        None => raw.value.as_ref().map_or(whole, |v| v.span().start),
        Some(i) => raw
            .values
            .as_ref()
            .and_then(|vs| vs.get_ref().get(i))
            .map_or(whole, |v| v.span().start),
    }
}

fn path_at(raw: &RawCheck) -> usize {
    raw.path
        .as_ref()
        .map_or(raw.kind.span().start, |p| p.span().start)
}

/// The check's texts that are in none of the inputs, with their byte offsets.
fn unfounded(spec: &CheckSpec, raw: &RawCheck, inputs: &Inputs) -> Vec<(usize, String, Problem)> {
    let (kind, negated) = kinds::of(&spec.check);
    if negated {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut wording = |at: usize, text: &str| {
        if !inputs.has(text) {
            out.push((at, text.to_string(), Problem::Wording));
        }
    };
    match (kind.asserts, &spec.check) {
        (Asserts::EachValue, Check::Reply { matcher, .. }) => match matcher {
            TextMatch::Contains(s)
            | TextMatch::IContains(s)
            | TextMatch::StartsWith(s)
            | TextMatch::Equals(s) => wording(value_at(raw, None), s),
            TextMatch::ContainsAll(v) | TextMatch::IContainsAll(v) => {
                for (i, s) in v.iter().enumerate() {
                    wording(value_at(raw, Some(i)), s);
                }
            }
            _ => {}
        },
        (
            Asserts::AnyValue,
            Check::Reply {
                matcher: TextMatch::ContainsAny(v) | TextMatch::IContainsAny(v),
                ..
            },
        ) => {
            if let [only] = v.as_slice() {
                wording(value_at(raw, Some(0)), only);
            }
        }
        (
            Asserts::Pattern,
            Check::Reply {
                matcher: TextMatch::Regex(re),
                ..
            },
        ) => {
            if let Some(missing) = regex_fragments(re.as_str())
                .into_iter()
                .find(|f| !inputs.has(f))
            {
                out.push((value_at(raw, None), missing, Problem::Wording));
            }
        }
        (Asserts::Memory, Check::MemoryContains { text, path, .. }) => {
            wording(value_at(raw, None), text);
            if let Some(p) = path
                && !inputs.seeded(p)
            {
                out.push((path_at(raw), p.clone(), Problem::Layout));
            }
        }
        (Asserts::Path, Check::PathExists { path, .. }) if !inputs.seeded(path) => {
            out.push((path_at(raw), path.clone(), Problem::Layout));
        }
        _ => {}
    }
    out
}

/// The literal fragments a regex requires, trimmed, holding a letter or digit; none for a
/// top-level alternation (a set of phrasings) or a pattern that does not parse.
pub(crate) fn regex_fragments(pattern: &str) -> Vec<String> {
    let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
        return Vec::new();
    };
    if alternatives(&ast) > 1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    collect(&ast, &mut cur, &mut out);
    flush(&mut cur, &mut out);
    out
}

/// How many branches the pattern's top level offers (looking through groups and flags).
fn alternatives(ast: &Ast) -> usize {
    match ast {
        Ast::Alternation(a) => a.asts.len(),
        Ast::Group(g) => alternatives(&g.ast),
        Ast::Concat(c) => {
            let parts: Vec<&Ast> = c
                .asts
                .iter()
                .filter(|a| !matches!(a, Ast::Flags(_) | Ast::Assertion(_) | Ast::Empty(_)))
                .collect();
            match parts.as_slice() {
                [one] => alternatives(one),
                _ => 1,
            }
        }
        _ => 1,
    }
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    let t = cur.trim();
    if t.chars().any(char::is_alphanumeric) {
        out.push(t.to_string());
    }
    cur.clear();
}

/// Appends required literal runs: literals extend the current run; a group continues it; a
/// repetition of at least one keeps its inner literals as runs of their own; alternatives,
/// classes and optional parts end it.
fn collect(ast: &Ast, cur: &mut String, out: &mut Vec<String>) {
    match ast {
        Ast::Literal(l) => cur.push(l.c),
        Ast::Concat(c) => {
            for a in &c.asts {
                collect(a, cur, out);
            }
        }
        Ast::Group(g) => collect(&g.ast, cur, out),
        Ast::Flags(_) | Ast::Empty(_) => {}
        Ast::Repetition(r) => {
            flush(cur, out);
            let required = match &r.op.kind {
                ast::RepetitionKind::OneOrMore => true,
                ast::RepetitionKind::Range(
                    ast::RepetitionRange::Exactly(n)
                    | ast::RepetitionRange::AtLeast(n)
                    | ast::RepetitionRange::Bounded(n, _),
                ) => *n >= 1,
                _ => false,
            };
            if required {
                collect(&r.ast, cur, out);
                flush(cur, out);
            }
        }
        Ast::Alternation(_)
        | Ast::Dot(_)
        | Ast::Assertion(_)
        | Ast::ClassUnicode(_)
        | Ast::ClassPerl(_)
        | Ast::ClassBracketed(_) => flush(cur, out),
    }
}

#[cfg(test)]
mod tests {
    use super::regex_fragments;

    #[test]
    fn fragments_of_a_regex() {
        assert_eq!(
            regex_fragments(r"(?m)^\d\. .*size 32 — \$\d+$"),
            vec!["size 32 — $"]
        );
        assert_eq!(regex_fragments(r"(?i)\bsize\s+9\b"), vec!["size", "9"]);
        assert!(regex_fragments(r"(?i)(don't|do not) know|not noted").is_empty());
        assert!(regex_fragments(r"(?i)(?:don't|do not) have").len() == 1);
        assert_eq!(regex_fragments(r"colou?r"), vec!["colo", "r"]);
        assert_eq!(regex_fragments(r"(ab)+c"), vec!["ab", "c"]);
    }
}
