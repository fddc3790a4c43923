//! Session threads over HTTP through the client: every session's primary thread, its events and
//! stream, archiving, and the thread ids events carry.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::*;
use futures::StreamExt;
use reqwest::Method;

/// A session with a read-write store whose agent asks before every tool call.
async fn asking_session(env: &Env) -> Session {
    let store = env.store("Shopper Preferences").await;
    let mut agent = CreateAgent::new("Personal Shopper", "claude-sonnet-4-6");
    agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAsk(Empty {}),
    ))]);
    let agent = t(env.client.agents().create(&agent)).await.unwrap();
    let e = env.environment().await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id), e.id);
    p.resources = Some(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        None,
    )]);
    t(env.client.sessions().create(&p)).await.unwrap()
}

/// The primary thread exists from creation, mirrors the session, streams the session's events
/// with its own status events inside the session's, and lists the same events as the session.
/// Break it: drop the thread-status twins in `before_event`/`after_event`, or route the thread
/// stream to another log.
#[tokio::test]
async fn the_primary_thread_lists_retrieves_and_streams_the_sessions_events() {
    let env = start().await;
    let store = env.store("Shopper Preferences").await;
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let threads = env.client.sessions().threads();
    let page = t(threads.list(&session.id, &ListThreads::default()))
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.next_page, None);
    let primary = &page.data[0];
    assert_eq!(primary.kind, "session_thread");
    assert!(primary.id.starts_with("sthr_01"), "{}", primary.id);
    assert_eq!(primary.session_id, session.id);
    assert_eq!(primary.parent_thread_id, None);
    assert_eq!(primary.status, SessionStatus::Idle);
    assert_eq!(primary.agent.id, session.agent.id);
    assert_eq!(primary.agent.name, session.agent.name);
    assert_eq!(primary.created_at, session.created_at);
    assert!(primary.usage.is_none() && primary.stats.is_none());
    assert!(primary.archived_at.is_none());

    // Open the thread's stream before the message, as with the session's.
    let mut stream = t(threads
        .events()
        .stream(&session.id, &primary.id, &StreamEvents::default()))
    .await
    .unwrap();
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hi! I wear a size medium."))
    .await
    .unwrap();
    let mut streamed = Vec::new();
    loop {
        let event = t(stream.next_event()).await.unwrap().unwrap();
        let done = event.type_name() == "session.status_idle";
        streamed.push(event);
        if done {
            break;
        }
    }
    let kinds: Vec<&str> = streamed.iter().map(SessionEvent::type_name).collect();
    assert_eq!(
        &kinds[..3],
        [
            "user.message",
            "session.status_running",
            "session.thread_status_running"
        ]
    );
    assert_eq!(
        &kinds[kinds.len() - 2..],
        ["session.thread_status_idle", "session.status_idle"]
    );
    match (&streamed[2], &streamed[kinds.len() - 2]) {
        (SessionEvent::SessionThreadStatusRunning(r), SessionEvent::SessionThreadStatusIdle(i)) => {
            assert_eq!(r.body.session_thread_id, primary.id);
            assert_eq!(r.body.agent_name, "Personal Shopper");
            assert_eq!(i.body.session_thread_id, primary.id);
            assert!(matches!(i.body.stop_reason, StopReason::EndTurn(_)));
        }
        other => panic!("not the thread's status events: {other:?}"),
    }

    // The thread's event list is the session's, in order, paged like it.
    let session_ids: Vec<String> = env
        .events(&session.id)
        .await
        .iter()
        .map(|e| e.id().unwrap().to_string())
        .collect();
    let thread_ids: Vec<String> = t(threads
        .events()
        .list_all(
            &session.id,
            &primary.id,
            &ListThreadEvents {
                limit: Some(3),
                ..Default::default()
            },
        )
        .collect::<Vec<_>>())
    .await
    .into_iter()
    .map(|e| e.unwrap().id().unwrap().to_string())
    .collect();
    assert_eq!(thread_ids, session_ids);
    let streamed_ids: Vec<&str> = streamed.iter().map(|e| e.id().unwrap()).collect();
    assert_eq!(streamed_ids, session_ids);
    // The twins take their session event's time: log order and time order agree, so a
    // `created_at[gt]` of the idle event lists nothing of this turn.
    let times: Vec<_> = streamed.iter().map(|e| e.processed_at().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let after = t(threads.retrieve(&session.id, &primary.id)).await.unwrap();
    assert_eq!(after.status, SessionStatus::Idle);
    let usage = after.usage.expect("usage once the thread went idle");
    assert!(usage.input_tokens.unwrap() > 0 && usage.output_tokens.unwrap() > 0);
    assert!(after.stats.is_some());
    let running_only = ListThreads {
        statuses: vec![SessionStatus::Running],
        ..Default::default()
    };
    let none = t(threads.list(&session.id, &running_only)).await.unwrap();
    assert!(none.data.is_empty());
}

/// Unknown threads, another session's thread and bad filters are refused; a running thread
/// cannot be archived; archiving an idle one is idempotent and leaves the session usable.
#[tokio::test]
async fn bad_thread_requests_and_archive() {
    let env = start().await;
    let a = env.session("claude-sonnet-4-6", &[]).await;
    let b = env.session("claude-sonnet-4-6", &[]).await;
    let threads = env.client.sessions().threads();
    let primary_of = |page: Page<SessionThread>| page.data.into_iter().next().unwrap().id;
    let ta = primary_of(
        t(threads.list(&a.id, &ListThreads::default()))
            .await
            .unwrap(),
    );
    let tb = primary_of(
        t(threads.list(&b.id, &ListThreads::default()))
            .await
            .unwrap(),
    );
    assert_ne!(ta, tb);

    for (sid, tid) in [(&a.id, &tb), (&a.id, &"sthr_01nope".to_string())] {
        let e = t(threads.retrieve(sid, tid)).await.unwrap_err();
        assert_eq!(e.status(), Some(404), "{tid}");
        let raw = env
            .raw(
                Method::GET,
                &format!("/v1/sessions/{sid}/threads/{tid}/events"),
                &[MA],
                None,
            )
            .await;
        raw.assert_error(404, "not_found_error");
        let raw = env
            .raw(
                Method::GET,
                &format!("/v1/sessions/{sid}/threads/{tid}/stream"),
                &[MA],
                None,
            )
            .await;
        raw.assert_error(404, "not_found_error");
    }
    let e = t(threads.list("sesn_01missing", &ListThreads::default()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    let raw = env
        .raw(
            Method::GET,
            &format!("/v1/sessions/{}/threads?statuses[]=sleeping", a.id),
            &[MA],
            None,
        )
        .await;
    raw.assert_error(400, "invalid_request_error");
    assert!(raw.message().contains("statuses"), "{}", raw.message());

    // A stalled session's thread is running: archiving it is refused and changes nothing.
    let stalled = env.session("emulator:stall", &[]).await;
    let ts = primary_of(
        t(threads.list(&stalled.id, &ListThreads::default()))
            .await
            .unwrap(),
    );
    t(env
        .client
        .sessions()
        .events()
        .send_text(&stalled.id, "hang"))
    .await
    .unwrap();
    let e = t(threads.archive(&stalled.id, &ts)).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    let still = t(threads.retrieve(&stalled.id, &ts)).await.unwrap();
    assert!(still.archived_at.is_none());
    assert_eq!(still.status, SessionStatus::Running);

    let archived = t(threads.archive(&a.id, &ta)).await.unwrap();
    let at = archived.archived_at.expect("archived_at");
    let again = t(threads.archive(&a.id, &ta)).await.unwrap();
    assert_eq!(again.archived_at, Some(at));
    // The session itself is not archived and still takes turns.
    assert!(
        t(env.client.sessions().retrieve(&a.id))
            .await
            .unwrap()
            .archived_at
            .is_none()
    );
    t(env.client.sessions().events().send_text(&a.id, "hello"))
        .await
        .unwrap();
    env.wait_idle(&a.id).await;
}

/// Results and confirmations are echoed with the thread they were routed to (reference 6.2),
/// and a `requires_action` idle is mirrored on the thread.
#[tokio::test]
async fn confirmations_are_routed_to_the_primary_thread() {
    let env = start().await;
    let session = asking_session(&env).await;
    let threads = env.client.sessions().threads();
    let primary = t(threads.list(&session.id, &ListThreads::default()))
        .await
        .unwrap()
        .data
        .remove(0);
    let mut stream = env.stream(&session.id).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hi! I wear a size medium."))
    .await
    .unwrap();
    let mut tool_use = None;
    let mut thread_idle = None;
    loop {
        match t(stream.next_event()).await.unwrap().unwrap() {
            SessionEvent::AgentToolUse(e) => tool_use = Some(e.id.clone()),
            SessionEvent::SessionThreadStatusIdle(e) => thread_idle = Some(e.body.clone()),
            SessionEvent::SessionStatusIdle(_) => break,
            _ => {}
        }
    }
    let tool_use = tool_use.expect("an ask-gated tool call");
    let idle = thread_idle.expect("the thread idled too");
    match idle.stop_reason {
        StopReason::RequiresAction(r) => assert_eq!(r.event_ids, std::slice::from_ref(&tool_use)),
        other => panic!("thread idled with {other:?}"),
    }
    let confirm = ClientEvent::UserToolConfirmation(UserToolConfirmation {
        tool_use_id: tool_use,
        result: "allow".into(),
        deny_message: None,
        session_thread_id: None,
    });
    let sent = t(env
        .client
        .sessions()
        .events()
        .send(&session.id, vec![confirm]))
    .await
    .unwrap();
    match &sent.data[0] {
        SessionEvent::UserToolConfirmation(e) => {
            assert_eq!(
                e.body.session_thread_id.as_deref(),
                Some(primary.id.as_str())
            )
        }
        other => panic!("echo: {other:?}"),
    }
    env.wait_idle(&session.id).await;
    let listed = env.events(&session.id).await;
    let stored = listed
        .iter()
        .find_map(|e| match e {
            SessionEvent::UserToolConfirmation(c) => Some(c.body.session_thread_id.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(stored.as_deref(), Some(primary.id.as_str()));
}

/// The primary thread keeps its id, its archive and its events across a restart with a data
/// directory. Break it: derive the thread id from something random, or leave
/// `thread_archived_at` out of the stored session.
#[tokio::test]
async fn threads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = cma_emulator::EmulatorConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let env = start_with(config.clone()).await;
    let session = env.session("claude-sonnet-4-6", &[]).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello"))
    .await
    .unwrap();
    env.wait_idle(&session.id).await;
    let threads = env.client.sessions().threads();
    let before = t(threads.list(&session.id, &ListThreads::default()))
        .await
        .unwrap()
        .data
        .remove(0);
    let archived = t(threads.archive(&session.id, &before.id)).await.unwrap();
    env.emu.shutdown().await;

    let env = start_with(config).await;
    let threads = env.client.sessions().threads();
    let after = t(threads.retrieve(&session.id, &before.id)).await.unwrap();
    assert_eq!(after.archived_at, archived.archived_at);
    assert!(after.archived_at.is_some());
    assert_eq!(after.usage, archived.usage);
    let events = t(threads
        .events()
        .list(&session.id, &before.id, &ListThreadEvents::default()))
    .await
    .unwrap();
    assert!(
        events
            .data
            .iter()
            .any(|e| e.type_name() == "session.thread_status_idle")
    );
}
