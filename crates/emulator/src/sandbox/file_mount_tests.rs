//! A session's mounted files (`file` resources), in the emulated tools and the real shell:
//! readable at their mount paths, never writable.

use std::sync::Arc;

use bytes::Bytes;
use cma_types::*;
use serde_json::json;

use super::bwrap::BwrapShell;
use super::fs::FileMount;
use super::launch::bwrap_or_skip;
use super::limits::SandboxLimits;
use super::*;
use crate::store::files::Upload;
use crate::store::{Db, Model};

const POLICY: &str =
    "# Returns\nReturns are accepted within 30 days.\nShipping is free over 50 dollars.\n";

struct Setup {
    db: Arc<Db>,
    store: String,
    fs: Fs,
    path: String,
}

fn setup() -> Setup {
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
    let file = db
        .write(|m| {
            m.upload_file(Upload {
                filename: Some("policy.md".into()),
                mime_type: Some("text/markdown".into()),
                content: Bytes::from_static(POLICY.as_bytes()),
                expires_in_seconds: None,
            })
        })
        .unwrap();
    let path = format!("/mnt/session/uploads/{}", file.id);
    let actor = Actor::Session(SessionActor {
        session_id: "sesn_01files".into(),
    });
    let mounts = vec![FsMount {
        path: "/mnt/memory/prefs".into(),
        store_id: store.clone(),
        access: Access::ReadWrite,
    }];
    let fs = Fs::new(db.clone(), actor, mounts).with_files(vec![FileMount {
        path: path.clone(),
        file_id: file.id,
    }]);
    Setup {
        db,
        store,
        fs,
        path,
    }
}

fn bash(fs: &Fs, command: &str) -> ToolOutput {
    execute(fs, "bash", &json!({ "command": command }))
}

/// Break it: let `Fs::writable` accept `Loc::File`, or drop `resolve_file` from `Fs::resolve`.
#[test]
fn emulated_tools_read_a_mounted_file_and_cannot_change_it() {
    let s = setup();
    let read = execute(&s.fs, "read", &json!({ "file_path": s.path }));
    assert!(!read.is_error, "{}", read.text);
    assert!(
        read.text.contains("Returns are accepted within 30 days."),
        "{}",
        read.text
    );
    let cat = bash(&s.fs, &format!("cat {}", s.path));
    assert_eq!(cat.text, POLICY);
    let ls = bash(&s.fs, "ls /mnt/session/uploads");
    assert_eq!(ls.text.trim(), s.path.rsplit('/').next().unwrap());
    let found = bash(&s.fs, "find /mnt/session -type f");
    assert_eq!(found.text.trim(), s.path);
    let grep = execute(
        &s.fs,
        "grep",
        &json!({ "pattern": "Shipping", "path": "/mnt/session" }),
    );
    assert!(grep.text.contains("Shipping is free"), "{}", grep.text);

    for (name, input) in [
        (
            "write",
            json!({ "file_path": s.path, "content": "mine now" }),
        ),
        (
            "edit",
            json!({ "file_path": s.path, "old_string": "30", "new_string": "90" }),
        ),
        (
            "write",
            json!({ "file_path": "/mnt/session/uploads/new.md", "content": "x" }),
        ),
    ] {
        let out = execute(&s.fs, name, &input);
        assert!(out.is_error, "{name} {input}: {}", out.text);
        assert!(out.text.contains("Read-only"), "{name}: {}", out.text);
    }
    let rm = bash(&s.fs, &format!("rm {}", s.path));
    assert!(rm.is_error && rm.text.contains("Read-only"), "{}", rm.text);
    // Nothing changed: the upload, and no memory was written anywhere.
    assert_eq!(bash(&s.fs, &format!("cat {}", s.path)).text, POLICY);
    assert!(s.db.read(|m| m.store_memories(&s.store).is_empty()));
    // The memory mount still works beside it.
    let w = execute(
        &s.fs,
        "write",
        &json!({ "file_path": "/mnt/memory/prefs/a.md", "content": "hi" }),
    );
    assert!(!w.is_error, "{}", w.text);
}

/// A deleted file is gone from the mount (the resource stays).
#[test]
fn a_deleted_file_is_missing_from_its_mount() {
    let s = setup();
    let id = s.fs.files()[0].file_id.clone();
    s.db.write(|m| m.delete_file(&id)).unwrap();
    let out = execute(&s.fs, "read", &json!({ "file_path": s.path }));
    assert!(out.is_error, "{}", out.text);
}

/// Break it: bind the file with `--bind` instead of `--ro-bind` in `BwrapShell::start`.
#[test]
fn the_real_shell_sees_a_mounted_file_read_only() {
    if !bwrap_or_skip() {
        return;
    }
    let s = setup();
    let mut shell = BwrapShell::for_fs(&s.fs, SandboxLimits::default()).unwrap();
    assert!(shell.serves(s.fs.mounts(), s.fs.files(), SandboxLimits::default()));
    assert!(!shell.serves(s.fs.mounts(), &[], SandboxLimits::default()));
    let sh = |shell: &mut BwrapShell, c: &str| shell.call(&s.fs, &json!({ "command": c }));
    let cat = sh(&mut shell, &format!("cat {}", s.path));
    assert!(!cat.is_error, "{}", cat.text);
    assert_eq!(cat.text, POLICY);
    let write = sh(&mut shell, &format!("echo changed > {}", s.path));
    assert!(write.is_error, "{}", write.text);
    assert!(
        write.text.contains("Read-only file system"),
        "{}",
        write.text
    );
    assert_eq!(sh(&mut shell, &format!("cat {}", s.path)).text, POLICY);
    // Memory writes through the same shell are still stored.
    let out = sh(
        &mut shell,
        "grep -h accepted /mnt/session/uploads/* > /mnt/memory/prefs/seen.md",
    );
    assert!(!out.is_error, "{}", out.text);
    let stored = s.db.read(|m| {
        m.store_memories(&s.store)
            .into_iter()
            .map(|r| (r.path.clone(), r.content.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        stored,
        [(
            "/seen.md".to_string(),
            "Returns are accepted within 30 days.\n".to_string()
        )]
    );
}
