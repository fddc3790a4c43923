//! Each variant's checks judged against the first variant's (`--variant`): part of a run's
//! report, computed when the report is finished; [`crate::compare`] joins whole runs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{CheckSummary, RunReport};
use crate::check::CheckId;
use crate::stats::{Change, Judgement, judge};

/// One check of one variant against the same check of the first variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub scenario: String,
    pub customer: String,
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    /// The first variant, compared with.
    pub against: String,
    pub variant: String,
    pub before_passes: usize,
    pub before_runs: usize,
    pub passes: usize,
    pub runs: usize,
    #[serde(flatten)]
    pub judgement: Judgement,
    /// Why there is no verdict, e.g. a side that never ran the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether any comparison is a significant regression (exit status 1).
pub fn any_regressed(comparisons: &[Comparison]) -> bool {
    comparisons
        .iter()
        .any(|c| c.judgement.change == Change::Regressed)
}

/// Every check of every variant after the first, judged against the first; a check one side
/// never ran is inconclusive with a note naming the side. Empty without two variants.
pub(crate) fn between_variants(report: &RunReport) -> Vec<Comparison> {
    let variants = &report.settings.variants;
    let Some(first) = variants.first() else {
        return Vec::new();
    };
    let of = |name: &str| -> BTreeMap<(String, String, CheckId), &CheckSummary> {
        report
            .checks
            .iter()
            .filter(|c| c.variant.as_deref() == Some(name))
            .map(|c| (c.place(), c))
            .collect()
    };
    let base = of(&first.name);
    // Places in the order the first variant has them, then any only others have.
    let mut places: Vec<(String, String, CheckId)> = Vec::new();
    let mut seen = BTreeSet::new();
    for c in &report.checks {
        if seen.insert(c.place()) {
            places.push(c.place());
        }
    }
    let mut out = Vec::new();
    for v in &variants[1..] {
        let other = of(&v.name);
        for place in &places {
            let (before, after) = (base.get(place), other.get(place));
            let Some(any) = after.or(before) else {
                continue;
            };
            let side = |c: Option<&&CheckSummary>| c.map(|c| c.side());
            let empty = crate::stats::Side {
                passes: 0,
                runs: 0,
                ok: false,
            };
            let note = match (before, after) {
                (None, _) => Some(format!("`{}` has no run of this check", first.name)),
                (_, None) => Some(format!("`{}` has no run of this check", v.name)),
                _ => None,
            };
            let (b, a) = (side(before).unwrap_or(empty), side(after).unwrap_or(empty));
            out.push(Comparison {
                scenario: place.0.clone(),
                customer: place.1.clone(),
                id: place.2.clone(),
                label: any.label.clone(),
                against: first.name.clone(),
                variant: v.name.clone(),
                before_passes: b.passes,
                before_runs: b.runs,
                passes: a.passes,
                runs: a.runs,
                judgement: judge(b, a),
                note,
            });
        }
    }
    out
}

/// Console lines for the comparisons that are not unchanged.
pub fn console_lines(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons
        .iter()
        .filter(|c| c.judgement.change != Change::Unchanged)
    {
        out.push_str(&format!(
            "{} {{{} vs {}}} {} [{}] {}: {}/{} -> {}/{}{}{}\n",
            c.judgement.change.as_str().to_uppercase(),
            c.variant,
            c.against,
            c.scenario,
            c.customer,
            c.id,
            c.before_passes,
            c.before_runs,
            c.passes,
            c.runs,
            c.judgement
                .p_value
                .map(|p| format!(", Fisher p = {p:.4}"))
                .unwrap_or_default(),
            match (c.judgement.repeats_needed, &c.note) {
                (_, Some(note)) => format!(" ({note})"),
                (Some(n), None) => format!(" (about {n} repeats each would tell)"),
                (None, None) => String::new(),
            }
        ));
    }
    out
}
