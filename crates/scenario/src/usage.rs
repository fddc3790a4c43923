//! Token usage, summed from each turn's `span.model_request_end` events (`model_usage`): per
//! turn, per unit and per run. The one place usage is computed; `run.json`, `summary.md` and the
//! HTML page all read these sums.

use std::ops::AddAssign;

use cma_client::types::SessionEvent;
use serde::{Deserialize, Serialize};

use crate::record::TurnRecord;

/// Tokens spent by one or more model requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// `span.model_request_end` events counted.
    #[serde(default)]
    pub model_requests: u64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// The largest prompt (input plus cache reads and writes) of any one of these requests: how
    /// close a conversation came to the model's context window. A maximum, not a sum.
    #[serde(default)]
    pub peak_prompt_tokens: u64,
}

impl TokenUsage {
    /// The sum over every `span.model_request_end` among `events`.
    pub fn from_events(events: &[SessionEvent]) -> Self {
        let mut sum = TokenUsage::default();
        for e in events {
            if let SessionEvent::SpanModelRequestEnd(end) = e {
                let u = &end.body.model_usage;
                sum += TokenUsage {
                    model_requests: 1,
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                    cache_creation_input_tokens: u.cache_creation_input_tokens,
                    cache_read_input_tokens: u.cache_read_input_tokens,
                    peak_prompt_tokens: u.input_tokens
                        + u.cache_creation_input_tokens
                        + u.cache_read_input_tokens,
                };
            }
        }
        sum
    }

    /// Input (including cache writes and reads) plus output.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
            + self.output_tokens
    }
}

impl AddAssign for TokenUsage {
    fn add_assign(&mut self, o: Self) {
        self.model_requests += o.model_requests;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_input_tokens += o.cache_creation_input_tokens;
        self.cache_read_input_tokens += o.cache_read_input_tokens;
        self.peak_prompt_tokens = self.peak_prompt_tokens.max(o.peak_prompt_tokens);
    }
}

impl std::iter::Sum for TokenUsage {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        let mut total = TokenUsage::default();
        for u in iter {
            total += u;
        }
        total
    }
}

/// One turn's usage, placed by visit and turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnUsage {
    pub visit: usize,
    pub turn: usize,
    #[serde(flatten)]
    pub usage: TokenUsage,
}

/// A unit's usage: every turn's, and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitUsage {
    pub turns: Vec<TurnUsage>,
    pub total: TokenUsage,
}

impl TurnUsage {
    pub fn of(turn: &TurnRecord) -> Self {
        TurnUsage {
            visit: turn.visit,
            turn: turn.turn,
            usage: TokenUsage::from_events(&turn.events),
        }
    }
}

impl UnitUsage {
    /// The usage of turn `turn` of visit `visit`, if it ran.
    pub fn turn(&self, visit: usize, turn: usize) -> Option<&TokenUsage> {
        self.turns
            .iter()
            .find(|t| t.visit == visit && t.turn == turn)
            .map(|t| &t.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens add up over requests; the peak prompt is the largest single one.
    #[test]
    fn the_peak_prompt_is_a_maximum_not_a_sum() {
        let one = |input, peak| TokenUsage {
            model_requests: 1,
            input_tokens: input,
            peak_prompt_tokens: peak,
            ..TokenUsage::default()
        };
        let total: TokenUsage = [one(900, 900), one(2500, 2500), one(1200, 1200)]
            .into_iter()
            .sum();
        assert_eq!((total.input_tokens, total.peak_prompt_tokens), (4600, 2500));
    }
}
