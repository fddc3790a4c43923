//! The real shell against a hostile command: each cap gives the error a shell would give, the
//! host is unchanged, and the next call works (needs bubblewrap; CI=true makes a missing one a
//! failure).

use std::sync::Arc;

use cma_types::*;
use serde_json::json;

use super::ToolOutput;
use super::bwrap::BwrapShell;
use super::fs::{Fs, FsMount};
use super::launch::bwrap_or_skip;
use super::limits::*;
use crate::store::{Db, Model};

struct Setup {
    db: Arc<Db>,
    store: String,
    fs: Fs,
    shell: BwrapShell,
}

fn setup(limits: SandboxLimits) -> Setup {
    let db = Arc::new(Db::new(Model::default(), None));
    let store = db
        .write(|m| {
            m.create_store(CreateMemoryStore {
                name: "Prefs".into(),
                ..Default::default()
            })
        })
        .unwrap()
        .id;
    let mounts = vec![FsMount {
        path: "/mnt/memory/prefs".into(),
        store_id: store.clone(),
        access: Access::ReadWrite,
    }];
    let actor = Actor::Session(SessionActor {
        session_id: "sesn_01limits".into(),
    });
    let fs = Fs::new(db.clone(), actor, mounts.clone());
    let shell = BwrapShell::with_limits(&mounts, limits).unwrap();
    Setup {
        db,
        store,
        fs,
        shell,
    }
}

impl Setup {
    fn sh(&mut self, command: &str) -> ToolOutput {
        self.shell.call(&self.fs, &json!({ "command": command }))
    }

    fn sh_for(&mut self, command: &str, timeout_ms: u64) -> ToolOutput {
        self.shell.call(
            &self.fs,
            &json!({ "command": command, "timeout_ms": timeout_ms }),
        )
    }

    fn memories(&self) -> Vec<(String, String)> {
        self.db.read(|m| {
            m.store_memories(&self.store)
                .into_iter()
                .map(|r| (r.path.clone(), r.content.clone().unwrap_or_default()))
                .collect()
        })
    }

    fn seed(&self, path: &str, content: &str) {
        let actor = Actor::Api(ApiActor {
            api_key_id: "key".into(),
        });
        self.db
            .write(|m| m.create_memory(&self.store, path, Some(content), &actor))
            .unwrap();
    }

    /// The next call works and starts from the store.
    fn still_works(&mut self) {
        let out = self.sh("echo alive");
        assert_eq!(
            (out.is_error, out.text.as_str()),
            (false, "alive\n"),
            "{out:?}"
        );
    }
}

/// Bytes under `dir` on the host.
fn host_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Break it: drop `--size` from the tmpfs mounts (or bind a host directory again) and the fill
/// succeeds.
#[test]
fn a_disk_fill_stops_at_the_cap_with_no_space_left_and_nothing_on_the_host() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits {
        disk_mb: 2,
        ..SandboxLimits::default()
    });
    s.seed("/keep.md", "kept\n");
    for target in ["/mnt/memory/prefs/fill", "/tmp/fill"] {
        let out = s.sh(&format!(
            "head -c 8000000 /dev/zero > {target}; echo status $?; ls -s --block-size=1 {target}"
        ));
        assert!(
            out.text.contains("No space left on device") && out.text.contains("status 1"),
            "{target}: {}",
            out.text
        );
        let size: u64 = out
            .text
            .lines()
            .find(|l| l.ends_with(target))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        assert!(size <= 2 * 1024 * 1024, "{target} holds {size} bytes");
    }
    // The full mount's file is refused (too big to be a memory), the rest is intact, and the
    // host's copy of the sandbox holds only the control files.
    assert_eq!(s.memories(), [("/keep.md".into(), "kept\n".into())]);
    assert!(host_bytes(s.shell.host_dir()) < 64 * 1024);
    s.sh("rm -f /mnt/memory/prefs/fill /tmp/fill");
    s.still_works();
}

/// The disk is one budget per session: two read-write mounts and `/tmp` together stop at the cap.
/// Break it: give `/tmp` and each mount a tmpfs of its own (`--size N --tmpfs <path>`) and all
/// three writes fit.
#[test]
fn two_mounts_and_tmp_share_one_disk_cap() {
    if !bwrap_or_skip() {
        return;
    }
    let db = Arc::new(Db::new(Model::default(), None));
    let mut mounts = Vec::new();
    for name in ["a", "b"] {
        let store = db
            .write(|m| {
                m.create_store(CreateMemoryStore {
                    name: name.into(),
                    ..Default::default()
                })
            })
            .unwrap()
            .id;
        mounts.push(FsMount {
            path: format!("/mnt/memory/{name}"),
            store_id: store,
            access: Access::ReadWrite,
        });
    }
    let actor = Actor::Session(SessionActor {
        session_id: "sesn_01disk".into(),
    });
    let fs = Fs::new(db, actor, mounts.clone());
    let limits = SandboxLimits {
        disk_mb: 2,
        ..SandboxLimits::default()
    };
    let mut shell = BwrapShell::with_limits(&mounts, limits).unwrap();
    let mut sh = |command: &str| shell.call(&fs, &json!({ "command": command }));
    // 900 KB each: the first two fit in 2 MiB, the third does not.
    let out = sh(
        "for f in /mnt/memory/a/fill /mnt/memory/b/fill /tmp/fill; do \
                  head -c 900000 /dev/zero > $f || echo FAILED $f; done; df -k /tmp /mnt/memory/a",
    );
    assert!(
        out.text.contains("No space left on device") && out.text.contains("FAILED /tmp/fill"),
        "{}",
        out.text
    );
    assert!(!out.text.contains("FAILED /mnt/memory"), "{}", out.text);
    // Freeing a mount frees the budget for /tmp.
    let out = sh(
        "rm /mnt/memory/a/fill /mnt/memory/b/fill; head -c 900000 /dev/zero > /tmp/fill && echo FITS",
    );
    assert!(out.text.contains("FITS"), "{}", out.text);
}

/// The end of a call does not depend on the shell: a model that shadows `kill`, `command`,
/// `builtin`, `disown` and `wait`, and traps signals, still finds none of its processes in the next
/// call. Break it: make [`super::procs::SandboxPids::end_all_but_shell`] return `true` at once.
#[test]
fn processes_end_with_the_call_even_when_the_shell_shadows_kill() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits::default());
    let out = s.sh(
        "kill(){ :; }; command(){ :; }; builtin(){ :; }; disown(){ :; }; wait(){ :; }; \
         trap '' TERM HUP INT; sleep 1000 & (setsid sleep 1001 &); nohup sleep 1002 >/dev/null 2>&1 & \
         echo started",
    );
    assert!(out.text.contains("started"), "{out:?}");
    // (With `disown` shadowed, the shell may say its jobs were killed: that is the model's.)
    let out = s.sh(
        "n=0; for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' < $p/cmdline)\" in sleep*) n=$((n+1));; esac; \
         done 2>/dev/null; echo SLEEPERS=$n",
    );
    assert!(out.text.contains("SLEEPERS=0"), "{}", out.text);
    let out = s.sh(LIVE);
    assert!(
        out.text.trim().parse::<u32>().unwrap_or(99) <= 5,
        "{}",
        out.text
    );
    // The shell's own state survives: the functions it defined are still there.
    let out = s.sh("type kill | head -1");
    assert!(out.text.contains("kill is a function"), "{out:?}");
}

/// Counts the sandbox's live processes (a killed one may stay a zombie until pid 1 reaps it):
/// pid 1, the shell, and this probe's own (a loop, a `grep`, a `wc`).
const LIVE: &str =
    "for p in /proc/[0-9]*; do grep -qs '^State:.*zombie' $p/status || echo $p; done | wc -l";

/// Break it: drop the `ulimit -u` of the first line (or run bwrap as root when cma is root) and
/// the forks go past the cap.
#[test]
fn a_fork_bomb_fails_inside_and_every_process_ends_with_the_call() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits {
        processes: 40,
        ..SandboxLimits::default()
    });
    let out = s.sh("python3 -c '
import os, time
n = 0
try:
    while n < 500:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError as e:
    print(\"fork failed:\", e.strerror)
print(\"forked\", n)'");
    assert!(
        out.text
            .contains("fork failed: Resource temporarily unavailable"),
        "{}",
        out.text
    );
    let forked: u32 = out
        .text
        .lines()
        .find_map(|l| l.strip_prefix("forked "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(u32::MAX);
    assert!(forked < 40, "forked {forked}");
    // The sleepers are gone with the call: only pid 1, the shell and this probe are left.
    let out = s.sh(&format!("sleep 300 & {LIVE}"));
    assert!(
        out.text.trim().parse::<u32>().unwrap_or(99) <= 6,
        "{}",
        out.text
    );
    let out = s.sh(LIVE);
    assert!(
        out.text.trim().parse::<u32>().unwrap_or(99) <= 5,
        "{}",
        out.text
    );
    // The classic bomb: its processes die with the call, which ends at once or at its timeout.
    let started = std::time::Instant::now();
    s.sh_for(":(){ :|:& };:", 5000);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    s.still_works();
    let out = s.sh(LIVE);
    assert!(
        out.text.trim().parse::<u32>().unwrap_or(99) <= 5,
        "{}",
        out.text
    );
}

/// Break it: drop the `ulimit -v` of the first line and the allocation succeeds.
#[test]
fn a_memory_hog_fails_to_allocate_past_the_cap() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits {
        memory_mb: 128,
        ..SandboxLimits::default()
    });
    let out = s.sh("python3 -c 'x = bytearray(400 * 1024 * 1024); print(\"allocated\")'");
    assert!(out.is_error, "{out:?}");
    assert!(
        out.text.contains("MemoryError") && !out.text.contains("allocated"),
        "{}",
        out.text
    );
    let out = s.sh("python3 -c 'x = bytearray(16 * 1024 * 1024); print(\"allocated\")'");
    assert_eq!(out.text, "allocated\n", "{out:?}");
    s.still_works();
}

/// Break it: remove `--remount-ro /` and the writes outside `/tmp` and the mounts succeed.
#[test]
fn writes_outside_tmp_and_the_mounts_are_refused_and_the_mount_itself_stays() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits::default());
    s.seed("/a.md", "a\n");
    for target in [
        "/x",
        "/root/x",
        "/usr/x",
        "/mnt/memory/x",
        "/run/cma/x",
        "/dev/x",
    ] {
        let out = s.sh(&format!("echo pwned > {target}"));
        assert!(out.is_error, "{target}: {out:?}");
        assert!(
            out.text.contains("Read-only file system")
                || out.text.contains("No such file or directory"),
            "{target}: {}",
            out.text
        );
    }
    // $HOME is the scratch /tmp; the working directory is /mnt/memory (read-only).
    let out = s.sh("echo ok > $HOME/x && cat $HOME/x; pwd; touch ./y");
    assert!(
        out.text.starts_with("ok\n/mnt/memory\n") && out.text.contains("Read-only file system"),
        "{}",
        out.text
    );
    // Removing the mount removes what is in it (the session may delete its memories), never the
    // mount: the next call has it again.
    let out = s.sh("rm -rf /mnt/memory/prefs");
    assert!(out.is_error, "{out:?}");
    assert!(s.memories().is_empty());
    s.seed("/b.md", "b\n");
    let out = s.sh("cat /mnt/memory/prefs/b.md");
    assert_eq!(out.text, "b\n", "{out:?}");
}

/// Break it: follow links in `scan` (`metadata` for `symlink_metadata`) and a host file becomes
/// a memory.
#[test]
fn links_to_host_files_are_never_followed_by_the_emulator() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup(SandboxLimits::default());
    let host_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(host_file.path(), "HOST-ONLY-CONTENT\n").unwrap();
    let host_path = host_file.path().display().to_string();
    let out = s.sh(&format!(
        "ln -s {host_path} /mnt/memory/prefs/link.md; ln -s / /mnt/memory/prefs/root; \
         ln /usr/bin/env /mnt/memory/prefs/hard.md"
    ));
    assert!(out.is_error, "{out:?}");
    assert!(
        out.text.contains("link.md: a symbolic link")
            && out.text.contains("Invalid cross-device link"),
        "{}",
        out.text
    );
    assert!(s.memories().is_empty(), "{:?}", s.memories());
    // The store writes a file under the planted link's name: it lands in the mount, not on the
    // host.
    s.seed("/root/new.md", "inside\n");
    let out = s.sh("cat /mnt/memory/prefs/root/new.md; test -L /mnt/memory/prefs/root || echo dir");
    assert_eq!(out.text, "inside\ndir\n", "{out:?}");
    assert_eq!(
        std::fs::read_to_string(host_file.path()).unwrap(),
        "HOST-ONLY-CONTENT\n"
    );
    assert!(!std::path::Path::new("/new.md").exists());
    s.still_works();
}

/// Break it: drop `--unshare-all` and the connection to the host's listener succeeds.
#[test]
fn the_network_is_unreachable_tcp_to_a_host_port_and_dns_alike() {
    if !bwrap_or_skip() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = setup(SandboxLimits::default());
    let out = s.sh(&format!(
        "(echo GET / > /dev/tcp/127.0.0.1/{port}) && echo CONNECTED; getent hosts example.com || echo NO-DNS"
    ));
    assert!(
        !out.text.contains("CONNECTED") && out.text.contains("NO-DNS"),
        "{}",
        out.text
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "nothing reached the host's port"
    );
    s.still_works();
}
