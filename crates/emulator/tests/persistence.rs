//! Everything survives a restart with a data directory.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use cma_emulator::EmulatorConfig;
use common::*;

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };

    let env = start_with(config.clone()).await;
    let store = env.store("Shopper Preferences").await;
    let mem = env.memory(&store.id, "/preferences.md", "size: M").await;
    let up = UpdateMemory {
        content: Some(Some("size: L".into())),
        ..Default::default()
    };
    t(env
        .client
        .memory_stores()
        .memories()
        .update(&store.id, &mem.id, &up, None))
    .await
    .unwrap();
    let gone = env.memory(&store.id, "/gone.md", "bye").await;
    t(env
        .client
        .memory_stores()
        .memories()
        .delete(&store.id, &gone.id, &DeleteMemory::default()))
    .await
    .unwrap();
    t(env
        .client
        .memory_stores()
        .memory_versions()
        .redact(&store.id, &gone.memory_version_id))
    .await
    .unwrap();
    let archived = env.store("old").await;
    t(env.client.memory_stores().archive(&archived.id))
        .await
        .unwrap();
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello"))
    .await
    .unwrap();
    let idle = env.wait_idle(&session.id).await;
    let agent_id = session.agent.id.clone();
    t(env.client.agents().update(
        &agent_id,
        &UpdateAgent {
            system: Some(Some("v2".into())),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let stalled = env.session("emulator:stall", &[]).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&stalled.id, "hang"))
    .await
    .unwrap();

    let stores_before = t(env.client.memory_stores().list(&ListMemoryStores {
        include_archived: Some(true),
        ..Default::default()
    }))
    .await
    .unwrap();
    let versions_before = t(env.client.memory_stores().memory_versions().list(
        &store.id,
        &ListMemoryVersions {
            view: Some(View::Full),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let memories_before = t(env.client.memory_stores().memories().list(
        &store.id,
        &ListMemories {
            view: Some(View::Full),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let events_before = env.events(&session.id).await;
    let envs_before = t(env.client.environments().list(&ListEnvironments::default()))
        .await
        .unwrap();
    env.emu.shutdown().await;

    let env = start_with(config).await;
    let stores = t(env.client.memory_stores().list(&ListMemoryStores {
        include_archived: Some(true),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(stores.data, stores_before.data);
    let versions = t(env.client.memory_stores().memory_versions().list(
        &store.id,
        &ListMemoryVersions {
            view: Some(View::Full),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    assert_eq!(versions.data, versions_before.data);
    assert_eq!(versions.data.len(), 4);
    let memories = t(env.client.memory_stores().memories().list(
        &store.id,
        &ListMemories {
            view: Some(View::Full),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    assert_eq!(memories.data, memories_before.data);
    assert_eq!(env.events(&session.id).await, events_before);
    assert_eq!(
        t(env.client.sessions().retrieve(&session.id))
            .await
            .unwrap(),
        idle
    );
    let agent = t(env.client.agents().retrieve(&agent_id, None))
        .await
        .unwrap();
    assert_eq!(agent.version, 2);
    assert_eq!(
        t(env.client.agents().retrieve(&agent_id, Some(1)))
            .await
            .unwrap()
            .system,
        None
    );
    assert_eq!(
        t(env.client.environments().list(&ListEnvironments::default()))
            .await
            .unwrap()
            .data,
        envs_before.data
    );
    // Path conflicts still hold (the path index is rebuilt).
    let dup = CreateMemory {
        path: "/preferences.md".into(),
        content: Some("x".into()),
    };
    let e = t(env
        .client
        .memory_stores()
        .memories()
        .create(&store.id, &dup, None))
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), Some("memory_path_conflict_error"));
    // A turn cut by the restart waits for an interrupt.
    let s = t(env.client.sessions().retrieve(&stalled.id))
        .await
        .unwrap();
    assert_eq!(s.status, SessionStatus::Running);
    t(env.client.sessions().events().send(
        &stalled.id,
        vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
    ))
    .await
    .unwrap();
    env.wait_idle(&stalled.id).await;
    // The session keeps working after the restart, and timestamps keep increasing.
    let turn = t(cma_client::run_turn(
        &env.client,
        &session.id,
        "again",
        &Default::default(),
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally());
    assert!(
        turn.events[0].processed_at().unwrap()
            > events_before.last().unwrap().processed_at().unwrap()
    );
    env.emu.shutdown().await;
}
