//! Judges a [`Check`] against what a run observed. Pure: no I/O, so every kind can be tested
//! on constructed turns and store states.

use cma_client::turn::{ToolUse, memory_paths};
use cma_client::types::{Access, Operation, SessionEvent};
use serde::{Deserialize, Serialize};

use super::{Check, Evidence, TextMatch, expected};
use crate::record::{StoreState, TurnRecord, under_mount};
use crate::text::shorten;

/// How much of a reply or memory a verdict quotes.
const QUOTE: usize = 300;

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub expected: String,
    pub seen: String,
    /// Why the check could not be judged (a grader model that refused, was cut off, answered
    /// something that is not a verdict, or could not be reached): a third outcome, shown as an
    /// error in every report, never as a pass or a fail. `passed` is then false, so the check
    /// still counts against its pass rate and the run does not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A verdict's outcome as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

impl Outcome {
    /// `pass`, `fail` or `error` (also the run page's CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        }
    }
}

impl Verdict {
    fn new(passed: bool, expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Verdict {
            passed,
            expected: expected.into(),
            seen: seen.into(),
            error: None,
        }
    }

    /// Passed, failed, or could not be judged.
    pub fn outcome(&self) -> Outcome {
        match (self.passed, &self.error) {
            (_, Some(_)) => Outcome::Error,
            (true, None) => Outcome::Pass,
            (false, None) => Outcome::Fail,
        }
    }

    /// The check could not be judged, for `why` (also its `seen`).
    pub fn error(expected: impl Into<String>, why: impl Into<String>) -> Self {
        let why = why.into();
        Verdict {
            passed: false,
            expected: expected.into(),
            seen: why.clone(),
            error: Some(why),
        }
    }

    /// A failure that is not the agent's answer: the turn never finished, a call failed, …
    pub fn failed(expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Verdict::new(false, expected, seen)
    }
}

/// Judges one check. A check whose scope holds a turn that did not finish (it timed out, the
/// session ended, a call failed, or it was never sent) fails, negated or not, and says why.
pub fn evaluate(check: &Check, ev: &Evidence<'_>) -> Verdict {
    let expected = expected(check);
    if let Some(t) = ev.turns.iter().find(|t| !t.finished()) {
        let reason = t.problem().unwrap_or("did not finish");
        return Verdict::failed(
            expected,
            format!("visit {} turn {} did not finish: {reason}", t.visit, t.turn),
        );
    }
    // A refused or failed turn fails every check of its scope with the reason, except the one
    // kind that asks about how turns end.
    if !matches!(check, Check::StopReason { .. })
        && let Some((t, why)) = ev.turns.iter().find_map(|t| Some((t, t.abnormal_end()?)))
    {
        return Verdict::failed(expected, format!("visit {} turn {} {why}", t.visit, t.turn));
    }
    let (passed, seen) = match check {
        Check::Reply { matcher, negate } => {
            let (ok, seen) = reply(matcher, ev);
            (ok != *negate, seen)
        }
        Check::ReadMemoryBeforeReply { store, negate } => match mount_of(ev, store.as_deref()) {
            Err(seen) => return Verdict::failed(expected, seen),
            Ok(mount) => {
                let (ok, seen) = read_before_reply(ev, mount);
                (ok != *negate, seen)
            }
        },
        Check::WroteMemory { store, negate } => match mount_of(ev, store.as_deref()) {
            Err(seen) => return Verdict::failed(expected, seen),
            Ok(mount) => {
                let writes = memory_writes(ev, mount);
                let seen = if writes.is_empty() {
                    format!(
                        "no memory writes among {} tool uses{}",
                        tool_use_count(ev),
                        tool_use_list(ev)
                    )
                } else {
                    format!("writes: {}", writes.join("; "))
                };
                (writes.is_empty() == *negate, seen)
            }
        },
        Check::CalledTool {
            tool,
            input,
            negate,
        } => {
            let (ok, seen) = super::eval_tools::called_tool(ev, tool, input.as_ref());
            (ok != *negate, seen)
        }
        Check::ToolAnswered { tool, range } => {
            let (n, seen) = super::eval_tools::tool_answered(ev, tool.as_deref());
            (range.contains(n), seen)
        }
        Check::NoWriteToReadOnly { store } => {
            let targets: Vec<&StoreState> = ev
                .stores
                .iter()
                .filter(|s| match store {
                    Some(k) => s.key == *k,
                    None => s.access == Access::ReadOnly,
                })
                .collect();
            if targets.is_empty() {
                return Verdict::failed(expected, "no such read_only store attached");
            }
            let mut problems = Vec::new();
            for s in targets {
                match s.mount() {
                    Some(mount) => {
                        for w in memory_writes(ev, Some(mount)) {
                            problems.push(format!("tool use wrote under {mount}: {w}"));
                        }
                    }
                    None => problems.push(format!("store `{}` was never mounted", s.key)),
                }
                match &s.snapshot {
                    None => problems.push(format!("store `{}` was not read", s.key)),
                    Some(snap) => {
                        for v in snap.versions_by_sessions(None) {
                            problems.push(format!(
                                "store `{}` has a {} version of {} by {}",
                                s.key,
                                v.operation,
                                v.path.as_deref().unwrap_or("(redacted)"),
                                v.created_by.as_ref().map(|a| a.label()).unwrap_or_default()
                            ));
                        }
                    }
                }
            }
            let seen = if problems.is_empty() {
                "no writes".to_string()
            } else {
                problems.join("; ")
            };
            (problems.is_empty(), seen)
        }
        Check::MemoryContains {
            store,
            text,
            ignore_case,
            path,
            negate,
        } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let files: Vec<_> = snap
                .memories
                .iter()
                .filter(|m| path_matches(&m.path, path.as_deref()))
                .collect();
            let hit = files
                .iter()
                .find_map(|m| find_line(&m.content, text, *ignore_case).map(|line| (m, line)));
            let seen = match hit {
                Some((m, line)) => format!("{}: {}", m.path, shorten(line.trim(), QUOTE)),
                None if files.is_empty() => match path {
                    Some(p) => format!(
                        "no memory at {p} ({} memories in the store)",
                        snap.memories.len()
                    ),
                    None => "the store is empty".to_string(),
                },
                None => format!(
                    "not in {} memories: {}",
                    files.len(),
                    shorten(
                        &files
                            .iter()
                            .map(|m| format!("{}: {:?}", m.path, m.content))
                            .collect::<Vec<_>>()
                            .join("; "),
                        QUOTE
                    )
                ),
            };
            (hit.is_some() != *negate, seen)
        }
        Check::PathExists {
            store,
            path,
            negate,
        } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let exists = snap.memories.iter().any(|m| m.path == *path);
            (
                exists != *negate,
                paths_seen(snap.memories.iter().map(|m| m.path.as_str())),
            )
        }
        Check::MemoryCount { store, range } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let n = snap.memories.len() as u64;
            (
                range.contains(n),
                format!(
                    "{n}: {}",
                    paths_seen(snap.memories.iter().map(|m| m.path.as_str()))
                ),
            )
        }
        Check::SessionWrote { store, range } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let versions: Vec<String> = snap
                .versions_by_sessions(Some(ev.sessions))
                .map(|v| {
                    format!(
                        "{} {}",
                        v.operation,
                        v.path.as_deref().unwrap_or("(redacted)")
                    )
                })
                .collect();
            let n = versions.len() as u64;
            let seen = if versions.is_empty() {
                "0 versions".to_string()
            } else {
                format!("{n}: {}", versions.join(", "))
            };
            (range.contains(n), seen)
        }
        Check::OperationsInclude {
            store,
            operations,
            negate,
        } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let mut present: Vec<&str> = Vec::new();
            for v in snap.versions_by_sessions(Some(ev.sessions)) {
                if !present.contains(&v.operation.as_str()) {
                    present.push(v.operation.as_str());
                }
            }
            let all = operations.iter().all(|o| present.contains(&o.as_str()));
            let seen = if present.is_empty() {
                "no versions by these sessions".to_string()
            } else {
                present.join(", ")
            };
            (all != *negate, seen)
        }
        Check::Deleted { store, range } => {
            let snap = match snapshot(ev, store) {
                Ok(s) => s,
                Err(seen) => return Verdict::failed(expected, seen),
            };
            let deleted: Vec<&str> = snap
                .versions_by_sessions(Some(ev.sessions))
                .filter(|v| v.operation == Operation::Deleted)
                .map(|v| v.path.as_deref().unwrap_or("(redacted)"))
                .collect();
            let n = deleted.len() as u64;
            (
                range.contains(n),
                if deleted.is_empty() {
                    "0".to_string()
                } else {
                    format!("{n}: {}", deleted.join(", "))
                },
            )
        }
        Check::StopReason { value } => {
            let mismatches: Vec<String> = ev
                .turns
                .iter()
                .filter(|t| t.stop_reason.as_deref() != Some(value))
                .map(|t| {
                    format!(
                        "visit {} turn {}: {}",
                        t.visit,
                        t.turn,
                        t.stop_reason.as_deref().unwrap_or("none")
                    )
                })
                .collect();
            let seen = if mismatches.is_empty() {
                value.clone()
            } else {
                mismatches.join("; ")
            };
            (mismatches.is_empty(), seen)
        }
        Check::LatencyMs { max } => {
            let mut worst: Option<(f64, &TurnRecord)> = None;
            let mut missing = Vec::new();
            for t in ev.turns {
                match t.timings.as_ref().and_then(|tm| tm.idle_ms) {
                    Some(ms) if worst.is_none_or(|(w, _)| ms > w) => worst = Some((ms, t)),
                    Some(_) => {}
                    None => missing.push(format!("visit {} turn {}: no idle", t.visit, t.turn)),
                }
            }
            if !missing.is_empty() {
                (false, missing.join("; "))
            } else {
                match worst {
                    None => (true, "no turns in scope".to_string()),
                    Some((ms, t)) => (
                        ms <= *max as f64,
                        format!("slowest {ms:.0} ms (visit {} turn {})", t.visit, t.turn),
                    ),
                }
            }
        }
        Check::Isolation { columns } => match isolation(ev, columns) {
            Err(seen) => return Verdict::failed(expected, seen),
            Ok(hits) if hits.is_empty() => (true, "no other customer's values".to_string()),
            Ok(hits) => (false, shorten(&hits.join("; "), QUOTE * 2)),
        },
        // Judged by a grader model in the runner (crate::grade); never without one.
        Check::LlmRubric { .. } => {
            return Verdict::failed(expected, "no grader model was given (--grader)");
        }
    };
    Verdict::new(passed, expected, seen)
}

/// The replies in scope, joined by blank lines.
pub(crate) fn replies(ev: &Evidence<'_>) -> String {
    ev.turns
        .iter()
        .map(|t| t.reply.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn reply(matcher: &TextMatch, ev: &Evidence<'_>) -> (bool, String) {
    let text = replies(ev);
    let lower = text.to_lowercase();
    let quote = if text.is_empty() {
        "(no reply)".to_string()
    } else {
        format!("{:?}", shorten(&text, QUOTE))
    };
    let missing = |v: &[String], ci: bool| -> Vec<String> {
        v.iter()
            .filter(|s| {
                if ci {
                    !lower.contains(&s.to_lowercase())
                } else {
                    !text.contains(s.as_str())
                }
            })
            .cloned()
            .collect()
    };
    let ok = match matcher {
        TextMatch::Contains(s) => text.contains(s.as_str()),
        TextMatch::IContains(s) => lower.contains(&s.to_lowercase()),
        TextMatch::ContainsAny(v) => v.iter().any(|s| text.contains(s.as_str())),
        TextMatch::IContainsAny(v) => v.iter().any(|s| lower.contains(&s.to_lowercase())),
        TextMatch::ContainsAll(v) | TextMatch::IContainsAll(v) => {
            let ci = matches!(matcher, TextMatch::IContainsAll(_));
            let gone = missing(v, ci);
            if !gone.is_empty() {
                return (false, format!("missing {}; reply {quote}", gone.join(", ")));
            }
            true
        }
        TextMatch::StartsWith(s) => text.trim_start().starts_with(s.as_str()),
        TextMatch::Regex(r) => r.is_match(&text),
        TextMatch::Equals(s) => text.trim() == s.trim(),
    };
    (ok, quote)
}

/// The mount a store key names, or `None` for "any mount".
fn mount_of<'a>(ev: &'a Evidence<'_>, store: Option<&str>) -> Result<Option<&'a str>, String> {
    match store {
        None => Ok(None),
        Some(k) => ev
            .stores
            .iter()
            .find(|s| s.key == k)
            .ok_or_else(|| format!("store `{k}` is not attached"))?
            .mount()
            .map(Some)
            .ok_or_else(|| format!("store `{k}` was never mounted by a session")),
    }
}

fn names_mount(paths: &[String], mount: Option<&str>) -> bool {
    match mount {
        None => !paths.is_empty(),
        Some(m) => paths.iter().any(|p| under_mount(p, m)),
    }
}

/// Per visit in scope: did the agent read the mount before its reply?
///
/// A *read* is a tool use naming the mount (any memory mount without `store`) that does not
/// write (`find`, `ls`, `cat`, `read`, `grep`, `glob`, …). The *reply* is the visit's first
/// `agent.message` that is not directly followed by another tool use: a "Let me check your
/// notes." said before reaching for the tools is not the reply. Without such a message, the
/// visit's last `agent.message` is the reply.
fn read_before_reply(ev: &Evidence<'_>, mount: Option<&str>) -> (bool, String) {
    let mut visits: Vec<usize> = ev.turns.iter().map(|t| t.visit).collect();
    visits.dedup();
    let mut all = true;
    let mut notes = Vec::new();
    for visit in visits {
        let events: Vec<&SessionEvent> = ev
            .turns
            .iter()
            .filter(|t| t.visit == visit)
            .flat_map(|t| &t.events)
            .collect();
        let is_message = |e: &&SessionEvent| matches!(e, SessionEvent::AgentMessage(_));
        let messages: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| is_message(e))
            .map(|(i, _)| i)
            .collect();
        let interim = |i: usize| {
            events[i + 1..]
                .iter()
                .find(|e| {
                    matches!(
                        e,
                        SessionEvent::AgentMessage(_)
                            | SessionEvent::AgentToolUse(_)
                            | SessionEvent::SessionStatusIdle(_)
                    )
                })
                .is_some_and(|e| matches!(e, SessionEvent::AgentToolUse(_)))
        };
        let Some(reply_at) = messages
            .iter()
            .copied()
            .find(|&i| !interim(i))
            .or(messages.last().copied())
        else {
            all = false;
            notes.push(format!("visit {visit}: no reply"));
            continue;
        };
        let reads: Vec<String> = events[..reply_at]
            .iter()
            .filter_map(|e| match e {
                SessionEvent::AgentToolUse(u) => Some(u),
                _ => None,
            })
            .filter_map(|u| {
                let paths = memory_paths(&u.body.input);
                let as_tool = ToolUse {
                    id: u.id.clone(),
                    name: u.body.name.clone(),
                    input: u.body.input.clone(),
                    memory_paths: paths.clone(),
                    is_error: None,
                    result_text: None,
                };
                (names_mount(&paths, mount) && !as_tool.writes_memory())
                    .then(|| format!("{} {}", u.body.name, paths.join(" ")))
            })
            .collect();
        all &= !reads.is_empty();
        notes.push(if reads.is_empty() {
            format!("visit {visit}: replied without reading memory first")
        } else {
            format!(
                "visit {visit}: {} before replying",
                shorten(&reads.join("; "), 160)
            )
        });
    }
    if notes.is_empty() {
        return (false, "no turns in scope".to_string());
    }
    (all, notes.join("; "))
}

fn memory_writes(ev: &Evidence<'_>, mount: Option<&str>) -> Vec<String> {
    ev.turns
        .iter()
        .flat_map(|t| &t.tool_uses)
        .filter(|u| u.writes_memory() && names_mount(&u.memory_paths, mount))
        .map(|u| format!("{} {}", u.name, u.memory_paths.join(" ")))
        .collect()
}

fn tool_use_count(ev: &Evidence<'_>) -> usize {
    ev.turns.iter().map(|t| t.tool_uses.len()).sum()
}

fn tool_use_list(ev: &Evidence<'_>) -> String {
    let uses: Vec<String> = ev
        .turns
        .iter()
        .flat_map(|t| &t.tool_uses)
        .map(|u| {
            let detail = u
                .input
                .get("command")
                .or_else(|| u.input.get("file_path"))
                .and_then(|v| v.as_str())
                .unwrap_or("");
            format!("{} {}", u.name, shorten(detail, 60))
        })
        .collect();
    if uses.is_empty() {
        String::new()
    } else {
        format!(": {}", shorten(&uses.join("; "), QUOTE))
    }
}

fn snapshot<'a>(
    ev: &'a Evidence<'_>,
    store: &str,
) -> Result<&'a crate::record::StoreSnapshot, String> {
    let s = ev
        .stores
        .iter()
        .find(|s| s.key == store)
        .ok_or_else(|| format!("store `{store}` is not attached"))?;
    s.snapshot
        .as_ref()
        .ok_or_else(|| format!("store `{store}` could not be read"))
}

fn path_matches(path: &str, filter: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(f) if f.ends_with('/') => path.starts_with(f),
        Some(f) => path == f,
    }
}

/// The first line of `content` containing `text`.
fn find_line<'c>(content: &'c str, text: &str, ignore_case: bool) -> Option<&'c str> {
    let needle = if ignore_case {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let found = |hay: &str| {
        if ignore_case {
            hay.to_lowercase().contains(&needle)
        } else {
            hay.contains(&needle)
        }
    };
    if !found(content) {
        return None;
    }
    Some(content.lines().find(|l| found(l)).unwrap_or(content))
}

fn paths_seen<'p>(paths: impl Iterator<Item = &'p str>) -> String {
    let v: Vec<&str> = paths.collect();
    if v.is_empty() {
        "no memories".to_string()
    } else {
        shorten(&v.join(", "), QUOTE)
    }
}

/// Where another customer's values appear in this customer's replies and own stores.
fn isolation(ev: &Evidence<'_>, columns: &[String]) -> Result<Vec<String>, String> {
    let mut haystacks: Vec<(String, String)> = ev
        .turns
        .iter()
        .map(|t| {
            (
                format!("visit {} turn {} reply", t.visit, t.turn),
                t.reply.to_lowercase(),
            )
        })
        .collect();
    for s in ev.stores.iter().filter(|s| !s.shared) {
        let snap = s
            .snapshot
            .as_ref()
            .ok_or_else(|| format!("store `{}` could not be read", s.key))?;
        for m in &snap.memories {
            haystacks.push((
                format!("store `{}` {}", s.key, m.path),
                m.content.to_lowercase(),
            ));
        }
    }
    let own: Vec<String> = ev
        .customer
        .values
        .values()
        .map(|v| v.trim().to_lowercase())
        .collect();
    let mut hits = Vec::new();
    for other in ev.customers.iter().filter(|c| c.id != ev.customer.id) {
        for col in columns {
            let Some(value) = other.values.get(col) else {
                continue;
            };
            let needle = value.trim().to_lowercase();
            if needle.is_empty() || own.contains(&needle) {
                continue;
            }
            for (place, hay) in &haystacks {
                if contains_word(hay, &needle) {
                    hits.push(format!("{value:?} ({col} of {}) in {place}", other.id));
                }
            }
        }
    }
    Ok(hits)
}

/// `needle` occurs in `hay` with no letter or digit directly before or after it.
pub(crate) fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert!(contains_word("you live in lisbon.", "lisbon"));
        assert!(!contains_word("lisbonesque", "lisbon"));
        assert!(contains_word("size eu 41, please", "eu 41"));
        assert!(!contains_word("eu 410", "eu 41"));
    }
}
