//! The streaming turn loop: send one `user.message` and collect the session's events until the
//! turn ends — the cookbook's `run_turn`, with the failure modes the real service has handled:
//!
//! * the stream is opened **before** the message is sent, since it carries live events only;
//! * the loop ends on `session.status_idle` with *any* stop reason (returned, so a
//!   `requires_action` never hangs it), on `session.status_terminated` and on `session.deleted`;
//! * one deadline bounds the whole turn and another the gap between events;
//! * if the stream drops mid-turn it reconnects, backfills through the events list and
//!   de-duplicates by event id, so the caller sees every event exactly once and in order.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use futures::{FutureExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod collector;

use collector::Collector;

use crate::Client;
use crate::error::{Error, Result};
use crate::resources::sessions::events::EventStream;
use crate::types::{
    ClientEvent, ContentBlock, ListEvents, SessionEvent, StopReason, StreamEvents, UserMessage,
    joined_text,
};

/// Limits for one turn.
#[derive(Debug, Clone)]
pub struct TurnOptions {
    /// The whole turn, from opening the stream to the idle event.
    pub turn_timeout: Duration,
    /// The longest wait for the next event (pings do not count as events).
    pub gap_timeout: Duration,
    /// Stream reconnections allowed in one turn.
    pub max_reconnects: u32,
}

impl Default for TurnOptions {
    fn default() -> Self {
        Self {
            turn_timeout: Duration::from_secs(600),
            gap_timeout: Duration::from_secs(120),
            max_reconnects: 5,
        }
    }
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum TurnEnd {
    /// `session.status_idle`; see [`Turn::stop_reason`].
    Idle,
    Terminated,
    Deleted,
    /// The whole-turn deadline passed.
    TurnTimeout,
    /// No event arrived within the gap timeout.
    GapTimeout,
    /// The session went idle with `requires_action` and the turn's answerer could not answer
    /// (see [`SessionTurns::run_turn_answering`]); the session is left waiting.
    Unanswered {
        reason: String,
    },
}

/// Answers the calls a session is blocked on: given the events an idle `requires_action` names
/// that are not answered yet (`agent.custom_tool_use`s, and `agent.tool_use`s awaiting
/// confirmation), the events to send — `user.custom_tool_result`s and `user.tool_confirmation`s.
/// `Err` ends the turn with [`TurnEnd::Unanswered`] and the reason.
pub type Answerer<'a> =
    dyn FnMut(&[SessionEvent]) -> std::result::Result<Vec<ClientEvent>, String> + Send + 'a;

/// One tool call the agent made during the turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    pub input: Value,
    /// Every `/mnt/memory/...` path named anywhere in the input.
    pub memory_paths: Vec<String>,
    /// From the matching `agent.tool_result`, if one arrived.
    pub is_error: Option<bool>,
    pub result_text: Option<String>,
}

impl ToolUse {
    /// Whether this call writes files (the `write` and `edit` tools, or a `bash` command that redirects
    /// into, removes, moves or copies under a memory mount).
    pub fn writes_memory(&self) -> bool {
        if self.memory_paths.is_empty() {
            return false;
        }
        match self.name.as_str() {
            "write" | "edit" => true,
            "bash" => {
                let cmd = self
                    .input
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                static WRITE: LazyLock<regex::Regex> = LazyLock::new(|| {
                    regex::Regex::new(
                        r"(>>?\s*/mnt/memory/|\b(rm|mv|cp|tee|touch|mkdir|sed\s+-i)\b)",
                    )
                    .expect("static regex")
                });
                WRITE.is_match(cmd)
            }
            _ => false,
        }
    }
}

/// Milliseconds from just before the message was sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnTimings {
    pub first_byte_ms: Option<f64>,
    pub first_message_ms: Option<f64>,
    pub idle_ms: Option<f64>,
    pub total_ms: f64,
}

/// Everything one turn produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub session_id: String,
    /// The id of the `user.message` this turn sent.
    pub user_event_id: Option<String>,
    /// The text of every `agent.message`, joined by blank lines.
    pub reply: String,
    /// Every event of the turn, exactly once, in order, starting with the `user.message` echo.
    pub events: Vec<SessionEvent>,
    pub tool_uses: Vec<ToolUse>,
    pub stop_reason: Option<StopReason>,
    pub end: TurnEnd,
    pub timings: TurnTimings,
    pub reconnects: u32,
    /// Frames that could not be decoded (the turn went on without them).
    pub decode_errors: Vec<String>,
}

impl Turn {
    /// Idle with `end_turn`: the only normal finish.
    pub fn ended_normally(&self) -> bool {
        self.end == TurnEnd::Idle && matches!(self.stop_reason, Some(StopReason::EndTurn(_)))
    }
}

/// Runs one turn with a plain-text message. See the module docs for the guarantees.
///
/// This opens an event stream for the turn and closes it after; to run several turns in one
/// session, [`SessionTurns`] keeps one stream open across them.
pub async fn run_turn(
    client: &Client,
    session_id: &str,
    text: &str,
    options: &TurnOptions,
) -> Result<Turn> {
    run_turn_with(client, session_id, UserMessage::text(text), options).await
}

pub async fn run_turn_with(
    client: &Client,
    session_id: &str,
    message: UserMessage,
    options: &TurnOptions,
) -> Result<Turn> {
    SessionTurns::new(client, session_id)
        .run_turn_with(message, options)
        .await
}

/// Turns in one session over one event stream kept open between them.
///
/// The stream is still open *before* each send (it was opened before the first one and has stayed
/// open since), so no event of a turn can be missed, and a turn no longer pays for a new
/// connection and request. Before each send the kept stream is checked without waiting: if the
/// server has closed it, a new one is opened first. Events left on it from before the send are not
/// part of the next turn (a turn starts at its `user.message` echo). A stream that drops *during* a
/// turn is reopened and backfilled exactly as in [`run_turn`]. After a turn that did not end idle
/// (or failed) the stream is closed, and the next turn opens a fresh one.
pub struct SessionTurns {
    client: Client,
    session_id: String,
    stream: Option<EventStream>,
    streams_opened: u32,
}

impl SessionTurns {
    pub fn new(client: &Client, session_id: impl Into<String>) -> Self {
        Self {
            client: client.clone(),
            session_id: session_id.into(),
            stream: None,
            streams_opened: 0,
        }
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Event streams opened so far: the first, any reopened after the server closed one between
    /// turns, and every reconnection during a turn.
    pub fn streams_opened(&self) -> u32 {
        self.streams_opened
    }

    /// Runs one turn with a plain-text message.
    pub async fn run_turn(&mut self, text: &str, options: &TurnOptions) -> Result<Turn> {
        self.run_turn_with(UserMessage::text(text), options).await
    }

    pub async fn run_turn_with(
        &mut self,
        message: UserMessage,
        options: &TurnOptions,
    ) -> Result<Turn> {
        self.run(message, options, None).await
    }

    /// Runs one turn, answering every `requires_action` idle with `answer` until the session
    /// goes idle for another reason. The turn's events, reply and timings span the whole
    /// exchange; an idle re-emitted for calls already answered is waited through. Under
    /// [`TurnOptions::turn_timeout`] like any turn.
    pub async fn run_turn_answering(
        &mut self,
        message: UserMessage,
        options: &TurnOptions,
        answer: &mut Answerer<'_>,
    ) -> Result<Turn> {
        self.run(message, options, Some(answer)).await
    }

    async fn run(
        &mut self,
        message: UserMessage,
        options: &TurnOptions,
        answer: Option<&mut Answerer<'_>>,
    ) -> Result<Turn> {
        let result = self.turn(message, options, answer).await;
        if !matches!(&result, Ok(turn) if turn.end == TurnEnd::Idle) {
            // Whatever the session does next is unknown: start the next turn on a fresh stream.
            self.stream = None;
        }
        result
    }

    async fn open_stream(
        &mut self,
        deadline: tokio::time::Instant,
        limit: Duration,
    ) -> Result<EventStream> {
        let events_api = self.client.sessions().events();
        let stream = tokio::time::timeout_at(
            deadline,
            events_api.stream(&self.session_id, &StreamEvents::default()),
        )
        .await
        .map_err(|_| Error::Timeout(limit))??;
        self.streams_opened += 1;
        Ok(stream)
    }

    /// The kept stream if the server has not closed it, else a new one. Only what has already
    /// arrived is read; events in it are from before this turn's send, so they are dropped.
    async fn ready_stream(
        &mut self,
        deadline: tokio::time::Instant,
        limit: Duration,
    ) -> Result<EventStream> {
        if let Some(mut stream) = self.stream.take() {
            loop {
                match stream.next_event().now_or_never() {
                    // Nothing buffered and the connection is up.
                    None => return Ok(stream),
                    Some(Some(Ok(_) | Err(Error::Decode { .. } | Error::Api(_)))) => continue,
                    Some(Some(Err(_)) | None) => {
                        tracing::debug!(session_id = %self.session_id, "kept event stream was closed; reopening");
                        break;
                    }
                }
            }
        }
        self.open_stream(deadline, limit).await
    }

    async fn turn(
        &mut self,
        message: UserMessage,
        options: &TurnOptions,
        mut answer: Option<&mut Answerer<'_>>,
    ) -> Result<Turn> {
        let deadline = tokio::time::Instant::now() + options.turn_timeout;
        let limit = options.turn_timeout;
        let mut stream = self.ready_stream(deadline, limit).await?;
        // Disjoint borrows: the session id is read while the stream counter and slot are written.
        let Self {
            client,
            session_id,
            stream: kept,
            streams_opened,
        } = self;
        let session_id = session_id.as_str();
        let events_api = client.sessions().events();

        stream.mark();
        let started = Instant::now();
        // The send runs inside this task, raced against the stream below: no spawned task, so no hop
        // between runtime threads (on a loopback turn those wake-ups cost more CPU than the turn's work).
        let send = events_api.send(session_id, vec![ClientEvent::UserMessage(message)]);
        tokio::pin!(send);
        let mut sent = false;
        let mut collector = Collector::default();
        let mut reconnects = 0;
        let mut first_byte = None;

        let end = loop {
            if let Some(end) = collector.end() {
                let Some(answer) = answer.as_deref_mut() else {
                    break end;
                };
                let Some(calls) = collector.unanswered() else {
                    break end;
                };
                match calls {
                    // An idle re-emitted for calls already answered: their resolution follows.
                    Ok(calls) if calls.is_empty() => continue,
                    Ok(calls) => match answer(&calls) {
                        Ok(events) => {
                            let echoes = tokio::time::timeout_at(
                                deadline,
                                events_api.send(session_id, events),
                            )
                            .await
                            .map_err(|_| Error::Timeout(limit))??;
                            for e in echoes.data {
                                collector.push(e, started);
                            }
                            continue;
                        }
                        Err(reason) => break TurnEnd::Unanswered { reason },
                    },
                    Err(reason) => break TurnEnd::Unanswered { reason },
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break TurnEnd::TurnTimeout;
            }
            let gap_deadline = (now + options.gap_timeout).min(deadline);
            tokio::select! {
                echo = &mut send, if !sent => {
                    sent = true;
                    collector.take_echo(echo?);
                }
                next = tokio::time::timeout_at(gap_deadline, stream.next_event()) => {
                    if first_byte.is_none() { first_byte = stream.first_byte_since_mark(); }
                    match next {
                        Err(_) if gap_deadline == deadline => break TurnEnd::TurnTimeout,
                        Err(_) => break TurnEnd::GapTimeout,
                        Ok(Some(Ok(event))) => collector.push(event, started),
                        Ok(Some(Err(Error::Decode { message, .. }))) => collector.decode_errors.push(message),
                        Ok(Some(Err(e @ Error::Api(_)))) => return Err(e),
                        Ok(Some(Err(_))) | Ok(None) => {
                            // The stream dropped before the turn ended: reopen it, then backfill from the
                            // events list. Opening first means nothing emitted in between is missed.
                            if reconnects >= options.max_reconnects {
                                return Err(Error::Stream(format!("stream dropped {} times in one turn", reconnects + 1)));
                            }
                            reconnects += 1;
                            tracing::info!(session_id, reconnects, "event stream dropped mid-turn; reconnecting");
                            if !sent {
                                let echo = tokio::time::timeout_at(deadline, &mut send).await
                                    .map_err(|_| Error::Timeout(limit))??;
                                sent = true;
                                collector.take_echo(echo);
                            }
                            stream = tokio::time::timeout_at(deadline, events_api.stream(session_id, &StreamEvents::default()))
                                .await.map_err(|_| Error::Timeout(limit))??;
                            *streams_opened += 1;
                            let params = ListEvents { created_at_gte: collector.echo_at, limit: Some(1000), ..Default::default() };
                            let history: Vec<SessionEvent> = tokio::time::timeout_at(deadline, events_api.list_all(session_id, &params).try_collect())
                                .await.map_err(|_| Error::Timeout(limit))??;
                            collector.backfill(history, started);
                        }
                    }
                }
            }
        };
        *kept = Some(stream);

        let total = started.elapsed();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let events = collector.turn_events();
        Ok(Turn {
            session_id: session_id.to_string(),
            user_event_id: collector.echo_id.clone(),
            reply: reply_text(&events),
            tool_uses: tool_uses(&events),
            stop_reason: collector.stop_reason(),
            events,
            end,
            timings: TurnTimings {
                first_byte_ms: first_byte.map(|t| ms(t.saturating_duration_since(started))),
                first_message_ms: collector.first_message().map(ms),
                idle_ms: collector.end_arrival().map(ms),
                total_ms: ms(total),
            },
            reconnects,
            decode_errors: collector.decode_errors,
        })
    }
}

fn reply_text(events: &[SessionEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentMessage(m) => Some(m.body.text()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Pairs each `agent.tool_use` with its `agent.tool_result`.
pub fn tool_uses(events: &[SessionEvent]) -> Vec<ToolUse> {
    let mut uses: Vec<ToolUse> = Vec::new();
    for event in events {
        match event {
            SessionEvent::AgentToolUse(e) => uses.push(ToolUse {
                id: e.id.clone(),
                name: e.body.name.clone(),
                memory_paths: memory_paths(&e.body.input),
                input: e.body.input.clone(),
                is_error: None,
                result_text: None,
            }),
            SessionEvent::AgentToolResult(r) => {
                if let Some(u) = uses.iter_mut().find(|u| u.id == r.body.tool_use_id) {
                    u.is_error = Some(r.body.is_error.unwrap_or(false));
                    u.result_text = r
                        .body
                        .content
                        .as_deref()
                        .map(|c: &[ContentBlock]| joined_text(c));
                }
            }
            _ => {}
        }
    }
    uses
}

/// Every `/mnt/memory/...` path named in any string of a tool input.
pub fn memory_paths(input: &Value) -> Vec<String> {
    static PATH: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"/mnt/memory(?:/[^\s'"`;|&<>()*?]*)?"#).expect("static regex")
    });
    let mut out = Vec::new();
    let mut stack = vec![input];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                for m in PATH.find_iter(s) {
                    let p = m.as_str().trim_end_matches(['.', ',']).to_string();
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            Value::Array(a) => stack.extend(a.iter().rev()),
            Value::Object(o) => stack.extend(o.values().rev()),
            _ => {}
        }
    }
    out
}
