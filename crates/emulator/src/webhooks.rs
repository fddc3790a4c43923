//! Webhook delivery (`cma serve --webhook URL --webhook-secret whsec_...`): thin payloads naming
//! what changed, signed per Standard Webhooks and POSTed to the configured URLs only.
//!
//! A write stores its notifications in the outbox (`crate::store::outbox`) in the same commit,
//! and hands them to the delivery tasks once committed, so only durable changes are announced
//! and a restart loses none. Queuing never blocks: each URL has its own bounded queue and
//! delivery task, which sends in order, retrying a failed attempt (a connection error, a timeout
//! or a non-2xx answer) with doubling backoff, at most [`MAX_ATTEMPTS`] times, then drops the
//! event with a warning. Each attempt is counted in the outbox before it is made, so across
//! restarts an event is still attempted at most [`MAX_ATTEMPTS`] times; a delivered or dropped
//! event leaves the outbox.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cma_types::{WebhookEvent, WebhookEventData};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::clock;
use crate::ids;

/// Attempts per event and URL, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Events waiting for one URL; beyond this, new ones are dropped (with a warning) rather than
/// letting a dead receiver hold memory or slow a request.
const QUEUE_DEPTH: usize = 1024;
/// The organization and workspace the emulator's objects belong to (webhook payloads name them;
/// the SDK documents no id prefix for organizations).
pub const ORGANIZATION_ID: &str = "org_01emulator0000000000000000";
pub const WORKSPACE_ID: &str = "wrkspc_01emulator00000000000000";

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of the key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

impl WebhookSecret {
    /// How the secret is written (`whsec_<base64>`, and its base64 alone): what redaction looks
    /// for.
    pub fn written_forms(&self) -> [String; 2] {
        let b64 = BASE64.encode(&self.0);
        [format!("whsec_{b64}"), b64]
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = String;

    /// The error never repeats the secret.
    fn from_str(s: &str) -> Result<Self, String> {
        let b64 = s
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a webhook secret must start with `whsec_` followed by base64")?;
        let key = BASE64
            .decode(b64)
            .map_err(|_| "the part of the webhook secret after `whsec_` is not valid base64")?;
        if key.is_empty() {
            return Err("the webhook secret's key is empty".into());
        }
        Ok(Self(key))
    }
}

impl WebhookSecret {
    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the `webhook-signature` header.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// Where and how to deliver webhooks. No URLs: none are sent.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub urls: Vec<url::Url>,
    pub secret: Option<WebhookSecret>,
    /// The wait before the second attempt; each later wait doubles it.
    pub retry_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            secret: None,
            retry_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Parses a `--webhook` URL (http or https).
pub fn parse_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("webhook URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "webhook URL {}: must be http or https",
            redacted(&url)
        ));
    }
    Ok(url)
}

impl WebhookConfig {
    pub fn validate(&self) -> Result<(), String> {
        for url in &self.urls {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "webhook URL {}: must be http or https",
                    redacted(url)
                ));
            }
        }
        match (&self.secret, self.urls.is_empty()) {
            (None, false) => Err("--webhook needs --webhook-secret whsec_… to sign with".into()),
            (Some(_), true) => Err("--webhook-secret was given without any --webhook URL".into()),
            _ if self.timeout.is_zero() => Err("the webhook timeout must be positive".into()),
            _ => Ok(()),
        }
    }
}

/// A URL for logs: scheme, host, port and path, without credentials or query.
fn redacted(url: &url::Url) -> String {
    format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    )
}

/// What the delivery tasks ask of the outbox that stores their events.
pub trait Outbox: Send + Sync {
    /// Counts attempt number `attempt` of the delivery `key` before it is made.
    fn attempting(&self, key: &str, attempt: u32) -> Attempt;
    /// The delivery `key` is over (delivered, or given up).
    fn finished(&self, key: &str);
}

/// Whether to make an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Go,
    /// The delivery is no longer in the outbox: skip it.
    Skip,
    /// The outbox takes no more writes (the emulator is stopping): the task ends.
    Stop,
}

/// One event for one URL, and the attempts already made.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its key in the outbox.
    pub key: String,
    pub event: WebhookEvent,
    pub attempts: u32,
}

/// A URL's fingerprint, which the outbox stores instead of the URL (which may carry
/// credentials): a restart finds the URL's task by it.
pub fn fingerprint(url: &url::Url) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(url.as_str().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Hands deliveries to the tasks. The default one has none and drops every event.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    /// `(fingerprint, queue)` per URL.
    queues: Vec<(String, mpsc::Sender<Delivery>)>,
}

impl Notifier {
    /// Starts one delivery task per URL on the current runtime.
    pub fn start(config: &WebhookConfig, outbox: Arc<dyn Outbox>) -> Result<Self, String> {
        config.validate()?;
        let Some(secret) = config.secret.clone() else {
            return Ok(Self::default());
        };
        let http = reqwest::Client::builder()
            // Only the configured URLs: no redirects, no proxies from the environment.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .user_agent(concat!("cma-emulator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the webhook HTTP client: {e}"))?;
        let mut queues = Vec::new();
        for url in &config.urls {
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            let target = Target {
                http: http.clone(),
                url: url.clone(),
                secret: secret.clone(),
                backoff: config.retry_backoff,
                outbox: outbox.clone(),
            };
            tokio::spawn(target.run(rx));
            queues.push((fingerprint(url), tx));
        }
        Ok(Self { queues })
    }

    pub fn is_active(&self) -> bool {
        !self.queues.is_empty()
    }

    /// The fingerprints of the URLs, each of which gets every event.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(|(f, _)| f.as_str())
    }

    /// A new event about `data`.
    pub fn event(data: WebhookEventData) -> WebhookEvent {
        WebhookEvent {
            kind: "event".into(),
            id: ids::new_id(ids::WEBHOOK_EVENT),
            created_at: clock::now(),
            data,
        }
    }

    /// Queues `delivery` for the URL `target` without waiting; `false` if no URL has that
    /// fingerprint or its queue is full or gone (the event is then dropped, with a warning).
    pub fn send(&self, target: &str, delivery: Delivery) -> bool {
        let Some((_, queue)) = self.queues.iter().find(|(f, _)| f == target) else {
            return false;
        };
        let kind = delivery.event.data.kind.clone();
        match queue.try_send(delivery) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(event_type = %kind, error = %e, "webhook queue unavailable; event dropped");
                false
            }
        }
    }
}

/// The data of an event about the object `id`.
pub fn data(kind: &str, id: &str) -> WebhookEventData {
    WebhookEventData {
        kind: kind.to_string(),
        id: id.to_string(),
        organization_id: ORGANIZATION_ID.into(),
        workspace_id: WORKSPACE_ID.into(),
        session_thread_id: None,
        vault_id: None,
    }
}

/// One URL's delivery task.
struct Target {
    http: reqwest::Client,
    url: url::Url,
    secret: WebhookSecret,
    backoff: Duration,
    outbox: Arc<dyn Outbox>,
}

impl Target {
    async fn run(self, mut rx: mpsc::Receiver<Delivery>) {
        while let Some(delivery) = rx.recv().await {
            if self.deliver(&delivery).await == Attempt::Stop {
                return;
            }
        }
    }

    /// Makes the attempts `delivery` has left; [`Attempt::Stop`] when the outbox refused to
    /// count one (the attempt is then not made).
    async fn deliver(&self, delivery: &Delivery) -> Attempt {
        let event = &delivery.event;
        let body = match serde_json::to_string(event) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "webhook event does not serialize");
                self.outbox.finished(&delivery.key);
                return Attempt::Skip;
            }
        };
        // The wait after a failed attempt n is the base doubled n - 1 times (attempts made
        // before a restart count).
        let mut wait = self.backoff.saturating_mul(1 << delivery.attempts.min(16));
        for attempt in delivery.attempts + 1..=MAX_ATTEMPTS {
            match self.outbox.attempting(&delivery.key, attempt) {
                Attempt::Go => {}
                other => return other,
            }
            match self.attempt(&event.id, &body).await {
                Ok(()) => {
                    tracing::debug!(url = %redacted(&self.url), event_type = %event.data.kind, attempt, "webhook delivered");
                    self.outbox.finished(&delivery.key);
                    return Attempt::Go;
                }
                Err(why) if attempt < MAX_ATTEMPTS => {
                    tracing::info!(url = %redacted(&self.url), event_type = %event.data.kind, attempt, %why, "webhook attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(why) => {
                    tracing::warn!(url = %redacted(&self.url), event_type = %event.data.kind, attempts = MAX_ATTEMPTS, %why, "webhook not delivered; dropped");
                }
            }
        }
        self.outbox.finished(&delivery.key);
        Attempt::Go
    }

    async fn attempt(&self, id: &str, body: &str) -> Result<(), String> {
        // Signed afresh each attempt: receivers reject stale timestamps.
        let timestamp = clock::now().timestamp();
        let resp = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", self.secret.sign(id, timestamp, body))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    "could not connect or send".to_string()
                }
            })?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example: this secret, id, timestamp and body
    /// sign to this value (as its reference libraries compute it).
    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_",
        ] {
            let err = bad.parse::<WebhookSecret>().unwrap_err();
            assert!(
                !err.contains(bad.trim_start_matches("whsec_")) || bad == "whsec_",
                "{err}"
            );
        }
        let secret: WebhookSecret = "whsec_c2VjcmV0".parse().unwrap();
        assert!(!format!("{secret:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn config_needs_a_secret_for_urls_and_urls_for_a_secret() {
        let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let secret: WebhookSecret = "whsec_c2VjcmV0".parse().unwrap();
        let mut c = WebhookConfig {
            urls: vec![url],
            ..WebhookConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("--webhook-secret"));
        c.secret = Some(secret.clone());
        c.validate().unwrap();
        c.urls = vec![url::Url::parse("ftp://example.com/x").unwrap()];
        assert!(c.validate().unwrap_err().contains("http or https"));
        c.urls.clear();
        assert!(c.validate().unwrap_err().contains("without any --webhook"));
    }
}
