//! Durability: `cma serve --data-dir` killed with SIGKILL in the middle of a storm of concurrent
//! memory writes and a running conversation, then restarted on the same directory, has every
//! write it acknowledged (with its content and version), versions consistent with memories, and
//! every session and every event a client had already seen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The live fixtures the emulator's tests use, shared rather than copied.
#[path = "../crates/emulator/tests/common/fixtures.rs"]
mod fixtures;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cma_client::types::*;
use cma_client::{Client, TurnOptions, run_turn};
use futures::TryStreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

const LIMIT: Duration = Duration::from_secs(30);
const WRITERS: usize = 8;
/// Acknowledged writes before the kill.
const KILL_AFTER_ACKS: usize = 200;
/// Bounds each writer, in case the kill never comes.
const MAX_OPS_PER_WRITER: usize = 2_000;

async fn t<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("operation timed out")
}

/// A `cma serve` child process.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cma serve` on a free loopback port and waits for its `listening on` line.
    async fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cma"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("CMA_SERVE_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning cma serve");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(LIMIT, out.next_line())
            .await
            .expect("cma serve did not say where it listens")
            .unwrap()
            .unwrap_or_else(|| panic!("cma serve exited: {:?}", stderr.lock().unwrap()));
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        // Keep reading stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
        Server {
            child,
            base,
            stderr,
        }
    }

    fn client(&self) -> Client {
        Client::builder()
            .base_url(&self.base)
            .no_credentials()
            .max_retries(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// SIGKILL (tokio's `start_kill` on Unix), then reap.
    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = t(self.child.wait()).await.unwrap();
        assert!(!status.success(), "killed server exited with {status}");
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = t(self.child.wait()).await;
    }
}

/// What the writers know: acknowledged writes per path, in order, and the one write per path
/// that was in flight when the server died (it may or may not have been stored).
#[derive(Default)]
struct Ledger {
    acked: HashMap<String, Vec<Ack>>,
    in_flight: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct Ack {
    memory_id: String,
    content: String,
    version_id: String,
}

async fn writer(
    client: Client,
    store: String,
    w: usize,
    ledger: Arc<Mutex<Ledger>>,
    acks: watch::Sender<usize>,
) {
    let mems = client.memory_stores().memories();
    let mut memory: Option<(String, String)> = None; // (path, id)
    for op in 0..MAX_OPS_PER_WRITER {
        // Every fourth write creates a new memory; the others update the current one.
        let (path, result) = match &memory {
            Some((path, id)) if op % 4 != 0 => {
                let content = format!("writer {w} op {op} update");
                ledger
                    .lock()
                    .unwrap()
                    .in_flight
                    .insert(path.clone(), content.clone());
                let up = UpdateMemory {
                    content: Some(Some(content.clone())),
                    ..Default::default()
                };
                (
                    path.clone(),
                    (content, mems.update(&store, id, &up, None).await),
                )
            }
            _ => {
                let path = format!("/storm/w{w}/m{op}.md");
                let content = format!("writer {w} op {op} create");
                ledger
                    .lock()
                    .unwrap()
                    .in_flight
                    .insert(path.clone(), content.clone());
                let p = CreateMemory {
                    path: path.clone(),
                    content: Some(content.clone()),
                };
                (path, (content, mems.create(&store, &p, None).await))
            }
        };
        let (content, result) = result;
        match result {
            Ok(m) => {
                assert_eq!(m.path, path);
                assert_eq!(m.content_sha256, content_sha256(&content));
                let mut l = ledger.lock().unwrap();
                l.in_flight.remove(&path);
                l.acked.entry(path.clone()).or_default().push(Ack {
                    memory_id: m.id.clone(),
                    content,
                    version_id: m.memory_version_id,
                });
                drop(l);
                memory = Some((path, m.id));
                acks.send_modify(|n| *n += 1);
            }
            // The server is gone: this write stays in flight (unknown outcome).
            Err(e) => {
                assert!(e.status().is_none(), "an API error, not a dead server: {e}");
                return;
            }
        }
    }
}

/// Sends turns on `session` and records every event id the live stream delivers, until the
/// server dies.
async fn talker(client: Client, session: String, seen: Arc<Mutex<Vec<String>>>) {
    let events = client.sessions().events();
    let Ok(mut stream) = events.stream(&session, &StreamEvents::default()).await else {
        return;
    };
    for turn in 0..1_000 {
        let text = if turn % 2 == 0 {
            "Hi! I wear a size medium and my budget is $120."
        } else {
            "What do you remember about me?"
        };
        if events.send_text(&session, text).await.is_err() {
            return;
        }
        loop {
            match tokio::time::timeout(LIMIT, stream.next_event()).await {
                Ok(Some(Ok(e))) => {
                    seen.lock().unwrap().push(e.id().unwrap().to_string());
                    if e.type_name() == "session.status_idle" {
                        break;
                    }
                }
                // Closed or broken: the server died.
                Ok(Some(Err(_)) | None) => return,
                Err(_) => panic!("no event for {LIMIT:?} while the server was up"),
            }
        }
        // The idle event can precede the status flip; the next send needs an idle session.
        if client
            .sessions()
            .wait_for_idle(&session, Duration::from_secs(10))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn list_events(client: &Client, session: &str) -> Vec<String> {
    let events: Vec<SessionEvent> = t(client
        .sessions()
        .events()
        .list_all(
            session,
            &ListEvents {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .try_collect())
    .await
    .unwrap();
    events.iter().map(|e| e.id().unwrap().to_string()).collect()
}

async fn session(client: &Client, store: &str) -> Session {
    t(fixtures::session_on_store(
        client,
        store,
        "Durable Shopper",
        "claude-sonnet-4-6",
    ))
    .await
    .unwrap()
}

/// After the restart: every acknowledged write is there, the memory at each path holds its last
/// acknowledged content or the write that was in flight, and versions agree with memories.
async fn check_writes(client: &Client, store: &str, ledger: &Ledger) -> (usize, usize) {
    let (memories, versions) = t(fixtures::store_contents(client, store)).await.unwrap();
    let version: HashMap<&str, &MemoryVersion> =
        versions.iter().map(|v| (v.id.as_str(), v)).collect();
    let mut by_path: HashMap<&str, &Memory> = HashMap::new();
    for item in &memories {
        let MemoryListItem::Memory(m) = item else {
            panic!("unexpected {item:?}")
        };
        assert!(
            by_path.insert(&m.path, m).is_none(),
            "two memories at {}",
            m.path
        );
        // Versions consistent with the memory.
        let content = m.content.as_deref().unwrap();
        assert_eq!(m.content_sha256, content_sha256(content), "{}", m.path);
        let v = version
            .get(m.memory_version_id.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "{}: current version {} is gone",
                    m.path, m.memory_version_id
                )
            });
        assert_eq!(v.memory_id, m.id);
        assert_eq!(v.content.as_deref(), Some(content), "{}", m.path);
        assert_eq!(v.content_sha256.as_deref(), Some(m.content_sha256.as_str()));
        let newest = versions.iter().find(|x| x.memory_id == m.id).unwrap();
        assert_eq!(
            newest.id, m.memory_version_id,
            "{}: a version newer than the memory",
            m.path
        );
        // Only paths the writers wrote.
        assert!(
            ledger.acked.contains_key(&m.path) || ledger.in_flight.contains_key(&m.path),
            "{} was never written",
            m.path
        );
    }
    for (path, acks) in &ledger.acked {
        let m = by_path
            .get(path.as_str())
            .unwrap_or_else(|| panic!("{path}: an acknowledged memory is gone"));
        let last = acks.last().unwrap();
        assert_eq!(m.id, last.memory_id);
        let content = m.content.as_deref().unwrap();
        let in_flight = ledger.in_flight.get(path).map(String::as_str);
        assert!(
            content == last.content || Some(content) == in_flight,
            "{path}: holds {content:?}, acknowledged {:?} (in flight {in_flight:?})",
            last.content
        );
        if content == last.content {
            assert_eq!(m.memory_version_id, last.version_id, "{path}");
        }
        for a in acks {
            let v = version
                .get(a.version_id.as_str())
                .unwrap_or_else(|| panic!("{path}: acknowledged version {} is gone", a.version_id));
            assert_eq!(v.content.as_deref(), Some(a.content.as_str()), "{path}");
            assert_eq!(
                v.content_sha256.as_deref(),
                Some(content_sha256(&a.content).as_str())
            );
        }
    }
    for (path, content) in &ledger.in_flight {
        if !ledger.acked.contains_key(path)
            && let Some(m) = by_path.get(path.as_str())
        {
            // An unacknowledged create that made it to disk holds exactly what was sent.
            assert_eq!(m.content.as_deref(), Some(content.as_str()), "{path}");
        }
    }
    (memories.len(), versions.len())
}

/// Every memory's current version exists and matches it (for a store written by agents).
async fn check_writes_consistent(client: &Client, store: &str) {
    let memories: Vec<MemoryListItem> = t(client
        .memory_stores()
        .memories()
        .list_all(
            store,
            &ListMemories {
                view: Some(View::Full),
                limit: Some(20),
                ..Default::default()
            },
        )
        .try_collect())
    .await
    .unwrap();
    for item in &memories {
        let MemoryListItem::Memory(m) = item else {
            continue;
        };
        let v = t(client.memory_stores().memory_versions().retrieve(
            store,
            &m.memory_version_id,
            Some(View::Full),
        ))
        .await
        .unwrap();
        assert_eq!(v.memory_id, m.id);
        assert_eq!(v.content, m.content, "{}", m.path);
        assert_eq!(v.content_sha256.as_deref(), Some(m.content_sha256.as_str()));
    }
}

/// SIGKILL mid-storm, restart on the same directory: nothing acknowledged is lost.
///
/// To see it fail: in `Persist::apply`, drop the transaction instead of committing it
/// (`tx.commit()?` → `drop(tx)`): the restart reports "the acknowledged store … is gone"; or
/// skip storing `memory_version` records there: "current version … is gone".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_storm_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let client = server.client();

    // A conversation and its events before the storm.
    let store = t(client.memory_stores().create(&CreateMemoryStore {
        name: "Durable".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    // The agents write their own notes, in a store of their own.
    let notes = t(client.memory_stores().create(&CreateMemoryStore {
        name: "Shopper Preferences".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    let calm = session(&client, &notes.id).await;
    let options = TurnOptions {
        turn_timeout: LIMIT,
        gap_timeout: Duration::from_secs(10),
        max_reconnects: 2,
    };
    for text in [
        "I love hiking and my budget is $90.",
        "Please remember I prefer green.",
    ] {
        let turn = t(run_turn(&client, &calm.id, text, &options))
            .await
            .unwrap();
        assert!(turn.ended_normally());
        t(client
            .sessions()
            .wait_for_idle(&calm.id, Duration::from_secs(10)))
        .await
        .unwrap();
    }
    let calm_events = list_events(&client, &calm.id).await;
    let calm_session = t(client.sessions().retrieve(&calm.id)).await.unwrap();

    // The storm: writers and a live conversation, killed after enough acknowledgements.
    let busy = session(&client, &notes.id).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (acks_tx, mut acks_rx) = watch::channel(0usize);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        tasks.push(tokio::spawn(writer(
            client.clone(),
            store.id.clone(),
            w,
            ledger.clone(),
            acks_tx.clone(),
        )));
    }
    tasks.push(tokio::spawn(talker(
        client.clone(),
        busy.id.clone(),
        seen.clone(),
    )));
    drop(acks_tx);
    t(acks_rx.wait_for(|n| *n >= KILL_AFTER_ACKS))
        .await
        .expect("the writers stopped before the kill");
    let stderr = server.stderr.clone();
    server.kill().await;
    for task in tasks {
        t(task).await.unwrap();
    }
    let acked = *acks_rx.borrow();
    let seen = seen.lock().unwrap().clone();
    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();

    // Restart on the same directory.
    let server = Server::start(dir.path()).await;
    let client = server.client();
    for s in [&store, &notes] {
        let after = t(client.memory_stores().retrieve(&s.id))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the acknowledged store {} is gone after the restart: {e}",
                    s.id
                )
            });
        assert_eq!(&after, s);
    }
    let (memories, versions) = check_writes(&client, &store.id, &ledger).await;
    check_writes_consistent(&client, &notes.id).await;

    // Sessions and events survive; every event a client saw on a stream is stored, in order.
    let after = t(client.sessions().retrieve(&calm.id)).await.unwrap();
    assert_eq!(after.id, calm_session.id);
    assert_eq!(after.status, SessionStatus::Idle);
    assert_eq!(list_events(&client, &calm.id).await, calm_events);
    let busy_events = list_events(&client, &busy.id).await;
    assert!(
        busy_events.len() >= seen.len() && busy_events[..seen.len()] == seen[..],
        "events seen on the stream before the kill are not all stored: saw {}, stored {}",
        seen.len(),
        busy_events.len()
    );
    let unique: HashSet<&String> = busy_events.iter().collect();
    assert_eq!(unique.len(), busy_events.len(), "an event stored twice");
    // The restarted server works: a new turn in the old idle session.
    let turn = t(run_turn(
        &client,
        &calm.id,
        "What do you remember about me?",
        &options,
    ))
    .await
    .unwrap();
    assert!(turn.ended_normally(), "{turn:?}");
    println!(
        "durability: killed after {acked} acknowledged writes and {} streamed events; after the restart {memories} memories, {versions} versions, {} events in the busy session",
        seen.len(),
        busy_events.len()
    );
    let log = stderr.lock().unwrap().join("\n");
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    server.stop().await;
}
