//! The turn's context as the agent's tools: every call recorded with its permission, and a call
//! under `always_ask` waiting for the client's confirmation.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use cma_types::*;
use serde_json::json;

use super::context::TurnContext;
use crate::agent::Tools;
use crate::sandbox::tests::{session_with, setup, versions};
use crate::sandbox::{Fs, FsMount};

#[test]
fn sandbox_records_tool_events_and_permissions() {
    let (db, rw, _) = setup();
    let mut ts = AgentToolset::all(PermissionPolicy::AlwaysAllow(Empty {}));
    ts.configs.push(ToolConfig {
        name: "grep".into(),
        kind: None,
        enabled: Some(false),
        permission_policy: None,
        extra: Default::default(),
    });
    let session = session_with(&db, vec![Tool::AgentToolset20260401(ts)], &[&rw]);
    let mount = session
        .memory_stores()
        .next()
        .unwrap()
        .mount_path
        .clone()
        .unwrap();
    let fs = Fs::new(
        db.clone(),
        Actor::Session(SessionActor {
            session_id: session.id.clone(),
        }),
        vec![FsMount {
            path: mount.clone(),
            store_id: rw.clone(),
            access: Access::ReadWrite,
        }],
    );
    let mut sb = TurnContext::new(
        db.clone(),
        session.id.clone(),
        fs,
        session.agent.tools.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let input = json!({"file_path": format!("{mount}/p.md"), "content": "hi"});
    let out = sb.call("write", input.clone());
    assert!(!out.is_error);
    let denied = sb.call("grep", json!({"pattern": "x"}));
    assert!(denied.is_error && denied.text.contains("not enabled"));
    sb.say("working on it");
    let log = db.read(|m| m.sessions[&session.id].rt.log.snapshot());
    let kinds: Vec<&str> = log.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "agent.tool_use",
            "agent.tool_result",
            "agent.tool_use",
            "agent.tool_result",
            "agent.message"
        ]
    );
    assert_eq!(log[0].json["name"], "write");
    assert_eq!(log[0].json["input"], input);
    assert_eq!(log[0].json["evaluated_permission"], "allow");
    assert_eq!(log[0].json["evaluation"], json!({"type": "always_allow"}));
    assert_eq!(log[1].json["tool_use_id"], log[0].json["id"]);
    assert_eq!(log[1].json["is_error"], false);
    assert_eq!(log[2].json["evaluated_permission"], "deny");
    assert!(log[2].json.get("evaluation").is_none());
    assert_eq!(log[3].json["is_error"], true);
    let v = versions(&db, &rw);
    assert_eq!(
        v[0].created_by,
        Some(Actor::Session(SessionActor {
            session_id: session.id.clone()
        }))
    );
    // A deleted session aborts the turn: nothing more is recorded.
    db.write(|m| m.delete_session(&session.id)).unwrap();
    assert!(
        sb.call("read", json!({"file_path": format!("{mount}/p.md")}))
            .is_error
    );
    assert!(sb.aborted());
}

#[tokio::test]
async fn ask_policy_waits_for_a_confirmation() {
    let (db, rw, _) = setup();
    let ask = AgentToolset::all(PermissionPolicy::AlwaysAsk(Empty {}));
    let session = session_with(&db, vec![Tool::AgentToolset20260401(ask)], &[&rw]);
    let log = db.read(|m| m.sessions[&session.id].rt.log.clone());
    let mut changes = log.subscribe();
    let sid = session.id.clone();
    let db2 = db.clone();
    let tools = session.agent.tools.clone();
    let worker = std::thread::spawn(move || {
        let fs = Fs::new(
            db2.clone(),
            Actor::Session(SessionActor {
                session_id: sid.clone(),
            }),
            vec![FsMount {
                path: "/mnt/memory/prefs".into(),
                store_id: rw,
                access: Access::ReadWrite,
            }],
        );
        let mut sb = TurnContext::new(db2, sid, fs, tools, Arc::new(AtomicBool::new(false)));
        sb.call(
            "write",
            json!({"file_path": "/mnt/memory/prefs/a.md", "content": "x"}),
        )
    });
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if log
                .snapshot()
                .iter()
                .any(|e| e.kind() == "session.status_idle")
            {
                break;
            }
            changes.changed().await.unwrap();
        }
    })
    .await;
    assert!(waiting.is_ok(), "no requires_action idle");
    let events = log.snapshot();
    assert_eq!(events[0].json["evaluated_permission"], "ask");
    assert_eq!(events[1].kind(), "session.usage");
    assert_eq!(events[2].json["stop_reason"]["type"], "requires_action");
    assert_eq!(
        events[2].json["stop_reason"]["event_ids"][0],
        events[0].json["id"]
    );
    let tool_use_id = events[0].id.clone();
    let confirm = ClientEvent::UserToolConfirmation(UserToolConfirmation {
        tool_use_id,
        result: "allow".into(),
        deny_message: None,
        session_thread_id: None,
    });
    db.write(|m| m.send_events(&session.id, vec![confirm]))
        .unwrap();
    let out = tokio::task::spawn_blocking(move || worker.join().unwrap())
        .await
        .unwrap();
    assert!(!out.is_error, "{}", out.text);
    let kinds: Vec<String> = log
        .snapshot()
        .iter()
        .map(|e| e.kind().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "agent.tool_use",
            "session.usage",
            "session.thread_status_idle",
            "session.status_idle",
            "user.tool_confirmation",
            "session.status_running",
            "session.thread_status_running",
            "agent.tool_result",
            // The agent reads the result in a new model request.
            "span.model_request_start",
        ]
    );
    assert_eq!(versions(&db, &session.resources_store_id()).len(), 1);
}

trait FirstStore {
    fn resources_store_id(&self) -> String;
}

impl FirstStore for Session {
    fn resources_store_id(&self) -> String {
        self.memory_stores()
            .next()
            .map(|m| m.memory_store_id.clone())
            .unwrap_or_default()
    }
}
