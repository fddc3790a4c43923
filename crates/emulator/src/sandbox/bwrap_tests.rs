//! The real shell (needs bubblewrap; under CI=true a missing bwrap fails these tests).

use std::sync::Arc;

use cma_types::*;
use serde_json::{Value, json};

use super::super::launch::SANDBOX_PATH;
use super::super::launch::bwrap_or_skip;
use super::*;
use crate::store::{Db, Model};

struct Setup {
    db: Arc<Db>,
    rw: String,
    ro: String,
    fs: Fs,
    shell: BwrapShell,
}

fn setup() -> Setup {
    let db = Arc::new(Db::new(Model::default(), None));
    let store = |name: &str| {
        db.write(|m| {
            m.create_store(CreateMemoryStore {
                name: name.into(),
                ..Default::default()
            })
        })
        .unwrap()
        .id
    };
    let (rw, ro) = (store("Prefs"), store("Catalog"));
    let mounts = vec![
        FsMount {
            path: "/mnt/memory/prefs".into(),
            store_id: rw.clone(),
            access: Access::ReadWrite,
        },
        FsMount {
            path: "/mnt/memory/catalog".into(),
            store_id: ro.clone(),
            access: Access::ReadOnly,
        },
    ];
    let actor = Actor::Session(SessionActor {
        session_id: "sesn_01bwrap".into(),
    });
    let fs = Fs::new(db.clone(), actor, mounts.clone());
    let shell = BwrapShell::new(&mounts).unwrap();
    Setup {
        db,
        rw,
        ro,
        fs,
        shell,
    }
}

impl Setup {
    fn sh(&mut self, command: &str) -> ToolOutput {
        self.shell.call(&self.fs, &json!({ "command": command }))
    }

    fn with(&mut self, input: Value) -> ToolOutput {
        self.shell.call(&self.fs, &input)
    }

    fn seed(&self, store: &str, path: &str, content: &str) {
        let actor = Actor::Api(ApiActor {
            api_key_id: "key".into(),
        });
        self.db
            .write(|m| m.create_memory(store, path, Some(content), &actor))
            .unwrap();
    }

    /// `path -> content` of a store.
    fn memories(&self, store: &str) -> Vec<(String, String)> {
        self.db.read(|m| {
            m.store_memories(store)
                .into_iter()
                .map(|r| (r.path.clone(), r.content.clone().unwrap_or_default()))
                .collect()
        })
    }

    /// Whether every version of `store` was written by the session.
    fn versions_by_session(&self, store: &str) -> Vec<bool> {
        self.db.read(|m| {
            m.versions
                .values()
                .filter(|v| v.version.memory_store_id == store)
                .filter(|v| !matches!(v.version.created_by, Some(Actor::Api(_))))
                .map(|v| matches!(&v.version.created_by, Some(Actor::Session(s)) if s.session_id == "sesn_01bwrap"))
                .collect()
        })
    }
}

#[test]
fn pipes_globs_heredocs_and_state_that_persists_between_calls() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    s.seed(&s.rw.clone(), "/a.md", "apple\nbanana\n");
    s.seed(&s.rw.clone(), "/b.md", "cherry\n");
    let out = s.sh("cat /mnt/memory/prefs/*.md | grep -c a");
    assert_eq!(
        (out.is_error, out.text.as_str()),
        (false, "2\n"),
        "{}",
        out.text
    );
    let out = s.sh("cat > /mnt/memory/prefs/notes/new.md <<'EOF'\nline one\n$HOME stays literal\nEOF\nwc -l < /mnt/memory/prefs/notes/new.md");
    assert!(
        out.text.contains("No such file"),
        "the parent dir does not exist yet: {}",
        out.text
    );
    let out = s.sh("mkdir -p /mnt/memory/prefs/notes && cat > /mnt/memory/prefs/notes/new.md <<'EOF'\nline one\n$HOME stays literal\nEOF\nwc -l < /mnt/memory/prefs/notes/new.md");
    assert_eq!(out.text, "2\n", "{}", out.text);
    assert!(s.memories(&s.rw.clone()).contains(&(
        "/notes/new.md".into(),
        "line one\n$HOME stays literal\n".into()
    )));
    // cd and variables persist in the one shell.
    s.sh("cd /mnt/memory/prefs; X=42");
    let out = s.sh("pwd; echo $X");
    assert_eq!(out.text, "/mnt/memory/prefs\n42\n");
    // A clean environment, and no network.
    let out = s.sh("env | sort | cut -d= -f1 | tr '\\n' ' '");
    assert!(
        !out.text.contains("ANTHROPIC") && !out.text.contains("CARGO"),
        "{}",
        out.text
    );
    let out = s.sh("cat /sys/class/net/*/operstate 2>/dev/null; ls /sys/class/net 2>/dev/null | grep -v '^lo$' | wc -l");
    assert!(
        out.text.trim_end().ends_with('0'),
        "only loopback: {}",
        out.text
    );
    let out = s.sh("exit_code_test() { return 3; }; exit_code_test");
    assert!(out.is_error);
}

#[test]
fn sed_in_place_and_mv_become_versions_by_the_session() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let rw = s.rw.clone();
    s.seed(&rw, "/prefs.md", "Size: M\nColour: red\n");
    let out = s.sh("sed -i 's/Size: M/Size: L/' /mnt/memory/prefs/prefs.md");
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(
        s.memories(&rw),
        [(
            "/prefs.md".to_string(),
            "Size: L\nColour: red\n".to_string()
        )]
    );
    let out = s.sh("mv /mnt/memory/prefs/prefs.md /mnt/memory/prefs/customer.md");
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(
        s.memories(&rw),
        [(
            "/customer.md".to_string(),
            "Size: L\nColour: red\n".to_string()
        )]
    );
    let out = s.sh("rm /mnt/memory/prefs/customer.md");
    assert!(!out.is_error);
    assert!(s.memories(&rw).is_empty());
    // The edit, the new path, and both deletions: all by the session.
    let by_session = s.versions_by_session(&rw);
    assert!(
        by_session.len() >= 3 && by_session.iter().all(|b| *b),
        "{by_session:?}"
    );
}

#[test]
fn a_read_only_mount_refuses_writes_and_stores_nothing() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let ro = s.ro.clone();
    s.seed(&ro, "/catalog.md", "shoes\n");
    let out = s.sh("cat /mnt/memory/catalog/catalog.md && echo new > /mnt/memory/catalog/x.md");
    assert!(out.is_error);
    assert!(
        out.text.starts_with("shoes\n") && out.text.contains("Read-only file system"),
        "{}",
        out.text
    );
    let out = s.sh("rm /mnt/memory/catalog/catalog.md");
    assert!(out.is_error, "{}", out.text);
    assert_eq!(
        s.memories(&ro),
        [("/catalog.md".to_string(), "shoes\n".to_string())]
    );
}

#[test]
fn a_command_past_its_timeout_is_killed_and_the_shell_restarted() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let out = s.with(json!({ "command": "echo started; sleep 30", "timeout_ms": 300 }));
    assert!(out.is_error);
    assert!(
        out.text.starts_with("started\n") && out.text.contains("timed out after 300 ms"),
        "{}",
        out.text
    );
    let out = s.sh("echo again");
    assert_eq!((out.is_error, out.text.as_str()), (false, "again\n"));
    let out = s.with(json!({ "restart": true }));
    assert_eq!(out.text, "The bash tool has been restarted.");
}

#[test]
fn output_over_the_cap_is_cut_and_said_so() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let out = s.sh("head -c 300000 /dev/zero | tr '\\0' 'x'; echo; echo done");
    assert!(!out.is_error);
    assert!(out.text.len() < OUTPUT_LIMIT + 100, "{}", out.text.len());
    assert!(out.text.starts_with("xxxx"));
    assert!(
        out.text.contains("[output truncated: "),
        "{}",
        &out.text[out.text.len() - 80..]
    );
}

#[test]
fn files_outside_the_mounts_are_never_stored_and_bad_files_are_refused_whole() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let rw = s.rw.clone();
    let out = s.sh("echo secret > /tmp/outside.md; echo x > /mnt/outside.md; cat /tmp/outside.md");
    assert!(
        out.text.contains("/mnt/outside.md: Read-only file system")
            && out.text.ends_with("secret\n"),
        "{}",
        out.text
    );
    assert!(s.memories(&rw).is_empty());
    assert!(s.memories(&s.ro.clone()).is_empty());
    // Not UTF-8, and bigger than a memory may be: refused, nothing stored, an error result.
    let out = s.sh("printf '\\xff\\xfe' > /mnt/memory/prefs/bin.md; head -c 200000 /dev/zero | tr '\\0' 'y' > /mnt/memory/prefs/big.md; echo ok > /mnt/memory/prefs/fine.md");
    assert!(out.is_error);
    assert!(out.text.contains("bin.md: not UTF-8"), "{}", out.text);
    assert!(out.text.contains("big.md: 200000 bytes"), "{}", out.text);
    assert_eq!(
        s.memories(&rw),
        [("/fine.md".to_string(), "ok\n".to_string())]
    );
    // The next call starts from the store again: the refused files are gone.
    let out = s.sh("ls /mnt/memory/prefs");
    assert_eq!(out.text, "fine.md\n");
}

#[test]
fn the_store_is_read_again_before_each_call() {
    if !bwrap_or_skip() {
        return;
    }
    let mut s = setup();
    let rw = s.rw.clone();
    assert_eq!(s.sh("ls /mnt/memory/prefs").text, "");
    s.seed(&rw, "/later.md", "written by the API meanwhile\n");
    assert_eq!(
        s.sh("cat /mnt/memory/prefs/later.md").text,
        "written by the API meanwhile\n"
    );
}

/// Every value of the host's environment that a leak would show: long enough not to occur by
/// chance in a listing of the sandbox, and not the path of a system program the sandbox has too
/// (`SHELL=/bin/bash` is bash's own command line inside).
fn host_env_values() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(_, v)| {
            v.len() >= 8
                && !SANDBOX_PATH.contains(v.as_str())
                && !["/bin/", "/usr/"].iter().any(|p| v.starts_with(p))
        })
        .collect()
}

#[test]
fn nothing_of_the_host_environment_is_readable_inside() {
    if !bwrap_or_skip() {
        return;
    }
    let host = host_env_values();
    // `cargo test` always sets this for the test process, so the attack below has a target.
    assert!(
        host.iter().any(|(k, _)| k == "CARGO_MANIFEST_DIR"),
        "the test needs a host variable to look for"
    );
    let mut s = setup();
    // What a hostile model tried first: every process's environment and command line.
    let out = s.sh(
        "env; for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; tr '\\0' ' ' < $p/cmdline; echo; done; cat /proc/self/status",
    );
    assert!(out.text.contains("PATH="), "the probe ran: {}", out.text);
    for (name, value) in &host {
        assert!(
            !out.text.contains(value.as_str()),
            "the host's {name} is readable inside:\n{}",
            out.text
        );
    }
    // Not root, no capability, and no way to make a user namespace that would grant some.
    let out = s.sh("id -u; grep '^Cap' /proc/self/status | cut -f2 | sort -u; unshare -U true && echo NEW-USERNS");
    let lines: Vec<&str> = out.text.lines().collect();
    assert_eq!(lines.first(), Some(&"65534"), "{}", out.text);
    assert_eq!(lines.get(1), Some(&"0000000000000000"), "{}", out.text);
    assert!(!out.text.contains("NEW-USERNS"), "{}", out.text);
}
