//! `cma serve`: the local emulator of the Managed Agents API as a server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cma_emulator::{
    AgentConfig, Backend, EmulatorConfig, FaultConfig, WebhookConfig, WebhookSecret,
};

/// Which agent runs sessions' turns (shared by `cma serve` and `cma run`).
#[derive(clap::Args, Debug, Clone)]
pub struct AgentArgs {
    /// The agent behind sessions: `reference` (deterministic, no model), `anthropic` (Claude via
    /// the Messages API) or `openai` (any OpenAI-compatible server); see --agent-api-key-env for
    /// which key is sent where.
    #[arg(long, default_value = "reference", value_parser = parse_backend, help_heading = "Agent")]
    pub agent: Backend,
    /// Where the model is: default https://api.anthropic.com (anthropic) or
    /// http://127.0.0.1:11434/v1 (openai, Ollama's).
    #[arg(long, value_name = "URL", help_heading = "Agent")]
    pub agent_base_url: Option<String>,
    /// Send this model id instead of each agent's `model` (emulator:* ids keep their behaviours).
    #[arg(long, value_name = "ID", help_heading = "Agent")]
    pub agent_model: Option<String>,
    /// Model calls per turn before the turn fails.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Agent")]
    pub agent_max_iterations: u32,
    /// The environment variable holding the key for --agent-base-url. Without it a key goes
    /// only to the backend's own API: ANTHROPIC_API_KEY to api.anthropic.com, OPENAI_API_KEY
    /// to api.openai.com; a local or other server gets none.
    #[arg(long, value_name = "NAME", help_heading = "Agent")]
    pub agent_api_key_env: Option<String>,
    /// Sampling temperature sent with every model request; 0 makes answers as repeatable as
    /// the model allows.
    #[arg(long, default_value_t = 0.0, value_parser = parse_temperature, help_heading = "Agent")]
    pub agent_temperature: f64,
    /// Seed sent with every chat-completions request (the Messages API has none).
    #[arg(long, value_name = "N", help_heading = "Agent")]
    pub agent_seed: Option<u64>,
    /// The output limit of each model request (sent as `max_completion_tokens` to
    /// api.openai.com). A reply cut at it ends the turn with an error.
    #[arg(long, value_name = "N", default_value_t = cma_emulator::DEFAULT_MAX_TOKENS, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Agent")]
    pub agent_max_tokens: u32,
    /// Seconds a model server may send nothing (before its first byte, or between two of its
    /// streamed answer) before the call ends with an error naming this flag.
    #[arg(long, value_name = "SECONDS", default_value_t = cma_emulator::DEFAULT_STALL_TIMEOUT.as_secs_f64(), value_parser = parse_stall_timeout, help_heading = "Agent")]
    pub agent_stall_timeout: f64,
    /// Run the agent's `bash` in the emulated shell even where bubblewrap is installed. The real
    /// shell is faithful and sandboxed (a session's sandbox starts at its first `bash` call and is
    /// kept between its turns); the emulated one understands the memory commands the reference
    /// agent uses (ls, cat, rm, mkdir -p, find).
    #[arg(long, help_heading = "Agent")]
    pub emulated_shell: bool,
    /// The real shell's disk: what a session writes into `/tmp` and all its read-write memory
    /// mounts together, in MiB, one tmpfs inside the sandbox (a write past it gets `No space
    /// left on device`).
    #[arg(long, value_name = "MIB", default_value_t = cma_emulator::SandboxLimits::default().disk_mb,
          value_parser = clap::value_parser!(u64).range(1..=65536), help_heading = "Agent")]
    pub sandbox_disk_mb: u64,
    /// The real shell's memory: each process's address space, in MiB (RLIMIT_AS).
    #[arg(long, value_name = "MIB", default_value_t = cma_emulator::SandboxLimits::default().memory_mb,
          value_parser = clap::value_parser!(u64).range(16..=1048576), help_heading = "Agent")]
    pub sandbox_memory_mb: u64,
    /// The real shell's processes alive at once (RLIMIT_NPROC in the sandbox's user namespace).
    #[arg(long, value_name = "N", default_value_t = cma_emulator::SandboxLimits::default().processes,
          value_parser = clap::value_parser!(u32).range(8..=65536), help_heading = "Agent")]
    pub sandbox_processes: u32,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

fn parse_temperature(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if (0.0..=2.0).contains(&t) => Ok(t),
        _ => Err(format!("a temperature is a number from 0 to 2, not {s:?}")),
    }
}

fn parse_stall_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => Ok(t),
        _ => Err(format!(
            "a stall timeout is a number of seconds above 0 (at most a day), not {s:?}"
        )),
    }
}

impl AgentArgs {
    /// Says once, on stderr, when the key the chosen backend would send is not set.
    pub fn warn_without_key(&self) {
        let Ok(config) = self.config() else { return };
        let Some(var) = config.client().key_variable() else {
            return;
        };
        if std::env::var(&var).map_or(true, |k| k.trim().is_empty()) {
            eprintln!(
                "--agent {}: {var} is not set; the model server may refuse every turn",
                self.agent
            );
        }
    }

    /// Says in one line, on stderr, when a model agent's `bash` gets the emulated shell because
    /// bubblewrap is missing (the reference agent needs no real shell).
    pub fn warn_emulated_shell(&self, agent: &AgentConfig) {
        if agent.backend != Backend::Reference && !self.emulated_shell && !agent.uses_real_shell() {
            eprintln!(
                "warning: bwrap (bubblewrap) is not available: the agent's bash runs in the emulated \
                 shell, which has no pipes, globs, redirections or most commands (install the \
                 `bubblewrap` package for a real, sandboxed one)"
            );
        }
    }

    /// The emulator's agent configuration; a bad base URL is a usage error.
    pub fn config(&self) -> Result<AgentConfig, super::UsageError> {
        if let Some(url) = &self.agent_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(super::UsageError(format!(
                "--agent-base-url must be an http(s) URL, not {url:?}"
            )));
        }
        Ok(AgentConfig {
            backend: self.agent,
            base_url: self.agent_base_url.clone(),
            model: self.agent_model.clone(),
            api_key_env: self.agent_api_key_env.clone(),
            max_iterations: self.agent_max_iterations,
            max_tokens: self.agent_max_tokens,
            temperature: Some(self.agent_temperature),
            seed: self.agent_seed,
            stall_timeout: Duration::from_secs_f64(self.agent_stall_timeout),
            real_shell: !self.emulated_shell,
            sandbox: cma_emulator::SandboxLimits {
                disk_mb: self.sandbox_disk_mb,
                memory_mb: self.sandbox_memory_mb,
                processes: self.sandbox_processes,
            },
            ..AgentConfig::default()
        })
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cma serve\n  cma serve --addr 127.0.0.1:4010 --data-dir ./emulator-data --api-key sk-test\n  ANTHROPIC_BASE_URL=http://127.0.0.1:4010 python your_agent.py\n\nBy default the agent behind every session is a deterministic rule-based reference agent, not a language\nmodel; --agent anthropic|openai runs a real model instead (see README, \"Real models\").\nAn agent's model selects a behaviour: emulator:forgetful never writes memory, emulator:amnesiac never\nreads it, emulator:stall never goes idle; any other model id gets the reference agent.\n\nFiles: POST /v1/files uploads one (multipart, at most --max-file-bytes); a session's `file`\nresource mounts it read-only at its mount_path (default /mnt/session/uploads/<file_id>).\n\nSelf-hosted environments: an environment created with config {\"type\":\"self_hosted\"} has a work\nqueue at /v1/environments/{id}/work (poll, ack, heartbeat, stop, list, retrieve) that the official\nSDK's EnvironmentWorker drives; its sessions' toolset calls wait for the worker's user.tool_result.\nWorkers authenticate with any Bearer key, or only with --api-key when it is set (README,\n\"Self-hosted environments\").\n\nFault injection (off by default) makes the emulator behave like a loaded service:\n  cma serve --fault-rate 0.2 --fault-seed 7 --cut-stream-after 5\n\nWebhooks (off by default): with --webhook URL --webhook-secret whsec_..., each durable change\nbelow is POSTed as a thin payload {\"type\":\"event\",\"id\",\"created_at\",\"data\":{\"type\",\"id\",...}},\nsigned per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,<base64\nHMAC-SHA256>) by a background task that never delays a request or a turn. A failed delivery is\nretried (3 attempts in all), then dropped. Types: session.created, session.updated,\nsession.archived, session.deleted, session.status_run_started, session.status_idled,\nsession.requires_action, session.status_rescheduled, session.status_terminated,\nmemory_store.created, memory_store.archived, memory_store.deleted. Receivers verify with\nthe official SDK: client.beta.webhooks.unwrap(body, headers=headers, key=secret)\n  cma serve --webhook http://127.0.0.1:8080/hooks --webhook-secret whsec_$(openssl rand -base64 24)"
)]
pub struct ServeArgs {
    /// Address to listen on. Binds loopback by default; use 0.0.0.0 only on a trusted network.
    #[arg(long, default_value = "127.0.0.1:4010")]
    addr: SocketAddr,
    /// Keep everything in SQLite under this directory, so it survives restarts. In memory without it.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Require this key (`x-api-key` or `Authorization: Bearer`); without it any key, or none, is accepted.
    /// It is also the only environment key self-hosted workers may poll with.
    #[arg(long, env = "CMA_SERVE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Seconds between `ping` frames on event streams.
    #[arg(long, default_value_t = 15.0)]
    ping_interval: f64,
    /// Request bodies larger than this many bytes get 413.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Uploaded files (`POST /v1/files`) larger than this many bytes get 413 (default: the
    /// Files API's 500 MB). An upload's request may exceed --max-body-bytes by this much.
    #[arg(long, default_value_t = 500 * 1024 * 1024)]
    max_file_bytes: usize,
    /// Share of requests (0–1) answered with an injected error before they are processed.
    #[arg(long, default_value_t = 0.0, help_heading = "Fault injection")]
    fault_rate: f64,
    /// Statuses injected errors use, picked at random.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "429,529,500",
        help_heading = "Fault injection"
    )]
    fault_statuses: Vec<u16>,
    /// Seed for the fault generator, so a faulty run can be replayed exactly.
    #[arg(long, default_value_t = 0, help_heading = "Fault injection")]
    fault_seed: u64,
    /// Milliseconds added before every request is handled.
    #[arg(long, default_value_t = 0, help_heading = "Fault injection")]
    latency_ms: u64,
    /// Close every event stream after this many events.
    #[arg(long, help_heading = "Fault injection")]
    cut_stream_after: Option<u32>,
    /// Probability per delivered event that its stream is closed right after it.
    #[arg(long, default_value_t = 0.0, help_heading = "Fault injection")]
    cut_stream_probability: f64,
    /// The `retry-after-ms` hint on injected 429s.
    #[arg(long, default_value_t = 1000, help_heading = "Fault injection")]
    retry_after_ms: u64,
    /// POST signed webhooks (Standard Webhooks) to this URL on session status changes and memory
    /// store lifecycle events. Repeat for several receivers; nothing is sent anywhere else.
    #[arg(long = "webhook", value_name = "URL", help_heading = "Webhooks")]
    webhooks: Vec<String>,
    /// The signing secret, `whsec_` + base64 (what receivers pass to `webhooks.unwrap(..., key=)`).
    /// Required with --webhook. Never logged.
    #[arg(
        long,
        value_name = "whsec_...",
        env = "CMA_WEBHOOK_SECRET",
        hide_env_values = true,
        help_heading = "Webhooks"
    )]
    webhook_secret: Option<String>,
    /// Milliseconds before retrying a failed delivery (doubled for the last of the 3 attempts).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        help_heading = "Webhooks"
    )]
    webhook_retry_ms: u64,
    #[command(flatten)]
    agent: AgentArgs,
}

/// The webhook settings; a bad URL or secret is a usage error whose message never repeats the
/// secret.
fn webhook_config(args: &ServeArgs) -> Result<WebhookConfig, super::UsageError> {
    let urls = args
        .webhooks
        .iter()
        .map(|u| cma_emulator::webhooks::parse_url(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| super::UsageError(format!("--webhook: {e}")))?;
    let secret = args
        .webhook_secret
        .as_deref()
        .map(str::parse::<WebhookSecret>)
        .transpose()
        .map_err(|e| super::UsageError(format!("--webhook-secret: {e}")))?;
    let config = WebhookConfig {
        urls,
        secret,
        retry_backoff: Duration::from_millis(args.webhook_retry_ms),
        ..WebhookConfig::default()
    };
    config.validate().map_err(super::UsageError)?;
    Ok(config)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !(args.ping_interval.is_finite() && args.ping_interval > 0.0) {
        return Err(super::UsageError(
            "--ping-interval must be a positive number of seconds".into(),
        )
        .into());
    }
    let agent = args.agent.config()?;
    let webhooks = webhook_config(&args)?;
    if let Some(secret) = &args.webhook_secret {
        cma_emulator::redact::register(secret);
    }
    args.agent.warn_without_key();
    args.agent.warn_emulated_shell(&agent);
    let config = EmulatorConfig {
        data_dir: args.data_dir,
        api_key: args.api_key,
        faults: FaultConfig {
            seed: args.fault_seed,
            error_rate: args.fault_rate,
            error_statuses: args.fault_statuses,
            latency: Duration::from_millis(args.latency_ms),
            stream_cut_after_events: args.cut_stream_after,
            stream_cut_probability: args.cut_stream_probability,
            retry_after_ms: args.retry_after_ms,
        },
        ping_interval: Duration::from_secs_f64(args.ping_interval),
        max_body_bytes: args.max_body_bytes,
        max_file_bytes: args.max_file_bytes,
        agent,
        webhooks,
    };
    let bound = match cma_emulator::bind(config, args.addr).await {
        Ok(bound) => bound,
        Err(
            e @ (cma_emulator::EmulatorError::Config(_) | cma_emulator::EmulatorError::Bind { .. }),
        ) => {
            return Err(super::UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    // One line, once the socket accepts connections, so scripts can wait for it.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", bound.local_addr())?;
    stdout.flush()?;
    drop(stdout);
    bound.serve(shutdown_signal()).await.context("serving")?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
