//! Side by side: the variants of one run (`cma run --variant`), or several earlier runs
//! (`cma compare`), joined into one report whose units carry their variant, and every check of
//! each variant after the first judged against the first by [`crate::stats::judge`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::CheckId;
use crate::error::RunError;
use crate::outcome::{CheckSummary, RUN_SCHEMA, RunReport};
use crate::run::CleanupReport;
use crate::stats::{Change, Judgement, judge};
use crate::usage::UnitUsage;
use crate::variant::VariantInfo;

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

/// Reads a `run.json` (or the one in a run directory), refusing another schema.
pub fn read_run(path: &Path) -> Result<RunReport, RunError> {
    let file: PathBuf = if path.is_dir() {
        path.join(crate::report::RUN_JSON)
    } else {
        path.to_path_buf()
    };
    let bad = |message: String| RunError::Report {
        path: file.clone(),
        message,
    };
    let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
    let schema = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| bad(format!("not JSON: {e}")))?
        .get("schema")
        .and_then(|s| s.as_str().map(str::to_string));
    if schema.as_deref() != Some(RUN_SCHEMA) {
        return Err(bad(format!(
            "schema {}, expected `{RUN_SCHEMA}`: compare runs of the same version",
            schema.map_or("missing".into(), |s| format!("`{s}`"))
        )));
    }
    let mut report: RunReport =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a cma run.json: {e}")))?;
    for unit in &mut report.units {
        unit.usage = UnitUsage::of(&unit.visits);
    }
    Ok(report)
}

/// The joined report, and the scenarios left out because not every side ran them.
#[derive(Debug, Clone)]
pub struct Combined {
    pub report: RunReport,
    /// (scenario, the sides that have it), for scenarios missing from some side.
    pub left_out: Vec<(String, Vec<String>)>,
}

/// Joins runs as the variants of one report: each side's units get its label as their variant
/// (`label/variant` for a side that had variants itself), only scenarios every side ran are
/// kept (the rest are listed), and checks are summarised and compared with the first side.
pub fn combine(sides: Vec<(VariantInfo, RunReport)>, run_id: String) -> Result<Combined, RunError> {
    let Some((_, first)) = sides.first() else {
        return Err(RunError::Config("nothing to compare".into()));
    };
    let mut labels = BTreeSet::new();
    for (info, _) in &sides {
        if !labels.insert(info.name.clone()) {
            return Err(RunError::Config(format!(
                "`{}` is given twice; compare different runs",
                info.name
            )));
        }
    }
    let mut settings = first.settings.clone();
    let min_pass_rate = settings.min_pass_rate;
    let names = |r: &RunReport| -> BTreeSet<String> {
        r.scenarios.iter().map(|s| s.name.clone()).collect()
    };
    let mut every: BTreeSet<String> = BTreeSet::new();
    for (_, r) in &sides {
        every.extend(names(r));
    }
    let mut left_out = Vec::new();
    let mut common = every.clone();
    for name in &every {
        let having: Vec<String> = sides
            .iter()
            .filter(|(_, r)| r.scenarios.iter().any(|s| &s.name == name))
            .map(|(i, _)| i.name.clone())
            .collect();
        if having.len() < sides.len() {
            common.remove(name);
            left_out.push((name.clone(), having));
        }
    }
    let mut variants = Vec::new();
    let mut units = Vec::new();
    let mut shared_stores = Vec::new();
    let mut cleanup = CleanupReport::default();
    let mut errors = Vec::new();
    let mut interrupted = false;
    let mut started_at = first.started_at;
    let mut finished_at = first.finished_at;
    let mut duration_ms = 0.0;
    for (info, r) in sides.iter() {
        let label = |v: &Option<String>| match v {
            Some(v) => format!("{}/{v}", info.name),
            None => info.name.clone(),
        };
        if r.settings.variants.is_empty() {
            variants.push(info.clone());
        } else {
            variants.extend(r.settings.variants.iter().map(|v| VariantInfo {
                name: format!("{}/{}", info.name, v.name),
                description: format!("{}: {}", info.description, v.description),
            }));
        }
        for u in r.units.iter().filter(|u| common.contains(&u.scenario)) {
            let mut u = u.clone();
            u.variant = Some(label(&u.variant));
            units.push(u);
        }
        shared_stores.extend(
            r.shared_stores
                .iter()
                .filter(|s| common.contains(&s.scenario))
                .cloned(),
        );
        absorb(&mut cleanup, &r.cleanup);
        errors.extend(r.errors.iter().map(|e| format!("{}: {e}", info.name)));
        interrupted |= r.interrupted;
        started_at = started_at.min(r.started_at);
        finished_at = finished_at.max(r.finished_at);
        duration_ms += r.duration_ms;
    }
    settings.variants = variants;
    settings.repeat = sides
        .iter()
        .map(|(_, r)| r.settings.repeat)
        .max()
        .unwrap_or(1);
    let mut report = RunReport {
        schema: RUN_SCHEMA.into(),
        run_id,
        started_at,
        finished_at,
        duration_ms,
        settings,
        scenarios: first
            .scenarios
            .iter()
            .filter(|s| common.contains(&s.name))
            .cloned()
            .collect(),
        units,
        shared_stores,
        checks: Vec::new(),
        regressions: Vec::new(),
        totals: Default::default(),
        cleanup,
        interrupted,
        errors,
        usage: Default::default(),
        comparisons: Vec::new(),
    };
    report.finish(min_pass_rate);
    Ok(Combined { report, left_out })
}

/// Adds one side's clean-up to the joined one.
fn absorb(into: &mut CleanupReport, side: &CleanupReport) {
    into.kept |= side.kept;
    into.sessions_archived += side.sessions_archived;
    into.sessions_deleted += side.sessions_deleted;
    into.stores_deleted += side.stores_deleted;
    into.agents_archived += side.agents_archived;
    into.environments_archived += side.environments_archived;
    into.failures.extend(side.failures.iter().cloned());
    into.left.extend(side.left.iter().cloned());
}

/// Applies a baseline to a joined report (every variant judged against the baseline).
pub fn apply_baseline(report: &mut RunReport, path: &Path) -> Result<(), RunError> {
    let baseline = crate::outcome::read_baseline(path)?;
    report.settings.baseline = Some(path.display().to_string());
    report.compare(&baseline);
    Ok(())
}
