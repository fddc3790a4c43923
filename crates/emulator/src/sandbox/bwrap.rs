//! The agent's `bash` as a real shell: one persistent bash inside bubblewrap (`bwrap`) with no
//! network, no capabilities, an unprivileged user (uid 65534) in a user namespace that cannot make
//! another, a clean environment, only `/usr`, `/lib*` and `/bin` (read-only) from the host, a
//! read-only root, and each mounted store materialised at its `/mnt/memory/<slug>`: a read-write
//! mount is a directory of the session's one size-capped tmpfs (which `/tmp` is too, see
//! [`super::launch`]), a `read_only` one a read-only bind of a host directory. A session's mounted
//! files (`file` resources) are written once and bound read-only at their mount paths. The caps
//! (disk, processes, memory) are [`SandboxLimits`]; the host ends every process but the shell at
//! the end of each call ([`super::procs`]).
//!
//! Before each call the mounts are refreshed from the store; after it, changed files are written
//! back through [`Fs`] as memory versions by the session (created, modified, deleted). A file that
//! is not UTF-8 or is larger than a memory may be is refused with an error result and never
//! stored in part; nor is anything of a call that timed out or ended the shell. Anything written
//! outside the mounts lives in the sandbox's `/tmp` and is never stored.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use cma_types::Access;
use serde_json::Value;

use super::ToolOutput;
use super::files::{err, ok};
use super::fs::{FileMount, Fs, FsMount, Loc};
pub use super::launch::available;
use super::launch::{DISK, shell_command};
use super::limits::{self, SandboxLimits, no_links_between, own};
use super::procs::{self, SandboxPids};
use super::sync::{Staging, scan, sync_host_dir};
use crate::store::memory::MAX_CONTENT_BYTES;

/// The SDK's `BASH_OUTPUT_LIMIT`: output past this many bytes is dropped (and said so).
pub const OUTPUT_LIMIT: usize = 100 * 1024;
/// The SDK's `BASH_DEFAULT_TIMEOUT`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// `timeout_ms` is capped here, so a model cannot park a turn for hours.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The running bash: its stdin, its merged output as chunks from a reader thread, and the
/// sandbox's root as the host reaches it.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    output: Receiver<Vec<u8>>,
    /// `/proc/<pid>/root` of the outer layer's first process: the session's disk is there.
    root: PathBuf,
    /// The sandbox's processes, which the host ends after each call.
    pids: Option<SandboxPids>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One memory mount and what was last materialised there.
struct MountDir {
    /// `/mnt/memory/<slug>`.
    path: String,
    read_only: bool,
    /// The host directory bound read-only at `path`; `None` for a read-write mount, a directory
    /// of the session's disk inside the sandbox.
    host: Option<PathBuf>,
    /// Memory path (`/a/b.md`) to content, as the store had it before the call.
    synced: BTreeMap<String, String>,
}

/// How long a new sandbox may take to answer its first line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The real shell of one session's turns.
pub struct BwrapShell {
    root: tempfile::TempDir,
    mounts: Vec<MountDir>,
    /// The mounted files this shell was built for, and the host copies of those that exist.
    file_mounts: Vec<FileMount>,
    file_binds: Vec<(PathBuf, String)>,
    proc: Option<Proc>,
    calls: u64,
    limits: SandboxLimits,
    /// Who owns what the emulator writes for the sandbox (see [`limits::host_owner`]).
    owner: Option<(u32, u32)>,
}

impl BwrapShell {
    #[cfg(test)]
    pub fn new(mounts: &[FsMount]) -> std::io::Result<Self> {
        Self::with_limits(mounts, SandboxLimits::default())
    }

    pub fn with_limits(mounts: &[FsMount], limits: SandboxLimits) -> std::io::Result<Self> {
        let owner = limits::host_owner();
        let root = tempfile::Builder::new().prefix("cma-bwrap-").tempdir()?;
        own(root.path(), owner)?;
        // The control directory the shell reads each command from.
        let ctl = root.path().join("ctl");
        std::fs::create_dir(&ctl)?;
        own(&ctl, owner)?;
        let mut dirs = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            let read_only = m.access == Access::ReadOnly;
            let host = if read_only {
                let host = root.path().join(format!("m{i}"));
                std::fs::create_dir(&host)?;
                own(&host, owner)?;
                Some(host)
            } else {
                None
            };
            dirs.push(MountDir {
                path: m.path.clone(),
                read_only,
                host,
                synced: BTreeMap::new(),
            });
        }
        Ok(Self {
            root,
            mounts: dirs,
            file_mounts: Vec::new(),
            file_binds: Vec::new(),
            proc: None,
            calls: 0,
            limits,
            owner,
        })
    }

    /// A shell for `fs`: its memory mounts, and its mounted files copied out once (uploads
    /// never change; a deleted one is left out).
    pub fn for_fs(fs: &Fs, limits: SandboxLimits) -> std::io::Result<Self> {
        let mut shell = Self::with_limits(fs.mounts(), limits)?;
        shell.file_mounts = fs.files().to_vec();
        for (i, f) in fs.files().iter().enumerate() {
            let Some(bytes) = fs.file_bytes(i) else {
                continue;
            };
            let host = shell.root.path().join(format!("f{i}"));
            std::fs::write(&host, &bytes)?;
            own(&host, shell.owner)?;
            shell.file_binds.push((host, f.path.clone()));
        }
        Ok(shell)
    }

    /// Whether this shell was built for exactly these mounts, files and caps.
    pub fn serves(&self, mounts: &[FsMount], files: &[FileMount], limits: SandboxLimits) -> bool {
        self.file_mounts == files
            && self.limits == limits
            && self.mounts.len() == mounts.len()
            && self
                .mounts
                .iter()
                .zip(mounts)
                .all(|(d, m)| d.path == m.path && d.read_only == (m.access == Access::ReadOnly))
    }

    /// The host directory holding this shell's control files and read-only mounts.
    #[cfg(test)]
    pub fn host_dir(&self) -> &std::path::Path {
        self.root.path()
    }

    /// Whether a bash is running in this shell's sandbox (a shell whose sandbox ended is
    /// started again by its next call).
    pub fn is_running(&mut self) -> bool {
        self.proc
            .as_mut()
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    fn start(&self) -> std::io::Result<Proc> {
        // Each read-write mount is `m<i>` on the session's disk, each read-only one (and each
        // mounted file) is named so in the shell's host directory.
        let mut writable = Vec::new();
        let mut read_only = Vec::new();
        for (i, m) in self.mounts.iter().enumerate() {
            match &m.host {
                Some(_) => read_only.push((format!("m{i}"), m.path.as_str())),
                None => writable.push((format!("m{i}"), m.path.as_str())),
            }
        }
        for (host, path) in &self.file_binds {
            let name = host.file_name().unwrap_or_default().to_string_lossy();
            read_only.push((name.into_owned(), path.as_str()));
        }
        let mut cmd = shell_command(
            self.root.path(),
            &self.limits.disk_bytes(),
            &writable,
            &read_only,
        )?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = limits::spawn_from_lasting_thread(cmd)?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(std::io::Error::other("bwrap started without pipes"));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("bwrap-output".into())
            .spawn(move || {
                let mut buf = vec![0u8; 8192];
                loop {
                    match stdout.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if tx.send(buf[..n].to_vec()).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        let bwrap_pid = child.id();
        let mut proc = Proc {
            child,
            stdin,
            output: rx,
            root: PathBuf::new(),
            pids: None,
        };
        // Everything the shell prints, errors included, comes through stdout; its caps are set
        // before anything else runs; and its answer says the sandbox is up.
        let ready = format!("__CMA_READY_{}__", std::process::id());
        let first = format!(
            "exec 2>&1\n{}printf '%s\\n' {ready}\n",
            self.limits.ulimit_line()
        );
        proc.stdin.write_all(first.as_bytes())?;
        proc.stdin.flush()?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut seen = Vec::new();
        while find(&seen, ready.as_bytes()).is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match proc.output.recv_timeout(left) {
                Ok(chunk) => seen.extend_from_slice(&chunk),
                Err(_) => {
                    return Err(std::io::Error::other(format!(
                        "the sandbox did not start: {}",
                        String::from_utf8_lossy(&seen).trim()
                    )));
                }
            }
        }
        let pids = procs::find(bwrap_pid)
            .ok_or_else(|| std::io::Error::other("the sandbox's processes are not visible"))?;
        proc.root = PathBuf::from(format!("/proc/{}/root", pids.outer_init));
        proc.pids = Some(pids);
        Ok(proc)
    }

    /// Where the host reaches mount `i`: its read-only bind's directory, or its tmpfs inside the
    /// running sandbox.
    fn dir_of(&self, i: usize) -> Option<PathBuf> {
        let m = self.mounts.get(i)?;
        match &m.host {
            Some(host) => Some(host.clone()),
            None => self.proc.as_ref().map(|p| {
                p.root
                    .join(format!("{}/m{i}", DISK.trim_start_matches('/')))
            }),
        }
    }

    /// Runs the `bash` tool with `input` (`command`, `restart`, `timeout_ms`).
    pub fn call(&mut self, fs: &Fs, input: &Value) -> ToolOutput {
        if input.get("restart").and_then(Value::as_bool) == Some(true) {
            self.proc = None;
            return ok("The bash tool has been restarted.");
        }
        let Some(command) = input.get("command").and_then(Value::as_str) else {
            return err(
                "InputValidationError: required parameter `command` is missing or not a string",
            );
        };
        let timeout = input
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
            .min(MAX_TIMEOUT);
        if !self.is_running() {
            self.proc = None;
            match self.start() {
                Ok(p) => self.proc = Some(p),
                Err(e) => return err(format!("Error: could not start the sandboxed shell: {e}")),
            }
        }
        if let Err(e) = self.refresh(fs) {
            return err(format!("Error: could not prepare the memory mounts: {e}"));
        }
        let (mut text, mut is_error, problems) = match self.run(command, timeout) {
            Ok((text, status)) => (text, status != 0, self.write_back(fs)),
            // The sandbox is gone with whatever the command was writing: nothing of it is stored.
            Err(mut text) => {
                if self.mounts.iter().any(|m| !m.read_only) {
                    text.push_str(
                        "\nNothing this command changed in the memory mounts was stored.",
                    );
                }
                (text, true, Vec::new())
            }
        };
        if !problems.is_empty() {
            is_error = true;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&problems.join("\n"));
        }
        ToolOutput { is_error, text }
    }

    /// Runs `command` in the persistent shell: `Ok((output, status))`, or `Err(output)` when it
    /// timed out or the shell died (the shell is then restarted by the next call). Every other
    /// process of the sandbox is killed when the command ends.
    fn run(&mut self, command: &str, timeout: Duration) -> Result<(String, i32), String> {
        let ran = self.run_in_shell(command, timeout);
        // Every process of the sandbox but the shell ends with the call, ended by the host (see
        // [`procs`]); a sandbox where some outlive the bound is ended whole.
        if ran.is_ok()
            && let Some(proc) = &self.proc
            && !proc
                .pids
                .as_ref()
                .is_some_and(SandboxPids::end_all_but_shell)
        {
            tracing::warn!(
                "a sandbox's processes outlived the end of a call: the sandbox is ended"
            );
            self.proc = None;
        }
        ran
    }

    /// Sends `command` to the shell and reads its output and status.
    fn run_in_shell(&mut self, command: &str, timeout: Duration) -> Result<(String, i32), String> {
        self.calls += 1;
        let nonce = format!("__CMA_DONE_{}_{}__", std::process::id(), self.calls);
        let start = format!("__CMA_START_{}_{}__\n", std::process::id(), self.calls);
        let cmd_file = self.root.path().join("ctl").join("cmd.sh");
        if let Err(e) = std::fs::write(&cmd_file, command).and_then(|()| own(&cmd_file, self.owner))
        {
            return Err(format!(
                "Error: could not hand the command to the shell: {e}"
            ));
        }
        let Some(proc) = self.proc.as_mut() else {
            return Err("Error: the shell is not running".into());
        };
        // The command is sourced from a file the sandbox can read, so a syntax error in it is an
        // error of that command only, and its stdin is /dev/null so it cannot eat the next line.
        // The shell's background jobs are disowned before the host kills them, so no job notice
        // reaches the next call; what comes before the start marker (what a process printed
        // before the host ended it) belongs to no call and is dropped.
        let line = format!(
            "printf '%s\\n' {start_word}; {{ . /run/cma/cmd.sh; }} </dev/null 2>&1; __cma_status=$?; disown -a 2>/dev/null; printf '\\n{nonce}%d\\n' \"$__cma_status\"\n",
            start_word = start.trim_end(),
        );
        if proc
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| proc.stdin.flush())
            .is_err()
        {
            self.proc = None;
            return Err("Error: the shell exited; it is restarted on the next call".into());
        }
        let deadline = Instant::now() + timeout;
        let mut kept: Vec<u8> = Vec::new();
        let mut dropped = 0usize;
        // The markers may straddle chunks and the cap: keep a tail to find them in.
        let mut tail: Vec<u8> = Vec::new();
        let mut started = false;
        let marker = nonce.as_bytes();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match proc.output.recv_timeout(left) {
                Ok(chunk) => {
                    tail.extend_from_slice(&chunk);
                    if !started {
                        match find(&tail, start.as_bytes()) {
                            Some(at) => {
                                tail.drain(..at + start.len());
                                started = true;
                            }
                            None => {
                                let keep_from = tail.len().saturating_sub(start.len());
                                tail.drain(..keep_from);
                                continue;
                            }
                        }
                    }
                    if let Some(at) = find(&tail, marker) {
                        let after = &tail[at + marker.len()..];
                        if let Some(nl) = after.iter().position(|b| *b == b'\n') {
                            let status = String::from_utf8_lossy(&after[..nl])
                                .trim()
                                .parse()
                                .unwrap_or(1);
                            let body = tail[..at].to_vec();
                            append_capped(&mut kept, &mut dropped, &body);
                            // printf's leading newline is ours, not the command's.
                            if kept.last() == Some(&b'\n') {
                                kept.pop();
                            }
                            return Ok((render(&kept, dropped), status));
                        }
                        continue;
                    }
                    // Keep only what cannot be the start of the marker in the tail.
                    let keep_from = tail.len().saturating_sub(marker.len() + 16);
                    let flushed: Vec<u8> = tail.drain(..keep_from).collect();
                    append_capped(&mut kept, &mut dropped, &flushed);
                }
                Err(e) => {
                    if started {
                        append_capped(&mut kept, &mut dropped, &tail);
                    }
                    self.proc = None;
                    let mut text = render(&kept, dropped);
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&match e {
                        RecvTimeoutError::Timeout => format!(
                            "Error: the command timed out after {} ms; the shell was restarted",
                            timeout.as_millis()
                        ),
                        RecvTimeoutError::Disconnected => {
                            "The shell exited; a new one starts with the next command.".into()
                        }
                    });
                    return Err(text);
                }
            }
        }
    }

    /// Makes each mount hold exactly the store's current files.
    fn refresh(&mut self, fs: &Fs) -> std::io::Result<()> {
        let ctl = self.root.path().join("ctl");
        let mut staging = Staging::new(&ctl, self.owner)?;
        for i in 0..self.mounts.len() {
            let Some(host) = self.dir_of(i) else {
                return Err(std::io::Error::other("the shell is not running"));
            };
            let dir = &self.mounts[i];
            let prefix = dir.path.as_str();
            let want: BTreeMap<String, String> = fs
                .walk(&Loc::Mount {
                    mount: i,
                    rel: String::new(),
                })
                .into_iter()
                .filter_map(|e| {
                    e.full_path
                        .strip_prefix(prefix)
                        .map(|rel| (rel.to_string(), e.content))
                })
                .collect();
            if dir.read_only {
                sync_host_dir(&host, &want)?;
            } else {
                if !no_links_between(&host, &host) {
                    return Err(std::io::Error::other(format!(
                        "{prefix} is not a directory"
                    )));
                }
                let have = scan(&host);
                for rel in have.keys() {
                    if !want.contains_key(rel) {
                        staging.remove(&format!("{prefix}{rel}"));
                    }
                }
                for (rel, content) in &want {
                    let same = have
                        .get(rel)
                        .and_then(|f| f.as_ref().ok())
                        .map(Vec::as_slice)
                        == Some(content.as_bytes());
                    if !same {
                        staging.write(&format!("{prefix}{rel}"), content.as_bytes())?;
                    }
                }
            }
            self.mounts[i].synced = want;
        }
        let Some(sync) = staging.finish(&ctl)? else {
            return Ok(());
        };
        match self.run(&sync, START_TIMEOUT) {
            Ok((_, 0)) => Ok(()),
            Ok((out, _)) | Err(out) => Err(std::io::Error::other(out.trim().to_string())),
        }
    }

    /// Stores what the command changed in the read-write mounts; the problems, one per line.
    fn write_back(&mut self, fs: &Fs) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, dir) in self.mounts.iter().enumerate() {
            if dir.read_only {
                continue;
            }
            let shown = |rel: &str| format!("{}{rel}", dir.path);
            let Some(host) = self.dir_of(i).filter(|h| no_links_between(h, h)) else {
                problems.push(format!(
                    "Error: {} could not be read back; nothing of it was stored",
                    dir.path
                ));
                continue;
            };
            let have = scan(&host);
            for (rel, file) in &have {
                let bytes = match file {
                    Ok(b) => b,
                    Err(why) => {
                        problems.push(format!("Error: {}: {why}; not stored", shown(rel)));
                        continue;
                    }
                };
                if dir.synced.get(rel).map(String::as_bytes) == Some(bytes.as_slice()) {
                    continue;
                }
                if bytes.len() > MAX_CONTENT_BYTES {
                    problems.push(format!(
                        "Error: {}: {} bytes is more than a memory may hold ({MAX_CONTENT_BYTES}); not stored",
                        shown(rel),
                        bytes.len()
                    ));
                    continue;
                }
                let Ok(text) = std::str::from_utf8(bytes) else {
                    problems.push(format!("Error: {}: not UTF-8 text; not stored", shown(rel)));
                    continue;
                };
                let loc = Loc::Mount {
                    mount: i,
                    rel: rel.clone(),
                };
                if let Err(e) = fs.write(&loc, text) {
                    problems.push(format!("Error: {}: {e}; not stored", shown(rel)));
                }
            }
            for rel in dir.synced.keys() {
                if !have.contains_key(rel) {
                    let loc = Loc::Mount {
                        mount: i,
                        rel: rel.clone(),
                    };
                    if let Err(e) = fs.remove_file(&loc) {
                        problems.push(format!("Error: could not delete {}: {e}", shown(rel)));
                    }
                }
            }
        }
        problems
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn append_capped(kept: &mut Vec<u8>, dropped: &mut usize, bytes: &[u8]) {
    let room = OUTPUT_LIMIT.saturating_sub(kept.len());
    let take = room.min(bytes.len());
    kept.extend_from_slice(&bytes[..take]);
    *dropped += bytes.len() - take;
}

fn render(kept: &[u8], dropped: usize) -> String {
    let mut s = String::from_utf8_lossy(kept).into_owned();
    if dropped > 0 {
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&format!("[output truncated: {dropped} more bytes]"));
    }
    s
}

#[cfg(test)]
#[path = "bwrap_tests.rs"]
mod tests;
