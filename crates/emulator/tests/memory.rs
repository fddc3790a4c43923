//! Memory stores, memories and memory versions over HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use cma_client::types::*;
use common::*;
use reqwest::Method;

#[tokio::test]
async fn store_lifecycle() {
    let env = start().await;
    let c = &env.client;
    let mut meta = Metadata::new();
    meta.insert("tier".into(), "gold".into());
    let p = CreateMemoryStore {
        name: "Shopper Preferences".into(),
        description: None,
        metadata: Some(meta),
    };
    let store = t(c.memory_stores().create(&p)).await.unwrap();
    assert!(store.id.starts_with("memstore_01") && store.id.len() == "memstore_01".len() + 22);
    assert_eq!(store.description, "");
    assert_eq!(store.created_at, store.updated_at);
    assert_eq!(
        t(c.memory_stores().retrieve(&store.id)).await.unwrap(),
        store
    );

    // A memory change does not touch the store's updated_at.
    env.memory(&store.id, "/a.md", "x").await;
    assert_eq!(
        t(c.memory_stores().retrieve(&store.id))
            .await
            .unwrap()
            .updated_at,
        store.updated_at
    );

    let mut patch = MetadataPatch::new();
    patch.insert("tier".into(), None);
    patch.insert("lang".into(), Some("en".into()));
    let up = UpdateMemoryStore {
        name: Some(Some("Renamed".into())),
        description: Some(Some("d".into())),
        metadata: Some(Some(patch)),
    };
    let updated = t(c.memory_stores().update(&store.id, &up)).await.unwrap();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.description, "d");
    assert_eq!(updated.metadata.get("lang").map(String::as_str), Some("en"));
    assert!(!updated.metadata.contains_key("tier"));
    assert!(updated.updated_at > store.updated_at);

    let archived = t(c.memory_stores().archive(&store.id)).await.unwrap();
    assert!(archived.archived_at.is_some());
    assert_eq!(
        t(c.memory_stores().archive(&store.id)).await.unwrap(),
        archived,
        "archive is idempotent"
    );
    let e = t(c
        .memory_stores()
        .update(&store.id, &UpdateMemoryStore::default()))
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(400));

    // Archived stores are hidden from lists unless asked for.
    let listed = t(c.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap();
    assert!(listed.data.iter().all(|s| s.id != store.id));
    let listed = t(c.memory_stores().list(&ListMemoryStores {
        include_archived: Some(true),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert!(listed.data.iter().any(|s| s.id == store.id));

    let d = t(c.memory_stores().delete(&store.id)).await.unwrap();
    assert_eq!(
        (d.id.as_str(), d.kind.as_str()),
        (store.id.as_str(), "memory_store_deleted")
    );
    assert_eq!(
        t(c.memory_stores().retrieve(&store.id))
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    env.emu.shutdown().await;
}

#[tokio::test]
async fn store_field_rules() {
    let env = start().await;
    let c = &env.client;
    let bad = |name: &str| CreateMemoryStore {
        name: name.into(),
        ..Default::default()
    };
    for (p, needle) in [
        (bad(""), "name"),
        (bad(&"x".repeat(256)), "name"),
        (bad("a\u{7}b"), "name"),
        (
            CreateMemoryStore {
                name: "ok".into(),
                description: Some("d".repeat(1025)),
                metadata: None,
            },
            "description",
        ),
    ] {
        let e = t(c.memory_stores().create(&p)).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{p:?}");
        assert!(e.api().unwrap().message.contains(needle), "{e}");
    }
    let many: Metadata = (0..17).map(|i| (format!("k{i}"), "v".into())).collect();
    for meta in [
        many,
        [("k".repeat(65), "v".to_string())].into_iter().collect(),
        [("k".to_string(), "v".repeat(513))].into_iter().collect(),
    ] {
        let p = CreateMemoryStore {
            name: "ok".into(),
            description: None,
            metadata: Some(meta),
        };
        let e = t(c.memory_stores().create(&p)).await.unwrap_err();
        assert_eq!(
            e.api().unwrap().error_code.as_deref(),
            Some("invalid_metadata"),
            "{e}"
        );
    }
    assert!(
        t(c.memory_stores().list(&ListMemoryStores::default()))
            .await
            .unwrap()
            .data
            .is_empty()
    );
}

#[tokio::test]
async fn memory_crud_views_and_hashes() {
    let env = start().await;
    let c = env.client.memory_stores();
    let store = env.store("s").await;
    let created = env.memory(&store.id, "/notes/a.md", "hello").await;
    assert!(created.id.starts_with("mem_01"));
    assert!(created.memory_version_id.starts_with("memver_01"));
    assert_eq!(created.content, None, "create defaults to view=basic");
    assert_eq!(created.content_sha256, content_sha256("hello"));
    assert_eq!(created.content_size_bytes, 5);
    let full = t(c.memories().retrieve(&store.id, &created.id, None))
        .await
        .unwrap();
    assert_eq!(
        full.content.as_deref(),
        Some("hello"),
        "retrieve defaults to view=full"
    );
    let basic = t(c
        .memories()
        .retrieve(&store.id, &created.id, Some(View::Basic)))
    .await
    .unwrap();
    assert_eq!(basic.content, None);
    let raw = env
        .raw(
            Method::GET,
            &format!("/v1/memory_stores/{}/memories/{}", store.id, created.id),
            &[AM],
            None,
        )
        .await;
    assert_eq!(raw.body["type"], "memory");

    let empty = t(c.memories().create(
        &store.id,
        &CreateMemory {
            path: "/e".into(),
            content: None,
        },
        Some(View::Full),
    ))
    .await
    .unwrap();
    assert_eq!(empty.content.as_deref(), Some(""));
    assert_eq!(empty.content_sha256, content_sha256(""));

    // Content limit: exactly 102,400 bytes is fine, one more is a 400.
    let max = "x".repeat(102_400);
    env.memory(&store.id, "/max", &max).await;
    let e = t(c.memories().create(
        &store.id,
        &CreateMemory {
            path: "/big".into(),
            content: Some(format!("{max}y")),
        },
        None,
    ))
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.api().unwrap().message.contains("102400"), "{e}");

    let d = t(c
        .memories()
        .delete(&store.id, &created.id, &DeleteMemory::default()))
    .await
    .unwrap();
    assert_eq!(d.kind, "memory_deleted");
    assert_eq!(
        t(c.memories().retrieve(&store.id, &created.id, None))
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    assert_eq!(
        t(c.memories().retrieve("memstore_01nope", &created.id, None))
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
}

#[tokio::test]
async fn path_rules_each_give_400() {
    let env = start().await;
    let store = env.store("s").await;
    let cases: Vec<(String, &str)> = vec![
        ("a.md".into(), "start with '/'"),
        ("/".into(), "empty"),
        ("/a//b".into(), "empty"),
        ("/a/./b".into(), "'.'"),
        ("/a/../b".into(), "'..'"),
        ("/a\u{1}b".into(), "control"),
        ("/a\u{200D}b".into(), "format"),
        ("/a\u{FEFF}".into(), "format"),
        ("/a\u{2029}".into(), "separator"),
        ("/cafe\u{0301}".into(), "NFC"),
        ("/a".repeat(21), "segments"),
        (format!("/{}", "é".repeat(512)), "1024 bytes"),
    ];
    for (path, needle) in cases {
        let p = CreateMemory {
            path: path.clone(),
            content: Some("x".into()),
        };
        let e = t(env
            .client
            .memory_stores()
            .memories()
            .create(&store.id, &p, None))
        .await
        .unwrap_err();
        assert_eq!(e.status(), Some(400), "{path:?}");
        let msg = &e.api().unwrap().message;
        assert!(
            msg.contains("path") && msg.contains(needle),
            "{path:?}: {msg}"
        );
    }
    let listed = t(env
        .client
        .memory_stores()
        .memories()
        .list(&store.id, &ListMemories::default()))
    .await
    .unwrap();
    assert!(listed.data.is_empty(), "nothing invalid was stored");
    // Case-sensitive and NFC paths are fine.
    env.memory(&store.id, "/A.md", "1").await;
    env.memory(&store.id, "/a.md", "2").await;
    env.memory(&store.id, "/caf\u{e9}", "3").await;
}

#[tokio::test]
async fn conflicts_and_preconditions() {
    let env = start().await;
    let m = env.client.memory_stores().memories();
    let store = env.store("s").await;
    let a = env.memory(&store.id, "/a.md", "one").await;
    let b = env.memory(&store.id, "/b.md", "two").await;

    let raw = env
        .raw(
            Method::POST,
            &format!("/v1/memory_stores/{}/memories", store.id),
            &[AM],
            Some(r#"{"path":"/a.md","content":"x"}"#),
        )
        .await;
    raw.assert_error(409, "memory_path_conflict_error");
    assert_eq!(raw.headers.get("x-should-retry").unwrap(), "false");

    let rename_onto_b = UpdateMemory {
        path: Some(Some("/b.md".into())),
        ..Default::default()
    };
    let e = t(m.update(&store.id, &a.id, &rename_onto_b, None))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), Some("memory_path_conflict_error"));

    // A stale precondition fails even when the update also renames.
    let stale = UpdateMemory {
        content: Some(Some("new".into())),
        path: Some(Some("/c.md".into())),
        precondition: Some(Precondition::content_sha256(content_sha256("not one"))),
    };
    let e = t(m.update(&store.id, &a.id, &stale, None))
        .await
        .unwrap_err();
    assert!(e.is_precondition_failed(), "{e}");
    let raw = env
        .raw(
            Method::POST,
            &format!("/v1/memory_stores/{}/memories/{}", store.id, a.id),
            &[AM],
            Some(&serde_json::to_string(&stale).unwrap()),
        )
        .await;
    raw.assert_error(409, "memory_precondition_failed_error");
    assert_eq!(raw.headers.get("x-should-retry").unwrap(), "false");
    let same = t(m.retrieve(&store.id, &a.id, None)).await.unwrap();
    assert_eq!(
        (same.path.as_str(), same.content.as_deref()),
        ("/a.md", Some("one"))
    );

    let fresh = UpdateMemory {
        precondition: Some(Precondition::content_sha256(content_sha256("one"))),
        ..stale
    };
    let moved = t(m.update(&store.id, &a.id, &fresh, Some(View::Full)))
        .await
        .unwrap();
    assert_eq!(
        (
            moved.id.as_str(),
            moved.path.as_str(),
            moved.content.as_deref()
        ),
        (a.id.as_str(), "/c.md", Some("new"))
    );
    // The old path is free again.
    env.memory(&store.id, "/a.md", "again").await;

    // No-op update: same content and path returns the memory unchanged, with no new version.
    let noop = UpdateMemory {
        content: Some(Some("new".into())),
        path: Some(Some("/c.md".into())),
        precondition: None,
    };
    let same = t(m.update(&store.id, &a.id, &noop, Some(View::Full)))
        .await
        .unwrap();
    assert_eq!(same, moved);

    let bad = DeleteMemory {
        expected_content_sha256: Some(content_sha256("nope")),
    };
    let e = t(m.delete(&store.id, &b.id, &bad)).await.unwrap_err();
    assert!(e.is_precondition_failed());
    assert!(
        t(m.retrieve(&store.id, &b.id, None)).await.is_ok(),
        "nothing deleted"
    );
    let bad_format = DeleteMemory {
        expected_content_sha256: Some("ABC".into()),
    };
    assert_eq!(
        t(m.delete(&store.id, &b.id, &bad_format))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    let good = DeleteMemory {
        expected_content_sha256: Some(content_sha256("two")),
    };
    t(m.delete(&store.id, &b.id, &good)).await.unwrap();
}

#[tokio::test]
async fn versions_track_every_change() {
    let env = start().await;
    let c = env.client.memory_stores();
    let store = env.store("s").await;
    let mem = env.memory(&store.id, "/a.md", "v1").await;
    let up = UpdateMemory {
        content: Some(Some("v2".into())),
        ..Default::default()
    };
    t(c.memories().update(&store.id, &mem.id, &up, None))
        .await
        .unwrap();
    let rename = UpdateMemory {
        path: Some(Some("/b.md".into())),
        ..Default::default()
    };
    let renamed = t(c.memories().update(&store.id, &mem.id, &rename, None))
        .await
        .unwrap();
    t(c.memories()
        .delete(&store.id, &mem.id, &DeleteMemory::default()))
    .await
    .unwrap();
    let other = env.memory(&store.id, "/other.md", "o").await;

    let by_memory = ListMemoryVersions {
        memory_id: Some(mem.id.clone()),
        view: Some(View::Full),
        ..Default::default()
    };
    let versions = t(c.memory_versions().list(&store.id, &by_memory))
        .await
        .unwrap()
        .data;
    let ops: Vec<&str> = versions.iter().map(|v| v.operation.as_str()).collect();
    assert_eq!(
        ops,
        ["deleted", "modified", "modified", "created"],
        "newest first, memory_id works after deletion"
    );
    let [deleted, renamed_v, modified, created] = &versions[..] else {
        panic!()
    };
    assert_eq!(created.content.as_deref(), Some("v1"));
    assert_eq!(created.path.as_deref(), Some("/a.md"));
    assert_eq!(modified.content.as_deref(), Some("v2"));
    assert_eq!(renamed_v.path.as_deref(), Some("/b.md"));
    assert_eq!(renamed_v.id, renamed.memory_version_id);
    assert_eq!(deleted.path.as_deref(), Some("/b.md"));
    assert_eq!(
        (
            deleted.content.as_ref(),
            deleted.content_sha256.as_ref(),
            deleted.content_size_bytes
        ),
        (None, None, None)
    );
    for v in &versions {
        assert!(
            matches!(&v.created_by, Some(Actor::Api(a)) if a.api_key_id.starts_with("apikey_"))
        );
    }
    let raw = env
        .raw(
            Method::GET,
            &format!("/v1/memory_stores/{}/memory_versions", store.id),
            &[AM],
            None,
        )
        .await;
    assert_eq!(raw.body["data"][0]["type"], "memory_version");
    assert!(
        raw.body["data"][0]["content"].is_null(),
        "list defaults to basic"
    );
    assert!(raw.body["data"][0]["content_sha256"].is_string());

    let created_only = ListMemoryVersions {
        operation: Some(Operation::Created),
        ..Default::default()
    };
    let v = t(c.memory_versions().list(&store.id, &created_only))
        .await
        .unwrap()
        .data;
    assert_eq!(v.len(), 2);
    let key_id = match &created.created_by {
        Some(Actor::Api(a)) => a.api_key_id.clone(),
        _ => unreachable!(),
    };
    let by_key = ListMemoryVersions {
        api_key_id: Some(key_id),
        ..Default::default()
    };
    assert_eq!(
        t(c.memory_versions().list(&store.id, &by_key))
            .await
            .unwrap()
            .data
            .len(),
        5
    );
    let by_session = ListMemoryVersions {
        session_id: Some("sesn_01x".into()),
        ..Default::default()
    };
    assert!(
        t(c.memory_versions().list(&store.id, &by_session))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    let since = ListMemoryVersions {
        created_at_gte: Some(deleted.created_at),
        ..Default::default()
    };
    assert_eq!(
        t(c.memory_versions().list(&store.id, &since))
            .await
            .unwrap()
            .data
            .len(),
        2
    );

    // Retrieve defaults to full; redaction nulls the content, is idempotent and keeps created_by.
    let got = t(c.memory_versions().retrieve(&store.id, &created.id, None))
        .await
        .unwrap();
    assert_eq!(got.content.as_deref(), Some("v1"));
    let red = t(c.memory_versions().redact(&store.id, &created.id))
        .await
        .unwrap();
    assert!(red.redacted_at.is_some() && red.redacted_by.is_some());
    assert_eq!(
        (
            red.content,
            red.path,
            red.content_sha256,
            red.content_size_bytes
        ),
        (None, None, None, None)
    );
    assert_eq!(red.created_by, created.created_by);
    let again = t(c.memory_versions().redact(&store.id, &created.id))
        .await
        .unwrap();
    assert_eq!(again.redacted_at, red.redacted_at);
    let got = t(c.memory_versions().retrieve(&store.id, &created.id, None))
        .await
        .unwrap();
    assert!(got.is_redacted() && got.path.is_none());
    assert_eq!(
        t(c.memory_versions()
            .retrieve(&store.id, "memver_01nope", None))
        .await
        .unwrap_err()
        .status(),
        Some(404)
    );

    // Deleting the store removes its versions too.
    t(c.delete(&store.id)).await.unwrap();
    assert_eq!(
        t(c.memory_versions()
            .retrieve(&store.id, &other.memory_version_id, None))
        .await
        .unwrap_err()
        .status(),
        Some(404)
    );
}

#[tokio::test]
async fn depth_and_prefix_listing() {
    let env = start().await;
    let store = env.store("s").await;
    for p in [
        "/top.md",
        "/notes/a.md",
        "/notes/deep/b.md",
        "/notes/deep/c.md",
        "/notes-archive/x.md",
        "/z/y/x/w.md",
    ] {
        env.memory(&store.id, p, p).await;
    }
    let list = |prefix: Option<&str>, depth: Option<u32>| {
        let p = ListMemories {
            path_prefix: prefix.map(str::to_string),
            depth,
            limit: Some(100),
            ..Default::default()
        };
        let c = env.client.clone();
        let id = store.id.clone();
        async move {
            let page = t(c.memory_stores().memories().list(&id, &p)).await.unwrap();
            page.data
                .into_iter()
                .map(|i| match i {
                    MemoryListItem::Memory(m) => m.path,
                    MemoryListItem::Prefix(p) => format!("prefix:{}", p.path),
                    MemoryListItem::Unknown(v) => panic!("{v}"),
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, None).await.len(), 6);
    assert_eq!(
        list(Some("/notes/"), None).await,
        ["/notes/a.md", "/notes/deep/b.md", "/notes/deep/c.md"]
    );
    assert_eq!(
        list(None, Some(1)).await,
        [
            "prefix:/notes-archive/",
            "prefix:/notes/",
            "/top.md",
            "prefix:/z/"
        ]
    );
    assert_eq!(
        list(Some("/notes/"), Some(1)).await,
        ["/notes/a.md", "prefix:/notes/deep/"]
    );
    assert_eq!(
        list(None, Some(2)).await,
        [
            "/notes-archive/x.md",
            "/notes/a.md",
            "prefix:/notes/deep/",
            "/top.md",
            "prefix:/z/y/"
        ]
    );
    for bad in ["/notes", "notes/"] {
        let p = ListMemories {
            path_prefix: Some(bad.into()),
            ..Default::default()
        };
        let e = t(env.client.memory_stores().memories().list(&store.id, &p))
            .await
            .unwrap_err();
        assert!(e.api().unwrap().message.contains("path_prefix"), "{e}");
    }
}

#[tokio::test]
async fn pagination_with_limit_two_and_view_caps() {
    let env = start().await;
    let store = env.store("s").await;
    for i in 0..5 {
        env.memory(&store.id, &format!("/m{i}"), "x").await;
    }
    let mems = env.client.memory_stores().memories();
    let mut seen = Vec::new();
    let mut page = None;
    let mut pages = 0;
    loop {
        let p = ListMemories {
            limit: Some(2),
            page: page.clone(),
            ..Default::default()
        };
        let got = t(mems.list(&store.id, &p)).await.unwrap();
        assert!(
            got.prev_page.is_none(),
            "only the sessions list has prev_page"
        );
        pages += 1;
        seen.extend(got.data.into_iter().map(|i| match i {
            MemoryListItem::Memory(m) => m.path,
            _ => panic!(),
        }));
        match got.next_page {
            Some(n) => page = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["/m0", "/m1", "/m2", "/m3", "/m4"]);

    // list_all follows the cursor too.
    use futures::TryStreamExt;
    let all: Vec<_> = t(mems
        .list_all(
            &store.id,
            &ListMemories {
                limit: Some(2),
                ..Default::default()
            },
        )
        .try_collect())
    .await
    .unwrap();
    assert_eq!(all.len(), 5);

    // View caps.
    let full21 = ListMemories {
        view: Some(View::Full),
        limit: Some(21),
        ..Default::default()
    };
    assert_eq!(
        t(mems.list(&store.id, &full21)).await.unwrap_err().status(),
        Some(400)
    );
    let full20 = ListMemories {
        view: Some(View::Full),
        limit: Some(20),
        ..Default::default()
    };
    let page = t(mems.list(&store.id, &full20)).await.unwrap();
    assert!(matches!(&page.data[0], MemoryListItem::Memory(m) if m.content.is_some()));
    for limit in [0, 101] {
        let p = ListMemories {
            limit: Some(limit),
            ..Default::default()
        };
        let e = t(mems.list(&store.id, &p)).await.unwrap_err();
        assert!(e.api().unwrap().message.contains("limit"), "{e}");
    }
    let versions = ListMemoryVersions {
        view: Some(View::Full),
        limit: Some(21),
        ..Default::default()
    };
    assert_eq!(
        t(env
            .client
            .memory_stores()
            .memory_versions()
            .list(&store.id, &versions))
        .await
        .unwrap_err()
        .status(),
        Some(400)
    );

    // Cursors: malformed, foreign list, other beta header.
    let first = t(mems.list(
        &store.id,
        &ListMemories {
            limit: Some(2),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let cursor = first.next_page.unwrap();
    let path = format!("/v1/memory_stores/{}/memories?limit=2&page=", store.id);
    env.raw(Method::GET, &format!("{path}garbage"), &[AM], None)
        .await
        .assert_error(400, "invalid_request_error");
    env.raw(Method::GET, &format!("{path}{cursor}"), &[MA], None)
        .await
        .assert_error(400, "invalid_request_error");
    let ok = env
        .raw(Method::GET, &format!("{path}{cursor}"), &[AM], None)
        .await;
    assert_eq!(ok.status, 200);
    let other = env.store("t").await;
    env.raw(
        Method::GET,
        &format!("/v1/memory_stores/{}/memories?page={cursor}", other.id),
        &[AM],
        None,
    )
    .await
    .assert_error(400, "invalid_request_error");
    let e = env
        .raw(
            Method::GET,
            &format!(
                "/v1/memory_stores/{}/memories?path_prefix=/m/&page={cursor}",
                store.id
            ),
            &[AM],
            None,
        )
        .await;
    e.assert_error(400, "invalid_request_error");
}

#[tokio::test]
async fn archived_store_is_read_only_but_deletable() {
    let env = start().await;
    let c = env.client.memory_stores();
    let store = env.store("s").await;
    let mem = env.memory(&store.id, "/a.md", "x").await;
    let keep = env.memory(&store.id, "/b.md", "y").await;
    t(c.archive(&store.id)).await.unwrap();

    let create = CreateMemory {
        path: "/c.md".into(),
        content: Some("z".into()),
    };
    assert_eq!(
        t(c.memories().create(&store.id, &create, None))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    let up = UpdateMemory {
        content: Some(Some("new".into())),
        ..Default::default()
    };
    assert_eq!(
        t(c.memories().update(&store.id, &mem.id, &up, None))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
    assert_eq!(
        t(c.memories().retrieve(&store.id, &mem.id, None))
            .await
            .unwrap()
            .content
            .as_deref(),
        Some("x")
    );
    assert_eq!(
        t(c.memories().list(&store.id, &ListMemories::default()))
            .await
            .unwrap()
            .data
            .len(),
        2
    );
    t(c.memories()
        .delete(&store.id, &mem.id, &DeleteMemory::default()))
    .await
    .unwrap();
    let versions = t(c
        .memory_versions()
        .list(&store.id, &ListMemoryVersions::default()))
    .await
    .unwrap()
    .data;
    assert_eq!(versions.len(), 3);
    t(c.memory_versions()
        .redact(&store.id, &keep.memory_version_id))
    .await
    .unwrap();

    // Not attachable to a session.
    let agent = env.agent("claude-sonnet-4-6").await;
    let e_env = env.environment().await;
    let mut p = CreateSession::new(AgentRef::Id(agent.id), e_env.id);
    p.resources = Some(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        None,
    )]);
    let e = t(env.client.sessions().create(&p)).await.unwrap_err();
    assert_eq!(e.status(), Some(400));

    t(c.delete(&store.id)).await.unwrap();
}

#[tokio::test]
async fn store_cap_of_2000_memories() {
    let env = start().await;
    let store = env.store("s").await;
    let url = format!("/v1/memory_stores/{}/memories", store.id);
    for i in 0..2000 {
        let body = format!(r#"{{"path":"/m{i}","content":""}}"#);
        let r = env.raw(Method::POST, &url, &[AM], Some(&body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = env
        .raw(
            Method::POST,
            &url,
            &[AM],
            Some(r#"{"path":"/one-more","content":""}"#),
        )
        .await;
    r.assert_error(400, "invalid_request_error");
    assert!(r.message().contains("2000"));
}
