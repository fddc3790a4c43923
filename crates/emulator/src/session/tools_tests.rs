//! Tests of the turn context's tools: answers before the wait, and the shutdown ending a wait.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use cma_types::*;
use serde_json::json;

use super::*;
use crate::sandbox::Fs;
use crate::sandbox::tests::session_with;
use crate::store::{Db, Model};

/// A session whose agent has the custom tool `lookup_order`, and its sandbox with a model
/// request open.
#[allow(clippy::unwrap_used)]
fn custom_tool_session() -> (Arc<Db>, String, TurnContext) {
    let db = Arc::new(Db::new(Model::default(), None));
    let lookup = Tool::Custom(CustomTool {
        name: "lookup_order".into(),
        description: "Look up".into(),
        input_schema: json!({"type": "object"}),
    });
    let session = session_with(&db, vec![lookup], &[]);
    let sid = session.id.clone();
    let actor = Actor::Session(SessionActor {
        session_id: sid.clone(),
    });
    let fs = Fs::new(db.clone(), actor, Vec::new());
    let tools = session.agent.tools.clone();
    let mut sb = TurnContext::new(
        db.clone(),
        sid.clone(),
        fs,
        tools,
        Arc::new(AtomicBool::new(false)),
    );
    sb.span_open = true;
    (db, sid, sb)
}

/// An answer that arrives between the `agent.custom_tool_use` and the wait (the client
/// answered from the stream before the idle) is taken as is: no idle, no status change.
#[test]
#[allow(clippy::unwrap_used)]
fn an_answer_before_the_idle_resumes_without_idling() {
    let (db, sid, mut sb) = custom_tool_session();
    let call = ToolCall::new("lookup_order", json!({"order_id": "A1"}));
    let Plan::Wait(id) = sb.plan(&call) else {
        panic!("a custom call waits for its result");
    };
    let answer = ClientEvent::UserCustomToolResult(UserCustomToolResult {
        custom_tool_use_id: id.clone(),
        content: Some(vec![ContentBlock::text("shipped")]),
        is_error: None,
        session_thread_id: None,
    });
    db.write(|m| m.send_events(&sid, vec![answer])).unwrap();
    let Waited::Answered(calls) = sb.await_answers() else {
        panic!("answered already");
    };
    assert_eq!(calls.len(), 1);
    assert_eq!(
        sb.resolve(&call, &id, calls[0].answer.as_ref()),
        ToolOutput {
            is_error: false,
            text: "shipped".into()
        }
    );
    assert!(sb.span_open, "the model request goes on");
    let kinds: Vec<String> = db.read(|m| {
        m.sessions[&sid]
            .rt
            .log
            .snapshot()
            .iter()
            .map(|e| e.kind().to_string())
            .collect()
    });
    assert_eq!(kinds, ["agent.custom_tool_use", "user.custom_tool_result"]);
    // Answered and taken: a second answer is refused.
    let again = ClientEvent::UserCustomToolResult(UserCustomToolResult {
        custom_tool_use_id: id,
        content: None,
        is_error: None,
        session_thread_id: None,
    });
    assert!(db.write(|m| m.send_events(&sid, vec![again])).is_err());
}

/// The server's shutdown ends a wait for answers, whether it comes before the runner
/// registers its wake channel or after the session idled `requires_action`.
/// Break it: drop the wake-sender loop in `Db::shut_down` (the `after` case reports the
/// runner still waiting), or the `is_shutting_down` check in `await_answers` (the `before`
/// case does).
#[test]
#[allow(clippy::unwrap_used)]
fn shutdown_ends_a_wait_for_answers() {
    for wait_for_idle in [false, true] {
        let (db, sid, mut sb) = custom_tool_session();
        let call = ToolCall::new("lookup_order", json!({"order_id": "A1"}));
        assert!(matches!(sb.plan(&call), Plan::Wait(_)));
        let log = db.read(|m| m.sessions[&sid].rt.log.clone());
        let mut changed = log.subscribe();
        if !wait_for_idle {
            // Before: the runner has not registered anything yet.
            db.shut_down();
        }
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = matches!(sb.await_answers(), Waited::Ended);
            let _ = done.send(outcome);
        });
        if wait_for_idle {
            let idle = || {
                log.snapshot()
                    .iter()
                    .any(|e| e.kind() == "session.status_idle")
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    changed.wait_for(|_| idle()),
                )
                .await
            })
            .expect("the session idles requires_action")
            .unwrap();
            db.shut_down();
        }
        let outcome = ended.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(
            outcome,
            Ok(true),
            "wait_for_idle={wait_for_idle}: the runner did not end its wait"
        );
    }
}
