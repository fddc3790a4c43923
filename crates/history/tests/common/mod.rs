//! Fixture histories shared by the integration tests.
#![allow(dead_code)]

use chrono::{Duration, TimeZone, Utc};
use cma_client::types::{
    Actor, ApiActor, MemoryVersion, Operation, ServiceAccountActor, SessionActor, Timestamp,
    UserActor, content_sha256,
};
use cma_history::History;

pub const STORE: &str = "memstore_fixture";

pub fn t(minutes: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0)
        .single()
        .expect("valid time")
        + Duration::minutes(minutes)
}

pub fn session(id: &str) -> Actor {
    Actor::Session(SessionActor {
        session_id: id.into(),
    })
}

pub fn api_key(id: &str) -> Actor {
    Actor::Api(ApiActor {
        api_key_id: id.into(),
    })
}

pub fn user(id: &str) -> Actor {
    Actor::User(UserActor { user_id: id.into() })
}

pub fn service_account(id: &str) -> Actor {
    Actor::ServiceAccount(ServiceAccountActor {
        service_account_id: id.into(),
    })
}

/// A `view=full` version with content (or a deletion when `content` is `None`).
pub fn version(
    id: &str,
    memory: &str,
    operation: Operation,
    minute: i64,
    path: &str,
    content: Option<&str>,
    by: Actor,
) -> MemoryVersion {
    MemoryVersion {
        id: id.into(),
        memory_id: memory.into(),
        memory_store_id: STORE.into(),
        operation,
        content: content.map(str::to_string),
        content_sha256: content.map(content_sha256),
        content_size_bytes: content.map(|c| c.len() as u64),
        path: Some(path.into()),
        created_at: t(minute),
        created_by: Some(by),
        redacted_at: None,
        redacted_by: None,
    }
}

/// A version as the API returns it once redacted.
pub fn redacted(
    id: &str,
    memory: &str,
    operation: Operation,
    minute: i64,
    by: Actor,
    redacted_minute: i64,
) -> MemoryVersion {
    MemoryVersion {
        id: id.into(),
        memory_id: memory.into(),
        memory_store_id: STORE.into(),
        operation,
        content: None,
        content_sha256: None,
        content_size_bytes: None,
        path: None,
        created_at: t(minute),
        created_by: Some(by),
        redacted_at: Some(t(redacted_minute)),
        redacted_by: Some(api_key("apikey_admin")),
    }
}

/// Create, modify, pure rename, rename + modify, delete, redact (and a version after a redaction,
/// and a deletion after one), Unicode, empty content, and content with no final newline.
pub fn fixture_versions() -> Vec<MemoryVersion> {
    use Operation::*;
    vec![
        version(
            "memver_01",
            "mem_prefs",
            Created,
            0,
            "/preferences.md",
            Some("# Shopper\nsize: medium\nbudget: under $200\n"),
            session("sesn_visit1"),
        ),
        version(
            "memver_02",
            "mem_cafe",
            Created,
            1,
            "/notes/café ☕.md",
            Some("Grüße aus Köln — 日本語のメモ\nfavourite: 🎉 confetti\n"),
            api_key("apikey_ops"),
        ),
        version(
            "memver_03",
            "mem_prefs",
            Modified,
            2,
            "/preferences.md",
            Some("# Shopper\nsize: large\nbudget: under $200\n"),
            session("sesn_visit2"),
        ),
        version(
            "memver_04",
            "mem_empty",
            Created,
            3,
            "/empty.md",
            Some(""),
            user("user_ana"),
        ),
        version(
            "memver_05",
            "mem_prefs",
            Modified,
            4,
            "/profile/preferences.md",
            Some("# Shopper\nsize: large\nbudget: under $200\n"),
            service_account("svac_sync"),
        ),
        version(
            "memver_06",
            "mem_nonl",
            Created,
            5,
            "/no-newline.txt",
            Some("first line\nlast line without newline"),
            session("sesn_visit2"),
        ),
        version(
            "memver_07",
            "mem_nonl",
            Modified,
            6,
            "/no-newline.txt",
            Some("first line\nlast line changed, still no newline"),
            session("sesn_visit2"),
        ),
        version(
            "memver_08",
            "mem_cafe",
            Modified,
            7,
            "/notes/cafe.md",
            Some("Grüße aus Köln — 日本語のメモ\nfavourite: 🎊 streamers\n"),
            api_key("apikey_ops"),
        ),
        redacted("memver_09", "mem_empty", Modified, 8, user("user_ana"), 30),
        version(
            "memver_10",
            "mem_empty",
            Modified,
            9,
            "/empty.md",
            Some("now it has text\n"),
            user("user_ana"),
        ),
        version(
            "memver_11",
            "mem_nonl",
            Deleted,
            10,
            "/no-newline.txt",
            None,
            api_key("apikey_ops"),
        ),
        redacted(
            "memver_12",
            "mem_tmp",
            Created,
            11,
            session("sesn_visit2"),
            31,
        ),
        version(
            "memver_13",
            "mem_tmp",
            Deleted,
            12,
            "/tmp/secret.md",
            None,
            api_key("apikey_admin"),
        ),
    ]
}

pub fn fixture_history() -> History {
    History::from_memory_versions(STORE, fixture_versions()).with_store_created_at(t(-10))
}

/// About 100 KB of numbered lines.
pub fn big_content(changed_line: Option<usize>) -> String {
    let mut s = String::with_capacity(102_400);
    let mut n = 0;
    while s.len() < 100_000 {
        if Some(n) == changed_line {
            s.push_str(&format!(
                "line {n:05}: CHANGED — the shopper now prefers linen\n"
            ));
        } else {
            s.push_str(&format!(
                "line {n:05}: lorem ipsum dolor sit amet, consectetur\n"
            ));
        }
        n += 1;
    }
    s
}

pub fn big_history() -> History {
    use Operation::*;
    let first = big_content(None);
    let second = big_content(Some(900));
    History::from_memory_versions(
        STORE,
        vec![
            version(
                "memver_b1",
                "mem_big",
                Created,
                0,
                "/big.md",
                Some(&first),
                session("sesn_big"),
            ),
            version(
                "memver_b2",
                "mem_big",
                Modified,
                1,
                "/big.md",
                Some(&second),
                session("sesn_big"),
            ),
            version(
                "memver_b3",
                "mem_big",
                Deleted,
                2,
                "/big.md",
                None,
                session("sesn_big"),
            ),
        ],
    )
}
