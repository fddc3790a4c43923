//! The variant matrix: scenarios and checks × variants with pass rates and their 95% Wilson
//! intervals, each variant's change against the first, and each variant's cost (tokens, model
//! requests, time to idle). Computed here once; `summary.md`, `cma compare`'s Markdown and the
//! page's matrix all read it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::CheckId;
use crate::compare::Comparison;
use crate::outcome::{CheckSummary, RunReport};
use crate::stats::{Change, wilson};
use crate::usage::TokenUsage;

/// Differing checks listed in the Markdown; the page and `run.json` have all of them.
const LISTED_CHECKS: usize = 60;

/// Passes out of runs, with the rate and its interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Rate {
    pub passes: usize,
    pub runs: usize,
}

impl Rate {
    /// `4/5 80% (38–96%)`, or `—` with no runs.
    pub fn text(&self) -> String {
        if self.runs == 0 {
            return "— (no runs)".into();
        }
        let (lo, hi) = wilson(self.passes, self.runs);
        format!(
            "{}/{} {:.0}% ({:.0}–{:.0}%)",
            self.passes,
            self.runs,
            100.0 * self.passes as f64 / self.runs as f64,
            // Rounded outwards, so a bound never looks tighter than it is.
            (lo * 100.0).floor(),
            (hi * 100.0).ceil()
        )
    }
}

/// One variant's cost over its units.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Cost {
    pub units: usize,
    pub usage: TokenUsage,
    /// Time from sending a turn's message to its idle event, over every turn that went idle.
    pub idle_p50_ms: Option<f64>,
    pub idle_p95_ms: Option<f64>,
}

/// One check across the variants.
#[derive(Debug, Clone)]
pub(crate) struct CheckRow<'a> {
    pub scenario: &'a str,
    pub customer: &'a str,
    pub id: &'a CheckId,
    pub label: &'a str,
    /// Per variant, in order.
    pub rates: Vec<Rate>,
    /// Per variant after the first: its comparison with the first.
    pub changes: Vec<Option<&'a Comparison>>,
}

impl CheckRow<'_> {
    /// Whether the variants' verdicts differ on this check.
    pub fn disagrees(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.is_some_and(|c| c.judgement.change != Change::Unchanged))
    }
}

/// The matrix of a report with variants.
pub(crate) struct Matrix<'a> {
    pub variants: Vec<&'a str>,
    /// Per scenario (run order), per variant: verdicts passed out of verdicts.
    pub scenarios: Vec<(&'a str, Vec<Rate>)>,
    pub checks: Vec<CheckRow<'a>>,
    pub costs: Vec<Cost>,
}

/// The nearest-rank percentile `q` (0–1) of `sorted` (ascending), `None` when empty.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `None` for a report without at least two variants.
pub(crate) fn matrix(r: &RunReport) -> Option<Matrix<'_>> {
    if r.settings.variants.len() < 2 {
        return None;
    }
    let variants: Vec<&str> = r
        .settings
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let index = |v: Option<&str>| v.and_then(|v| variants.iter().position(|w| *w == v));
    let scenarios = r
        .scenarios
        .iter()
        .map(|s| {
            let mut rates = vec![Rate::default(); variants.len()];
            for u in r.units.iter().filter(|u| u.scenario == s.name) {
                if let Some(i) = index(u.variant.as_deref()) {
                    rates[i].runs += u.checks.len();
                    rates[i].passes += u.checks.iter().filter(|c| c.verdict.passed).count();
                }
            }
            (s.name.as_str(), rates)
        })
        .collect();
    let mut rows: Vec<CheckRow<'_>> = Vec::new();
    let mut at: BTreeMap<(&str, &str, &CheckId), usize> = BTreeMap::new();
    let mut by_variant: Vec<&CheckSummary> = r.checks.iter().collect();
    // The first variant's order, then checks only later variants have.
    by_variant.sort_by_key(|c| index(c.variant.as_deref()).unwrap_or(usize::MAX));
    for c in by_variant {
        let Some(i) = index(c.variant.as_deref()) else {
            continue;
        };
        let key = (c.scenario.as_str(), c.customer.as_str(), &c.id);
        let row = *at.entry(key).or_insert_with(|| {
            rows.push(CheckRow {
                scenario: &c.scenario,
                customer: &c.customer,
                id: &c.id,
                label: &c.label,
                rates: vec![Rate::default(); variants.len()],
                changes: vec![None; variants.len() - 1],
            });
            rows.len() - 1
        });
        rows[row].rates[i] = Rate {
            passes: c.passes,
            runs: c.runs,
        };
    }
    for cmp in &r.comparisons {
        let key = (cmp.scenario.as_str(), cmp.customer.as_str(), &cmp.id);
        if let (Some(&row), Some(i)) = (at.get(&key), index(Some(&cmp.variant)))
            && i >= 1
        {
            rows[row].changes[i - 1] = Some(cmp);
        }
    }
    // Keep scenario order.
    let order: BTreeMap<&str, usize> = r
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    rows.sort_by_key(|c| order.get(c.scenario).copied().unwrap_or(usize::MAX));
    let costs = variants
        .iter()
        .map(|v| {
            let units: Vec<_> = r
                .units
                .iter()
                .filter(|u| u.variant.as_deref() == Some(*v))
                .collect();
            let mut idle: Vec<f64> = units
                .iter()
                .flat_map(|u| u.visits.iter().flat_map(|v| &v.turns))
                .filter_map(|t| t.timings.as_ref().and_then(|t| t.idle_ms))
                .collect();
            idle.sort_by(f64::total_cmp);
            Cost {
                units: units.len(),
                usage: units.iter().map(|u| u.usage.total).sum(),
                idle_p50_ms: percentile(&idle, 0.5),
                idle_p95_ms: percentile(&idle, 0.95),
            }
        })
        .collect();
    Some(Matrix {
        variants,
        scenarios,
        checks: rows,
        costs,
    })
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn ms(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.0} ms"))
}

/// A change as Markdown: `**regressed** (p = 0.0079)`.
pub(crate) fn change_text(c: &Comparison) -> String {
    let j = &c.judgement;
    let mut s = match j.change {
        Change::Regressed => "**regressed**".to_string(),
        Change::Improved => "**improved**".to_string(),
        other => other.as_str().to_string(),
    };
    if let Some(p) = j.p_value.filter(|_| j.change != Change::Unchanged) {
        let _ = write!(s, " (p = {p:.4})");
    }
    if let Some(n) = j.repeats_needed {
        let _ = write!(s, ", ~{n} repeats each to tell");
    }
    if let Some(note) = &c.note {
        let _ = write!(s, "; {note}");
    }
    s
}

/// The matrix as Markdown: variants with their cost, scenarios × variants, and every check
/// whose variants differ. Empty for a report without variants.
pub fn markdown(r: &RunReport) -> String {
    let Some(m) = matrix(r) else {
        return String::new();
    };
    let mut md = String::new();
    let _ = writeln!(md, "## Variants\n");
    let _ = writeln!(
        md,
        "| Variant | Settings | Units | Pass rate (95% CI) | Tokens | Model requests | Time to idle p50 | p95 |"
    );
    let _ = writeln!(md, "|---|---|---:|---|---:|---:|---:|---:|");
    for (i, v) in m.variants.iter().enumerate() {
        let all = m
            .scenarios
            .iter()
            .fold(Rate::default(), |a, (_, rates)| Rate {
                passes: a.passes + rates[i].passes,
                runs: a.runs + rates[i].runs,
            });
        let c = &m.costs[i];
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            cell(v),
            cell(&r.settings.variants[i].description),
            c.units,
            all.text(),
            c.usage.total_tokens(),
            c.usage.model_requests,
            ms(c.idle_p50_ms),
            ms(c.idle_p95_ms)
        );
    }
    let _ = write!(md, "\n| Scenario |");
    for v in &m.variants {
        let _ = write!(md, " `{}` |", cell(v));
    }
    let _ = write!(md, "\n|---|");
    for _ in &m.variants {
        md.push_str("---|");
    }
    md.push('\n');
    for (name, rates) in &m.scenarios {
        let _ = write!(md, "| {} |", cell(name));
        for rate in rates {
            let _ = write!(md, " {} |", rate.text());
        }
        md.push('\n');
    }
    let differing: Vec<_> = m.checks.iter().filter(|c| c.disagrees()).collect();
    let _ = writeln!(
        md,
        "\n### Checks that differ from `{}` ({} of {})\n",
        cell(m.variants[0]),
        differing.len(),
        m.checks.len()
    );
    if differing.is_empty() {
        let _ = writeln!(md, "Every check has the same pass rate in every variant.");
    }
    for row in differing.iter().take(LISTED_CHECKS) {
        let _ = writeln!(
            md,
            "- **{}** `{}` {} — {}",
            cell(row.scenario),
            row.customer,
            row.id,
            cell(row.label)
        );
        for (i, change) in row.changes.iter().enumerate() {
            if let Some(c) = change {
                let _ = writeln!(
                    md,
                    "  - `{}`: {} → {}: {}",
                    cell(m.variants[i + 1]),
                    row.rates[0].text(),
                    row.rates[i + 1].text(),
                    change_text(c)
                );
            }
        }
    }
    if differing.len() > LISTED_CHECKS {
        let _ = writeln!(
            md,
            "\n…and {} more (see the page or `run.json`'s `comparisons`).",
            differing.len() - LISTED_CHECKS
        );
    }
    md
}

/// One line per scenario `cma compare` left out.
pub(crate) fn left_out_notes(left_out: &[(String, Vec<String>)]) -> Vec<String> {
    left_out
        .iter()
        .map(|(scenario, having)| {
            format!(
                "scenario `{scenario}` is not in every run (only in {}): left out of the comparison",
                having.join(", ")
            )
        })
        .collect()
}

/// `cma compare`'s summary: the verdict, the runs, what was left out, and the matrix.
pub(crate) fn comparison_markdown(r: &RunReport, notes: &[String]) -> String {
    let count = |change: Change| {
        r.comparisons
            .iter()
            .filter(|c| c.judgement.change == change)
            .count()
    };
    let regressed = count(Change::Regressed);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# cma compare — {}\n",
        if regressed == 0 {
            "✅ no significant regression"
        } else {
            "❌ significant regression"
        }
    );
    let _ = writeln!(
        md,
        "Against `{}`: **{regressed}** regressed, **{}** improved, **{}** inconclusive, {} unchanged \
         (Fisher's exact test, p < 0.05; pass rates with 95% Wilson intervals).\n",
        r.settings
            .variants
            .first()
            .map(|v| cell(&v.name))
            .unwrap_or_default(),
        count(Change::Improved),
        count(Change::Inconclusive),
        count(Change::Unchanged),
    );
    for n in notes {
        let _ = writeln!(md, "> {}\n", cell(n));
    }
    md.push_str(&markdown(r));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(100.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn rate_text_carries_the_wilson_interval() {
        assert_eq!(Rate { passes: 0, runs: 5 }.text(), "0/5 0% (0–44%)");
        assert_eq!(Rate::default().text(), "— (no runs)");
    }
}
