//! Self-hosted environments over HTTP through the client: a session queues a work item, and a
//! worker polls, acknowledges, heartbeats and stops it, as the SDK's `EnvironmentWorker` does.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use cma_client::types::*;
use cma_client::{Client, Error};
use cma_emulator::EmulatorConfig;
use common::turns::{confirmation, kinds, requires, send, send_bad, toolset, until_idle};
use common::*;
use reqwest::Method;

/// A client that presents `key` as a Bearer token, as the worker presents its environment key.
fn bearer_client(base: &str, key: &str) -> Client {
    Client::builder()
        .base_url(base)
        .max_retries(0)
        .backoff_scale(0.0)
        .timeout(LIMIT)
        .auth_token(key)
        .build()
        .unwrap()
}

async fn self_hosted_env(env: &Env) -> Environment {
    let p = CreateEnvironment {
        name: "my-hosts".into(),
        config: Some(EnvironmentConfig::SelfHosted(Empty {})),
        ..Default::default()
    };
    t(env.client.environments().create(&p)).await.unwrap()
}

async fn session_in(env: &Env, environment_id: &str, stores: &[&str]) -> Session {
    let agent = env.agent("claude-sonnet-4-6").await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id), environment_id);
    p.resources = Some(
        stores
            .iter()
            .map(|id| ResourceParams::memory_store(*id, Access::ReadWrite, None))
            .collect(),
    );
    t(env.client.sessions().create(&p)).await.unwrap()
}

fn api_error(e: Error) -> Box<cma_client::ApiError> {
    match e {
        Error::Api(a) => a,
        other => panic!("expected an API error, got {other}"),
    }
}

/// The sessions token inside a polled item's `secret` (URL-safe base64 JSON, as the SDK reads it).
fn sessions_token(work: &Work) -> String {
    let secret = work
        .secret
        .as_deref()
        .expect("a polled item carries its secret");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["sessions_token"].as_str().unwrap().to_string()
}

fn poll_now() -> PollWork {
    PollWork::default()
}

#[tokio::test]
async fn a_session_queues_work_that_a_worker_claims_holds_and_stops() {
    let env = start().await;
    let e = self_hosted_env(&env).await;
    let session = session_in(&env, &e.id, &[]).await;
    let worker = bearer_client(&env.emu.base_url(), "env-key-anything");
    let q = worker.environments().work();

    let listed = t(q.list(&e.id, &ListWork::default())).await.unwrap().data;
    assert_eq!(listed.len(), 1);
    let item = &listed[0];
    assert!(item.id.starts_with("work_"), "{}", item.id);
    assert_eq!(item.state, WorkState::Queued);
    assert_eq!(
        (item.data.kind.as_str(), item.data.id.as_str()),
        ("session", session.id.as_str())
    );
    assert_eq!(item.environment_id, e.id);
    assert_eq!(
        item.secret, None,
        "only the poll response carries the secret"
    );
    let stats = t(env.client.environments().work().stats(&e.id))
        .await
        .unwrap();
    assert_eq!((stats.depth, stats.pending), (1, 0));
    assert!(stats.oldest_queued_at.is_some());

    let polled = t(q.poll(
        &e.id,
        &PollWork {
            block_ms: Some(999),
            worker_id: Some("host-1".into()),
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .expect("the queued item");
    assert_eq!(polled.id, item.id);
    assert!(sessions_token(&polled).starts_with("sk-ant-wst-"));
    let stats = t(q.stats(&e.id)).await.unwrap();
    assert_eq!(
        (stats.depth, stats.pending, stats.workers_polling),
        (0, 1, Some(1))
    );
    // Handed out and not yet acknowledged: a second poll does not get it again.
    assert!(t(q.poll(&e.id, &poll_now())).await.unwrap().is_none());

    let acked = t(q.ack(&e.id, &item.id)).await.unwrap();
    assert_eq!(acked.state, WorkState::Starting);
    assert!(acked.acknowledged_at.is_some());
    let again = api_error(t(q.ack(&e.id, &item.id)).await.unwrap_err());
    assert_eq!(again.status, 409);

    let claim = HeartbeatWork {
        expected_last_heartbeat: Some(NO_HEARTBEAT.into()),
        desired_ttl_seconds: Some(120),
    };
    let beat = t(q.heartbeat(&e.id, &item.id, &claim)).await.unwrap();
    assert_eq!(beat.kind, "work_heartbeat");
    assert!(beat.lease_extended);
    assert_eq!(beat.state, WorkState::Active);
    assert_eq!(beat.ttl_seconds, 120);
    assert!(!beat.last_heartbeat.is_empty());

    // A second worker claiming the same lease has lost it: 412 with the server's lease.
    let lost = api_error(t(q.heartbeat(&e.id, &item.id, &claim)).await.unwrap_err());
    assert_eq!(lost.status, 412);
    assert_eq!(
        lost.error_code.as_deref(),
        Some("heartbeat_precondition_failed")
    );
    let current = &lost.body["error"]["details"]["current_state"];
    assert_eq!(current["state"], "active");
    assert_eq!(current["last_heartbeat"], beat.last_heartbeat.as_str());
    assert_eq!(current["lease_extended"], false);
    assert_eq!(current["ttl_seconds"], 120);

    let renew = HeartbeatWork {
        expected_last_heartbeat: Some(beat.last_heartbeat.clone()),
        desired_ttl_seconds: None,
    };
    let beat2 = t(q.heartbeat(&e.id, &item.id, &renew)).await.unwrap();
    assert!(beat2.lease_extended);
    assert_ne!(beat2.last_heartbeat, beat.last_heartbeat);

    let got = t(env.client.environments().work().retrieve(&e.id, &item.id))
        .await
        .unwrap();
    assert_eq!(got.state, WorkState::Active);
    assert_eq!(
        got.latest_heartbeat_at.as_deref(),
        Some(beat2.last_heartbeat.as_str())
    );
    assert!(got.started_at.is_some());
    assert_eq!(got.secret, None);
    let mut patch = MetadataPatch::new();
    patch.insert("host".into(), Some("rack-7".into()));
    let updated = t(env.client.environments().work().update(
        &e.id,
        &item.id,
        &UpdateWork { metadata: patch },
    ))
    .await
    .unwrap();
    assert_eq!(
        updated.metadata.get("host").map(String::as_str),
        Some("rack-7")
    );

    // A graceful stop reaches the worker through its next heartbeat, which no longer compares.
    let stopping = t(q.stop(&e.id, &item.id, &StopWork::default()))
        .await
        .unwrap();
    assert_eq!(stopping.state, WorkState::Stopping);
    assert!(stopping.stop_requested_at.is_some());
    let told = t(q.heartbeat(&e.id, &item.id, &claim)).await.unwrap();
    assert_eq!(
        (told.state, told.lease_extended),
        (WorkState::Stopping, false)
    );
    let stopped = t(q.stop(&e.id, &item.id, &StopWork { force: Some(true) }))
        .await
        .unwrap();
    assert_eq!(stopped.state, WorkState::Stopped);
    assert!(stopped.stopped_at.is_some());
    let twice = api_error(
        t(q.stop(&e.id, &item.id, &StopWork { force: Some(true) }))
            .await
            .unwrap_err(),
    );
    assert_eq!(twice.status, 409);

    // The session is dormant now: a new message queues new work for it.
    assert!(t(q.poll(&e.id, &poll_now())).await.unwrap().is_none());
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hello again"))
    .await
    .unwrap();
    let next = t(q.poll(&e.id, &poll_now()))
        .await
        .unwrap()
        .expect("new work");
    assert_ne!(next.id, item.id);
    assert_eq!(next.data.id, session.id);
    assert_eq!(
        t(q.list(&e.id, &ListWork::default()))
            .await
            .unwrap()
            .data
            .len(),
        2
    );
}

/// A long poll that finds nothing answers `null` at its deadline; one waiting while a session
/// is created gets that session's item.
#[tokio::test]
async fn long_polls_answer_null_when_empty_and_the_item_when_work_arrives() {
    let env = start().await;
    let e = self_hosted_env(&env).await;
    let q = env.client.environments().work();
    let empty = t(q.poll(
        &e.id,
        &PollWork {
            block_ms: Some(20),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    assert!(empty.is_none());

    let client = env.client.clone();
    let env_id = e.id.clone();
    let waiting = tokio::spawn(async move {
        client
            .environments()
            .work()
            .poll(
                &env_id,
                &PollWork {
                    block_ms: Some(999),
                    ..Default::default()
                },
            )
            .await
    });
    let session = session_in(&env, &e.id, &[]).await;
    let got = t(waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("the new session's work");
    assert_eq!(got.data.id, session.id);
}

#[tokio::test]
async fn bad_work_requests_get_clear_errors() {
    let env = start().await;
    let e = self_hosted_env(&env).await;
    let cloud = env.environment().await;
    let q = env.client.environments().work();

    let err = api_error(t(q.poll(&cloud.id, &poll_now())).await.unwrap_err());
    assert_eq!(err.status, 400);
    assert!(err.message.contains("not self_hosted"), "{}", err.message);
    let err = api_error(t(q.stats(&cloud.id)).await.unwrap_err());
    assert_eq!(err.status, 400);
    let err = api_error(t(q.poll("env_01nope", &poll_now())).await.unwrap_err());
    assert_eq!(err.status, 404);

    let err = api_error(t(q.ack(&e.id, "work_01unknown")).await.unwrap_err());
    assert_eq!(err.status, 404);
    assert_eq!(err.error_type, "not_found_error");
    let err = api_error(
        t(q.heartbeat(&e.id, "work_01unknown", &HeartbeatWork::default()))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 404);
    let err = api_error(
        t(q.stop(&e.id, "work_01unknown", &StopWork::default()))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 404);

    for block in ["0", "1000", "soon"] {
        let raw = env
            .raw(
                Method::GET,
                &format!("/v1/environments/{}/work/poll?block_ms={block}", e.id),
                &[MA],
                None,
            )
            .await;
        raw.assert_error(400, "invalid_request_error");
    }

    // An item is found only under its own environment.
    let session = session_in(&env, &e.id, &[]).await;
    let item = t(q.poll(&e.id, &poll_now())).await.unwrap().unwrap();
    assert_eq!(item.data.id, session.id);
    let other = self_hosted_env(&env).await;
    let err = api_error(t(q.ack(&other.id, &item.id)).await.unwrap_err());
    assert_eq!(err.status, 404);
    // Heartbeating an item nobody acknowledged: nobody holds its lease.
    let claim = HeartbeatWork {
        expected_last_heartbeat: Some(NO_HEARTBEAT.into()),
        desired_ttl_seconds: None,
    };
    let err = api_error(t(q.heartbeat(&e.id, &item.id, &claim)).await.unwrap_err());
    assert_eq!(err.status, 412);
    t(q.ack(&e.id, &item.id)).await.unwrap();
    let raw = env
        .raw(
            Method::POST,
            &format!(
                "/v1/environments/{}/work/{}/heartbeat?desired_ttl_seconds=0",
                e.id, item.id
            ),
            &[MA],
            None,
        )
        .await;
    raw.assert_error(400, "invalid_request_error");
    // The refused requests changed nothing: the lease is still unclaimed and claimable.
    assert!(
        t(q.heartbeat(&e.id, &item.id, &claim))
            .await
            .unwrap()
            .lease_extended
    );
    // A cloud session queues nothing.
    let agent = env.agent("claude-sonnet-4-6").await;
    t(env.client.sessions().create(&CreateSession::new(
        AgentRef::Id(agent.id),
        cloud.id.clone(),
    )))
    .await
    .unwrap();
    assert!(t(q.poll(&e.id, &poll_now())).await.unwrap().is_none());
}

/// With `--api-key`, the work queue takes that key as the environment key, and the sessions
/// token of a live item acts for its session (its memory writes are the session's) until the
/// item stops.
#[tokio::test]
async fn with_an_api_key_the_sessions_token_acts_for_its_session_until_the_item_stops() {
    let env = start_with(EmulatorConfig {
        api_key: Some("test-key".into()),
        ..Default::default()
    })
    .await;
    let e = self_hosted_env(&env).await;
    let store = env.store("Notes").await;
    let session = session_in(&env, &e.id, &[&store.id]).await;
    let base = env.emu.base_url();

    let stranger = bearer_client(&base, "not-the-key");
    let err = api_error(
        t(stranger.environments().work().poll(&e.id, &poll_now()))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 401);

    let worker = bearer_client(&base, "test-key");
    let q = worker.environments().work();
    let item = t(q.poll(&e.id, &poll_now())).await.unwrap().unwrap();
    t(q.ack(&e.id, &item.id)).await.unwrap();
    let token = sessions_token(&item);
    let as_session = bearer_client(&base, &token);
    let seen = t(as_session.sessions().retrieve(&session.id))
        .await
        .unwrap();
    assert_eq!(seen.id, session.id);
    let written = t(as_session.memory_stores().memories().create(
        &store.id,
        &CreateMemory {
            path: "/synced.md".into(),
            content: Some("written by the worker's sync".into()),
        },
        None,
    ))
    .await
    .unwrap();
    let versions = t(env.client.memory_stores().memory_versions().list(
        &store.id,
        &ListMemoryVersions {
            memory_id: Some(written.id.clone()),
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .data;
    assert_eq!(versions.len(), 1);
    match &versions[0].created_by {
        Some(Actor::Session(a)) => assert_eq!(a.session_id, session.id),
        other => panic!("expected the session as the writer, got {other:?}"),
    }

    t(q.stop(&e.id, &item.id, &StopWork { force: Some(true) }))
        .await
        .unwrap();
    let err = api_error(
        t(as_session.sessions().retrieve(&session.id))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 401);
}

/// Work items are stored like everything else: after a restart the queue, the lease and the
/// sessions token are as they were.
#[tokio::test]
async fn work_items_and_their_leases_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_path_buf()),
        api_key: Some("test-key".into()),
        ..Default::default()
    };
    let env = start_with(config.clone()).await;
    let e = self_hosted_env(&env).await;
    let session = session_in(&env, &e.id, &[]).await;
    let q = env.client.environments().work();
    let item = t(q.poll(&e.id, &poll_now())).await.unwrap().unwrap();
    t(q.ack(&e.id, &item.id)).await.unwrap();
    let claim = HeartbeatWork {
        expected_last_heartbeat: Some(NO_HEARTBEAT.into()),
        desired_ttl_seconds: Some(600),
    };
    let beat = t(q.heartbeat(&e.id, &item.id, &claim)).await.unwrap();
    t(env.emu.shutdown()).await;

    let env = start_with(config).await;
    let q = env.client.environments().work();
    let got = t(q.retrieve(&e.id, &item.id)).await.unwrap();
    assert_eq!(got.state, WorkState::Active);
    assert_eq!(
        got.latest_heartbeat_at.as_deref(),
        Some(beat.last_heartbeat.as_str())
    );
    let renew = HeartbeatWork {
        expected_last_heartbeat: Some(beat.last_heartbeat.clone()),
        desired_ttl_seconds: None,
    };
    assert!(
        t(q.heartbeat(&e.id, &item.id, &renew))
            .await
            .unwrap()
            .lease_extended
    );
    let as_session = bearer_client(&env.emu.base_url(), &sessions_token(&item));
    assert_eq!(
        t(as_session.sessions().retrieve(&session.id))
            .await
            .unwrap()
            .id,
        session.id
    );
}

fn tool_result(id: &str, text: &str) -> ClientEvent {
    ClientEvent::UserToolResult(UserToolResult {
        tool_use_id: id.into(),
        content: Some(vec![ContentBlock::text(text)]),
        is_error: Some(false),
        session_thread_id: None,
    })
}

/// In a self-hosted session the toolset calls wait for the worker: each `agent.tool_use` idles
/// the session `requires_action` until a `user.tool_result` answers it, the agent reads that
/// answer, and nothing runs in the emulator's sandbox (the store is untouched; the worker's sync
/// is what writes memory). Break it: drop the `self_hosted` arms in `Sandbox::plan`.
#[tokio::test]
async fn a_self_hosted_sessions_tool_calls_wait_for_the_workers_results() {
    let env = start().await;
    let e = self_hosted_env(&env).await;
    let store = env.store("Shopper Preferences").await;
    let session = session_in(&env, &e.id, &[&store.id]).await;
    let mut stream = env.stream(&session.id).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "I wear a size medium."))
    .await
    .unwrap();
    let mut answered = Vec::new();
    let mut last = until_idle(&mut stream).await;
    while let Some(SessionEvent::SessionStatusIdle(idle)) = last.last() {
        if !matches!(idle.body.stop_reason, StopReason::RequiresAction(_)) {
            break;
        }
        let waiting = requires(last.last().unwrap());
        let uses: Vec<_> = last
            .iter()
            .filter_map(|e| match e {
                SessionEvent::AgentToolUse(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            waiting,
            uses.iter().map(|u| u.id.clone()).collect::<Vec<_>>()
        );
        assert!(
            answered.len() < 10,
            "the turn never ends: {:?}",
            kinds(&last)
        );
        for u in uses {
            // The worker's `glob` sees an empty store; its `write` succeeds.
            let text = if u.body.name == "glob" {
                "No files found"
            } else {
                "File written"
            };
            send(&env, &session.id, vec![tool_result(&u.id, text)]).await;
            answered.push(u.body.name.clone());
        }
        last = until_idle(&mut stream).await;
    }
    assert_eq!(
        answered,
        ["glob", "write"],
        "the agent lists the store, then writes its notes"
    );
    let tail = kinds(&last);
    assert_eq!(
        tail.last().map(String::as_str),
        Some("session.status_idle(end_turn)")
    );
    let all = env.events(&session.id).await;
    assert!(
        !all.iter()
            .any(|e| matches!(e, SessionEvent::AgentToolResult(_))),
        "a tool ran in the emulator's sandbox: {:?}",
        kinds(&all)
    );
    let memories = t(env
        .client
        .memory_stores()
        .memories()
        .list(&store.id, &ListMemories::default()))
    .await
    .unwrap()
    .data;
    assert!(
        memories.is_empty(),
        "the emulator wrote the worker's file: {memories:?}"
    );

    // Answers to nothing, and answers in a cloud session, are refused.
    send_bad(
        &env,
        &session.id,
        vec![tool_result("sevt_01nothing", "x")],
        "sevt_01nothing",
    )
    .await;
    let cloud = env.session("claude-sonnet-4-6", &[]).await;
    send_bad(
        &env,
        &cloud.id,
        vec![tool_result("sevt_01nothing", "x")],
        "self_hosted",
    )
    .await;
}

/// Under `always_ask` in a self-hosted session, a call the user allows still runs on the worker:
/// after the `user.tool_confirmation` the session idles `requires_action` again with the same
/// tool use, and only the worker's `user.tool_result` answers it; the emulator runs nothing.
/// Break it: drop the `to_worker` branch in `Sandbox::call_all` (the emulator then runs the
/// allowed call and emits an `agent.tool_result`).
#[tokio::test]
async fn an_allowed_call_of_a_self_hosted_session_still_waits_for_the_worker() {
    let env = start().await;
    let e = self_hosted_env(&env).await;
    let store = env.store("Clinic Notes").await;
    let mut p = CreateAgent::new("Front desk", "claude-sonnet-4-6");
    p.tools = Some(vec![toolset(PermissionPolicy::AlwaysAsk(Empty {}))]);
    let agent = t(env.client.agents().create(&p)).await.unwrap();
    let mut p = CreateSession::new(AgentRef::Id(agent.id), e.id.clone());
    p.resources = Some(vec![ResourceParams::memory_store(
        store.id.clone(),
        Access::ReadWrite,
        None,
    )]);
    let session = t(env.client.sessions().create(&p)).await.unwrap();
    let mut stream = env.stream(&session.id).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "My cat Mochi is allergic to fish."))
    .await
    .unwrap();
    let mut rounds = 0;
    let mut last = until_idle(&mut stream).await;
    while let Some(SessionEvent::SessionStatusIdle(idle)) = last.last() {
        if !matches!(idle.body.stop_reason, StopReason::RequiresAction(_)) {
            break;
        }
        rounds += 1;
        assert!(rounds < 10, "the turn never ends: {:?}", kinds(&last));
        let waiting = requires(last.last().unwrap());
        let allowed: Vec<ClientEvent> = waiting
            .iter()
            .map(|id| confirmation(id, true, None))
            .collect();
        send(&env, &session.id, allowed).await;
        // Allowed, yet waiting again: on the worker's result, for the same calls.
        let again = until_idle(&mut stream).await;
        assert_eq!(
            requires(again.last().unwrap()),
            waiting,
            "{:?}",
            kinds(&again)
        );
        assert!(
            !again
                .iter()
                .any(|e| matches!(e, SessionEvent::AgentToolResult(_))),
            "the emulator ran an allowed call itself: {:?}",
            kinds(&again)
        );
        let results = waiting.iter().map(|id| tool_result(id, "\n")).collect();
        send(&env, &session.id, results).await;
        last = until_idle(&mut stream).await;
    }
    assert!(rounds >= 1, "no call asked for confirmation");
    assert_eq!(
        kinds(&last).last().map(String::as_str),
        Some("session.status_idle(end_turn)")
    );
    let all = env.events(&session.id).await;
    assert!(
        !all.iter()
            .any(|e| matches!(e, SessionEvent::AgentToolResult(_))),
        "a tool ran in the emulator's sandbox: {:?}",
        kinds(&all)
    );
}
