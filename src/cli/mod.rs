//! Subcommands. Each module parses its arguments and calls into a library crate.

pub mod bench;
pub mod compare;
pub mod history;
#[cfg(test)]
mod history_stores_tests;
pub mod lint;
mod logging;
pub mod report;
pub mod run;
pub mod serve;
pub mod stores;
pub mod variants;

pub use logging::init_tracing;

/// `--target local`'s server for `cma run` and `cma bench turns`: the embedded emulator, started
/// with `config` for each run (`cma-scenario` does not depend on the emulator).
pub fn embedded_emulator(config: cma_emulator::EmulatorConfig) -> cma_scenario::LocalTarget {
    cma_scenario::LocalTarget::new(move || {
        let config = config.clone();
        async move {
            let emulator = cma_emulator::Emulator::start(config)
                .await
                .map_err(|e| e.to_string())?;
            let base_url = emulator.base_url();
            Ok(cma_scenario::LocalServer::new(
                base_url,
                emulator.shutdown(),
            ))
        }
    })
}

/// An error that means the user's input was wrong (exit status 2), as opposed to a failed check (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit status for an error that reached `main`: 2 for usage, configuration and input errors
/// (including API errors such as an unknown id or a rejected key), 1 otherwise.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() {
        return 2;
    }
    if let Some(api) = err.downcast_ref::<cma_client::Error>() {
        return match api {
            cma_client::Error::Api(e) if e.status < 500 => 2,
            cma_client::Error::InvalidArgument(_) => 2,
            _ => 1,
        };
    }
    1
}

/// A client for `ANTHROPIC_BASE_URL` / `ANTHROPIC_API_KEY`, or the `--base-url` given.
pub fn client_from_env(base_url: Option<&str>) -> anyhow::Result<cma_client::Client> {
    let mut builder = cma_client::Client::builder();
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    Ok(builder.build()?)
}

/// What `run.json` records of a model agent; `None` for the reference agent.
pub(crate) fn agent_settings(
    agent: &cma_emulator::AgentConfig,
) -> Option<cma_scenario::AgentSettings> {
    (agent.backend != cma_emulator::Backend::Reference).then(|| cma_scenario::AgentSettings {
        backend: agent.backend.to_string(),
        base_url: cma_scenario::run::target::redact_url(&agent.effective_base_url()),
        model: agent.model.clone(),
        temperature: agent.temperature,
        seed: agent.seed,
        max_tokens: agent.max_tokens,
    })
}

/// What `run.json` calls the shell an emulator with `agent` gives the agent's `bash`:
/// `bubblewrap` or `emulated`.
pub(crate) fn shell_name(agent: &cma_emulator::AgentConfig) -> String {
    if agent.uses_real_shell() {
        "bubblewrap".into()
    } else {
        "emulated".into()
    }
}
