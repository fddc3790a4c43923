use std::time::Duration;

use serde_json::json;

use super::*;

fn transcript() -> Vec<Message> {
    vec![
        Message {
            role: Role::User,
            blocks: vec![Block::Text("hi".into())],
        },
        Message {
            role: Role::Assistant,
            blocks: vec![
                Block::Text("Looking.".into()),
                Block::ToolUse {
                    id: "t1".into(),
                    name: "read".into(),
                    input: json!({ "file_path": "/mnt/memory/a/x.md" }),
                    invalid: None,
                },
            ],
        },
        Message {
            role: Role::User,
            blocks: vec![Block::ToolResult {
                tool_use_id: "t1".into(),
                text: "x".into(),
                is_error: true,
            }],
        },
    ]
}

fn sampling(seed: Option<u64>) -> Sampling {
    Sampling {
        max_tokens: 1024,
        temperature: Some(0.0),
        seed,
    }
}

fn request<'a>(messages: &'a [Message], tools: &'a [ToolDef]) -> Request<'a> {
    Request {
        model: "m",
        system: "sys",
        messages,
        tools,
    }
}

#[test]
fn anthropic_body_carries_system_tools_and_tool_blocks() {
    let msgs = transcript();
    let tools = vec![ToolDef {
        name: "bash".into(),
        description: "Run a command".into(),
        input_schema: json!({ "type": "object" }),
    }];
    let b = anthropic::body(&request(&msgs, &tools), &sampling(Some(7)));
    assert_eq!(b["system"], "sys");
    assert_eq!(b["max_tokens"], 1024);
    assert_eq!(b["temperature"], 0.0);
    assert!(b.get("seed").is_none(), "the Messages API has no seed");
    assert_eq!(b["tools"][0]["name"], "bash");
    assert_eq!(b["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        b["messages"][2]["content"][0],
        json!({ "type": "tool_result", "tool_use_id": "t1", "content": "x", "is_error": true })
    );
}

#[test]
fn openai_body_puts_tool_messages_right_after_the_calls() {
    let msgs = transcript();
    let b = openai::body(&request(&msgs, &[]), &sampling(Some(7)), false);
    assert_eq!(
        (&b["max_tokens"], &b["temperature"], &b["seed"]),
        (&json!(1024), &json!(0.0), &json!(7))
    );
    assert!(b.get("max_completion_tokens").is_none());
    let platform = openai::body(&request(&msgs, &[]), &sampling(None), true);
    assert_eq!(platform["max_completion_tokens"], 1024);
    assert!(platform.get("max_tokens").is_none() && platform.get("seed").is_none());
    assert!(openai::is_openai_platform("https://api.openai.com/v1"));
    assert!(!openai::is_openai_platform("http://127.0.0.1:11434/v1"));
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({ "role": "system", "content": "sys" }));
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"file_path\":\"/mnt/memory/a/x.md\"}"
    );
    assert_eq!(
        m[3],
        json!({ "role": "tool", "tool_call_id": "t1", "content": "Error: x" })
    );
    assert!(b.get("tools").is_none());
}

#[test]
fn openai_arguments_that_are_not_json_are_marked_invalid() {
    let r = openai::parse(&json!({
        "choices": [{ "message": { "content": null, "tool_calls": [
            { "id": "c1", "type": "function", "function": { "name": "read", "arguments": "{oops" } },
            { "type": "function", "function": { "name": "glob", "arguments": { "pattern": "*" } } },
        ]}, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": { "cached_tokens": 4 } },
    }))
    .unwrap();
    assert!(
        matches!(&r.blocks[0], Block::ToolUse { invalid: Some(why), .. } if why.contains("not valid JSON"))
    );
    assert!(matches!(&r.blocks[1], Block::ToolUse { id, invalid: None, .. } if id == "call_1"));
    assert_eq!(r.usage.input_tokens, 6);
    assert_eq!(r.usage.cache_read_input_tokens, 4);
    assert!(openai::parse(&json!({ "choices": [] })).is_err());
}

#[test]
fn anthropic_parse_reads_stop_reason_and_usage() {
    let r = anthropic::parse(&json!({
        "content": [{ "type": "thinking", "thinking": "..." }, { "type": "text", "text": "hi" }],
        "stop_reason": "max_tokens",
        "usage": { "input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 1 },
    }))
    .unwrap();
    assert_eq!(r.blocks, vec![Block::Text("hi".into())]);
    assert_eq!(r.stop, Stop::MaxTokens);
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.cache_read_input_tokens
        ),
        (5, 2, 1)
    );
    assert!(anthropic::parse(&json!({ "content": [{ "type": "tool_use" }] })).is_err());
}

#[test]
fn retry_delay_honours_retry_after_up_to_a_minute_then_backs_off() {
    assert_eq!(
        retry_delay(0, Some(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    let long = retry_delay(0, Some(Duration::from_secs(600)));
    assert!(long <= Duration::from_millis(500) && long >= Duration::from_millis(375));
    let late = retry_delay(10, None);
    assert!(late <= Duration::from_secs(8) && late >= Duration::from_secs(6));
}

#[test]
fn backends_parse_and_keys_stay_out_of_debug() {
    assert_eq!("openai".parse::<Backend>(), Ok(Backend::OpenAi));
    assert!("gpt".parse::<Backend>().is_err());
    let c = ClientConfig {
        backend: Backend::OpenAi,
        api_key: Some(ApiKey::new("sk-hidden")),
        ..ClientConfig::default()
    };
    assert!(!format!("{c:?}").contains("sk-hidden"));
    assert_eq!(c.effective_base_url(), "http://127.0.0.1:11434/v1");
    assert_eq!(
        ClientConfig::default().effective_base_url(),
        "https://api.anthropic.com"
    );
}

#[test]
fn stop_reasons_of_both_protocols_are_told_apart() {
    let anthropic_stop = |reason: &str| {
        anthropic::parse(
            &json!({ "content": [], "stop_reason": reason, "usage": { "output_tokens": 4096 } }),
        )
        .unwrap()
    };
    assert_eq!(anthropic_stop("refusal").stop, Stop::Refusal);
    assert_eq!(
        anthropic_stop("model_context_window_exceeded").stop,
        Stop::ContextWindowExceeded
    );
    assert_eq!(
        anthropic_stop("pause_turn").stop,
        Stop::Other("pause_turn".into())
    );
    let cut = anthropic_stop("max_tokens").unusable().unwrap();
    assert!(
        cut.starts_with("the model stopped at max_tokens (4,096 output tokens)"),
        "{cut}"
    );
    assert_eq!(anthropic_stop("end_turn").unusable(), None);
    assert_eq!(anthropic_stop("refusal").unusable(), None);

    let openai_stop = |finish: &str, message: Value| {
        openai::parse(&json!({ "choices": [{ "message": message, "finish_reason": finish }] }))
            .unwrap()
    };
    let text = json!({ "content": "x" });
    assert_eq!(
        openai_stop("content_filter", text.clone()).stop,
        Stop::ContentFilter
    );
    assert_eq!(openai_stop("length", text.clone()).stop, Stop::MaxTokens);
    assert_eq!(openai_stop("eos", text).stop, Stop::Other("eos".into()));
    let refused = openai_stop("stop", json!({ "content": null, "refusal": "I can't." }));
    assert_eq!(refused.stop, Stop::Refusal);
    assert_eq!(refused.text(), ["I can't."]);
    // No content and no calls is not a reply.
    assert!(
        openai::parse(&json!({ "choices": [{ "message": {}, "finish_reason": "stop" }] })).is_err()
    );
}

#[test]
fn thousands_separates_groups_of_three() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(4096), "4,096");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn a_backends_key_goes_only_to_its_company_unless_named() {
    let at = |backend, url: &str, env: Option<&str>| ClientConfig {
        backend,
        base_url: Some(url.into()),
        api_key_env: env.map(str::to_string),
        ..ClientConfig::default()
    };
    let var = |c: ClientConfig| c.key_variable();
    assert_eq!(
        var(at(Backend::OpenAi, "https://api.openai.com/v1", None)),
        Some("OPENAI_API_KEY".into())
    );
    assert_eq!(
        var(at(Backend::OpenAi, "http://127.0.0.1:11434/v1", None)),
        None
    );
    assert_eq!(
        var(at(
            Backend::OpenAi,
            "https://api.openai.com.evil.example/v1",
            None
        )),
        None
    );
    assert_eq!(
        var(at(Backend::Anthropic, "https://api.anthropic.com", None)),
        Some("ANTHROPIC_API_KEY".into())
    );
    assert_eq!(
        var(at(Backend::Anthropic, "http://127.0.0.1:8080", None)),
        None
    );
    assert_eq!(
        var(at(
            Backend::OpenAi,
            "http://127.0.0.1:8080/v1",
            Some("LOCAL_KEY")
        )),
        Some("LOCAL_KEY".into())
    );
    assert!(is_loopback("http://127.0.0.1:8080/v1") && is_loopback("http://localhost:1/"));
    assert!(is_loopback("http://[::1]:8080/") && !is_loopback("https://api.openai.com/v1"));
}

/// Feeds `sse` to `assembler` one byte at a time, as the slowest network would deliver it.
fn assemble(assembler: &mut dyn Assembler, sse: &str) -> Result<ModelReply, CallError> {
    let mut decoder = cma_types::sse::SseDecoder::new();
    let mut frames = Vec::new();
    for b in sse.as_bytes() {
        decoder.feed(std::slice::from_ref(b));
        while let Some(f) = decoder.next_frame() {
            frames.push(f);
        }
    }
    while let Some(f) = decoder.finish() {
        frames.push(f);
    }
    for f in frames {
        assembler.frame(f.event.as_deref(), &f.data)?;
    }
    assert!(assembler.done(), "the stream's last event was not seen");
    assembler.reply()
}

#[test]
fn a_messages_stream_is_put_back_together_with_split_tool_input() {
    let ev = |name: &str, data: Value| format!("event: {name}\r\ndata: {data}\r\n\r\n");
    let sse = [
        ev("message_start", json!({ "type": "message_start", "message": { "id": "m", "content": [], "stop_reason": null, "usage": { "input_tokens": 12, "output_tokens": 1 } } })),
        ev("content_block_start", json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "thinking", "thinking": "" } })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "thinking_delta", "thinking": "hm" } })),
        ev("content_block_start", json!({ "type": "content_block_start", "index": 1, "content_block": { "type": "text", "text": "" } })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "text_delta", "text": "Größe " } })),
        ev("ping", json!({ "type": "ping" })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "text_delta", "text": "M 🧥" } })),
        ev("content_block_start", json!({ "type": "content_block_start", "index": 2, "content_block": { "type": "tool_use", "id": "t1", "name": "read", "input": {} } })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 2, "delta": { "type": "input_json_delta", "partial_json": "{\"file_pa" } })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 2, "delta": { "type": "input_json_delta", "partial_json": "th\": \"/mnt/x\"}" } })),
        ev("content_block_stop", json!({ "type": "content_block_stop", "index": 2 })),
        ev("content_block_start", json!({ "type": "content_block_start", "index": 3, "content_block": { "type": "tool_use", "id": "t2", "name": "glob", "input": {} } })),
        ev("content_block_delta", json!({ "type": "content_block_delta", "index": 3, "delta": { "type": "input_json_delta", "partial_json": "{oops" } })),
        ev("message_delta", json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use" }, "usage": { "output_tokens": 42 } })),
        ev("message_stop", json!({ "type": "message_stop" })),
    ]
    .concat();
    let r = assemble(&mut anthropic::MessageStream::new(), &sse).unwrap();
    assert_eq!(r.stop, Stop::ToolUse);
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (12, 42));
    assert_eq!(r.blocks[0], Block::Text("Größe M 🧥".into()));
    assert_eq!(
        r.blocks[1],
        Block::ToolUse {
            id: "t1".into(),
            name: "read".into(),
            input: json!({ "file_path": "/mnt/x" }),
            invalid: None,
        }
    );
    // Input that is not JSON stays a slip the model is told about, as chat completions' is.
    assert!(
        matches!(&r.blocks[2], Block::ToolUse { input, invalid: Some(why), .. }
            if input == "{oops" && why.contains("not valid JSON"))
    );
    let err = anthropic::MessageStream::new()
        .frame(
            Some("error"),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap_err();
    assert!(matches!(err, CallError::Retryable { .. }), "{err:?}");
}

#[test]
fn a_chat_completions_stream_is_put_back_together_with_calls_by_index() {
    let chunk = |v: Value| format!("data: {v}\n\n");
    let call = |i: u64, head: bool, args: &str| {
        let mut c = json!({ "index": i, "function": { "arguments": args } });
        if head {
            c["id"] = json!(format!("call_{i}"));
            c["function"]["name"] = json!(if i == 0 { "read" } else { "glob" });
        }
        chunk(
            json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [c] }, "finish_reason": null }] }),
        )
    };
    let sse = [
        chunk(json!({ "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" } }] })),
        chunk(json!({ "choices": [{ "index": 0, "delta": { "content": "Look" } }] })),
        chunk(json!({ "choices": [{ "index": 0, "delta": { "content": "ing." } }] })),
        call(0, true, ""),
        call(1, true, "{\"pattern\""),
        call(0, false, "{\"file_path\": "),
        call(1, false, ": \"*\"}"),
        call(0, false, "\"/mnt/x\"}"),
        chunk(json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }] })),
        chunk(json!({ "choices": [], "usage": { "prompt_tokens": 30, "completion_tokens": 9, "prompt_tokens_details": { "cached_tokens": 10 } } })),
        "data: [DONE]\n\n".into(),
    ]
    .concat();
    let r = assemble(&mut openai::CompletionStream::new(), &sse).unwrap();
    assert_eq!(r.stop, Stop::ToolUse);
    assert_eq!(r.blocks[0], Block::Text("Looking.".into()));
    assert!(
        matches!(&r.blocks[1], Block::ToolUse { id, name, input, invalid: None }
            if id == "call_0" && name == "read" && *input == json!({ "file_path": "/mnt/x" }))
    );
    assert!(matches!(&r.blocks[2], Block::ToolUse { id, input, .. }
            if id == "call_1" && *input == json!({ "pattern": "*" })));
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.cache_read_input_tokens,
            r.usage.output_tokens
        ),
        (20, 10, 9)
    );
    // A server's error chunk ends the call, naming its message.
    let err = openai::CompletionStream::new()
        .frame(None, r#"{"error":{"message":"context full"}}"#)
        .unwrap_err();
    assert!(err.to_string().contains("context full"), "{err}");
}

#[test]
fn json_that_is_not_an_object_as_tool_input_breaks_the_response() {
    let openai_args = |args: &str| {
        openai::parse(&json!({ "choices": [{ "message": { "tool_calls": [
            { "id": "c", "function": { "name": "read", "arguments": args } }
        ]}, "finish_reason": "tool_calls" }] }))
    };
    let err = openai_args(r#""{\"file_path\": \"/x\"}""#).unwrap_err();
    assert!(
        err.to_string()
            .contains("arguments of tool call `read` is a JSON string inside a string"),
        "{err}"
    );
    assert!(
        openai_args("[1]")
            .unwrap_err()
            .to_string()
            .contains("an array")
    );
    let err = anthropic::parse(&json!({ "content": [
        { "type": "tool_use", "id": "t", "name": "read", "input": "{\"file_path\": 1}" }
    ], "stop_reason": "tool_use" }))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("input of tool call `read` is a JSON string"),
        "{err}"
    );
}

#[test]
fn a_call_of_a_tool_never_offered_is_named() {
    let reply = anthropic::parse(&json!({ "content": [
        { "type": "tool_use", "id": "a", "name": "read", "input": {} },
        { "type": "tool_use", "id": "b", "name": "teleport", "input": {} },
        { "type": "tool_use", "id": "c", "name": "web_fetch", "input": {} },
    ], "stop_reason": "tool_use" }))
    .unwrap();
    let offered = [ToolDef {
        name: "read".into(),
        description: String::new(),
        input_schema: json!({}),
    }];
    let why = reply.unknown_tool(&offered, &["web_fetch"]).unwrap();
    assert!(why.contains("not given (\"teleport\")"), "{why}");
    let known = ["read", "teleport", "web_fetch"].map(|n| ToolDef {
        name: n.into(),
        description: String::new(),
        input_schema: json!({}),
    });
    assert_eq!(reply.unknown_tool(&known, &[]), None);
}

#[test]
fn tokens_per_second_count_only_the_time_after_the_first_token() {
    let timing = RequestTiming {
        first_token: Some(Duration::from_millis(500)),
        total: Duration::from_millis(2500),
        output_tokens: 40,
    };
    assert_eq!(timing.first_token_ms(), Some(500.0));
    assert_eq!(timing.output_tokens_per_second(), Some(20.0));
    let unstreamed = RequestTiming {
        first_token: None,
        ..timing
    };
    assert_eq!(unstreamed.output_tokens_per_second(), None);
    let uncounted = RequestTiming {
        output_tokens: 0,
        ..timing
    };
    assert_eq!(uncounted.output_tokens_per_second(), None);
}
