//! Fetching through the client against a small axum mock on 127.0.0.1 that counts requests.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cma_client::types::{MemoryVersion, Operation};
use cma_client::{ClientBuilder, Config};
use cma_history::{
    FetchError, FetchOptions, Format, HistoryFetcher, RenderOptions, render_history,
};
use common::{STORE, fixture_versions, t};

#[derive(Default)]
struct Mock {
    versions: Vec<MemoryVersion>,
    /// Version ids whose full fetch answers as redacted (redacted after the listing).
    redact_on_fetch: Vec<String>,
    /// How long a full fetch takes.
    delay: Duration,
    list_requests: AtomicUsize,
    list_views: Mutex<Vec<String>>,
    full_fetches: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn not_found(what: &str) -> Response {
    let body = serde_json::json!({"type": "error", "error": {"type": "not_found_error", "message": format!("{what} not found")}});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn store(Path(id): Path<String>) -> Response {
    if id != STORE {
        return not_found("memory store");
    }
    Json(serde_json::json!({
        "type": "memory_store", "id": STORE, "name": "Fixture", "description": "", "metadata": {},
        "created_at": t(-10), "updated_at": t(-10), "archived_at": null
    }))
    .into_response()
}

async fn list(State(mock): State<Arc<Mock>>, Query(q): Query<HashMap<String, String>>) -> Response {
    mock.list_requests.fetch_add(1, Ordering::SeqCst);
    mock.list_views
        .lock()
        .expect("lock")
        .push(q.get("view").cloned().unwrap_or_default());
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let start: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let page: Vec<MemoryVersion> = mock
        .versions
        .iter()
        .skip(start)
        .take(limit)
        .cloned()
        .map(|mut v| {
            v.content = None; // view=basic
            v
        })
        .collect();
    let next = (start + limit < mock.versions.len()).then(|| (start + limit).to_string());
    Json(serde_json::json!({"data": page, "next_page": next})).into_response()
}

async fn retrieve(
    State(mock): State<Arc<Mock>>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_in_flight.fetch_max(now, Ordering::SeqCst);
    *mock
        .full_fetches
        .lock()
        .expect("lock")
        .entry(id.clone())
        .or_default() += 1;
    tokio::time::sleep(mock.delay).await;
    mock.in_flight.fetch_sub(1, Ordering::SeqCst);
    let Some(mut v) = mock.versions.iter().find(|v| v.id == id).cloned() else {
        return not_found("memory version");
    };
    if mock.redact_on_fetch.contains(&id) {
        v.content = None;
        v.content_sha256 = None;
        v.content_size_bytes = None;
        v.path = None;
        v.redacted_at = Some(t(100));
    }
    Json(v).into_response()
}

async fn serve(mock: Arc<Mock>) -> String {
    let app = axum::Router::new()
        .route("/v1/memory_stores/{store}", get(store))
        .route("/v1/memory_stores/{store}/memory_versions", get(list))
        .route(
            "/v1/memory_stores/{store}/memory_versions/{version}",
            get(retrieve),
        )
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn client(base_url: &str) -> cma_client::Client {
    ClientBuilder::from_config(Config::default())
        .base_url(base_url)
        .api_key("sk-test")
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn options() -> FetchOptions {
    FetchOptions {
        page_size: 4,
        concurrency: 3,
        request_timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn content_is_fetched_once_per_sha_and_never_twice() {
    let mock = Arc::new(Mock {
        versions: fixture_versions(),
        delay: Duration::from_millis(20),
        ..Mock::default()
    });
    let client = client(&serve(mock.clone()).await);
    let mut fetcher = HistoryFetcher::new(&client, STORE, options());
    let mut history = fetcher.list().await.expect("list");
    assert_eq!(history.versions().len(), 13);
    // 13 versions in pages of 4, all with view=basic.
    assert_eq!(mock.list_requests.load(Ordering::SeqCst), 4);
    assert!(
        mock.list_views
            .lock()
            .expect("lock")
            .iter()
            .all(|v| v == "basic")
    );
    assert!(
        mock.full_fetches.lock().expect("lock").is_empty(),
        "listing fetched no content"
    );

    fetcher.load_shown(&mut history).await.expect("load");
    let fetched = mock.full_fetches.lock().expect("lock").clone();
    // memver_05 is a pure rename of memver_03's content: known by sha, never fetched. Deleted and
    // redacted versions have no content to fetch.
    let mut ids: Vec<&str> = fetched.keys().map(String::as_str).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "memver_01",
            "memver_02",
            "memver_03",
            "memver_04",
            "memver_06",
            "memver_07",
            "memver_08",
            "memver_10"
        ]
    );
    assert!(fetched.values().all(|&n| n == 1), "{fetched:?}");
    assert!(
        mock.max_in_flight.load(Ordering::SeqCst) <= 3,
        "concurrency bounded"
    );
    let stats = fetcher.stats();
    assert_eq!((stats.versions_listed, stats.content_requests), (13, 8));
    assert_eq!(stats.content_reused, 1);

    // Loading again fetches nothing: everything is cached by sha256.
    fetcher.load_shown(&mut history).await.expect("load again");
    assert_eq!(
        mock.full_fetches
            .lock()
            .expect("lock")
            .values()
            .sum::<usize>(),
        8
    );

    let mut out = Vec::new();
    render_history(&history, Format::Text, &RenderOptions::default(), &mut out).expect("render");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("-size: medium\n+size: large"), "{text}");
}

#[tokio::test]
async fn only_the_versions_to_render_and_their_predecessors_are_fetched() {
    let mock = Arc::new(Mock {
        versions: fixture_versions(),
        ..Mock::default()
    });
    let client = client(&serve(mock.clone()).await);
    let mut fetcher = HistoryFetcher::new(&client, STORE, options());
    let mut history = fetcher.list().await.expect("list");
    history.apply_filter(&cma_history::VersionFilter {
        operation: Some(Operation::Deleted),
        ..Default::default()
    });
    fetcher.load_shown(&mut history).await.expect("load");
    let mut ids: Vec<String> = mock
        .full_fetches
        .lock()
        .expect("lock")
        .keys()
        .cloned()
        .collect();
    ids.sort_unstable();
    // The deletion of /no-newline.txt needs the content it removed (memver_07), nothing else.
    assert_eq!(ids, ["memver_07"]);
}

#[tokio::test]
async fn a_version_redacted_after_the_listing_is_shown_as_redacted() {
    let mock = Arc::new(Mock {
        versions: fixture_versions(),
        redact_on_fetch: vec!["memver_07".into()],
        ..Mock::default()
    });
    let client = client(&serve(mock.clone()).await);
    let mut fetcher = HistoryFetcher::new(&client, STORE, options());
    let mut history = fetcher.list().await.expect("list");
    fetcher.load_shown(&mut history).await.expect("load");
    let v = &history.versions()[history.index_of("memver_07").expect("listed")];
    assert!(v.is_redacted());
    for format in Format::ALL {
        let mut out = Vec::new();
        render_history(&history, format, &RenderOptions::default(), &mut out)
            .expect("a redaction never fails a render");
    }
}

#[tokio::test]
async fn an_unknown_store_is_a_not_found_error() {
    let mock = Arc::new(Mock::default());
    let client = client(&serve(mock).await);
    let err = HistoryFetcher::new(&client, "memstore_nope", options())
        .list()
        .await
        .expect_err("unknown store");
    match err {
        FetchError::Client(e) => assert!(e.is_not_found(), "{e}"),
        other => panic!("expected a client error, got {other}"),
    }
}

#[tokio::test]
async fn a_hanging_server_hits_the_request_timeout() {
    let mock = Arc::new(Mock {
        versions: fixture_versions(),
        delay: Duration::from_secs(30),
        ..Mock::default()
    });
    let client = client(&serve(mock).await);
    let opts = FetchOptions {
        request_timeout: Duration::from_millis(200),
        ..options()
    };
    let mut fetcher = HistoryFetcher::new(&client, STORE, opts);
    let mut history = fetcher.list().await.expect("list is fast");
    let started = std::time::Instant::now();
    let err = fetcher
        .load_shown(&mut history)
        .await
        .expect_err("times out");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
