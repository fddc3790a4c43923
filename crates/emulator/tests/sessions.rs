//! Agents, environments, sessions, events and the live stream.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use cma_client::types::*;
use cma_client::{TurnOptions, run_turn};
use cma_emulator::{EmulatorConfig, FaultConfig};
use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn agents_and_versions() {
    let env = start().await;
    let a = env.client.agents();
    let agent = env.agent("claude-sonnet-4-6").await;
    assert!(agent.id.starts_with("agent_01"));
    assert_eq!(agent.version, 1);
    assert_eq!(agent.model.id(), "claude-sonnet-4-6");
    let raw = env
        .raw(
            Method::GET,
            &format!("/v1/agents/{}", agent.id),
            &[MA],
            None,
        )
        .await;
    assert_eq!(raw.body["model"]["id"], "claude-sonnet-4-6");
    // The response form lists every toolset tool, resolved with the default config.
    let configs = raw.body["tools"][0]["configs"].as_array().expect("configs");
    let names: Vec<&str> = configs.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "bash",
            "read",
            "write",
            "edit",
            "glob",
            "grep",
            "web_fetch",
            "web_search"
        ]
    );
    assert!(
        configs
            .iter()
            .all(|c| c["type"] == c["name"] && c["enabled"] == true)
    );
    assert_eq!(
        raw.body["tools"][0]["default_config"]["permission_policy"]["type"],
        "always_allow"
    );
    assert_eq!(raw.body["execution_identity"]["type"], "service_account");

    let up = UpdateAgent {
        system: Some(Some("be nice".into())),
        version: Some(1),
        ..Default::default()
    };
    let v2 = t(a.update(&agent.id, &up)).await.unwrap();
    assert_eq!(v2.version, 2);
    let stale = UpdateAgent {
        system: Some(Some("other".into())),
        version: Some(1),
        ..Default::default()
    };
    let e = t(a.update(&agent.id, &stale)).await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    let same = t(a.update(
        &agent.id,
        &UpdateAgent {
            system: Some(Some("be nice".into())),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    assert_eq!(same.version, 2, "a no-op update makes no version");
    assert_eq!(
        t(a.retrieve(&agent.id, Some(1))).await.unwrap().system,
        None
    );
    assert_eq!(t(a.retrieve(&agent.id, None)).await.unwrap().version, 2);
    assert_eq!(
        t(a.retrieve(&agent.id, Some(9)))
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    let versions = t(a.versions().list(&agent.id, &ListAgentVersions::default()))
        .await
        .unwrap()
        .data;
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        t(a.list(&ListAgents::default())).await.unwrap().data.len(),
        1
    );
    let archived = t(a.archive(&agent.id)).await.unwrap();
    assert!(archived.archived_at.is_some());
    assert!(
        t(a.list(&ListAgents::default()))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(
        t(a.update(&agent.id, &up)).await.unwrap_err().status(),
        Some(400)
    );
}

#[tokio::test]
async fn environments_crud() {
    let env = start().await;
    let e = env.client.environments();
    let created = env.environment().await;
    assert!(created.id.starts_with("env_01"));
    assert!(matches!(created.config, Some(EnvironmentConfig::Cloud(_))));
    let up = UpdateEnvironment {
        description: Some(Some("d".into())),
        ..Default::default()
    };
    assert_eq!(
        t(e.update(&created.id, &up))
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("d")
    );
    let bad = UpdateEnvironment {
        config: Some(Some(json!({"type":"self_hosted"}))),
        ..Default::default()
    };
    let err = t(e.update(&created.id, &bad)).await.unwrap_err();
    assert_eq!(
        err.api().unwrap().error_code.as_deref(),
        Some("invalid_config_type_change")
    );
    assert_eq!(
        t(e.list(&ListEnvironments::default()))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    t(e.archive(&created.id)).await.unwrap();
    let err = t(e.update(&created.id, &up)).await.unwrap_err();
    assert_eq!(
        err.api().unwrap().error_code.as_deref(),
        Some("environment_archived")
    );
    let d = t(e.delete(&created.id)).await.unwrap();
    assert_eq!(d.kind, "environment_deleted");
    assert_eq!(
        t(e.retrieve(&created.id)).await.unwrap_err().status(),
        Some(404)
    );
}

#[tokio::test]
async fn session_create_forms_and_resources() {
    let env = start().await;
    let s = env.client.sessions();
    let agent = env.agent("claude-sonnet-4-6").await;
    let e = env.environment().await;
    let store = env.store("Shopper Preferences").await;
    let twin = env.store("shopper  preferences!").await;
    let odd = env.store("***").await;

    let mut p = CreateSession::new(AgentRef::Id(agent.id.clone()), e.id.clone());
    p.resources = Some(vec![
        ResourceParams::memory_store(&store.id, Access::ReadWrite, Some("Check it first.".into())),
        ResourceParams::memory_store(&twin.id, Access::ReadOnly, None),
        ResourceParams::memory_store(&odd.id, Access::ReadWrite, None),
        ResourceParams::File(FileResourceParams {
            file_id: "file_01abc".into(),
            mount_path: None,
        }),
    ]);
    let session = t(s.create(&p)).await.unwrap();
    assert!(session.id.starts_with("sesn_01"));
    assert_eq!(session.status, SessionStatus::Idle);
    let mounts: Vec<_> = session
        .memory_stores()
        .map(|m| m.mount_path.clone().unwrap())
        .collect();
    assert_eq!(
        mounts,
        [
            "/mnt/memory/shopper-preferences",
            "/mnt/memory/shopper-preferences-2",
            "/mnt/memory/store"
        ]
    );
    let first = session.memory_stores().next().unwrap();
    assert_eq!(first.access, Some(Access::ReadWrite));
    assert_eq!(first.name.as_deref(), Some("Shopper Preferences"));
    assert_eq!(first.description.as_deref(), Some(""));
    assert!(
        matches!(&session.resources[3], SessionResource::File(f) if f.mount_path == "/mnt/session/uploads/file_01abc")
    );
    assert_eq!(session.agent.id, agent.id);

    // Later store renames do not reach the attached copy.
    let up = UpdateMemoryStore {
        name: Some(Some("New".into())),
        ..Default::default()
    };
    t(env.client.memory_stores().update(&store.id, &up))
        .await
        .unwrap();
    let again = t(s.retrieve(&session.id)).await.unwrap();
    assert_eq!(
        again.memory_stores().next().unwrap().name.as_deref(),
        Some("Shopper Preferences")
    );

    // Pinned versions and overrides.
    t(env.client.agents().update(
        &agent.id,
        &UpdateAgent {
            system: Some(Some("v2".into())),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let pinned = t(s.create(&CreateSession::new(
        AgentRef::version(&agent.id, Some(1)),
        e.id.clone(),
    )))
    .await
    .unwrap();
    assert_eq!(
        (pinned.agent.version, pinned.agent.system.clone()),
        (1, None)
    );
    let latest = t(s.create(&CreateSession::new(
        AgentRef::version(&agent.id, None),
        e.id.clone(),
    )))
    .await
    .unwrap();
    assert_eq!(latest.agent.version, 2);
    let over = AgentRef::Spec(AgentSpec::WithOverrides(AgentWithOverrides {
        id: agent.id.clone(),
        model: Some(ModelRef::Id("emulator:stall".into())),
        system: Some(None),
        ..Default::default()
    }));
    let overridden = t(s.create(&CreateSession::new(over, e.id.clone())))
        .await
        .unwrap();
    assert_eq!(overridden.agent.model.id(), "emulator:stall");
    assert_eq!(overridden.agent.system, None);
    assert_eq!(
        t(env.client.agents().retrieve(&agent.id, None))
            .await
            .unwrap()
            .model
            .id(),
        "claude-sonnet-4-6"
    );

    // Errors.
    let missing = CreateSession::new(AgentRef::Id("agent_01missing".into()), e.id.clone());
    assert_eq!(t(s.create(&missing)).await.unwrap_err().status(), Some(404));
    let missing_env = CreateSession::new(AgentRef::Id(agent.id.clone()), "env_01missing");
    assert_eq!(
        t(s.create(&missing_env)).await.unwrap_err().status(),
        Some(404)
    );
    let with = |resources: Vec<ResourceParams>| {
        let mut p = CreateSession::new(AgentRef::Id(agent.id.clone()), e.id.clone());
        p.resources = Some(resources);
        p
    };
    let dup = with(vec![
        ResourceParams::memory_store(&store.id, Access::ReadWrite, None),
        ResourceParams::memory_store(&store.id, Access::ReadOnly, None),
    ]);
    assert_eq!(t(s.create(&dup)).await.unwrap_err().status(), Some(400));
    let long = with(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        Some("x".repeat(4097)),
    )]);
    assert_eq!(t(s.create(&long)).await.unwrap_err().status(), Some(400));
    let ok = with(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        Some("x".repeat(4096)),
    )]);
    t(s.create(&ok)).await.unwrap();
    let mut nine = Vec::new();
    for i in 0..9 {
        nine.push(ResourceParams::memory_store(
            env.store(&format!("s{i}")).await.id,
            Access::ReadWrite,
            None,
        ));
    }
    assert_eq!(
        t(s.create(&with(nine[..8].to_vec())))
            .await
            .unwrap()
            .memory_stores()
            .count(),
        8
    );
    assert_eq!(
        t(s.create(&with(nine))).await.unwrap_err().status(),
        Some(400)
    );
    let unknown_store = with(vec![ResourceParams::memory_store(
        "memstore_01missing",
        Access::ReadWrite,
        None,
    )]);
    assert_eq!(
        t(s.create(&unknown_store)).await.unwrap_err().status(),
        Some(404)
    );

    t(env.client.agents().archive(&agent.id)).await.unwrap();
    let archived = CreateSession::new(AgentRef::Id(agent.id.clone()), e.id.clone());
    assert_eq!(
        t(s.create(&archived)).await.unwrap_err().status(),
        Some(400)
    );
    let agent2 = env.agent("claude-sonnet-4-6").await;
    t(env.client.environments().archive(&e.id)).await.unwrap();
    let e2 = t(s.create(&CreateSession::new(AgentRef::Id(agent2.id), e.id.clone())))
        .await
        .unwrap_err();
    assert_eq!(e2.status(), Some(400));
}

#[tokio::test]
async fn session_list_filters_and_pages() {
    let env = start().await;
    let s = env.client.sessions();
    let store = env.store("s").await;
    let a = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let b = env.session("claude-sonnet-4-6", &[]).await;
    let c = env.session("emulator:stall", &[]).await;
    t(env.client.sessions().events().send_text(&c.id, "hang"))
        .await
        .unwrap();
    t(s.archive(&b.id)).await.unwrap();

    let ids = |page: Page<Session>| page.data.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(t(s.list(&ListSessions::default())).await.unwrap()),
        [c.id.clone(), a.id.clone()]
    );
    let all = ListSessions {
        include_archived: Some(true),
        ..Default::default()
    };
    assert_eq!(
        ids(t(s.list(&all)).await.unwrap()),
        [c.id.clone(), b.id.clone(), a.id.clone()]
    );
    let asc = ListSessions {
        include_archived: Some(true),
        order: Some(Order::Asc),
        ..Default::default()
    };
    assert_eq!(
        ids(t(s.list(&asc)).await.unwrap()),
        [a.id.clone(), b.id.clone(), c.id.clone()]
    );
    let by_store = ListSessions {
        memory_store_id: Some(store.id.clone()),
        ..Default::default()
    };
    assert_eq!(ids(t(s.list(&by_store)).await.unwrap()), vec![a.id.clone()]);
    let running = ListSessions {
        statuses: vec![SessionStatus::Running],
        ..Default::default()
    };
    assert_eq!(ids(t(s.list(&running)).await.unwrap()), vec![c.id.clone()]);
    let r = env
        .raw(
            Method::GET,
            "/v1/sessions?statuses=idle&statuses=running",
            &[MA],
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let by_agent = ListSessions {
        agent_id: Some(a.agent.id.clone()),
        agent_version: Some(1),
        ..Default::default()
    };
    assert_eq!(ids(t(s.list(&by_agent)).await.unwrap()), vec![a.id.clone()]);
    env.raw(Method::GET, "/v1/sessions?agent_version=1", &[MA], None)
        .await
        .assert_error(400, "invalid_request_error");
    env.raw(Method::GET, "/v1/sessions?statuses[]=sleeping", &[MA], None)
        .await
        .assert_error(400, "invalid_request_error");
    let after = ListSessions {
        created_at_gt: Some(a.created_at),
        include_archived: Some(true),
        ..Default::default()
    };
    assert_eq!(
        ids(t(s.list(&after)).await.unwrap()),
        [c.id.clone(), b.id.clone()]
    );
    let upto = ListSessions {
        created_at_lte: Some(a.created_at),
        ..Default::default()
    };
    assert_eq!(ids(t(s.list(&upto)).await.unwrap()), vec![a.id.clone()]);

    // Pages of two with next_page and prev_page.
    let p1 = t(s.list(&ListSessions {
        limit: Some(2),
        include_archived: Some(true),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert!(p1.prev_page.is_none());
    let raw = env
        .raw(Method::GET, "/v1/sessions?limit=2", &[MA], None)
        .await;
    assert!(
        raw.body.get("prev_page").is_some(),
        "the sessions list always carries prev_page"
    );
    let p2 = t(s.list(&ListSessions {
        limit: Some(2),
        include_archived: Some(true),
        page: p1.next_page.clone(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(p2.data.len(), 1);
    assert!(p2.next_page.is_none());
    let back = t(s.list(&ListSessions {
        limit: Some(2),
        include_archived: Some(true),
        page: p2.prev_page.clone(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(ids(back), ids(p1));
    t(env.client.sessions().delete(&c.id)).await.unwrap();
}

#[tokio::test]
async fn turn_event_order_and_stream_ids_match_the_list() {
    let env = start().await;
    let store = env.store("Shopper Preferences").await;
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let mut stream = RawStream::open(&env, &session.id, "").await;
    assert_eq!(stream.content_type, "text/event-stream");
    let sent = t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hi! I wear a size medium."))
    .await
    .unwrap();
    assert_eq!(sent.data.len(), 1);
    let echo_id = sent.data[0].id().unwrap().to_string();
    assert!(echo_id.starts_with("sevt_01"));
    let frames = stream.until("session.status_idle").await;
    for (name, data) in &frames {
        assert_eq!(
            name,
            data["type"].as_str().unwrap(),
            "event: is the JSON type"
        );
    }
    let kinds: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &kinds[..3],
        [
            "user.message",
            "session.status_running",
            "span.model_request_start"
        ]
    );
    assert_eq!(
        &kinds[kinds.len() - 4..],
        [
            "agent.message",
            "span.model_request_end",
            "session.usage",
            "session.status_idle"
        ]
    );
    assert_eq!(frames[0].1["id"], echo_id.as_str());
    let start_id = frames[2].1["id"].clone();
    let end = &frames[frames.len() - 3].1;
    assert_eq!(end["model_request_start_id"], start_id);
    assert!(end["model_usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(frames.last().unwrap().1["stop_reason"]["type"], "end_turn");
    // Every tool use is answered by its result before anything else of the agent's.
    let middle = &frames[3..frames.len() - 4];
    let mut i = 0;
    while i < middle.len() {
        match middle[i].0.as_str() {
            "agent.tool_use" => {
                assert_eq!(middle[i + 1].0, "agent.tool_result");
                assert_eq!(middle[i + 1].1["tool_use_id"], middle[i].1["id"]);
                assert_eq!(middle[i].1["evaluated_permission"], "allow");
                assert_eq!(middle[i].1["evaluation"]["type"], "always_allow");
                i += 2;
            }
            "agent.message" => i += 1,
            other => panic!("unexpected {other} mid-turn"),
        }
    }
    let listed = env.events(&session.id).await;
    let listed_ids: Vec<String> = listed.iter().map(|e| e.id().unwrap().to_string()).collect();
    let streamed_ids: Vec<String> = frames
        .iter()
        .map(|(_, d)| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed_ids, streamed_ids);
    let idle = env.wait_idle(&session.id).await;
    assert_eq!(idle.status, SessionStatus::Idle);
    assert!(idle.usage.unwrap().input_tokens.unwrap() > 0);

    // The typed client's turn loop sees the same thing.
    let turn = t(run_turn(
        &env.client,
        &session.id,
        "Hey, I'm back!",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally());
    assert!(!turn.reply.is_empty());
    assert_eq!(turn.events.first().unwrap().type_name(), "user.message");

    // Event list filters.
    let types = ListEvents {
        types: vec!["session.status_idle".into()],
        ..Default::default()
    };
    assert_eq!(
        t(env.client.sessions().events().list(&session.id, &types))
            .await
            .unwrap()
            .data
            .len(),
        2
    );
    let desc = ListEvents {
        order: Some(Order::Desc),
        limit: Some(1),
        ..Default::default()
    };
    let last = t(env.client.sessions().events().list(&session.id, &desc))
        .await
        .unwrap();
    assert_eq!(last.data[0].type_name(), "session.status_idle");
    assert!(last.next_page.is_some());
    let since = ListEvents {
        created_at_gt: listed.last().unwrap().processed_at(),
        limit: Some(1000),
        ..Default::default()
    };
    let newer = t(env.client.sessions().events().list(&session.id, &since))
        .await
        .unwrap()
        .data;
    assert_eq!(newer.first().unwrap().type_name(), "user.message");
    env.raw(
        Method::GET,
        &format!("/v1/sessions/{}/events?limit=1001", session.id),
        &[MA],
        None,
    )
    .await
    .assert_error(400, "invalid_request_error");
    env.raw(
        Method::GET,
        &format!("/v1/sessions/{}/events?types[]=bogus", session.id),
        &[MA],
        None,
    )
    .await
    .assert_error(400, "invalid_request_error");
}

#[tokio::test]
async fn deltas_stream_previews_then_the_message() {
    let env = start().await;
    let session = env.session("claude-sonnet-4-6", &[]).await;
    let mut stream = RawStream::open(&env, &session.id, "?event_deltas[]=agent.message").await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello there"))
    .await
    .unwrap();
    let frames = stream.until("session.status_idle").await;
    let pos = frames
        .iter()
        .rposition(|(n, _)| n == "agent.message")
        .unwrap();
    let msg_id = frames[pos].1["id"].clone();
    let start = frames
        .iter()
        .position(|(n, d)| n == "event_start" && d["event"]["id"] == msg_id)
        .unwrap();
    assert_eq!(frames[start].1["event"]["type"], "agent.message");
    assert!(frames[start].1.get("id").is_none());
    let deltas: String = frames[start + 1..pos]
        .iter()
        .map(|(n, d)| {
            assert_eq!(n, "event_delta");
            assert_eq!(d["event_id"], msg_id);
            d["delta"]["content"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        deltas,
        frames[pos].1["content"][0]["text"].as_str().unwrap()
    );
    let bad = env
        .raw(
            Method::GET,
            &format!("/v1/sessions/{}/events/stream?event_deltas[]=x", session.id),
            &[MA],
            None,
        )
        .await;
    bad.assert_error(400, "invalid_request_error");
}

#[tokio::test]
async fn stall_interrupt_archive_and_delete() {
    let env = start_with(EmulatorConfig {
        ping_interval: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let s = env.client.sessions();
    let session = env.session("emulator:stall", &[]).await;
    let mut stream = RawStream::open(&env, &session.id, "").await;
    t(s.events().send_text(&session.id, "hang")).await.unwrap();
    let frames = stream.until("span.model_request_start").await;
    assert_eq!(frames.len(), 3);
    // Only pings follow while stalled.
    let (name, data) = stream.next().await.unwrap();
    assert_eq!(
        (name.as_str(), data.as_str()),
        ("ping", r#"{"type":"ping"}"#)
    );
    assert_eq!(
        t(s.retrieve(&session.id)).await.unwrap().status,
        SessionStatus::Running
    );
    let e = t(s.archive(&session.id)).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    // A message while running is queued, not run.
    t(s.events().send_text(&session.id, "still there?"))
        .await
        .unwrap();
    t(s.events().send(
        &session.id,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    ))
    .await
    .unwrap();
    let frames = stream.until("session.status_idle").await;
    let kinds: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user.message",
            "user.interrupt",
            "session.usage",
            "session.status_idle"
        ]
    );
    assert_eq!(frames[3].1["stop_reason"]["type"], "end_turn");
    assert_eq!(
        t(s.retrieve(&session.id)).await.unwrap().status,
        SessionStatus::Idle
    );
    let archived = t(s.archive(&session.id)).await.unwrap();
    assert!(archived.archived_at.is_some());
    let e = t(s.events().send_text(&session.id, "x")).await.unwrap_err();
    assert_eq!(e.status(), Some(400));

    // Deleting a running session emits session.deleted and ends the stream.
    let other = env.session("emulator:stall", &[]).await;
    let mut stream = RawStream::open(&env, &other.id, "").await;
    t(s.events().send_text(&other.id, "hang")).await.unwrap();
    stream.until("span.model_request_start").await;
    let d = t(s.delete(&other.id)).await.unwrap();
    assert_eq!(d.kind, "session_deleted");
    let frames = stream.until("session.deleted").await;
    assert_eq!(frames.last().unwrap().0, "session.deleted");
    loop {
        match stream.next().await {
            None => break,
            Some((name, _)) => assert_eq!(name, "ping"),
        }
    }
    assert_eq!(
        t(s.retrieve(&other.id)).await.unwrap_err().status(),
        Some(404)
    );
}

#[tokio::test]
async fn session_update_emits_session_updated() {
    let env = start().await;
    let s = env.client.sessions();
    let session = env.session("claude-sonnet-4-6", &[]).await;
    let mut stream = RawStream::open(&env, &session.id, "").await;
    let mut patch = MetadataPatch::new();
    patch.insert("k".into(), Some("v".into()));
    let up = UpdateSession {
        title: Some(Some("T".into())),
        metadata: Some(Some(patch)),
        ..Default::default()
    };
    let updated = t(s.update(&session.id, &up)).await.unwrap();
    assert_eq!(updated.title.as_deref(), Some("T"));
    let frames = stream.until("session.updated").await;
    assert_eq!(frames[0].1["title"], "T");
    assert_eq!(frames[0].1["metadata"]["k"], "v");
    let budget = UpdateSession {
        budget: Some(Some(Budget {
            kind: "limit".into(),
            max_list_cost: Money {
                amount: "100".into(),
                currency: "USD".into(),
            },
        })),
        ..Default::default()
    };
    assert_eq!(
        t(s.update(&session.id, &budget))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    let vaults = UpdateSession {
        vault_ids: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        t(s.update(&session.id, &vaults))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
}

#[tokio::test]
async fn initial_events_and_send_validation() {
    let env = start().await;
    let agent = env.agent("claude-sonnet-4-6").await;
    let e = env.environment().await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id.clone()), e.id.clone());
    p.initial_events = Some(vec![
        ClientEvent::UserMessage(UserMessage::text("first")),
        ClientEvent::UserMessage(UserMessage::text("second")),
    ]);
    let session = t(env.client.sessions().create(&p)).await.unwrap();
    env.wait_idle(&session.id).await;
    let events = env.events(&session.id).await;
    let kinds: Vec<&str> = events.iter().map(SessionEvent::type_name).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "user.message").count(), 2);
    assert!(kinds.iter().filter(|k| **k == "agent.message").count() >= 2);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "session.status_idle")
            .count(),
        1,
        "queued turns run back to back"
    );
    assert_eq!(kinds.last(), Some(&"session.status_idle"));

    let too_many = CreateSession {
        initial_events: Some(vec![ClientEvent::UserMessage(UserMessage::text("x")); 51]),
        ..p.clone()
    };
    assert_eq!(
        t(env.client.sessions().create(&too_many))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );

    let url = format!("/v1/sessions/{}/events", session.id);
    let before = env.events(&session.id).await.len();
    for (body, needle) in [
        (json!({"events": []}), "events"),
        (
            json!({"events": [{"type": "user.message", "content": []}]}),
            "content",
        ),
        (
            json!({"events": [{"type": "user.message", "content": [{"type":"text","text":""}]}]}),
            "text",
        ),
        (json!({"events": [{"type": "user.message"}]}), "content"),
        (
            json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": "sevt_01x", "result": "allow"}]}),
            "tool_use_id",
        ),
        (
            json!({"events": [{"type": "system.message", "content": [{"type":"text","text":"s"}]}]}),
            "system.message",
        ),
        (
            json!({"events": [{"type": "user.message", "content": [{"type":"text","text":"u"}]}, {"type": "system.message", "content": [{"type":"text","text":"s"}]}, {"type":"user.interrupt"}]}),
            "last",
        ),
        (json!({"events": [{"type": "user.teleport"}]}), "type"),
    ] {
        let r = env
            .raw(Method::POST, &url, &[MA], Some(&body.to_string()))
            .await;
        r.assert_error(400, "invalid_request_error");
        assert!(r.message().contains(needle), "{body}: {}", r.message());
    }
    assert_eq!(
        env.events(&session.id).await.len(),
        before,
        "nothing invalid was stored"
    );
    let ok = json!({"events": [{"type": "user.message", "content": [{"type":"text","text":"u"}]}, {"type": "system.message", "content": [{"type":"text","text":"be brief"}]}]});
    let r = env
        .raw(Method::POST, &url, &[MA], Some(&ok.to_string()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body["data"][1]["processed_at"].is_string());
    env.wait_idle(&session.id).await;
}

#[tokio::test]
async fn stream_cut_after_n_events() {
    let faults = FaultConfig {
        stream_cut_after_events: Some(2),
        ..Default::default()
    };
    let env = start_with(EmulatorConfig {
        faults,
        ..Default::default()
    })
    .await;
    let session = env.session("claude-sonnet-4-6", &[]).await;
    let mut stream = RawStream::open(&env, &session.id, "").await;
    t(env.client.sessions().events().send_text(&session.id, "hi"))
        .await
        .unwrap();
    let mut names = Vec::new();
    while let Some((name, _)) = stream.next().await {
        names.push(name);
    }
    assert_eq!(names, ["user.message", "session.status_running"]);
    // The client's turn loop recovers through the events list.
    env.wait_idle(&session.id).await;
    let turn = t(run_turn(
        &env.client,
        &session.id,
        "again",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally(), "{turn:?}");
    assert!(turn.reconnects > 0);
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_drop_stops_serving() {
    let env = start().await;
    let session = env.session("claude-sonnet-4-6", &[]).await;
    let mut stream = RawStream::open(&env, &session.id, "").await;
    let base = env.emu.base_url();
    t(env.emu.shutdown()).await;
    assert!(
        stream.next().await.is_none(),
        "the stream ended with the server"
    );
    let refused = t(reqwest::Client::new()
        .get(format!("{base}/v1/agents"))
        .send())
    .await;
    assert!(refused.is_err());

    let env = start().await;
    let base = env.emu.base_url();
    drop(env);
    tokio::task::yield_now().await;
    let refused = t(reqwest::Client::new()
        .get(format!("{base}/v1/agents"))
        .send())
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn cookbook_flow_over_raw_json() {
    let env = start().await;
    let post = |path: &str, beta: &'static str, body: serde_json::Value| {
        let env = &env;
        let path = path.to_string();
        async move {
            let r = env
                .raw(Method::POST, &path, &[beta], Some(&body.to_string()))
                .await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            r.body
        }
    };
    let store = post(
        "/v1/memory_stores",
        AM,
        json!({"name": "Shopper Preferences", "description": "Personal shopping preferences."}),
    )
    .await;
    let environment = post("/v1/environments", MA, json!({"name": "shopping-demo", "config": {"type": "cloud", "networking": {"type": "limited"}}})).await;
    assert_eq!(environment["config"]["networking"]["type"], "limited");
    let agent = post(
        "/v1/agents",
        MA,
        json!({"name": "Personal Shopper", "model": "claude-sonnet-4-6", "system": "You are a personal shopping assistant.",
               "tools": [{"type": "agent_toolset_20260401", "default_config": {"enabled": true, "permission_policy": {"type": "always_allow"}}}]}),
    )
    .await;
    let resource = json!({"type": "memory_store", "memory_store_id": store["id"], "access": "read_write", "instructions": "Check it at the start."});
    let session = post(
        "/v1/sessions",
        MA,
        json!({"agent": {"type": "agent", "id": agent["id"], "version": agent["version"]}, "environment_id": environment["id"], "resources": [resource]}),
    )
    .await;
    assert_eq!(
        session["resources"][0]["mount_path"],
        "/mnt/memory/shopper-preferences"
    );
    assert_eq!(
        session["resources"][0]["description"],
        "Personal shopping preferences."
    );
    assert!(session["resources"][0].get("id").is_none());
    let sid = session["id"].as_str().unwrap();
    let turn = t(run_turn(
        &env.client,
        sid,
        "Hi! I wear a size medium.",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally());
    env.wait_idle(sid).await;
    let r = env
        .raw(
            Method::GET,
            &format!(
                "/v1/memory_stores/{}/memories?view=full",
                store["id"].as_str().unwrap()
            ),
            &[AM],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    post(&format!("/v1/sessions/{sid}/archive"), MA, json!(null)).await;
    let r = env
        .raw(
            Method::DELETE,
            &format!("/v1/memory_stores/{}", store["id"].as_str().unwrap()),
            &[AM],
            None,
        )
        .await;
    assert_eq!(r.body["type"], "memory_store_deleted");
    post(
        &format!("/v1/agents/{}/archive", agent["id"].as_str().unwrap()),
        MA,
        json!(null),
    )
    .await;
    post(
        &format!(
            "/v1/environments/{}/archive",
            environment["id"].as_str().unwrap()
        ),
        MA,
        json!(null),
    )
    .await;
}

#[tokio::test]
async fn effort_and_execution_identity_are_stored_in_their_response_form() {
    let env = start().await;
    let body = json!({
        "name": "Effortful",
        "model": {"id": "claude-sonnet-4-6", "effort": "high"},
        "execution_identity": {"type": "aws_role", "role_arn": "arn:aws:iam::123456789012:role/a"},
    });
    let created = env
        .raw(Method::POST, "/v1/agents", &[MA], Some(&body.to_string()))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["model"]["effort"], json!({"type": "high"}));
    assert_eq!(
        created.body["execution_identity"],
        json!({"type": "aws_role", "role_arn": "arn:aws:iam::123456789012:role/a"})
    );

    for (bad, field) in [
        (
            json!({"name": "x", "model": {"id": "claude-sonnet-4-6", "effort": "ludicrous"}}),
            "model.effort",
        ),
        (
            json!({"name": "x", "model": "claude-sonnet-4-6", "execution_identity": {"type": "aws_role", "role_arn": ""}}),
            "execution_identity",
        ),
        (
            json!({"name": "x", "model": "claude-sonnet-4-6", "execution_identity": {"type": "root"}}),
            "execution_identity",
        ),
    ] {
        let r = env
            .raw(Method::POST, "/v1/agents", &[MA], Some(&bad.to_string()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert!(
            r.message().starts_with(field),
            "{bad}: the error names {field}: {:?}",
            r.message()
        );
    }
}
