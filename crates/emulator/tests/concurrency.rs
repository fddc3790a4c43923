//! Concurrent writers: optimistic concurrency with `content_sha256` preconditions loses no update,
//! and agents of two sessions writing one store (with a REST writer alongside) corrupt nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cma_client::types::*;
use cma_client::{Client, TurnOptions, run_turn};
use common::*;
use futures::TryStreamExt;

const WRITERS: usize = 8;
const WINS_PER_WRITER: usize = 4;
/// Bounds each writer's loop, so a server that refuses everything still ends the test.
const MAX_ATTEMPTS_PER_WRITER: usize = 400;

#[derive(Debug)]
struct Win {
    line: String,
    /// The sha the precondition named: the content this write was based on.
    based_on: String,
    content: String,
    version_id: String,
}

/// Read-modify-write until `WINS_PER_WRITER` writes got through: append one line to what was read,
/// conditional on the content still being what was read.
async fn rmw_writer(client: Client, store: String, memory: String, w: usize) -> (Vec<Win>, usize) {
    let mems = client.memory_stores().memories();
    let mut wins = Vec::new();
    let mut refused = 0;
    for attempt in 0..MAX_ATTEMPTS_PER_WRITER {
        if wins.len() == WINS_PER_WRITER {
            break;
        }
        let read = t(mems.retrieve(&store, &memory, Some(View::Full)))
            .await
            .unwrap();
        let current = read.content.unwrap();
        assert_eq!(read.content_sha256, content_sha256(&current));
        let line = format!("writer {w} attempt {attempt}");
        let content = format!("{current}\n{line}");
        let up = UpdateMemory {
            content: Some(Some(content.clone())),
            precondition: Some(Precondition::content_sha256(read.content_sha256.clone())),
            ..Default::default()
        };
        match t(mems.update(&store, &memory, &up, None)).await {
            Ok(m) => {
                assert_eq!(m.content_sha256, content_sha256(&content));
                wins.push(Win {
                    line,
                    based_on: read.content_sha256,
                    content,
                    version_id: m.memory_version_id,
                });
            }
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert_eq!(
                    e.error_type(),
                    Some("memory_precondition_failed_error"),
                    "{e}"
                );
                refused += 1;
            }
        }
        // Let the other writers interleave.
        tokio::task::yield_now().await;
    }
    assert_eq!(wins.len(), WINS_PER_WRITER, "writer {w} starved");
    (wins, refused)
}

/// `assert!` that returns an `Err` instead of panicking, so a checker can be tested on bad input.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// The rules a lost update would break, given the history of one memory (oldest first) and the
/// writes that were acknowledged.
fn check_no_lost_update(
    initial: &str,
    history: &[MemoryVersion],
    wins: &[Win],
    final_content: &str,
) -> Result<(), String> {
    // The history is the creation, then exactly the acknowledged writes.
    ensure!(
        history.len() == wins.len() + 1,
        "{} versions for {} acknowledged writes",
        history.len(),
        wins.len()
    );
    ensure!(
        history[0].operation == Operation::Created
            && history[0].content.as_deref() == Some(initial),
        "the first version is not the creation: {:?}",
        history[0]
    );
    let by_version: HashMap<&str, &Win> = wins.iter().map(|w| (w.version_id.as_str(), w)).collect();
    let mut expected = initial.to_string();
    for pair in history.windows(2) {
        let (prev, v) = (&pair[0], &pair[1]);
        let Some(win) = by_version.get(v.id.as_str()) else {
            return Err(format!("version {} was never acknowledged", v.id));
        };
        ensure!(
            v.operation == Operation::Modified,
            "{}: {:?}",
            v.id,
            v.operation
        );
        ensure!(
            v.content.as_deref() == Some(win.content.as_str()),
            "{}: the version's content is not what was written",
            v.id
        );
        // Each write was based on the version right before it: nothing in between was lost.
        ensure!(
            Some(win.based_on.as_str()) == prev.content_sha256.as_deref(),
            "{} was based on a content that is not the one before it (a lost update)",
            v.id
        );
        expected = format!("{expected}\n{}", win.line);
        ensure!(
            v.content.as_deref() == Some(expected.as_str()),
            "{}: content is not the previous one plus its line",
            v.id
        );
    }
    // The final content is the initial one plus every acknowledged line, once each.
    ensure!(
        final_content == expected,
        "final content {final_content:?} is not {expected:?}"
    );
    let lines: Vec<&str> = final_content.lines().skip(1).collect();
    let won: HashSet<&str> = wins.iter().map(|w| w.line.as_str()).collect();
    ensure!(
        lines.len() == won.len() && lines.iter().copied().collect::<HashSet<_>>() == won,
        "final lines {lines:?} are not the acknowledged ones {won:?}"
    );
    Ok(())
}

/// N writers in a read-modify-write loop on one memory: no lost update, every refusal a 409
/// `memory_precondition_failed_error`, the history exactly the acknowledged writes in order.
///
/// To see it fail: make the emulator skip the precondition check in `store/memory.rs` (treat
/// every `precondition_sha256` as matching); writers then overwrite each other and the test
/// reports a write "based on a content that is not the one before it" and a final content
/// missing acknowledged lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_lose_no_update() {
    let env = start().await;
    let store = env.store("Contended").await;
    let initial = "# counter";
    let mem = env.memory(&store.id, "/counter.md", initial).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(rmw_writer(
                env.client.clone(),
                store.id.clone(),
                mem.id.clone(),
                w,
            ))
        })
        .collect();
    let results = tokio::time::timeout(Duration::from_secs(120), futures::future::join_all(tasks))
        .await
        .expect("writers did not finish");
    let mut wins = Vec::new();
    let mut refused = 0;
    for r in results {
        let (w, n) = r.unwrap();
        wins.extend(w);
        refused += n;
    }
    let final_mem =
        t(env
            .client
            .memory_stores()
            .memories()
            .retrieve(&store.id, &mem.id, Some(View::Full)))
        .await
        .unwrap();
    let mut history: Vec<MemoryVersion> = t(env
        .client
        .memory_stores()
        .memory_versions()
        .list_all(
            &store.id,
            &ListMemoryVersions {
                memory_id: Some(mem.id.clone()),
                view: Some(View::Full),
                ..Default::default()
            },
        )
        .try_collect())
    .await
    .unwrap();
    history.reverse(); // listed newest first
    assert_eq!(
        history.last().unwrap().id,
        final_mem.memory_version_id,
        "the current version is the newest"
    );
    if let Err(e) = check_no_lost_update(
        initial,
        &history,
        &wins,
        final_mem.content.as_deref().unwrap(),
    ) {
        panic!("lost update: {e}");
    }
    println!(
        "{} writers: {} writes acknowledged, {refused} refused with 409",
        WRITERS,
        wins.len()
    );
    assert!(refused > 0, "no contention: the test proved nothing");
}

/// The checker itself: a lost update is caught.
#[test]
fn lost_updates_are_caught() {
    let version = |id: &str, op: Operation, content: &str| MemoryVersion {
        id: id.into(),
        memory_id: "mem".into(),
        memory_store_id: "store".into(),
        operation: op,
        content: Some(content.into()),
        content_sha256: Some(content_sha256(content)),
        content_size_bytes: Some(content.len() as u64),
        path: Some("/c".into()),
        created_at: chrono::Utc::now(),
        created_by: None,
        redacted_at: None,
        redacted_by: None,
    };
    let win = |v: &str, line: &str, based_on: &str, content: &str| Win {
        line: line.into(),
        based_on: content_sha256(based_on),
        content: content.into(),
        version_id: v.into(),
    };
    // Two writers both based on the initial content: the second overwrote the first.
    let history = vec![
        version("v0", Operation::Created, "#"),
        version("v1", Operation::Modified, "#\na"),
        version("v2", Operation::Modified, "#\nb"),
    ];
    let wins = vec![win("v1", "a", "#", "#\na"), win("v2", "b", "#", "#\nb")];
    let e = check_no_lost_update("#", &history, &wins, "#\nb").unwrap_err();
    assert!(e.contains("lost update"), "{e}");
    // And the honest history passes.
    let history = vec![
        version("v0", Operation::Created, "#"),
        version("v1", Operation::Modified, "#\na"),
        version("v2", Operation::Modified, "#\na\nb"),
    ];
    let wins = vec![
        win("v1", "a", "#", "#\na"),
        win("v2", "b", "#\na", "#\na\nb"),
    ];
    check_no_lost_update("#", &history, &wins, "#\na\nb").unwrap();
}

/// Every memory's current version exists and matches it; every version is self-consistent; each
/// memory's newest version is its current one; paths are unique.
async fn check_store_consistent(client: &Client, store: &str) -> (usize, usize) {
    let (memories, versions) = t(common::fixtures::store_contents(client, store))
        .await
        .unwrap();
    let by_id: HashMap<&str, &MemoryVersion> =
        versions.iter().map(|v| (v.id.as_str(), v)).collect();
    assert_eq!(by_id.len(), versions.len(), "a version listed twice");
    for v in &versions {
        assert_eq!(v.memory_store_id, store);
        if let Some(c) = &v.content {
            assert_eq!(
                v.content_sha256.as_deref(),
                Some(content_sha256(c).as_str()),
                "{}",
                v.id
            );
            assert_eq!(v.content_size_bytes, Some(c.len() as u64), "{}", v.id);
        }
    }
    let mut paths = HashSet::new();
    let mut live = HashSet::new();
    for item in &memories {
        let MemoryListItem::Memory(m) = item else {
            panic!("unexpected {item:?}")
        };
        assert!(paths.insert(m.path.clone()), "two memories at {}", m.path);
        live.insert(m.id.clone());
        let content = m.content.as_deref().unwrap();
        assert_eq!(m.content_sha256, content_sha256(content));
        let v = by_id
            .get(m.memory_version_id.as_str())
            .unwrap_or_else(|| panic!("{}: current version {} missing", m.id, m.memory_version_id));
        assert_eq!(v.memory_id, m.id);
        assert_eq!(
            v.content.as_deref(),
            Some(content),
            "{}: its current version holds other content",
            m.id
        );
        assert_eq!(v.content_sha256.as_deref(), Some(m.content_sha256.as_str()));
        assert_eq!(v.path.as_deref(), Some(m.path.as_str()));
        assert_ne!(v.operation, Operation::Deleted);
        // Listed newest first: the first version of this memory in the list is the current one.
        let newest = versions.iter().find(|x| x.memory_id == m.id).unwrap();
        assert_eq!(
            newest.id, m.memory_version_id,
            "{}: a newer version than the current",
            m.id
        );
    }
    // A memory that is gone ends with a `deleted` version.
    for v in &versions {
        if !live.contains(&v.memory_id) {
            let newest = versions
                .iter()
                .find(|x| x.memory_id == v.memory_id)
                .unwrap();
            assert_eq!(
                newest.operation,
                Operation::Deleted,
                "{} vanished",
                v.memory_id
            );
        }
    }
    (memories.len(), versions.len())
}

const VISITS: &[&str] = &[
    "Hi! I'm {who}. I wear a size medium and my budget is $120.",
    "{who} here: I love hiking and trail running.",
    "Please remember that my name is {who} and I prefer the colour green.",
    "I also like cycling, says {who}.",
    "Actually my budget is $200 now.",
    "What do you remember about me?",
];

/// Two sessions' agents (and a REST writer) writing one store at once corrupt nothing.
///
/// To see it fail: in `Model::update_memory` (`store/memory.rs`), skip setting the memory's
/// `memory_version_id` to the new version; `check_store_consistent` then reports the current
/// version's content differing from the memory's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_share_a_store_without_corruption() {
    let env = start().await;
    let store = env.store("Shared Household").await;
    let a = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let b = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let options = TurnOptions {
        turn_timeout: Duration::from_secs(30),
        gap_timeout: Duration::from_secs(10),
        max_reconnects: 5,
    };
    // Each household member says their own things: the agent writes only what is new to it.
    let talk = |session: String, who: &'static str| {
        let client = env.client.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let mut writes = 0;
            for text in VISITS {
                let text = text.replace("{who}", who);
                let turn = t(run_turn(&client, &session, &text, &options))
                    .await
                    .unwrap();
                assert!(turn.ended_normally(), "{turn:?}");
                writes += turn.tool_uses.iter().filter(|u| u.writes_memory()).count();
                t(client
                    .sessions()
                    .wait_for_idle(&session, Duration::from_secs(10)))
                .await
                .unwrap();
            }
            writes
        })
    };
    let rest = {
        let client = env.client.clone();
        let store = store.id.clone();
        tokio::spawn(async move {
            let mems = client.memory_stores().memories();
            for i in 0..20 {
                let m = t(mems.create(
                    &store,
                    &CreateMemory {
                        path: format!("/rest/{i}.md"),
                        content: Some(format!("rest {i}")),
                    },
                    None,
                ))
                .await
                .unwrap();
                let up = UpdateMemory {
                    content: Some(Some(format!("rest {i} again"))),
                    ..Default::default()
                };
                t(mems.update(&store, &m.id, &up, None)).await.unwrap();
                if i % 4 == 0 {
                    t(mems.delete(&store, &m.id, &DeleteMemory::default()))
                        .await
                        .unwrap();
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let (wa, wb, r) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(talk(a.id.clone(), "Ana"), talk(b.id.clone(), "Bruno"), rest)
    })
    .await
    .expect("sessions did not finish");
    let agent_writes = wa.unwrap() + wb.unwrap();
    r.unwrap();
    assert!(
        agent_writes >= 2,
        "the agents wrote nothing: the test proved nothing"
    );
    let (memories, versions) = check_store_consistent(&env.client, &store.id).await;
    // Versions written by each session carry that session as their actor.
    let by_session = |s: &str| {
        let c = env.client.clone();
        let store = store.id.clone();
        let s = s.to_string();
        async move {
            t(c.memory_stores()
                .memory_versions()
                .list_all(
                    &store,
                    &ListMemoryVersions {
                        session_id: Some(s),
                        ..Default::default()
                    },
                )
                .try_collect::<Vec<MemoryVersion>>())
            .await
            .unwrap()
            .len()
        }
    };
    let (va, vb) = (by_session(&a.id).await, by_session(&b.id).await);
    assert!(va > 0 && vb > 0, "session versions: {va}, {vb}");
    println!(
        "shared store: {memories} memories, {versions} versions ({agent_writes} agent writes; {va} + {vb} by the sessions)"
    );
}
