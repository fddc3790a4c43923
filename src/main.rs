//! `cma`: recall regression tests, memory history diffs and turn-latency benchmarks for
//! Claude Managed Agents memory stores. The CLI is thin: each subcommand parses its arguments
//! and calls a library crate.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cma", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Environment: ANTHROPIC_API_KEY (else ANTHROPIC_AUTH_TOKEN), ANTHROPIC_BASE_URL, RUST_LOG.\nExit status: 0 success, 1 a check or budget failed, 2 bad input, configuration or usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run recall scenarios (default: against the embedded emulator).
    Run(cli::run::RunArgs),
    /// Find checks that assert one agent's wording instead of what the script gave.
    Lint(cli::lint::LintArgs),
    /// Rebuild a run's HTML page and other reports from its run.json; print the page's path.
    Report(cli::report::ReportArgs),
    /// Compare earlier runs side by side: a matrix page and a Markdown summary for a PR comment.
    Compare(cli::compare::CompareArgs),
    /// Serve the local emulator of the Managed Agents API.
    Serve(cli::serve::ServeArgs),
    /// Show a memory store's version history as diffs, or the store as it was at a time.
    History(cli::history::HistoryArgs),
    /// Diff two snapshots of a whole memory store.
    Diff(cli::history::DiffArgs),
    /// List, create, show, archive and delete memory stores.
    #[command(subcommand)]
    Stores(cli::stores::StoresCommand),
    /// List, read, write, move and remove memories.
    #[command(subcommand)]
    Memories(cli::stores::MemoriesCommand),
    /// List, show and redact memory versions.
    #[command(subcommand)]
    Versions(cli::stores::VersionsCommand),
    /// Measure turn latency against a target, or SSE decoding throughput.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

fn main() -> ExitCode {
    cli::init_tracing();
    // Every key cma may hold (target, agent model, grader, serve, webhooks) is redacted from tool
    // results and reports (`cma_emulator::redact`).
    cma_emulator::redact::register_env(&[
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "CMA_SERVE_API_KEY",
        "CMA_WEBHOOK_SECRET",
    ]);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => cli::run::run(args).await,
            Command::Lint(args) => cli::lint::run(args),
            Command::Report(args) => cli::report::run(args),
            Command::Compare(args) => cli::compare::run(args),
            Command::Serve(args) => cli::serve::run(args).await,
            Command::History(args) => cli::history::history(args).await,
            Command::Diff(args) => cli::history::diff(args).await,
            Command::Stores(cmd) => cli::stores::stores(cmd).await,
            Command::Memories(cmd) => cli::stores::memories(cmd).await,
            Command::Versions(cmd) => cli::stores::versions(cmd).await,
            Command::Bench(cmd) => cli::bench::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit_code_for(&e))
        }
    }
}
