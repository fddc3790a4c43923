//! Any OpenAI-compatible server: `POST {base}/chat/completions` (Ollama, llama.cpp's
//! `llama-server`, vLLM, ...), the key as a Bearer token when one is set, not streamed.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::http::{Http, client, post_json};
use crate::{
    ApiKey, Block, CallError, ClientConfig, Message, ModelReply, ModelUsage, Protocol, Request,
    Role, Sampling, Stop,
};

/// Ollama's.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434/v1";

pub struct OpenAi {
    http: Http,
    url: String,
    key: Option<ApiKey>,
    sampling: Sampling,
    /// OpenAI's own endpoint: the limit goes as `max_completion_tokens`.
    completion_tokens_field: bool,
}

impl OpenAi {
    pub fn new(
        base_url: &str,
        key: Option<ApiKey>,
        config: &ClientConfig,
    ) -> Result<Self, CallError> {
        Ok(Self {
            http: client(config)?,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            key,
            sampling: config.sampling(),
            completion_tokens_field: is_openai_platform(base_url),
        })
    }

    fn headers(&self) -> Result<HeaderMap, CallError> {
        let mut h = HeaderMap::new();
        if let Some(k) = &self.key {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", k.expose()))
                .map_err(|_| CallError::Fatal("the API key is not a valid header value".into()))?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        Ok(h)
    }
}

/// The request body.
/// Whether `base_url` is OpenAI's own API, whose reasoning models reject `max_tokens` (it takes
/// `max_completion_tokens`, which local servers do not all know).
pub fn is_openai_platform(base_url: &str) -> bool {
    crate::is_host(base_url, "api.openai.com")
}

/// The request body; `completion_tokens_field` sends the limit as `max_completion_tokens`.
pub fn body(request: &Request<'_>, sampling: &Sampling, completion_tokens_field: bool) -> Value {
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        messages.push(json!({ "role": "system", "content": request.system }));
    }
    for m in request.messages {
        push_message(&mut messages, m);
    }
    let mut body = json!({
        "model": request.model,
        "messages": messages,
    });
    let limit = match completion_tokens_field {
        true => "max_completion_tokens",
        false => "max_tokens",
    };
    body[limit] = json!(sampling.max_tokens);
    if let Some(t) = sampling.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(seed) = sampling.seed {
        body["seed"] = json!(seed);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({ "type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.input_schema,
                }})
            })
            .collect();
        body["tools"] = json!(tools);
    }
    body
}

fn push_message(out: &mut Vec<Value>, m: &Message) {
    let text: Vec<&str> = m
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) if !t.is_empty() => Some(t.as_str()),
            _ => None,
        })
        .collect();
    match m.role {
        Role::Assistant => {
            let calls: Vec<Value> = m
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::ToolUse {
                        id, name, input, ..
                    } => Some(json!({
                        "id": id, "type": "function",
                        // Arguments the model got wrong go back as `{}` (their error result
                        // says what was wrong): Ollama and vLLM reject a request whose history
                        // holds arguments that are not a JSON object.
                        "function": { "name": name, "arguments": match input {
                            Value::Object(_) => input.to_string(),
                            _ => "{}".to_string(),
                        }},
                    })),
                    _ => None,
                })
                .collect();
            let mut msg = json!({
                "role": "assistant",
                "content": if text.is_empty() { Value::Null } else { json!(text.join("\n\n")) },
            });
            if !calls.is_empty() {
                msg["tool_calls"] = json!(calls);
            }
            out.push(msg);
        }
        Role::User => {
            // Tool results first: they must directly follow the assistant's tool calls.
            for b in &m.blocks {
                if let Block::ToolResult {
                    tool_use_id,
                    text,
                    is_error,
                } = b
                {
                    // The role has no error flag: say it in the text unless the text already does.
                    let content = if *is_error && !text.starts_with("Error") {
                        format!("Error: {text}")
                    } else {
                        text.clone()
                    };
                    out.push(
                        json!({ "role": "tool", "tool_call_id": tool_use_id, "content": content }),
                    );
                }
            }
            if !text.is_empty() {
                out.push(json!({ "role": "user", "content": text.join("\n\n") }));
            }
        }
    }
}

fn malformed(what: &str) -> CallError {
    CallError::Fatal(format!("malformed model response: {what}"))
}

/// Reads a chat completion.
pub fn parse(v: &Value) -> Result<ModelReply, CallError> {
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("no `choices[0]`"))?;
    let msg = choice
        .get("message")
        .ok_or_else(|| malformed("no `choices[0].message`"))?;
    let mut blocks = Vec::new();
    if let Some(t) = msg.get("content").and_then(Value::as_str)
        && !t.is_empty()
    {
        blocks.push(Block::Text(t.to_string()));
    }
    let calls = msg.get("tool_calls").and_then(Value::as_array);
    for (i, c) in calls.into_iter().flatten().enumerate() {
        let f = c.get("function");
        let Some(name) = f.and_then(|f| f.get("name")).and_then(Value::as_str) else {
            return Err(malformed(&format!("tool_calls[{i}] has no function name")));
        };
        // Some local servers leave ids out; the model only needs them consistent.
        let id = c
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("call_{i}"), str::to_string);
        let (input, invalid) = match f.and_then(|f| f.get("arguments")) {
            Some(Value::String(raw)) => match serde_json::from_str::<Value>(raw) {
                Ok(v @ Value::Object(_)) => (v, None),
                Ok(_) => (
                    json!(raw),
                    Some("the arguments must be a JSON object".to_string()),
                ),
                Err(e) => (
                    json!(raw),
                    Some(format!("the arguments are not valid JSON ({e})")),
                ),
            },
            // Ollama's native form sends an object.
            Some(v @ Value::Object(_)) => (v.clone(), None),
            None => (json!({}), None),
            Some(other) => (
                json!(other.to_string()),
                Some("the arguments must be a JSON object".to_string()),
            ),
        };
        blocks.push(Block::ToolUse {
            id,
            name: name.to_string(),
            input,
            invalid,
        });
    }
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    // OpenAI says a refusal in the message (`refusal`), with `finish_reason: stop`.
    let refusal = msg
        .get("refusal")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty());
    if let Some(r) = refusal {
        blocks.insert(0, Block::Text(r.to_string()));
    }
    let stop = match finish {
        _ if refusal.is_some() => Stop::Refusal,
        Some("stop") | None => Stop::EndTurn,
        Some("tool_calls") | Some("function_call") => Stop::ToolUse,
        Some("length") => Stop::MaxTokens,
        Some("content_filter") => Stop::ContentFilter,
        Some(other) => Stop::Other(other.to_string()),
    };
    let no_content = matches!(msg.get("content"), None | Some(Value::Null));
    if no_content && blocks.is_empty() && stop == Stop::EndTurn {
        return Err(malformed(
            "`choices[0].message` has no `content` and no `tool_calls`",
        ));
    }
    let u = v.get("usage");
    let n = |k: &str| {
        u.and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let cached = u
        .and_then(|u| u.get("prompt_tokens_details"))
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(ModelReply {
        blocks,
        stop,
        stop_reason: finish.map(str::to_string),
        usage: ModelUsage {
            input_tokens: n("prompt_tokens").saturating_sub(cached),
            output_tokens: n("completion_tokens"),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
            speed: None,
        },
    })
}

impl Protocol for OpenAi {
    fn send(&self, request: &Request<'_>) -> Result<ModelReply, CallError> {
        let v = post_json(
            &self.http,
            &self.url,
            self.headers()?,
            &body(request, &self.sampling, self.completion_tokens_field),
            self.key.as_ref(),
        )?;
        parse(&v)
    }
}
