//! The model's context window, and whether a request fits it. A server that is sent more than
//! its window often does not say so: Ollama drops the oldest messages, and the turn looks
//! normal. So the window is learnt (given with `--agent-context-tokens`, or asked of the server
//! where it says: llama-server's `GET /props`, Ollama's `POST /api/show`) and each request's
//! prompt is estimated before it is sent; one that does not fit is not sent.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::{Block, ClientConfig, ModelUsage, Request, is_host, thousands};

/// Bytes per token the estimate assumes: fewer than tokenizers average on English and JSON
/// (about 4), so the estimate errs high and an overflow is caught rather than missed.
const BYTES_PER_TOKEN: u64 = 3;

/// Ollama's `num_ctx` when a model's parameters set none (its documented default; the server's
/// `OLLAMA_CONTEXT_LENGTH` can change it, which `/api/show` does not report: give
/// `--agent-context-tokens` then).
pub const OLLAMA_DEFAULT_NUM_CTX: u64 = 4096;

/// Bound on asking the server for its window.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a window came from, for the error that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSource {
    /// `--agent-context-tokens`.
    Given,
    /// llama-server's `GET /props` (`default_generation_settings.n_ctx`).
    LlamaServerProps,
    /// Ollama's `POST /api/show` (`num_ctx` among the parameters).
    OllamaNumCtx,
    /// Ollama's `POST /api/show` without a `num_ctx`: its default, capped by the model's own
    /// `context_length`.
    OllamaDefault,
}

impl fmt::Display for WindowSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WindowSource::Given => "--agent-context-tokens",
            WindowSource::LlamaServerProps => "the server's n_ctx (llama-server /props)",
            WindowSource::OllamaNumCtx => "the model's num_ctx (Ollama /api/show)",
            WindowSource::OllamaDefault => "Ollama's default num_ctx (/api/show gives none)",
        })
    }
}

/// A model's context window in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub tokens: u64,
    pub source: WindowSource,
}

/// `n_ctx` from llama-server's `/props` answer.
pub fn window_from_props(props: &Value) -> Option<Window> {
    let n = props
        .get("default_generation_settings")
        .and_then(|s| s.get("n_ctx"))
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)?;
    Some(Window {
        tokens: n,
        source: WindowSource::LlamaServerProps,
    })
}

/// The window Ollama runs a model with, from its `/api/show` answer: `num_ctx` from the
/// `parameters` text when set, else Ollama's default capped by `model_info`'s
/// `<architecture>.context_length`.
pub fn window_from_show(show: &Value) -> Option<Window> {
    let num_ctx = show
        .get("parameters")
        .and_then(Value::as_str)
        .and_then(|p| {
            p.lines().find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("num_ctx"))
                    .then(|| words.next()?.parse::<u64>().ok())
                    .flatten()
            })
        })
        .filter(|n| *n > 0);
    if let Some(n) = num_ctx {
        return Some(Window {
            tokens: n,
            source: WindowSource::OllamaNumCtx,
        });
    }
    let info = show.get("model_info")?;
    let arch = info.get("general.architecture").and_then(Value::as_str);
    let trained = arch
        .and_then(|a| info.get(format!("{a}.context_length")))
        .and_then(Value::as_u64);
    // An answer without model_info is not Ollama's.
    Some(Window {
        tokens: trained.map_or(OLLAMA_DEFAULT_NUM_CTX, |t| t.min(OLLAMA_DEFAULT_NUM_CTX)),
        source: WindowSource::OllamaDefault,
    })
}

/// The server's own root: the base URL without a trailing `/v1`.
fn server_root(config: &ClientConfig) -> String {
    let url = config.effective_base_url();
    url.strip_suffix("/v1").unwrap_or(&url).to_string()
}

/// Asks the server for the window it runs `model` with: llama-server's `/props`, then
/// Ollama's `/api/show`. `None` when neither answers (another server, or the company APIs,
/// which have no such endpoint and are not asked). Answers, and the lack of one, are kept for
/// the process, so each (server, model) is asked once.
pub fn discover(config: &ClientConfig, model: &str) -> Option<Window> {
    let root = server_root(config);
    if is_host(&root, "api.anthropic.com") || is_host(&root, "api.openai.com") {
        return None;
    }
    /// (server root, model) → its window, or `None` when it would not say.
    type Answers = HashMap<(String, String), Option<Window>>;
    static SEEN: OnceLock<Mutex<Answers>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let key = (root.clone(), model.to_string());
    if let Some(w) = seen.lock().ok().and_then(|s| s.get(&key).copied()) {
        return w;
    }
    let window = ask(config, &root, model);
    match window {
        Some(w) => {
            tracing::info!(server = %root, model, tokens = w.tokens, source = %w.source, "model context window")
        }
        None => {
            tracing::info!(server = %root, model, "the server does not say its context window; prompts are not checked against one")
        }
    }
    if let Ok(mut s) = seen.lock() {
        s.insert(key, window);
    }
    window
}

fn ask(config: &ClientConfig, root: &str, model: &str) -> Option<Window> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(ASK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if config.is_local() {
        builder = builder.no_proxy();
    }
    let client = builder.build().ok()?;
    let key = config.key();
    let authorized = |r: reqwest::blocking::RequestBuilder| match &key {
        Some(k) => r.bearer_auth(k.expose()).header("x-api-key", k.expose()),
        None => r,
    };
    let json = |r: reqwest::blocking::RequestBuilder| -> Option<Value> {
        let response = authorized(r).send().ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json::<Value>().ok()
    };
    if let Some(w) = json(client.get(format!("{root}/props"))).and_then(|v| window_from_props(&v)) {
        return Some(w);
    }
    json(
        client
            .post(format!("{root}/api/show"))
            .json(&serde_json::json!({ "model": model })),
    )
    .and_then(|v| window_from_show(&v))
}

/// The bytes of a request that become prompt tokens: the system prompt, every block's text or
/// JSON, and the tool definitions.
pub fn request_bytes(request: &Request<'_>) -> u64 {
    let json_len = |v: &Value| serde_json::to_string(v).map_or(0, |s| s.len());
    let blocks: usize = request
        .messages
        .iter()
        .flat_map(|m| &m.blocks)
        .map(|b| match b {
            Block::Text(t) => t.len(),
            Block::ToolUse {
                id, name, input, ..
            } => id.len() + name.len() + json_len(input),
            Block::ToolResult {
                tool_use_id, text, ..
            } => tool_use_id.len() + text.len(),
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + json_len(&t.input_schema))
        .sum();
    (request.system.len() + blocks + tools) as u64
}

/// The prompt tokens of one model call's usage: input plus cache reads and writes.
pub fn prompt_tokens(usage: &ModelUsage) -> u64 {
    usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
}

/// One turn's check of its requests against a window. After each response, the server's count
/// of that prompt calibrates the next estimate (it is the larger of the byte estimate and that
/// count plus the bytes added since).
#[derive(Debug, Clone)]
pub struct Budget {
    window: Option<Window>,
    /// The previous request's bytes and the prompt tokens the server counted for it.
    last: Option<(u64, u64)>,
}

impl Budget {
    pub fn new(window: Option<Window>) -> Self {
        Budget { window, last: None }
    }

    /// The estimated prompt tokens of `request`.
    pub fn estimate(&self, request: &Request<'_>) -> u64 {
        let bytes = request_bytes(request);
        let by_bytes = bytes.div_ceil(BYTES_PER_TOKEN);
        match self.last {
            Some((before, counted)) => {
                by_bytes.max(counted + bytes.saturating_sub(before).div_ceil(BYTES_PER_TOKEN))
            }
            None => by_bytes,
        }
    }

    /// `Err` (the session's error) when `request` would not fit the window.
    pub fn check(&self, request: &Request<'_>) -> Result<(), String> {
        let Some(window) = self.window else {
            return Ok(());
        };
        let needed = self.estimate(request);
        if needed <= window.tokens {
            return Ok(());
        }
        Err(format!(
            "the conversation does not fit the model's context window: about {} prompt tokens \
             against a window of {} tokens ({}); it was not sent, so the server could not drop \
             its oldest messages unseen (a larger window: --agent-context-tokens, or the \
             server's own setting)",
            thousands(needed),
            thousands(window.tokens),
            window.source
        ))
    }

    /// Records what the server counted for `request`.
    pub fn observe(&mut self, request: &Request<'_>, usage: &ModelUsage) {
        let counted = prompt_tokens(usage);
        if counted > 0 {
            self.last = Some((request_bytes(request), counted));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Role, ToolDef};
    use serde_json::json;

    #[test]
    fn windows_from_llama_server_and_ollama() {
        let props =
            json!({"default_generation_settings": {"n_ctx": 8192, "params": {}}, "total_slots": 1});
        assert_eq!(window_from_props(&props).map(|w| w.tokens), Some(8192));
        assert_eq!(window_from_props(&json!({"n_ctx": 8192})), None);
        let show = json!({
            "parameters": "stop \"<|im_end|>\"\nnum_ctx                        16384",
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}
        });
        assert_eq!(
            window_from_show(&show),
            Some(Window {
                tokens: 16384,
                source: WindowSource::OllamaNumCtx
            })
        );
        let default =
            json!({"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}});
        assert_eq!(
            window_from_show(&default),
            Some(Window {
                tokens: OLLAMA_DEFAULT_NUM_CTX,
                source: WindowSource::OllamaDefault
            })
        );
        let small =
            json!({"model_info": {"general.architecture": "llama", "llama.context_length": 2048}});
        assert_eq!(window_from_show(&small).map(|w| w.tokens), Some(2048));
        assert_eq!(window_from_show(&json!({"error": "model not found"})), None);
    }

    #[test]
    fn a_request_over_the_window_is_refused_naming_both_numbers() {
        let messages = vec![Message {
            role: Role::User,
            blocks: vec![Block::Text("x".repeat(3000))],
        }];
        let tools = vec![ToolDef {
            name: "read".into(),
            description: "Read a file.".into(),
            input_schema: json!({"type": "object"}),
        }];
        let request = Request {
            model: "m",
            system: "You help.",
            messages: &messages,
            tools: &tools,
        };
        let bytes = request_bytes(&request);
        assert_eq!(bytes, 9 + 3000 + 4 + 12 + 17);
        let budget = |tokens| {
            Budget::new(Some(Window {
                tokens,
                source: WindowSource::Given,
            }))
        };
        assert!(budget(1014).check(&request).is_ok());
        let err = budget(1000).check(&request).unwrap_err();
        assert!(
            err.contains("about 1,014 prompt tokens against a window of 1,000 tokens (--agent-context-tokens)"),
            "{err}"
        );
        assert!(Budget::new(None).check(&request).is_ok());
        // The server counted more than the bytes suggest: the next estimate starts from its count.
        let mut b = budget(1100);
        b.observe(
            &request,
            &ModelUsage {
                input_tokens: 1090,
                ..ModelUsage::default()
            },
        );
        let longer = vec![Message {
            role: Role::User,
            blocks: vec![Block::Text("x".repeat(3300))],
        }];
        let next = Request {
            messages: &longer,
            ..request.clone()
        };
        assert_eq!(b.estimate(&next), 1090 + 100);
        assert!(
            b.check(&next)
                .unwrap_err()
                .contains("about 1,190 prompt tokens")
        );
    }
}
