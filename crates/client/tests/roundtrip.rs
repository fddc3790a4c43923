//! Every response object and event fixture deserializes into its type and serializes back without
//! losing anything: `fixtures/objects/*.json` (typed by file-name prefix), `fixtures/events/*.json`
//! (as `SessionEvent`), plus a few fixtures written here from the reference so the test has
//! teeth even without the folders.

mod common;

use std::path::{Path, PathBuf};

use cma_client::types::*;
use common::{MockServer, Reply, within};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `(file stem, parsed JSON)` for every `*.json` in `dir`, sorted by name; empty if `dir` is missing.
fn load_dir(dir: &Path) -> Vec<(String, Value)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("{} does not exist", dir.display());
        return Vec::new();
    };
    let mut out: Vec<(String, Value)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (stem, value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

// ------------------------------------------------------------------------------------------------
// Comparing a fixture with its round trip
// ------------------------------------------------------------------------------------------------

fn instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.to_utc())
}

fn is_empty_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Checks that `output` (the round trip) keeps everything `input` (the fixture) says: every key
/// with an equal value (timestamps as instants, numbers as numbers). A `null` in the fixture may
/// come back absent, and the output may add keys only with empty values (`null`, `[]`, `{}`).
fn covers(input: &Value, output: &Value, at: &str, problems: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, iv) in i {
                let here = format!("{at}.{k}");
                match o.get(k) {
                    Some(ov) => covers(iv, ov, &here, problems),
                    None if iv.is_null() => {}
                    None => problems.push(format!("{here}: lost (was {iv})")),
                }
            }
            for (k, ov) in o {
                if !i.contains_key(k) && !is_empty_default(ov) {
                    problems.push(format!("{at}.{k}: added {ov}"));
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            if i.len() != o.len() {
                problems.push(format!("{at}: {} items became {}", i.len(), o.len()));
                return;
            }
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                covers(iv, ov, &format!("{at}[{n}]"), problems);
            }
        }
        (Value::String(i), Value::String(o)) => {
            let same = i == o || matches!((instant(i), instant(o)), (Some(a), Some(b)) if a == b);
            if !same {
                problems.push(format!("{at}: {i:?} became {o:?}"));
            }
        }
        (Value::Number(i), Value::Number(o)) => {
            if i.as_f64() != o.as_f64() {
                problems.push(format!("{at}: {i} became {o}"));
            }
        }
        (i, o) if i == o => {}
        (i, o) => problems.push(format!("{at}: {i} became {o}")),
    }
}

/// Deserializes `input` as `T`, serializes it back, and records what went wrong, if anything.
fn round_trip<T: DeserializeOwned + Serialize>(
    name: &str,
    input: &Value,
    problems: &mut Vec<String>,
) -> Option<T> {
    let typed: T = match serde_json::from_value(input.clone()) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!(
                "{name}: does not deserialize as {}: {e}",
                std::any::type_name::<T>()
            ));
            return None;
        }
    };
    let output = serde_json::to_value(&typed).expect("serializes");
    let mut found = Vec::new();
    covers(input, &output, "$", &mut found);
    problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
    Some(typed)
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ------------------------------------------------------------------------------------------------
// Objects
// ------------------------------------------------------------------------------------------------

/// Types one object fixture by its file name and round-trips it. Returns false for `error_*`
/// files, which are checked through the client instead.
fn check_object(name: &str, v: &Value, problems: &mut Vec<String>) -> bool {
    let p = problems;
    if name.starts_with("error_") {
        return false;
    }
    // Deletion receipts (`memory_store_deleted.json`, …), told apart from, say, a memory version
    // whose operation is `deleted` by their `type`.
    if v["type"].as_str().is_some_and(|t| t.ends_with("_deleted")) {
        if let Some(d) = round_trip::<Deleted>(name, v, p)
            && d.kind != name
        {
            p.push(format!(
                "{name}: type {:?} does not match the file name",
                d.kind
            ));
        }
    } else if let Some(rest) = name.strip_prefix("page_") {
        match rest {
            r if r.starts_with("memory_list") || r.starts_with("memories") => {
                round_trip::<Page<MemoryListItem>>(name, v, p);
            }
            r if r.starts_with("memory_versions") => {
                round_trip::<Page<MemoryVersion>>(name, v, p);
            }
            r if r.starts_with("memory_stores") => {
                round_trip::<Page<MemoryStore>>(name, v, p);
            }
            r if r.starts_with("sessions") => {
                round_trip::<Page<Session>>(name, v, p);
            }
            r if r.starts_with("agents") => {
                round_trip::<Page<Agent>>(name, v, p);
            }
            r if r.starts_with("environments") => {
                round_trip::<Page<Environment>>(name, v, p);
            }
            r if r.starts_with("events") => {
                round_trip::<Page<SessionEvent>>(name, v, p);
            }
            _ => p.push(format!(
                "{name}: no page item type known for this file name"
            )),
        }
    } else if name.starts_with("memory_version") {
        round_trip::<MemoryVersion>(name, v, p);
    } else if name.starts_with("memory_store") {
        round_trip::<MemoryStore>(name, v, p);
    } else if name.starts_with("memory_prefix") {
        if let Some(item) = round_trip::<MemoryListItem>(name, v, p)
            && !matches!(item, MemoryListItem::Prefix(_))
        {
            p.push(format!("{name}: not a prefix: {item:?}"));
        }
    } else if name.starts_with("memory") {
        round_trip::<Memory>(name, v, p);
        if let Some(item) = round_trip::<MemoryListItem>(name, v, p)
            && !matches!(item, MemoryListItem::Memory(_))
        {
            p.push(format!("{name}: not a memory list item: {item:?}"));
        }
    } else if name.starts_with("agent") {
        round_trip::<Agent>(name, v, p);
    } else if name.starts_with("environment") {
        round_trip::<Environment>(name, v, p);
    } else if name.starts_with("session_resource") {
        round_trip::<SessionResource>(name, v, p);
    } else if name.starts_with("session") {
        if let Some(s) = round_trip::<Session>(name, v, p)
            && s.resources
                .iter()
                .any(|r| matches!(r, SessionResource::Unknown(_)))
        {
            p.push(format!("{name}: a known resource type landed in Unknown"));
        }
    } else {
        p.push(format!(
            "{name}: no type is known for this file name; add a mapping in roundtrip.rs"
        ));
    }
    true
}

#[test]
fn object_fixtures_round_trip() {
    let objects = load_dir(&fixtures().join("objects"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, v) in &objects {
        if check_object(name, v, &mut problems) {
            checked += 1;
        }
    }
    assert_no_problems(&problems);
    // The fixtures are committed; an empty folder must fail, not pass without checking anything.
    assert!(checked >= 10, "only {checked} object fixtures checked");
}

#[test]
fn inline_object_fixtures_round_trip() {
    // Written from the reference (section 5), so the check runs without the fixtures folder.
    let cases: Vec<(&str, Value)> = vec![
        ("memory_store", common::memory_store_json("memstore_1")),
        (
            "memory_store_archived",
            json!({"type": "memory_store", "id": "memstore_2", "name": "Brand", "description": "Brand guidance",
                   "metadata": {"team": "cx"}, "created_at": "2026-04-23T16:57:44.310Z",
                   "updated_at": "2026-04-24T08:00:00+02:00", "archived_at": "2026-04-24T06:00:00Z"}),
        ),
        ("memory_full", {
            let mut m = common::memory_json("mem_1", "/notes/a.md");
            m["content"] = json!("hello");
            m
        }),
        (
            "memory_prefix",
            json!({"type": "memory_prefix", "path": "/notes/"}),
        ),
        (
            "memory_version_created",
            common::memory_version_json("memver_1"),
        ),
        (
            "memory_version_redacted",
            json!({"type": "memory_version", "id": "memver_2", "memory_id": "mem_1", "memory_store_id": "memstore_1",
                   "operation": "modified", "content": null, "content_sha256": null, "content_size_bytes": null,
                   "path": null, "created_at": "2026-04-24T09:00:00Z",
                   "created_by": {"type": "session_actor", "session_id": "sesn_1"},
                   "redacted_at": "2026-04-25T09:00:00Z",
                   "redacted_by": {"type": "service_account_actor", "service_account_id": "svac_1"}}),
        ),
        ("agent", common::agent_json("agent_1")),
        (
            "agent_minimal",
            json!({"type": "agent", "id": "agent_2", "version": 4, "name": "Min", "model": {"id": "claude-haiku-4-5"},
                   "created_at": "2026-04-23T16:57:44Z", "updated_at": "2026-04-23T16:57:44Z"}),
        ),
        ("environment_self_hosted", common::environment_json("env_1")),
        (
            "environment_cloud",
            json!({"type": "environment", "id": "env_2", "name": "cloud", "description": "d", "metadata": {},
                   "config": {"type": "cloud",
                              "networking": {"type": "limited", "allowed_hosts": ["a.example"],
                                             "allow_mcp_servers": true, "allow_package_managers": false},
                              "packages": {"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [],
                                           "npm": ["x"], "pip": ["y"]}},
                   "scope": "organization", "created_at": "2026-04-23T16:57:44.310Z",
                   "updated_at": "2026-04-23T16:57:44.310Z", "archived_at": null}),
        ),
        ("session", {
            let mut s = common::session_json("sesn_1", "idle");
            s["resources"] = json!([
                {"type": "memory_store", "memory_store_id": "memstore_1", "access": "read_only",
                 "instructions": "x", "mount_path": "/mnt/memory/shopper-preferences",
                 "name": "Shopper Preferences", "description": ""},
                {"type": "file", "id": "sres_1", "file_id": "file_1", "mount_path": "/mnt/session/uploads/file_1",
                 "created_at": "2026-04-23T16:57:44Z", "updated_at": "2026-04-23T16:57:44Z"}
            ]);
            s["usage"] = json!({"input_tokens": 10, "output_tokens": 5,
                                "cache_creation": {"ephemeral_5m_input_tokens": 0}});
            s["stats"] = json!({"active_seconds": 1.5, "duration_seconds": 3});
            s["budget"] =
                json!({"type": "limit", "max_list_cost": {"amount": "500", "currency": "USD"}});
            s
        }),
        (
            "session_deleted",
            json!({"id": "sesn_1", "type": "session_deleted"}),
        ),
        (
            "memory_deleted",
            json!({"id": "mem_1", "type": "memory_deleted"}),
        ),
        (
            "page_sessions",
            json!({"data": [common::session_json("sesn_1", "running")], "next_page": null,
                                 "prev_page": "p0"}),
        ),
        (
            "page_memory_list",
            json!({"data": [common::memory_json("mem_1", "/a.md"),
                                             {"type": "memory_prefix", "path": "/b/"}], "next_page": "c2"}),
        ),
    ];
    let mut problems = Vec::new();
    for (name, v) in &cases {
        assert!(check_object(name, v, &mut problems), "{name}");
    }
    assert_no_problems(&problems);
}

#[test]
fn the_comparison_itself_catches_losses() {
    // A guard on the guard: a dropped field, a changed value and a changed instant are all reported.
    let mut p = Vec::new();
    covers(&json!({"a": 1, "b": "x"}), &json!({"a": 1}), "$", &mut p);
    covers(&json!({"a": [1, 2]}), &json!({"a": [1, 3]}), "$", &mut p);
    covers(
        &json!({"t": "2026-01-01T00:00:00Z"}),
        &json!({"t": "2026-01-01T00:00:01Z"}),
        "$",
        &mut p,
    );
    covers(&json!({}), &json!({"invented": true}), "$", &mut p);
    assert_eq!(p.len(), 4, "{p:?}");
    let mut ok = Vec::new();
    covers(
        &json!({"t": "2026-01-01T02:00:00+02:00", "n": null, "k": 3}),
        &json!({"t": "2026-01-01T00:00:00Z", "k": 3.0, "x": []}),
        "$",
        &mut ok,
    );
    assert!(ok.is_empty(), "{ok:?}");
}

/// The status an API returns with each error type (the usual mapping; the SDK does not state it).
fn status_for(error_type: &str) -> u16 {
    match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "conflict_error" | "memory_precondition_failed_error" | "memory_path_conflict_error" => 409,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[tokio::test]
async fn error_fixtures_become_api_errors() {
    let mut bodies: Vec<(String, Value)> = load_dir(&fixtures().join("objects"))
        .into_iter()
        .filter(|(name, _)| name.starts_with("error_"))
        .collect();
    // One committed fixture per documented error type.
    assert!(
        bodies.len() >= 12,
        "only {} error fixtures found",
        bodies.len()
    );
    bodies.push((
        "inline".into(),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad metadata",
                                          "details": {"error_code": "invalid_metadata"}},
               "request_id": "req_inline"}),
    ));
    for (name, body) in bodies {
        let kind = body["error"]["type"]
            .as_str()
            .expect("error.type")
            .to_string();
        let status = status_for(&kind);
        let reply = Reply::json(status, body.clone());
        let srv = MockServer::start(move |_, _| reply.clone()).await;
        let c = cma_client::ClientBuilder::from_config(cma_client::Config::default())
            .base_url(&srv.base)
            .api_key("test")
            .max_retries(0)
            .build()
            .expect("client");
        let err = within(&name, c.memory_stores().retrieve("memstore_1"))
            .await
            .expect_err("an error status");
        let api = err
            .api()
            .unwrap_or_else(|| panic!("{name}: expected Error::Api, got {err:?}"));
        assert_eq!(api.status, status, "{name}");
        assert_eq!(api.error_type, kind, "{name}");
        assert_eq!(
            Some(api.message.as_str()),
            body["error"]["message"].as_str(),
            "{name}"
        );
        assert_eq!(
            api.error_code.as_deref(),
            body["error"]["details"]["error_code"].as_str(),
            "{name}"
        );
        assert_eq!(
            api.request_id.as_deref(),
            body["request_id"].as_str(),
            "{name}"
        );
        assert_eq!(api.body, body, "{name}");
        assert_eq!(
            err.is_precondition_failed(),
            kind == "memory_precondition_failed_error",
            "{name}"
        );
        assert_eq!(srv.count(), 1, "{name}: max_retries 0");
    }
}

// ------------------------------------------------------------------------------------------------
// Events
// ------------------------------------------------------------------------------------------------

fn check_event(name: &str, v: &Value, problems: &mut Vec<String>) {
    let Some(event) = round_trip::<SessionEvent>(name, v, problems) else {
        return;
    };
    let wire_type = v["type"].as_str().unwrap_or("");
    if name.starts_with("unknown") {
        match &event {
            SessionEvent::Unknown(raw) if raw == v => {}
            SessionEvent::Unknown(raw) => {
                problems.push(format!("{name}: Unknown kept {raw}, not the input"))
            }
            other => problems.push(format!(
                "{name}: expected Unknown, got {}",
                other.type_name()
            )),
        }
        if SessionEvent::KNOWN_TYPES.contains(&wire_type) {
            problems.push(format!(
                "{name}: {wire_type} is a known type; rename the fixture"
            ));
        }
    } else {
        if matches!(event, SessionEvent::Unknown(_)) {
            problems.push(format!(
                "{name}: known type {wire_type:?} landed in SessionEvent::Unknown"
            ));
        }
        if event.type_name() != wire_type {
            problems.push(format!(
                "{name}: type_name {} vs {wire_type}",
                event.type_name()
            ));
        }
        if !name.starts_with(wire_type) {
            problems.push(format!(
                "{name}: file name does not start with its type {wire_type}"
            ));
        }
    }
    if event.id() != v.get("id").and_then(Value::as_str) {
        problems.push(format!("{name}: id() is {:?}", event.id()));
    }
    let expected_at = v
        .get("processed_at")
        .and_then(Value::as_str)
        .and_then(instant);
    if event.processed_at() != expected_at {
        problems.push(format!(
            "{name}: processed_at() is {:?}",
            event.processed_at()
        ));
    }
}

#[test]
fn event_fixtures_round_trip() {
    let events = load_dir(&fixtures().join("events"));
    let mut problems = Vec::new();
    for (name, v) in &events {
        check_event(name, v, &mut problems);
    }
    assert_no_problems(&problems);
    assert!(!events.is_empty(), "no event fixtures found");
    assert!(
        events.iter().any(|(n, _)| n.starts_with("unknown")),
        "no unknown.* fixture to check"
    );
    // Every known event type the list and stream can carry has at least one fixture.
    let missing: Vec<&&str> = SessionEvent::KNOWN_TYPES
        .iter()
        .filter(|t| !events.iter().any(|(_, v)| v["type"] == **t))
        .collect();
    assert!(
        missing.is_empty(),
        "known event types without a fixture: {missing:?}"
    );
}

#[test]
fn inline_event_fixtures_round_trip() {
    let at = "2026-04-23T17:03:13.578087Z";
    let cases: Vec<(&str, Value)> = vec![
        (
            "user.message",
            json!({"type": "user.message", "id": "e1", "processed_at": at,
                                "content": [{"type": "text", "text": "hi"}]}),
        ),
        (
            "agent.message.redacted",
            json!({"type": "agent.message", "id": "e2", "processed_at": at,
                                          "content": [{"type": "text", "text": "a"}, {"type": "redacted"}]}),
        ),
        (
            "agent.tool_use",
            json!({"type": "agent.tool_use", "id": "e3", "processed_at": at, "name": "bash",
                                  "input": {"command": "ls /mnt/memory"}, "evaluated_permission": "allow",
                                  "evaluation": {"type": "auto", "evaluated_permission": {"type": "allow"}}}),
        ),
        (
            "agent.tool_result",
            json!({"type": "agent.tool_result", "id": "e4", "processed_at": at,
                                     "tool_use_id": "e3", "content": [{"type": "text", "text": "a.md"}],
                                     "is_error": false}),
        ),
        (
            "session.status_idle.requires_action",
            json!({"type": "session.status_idle", "id": "e5", "processed_at": at,
                                                       "stop_reason": {"type": "requires_action", "event_ids": ["e3"]}}),
        ),
        (
            "session.error",
            json!({"type": "session.error", "id": "e6", "processed_at": at,
                                 "error": {"type": "mcp_connection_failed_error", "message": "down",
                                           "retry_status": {"type": "retrying"}, "mcp_server_name": "catalog"}}),
        ),
        (
            "span.model_request_end",
            json!({"type": "span.model_request_end", "id": "e7", "processed_at": at,
                                          "model_request_start_id": "e0", "is_error": false,
                                          "model_usage": {"input_tokens": 1, "output_tokens": 2,
                                                          "cache_creation_input_tokens": 0,
                                                          "cache_read_input_tokens": 3}}),
        ),
        (
            "session.deleted",
            json!({"type": "session.deleted", "id": "e8", "processed_at": at}),
        ),
        (
            "event_start",
            json!({"type": "event_start", "event": {"type": "agent.message", "id": "e9"}}),
        ),
        (
            "event_delta",
            json!({"type": "event_delta", "event_id": "e9",
                               "delta": {"type": "content_delta", "index": 0,
                                         "content": {"type": "text", "text": "Hel"}}}),
        ),
        (
            "unknown.future",
            json!({"type": "session.checkpoint_created", "id": "e10", "processed_at": at,
                                  "payload": {"nested": [1, {"x": null}]}}),
        ),
    ];
    let mut problems = Vec::new();
    for (name, v) in &cases {
        check_event(name, v, &mut problems);
    }
    assert_no_problems(&problems);
}

#[test]
fn unknown_nested_types_are_kept_verbatim() {
    let block = json!({"type": "product_card", "sku": "BAG-1", "price": {"amount": "14900", "currency": "USD"}});
    let parsed: ContentBlock = serde_json::from_value(block.clone()).expect("open union");
    assert_eq!(parsed, ContentBlock::Unknown(block.clone()));
    assert_eq!(serde_json::to_value(&parsed).expect("ser"), block);
    let actor = json!({"type": "robot_actor", "robot_id": "r1"});
    let parsed: Actor = serde_json::from_value(actor.clone()).expect("open union");
    assert_eq!(parsed.label(), "robot_actor");
    assert_eq!(serde_json::to_value(&parsed).expect("ser"), actor);
    // A known type with a broken body is an error, not Unknown.
    assert!(
        serde_json::from_value::<SessionEvent>(
            json!({"type": "agent.message", "id": "x", "content": 5})
        )
        .is_err()
    );
    assert!(
        serde_json::from_value::<SessionEvent>(json!({"id": "x"})).is_err(),
        "no type at all"
    );
}
