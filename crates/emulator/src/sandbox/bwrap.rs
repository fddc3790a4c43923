//! The agent's `bash` as a real shell: one persistent bash inside bubblewrap (`bwrap`) with no
//! network, no capabilities, an unprivileged user (uid 65534) in a user namespace that cannot make
//! another, a clean environment, only `/usr`, `/lib*` and `/bin` (read-only) from the host, and
//! each mounted store materialised in a directory bound at its `/mnt/memory/<slug>` (read-only
//! for `read_only` mounts). A session's mounted files (`file` resources) are written once and
//! bound read-only at their mount paths.
//!
//! Before each call the directories are refreshed from the store; after it, changed files are
//! written back through [`Fs`] as memory versions by the session (created, modified, deleted).
//! A file that is not UTF-8 or is larger than a memory may be is refused with an error result and
//! never stored in part. Anything written outside the mounts lives in the sandbox's own tmpfs and
//! is never stored.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use cma_types::Access;
use serde_json::Value;

use super::ToolOutput;
use super::files::{err, ok};
use super::fs::{FileMount, Fs, FsMount, Loc};
use crate::store::memory::MAX_CONTENT_BYTES;

/// The SDK's `BASH_OUTPUT_LIMIT`: output past this many bytes is dropped (and said so).
pub const OUTPUT_LIMIT: usize = 100 * 1024;
/// The SDK's `BASH_DEFAULT_TIMEOUT`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// `timeout_ms` is capped here, so a model cannot park a turn for hours.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The uid and gid the shell runs as inside its user namespace (`nobody`): not root, so nothing
/// of root's reaches it, and still the owner of its mounts, which the namespace maps to the
/// host user that runs `cma`.
const SANDBOX_ID: &str = "65534";
/// The only variable bwrap itself is started with. Pid 1 inside the sandbox is bwrap's own
/// process, whose `/proc/1/environ` the shell can read, and `--clearenv` cleans only the child.
const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// `bwrap` by absolute path, found once in the host's `PATH` (the command itself starts with an
/// empty environment, so it cannot look it up).
fn bwrap_path() -> Option<&'static Path> {
    static BWRAP: OnceLock<Option<PathBuf>> = OnceLock::new();
    BWRAP
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("bwrap"))
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// A `bwrap` command holding nothing of the host's environment.
fn bwrap_command() -> std::io::Result<Command> {
    let path = bwrap_path().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "bwrap is not installed")
    })?;
    let mut cmd = Command::new(path);
    cmd.env_clear().env("PATH", SANDBOX_PATH).args(base_args());
    Ok(cmd)
}

/// Whether bubblewrap is installed and can build a sandbox here (checked once).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let Ok(mut cmd) = bwrap_command() else {
            tracing::info!("bwrap is not installed: the emulated shell runs bash");
            return false;
        };
        let ok = cmd
            .arg("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            tracing::info!("bwrap is missing or cannot sandbox here: the emulated shell runs bash");
        }
        ok
    })
}

/// The sandbox without its mounts: namespaces, a clean environment, the read-only system dirs.
fn base_args() -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-all",
        // A user namespace of its own (not just tried), in which the shell is `nobody` with no
        // capabilities and cannot create another namespace to regain them.
        "--unshare-user",
        "--disable-userns",
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        SANDBOX_PATH,
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "TERM",
        "dumb",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .to_vec();
    // Merged-/usr systems have these as symlinks into /usr; others as directories.
    for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        let p = Path::new(dir);
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(p) {
                    a.extend([
                        "--symlink".into(),
                        target.display().to_string(),
                        dir.to_string(),
                    ]);
                }
            }
            Ok(m) if m.is_dir() => a.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            _ => {}
        }
    }
    a
}

/// The running bash: its stdin, and its merged output as chunks from a reader thread.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    output: Receiver<Vec<u8>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One mount's directory on the host and what was last materialised there.
struct MountDir {
    host: PathBuf,
    read_only: bool,
    /// Memory path (`/a/b.md`) to content, as the store had it before the call.
    synced: BTreeMap<String, String>,
}

/// The real shell of one session's turns.
pub struct BwrapShell {
    root: tempfile::TempDir,
    mounts: Vec<MountDir>,
    binds: Vec<(PathBuf, String, bool)>,
    /// The mounted files this shell was built for, and the host copies of those that exist.
    file_mounts: Vec<FileMount>,
    file_binds: Vec<(PathBuf, String)>,
    proc: Option<Proc>,
    calls: u64,
}

impl BwrapShell {
    pub fn new(mounts: &[FsMount]) -> std::io::Result<Self> {
        let root = tempfile::Builder::new().prefix("cma-bwrap-").tempdir()?;
        // The control directory the shell reads each command from.
        std::fs::create_dir(root.path().join("ctl"))?;
        let mut dirs = Vec::new();
        let mut binds = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            let host = root.path().join(format!("m{i}"));
            std::fs::create_dir(&host)?;
            let read_only = m.access == Access::ReadOnly;
            binds.push((host.clone(), m.path.clone(), read_only));
            dirs.push(MountDir {
                host,
                read_only,
                synced: BTreeMap::new(),
            });
        }
        Ok(Self {
            root,
            mounts: dirs,
            binds,
            file_mounts: Vec::new(),
            file_binds: Vec::new(),
            proc: None,
            calls: 0,
        })
    }

    /// A shell for `fs`: its memory mounts, and its mounted files copied out once (uploads
    /// never change; a deleted one is left out).
    pub fn for_fs(fs: &Fs) -> std::io::Result<Self> {
        let mut shell = Self::new(fs.mounts())?;
        shell.file_mounts = fs.files().to_vec();
        for (i, f) in fs.files().iter().enumerate() {
            let Some(bytes) = fs.file_bytes(i) else {
                continue;
            };
            let host = shell.root.path().join(format!("f{i}"));
            std::fs::write(&host, &bytes)?;
            shell.file_binds.push((host, f.path.clone()));
        }
        Ok(shell)
    }

    /// Whether this shell was built for exactly these mounts and files.
    pub fn serves(&self, mounts: &[FsMount], files: &[FileMount]) -> bool {
        self.file_mounts == files
            && self.binds.len() == mounts.len()
            && self
                .binds
                .iter()
                .zip(mounts)
                .all(|((_, path, ro), m)| *path == m.path && *ro == (m.access == Access::ReadOnly))
    }

    fn start(&self) -> std::io::Result<Proc> {
        let mut cmd = bwrap_command()?;
        cmd.arg("--ro-bind")
            .arg(self.root.path().join("ctl"))
            .args(["/run/cma", "--dir", "/mnt/memory"]);
        for (host, path, read_only) in &self.binds {
            cmd.arg(if *read_only { "--ro-bind" } else { "--bind" })
                .arg(host)
                .arg(path);
        }
        for (host, path) in &self.file_binds {
            cmd.arg("--ro-bind").arg(host).arg(path);
        }
        cmd.args([
            "--chdir",
            "/mnt/memory",
            "/bin/bash",
            "--noprofile",
            "--norc",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = cmd.spawn()?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(std::io::Error::other("bwrap started without pipes"));
        };
        // Everything the shell prints, errors included, comes through stdout.
        stdin.write_all(b"exec 2>&1\n")?;
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
        Ok(Proc {
            child,
            stdin,
            output: rx,
        })
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
        if let Err(e) = self.refresh(fs) {
            return err(format!("Error: could not prepare the memory mounts: {e}"));
        }
        let run = self.run(command, timeout);
        let problems = self.write_back(fs);
        let (mut text, mut is_error) = match run {
            Ok((text, status)) => (text, status != 0),
            Err(text) => (text, true),
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
    /// timed out or the shell died (the shell is then restarted by the next call).
    fn run(&mut self, command: &str, timeout: Duration) -> Result<(String, i32), String> {
        if self.proc.is_none() {
            match self.start() {
                Ok(p) => self.proc = Some(p),
                Err(e) => return Err(format!("Error: could not start the sandboxed shell: {e}")),
            }
        }
        self.calls += 1;
        let nonce = format!("__CMA_DONE_{}_{}__", std::process::id(), self.calls);
        if let Err(e) = std::fs::write(self.root.path().join("ctl").join("cmd.sh"), command) {
            return Err(format!(
                "Error: could not hand the command to the shell: {e}"
            ));
        }
        let Some(proc) = self.proc.as_mut() else {
            return Err("Error: the shell is not running".into());
        };
        // The command is sourced from a file the sandbox can read, so a syntax error in it is an
        // error of that command only, and its stdin is /dev/null so it cannot eat the next line.
        let line =
            format!("{{ . /run/cma/cmd.sh; }} </dev/null 2>&1; printf '\\n{nonce}%d\\n' \"$?\"\n");
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
        // The marker may straddle chunks and the cap: keep a tail to find it in.
        let mut tail: Vec<u8> = Vec::new();
        let marker = nonce.as_bytes();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match proc.output.recv_timeout(left) {
                Ok(chunk) => {
                    tail.extend_from_slice(&chunk);
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
                Err(RecvTimeoutError::Timeout) => {
                    append_capped(&mut kept, &mut dropped, &tail);
                    self.proc = None;
                    let mut text = render(&kept, dropped);
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&format!(
                        "Error: the command timed out after {} ms; the shell was restarted",
                        timeout.as_millis()
                    ));
                    return Err(text);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    append_capped(&mut kept, &mut dropped, &tail);
                    self.proc = None;
                    let mut text = render(&kept, dropped);
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str("The shell exited; a new one starts with the next command.");
                    return Err(text);
                }
            }
        }
    }

    /// Makes each mount's directory hold exactly the store's current files.
    fn refresh(&mut self, fs: &Fs) -> std::io::Result<()> {
        let mount_paths: Vec<String> = fs.mounts().iter().map(|m| m.path.clone()).collect();
        for (i, dir) in self.mounts.iter_mut().enumerate() {
            let prefix = &mount_paths[i];
            let want: BTreeMap<String, String> = fs
                .walk(&Loc::Mount {
                    mount: i,
                    rel: String::new(),
                })
                .into_iter()
                .filter_map(|e| {
                    e.full_path
                        .strip_prefix(prefix.as_str())
                        .map(|rel| (rel.to_string(), e.content))
                })
                .collect();
            let have = scan(&dir.host);
            for rel in have.keys() {
                if !want.contains_key(rel) {
                    let _ = std::fs::remove_file(dir.host.join(rel.trim_start_matches('/')));
                }
            }
            for (rel, content) in &want {
                let path = dir.host.join(rel.trim_start_matches('/'));
                if have
                    .get(rel)
                    .and_then(|f| f.as_ref().ok())
                    .map(Vec::as_slice)
                    != Some(content.as_bytes())
                {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&path, content)?;
                }
            }
            dir.synced = want;
        }
        Ok(())
    }

    /// Stores what the command changed in the read-write mounts; the problems, one per line.
    fn write_back(&mut self, fs: &Fs) -> Vec<String> {
        let mut problems = Vec::new();
        let mount_paths: Vec<String> = fs.mounts().iter().map(|m| m.path.clone()).collect();
        for (i, dir) in self.mounts.iter().enumerate() {
            if dir.read_only {
                continue;
            }
            let have = scan(&dir.host);
            let shown = |rel: &str| format!("{}{rel}", mount_paths[i]);
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

/// Every file under `dir` by memory path (`/a/b.md`): its bytes, or why it cannot be stored.
fn scan(dir: &Path) -> BTreeMap<String, Result<Vec<u8>, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            let rel = format!("/{}", rel.display());
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() => {
                    // Read one byte past the limit at most: an oversized file is never loaded whole.
                    let read = std::fs::File::open(&path).and_then(|f| {
                        let mut buf = Vec::new();
                        f.take(MAX_CONTENT_BYTES as u64 + 1).read_to_end(&mut buf)?;
                        Ok(buf)
                    });
                    let size = m.len() as usize;
                    out.insert(
                        rel,
                        match read {
                            Ok(_) if size > MAX_CONTENT_BYTES => Err(format!(
                                "{size} bytes is more than a memory may hold ({MAX_CONTENT_BYTES})"
                            )),
                            Ok(b) => Ok(b),
                            Err(e) => Err(e.to_string()),
                        },
                    );
                }
                Ok(m) if m.file_type().is_symlink() => {
                    out.insert(
                        rel,
                        Err("a symbolic link (memories are plain files)".into()),
                    );
                }
                _ => {
                    out.insert(rel, Err("not a regular file".into()));
                }
            }
        }
    }
    out
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
