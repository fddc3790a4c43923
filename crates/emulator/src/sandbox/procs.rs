//! The sandbox's processes as the host sees them, and how the host ends every one of them but the
//! shell at the end of each call. The host does it, not the shell: the shell runs what the model
//! wrote, and a model can redefine `kill`, `command` or `builtin` there, or trap signals, to keep
//! a process alive into the next call. From outside, a `SIGKILL` through a pidfd cannot be
//! refused, and the sandbox's pid namespace tells its processes from the host's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

/// How long the end of a call may keep killing (a fork bomb refills as it is killed; each round
/// kills what it finds).
const END_BOUND: Duration = Duration::from_secs(5);

/// The host pids of one sandbox: bwrap (`outer bwrap -> outer pid 1 -> inner bwrap -> inner
/// pid 1 -> shell`) and the inner pid namespace every process of the shell's lives in.
#[derive(Debug, Clone)]
pub(super) struct SandboxPids {
    /// Pid 1 of the outer layer: its `/proc/<pid>/root` holds the session's disk.
    pub outer_init: u32,
    /// Pid 1 of the shell's layer (bwrap's reaper): its `/proc/<pid>/root/proc` is the shell's
    /// own `/proc`.
    inner_init: u32,
    /// The shell (bash), on the host.
    shell: u32,
    /// The shell's pid inside its namespace.
    shell_inside: u32,
    /// `/proc/<shell>/ns/pid`'s target (`pid:[inode]`).
    namespace: PathBuf,
}

/// Each process's parent, from one pass over the host's `/proc`.
fn parents() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// The pids of the sandbox started as the `bwrap` process `bwrap`, once its shell has answered
/// (until then the chain is not whole).
pub(super) fn find(bwrap: u32) -> Option<SandboxPids> {
    let parents = parents();
    let child = |of: u32| {
        parents
            .iter()
            .find(|(_, ppid)| *ppid == of)
            .map(|(pid, _)| *pid)
    };
    let outer_init = child(bwrap)?;
    let inner_init = child(child(outer_init)?)?;
    let shell = child(inner_init)?;
    let namespace = std::fs::read_link(format!("/proc/{shell}/ns/pid")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{shell}/status")).ok()?;
    let shell_inside = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()?;
    Some(SandboxPids {
        outer_init,
        inner_init,
        shell,
        shell_inside,
        namespace,
    })
}

impl SandboxPids {
    /// Ends every process of the shell's namespace but its pid 1 and the shell; `false` when
    /// some are still alive after [`END_BOUND`] (the caller then ends the sandbox).
    pub(super) fn end_all_but_shell(&self) -> bool {
        let deadline = Instant::now() + END_BOUND;
        loop {
            let listed = self.others_left();
            if listed == Some(false) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let signalled = self.kill_others();
            // Without the shell's `/proc`, the host's pass decides: nothing left to signal.
            if listed.is_none() && signalled == 0 {
                return true;
            }
            // A killed process takes a moment to exit and be reaped.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether anything but pid 1 and the shell is left, read from the shell's own `/proc` (a
    /// few entries, not the host's hundreds). A zombie counts until it is reaped (by its parent,
    /// the shell or pid 1, at once): it still counts against the process cap, so the next call
    /// could not fork. The shell cannot hide a process there: it cannot mount, and the listing is
    /// the kernel's. `None`: that `/proc` cannot be read from here.
    fn others_left(&self) -> Option<bool> {
        let dir = format!("/proc/{}/root/proc", self.inner_init);
        let entries = std::fs::read_dir(&dir).ok()?;
        Some(entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| pid != 1 && pid != self.shell_inside)
        }))
    }

    /// Sends `SIGKILL` to every host process in the shell's pid namespace but its pid 1 and the
    /// shell. Each is signalled through a pidfd opened before its namespace is checked again,
    /// so a pid reused by a host process in between is never signalled. Returns how many were.
    fn kill_others(&self) -> usize {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let mut signalled = 0;
        let in_sandbox = |pid: u32| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|ns| ns == self.namespace)
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if pid == self.inner_init || pid == self.shell || !in_sandbox(pid) {
                continue;
            }
            let Some(target) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
                continue;
            };
            if let Ok(fd) = pidfd_open(target, PidfdFlags::empty())
                && in_sandbox(pid)
                && pidfd_send_signal(&fd, Signal::KILL).is_ok()
            {
                signalled += 1;
            }
        }
        signalled
    }
}
