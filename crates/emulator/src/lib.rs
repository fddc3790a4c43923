//! A local emulator of Anthropic's Claude Managed Agents API: memory stores, memories, memory
//! versions, agents, environments, sessions and their event streams, with the real service's
//! status codes, error bodies, event order and limits, and a deterministic agent (see
//! [`agent`]) that reads and writes the mounted memory stores through the same code as the API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cma_emulator::EmulatorError> {
//! let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default()).await?;
//! println!("{}", emulator.base_url()); // http://127.0.0.1:PORT
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! State lives in memory, or with [`EmulatorConfig::data_dir`] in SQLite (WAL, `synchronous=FULL`),
//! written through before every answer and loaded back at start.

#![cfg_attr(test, allow(clippy::unwrap_used))]

// The embedding API is what this file defines and re-exports, plus `agent` (the behaviours
// documented above) and `paths` (the memory-path rules, which the fuzz targets exercise);
// everything else is internal.
pub mod agent;
mod api;
mod clock;
pub mod error;
pub mod faults;
mod ids;
mod load;
mod pagination;
pub mod paths;
mod persist;
mod sandbox;
mod session;
mod store;
mod validate;
pub mod webhooks;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use agent::model::{AgentConfig, ApiKey, Backend};
pub use cma_models::{DEFAULT_MAX_TOKENS, DEFAULT_STALL_TIMEOUT, RequestTiming, TimingLog};
pub use cma_types::redact;
pub use error::{ApiError, EmulatorError};
pub use faults::FaultConfig;
/// Whether bubblewrap can build the real shell's sandbox on this machine (checked once).
pub use sandbox::bwrap::available as real_shell_available;
pub use sandbox::limits::SandboxLimits;
pub use store::agents::TOOLSET_TOOLS;
pub use webhooks::{WebhookConfig, WebhookSecret};

use crate::faults::Faults;
use crate::persist::Persist;
use crate::store::{Db, Model};

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Persist everything in SQLite under this directory; `None` keeps state in memory.
    pub data_dir: Option<PathBuf>,
    /// Require this key (`x-api-key` or `Authorization: Bearer`); `None` accepts anything.
    pub api_key: Option<String>,
    pub faults: FaultConfig,
    /// How often an idle event stream sends a `ping` frame.
    pub ping_interval: Duration,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// The size limit of one uploaded file (`POST /v1/files`); larger files get 413. Default
    /// 500 MB, the Files API's documented limit.
    pub max_file_bytes: usize,
    /// The agent behind sessions: the reference agent, or a real model.
    pub agent: AgentConfig,
    /// Where to deliver webhooks (none by default).
    pub webhooks: WebhookConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            api_key: None,
            faults: FaultConfig::default(),
            ping_interval: Duration::from_secs(15),
            max_body_bytes: 32 * 1024 * 1024,
            max_file_bytes: store::files::DEFAULT_MAX_FILE_BYTES,
            agent: AgentConfig::default(),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// Registers every secret this emulator holds (its key, the agent model's, the webhook secret) or
/// its model backends may read, for [`cma_types::redact`].
fn register_secrets(config: &EmulatorConfig) {
    use cma_types::redact::{register, register_env};
    // The key the agent's model is sent: the configured one, or the variable it names
    // (`--agent-api-key-env`, whatever its name).
    if let Some(key) = config.agent.client().key() {
        register(key.expose());
    }
    if let Some(key) = &config.api_key {
        register(key);
    }
    if let Some(secret) = &config.webhooks.secret {
        for form in secret.written_forms() {
            register(&form);
        }
    }
    register_env(&[
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
    ]);
}

/// An emulator bound to its address, not yet serving.
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    db: Arc<Db>,
    router: axum::Router,
    shutdown_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("addr", &self.addr).finish()
    }
}

fn open_db(config: &EmulatorConfig) -> Result<Db, EmulatorError> {
    let Some(dir) = &config.data_dir else {
        return Ok(Db::new(Model::default(), None));
    };
    let storage = |message: String| EmulatorError::Storage {
        path: dir.display().to_string(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| storage(e.to_string()))?;
    let persist = Persist::open(dir).map_err(|e| storage(e.to_string()))?;
    let loaded = persist.load().map_err(|e| storage(e.to_string()))?;
    let model = load::model(loaded).map_err(storage)?;
    Ok(Db::new(model, Some(persist)))
}

/// Opens the storage and binds `addr`. The socket accepts connections from here on; call
/// [`Bound::serve`] to answer them.
pub async fn bind(config: EmulatorConfig, addr: SocketAddr) -> Result<Bound, EmulatorError> {
    config.faults.validate().map_err(EmulatorError::Config)?;
    config.webhooks.validate().map_err(EmulatorError::Config)?;
    if config.ping_interval.is_zero() {
        return Err(EmulatorError::Config(
            "ping_interval must be positive".into(),
        ));
    }
    let cfg = config.clone();
    let db = tokio::task::spawn_blocking(move || open_db(&cfg))
        .await
        .map_err(|e| EmulatorError::Config(format!("opening storage: {e}")))??;
    let db = Arc::new(db);
    db.set_turn_starter(session::starter(&db, Arc::new(config.agent.clone())));
    db.set_session_end(Arc::new(|sid: &str| sandbox::pool::end(sid)));
    let outbox = Arc::new(store::outbox::DbOutbox::new(&db));
    db.set_webhooks(
        webhooks::Notifier::start(&config.webhooks, outbox).map_err(EmulatorError::Config)?,
    );
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    register_secrets(&config);
    let shared = api::Shared {
        db: db.clone(),
        api_key: config.api_key.clone(),
        faults: Faults::new(config.faults.clone()),
        ping_interval: config.ping_interval,
        max_body_bytes: config.max_body_bytes,
        max_file_bytes: config.max_file_bytes,
        shutdown: shutdown_rx,
    };
    let router = api::router(Arc::new(shared));
    tracing::info!(%addr, persistent = config.data_dir.is_some(), auth = config.api_key.is_some(), faults = config.faults.is_active(), agent = %config.agent.backend, webhook_urls = config.webhooks.urls.len(), "emulator bound");
    Ok(Bound {
        listener,
        addr,
        db,
        router,
        shutdown_tx,
    })
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then ends open streams and finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EmulatorError> {
        let Bound {
            listener,
            db,
            router,
            shutdown_tx,
            ..
        } = self;
        let signal = async move {
            shutdown.await;
            let _ = shutdown_tx.send(true);
            db.shut_down();
        };
        // Event streams write many small frames; with Nagle's algorithm on, each one can wait for
        // the peer's delayed ACK (~40 ms on Linux), which would dominate every turn's latency.
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
            .map_err(EmulatorError::Serve)
    }
}

/// Binds `addr` and serves until `shutdown` completes (what `cma serve` runs).
pub async fn serve(
    config: EmulatorConfig,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    bind(config, addr).await?.serve(shutdown).await
}

/// Starts emulators on `127.0.0.1` with an OS-chosen port.
pub struct Emulator;

impl Emulator {
    /// Binds `127.0.0.1:0` and serves in the background; returns once the socket accepts
    /// connections.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
        let bound = bind(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = bound.local_addr();
        let db = bound.db.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async move {
            let _ = rx.await;
        }));
        Ok(RunningEmulator {
            addr,
            db,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

/// A running emulator; stops on [`RunningEmulator::shutdown`] or when dropped.
pub struct RunningEmulator {
    addr: SocketAddr,
    db: Arc<Db>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), EmulatorError>>>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How long a graceful shutdown may take before connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes this emulator's commits fail as on a full disk (with a data directory), to test
    /// that a failed write leaves nothing behind.
    pub fn commit_faults(&self) -> faults::CommitFaults {
        self.db.commit_faults()
    }

    /// Stops accepting, ends open streams, finishes in-flight requests (for at most a few
    /// seconds) and returns. Every acknowledged write is already durable.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.db.shut_down();
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "emulator stopped with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "emulator task failed"),
                Err(_) => {
                    tracing::warn!("emulator did not stop in time; dropping its connections");
                    task.abort();
                }
            }
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.db.shut_down();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
