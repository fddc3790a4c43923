//! The one HTTP exchange both protocols use: a JSON POST asking for a stream, its status sorted
//! into retryable or not the way the official client sorts it, the answer read as it arrives
//! (an SSE stream, or the JSON a server that does not stream sends instead) with no more than
//! the stall timeout between bytes, and error text with no key in it.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::Value;

use crate::stream::{Assembler, Delta, RequestTiming, TimingLog, excerpt};
use crate::{ApiKey, CallError, ClientConfig, ModelReply};

/// Error bodies are cut to this many characters in `session.error` messages.
const MAX_ERROR_CHARS: usize = 500;

/// The HTTP client of one model server.
pub struct Http {
    client: Client,
    /// A server on this machine: a request that timed out is not retried (the server is still
    /// busy with it, and a local server usually has one slot).
    local: bool,
    /// Bound on each model request, from the send to the response's end.
    request_timeout: Duration,
    /// The longest wait for the next byte (`--agent-stall-timeout`).
    stall_timeout: Duration,
    timings: Option<TimingLog>,
}

/// Builds the client: no redirects (a model API has none, and credentials must not follow
/// one), and no proxy for a server on this machine (proxy variables are for the outside).
pub fn client(config: &ClientConfig) -> Result<Http, CallError> {
    let local = config.is_local();
    // The blocking client's timeout bounds the wait for the headers and then each read on its
    // own: the stall timeout exactly. The request's whole bound is kept by [`post`] itself.
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(config.stall_timeout.min(config.request_timeout))
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
        request_timeout: config.request_timeout,
        stall_timeout: config.stall_timeout,
        timings: config.timings.clone(),
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

/// POSTs `body` (which asks for a stream) to `url` and reads the answer: an SSE stream is put
/// together by `assembler`, any other 2xx body is taken as the JSON of a response that was not
/// streamed; both are read by `parse`. The request's timing goes on the current span and to the
/// client's timing log.
pub fn post(
    http: &Http,
    url: &str,
    headers: HeaderMap,
    body: &Value,
    key: Option<&ApiKey>,
    assembler: &mut dyn Assembler,
    parse: fn(&Value) -> Result<ModelReply, CallError>,
) -> Result<ModelReply, CallError> {
    let span = tracing::info_span!(
        "model_request",
        ttft_ms = tracing::field::Empty,
        output_tokens = tracing::field::Empty,
        output_tokens_per_s = tracing::field::Empty,
        total_ms = tracing::field::Empty,
    );
    let _in_span = span.enter();
    let started = Instant::now();
    let mut response = match http.client.post(url).headers(headers).json(body).send() {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Err(timed_out(http, started)),
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
    if !status.is_success() {
        return Err(status_error(http, started, response, key));
    }
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
    let (reply, first_token) = if streamed {
        read_stream(http, started, &mut response, key, assembler)?
    } else {
        (read_json(http, started, response, key, parse)?, None)
    };
    let reply = match reply {
        Some(r) => r,
        None => assembler.reply()?,
    };
    let timing = RequestTiming {
        first_token,
        total: started.elapsed(),
        output_tokens: reply.usage.output_tokens,
    };
    timing.record_on_current_span();
    tracing::debug!(
        ttft_ms = timing.first_token_ms(),
        output_tokens_per_s = timing.output_tokens_per_second(),
        "model request done"
    );
    if let Some(log) = &http.timings {
        log.record(timing);
    }
    Ok(reply)
}

/// Reads an SSE answer into `assembler` until its last event; the time to the first output.
/// `Ok((None, _))`: the assembler holds the whole response.
fn read_stream(
    http: &Http,
    started: Instant,
    response: &mut Response,
    key: Option<&ApiKey>,
    assembler: &mut dyn Assembler,
) -> Result<(Option<ModelReply>, Option<Duration>), CallError> {
    let mut decoder = cma_types::sse::SseDecoder::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut first_token = None;
    loop {
        let n = read_some(http, started, response, &mut chunk, key)?;
        if n == 0 {
            break;
        }
        decoder.feed(&chunk[..n]);
        while let Some(frame) = decoder.next_frame() {
            on_frame(assembler, started, frame, &mut first_token)?;
        }
        if assembler.done() {
            return Ok((None, first_token));
        }
    }
    // The connection closed: a frame left open by the last bytes is the stream cut mid-event
    // when it does not parse, and the assembler says so.
    let mut cut = false;
    while let Some(frame) = decoder.finish() {
        cut = true;
        if let Err(e) = on_frame(assembler, started, frame, &mut first_token) {
            return Err(CallError::Fatal(format!(
                "malformed model response: the stream was cut mid-event ({e})"
            )));
        }
    }
    if assembler.done() || (assembler.stopped() && !cut) {
        return Ok((None, first_token));
    }
    Err(CallError::Fatal(format!(
        "malformed model response: the stream ended after {} ms before its last event (no stop          reason{}); the connection was closed mid-response",
        started.elapsed().as_millis(),
        if cut { ", cut mid-event" } else { "" }
    )))
}

/// Hands one frame to `assembler`, noting when the first output came.
fn on_frame(
    assembler: &mut dyn Assembler,
    started: Instant,
    frame: cma_types::sse::SseFrame,
    first_token: &mut Option<Duration>,
) -> Result<(), CallError> {
    // Comment-only and empty frames carry nothing (keep-alives).
    if frame.data.is_empty() {
        return Ok(());
    }
    if assembler.frame(frame.event.as_deref(), &frame.data)? == Delta::Output
        && first_token.is_none()
    {
        *first_token = Some(started.elapsed());
    }
    Ok(())
}

/// Reads a body that is not a stream (at most the stall timeout between bytes) and parses it.
fn read_json(
    http: &Http,
    started: Instant,
    mut response: Response,
    key: Option<&ApiKey>,
    parse: fn(&Value) -> Result<ModelReply, CallError>,
) -> Result<Option<ModelReply>, CallError> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = read_all(http, started, &mut response, key)?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim().is_empty() {
        return Err(CallError::Fatal(
            "malformed model response: the body is empty".into(),
        ));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        let html = content_type.contains("html") || text.trim_start().starts_with('<');
        CallError::Fatal(if html {
            format!(
                "malformed model response: the server answered HTML, not JSON: {}",
                excerpt(&text)
            )
        } else {
            format!("malformed model response (not JSON: {e})")
        })
    })?;
    parse(&value).map(Some)
}

/// The whole body.
fn read_all(
    http: &Http,
    started: Instant,
    response: &mut Response,
    key: Option<&ApiKey>,
) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = read_some(http, started, response, &mut chunk, key)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// One read of the body: waits at most the stall timeout, and not past the request's bound.
fn read_some(
    http: &Http,
    started: Instant,
    response: &mut Response,
    chunk: &mut [u8],
    key: Option<&ApiKey>,
) -> Result<usize, CallError> {
    if started.elapsed() > http.request_timeout {
        return Err(request_timed_out(http));
    }
    match response.read(chunk) {
        Ok(n) => Ok(n),
        Err(e) if is_timeout(&e) => Err(timed_out(http, started)),
        Err(e) => Err(CallError::Retryable {
            message: scrub(&format!("the model server's answer broke off: {e}"), key),
            retry_after: None,
        }),
    }
}

/// A read that hit the client's timeout (reqwest's, wrapped in an `io::Error`).
fn is_timeout(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}

/// The client's timeout fired: the stall timeout, unless the request's own bound is shorter.
fn timed_out(http: &Http, started: Instant) -> CallError {
    if http.request_timeout < http.stall_timeout || started.elapsed() > http.request_timeout {
        return request_timed_out(http);
    }
    let message = format!(
        "the model server sent nothing for {} s (--agent-stall-timeout)",
        http.stall_timeout.as_secs_f64()
    );
    not_retried_when_local(http, message)
}

fn request_timed_out(http: &Http) -> CallError {
    let message = format!(
        "the model server did not answer within {} s",
        http.request_timeout.as_secs_f64()
    );
    not_retried_when_local(http, message)
}

/// A server on this machine that timed out is still busy with the request (a local server
/// usually has one slot): another attempt would only queue behind it.
fn not_retried_when_local(http: &Http, message: String) -> CallError {
    if http.local {
        CallError::Fatal(format!(
            "{message}; not retried, since the local server is still busy with the request \
             (raise --turn-timeout or --agent-stall-timeout, or use a faster model)"
        ))
    } else {
        CallError::Retryable {
            message,
            retry_after: None,
        }
    }
}

/// A non-2xx answer as the official client sorts it.
fn status_error(
    http: &Http,
    started: Instant,
    mut response: Response,
    key: Option<&ApiKey>,
) -> CallError {
    let status = response.status();
    let should_retry = response
        .headers()
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(|v| v == "true");
    let wait = retry_after(response.headers());
    let text = match read_all(http, started, &mut response, key) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return e,
    };
    let code = status.as_u16();
    let message = scrub(&format!("HTTP {code}: {}", error_text(&text)), key);
    let retry = should_retry.unwrap_or(matches!(code, 408 | 409 | 429) || status.is_server_error());
    if retry {
        CallError::Retryable {
            message,
            retry_after: wait,
        }
    } else {
        CallError::Fatal(message)
    }
}
