//! How bubblewrap is started: found once by absolute path, with an empty environment, as the
//! host's `nobody` when `cma` is root, in two layers. The outer sandbox holds the session's
//! disk, one size-capped tmpfs, and nothing else writable; the inner one, where the shell runs,
//! binds directories of that tmpfs at `/tmp` and at each read-write mount, so all of them draw on
//! one budget (bwrap binds only paths it can see, and a tmpfs of its own is not one until a
//! sandbox holds it). [`super::bwrap`] adds the mounts and the shell.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::limits;

/// The uid and gid the shell runs as inside its user namespace (`nobody`): not root, so nothing
/// of root's reaches it, and still the owner of its mounts, which the namespace maps to the
/// host user that runs `cma`.
const SANDBOX_ID: &str = "65534";
/// The only variable bwrap itself is started with. Pid 1 inside the sandbox is bwrap's own
/// process, whose `/proc/1/environ` the shell can read, and `--clearenv` cleans only the child.
pub(super) const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// The session's disk in the outer sandbox: the one tmpfs of `--sandbox-disk-mb`.
pub(super) const DISK: &str = "/run/cma-disk";
/// The host directory of the shell (control files, copies of read-only mounts and mounted
/// files) as the outer sandbox shows it, read-only.
const HOST_DIR: &str = "/run/cma-host";
/// Where the outer sandbox holds the `bwrap` binary that builds the inner one.
const INNER_BWRAP: &str = "/run/cma-bwrap";

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

/// The sandbox up to the inner layer's mounts: an outer layer with a disk of `disk_bytes`
/// holding `disk_dirs` (names under [`DISK`]) and `host_dir` at [`HOST_DIR`], and the inner
/// one's namespaces and system directories. Nothing of the host's environment is in either.
fn sandbox_command(
    host_dir: &Path,
    disk_bytes: &str,
    disk_dirs: &[String],
) -> std::io::Result<Command> {
    let path = bwrap_path().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "bwrap is not installed")
    })?;
    let mut cmd = Command::new(path);
    cmd.env_clear().env("PATH", SANDBOX_PATH);
    if let Some((uid, gid)) = limits::host_owner() {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
    // The outer layer may make a user namespace (the inner bwrap does); the inner one may not.
    cmd.args(namespace_args(false)).args(system_args());
    cmd.arg("--ro-bind").arg(path).arg(INNER_BWRAP);
    cmd.arg("--ro-bind").arg(host_dir).arg(HOST_DIR);
    cmd.args(["--size", disk_bytes, "--tmpfs", DISK]);
    for dir in disk_dirs {
        cmd.args(["--dir", &format!("{DISK}/{dir}")]);
    }
    // The inner bwrap mounts its own scratch root on /tmp.
    cmd.args(["--dir", "/tmp", "--remount-ro", "/", INNER_BWRAP]);
    cmd.args(namespace_args(true)).args(system_args());
    Ok(cmd)
}

/// The session's shell in its sandbox: `host_dir`'s `ctl` at `/run/cma`, `/tmp` and each of
/// `writable` (`(name, path)`) a directory of the session's disk, each of `read_only` (`(name,
/// path)`) a read-only bind of `host_dir/<name>`, on a read-only root; then `bash`, in
/// `/mnt/memory`.
pub(super) fn shell_command(
    host_dir: &Path,
    disk_bytes: &str,
    writable: &[(String, &str)],
    read_only: &[(String, &str)],
) -> std::io::Result<Command> {
    let disk_dirs: Vec<String> = std::iter::once("tmp".to_string())
        .chain(writable.iter().map(|(name, _)| name.clone()))
        .collect();
    let mut cmd = sandbox_command(host_dir, disk_bytes, &disk_dirs)?;
    cmd.args(["--ro-bind", &format!("{HOST_DIR}/ctl"), "/run/cma"]);
    cmd.args([
        "--bind",
        &format!("{DISK}/tmp"),
        "/tmp",
        "--dir",
        "/mnt/memory",
    ]);
    for (name, path) in writable {
        cmd.args(["--bind", &format!("{DISK}/{name}"), path]);
    }
    for (name, path) in read_only {
        cmd.args(["--ro-bind", &format!("{HOST_DIR}/{name}"), path]);
    }
    cmd.args([
        // Only the session's disk is writable.
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/mnt/memory",
        "/bin/bash",
        "--noprofile",
        "--norc",
    ]);
    Ok(cmd)
}

/// Whether bubblewrap is installed and can build a sandbox here (checked once).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let Ok(host_dir) = tempfile::Builder::new()
            .prefix("cma-bwrap-probe-")
            .tempdir()
        else {
            return false;
        };
        if limits::own(host_dir.path(), limits::host_owner()).is_err() {
            return false;
        }
        let Ok(mut cmd) = sandbox_command(host_dir.path(), "1048576", &[]) else {
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

/// For the real shell's tests: `false` (skip) only outside CI; under CI=true a missing or unusable
/// bwrap is a failure.
#[cfg(test)]
pub(super) fn bwrap_or_skip() -> bool {
    if available() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "bubblewrap (bwrap) is required under CI=true: apt-get install -y bubblewrap"
    );
    eprintln!("bwrap is not available: skipping (CI=true makes this a failure)");
    false
}

/// The namespaces, the user and the environment of one layer; `inner`: the shell's, which may
/// make no namespace of its own (to regain capabilities in).
fn namespace_args(inner: bool) -> Vec<&'static str> {
    let mut a = vec!["--unshare-all", "--unshare-user"];
    if inner {
        a.push("--disable-userns");
    }
    a.extend([
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
    ]);
    a
}

/// The read-only system directories, `/proc` and `/dev` of one layer.
fn system_args() -> Vec<String> {
    let mut a: Vec<String> = [
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
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
