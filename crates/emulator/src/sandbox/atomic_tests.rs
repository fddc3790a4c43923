//! Atomicity of the agent's tool path, driven directly as turn runners call it (moved here from
//! `tests/atomic.rs` because the sandbox and store are crate-private).

use std::sync::{Arc, Barrier};

use super::{Fs, FsMount, execute};
use crate::persist::Persist;
use crate::store::{Db, Model};
use cma_types::*;
use serde_json::{Value, json};

const MOUNT: &str = "/mnt/memory/shared";

fn actor(session: &str) -> Actor {
    Actor::Session(SessionActor {
        session_id: session.into(),
    })
}

fn fs(db: &Arc<Db>, store: &str, session: &str) -> Fs {
    let mount = FsMount {
        path: MOUNT.into(),
        store_id: store.into(),
        access: Access::ReadWrite,
    };
    Fs::new(db.clone(), actor(session), vec![mount])
}

fn store_with_memory(db: &Db, path: &str, content: &str) -> String {
    let store = db
        .write(|m| {
            m.create_store(CreateMemoryStore {
                name: "shared".into(),
                ..Default::default()
            })
        })
        .unwrap();
    db.write(|m| m.create_memory(&store.id, path, Some(content), &actor("sesn_setup")))
        .unwrap();
    store.id
}

/// `(path, content, version id)` of every memory, the version ids, and the path index.
type State = (Vec<(String, String, String)>, Vec<String>, Vec<String>);

fn state(db: &Db, store: &str) -> State {
    db.read(|m| {
        let mut memories: Vec<_> = m
            .memories
            .values()
            .map(|r| {
                let mem = &r.memory;
                let content = mem.content.clone().unwrap_or_default();
                (mem.path.clone(), content, mem.memory_version_id.clone())
            })
            .collect();
        memories.sort();
        let mut versions: Vec<String> = m.versions.keys().cloned().collect();
        versions.sort();
        let paths = m.stores[store].paths.keys().cloned().collect();
        (memories, versions, paths)
    })
}

/// `(path, content)` of every memory as stored on disk.
fn stored(dir: &std::path::Path) -> Vec<(String, String)> {
    let loaded = Persist::open(dir).unwrap().load().unwrap();
    let mut out: Vec<(String, String)> = loaded
        .objects
        .iter()
        .filter(|(kind, _, _)| kind == "memory")
        .map(|(_, _, json)| {
            let v: Value = serde_json::from_str(json).unwrap();
            let m = &v["memory"];
            (
                m["path"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Every tool call that writes memory, when its commit fails, is an error result the agent
/// sees (saying nothing was stored) and changes nothing: not the memories, their versions or
/// the path index, in memory or on disk. Retried once the disk has room, each succeeds.
/// Break it: skip the rollback (see `tests/atomic.rs`), and the state check fails.
#[test]
fn a_tool_write_that_is_not_stored_is_an_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::new(
        Model::default(),
        Some(Persist::open(dir.path()).unwrap()),
    ));
    let store = store_with_memory(&db, "/notes.md", "size: M\n");
    let fs = fs(&db, &store, "sesn_01agent");
    let calls: Vec<(&str, Value)> = vec![
        (
            "write",
            json!({"file_path": format!("{MOUNT}/new.md"), "content": "fresh"}),
        ),
        (
            "write",
            json!({"file_path": format!("{MOUNT}/notes.md"), "content": "size: L\n"}),
        ),
        (
            "edit",
            json!({"file_path": format!("{MOUNT}/notes.md"), "old_string": "L", "new_string": "S"}),
        ),
        (
            "bash",
            json!({"command": format!("echo 'likes: linen' >> {MOUNT}/notes.md")}),
        ),
        (
            "bash",
            json!({"command": format!("echo hi > {MOUNT}/dir/hello.md")}),
        ),
        (
            "bash",
            json!({"command": format!("touch {MOUNT}/empty.md")}),
        ),
        ("bash", json!({"command": format!("rm {MOUNT}/notes.md")})),
    ];
    let faults = db.commit_faults();
    for (tool, input) in &calls {
        let before = state(&db, &store);
        let on_disk = stored(dir.path());
        faults.fail_after(0);
        let out = execute(&fs, tool, input);
        assert!(out.is_error, "{tool} {input}: {}", out.text);
        assert!(
            out.text.contains("could not be stored durably"),
            "{tool} {input}: {}",
            out.text
        );
        assert_eq!(state(&db, &store), before, "{tool} {input}: state changed");
        assert_eq!(stored(dir.path()), on_disk, "{tool} {input}: disk changed");
        faults.clear();
        let out = execute(&fs, tool, input);
        assert!(!out.is_error, "{tool} {input} retried: {}", out.text);
        assert_ne!(
            state(&db, &store),
            before,
            "{tool} {input}: retry not applied"
        );
    }
    let live: Vec<(String, String)> = state(&db, &store)
        .0
        .into_iter()
        .map(|(p, c, _)| (p, c))
        .collect();
    assert_eq!(stored(dir.path()), live);
}

/// Sessions editing one memory at once through the sandbox's `edit` tool (8 sessions x 25
/// edits, each inserting its own line before a shared anchor): every edit the tool reported
/// done is in the final content, and every other one was refused with an error result.
/// Break it: make `files::edit` read with `fs.read` and write with `fs.write` (two locks,
/// as before), and concurrent edits overwrite each other.
#[test]
fn concurrent_sandbox_edits_lose_no_update() {
    const SESSIONS: usize = 8;
    const EDITS: usize = 25;
    let db = Arc::new(Db::new(Model::default(), None));
    let store = store_with_memory(&db, "/log.md", "# log\nEND\n");
    let start = Arc::new(Barrier::new(SESSIONS));
    let workers: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let fs = fs(&db, &store, &format!("sesn_{s:02}"));
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                (0..EDITS)
                    .map(|e| {
                        let line = format!("session {s} edit {e}");
                        let input = json!({
                            "file_path": format!("{MOUNT}/log.md"),
                            "old_string": "END\n",
                            "new_string": format!("{line}\nEND\n"),
                        });
                        let out = execute(&fs, "edit", &input);
                        (line, out)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let content = db.read(|m| {
        m.memory_by_path(&store, "/log.md")
            .and_then(|r| r.memory.content.clone())
            .unwrap()
    });
    let lines: Vec<&str> = content.lines().collect();
    let mut done = 0;
    for (line, out) in &outcomes {
        if out.is_error {
            assert!(out.text.starts_with("Error"), "{line}: {}", out.text);
            assert!(
                !lines.contains(&line.as_str()),
                "{line} refused yet applied"
            );
        } else {
            done += 1;
            assert!(lines.contains(&line.as_str()), "{line} was lost");
        }
    }
    assert_eq!(done, SESSIONS * EDITS, "an edit was refused");
    assert_eq!(lines.len(), SESSIONS * EDITS + 2, "{content}");
    let versions = db.read(|m| m.versions.len());
    assert_eq!(versions, SESSIONS * EDITS + 1, "one version per edit");
}
