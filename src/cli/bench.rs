//! `cma bench`: turn latency against any target, and SSE decoding throughput, for users' CI.
//! This module only parses arguments and prints; the measuring is `cma_bench`'s.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cma_bench::sse::{SseConfig, measure_sse};
use cma_bench::{BenchError, TurnsConfig, TurnsReport, run_turns};
use cma_client::turn::TurnOptions;
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
    /// The embedded emulator's agent (`--target local` only). With a model agent the report adds
    /// its requests' time to first token and output tokens per second.
    #[command(flatten)]
    agent: super::serve::AgentArgs,
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

/// Bad settings are usage errors (exit 2), like any other bad argument.
fn usage_or(e: BenchError) -> anyhow::Error {
    match e {
        BenchError::InvalidSettings(m) => super::UsageError(m).into(),
        e => e.into(),
    }
}

async fn turns(args: TurnsArgs) -> anyhow::Result<ExitCode> {
    let target: Target = args.target.parse().map_err(super::UsageError)?;
    let timeout = Duration::from_secs_f64(args.turn_timeout);
    let mut config = TurnsConfig {
        target: target.to_string(),
        model: args.model.clone(),
        turns: args.turns,
        concurrency: args.concurrency,
        warmup: args.warmup,
        turns_per_session: args.turns_per_session,
        turn_options: TurnOptions {
            turn_timeout: timeout,
            gap_timeout: timeout,
            max_reconnects: 5,
        },
        p95_budget_ms: args.p95_budget_ms,
        model_timings: None,
    };
    config.check().map_err(usage_or)?;
    let mut agent = args.agent.config()?;
    if agent.backend != cma_emulator::Backend::Reference {
        // Time to first token is not on the Managed Agents wire: only a model client in this
        // process can say it.
        if target != Target::Local {
            return Err(super::UsageError(format!(
                "--agent {} runs inside the embedded emulator (--target local); a server's model \
                 requests are timed on its own `model_request` spans (RUST_LOG=cma_models=debug)",
                agent.backend
            ))
            .into());
        }
        args.agent.warn_without_key();
        let timings = cma_emulator::TimingLog::new();
        agent.timings = Some(timings.clone());
        config.model_timings = Some(timings);
    }
    let local = super::embedded_emulator(cma_emulator::EmulatorConfig {
        agent,
        ..cma_emulator::EmulatorConfig::default()
    });
    let connection = Connection::open(&target, Some(&local))
        .await
        .map_err(|e| super::UsageError(e.to_string()))?;
    let report = run_turns(&connection.client, &config).await;
    connection.close().await;
    let report = report.map_err(usage_or)?;

    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report.summary)?);
    } else {
        print_turns(&report);
    }
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_turns(report: &TurnsReport) {
    let summary = &report.summary;
    println!(
        "{} turns against {} ({} concurrent, {} failed) in {:.2} s: {:.1} turns/s",
        summary.turns,
        summary.target,
        summary.concurrency,
        summary.failed_turns,
        summary.wall_seconds,
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
    if let Some(m) = &summary.model_requests {
        println!(
            "{} model requests (warm-up included): time to first token p50 {:.1} ms, p95 {:.1} ms; \
             {:.1} output tokens/s p50",
            m.requests, m.first_token_ms.p50, m.first_token_ms.p95, m.output_tokens_per_second.p50
        );
    }
    if let Some(budget) = summary.p95_budget_ms {
        println!(
            "p95 to idle {:.3} ms against a budget of {budget} ms: {}",
            summary.idle_ms.p95,
            if summary.over_budget { "OVER" } else { "ok" }
        );
    }
}

fn sse(args: SseArgs) -> anyhow::Result<ExitCode> {
    if args.chunk == 0 {
        return Err(super::UsageError("--chunk must be at least 1".into()).into());
    }
    let bytes = match &args.input {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => cma_bench::samples::sample_event_stream(args.mib << 20),
    };
    if let Some(path) = &args.write {
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let config = SseConfig {
        chunk: args.chunk,
        typed: args.typed,
        iterations: args.iterations,
    };
    let report = measure_sse(&bytes, &config).map_err(usage_or)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} bytes, {} frames, chunk {} B{}: best of {} {:.4} s = {:.1} MiB/s",
            report.bytes,
            report.frames,
            report.chunk,
            if report.typed { ", typed" } else { "" },
            report.iterations,
            report.best_seconds,
            report.mib_per_second
        );
    }
    Ok(ExitCode::SUCCESS)
}
