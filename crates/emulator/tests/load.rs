//! Load: the emulator holds 1,000 open event streams (each gets its event) and runs 100 turns at
//! once, on the machine's 2 cores, without an error. Prints the figures recorded in
//! `reports/bench/README.md` (`## Load`): time to open the streams, fan-out time, turns per
//! second, and the test process's resident memory (client and server share the process).
//!
//! 1,000 streams need about 2,000 file descriptors (both ends of each socket are in this
//! process); the soft `RLIMIT_NOFILE` is raised towards the hard one with `prlimit` if it is lower.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cma_client::types::*;
use cma_client::{Client, TurnOptions, run_turn};
use cma_emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;

const STREAMS: usize = 1_000;
const STREAM_SESSIONS: usize = 10;
const TURNS: usize = 100;
/// Bounds each phase; the figures printed are what matters, never an upper bound on speed.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(PHASE_LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in {PHASE_LIMIT:?}"))
}

/// A line of `/proc/self/status` in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// (soft, hard) `Max open files`, from `/proc/self/limits`.
fn nofile() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line.split_whitespace().filter_map(|w| {
        w.parse::<u64>()
            .ok()
            .or((w == "unlimited").then_some(u64::MAX))
    });
    Some((nums.next()?, nums.next()?))
}

/// Makes sure `need` descriptors can be open, raising the soft limit (safe code only: the
/// `prlimit` tool on this process) when it is lower.
fn ensure_fds(need: u64) {
    let Some((soft, hard)) = nofile() else {
        println!("load: cannot read /proc/self/limits; assuming enough file descriptors");
        return;
    };
    if soft >= need {
        return;
    }
    assert!(
        hard >= need,
        "need {need} file descriptors but the hard limit is {hard}: raise `ulimit -Hn`"
    );
    let target = hard.min(65_536);
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={target}:{hard}"))
        .status();
    let now = nofile().map_or(0, |l| l.0);
    assert!(
        now >= need,
        "need {need} file descriptors, the soft limit is {soft} and raising it failed ({status:?}): run `ulimit -n {need}` first"
    );
    println!("load: raised the soft open-files limit from {soft} to {now}");
}

fn client(base: &str) -> Client {
    Client::builder()
        .base_url(base)
        .api_key("load-key")
        .max_retries(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn session_with(c: &Client, agent: &str, env: &str, store: Option<&str>) -> String {
    let mut p = CreateSession::new(AgentRef::Id(agent.to_string()), env.to_string());
    if let Some(s) = store {
        p.resources = Some(vec![ResourceParams::memory_store(
            s,
            Access::ReadWrite,
            None,
        )]);
    }
    bounded("session", c.sessions().create(&p))
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_streams_and_hundred_concurrent_turns() {
    ensure_fds((STREAMS as u64) * 2 + 512);
    let emu = bounded("start", Emulator::start(EmulatorConfig::default()))
        .await
        .unwrap();
    let c = client(&emu.base_url());
    let mut a = CreateAgent::new("Load Shopper", "claude-sonnet-4-6");
    a.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAllow(Empty {}),
    ))]);
    let agent = bounded("agent", c.agents().create(&a)).await.unwrap().id;
    let env = bounded(
        "environment",
        c.environments().create(&CreateEnvironment {
            name: "load".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap()
    .id;
    let rss_start = status_kb("VmRSS");

    // Phase 1: 1,000 open streams over 10 sessions, then one event on each session.
    let mut sessions = Vec::new();
    for _ in 0..STREAM_SESSIONS {
        sessions.push(session_with(&c, &agent, &env, None).await);
    }
    let opened_at = Instant::now();
    let streams: Vec<(usize, cma_client::EventStream)> = bounded(
        "opening the streams",
        futures::stream::iter(0..STREAMS)
            .map(|i| {
                let c = c.clone();
                let s = sessions[i % STREAM_SESSIONS].clone();
                async move {
                    let stream = c
                        .sessions()
                        .events()
                        .stream(&s, &StreamEvents::default())
                        .await
                        .unwrap_or_else(|e| panic!("stream {i}: {e}"));
                    (i, stream)
                }
            })
            .buffer_unordered(64)
            .collect(),
    )
    .await;
    let open_time = opened_at.elapsed();
    assert_eq!(streams.len(), STREAMS);
    let rss_streams = status_kb("VmRSS");
    let fanout_at = Instant::now();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|(i, mut stream)| {
            let want = sessions[i % STREAM_SESSIONS].clone();
            tokio::spawn(async move {
                let event = tokio::time::timeout(PHASE_LIMIT, stream.next_event())
                    .await
                    .unwrap_or_else(|_| panic!("stream {i} got nothing"))
                    .unwrap_or_else(|| panic!("stream {i} closed"))
                    .unwrap_or_else(|e| panic!("stream {i}: {e}"));
                assert_eq!(event.type_name(), "session.updated", "stream {i}");
                let title = serde_json::to_value(&event).unwrap()["title"].clone();
                assert_eq!(
                    title,
                    serde_json::json!(format!("load {want}")),
                    "stream {i}"
                );
                stream
            })
        })
        .collect();
    for s in &sessions {
        let up = UpdateSession {
            title: Some(Some(format!("load {s}"))),
            ..Default::default()
        };
        bounded("session update", c.sessions().update(s, &up))
            .await
            .unwrap();
    }
    let held = bounded("fan-out", futures::future::join_all(readers)).await;
    let fanout = fanout_at.elapsed();
    let held: Vec<cma_client::EventStream> = held.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(held.len(), STREAMS);
    println!(
        "load: {STREAMS} streams opened in {open_time:.2?} (RSS {} -> {} kB, {:.1} kB per stream); one event to each in {fanout:.2?}",
        rss_start,
        rss_streams,
        rss_streams.saturating_sub(rss_start) as f64 / STREAMS as f64,
    );

    // Phase 2: 100 turns at once, each in its own session with its own store.
    let mut turn_sessions = Vec::new();
    for i in 0..TURNS {
        let store = bounded(
            "store",
            c.memory_stores().create(&CreateMemoryStore {
                name: format!("Load {i}"),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .id;
        turn_sessions.push(session_with(&c, &agent, &env, Some(&store)).await);
    }
    let options = TurnOptions {
        turn_timeout: Duration::from_secs(90),
        gap_timeout: Duration::from_secs(60),
        max_reconnects: 0,
    };
    let mut rates = Vec::new();
    for (round, text) in [
        "Hi! I wear a size medium and my budget is $120.",
        "What do you remember about me?",
    ]
    .into_iter()
    .enumerate()
    {
        let started = Instant::now();
        let turns = turn_sessions.iter().map(|s| {
            let c = c.clone();
            let s = s.clone();
            let options = options.clone();
            tokio::spawn(async move { run_turn(&c, &s, text, &options).await })
        });
        let turns = bounded("concurrent turns", futures::future::join_all(turns)).await;
        let took = started.elapsed();
        let mut events = 0;
        for (i, t) in turns.into_iter().enumerate() {
            let t = t
                .unwrap()
                .unwrap_or_else(|e| panic!("turn {i} of round {round}: {e}"));
            assert!(t.ended_normally(), "turn {i} of round {round}: {:?}", t.end);
            assert_eq!(t.reconnects, 0);
            events += t.events.len();
        }
        let rate = TURNS as f64 / took.as_secs_f64();
        rates.push(rate);
        println!(
            "load: round {}: {TURNS} concurrent turns ({events} events) in {took:.2?}: {rate:.1} turns/s",
            round + 1
        );
        for s in &turn_sessions {
            bounded(
                "idle",
                c.sessions().wait_for_idle(s, Duration::from_secs(30)),
            )
            .await
            .unwrap();
        }
    }
    println!(
        "load: RSS at the end {} kB, peak {} kB; {STREAMS} streams still open",
        status_kb("VmRSS"),
        status_kb("VmHWM")
    );
    // The streams stayed open through phase 2; shutting down closes them.
    bounded("shutdown", emu.shutdown()).await;
    drop(held);
}
