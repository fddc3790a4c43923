//! The caps of a session's real shell, and how each is enforced so that the agent sees the error
//! a shell would give:
//!
//! - **Disk**: one tmpfs of `disk_mb` per session, inside the sandbox (nothing the shell writes
//!   reaches the host's disk), holds `/tmp` and every read-write memory mount, so what the session
//!   writes into all of them together stops at the cap with `No space left on device`. The rest
//!   of the sandbox's root is read-only. The emulator reads and writes the mounts through
//!   `/proc/<pid>/root` of the sandbox.
//! - **Processes**: `RLIMIT_NPROC` of `processes`, counted in the sandbox's own user namespace
//!   (Linux 5.14+), so a fork bomb gets `Resource temporarily unavailable` and the host's other
//!   processes do not count. The kernel does not apply it to host root, so when `cma` runs as
//!   root the sandbox runs as the host's `nobody` (65534). Every process but the shell itself is
//!   killed by the host at the end of each call ([`super::procs`]: nothing the shell defines
//!   takes part), and all of them with the sandbox.
//! - **Memory**: `RLIMIT_AS` of `memory_mb` for each process (an allocation past it fails:
//!   `MemoryError`, `Cannot allocate memory`). It bounds each process, not their sum.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

/// The caps of one session's sandbox (see the module documentation for how each holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Size of the session's disk (`/tmp` and the read-write mounts together), in MiB.
    pub disk_mb: u64,
    /// Address space of each process, in MiB.
    pub memory_mb: u64,
    /// Processes (and threads) alive at once.
    pub processes: u32,
}

pub const DEFAULT_DISK_MB: u64 = 64;
pub const DEFAULT_MEMORY_MB: u64 = 512;
pub const DEFAULT_PROCESSES: u32 = 256;

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            disk_mb: DEFAULT_DISK_MB,
            memory_mb: DEFAULT_MEMORY_MB,
            processes: DEFAULT_PROCESSES,
        }
    }
}

impl SandboxLimits {
    /// The `--size` of the session's disk, the sandbox's one writable tmpfs.
    pub(super) fn disk_bytes(&self) -> String {
        self.disk_mb.saturating_mul(1024 * 1024).to_string()
    }

    /// The first line the shell runs: its soft and hard limits, which an unprivileged process
    /// cannot raise again. A shell that cannot set them exits (and the call says so).
    pub(super) fn ulimit_line(&self) -> String {
        format!(
            "ulimit -u {} -v {} || exit 97\n",
            self.processes.max(8),
            self.memory_mb.max(16).saturating_mul(1024)
        )
    }
}

/// The host uid and gid the sandbox runs as: `None` keeps the caller's, `Some(nobody)` when the
/// caller is root (whose processes `RLIMIT_NPROC` does not bound, and who should not own a
/// sandbox anyway).
pub(super) fn host_owner() -> Option<(u32, u32)> {
    match std::fs::metadata("/proc/self") {
        Ok(m) if m.uid() == 0 => Some((NOBODY, NOBODY)),
        _ => None,
    }
}

const NOBODY: u32 = 65534;

/// Gives `path` to the sandbox's owner (when that is not the caller), so the shell can change
/// what the emulator put there.
pub(super) fn own(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// Starts `cmd` from a thread that lives as long as the process. `bwrap --die-with-parent` (and
/// any `PR_SET_PDEATHSIG`) ends the sandbox when the *thread* that started it exits, not the
/// process: started from a session's runner thread, a shell kept for the session's next run
/// would die with the run that started it. (That is what broke forgetting and updates through
/// the model backends when a session first kept its shell: the next run's first `bash` call, the
/// listing of the mounts, failed, so the agent saw no notes.)
pub(super) fn spawn_from_lasting_thread(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("sandbox-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "no spawner thread: sandboxes end with their runner thread");
        }
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    let sent = spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply));
    match sent {
        Ok(()) => answer
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the spawner thread is gone"))),
        // No spawner thread: start it from here (it then lives as long as this thread).
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

/// Whether `path` and each of its parents up to `root` is a real directory (not a symbolic
/// link): the sandbox's mounts are reached through `/proc/<pid>/root`, where an absolute link
/// planted by the shell would resolve on the host.
pub(super) fn no_links_between(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let mut at = root.to_path_buf();
    if !std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) {
        return false;
    }
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return false,
            Ok(_) => {}
            // Not there yet: what is created below it is created by us.
            Err(_) => return true,
        }
    }
    true
}
