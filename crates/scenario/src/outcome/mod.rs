//! A run's results: every unit's turns and check verdicts, the per-check pass rates over
//! repeats, the totals and the baseline comparison. Serialized as `run.json`.

pub mod comparison;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{CheckId, Verdict};
use crate::error::RunError;
use crate::record::{StoreState, TurnRecord};
use crate::template::Customer;
use crate::usage::{TokenUsage, TurnUsage, UnitUsage};

/// `run.json`'s schema name; bumped on incompatible changes.
pub const RUN_SCHEMA: &str = "cma.run.v1";

/// The report's file name in a run directory.
pub const RUN_JSON: &str = "run.json";

/// What the clean-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// `--keep` was given: nothing was removed.
    pub kept: bool,
    pub sessions_archived: usize,
    /// Sessions that could not be archived and were deleted instead.
    pub sessions_deleted: usize,
    pub stores_deleted: usize,
    pub agents_archived: usize,
    pub environments_archived: usize,
    /// Resources left behind, with the reason.
    pub failures: Vec<String>,
    /// Ids of what `--keep` left in place.
    pub left: Vec<String>,
}

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
    /// The variant (`cma run --variant`) or run (`cma compare`) this unit belongs to; absent in a
    /// run without variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub scenario: String,
    pub customer: String,
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    pub kind: String,
    pub runs: usize,
    pub passes: usize,
    /// Runs whose verdict is an error (the check could not be judged): counted in `runs`, not
    /// in `passes`.
    #[serde(default)]
    pub errors: usize,
    pub pass_rate: f64,
    /// `pass_rate >= min_pass_rate`.
    pub ok: bool,
    /// The first failure's expected and seen, for summaries.
    pub expected: String,
    pub seen: String,
}

impl CheckSummary {
    /// The identity used to compare runs (within one variant).
    pub fn key(&self) -> (Option<String>, String, String, CheckId) {
        (
            self.variant.clone(),
            self.scenario.clone(),
            self.customer.clone(),
            self.id.clone(),
        )
    }

    /// The check's identity across variants.
    pub fn place(&self) -> (String, String, CheckId) {
        (
            self.scenario.clone(),
            self.customer.clone(),
            self.id.clone(),
        )
    }

    /// Its side of a comparison.
    pub fn side(&self) -> crate::stats::Side {
        crate::stats::Side {
            passes: self.passes,
            runs: self.runs,
            ok: self.ok,
        }
    }
}

/// A check that passed in the baseline and fails now: with one repeat on either side, ok before
/// and failing now; with repeats on both, a drop Fisher's exact test calls significant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub scenario: String,
    pub customer: String,
    #[serde(flatten)]
    pub id: CheckId,
    pub label: String,
    pub baseline_pass_rate: f64,
    pub pass_rate: f64,
    /// Fisher's two-sided p-value, when both runs had repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
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
    /// Verdicts that are errors (neither pass nor fail).
    #[serde(default)]
    pub results_errored: usize,
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
    /// The model behind the embedded emulator's agent (`--agent anthropic|openai`); absent for
    /// the reference agent and other targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSettings>,
    /// `--variant`s, in the order given; the first is the one the others are compared with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<crate::variant::VariantInfo>,
}

/// A model agent's settings as the run used them, so a run can be repeated exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// `anthropic` or `openai`.
    pub backend: String,
    /// Without credentials.
    pub base_url: String,
    /// `--agent-model`; unset: each scenario's model.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub max_tokens: u32,
    /// `--agent-memory-guidance`: the memory section advised the model to read and write memory
    /// (absent: it said only what the service documents).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub memory_guidance: bool,
    /// `--agent-context-tokens`; absent: asked of the server where it says (each unit's
    /// `usage.total.peak_prompt_tokens` shows how close it came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
}

impl AgentSettings {
    /// One line for reports: `openai at http://…/v1, model m, temperature 0, seed 7, max tokens 4096`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} at {}", self.backend, self.base_url)];
        if let Some(m) = &self.model {
            parts.push(format!("model {m}"));
        }
        parts.push(match self.temperature {
            Some(t) => format!("temperature {t}"),
            None => "the server's temperature".into(),
        });
        if let Some(seed) = self.seed {
            parts.push(format!("seed {seed}"));
        }
        parts.push(format!("max tokens {}", self.max_tokens));
        if let Some(n) = self.context_tokens {
            parts.push(format!("context {n} tokens"));
        }
        if self.memory_guidance {
            parts.push("memory guidance".into());
        }
        parts.join(", ")
    }
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
    /// Every check of every variant after the first, judged against the first (`--variant`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<comparison::Comparison>,
}

impl RunReport {
    /// 0 when every check met the pass rate, nothing regressed and the run finished; else 1.
    pub fn exit_code(&self) -> u8 {
        let ok = self.totals.checks_failed == 0
            && self.regressions.is_empty()
            && !comparison::any_regressed(&self.comparisons)
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
        let variants: BTreeMap<&str, usize> = self
            .settings
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        self.units.sort_by_key(|u| {
            (
                u.variant
                    .as_deref()
                    .and_then(|v| variants.get(v).copied())
                    .unwrap_or(0),
                order
                    .get(u.scenario.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
                u.customer.id.clone(),
                u.repeat,
            )
        });
        self.checks = summarize(&self.units, min_pass_rate);
        self.comparisons = comparison::between_variants(self);
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
            results_errored: self
                .units
                .iter()
                .map(|u| {
                    u.checks
                        .iter()
                        .filter(|c| c.verdict.error.is_some())
                        .count()
                })
                .sum(),
            checks: self.checks.len(),
            checks_ok: self.checks.iter().filter(|c| c.ok).count(),
            checks_failed: self.checks.iter().filter(|c| !c.ok).count(),
            regressions: self.regressions.len(),
            turns: turns.len(),
            turns_unfinished: turns.iter().filter(|t| !t.finished()).count(),
        };
    }

    /// Compares with an earlier run, check by check (within the same variant): a regression is
    /// what [`crate::stats::judge`] calls regressed.
    pub(crate) fn compare(&mut self, baseline: &[CheckSummary]) {
        let before: BTreeMap<_, &CheckSummary> = baseline.iter().map(|c| (c.key(), c)).collect();
        self.regressions = self
            .checks
            .iter()
            .filter_map(|now| {
                // A baseline without variants stands for every variant of this run.
                let was = before.get(&now.key()).or_else(|| {
                    before.get(&(
                        None,
                        now.scenario.clone(),
                        now.customer.clone(),
                        now.id.clone(),
                    ))
                })?;
                let judgement = crate::stats::judge(was.side(), now.side());
                (judgement.change == crate::stats::Change::Regressed).then(|| Regression {
                    variant: now.variant.clone(),
                    scenario: now.scenario.clone(),
                    customer: now.customer.clone(),
                    id: now.id.clone(),
                    label: now.label.clone(),
                    baseline_pass_rate: was.pass_rate,
                    pass_rate: now.pass_rate,
                    p_value: judgement.p_value,
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
            let variant = c
                .variant
                .as_deref()
                .map(|v| format!("{{{v}}} "))
                .unwrap_or_default();
            // A check that could not be judged is an error, not a failure of the agent.
            let (what, errors) = match c.errors {
                0 => ("FAIL", String::new()),
                n => ("ERROR", format!(", {n} could not be judged")),
            };
            out.push_str(&format!(
                "{what} {variant}{} [{}] {}: {} ({}/{} passed{errors})\n     expected: {}\n     seen:     {}\n",
                c.scenario, c.customer, c.id, c.label, c.passes, c.runs, c.expected, c.seen
            ));
        }
        out.push_str(&comparison::console_lines(&self.comparisons));
        if !self.regressions.is_empty() {
            out.push_str(&format!(
                "{} regression(s) against the baseline:\n",
                self.regressions.len()
            ));
            for r in &self.regressions {
                out.push_str(&format!(
                    "  REGRESSED {}{} [{}] {}: {} (pass rate {:.0}% -> {:.0}%{})\n",
                    r.variant
                        .as_deref()
                        .map(|v| format!("{{{v}}} "))
                        .unwrap_or_default(),
                    r.scenario,
                    r.customer,
                    r.id,
                    r.label,
                    r.baseline_pass_rate * 100.0,
                    r.pass_rate * 100.0,
                    r.p_value
                        .map(|p| format!(", Fisher p = {p:.4}"))
                        .unwrap_or_default()
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
        let errored = match t.results_errored {
            0 => String::new(),
            n => format!(", {n} errors"),
        };
        out.push_str(&format!(
            "{} scenarios, {} units, {} checks: {} ok, {} failed ({} of {} verdicts passed{errored}); {} turns ({} unfinished); {:.2} s\n",
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
    type Key = (Option<String>, String, String, CheckId);
    let mut map: BTreeMap<Key, CheckSummary> = BTreeMap::new();
    let mut order: Vec<Key> = Vec::new();
    for u in units {
        for c in &u.checks {
            let key = (
                u.variant.clone(),
                u.scenario.clone(),
                u.customer.id.clone(),
                c.id.clone(),
            );
            let entry = map.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                CheckSummary {
                    variant: u.variant.clone(),
                    scenario: u.scenario.clone(),
                    customer: u.customer.id.clone(),
                    id: c.id.clone(),
                    label: c.label.clone(),
                    kind: c.kind.clone(),
                    runs: 0,
                    passes: 0,
                    errors: 0,
                    pass_rate: 0.0,
                    ok: false,
                    expected: c.verdict.expected.clone(),
                    seen: c.verdict.seen.clone(),
                }
            });
            entry.runs += 1;
            if c.verdict.error.is_some() {
                entry.errors += 1;
            }
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

// Summed here, beside the visits it reads, so that `usage` stays below `outcome`.
impl UnitUsage {
    pub fn of(visits: &[VisitRecord]) -> Self {
        let turns: Vec<TurnUsage> = visits
            .iter()
            .flat_map(|v| v.turns.iter().map(TurnUsage::of))
            .collect();
        let total = turns.iter().map(|t| t.usage).sum();
        UnitUsage { turns, total }
    }
}
