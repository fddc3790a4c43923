//! Decoding of the open unions and of `Event<T>`: the streaming path (`type` first, straight into
//! the variant) and the buffered path (`type` later, or decoding from a `Value`) must agree on
//! every input, unknown types must stay whole, and `id`/`processed_at`/`type` never leak into a
//! body's catch-all fields.

use cma_types::{ContentBlock, SessionEvent, StopReason};
use serde_json::{Value, json};

/// Every shape the stream carries, with `type` first as the API writes it.
fn events() -> Vec<Value> {
    vec![
        json!({"type": "user.message", "id": "e1", "processed_at": "2026-11-24T12:00:00.000001Z",
               "content": [{"type": "text", "text": "Hi"}]}),
        json!({"type": "agent.tool_use", "id": "e2", "processed_at": "2026-11-24T12:00:00Z",
               "name": "read", "input": {"file_path": "/mnt/memory/s/a.md"}, "evaluated_permission": "allow"}),
        json!({"type": "agent.tool_result", "id": "e3", "tool_use_id": "e2",
               "content": [{"type": "text", "text": "# notes"}], "is_error": false}),
        json!({"type": "agent.message", "id": "e4", "processed_at": null,
               "content": [{"type": "text", "text": "ok"}, {"type": "new_block", "x": [1, 2]}]}),
        json!({"type": "session.status_idle", "id": "e5", "processed_at": "2026-11-24T12:00:01Z",
               "stop_reason": {"type": "requires_action", "event_ids": ["e2"]}}),
        json!({"type": "session.updated", "id": "e6", "processed_at": "2026-11-24T12:00:02Z",
               "title": "t", "metadata": {"k": "v"}}),
        json!({"type": "workflow_run.created", "id": "e7", "workflow_run_id": "wr_1", "phase": "x"}),
        json!({"type": "session.error", "id": "e8",
               "error": {"type": "mcp_connection_failed_error", "message": "m", "mcp_server_name": "s"}}),
        json!({"type": "event_delta", "event_id": "e9",
               "delta": {"type": "content_delta", "content": {"type": "text", "text": "par"}}}),
        json!({"type": "session.checkpoint_created", "id": "e10", "payload": {"n": 1.5, "l": ["a"]}}),
    ]
}

/// The same object as JSON text with `type` written last.
fn type_last(v: &Value) -> String {
    let obj = v.as_object().expect("object");
    let mut parts: Vec<String> = obj
        .iter()
        .filter(|(k, _)| *k != "type")
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    parts.push(format!("\"type\":{}", obj["type"]));
    format!("{{{}}}", parts.join(","))
}

/// The same object as JSON text with `type` first.
fn type_first(v: &Value) -> String {
    let obj = v.as_object().expect("object");
    let mut parts = vec![format!("\"type\":{}", obj["type"])];
    parts.extend(
        obj.iter()
            .filter(|(k, _)| *k != "type")
            .map(|(k, v)| format!("{}:{}", json!(k), v)),
    );
    format!("{{{}}}", parts.join(","))
}

#[test]
fn type_first_type_last_and_from_value_decode_alike() {
    for v in events() {
        let first: SessionEvent = serde_json::from_str(&type_first(&v)).expect("type first");
        let last: SessionEvent = serde_json::from_str(&type_last(&v)).expect("type last");
        let from_value: SessionEvent = serde_json::from_value(v.clone()).expect("from value");
        assert_eq!(first, last, "{v}");
        assert_eq!(first, from_value, "{v}");
        assert_eq!(first.type_name(), v["type"], "{v}");
    }
}

#[test]
fn known_types_decode_into_their_variants() {
    let decoded: Vec<SessionEvent> = events()
        .iter()
        .map(|v| serde_json::from_str(&type_first(v)).expect("decodes"))
        .collect();
    match &decoded[1] {
        SessionEvent::AgentToolUse(e) => {
            assert_eq!((e.id.as_str(), e.body.name.as_str()), ("e2", "read"));
            assert_eq!(e.body.input, json!({"file_path": "/mnt/memory/s/a.md"}));
            assert_eq!(
                e.processed_at.map(|t| t.to_rfc3339()),
                Some("2026-11-24T12:00:00+00:00".into())
            );
        }
        other => panic!("expected agent.tool_use, got {other:?}"),
    }
    match &decoded[3] {
        SessionEvent::AgentMessage(e) => {
            assert_eq!(e.processed_at, None, "null processed_at");
            assert!(matches!(&e.body.content[0], ContentBlock::Text(t) if t.text == "ok"));
            // A nested unknown block is kept whole, `type` included.
            match &e.body.content[1] {
                ContentBlock::Unknown(raw) => {
                    assert_eq!(raw, &json!({"type": "new_block", "x": [1, 2]}))
                }
                other => panic!("expected an unknown block, got {other:?}"),
            }
        }
        other => panic!("expected agent.message, got {other:?}"),
    }
    match &decoded[4] {
        SessionEvent::SessionStatusIdle(e) => match &e.body.stop_reason {
            StopReason::RequiresAction(r) => assert_eq!(r.event_ids, ["e2"]),
            other => panic!("expected requires_action, got {other:?}"),
        },
        other => panic!("expected session.status_idle, got {other:?}"),
    }
    match &decoded[7] {
        SessionEvent::SessionError(e) => {
            assert_eq!(e.body.error.kind, "mcp_connection_failed_error");
            assert_eq!(e.body.error.extra.get("mcp_server_name"), Some(&json!("s")));
        }
        other => panic!("expected session.error, got {other:?}"),
    }
    assert!(matches!(&decoded[8], SessionEvent::EventDelta(d) if d.event_id == "e9"));
}

#[test]
fn catch_all_bodies_hold_only_their_own_fields() {
    let v = &events()[5];
    for text in [type_first(v), type_last(v)] {
        match serde_json::from_str::<SessionEvent>(&text).expect("decodes") {
            SessionEvent::SessionUpdated(e) => {
                assert_eq!(e.id, "e6");
                assert_eq!(e.body.title, Some(Some("t".into())), "{text}");
                let keys: Vec<&str> = e
                    .body
                    .metadata
                    .iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .collect();
                assert_eq!(keys, ["k"], "{text}");
            }
            other => panic!("expected session.updated, got {other:?}"),
        }
    }
    let v = &events()[6];
    match serde_json::from_str::<SessionEvent>(&type_first(v)).expect("decodes") {
        SessionEvent::WorkflowRunCreated(e) => {
            assert_eq!(e.body.workflow_run_id.as_deref(), Some("wr_1"));
            assert_eq!(Value::Object(e.body.fields), json!({"phase": "x"}));
        }
        other => panic!("expected workflow_run.created, got {other:?}"),
    }
}

#[test]
fn an_unknown_type_is_kept_whole_in_any_key_order() {
    let v = events().pop().expect("an unknown event");
    for text in [type_first(&v), type_last(&v)] {
        let decoded: SessionEvent = serde_json::from_str(&text).expect("decodes");
        assert_eq!(decoded, SessionEvent::Unknown(v.clone()), "{text}");
        assert_eq!(decoded.id(), Some("e10"));
        assert_eq!(serde_json::to_value(&decoded).expect("serializes"), v);
    }
}

#[test]
fn escaped_keys_and_tags_are_read_like_plain_ones() {
    let text = r#"{"typ\u0065":"agent.\u006dessage","\u0069d":"e1","content":[{"type":"text","text":"a\"b"}]}"#;
    match serde_json::from_str::<SessionEvent>(text).expect("decodes") {
        SessionEvent::AgentMessage(e) => {
            assert_eq!(e.id, "e1");
            assert_eq!(e.body.text(), "a\"b");
        }
        other => panic!("expected agent.message, got {other:?}"),
    }
}

#[test]
fn bad_objects_are_errors_that_say_why() {
    let err = |text: &str| {
        serde_json::from_str::<SessionEvent>(text)
            .expect_err(text)
            .to_string()
    };
    assert!(err(r#"{"type":5,"id":"e1"}"#).contains("`type` is not a string"));
    assert!(err(r#"{"id":"e1","type":["x"]}"#).contains("`type` is not a string"));
    assert!(err(r#"{"id":"e1"}"#).contains("missing field `type`"));
    assert!(err(r#"{}"#).contains("missing field `type`"));
    let no_id = err(r#"{"type":"agent.thinking"}"#);
    assert!(
        no_id.contains("SessionEvent `agent.thinking`") && no_id.contains("`id`"),
        "{no_id}"
    );
    let bad_body = err(r#"{"type":"agent.message","id":"e1","content":5}"#);
    assert!(
        bad_body.contains("SessionEvent `agent.message`"),
        "{bad_body}"
    );
    let bad_body_late = err(r#"{"id":"e1","content":5,"type":"agent.message"}"#);
    assert!(
        bad_body_late.contains("SessionEvent `agent.message`"),
        "{bad_body_late}"
    );
    assert!(err(r#""agent.message""#).contains("SessionEvent"));
    assert!(err(r#"{"type":"agent.message","id":"e1","content":[]"#).contains("EOF"));
}

#[test]
fn processed_at_accepts_offsets_and_refuses_garbage() {
    let at = |stamp: &str| {
        let text = format!(r#"{{"type":"agent.thinking","id":"e1","processed_at":"{stamp}"}}"#);
        serde_json::from_str::<SessionEvent>(&text).map(|e| e.processed_at())
    };
    let utc = at("2026-11-24T12:00:00.000001Z").expect("UTC");
    assert_eq!(at("2026-11-24T14:00:00.000001+02:00").expect("offset"), utc);
    assert_eq!(at("2026-11-24t12:00:00.000001z").expect("lower case"), utc);
    assert_eq!(
        utc.map(|t| t.to_rfc3339()),
        Some("2026-11-24T12:00:00.000001+00:00".into())
    );
    assert!(at("yesterday").is_err());
    assert!(at("2026-13-24T12:00:00Z").is_err());
}

/// The hand-written fast path for the API's fixed `…Z` form must read every stamp exactly as
/// chrono does, and leave whatever it does not handle (leap seconds, offsets, odd fractions,
/// impossible dates) to chrono's answer. Break it: drop the fraction scaling in
/// `parse_utc_fixed`, or accept month 13 there.
#[test]
fn processed_at_reads_as_chrono_reads_it() {
    let stamps = [
        "2026-11-24T12:00:00Z",
        "2026-11-24T12:00:00.1Z",
        "2026-11-24T12:00:00.12Z",
        "2026-11-24T12:00:00.000001Z",
        "2026-11-24T12:00:00.123456789Z",
        "2026-11-24T12:00:00.1234567891Z",
        "2024-02-29T23:59:59.999Z",
        "2023-02-29T00:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-12-31T23:59:60.5Z",
        "2026-00-10T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-24T24:00:00Z",
        "2026-11-24T12:60:00Z",
        "2026-11-24T12:00:00.Z",
        "2026-11-24T12:00:00+00:00",
        "2026-11-24 12:00:00Z",
        "2026-11-24T12:00:00.00000aZ",
        "+2026-11-24T12:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
    ];
    for stamp in stamps {
        let text = format!(r#"{{"type":"agent.thinking","id":"e1","processed_at":"{stamp}"}}"#);
        let ours = serde_json::from_str::<SessionEvent>(&text).map(|e| e.processed_at());
        let chrono = chrono::DateTime::parse_from_rfc3339(stamp)
            .map(|t| t.with_timezone(&chrono::Utc))
            .or_else(|_| stamp.parse::<chrono::DateTime<chrono::Utc>>());
        match (ours, chrono) {
            (Ok(ours), Ok(chrono)) => assert_eq!(ours, Some(chrono), "{stamp}"),
            (Err(_), Err(_)) => {}
            (ours, chrono) => panic!("{stamp}: ours {ours:?}, chrono {chrono:?}"),
        }
    }
}
