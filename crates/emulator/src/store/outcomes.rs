//! A session's outcomes (`user.define_outcome`) as data: what the grader needs of each beyond its
//! public `outcome_evaluations` state, the write that defines one and queues its first turn, and
//! the state changes of its turns (running, ended without a verdict).
//! Grading and the evaluation events are the turn's, in [`crate::session::outcome`].

use cma_types::{OutcomeEvaluation, UserDefineOutcome};
use serde_json::Value;

use super::Model;
use super::pending::Queued;
use crate::clock;

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

    /// An outcome's turn starts (or a revision of it).
    pub(crate) fn outcome_running(&mut self, sid: &str, outcome_id: &str) {
        if let Some(o) = self.outcome_mut(sid, outcome_id) {
            o.result = "running".into();
        }
    }

    /// Ends an outcome without a verdict (`interrupted`, `failed`).
    pub(crate) fn outcome_ended(&mut self, sid: &str, outcome_id: &str, result: &str, why: &str) {
        if let Some(o) = self.outcome_mut(sid, outcome_id)
            && o.is_active()
        {
            o.result = result.into();
            o.explanation = Some(why.into());
            o.completed_at = Some(clock::now());
        }
    }

    /// Every outcome still being worked on ends with `result` (the turn that would serve it
    /// ended).
    pub(crate) fn end_outcomes(&mut self, sid: &str, result: &str, why: &str) {
        let active: Vec<String> = self
            .sessions
            .get(sid)
            .map(|r| {
                r.session
                    .outcome_evaluations
                    .iter()
                    .filter(|o| o.is_active())
                    .map(|o| o.outcome_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in active {
            self.outcome_ended(sid, &id, result, why);
        }
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
