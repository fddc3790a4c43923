//! Claude through the Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version`, the tools as ordinary client tools, not streamed.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::http::{Http, client, post_json};
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
                let input = b.get("input").cloned().unwrap_or(Value::Null);
                let invalid = (!input.is_object())
                    .then(|| "the tool input must be a JSON object".to_string());
                blocks.push(Block::ToolUse {
                    id: id.to_string(),
                    name: name.to_string(),
                    input,
                    invalid,
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

impl Protocol for Anthropic {
    fn send(&self, request: &Request<'_>) -> Result<ModelReply, CallError> {
        let v = post_json(
            &self.http,
            &self.url,
            self.headers()?,
            &body(request, &self.sampling),
            self.key.as_ref(),
        )?;
        parse(&v)
    }
}
