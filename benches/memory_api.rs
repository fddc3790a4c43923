//! Memory API benchmarks.
//!
//! `render_*` groups: rendering synthetic histories of 1,000 / 5,000 / 10,000 versions with each
//! renderer, reported per version (`Throughput::Elements`), so linear scaling shows as a flat
//! per-element time across sizes. API round-trip groups live in their own functions.

use std::hint::black_box;
use std::time::Duration;

use chrono::TimeZone;
use cma_client::types::{Actor, Operation, SessionActor};
use cma_history::{Format, History, RenderOptions, Version, render_history};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [usize; 3] = [1_000, 5_000, 10_000];
const MEMORIES: usize = 100;
const LINES: usize = 30;

/// A memory's content at its `revision`: 30 lines, one of which changes per revision.
fn content(memory: usize, revision: usize) -> String {
    let mut s = String::with_capacity(LINES * 48);
    for line in 0..LINES {
        if line == revision % LINES {
            s.push_str(&format!(
                "pref {memory}.{line}: revision {revision} prefers size large\n"
            ));
        } else {
            s.push_str(&format!(
                "pref {memory}.{line}: budget under $200, likes linen\n"
            ));
        }
    }
    s
}

/// `versions` versions round-robin over 100 memories: a create each, then modifications, with
/// every 50th version a rename and the last version of every 10th memory a delete.
fn synthetic_history(versions: usize) -> History {
    let base = chrono::Utc
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut list = Vec::with_capacity(versions);
    let mut texts = Vec::with_capacity(versions);
    let last_revision = versions.div_ceil(MEMORIES) - 1;
    for n in 0..versions {
        let (memory, revision) = (n % MEMORIES, n / MEMORIES);
        let operation = match revision {
            0 => Operation::Created,
            r if r == last_revision && memory % 10 == 0 => Operation::Deleted,
            _ => Operation::Modified,
        };
        let renamed = (revision / 5) % 2;
        let path = format!("/shoppers/{memory:03}/prefs-{renamed}.md");
        let text = (operation != Operation::Deleted).then(|| content(memory, revision));
        list.push(Version {
            id: format!("memver_{n:06}"),
            memory_id: format!("mem_{memory:03}"),
            operation,
            path: Some(path),
            content_sha256: text.as_deref().map(cma_client::types::content_sha256),
            content_size_bytes: text.as_ref().map(|t| t.len() as u64),
            created_at: base + chrono::Duration::seconds(n as i64),
            created_by: Some(Actor::Session(SessionActor {
                session_id: format!("sesn_{:04}", n % 37),
            })),
            redacted_at: None,
            redacted_by: None,
        });
        texts.extend(text);
    }
    let mut history = History::new("memstore_bench", list);
    for text in texts {
        history.insert_content(text);
    }
    history
}

fn render_history_formats(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_history");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let options = RenderOptions::default(); // text without colour
    for size in SIZES {
        let history = synthetic_history(size);
        group.throughput(Throughput::Elements(size as u64));
        for format in [Format::Text, Format::Patch, Format::Json] {
            group.bench_with_input(
                BenchmarkId::new(format.as_str(), size),
                &history,
                |b, history| {
                    b.iter(|| {
                        let mut sink = std::io::sink();
                        render_history(black_box(history), format, &options, &mut sink)
                            .expect("a sink never fails");
                    })
                },
            );
        }
    }
    group.finish();
}

/// Create, update, list and version-history round trips through the client against the
/// embedded emulator on loopback.
fn api_round_trips(c: &mut Criterion) {
    use cma_client::Client;
    use cma_client::types::{
        CreateMemory, CreateMemoryStore, ListMemories, ListMemoryVersions, UpdateMemory, View,
    };
    use futures::TryStreamExt;

    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    // `memory_id` has exactly 101 versions for the history group; `updated_id` takes the update group's writes.
    let (emulator, client, store_id, memory_id, updated_id) = rt.block_on(async {
        let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default())
            .await
            .expect("emulator");
        let client = Client::builder()
            .base_url(emulator.base_url())
            .api_key("bench")
            .build()
            .expect("client");
        let store = client
            .memory_stores()
            .create(&CreateMemoryStore {
                name: "bench".into(),
                ..Default::default()
            })
            .await
            .expect("store");
        let mut ids = Vec::new();
        for i in 0..20 {
            let create = CreateMemory {
                path: format!("/notes/{i}.md"),
                content: Some(content(i, 0)),
            };
            let m = client
                .memory_stores()
                .memories()
                .create(&store.id, &create, None)
                .await
                .expect("memory");
            ids.push(m.id);
        }
        let (memory_id, updated_id) = (ids[0].clone(), ids[1].clone());
        for r in 1..=100 {
            let update = UpdateMemory {
                content: Some(Some(content(0, r))),
                ..Default::default()
            };
            client
                .memory_stores()
                .memories()
                .update(&store.id, &memory_id, &update, None)
                .await
                .expect("update");
        }
        (emulator, client, store.id, memory_id, updated_id)
    });

    let mut group = c.benchmark_group("memory_api");
    let mut n = 0usize;
    // A store holds at most 2,000 memories (as the API documents), so each created memory is
    // deleted again: this measures the pair of round trips.
    group.bench_function("create_and_delete", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let create = CreateMemory {
                path: format!("/bench/{n}.md"),
                content: Some(content(n, 0)),
            };
            let (client, store_id) = (client.clone(), store_id.clone());
            async move {
                let memories = client.memory_stores().memories();
                let m = memories
                    .create(&store_id, &create, None)
                    .await
                    .expect("create");
                memories
                    .delete(&store_id, &m.id, &Default::default())
                    .await
                    .expect("delete")
            }
        })
    });
    let mut r = 100usize;
    group.bench_function("update", |b| {
        b.to_async(&rt).iter(|| {
            r += 1;
            let update = UpdateMemory {
                content: Some(Some(content(0, r))),
                ..Default::default()
            };
            let (client, store_id, memory_id) =
                (client.clone(), store_id.clone(), updated_id.clone());
            async move {
                client
                    .memory_stores()
                    .memories()
                    .update(&store_id, &memory_id, &update, None)
                    .await
                    .expect("update")
            }
        })
    });
    group.bench_function("list_20_full", |b| {
        let params = ListMemories {
            path_prefix: Some("/notes/".into()),
            view: Some(View::Full),
            limit: Some(20),
            ..Default::default()
        };
        b.to_async(&rt).iter(|| async {
            client
                .memory_stores()
                .memories()
                .list(&store_id, &params)
                .await
                .expect("list")
        })
    });
    group.bench_function("version_history_100_basic", |b| {
        let params = ListMemoryVersions {
            memory_id: Some(memory_id.clone()),
            limit: Some(100),
            ..Default::default()
        };
        b.to_async(&rt).iter(|| async {
            let all: Vec<_> = client
                .memory_stores()
                .memory_versions()
                .list_all(&store_id, &params)
                .try_collect()
                .await
                .expect("versions");
            assert_eq!(all.len(), 101);
        })
    });
    group.finish();
    rt.block_on(emulator.shutdown());
}

criterion_group!(benches, render_history_formats, api_round_trips);
criterion_main!(benches);
