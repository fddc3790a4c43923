//! `summary.md`: Markdown fit for `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write;

use crate::outcome::RunReport;

/// Failures listed in full before the rest are only counted.
const MAX_FAILURES: usize = 50;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    let s: String = s.chars().take(400).collect();
    format!("`{}`", s.replace('`', "'").replace('\n', " "))
}

pub fn markdown(r: &RunReport) -> String {
    let mut md = String::new();
    let t = &r.totals;
    let verdict = if r.exit_code() == 0 {
        "✅ PASS"
    } else {
        "❌ FAIL"
    };
    let _ = writeln!(md, "# cma run `{}` — {verdict}\n", r.run_id);
    let _ = writeln!(
        md,
        "**{}** checks ok, **{}** failed, across {} scenarios and {} units ({} of {} verdicts passed; {} turns, {} unfinished) in {:.1} s.\n",
        t.checks_ok,
        t.checks_failed,
        t.scenarios,
        t.units,
        t.results_passed,
        t.results,
        t.turns,
        t.turns_unfinished,
        r.duration_ms / 1000.0
    );
    let s = &r.settings;
    let _ = writeln!(
        md,
        "Target `{}`{}; repeat {}, min pass rate {}, turn timeout {} ms{}{}.\n",
        s.target,
        s.model
            .as_deref()
            .map(|m| format!(", model `{m}`"))
            .unwrap_or_default(),
        s.repeat,
        s.min_pass_rate,
        s.turn_timeout_ms,
        s.shard
            .as_deref()
            .map(|x| format!(", shard {x}"))
            .unwrap_or_default(),
        if s.filters.is_empty() {
            String::new()
        } else {
            format!(", filter {}", s.filters.join(", "))
        },
    );
    let u = &r.usage;
    let _ = writeln!(
        md,
        "Tokens: {} input, {} output, {} cache write, {} cache read ({} model requests).\n",
        u.input_tokens,
        u.output_tokens,
        u.cache_creation_input_tokens,
        u.cache_read_input_tokens,
        u.model_requests
    );
    if r.interrupted {
        let _ = writeln!(
            md,
            "> **Interrupted**: units that had not finished are missing.\n"
        );
    }
    for e in &r.errors {
        let _ = writeln!(md, "> **Error**: {e}\n");
    }

    let _ = writeln!(
        md,
        "| Scenario | Customers | Units | Checks | OK | Failed | Verdicts passed |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    for row in super::scenario_rows(r) {
        let mark = if row.failed == 0 { "✅" } else { "❌" };
        let _ = writeln!(
            md,
            "| {mark} {} | {} | {} | {} | {} | {} | {}/{} |",
            cell(row.name),
            row.customers,
            row.units,
            row.checks,
            row.ok,
            row.failed,
            row.passes,
            row.verdicts
        );
    }

    let matrix = super::matrix::markdown(r);
    if !matrix.is_empty() {
        let _ = writeln!(md, "\n{matrix}");
    }

    let failures: Vec<_> = r.checks.iter().filter(|c| !c.ok).collect();
    if !failures.is_empty() {
        let _ = writeln!(md, "\n## Failures ({})\n", failures.len());
        for c in failures.iter().take(MAX_FAILURES) {
            let _ = writeln!(
                md,
                "- {}**{}** `{}` {} — {} ({} of {} passed)",
                c.variant
                    .as_deref()
                    .map(|v| format!("`{}` ", cell(v)))
                    .unwrap_or_default(),
                cell(&c.scenario),
                c.customer,
                c.id,
                cell(&c.label),
                c.passes,
                c.runs
            );
            let _ = writeln!(md, "  - expected: {}", code(&c.expected));
            let _ = writeln!(md, "  - seen: {}", code(&c.seen));
        }
        if failures.len() > MAX_FAILURES {
            let _ = writeln!(
                md,
                "\n…and {} more (see `results.csv`).",
                failures.len() - MAX_FAILURES
            );
        }
    }
    if !r.regressions.is_empty() {
        let _ = writeln!(
            md,
            "\n## Regressions against the baseline ({})\n",
            r.regressions.len()
        );
        for g in &r.regressions {
            let _ = writeln!(
                md,
                "- {}**{}** `{}` {} — {} (pass rate {:.0}% → {:.0}%{}); seen {}",
                g.variant
                    .as_deref()
                    .map(|v| format!("`{}` ", cell(v)))
                    .unwrap_or_default(),
                cell(&g.scenario),
                g.customer,
                g.id,
                cell(&g.label),
                g.baseline_pass_rate * 100.0,
                g.pass_rate * 100.0,
                g.p_value
                    .map(|p| format!(", Fisher p = {p:.4}"))
                    .unwrap_or_default(),
                code(&g.seen)
            );
        }
    }
    let c = &r.cleanup;
    let _ = writeln!(md, "\n## Clean-up\n");
    if c.kept {
        let _ = writeln!(md, "`--keep`: {} resources left in place.", c.left.len());
    } else {
        let _ = writeln!(
            md,
            "{} sessions archived ({} deleted instead), {} stores deleted, {} agents and {} environments archived{}.",
            c.sessions_archived,
            c.sessions_deleted,
            c.stores_deleted,
            c.agents_archived,
            c.environments_archived,
            if c.failures.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} left behind: {}",
                    c.failures.len(),
                    c.failures.join("; ")
                )
            }
        );
    }
    md
}
