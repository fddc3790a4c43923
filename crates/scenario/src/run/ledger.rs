//! Everything a run created, so it can all be removed — after each unit, at the end, after a
//! failure, or on Ctrl-C — unless `--keep`.

use std::sync::Mutex;
use std::time::Duration;

use cma_client::Client;
use cma_client::types::{ClientEvent, UserInterrupt};

use crate::outcome::CleanupReport;

/// How long a clean-up waits for a session to go idle before archiving it anyway.
const IDLE_WAIT: Duration = Duration::from_secs(15);
/// How long it waits when the session is known to be stuck (a turn timed out).
const STUCK_IDLE_WAIT: Duration = Duration::from_secs(3);
/// A bound on any single clean-up call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Created {
    environments: Vec<String>,
    agents: Vec<String>,
    stores: Vec<String>,
    /// Session id → whether a turn in it did not finish.
    sessions: Vec<(String, bool)>,
    report: CleanupReport,
}

/// Thread-safe record of created resources.
#[derive(Default)]
pub(crate) struct Ledger {
    inner: Mutex<Created>,
}

impl Ledger {
    fn with<R>(&self, f: impl FnOnce(&mut Created) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn add_environment(&self, id: &str) {
        self.with(|c| c.environments.push(id.to_string()));
    }

    pub fn add_agent(&self, id: &str) {
        self.with(|c| c.agents.push(id.to_string()));
    }

    pub fn add_store(&self, id: &str) {
        self.with(|c| c.stores.push(id.to_string()));
    }

    pub fn add_session(&self, id: &str) {
        self.with(|c| c.sessions.push((id.to_string(), false)));
    }

    /// Marks a session whose turn did not finish: clean-up interrupts it first.
    pub fn mark_stuck(&self, id: &str) {
        self.with(|c| {
            if let Some(s) = c.sessions.iter_mut().find(|(s, _)| s == id) {
                s.1 = true;
            }
        });
    }

    /// Archives one session now (after waiting for it to go idle) and forgets it.
    pub async fn retire_session(&self, client: &Client, id: &str) {
        let stuck = self.with(|c| {
            let pos = c.sessions.iter().position(|(s, _)| s == id)?;
            Some(c.sessions.remove(pos).1)
        });
        let Some(stuck) = stuck else { return };
        let outcome = retire(client, id, stuck).await;
        self.with(|c| match outcome {
            Retired::Archived => c.report.sessions_archived += 1,
            Retired::Deleted => c.report.sessions_deleted += 1,
            Retired::Failed(e) => c.report.failures.push(format!("session {id}: {e}")),
        });
    }

    /// Deletes one store now and forgets it.
    pub async fn delete_store(&self, client: &Client, id: &str) {
        let known = self.with(|c| {
            let pos = c.stores.iter().position(|s| s == id)?;
            Some(c.stores.remove(pos))
        });
        if known.is_none() {
            return;
        }
        let result = tokio::time::timeout(CALL_TIMEOUT, client.memory_stores().delete(id)).await;
        self.with(|c| match result {
            Ok(Ok(_)) => c.report.stores_deleted += 1,
            Ok(Err(e)) if e.is_not_found() => c.report.stores_deleted += 1,
            Ok(Err(e)) => c.report.failures.push(format!("store {id}: {e}")),
            Err(_) => c
                .report
                .failures
                .push(format!("store {id}: delete timed out")),
        });
    }

    /// Removes everything still recorded: sessions (archived), stores (deleted), agents and
    /// environments (archived). With `keep`, only lists them.
    pub async fn clean_up(&self, client: &Client, keep: bool) -> CleanupReport {
        if keep {
            return self.with(|c| {
                c.report.kept = true;
                c.report.left = c
                    .sessions
                    .iter()
                    .map(|(s, _)| s.clone())
                    .chain(c.stores.iter().cloned())
                    .chain(c.agents.iter().cloned())
                    .chain(c.environments.iter().cloned())
                    .collect();
                c.report.clone()
            });
        }
        // A session still here was cut short (a failure or the shutdown signal): it may be
        // mid-turn, so it is interrupted before archiving.
        let sessions: Vec<String> = self.with(|c| {
            c.sessions.iter_mut().for_each(|s| s.1 = true);
            c.sessions.iter().map(|(s, _)| s.clone()).collect()
        });
        futures::future::join_all(sessions.iter().map(|s| self.retire_session(client, s))).await;
        let stores: Vec<String> = self.with(|c| c.stores.clone());
        futures::future::join_all(stores.iter().map(|s| self.delete_store(client, s))).await;
        let agents: Vec<String> = self.with(|c| std::mem::take(&mut c.agents));
        for id in agents {
            let result = tokio::time::timeout(CALL_TIMEOUT, client.agents().archive(&id)).await;
            self.with(|c| match result {
                Ok(Ok(_)) => c.report.agents_archived += 1,
                Ok(Err(e)) => c.report.failures.push(format!("agent {id}: {e}")),
                Err(_) => c
                    .report
                    .failures
                    .push(format!("agent {id}: archive timed out")),
            });
        }
        let environments: Vec<String> = self.with(|c| std::mem::take(&mut c.environments));
        for id in environments {
            let result =
                tokio::time::timeout(CALL_TIMEOUT, client.environments().archive(&id)).await;
            self.with(|c| match result {
                Ok(Ok(_)) => c.report.environments_archived += 1,
                Ok(Err(e)) => c.report.failures.push(format!("environment {id}: {e}")),
                Err(_) => c
                    .report
                    .failures
                    .push(format!("environment {id}: archive timed out")),
            });
        }
        self.with(|c| c.report.clone())
    }
}

enum Retired {
    Archived,
    Deleted,
    Failed(String),
}

/// Interrupts a stuck session, waits (bounded) for idle, archives; deletes when archiving fails.
async fn retire(client: &Client, id: &str, stuck: bool) -> Retired {
    let sessions = client.sessions();
    if stuck {
        let interrupt = ClientEvent::UserInterrupt(UserInterrupt::default());
        let _ =
            tokio::time::timeout(CALL_TIMEOUT, sessions.events().send(id, vec![interrupt])).await;
    }
    let wait = if stuck { STUCK_IDLE_WAIT } else { IDLE_WAIT };
    if let Ok(Err(e)) | Err(e) = tokio::time::timeout(
        wait + Duration::from_secs(5),
        sessions.wait_for_idle(id, wait),
    )
    .await
    .map_err(|_| cma_client::Error::Timeout(wait))
    {
        tracing::info!(session = id, error = %e, "session did not go idle before archiving");
    }
    match tokio::time::timeout(CALL_TIMEOUT, sessions.archive(id)).await {
        Ok(Ok(_)) => Retired::Archived,
        Ok(Err(e)) if e.is_not_found() => Retired::Archived,
        archive_failure => {
            let why = match archive_failure {
                Ok(Err(e)) => e.to_string(),
                _ => "archive timed out".to_string(),
            };
            tracing::info!(session = id, error = %why, "archiving failed; deleting the session");
            match tokio::time::timeout(CALL_TIMEOUT, sessions.delete(id)).await {
                Ok(Ok(_)) => Retired::Deleted,
                Ok(Err(e)) => Retired::Failed(format!("archive: {why}; delete: {e}")),
                Err(_) => Retired::Failed(format!("archive: {why}; delete timed out")),
            }
        }
    }
}
