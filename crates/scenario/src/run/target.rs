//! Where a run goes: the embedded emulator (in-process), any server speaking the API, or the
//! live API.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use cma_client::Client;
use cma_emulator::{Emulator, EmulatorConfig, RunningEmulator};

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

/// A connected target; holds the embedded emulator alive while the run uses it.
pub struct Connection {
    pub client: Client,
    /// What reports show: `local (http://127.0.0.1:PORT)`, a URL without credentials, `live (…)`.
    pub description: String,
    emulator: Option<RunningEmulator>,
}

impl Connection {
    /// Connects to `target`; `local` starts an emulator configured by `local`.
    pub async fn open(target: &Target, local: &EmulatorConfig) -> Result<Connection, RunError> {
        match target {
            Target::Local => {
                let emulator =
                    tokio::time::timeout(REQUEST_TIMEOUT, Emulator::start(local.clone()))
                        .await
                        .map_err(|_| RunError::Emulator("it did not start within 60 s".into()))?
                        .map_err(|e| RunError::Emulator(e.to_string()))?;
                let base = emulator.base_url();
                let client = Client::builder()
                    .base_url(&base)
                    .no_credentials()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|e| RunError::Config(e.to_string()))?;
                Ok(Connection {
                    client,
                    description: format!("local ({base})"),
                    emulator: Some(emulator),
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
                    emulator: None,
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
                    emulator: None,
                })
            }
        }
    }

    /// Stops the embedded emulator, if any.
    pub async fn close(self) {
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }
}
