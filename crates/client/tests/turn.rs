//! The turn loop (`run_turn`) against a scripted session server: the test holds the sending end
//! of every SSE connection the client opens, sees every `POST /events` and `GET /events`, and
//! decides what the session emits and when the stream drops.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use cma_client::turn::{SessionTurns, ToolUse, TurnEnd, memory_paths, run_turn};
use cma_client::types::{
    ClientEvent, ContentBlock, SessionEvent, SessionStatus, StopReason, UserCustomToolResult,
    UserMessage,
};
use cma_client::{Client, Error, Turn, TurnOptions};
use common::{MockServer, Reply, decode_query, session_json, within};
use futures::channel::mpsc as fmpsc;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

const SESSION: &str = "sesn_1";
const ECHO_ID: &str = "sevt_echo";
const ECHO_AT: &str = "2026-04-23T17:03:00.000001Z";

type Conn = fmpsc::UnboundedSender<Result<Bytes, Infallible>>;

struct Shared {
    stored: Mutex<Vec<Value>>,
    /// If set, `POST /events` waits for it before answering.
    hold_send: Mutex<Option<oneshot::Receiver<()>>>,
    /// Whether the `POST /events` answer carries the echo (`data` is optional in the API).
    echo_in_response: AtomicBool,
    /// If set, `POST /events` fails with this status and error body.
    fail_send: Mutex<Option<(u16, Value)>>,
    /// Messages answered so far: the first echo is `ECHO_ID`, the n-th `sevt_echo_n`.
    sends: AtomicUsize,
    /// Which handler ran, in order: "stream", "send", "list".
    order: Mutex<Vec<&'static str>>,
    streams: mpsc::UnboundedSender<Conn>,
    posts: mpsc::UnboundedSender<Value>,
    lists: mpsc::UnboundedSender<Vec<(String, String)>>,
}

/// The test's side of the scripted server.
struct Harness {
    base: String,
    shared: Arc<Shared>,
    streams: mpsc::UnboundedReceiver<Conn>,
    posts: mpsc::UnboundedReceiver<Value>,
    lists: mpsc::UnboundedReceiver<Vec<(String, String)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn open_stream(State(s): State<Arc<Shared>>) -> Response {
    let (tx, rx) = fmpsc::unbounded::<Result<Bytes, Infallible>>();
    s.order.lock().expect("lock").push("stream");
    s.streams.send(tx).expect("test is listening for streams");
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(rx))
        .expect("response")
}

async fn send_events(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .expect("body");
    let sent: Value = serde_json::from_slice(&body).expect("JSON body");
    let failure = s.fail_send.lock().expect("lock").clone();
    if let Some((status, error)) = failure {
        s.order.lock().expect("lock").push("send");
        s.posts.send(sent).expect("test is listening for posts");
        let mut resp = json_response(error);
        *resp.status_mut() = axum::http::StatusCode::from_u16(status).expect("status");
        return resp;
    }
    let mut echo = sent["events"][0].clone();
    echo["id"] = json!(echo_id(s.sends.fetch_add(1, Ordering::SeqCst) + 1));
    echo["processed_at"] = json!(ECHO_AT);
    s.stored.lock().expect("lock").push(echo.clone());
    s.order.lock().expect("lock").push("send");
    s.posts.send(sent).expect("test is listening for posts");
    let hold = s.hold_send.lock().expect("lock").take();
    if let Some(release) = hold {
        let _ = release.await;
    }
    if s.echo_in_response.load(Ordering::SeqCst) {
        json_response(json!({ "data": [echo] }))
    } else {
        json_response(json!({}))
    }
}

async fn list_events(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let query = req.uri().query().map(decode_query).unwrap_or_default();
    s.order.lock().expect("lock").push("list");
    let data = s.stored.lock().expect("lock").clone();
    // Reported after the snapshot is taken: whatever the test emits next is not in this page.
    s.lists.send(query).expect("test is listening for lists");
    json_response(json!({ "data": data, "next_page": null }))
}

fn json_response(v: Value) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&v).expect("json")))
        .expect("response")
}

impl Harness {
    async fn start() -> Self {
        let (streams_tx, streams) = mpsc::unbounded_channel();
        let (posts_tx, posts) = mpsc::unbounded_channel();
        let (lists_tx, lists) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            stored: Mutex::new(Vec::new()),
            hold_send: Mutex::new(None),
            echo_in_response: AtomicBool::new(true),
            fail_send: Mutex::new(None),
            sends: AtomicUsize::new(0),
            order: Mutex::new(Vec::new()),
            streams: streams_tx,
            posts: posts_tx,
            lists: lists_tx,
        });
        let app = Router::new()
            .route("/v1/sessions/{id}/events/stream", get(open_stream))
            .route(
                "/v1/sessions/{id}/events",
                get(list_events).post(send_events),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Harness {
            base,
            shared,
            streams,
            posts,
            lists,
            task,
        }
    }

    fn client(&self) -> Client {
        common::client(&self.base)
    }

    /// Starts `run_turn` on its own task.
    fn spawn_turn(
        &self,
        options: TurnOptions,
    ) -> tokio::task::JoinHandle<cma_client::Result<Turn>> {
        let client = self.client();
        tokio::spawn(async move { run_turn(&client, SESSION, "hello", &options).await })
    }

    /// The next SSE connection the client opens.
    async fn next_stream(&mut self) -> Sse {
        Sse(within("the client opens the stream", self.streams.recv())
            .await
            .expect("a stream"))
    }

    async fn next_post(&mut self) -> Value {
        within("the client sends its message", self.posts.recv())
            .await
            .expect("a post")
    }

    async fn next_list(&mut self) -> Vec<(String, String)> {
        within("the client lists events", self.lists.recv())
            .await
            .expect("a list")
    }

    /// Adds an event to the session's history without sending it on any stream.
    fn store(&self, event: &Value) {
        self.shared.stored.lock().expect("lock").push(event.clone());
    }

    /// Makes the next `POST /events` wait for the returned sender before it answers.
    fn hold_send(&self) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        *self.shared.hold_send.lock().expect("lock") = Some(rx);
        tx
    }

    fn order(&self) -> Vec<&'static str> {
        self.shared.order.lock().expect("lock").clone()
    }

    /// Opens the stream, takes the message, and sends its echo first on the stream: the usual
    /// start of a turn. Returns the live stream.
    async fn begin(&mut self) -> Sse {
        let s = self.next_stream().await;
        let post = self.next_post().await;
        assert_eq!(
            post,
            json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "hello"}]}]})
        );
        s.send_event(&echo());
        s
    }
}

/// The server's end of one SSE connection; dropping it closes the stream.
struct Sse(Conn);

impl Sse {
    fn raw(&self, text: &str) {
        // The client may already have hung up (for example after a turn ended); that is fine.
        let _ = self.0.unbounded_send(Ok(Bytes::from(text.to_string())));
    }

    /// `event: <type>` + `data: <json>`, as the service frames events.
    fn send_event(&self, event: &Value) {
        let kind = event["type"].as_str().expect("type");
        self.raw(&format!("event: {kind}\ndata: {event}\n\n"));
    }

    /// Stores the event in the history and sends it on this stream.
    fn emit(&self, h: &Harness, event: &Value) {
        h.store(event);
        self.send_event(event);
    }

    fn ping(&self) -> bool {
        self.0
            .unbounded_send(Ok(Bytes::from_static(b"event: ping\ndata: {}\n\n")))
            .is_ok()
    }
}

/// The id the server gives the `n`-th message's echo (from 1).
fn echo_id(n: usize) -> String {
    if n == 1 {
        ECHO_ID.to_string()
    } else {
        format!("{ECHO_ID}_{n}")
    }
}

fn echo() -> Value {
    json!({"type": "user.message", "id": ECHO_ID, "processed_at": ECHO_AT,
           "content": [{"type": "text", "text": "hello"}]})
}

fn ev(id: &str, kind: &str, fields: Value) -> Value {
    let mut v = json!({"type": kind, "id": id, "processed_at": "2026-04-23T17:03:01.5Z"});
    if let Value::Object(map) = fields {
        for (k, val) in map {
            v[k] = val;
        }
    }
    v
}

fn idle(id: &str, stop_reason: Value) -> Value {
    ev(
        id,
        "session.status_idle",
        json!({ "stop_reason": stop_reason }),
    )
}

fn end_turn(id: &str) -> Value {
    idle(id, json!({"type": "end_turn"}))
}

fn message(id: &str, text: &str) -> Value {
    ev(
        id,
        "agent.message",
        json!({"content": [{"type": "text", "text": text}]}),
    )
}

fn fast() -> TurnOptions {
    TurnOptions {
        turn_timeout: Duration::from_secs(20),
        gap_timeout: Duration::from_secs(10),
        max_reconnects: 5,
    }
}

async fn finish(
    task: tokio::task::JoinHandle<cma_client::Result<Turn>>,
) -> cma_client::Result<Turn> {
    within("the turn ends", task)
        .await
        .expect("turn task did not panic")
}

fn ids(turn: &Turn) -> Vec<&str> {
    turn.events
        .iter()
        .map(|e| e.id().unwrap_or("<none>"))
        .collect()
}

fn types(turn: &Turn) -> Vec<&str> {
    turn.events.iter().map(SessionEvent::type_name).collect()
}

// ------------------------------------------------------------------------------------------------
// A normal turn
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_normal_turn_collects_events_reply_tools_and_timings() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    let script = [
        ev("e1", "session.status_running", json!({})),
        ev("e2", "span.model_request_start", json!({})),
        message("e3", "Let me note that."),
        ev(
            "e4",
            "agent.tool_use",
            json!({"name": "write", "input": {"file_path": "/mnt/memory/shopper-preferences/prefs.md",
                                                "content": "- size M\n"}}),
        ),
        ev(
            "e5",
            "agent.tool_result",
            json!({"tool_use_id": "e4", "content": [{"type": "text", "text": "ok"}]}),
        ),
        ev(
            "e6",
            "agent.tool_use",
            json!({"name": "bash", "input": {"command": "cat /mnt/memory/shopper-preferences/prefs.md | head"}}),
        ),
        ev(
            "e7",
            "agent.tool_result",
            json!({"tool_use_id": "e6", "is_error": true}),
        ),
        ev(
            "e8",
            "span.model_request_end",
            json!({"model_request_start_id": "e2", "model_usage": {}}),
        ),
        message("e9", "Noted: size M."),
        end_turn("e10"),
    ];
    for e in &script {
        s.emit(&h, e);
    }
    let turn = finish(task).await.expect("turn succeeds");
    assert_eq!(
        h.order()[..2],
        ["stream", "send"],
        "the stream is opened before the message is sent"
    );
    assert_eq!(
        ids(&turn),
        [
            "sevt_echo",
            "e1",
            "e2",
            "e3",
            "e4",
            "e5",
            "e6",
            "e7",
            "e8",
            "e9",
            "e10"
        ]
    );
    assert_eq!(
        types(&turn),
        [
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "agent.tool_use",
            "agent.tool_result",
            "agent.tool_use",
            "agent.tool_result",
            "span.model_request_end",
            "agent.message",
            "session.status_idle"
        ]
    );
    assert_eq!(turn.session_id, SESSION);
    assert_eq!(turn.user_event_id.as_deref(), Some(ECHO_ID));
    assert_eq!(turn.reply, "Let me note that.\n\nNoted: size M.");
    assert_eq!(turn.end, TurnEnd::Idle);
    assert!(
        matches!(turn.stop_reason, Some(StopReason::EndTurn(_))),
        "{:?}",
        turn.stop_reason
    );
    assert!(turn.ended_normally());
    assert_eq!(turn.reconnects, 0);
    assert!(turn.decode_errors.is_empty(), "{:?}", turn.decode_errors);

    assert_eq!(turn.tool_uses.len(), 2);
    let write: &ToolUse = &turn.tool_uses[0];
    assert_eq!((write.id.as_str(), write.name.as_str()), ("e4", "write"));
    assert_eq!(
        write.memory_paths,
        ["/mnt/memory/shopper-preferences/prefs.md"]
    );
    assert!(write.writes_memory());
    assert_eq!(write.is_error, Some(false));
    assert_eq!(write.result_text.as_deref(), Some("ok"));
    let bash = &turn.tool_uses[1];
    assert_eq!(
        bash.memory_paths,
        ["/mnt/memory/shopper-preferences/prefs.md"]
    );
    assert!(
        !bash.writes_memory(),
        "reading through a pipe is not a write"
    );
    assert_eq!(bash.is_error, Some(true));

    let t = &turn.timings;
    let first_byte = t.first_byte_ms.expect("first byte timed");
    let first_message = t.first_message_ms.expect("first message timed");
    let idle_at = t.idle_ms.expect("idle timed");
    assert!(first_byte >= 0.0 && first_byte <= first_message, "{t:?}");
    assert!(first_message <= idle_at && idle_at <= t.total_ms, "{t:?}");
}

#[tokio::test]
async fn events_before_the_echo_are_not_part_of_the_turn() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.next_stream().await;
    h.next_post().await;
    // A late idle from an earlier turn arrives before this turn's echo: it must not end the turn.
    s.send_event(&end_turn("old_idle"));
    s.send_event(&message("old_msg", "stale"));
    s.send_event(&echo());
    s.emit(&h, &message("m1", "fresh"));
    s.emit(&h, &end_turn("idle1"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "idle1"]);
    assert_eq!(turn.reply, "fresh");
}

// ------------------------------------------------------------------------------------------------
// Dropped streams: reconnect, backfill, de-duplicate
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stream_cut_mid_turn_is_reconnected_and_backfilled() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s1 = h.begin().await;
    s1.emit(&h, &ev("e1", "session.status_running", json!({})));
    s1.emit(&h, &ev("e2", "span.model_request_start", json!({})));
    s1.emit(&h, &message("e3", "part one"));
    // Emitted by the session but lost with the connection.
    h.store(&ev(
        "e4",
        "agent.tool_use",
        json!({"name": "read", "input": {"file_path": "/mnt/memory/s/a.md"}}),
    ));
    h.store(&ev("e5", "agent.tool_result", json!({"tool_use_id": "e4"})));
    drop(s1);

    let s2 = h.next_stream().await;
    let query = h.next_list().await;
    assert_eq!(
        h.order(),
        ["stream", "send", "stream", "list"],
        "reopen first, then list"
    );
    assert!(
        query.contains(&("limit".to_string(), "1000".to_string())),
        "{query:?}"
    );
    let since = query
        .iter()
        .find(|(k, _)| k == "created_at[gte]")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        since,
        Some("2026-04-23T17:03:00.000001+00:00"),
        "history is listed from the echo on"
    );
    s2.emit(&h, &message("e6", "part two"));
    s2.emit(&h, &end_turn("e7"));

    let turn = finish(task).await.expect("turn");
    assert_eq!(
        ids(&turn),
        ["sevt_echo", "e1", "e2", "e3", "e4", "e5", "e6", "e7"],
        "every event once, in order"
    );
    assert_eq!(turn.reconnects, 1);
    assert!(turn.ended_normally());
    assert_eq!(turn.reply, "part one\n\npart two");
    assert_eq!(turn.tool_uses.len(), 1);
    assert_eq!(turn.tool_uses[0].memory_paths, ["/mnt/memory/s/a.md"]);
}

#[tokio::test]
async fn events_both_backfilled_and_streamed_appear_once() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s1 = h.begin().await;
    s1.emit(&h, &ev("e1", "session.status_running", json!({})));
    h.store(&message("e2", "a"));
    h.store(&message("e3", "b"));
    drop(s1);
    let s2 = h.next_stream().await;
    h.next_list().await;
    // The new stream repeats what the history already returned, then goes on.
    s2.send_event(&ev("e1", "session.status_running", json!({})));
    s2.send_event(&message("e2", "a"));
    s2.send_event(&message("e3", "b"));
    s2.emit(&h, &message("e4", "c"));
    s2.send_event(&message("e4", "c"));
    s2.emit(&h, &end_turn("e5"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(turn.reply, "a\n\nb\n\nc");
    assert_eq!(turn.reconnects, 1);
}

#[tokio::test]
async fn a_turn_ending_during_the_gap_is_found_in_the_backfill() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    // The stream drops before it carries anything, even the echo.
    let s1 = h.next_stream().await;
    h.next_post().await;
    h.store(&message("e1", "done already"));
    h.store(&end_turn("e2"));
    drop(s1);
    let _s2 = h.next_stream().await;
    h.next_list().await;
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "e1", "e2"]);
    assert!(turn.ended_normally());
    assert_eq!(turn.reconnects, 1);
}

#[tokio::test]
async fn too_many_drops_end_the_turn_with_a_stream_error() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(TurnOptions {
        max_reconnects: 2,
        ..fast()
    });
    let s1 = h.begin().await;
    drop(s1);
    for _ in 0..2 {
        drop(h.next_stream().await);
    }
    match finish(task).await {
        Err(Error::Stream(msg)) => assert!(msg.contains("3 times"), "{msg}"),
        other => panic!("expected Error::Stream, got {other:?}"),
    }
    assert_eq!(h.order().iter().filter(|o| **o == "stream").count(), 3);
}

// ------------------------------------------------------------------------------------------------
// Timeouts
// ------------------------------------------------------------------------------------------------

/// Sends a ping every 20 ms until the client hangs up; returns how many were accepted.
fn pinger(s: Sse) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut sent = 0;
        loop {
            tick.tick().await;
            if !s.ping() || sent >= 2_000 {
                return sent;
            }
            sent += 1;
        }
    })
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_gap_timeout() {
    let mut h = Harness::start().await;
    let gap = Duration::from_millis(200);
    let task = h.spawn_turn(TurnOptions {
        gap_timeout: gap,
        ..fast()
    });
    let s = h.begin().await;
    s.emit(&h, &ev("e1", "session.status_running", json!({})));
    let pings = pinger(s);
    let turn = finish(task)
        .await
        .expect("a gap timeout is a result, not an error");
    assert_eq!(turn.end, TurnEnd::GapTimeout);
    assert_eq!(ids(&turn), ["sevt_echo", "e1"]);
    assert_eq!(turn.stop_reason, None);
    assert!(!turn.ended_normally());
    assert!(
        turn.timings.total_ms >= gap.as_secs_f64() * 1000.0,
        "{:?}",
        turn.timings
    );
    pings.abort();
}

#[tokio::test]
async fn the_whole_turn_has_a_deadline() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(TurnOptions {
        turn_timeout: Duration::from_millis(300),
        ..fast()
    });
    let s = h.begin().await;
    let pings = pinger(s);
    let turn = finish(task).await.expect("a turn timeout is a result");
    assert_eq!(turn.end, TurnEnd::TurnTimeout);
    assert_eq!(ids(&turn), ["sevt_echo"]);
    pings.abort();
}

// ------------------------------------------------------------------------------------------------
// How turns end
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn requires_action_returns_promptly_with_its_event_ids() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    s.emit(&h, &ev("e1", "session.status_running", json!({})));
    s.emit(
        &h,
        &ev(
            "tool1",
            "agent.tool_use",
            json!({"name": "bash", "input": {"command": "ls"}, "evaluated_permission": "ask"}),
        ),
    );
    s.emit(
        &h,
        &idle(
            "e2",
            json!({"type": "requires_action", "event_ids": ["tool1"]}),
        ),
    );
    // The stream stays open (`s` is alive): the turn must return on the idle event alone.
    let turn = finish(task).await.expect("turn");
    assert_eq!(turn.end, TurnEnd::Idle);
    match &turn.stop_reason {
        Some(StopReason::RequiresAction(r)) => assert_eq!(r.event_ids, ["tool1"]),
        other => panic!("expected requires_action, got {other:?}"),
    }
    assert!(!turn.ended_normally());
    drop(s);
}

#[tokio::test]
async fn abnormal_idle_reasons_end_the_turn_but_not_normally() {
    for (reason, check) in [
        (
            "retries_exhausted",
            (|r: &StopReason| matches!(r, StopReason::RetriesExhausted(_)))
                as fn(&StopReason) -> bool,
        ),
        ("budget_reached", |r| {
            matches!(r, StopReason::BudgetReached(_))
        }),
        ("refusal", |r| matches!(r, StopReason::Refusal(_))),
        (
            "some_future_reason",
            |r| matches!(r, StopReason::Unknown(v) if v["type"] == "some_future_reason"),
        ),
    ] {
        let mut h = Harness::start().await;
        let task = h.spawn_turn(fast());
        let s = h.begin().await;
        s.emit(&h, &idle("e1", json!({"type": reason})));
        let turn = finish(task).await.expect("turn");
        assert_eq!(turn.end, TurnEnd::Idle, "{reason}");
        assert!(
            check(turn.stop_reason.as_ref().expect("stop reason")),
            "{reason}: {:?}",
            turn.stop_reason
        );
        assert!(!turn.ended_normally(), "{reason}");
        drop(s);
    }
}

#[tokio::test]
async fn terminated_and_deleted_sessions_end_the_turn() {
    for (kind, end) in [
        ("session.status_terminated", TurnEnd::Terminated),
        ("session.deleted", TurnEnd::Deleted),
    ] {
        let mut h = Harness::start().await;
        let task = h.spawn_turn(fast());
        let s = h.begin().await;
        s.emit(&h, &ev("e1", "session.status_running", json!({})));
        s.emit(&h, &ev("e2", kind, json!({})));
        let turn = finish(task).await.expect("turn");
        assert_eq!(turn.end, end, "{kind}");
        assert_eq!(ids(&turn), ["sevt_echo", "e1", "e2"]);
        assert_eq!(turn.stop_reason, None);
        drop(s);
    }
}

// ------------------------------------------------------------------------------------------------
// Frames
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_error_frame_is_an_api_error_with_status_200() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    s.raw("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
    let err = finish(task)
        .await
        .expect_err("an error frame fails the turn");
    let api = err
        .api()
        .unwrap_or_else(|| panic!("expected Error::Api, got {err:?}"));
    assert_eq!(api.status, 200);
    assert_eq!(api.error_type, "overloaded_error");
    assert_eq!(api.message, "Overloaded");
    drop(s);
}

#[tokio::test]
async fn undecodable_frames_are_recorded_and_the_turn_goes_on() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    s.raw("event: agent.message\ndata: {not json\n\n");
    // Valid JSON of a known type with the wrong shape is a decode error too.
    s.raw(
        "event: agent.message\ndata: {\"type\":\"agent.message\",\"id\":\"bad\",\"content\":5}\n\n",
    );
    s.emit(&h, &message("m1", "still here"));
    s.emit(&h, &end_turn("e2"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(turn.decode_errors.len(), 2, "{:?}", turn.decode_errors);
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "e2"]);
    assert!(turn.ended_normally());
    drop(s);
}

#[tokio::test]
async fn unknown_event_types_reach_the_caller_verbatim() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    let novel = ev(
        "u1",
        "session.checkpoint_created",
        json!({"severity": "info", "payload": {"labels": ["a", "b"], "n": 1.5}}),
    );
    s.emit(&h, &novel);
    s.emit(&h, &end_turn("e2"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "u1", "e2"]);
    match &turn.events[1] {
        SessionEvent::Unknown(raw) => assert_eq!(raw, &novel),
        other => panic!("expected SessionEvent::Unknown, got {other:?}"),
    }
    assert_eq!(turn.events[1].type_name(), "session.checkpoint_created");
    drop(s);
}

#[tokio::test]
async fn frames_without_an_event_line_pings_and_comments_are_dropped() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    s.raw(&format!("data: {}\n\n", message("nameless", "dropped")));
    s.raw(": a comment\n\n");
    s.raw("event: ping\ndata: {}\n\n");
    s.raw("event: agent.message\ndata:\n\n");
    s.emit(&h, &message("m1", "kept"));
    s.emit(&h, &end_turn("e2"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "e2"]);
    assert_eq!(turn.reply, "kept");
    assert!(turn.decode_errors.is_empty(), "{:?}", turn.decode_errors);
    drop(s);
}

#[tokio::test]
async fn frames_split_across_chunks_and_crlf_lines_decode() {
    let mut h = Harness::start().await;
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    let m = message("m1", "caf\u{e9} \u{1f6cd}");
    let frame = format!("event: agent.message\r\ndata: {m}\r\n\r\n");
    let bytes = frame.as_bytes();
    // Split inside the line ending and inside the multi-byte characters.
    for chunk in bytes.chunks(7) {
        let _ = s.0.unbounded_send(Ok(Bytes::copy_from_slice(chunk)));
    }
    s.raw(&format!(
        "event: session.status_idle\rdata: {}\r\r",
        end_turn("e2")
    ));
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "e2"]);
    assert_eq!(turn.reply, "caf\u{e9} \u{1f6cd}");
    drop(s);
}

// ------------------------------------------------------------------------------------------------
// The send and its echo
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_turn_that_ends_before_the_send_returns_still_has_its_timings() {
    let mut h = Harness::start().await;
    let release = h.hold_send();
    let task = h.spawn_turn(fast());
    let s = h.next_stream().await;
    h.next_post().await;
    // A stale message from before this turn must not count as the first message.
    s.send_event(&message("stale", "old"));
    s.send_event(&echo());
    s.emit(&h, &ev("e1", "session.status_running", json!({})));
    s.emit(&h, &message("m1", "quick"));
    s.emit(&h, &end_turn("e2"));
    release.send(()).expect("the send is still waiting");
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "e1", "m1", "e2"]);
    assert!(turn.ended_normally());
    let t = &turn.timings;
    let first_message = t.first_message_ms.expect("first message timed");
    let idle_at = t
        .idle_ms
        .expect("idle timed even though it arrived before the send returned");
    assert!(first_message <= idle_at && idle_at <= t.total_ms, "{t:?}");
    drop(s);
}

#[tokio::test]
async fn a_send_response_without_the_echo_still_ends_the_turn() {
    let mut h = Harness::start().await;
    h.shared.echo_in_response.store(false, Ordering::SeqCst);
    let task = h.spawn_turn(fast());
    let s = h.begin().await;
    s.emit(&h, &message("m1", "hi"));
    s.emit(&h, &end_turn("e2"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(
        turn.end,
        TurnEnd::Idle,
        "the idle event ends the turn, not a gap timeout"
    );
    assert_eq!(
        turn.user_event_id.as_deref(),
        Some(ECHO_ID),
        "the echo is taken from the stream"
    );
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "e2"]);
    drop(s);
}

#[tokio::test]
async fn without_the_echo_a_dropped_stream_backfills_from_the_last_user_message() {
    let mut h = Harness::start().await;
    h.shared.echo_in_response.store(false, Ordering::SeqCst);
    // An earlier turn in the history, before this one.
    h.store(
        &json!({"type": "user.message", "id": "old_user", "processed_at": "2026-04-23T16:00:00Z",
                    "content": [{"type": "text", "text": "earlier"}]}),
    );
    h.store(&message("old_reply", "earlier reply"));
    h.store(&end_turn("old_idle"));
    let task = h.spawn_turn(fast());
    let s1 = h.next_stream().await;
    h.next_post().await; // stores this turn's echo after the earlier turn
    h.store(&message("m1", "new reply"));
    h.store(&end_turn("e2"));
    drop(s1);
    let _s2 = h.next_stream().await;
    h.next_list().await;
    let turn = finish(task).await.expect("turn");
    assert_eq!(ids(&turn), ["sevt_echo", "m1", "e2"]);
    assert_eq!(turn.reply, "new reply");
    assert!(turn.ended_normally());
}

#[tokio::test]
async fn a_failed_send_fails_the_turn() {
    let mut h = Harness::start().await;
    *h.shared.fail_send.lock().expect("lock") = Some((
        400,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "session is terminated"}}),
    ));
    let task = h.spawn_turn(fast());
    let s = h.next_stream().await;
    h.next_post().await;
    let err = finish(task).await.expect_err("the send failed");
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.api().expect("api error").message,
        "session is terminated"
    );
    drop(s);
}

// ------------------------------------------------------------------------------------------------
// Pieces used by the loop
// ------------------------------------------------------------------------------------------------

#[test]
fn memory_paths_are_found_anywhere_in_a_tool_input() {
    let input = json!({
        "command": "cp /mnt/memory/a/x.md /mnt/memory/b/y.md && echo '/mnt/memory/a/x.md'; ls /tmp",
        "nested": [{"file_path": "/mnt/memory/c/z.md."}],
        "other": 5
    });
    assert_eq!(
        memory_paths(&input),
        [
            "/mnt/memory/a/x.md",
            "/mnt/memory/b/y.md",
            "/mnt/memory/c/z.md"
        ]
    );
    assert!(memory_paths(&json!({"command": "ls /mnt/session"})).is_empty());
    assert_eq!(memory_paths(&json!("/mnt/memory")), ["/mnt/memory"]);
}

#[test]
fn writes_memory_tells_writes_from_reads() {
    let tool = |name: &str, input: Value| ToolUse {
        id: "t".into(),
        name: name.into(),
        memory_paths: memory_paths(&input),
        input,
        is_error: None,
        result_text: None,
    };
    assert!(
        tool(
            "write",
            json!({"file_path": "/mnt/memory/a/b.md", "content": "x"})
        )
        .writes_memory()
    );
    assert!(tool("edit", json!({"file_path": "/mnt/memory/a/b.md"})).writes_memory());
    assert!(!tool("write", json!({"file_path": "/tmp/b.md"})).writes_memory());
    assert!(!tool("read", json!({"file_path": "/mnt/memory/a/b.md"})).writes_memory());
    assert!(tool("bash", json!({"command": "echo hi >> /mnt/memory/a/b.md"})).writes_memory());
    assert!(tool("bash", json!({"command": "rm /mnt/memory/a/b.md"})).writes_memory());
    assert!(!tool("bash", json!({"command": "cat /mnt/memory/a/b.md"})).writes_memory());
}

// ------------------------------------------------------------------------------------------------
// Sessions::wait_for_idle
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn wait_for_idle_polls_until_the_session_is_idle() {
    let srv = MockServer::start(|_, i| {
        Reply::ok(session_json(
            SESSION,
            if i < 2 { "running" } else { "idle" },
        ))
    })
    .await;
    let c = srv.client();
    let s = within(
        "wait",
        c.sessions().wait_for_idle(SESSION, Duration::from_secs(15)),
    )
    .await
    .expect("idle");
    assert_eq!(s.status, SessionStatus::Idle);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.method == "GET" && r.path == "/v1/sessions/sesn_1")
    );
}

#[tokio::test]
async fn wait_for_idle_accepts_terminated() {
    let srv = MockServer::start(|_, i| {
        Reply::ok(session_json(
            SESSION,
            if i < 1 { "rescheduling" } else { "terminated" },
        ))
    })
    .await;
    let c = srv.client();
    let s = within(
        "wait",
        c.sessions().wait_for_idle(SESSION, Duration::from_secs(15)),
    )
    .await
    .expect("done");
    assert_eq!(s.status, SessionStatus::Terminated);
    assert_eq!(srv.count(), 2);
}

#[tokio::test]
async fn wait_for_idle_times_out_when_the_session_never_idles() {
    let srv = MockServer::start(|_, _| Reply::ok(session_json(SESSION, "running"))).await;
    let c = srv.client();
    let limit = Duration::from_millis(300);
    let err = within("wait", c.sessions().wait_for_idle(SESSION, limit))
        .await
        .expect_err("never idle");
    assert!(matches!(err, Error::Timeout(d) if d == limit), "{err:?}");
    assert!(
        srv.count() >= 2,
        "it polled more than once ({})",
        srv.count()
    );
}

#[tokio::test]
async fn wait_for_idle_returns_api_errors() {
    let srv =
        MockServer::start(|_, _| Reply::error(404, "not_found_error", "no such session")).await;
    let c = srv.client();
    let err = within(
        "wait",
        c.sessions().wait_for_idle(SESSION, Duration::from_secs(15)),
    )
    .await
    .expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(srv.count(), 1);
}

// ------------------------------------------------------------------------------------------------
// Several turns over one kept stream (`SessionTurns`)
// ------------------------------------------------------------------------------------------------

/// Runs one turn of `turns` on its own task and hands `turns` back with the result.
fn spawn_session_turn(
    mut turns: SessionTurns,
    text: &'static str,
) -> tokio::task::JoinHandle<(SessionTurns, cma_client::Result<Turn>)> {
    tokio::spawn(async move {
        let turn = turns.run_turn(text, &fast()).await;
        (turns, turn)
    })
}

async fn finish_session_turn(
    task: tokio::task::JoinHandle<(SessionTurns, cma_client::Result<Turn>)>,
) -> (SessionTurns, Turn) {
    let (turns, turn) = within("the turn ends", task)
        .await
        .expect("turn task did not panic");
    (turns, turn.expect("turn"))
}

/// Takes the next message and answers it on `s` with the `n`-th echo, as the service does.
async fn echo_next(h: &mut Harness, s: &Sse, n: usize, text: &str) {
    let post = h.next_post().await;
    assert_eq!(post["events"][0]["content"][0]["text"], text);
    let mut echo = echo();
    echo["id"] = json!(echo_id(n));
    echo["content"][0]["text"] = json!(text);
    s.send_event(&echo);
}

#[tokio::test]
async fn session_turns_keep_one_stream_open_across_turns() {
    let mut h = Harness::start().await;
    let turns = SessionTurns::new(&h.client(), SESSION);
    let task = spawn_session_turn(turns, "hello");
    let s = h.begin().await;
    s.emit(&h, &message("a1", "first"));
    s.emit(&h, &end_turn("a2"));
    let (turns, first) = finish_session_turn(task).await;
    assert!(first.ended_normally());
    assert_eq!(ids(&first), ["sevt_echo", "a1", "a2"]);
    // Emitted after the turn ended and before the next send: not part of the next turn.
    s.emit(
        &h,
        &ev(
            "late",
            "span.model_request_end",
            json!({"model_request_start_id": "x"}),
        ),
    );

    let task = spawn_session_turn(turns, "again");
    echo_next(&mut h, &s, 2, "again").await;
    s.emit(&h, &message("b1", "second"));
    s.emit(&h, &end_turn("b2"));
    let (turns, second) = finish_session_turn(task).await;
    assert!(second.ended_normally());
    assert_eq!(ids(&second), ["sevt_echo_2", "b1", "b2"]);
    assert_eq!(second.reply, "second");
    assert_eq!(second.reconnects, 0);
    assert_eq!(
        h.order(),
        ["stream", "send", "send"],
        "one stream for both turns"
    );
    assert_eq!(turns.streams_opened(), 1);
}

#[tokio::test]
async fn a_kept_stream_the_server_closed_is_replaced_and_no_event_is_lost() {
    let mut h = Harness::start().await;
    let task = spawn_session_turn(SessionTurns::new(&h.client(), SESSION), "hello");
    let s1 = h.begin().await;
    s1.emit(&h, &end_turn("a1"));
    let (turns, _) = finish_session_turn(task).await;
    drop(s1);

    let task = spawn_session_turn(turns, "again");
    // Whether the client sees the close before its send (and opens a new stream first) or only
    // during the turn (and reconnects and backfills) depends on when the close reaches it; either
    // way the turn must see all its events once, in order.
    let s2 = h.next_stream().await;
    let post = h.next_post().await;
    assert_eq!(post["events"][0]["content"][0]["text"], "again");
    let echo2 = h
        .shared
        .stored
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("echo");
    assert_eq!(echo2["id"], "sevt_echo_2");
    // On the reconnect path the backfill delivers the echo too; it must still appear once.
    s2.send_event(&echo2);
    s2.emit(&h, &message("b1", "second"));
    s2.emit(&h, &end_turn("b2"));
    let (turns, second) = finish_session_turn(task).await;
    assert!(second.ended_normally());
    assert_eq!(ids(&second), ["sevt_echo_2", "b1", "b2"]);
    assert_eq!(turns.streams_opened(), 2);
    let order = h.order();
    assert!(
        order == ["stream", "send", "stream", "send"]
            || order == ["stream", "send", "send", "stream", "list"],
        "a new stream before the send, or a reconnect during the turn: {order:?}"
    );
}

#[tokio::test]
async fn a_stream_reconnected_mid_turn_is_the_one_kept_for_the_next_turn() {
    let mut h = Harness::start().await;
    let task = spawn_session_turn(SessionTurns::new(&h.client(), SESSION), "hello");
    let s1 = h.begin().await;
    s1.emit(&h, &message("a1", "part one"));
    drop(s1);
    let s2 = h.next_stream().await;
    let _ = h.next_list().await;
    s2.emit(&h, &end_turn("a2"));
    let (turns, first) = finish_session_turn(task).await;
    assert_eq!(first.reconnects, 1);
    assert_eq!(ids(&first), ["sevt_echo", "a1", "a2"]);

    let task = spawn_session_turn(turns, "again");
    echo_next(&mut h, &s2, 2, "again").await;
    s2.emit(&h, &end_turn("b1"));
    let (turns, second) = finish_session_turn(task).await;
    assert_eq!(ids(&second), ["sevt_echo_2", "b1"]);
    assert_eq!(h.order(), ["stream", "send", "stream", "list", "send"]);
    assert_eq!(turns.streams_opened(), 2);
}

#[tokio::test]
async fn after_a_turn_that_did_not_end_idle_the_next_turn_opens_a_new_stream() {
    let mut h = Harness::start().await;
    let task = spawn_session_turn(SessionTurns::new(&h.client(), SESSION), "hello");
    let s1 = h.begin().await;
    s1.emit(&h, &ev("a1", "session.status_terminated", json!({})));
    let (turns, first) = finish_session_turn(task).await;
    assert_eq!(first.end, TurnEnd::Terminated);

    // The old stream is still open on the server's side, yet the client does not use it.
    let task = spawn_session_turn(turns, "again");
    let s2 = h.next_stream().await;
    echo_next(&mut h, &s2, 2, "again").await;
    s2.emit(&h, &end_turn("b1"));
    let (turns, second) = finish_session_turn(task).await;
    assert_eq!(ids(&second), ["sevt_echo_2", "b1"]);
    assert_eq!(h.order(), ["stream", "send", "stream", "send"]);
    assert_eq!(turns.streams_opened(), 2);
    drop(s1);
}

// ------------------------------------------------------------------------------------------------
// Answering requires_action
// ------------------------------------------------------------------------------------------------

/// Starts `run_turn_answering` on its own task; the answerer answers every custom call with
/// "found", refuses everything else, and reports each batch of calls it was given.
fn spawn_answering(
    h: &Harness,
    batches: mpsc::UnboundedSender<Vec<String>>,
) -> tokio::task::JoinHandle<cma_client::Result<Turn>> {
    let client = h.client();
    tokio::spawn(async move {
        let mut answer = move |calls: &[SessionEvent]| {
            let ids = calls
                .iter()
                .filter_map(|c| c.id().map(str::to_string))
                .collect();
            batches.send(ids).expect("test is listening for batches");
            calls
                .iter()
                .map(|c| match c {
                    SessionEvent::AgentCustomToolUse(u) => {
                        Ok(ClientEvent::UserCustomToolResult(UserCustomToolResult {
                            custom_tool_use_id: u.id.clone(),
                            content: Some(vec![ContentBlock::text("found")]),
                            is_error: None,
                            session_thread_id: None,
                        }))
                    }
                    other => Err(format!("cannot answer {}", other.type_name())),
                })
                .collect()
        };
        SessionTurns::new(&client, SESSION)
            .run_turn_answering(UserMessage::text("hello"), &fast(), &mut answer)
            .await
    })
}

fn custom_call(id: &str) -> Value {
    ev(
        id,
        "agent.custom_tool_use",
        json!({"name": "lookup", "input": {"order_id": id}}),
    )
}

fn requires_action(id: &str, ids: &[&str]) -> Value {
    idle(id, json!({"type": "requires_action", "event_ids": ids}))
}

#[tokio::test]
async fn requires_action_is_answered_and_the_turn_runs_to_end_turn() {
    let mut h = Harness::start().await;
    let (batches_tx, mut batches) = mpsc::unbounded_channel();
    let task = spawn_answering(&h, batches_tx);
    let s = h.begin().await;
    s.emit(&h, &ev("e1", "session.status_running", json!({})));
    s.emit(&h, &custom_call("c1"));
    s.emit(&h, &custom_call("c2"));
    s.emit(&h, &requires_action("i1", &["c1", "c2"]));
    // Both calls are answered in one send.
    let post = h.next_post().await;
    assert_eq!(
        post,
        json!({"events": [
            {"type": "user.custom_tool_result", "custom_tool_use_id": "c1", "content": [{"type": "text", "text": "found"}]},
            {"type": "user.custom_tool_result", "custom_tool_use_id": "c2", "content": [{"type": "text", "text": "found"}]},
        ]})
    );
    // The server resolves them one at a time: the idle re-emitted for c2 is waited through.
    s.emit(&h, &requires_action("i2", &["c2"]));
    s.emit(&h, &ev("e2", "session.status_running", json!({})));
    s.emit(&h, &message("m1", "Order c1 is found."));
    s.emit(&h, &end_turn("i3"));
    let turn = finish(task).await.expect("turn");
    assert_eq!(turn.end, TurnEnd::Idle);
    assert!(turn.ended_normally(), "{:?}", turn.stop_reason);
    assert_eq!(turn.reply, "Order c1 is found.");
    assert_eq!(
        ids(&turn),
        [
            ECHO_ID,
            "e1",
            "c1",
            "c2",
            "i1",
            "sevt_echo_2",
            "i2",
            "e2",
            "m1",
            "i3"
        ],
        "the answer's echo is part of the turn, once"
    );
    assert!(turn.timings.idle_ms.is_some());
    assert_eq!(
        batches.recv().await,
        Some(vec!["c1".to_string(), "c2".to_string()])
    );
    assert!(batches.try_recv().is_err(), "asked once");
    assert!(h.posts.try_recv().is_err(), "nothing else was sent");
    drop(s);
}

#[tokio::test]
async fn a_call_the_answerer_refuses_ends_the_turn_with_its_reason() {
    let mut h = Harness::start().await;
    let (batches_tx, _batches) = mpsc::unbounded_channel();
    let task = spawn_answering(&h, batches_tx);
    let s = h.begin().await;
    s.emit(
        &h,
        &ev(
            "t1",
            "agent.tool_use",
            json!({"name": "bash", "input": {"command": "ls"}, "evaluated_permission": "ask"}),
        ),
    );
    s.emit(&h, &requires_action("i1", &["t1"]));
    // The stream stays open: the turn must end on the refusal alone.
    let turn = finish(task).await.expect("turn");
    assert_eq!(
        turn.end,
        TurnEnd::Unanswered {
            reason: "cannot answer agent.tool_use".into()
        }
    );
    assert!(matches!(
        turn.stop_reason,
        Some(StopReason::RequiresAction(_))
    ));
    assert!(h.posts.try_recv().is_err(), "nothing was sent");
    drop(s);
}

#[tokio::test]
async fn an_idle_naming_an_unseen_event_ends_the_turn() {
    let mut h = Harness::start().await;
    let (batches_tx, _batches) = mpsc::unbounded_channel();
    let task = spawn_answering(&h, batches_tx);
    let s = h.begin().await;
    s.emit(&h, &requires_action("i1", &["sevt_elsewhere"]));
    let turn = finish(task).await.expect("turn");
    assert_eq!(
        turn.end,
        TurnEnd::Unanswered {
            reason: "the session waits on event sevt_elsewhere, which this turn did not see".into()
        }
    );
    drop(s);
}
