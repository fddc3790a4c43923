//! The runner: creates what a run needs (an environment, one agent per distinct agent spec,
//! shared stores), runs every unit (scenario × customer × repeat) with bounded concurrency, and
//! removes everything it created — also after a failure or on the shutdown signal (Ctrl-C).

mod answer;
mod ledger;
pub mod plan;
mod progress;
pub mod target;
mod unit;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use cma_client::Client;
use cma_client::types::{
    AgentToolset, CloudConfig, CreateAgent, CreateEnvironment, CustomTool, Empty,
    EnvironmentConfig, LimitedNetworking, Networking, PermissionPolicy, Tool,
};
use futures::StreamExt;

pub use crate::outcome::CleanupReport;
pub use plan::{Shard, Unit};
pub use progress::ProgressMode;
pub use target::{LocalServer, LocalTarget, Target};

use crate::error::RunError;
use crate::outcome::{
    AgentSettings, RUN_SCHEMA, RunReport, RunSettings, ScenarioInfo, SharedStoreReport, UnitReport,
    read_baseline,
};
use crate::record::StoreState;
use crate::scenario::{AgentSpec, Scenario};
use ledger::Ledger;
use progress::Progress;
use target::Connection;

/// The metadata key holding the run id on everything a run creates (stores, sessions, agents,
/// the environment): what finds a run's leftovers. Store names cannot: they are the scenario's
/// own, shared by every customer and run.
pub const RUN_KEY: &str = "cma_run";

/// Whether `metadata` marks a resource created by run `run_id`.
pub fn created_by(metadata: &BTreeMap<String, String>, run_id: &str) -> bool {
    metadata.get(RUN_KEY).is_some_and(|r| r == run_id)
}

/// The longest `--turn-timeout` accepted.
pub const MAX_TURN_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    /// Replaces every scenario's model.
    pub model: Option<String>,
    /// Units run at once; `None` for the target's default (8 local, 4 URL, 2 live).
    pub concurrency: Option<usize>,
    /// Runs of each customer's script.
    pub repeat: usize,
    /// A check passes when at least this share of its repeats pass.
    pub min_pass_rate: f64,
    /// `tag:x` or a name substring; a scenario runs when any matches (all run when empty).
    pub filters: Vec<String>,
    pub shard: Option<Shard>,
    /// Bounds each turn, from sending the message to the idle event.
    pub turn_timeout: Duration,
    /// Leave everything created in place.
    pub keep: bool,
    /// An earlier `run.json`: checks that were ok there and fail now are regressions.
    pub baseline: Option<PathBuf>,
    pub progress: ProgressMode,
    /// The model judging `llm_rubric` checks; a scenario with one is refused without it.
    pub grader: Option<crate::grade::GraderSpec>,
    /// Where grader verdicts are cached (e.g. `<reports-dir>/grader-cache`); `None` caches nothing.
    pub grader_cache: Option<PathBuf>,
    /// Starts the server of `Target::Local` (the embedded emulator, handed in by the CLI).
    pub local: Option<LocalTarget>,
    /// The model agent behind the embedded emulator, recorded in `run.json`.
    pub agent: Option<AgentSettings>,
    /// Which shell the emulator behind the run gives the agent's `bash` (`bubblewrap` or
    /// `emulated`), when the caller started it; recorded in `run.json`.
    pub shell: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            target: Target::Local,
            model: None,
            concurrency: None,
            repeat: 1,
            min_pass_rate: 1.0,
            filters: Vec::new(),
            shard: None,
            turn_timeout: Duration::from_secs(60),
            keep: false,
            baseline: None,
            progress: ProgressMode::Auto,
            grader: None,
            grader_cache: None,
            local: None,
            agent: None,
            shell: None,
        }
    }
}

/// What every unit shares.
pub(crate) struct Shared<'a> {
    pub client: Client,
    pub run_id: String,
    pub environment_id: String,
    /// (scenario index, agent spec) → (agent id, version).
    agents: HashMap<(usize, AgentSpec), (String, u64)>,
    /// (scenario index, repeat, store key) → the shared store.
    pub shared_stores: HashMap<(usize, usize, String), StoreState>,
    pub ledger: &'a Ledger,
    pub turn_timeout: Duration,
    pub keep: bool,
    pub model: Option<String>,
    pub repeats: usize,
    pub grader: Option<crate::grade::Grader>,
}

impl Shared<'_> {
    /// The agent a script runs, after `--model`.
    pub fn agent_for(&self, scenario: usize, spec: &AgentSpec) -> Option<(String, u64)> {
        self.agents.get(&(scenario, self.effective(spec))).cloned()
    }

    fn effective(&self, spec: &AgentSpec) -> AgentSpec {
        let mut spec = spec.clone();
        if let Some(m) = &self.model {
            spec.model = m.clone();
        }
        spec
    }
}

/// A new run id: UTC time and 4 random hex digits, e.g. `20261124T122455Z-3f9a`.
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

fn policy(name: &str) -> PermissionPolicy {
    match name {
        "always_ask" => PermissionPolicy::AlwaysAsk(Empty {}),
        "auto" => PermissionPolicy::Auto(Empty {}),
        _ => PermissionPolicy::AlwaysAllow(Empty {}),
    }
}

/// Runs the scenarios. Resolves early, after cleaning up, when `shutdown` completes (pass
/// `tokio::signal::ctrl_c()`); the report then says `interrupted`. Failed checks are in the
/// report, not errors; an error means the run could not be set up (or the baseline is unreadable).
pub async fn run(
    scenarios: &[Scenario],
    options: &RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<RunReport, RunError> {
    let baseline = options.baseline.as_deref().map(read_baseline).transpose()?;
    if !(0.0..=1.0).contains(&options.min_pass_rate) {
        return Err(RunError::Config(format!(
            "--min-pass-rate is between 0 and 1, not {}",
            options.min_pass_rate
        )));
    }
    if options.repeat == 0 {
        return Err(RunError::Config("--repeat is at least 1".into()));
    }
    if options.turn_timeout.is_zero() || options.turn_timeout > MAX_TURN_TIMEOUT {
        return Err(RunError::Config(
            "--turn-timeout is more than 0 and at most 24 hours".into(),
        ));
    }
    let selected = plan::filter(scenarios, &options.filters);
    if selected.is_empty() {
        return Err(RunError::Config(match options.filters.is_empty() {
            true => "no scenarios to run".into(),
            false => format!(
                "no scenario matches --filter {}",
                options.filters.join(", ")
            ),
        }));
    }
    if options.grader.is_none()
        && let Some(s) = selected.iter().find(|s| {
            s.scripts.iter().any(|sc| {
                sc.all_checks()
                    .any(|c| matches!(c.check, crate::Check::LlmRubric { .. }))
            })
        })
    {
        return Err(RunError::Config(format!(
            "{}: `llm_rubric` checks need a grader model: --grader anthropic:MODEL or --grader openai:MODEL@URL",
            s.path.display()
        )));
    }
    let units = plan::units(&selected, options.repeat, options.shard);
    let concurrency = options
        .concurrency
        .unwrap_or_else(|| options.target.default_concurrency())
        .max(1);

    let started_at = Utc::now();
    let clock = Instant::now();
    let run_id = new_run_id();
    let conn = Connection::open(&options.target, options.local.as_ref()).await?;
    let target_description = conn.description.clone();
    let ledger = Ledger::default();
    let progress = Progress::new(options.progress, units.len());
    progress.note(&format!(
        "run {run_id}: {} units of {} scenarios against {target_description}, {concurrency} at a time",
        units.len(),
        selected.len()
    ));
    let finished: Mutex<Vec<UnitReport>> = Mutex::new(Vec::new());

    let work = async {
        let shared = setup(&conn.client, &ledger, &run_id, &selected, &units, options).await?;
        futures::stream::iter(units.iter().copied())
            .map(|u| {
                let shared = &shared;
                let scenario = selected[u.scenario];
                let progress = &progress;
                let finished = &finished;
                async move {
                    let report = unit::run_unit(shared, scenario, u.scenario, u).await;
                    let failed = report.failed();
                    progress.unit_done(
                        &format!(
                            "{} [{}] repeat {}: {}/{} checks passed ({:.1} s){}",
                            report.scenario,
                            report.customer.id,
                            report.repeat,
                            report.checks.len() - failed,
                            report.checks.len(),
                            report.duration_ms / 1000.0,
                            report
                                .error
                                .as_deref()
                                .map(|e| format!(" — {e}"))
                                .unwrap_or_default()
                        ),
                        failed > 0,
                    );
                    lock(finished).push(report);
                }
            })
            .buffer_unordered(concurrency)
            .collect::<()>()
            .await;
        // The shared stores' final state, for the history report.
        let mut shared_reports = Vec::new();
        for ((si, repeat, _), store) in &shared.shared_stores {
            let mut store = store.clone();
            store.snapshot = unit::read_store(&shared, &store.store_id, true).await.ok();
            shared_reports.push(SharedStoreReport {
                scenario: selected[*si].name.clone(),
                repeat: *repeat,
                store,
            });
        }
        shared_reports.sort_by(|a, b| {
            (&a.scenario, a.repeat, &a.store.key).cmp(&(&b.scenario, b.repeat, &b.store.key))
        });
        Ok::<_, RunError>(shared_reports)
    };

    let outcome = tokio::select! {
        r = work => Some(r),
        _ = shutdown => None,
    };
    progress.finish();
    let interrupted = outcome.is_none();
    let cleanup = ledger.clean_up(&conn.client, options.keep).await;
    conn.close().await;
    let shared_stores = match outcome {
        Some(Err(e)) => return Err(e),
        Some(Ok(s)) => s,
        None => Vec::new(),
    };

    let mut report = RunReport {
        schema: RUN_SCHEMA.into(),
        run_id,
        started_at,
        finished_at: Utc::now(),
        duration_ms: clock.elapsed().as_secs_f64() * 1000.0,
        settings: RunSettings {
            target: target_description,
            model: options.model.clone(),
            concurrency,
            repeat: options.repeat,
            min_pass_rate: options.min_pass_rate,
            filters: options.filters.clone(),
            shard: options.shard.map(|s| s.to_string()),
            turn_timeout_ms: options.turn_timeout.as_millis() as u64,
            keep: options.keep,
            baseline: options.baseline.as_ref().map(|p| p.display().to_string()),
            shell: options.shell.clone(),
            agent: options.agent.clone(),
            variants: Vec::new(),
        },
        scenarios: selected
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.clone(),
                path: s.path.display().to_string(),
                description: s.description.clone(),
                tags: s.tags.clone(),
                customers: s.scripts.len(),
                checks: s.check_count(),
            })
            .collect(),
        units: std::mem::take(&mut *lock(&finished)),
        shared_stores,
        checks: Vec::new(),
        regressions: Vec::new(),
        totals: Default::default(),
        cleanup,
        interrupted,
        errors: Vec::new(),
        usage: Default::default(),
        comparisons: Vec::new(),
    };
    report.finish(options.min_pass_rate);
    if let Some(b) = &baseline {
        report.compare(b);
    }
    Ok(report)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Creates the environment, the agents and the shared stores the units need.
async fn setup<'a>(
    client: &Client,
    ledger: &'a Ledger,
    run_id: &str,
    scenarios: &[&Scenario],
    units: &[Unit],
    options: &RunOptions,
) -> Result<Shared<'a>, RunError> {
    let api = |what: &str| {
        let what = what.to_string();
        move |source: cma_client::Error| RunError::Api { what, source }
    };
    let timeout = Duration::from_secs(60);
    let bounded = |what: &str| {
        let what = what.to_string();
        move |_| RunError::Api {
            what,
            source: cma_client::Error::Timeout(timeout),
        }
    };
    let mut shared = Shared {
        client: client.clone(),
        run_id: run_id.to_string(),
        environment_id: String::new(),
        agents: HashMap::new(),
        shared_stores: HashMap::new(),
        ledger,
        turn_timeout: options.turn_timeout,
        keep: options.keep,
        model: options.model.clone(),
        repeats: options.repeat,
        grader: options
            .grader
            .clone()
            .map(|g| crate::grade::Grader::new(g, options.grader_cache.clone())),
    };
    if units.is_empty() {
        return Ok(shared);
    }
    let env = CreateEnvironment {
        name: format!("cma-{run_id}"),
        config: Some(EnvironmentConfig::Cloud(CloudConfig {
            networking: Some(Networking::Limited(LimitedNetworking::default())),
            packages: None,
        })),
        description: Some("Created by `cma run`; archived when the run ends.".into()),
        metadata: Some(BTreeMap::from([(RUN_KEY.to_string(), run_id.to_string())])),
        scope: None,
    };
    let env = tokio::time::timeout(timeout, client.environments().create(&env))
        .await
        .map_err(bounded("creating the environment"))?
        .map_err(api("creating the environment"))?;
    ledger.add_environment(&env.id);
    shared.environment_id = env.id;

    for u in units {
        let scenario = scenarios[u.scenario];
        let spec = shared.effective(&scenario.scripts[u.customer].agent);
        let key = (u.scenario, spec.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = shared.agents.entry(key) {
            let mut params = CreateAgent::new(
                format!("cma-{run_id}-{}", scenario.name),
                spec.model.clone(),
            );
            params.description = Some(
                spec.description
                    .clone()
                    .unwrap_or_else(|| spec.name.clone()),
            );
            params.system = spec.system.clone();
            let custom = spec.custom_tools.iter().map(|t| {
                Tool::Custom(CustomTool {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    input_schema: serde_json::Value::Object(t.input_schema.0.clone()),
                })
            });
            params.tools = Some(
                std::iter::once(Tool::AgentToolset20260401(AgentToolset::all(policy(
                    &spec.permission_policy,
                ))))
                .chain(custom)
                .collect(),
            );
            params.metadata = Some(BTreeMap::from([
                (RUN_KEY.to_string(), run_id.to_string()),
                ("cma_scenario".to_string(), scenario.name.clone()),
            ]));
            let what = format!("creating the agent of scenario `{}`", scenario.name);
            let agent = tokio::time::timeout(timeout, client.agents().create(&params))
                .await
                .map_err(bounded(&what))?
                .map_err(api(&what))?;
            ledger.add_agent(&agent.id);
            slot.insert((agent.id, agent.version));
        }
        for spec in scenario.scripts[u.customer]
            .stores
            .iter()
            .filter(|s| s.shared)
        {
            let key = (u.scenario, u.repeat, spec.key.clone());
            if shared.shared_stores.contains_key(&key) {
                continue;
            }
            let owner = unit::StoreOwner {
                run_id,
                scenario: &scenario.name,
                customer: None,
                repeat: u.repeat,
                repeats: options.repeat,
            };
            let store = unit::create_store(&shared, spec, &owner)
                .await
                .map_err(|e| RunError::Setup(format!("scenario `{}`: {e}", scenario.name)))?;
            shared.shared_stores.insert(key, store);
        }
    }
    Ok(shared)
}
