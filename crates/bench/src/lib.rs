//! The engine behind `cma bench`: it runs the measurements and returns plain data; the CLI only
//! parses arguments and prints. Numbers are reported, never asserted, except against a budget the
//! caller passes.
//!
//! * [`turns`]: worker sessions running turns against any target, with per-turn timings.
//! * [`model_requests`]: a model agent's time to first token and output tokens per second.
//! * [`stats`]: nearest-rank percentiles.
//! * [`cpu`]: this process's CPU time (user + system, all threads).
//! * [`sse`]: SSE framing (and typed decoding) throughput over a byte buffer.

pub mod cpu;
pub mod model_requests;
pub mod samples;
pub mod sse;
pub mod stats;
pub mod turns;

pub use model_requests::ModelRequests;
pub use stats::{Percentiles, percentiles};
pub use turns::{BenchFixture, TurnSample, TurnsConfig, TurnsReport, TurnsSummary, run_turns};

/// Why a benchmark could not run (a turn that fails is counted, not an error).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid benchmark settings: {0}")]
    InvalidSettings(String),
    #[error("{what}: {source}")]
    Client {
        what: &'static str,
        #[source]
        source: cma_client::Error,
    },
    #[error("a benchmark worker stopped abnormally: {0}")]
    Worker(String),
}
