//! Confirmations over HTTP: under `always_ask` every call of a batch waits at once, a partial
//! answer re-idles with the rest, `deny` answers the call with an error the agent sees; `auto`
//! records its judgement on each tool use.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::turns::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_ask_holds_every_read_at_once_and_a_denied_read_is_not_recalled() {
    let env = start().await;
    let store = env.store("Customer Notes").await;
    env.memory(&store.id, "/a.md", "- You wear shoe size 41.\n")
        .await;
    env.memory(&store.id, "/b.md", "- Your locker code is 7789.\n")
        .await;
    let tools = vec![toolset(PermissionPolicy::AlwaysAsk(Empty {}))];
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "What do you remember about me?")
        .await
        .unwrap();

    // The listing first (its result decides what to read).
    let first = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&first),
        [
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "agent.tool_use",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(requires_action)",
        ]
    );
    let listing = ids_of(&first, "agent.tool_use");
    let use_json = json_of(&first[4]);
    assert_eq!(use_json["evaluated_permission"], "ask");
    assert_eq!(use_json["evaluation"]["type"], "always_ask");
    assert_eq!(requires(first.last().unwrap()), listing);
    send(
        &env,
        &session.id,
        vec![confirmation(&listing[0], true, None)],
    )
    .await;

    // Both reads are pending together.
    let reads = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&reads),
        [
            "user.tool_confirmation",
            "session.status_running",
            "agent.tool_result",
            "span.model_request_start",
            "agent.tool_use",
            "agent.tool_use",
            "span.model_request_end",
            "session.usage",
            "session.status_idle(requires_action)",
        ]
    );
    let read_ids = ids_of(&reads, "agent.tool_use");
    assert_eq!(requires(reads.last().unwrap()), read_ids);
    let paths: Vec<String> = reads
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentToolUse(u) => {
                Some(u.body.input["file_path"].as_str().unwrap().to_string())
            }
            _ => None,
        })
        .collect();
    assert!(
        paths[0].ends_with("/a.md") && paths[1].ends_with("/b.md"),
        "{paths:?}"
    );

    // Allowing the first re-idles with the second only.
    send(
        &env,
        &session.id,
        vec![confirmation(&read_ids[0], true, None)],
    )
    .await;
    let partial = until_idle(&mut stream).await;
    assert_eq!(
        kinds(&partial),
        [
            "user.tool_confirmation",
            "session.usage",
            "session.status_idle(requires_action)"
        ]
    );
    assert_eq!(requires(partial.last().unwrap()), [read_ids[1].clone()]);

    send(
        &env,
        &session.id,
        vec![confirmation(&read_ids[1], false, Some("not my locker"))],
    )
    .await;
    let last = until_idle(&mut stream).await;
    let k = kinds(&last);
    assert_eq!(
        k[..5],
        [
            "user.tool_confirmation",
            "session.status_running",
            "agent.tool_result",
            "agent.tool_result",
            "span.model_request_start"
        ]
    );
    assert_eq!(k.last().unwrap(), "session.status_idle(end_turn)");
    let results: Vec<(String, bool, String)> = last
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentToolResult(r) => Some((
                r.body.tool_use_id.clone(),
                r.body.is_error == Some(true),
                r.body.content.as_ref().unwrap()[0]
                    .as_text()
                    .unwrap()
                    .to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(results[0].0, read_ids[0]);
    assert!(!results[0].1);
    assert_eq!(results[1].0, read_ids[1]);
    assert!(results[1].1);
    assert_eq!(results[1].2, "Permission denied by the user: not my locker");
    // The agent saw the denial: the allowed file is recalled, the denied one is not.
    let text = reply(&last);
    assert!(text.contains("shoe size 41"), "{text}");
    assert!(!text.contains("7789"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_allows_reads_and_asks_before_deleting_with_its_reason() {
    let env = start().await;
    let store = env.store("Customer Notes").await;
    env.memory(
        &store.id,
        "/preferences.md",
        "# Customer notes\n\n- You like tea.\n",
    )
    .await;
    let tools = vec![toolset(PermissionPolicy::Auto(Empty {}))];
    let (session, mut stream) = session_with(&env, tools, &[(&store.id, Access::ReadWrite)]).await;
    env.client
        .sessions()
        .events()
        .send_text(&session.id, "Please forget everything about me.")
        .await
        .unwrap();
    let first = until_idle(&mut stream).await;
    let uses: Vec<serde_json::Value> = first
        .iter()
        .filter(|e| e.type_name() == "agent.tool_use")
        .map(json_of)
        .collect();
    // find and read: allowed by the judgement; rm: held, high risk.
    assert_eq!(uses.len(), 3, "{:?}", kinds(&first));
    for u in &uses[..2] {
        assert_eq!(u["evaluated_permission"], "allow");
        assert_eq!(u["evaluation"]["type"], "auto");
        assert_eq!(u["evaluation"]["evaluated_permission"]["type"], "allow");
    }
    assert!(
        uses[2]["input"]["command"]
            .as_str()
            .unwrap()
            .starts_with("rm ")
    );
    assert_eq!(uses[2]["evaluated_permission"], "ask");
    assert_eq!(
        uses[2]["evaluation"]["evaluated_permission"],
        serde_json::json!({"type": "ask", "reason_code": "high_risk"})
    );
    let rm_id = uses[2]["id"].as_str().unwrap().to_string();
    assert_eq!(requires(first.last().unwrap()), [rm_id.clone()]);

    send(&env, &session.id, vec![confirmation(&rm_id, false, None)]).await;
    let last = until_idle(&mut stream).await;
    assert_eq!(kind(last.last().unwrap()), "session.status_idle(end_turn)");
    // Denied: the notes are still there.
    let listed = t(env
        .client
        .memory_stores()
        .memories()
        .list(&store.id, &ListMemories::default()))
    .await
    .unwrap();
    assert_eq!(listed.data.len(), 1);
}
