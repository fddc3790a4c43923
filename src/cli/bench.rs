//! `cma bench`: turn latency against any target, and SSE decoding throughput, for users' CI.
//! Numbers are reported, never asserted, except against the budget the user passes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use cma_client::turn::{TurnEnd, TurnOptions, run_turn};
use serde::Serialize;

use cma_client::Client;
use cma_client::types::{
    Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateMemoryStore,
    CreateSession, PermissionPolicy, ResourceParams, Tool,
};
use cma_scenario::{Connection, Target};

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Run turns against a target and report time to first byte, to first agent.message and to idle.
    #[command(
        after_help = "Examples:\n  cma bench turns --turns 200 --concurrency 4\n  cma bench turns --target http://127.0.0.1:4010 --json --p95-budget-ms 50\n\nEach turn is one user.message through the same streaming turn loop `cma run` uses (stream opened\nbefore the send). Exit status 1 when --p95-budget-ms is given and p95 time-to-idle exceeds it."
    )]
    Turns(TurnsArgs),
    /// Decode an SSE byte stream and report throughput (for comparison with other decoders).
    Sse(SseArgs),
}

#[derive(clap::Args)]
pub struct TurnsArgs {
    /// `local` (an embedded emulator), a base URL (e.g. `cma serve`), or `live` (the real API;
    /// needs ANTHROPIC_API_KEY).
    #[arg(long, default_value = "local")]
    target: String,
    /// Measured turns in total (after warm-up).
    #[arg(long, default_value_t = 100)]
    turns: usize,
    /// Sessions running turns at the same time.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Unmeasured turns per worker before measuring.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Turns in one session before the worker starts a new one (a visit).
    #[arg(long, default_value_t = 10)]
    turns_per_session: usize,
    /// The agent's model (`emulator:*` ids select emulator behaviours).
    #[arg(long, default_value = "claude-sonnet-4-6")]
    model: String,
    /// Per-turn timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    turn_timeout: f64,
    /// Print one JSON object (milliseconds) instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the summary and every turn's timings as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit 1 when the p95 time to idle is over this many milliseconds.
    #[arg(long)]
    p95_budget_ms: Option<f64>,
}

#[derive(clap::Args)]
pub struct SseArgs {
    /// A file of raw SSE bytes; without it a synthetic session stream of --mib MiB is used.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Size of the synthetic stream.
    #[arg(long, default_value_t = 16)]
    mib: usize,
    /// Bytes fed to the decoder per call.
    #[arg(long, default_value_t = 65536)]
    chunk: usize,
    /// Also parse each frame's JSON into a typed event.
    #[arg(long)]
    typed: bool,
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    #[arg(long)]
    json: bool,
    /// Write the bytes used to this file (to feed another decoder the same input).
    #[arg(long)]
    write: Option<PathBuf>,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Turns(args) => turns(args).await,
        BenchCommand::Sse(args) => sse(args),
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
struct TurnSample {
    first_byte_ms: f64,
    first_message_ms: f64,
    idle_ms: f64,
}

#[derive(Debug, Serialize)]
struct Percentiles {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

#[derive(Debug, Serialize)]
struct TurnsSummary {
    target: String,
    turns: usize,
    concurrency: usize,
    failed_turns: usize,
    wall_seconds: f64,
    turns_per_second: f64,
    first_byte_ms: Percentiles,
    first_message_ms: Percentiles,
    idle_ms: Percentiles,
    p95_budget_ms: Option<f64>,
    over_budget: bool,
    /// CPU time (user + system) this process spent per turn while the turns ran. Against a URL
    /// target that is the client's own cost; with `local` it includes the embedded emulator.
    process_cpu_ms_per_turn: Option<f64>,
}

fn percentiles(mut xs: Vec<f64>) -> Percentiles {
    if xs.is_empty() {
        return Percentiles {
            p50: f64::NAN,
            p95: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
        };
    }
    xs.sort_by(f64::total_cmp);
    // Nearest-rank percentiles: always an observed value.
    let rank = |p: f64| xs[((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1];
    Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: xs[xs.len() - 1],
        mean: xs.iter().sum::<f64>() / xs.len() as f64,
    }
}

async fn turns(args: TurnsArgs) -> anyhow::Result<ExitCode> {
    if args.turns == 0 || args.concurrency == 0 {
        return Err(
            super::UsageError("--turns and --concurrency must be at least 1".into()).into(),
        );
    }
    let target: Target = args.target.parse().map_err(super::UsageError)?;
    let connection = Connection::open(&target)
        .await
        .map_err(|e| super::UsageError(e.to_string()))?;
    let client = connection.client.clone();
    let fixture = BenchFixture::create(&client, &args.model).await?;
    let options = TurnOptions {
        turn_timeout: Duration::from_secs_f64(args.turn_timeout),
        gap_timeout: Duration::from_secs_f64(args.turn_timeout),
        max_reconnects: 5,
    };

    let per_session = args.turns.div_ceil(args.concurrency);
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let n = per_session.min(args.turns.saturating_sub(worker * per_session));
        let (client, options, warmup, per_visit) = (
            client.clone(),
            options.clone(),
            args.warmup,
            args.turns_per_session.max(1),
        );
        let session_params = fixture.session_params();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut failed = 0usize;
            let mut sessions: Vec<String> = Vec::new();
            for t in 0..(warmup + n) {
                // A new session every few turns, as visits are: one long session would make every
                // turn slower than the last as its conversation grows.
                if t % per_visit == 0 {
                    match client.sessions().create(&session_params).await {
                        Ok(s) => sessions.push(s.id),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not create a benchmark session");
                            failed += warmup + n - t;
                            break;
                        }
                    }
                }
                let Some(session_id) = sessions.last() else {
                    break;
                };
                let text = BENCH_MESSAGES[t % BENCH_MESSAGES.len()];
                match run_turn(&client, session_id, text, &options).await {
                    Ok(turn) if turn.end == TurnEnd::Idle => {
                        if t >= warmup {
                            samples.push(TurnSample {
                                first_byte_ms: turn.timings.first_byte_ms.unwrap_or(f64::NAN),
                                first_message_ms: turn.timings.first_message_ms.unwrap_or(f64::NAN),
                                idle_ms: turn.timings.idle_ms.unwrap_or(turn.timings.total_ms),
                            });
                        }
                    }
                    Ok(turn) => {
                        tracing::warn!(session_id, end = ?turn.end, "turn did not finish");
                        failed += 1;
                    }
                    Err(e) => {
                        tracing::warn!(session_id, error = %e, "turn failed");
                        failed += 1;
                    }
                }
            }
            (samples, failed, sessions)
        }));
    }
    let mut samples = Vec::new();
    let mut failed = 0;
    let mut fixture = fixture;
    for task in tasks {
        let (s, f, sessions) = task.await.context("a benchmark task panicked")?;
        samples.extend(s);
        failed += f;
        fixture.session_ids.extend(sessions);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu_ms_per_turn = match (cpu_before, process_cpu_seconds()) {
        (Some(a), Some(b)) if !samples.is_empty() => Some(
            (b - a) * 1000.0 / (samples.len() + failed + args.warmup * args.concurrency) as f64,
        ),
        _ => None,
    };
    fixture.cleanup(&client).await;
    connection.close().await;

    let column = |f: fn(&TurnSample) -> f64| {
        percentiles(samples.iter().map(f).filter(|x| x.is_finite()).collect())
    };
    let idle = column(|s| s.idle_ms);
    // A NaN p95 (no finished turn) counts as over budget.
    let over_budget = args
        .p95_budget_ms
        .is_some_and(|b| idle.p95.is_nan() || idle.p95 > b);
    let summary = TurnsSummary {
        target: target.to_string(),
        turns: samples.len(),
        concurrency: args.concurrency,
        failed_turns: failed,
        wall_seconds: wall,
        turns_per_second: samples.len() as f64 / wall,
        first_byte_ms: column(|s| s.first_byte_ms),
        first_message_ms: column(|s| s.first_message_ms),
        idle_ms: idle,
        p95_budget_ms: args.p95_budget_ms,
        over_budget,
        process_cpu_ms_per_turn: cpu_ms_per_turn,
    };

    if let Some(path) = &args.out {
        let doc = serde_json::json!({ "summary": &summary, "turns": &samples });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} turns against {} ({} concurrent, {} failed) in {:.2} s: {:.1} turns/s",
            summary.turns,
            summary.target,
            summary.concurrency,
            failed,
            wall,
            summary.turns_per_second
        );
        println!(
            "{:<22}{:>10}{:>10}{:>10}{:>10}",
            "milliseconds", "p50", "p95", "p99", "max"
        );
        for (name, p) in [
            ("to first byte", &summary.first_byte_ms),
            ("to first agent.message", &summary.first_message_ms),
            ("to idle", &summary.idle_ms),
        ] {
            println!(
                "{name:<22}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
                p.p50, p.p95, p.p99, p.max
            );
        }
        if let Some(budget) = args.p95_budget_ms {
            println!(
                "p95 to idle {:.3} ms against a budget of {budget} ms: {}",
                summary.idle_ms.p95,
                if over_budget { "OVER" } else { "ok" }
            );
        }
    }
    Ok(if over_budget || failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux; clock ticks of 10 ms).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// The messages benchmark turns cycle through: a fact to learn, a recall, a recommendation.
const BENCH_MESSAGES: &[&str] = &[
    "Hi! I wear a size medium and my budget is under $200.",
    "What size do I wear?",
    "Can you suggest a jacket for me?",
];

fn sse(args: SseArgs) -> anyhow::Result<ExitCode> {
    let bytes = match &args.input {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => cma_client::testing::sample_event_stream(args.mib << 20),
    };
    if let Some(path) = &args.write {
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.chunk == 0 {
        return Err(super::UsageError("--chunk must be at least 1".into()).into());
    }
    let mut best = f64::INFINITY;
    let mut frames = 0usize;
    for _ in 0..args.iterations.max(1) {
        let start = Instant::now();
        let mut decoder = cma_client::sse::SseDecoder::new();
        let mut n = 0usize;
        for chunk in bytes.chunks(args.chunk) {
            decoder.feed(chunk);
            while let Some(frame) = decoder.next_frame() {
                if args.typed
                    && let Some(Ok(event)) =
                        cma_client::resources::sessions::events::dispatch(&frame)
                {
                    std::hint::black_box(event);
                }
                n += 1;
            }
        }
        n += decoder.finish().is_some() as usize;
        best = best.min(start.elapsed().as_secs_f64());
        frames = n;
    }
    let mib_per_s = bytes.len() as f64 / best / (1 << 20) as f64;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"bytes": bytes.len(), "chunk": args.chunk, "typed": args.typed, "frames": frames, "best_seconds": best, "mib_per_second": mib_per_s})
        );
    } else {
        println!(
            "{} bytes, {} frames, chunk {} B{}: best of {} {:.4} s = {:.1} MiB/s",
            bytes.len(),
            frames,
            args.chunk,
            if args.typed { ", typed" } else { "" },
            args.iterations,
            best,
            mib_per_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// An agent, an environment and a store; workers create their sessions, recorded here for cleanup.
pub struct BenchFixture {
    pub agent_id: String,
    pub environment_id: String,
    pub store_id: String,
    pub session_ids: Vec<String>,
}

impl BenchFixture {
    pub async fn create(client: &Client, model: &str) -> anyhow::Result<Self> {
        let tag = format!("cma-bench-{}", std::process::id());
        let env = client
            .environments()
            .create(&CreateEnvironment {
                name: tag.clone(),
                ..Default::default()
            })
            .await
            .context("creating the benchmark environment")?;
        let mut agent = CreateAgent::new(tag.clone(), model);
        agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
            PermissionPolicy::AlwaysAllow(Default::default()),
        ))]);
        let agent = client
            .agents()
            .create(&agent)
            .await
            .context("creating the benchmark agent")?;
        let store = client
            .memory_stores()
            .create(&CreateMemoryStore {
                name: format!("{tag} preferences"),
                ..Default::default()
            })
            .await
            .context("creating the benchmark memory store")?;
        let fixture = Self {
            agent_id: agent.id,
            environment_id: env.id,
            store_id: store.id,
            session_ids: Vec::new(),
        };
        Ok(fixture)
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
