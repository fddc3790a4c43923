//! The one HTTP exchange both protocols use: a JSON POST, its status sorted into retryable or
//! not the way the official client sorts it, and error text with no key in it.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::{ApiKey, CallError, ClientConfig};

/// Error bodies are cut to this many characters in `session.error` messages.
const MAX_ERROR_CHARS: usize = 500;

/// The HTTP client of one model server.
pub struct Http {
    client: Client,
    /// A server on this machine: a request that timed out is not retried (the server is still
    /// busy with it, and a local server usually has one slot).
    local: bool,
    timeout: Duration,
}

/// Builds the client: no redirects (a model API has none, and credentials must not follow
/// one), and no proxy for a server on this machine (proxy variables are for the outside).
pub fn client(config: &ClientConfig) -> Result<Http, CallError> {
    let local = config.is_local();
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if local {
        builder = builder.no_proxy();
    }
    let client = builder
        .build()
        .map_err(|e| CallError::Fatal(format!("could not build the HTTP client: {e}")))?;
    Ok(Http {
        client,
        local,
        timeout: config.request_timeout,
    })
}

/// Removes the key from text a server or library produced.
pub fn scrub(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(k) if !k.expose().is_empty() => text.replace(k.expose(), "[redacted]"),
        _ => text.to_string(),
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    get("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// The error's own message from an Anthropic (`error.message`) or OpenAI (`error.message`)
/// error body, else the body itself.
fn error_text(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let msg = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message").and_then(Value::as_str).or(e.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| body.trim().to_string());
    msg.chars().take(MAX_ERROR_CHARS).collect()
}

/// POSTs `body` to `url`; the answer's JSON on a 2xx.
pub fn post_json(
    http: &Http,
    url: &str,
    headers: HeaderMap,
    body: &Value,
    key: Option<&ApiKey>,
) -> Result<Value, CallError> {
    let response = http.client.post(url).headers(headers).json(body).send();
    let response = match response {
        Ok(r) => r,
        Err(e) if e.is_timeout() && http.local => {
            return Err(CallError::Fatal(format!(
                "the model server did not answer within {} s; not retried, since the local \
                 server is still busy with the request (raise --turn-timeout or use a faster model)",
                http.timeout.as_secs_f64()
            )));
        }
        Err(e) => {
            let builder = e.is_builder();
            let message = scrub(
                &format!("could not reach the model server: {}", e.without_url()),
                key,
            );
            return Err(if builder {
                CallError::Fatal(message)
            } else {
                CallError::Retryable {
                    message,
                    retry_after: None,
                }
            });
        }
    };
    let status = response.status();
    let should_retry = response
        .headers()
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(|v| v == "true");
    let wait = retry_after(response.headers());
    let text = match response.text() {
        Ok(t) => t,
        Err(e) => {
            return Err(CallError::Retryable {
                message: scrub(
                    &format!("the model server's answer broke off: {}", e.without_url()),
                    key,
                ),
                retry_after: None,
            });
        }
    };
    if status.is_success() {
        return serde_json::from_str(&text)
            .map_err(|e| CallError::Fatal(format!("malformed model response (not JSON: {e})")));
    }
    let code = status.as_u16();
    let message = scrub(&format!("HTTP {code}: {}", error_text(&text)), key);
    let retry = should_retry.unwrap_or(matches!(code, 408 | 409 | 429) || status.is_server_error());
    Err(if retry {
        CallError::Retryable {
            message,
            retry_after: wait,
        }
    } else {
        CallError::Fatal(message)
    })
}
