//! Every check kind, passing and failing, judged on constructed turns and store states.

use std::collections::BTreeMap;

use cma_client::turn::{TurnTimings, tool_uses};
use cma_client::types::{Access, MemoryVersion, SessionEvent};
use cma_scenario::{
    Check, CountRange, Customer, Evidence, MemoryFile, StoreSnapshot, StoreState, TextMatch,
    TurnRecord, TurnStatus, evaluate,
};
use serde_json::{Value, json};

const PREFS: &str = "/mnt/memory/prefs";
const CATALOG: &str = "/mnt/memory/catalog";

fn event(v: Value) -> SessionEvent {
    serde_json::from_value(v).expect("event")
}

fn say(id: &str, text: &str) -> SessionEvent {
    event(json!({"type": "agent.message", "id": id, "content": [{"type": "text", "text": text}]}))
}

fn tool(id: &str, name: &str, input: Value) -> SessionEvent {
    event(json!({"type": "agent.tool_use", "id": id, "name": name, "input": input}))
}

fn idle(id: &str, reason: &str) -> SessionEvent {
    event(json!({"type": "session.status_idle", "id": id, "stop_reason": {"type": reason}}))
}

/// A finished turn from its events (the reply is every message, joined).
fn turn(visit: usize, n: usize, events: Vec<SessionEvent>, idle_ms: f64) -> TurnRecord {
    let reply = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentMessage(m) => Some(m.body.text()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let stop_reason = events.iter().find_map(|e| match e {
        SessionEvent::SessionStatusIdle(i) => Some(i.body.stop_reason.type_name().to_string()),
        _ => None,
    });
    TurnRecord {
        visit,
        turn: n,
        user: "hi".into(),
        session_id: Some(format!("sesn_{visit}")),
        status: TurnStatus::Idle,
        reply,
        stop_reason,
        tool_uses: tool_uses(&events),
        events,
        timings: Some(TurnTimings {
            first_byte_ms: None,
            first_message_ms: None,
            idle_ms: Some(idle_ms),
            total_ms: idle_ms,
        }),
    }
}

/// The cookbook's second visit: "let me check", read the notes, then answer.
fn recall_turn() -> TurnRecord {
    turn(
        2,
        1,
        vec![
            say("e1", "Let me check your notes."),
            tool(
                "e2",
                "bash",
                json!({"command": format!("find {PREFS} -type f")}),
            ),
            tool(
                "e3",
                "read",
                json!({"file_path": format!("{PREFS}/preferences.md")}),
            ),
            tool(
                "e4",
                "read",
                json!({"file_path": format!("{CATALOG}/bags.md")}),
            ),
            say(
                "e5",
                "Welcome back!\n\nFrom your notes I remember: size medium; budget under $200.",
            ),
            tool(
                "e6",
                "edit",
                json!({"file_path": format!("{PREFS}/preferences.md"), "old_string": "a", "new_string": "b"}),
            ),
            idle("e7", "end_turn"),
        ],
        42.0,
    )
}

/// An agent that answers straight away, then writes what it heard.
fn careless_turn() -> TurnRecord {
    turn(
        1,
        1,
        vec![
            say("f1", "I don't know your size yet — you haven't told me."),
            tool(
                "f2",
                "write",
                json!({"file_path": format!("{PREFS}/preferences.md"), "content": "x"}),
            ),
            tool(
                "f3",
                "bash",
                json!({"command": format!("echo hi > {CATALOG}/oops.md")}),
            ),
            idle("f4", "requires_action"),
        ],
        9000.0,
    )
}

fn version(id: &str, op: &str, path: &str, actor: Value) -> MemoryVersion {
    serde_json::from_value(json!({
        "id": id, "memory_id": format!("mem_{path}"), "memory_store_id": "memstore_1",
        "operation": op, "path": path, "created_at": "2026-04-24T10:00:00Z", "created_by": actor
    }))
    .expect("version")
}

fn session(id: &str) -> Value {
    json!({"type": "session_actor", "session_id": id})
}

fn api() -> Value {
    json!({"type": "api_actor", "api_key_id": "apikey_1"})
}

fn stores() -> Vec<StoreState> {
    let prefs = StoreSnapshot {
        memories: vec![
            MemoryFile {
                path: "/preferences.md".into(),
                content: "# Notes\n## Size\n- Size: Medium\n## City\n- Lisbon\n".into(),
            },
            MemoryFile {
                path: "/purchase-history.md".into(),
                content: "- Canvas tote".into(),
            },
        ],
        versions: vec![
            version("v1", "created", "/purchase-history.md", api()),
            version("v2", "created", "/preferences.md", session("sesn_1")),
            version("v3", "modified", "/preferences.md", session("sesn_2")),
            version("v4", "created", "/old.md", session("sesn_2")),
            version("v5", "deleted", "/old.md", session("sesn_2")),
        ],
    };
    let catalog = StoreSnapshot {
        memories: vec![MemoryFile {
            path: "/bags.md".into(),
            content: "Tote $149".into(),
        }],
        versions: vec![version("c1", "created", "/bags.md", api())],
    };
    vec![
        StoreState {
            key: "prefs".into(),
            store_id: "memstore_1".into(),
            name: "prefs".into(),
            label: String::new(),
            access: Access::ReadWrite,
            shared: false,
            mount_path: PREFS.into(),
            snapshot: Some(prefs),
        },
        StoreState {
            key: "catalog".into(),
            store_id: "memstore_2".into(),
            name: "catalog".into(),
            label: String::new(),
            access: Access::ReadOnly,
            shared: true,
            mount_path: CATALOG.into(),
            snapshot: Some(catalog),
        },
    ]
}

fn customer(id: &str, name: &str, city: &str) -> Customer {
    Customer {
        id: id.into(),
        values: BTreeMap::from([("name".into(), name.into()), ("city".into(), city.into())]),
    }
}

struct Case {
    check: Check,
    turns: Vec<TurnRecord>,
    sessions: Vec<String>,
    stores: Vec<StoreState>,
}

impl Case {
    fn new(check: Check) -> Self {
        Case {
            check,
            turns: vec![recall_turn()],
            sessions: vec!["sesn_2".into()],
            stores: stores(),
        }
    }
    fn turns(mut self, turns: Vec<TurnRecord>) -> Self {
        self.turns = turns;
        self
    }
    fn sessions(mut self, s: &[&str]) -> Self {
        self.sessions = s.iter().map(|s| s.to_string()).collect();
        self
    }
    fn stores(mut self, stores: Vec<StoreState>) -> Self {
        self.stores = stores;
        self
    }
    fn judge(&self) -> cma_scenario::Verdict {
        let customers = [
            customer("ana", "Ana", "Lisbon"),
            customer("bob", "Bob", "Porto"),
        ];
        let ev = Evidence {
            turns: &self.turns,
            sessions: &self.sessions,
            stores: &self.stores,
            customer: &customers[0],
            customers: &customers,
        };
        evaluate(&self.check, &ev)
    }
    #[track_caller]
    fn passes(&self) {
        let v = self.judge();
        assert!(
            v.passed,
            "{} should pass: expected {}, seen {}",
            self.check.kind(),
            v.expected,
            v.seen
        );
        assert!(!v.expected.is_empty());
    }
    #[track_caller]
    fn fails(&self) -> String {
        let v = self.judge();
        assert!(
            !v.passed,
            "{} should fail: expected {}, seen {}",
            self.check.kind(),
            v.expected,
            v.seen
        );
        assert!(!v.expected.is_empty() && !v.seen.is_empty());
        v.seen
    }
}

fn reply(matcher: TextMatch, negate: bool) -> Check {
    Check::Reply { matcher, negate }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reply_text_checks() {
    use TextMatch::*;
    let re = |s: &str| Regex(regex::Regex::new(s).expect("regex"));
    let table: Vec<(TextMatch, TextMatch)> = vec![
        (Contains("size medium".into()), Contains("Size Medium".into())),
        (IContains("SIZE MEDIUM".into()), IContains("size large".into())),
        (ContainsAny(strings(&["nope", "budget under"])), ContainsAny(strings(&["nope", "BUDGET"]))),
        (IContainsAny(strings(&["nope", "BUDGET"])), IContainsAny(strings(&["nope", "large"]))),
        (ContainsAll(strings(&["medium", "$200"])), ContainsAll(strings(&["medium", "$300"]))),
        (IContainsAll(strings(&["MEDIUM", "welcome"])), IContainsAll(strings(&["medium", "large"]))),
        (StartsWith("Let me check".into()), StartsWith("Welcome back!".into())),
        (re(r"under \$\d{3}\b"), re(r"under \$\d{4}")),
        (
            Equals("Let me check your notes.\n\nWelcome back!\n\nFrom your notes I remember: size medium; budget under $200.".into()),
            Equals("Welcome back!".into()),
        ),
    ];
    for (pass, fail) in table {
        Case::new(reply(pass.clone(), false)).passes();
        Case::new(reply(fail.clone(), false)).fails();
        // `not_` turns each around.
        Case::new(reply(pass, true)).fails();
        Case::new(reply(fail, true)).passes();
    }
    let seen = Case::new(reply(ContainsAll(strings(&["medium", "$300"])), false)).fails();
    assert!(seen.starts_with("missing $300"), "{seen}");
}

#[test]
fn read_memory_before_reply() {
    let check = |store: Option<&str>, negate| Check::ReadMemoryBeforeReply {
        store: store.map(str::to_string),
        negate,
    };
    Case::new(check(None, false)).passes();
    Case::new(check(Some("prefs"), false)).passes();
    Case::new(check(Some("catalog"), false)).passes();
    Case::new(check(None, true)).fails();
    // Replying first, then writing, is not reading before replying.
    let seen = Case::new(check(None, false))
        .turns(vec![careless_turn()])
        .fails();
    assert!(seen.contains("replied without reading"), "{seen}");
    Case::new(check(None, true))
        .turns(vec![careless_turn()])
        .passes();
    // A read of another store's mount does not count for this one.
    let only_catalog = turn(
        1,
        1,
        vec![
            tool(
                "g1",
                "read",
                json!({"file_path": format!("{CATALOG}/bags.md")}),
            ),
            say("g2", "Here."),
            idle("g3", "end_turn"),
        ],
        5.0,
    );
    Case::new(check(Some("prefs"), false))
        .turns(vec![only_catalog])
        .fails();
    // No reply at all.
    Case::new(check(None, false))
        .turns(vec![turn(1, 1, vec![idle("h1", "end_turn")], 1.0)])
        .fails();
}

#[test]
fn wrote_memory() {
    let check = |store: Option<&str>, negate| Check::WroteMemory {
        store: store.map(str::to_string),
        negate,
    };
    Case::new(check(None, false)).passes();
    Case::new(check(Some("prefs"), false)).passes();
    let seen = Case::new(check(Some("catalog"), false)).fails();
    assert!(seen.starts_with("no memory writes"), "{seen}");
    Case::new(check(Some("catalog"), true)).passes();
    let reads_only = turn(
        1,
        1,
        vec![
            tool("r1", "read", json!({"file_path": format!("{PREFS}/a.md")})),
            say("r2", "ok"),
            idle("r3", "end_turn"),
        ],
        1.0,
    );
    Case::new(check(None, false))
        .turns(vec![reads_only.clone()])
        .fails();
    Case::new(check(None, true))
        .turns(vec![reads_only])
        .passes();
}

#[test]
fn no_write_to_read_only() {
    Case::new(Check::NoWriteToReadOnly { store: None }).passes();
    Case::new(Check::NoWriteToReadOnly {
        store: Some("catalog".into()),
    })
    .passes();
    // A tool use that writes under the read-only mount (even if the write was refused).
    let seen = Case::new(Check::NoWriteToReadOnly { store: None })
        .turns(vec![careless_turn()])
        .fails();
    assert!(
        seen.contains("tool use wrote under /mnt/memory/catalog"),
        "{seen}"
    );
    // A version in the store written by a session.
    let mut tainted = stores();
    if let Some(snap) = tainted[1].snapshot.as_mut() {
        snap.versions
            .push(version("c2", "modified", "/bags.md", session("sesn_9")));
    }
    let seen = Case::new(Check::NoWriteToReadOnly { store: None })
        .stores(tainted)
        .fails();
    assert!(
        seen.contains("modified version of /bags.md by session sesn_9"),
        "{seen}"
    );
}

#[test]
fn memory_contains_and_not_contains() {
    let check = |text: &str, ignore_case, path: Option<&str>, negate| Check::MemoryContains {
        store: "prefs".into(),
        text: text.into(),
        ignore_case,
        path: path.map(str::to_string),
        negate,
    };
    let seen = Case::new(check("Size: Medium", false, None, false))
        .judge()
        .seen;
    assert_eq!(seen, "/preferences.md: - Size: Medium");
    Case::new(check("size: medium", false, None, false)).fails();
    Case::new(check("size: medium", true, None, false)).passes();
    Case::new(check("Canvas", false, Some("/preferences.md"), false)).fails();
    Case::new(check("Canvas", false, Some("/purchase-history.md"), false)).passes();
    // memory_not_contains
    Case::new(check("large", true, None, true)).passes();
    Case::new(check("lisbon", true, None, true)).fails();
    // A store that could not be read fails, whichever way round.
    let mut unread = stores();
    unread[0].snapshot = None;
    let seen = Case::new(check("x", false, None, true))
        .stores(unread)
        .fails();
    assert!(seen.contains("could not be read"), "{seen}");
}

#[test]
fn path_exists() {
    let check = |path: &str, negate| Check::PathExists {
        store: "prefs".into(),
        path: path.into(),
        negate,
    };
    Case::new(check("/preferences.md", false)).passes();
    Case::new(check("/old.md", false)).fails();
    Case::new(check("/old.md", true)).passes();
    Case::new(check("/preferences.md", true)).fails();
}

#[test]
fn memory_count() {
    let check = |range| Check::MemoryCount {
        store: "prefs".into(),
        range,
    };
    Case::new(check(CountRange::exactly(2))).passes();
    Case::new(check(CountRange::exactly(1))).fails();
    Case::new(check(CountRange {
        min: Some(1),
        max: Some(3),
    }))
    .passes();
    Case::new(check(CountRange {
        min: None,
        max: Some(1),
    }))
    .fails();
}

#[test]
fn session_wrote() {
    let check = |range| Check::SessionWrote {
        store: "prefs".into(),
        range,
    };
    // sesn_2 wrote three versions; the api key's seed does not count.
    Case::new(check(CountRange::exactly(3))).passes();
    Case::new(check(CountRange::at_least(1)))
        .sessions(&["sesn_1"])
        .passes();
    Case::new(check(CountRange::exactly(2)))
        .sessions(&["sesn_1"])
        .fails();
    let seen = Case::new(check(CountRange::at_least(1)))
        .sessions(&["sesn_7"])
        .fails();
    assert_eq!(seen, "0 versions");
    Case::new(check(CountRange::exactly(4)))
        .sessions(&["sesn_1", "sesn_2"])
        .passes();
}

#[test]
fn operations_include() {
    let check = |ops: &[&str], negate| Check::OperationsInclude {
        store: "prefs".into(),
        operations: strings(ops),
        negate,
    };
    Case::new(check(&["modified"], false)).passes();
    Case::new(check(&["created", "deleted"], false)).passes();
    Case::new(check(&["modified"], false))
        .sessions(&["sesn_1"])
        .fails();
    Case::new(check(&["modified"], true))
        .sessions(&["sesn_1"])
        .passes();
    Case::new(check(&["modified"], true)).fails();
}

#[test]
fn deleted() {
    let check = |range| Check::Deleted {
        store: "prefs".into(),
        range,
    };
    Case::new(check(CountRange::at_least(1))).passes();
    Case::new(check(CountRange::exactly(0))).fails();
    Case::new(check(CountRange::at_least(1)))
        .sessions(&["sesn_1"])
        .fails();
}

#[test]
fn stop_reason() {
    Case::new(Check::StopReason {
        value: "end_turn".into(),
    })
    .passes();
    let seen = Case::new(Check::StopReason {
        value: "end_turn".into(),
    })
    .turns(vec![careless_turn()])
    .fails();
    assert_eq!(seen, "visit 1 turn 1: requires_action");
    Case::new(Check::StopReason {
        value: "end_turn".into(),
    })
    .turns(vec![recall_turn(), careless_turn()])
    .fails();
}

#[test]
fn a_refused_or_failed_turn_fails_every_check_of_its_scope_with_the_reason() {
    let error = event(json!({"type": "session.error", "id": "e2", "error": {
        "type": "unknown_error", "retry_status": {"type": "exhausted"},
        "message": "the model stopped at max_tokens (4,096 output tokens)",
    }}));
    let failed = turn(1, 1, vec![error, idle("e3", "retries_exhausted")], 10.0);
    // A negated check would pass on the empty reply: it fails, naming why.
    let seen = Case::new(reply(TextMatch::Contains("size large".into()), true))
        .turns(vec![failed.clone()])
        .fails();
    assert_eq!(
        seen,
        "visit 1 turn 1 ended with a session error: the model stopped at max_tokens (4,096 output tokens)"
    );
    let refused = turn(
        1,
        1,
        vec![say("e1", "I can't help."), idle("e2", "refusal")],
        10.0,
    );
    let seen = Case::new(reply(TextMatch::Contains("help".into()), false))
        .turns(vec![refused.clone()])
        .fails();
    assert_eq!(
        seen,
        "visit 1 turn 1 ended with the model's refusal (stop reason `refusal`)"
    );
    // How a turn ended is still what a stop_reason check judges.
    Case::new(Check::StopReason {
        value: "refusal".into(),
    })
    .turns(vec![refused])
    .passes();
    Case::new(Check::StopReason {
        value: "retries_exhausted".into(),
    })
    .turns(vec![failed])
    .passes();
}

#[test]
fn latency_ms() {
    Case::new(Check::LatencyMs { max: 100 }).passes();
    let seen = Case::new(Check::LatencyMs { max: 100 })
        .turns(vec![recall_turn(), careless_turn()])
        .fails();
    assert_eq!(seen, "slowest 9000 ms (visit 1 turn 1)");
}

#[test]
fn isolation() {
    let check = || Check::Isolation {
        columns: strings(&["name", "city"]),
    };
    // Ana's own city in her store and reply is fine; Bob's values are absent.
    Case::new(check()).passes();
    // Bob's name in Ana's reply.
    let leaky = turn(
        1,
        1,
        vec![say("l1", "Hi Bob! Welcome back."), idle("l2", "end_turn")],
        1.0,
    );
    let seen = Case::new(check()).turns(vec![leaky]).fails();
    assert!(
        seen.contains("\"Bob\" (name of bob) in visit 1 turn 1 reply"),
        "{seen}"
    );
    // Bob's city in Ana's own store.
    let mut tainted = stores();
    if let Some(snap) = tainted[0].snapshot.as_mut() {
        snap.memories.push(MemoryFile {
            path: "/other.md".into(),
            content: "Lives in porto.".into(),
        });
    }
    let seen = Case::new(check()).stores(tainted).fails();
    assert!(
        seen.contains("\"Porto\" (city of bob) in store `prefs` /other.md"),
        "{seen}"
    );
    // Whole words only: "Bobcat" is not Bob; shared stores are not the customer's.
    let mut shared = stores();
    if let Some(snap) = shared[1].snapshot.as_mut() {
        snap.memories.push(MemoryFile {
            path: "/porto.md".into(),
            content: "Porto store opening".into(),
        });
    }
    let bobcat = turn(
        1,
        1,
        vec![say("b1", "A Bobcat sweater?"), idle("b2", "end_turn")],
        1.0,
    );
    Case::new(check())
        .turns(vec![bobcat])
        .stores(shared)
        .passes();
}

#[test]
fn an_unfinished_turn_fails_every_check_even_negated_ones() {
    let mut stalled = recall_turn();
    stalled.status = TurnStatus::Incomplete {
        reason: "timed out after 1 s without going idle".into(),
    };
    for check in [
        reply(TextMatch::Contains("nothing".into()), true),
        Check::MemoryContains {
            store: "prefs".into(),
            text: "zzz".into(),
            ignore_case: false,
            path: None,
            negate: true,
        },
        Check::NoWriteToReadOnly { store: None },
        Check::Isolation {
            columns: strings(&["name"]),
        },
    ] {
        let seen = Case::new(check).turns(vec![stalled.clone()]).fails();
        assert_eq!(
            seen,
            "visit 2 turn 1 did not finish: timed out after 1 s without going idle"
        );
    }
}

#[test]
fn kinds_and_labels() {
    let c = Check::MemoryContains {
        store: "prefs".into(),
        text: "x".into(),
        ignore_case: false,
        path: None,
        negate: true,
    };
    assert_eq!(c.kind(), "memory_not_contains");
    assert_eq!(
        reply(TextMatch::IContains("a".into()), true).kind(),
        "not_icontains"
    );
    assert_eq!(
        Check::SessionWrote {
            store: "prefs".into(),
            range: CountRange::at_least(1)
        }
        .default_label(),
        "session_wrote [prefs] at least 1"
    );
}

/// A turn that called a custom tool twice (answered both, one as an error) and a toolset tool.
fn custom_tool_turn() -> TurnRecord {
    turn(
        1,
        1,
        vec![
            event(
                json!({"type": "agent.custom_tool_use", "id": "c1", "name": "lookup_appointment", "input": {"pet": "Biscuit", "clinic": {"city": "Leeds"}}}),
            ),
            event(
                json!({"type": "agent.custom_tool_use", "id": "c2", "name": "lookup_appointment", "input": {"pet": "Rex"}}),
            ),
            idle_for(&["c1", "c2"]),
            event(
                json!({"type": "user.custom_tool_result", "id": "r1", "custom_tool_use_id": "c1", "content": [{"type": "text", "text": "Tuesday 10:30"}]}),
            ),
            event(
                json!({"type": "user.custom_tool_result", "id": "r2", "custom_tool_use_id": "c2", "is_error": true}),
            ),
            tool(
                "t1",
                "read",
                json!({"file_path": format!("{PREFS}/notes.md")}),
            ),
            say("m1", "Biscuit's appointment is on Tuesday 10:30."),
            idle("i2", "end_turn"),
        ],
        50.0,
    )
}

fn idle_for(ids: &[&str]) -> SessionEvent {
    event(
        json!({"type": "session.status_idle", "id": "i1", "stop_reason": {"type": "requires_action", "event_ids": ids}}),
    )
}

fn object(v: Value) -> Option<serde_json::Map<String, Value>> {
    v.as_object().cloned()
}

#[test]
fn called_tool() {
    let called = |tool: &str, input: Option<Value>, negate: bool| {
        Case::new(Check::CalledTool {
            tool: tool.into(),
            input: input.and_then(object),
            negate,
        })
        .turns(vec![custom_tool_turn()])
    };
    called("lookup_appointment", None, false).passes();
    called("lookup_appointment", Some(json!({"pet": "Rex"})), false).passes();
    called(
        "lookup_appointment",
        Some(json!({"clinic": {"city": "Leeds"}})),
        false,
    )
    .passes();
    // Toolset tools count as calls too.
    called("read", None, false).passes();
    let seen = called("lookup_appointment", Some(json!({"pet": "Tom"})), false).fails();
    assert!(
        seen.contains(r#"lookup_appointment {"pet":"Rex"}"#) && seen.contains("read "),
        "the calls made are listed: {seen}"
    );
    called("cancel_appointment", None, false).fails();
    called("cancel_appointment", None, true).passes();
    called("lookup_appointment", None, true).fails();
    // A turn without calls.
    let seen = Case::new(Check::CalledTool {
        tool: "lookup_appointment".into(),
        input: None,
        negate: false,
    })
    .turns(vec![turn(
        1,
        1,
        vec![say("m", "hi"), idle("i", "end_turn")],
        1.0,
    )])
    .fails();
    assert_eq!(seen, "no tool calls");
}

#[test]
fn tool_answered() {
    let answered = |tool: Option<&str>, range: CountRange| {
        Case::new(Check::ToolAnswered {
            tool: tool.map(str::to_string),
            range,
        })
        .turns(vec![custom_tool_turn()])
    };
    answered(None, CountRange::exactly(2)).passes();
    answered(Some("lookup_appointment"), CountRange::at_least(1)).passes();
    let seen = answered(None, CountRange::exactly(1)).fails();
    assert!(
        seen.starts_with("2: ") && seen.contains("(as an error)"),
        "{seen}"
    );
    answered(Some("cancel_appointment"), CountRange::at_least(1)).fails();
    answered(
        Some("cancel_appointment"),
        CountRange {
            min: None,
            max: Some(0),
        },
    )
    .passes();
    // The recall turn answered nothing.
    let seen = Case::new(Check::ToolAnswered {
        tool: None,
        range: CountRange::at_least(1),
    })
    .fails();
    assert_eq!(seen, "0: none answered");
}
