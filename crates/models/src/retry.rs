//! One model call as the official client makes it: retried on what is worth retrying, with its
//! backoff, and given up as soon as the caller is interrupted.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::{Block, CallError, ClientConfig, Message, ModelReply, Protocol, Request, Role, Stop};

/// One model call, retried as the official client retries; `Err` says why it failed.
pub fn call_with_retries(
    protocol: &Arc<dyn Protocol>,
    request: &Request<'_>,
    max_retries: u32,
    interrupted: &dyn Fn() -> bool,
) -> Result<ModelReply, String> {
    let mut attempt = 0;
    loop {
        let Some(sent) = send_unless_interrupted(protocol, request, interrupted) else {
            return Err("the turn was interrupted".into());
        };
        match sent {
            Ok(reply) => return Ok(reply),
            Err(CallError::Retryable {
                message,
                retry_after,
            }) if attempt < max_retries => {
                let delay = retry_delay(attempt, retry_after);
                tracing::warn!(attempt, ?delay, error = %message, "model request failed; retrying");
                if !wait_unless_interrupted(delay, interrupted) {
                    return Err("the turn was interrupted".into());
                }
                attempt += 1;
            }
            Err(e @ CallError::Retryable { .. }) => {
                return Err(format!(
                    "the model request failed after {} attempts: {e}",
                    attempt + 1
                ));
            }
            Err(CallError::Fatal(message)) => {
                return Err(format!("the model request failed: {message}"));
            }
        }
    }
}

/// One question to a model with no tools, answered with its text (blocking; for graders). Uses
/// `config`'s backend, base URL, key, retries and timeout.
pub fn complete(
    config: &ClientConfig,
    model: &str,
    system: &str,
    question: &str,
) -> Result<String, String> {
    let protocol = config.protocol().map_err(|e| e.to_string())?;
    let messages = [Message {
        role: Role::User,
        blocks: vec![Block::Text(question.to_string())],
    }];
    let request = Request {
        model,
        system,
        messages: &messages,
        tools: &[],
    };
    let reply = call_with_retries(&protocol, &request, config.max_retries, &|| false)?;
    // A refused or cut-off answer is no answer: the caller must not judge by it.
    if reply.stop == Stop::Refusal {
        return Err(format!("the model refused: {:?}", reply.text().join(" ")));
    }
    if let Some(why) = reply.unusable() {
        return Err(why);
    }
    Ok(reply
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Sends `request` on a thread of its own and waits for the answer, giving up (`None`) as soon
/// as the turn is interrupted: a slow model must not hold an interrupted session `running`. The
/// abandoned request ends on its own within the request timeout.
fn send_unless_interrupted(
    protocol: &Arc<dyn Protocol>,
    request: &Request<'_>,
    interrupted: &dyn Fn() -> bool,
) -> Option<Result<ModelReply, CallError>> {
    let (tx, rx) = mpsc::channel();
    let protocol = protocol.clone();
    let (model, system) = (request.model.to_string(), request.system.to_string());
    let (messages, defs) = (request.messages.to_vec(), request.tools.to_vec());
    // The request's span sits under the caller's (the session's turn).
    let parent = tracing::Span::current();
    let spawned = std::thread::Builder::new()
        .name("model-request".into())
        .spawn(move || {
            let _in_parent = parent.enter();
            let request = Request {
                model: &model,
                system: &system,
                messages: &messages,
                tools: &defs,
            };
            let _ = tx.send(protocol.send(&request));
        });
    if let Err(e) = spawned {
        return Some(Err(CallError::Retryable {
            message: format!("could not start the model request: {e}"),
            retry_after: None,
        }));
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(answer) => return Some(answer),
            Err(mpsc::RecvTimeoutError::Timeout) if interrupted() => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some(Err(CallError::Fatal("the model request failed".into())));
            }
        }
    }
}

/// The official client's backoff: `retry-after` when it is given and at most 60 s, else 0.5 s
/// doubling to at most 8 s, less up to 25 % jitter.
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after.filter(|d| *d <= Duration::from_secs(60)) {
        return d;
    }
    let base = (0.5 * 2f64.powi(attempt.min(16) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * rand::random::<f64>();
    Duration::from_secs_f64(base * jitter)
}

/// Waits `delay` in short slices; `false` when the turn was interrupted meanwhile.
fn wait_unless_interrupted(delay: Duration, interrupted: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + delay;
    loop {
        if interrupted() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
