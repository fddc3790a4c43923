//! `cma run --variant`: every unit once per variant, each variant a run of its own (its own
//! embedded emulator when it sets an agent backend), joined into one report whose checks are
//! judged against the first variant's.

use anyhow::Context;
use cma_emulator::{AgentConfig, Backend};
use cma_scenario::variant::{VariantSpec, check_unique};
use cma_scenario::{RunOptions, RunReport, Scenario, Target};
use tokio::sync::watch;

use super::UsageError;

/// One variant, ready to run: its scenarios, options and agent.
struct Prepared {
    spec: VariantSpec,
    scenarios: Vec<Scenario>,
    options: RunOptions,
    agent: AgentConfig,
}

/// Checks every variant (names, backends, files) before anything runs.
fn prepare(
    variants: &[VariantSpec],
    scenarios: &[Scenario],
    options: &RunOptions,
    agent: &AgentConfig,
) -> Result<Vec<Prepared>, UsageError> {
    check_unique(variants).map_err(UsageError)?;
    variants
        .iter()
        .map(|v| {
            let mut agent = agent.clone();
            if let Some(b) = &v.agent {
                agent.backend = b
                    .parse::<Backend>()
                    .map_err(|e| UsageError(format!("--variant {}: {e}", v.name)))?;
            }
            if v.agent_model.is_some() {
                agent.model = v.agent_model.clone();
            }
            if v.agent_base_url.is_some() {
                agent.base_url = v.agent_base_url.clone();
            }
            if v.temperature.is_some() {
                agent.temperature = v.temperature;
            }
            if agent.backend != Backend::Reference && options.target != Target::Local {
                return Err(UsageError(format!(
                    "--variant {}: agent {} runs inside the embedded emulator (--target local)",
                    v.name, agent.backend
                )));
            }
            let mut options = options.clone();
            if v.model.is_some() {
                options.model = v.model.clone();
            }
            // The baseline is applied once, to the joined report.
            options.baseline = None;
            Ok(Prepared {
                spec: v.clone(),
                scenarios: v.apply(scenarios).map_err(UsageError)?,
                options,
                agent,
            })
        })
        .collect()
}

/// Runs every variant in turn and joins their reports; Ctrl-C stops the variant running and
/// skips the rest (the report says `interrupted`).
pub async fn run_all(
    variants: &[VariantSpec],
    scenarios: &[Scenario],
    options: &RunOptions,
    agent: &AgentConfig,
) -> anyhow::Result<RunReport> {
    let prepared = prepare(variants, scenarios, options, agent)?;
    if let Some(path) = &options.baseline {
        cma_scenario::outcome::read_baseline(path).map_err(|e| UsageError(e.to_string()))?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        eprintln!("interrupted: cleaning up what the run created (Ctrl-C again to quit at once)");
        let _ = stop_tx.send(true);
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted again: quitting without finishing the clean-up");
            std::process::exit(130);
        }
    });
    let mut sides = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        eprintln!(
            "variant {} ({} of {}): {}",
            p.spec.name,
            i + 1,
            prepared.len(),
            p.spec.info().description
        );
        let mut options = p.options.clone();
        options.agent = super::agent_settings(&p.agent);
        options.shell = Some(super::shell_name(&p.agent));
        let _emulator = if p.agent.backend != Backend::Reference {
            let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig {
                agent: p.agent.clone(),
                ..cma_emulator::EmulatorConfig::default()
            })
            .await
            .context("starting the embedded emulator")?;
            options.target = Target::Url(emulator.base_url());
            Some(emulator)
        } else {
            None
        };
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            // A sender gone without a signal never interrupts.
            if rx.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let report = match cma_scenario::run(&p.scenarios, &options, shutdown).await {
            Ok(r) => r,
            Err(e) if e.is_usage() => {
                return Err(UsageError(format!("--variant {}: {e}", p.spec.name)).into());
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("variant {}", p.spec.name))),
        };
        if let Some(e) = _emulator {
            e.shutdown().await;
        }
        let interrupted = report.interrupted;
        sides.push((p.spec.info(), report));
        if interrupted {
            break;
        }
    }
    let mut combined =
        cma_scenario::compare::combine(sides, cma_scenario::run::new_run_id())?.report;
    if let Some(path) = &options.baseline {
        cma_scenario::compare::apply_baseline(&mut combined, path)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    Ok(combined)
}

/// `--list` with variants: every unit once per variant.
pub fn list(
    variants: &[VariantSpec],
    scenarios: &[Scenario],
    options: &RunOptions,
    agent: &AgentConfig,
) -> Result<(), UsageError> {
    let prepared = prepare(variants, scenarios, options, agent)?;
    for p in &prepared {
        let selected = cma_scenario::run::plan::filter(&p.scenarios, &p.options.filters);
        for u in cma_scenario::run::plan::units(&selected, p.options.repeat, p.options.shard) {
            let s = selected[u.scenario];
            println!(
                "{}\t{}\t{}\trepeat {}\t{} checks\t{}",
                p.spec.name,
                s.name,
                s.scripts[u.customer].customer.id,
                u.repeat,
                s.scripts[u.customer].check_count(),
                s.path.display()
            );
        }
    }
    Ok(())
}
