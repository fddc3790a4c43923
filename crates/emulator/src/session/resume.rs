//! Resuming a turn whose runner a restart took while it waited for answers (custom tools,
//! confirmations, a self-hosted worker). The pending calls and the turn they belong to are
//! stored ([`crate::store::pending`]); the agent's own state is not. So a new runner runs the
//! turn again from its message and *replays* it: each call and message the agent makes is
//! matched, in order, against the events the turn recorded before the restart, and answered from
//! them without a new event or a second run, until the calls that were waiting. Those are
//! resolved with their answers as a live runner would (a confirmed call runs now), and the turn
//! goes on live.
//!
//! The reference agent is deterministic, so it repeats itself exactly. A model backend is asked
//! again for the requests it made before the restart (their usage is not counted twice); if it
//! does not repeat its calls, the turn fails with a `session.error` saying so, and the waiting
//! calls get error results.

use super::context::TurnContext;
use super::replay::Replayed;
use super::tools::Plan;
use crate::agent::ToolCall;
use crate::sandbox::files::err;
use crate::store::pending::PendingCall;

/// What `session.error` says when a resumed turn does not repeat itself.
pub const DIVERGED: &str = "the turn could not resume after the emulator restarted: the agent did not repeat what it did before the restart";

impl TurnContext {
    /// Whether the agent is still repeating what the turn recorded.
    pub(super) fn replaying(&self) -> bool {
        self.replay.as_ref().is_some_and(|r| !r.diverged)
    }

    /// The agent went its own way: nothing more is recorded, and the turn fails.
    fn diverged(&mut self) {
        tracing::warn!(session_id = %self.session_id, "a resumed turn did not repeat itself");
        self.aborted = true;
    }

    /// Drops the replay once everything recorded was repeated.
    fn replay_done(&mut self) {
        if self.replay.as_ref().is_some_and(|r| r.is_done()) {
            self.replay = None;
        }
    }

    /// A message the agent says while replaying: `true` if it is not said (again) now.
    pub(super) fn replay_say(&mut self, text: &str) -> bool {
        let Some(replay) = self.replay.as_mut().filter(|r| !r.diverged) else {
            return false;
        };
        if !replay.say(text) {
            self.diverged();
        }
        self.replay_done();
        true
    }

    /// The plans of a batch of calls while replaying: each recorded call answered with its
    /// recorded result, each one still pending left to wait on, with the pending calls' answers
    /// (taken from the store). `None` once the replay is over: the batch runs live.
    pub(super) fn replay_calls(
        &mut self,
        calls: &[ToolCall],
    ) -> Option<(Vec<Plan>, Vec<PendingCall>)> {
        if !self.replaying() {
            return None;
        }
        let sid = self.session_id.clone();
        let pending: Vec<String> = self.db.read(|m| {
            m.sessions
                .get(&sid)
                .map(|r| r.pending.iter().map(|p| p.event_id.clone()).collect())
                .unwrap_or_default()
        });
        let replayed = self.replay.as_mut().and_then(|r| r.calls(calls, &pending));
        let Some(replayed) = replayed else {
            self.diverged();
            let stopped = || Plan::Done(err("Error: the turn was interrupted"));
            return Some((calls.iter().map(|_| stopped()).collect(), Vec::new()));
        };
        self.replay_done();
        let plans: Vec<Plan> = replayed
            .into_iter()
            .map(|r| match r {
                Replayed::Waiting(id) => Plan::Wait(id),
                Replayed::Recorded(result) => {
                    Plan::Done(result.unwrap_or_else(|| err(super::lifecycle::INTERRUPTED)))
                }
            })
            .collect();
        if !plans.iter().any(|p| matches!(p, Plan::Wait(_))) {
            return Some((plans, Vec::new()));
        }
        match self.db.write(|m| Ok(m.take_pending(&sid))) {
            Ok(answered) => Some((plans, answered)),
            Err(_) => {
                self.aborted = true;
                Some((plans, Vec::new()))
            }
        }
    }
}
