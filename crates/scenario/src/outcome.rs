//! A run's results: every unit's turns and check verdicts, the per-check pass rates over
//! repeats, the totals and the baseline comparison. Serialized as `run.json`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{CheckId, Verdict};
use crate::error::RunError;
use crate::record::{StoreState, TurnRecord};
use crate::run::CleanupReport;
use crate::template::Customer;
use crate::usage::{TokenUsage, UnitUsage};

/// `run.json`'s schema name; bumped on incompatible changes.
pub const RUN_SCHEMA: &str = "cma.run.v1";

/// One check's verdict in one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    pub kind: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// One visit: one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecord {
    /// 1-based.
    pub visit: usize,
    pub name: Option<String>,
    pub session_id: Option<String>,
    pub turns: Vec<TurnRecord>,
}

/// One scenario × customer × repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitReport {
    pub scenario: String,
    pub customer: Customer,
    /// 1-based.
    pub repeat: usize,
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    /// The stores the sessions attached, with their state at the end (shared stores without it).
    pub stores: Vec<StoreState>,
    pub visits: Vec<VisitRecord>,
    pub checks: Vec<CheckResult>,
    /// A failure that stopped the unit early (a call to the API failed, a turn did not finish).
    pub error: Option<String>,
    /// Tokens per turn and in total (absent in run.json files written before it was recorded).
    #[serde(default)]
    pub usage: UnitUsage,
}

impl UnitReport {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.verdict.passed).count()
    }
}

/// A check aggregated over the repeats that ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub scenario: String,
    pub customer: String,
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    pub kind: String,
    pub runs: usize,
    pub passes: usize,
    pub pass_rate: f64,
    /// `pass_rate >= min_pass_rate`.
    pub ok: bool,
    /// The first failure's expected and seen, for summaries.
    pub expected: String,
    pub seen: String,
}

impl CheckSummary {
    /// The identity used to compare runs.
    pub fn key(&self) -> (String, String, CheckId) {
        (
            self.scenario.clone(),
            self.customer.clone(),
            self.id.clone(),
        )
    }
}

/// A check that passed in the baseline and fails now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub scenario: String,
    pub customer: String,
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    pub baseline_pass_rate: f64,
    pub pass_rate: f64,
    pub expected: String,
    pub seen: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub scenarios: usize,
    pub units: usize,
    /// Check verdicts (checks × repeats).
    pub results: usize,
    pub results_passed: usize,
    /// Distinct checks (scenario × customer × place), judged on their pass rate.
    pub checks: usize,
    pub checks_ok: usize,
    pub checks_failed: usize,
    pub regressions: usize,
    pub turns: usize,
    pub turns_unfinished: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub path: String,
    pub description: String,
    pub tags: Vec<String>,
    pub customers: usize,
    /// Checks in one run of every customer's script.
    pub checks: usize,
}

/// The options a run was started with, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub target: String,
    pub model: Option<String>,
    pub concurrency: usize,
    pub repeat: usize,
    pub min_pass_rate: f64,
    pub filters: Vec<String>,
    pub shard: Option<String>,
    pub turn_timeout_ms: u64,
    pub keep: bool,
    pub baseline: Option<String>,
    /// Which shell ran the agent's `bash` (`bubblewrap` or `emulated`) when the run started the
    /// emulator itself; absent for another target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
}

/// A shared store's state at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedStoreReport {
    pub scenario: String,
    pub repeat: usize,
    pub store: StoreState,
}

/// Everything about a run: `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub settings: RunSettings,
    pub scenarios: Vec<ScenarioInfo>,
    pub units: Vec<UnitReport>,
    pub shared_stores: Vec<SharedStoreReport>,
    pub checks: Vec<CheckSummary>,
    pub regressions: Vec<Regression>,
    pub totals: Totals,
    pub cleanup: CleanupReport,
    /// Ctrl-C stopped the run; units not finished are missing.
    pub interrupted: bool,
    /// Problems outside any unit (setup, clean-up).
    pub errors: Vec<String>,
    /// Tokens over every unit.
    #[serde(default)]
    pub usage: TokenUsage,
}

impl RunReport {
    /// 0 when every check met the pass rate, nothing regressed and the run finished; else 1.
    pub fn exit_code(&self) -> u8 {
        let ok = self.totals.checks_failed == 0
            && self.regressions.is_empty()
            && !self.interrupted
            && self.errors.is_empty();
        if ok { 0 } else { 1 }
    }

    /// Units sorted (scenario order, customer, repeat) and summaries computed.
    pub(crate) fn finish(&mut self, min_pass_rate: f64) {
        let order: BTreeMap<&str, usize> = self
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        self.units.sort_by_key(|u| {
            (
                order
                    .get(u.scenario.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
                u.customer.id.clone(),
                u.repeat,
            )
        });
        self.checks = summarize(&self.units, min_pass_rate);
        self.usage = self.units.iter().map(|u| u.usage.total).sum();
        let turns: Vec<&TurnRecord> = self
            .units
            .iter()
            .flat_map(|u| u.visits.iter().flat_map(|v| &v.turns))
            .collect();
        self.totals = Totals {
            scenarios: self.scenarios.len(),
            units: self.units.len(),
            results: self.units.iter().map(|u| u.checks.len()).sum(),
            results_passed: self
                .units
                .iter()
                .map(|u| u.checks.iter().filter(|c| c.verdict.passed).count())
                .sum(),
            checks: self.checks.len(),
            checks_ok: self.checks.iter().filter(|c| c.ok).count(),
            checks_failed: self.checks.iter().filter(|c| !c.ok).count(),
            regressions: self.regressions.len(),
            turns: turns.len(),
            turns_unfinished: turns.iter().filter(|t| !t.finished()).count(),
        };
    }

    /// Compares with an earlier run: every check that was ok there and is not now.
    pub(crate) fn compare(&mut self, baseline: &[CheckSummary]) {
        let before: BTreeMap<_, &CheckSummary> = baseline.iter().map(|c| (c.key(), c)).collect();
        self.regressions = self
            .checks
            .iter()
            .filter(|now| !now.ok)
            .filter_map(|now| {
                let was = before.get(&now.key())?;
                was.ok.then(|| Regression {
                    scenario: now.scenario.clone(),
                    customer: now.customer.clone(),
                    id: now.id.clone(),
                    label: now.label.clone(),
                    baseline_pass_rate: was.pass_rate,
                    pass_rate: now.pass_rate,
                    expected: now.expected.clone(),
                    seen: now.seen.clone(),
                })
            })
            .collect();
        self.totals.regressions = self.regressions.len();
    }

    /// A few lines for a terminal: failures, regressions, totals.
    pub fn console_summary(&self) -> String {
        let mut out = String::new();
        for c in self.checks.iter().filter(|c| !c.ok) {
            out.push_str(&format!(
                "FAIL {} [{}] {}: {} ({}/{} passed)\n     expected: {}\n     seen:     {}\n",
                c.scenario, c.customer, c.id, c.label, c.passes, c.runs, c.expected, c.seen
            ));
        }
        if !self.regressions.is_empty() {
            out.push_str(&format!(
                "{} regression(s) against the baseline:\n",
                self.regressions.len()
            ));
            for r in &self.regressions {
                out.push_str(&format!(
                    "  REGRESSED {} [{}] {}: {} (pass rate {:.0}% -> {:.0}%)\n",
                    r.scenario,
                    r.customer,
                    r.id,
                    r.label,
                    r.baseline_pass_rate * 100.0,
                    r.pass_rate * 100.0
                ));
            }
        }
        for e in &self.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        if self.interrupted {
            out.push_str("interrupted: the run was stopped before every unit finished\n");
        }
        let t = &self.totals;
        out.push_str(&format!(
            "{} scenarios, {} units, {} checks: {} ok, {} failed ({} of {} verdicts passed); {} turns ({} unfinished); {:.2} s\n",
            t.scenarios,
            t.units,
            t.checks,
            t.checks_ok,
            t.checks_failed,
            t.results_passed,
            t.results,
            t.turns,
            t.turns_unfinished,
            self.duration_ms / 1000.0
        ));
        out
    }
}

/// Groups verdicts by check across repeats.
fn summarize(units: &[UnitReport], min_pass_rate: f64) -> Vec<CheckSummary> {
    let mut map: BTreeMap<(String, String, CheckId), CheckSummary> = BTreeMap::new();
    let mut order: Vec<(String, String, CheckId)> = Vec::new();
    for u in units {
        for c in &u.checks {
            let key = (u.scenario.clone(), u.customer.id.clone(), c.id.clone());
            let entry = map.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                CheckSummary {
                    scenario: u.scenario.clone(),
                    customer: u.customer.id.clone(),
                    id: c.id.clone(),
                    label: c.label.clone(),
                    kind: c.kind.clone(),
                    runs: 0,
                    passes: 0,
                    pass_rate: 0.0,
                    ok: false,
                    expected: c.verdict.expected.clone(),
                    seen: c.verdict.seen.clone(),
                }
            });
            entry.runs += 1;
            if c.verdict.passed {
                entry.passes += 1;
            } else if entry.passes + 1 == entry.runs {
                // The first failure (all earlier runs passed) is the one shown.
                entry.expected = c.verdict.expected.clone();
                entry.seen = c.verdict.seen.clone();
            }
        }
    }
    order
        .into_iter()
        .filter_map(|k| map.remove(&k))
        .map(|mut c| {
            c.pass_rate = if c.runs == 0 {
                0.0
            } else {
                c.passes as f64 / c.runs as f64
            };
            c.ok = c.pass_rate + 1e-9 >= min_pass_rate;
            c
        })
        .collect()
}

/// Reads the check summaries of an earlier `run.json`.
pub fn read_baseline(path: &Path) -> Result<Vec<CheckSummary>, RunError> {
    let bad = |message: String| RunError::Baseline {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    #[derive(Deserialize)]
    struct Partial {
        schema: String,
        checks: Vec<CheckSummary>,
    }
    let partial: Partial =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a cma run.json: {e}")))?;
    if partial.schema != RUN_SCHEMA {
        return Err(bad(format!(
            "schema `{}`, expected `{RUN_SCHEMA}`",
            partial.schema
        )));
    }
    Ok(partial.checks)
}
