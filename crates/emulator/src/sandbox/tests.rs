//! The sandbox against a real model: file tools, the shell, permissions and events.

use std::sync::Arc;

use cma_types::*;
use serde_json::json;

use super::*;
use crate::store::{Db, Model};

fn actor() -> Actor {
    Actor::Session(SessionActor {
        session_id: "sesn_01test".into(),
    })
}

pub(crate) fn setup() -> (Arc<Db>, String, String) {
    let db = Arc::new(Db::new(Model::default(), None));
    let rw = db
        .write(|m| {
            m.create_store(CreateMemoryStore {
                name: "Prefs".into(),
                ..Default::default()
            })
        })
        .unwrap()
        .id;
    let ro = db
        .write(|m| {
            m.create_store(CreateMemoryStore {
                name: "Catalog".into(),
                ..Default::default()
            })
        })
        .unwrap()
        .id;
    (db, rw, ro)
}

/// A session of a new agent with `tools`, in a new environment, with `stores` attached
/// read-write.
pub(crate) fn session_with(db: &Db, tools: Vec<Tool>, stores: &[&str]) -> Session {
    let agent = db
        .write(|m| {
            let mut p = CreateAgent::new("a", "claude-sonnet-4-6");
            p.tools = Some(tools);
            m.create_agent(p)
        })
        .unwrap();
    let env = db
        .write(|m| {
            m.create_environment(CreateEnvironment {
                name: "e".into(),
                ..Default::default()
            })
        })
        .unwrap();
    db.write(|m| {
        let mut p = CreateSession::new(AgentRef::Id(agent.id), env.id);
        if !stores.is_empty() {
            p.resources = Some(
                stores
                    .iter()
                    .map(|&id| ResourceParams::memory_store(id, Access::ReadWrite, None))
                    .collect(),
            );
        }
        m.create_session(p)
    })
    .unwrap()
    .0
}

fn fs(db: &Arc<Db>, rw: &str, ro: &str) -> Fs {
    Fs::new(
        db.clone(),
        actor(),
        vec![
            FsMount {
                path: "/mnt/memory/prefs".into(),
                store_id: rw.into(),
                access: Access::ReadWrite,
            },
            FsMount {
                path: "/mnt/memory/catalog".into(),
                store_id: ro.into(),
                access: Access::ReadOnly,
            },
        ],
    )
}

pub(crate) fn versions(db: &Db, store: &str) -> Vec<MemoryVersion> {
    db.read(|m| {
        let mut v: Vec<_> = m
            .versions
            .values()
            .filter(|v| v.version.memory_store_id == store)
            .cloned()
            .collect();
        v.sort_by_key(|v| v.seq);
        v.into_iter().map(|v| v.version).collect()
    })
}

#[test]
fn writes_make_versions_with_the_session_actor() {
    let (db, rw, ro) = setup();
    let fs = fs(&db, &rw, &ro);
    let out = execute(
        &fs,
        "write",
        &json!({"file_path": "/mnt/memory/prefs/preferences.md", "content": "size M"}),
    );
    assert!(!out.is_error, "{}", out.text);
    let out = execute(
        &fs,
        "write",
        &json!({"file_path": "/mnt/memory/prefs/preferences.md", "content": "size L"}),
    );
    assert!(out.text.contains("updated"));
    let v = versions(&db, &rw);
    assert_eq!(
        v.iter().map(|v| v.operation.as_str()).collect::<Vec<_>>(),
        ["created", "modified"]
    );
    assert!(v.iter().all(|v| v.created_by == Some(actor())));
    assert_eq!(v[0].path.as_deref(), Some("/preferences.md"));
    let read = execute(
        &fs,
        "read",
        &json!({"file_path": "/mnt/memory/prefs/preferences.md"}),
    );
    assert_eq!(read.text, "size L");
    let dir = execute(&fs, "read", &json!({"file_path": "/mnt/memory/prefs"}));
    assert_eq!(dir.text, "preferences.md");
    let missing = execute(
        &fs,
        "read",
        &json!({"file_path": "/mnt/memory/prefs/nope.md"}),
    );
    assert!(missing.is_error);
}

#[test]
fn read_only_mounts_refuse_writes_without_versions() {
    let (db, rw, ro) = setup();
    db.write(|m| m.create_memory(&ro, "/promo.md", Some("20% off"), &actor()))
        .unwrap();
    let before = versions(&db, &ro).len();
    let fs = fs(&db, &rw, &ro);
    for (tool, input) in [
        (
            "write",
            json!({"file_path": "/mnt/memory/catalog/new.md", "content": "x"}),
        ),
        (
            "edit",
            json!({"file_path": "/mnt/memory/catalog/promo.md", "old_string": "20", "new_string": "30"}),
        ),
        (
            "bash",
            json!({"command": "rm /mnt/memory/catalog/promo.md"}),
        ),
        (
            "bash",
            json!({"command": "echo hi > /mnt/memory/catalog/x.md"}),
        ),
        (
            "bash",
            json!({"command": "mkdir -p /mnt/memory/catalog/dir"}),
        ),
    ] {
        let out = execute(&fs, tool, &input);
        assert!(out.is_error, "{tool} {input}");
        assert!(
            out.text.contains("Read-only file system"),
            "{tool}: {}",
            out.text
        );
    }
    assert_eq!(versions(&db, &ro).len(), before);
    assert_eq!(
        execute(
            &fs,
            "read",
            &json!({"file_path": "/mnt/memory/catalog/promo.md"})
        )
        .text,
        "20% off"
    );
}

#[test]
fn shell_commands() {
    let (db, rw, ro) = setup();
    let fs = fs(&db, &rw, &ro);
    let sh = |cmd: &str| bash::run(&fs, cmd);
    // The cookbook's first check on an empty store.
    assert_eq!(
        sh(r#"cat /mnt/memory/prefs 2>/dev/null || echo "No file found""#),
        ("No file found\n".to_string(), 0)
    );
    assert_eq!(sh("cat /mnt/memory/prefs").1, 1);
    assert_eq!(sh("mkdir -p /mnt/memory/prefs/notes").1, 0);
    assert_eq!(
        sh("echo 'a b' > /mnt/memory/prefs/notes/x.md && echo ok"),
        ("ok\n".into(), 0)
    );
    assert_eq!(sh("echo more >> /mnt/memory/prefs/notes/x.md").1, 0);
    assert_eq!(sh("cat /mnt/memory/prefs/notes/x.md").0, "a b\nmore\n");
    assert_eq!(
        sh("cat > /mnt/memory/prefs/p.md << 'EOF'\n# Prefs\n- M\nEOF").1,
        0
    );
    assert_eq!(sh("cat /mnt/memory/prefs/p.md").0, "# Prefs\n- M\n");
    assert_eq!(sh("ls /mnt/memory/prefs/").0, "notes\np.md\n");
    assert_eq!(sh("ls -1 /mnt/memory/prefs").0, "notes\np.md\n");
    assert_eq!(sh("ls /mnt/memory").0, "catalog\nprefs\n");
    assert_eq!(
        sh("find /mnt/memory/prefs -type f").0,
        "/mnt/memory/prefs/notes/x.md\n/mnt/memory/prefs/p.md\n"
    );
    assert_eq!(
        sh("find /mnt/memory/prefs/ -type f -name '*.md'").0,
        "/mnt/memory/prefs/notes/x.md\n/mnt/memory/prefs/p.md\n"
    );
    let (out, code) = sh("ls /mnt/memory/prefs/missing");
    assert_eq!(code, 2);
    assert!(out.contains("No such file or directory"));
    let (out, code) = sh("cat /etc/passwd");
    assert_eq!(code, 1);
    assert!(out.contains("No such file or directory"));
    let (out, code) = sh("curl example.com");
    assert_eq!(
        (out.as_str(), code),
        ("bash: curl: command not found\n", 127)
    );
    assert_eq!(sh("rm /mnt/memory/prefs/notes").1, 1);
    assert_eq!(sh("rm /mnt/memory/prefs/p.md").1, 0);
    assert_eq!(sh("rm -rf /mnt/memory/prefs/notes").1, 0);
    assert_eq!(sh("ls /mnt/memory/prefs").0, "");
    assert_eq!(sh("ls | head").1, 2);
    let ops: Vec<String> = versions(&db, &rw)
        .iter()
        .map(|v| v.operation.to_string())
        .collect();
    assert_eq!(
        ops,
        ["created", "modified", "created", "deleted", "deleted"]
    );
}

#[test]
fn edit_glob_grep_and_paths() {
    let (db, rw, ro) = setup();
    let fs = fs(&db, &rw, &ro);
    execute(
        &fs,
        "write",
        &json!({"file_path": "/mnt/memory/prefs/a.md", "content": "color: red\nsize: M\n"}),
    );
    execute(
        &fs,
        "write",
        &json!({"file_path": "/mnt/memory/prefs/sub/b.txt", "content": "red again"}),
    );
    let e = execute(
        &fs,
        "edit",
        &json!({"file_path": "/mnt/memory/prefs/a.md", "old_string": "red", "new_string": "green"}),
    );
    assert!(!e.is_error, "{}", e.text);
    let twice = execute(
        &fs,
        "edit",
        &json!({"file_path": "/mnt/memory/prefs/a.md", "old_string": "e", "new_string": "E"}),
    );
    assert!(twice.is_error && twice.text.contains("matches"));
    let none = execute(
        &fs,
        "edit",
        &json!({"file_path": "/mnt/memory/prefs/a.md", "old_string": "blue", "new_string": "x"}),
    );
    assert!(none.is_error);
    let g = execute(
        &fs,
        "glob",
        &json!({"pattern": "**/*.md", "path": "/mnt/memory/prefs"}),
    );
    assert_eq!(g.text, "/mnt/memory/prefs/a.md");
    let g = execute(&fs, "glob", &json!({"pattern": "/mnt/memory/prefs/**/*"}));
    assert_eq!(g.text.lines().count(), 2);
    let r = execute(&fs, "grep", &json!({"pattern": "red"}));
    assert_eq!(r.text, "/mnt/memory/prefs/sub/b.txt:1:red again");
    let r = execute(
        &fs,
        "grep",
        &json!({"pattern": "(", "path": "/mnt/memory/prefs"}),
    );
    assert!(r.is_error);
    // Outside the mounts, a directory as a file, a file as a directory, bad paths.
    assert!(
        execute(
            &fs,
            "write",
            &json!({"file_path": "/tmp/x", "content": "x"})
        )
        .is_error
    );
    assert!(
        execute(
            &fs,
            "write",
            &json!({"file_path": "/mnt/memory/other/x", "content": "x"})
        )
        .is_error
    );
    assert!(
        execute(
            &fs,
            "write",
            &json!({"file_path": "/mnt/memory/prefs/sub", "content": "x"})
        )
        .text
        .contains("Is a directory")
    );
    assert!(
        execute(
            &fs,
            "write",
            &json!({"file_path": "/mnt/memory/prefs/a.md/c", "content": "x"})
        )
        .text
        .contains("Not a directory")
    );
    assert!(
        execute(
            &fs,
            "write",
            &json!({"file_path": "/mnt/memory/prefs/x\u{200B}", "content": "x"})
        )
        .is_error
    );
    assert!(execute(&fs, "read", &json!({})).is_error);
    assert!(execute(&fs, "teleport", &json!({})).is_error);
}
