//! Warm shells: a session's real shell outlives the run of its queued turns, so its next run
//! does not pay for a new sandbox (bubblewrap takes milliseconds to start). The pool keeps at
//! most [`IDLE_SHELLS`] idle shells, the least recently used ended first; a session's shell is
//! ended when the session is archived or deleted, and dropped when it no longer serves the
//! session's mounts.
//!
//! A shell comes out of the pool with its sandbox's read-write mounts as the shell left them,
//! which is why every call starts by making them the store's files again (`refresh`): between
//! two runs the store may have changed through the API or another session.

use std::sync::Mutex;

use super::bwrap::BwrapShell;

/// Idle shells kept at most (each is a bash, a bwrap and the session's files in memory).
pub const IDLE_SHELLS: usize = 32;

/// Idle shells by session id, the most recently used last.
static POOL: Mutex<Vec<(String, BwrapShell)>> = Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<(String, BwrapShell)>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The session's idle shell (the runner checks that it serves the turn's mounts, files and caps:
/// [`BwrapShell::serves`]).
pub fn take(session_id: &str) -> Option<BwrapShell> {
    let mut p = pool();
    let at = p.iter().position(|(id, _)| id == session_id)?;
    Some(p.remove(at).1)
}

/// Keeps the session's shell for its next run (a shell whose bash is gone is not kept).
pub fn put(session_id: &str, mut shell: BwrapShell) {
    if !shell.is_running() {
        return;
    }
    let ended: Vec<(String, BwrapShell)> = {
        let mut p = pool();
        let mut ended: Vec<(String, BwrapShell)> = Vec::new();
        if let Some(at) = p.iter().position(|(id, _)| id == session_id) {
            ended.push(p.remove(at));
        }
        p.push((session_id.to_string(), shell));
        let over = p.len().saturating_sub(IDLE_SHELLS);
        ended.extend(p.drain(..over));
        ended
    };
    // Ending a shell waits for its processes: outside the lock.
    drop(ended);
}

/// Ends the session's idle shell (archived or deleted: it runs no more commands).
pub fn end(session_id: &str) {
    let ended = {
        let mut p = pool();
        p.iter()
            .position(|(id, _)| id == session_id)
            .map(|at| p.remove(at))
    };
    drop(ended);
}

/// Whether the session has an idle shell in the pool.
#[cfg(test)]
pub fn holds(session_id: &str) -> bool {
    pool().iter().any(|(id, _)| id == session_id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cma_types::{Access, Actor, SessionActor};
    use serde_json::json;

    use super::*;
    use crate::sandbox::bwrap::available;
    use crate::sandbox::fs::{Fs, FsMount};
    use crate::store::{Db, Model};

    /// A session's shell comes back from the pool as it was (its variables set), at most
    /// [`IDLE_SHELLS`] are kept, and `end` ends one. Break it: make `put` drop the shell, or
    /// `end` a no-op.
    #[test]
    fn a_shell_survives_between_runs_and_ends_with_its_session() {
        if !available() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "bubblewrap (bwrap) is required under CI=true"
            );
            return;
        }
        let db = Arc::new(Db::new(Model::default(), None));
        let mounts = vec![FsMount {
            path: "/mnt/memory/none".into(),
            store_id: "memstore_missing".into(),
            access: Access::ReadOnly,
        }];
        let fs = Fs::new(
            db,
            Actor::Session(SessionActor {
                session_id: "sesn_01pool".into(),
            }),
            mounts.clone(),
        );
        let started = |export: &str| {
            let mut shell = BwrapShell::new(&mounts).unwrap();
            let out = shell.call(&fs, &json!({ "command": format!("export KEPT={export}") }));
            assert!(!out.is_error, "{out:?}");
            shell
        };
        // Started by a runner thread that has ended since, as a session's next run finds it.
        // Break it: spawn bwrap from the calling thread (`--die-with-parent` then ends the
        // sandbox with that thread, and the variable is gone with the restarted shell).
        let first_run = std::thread::scope(|s| s.spawn(|| started("across-runs")).join());
        put("sesn_01pool_a", first_run.expect("the first run's thread"));
        assert!(holds("sesn_01pool_a"));
        let mut shell = take("sesn_01pool_a").expect("the kept shell");
        assert!(!holds("sesn_01pool_a"));
        let out = shell.call(&fs, &json!({ "command": "echo $KEPT" }));
        assert_eq!(out.text, "across-runs\n", "{out:?}");
        put("sesn_01pool_a", shell);
        end("sesn_01pool_a");
        assert!(!holds("sesn_01pool_a") && take("sesn_01pool_a").is_none());
        // The least recently used idle shell is ended first.
        put("sesn_01pool_oldest", started("old"));
        for i in 0..IDLE_SHELLS {
            put(&format!("sesn_01pool_{i}"), started("new"));
        }
        assert!(!holds("sesn_01pool_oldest"));
        assert!(holds(&format!("sesn_01pool_{}", IDLE_SHELLS - 1)));
        for i in 0..IDLE_SHELLS {
            end(&format!("sesn_01pool_{i}"));
        }
    }
}
