//! Files (`/v1/files`) and session resources (`/v1/sessions/{id}/resources`) over HTTP through
//! the typed client: upload, list, metadata, download, delete; mounting a file into a session,
//! where the agent reads it; adding, retrieving and deleting resources; and bad input that
//! changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use cma_client::{ListResources, TurnOptions, run_turn};
use cma_emulator::EmulatorConfig;
use common::*;
use reqwest::Method;

const POLICY: &str = "# Store policy\nReturns are accepted within 30 days of delivery.\nShipping is free on orders over 50 dollars.\n";

fn upload(name: &str, content: &str) -> UploadFile {
    UploadFile {
        filename: name.into(),
        mime_type: Some("text/markdown".into()),
        content: content.as_bytes().to_vec(),
        expires_in_seconds: None,
    }
}

async fn files_in(env: &Env) -> Vec<String> {
    let page = t(env.client.files().list(&ListFiles::default()))
        .await
        .unwrap();
    page.data.into_iter().map(|f| f.id).collect()
}

async fn session_with(
    env: &Env,
    resources: Vec<ResourceParams>,
) -> Result<Session, cma_client::Error> {
    let agent = env.agent("claude-sonnet-4-6").await;
    let environment = env.environment().await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id), environment.id);
    p.resources = Some(resources);
    t(env.client.sessions().create(&p)).await
}

fn file_param(id: &str, mount_path: Option<&str>) -> FileResourceParams {
    FileResourceParams {
        file_id: id.into(),
        mount_path: mount_path.map(str::to_string),
    }
}

async fn resources_of(env: &Env, session: &str) -> Vec<SessionResource> {
    t(env
        .client
        .sessions()
        .resources()
        .list(session, &ListResources::default()))
    .await
    .unwrap()
    .data
}

#[tokio::test]
async fn upload_list_retrieve_download_and_delete() {
    let env = start().await;
    let mut up = upload("docs/policy.md", POLICY);
    up.expires_in_seconds = Some(3600);
    let file = t(env.client.files().upload(&up)).await.unwrap();
    assert!(file.id.starts_with("file_01"), "{}", file.id);
    assert_eq!(file.kind, "file");
    // Only the last path component of the part's filename is kept.
    assert_eq!(file.filename, "policy.md");
    assert_eq!(file.mime_type, "text/markdown");
    assert_eq!(file.size_bytes, POLICY.len() as u64);
    assert_eq!(file.downloadable, Some(false));
    assert_eq!(file.scope, None);
    assert_eq!(
        file.expires_at.unwrap() - file.created_at,
        chrono::Duration::seconds(3600)
    );
    assert_eq!(
        t(env.client.files().retrieve_metadata(&file.id))
            .await
            .unwrap(),
        file
    );

    let other = t(env.client.files().upload(&upload("", "hello")))
        .await
        .unwrap();
    assert_eq!(other.filename, "unnamed.md");
    // Newest first; paged; `ids` answers one page; `scope_id` keeps only that scope's files.
    assert_eq!(files_in(&env).await, [other.id.clone(), file.id.clone()]);
    let first = t(env.client.files().list(&ListFiles {
        limit: Some(1),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(first.data.len(), 1);
    let rest = t(env.client.files().list(&ListFiles {
        page: first.next_page.clone(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(rest.data[0].id, file.id);
    assert_eq!(rest.next_page, None);
    let by_id = t(env.client.files().list(&ListFiles {
        ids: vec![file.id.clone(), "file_01nope".into()],
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(by_id.data.len(), 1);
    assert_eq!(by_id.data[0].id, file.id);
    let scoped = t(env.client.files().list(&ListFiles {
        scope_id: Some("sesn_01whatever".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert!(scoped.data.is_empty());

    // Uploads are not downloadable, as the SDK documents.
    let err = t(env.client.files().download(&file.id)).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status, 400);
    assert_eq!(api.error_code.as_deref(), Some("file_not_downloadable"));

    let deleted = t(env.client.files().delete(&file.id)).await.unwrap();
    assert_eq!(
        (deleted.id.as_str(), deleted.kind.as_str()),
        (file.id.as_str(), "file_deleted")
    );
    for err in [
        t(env.client.files().retrieve_metadata(&file.id))
            .await
            .unwrap_err(),
        t(env.client.files().delete(&file.id))
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(err.api().unwrap().status, 404);
    }
    assert_eq!(files_in(&env).await, [other.id]);
}

/// Break it: drop the size check in `api::files::upload` (the 413 turns into a 200).
#[tokio::test]
async fn bad_uploads_are_refused_and_store_nothing() {
    let env = start_with(EmulatorConfig {
        max_file_bytes: 16,
        ..Default::default()
    })
    .await;
    let err = t(env
        .client
        .files()
        .upload(&upload("big.md", &"x".repeat(17))))
    .await
    .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(
        (api.status, api.error_type.as_str()),
        (413, "request_too_large")
    );
    let mut expiring = upload("a.md", "a");
    expiring.expires_in_seconds = Some(60);
    let err = t(env.client.files().upload(&expiring)).await.unwrap_err();
    assert_eq!(err.api().unwrap().status, 400);
    assert!(err.api().unwrap().message.contains("expires_in_seconds"));

    // A form without a `file` field, and a body that is not a form at all.
    let no_file = env
        .http
        .post(env.url("/v1/files"))
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"expires_in_seconds\"\r\n\r\n3600\r\n--b--\r\n")
        .send();
    let no_file = t(no_file).await.unwrap();
    assert_eq!(no_file.status(), 400);
    let json = env.raw(Method::POST, "/v1/files", &[], Some("{}")).await;
    json.assert_error(400, "invalid_request_error");
    assert!(files_in(&env).await.is_empty());

    // Exactly at the limit is fine.
    let ok = t(env.client.files().upload(&upload("ok.md", &"x".repeat(16))))
        .await
        .unwrap();
    assert_eq!(ok.size_bytes, 16);
    assert_eq!(files_in(&env).await, [ok.id]);
}

/// Break it: pass `&[]` as `files` to the agent in `runner::run` (the reply loses the line), or
/// mount the file writable.
#[tokio::test]
async fn a_mounted_file_is_read_by_the_agent_and_stays_read_only() {
    let env = start().await;
    let store = env.store("Shopper Preferences").await;
    let file = t(env.client.files().upload(&upload("policy.md", POLICY)))
        .await
        .unwrap();
    let session = session_with(
        &env,
        vec![
            ResourceParams::memory_store(&store.id, Access::ReadWrite, None),
            ResourceParams::File(file_param(&file.id, None)),
        ],
    )
    .await
    .unwrap();
    let mounted = session
        .resources
        .iter()
        .find_map(|r| match r {
            SessionResource::File(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        mounted.mount_path,
        format!("/mnt/session/uploads/{}", file.id)
    );
    assert!(mounted.id.starts_with("sesrsc_01"));

    let turn = t(run_turn(
        &env.client,
        &session.id,
        "Can I still make returns?",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally(), "{:?}", turn.end);
    assert!(
        turn.reply
            .contains("Returns are accepted within 30 days of delivery."),
        "{}",
        turn.reply
    );
    // Only the relevant line is quoted.
    assert!(!turn.reply.contains("Shipping"), "{}", turn.reply);
    let read = turn
        .tool_uses
        .iter()
        .find(|u| u.name == "read" && u.input["file_path"] == mounted.mount_path.as_str())
        .expect("the agent reads the mounted file");
    assert_eq!(read.is_error, Some(false));
    // The agent's notes went to the memory store, never to the read-only file.
    assert!(
        turn.tool_uses
            .iter()
            .filter(|u| u.name == "write" || u.name == "edit")
            .all(|u| u.input["file_path"] != mounted.mount_path.as_str())
    );

    // A custom mount path works the same way.
    let custom = session_with(
        &env,
        vec![ResourceParams::File(file_param(
            &file.id,
            Some("/workspace/docs/policy.md"),
        ))],
    )
    .await
    .unwrap();
    let turn = t(run_turn(
        &env.client,
        &custom.id,
        "What is the returns window?",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(
        turn.reply.contains("Returns are accepted"),
        "{}",
        turn.reply
    );
    assert!(
        turn.tool_uses
            .iter()
            .any(|u| u.input["file_path"] == "/workspace/docs/policy.md")
    );
}

#[tokio::test]
async fn bad_file_resources_at_creation_create_no_session() {
    let env = start().await;
    let file = t(env.client.files().upload(&upload("policy.md", POLICY)))
        .await
        .unwrap();
    let cases = [
        (file_param("file_01unknown", None), 404),
        (file_param(&file.id, Some("relative/path")), 400),
        (file_param(&file.id, Some("/mnt/memory/policy.md")), 400),
        (file_param(&file.id, Some("/")), 400),
    ];
    for (p, status) in cases {
        let err = session_with(&env, vec![ResourceParams::File(p.clone())])
            .await
            .unwrap_err();
        assert_eq!(err.api().unwrap().status, status, "{p:?}: {err}");
    }
    let err = session_with(
        &env,
        vec![
            ResourceParams::File(file_param(&file.id, Some("/data/a"))),
            ResourceParams::File(file_param(&file.id, Some("/data/a/b"))),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.api().unwrap().status, 400);
    let sessions = t(env.client.sessions().list(&ListSessions::default()))
        .await
        .unwrap();
    assert!(sessions.data.is_empty());
}

/// Break it: make `session_resource` search every session (the foreign id is then found).
#[tokio::test]
async fn session_resources_add_retrieve_update_and_delete() {
    let env = start().await;
    let store = env.store("Shopper Preferences").await;
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let other = env.session("claude-sonnet-4-6", &[]).await;
    let file = t(env.client.files().upload(&upload("policy.md", POLICY)))
        .await
        .unwrap();
    let res = env.client.sessions().resources();

    let added = t(res.add(&session.id, &file_param(&file.id, None)))
        .await
        .unwrap();
    let SessionResource::File(added_file) = &added else {
        panic!("{added:?}")
    };
    assert_eq!(added_file.file_id, file.id);
    assert_eq!(
        added_file.mount_path,
        format!("/mnt/session/uploads/{}", file.id)
    );
    assert_eq!(
        t(res.retrieve(&session.id, &added_file.id)).await.unwrap(),
        added
    );
    let listed = resources_of(&env, &session.id).await;
    assert_eq!(listed.len(), 2);
    assert!(matches!(&listed[0], SessionResource::MemoryStore(m) if m.memory_store_id == store.id));
    assert_eq!(listed[1], added);
    let second = t(res.add(
        &session.id,
        &file_param(&file.id, Some("/workspace/copy.md")),
    ))
    .await
    .unwrap();
    let SessionResource::File(second_file) = &second else {
        panic!("{second:?}")
    };

    // Bad input: each is refused and changes nothing.
    let before = resources_of(&env, &session.id).await;
    let store_add = env
        .raw(
            Method::POST,
            &format!("/v1/sessions/{}/resources", session.id),
            &[MA],
            Some(&format!(
                r#"{{"type":"memory_store","memory_store_id":"{}"}}"#,
                store.id
            )),
        )
        .await;
    store_add.assert_error(400, "invalid_request_error");
    assert!(
        store_add
            .message()
            .contains("attach when the session is created"),
        "{}",
        store_add.text
    );
    let unknown = t(res.add(&session.id, &file_param("file_01unknown", None)))
        .await
        .unwrap_err();
    assert_eq!(unknown.api().unwrap().status, 404);
    let same_path = t(res.add(
        &session.id,
        &file_param(&file.id, Some("/workspace/copy.md")),
    ))
    .await
    .unwrap_err();
    assert_eq!(same_path.api().unwrap().status, 400);
    let rotate = t(res.update(
        &session.id,
        &added_file.id,
        &UpdateSessionResource {
            authorization_token: "ghp_x".into(),
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(rotate.api().unwrap().status, 400);
    // A resource id of another session is not found through this one.
    for err in [
        t(res.retrieve(&other.id, &added_file.id))
            .await
            .unwrap_err(),
        t(res.delete(&other.id, &added_file.id))
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(err.api().unwrap().status, 404, "{err}");
    }
    assert_eq!(resources_of(&env, &session.id).await, before);
    assert!(resources_of(&env, &other.id).await.is_empty());

    let deleted = t(res.delete(&session.id, &added_file.id)).await.unwrap();
    assert_eq!(deleted.id, added_file.id);
    assert_eq!(deleted.kind, "session_resource_deleted");
    let gone = t(res.retrieve(&session.id, &added_file.id))
        .await
        .unwrap_err();
    assert_eq!(gone.api().unwrap().status, 404);
    let left = resources_of(&env, &session.id).await;
    assert_eq!(left.len(), 2);
    assert_eq!(left[1], second);

    // The next turn sees the remaining file only.
    let turn = t(run_turn(
        &env.client,
        &session.id,
        "How do returns work?",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    let read_paths: Vec<&str> = turn
        .tool_uses
        .iter()
        .filter(|u| u.name == "read")
        .filter_map(|u| u.input["file_path"].as_str())
        .collect();
    assert!(
        read_paths.contains(&second_file.mount_path.as_str()),
        "{read_paths:?}"
    );
    assert!(
        !read_paths.contains(&added_file.mount_path.as_str()),
        "{read_paths:?}"
    );
}

#[tokio::test]
async fn files_and_their_mounts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let env = start_with(config.clone()).await;
    let binary: Vec<u8> = (0..=255u8).collect();
    let blob = t(env.client.files().upload(&UploadFile {
        filename: "bytes.bin".into(),
        mime_type: None,
        content: binary.clone(),
        expires_in_seconds: None,
    }))
    .await
    .unwrap();
    assert_eq!(blob.mime_type, "application/octet-stream");
    let file = t(env.client.files().upload(&upload("policy.md", POLICY)))
        .await
        .unwrap();
    let session = session_with(&env, vec![ResourceParams::File(file_param(&file.id, None))])
        .await
        .unwrap();
    t(env.emu.shutdown()).await;

    let env = start_with(config).await;
    assert_eq!(files_in(&env).await, [file.id.clone(), blob.id.clone()]);
    assert_eq!(
        t(env.client.files().retrieve_metadata(&blob.id))
            .await
            .unwrap(),
        blob
    );
    let turn = t(run_turn(
        &env.client,
        &session.id,
        "What about returns?",
        &TurnOptions::default(),
    ))
    .await
    .unwrap();
    assert!(
        turn.reply.contains("Returns are accepted within 30 days"),
        "{}",
        turn.reply
    );
}
