//! Scripted fake model servers for both protocols on 127.0.0.1 (test-only): `POST /v1/messages`
//! (Messages API) and `POST /v1/chat/completions` (OpenAI-compatible) on one port. Every request
//! is recorded and checked (the memory section, the SDK's toolset schemas, every tool result
//! answering a tool use of the previous assistant message); a script turns a protocol-neutral
//! view of the request into the next response.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[path = "reference_model.rs"]
pub mod reference_model;

#[path = "fake_streams.rs"]
pub mod fake_streams;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Anthropic,
    OpenAi,
}

/// A tool result the model was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenResult {
    pub text: String,
    pub is_error: bool,
}

/// What a script sees of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub proto: Proto,
    /// 0-based index of this request on the server.
    pub call: usize,
    pub system: String,
    /// The text of the last user message with text (the message the turn answers).
    pub turn_text: String,
    /// Tool results sent since that message, oldest first.
    pub results: Vec<SeenResult>,
    pub tool_names: Vec<String>,
    pub model: String,
}

impl Seen {
    /// The first mount path in the memory section.
    pub fn mount(&self) -> String {
        self.system
            .lines()
            .find_map(|l| l.strip_prefix("## "))
            .unwrap_or("/mnt/memory/none")
            .to_string()
    }
}

#[derive(Debug, Clone)]
pub enum Stop {
    End,
    Tools,
    MaxTokens,
    /// Messages API `refusal`; a chat completion message whose `refusal` is its text.
    Refusal,
    /// This stop reason (finish reason) as is.
    Reason(&'static str),
}

#[derive(Debug, Clone)]
pub enum Step {
    /// A model response: text blocks, then tool calls (`(name, input)`).
    Reply {
        text: Vec<String>,
        tools: Vec<(String, Value)>,
        stop: Stop,
    },
    /// Text and tool calls interleaved in this order (Messages API only keeps the order).
    Mixed(Vec<Either>),
    /// Text and tool calls in this order, ending with this stop reason.
    Ordered(Vec<Either>, Stop),
    /// Headers of a 200 stream, then nothing: a stalled server.
    Stall,
    /// An HTTP answer as is (`application/json` unless the headers name a content type).
    Raw {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
}

#[derive(Debug, Clone)]
pub enum Either {
    Text(String),
    Tool(String, Value),
}

pub fn say(text: &str) -> Step {
    Step::Reply {
        text: vec![text.into()],
        tools: vec![],
        stop: Stop::End,
    }
}

pub fn tool(name: &str, input: Value) -> Step {
    Step::Reply {
        text: vec![],
        tools: vec![(name.into(), input)],
        stop: Stop::Tools,
    }
}

pub type Script = Arc<dyn Fn(&Seen) -> Step + Send + Sync>;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub proto: Proto,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Holds the answer to one call until released.
pub struct Hold {
    pub call: usize,
    /// Notified when that call has arrived.
    pub arrived: Arc<tokio::sync::Notify>,
    /// Notify to let the answer go.
    pub release: Arc<tokio::sync::Notify>,
}

/// Who decides the responses.
enum Responder {
    Script(Script),
    Reference(reference_model::ReferenceModel),
}

/// The id of the `index`-th content item of response number `call`.
fn tool_id(proto: Proto, call: usize, index: usize) -> String {
    match proto {
        Proto::Anthropic => format!("toolu_{call}_{index}"),
        Proto::OpenAi => format!("call_{call}_{index}"),
    }
}

struct Inner {
    responder: Responder,
    hold: Mutex<Option<Hold>>,
    requests: Mutex<Vec<Recorded>>,
    violations: Mutex<Vec<String>>,
    expect_memory: bool,
}

pub struct FakeModel {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModel {
    /// Starts a server answering with `script`; `expect_memory`: every request must carry a
    /// memory section.
    pub async fn start(script: Script, expect_memory: bool) -> FakeModel {
        Self::serve(Responder::Script(script), expect_memory).await
    }

    /// Starts a server whose decisions are the reference agent's (with `regression`), see
    /// [`reference_model`].
    pub async fn start_reference(
        regression: Option<cma_emulator::agent::reference::Regression>,
    ) -> FakeModel {
        Self::serve(
            Responder::Reference(reference_model::ReferenceModel::new(regression)),
            true,
        )
        .await
    }

    async fn serve(responder: Responder, expect_memory: bool) -> FakeModel {
        let inner = Arc::new(Inner {
            responder,
            hold: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            expect_memory,
        });
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModel { addr, inner, task }
    }

    /// The `--agent-base-url` for `proto`.
    pub fn base_url(&self, proto: Proto) -> String {
        match proto {
            Proto::Anthropic => format!("http://{}", self.addr),
            Proto::OpenAi => format!("http://{}/v1", self.addr),
        }
    }

    /// Holds the answer to call `call` (0-based) until `release` is notified.
    pub fn hold(&self, call: usize) -> (Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>) {
        let arrived = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(tokio::sync::Notify::new());
        *self.inner.hold.lock().unwrap() = Some(Hold {
            call,
            arrived: arrived.clone(),
            release: release.clone(),
        });
        (arrived, release)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().unwrap().clone()
    }

    /// Fails the test if any request broke a rule.
    pub fn assert_clean(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "the fake model saw bad requests: {v:#?}");
    }
}

/// Literal values from anthropic 2.10.0's `beta_agent_toolset_20260401` (not from the emulator's
/// bundled copy, so the comparison can fail).
fn check_sdk_schemas(tools: &[(String, String, Value)], problems: &mut Vec<String>) {
    let want: [(&str, &str, &str); 6] = [
        (
            "bash",
            "Run a command in a persistent bash shell.",
            "BetaManagedAgentsAgentToolset20260401BashInput",
        ),
        (
            "read",
            "Read a file rooted at the working directory.",
            "BetaManagedAgentsAgentToolset20260401ReadInput",
        ),
        (
            "write",
            "Write a file, creating parent directories as needed.",
            "BetaManagedAgentsAgentToolset20260401WriteInput",
        ),
        (
            "edit",
            "Replace text in a file by exact string match.",
            "BetaManagedAgentsAgentToolset20260401EditInput",
        ),
        (
            "glob",
            "List files matching a glob pattern, newest first.",
            "BetaManagedAgentsAgentToolset20260401GlobInput",
        ),
        (
            "grep",
            "Search file contents for a regular expression.",
            "BetaManagedAgentsAgentToolset20260401GrepInput",
        ),
    ];
    for (name, description, title) in want {
        let Some((_, d, schema)) = tools.iter().find(|(n, _, _)| n == name) else {
            continue;
        };
        if d != description {
            problems.push(format!(
                "tool {name}: description {d:?}, want {description:?}"
            ));
        }
        if schema["title"] != title || schema["type"] != "object" {
            problems.push(format!("tool {name}: schema {schema}"));
        }
    }
    if let Some((_, _, bash)) = tools.iter().find(|(n, _, _)| n == "bash") {
        let want = json!({ "anyOf": [{ "type": "integer" }, { "type": "null" }], "default": null, "title": "Timeout Ms" });
        if bash["properties"]["timeout_ms"] != want {
            problems.push(format!(
                "bash timeout_ms schema: {}",
                bash["properties"]["timeout_ms"]
            ));
        }
    }
    if let Some((_, _, write)) = tools.iter().find(|(n, _, _)| n == "write")
        && write["required"] != json!(["content", "file_path"])
    {
        problems.push(format!("write required: {}", write["required"]));
    }
}

fn text_of_content(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The neutral view of a Messages API request, and its rule breaks.
fn seen_anthropic(body: &Value, problems: &mut Vec<String>) -> Seen {
    let system = text_of_content(&body["system"]);
    let tools: Vec<(String, String, Value)> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["description"].as_str().unwrap_or("").to_string(),
                t["input_schema"].clone(),
            )
        })
        .collect();
    check_sdk_schemas(&tools, problems);
    let msgs = body["messages"].as_array().cloned().unwrap_or_default();
    let mut turn_text = String::new();
    let mut results = Vec::new();
    let mut open: Vec<String> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let blocks = m["content"].as_array().cloned().unwrap_or_default();
        if m["role"] == "assistant" {
            if !open.is_empty() {
                problems.push(format!(
                    "messages[{i}]: tool uses {open:?} were never answered"
                ));
            }
            open = blocks
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .map(|b| b["id"].as_str().unwrap_or("").to_string())
                .collect();
            continue;
        }
        let answered: Vec<String> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| b["tool_use_id"].as_str().unwrap_or("").to_string())
            .collect();
        for id in &answered {
            if !open.contains(id) {
                problems.push(format!("messages[{i}]: a tool_result answers {id:?}, no tool use of the previous message"));
            }
        }
        if answered.len() != open.len() {
            problems.push(format!(
                "messages[{i}]: {} tool uses, {} results",
                open.len(),
                answered.len()
            ));
        }
        open.clear();
        let text = text_of_content(&m["content"]);
        if !text.is_empty() {
            turn_text = text;
            results.clear();
        }
        for b in blocks.iter().filter(|b| b["type"] == "tool_result") {
            results.push(SeenResult {
                text: text_of_content(&b["content"]),
                is_error: b["is_error"] == true,
            });
        }
    }
    if msgs.last().map(|m| m["role"] != "user").unwrap_or(true) {
        problems.push("the last message is not the user's".into());
    }
    Seen {
        proto: Proto::Anthropic,
        call: 0,
        system,
        turn_text,
        results,
        tool_names: tools.into_iter().map(|(n, _, _)| n).collect(),
        model: body["model"].as_str().unwrap_or("").to_string(),
    }
}

fn seen_openai(body: &Value, problems: &mut Vec<String>) -> Seen {
    let tools: Vec<(String, String, Value)> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let f = &t["function"];
            (
                f["name"].as_str().unwrap_or("").to_string(),
                f["description"].as_str().unwrap_or("").to_string(),
                f["parameters"].clone(),
            )
        })
        .collect();
    check_sdk_schemas(&tools, problems);
    let msgs = body["messages"].as_array().cloned().unwrap_or_default();
    let mut system = String::new();
    let mut turn_text = String::new();
    let mut results = Vec::new();
    let mut open: Vec<String> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        match m["role"].as_str() {
            Some("system") => system = text_of_content(&m["content"]),
            Some("assistant") => {
                if !open.is_empty() {
                    problems.push(format!(
                        "messages[{i}]: tool calls {open:?} were never answered"
                    ));
                }
                open = m["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["id"].as_str().unwrap_or("").to_string())
                    .collect();
            }
            Some("tool") => {
                let id = m["tool_call_id"].as_str().unwrap_or("").to_string();
                match open.iter().position(|o| *o == id) {
                    Some(p) => {
                        open.remove(p);
                    }
                    None => problems.push(format!(
                        "messages[{i}]: a tool message answers {id:?}, no open tool call"
                    )),
                }
                let text = text_of_content(&m["content"]);
                results.push(SeenResult {
                    is_error: text.starts_with("Error"),
                    text,
                });
            }
            Some("user") => {
                if !open.is_empty() {
                    problems.push(format!(
                        "messages[{i}]: tool calls {open:?} were never answered"
                    ));
                    open.clear();
                }
                turn_text = text_of_content(&m["content"]);
                results.clear();
            }
            other => problems.push(format!("messages[{i}]: role {other:?}")),
        }
    }
    Seen {
        proto: Proto::OpenAi,
        call: 0,
        system,
        turn_text,
        results,
        tool_names: tools.into_iter().map(|(n, _, _)| n).collect(),
        model: body["model"].as_str().unwrap_or("").to_string(),
    }
}

fn record(
    inner: &Inner,
    proto: Proto,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Seen, Value), Box<Response>> {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        inner
            .violations
            .lock()
            .unwrap()
            .push("a request body is not JSON".into());
        return Err(Box::new(
            (StatusCode::BAD_REQUEST, "not JSON").into_response(),
        ));
    };
    let mut problems = Vec::new();
    if body["stream"] != true {
        problems.push("the request does not ask for a stream".into());
    }
    if proto == Proto::OpenAi && body["stream_options"]["include_usage"] != true {
        problems.push("the request does not ask for the stream's usage".into());
    }
    let mut seen = match proto {
        Proto::Anthropic => {
            if headers.get("anthropic-version").is_none() {
                problems.push("no anthropic-version header".into());
            }
            if body["max_tokens"].as_u64().is_none() {
                problems.push("no max_tokens".into());
            }
            seen_anthropic(&body, &mut problems)
        }
        Proto::OpenAi => seen_openai(&body, &mut problems),
    };
    if inner.expect_memory
        && !(seen.system.contains("# Memory") && seen.system.contains("## /mnt/memory/"))
    {
        problems.push(format!(
            "no memory section in the system prompt: {:?}",
            seen.system
        ));
    }
    let mut requests = inner.requests.lock().unwrap();
    seen.call = requests.len();
    requests.push(Recorded {
        proto,
        headers: headers.clone(),
        body: body.clone(),
    });
    inner.violations.lock().unwrap().extend(
        problems
            .into_iter()
            .map(|p| format!("request {}: {p}", seen.call)),
    );
    Ok((seen, body))
}

/// The next response: the script's, or the reference agent's.
async fn respond(inner: &Inner, seen: &Seen, body: &Value) -> Step {
    match &inner.responder {
        Responder::Script(script) => script(seen),
        Responder::Reference(model) => model.step(seen.proto, seen.call, body).await,
    }
}

async fn maybe_hold(inner: &Inner, call: usize) {
    let gate = {
        let hold = inner.hold.lock().unwrap();
        hold.as_ref()
            .filter(|h| h.call == call)
            .map(|h| (h.arrived.clone(), h.release.clone()))
    };
    if let Some((arrived, release)) = gate {
        arrived.notify_one();
        release.notified().await;
    }
}

fn raw(status: u16, headers: Vec<(&'static str, String)>, body: String) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

/// Records the request and answers it from the script: what was seen, the reply's items and stop
/// reason, or the
/// raw response to send instead (a scripted error, or a request the fake refuses).
async fn next_reply(
    inner: &Arc<Inner>,
    proto: Proto,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Seen, Vec<Either>, Stop), Box<Response>> {
    let (seen, body) = record(inner, proto, headers, body)?;
    maybe_hold(inner, seen.call).await;
    let (items, stop) = match respond(inner, &seen, &body).await {
        Step::Raw {
            status,
            headers,
            body,
        } => return Err(Box::new(raw(status, headers, body))),
        Step::Stall => return Err(Box::new(fake_streams::stalled_response())),
        Step::Reply { text, tools, stop } => {
            let mut items: Vec<Either> = text.into_iter().map(Either::Text).collect();
            items.extend(tools.into_iter().map(|(n, i)| Either::Tool(n, i)));
            (items, stop)
        }
        Step::Mixed(items) => (items, Stop::Tools),
        Step::Ordered(items, stop) => (items, stop),
    };
    Ok((seen, items, stop))
}

async fn anthropic(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let (seen, blocks, stop) = match next_reply(&inner, Proto::Anthropic, &headers, &body).await {
        Ok(reply) => reply,
        Err(r) => return *r,
    };
    let call = seen.call;
    let content: Vec<Value> = blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| match b {
            Either::Text(t) => json!({ "type": "text", "text": t }),
            Either::Tool(name, input) => json!({ "type": "tool_use", "id": tool_id(Proto::Anthropic, call, i), "name": name, "input": input }),
        })
        .collect();
    let stop = match stop {
        Stop::End => "end_turn",
        Stop::Tools => "tool_use",
        Stop::MaxTokens => "max_tokens",
        Stop::Refusal => "refusal",
        Stop::Reason(r) => r,
    };
    let message = json!({
        "id": format!("msg_{call}"), "type": "message", "role": "assistant", "model": seen.model,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": { "input_tokens": 1000 + call, "output_tokens": 10 + call, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 7 },
    });
    if wants_stream(&body) {
        return fake_streams::sse_response(fake_streams::anthropic_sse(&message));
    }
    axum::Json(message).into_response()
}

/// Whether the request asks for a stream (the model clients always do).
fn wants_stream(body: &Bytes) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|b| b["stream"] == true)
}

/// Tool-call arguments in a chat-completions history that are not a JSON object, as Ollama
/// (400 "invalid tool call arguments") and vLLM refuse them.
fn bad_history_arguments(body: &Bytes) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body["messages"]
        .as_array()?
        .iter()
        .flat_map(|m| m["tool_calls"].as_array().cloned().unwrap_or_default())
        .map(|c| c["function"]["arguments"].clone())
        .find(|a| {
            !a.as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .is_some_and(|v| v.is_object())
        })
        .map(|a| a.to_string())
}

async fn openai(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(args) = bad_history_arguments(&body) {
        inner.violations.lock().unwrap().push(format!(
            "tool call arguments in the history are not a JSON object: {args}"
        ));
        return raw(
            400,
            vec![],
            json!({ "error": { "message": "invalid tool call arguments" } }).to_string(),
        );
    }
    let (seen, blocks, stop) = match next_reply(&inner, Proto::OpenAi, &headers, &body).await {
        Ok(reply) => reply,
        Err(r) => return *r,
    };
    let call = seen.call;
    let mut text = Vec::new();
    let mut calls = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        match b {
            Either::Text(t) => text.push(t),
            Either::Tool(name, input) => calls.push(json!({
                "id": tool_id(Proto::OpenAi, call, i), "type": "function",
                "function": { "name": name, "arguments": match input { Value::String(s) => s, v => v.to_string() } },
            })),
        }
    }
    let mut message = json!({ "role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text.join("\n")) } });
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    if matches!(stop, Stop::Refusal) {
        message["refusal"] = message["content"].take();
    }
    let finish = match stop {
        Stop::End | Stop::Refusal => "stop",
        Stop::Tools => "tool_calls",
        Stop::MaxTokens => "length",
        Stop::Reason(r) => r,
    };
    let completion = json!({
        "id": format!("chatcmpl-{call}"), "object": "chat.completion", "model": seen.model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": 2000 + call, "completion_tokens": 20 + call, "total_tokens": 2020 + 2 * call },
    });
    if wants_stream(&body) {
        return fake_streams::sse_response(fake_streams::openai_sse(&completion));
    }
    axum::Json(completion).into_response()
}

/// A model that uses memory: reads the notes first, saves `my X is Y` facts, answers questions
/// from what it read. With `reads == false` it never reads memory (it cannot recall).
pub fn memory_model(reads: bool) -> Script {
    Arc::new(move |s: &Seen| {
        let notes = format!("{}/notes.md", s.mount());
        let lower = s.turn_text.to_lowercase();
        let fact = lower
            .split_once("my ")
            .and_then(|(_, rest)| rest.split_once(" is "))
            .map(|(what, value)| {
                (
                    what.to_string(),
                    value.trim_end_matches(['.', '!']).to_string(),
                )
            });
        match (reads, s.results.len()) {
            (true, 0) => tool("read", json!({ "file_path": notes })),
            (_, n) if fact.is_some() && n == usize::from(reads) => {
                let (what, value) = fact.unwrap();
                tool(
                    "write",
                    json!({ "file_path": notes, "content": format!("{what}: {value}\n") }),
                )
            }
            (_, _) if fact.is_some() => say("Noted, thank you."),
            _ => {
                let known = s
                    .results
                    .first()
                    .filter(|r| !r.is_error)
                    .map(|r| r.text.clone());
                match known.and_then(|t| t.lines().find(|l| l.contains(':')).map(str::to_string)) {
                    Some(line) => say(&format!("From my notes: {}", line.trim())),
                    None => say("I don't know."),
                }
            }
        }
    })
}
