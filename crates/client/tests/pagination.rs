//! Cursor pagination: `list` is one page; `list_all` follows `next_page` the way the SDK's
//! auto-iteration does, and refuses to loop on a repeated cursor.

mod common;

use cma_client::Error;
use cma_client::types::*;
use common::{
    MockServer, Recorded, Reply, memory_json, memory_store_json, page_json, pairs, session_json,
    within,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

fn stores(ids: &[&str]) -> Vec<Value> {
    ids.iter().map(|id| memory_store_json(id)).collect()
}

/// Answers by the `page` query parameter: `pages` maps a cursor (None = first request) to a body.
async fn paged(pages: Vec<(Option<&'static str>, Value)>) -> MockServer {
    MockServer::start(move |rec: &Recorded, _| {
        let cursor = rec
            .query
            .iter()
            .find(|(k, _)| k == "page")
            .map(|(_, v)| v.as_str());
        match pages.iter().find(|(c, _)| *c == cursor) {
            Some((_, body)) => Reply::ok(body.clone()),
            None => Reply::error(400, "invalid_request_error", "unknown cursor")
                .header("x-should-retry", "false"),
        }
    })
    .await
}

fn page_params(rec: &Recorded) -> Vec<&str> {
    rec.query
        .iter()
        .filter(|(k, _)| k == "page")
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn collect_ids(
    s: futures::stream::BoxStream<'static, cma_client::Result<MemoryStore>>,
) -> Vec<String> {
    within("list_all", s.map_ok(|m| m.id).try_collect::<Vec<_>>())
        .await
        .expect("list_all succeeds")
}

#[tokio::test]
async fn list_returns_one_page_only() {
    let srv = paged(vec![
        (None, page_json(stores(&["a", "b"]), Some("c2"))),
        (Some("c2"), page_json(stores(&["c"]), None)),
    ])
    .await;
    let page = within(
        "list",
        srv.client()
            .memory_stores()
            .list(&ListMemoryStores::default()),
    )
    .await
    .expect("list");
    assert_eq!(
        page.data.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(page.next_page.as_deref(), Some("c2"));
    assert_eq!(page.next_cursor(), Some("c2"));
    assert_eq!(srv.count(), 1);
}

#[tokio::test]
async fn list_all_follows_next_page_repeating_the_query() {
    let srv = paged(vec![
        (None, page_json(stores(&["a", "b"]), Some("c2"))),
        (Some("c2"), page_json(stores(&["c", "d"]), Some("c3"))),
        (Some("c3"), page_json(stores(&["e"]), None)),
    ])
    .await;
    let params = ListMemoryStores {
        created_at_gte: Some("2026-01-01T00:00:00Z".parse().expect("ts")),
        include_archived: Some(true),
        limit: Some(2),
        ..Default::default()
    };
    let c = srv.client();
    let ids = collect_ids(c.memory_stores().list_all(&params)).await;
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 3);
    let base = pairs(&[
        ("created_at[gte]", "2026-01-01T00:00:00+00:00"),
        ("include_archived", "true"),
        ("limit", "2"),
    ]);
    for (rec, cursor) in reqs.iter().zip([None, Some("c2"), Some("c3")]) {
        let mut expected = base.clone();
        if let Some(c) = cursor {
            expected.push(("page".into(), c.into()));
        }
        assert_eq!(
            rec.query, expected,
            "every page repeats the original query plus page=<cursor>"
        );
        assert_eq!(rec.path, "/v1/memory_stores");
        assert_eq!(
            rec.header("anthropic-beta"),
            Some("agent-memory-2026-07-22")
        );
    }
}

#[tokio::test]
async fn list_all_replaces_a_starting_page_parameter() {
    let srv = paged(vec![
        (Some("start"), page_json(stores(&["a"]), Some("c2"))),
        (Some("c2"), page_json(stores(&["b"]), None)),
    ])
    .await;
    let params = ListMemoryStores {
        page: Some("start".into()),
        ..Default::default()
    };
    let c = srv.client();
    assert_eq!(
        collect_ids(c.memory_stores().list_all(&params)).await,
        ["a", "b"]
    );
    let reqs = srv.requests();
    assert_eq!(page_params(&reqs[0]), ["start"]);
    assert_eq!(page_params(&reqs[1]), ["c2"], "exactly one page parameter");
}

#[tokio::test]
async fn list_all_continues_across_an_empty_page_with_a_cursor() {
    let srv = paged(vec![
        (None, page_json(stores(&["a"]), Some("c2"))),
        (Some("c2"), page_json(vec![], Some("c3"))),
        (Some("c3"), page_json(stores(&["b"]), None)),
    ])
    .await;
    let c = srv.client();
    assert_eq!(
        collect_ids(c.memory_stores().list_all(&ListMemoryStores::default())).await,
        ["a", "b"]
    );
    assert_eq!(srv.count(), 3);
}

#[tokio::test]
async fn list_all_stops_on_null_missing_and_empty_cursors() {
    let last_pages = [
        json!({"data": [memory_store_json("b")], "next_page": null}),
        json!({"data": [memory_store_json("b")]}),
        json!({"data": [memory_store_json("b")], "next_page": ""}),
    ];
    for last in last_pages {
        let srv = paged(vec![
            (None, page_json(stores(&["a"]), Some("c2"))),
            (Some("c2"), last.clone()),
        ])
        .await;
        let c = srv.client();
        assert_eq!(
            collect_ids(c.memory_stores().list_all(&ListMemoryStores::default())).await,
            ["a", "b"]
        );
        assert_eq!(srv.count(), 2, "no request after the last page {last}");
    }
    // A first page that is also the last: one request.
    let srv = paged(vec![(None, json!({"data": [], "next_page": ""}))]).await;
    let c = srv.client();
    assert!(
        collect_ids(c.memory_stores().list_all(&ListMemoryStores::default()))
            .await
            .is_empty()
    );
    assert_eq!(srv.count(), 1);
}

async fn repeated_cursor_case(
    pages: Vec<(Option<&'static str>, Value)>,
    expected_ids: &[&str],
    requests: usize,
) {
    let srv = paged(pages).await;
    let c = srv.client();
    let items: Vec<cma_client::Result<MemoryStore>> = within(
        "list_all",
        c.memory_stores()
            .list_all(&ListMemoryStores::default())
            .collect::<Vec<_>>(),
    )
    .await;
    let (oks, errs): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
    let ids: Vec<String> = oks.into_iter().map(|r| r.expect("ok").id).collect();
    assert_eq!(
        ids, expected_ids,
        "items before the repeat are still yielded"
    );
    assert_eq!(errs.len(), 1, "exactly one error ends the stream");
    match errs.into_iter().next().expect("one error") {
        Err(Error::Decode { message, .. }) => assert!(message.contains("cursor"), "{message}"),
        other => panic!("expected a decode error about the cursor, got {other:?}"),
    }
    assert_eq!(srv.count(), requests);
}

#[tokio::test]
async fn a_repeated_cursor_ends_with_an_error_instead_of_looping() {
    // The same cursor twice in a row.
    repeated_cursor_case(
        vec![
            (None, page_json(stores(&["a"]), Some("c2"))),
            (Some("c2"), page_json(stores(&["b"]), Some("c2"))),
        ],
        &["a", "b"],
        2,
    )
    .await;
}

#[tokio::test]
async fn a_cursor_cycle_ends_with_an_error_instead_of_looping() {
    // c2 -> c3 -> c2: no cursor repeats back to back, but the walk would never end.
    repeated_cursor_case(
        vec![
            (None, page_json(stores(&["a"]), Some("c2"))),
            (Some("c2"), page_json(stores(&["b"]), Some("c3"))),
            (Some("c3"), page_json(stores(&["c"]), Some("c2"))),
        ],
        &["a", "b", "c"],
        3,
    )
    .await;
}

#[tokio::test]
async fn a_next_page_equal_to_the_starting_cursor_is_a_repeat() {
    let srv = paged(vec![(
        Some("start"),
        page_json(stores(&["a"]), Some("start")),
    )])
    .await;
    let c = srv.client();
    let params = ListMemoryStores {
        page: Some("start".into()),
        ..Default::default()
    };
    let items = within(
        "list_all",
        c.memory_stores().list_all(&params).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().expect("the page's item").id, "a");
    assert!(
        matches!(items[1], Err(Error::Decode { .. })),
        "{:?}",
        items[1]
    );
    assert_eq!(srv.count(), 1);
}

#[tokio::test]
async fn an_error_mid_walk_ends_the_stream_after_the_earlier_items() {
    let srv = MockServer::scripted(vec![
        Reply::ok(page_json(stores(&["a"]), Some("c2"))),
        Reply::error(404, "not_found_error", "cursor expired"),
    ])
    .await;
    let c = srv.client();
    let items = within(
        "list_all",
        c.memory_stores()
            .list_all(&ListMemoryStores::default())
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().expect("first item").id, "a");
    assert_eq!(
        items[1].as_ref().expect_err("then the error").status(),
        Some(404)
    );
}

#[tokio::test]
async fn sessions_list_parses_prev_page() {
    let srv = MockServer::scripted(vec![Reply::ok(json!({
        "data": [session_json("sesn_1", "idle")], "next_page": "n2", "prev_page": "p0"
    }))])
    .await;
    let page = within(
        "list",
        srv.client().sessions().list(&ListSessions::default()),
    )
    .await
    .expect("list");
    assert_eq!(page.prev_page.as_deref(), Some("p0"));
    assert_eq!(page.next_page.as_deref(), Some("n2"));
    assert_eq!(page.data[0].status, SessionStatus::Idle);
    // Pages without it parse too, and it is not serialized when absent.
    let p: Page<Value> = serde_json::from_value(json!({"data": []})).expect("page");
    assert_eq!(p.prev_page, None);
    assert_eq!(p.next_page, None);
    assert_eq!(
        serde_json::to_value(&p).expect("ser"),
        json!({"data": [], "next_page": null})
    );
}

#[tokio::test]
async fn list_all_on_every_resource_follows_cursors() {
    // One two-page walk per list_all, each checking the path and that page 2 carries page=c2.
    let srv = MockServer::start(|rec: &Recorded, _| {
        let second = rec.query.iter().any(|(k, v)| k == "page" && v == "c2");
        let item = match rec.path.as_str() {
            p if p.ends_with("/memories") => memory_json(if second { "mem_2" } else { "mem_1" }, "/a.md"),
            p if p.ends_with("/memory_versions") => common::memory_version_json(if second { "v2" } else { "v1" }),
            p if p.ends_with("/versions") || p == "/v1/agents" => common::agent_json(if second { "g2" } else { "g1" }),
            "/v1/environments" => common::environment_json(if second { "e2" } else { "e1" }),
            "/v1/sessions" => session_json(if second { "s2" } else { "s1" }, "idle"),
            p if p.ends_with("/events") => json!({
                "type": "agent.thinking", "id": if second { "ev2" } else { "ev1" }, "processed_at": common::T0
            }),
            _ => return Reply::error(404, "not_found_error", "no route"),
        };
        Reply::ok(page_json(vec![item], if second { None } else { Some("c2") }))
    })
    .await;
    let c = srv.client();
    let n = |r: cma_client::Result<Vec<String>>| r.expect("walk succeeds");
    let memories = n(within(
        "memories",
        c.memory_stores()
            .memories()
            .list_all("memstore_1", &ListMemories::default())
            .map_ok(|i| match i {
                MemoryListItem::Memory(m) => m.id,
                other => format!("{other:?}"),
            })
            .try_collect(),
    )
    .await);
    assert_eq!(memories, ["mem_1", "mem_2"]);
    let versions = n(within(
        "versions",
        c.memory_stores()
            .memory_versions()
            .list_all("memstore_1", &ListMemoryVersions::default())
            .map_ok(|v| v.id)
            .try_collect(),
    )
    .await);
    assert_eq!(versions, ["v1", "v2"]);
    let agents = n(within(
        "agents",
        c.agents()
            .list_all(&ListAgents::default())
            .map_ok(|a| a.id)
            .try_collect(),
    )
    .await);
    assert_eq!(agents, ["g1", "g2"]);
    let agent_versions = n(within(
        "agent versions",
        c.agents()
            .versions()
            .list_all("agent_1", &ListAgentVersions::default())
            .map_ok(|a| a.id)
            .try_collect(),
    )
    .await);
    assert_eq!(agent_versions, ["g1", "g2"]);
    let envs = n(within(
        "environments",
        c.environments()
            .list_all(&ListEnvironments::default())
            .map_ok(|e| e.id)
            .try_collect(),
    )
    .await);
    assert_eq!(envs, ["e1", "e2"]);
    let sessions = n(within(
        "sessions",
        c.sessions()
            .list_all(&ListSessions::default())
            .map_ok(|s| s.id)
            .try_collect(),
    )
    .await);
    assert_eq!(sessions, ["s1", "s2"]);
    let events = n(within(
        "events",
        c.sessions()
            .events()
            .list_all("sesn_1", &ListEvents::default())
            .map_ok(|e| e.id().expect("id").to_string())
            .try_collect(),
    )
    .await);
    assert_eq!(events, ["ev1", "ev2"]);
    assert_eq!(srv.count(), 14);
}
