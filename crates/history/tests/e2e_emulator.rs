//! End to end against the embedded emulator: two sessions write the same store, then the history
//! shows both sessions' writes under their `session_actor` labels and the size change as a diff.

use std::future::Future;
use std::time::Duration;

use cma_client::types::{
    Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateMemoryStore,
    CreateSession, Empty, Operation, PermissionPolicy, ResourceParams, Tool,
};
use cma_client::{Client, TurnOptions, run_turn};
use cma_emulator::{Emulator, EmulatorConfig};
use cma_history::{FetchOptions, Format, HistoryFetcher, RenderOptions, render_history};

const LIMIT: Duration = Duration::from_secs(30);

/// Every await that could hang is bounded.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("operation timed out")
}

#[tokio::test]
async fn two_sessions_writes_appear_with_their_actors_and_the_size_change_is_diffed() {
    let emulator = bounded(Emulator::start(EmulatorConfig::default()))
        .await
        .expect("emulator starts");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .api_key("test-key")
        .max_retries(0)
        .timeout(LIMIT)
        .build()
        .expect("client");

    let mut agent = CreateAgent::new("Personal Shopper", "claude-sonnet-4-6");
    agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAllow(Empty {}),
    ))]);
    let agent = bounded(client.agents().create(&agent))
        .await
        .expect("agent");
    let environment = CreateEnvironment {
        name: "shopping-demo".into(),
        ..Default::default()
    };
    let environment = bounded(client.environments().create(&environment))
        .await
        .expect("environment");
    let store = CreateMemoryStore {
        name: "Shopper Preferences".into(),
        ..Default::default()
    };
    let store = bounded(client.memory_stores().create(&store))
        .await
        .expect("store");

    let mut sessions = Vec::new();
    for message in [
        "Hi! I wear a size medium and my budget is under $200.",
        // The reference agent knows no sizes: the update names the same phrase ("a size …").
        "Actually I wear a size large now.",
    ] {
        let mut params = CreateSession::new(AgentRef::Id(agent.id.clone()), environment.id.clone());
        params.resources = Some(vec![ResourceParams::memory_store(
            &store.id,
            Access::ReadWrite,
            None,
        )]);
        let session = bounded(client.sessions().create(&params))
            .await
            .expect("session");
        let options = TurnOptions {
            turn_timeout: LIMIT,
            gap_timeout: LIMIT,
            max_reconnects: 2,
        };
        let turn = bounded(run_turn(&client, &session.id, message, &options))
            .await
            .expect("turn");
        assert!(!turn.reply.is_empty(), "the agent replied");
        sessions.push(session.id);
    }

    let mut fetcher = HistoryFetcher::new(&client, &store.id, FetchOptions::default());
    let mut history = bounded(fetcher.list()).await.expect("history");
    bounded(fetcher.load_shown(&mut history))
        .await
        .expect("content");

    let mut out = Vec::new();
    render_history(&history, Format::Text, &RenderOptions::default(), &mut out).expect("render");
    let text = String::from_utf8(out).expect("utf-8");
    for session in &sessions {
        let label = format!("session {session}");
        assert!(
            history.versions().iter().any(|v| v.author_label() == label),
            "no version written by {label}:\n{text}"
        );
        assert!(text.contains(&label), "{text}");
    }

    // A `modified` version whose diff removes "medium" and adds "large".
    let mut json = Vec::new();
    render_history(&history, Format::Json, &RenderOptions::default(), &mut json).expect("render");
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let entries = doc["entries"].as_array().expect("entries");
    let size_change = entries.iter().find(|e| {
        let lines = || {
            e["hunks"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|h| h["lines"].as_array().into_iter().flatten())
        };
        e["version"]["operation"] == Operation::Modified.as_str()
            && lines().any(|l| {
                l["op"] == "removed"
                    && l["text"]
                        .as_str()
                        .is_some_and(|t| t.to_lowercase().contains("medium"))
            })
            && lines().any(|l| {
                l["op"] == "added"
                    && l["text"]
                        .as_str()
                        .is_some_and(|t| t.to_lowercase().contains("large"))
            })
    });
    let size_change =
        size_change.unwrap_or_else(|| panic!("no modified version shows medium -> large:\n{text}"));
    assert_eq!(
        size_change["version"]["created_by"]["type"],
        "session_actor"
    );
    assert_eq!(
        size_change["version"]["created_by"]["session_id"],
        sessions[1].as_str()
    );

    emulator.shutdown().await;
}
