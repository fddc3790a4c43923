//! A session's outcomes (`user.define_outcome`) as data: what the grader needs of each beyond its
//! public `outcome_evaluations` state, and the write that defines one and queues its first turn.
//! Grading and the evaluation events are the turn's, in [`crate::session::outcome`].

use cma_types::{OutcomeEvaluation, UserDefineOutcome};
use serde_json::Value;

use super::Model;
use super::session_events::Queued;

/// `max_iterations` when a `user.define_outcome` leaves it out (reference 6.2).
pub const DEFAULT_MAX_ITERATIONS: u32 = 3;

/// What the grader needs of an outcome beyond its public state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeSpec {
    pub outcome_id: String,
    pub rubric: Value,
    pub max_iterations: u32,
}

impl Model {
    /// `user.define_outcome` (already validated): records the outcome as `pending` and queues its
    /// first turn. Returns whether a runner must start.
    pub(crate) fn define_outcome(&mut self, sid: &str, event_id: &str, o: &UserDefineOutcome) {
        let Some(rec) = self.sessions.get_mut(sid) else {
            return;
        };
        let outcome_id = o.outcome_id.clone().unwrap_or_default();
        rec.session.outcome_evaluations.push(OutcomeEvaluation {
            kind: "outcome_evaluation".into(),
            outcome_id: outcome_id.clone(),
            description: o.description.clone(),
            iteration: 0,
            result: "pending".into(),
            explanation: None,
            completed_at: None,
        });
        rec.outcomes.push(OutcomeSpec {
            outcome_id: outcome_id.clone(),
            rubric: o.rubric.clone(),
            max_iterations: o.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS),
        });
        rec.queue.push_back(Queued {
            event_id: event_id.to_string(),
            text: o.description.clone(),
            outcome: Some(outcome_id),
        });
    }

    pub(crate) fn outcome_mut(
        &mut self,
        sid: &str,
        outcome_id: &str,
    ) -> Option<&mut OutcomeEvaluation> {
        self.sessions
            .get_mut(sid)?
            .session
            .outcome_evaluations
            .iter_mut()
            .find(|o| o.outcome_id == outcome_id)
    }
}
