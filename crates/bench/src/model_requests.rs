//! What a model agent's requests took during a run (`cma bench turns --agent anthropic|openai`
//! on the embedded emulator): time to first token and output tokens per second, read from the
//! model client's timing log. The Managed Agents API has no field for either, so a target
//! reached over HTTP cannot report them; the figures are the ones each request's
//! `model_request` span records.

use cma_models::{RequestTiming, TimingLog};
use serde::Serialize;

use crate::stats::{Percentiles, percentiles};

#[derive(Debug, Clone, Serialize)]
pub struct ModelRequests {
    /// Model requests made while the run's turns ran, the warm-up turns' included (a request
    /// does not know which turn it served).
    pub requests: usize,
    /// From each request's send to its first streamed text or tool input (NaN where none came).
    pub first_token_ms: Percentiles,
    /// Output tokens per second after the first token, as the server counted them.
    pub output_tokens_per_second: Percentiles,
}

/// The run's figures from `log`.
pub fn summarize(log: &TimingLog) -> ModelRequests {
    let timings: Vec<RequestTiming> = log.snapshot();
    let column = |f: fn(&RequestTiming) -> Option<f64>| {
        percentiles(timings.iter().map(|t| f(t).unwrap_or(f64::NAN)).collect())
    };
    ModelRequests {
        requests: timings.len(),
        first_token_ms: column(RequestTiming::first_token_ms),
        output_tokens_per_second: column(RequestTiming::output_tokens_per_second),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn percentiles_of_what_was_observed() {
        let log = TimingLog::new();
        for (ttft, total, tokens) in [(100, 1100, 50), (300, 1300, 100), (0, 0, 0)] {
            log.record(RequestTiming {
                first_token: (total > 0).then(|| Duration::from_millis(ttft)),
                total: Duration::from_millis(total),
                output_tokens: tokens,
            });
        }
        let r = summarize(&log);
        assert_eq!(r.requests, 3);
        assert_eq!((r.first_token_ms.p50, r.first_token_ms.max), (100.0, 300.0));
        assert_eq!(r.output_tokens_per_second.p50, 50.0);
        assert_eq!(r.output_tokens_per_second.max, 100.0);
    }
}
