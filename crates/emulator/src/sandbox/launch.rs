//! How bubblewrap is started: found once by absolute path, with an empty environment, as the
//! host's `nobody` when `cma` is root, and the sandbox's fixed part (namespaces, the read-only
//! system directories). [`super::bwrap`] adds the mounts and the shell.

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
pub(super) fn bwrap_command() -> std::io::Result<Command> {
    let path = bwrap_path().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "bwrap is not installed")
    })?;
    let mut cmd = Command::new(path);
    cmd.env_clear().env("PATH", SANDBOX_PATH).args(base_args());
    if let Some((uid, gid)) = limits::host_owner() {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
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
