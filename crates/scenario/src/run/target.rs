//! Where a run goes: the embedded emulator (in-process), any server speaking the API, or the
//! live API. This crate does not depend on the emulator: whoever runs it (the CLI, a test) hands
//! in a [`LocalTarget`] that starts one for `--target local`.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cma_client::Client;
use futures::future::BoxFuture;

use crate::error::RunError;

/// Every non-streaming call made by a run gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Start the emulator in this process (the default).
    Local,
    /// A server at this base URL (`cma serve`, a proxy, …); a key from the environment is sent if set.
    Url(String),
    /// The real API: needs `ANTHROPIC_API_KEY`; honours `ANTHROPIC_BASE_URL`.
    Live,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "local" => Ok(Target::Local),
            "live" => Ok(Target::Live),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Target::Url(url.to_string()))
            }
            other => Err(format!(
                "--target is `local`, `live` or an http(s) URL, not {other:?}"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::Live => f.write_str("live"),
            Target::Url(u) => f.write_str(&redact_url(u)),
        }
    }
}

impl Target {
    /// `--concurrency` when none is given: 8 local, 4 for a URL, 2 live.
    pub fn default_concurrency(&self) -> usize {
        match self {
            Target::Local => 8,
            Target::Url(_) => 4,
            Target::Live => 2,
        }
    }
}

/// A URL without any `user:password@` part, for reports and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// A server started for `--target local`: where it answers, and how it stops.
pub struct LocalServer {
    base_url: String,
    stop: BoxFuture<'static, ()>,
}

impl LocalServer {
    /// `stop` runs when the run is done; until then it keeps the server alive (hold the server
    /// in it).
    pub fn new(base_url: String, stop: impl Future<Output = ()> + Send + 'static) -> Self {
        LocalServer {
            base_url,
            stop: Box::pin(stop),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.stop.await;
    }
}

type StartLocal = dyn Fn() -> BoxFuture<'static, Result<LocalServer, String>> + Send + Sync;

/// How `--target local` gets its server: the CLI hands in the embedded emulator.
#[derive(Clone)]
pub struct LocalTarget(Arc<StartLocal>);

impl LocalTarget {
    /// `start` starts one server per run (or per `cma bench turns`); `Err` says why it could not.
    pub fn new<F, Fut>(start: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<LocalServer, String>> + Send + 'static,
    {
        LocalTarget(Arc::new(move || Box::pin(start())))
    }

    async fn start(&self) -> Result<LocalServer, String> {
        (self.0)().await
    }
}

impl fmt::Debug for LocalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalTarget")
    }
}

/// A connected target; holds the embedded emulator alive while the run uses it.
pub struct Connection {
    pub client: Client,
    /// What reports show: `local (http://127.0.0.1:PORT)`, a URL without credentials, `live (…)`.
    pub description: String,
    local: Option<LocalServer>,
}

impl Connection {
    /// Connects to `target`; `local` starts the server for [`Target::Local`].
    pub async fn open(
        target: &Target,
        local: Option<&LocalTarget>,
    ) -> Result<Connection, RunError> {
        match target {
            Target::Local => {
                let Some(local) = local else {
                    return Err(RunError::Emulator(
                        "no embedded emulator was handed to the run (use a URL target)".into(),
                    ));
                };
                let emulator = tokio::time::timeout(REQUEST_TIMEOUT, local.start())
                    .await
                    .map_err(|_| RunError::Emulator("it did not start within 60 s".into()))?
                    .map_err(RunError::Emulator)?;
                let base = emulator.base_url().to_string();
                let client = Client::builder()
                    .base_url(&base)
                    .no_credentials()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|e| RunError::Config(e.to_string()))?;
                Ok(Connection {
                    client,
                    description: format!("local ({base})"),
                    local: Some(emulator),
                })
            }
            Target::Url(url) => {
                let client = Client::builder()
                    .base_url(url)
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|e| RunError::Config(format!("--target {}: {e}", redact_url(url))))?;
                Ok(Connection {
                    client,
                    description: redact_url(url),
                    local: None,
                })
            }
            Target::Live => {
                if std::env::var("ANTHROPIC_API_KEY").map_or(true, |k| k.trim().is_empty()) {
                    return Err(RunError::Config(
                        "--target live needs ANTHROPIC_API_KEY in the environment (it is not set)"
                            .into(),
                    ));
                }
                let client = Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|e| RunError::Config(e.to_string()))?;
                let description = format!("live ({})", redact_url(client.base_url()));
                Ok(Connection {
                    client,
                    description,
                    local: None,
                })
            }
        }
    }

    /// Stops the embedded emulator, if any.
    pub async fn close(self) {
        if let Some(local) = self.local {
            local.stop().await;
        }
    }
}
