//! Webhooks: local receivers on 127.0.0.1 verify every delivery's Standard Webhooks signature,
//! see the documented thin payloads in order, and show the retry rules (3 attempts, then drop)
//! and that a slow or refusing receiver never holds up a request or a turn. No sleeps: every
//! wait is on a channel, bounded by a timeout.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cma_client::types::*;
use cma_emulator::{EmulatorConfig, WebhookConfig};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{Mutex, Notify, mpsc};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn kind(&self) -> String {
        self.json()["data"]["type"].as_str().unwrap().to_string()
    }

    /// Checks the signature the way Standard Webhooks receivers do, independently of the
    /// emulator's code: HMAC-SHA256 of `id.timestamp.body` under the base64-decoded secret.
    fn assert_signed(&self) {
        let key = BASE64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
        assert_eq!(self.signature, expected, "bad signature on {}", self.body);
        let ts: i64 = self.timestamp.parse().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((now - ts).abs() < 300, "stale timestamp {ts}");
        let json = self.json();
        assert_eq!(json["type"], "event");
        assert_eq!(json["id"], self.id.as_str(), "webhook-id is the event id");
        assert!(json["created_at"].as_str().unwrap().contains('T'));
        let data = &json["data"];
        assert!(
            data["organization_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(
            data["workspace_id"]
                .as_str()
                .unwrap()
                .starts_with("wrkspc_")
        );
    }
}

/// How a receiver answers.
#[derive(Clone)]
enum Answer {
    Status(StatusCode),
    /// A redirect to another URL (which must never be followed).
    Redirect(String),
    /// Waits for `release` before answering 200.
    Hold(Arc<Notify>),
}

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<Delivery>,
    answer: Arc<Mutex<Answer>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> Response {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(h("content-type"), "application/json");
    let _ = r.tx.send(Delivery {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body,
    });
    let answer = r.answer.lock().await.clone();
    match answer {
        Answer::Status(s) => s.into_response(),
        Answer::Redirect(to) => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response()
        }
        Answer::Hold(release) => {
            release.notified().await;
            StatusCode::OK.into_response()
        }
    }
}

/// A receiver on 127.0.0.1; the server stops when the test's runtime ends.
struct Hook {
    url: String,
    rx: mpsc::UnboundedReceiver<Delivery>,
    answer: Arc<Mutex<Answer>>,
}

impl Hook {
    async fn start(answer: Answer) -> Hook {
        let (tx, rx) = mpsc::unbounded_channel();
        let answer = Arc::new(Mutex::new(answer));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Receiver {
                tx,
                answer: answer.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook { url, rx, answer }
    }

    async fn next(&mut self) -> Delivery {
        t(self.rx.recv()).await.expect("receiver gone")
    }

    /// The next delivery of an event of type `kind`, skipping others.
    async fn next_of(&mut self, kind: &str) -> Delivery {
        loop {
            let d = self.next().await;
            if d.kind() == kind {
                return d;
            }
        }
    }
}

fn config(urls: &[&str]) -> EmulatorConfig {
    EmulatorConfig {
        webhooks: WebhookConfig {
            urls: urls.iter().map(|u| u.parse().unwrap()).collect(),
            secret: Some(SECRET.parse().unwrap()),
            retry_backoff: Duration::from_millis(5),
            timeout: Duration::from_secs(10),
        },
        ..Default::default()
    }
}

/// Every configured URL gets the documented thin payloads, signed, in the order the changes
/// were committed. Break it: skip a hook call in `store/threads.rs` or `store/memory.rs`, or sign
/// something other than `id.timestamp.body`.
#[tokio::test]
async fn signed_thin_payloads_follow_sessions_and_memory_stores() {
    let mut a = Hook::start(Answer::Status(StatusCode::NO_CONTENT)).await;
    let mut b = Hook::start(Answer::Status(StatusCode::OK)).await;
    let env = start_with(config(&[&a.url, &b.url])).await;

    let store = env.store("Shopper Preferences").await;
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "Hi! I wear a size medium."))
    .await
    .unwrap();
    env.wait_idle(&session.id).await;
    let update = UpdateSession {
        title: Some(Some("Shoes".into())),
        ..Default::default()
    };
    t(env.client.sessions().update(&session.id, &update))
        .await
        .unwrap();
    t(env.client.sessions().archive(&session.id)).await.unwrap();
    t(env.client.sessions().delete(&session.id)).await.unwrap();
    let doomed = env.store("Scratch").await;
    t(env.client.memory_stores().archive(&doomed.id))
        .await
        .unwrap();
    t(env.client.memory_stores().delete(&doomed.id))
        .await
        .unwrap();

    let expected = [
        ("memory_store.created", &store.id),
        ("agent.created", &session.agent.id),
        ("environment.created", &session.environment_id),
        ("session.created", &session.id),
        ("session.status_run_started", &session.id),
        ("session.status_idled", &session.id),
        ("session.updated", &session.id),
        ("session.archived", &session.id),
        ("session.deleted", &session.id),
        ("memory_store.created", &doomed.id),
        ("memory_store.archived", &doomed.id),
        ("memory_store.deleted", &doomed.id),
    ];
    for hook in [&mut a, &mut b] {
        let mut ids = Vec::new();
        for (kind, object) in expected {
            let d = hook.next().await;
            d.assert_signed();
            let data = d.json()["data"].clone();
            assert_eq!(
                (data["type"].as_str().unwrap(), data["id"].as_str().unwrap()),
                (kind, object.as_str())
            );
            ids.push(d.id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), expected.len(), "every event has its own id");
        assert!(hook.rx.try_recv().is_err(), "nothing more was sent");
    }
}

/// A failed delivery is retried with the same id and a fresh signature, 3 attempts in all, then
/// dropped; the next event follows, and the session never notices. Break it: raise
/// `MAX_ATTEMPTS`, or stop retrying.
#[tokio::test]
async fn a_refusing_receiver_is_retried_then_dropped_and_the_session_is_unaffected() {
    let mut hook = Hook::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let env = start_with(config(&[&hook.url])).await;
    let first = env.store("First").await;
    let session = env.session("claude-sonnet-4-6", &[]).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello"))
    .await
    .unwrap();
    let idle = env.wait_idle(&session.id).await;
    assert_eq!(idle.status, SessionStatus::Idle);

    let attempts: Vec<Delivery> = [hook.next().await, hook.next().await, hook.next().await].into();
    for d in &attempts {
        d.assert_signed();
        assert_eq!(d.json()["data"]["id"], first.id.as_str());
        assert_eq!(d.id, attempts[0].id, "retries keep the event id");
    }
    // Deliveries to one URL go in order, so the 4th request is already the next event: the
    // first was given up after 3 attempts.
    let next = hook.next().await;
    assert_ne!(next.id, attempts[0].id);
    assert_eq!(next.kind(), "agent.created");

    // Once the receiver recovers, later events get through on their first attempt.
    *hook.answer.lock().await = Answer::Status(StatusCode::OK);
    let later = env.store("Later").await;
    let d = hook.next_of("memory_store.created").await;
    assert_eq!(d.json()["data"]["id"], later.id.as_str());
    assert_eq!(
        env.events(&session.id).await.last().unwrap().type_name(),
        "session.status_idle"
    );
}

/// A receiver that does not answer holds up nothing: requests and a whole turn complete while
/// it sits on a delivery, and the queued events follow once it answers.
#[tokio::test]
async fn a_hanging_receiver_never_blocks_a_request_or_a_turn() {
    let release = Arc::new(Notify::new());
    let mut hook = Hook::start(Answer::Hold(release.clone())).await;
    let env = start_with(config(&[&hook.url])).await;
    let store = env.store("Held").await;
    let held = hook.next().await;
    assert_eq!(held.json()["data"]["id"], store.id.as_str());

    // The receiver is now stuck on that delivery.
    let session = env.session("claude-sonnet-4-6", &[]).await;
    t(env
        .client
        .sessions()
        .events()
        .send_text(&session.id, "hello"))
    .await
    .unwrap();
    env.wait_idle(&session.id).await;

    *hook.answer.lock().await = Answer::Status(StatusCode::OK);
    release.notify_one();
    for kind in [
        "agent.created",
        "environment.created",
        "session.created",
        "session.status_run_started",
        "session.status_idled",
    ] {
        let d = hook.next().await;
        d.assert_signed();
        assert_eq!(d.kind(), kind);
    }
}

/// Redirects are not followed: deliveries go to the configured URLs only.
#[tokio::test]
async fn redirects_are_not_followed() {
    let mut elsewhere = Hook::start(Answer::Status(StatusCode::OK)).await;
    let mut hook = Hook::start(Answer::Redirect(elsewhere.url.clone())).await;
    let env = start_with(config(&[&hook.url])).await;
    let one = env.store("One").await;
    for _ in 0..3 {
        let d = hook.next().await;
        assert_eq!(d.json()["data"]["id"], one.id.as_str());
    }
    // The 4th request is the next event, so every attempt at the first has finished, and a
    // followed redirect would have reached `elsewhere` by now.
    let two = env.store("Two").await;
    let d = hook.next().await;
    assert_eq!(d.json()["data"]["id"], two.id.as_str());
    assert!(elsewhere.rx.try_recv().is_err(), "a redirect was followed");
}

/// A webhook URL needs a secret, and a malformed secret is refused at start.
#[tokio::test]
async fn webhook_configuration_is_checked_at_start() {
    let mut c = config(&["http://127.0.0.1:9/hook"]);
    c.webhooks.secret = None;
    let e = cma_emulator::Emulator::start(c).await.unwrap_err();
    assert!(e.to_string().contains("--webhook-secret"), "{e}");
    assert!("whsec_***".parse::<cma_emulator::WebhookSecret>().is_err());
}

/// `config` on a data directory, with this wait before a retry.
fn persistent(url: &str, dir: &std::path::Path, backoff: Duration) -> EmulatorConfig {
    let mut c = config(&[url]);
    c.data_dir = Some(dir.to_path_buf());
    c.webhooks.retry_backoff = backoff;
    c
}

/// An hour: a retry that waits this long is still queued when the test stops the emulator.
const NEVER: Duration = Duration::from_secs(3600);

/// A webhook still queued at shutdown (its first attempt refused, its retry waiting) is
/// delivered by the next start, with the same id; once delivered it is not sent again by later
/// starts. Break it: drop the requeueing in `Db::set_webhooks` (nothing comes after the
/// restart), or the `finished` call after a success (the third start sends it again).
#[tokio::test]
async fn a_queued_webhook_is_delivered_after_a_restart_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut hook = Hook::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let env = start_with(persistent(&hook.url, dir.path(), NEVER)).await;
    let kept = env.store("Kept").await;
    let first = hook.next().await;
    assert_eq!(first.json()["data"]["id"], kept.id.as_str());
    env.emu.shutdown().await;

    *hook.answer.lock().await = Answer::Status(StatusCode::OK);
    let fast = Duration::from_millis(5);
    let env = start_with(persistent(&hook.url, dir.path(), fast)).await;
    let again = hook.next().await;
    again.assert_signed();
    assert_eq!(again.id, first.id, "the same event, retried");
    assert_eq!(again.body, first.body);
    // Deliveries to a URL go in order: once a later event arrives, the first one is settled.
    let later = env.store("Later").await;
    assert_eq!(hook.next().await.json()["data"]["id"], later.id.as_str());
    let settled = env.store("Settled").await;
    let d = hook.next().await;
    assert_eq!(d.json()["data"]["id"], settled.id.as_str());
    env.emu.shutdown().await;

    let env = start_with(persistent(&hook.url, dir.path(), fast)).await;
    let last = env.store("Last").await;
    loop {
        let d = hook.next().await;
        assert!(
            d.id != first.id && d.json()["data"]["id"] != later.id.as_str(),
            "a delivered webhook was sent again: {}",
            d.body
        );
        if d.json()["data"]["id"] == last.id.as_str() {
            break;
        }
    }
    env.emu.shutdown().await;
}

/// Attempts made before a restart count: a webhook refused once before the restart gets two
/// more attempts after it, then is dropped for good (the next event follows, and another restart
/// does not bring it back). Break it: store no attempt count (a 4th attempt comes), or keep a
/// dropped webhook in the outbox (the last start sends it again).
#[tokio::test]
async fn a_restart_does_not_extend_a_webhooks_attempt_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut hook = Hook::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let env = start_with(persistent(&hook.url, dir.path(), NEVER)).await;
    let doomed = env.store("Doomed").await;
    let first = hook.next().await;
    assert_eq!(first.json()["data"]["id"], doomed.id.as_str());
    env.emu.shutdown().await;

    let fast = Duration::from_millis(5);
    let env = start_with(persistent(&hook.url, dir.path(), fast)).await;
    for _ in 2..=3 {
        assert_eq!(hook.next().await.id, first.id);
    }
    let after = env.store("After").await;
    let d = hook.next().await;
    assert_eq!(
        d.json()["data"]["id"],
        after.id.as_str(),
        "a 4th attempt was made"
    );
    env.emu.shutdown().await;

    *hook.answer.lock().await = Answer::Status(StatusCode::OK);
    let env = start_with(persistent(&hook.url, dir.path(), fast)).await;
    let last = env.store("Last").await;
    loop {
        let d = hook.next().await;
        assert_ne!(d.id, first.id, "a dropped webhook came back");
        if d.json()["data"]["id"] == last.id.as_str() {
            break;
        }
    }
    env.emu.shutdown().await;
}
