//! Client configuration, resolved like the official SDK's.

use std::fmt;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` the official SDK 2.10.0 sends.
pub const API_VERSION: &str = "2026-10-21";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// A secret that never appears in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Sent as `x-api-key`.
    ApiKey(Secret),
    /// Sent as `Authorization: Bearer`.
    AuthToken(Secret),
    None,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub workspace_id: Option<String>,
    /// Retry waits are multiplied by this; tests set it near zero. Server hints are honoured as given.
    pub backoff_scale: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            credentials: Credentials::None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            workspace_id: None,
            backoff_scale: 1.0,
        }
    }
}

impl Config {
    /// `ANTHROPIC_API_KEY` (else `ANTHROPIC_AUTH_TOKEN`) and `ANTHROPIC_BASE_URL`, as the SDK reads them.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credentials = match (var("ANTHROPIC_API_KEY"), var("ANTHROPIC_AUTH_TOKEN")) {
            (Some(key), _) => Credentials::ApiKey(Secret::new(key)),
            (None, Some(token)) => Credentials::AuthToken(Secret::new(token)),
            (None, None) => Credentials::None,
        };
        Self {
            base_url: var("ANTHROPIC_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into()),
            credentials,
            ..Self::default()
        }
    }
}
