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
