//! The fake model servers' streamed answers (test-only): a response the fake would have sent as
//! JSON, sent instead as the protocol's SSE stream, text and tool input cut into small pieces
//! across events, and the bytes themselves cut into small chunks across writes.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};

/// Characters per text or tool-input delta: small, so every input spans several events.
const PIECE: usize = 5;
/// Bytes per write of the stream: small, so events and lines are cut across writes.
const WRITE: usize = 37;

fn pieces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(PIECE).map(|c| c.iter().collect()).collect()
}

fn event(out: &mut String, name: &str, data: Value) {
    out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
}

/// A Messages API message as its stream: `message_start`, each block's start, deltas and stop,
/// `message_delta` with the stop reason and usage, `message_stop`; a `ping` in between.
pub fn anthropic_sse(message: &Value) -> String {
    let mut out = String::new();
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    event(
        &mut out,
        "message_start",
        json!({ "type": "message_start", "message": start }),
    );
    event(&mut out, "ping", json!({ "type": "ping" }));
    for (i, block) in message["content"].as_array().unwrap().iter().enumerate() {
        let (empty, deltas): (Value, Vec<Value>) = match block["type"].as_str().unwrap() {
            "text" => (
                json!({ "type": "text", "text": "" }),
                pieces(block["text"].as_str().unwrap())
                    .into_iter()
                    .map(|p| json!({ "type": "text_delta", "text": p }))
                    .collect(),
            ),
            _ => {
                let mut empty = block.clone();
                empty["input"] = json!({});
                let input = match &block["input"] {
                    // A scripted string is the raw input JSON text, as a model wrote it.
                    Value::String(raw) => raw.clone(),
                    v => v.to_string(),
                };
                let deltas = pieces(&input)
                    .into_iter()
                    .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
                    .collect();
                (empty, deltas)
            }
        };
        event(
            &mut out,
            "content_block_start",
            json!({ "type": "content_block_start", "index": i, "content_block": empty }),
        );
        for d in deltas {
            event(
                &mut out,
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": i, "delta": d }),
            );
        }
        event(
            &mut out,
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": i }),
        );
    }
    event(
        &mut out,
        "message_delta",
        json!({ "type": "message_delta",
                "delta": { "stop_reason": message["stop_reason"], "stop_sequence": null },
                "usage": { "output_tokens": message["usage"]["output_tokens"] } }),
    );
    event(&mut out, "message_stop", json!({ "type": "message_stop" }));
    out
}

fn chunk(out: &mut String, id: &Value, choices: Value, usage: Option<&Value>) {
    let mut c = json!({ "id": id, "object": "chat.completion.chunk", "choices": choices });
    if let Some(u) = usage {
        c["usage"] = u.clone();
    }
    out.push_str(&format!("data: {c}\n\n"));
}

/// A chat completion as its stream: the role, content pieces, each tool call's id and name then
/// its arguments in pieces, the finish reason, a usage chunk with `choices: []`, `[DONE]`.
pub fn openai_sse(completion: &Value) -> String {
    let mut out = String::new();
    let id = &completion["id"];
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let delta = |d: Value| json!([{ "index": 0, "delta": d, "finish_reason": null }]);
    chunk(
        &mut out,
        id,
        delta(json!({ "role": "assistant", "content": "" })),
        None,
    );
    for field in ["content", "refusal"] {
        for p in pieces(message[field].as_str().unwrap_or("")) {
            chunk(&mut out, id, delta(json!({ field: p })), None);
        }
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let head = json!({ "index": i, "id": call["id"], "type": "function",
                           "function": { "name": call["function"]["name"], "arguments": "" } });
        chunk(&mut out, id, delta(json!({ "tool_calls": [head] })), None);
        let arguments = call["function"]["arguments"].as_str().unwrap_or("");
        for p in pieces(arguments) {
            let piece = json!({ "index": i, "function": { "arguments": p } });
            chunk(&mut out, id, delta(json!({ "tool_calls": [piece] })), None);
        }
    }
    chunk(
        &mut out,
        id,
        json!([{ "index": 0, "delta": {}, "finish_reason": choice["finish_reason"] }]),
        None,
    );
    chunk(&mut out, id, json!([]), Some(&completion["usage"]));
    out.push_str("data: [DONE]\n\n");
    out
}

/// `text` as an SSE response, written `WRITE` bytes at a time.
pub fn sse_response(text: String) -> Response {
    let bytes = text.into_bytes();
    let writes: Vec<Result<Bytes, Infallible>> = bytes
        .chunks(WRITE)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures::stream::iter(writes)))
        .unwrap()
}

/// A 200 stream that sends its headers and then nothing, ever.
pub fn stalled_response() -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures::stream::pending::<
            Result<Bytes, Infallible>,
        >()))
        .unwrap()
}
