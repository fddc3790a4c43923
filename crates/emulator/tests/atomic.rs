//! A write is visible only once it is durable. Commits fail as on a full disk (the persistence
//! layer's commit-fault switch, `RunningEmulator::commit_faults`); every write path is then
//! checked over HTTP: the request answers 500 with the API's error body saying nothing was
//! stored, lists, retrievals, versions and events show exactly what they showed before, a
//! restart from the data directory shows the same, and the same request, retried once commits
//! succeed again, succeeds (no phantom 409).
//!
//! To see these tests fail, break the rollback: in `Db::write`
//! (`crates/emulator/src/store/mod.rs`) set `pending.done = true;` before `let value = result?;`,
//! so a failed write keeps its changes in memory. (Done while writing them: every test here
//! then fails, as does the tool-write test in `src/sandbox/atomic_tests.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use cma_client::types::*;
use cma_emulator::EmulatorConfig;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const NOT_STORED: &str = "could not be stored durably";

fn config(dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

impl Env {
    async fn get_json(&self, path: &str) -> Value {
        let r = self.raw(Method::GET, path, &[MA], None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.body
    }

    /// Every page of a list, as one `{"data": [...]}`.
    async fn list_all(&self, path: &str) -> Value {
        let mut data = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let url = match &page {
                Some(p) => format!("{path}&page={p}"),
                None => path.to_string(),
            };
            let body = self.get_json(&url).await;
            data.extend(body["data"].as_array().unwrap().iter().cloned());
            match body["next_page"].as_str() {
                Some(next) => page = Some(next.to_string()),
                None => return json!({ "data": data }),
            }
        }
    }

    /// Everything the API shows: every store (archived too) with its memories (full) and
    /// versions (full), every agent with its versions, every environment, every session with
    /// its resources and events.
    async fn dump(&self) -> Value {
        let mut out = serde_json::Map::new();
        let stores = self
            .get_json("/v1/memory_stores?include_archived=true&limit=100")
            .await;
        for s in stores["data"].as_array().unwrap() {
            let id = s["id"].as_str().unwrap();
            let memories = self
                .list_all(&format!(
                    "/v1/memory_stores/{id}/memories?view=full&limit=20"
                ))
                .await;
            let versions = self
                .list_all(&format!(
                    "/v1/memory_stores/{id}/memory_versions?view=full&limit=20"
                ))
                .await;
            for m in memories["data"].as_array().unwrap() {
                if m["type"] == "memory" {
                    let mid = m["id"].as_str().unwrap();
                    let one = self
                        .get_json(&format!("/v1/memory_stores/{id}/memories/{mid}"))
                        .await;
                    out.insert(format!("memory {mid}"), one);
                }
            }
            out.insert(format!("memories of {id}"), memories);
            out.insert(format!("versions of {id}"), versions);
        }
        out.insert("stores".into(), stores);
        let agents = self
            .get_json("/v1/agents?include_archived=true&limit=100")
            .await;
        for a in agents["data"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap();
            let versions = self
                .get_json(&format!("/v1/agents/{id}/versions?limit=100"))
                .await;
            out.insert(format!("versions of {id}"), versions);
        }
        out.insert("agents".into(), agents);
        let environments = self
            .get_json("/v1/environments?include_archived=true&limit=100")
            .await;
        for e in environments["data"].as_array().unwrap() {
            if e["config"]["type"] == "self_hosted" {
                let id = e["id"].as_str().unwrap();
                out.insert(
                    format!("work of {id}"),
                    self.get_json(&format!("/v1/environments/{id}/work?limit=100"))
                        .await,
                );
                // A poll hands an item out without changing its listed state.
                out.insert(
                    format!("work stats of {id}"),
                    self.get_json(&format!("/v1/environments/{id}/work/stats"))
                        .await,
                );
            }
        }
        out.insert("environments".into(), environments);
        out.insert("files".into(), self.get_json("/v1/files?limit=100").await);
        let sessions = self
            .get_json("/v1/sessions?include_archived=true&limit=100")
            .await;
        for s in sessions["data"].as_array().unwrap() {
            let id = s["id"].as_str().unwrap();
            out.insert(
                format!("events of {id}"),
                self.get_json(&format!("/v1/sessions/{id}/events?limit=1000"))
                    .await,
            );
            out.insert(
                format!("resources of {id}"),
                self.get_json(&format!("/v1/sessions/{id}/resources")).await,
            );
            out.insert(
                format!("threads of {id}"),
                self.get_json(&format!("/v1/sessions/{id}/threads")).await,
            );
        }
        out.insert("sessions".into(), sessions);
        Value::Object(out)
    }

    async fn send(&self, req: &Request) -> Raw {
        match &req.body {
            Some(Body::Json(json)) => {
                self.raw(
                    req.method.clone(),
                    &req.path,
                    &[MA],
                    Some(&json.to_string()),
                )
                .await
            }
            None => self.raw(req.method.clone(), &req.path, &[MA], None).await,
            Some(Body::File { name, content }) => {
                let form = format!(
                    "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
                     filename=\"{name}\"\r\ncontent-type: text/plain\r\n\r\n{content}\r\n\
                     --{BOUNDARY}--\r\n"
                );
                let resp = self
                    .http
                    .request(req.method.clone(), self.url(&req.path))
                    .header("anthropic-beta", MA)
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(form)
                    .send();
                Raw::from(t(resp).await.unwrap()).await
            }
        }
    }
}

/// What the setup made, for the requests to refer to.
struct Base {
    store: String,
    spare_store: String,
    memory: String,
    version: String,
    agent: String,
    environment: String,
    spare_environment: String,
    session: String,
    file: String,
    /// A `file` resource of `session`.
    resource: String,
    /// `session`'s primary thread.
    thread: String,
    /// A self-hosted environment with three sessions' work items: `claimed` polled (so it can be
    /// acknowledged, updated and stopped), `held` polled and acknowledged (so a heartbeat claims
    /// its lease), and one still queued (so a poll takes it).
    hosted: String,
    claimed: String,
    held: String,
}

/// A store with a memory, a spare store, an agent, two environments and an idle session that
/// has run one turn.
async fn setup(env: &Env) -> Base {
    let store = env.store("Shopper Preferences").await;
    let spare_store = env.store("spare").await;
    let memory = env
        .memory(&store.id, "/preferences.md", "size: M\nlikes: linen\n")
        .await;
    let session = env
        .session("emulator:forgetful", &[(&store.id, Access::ReadWrite)])
        .await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello"))
    .await
    .unwrap();
    env.wait_idle(&session.id).await;
    let environment = env.environment().await;
    let spare_environment = env.environment().await;
    let file = t(env.client.files().upload(&UploadFile {
        filename: "notes.md".into(),
        mime_type: Some("text/markdown".into()),
        content: b"size: M\n".to_vec(),
        expires_in_seconds: None,
    }))
    .await
    .unwrap()
    .id;
    let added = t(env.client.sessions().resources().add(
        &session.id,
        &FileResourceParams {
            file_id: file.clone(),
            mount_path: None,
        },
    ))
    .await
    .unwrap();
    let SessionResource::File(resource) = added else {
        panic!("a file resource, got {added:?}");
    };
    let resource = resource.id;
    let thread = t(env
        .client
        .sessions()
        .threads()
        .list(&session.id, &ListThreads::default()))
    .await
    .unwrap()
    .data
    .remove(0)
    .id;
    let hosted = t(env.client.environments().create(&CreateEnvironment {
        name: "my-hosts".into(),
        config: Some(EnvironmentConfig::SelfHosted(Empty {})),
        ..Default::default()
    }))
    .await
    .unwrap()
    .id;
    let work = env.client.environments().work();
    let mut polled = Vec::new();
    for i in 0..3 {
        let p = CreateSession::new(AgentRef::Id(session.agent.id.clone()), &hosted);
        t(env.client.sessions().create(&p)).await.unwrap();
        if i < 2 {
            let item = t(work.poll(&hosted, &PollWork::default())).await.unwrap();
            polled.push(item.expect("a queued work item").id);
        }
    }
    t(work.ack(&hosted, &polled[1])).await.unwrap();
    Base {
        store: store.id,
        spare_store: spare_store.id,
        version: memory.memory_version_id.clone(),
        memory: memory.id,
        agent: session.agent.id.clone(),
        environment: environment.id,
        spare_environment: spare_environment.id,
        session: session.id,
        file,
        resource,
        thread,
        hosted,
        claimed: polled[0].clone(),
        held: polled[1].clone(),
    }
}

struct Request {
    method: Method,
    path: String,
    body: Option<Body>,
}

enum Body {
    Json(Value),
    /// A multipart upload of one text file.
    File {
        name: &'static str,
        content: &'static str,
    },
}

const BOUNDARY: &str = "cma-atomic-test-boundary";

fn req(method: Method, path: String, body: Option<Value>) -> Request {
    Request {
        method,
        path,
        body: body.map(Body::Json),
    }
}

/// One write path: its name and the request that takes it.
type Case = (&'static str, fn(&Base) -> Request);

/// Every REST write path (the sandbox's and the turn runner's are tested below). Not here: a
/// session resource's update, which only a `github_repository` (with a real token) takes.
fn cases() -> Vec<Case> {
    vec![
        ("create store", |_| {
            req(
                Method::POST,
                "/v1/memory_stores".into(),
                Some(json!({"name": "new store"})),
            )
        }),
        ("update store", |b| {
            req(
                Method::POST,
                format!("/v1/memory_stores/{}", b.store),
                Some(json!({"description": "what the shopper likes"})),
            )
        }),
        ("archive store", |b| {
            req(
                Method::POST,
                format!("/v1/memory_stores/{}/archive", b.spare_store),
                None,
            )
        }),
        ("delete store", |b| {
            req(
                Method::DELETE,
                format!("/v1/memory_stores/{}", b.store),
                None,
            )
        }),
        ("create memory", |b| {
            req(
                Method::POST,
                format!("/v1/memory_stores/{}/memories", b.store),
                Some(json!({"path": "/new.md", "content": "fresh"})),
            )
        }),
        ("update memory content", |b| {
            req(
                Method::POST,
                format!("/v1/memory_stores/{}/memories/{}", b.store, b.memory),
                Some(json!({"content": "size: L\n"})),
            )
        }),
        ("rename memory", |b| {
            req(
                Method::POST,
                format!("/v1/memory_stores/{}/memories/{}", b.store, b.memory),
                Some(json!({"path": "/renamed.md"})),
            )
        }),
        ("delete memory", |b| {
            req(
                Method::DELETE,
                format!("/v1/memory_stores/{}/memories/{}", b.store, b.memory),
                None,
            )
        }),
        ("redact version", |b| {
            req(
                Method::POST,
                format!(
                    "/v1/memory_stores/{}/memory_versions/{}/redact",
                    b.store, b.version
                ),
                None,
            )
        }),
        ("create agent", |_| {
            req(
                Method::POST,
                "/v1/agents".into(),
                Some(json!({"name": "second", "model": "claude-sonnet-4-6"})),
            )
        }),
        ("update agent", |b| {
            req(
                Method::POST,
                format!("/v1/agents/{}", b.agent),
                Some(json!({"version": 1, "system": "Be brief."})),
            )
        }),
        ("archive agent", |b| {
            req(
                Method::POST,
                format!("/v1/agents/{}/archive", b.agent),
                None,
            )
        }),
        ("create environment", |_| {
            req(
                Method::POST,
                "/v1/environments".into(),
                Some(json!({"name": "another"})),
            )
        }),
        ("update environment", |b| {
            req(
                Method::POST,
                format!("/v1/environments/{}", b.environment),
                Some(json!({"description": "for demos"})),
            )
        }),
        ("archive environment", |b| {
            req(
                Method::POST,
                format!("/v1/environments/{}/archive", b.environment),
                None,
            )
        }),
        ("delete environment", |b| {
            req(
                Method::DELETE,
                format!("/v1/environments/{}", b.spare_environment),
                None,
            )
        }),
        ("create session", |b| {
            req(
                Method::POST,
                "/v1/sessions".into(),
                Some(json!({
                    "agent": b.agent,
                    "environment_id": b.environment,
                    "resources": [{"type": "memory_store", "memory_store_id": b.store}],
                })),
            )
        }),
        ("update session", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}", b.session),
                Some(json!({"title": "shopping", "metadata": {"k": "v"}})),
            )
        }),
        ("archive session", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/archive", b.session),
                None,
            )
        }),
        ("delete session", |b| {
            req(Method::DELETE, format!("/v1/sessions/{}", b.session), None)
        }),
        ("upload file", |_| Request {
            method: Method::POST,
            path: "/v1/files".into(),
            body: Some(Body::File {
                name: "later.md",
                content: "likes: wool\n",
            }),
        }),
        ("delete file", |b| {
            req(Method::DELETE, format!("/v1/files/{}", b.file), None)
        }),
        ("add session resource", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/resources", b.session),
                Some(
                    json!({"type": "file", "file_id": b.file, "mount_path": "/mnt/session/again.md"}),
                ),
            )
        }),
        ("delete session resource", |b| {
            req(
                Method::DELETE,
                format!("/v1/sessions/{}/resources/{}", b.session, b.resource),
                None,
            )
        }),
        ("archive thread", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/threads/{}/archive", b.session, b.thread),
                None,
            )
        }),
        ("poll work", |b| {
            req(
                Method::GET,
                format!("/v1/environments/{}/work/poll", b.hosted),
                None,
            )
        }),
        ("acknowledge work", |b| {
            req(
                Method::POST,
                format!("/v1/environments/{}/work/{}/ack", b.hosted, b.claimed),
                None,
            )
        }),
        ("update work", |b| {
            req(
                Method::POST,
                format!("/v1/environments/{}/work/{}", b.hosted, b.claimed),
                Some(json!({"metadata": {"host": "h1"}})),
            )
        }),
        ("heartbeat work", |b| {
            req(
                Method::POST,
                format!(
                    "/v1/environments/{}/work/{}/heartbeat?expected_last_heartbeat={NO_HEARTBEAT}",
                    b.hosted, b.held
                ),
                None,
            )
        }),
        ("stop work", |b| {
            req(
                Method::POST,
                format!("/v1/environments/{}/work/{}/stop", b.hosted, b.claimed),
                None,
            )
        }),
        ("send an interrupt", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/events", b.session),
                Some(json!({"events": [{"type": "user.interrupt"}]})),
            )
        }),
        ("define an outcome", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/events", b.session),
                Some(json!({"events": [{
                    "type": "user.define_outcome",
                    "description": "Note the shopper's size",
                    "rubric": {"type": "text", "content": "- mentions the size"},
                    "max_iterations": 1,
                }]})),
            )
        }),
        ("send events", |b| {
            req(
                Method::POST,
                format!("/v1/sessions/{}/events", b.session),
                Some(json!({"events": [
                    {"type": "user.message", "content": [{"type": "text", "text": "what do I like?"}]}
                ]})),
            )
        }),
    ]
}

/// Waits until no session is running (a retried `user.message` runs a turn).
async fn settle(env: &Env) {
    let sessions = env
        .get_json("/v1/sessions?include_archived=true&limit=100")
        .await;
    for s in sessions["data"].as_array().unwrap() {
        if s["status"] == "running" {
            env.wait_idle(s["id"].as_str().unwrap()).await;
        }
    }
}

/// Asserts a 500 in the API's error body that says the write was not stored.
fn assert_not_stored(r: &Raw, what: &str) {
    r.assert_error(500, "api_error");
    assert!(
        r.message().contains(NOT_STORED) && r.message().contains("nothing was changed"),
        "{what}: {}",
        r.text
    );
}

/// Every REST write path, table-driven: a failed commit changes nothing (live and after a
/// restart), and the same request retried afterwards succeeds and is kept.
/// Break it as the module doc says, or make `Persist::apply` commit before the injected fault
/// (a write lost after it was acknowledged): both fail here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_changes_nothing_on_every_write_path() {
    for (name, request) in cases() {
        let dir = tempfile::tempdir().unwrap();
        let env = start_with(config(dir.path())).await;
        let base = setup(&env).await;
        let request = request(&base);
        let before = env.dump().await;

        let faults = env.emu.commit_faults();
        faults.fail_after(0);
        let failed = env.send(&request).await;
        assert_not_stored(&failed, name);
        assert_eq!(*faults.failures().borrow(), 1, "{name}: one commit tried");
        assert_eq!(
            env.dump().await,
            before,
            "{name}: a failed write is visible"
        );
        env.emu.shutdown().await;

        let env = start_with(config(dir.path())).await;
        assert_eq!(
            env.dump().await,
            before,
            "{name}: the restart shows other than what was acknowledged"
        );
        let retried = env.send(&request).await;
        assert!(
            (200..300).contains(&retried.status),
            "{name}: the retry failed: {} {}",
            retried.status,
            retried.text
        );
        settle(&env).await;
        let after = env.dump().await;
        assert_ne!(after, before, "{name}: the retried write is not visible");
        env.emu.shutdown().await;

        let env = start_with(config(dir.path())).await;
        assert_eq!(
            env.dump().await,
            after,
            "{name}: the restart lost or changed an acknowledged write"
        );
        env.emu.shutdown().await;
    }
}

/// The report: 30 memories of 90 KB on a disk that fills after 3. Exactly the 3
/// acknowledged ones are listed, retrievable and versioned, before and after a restart; once
/// the disk has room, retrying the 27 refused creates succeeds (none meets a 409).
/// Break the rollback (module doc) and 27 phantom memories are listed, and every retry is a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_keeps_exactly_the_acknowledged_memories() {
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(config(dir.path())).await;
    let store = env.store("big notes").await;
    let content = "x".repeat(90 * 1024);
    let create = |i: usize| Request {
        method: Method::POST,
        path: format!("/v1/memory_stores/{}/memories", store.id),
        body: Some(Body::Json(
            json!({"path": format!("/note-{i:02}.md"), "content": content}),
        )),
    };
    let faults = env.emu.commit_faults();
    faults.fail_after(3);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for i in 0..30 {
        let r = env.send(&create(i)).await;
        if r.status == 200 {
            acknowledged.push(r.body["path"].as_str().unwrap().to_string());
        } else {
            assert_not_stored(&r, "create");
            refused.push(i);
        }
    }
    assert_eq!(acknowledged.len(), 3);
    assert_eq!(refused.len(), 27);
    let paths = |dump: &Value| -> Vec<String> {
        let key = format!("memories of {}", store.id);
        let mut p: Vec<String> = dump[&key]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    let live = env.dump().await;
    assert_eq!(paths(&live), acknowledged);
    let versions = &live[&format!("versions of {}", store.id)]["data"];
    assert_eq!(versions.as_array().unwrap().len(), 3);
    env.emu.shutdown().await;

    let env = start_with(config(dir.path())).await;
    assert_eq!(env.dump().await, live, "the restart differs");
    for i in refused {
        let r = env.send(&create(i)).await;
        assert_eq!(r.status, 200, "retry of {i}: {}", r.text);
    }
    let all = env.dump().await;
    assert_eq!(paths(&all).len(), 30);
    env.emu.shutdown().await;
    let env = start_with(config(dir.path())).await;
    assert_eq!(env.dump().await, all);
    env.emu.shutdown().await;
}

/// The turn runner's writes (its events, and the agent's memory writes through the sandbox):
/// the disk fills at each commit of a turn in turn (`fail_after(k)` for k = 1, 2, … until a
/// turn no longer reaches the fault). Whatever the turn got stored is all that is visible, live
/// and after a restart; the session is never stuck (an interrupt ends a cut turn) and the same
/// message, sent again, runs to the end.
/// Break it: skip the rollback (module doc); or in `session/lifecycle.rs` make `give_up` return without
/// settling the session (it stays `running` with no runner and `wait_idle` times out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_cut_by_a_full_disk_keeps_only_what_it_stored() {
    let message = "Hi! I wear a size medium and I love linen shirts.";
    for k in 1..200u32 {
        let dir = tempfile::tempdir().unwrap();
        let env = start_with(config(dir.path())).await;
        let store = env.store("Shopper Preferences").await;
        let session = env
            .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
            .await;
        let faults = env.emu.commit_faults();
        let mut failures = faults.failures();
        // The send itself is stored; the turn's k-th commit after it fails.
        faults.fail_after(k);
        t(env
            .client
            .sessions()
            .events()
            .send_text(&session.id, message))
        .await
        .unwrap();
        let sessions = env.client.sessions();
        let idle_or_cut = async {
            tokio::select! {
                s = sessions.wait_for_idle(&session.id, LIMIT) => {
                    s.map(|_| false)
                }
                _ = failures.wait_for(|n| *n > 0) => Ok(true),
            }
        };
        let cut = t(idle_or_cut).await.unwrap();
        faults.clear();
        if !cut {
            // The whole turn fitted in k commits: every commit point has been tried.
            assert!(k > 3, "a turn takes more than {k} commits");
            let live = env.dump().await;
            env.emu.shutdown().await;
            let env = start_with(config(dir.path())).await;
            assert_eq!(env.dump().await, live);
            env.emu.shutdown().await;
            return;
        }
        // The cut turn ends at an interrupt (or on its own, if it got past the fault).
        t(env.client.sessions().events().send(
            &session.id,
            vec![ClientEvent::UserInterrupt(UserInterrupt::default())],
        ))
        .await
        .unwrap();
        env.wait_idle(&session.id).await;
        let live = env.dump().await;
        env.emu.shutdown().await;
        let env = start_with(config(dir.path())).await;
        assert_eq!(env.dump().await, live, "k={k}: the restart differs");
        t(env
            .client
            .sessions()
            .events()
            .send_text(&session.id, message))
        .await
        .unwrap();
        let idle = env.wait_idle(&session.id).await;
        assert_eq!(idle.status, SessionStatus::Idle);
        let events = env.events(&session.id).await;
        assert!(
            matches!(events.last(), Some(e) if e.type_name() == "session.status_idle"),
            "k={k}: the retried turn did not end"
        );
        env.emu.shutdown().await;
    }
    panic!("a turn never got past the fault");
}

/// An open event stream never delivers the events of a write that failed: after two refused
/// writes (a `user.message` and a title change) and a retried message, everything the stream
/// delivered is in the session's event list, in order, and none of it is from the refused
/// writes. Break it: make `EventLog::rollback` mark the events committed instead of cutting
/// them (done while writing it: the stream's first frame is then the refused message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_never_see_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    let env = start_with(config(dir.path())).await;
    let base = setup(&env).await;
    let mut stream = RawStream::open(&env, &base.session, "").await;
    let refused_text = "this message was never stored";
    let faults = env.emu.commit_faults();
    faults.fail_after(0);
    let message = |text: &str| Request {
        method: Method::POST,
        path: format!("/v1/sessions/{}/events", base.session),
        body: Some(Body::Json(json!({"events": [
            {"type": "user.message", "content": [{"type": "text", "text": text}]}
        ]}))),
    };
    assert_not_stored(&env.send(&message(refused_text)).await, "send");
    let retitle = Request {
        method: Method::POST,
        path: format!("/v1/sessions/{}", base.session),
        body: Some(Body::Json(json!({"title": "never stored"}))),
    };
    assert_not_stored(&env.send(&retitle).await, "update");
    faults.clear();
    let sent = env.send(&message("stored this time")).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let frames = stream.until("session.status_idle").await;
    let listed: Vec<Value> = env
        .get_json(&format!("/v1/sessions/{}/events?limit=1000", base.session))
        .await["data"]
        .as_array()
        .unwrap()
        .clone();
    let streamed: Vec<&Value> = frames.iter().map(|(_, data)| data).collect();
    assert_eq!(streamed[0]["content"][0]["text"], "stored this time");
    let tail = &listed[listed.len() - streamed.len()..];
    assert_eq!(
        streamed,
        tail.iter().collect::<Vec<_>>(),
        "the stream differs from the list"
    );
    let all = serde_json::to_string(&listed).unwrap();
    assert!(!all.contains(refused_text) && !all.contains("never stored"));
    env.emu.shutdown().await;
}

/// A real small disk: a tmpfs mounted for the test (which needs root). Unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when it cannot be mounted here; under `CI=true` that fails the test instead.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(Tmpfs { dir });
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: cannot mount a tmpfs (the small-disk test needs root and `mount`)"
        );
        eprintln!("skipped: cannot mount a tmpfs here (needs root); CI=true makes this fail");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Gives the disk room: the same files, a larger size.
    fn grow(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The same as the fault-hook test on a real tmpfs of 1 MiB: SQLite itself reports the full
/// disk. 90 KB memories are created until the disk is full; exactly the acknowledged ones are
/// listed, and after the disk grows a restart shows the same, and the refused creates, retried,
/// all succeed. Break the rollback (module doc) and the refused memories are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_full_disk_keeps_exactly_the_acknowledged_memories() {
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let data = disk.path().join("data");
    let env = start_with(config(&data)).await;
    let store = env.store("big notes").await;
    let content = "y".repeat(90 * 1024);
    let create = |i: usize| Request {
        method: Method::POST,
        path: format!("/v1/memory_stores/{}/memories", store.id),
        body: Some(Body::Json(
            json!({"path": format!("/note-{i:02}.md"), "content": content}),
        )),
    };
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for i in 0..30 {
        let r = env.send(&create(i)).await;
        if r.status == 200 {
            acknowledged.push(format!("/note-{i:02}.md"));
        } else {
            assert_not_stored(&r, "create");
            refused.push(i);
        }
    }
    assert!(
        !acknowledged.is_empty() && !refused.is_empty(),
        "the disk did not fill: {} stored, {} refused",
        acknowledged.len(),
        refused.len()
    );
    let listed = |dump: &Value| -> Vec<String> {
        let key = format!("memories of {}", store.id);
        let mut p: Vec<String> = dump[&key]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    let live = env.dump().await;
    assert_eq!(listed(&live), acknowledged);
    env.emu.shutdown().await;

    disk.grow("64m");
    let env = start_with(config(&data)).await;
    assert_eq!(env.dump().await, live, "the restart differs");
    for i in refused {
        let r = env.send(&create(i)).await;
        assert_eq!(r.status, 200, "retry of {i}: {}", r.text);
    }
    let all = env.dump().await;
    assert_eq!(listed(&all).len(), 30);
    env.emu.shutdown().await;
    let env = start_with(config(&data)).await;
    assert_eq!(env.dump().await, all);
    env.emu.shutdown().await;
}
