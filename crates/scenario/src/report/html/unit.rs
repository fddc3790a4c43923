//! One unit: its visits' transcripts (customer message, tool uses on the mounts and custom tool
//! calls with their canned answers, reply), each
//! check where it was judged, per-turn timings and tokens, and its stores.

use std::fmt::Write;

use cma_client::turn::ToolUse;
use cma_client::types::{SessionEvent, joined_text};
use serde_json::Value;

use super::{escape, short, tokens, unit_anchor};
use crate::outcome::{CheckResult, UnitReport, VisitRecord};
use crate::record::TurnRecord;

/// Tool results are cut to this many characters; the full text is in `run.json`.
const RESULT_CHARS: usize = 120;
/// Tool inputs shown when a call names no memory path (a `bash` command, say).
const INPUT_CHARS: usize = 160;

/// `open`: the `<details>` starts open. `history`: the stores' version diffs are included (else
/// only the final memories, the diffs being in `history/<store>.diff`).
pub(super) fn render(h: &mut String, u: &UnitReport, open: bool, history: bool) {
    render_with(h, u, open, history, true);
}

/// `anchored`: the `<details>` carries the unit's id (false for a second rendering of it, side by
/// side with its other variants, so ids stay unique).
pub(super) fn render_with(
    h: &mut String,
    u: &UnitReport,
    open: bool,
    history: bool,
    anchored: bool,
) {
    let failed = u.failed();
    let (class, mark) = if failed == 0 && u.error.is_none() {
        ("pass", "✓")
    } else {
        ("fail", "✗")
    };
    let _ = writeln!(
        h,
        "<details class=\"unit {class}\"{}{}>\n<summary>{mark} {}<b>{}</b> · customer <code>{}</code> · \
         repeat {} — {} of {} checks passed · {:.0} ms · {}</summary>",
        if anchored {
            format!(
                " id=\"{}\"",
                unit_anchor(u.variant.as_deref(), &u.scenario, &u.customer.id, u.repeat)
            )
        } else {
            String::new()
        },
        if open { " open" } else { "" },
        u.variant
            .as_deref()
            .map(|v| format!("<code>{}</code> · ", escape(v)))
            .unwrap_or_default(),
        escape(&u.scenario),
        escape(&u.customer.id),
        u.repeat,
        u.checks.len() - failed,
        u.checks.len(),
        u.duration_ms,
        escape(&tokens(&u.usage.total)),
    );
    if let Some(e) = &u.error {
        let _ = writeln!(h, "<p class=\"problem\">{}</p>", escape(e));
    }
    for v in &u.visits {
        visit(h, u, v);
    }
    let end: Vec<&CheckResult> = u.checks.iter().filter(|c| c.id.visit.is_none()).collect();
    if !end.is_empty() {
        h.push_str("<h3>End of script</h3>\n");
        checks(h, &end);
    }
    for s in &u.stores {
        if !s.shared {
            super::store::render(h, s, history, open);
        }
    }
    h.push_str("</details>\n");
}

fn visit(h: &mut String, u: &UnitReport, v: &VisitRecord) {
    let _ = writeln!(
        h,
        "<div class=\"visit\">\n<h3>Visit {}{}</h3>{}",
        v.visit,
        v.name
            .as_deref()
            .map(|n| format!(": {}", escape(n)))
            .unwrap_or_default(),
        v.session_id
            .as_deref()
            .map(|s| format!(
                "<div class=\"meta\">session <code>{}</code></div>",
                escape(s)
            ))
            .unwrap_or_default()
    );
    for t in &v.turns {
        turn(h, u, t);
    }
    let at_visit: Vec<&CheckResult> = u
        .checks
        .iter()
        .filter(|c| c.id.visit == Some(v.visit) && c.id.turn.is_none())
        .collect();
    if !at_visit.is_empty() {
        let _ = writeln!(h, "<div class=\"meta\">after visit {}</div>", v.visit);
        checks(h, &at_visit);
    }
    h.push_str("</div>\n");
}

fn turn(h: &mut String, u: &UnitReport, t: &TurnRecord) {
    let mut meta = format!("turn {}", t.turn);
    if let Some(tm) = &t.timings {
        let _ = write!(meta, " · {:.0} ms", tm.total_ms);
        if let Some(fm) = tm.first_message_ms {
            let _ = write!(meta, " (first message {fm:.0} ms)");
        }
    }
    if let Some(usage) = u.usage.turn(t.visit, t.turn) {
        let _ = write!(meta, " · {}", tokens(usage));
    }
    if let Some(stop) = &t.stop_reason {
        let _ = write!(meta, " · {stop}");
    }
    let _ = writeln!(
        h,
        "<div class=\"turn\">\n<div class=\"meta\">{}</div>\n\
         <div class=\"msg user\"><span class=\"who\">customer</span><pre>{}</pre></div>",
        escape(&meta),
        escape(&t.user)
    );
    let custom = custom_tool_uses(&t.events);
    if !t.tool_uses.is_empty() || !custom.is_empty() {
        h.push_str("<ul class=\"tools\">\n");
        for tool in t.tool_uses.iter().chain(&custom) {
            tool_use(h, tool);
        }
        h.push_str("</ul>\n");
    }
    if !t.reply.is_empty() {
        let _ = writeln!(
            h,
            "<div class=\"msg agent\"><span class=\"who\">agent</span><pre>{}</pre></div>",
            escape(&t.reply)
        );
    }
    if let Some(p) = t.problem() {
        let _ = writeln!(h, "<p class=\"problem\">{}</p>", escape(p));
    }
    let here: Vec<&CheckResult> = u
        .checks
        .iter()
        .filter(|c| c.id.visit == Some(t.visit) && c.id.turn == Some(t.turn))
        .collect();
    checks(h, &here);
    h.push_str("</div>\n");
}

/// Each `agent.custom_tool_use` with the `user.custom_tool_result` the runner answered it with.
fn custom_tool_uses(events: &[SessionEvent]) -> Vec<ToolUse> {
    let mut uses: Vec<ToolUse> = Vec::new();
    for e in events {
        match e {
            SessionEvent::AgentCustomToolUse(u) => uses.push(ToolUse {
                id: u.id.clone(),
                name: u.body.name.clone(),
                input: u.body.input.clone(),
                memory_paths: Vec::new(),
                is_error: None,
                result_text: None,
            }),
            SessionEvent::UserCustomToolResult(r) => {
                if let Some(u) = uses.iter_mut().find(|u| u.id == r.body.custom_tool_use_id) {
                    u.is_error = Some(r.body.is_error.unwrap_or(false));
                    u.result_text = Some(
                        r.body
                            .content
                            .as_deref()
                            .map(joined_text)
                            .unwrap_or_default(),
                    );
                }
            }
            _ => {}
        }
    }
    uses
}

/// `name path → result`, the path being the memory paths the call named (else its input).
fn tool_use(h: &mut String, tool: &ToolUse) {
    let target = if tool.memory_paths.is_empty() {
        match &tool.input {
            Value::Object(m) => m
                .get("command")
                .or_else(|| m.get("path"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| tool.input.to_string()),
            other => other.to_string(),
        }
    } else {
        tool.memory_paths.join(" ")
    };
    let result = match (&tool.result_text, tool.is_error) {
        (Some(r), Some(true)) => format!(
            " → <span class=\"tool-error\">error: {}</span>",
            escape(&short(r, RESULT_CHARS))
        ),
        (Some(r), _) if r.trim().is_empty() => " → (empty)".into(),
        (Some(r), _) => format!(" → {}", escape(&short(r, RESULT_CHARS))),
        (None, _) => " → (no result)".into(),
    };
    // A command says more than the paths it names.
    let command = tool
        .input
        .get("command")
        .and_then(Value::as_str)
        .filter(|_| !tool.memory_paths.is_empty())
        .map(|c| {
            format!(
                " <span class=\"meta\">$ {}</span>",
                escape(&short(c, INPUT_CHARS))
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<li><span class=\"who\">tool</span> <code>{}</code> <code>{}</code>{command}{result}</li>",
        escape(&tool.name),
        escape(&short(&target, INPUT_CHARS))
    );
}

fn checks(h: &mut String, list: &[&CheckResult]) {
    if list.is_empty() {
        return;
    }
    h.push_str("<ul class=\"checks\">\n");
    for c in list {
        let class = c.verdict.outcome().as_str();
        let _ = write!(
            h,
            "<li class=\"check {class}\">{}{} <span class=\"meta\">{}</span>",
            if c.verdict.error.is_some() {
                "<b>error:</b> "
            } else {
                ""
            },
            escape(&c.label),
            escape(&c.kind),
        );
        if !c.verdict.passed {
            let _ = write!(
                h,
                "<dl class=\"ev\"><dt>expected</dt><dd><pre>{}</pre></dd><dt>seen</dt><dd><pre>{}</pre></dd></dl>",
                escape(&c.verdict.expected),
                escape(&c.verdict.seen)
            );
        }
        h.push_str("</li>\n");
    }
    h.push_str("</ul>\n");
}
