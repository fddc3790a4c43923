//! `cma run`: parse the flags, load the scenarios, run them, print the outcome. The logic lives
//! in `cma-scenario`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use cma_scenario::{ProgressMode, RunOptions, Shard, Target};

use super::UsageError;

const AFTER_HELP: &str = "\
Targets:
  local          start the emulator in-process, with its deterministic reference agent (default)
  URL            any server speaking the API, e.g. `cma serve` at http://127.0.0.1:4010
                 (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN is sent if set)
  live           the real API: needs ANTHROPIC_API_KEY; honours ANTHROPIC_BASE_URL

Reports go to <reports-dir>/<run-id>/ (index.html, results.csv, summary.md, junit.xml,
run.json, history/<store>.diff); <reports-dir>/latest points at the newest run. `cma report`
rebuilds them from run.json.

Variants: `--variant NAME[:FLAG=VALUE,…]`, repeatable, runs every unit once per variant and
reports them side by side (a matrix of scenarios and checks × variants, the transcripts of units
where they disagree, each variant's tokens and time to idle). Flags, comma-separated:
  model=ID               every scenario's model, as --model (e.g. emulator:forgetful)
  agent=BACKEND          the embedded emulator's agent: reference, anthropic or openai
  agent-model=ID         the model id that backend sends, as --agent-model
  agent-base-url=URL     where that backend's model is, as --agent-base-url
  temperature=T          that backend's sampling temperature (0 to 2), as --agent-temperature
  system-file=PATH       this file's text replaces every scenario's [agent] system
  instructions-file=PATH this file's text replaces every store's instructions
A variant without flags runs the run's own settings. Every check of each later variant is judged
against the first: regressed or improved only when Fisher's exact test gives p < 0.05 (with one
repeat: ok in the first and failing in the other), else inconclusive, with the repeats that would
tell. `--baseline` uses the same rule when both runs have repeats.

Exit status: 0 every check passed; 1 a check failed (below --min-pass-rate), a baseline
regression or a significant regression against the first variant, or the run was interrupted;
2 a bad scenario file, option, variant or configuration.

Examples:
  cma run                                         # every scenarios/*.toml on the embedded emulator
  cma run scenarios/personal-shopper.toml         # one file
  cma run --filter tag:isolation --filter shopper # by tag or name substring
  cma run --model emulator:forgetful              # a regressing agent: recall checks must fail
  cma serve & cma run --target http://127.0.0.1:4010
  ANTHROPIC_API_KEY=... cma run --target live --repeat 3 --min-pass-rate 0.66
  cma run --shard 2/4                             # CI matrix: the 2nd of 4 disjoint parts
  cma run --baseline reports/<old-id>/run.json    # fail on checks that passed before
  cma run --repeat 5 --variant reference --variant forgetful:model=emulator:forgetful
  cma run --variant old --variant new:system-file=prompts/new-system.txt --repeat 5
  cat reports/latest/summary.md >> \"$GITHUB_STEP_SUMMARY\"

The scenario format, every check kind and templating over a customers CSV are described in
scenarios/README.md.";

/// `--turn-timeout` when none is given.
const DEFAULT_TURN_TIMEOUT: Duration = Duration::from_secs(60);
/// `--turn-timeout` when none is given and the model agent's server is on this machine.
const LOCAL_MODEL_TURN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Progress {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// A bar, even when stderr is not a terminal.
    Bar,
    /// One line per finished unit.
    Lines,
    /// Nothing.
    Off,
}

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct RunArgs {
    /// Scenario files, or directories searched for *.toml.
    #[arg(value_name = "PATHS", default_value = "scenarios")]
    pub paths: Vec<PathBuf>,

    /// `local` (embedded emulator), `live` (the real API), or a base URL.
    #[arg(long, default_value = "local", value_parser = parse_target)]
    pub target: Target,

    /// Use this model for every scenario's agent (e.g. `emulator:forgetful`).
    #[arg(long)]
    pub model: Option<String>,

    /// Units (scenario × customer × repeat) run at once [default: 8 local, 4 URL, 2 live; 1
    /// with a model agent on this machine, whose server usually answers one request at a time].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,

    /// Run each customer's script N times; each check gets a pass rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub repeat: u16,

    /// A check passes when at least this share of its repeats pass (0 to 1).
    #[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
    pub min_pass_rate: f64,

    /// Run scenarios whose name contains this, or `tag:NAME` for a tag; repeatable (any matches).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Vec<String>,

    /// Run only part i of n (1-based, e.g. `2/4`), for CI matrices; the n parts cover every unit once.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Bound on each turn, to idle: `60`, `90s`, `1500ms`, `2m`. A turn that times out fails its
    /// checks and stops its script; the run goes on. [default: 60s; 600s with a model agent on
    /// this machine]
    #[arg(long, value_parser = parse_duration)]
    pub turn_timeout: Option<Duration>,

    /// Leave the sessions, stores, agents and environment in place.
    #[arg(long)]
    pub keep: bool,

    /// Where run directories and `latest` go.
    #[arg(long, default_value = "reports")]
    pub reports_dir: PathBuf,

    /// An earlier run.json: fail (exit 1) listing every check that regressed (passed there and
    /// fails now; with repeats on both sides, a drop Fisher's exact test calls significant).
    #[arg(long, value_name = "RUN_JSON")]
    pub baseline: Option<PathBuf>,

    /// Progress on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,

    /// List the units that would run (after --filter and --shard), then exit.
    #[arg(long)]
    pub list: bool,

    /// The model judging `llm_rubric` checks: `anthropic:MODEL` or `openai:MODEL@URL`, at
    /// temperature 0. A grader that refuses, is cut off or gives no verdict makes the check an
    /// error (neither pass nor fail). Verdicts are cached under <reports-dir>/grader-cache.
    #[arg(long, value_name = "SPEC", value_parser = parse_grader)]
    pub grader: Option<cma_scenario::grade::GraderSpec>,

    /// The environment variable holding the grader's key. Without it a key goes only to the
    /// backend's own API: ANTHROPIC_API_KEY to api.anthropic.com, OPENAI_API_KEY to
    /// api.openai.com; a local or other server gets none.
    #[arg(long, value_name = "NAME", requires = "grader")]
    pub grader_api_key_env: Option<String>,

    /// Run every unit once per variant, `NAME[:FLAG=VALUE,…]` (see below); repeatable, names
    /// unique. The first is the one the others are judged against.
    #[arg(long, value_name = "NAME:FLAGS", value_parser = parse_variant)]
    pub variant: Vec<cma_scenario::variant::VariantSpec>,

    /// The agent behind the embedded emulator's sessions (`--target local` only).
    #[command(flatten)]
    pub agent: super::serve::AgentArgs,
}

fn parse_variant(s: &str) -> Result<cma_scenario::variant::VariantSpec, String> {
    s.parse()
}

fn parse_target(s: &str) -> Result<Target, String> {
    s.parse()
}

fn parse_grader(s: &str) -> Result<cma_scenario::grade::GraderSpec, String> {
    s.parse()
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("a pass rate is a number from 0 to 1, not {s:?}")),
    }
}

/// `60`, `60s`, `1.5s`, `1500ms`, `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v > 0.0 => match Duration::try_from_secs_f64(v * scale) {
            Ok(d) if d <= cma_scenario::run::MAX_TURN_TIMEOUT => Ok(d),
            _ => Err(format!("{s:?} is longer than 24 hours")),
        },
        _ => Err(format!(
            "a duration such as 60, 90s, 1500ms or 2m, not {s:?}"
        )),
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenarios = cma_scenario::load_paths(&args.paths).map_err(|e| UsageError(e.to_string()))?;
    // Non-portable checks do not stop a run: they are warnings, as `cma lint` lists them.
    match cma_scenario::lint::lint(&scenarios) {
        Ok(findings) => {
            for f in findings {
                eprintln!("warning: {f}");
            }
        }
        Err(e) => eprintln!("warning: could not lint the scenarios: {e}"),
    }
    let agent = args.agent.config()?;
    let model_backend = agent.backend != cma_emulator::Backend::Reference;
    if model_backend && args.target != Target::Local {
        return Err(UsageError(format!(
            "--agent {} runs inside the embedded emulator (--target local); for a server, start it \
             with `cma serve --agent {}`",
            agent.backend, agent.backend
        ))
        .into());
    }
    // A model server on this machine usually has one slot and is slow: one unit at a time, and
    // turns given ten minutes, unless the user says otherwise.
    let local_model = model_backend && agent.client().is_local();
    let turn_timeout = args.turn_timeout.unwrap_or(match local_model {
        true => LOCAL_MODEL_TURN_TIMEOUT,
        false => DEFAULT_TURN_TIMEOUT,
    });
    let mut options = RunOptions {
        target: args.target,
        model: args.model,
        concurrency: args
            .concurrency
            .map(usize::from)
            .or(local_model.then_some(1)),
        repeat: usize::from(args.repeat),
        min_pass_rate: args.min_pass_rate,
        filters: args.filter,
        shard: args.shard,
        turn_timeout,
        keep: args.keep,
        baseline: args.baseline,
        progress: match args.progress {
            Progress::Auto => ProgressMode::Auto,
            Progress::Bar => ProgressMode::Bar,
            Progress::Lines => ProgressMode::Lines,
            Progress::Off => ProgressMode::Off,
        },
        grader: args.grader.map(|g| cma_scenario::grade::GraderSpec {
            api_key_env: args.grader_api_key_env.clone(),
            ..g
        }),
        grader_cache: Some(args.reports_dir.join("grader-cache")),
        // `--target local` starts its emulator with the agent flags too (`--emulated-shell`, the
        // sandbox's caps), not with the defaults.
        local: Some(super::embedded_emulator(cma_emulator::EmulatorConfig {
            agent: agent.clone(),
            ..cma_emulator::EmulatorConfig::default()
        })),
        agent: super::agent_settings(&agent),
        shell: Some(super::shell_name(&agent)),
    };

    if !args.variant.is_empty() {
        if args.list {
            super::variants::list(&args.variant, &scenarios, &options, &agent)?;
            return Ok(ExitCode::SUCCESS);
        }
        if model_backend {
            args.agent.warn_without_key();
        }
        let report = super::variants::run_all(&args.variant, &scenarios, &options, &agent).await?;
        return finish(&report, &args.reports_dir);
    }

    if args.list {
        let selected = cma_scenario::run::plan::filter(&scenarios, &options.filters);
        if selected.is_empty() {
            return Err(UsageError(format!(
                "no scenario matches --filter {}",
                options.filters.join(", ")
            ))
            .into());
        }
        for u in cma_scenario::run::plan::units(&selected, options.repeat, options.shard) {
            let s = selected[u.scenario];
            println!(
                "{}\t{}\trepeat {}\t{} checks\t{}",
                s.name,
                s.scripts[u.customer].customer.id,
                u.repeat,
                s.scripts[u.customer].check_count(),
                s.path.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    // A model backend gets an emulator of its own, configured with it, that the run targets.
    let _emulator = if model_backend && !args.list {
        args.agent.warn_without_key();
        args.agent.warn_emulated_shell(&agent);
        options.shell = Some(super::shell_name(&agent));
        let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig {
            agent,
            ..cma_emulator::EmulatorConfig::default()
        })
        .await
        .context("starting the embedded emulator")?;
        options.target = Target::Url(emulator.base_url());
        if let Some(a) = &options.agent {
            eprintln!(
                "--agent {}; concurrency {}, turn timeout {} s",
                a.describe(),
                options
                    .concurrency
                    .unwrap_or_else(|| options.target.default_concurrency()),
                options.turn_timeout.as_secs_f64()
            );
        }
        Some(emulator)
    } else {
        None
    };

    let shutdown = async {
        // Without signal support, never interrupt.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        eprintln!("interrupted: cleaning up what the run created (Ctrl-C again to quit at once)");
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted again: quitting without finishing the clean-up");
                std::process::exit(130);
            }
        });
    };
    let report = match cma_scenario::run(&scenarios, &options, shutdown).await {
        Ok(r) => r,
        Err(e) if e.is_usage() => return Err(UsageError(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    finish(&report, &args.reports_dir)
}

/// Prints the outcome, writes the reports; the exit status.
fn finish(
    report: &cma_scenario::RunReport,
    reports_dir: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    print!("{}", report.console_summary());
    let dir =
        cma_scenario::report::write_reports(report, reports_dir).context("writing reports")?;
    println!("reports: {}", dir.display());
    println!(
        "page: {}",
        dir.join(cma_scenario::report::INDEX_HTML).display()
    );
    Ok(ExitCode::from(report.exit_code()))
}
