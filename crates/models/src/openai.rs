//! Any OpenAI-compatible server: `POST {base}/chat/completions` (Ollama, llama.cpp's
//! `llama-server`, vLLM, ...), the key as a Bearer token when one is set, streamed (`data:`
//! chunks of deltas, usage in the last, then `data: [DONE]`) and put back together by
//! [`CompletionStream`].

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::http::{Http, client, post};
use crate::stream::{Assembler, Delta, frame_json};
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
        "stream": true,
        // The token counts come in a last chunk only when asked for.
        "stream_options": { "include_usage": true },
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
                // JSON that is not an object (a JSON string inside the string above all) is a
                // server breaking the protocol, not a slip the model can correct.
                Ok(other) => return Err(malformed(&crate::not_an_object(name, &other, true))),
                Err(e) => (
                    json!(raw),
                    Some(format!("the arguments are not valid JSON ({e})")),
                ),
            },
            // Ollama's native form sends an object.
            Some(v @ Value::Object(_)) => (v.clone(), None),
            None => (json!({}), None),
            Some(other) => return Err(malformed(&crate::not_an_object(name, other, false))),
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

/// A chat-completions stream put back together as the completion the endpoint would have
/// answered (the first choice's deltas; tool calls by their `index`).
#[derive(Debug, Default)]
pub struct CompletionStream {
    /// A chunk with `choices` arrived (a stream of none is a completion with `choices: []`).
    any_choice: bool,
    content: Option<String>,
    refusal: Option<String>,
    /// By `index`: id, name, and the arguments as they came (a string in pieces; an object
    /// from servers that send one whole).
    calls: Vec<(u64, Value, Value, Value)>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    done: bool,
}

impl CompletionStream {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Appends a string piece to `slot`.
fn append(slot: &mut Option<String>, piece: &str) {
    slot.get_or_insert_default().push_str(piece);
}

impl Assembler for CompletionStream {
    fn frame(&mut self, event: Option<&str>, data: &str) -> Result<Delta, CallError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(Delta::Other);
        }
        let v = frame_json(event, data)?;
        if let Some(e) = v.get("error") {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| e.to_string(), str::to_string);
            return Err(CallError::Fatal(format!(
                "the model server sent an error mid-stream: {message}"
            )));
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Ok(Delta::Other);
        };
        self.any_choice = true;
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(Delta::Other);
        };
        let mut output = false;
        let text = |k: &str| {
            delta
                .get(k)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
        };
        if let Some(t) = text("content") {
            append(&mut self.content, t);
            output = true;
        }
        if let Some(t) = text("refusal") {
            append(&mut self.refusal, t);
            output = true;
        }
        for (position, c) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            // Servers that send each call whole leave `index` out.
            let index = c
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let at = match self.calls.iter().position(|(i, ..)| *i == index) {
                Some(at) => at,
                None => {
                    self.calls
                        .push((index, Value::Null, Value::Null, Value::Null));
                    self.calls.len() - 1
                }
            };
            let (_, id, name, arguments) = &mut self.calls[at];
            if let Some(v) = c
                .get("id")
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                *id = v.clone();
            }
            let f = c.get("function");
            if let Some(n) = f.and_then(|f| f.get("name")).and_then(Value::as_str) {
                *name = json!(format!("{}{n}", name.as_str().unwrap_or("")));
            }
            match f.and_then(|f| f.get("arguments")) {
                Some(Value::String(piece)) if !piece.is_empty() => {
                    *arguments = json!(format!("{}{piece}", arguments.as_str().unwrap_or("")));
                    output = true;
                }
                Some(v @ Value::Object(_)) => {
                    *arguments = v.clone();
                    output = true;
                }
                _ => {}
            }
        }
        Ok(if output { Delta::Output } else { Delta::Other })
    }

    fn done(&self) -> bool {
        self.done
    }

    fn stopped(&self) -> bool {
        self.finish_reason.is_some()
    }

    fn reply(&mut self) -> Result<ModelReply, CallError> {
        let mut message = json!({ "role": "assistant", "content": self.content });
        if let Some(r) = &self.refusal {
            message["refusal"] = json!(r);
        }
        if !self.calls.is_empty() {
            self.calls.sort_by_key(|(i, ..)| *i);
            let calls: Vec<Value> = self
                .calls
                .iter()
                .map(|(_, id, name, arguments)| {
                    let mut function = json!({ "name": name });
                    if !arguments.is_null() {
                        function["arguments"] = arguments.clone();
                    }
                    json!({ "id": id, "type": "function", "function": function })
                })
                .collect();
            message["tool_calls"] = json!(calls);
        }
        let choices = match self.any_choice {
            true => {
                json!([{ "index": 0, "message": message, "finish_reason": self.finish_reason }])
            }
            false => json!([]),
        };
        let mut completion = json!({ "object": "chat.completion", "choices": choices });
        if let Some(u) = &self.usage {
            completion["usage"] = u.clone();
        }
        parse(&completion)
    }
}

impl Protocol for OpenAi {
    fn send(&self, request: &Request<'_>) -> Result<ModelReply, CallError> {
        post(
            &self.http,
            &self.url,
            self.headers()?,
            &body(request, &self.sampling, self.completion_tokens_field),
            self.key.as_ref(),
            &mut CompletionStream::new(),
            parse,
        )
    }
}
