//! Claude through the Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version`, the tools as ordinary client tools, streamed (`message_start`,
//! `content_block_*`, `message_delta`, `message_stop`) and put back together by
//! [`MessageStream`].

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::http::{Http, client, post};
use crate::stream::{Assembler, Delta, frame_json};
use crate::{
    ApiKey, Block, CallError, ClientConfig, Message, ModelReply, ModelUsage, Protocol, Request,
    Role, Sampling, Stop,
};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    http: Http,
    url: String,
    key: Option<ApiKey>,
    sampling: Sampling,
}

impl Anthropic {
    pub fn new(
        base_url: &str,
        key: Option<ApiKey>,
        config: &ClientConfig,
    ) -> Result<Self, CallError> {
        Ok(Self {
            http: client(config)?,
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            key,
            sampling: config.sampling(),
        })
    }

    fn headers(&self) -> Result<HeaderMap, CallError> {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(k) = &self.key {
            let mut v = HeaderValue::from_str(k.expose())
                .map_err(|_| CallError::Fatal("the API key is not a valid header value".into()))?;
            v.set_sensitive(true);
            h.insert(HeaderName::from_static("x-api-key"), v);
        }
        Ok(h)
    }
}

/// The request body.
pub fn body(request: &Request<'_>, sampling: &Sampling) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": sampling.max_tokens,
        "messages": messages,
        "stream": true,
    });
    // The Messages API has no seed.
    if let Some(t) = sampling.temperature {
        body["temperature"] = json!(t);
    }
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    if !request.tools.is_empty() {
        body["tools"] = json!(request.tools);
    }
    body
}

fn message(m: &Message) -> Value {
    let content: Vec<Value> = m
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) if t.is_empty() => None,
            Block::Text(t) => Some(json!({ "type": "text", "text": t })),
            Block::ToolUse {
                id, name, input, ..
            } => Some(json!({
                "type": "tool_use", "id": id, "name": name,
                // An input the model got wrong is sent back as an empty object; its error result
                // says what was wrong.
                "input": if input.is_object() { input.clone() } else { json!({}) },
            })),
            Block::ToolResult {
                tool_use_id,
                text,
                is_error,
            } => Some(json!({
                "type": "tool_result", "tool_use_id": tool_use_id,
                "content": if text.is_empty() { "(no output)" } else { text.as_str() },
                "is_error": is_error,
            })),
        })
        .collect();
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    json!({ "role": role, "content": content })
}

fn malformed(what: &str) -> CallError {
    CallError::Fatal(format!("malformed model response: {what}"))
}

/// Reads a Messages API response.
pub fn parse(v: &Value) -> Result<ModelReply, CallError> {
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `content` array"))?;
    let mut blocks = Vec::new();
    for (i, b) in content.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => blocks.push(Block::Text(
                b.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )),
            Some("tool_use") => {
                let id = b.get("id").and_then(Value::as_str);
                let name = b.get("name").and_then(Value::as_str);
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(malformed(&format!(
                        "content[{i}] is a tool_use without id or name"
                    )));
                };
                let input = match b.get("input") {
                    Some(v @ Value::Object(_)) => v.clone(),
                    None => json!({}),
                    // A server that sends something else, a JSON string above all, has broken
                    // the protocol: nothing of such a response may run.
                    Some(other) => {
                        return Err(malformed(&crate::not_an_object(name, other, false)));
                    }
                };
                blocks.push(Block::ToolUse {
                    id: id.to_string(),
                    name: name.to_string(),
                    input,
                    invalid: None,
                });
            }
            // Thinking and other blocks are not replayed.
            _ => {}
        }
    }
    let stop_reason = v.get("stop_reason").and_then(Value::as_str);
    let stop = match stop_reason {
        Some("end_turn") | Some("stop_sequence") | None => Stop::EndTurn,
        Some("tool_use") => Stop::ToolUse,
        Some("max_tokens") => Stop::MaxTokens,
        Some("refusal") => Stop::Refusal,
        Some("model_context_window_exceeded") => Stop::ContextWindowExceeded,
        Some(other) => Stop::Other(other.to_string()),
    };
    let u = v.get("usage");
    let n = |k: &str| {
        u.and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok(ModelReply {
        blocks,
        stop,
        stop_reason: stop_reason.map(str::to_string),
        usage: ModelUsage {
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cache_creation_input_tokens: n("cache_creation_input_tokens"),
            cache_read_input_tokens: n("cache_read_input_tokens"),
            speed: None,
        },
    })
}

/// A Messages API stream put back together as the message the endpoint would have answered.
#[derive(Debug, Default)]
pub struct MessageStream {
    /// `message_start`'s message, its `stop_reason` and `usage` updated by `message_delta`.
    message: Value,
    /// Content blocks by stream index, with a tool use's input JSON as it came in pieces.
    blocks: Vec<(u64, Value, String)>,
    stopped: bool,
    done: bool,
}

impl MessageStream {
    pub fn new() -> Self {
        Self::default()
    }

    fn block(&mut self, v: &Value) -> Result<&mut (u64, Value, String), CallError> {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        self.blocks
            .iter_mut()
            .find(|(i, _, _)| *i == index)
            .ok_or_else(|| malformed(&format!("a delta for content block {index}, never started")))
    }
}

impl Assembler for MessageStream {
    fn frame(&mut self, event: Option<&str>, data: &str) -> Result<Delta, CallError> {
        let v = frame_json(event, data)?;
        match v.get("type").and_then(Value::as_str).or(event) {
            Some("message_start") => {
                self.message = v.get("message").cloned().unwrap_or_else(|| json!({}));
                Ok(Delta::Other)
            }
            Some("content_block_start") => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = v.get("content_block").cloned().unwrap_or(Value::Null);
                self.blocks.push((index, block, String::new()));
                Ok(Delta::Other)
            }
            Some("content_block_delta") => {
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                let (_, block, input) = self.block(&v)?;
                let piece = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or("");
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                        block["text"] = json!(format!("{text}{}", piece("text")));
                        Ok(Delta::Output)
                    }
                    Some("input_json_delta") => {
                        input.push_str(piece("partial_json"));
                        Ok(Delta::Output)
                    }
                    // Thinking, signatures and citations are not replayed.
                    _ => Ok(Delta::Other),
                }
            }
            Some("message_delta") => {
                if let Some(reason) = v.pointer("/delta/stop_reason").filter(|r| !r.is_null()) {
                    self.message["stop_reason"] = reason.clone();
                    self.stopped = true;
                }
                // `message_delta`'s usage is cumulative: its counts replace `message_start`'s.
                if let Some(Value::Object(usage)) = v.get("usage") {
                    for (k, n) in usage {
                        self.message["usage"][k] = n.clone();
                    }
                }
                Ok(Delta::Other)
            }
            Some("message_stop") => {
                self.done = true;
                Ok(Delta::Other)
            }
            Some("error") => Err(stream_error(&v)),
            // `ping`, `content_block_stop` and event types added later carry nothing to keep.
            _ => Ok(Delta::Other),
        }
    }

    fn done(&self) -> bool {
        self.done
    }

    fn stopped(&self) -> bool {
        self.stopped
    }

    fn reply(&mut self) -> Result<ModelReply, CallError> {
        if !self.message.is_object() {
            return Err(malformed("the stream has no `message_start`"));
        }
        self.blocks.sort_by_key(|(i, _, _)| *i);
        // Input that is not JSON is answered with an error result (the model can correct
        // itself), as chat completions' arguments are: the block goes to the parser as `{}`.
        let mut broken = Vec::new();
        let mut content = Vec::new();
        for (_, block, input) in &self.blocks {
            let mut block = block.clone();
            if block.get("type").and_then(Value::as_str) == Some("tool_use") && !input.is_empty() {
                match serde_json::from_str::<Value>(input) {
                    Ok(v) => block["input"] = v,
                    Err(e) => {
                        block["input"] = json!({});
                        let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                        broken.push((id.to_string(), input.clone(), e.to_string()));
                    }
                }
            }
            content.push(block);
        }
        self.message["content"] = json!(content);
        let mut reply = parse(&self.message)?;
        for b in &mut reply.blocks {
            if let Block::ToolUse {
                id, input, invalid, ..
            } = b
                && let Some((_, raw, e)) = broken.iter().find(|(bid, _, _)| bid == id)
            {
                *input = json!(raw);
                *invalid = Some(format!("the tool input is not valid JSON ({e})"));
            }
        }
        Ok(reply)
    }
}

/// An `error` event: an overloaded or failing server is worth another attempt, as its HTTP
/// status would have been.
fn stream_error(v: &Value) -> CallError {
    let kind = v
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = format!("the model server sent an error mid-stream: {kind}: {message}");
    match kind {
        "overloaded_error" | "api_error" | "rate_limit_error" => CallError::Retryable {
            message,
            retry_after: None,
        },
        _ => CallError::Fatal(message),
    }
}

impl Protocol for Anthropic {
    fn send(&self, request: &Request<'_>) -> Result<ModelReply, CallError> {
        post(
            &self.http,
            &self.url,
            self.headers()?,
            &body(request, &self.sampling),
            self.key.as_ref(),
            &mut MessageStream::new(),
            parse,
        )
    }
}
