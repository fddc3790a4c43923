//! `index.html`: one self-contained page per run — inline CSS, no script, nothing fetched —
//! readable with JavaScript off. Units and stores are collapsed `<details>`, so a 1,000-customer
//! run stays usable; the "failures only" filter is a checkbox and CSS `:has()`, and the failures
//! are listed up front in any case. Every piece of recorded text goes through [`escape`].

mod matrix;
mod store;
mod unit;

use std::fmt::Write;

use crate::outcome::RunReport;
use crate::usage::TokenUsage;

/// Failing units are opened when there are at most this many; beyond it they stay collapsed.
const OPEN_FAILING_UNITS: usize = 20;
/// Up to this many units every store's diffs are inlined; beyond it only failing units' are, which
/// keeps a 1,000-customer page to a few MB (the diffs are in `history/<store>.diff` in any case).
const ALL_HISTORIES_UNITS: usize = 100;
/// Failing checks listed in full at the top; every one is in its unit too.
const LISTED_FAILURES: usize = 100;

const STYLE: &str = "\
:root{color-scheme:light}\
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:80rem;padding:0 1rem;color:#1f2328}\
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:.8rem 0 .3rem}\
code,pre{font-family:ui-monospace,monospace;font-size:12px}\
pre{white-space:pre-wrap;word-break:break-word;margin:.2rem 0}\
dl.settings{display:grid;grid-template-columns:max-content 1fr;gap:0 1rem;margin:.5rem 0}\
dl.settings dt{color:#59636e}dl.settings dd{margin:0}\
table.grid{border-collapse:collapse;margin:.5rem 0}\
table.grid th,table.grid td{border:1px solid #d0d7de;padding:.15rem .5rem;text-align:right}\
table.grid th:first-child,table.grid td:first-child{text-align:left}\
.badge{display:inline-block;border-radius:4px;padding:0 .45rem;font-weight:600}\
.badge.pass{background:#dafbe1;color:#116329}.badge.fail{background:#ffebe9;color:#a40e26}\
tr.fail td:first-child{color:#a40e26;font-weight:600}\
details.unit{border:1px solid #d0d7de;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}\
details.unit.fail{border-color:#ff8182}\
details>summary{cursor:pointer}\
.visit{border-left:3px solid #d0d7de;margin:.6rem 0;padding-left:.6rem}\
.turn{margin:.5rem 0}.meta{color:#59636e;font-size:12px}\
.msg{border-radius:6px;padding:.25rem .5rem;margin:.2rem 0}\
.msg.user{background:#f6f8fa}.msg.agent{background:#ddf4ff}\
.who{font-weight:600;font-size:12px;color:#59636e}\
ul.tools,ul.checks{list-style:none;padding-left:.5rem;margin:.2rem 0}\
ul.tools li{font-size:12px}.tool-error{color:#a40e26}\
ul.checks li{margin:.15rem 0}\
li.check.pass::before{content:'\\2713  ';color:#1a7f37;font-weight:700}\
li.check.fail::before{content:'\\2717  ';color:#cf222e;font-weight:700}\
li.check.fail{background:#fff5f5;border-radius:4px;padding:.1rem .3rem}\
li.check.error::before{content:'!  ';color:#9a6700;font-weight:700}\
li.check.error{background:#fff8c5;border-radius:4px;padding:.1rem .3rem}\
.ev{display:grid;grid-template-columns:max-content 1fr;gap:0 .6rem;margin:.1rem 0 .1rem 1.2rem}\
.ev dt{color:#59636e}.ev dd{margin:0}\
.problem{color:#a40e26;font-weight:600}\
.store{margin:.5rem 0}\
.history section{border:1px solid #d0d7de;border-radius:6px;margin:.5rem 0;padding:.5rem}\
.history h2{font-size:.95rem;margin:0 0 .3rem}\
.history .note{color:#59636e;font-style:italic}\
.history .op{display:inline-block;border-radius:4px;padding:0 .4rem;margin-right:.4rem;background:#eaeef2;font-weight:600}\
.history .created .op{background:#dafbe1}.history .deleted .op{background:#ffebe9}.history .redacted .op{background:#fff8c5}\
.history table{border-collapse:collapse;width:100%;font:12px/1.4 ui-monospace,monospace}\
.history td{padding:0 .5rem;white-space:pre-wrap;word-break:break-all;vertical-align:top}\
.history td.ln{color:#8c959f;text-align:right;width:1%;white-space:nowrap;user-select:none}\
.history tr.hunk td{background:#ddf4ff;color:#0969da}\
.history tr.del td.code{background:#ffebe9}.history tr.add td.code{background:#e6ffec}\
.history tr.del em{background:#ffc1c0;font-style:normal}.history tr.add em{background:#abf2bc;font-style:normal}\
.history .nonl{color:#8c959f}\
.filter{display:inline-block;margin:.3rem 0;padding:.2rem .5rem;background:#f6f8fa;border-radius:6px}\
body:has(#only-failures:checked) .pass-row,body:has(#only-failures:checked) details.unit.pass{display:none}";

/// Escapes text for HTML element content and attribute values: the only escaping in the page,
/// shared with the history renderer whose diffs the page embeds.
pub(crate) use cma_history::escape_html as escape;

/// The first `max` characters of `s`, with `…` when cut.
pub(crate) fn short(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// `12 in · 3 out` plus cache figures when any, or a dash when no model request was seen.
pub(crate) fn tokens(u: &TokenUsage) -> String {
    if u.model_requests == 0 {
        return "no model requests".into();
    }
    let mut s = format!("{} in · {} out", u.input_tokens, u.output_tokens);
    if u.cache_creation_input_tokens + u.cache_read_input_tokens > 0 {
        let _ = write!(
            s,
            " · cache {} written, {} read",
            u.cache_creation_input_tokens, u.cache_read_input_tokens
        );
    }
    s
}

/// An id for a unit's `<details>`, unique within the run and safe in a URL fragment.
pub(crate) fn unit_anchor(
    variant: Option<&str>,
    scenario: &str,
    customer: &str,
    repeat: usize,
) -> String {
    let variant = variant
        .map(|v| format!("{}-", crate::record::slug(v)))
        .unwrap_or_default();
    format!(
        "u-{variant}{}-{}-{repeat}",
        crate::record::slug(scenario),
        crate::record::slug(customer)
    )
}

/// The whole page.
pub fn page(r: &RunReport) -> String {
    page_with_notes(r, &[])
}

/// The page, with notes under its header (`cma compare`'s scenarios left out).
pub fn page_with_notes(r: &RunReport, notes: &[String]) -> String {
    let mut h = String::with_capacity(64 * 1024 + r.units.len() * 8 * 1024);
    let passed = r.exit_code() == 0;
    let (class, verdict) = if passed {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>cma run {id} — {verdict}</title>\n<style>{STYLE}{matrix_style}</style>\n</head>\n<body>\n\
         <h1>cma run <code>{id}</code> <span class=\"badge {class}\">{verdict}</span></h1>\n",
        id = escape(&r.run_id),
        matrix_style = matrix::STYLE
    );
    header(&mut h, r);
    for n in notes {
        let _ = writeln!(h, "<p class=\"problem\">{}</p>", escape(n));
    }
    matrix::render(&mut h, r);
    scenarios_table(&mut h, r);
    failures(&mut h, r);
    let _ = writeln!(h, "<h2>Units ({})</h2>", r.units.len());
    let failing_units = r.units.iter().filter(|u| u.failed() > 0).count();
    let open_failing = failing_units <= OPEN_FAILING_UNITS;
    let all_histories = r.units.len() <= ALL_HISTORIES_UNITS;
    for u in &r.units {
        let failing = u.failed() > 0 || u.error.is_some();
        unit::render(&mut h, u, open_failing && failing, all_histories || failing);
    }
    if !r.shared_stores.is_empty() {
        let _ = writeln!(h, "<h2>Shared stores</h2>");
        for s in &r.shared_stores {
            let _ = writeln!(
                h,
                "<p class=\"meta\">{} · repeat {}</p>",
                escape(&s.scenario),
                s.repeat
            );
            store::render(&mut h, &s.store, true, false);
        }
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn header(h: &mut String, r: &RunReport) {
    let s = &r.settings;
    let t = &r.totals;
    let mut rows: Vec<(&str, String)> = vec![
        ("target", s.target.clone()),
        (
            "model",
            s.model
                .clone()
                .unwrap_or_else(|| "(each scenario's)".into()),
        ),
        ("started", r.started_at.to_rfc3339()),
        ("duration", format!("{:.2} s", r.duration_ms / 1000.0)),
        ("concurrency", s.concurrency.to_string()),
        ("repeat", s.repeat.to_string()),
        ("min pass rate", s.min_pass_rate.to_string()),
        ("turn timeout", format!("{} ms", s.turn_timeout_ms)),
    ];
    if let Some(agent) = &s.agent {
        rows.push(("agent", agent.describe()));
    }
    if !s.filters.is_empty() {
        rows.push(("filters", s.filters.join(", ")));
    }
    if let Some(shard) = &s.shard {
        rows.push(("shard", shard.clone()));
    }
    if let Some(b) = &s.baseline {
        rows.push(("baseline", b.clone()));
    }
    rows.push((
        "checks",
        format!(
            "{} ok, {} failed ({} of {} verdicts passed); {} regressions",
            t.checks_ok, t.checks_failed, t.results_passed, t.results, t.regressions
        ),
    ));
    rows.push((
        "units",
        format!(
            "{} in {} scenarios; {} turns, {} unfinished",
            t.units, t.scenarios, t.turns, t.turns_unfinished
        ),
    ));
    rows.push((
        "tokens",
        format!(
            "{} ({} model requests; {} total)",
            tokens(&r.usage),
            r.usage.model_requests,
            r.usage.total_tokens()
        ),
    ));
    h.push_str("<dl class=\"settings\">\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    h.push_str("</dl>\n");
    if r.interrupted {
        h.push_str(
            "<p class=\"problem\">Interrupted: units that had not finished are missing.</p>\n",
        );
    }
    for e in &r.errors {
        let _ = writeln!(h, "<p class=\"problem\">Error: {}</p>", escape(e));
    }
}

fn scenarios_table(h: &mut String, r: &RunReport) {
    h.push_str(
        "<h2>Scenarios</h2>\n<label class=\"filter\"><input type=\"checkbox\" id=\"only-failures\"> \
         show failures only</label>\n<table class=\"grid\">\n<tr><th>Scenario</th><th>Customers</th>\
         <th>Units</th><th>Checks</th><th>OK</th><th>Failed</th><th>Verdicts passed</th>\
         <th>Input tokens</th><th>Output tokens</th></tr>\n",
    );
    for row in super::scenario_rows(r) {
        let (class, mark) = if row.failed == 0 {
            ("pass pass-row", "✓")
        } else {
            ("fail", "✗")
        };
        let _ = writeln!(
            h,
            "<tr class=\"{class}\"><td>{mark} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
            escape(row.name),
            row.customers,
            row.units,
            row.checks,
            row.ok,
            row.failed,
            row.passes,
            row.verdicts,
            row.tokens.input_tokens,
            row.tokens.output_tokens
        );
    }
    h.push_str("</table>\n");
}

/// Every check below its pass rate, with expected and seen, linked to its unit; and regressions.
fn failures(h: &mut String, r: &RunReport) {
    let failed: Vec<_> = r.checks.iter().filter(|c| !c.ok).collect();
    if failed.is_empty() && r.regressions.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Failures ({})</h2>\n<ul class=\"checks\">",
        failed.len()
    );
    for c in failed.iter().take(LISTED_FAILURES) {
        let _ = writeln!(
            h,
            "<li class=\"check {}\"><a href=\"#{}\">{} · {}</a> · {} — {} <span class=\"meta\">({} of {} passed{})</span>\
             <dl class=\"ev\"><dt>expected</dt><dd><pre>{}</pre></dd><dt>seen</dt><dd><pre>{}</pre></dd></dl></li>",
            if c.errors > 0 { "error" } else { "fail" },
            unit_anchor(c.variant.as_deref(), &c.scenario, &c.customer, 1),
            c.variant
                .as_deref()
                .map(|v| format!("{} · ", escape(v)))
                .unwrap_or_default()
                + &escape(&c.scenario),
            escape(&c.customer),
            escape(&c.id.to_string()),
            escape(&c.label),
            c.passes,
            c.runs,
            match c.errors {
                0 => String::new(),
                n => format!("; {n} could not be judged"),
            },
            escape(&c.expected),
            escape(&c.seen)
        );
    }
    h.push_str("</ul>\n");
    if failed.len() > LISTED_FAILURES {
        let _ = writeln!(
            h,
            "<p class=\"meta\">…and {} more, each in its unit below (tick “show failures only”).</p>",
            failed.len() - LISTED_FAILURES
        );
    }
    if !r.regressions.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Regressions against the baseline ({})</h3>\n<ul class=\"checks\">",
            r.regressions.len()
        );
        for g in &r.regressions {
            let _ = writeln!(
                h,
                "<li class=\"check fail\">{} · {} · {} — {} (pass rate {:.0}% → {:.0}%)</li>",
                escape(&g.scenario),
                escape(&g.customer),
                escape(&g.id.to_string()),
                escape(&g.label),
                g.baseline_pass_rate * 100.0,
                g.pass_rate * 100.0
            );
        }
        h.push_str("</ul>\n");
    }
}
