//! Runs a session's queued `user.message`s, one turn after another, on a thread of its own
//! (agent behaviours are synchronous). Event order per turn: `span.model_request_start`, the
//! tool calls and mid-turn messages, the final `agent.message`, `span.model_request_end`; then,
//! once the queue is empty, the session goes idle with `session.status_idle{end_turn}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cma_types::{
    Access, Actor, AgentMessage, ContentBlock, Marker, ModelRequestEnd, ModelUsage, RetryStatus,
    SessionActor, SessionError, SessionErrorDetail, SessionEvent, SessionResource, StopReason,
    Tool,
};

use crate::agent::{Exchange, Mount, TurnInput, TurnOutcome, behavior_for_model};
use crate::sandbox::{Fs, FsMount, Sandbox};
use crate::store::Db;

/// Everything a turn needs, copied out of the model.
struct TurnSetup {
    message: String,
    model: String,
    system: Option<String>,
    mounts: Vec<Mount>,
    fs_mounts: Vec<FsMount>,
    history: Vec<Exchange>,
    tools: Vec<Tool>,
    interrupted: Arc<AtomicBool>,
    span_id: String,
}

/// Starts the runner thread for a session whose queue just got its first message.
pub fn spawn(db: Arc<Db>, session_id: String) {
    let name = format!("turn-{session_id}");
    let db2 = db.clone();
    let sid = session_id.clone();
    if let Err(e) = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(db2, sid))
    {
        tracing::error!(session_id, error = %e, "could not start a turn thread");
        let _ = db.write(|m| {
            finish(m, &session_id, StopReason::RetriesExhausted(Marker {}));
            Ok(())
        });
    }
}

/// Ends the current run: idle with `stop_reason`, queue flushed, no runner.
fn finish(m: &mut crate::store::Model, sid: &str, stop_reason: StopReason) {
    let Some(rec) = m.sessions.get_mut(sid) else {
        return;
    };
    rec.rt.runner_active = false;
    rec.queue.clear();
    m.go_idle(sid, stop_reason);
    m.persist_session(sid);
}

fn tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

fn run(db: Arc<Db>, sid: String) {
    loop {
        let setup = db.write(|m| Ok(next_turn(m, &sid))).ok().flatten();
        let Some(setup) = setup else { return };
        let actor = Actor::Session(SessionActor {
            session_id: sid.clone(),
        });
        let fs = Fs::new(db.clone(), actor, setup.fs_mounts.clone());
        let mut sandbox = Sandbox::new(
            db.clone(),
            sid.clone(),
            fs,
            setup.tools.clone(),
            setup.interrupted.clone(),
        );
        let behavior = behavior_for_model(&setup.model);
        let input = TurnInput {
            model: &setup.model,
            system: setup.system.as_deref(),
            mounts: &setup.mounts,
            history: &setup.history,
            message: &setup.message,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            behavior.run_turn(&input, &mut sandbox)
        }));
        let input_chars = setup.system.as_deref().map_or(0, str::len)
            + setup.message.len()
            + setup
                .history
                .iter()
                .map(|e| e.user.len() + e.agent.len())
                .sum::<usize>();
        let interrupted = setup.interrupted.load(Ordering::SeqCst);
        let go_on = db
            .write(|m| {
                if !m.sessions.contains_key(&sid) {
                    return Ok(false);
                }
                let span_end = |m: &mut crate::store::Model, out_chars: usize, is_error: bool| {
                    let end = ModelRequestEnd {
                        model_request_start_id: setup.span_id.clone(),
                        is_error: is_error.then_some(true),
                        model_usage: ModelUsage {
                            input_tokens: tokens(input_chars),
                            output_tokens: tokens(out_chars),
                            cache_creation_input_tokens: 0,
                            cache_read_input_tokens: 0,
                            speed: None,
                        },
                    };
                    m.append_event(&sid, SessionEvent::SpanModelRequestEnd, end);
                    if let Some(rec) = m.sessions.get_mut(&sid)
                        && let Some(u) = rec.session.usage.as_mut()
                    {
                        u.input_tokens = Some(u.input_tokens.unwrap_or(0) + tokens(input_chars));
                        u.output_tokens = Some(u.output_tokens.unwrap_or(0) + tokens(out_chars));
                    }
                };
                match outcome {
                    _ if interrupted || sandbox.aborted() => {
                        // The interrupt (or a deletion) ended the turn.
                        let running = m.sessions.get(&sid).is_some_and(|r| r.rt.runner_active);
                        if running {
                            span_end(m, sandbox.output_chars, false);
                            finish(m, &sid, StopReason::EndTurn(Marker {}));
                        }
                        Ok(false)
                    }
                    Err(_) => {
                        tracing::error!(session_id = %sid, "the agent behaviour panicked");
                        span_end(m, sandbox.output_chars, true);
                        let error = SessionErrorDetail {
                            kind: "unknown_error".into(),
                            message: "the emulated agent failed".into(),
                            retry_status: Some(RetryStatus::Exhausted(Marker {})),
                            extra: Default::default(),
                        };
                        m.append_event(&sid, SessionEvent::SessionError, SessionError { error });
                        finish(m, &sid, StopReason::RetriesExhausted(Marker {}));
                        Ok(false)
                    }
                    Ok(TurnOutcome::Stall) => {
                        if let Some(rec) = m.sessions.get_mut(&sid) {
                            rec.stalled = true;
                            rec.rt.runner_active = false;
                        }
                        m.persist_session(&sid);
                        Ok(false)
                    }
                    Ok(TurnOutcome::Reply(text)) => {
                        let content = vec![ContentBlock::text(text.clone())];
                        m.append_event(&sid, SessionEvent::AgentMessage, AgentMessage { content });
                        span_end(m, sandbox.output_chars + text.len(), false);
                        let more = match m.sessions.get_mut(&sid) {
                            Some(rec) => {
                                rec.history.push((setup.message.clone(), text));
                                !rec.queue.is_empty()
                            }
                            None => false,
                        };
                        if more {
                            m.persist_session(&sid);
                        } else {
                            finish(m, &sid, StopReason::EndTurn(Marker {}));
                        }
                        Ok(more)
                    }
                }
            })
            .unwrap_or(false);
        if !go_on {
            return;
        }
    }
}

/// Pops the next queued message and opens its model-request span.
fn next_turn(m: &mut crate::store::Model, sid: &str) -> Option<TurnSetup> {
    let rec = m.sessions.get_mut(sid)?;
    let Some(q) = rec.queue.pop_front() else {
        finish(m, sid, StopReason::EndTurn(Marker {}));
        return None;
    };
    let s = &rec.session;
    let history = rec
        .history
        .iter()
        .map(|(u, a)| Exchange {
            user: u.clone(),
            agent: a.clone(),
        })
        .collect();
    let interrupted = rec.rt.interrupted.clone();
    let tools = s.agent.tools.clone();
    let model = s.agent.model.id().to_string();
    let system = s.agent.system.clone();
    let mut mounts = Vec::new();
    let mut fs_mounts = Vec::new();
    for r in &s.resources {
        if let SessionResource::MemoryStore(ms) = r {
            let path = ms.mount_path.clone().unwrap_or_default();
            let access = ms.access.unwrap_or(Access::ReadWrite);
            mounts.push(Mount {
                path: path.clone(),
                store_name: ms.name.clone().unwrap_or_default(),
                store_description: ms.description.clone().unwrap_or_default(),
                access,
                instructions: ms.instructions.clone(),
            });
            fs_mounts.push(FsMount {
                path,
                store_id: ms.memory_store_id.clone(),
                access,
            });
        }
    }
    let span = m.append_event(sid, SessionEvent::SpanModelRequestStart, Marker {})?;
    m.persist_session(sid);
    Some(TurnSetup {
        message: q.text,
        model,
        system,
        mounts,
        fs_mounts,
        history,
        tools,
        interrupted,
        span_id: span.id.clone(),
    })
}
