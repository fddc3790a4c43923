//! Token usage and list cost: each model request's usage is added to the session's cumulative
//! `usage`; `session.usage` reports that cumulative snapshot (as the SDK's
//! `BetaManagedAgentsSessionUsageEvent` documents it) just before each idle; a session whose
//! list cost reached its budget stops with `budget_reached`.

use cma_types::{ModelUsage, Money, SessionEvent, SessionUsage, SessionUsageEvent};
use serde::{Deserialize, Serialize};

use super::Model;

/// Token counts, with the list cost in millionths of a cent (so small turns still add up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    /// `None` once a request's model had no list price.
    pub cost_microcents: Option<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            input_tokens: 0,
            output_tokens: 0,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
            cost_microcents: Some(0),
        }
    }
}

impl Tally {
    fn add(&mut self, usage: &ModelUsage, model: &str) {
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.cache_read_input_tokens += usage.cache_read_input_tokens;
        self.cache_creation_input_tokens += usage.cache_creation_input_tokens;
        self.cost_microcents = match (self.cost_microcents, list_cost_microcents(usage, model)) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// The list cost in whole cents, rounded up (any use costs at least a cent).
    pub fn cost_cents(&self) -> Option<u64> {
        self.cost_microcents.map(|m| m.div_ceil(1_000_000))
    }

    fn snapshot(&self) -> SessionUsage {
        SessionUsage {
            input_tokens: Some(self.input_tokens),
            output_tokens: Some(self.output_tokens),
            cache_read_input_tokens: Some(self.cache_read_input_tokens),
            cache_creation: Some(serde_json::json!({
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            })),
            list_cost: self.cost_cents().map(|c| Money {
                amount: c.to_string(),
                currency: "USD".into(),
            }),
            ..SessionUsage::default()
        }
    }
}

/// List prices in cents per million tokens (input, output), by model family. A model id with
/// no family here has no list price.
fn price(model: &str) -> Option<(u64, u64)> {
    let m = model.to_ascii_lowercase();
    let newer = ["4-5", "4-6", "4-7", "5-"].iter().any(|v| m.contains(v));
    if m.contains("opus") {
        Some(if newer { (500, 2_500) } else { (1_500, 7_500) })
    } else if m.contains("sonnet") {
        Some((300, 1_500))
    } else if m.contains("haiku") {
        Some(if newer {
            (100, 500)
        } else if m.contains("3-5") {
            (80, 400)
        } else {
            (25, 125)
        })
    } else {
        None
    }
}

/// A request's list cost in millionths of a cent: cache reads at a tenth of the input price,
/// cache writes at 1.25 times it.
fn list_cost_microcents(usage: &ModelUsage, model: &str) -> Option<u64> {
    let (input, output) = price(model)?;
    Some(
        usage.input_tokens * input
            + usage.output_tokens * output
            + usage.cache_read_input_tokens * input / 10
            + usage.cache_creation_input_tokens * input * 5 / 4,
    )
}

impl Model {
    /// Adds one model request's usage to the session's.
    pub(crate) fn add_usage(&mut self, sid: &str, usage: &ModelUsage) {
        let Some(rec) = self.sessions.get_mut(sid) else {
            return;
        };
        let model = rec.session.agent.model.id().to_string();
        rec.usage.add(usage, &model);
        let mut snapshot = rec.usage.snapshot();
        snapshot.active_seconds = rec.session.usage.as_ref().and_then(|u| u.active_seconds);
        rec.session.usage = Some(snapshot);
    }

    /// Appends `session.usage` with the session's cumulative usage.
    pub(crate) fn report_usage(&mut self, sid: &str) {
        let Some(rec) = self.sessions.get(sid) else {
            return;
        };
        let body = SessionUsageEvent {
            usage: rec
                .session
                .usage
                .clone()
                .unwrap_or_else(|| rec.usage.snapshot()),
            budget: rec.session.budget.clone(),
        };
        self.append_event(sid, SessionEvent::SessionUsage, body);
    }

    /// Whether the session has a budget its list cost has reached (a model with no list price
    /// reaches any budget).
    pub(crate) fn budget_reached(&self, sid: &str) -> bool {
        let Some(rec) = self.sessions.get(sid) else {
            return false;
        };
        let Some(budget) = &rec.session.budget else {
            return false;
        };
        let Ok(limit) = budget.max_list_cost.amount.parse::<u64>() else {
            return false;
        };
        match rec.usage.cost_cents() {
            Some(spent) => spent >= limit,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_cost_rounds_up_to_whole_cents_and_unknown_models_have_none() {
        let mut t = Tally::default();
        let u = ModelUsage {
            input_tokens: 1_000,
            output_tokens: 100,
            ..ModelUsage::default()
        };
        t.add(&u, "claude-sonnet-4-6");
        // 1000 × 300 + 100 × 1500 = 450 000 millionths of a cent.
        assert_eq!(t.cost_microcents, Some(450_000));
        assert_eq!(t.cost_cents(), Some(1));
        t.add(&u, "emulator:stall");
        assert_eq!(t.cost_cents(), None);
        assert_eq!(t.input_tokens, 2_000);
    }
}
