//! A session's turn, from the queued message to the idle: everything between the store (data and
//! the journal) and the HTTP API.
//!
//! - [`turn`]: the turn loop, one thread per session with work queued. It takes the next queued
//!   message, opens its model-request span, hands the turn to the agent and records how it ended.
//! - [`context`]: the turn's context (session, open span, usage, budget, real shell), and
//!   [`tools`]: the agent's [`crate::agent::Tools`] on it — each call an event pair, run by
//!   [`crate::sandbox`], or a wait for the client's answers (custom tools, confirmations) or
//!   for a self-hosted worker.
//! - [`lifecycle`]: the steps that end things — close a span, go idle, finish, fail, answer
//!   what nobody will answer. Every place a turn goes idle is there.
//! - [`outcome`]: grading an outcome's turn against its rubric.
//! - [`resume`]: a turn whose runner a restart took while it waited for answers goes on once
//!   they are in, repeating what it did before the restart ([`replay`]).
//!
//! A runner starts as an effect of the committed write that queues a session's first message
//! ([`crate::store::Effect::StartTurn`]); [`starter`] is the hook the emulator installs for it.
//!
//! Layers import only downward: `api → session → {agent, sandbox} → store → cma-types`
//! (`tests/import_circles.rs` checks that no modules import each other in a circle).

mod context;
#[cfg(test)]
mod context_tests;
mod lifecycle;
pub mod outcome;
mod replay;
mod resume;
mod tools;
pub mod turn;

use std::sync::Arc;

pub use turn::mounts_of;

use crate::agent::model::AgentConfig;
use crate::store::{Db, TurnStarter};

/// The hook that starts a session's runner once a write queued its work. It holds the database
/// weakly: the database holds the hook.
pub fn starter(db: &Arc<Db>, agent: Arc<AgentConfig>) -> TurnStarter {
    let db = Arc::downgrade(db);
    Arc::new(move |session_id| {
        if let Some(db) = db.upgrade() {
            turn::spawn(db, agent.clone(), session_id);
        }
    })
}
