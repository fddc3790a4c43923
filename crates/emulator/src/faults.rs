//! Fault injection (off by default): error answers before a request is processed, added
//! latency, and cut event streams, from a seeded RNG so a run replays; and [`CommitFaults`],
//! commits that fail as on a full disk.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    pub seed: u64,
    /// Probability in `0.0..=1.0` that a request is answered with an injected error.
    pub error_rate: f64,
    /// The statuses injected errors use, picked uniformly.
    pub error_statuses: Vec<u16>,
    /// Added before every request is handled.
    pub latency: Duration,
    /// Close every event stream after this many delivered events.
    pub stream_cut_after_events: Option<u32>,
    /// Probability per delivered event that the stream is closed after it.
    pub stream_cut_probability: f64,
    /// The `retry-after-ms` hint on injected 429s (`retry-after` is this in whole seconds, rounded up).
    pub retry_after_ms: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            error_rate: 0.0,
            error_statuses: vec![429, 529, 500],
            latency: Duration::ZERO,
            stream_cut_after_events: None,
            stream_cut_probability: 0.0,
            retry_after_ms: 1_000,
        }
    }
}

impl FaultConfig {
    pub fn is_active(&self) -> bool {
        self.error_rate > 0.0
            || !self.latency.is_zero()
            || self.stream_cut_after_events.is_some()
            || self.stream_cut_probability > 0.0
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be in 0..=1 (got {})",
                self.error_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.stream_cut_probability) {
            return Err(format!(
                "stream_cut_probability must be in 0..=1 (got {})",
                self.stream_cut_probability
            ));
        }
        if self.error_rate > 0.0 && self.error_statuses.is_empty() {
            return Err("error_statuses must not be empty when error_rate > 0".into());
        }
        if let Some(s) = self
            .error_statuses
            .iter()
            .find(|s| !(400..=599).contains(*s))
        {
            return Err(format!("error status {s} is not an HTTP error status"));
        }
        Ok(())
    }
}

pub struct Faults {
    config: FaultConfig,
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("config", &self.config)
            .finish()
    }
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(config.seed));
        Self { config, rng }
    }

    pub fn latency(&self) -> Duration {
        self.config.latency
    }

    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random::<f64>() < p
    }

    /// The injected error for this request, if it gets one.
    pub fn request_error(&self) -> Option<ApiError> {
        if !self.roll(self.config.error_rate) {
            return None;
        }
        let status = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            let n = self.config.error_statuses.len().max(1);
            self.config
                .error_statuses
                .get(rng.random_range(0..n))
                .copied()
                .unwrap_or(500)
        };
        Some(injected(status, self.config.retry_after_ms))
    }

    /// Whether a stream that has delivered `delivered` events (this one included) is cut now.
    pub fn cut_stream(&self, delivered: u32) -> bool {
        if self
            .config
            .stream_cut_after_events
            .is_some_and(|n| delivered >= n)
        {
            return true;
        }
        self.roll(self.config.stream_cut_probability)
    }
}

/// The error body and headers of an injected failure.
pub fn injected(status: u16, retry_after_ms: u64) -> ApiError {
    let kind = ApiError::kind_for_status(status);
    let message = match status {
        429 => "Rate limited (injected fault)".to_string(),
        529 => "Overloaded (injected fault)".to_string(),
        _ => format!("Internal server error (injected fault, status {status})"),
    };
    let mut e = ApiError::new(status, kind, message);
    if status == 429 {
        e = e
            .header("retry-after", retry_after_ms.div_ceil(1000).to_string())
            .header("retry-after-ms", retry_after_ms.to_string());
    }
    e
}

/// A switch that makes the persistence layer's commits fail as a full disk does (`SQLITE_FULL`,
/// after the transaction's statements ran), for tests of what a failed write leaves behind.
/// Off until armed; clones share one switch.
#[derive(Debug, Clone)]
pub struct CommitFaults(Arc<CommitFaultState>);

#[derive(Debug)]
struct CommitFaultState {
    /// Commits still allowed before they fail; negative: off.
    allowed: AtomicI64,
    /// How many commits failed; tests wait on it.
    failed: tokio::sync::watch::Sender<u64>,
}

impl Default for CommitFaults {
    fn default() -> Self {
        Self(Arc::new(CommitFaultState {
            allowed: AtomicI64::new(-1),
            failed: tokio::sync::watch::channel(0).0,
        }))
    }
}

impl CommitFaults {
    /// The next `n` commits succeed, every later one fails (until [`CommitFaults::clear`]).
    pub fn fail_after(&self, n: u32) {
        self.0.allowed.store(i64::from(n), Ordering::SeqCst);
    }

    /// Commits succeed again: the disk has room.
    pub fn clear(&self) {
        self.0.allowed.store(-1, Ordering::SeqCst);
    }

    /// The number of commits failed so far, and changes to it.
    pub fn failures(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.failed.subscribe()
    }

    /// Whether the commit about to happen fails (and counts it).
    pub(crate) fn commit_fails(&self) -> bool {
        let step = self
            .0
            .allowed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 0).then(|| n - 1)
            });
        let fails = step.is_err_and(|n| n == 0);
        if fails {
            self.0.failed.send_modify(|n| *n += 1);
        }
        fails
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_runs_replay() {
        let cfg = FaultConfig {
            seed: 7,
            error_rate: 0.5,
            ..Default::default()
        };
        let a: Vec<_> = {
            let f = Faults::new(cfg.clone());
            (0..50)
                .map(|_| f.request_error().map(|e| e.status))
                .collect()
        };
        let b: Vec<_> = {
            let f = Faults::new(cfg);
            (0..50)
                .map(|_| f.request_error().map(|e| e.status))
                .collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
    }

    #[test]
    fn commit_faults_fail_after_n_until_cleared() {
        let f = CommitFaults::default();
        assert!(!f.commit_fails(), "off by default");
        f.fail_after(2);
        let outcomes: Vec<bool> = (0..4).map(|_| f.commit_fails()).collect();
        assert_eq!(outcomes, [false, false, true, true]);
        assert_eq!(*f.failures().borrow(), 2);
        f.clear();
        assert!(!f.commit_fails());
    }

    #[test]
    fn rate_limits_carry_hints() {
        let e = injected(429, 1500);
        assert_eq!(e.kind, "rate_limit_error");
        assert!(e.headers.contains(&("retry-after", "2".into())));
        assert!(e.headers.contains(&("retry-after-ms", "1500".into())));
        assert_eq!(injected(529, 0).kind, "overloaded_error");
        assert_eq!(injected(500, 0).kind, "api_error");
    }
}
