//! Worker sessions running turns against a target, each turn through the client's streaming turn
//! loop, timed to first byte, to the first `agent.message` and to idle.

use std::time::Instant;

use cma_client::Client;
use cma_client::turn::{SessionTurns, TurnEnd, TurnOptions};
use cma_client::types::{
    Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateMemoryStore,
    CreateSession, PermissionPolicy, ResourceParams, Tool,
};
use serde::Serialize;

use crate::stats::{Percentiles, percentiles};
use crate::{BenchError, cpu};

/// What to run.
#[derive(Debug, Clone)]
pub struct TurnsConfig {
    /// How reports name the target (never with credentials).
    pub target: String,
    /// The agent's model (`emulator:*` ids select emulator behaviours).
    pub model: String,
    /// Measured turns in total, after warm-up.
    pub turns: usize,
    /// Sessions running turns at the same time.
    pub concurrency: usize,
    /// Unmeasured turns per worker before measuring.
    pub warmup: usize,
    /// Turns in one session before a worker starts a new one (a visit).
    pub turns_per_session: usize,
    pub turn_options: TurnOptions,
    /// The p95 time to idle the caller will hold the run to, if any.
    pub p95_budget_ms: Option<f64>,
    /// The model agent's timing log, when the target's agent is a model the caller can see
    /// (the embedded emulator's): its requests are summarised in the report.
    pub model_timings: Option<cma_models::TimingLog>,
}

impl TurnsConfig {
    /// Refuses settings that cannot run, before anything is created on the target.
    pub fn check(&self) -> Result<(), BenchError> {
        if self.turns == 0 || self.concurrency == 0 {
            return Err(BenchError::InvalidSettings(
                "--turns and --concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// One measured turn, in milliseconds from just before the send (NaN where not observed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TurnSample {
    pub first_byte_ms: f64,
    pub first_message_ms: f64,
    pub idle_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TurnsSummary {
    pub target: String,
    /// Measured turns that finished idle.
    pub turns: usize,
    pub concurrency: usize,
    pub failed_turns: usize,
    pub wall_seconds: f64,
    pub turns_per_second: f64,
    pub first_byte_ms: Percentiles,
    pub first_message_ms: Percentiles,
    pub idle_ms: Percentiles,
    pub p95_budget_ms: Option<f64>,
    /// A NaN p95 (no finished turn) counts as over budget.
    pub over_budget: bool,
    /// CPU time (user + system) this process spent per turn, warm-up included, while the turns
    /// ran. Against a URL target that is the client's own cost; with an embedded emulator it
    /// includes the emulator's.
    pub process_cpu_ms_per_turn: Option<f64>,
    /// The model agent's requests (time to first token, tokens per second), when it is a model
    /// in this process.
    pub model_requests: Option<crate::ModelRequests>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TurnsReport {
    pub summary: TurnsSummary,
    /// Every measured turn, in no particular order across workers.
    pub turns: Vec<TurnSample>,
}

impl TurnsReport {
    /// Whether the run should fail a CI job: a turn failed or the budget was exceeded.
    pub fn failed(&self) -> bool {
        self.summary.over_budget || self.summary.failed_turns > 0
    }
}

/// The messages benchmark turns cycle through: a fact to learn, a recall, a recommendation.
pub const BENCH_MESSAGES: &[&str] = &[
    "Hi! I wear a size medium and my budget is under $200.",
    "What size do I wear?",
    "Can you suggest a jacket for me?",
];

/// Creates a fixture, runs every worker, cleans up and summarises. A turn that fails is counted in
/// `failed_turns`; only a fixture that cannot be created is an error.
pub async fn run_turns(client: &Client, config: &TurnsConfig) -> Result<TurnsReport, BenchError> {
    config.check()?;
    let mut fixture = BenchFixture::create(client, &config.model).await?;
    let per_worker = config.turns.div_ceil(config.concurrency);
    let cpu_before = cpu::process_cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..config.concurrency {
        let measured = per_worker.min(config.turns.saturating_sub(worker * per_worker));
        let job = WorkerJob {
            client: client.clone(),
            session: fixture.session_params(),
            options: config.turn_options.clone(),
            warmup: config.warmup,
            measured,
            per_visit: config.turns_per_session.max(1),
        };
        tasks.push(tokio::spawn(job.run()));
    }
    let mut samples = Vec::new();
    let mut failed = 0;
    let mut worker_error = None;
    for task in tasks {
        match task.await {
            Ok(done) => {
                samples.extend(done.samples);
                failed += done.failed;
                fixture.session_ids.extend(done.sessions);
            }
            Err(e) => worker_error = Some(e.to_string()),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let turns_run = samples.len() + failed + config.warmup * config.concurrency;
    let cpu_ms_per_turn = match (cpu_before, cpu::process_cpu_seconds()) {
        (Some(a), Some(b)) if !samples.is_empty() => Some((b - a) * 1000.0 / turns_run as f64),
        _ => None,
    };
    fixture.cleanup(client).await;
    if let Some(e) = worker_error {
        return Err(BenchError::Worker(e));
    }

    let column = |f: fn(&TurnSample) -> f64| percentiles(samples.iter().map(f).collect());
    let idle = column(|s| s.idle_ms);
    let over_budget = config
        .p95_budget_ms
        .is_some_and(|b| idle.p95.is_nan() || idle.p95 > b);
    let summary = TurnsSummary {
        target: config.target.clone(),
        turns: samples.len(),
        concurrency: config.concurrency,
        failed_turns: failed,
        wall_seconds: wall,
        turns_per_second: samples.len() as f64 / wall,
        first_byte_ms: column(|s| s.first_byte_ms),
        first_message_ms: column(|s| s.first_message_ms),
        idle_ms: idle,
        p95_budget_ms: config.p95_budget_ms,
        over_budget,
        process_cpu_ms_per_turn: cpu_ms_per_turn,
        model_requests: config
            .model_timings
            .as_ref()
            .map(crate::model_requests::summarize),
    };
    Ok(TurnsReport {
        summary,
        turns: samples,
    })
}

/// One worker: `warmup + measured` turns, a new session every `per_visit` turns.
struct WorkerJob {
    client: Client,
    session: CreateSession,
    options: TurnOptions,
    warmup: usize,
    measured: usize,
    per_visit: usize,
}

struct WorkerDone {
    samples: Vec<TurnSample>,
    failed: usize,
    sessions: Vec<String>,
}

impl WorkerJob {
    async fn run(self) -> WorkerDone {
        let total = self.warmup + self.measured;
        let mut done = WorkerDone {
            samples: Vec::with_capacity(self.measured),
            failed: 0,
            sessions: Vec::new(),
        };
        // One event stream per session, kept open across its turns, as a long-running agent
        // host would keep it.
        let mut visit: Option<SessionTurns> = None;
        for t in 0..total {
            // A new session every few turns, as visits are: one long session would make every
            // turn slower than the last as its conversation grows.
            if t % self.per_visit == 0 {
                match self.client.sessions().create(&self.session).await {
                    Ok(s) => {
                        visit = Some(SessionTurns::new(&self.client, s.id.clone()));
                        done.sessions.push(s.id);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not create a benchmark session");
                        done.failed += total - t;
                        break;
                    }
                }
            }
            let Some(turns) = visit.as_mut() else {
                break;
            };
            let text = BENCH_MESSAGES[t % BENCH_MESSAGES.len()];
            match turns.run_turn(text, &self.options).await {
                Ok(turn) if turn.end == TurnEnd::Idle => {
                    if t >= self.warmup {
                        let t = &turn.timings;
                        done.samples.push(TurnSample {
                            first_byte_ms: t.first_byte_ms.unwrap_or(f64::NAN),
                            first_message_ms: t.first_message_ms.unwrap_or(f64::NAN),
                            idle_ms: t.idle_ms.unwrap_or(t.total_ms),
                        });
                    }
                }
                Ok(turn) => {
                    tracing::warn!(session_id = turns.session_id(), end = ?turn.end, "turn did not finish");
                    done.failed += 1;
                }
                Err(e) => {
                    tracing::warn!(session_id = turns.session_id(), error = %e, "turn failed");
                    done.failed += 1;
                }
            }
        }
        done
    }
}

/// An agent, an environment and a store; workers create their sessions, recorded here for cleanup.
pub struct BenchFixture {
    pub agent_id: String,
    pub environment_id: String,
    pub store_id: String,
    pub session_ids: Vec<String>,
}

impl BenchFixture {
    pub async fn create(client: &Client, model: &str) -> Result<Self, BenchError> {
        let tag = format!("cma-bench-{}", std::process::id());
        let failed = |what| move |source| BenchError::Client { what, source };
        let env = client
            .environments()
            .create(&CreateEnvironment {
                name: tag.clone(),
                ..Default::default()
            })
            .await
            .map_err(failed("creating the benchmark environment"))?;
        let mut agent = CreateAgent::new(tag.clone(), model);
        agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
            PermissionPolicy::AlwaysAllow(Default::default()),
        ))]);
        let agent = client
            .agents()
            .create(&agent)
            .await
            .map_err(failed("creating the benchmark agent"))?;
        let store = client
            .memory_stores()
            .create(&CreateMemoryStore {
                name: format!("{tag} preferences"),
                ..Default::default()
            })
            .await
            .map_err(failed("creating the benchmark memory store"))?;
        Ok(Self {
            agent_id: agent.id,
            environment_id: env.id,
            store_id: store.id,
            session_ids: Vec::new(),
        })
    }

    /// A session on the agent, the environment and the store (read-write).
    pub fn session_params(&self) -> CreateSession {
        let mut params = CreateSession::new(
            AgentRef::Id(self.agent_id.clone()),
            self.environment_id.clone(),
        );
        params.resources = Some(vec![ResourceParams::memory_store(
            self.store_id.clone(),
            Access::ReadWrite,
            None,
        )]);
        params
    }

    /// Best effort: a failure here is logged, not fatal, since the measurements are already taken.
    pub async fn cleanup(&self, client: &Client) {
        let idle_wait = std::time::Duration::from_secs(10);
        for id in &self.session_ids {
            let _ = client.sessions().wait_for_idle(id, idle_wait).await;
            if let Err(e) = client.sessions().archive(id).await {
                tracing::warn!(session = %id, error = %e, "could not archive a benchmark session");
            }
        }
        if let Err(e) = client.memory_stores().delete(&self.store_id).await {
            tracing::warn!(store = %self.store_id, error = %e, "could not delete the benchmark store");
        }
        let _ = client.agents().archive(&self.agent_id).await;
        let _ = client.environments().archive(&self.environment_id).await;
    }
}
