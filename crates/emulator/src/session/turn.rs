//! Runs a session's queued turns (`user.message`s, and outcomes' work and revisions), one after
//! another, on a thread of its own (agent behaviours are synchronous). Event order per turn:
//! `span.model_request_start`, the tool calls and mid-turn messages, the final `agent.message`,
//! `span.model_request_end` (an outcome's turn then has its evaluation spans, see
//! [`super::outcome`]); once the queue is empty, `session.usage` and
//! `session.status_idle{end_turn}` (or `budget_reached` once the budget is spent). A turn whose
//! calls need the client's answers pauses inside [`super::tools`] (idle `requires_action`)
//! and resumes on this same thread. An interrupt ends the turn here: pending calls get error
//! results, the open span is closed, and the session idles `end_turn`. A turn whose pending
//! calls outlived its runner (a restart) is taken up again by the next runner, which replays it
//! (see [`super::resume`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cma_types::{
    Access, Actor, AgentMessage, ContentBlock, Marker, Session, SessionActor, SessionEvent,
    SessionResource, StopReason, Tool,
};

use super::context::TurnContext;
use super::lifecycle::{
    answer_unanswered, end_interrupted, end_outcomes, end_span, fail, finish, give_up, stall,
};
use super::replay::Replay;
use super::resume::DIVERGED;
use crate::agent::model::{AgentConfig, Backend, Message};
use crate::agent::{Exchange, ModelUsage, Mount, TurnInput, TurnOutcome};
use crate::sandbox::bwrap::BwrapShell;
use crate::sandbox::fs::FileMount;
use crate::sandbox::{Fs, FsMount};
use crate::store::pending::{Queued, TurnStart};
use crate::store::{Db, Model};

/// Everything a turn needs, copied out of the model.
struct TurnSetup {
    message: String,
    model: String,
    system: Option<String>,
    mounts: Vec<Mount>,
    fs_mounts: Vec<FsMount>,
    /// The session's `file` resources, mounted read-only.
    files: Vec<FileMount>,
    history: Vec<Exchange>,
    tools: Vec<Tool>,
    interrupted: Arc<AtomicBool>,
    span_id: String,
    /// The session's earlier turns for a model backend (empty for the reference agent).
    transcript: Vec<Message>,
    custom_tools: Vec<String>,
    /// The environment is self-hosted: the worker runs the toolset calls.
    self_hosted: bool,
    /// The outcome this turn works toward.
    outcome: Option<String>,
    /// A resumed turn (see [`super::resume`]): the index in the log of its first event.
    resume_from: Option<usize>,
}

/// Starts the runner thread for a session whose queue just got its first message.
pub fn spawn(db: Arc<Db>, agent: Arc<AgentConfig>, session_id: String) {
    let name = format!("turn-{session_id}");
    let db2 = db.clone();
    let sid = session_id.clone();
    if let Err(e) = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(db2, &agent, sid))
    {
        tracing::error!(session_id, error = %e, "could not start a turn thread");
        if db
            .write(|m| {
                finish(m, &session_id, StopReason::RetriesExhausted(Marker {}));
                Ok(())
            })
            .is_err()
        {
            stall(&db, &session_id);
        }
    }
}

/// Characters of what a turn's model request reads, for the token estimate.
fn input_chars(setup: &TurnSetup) -> usize {
    setup.system.as_deref().map_or(0, str::len)
        + setup.message.len()
        + setup
            .history
            .iter()
            .map(|e| e.user.len() + e.agent.len())
            .sum::<usize>()
}

fn tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

fn run(db: Arc<Db>, agent: &AgentConfig, sid: String) {
    // The real shell outlives a turn and a run: the session's turns share one bash (the pool
    // keeps it between runs).
    let mut shell: Option<BwrapShell> = crate::sandbox::pool::take(&sid);
    loop {
        let transcript = agent.backend != Backend::Reference;
        let setup = db
            .write(|m| Ok(next_turn(m, &sid, transcript)))
            .unwrap_or_else(|_| {
                give_up(&db, &sid);
                None
            });
        let Some(setup) = setup else {
            keep_shell(&db, &sid, shell);
            return;
        };
        let actor = Actor::Session(SessionActor {
            session_id: sid.clone(),
        });
        let fs =
            Fs::new(db.clone(), actor, setup.fs_mounts.clone()).with_files(setup.files.clone());
        let mut sandbox = TurnContext::new(
            db.clone(),
            sid.clone(),
            fs,
            setup.tools.clone(),
            setup.interrupted.clone(),
        );
        sandbox.span_id = setup.span_id.clone();
        // A resumed turn's span ended at the wait; settling the answers opens the next.
        sandbox.span_open = setup.resume_from.is_none();
        if let Some(first) = setup.resume_from {
            let events = db.read(|m| m.sessions.get(&sid).map(|r| r.rt.log.snapshot()));
            let events = events.unwrap_or_default();
            sandbox.replay = Some(Replay::from_events(events.get(first..).unwrap_or_default()));
        }
        sandbox.input_chars = input_chars(&setup);
        sandbox.real_shell = agent.uses_real_shell();
        sandbox.self_hosted = setup.self_hosted;
        sandbox.shell_limits = agent.sandbox;
        sandbox.shell = shell
            .take()
            .filter(|s| s.serves(&setup.fs_mounts, &setup.files, agent.sandbox));
        let behavior = crate::agent::model::behavior(
            agent,
            &setup.model,
            &setup.tools,
            setup.transcript.clone(),
        );
        let file_paths: Vec<String> = setup.files.iter().map(|f| f.path.clone()).collect();
        let input = TurnInput {
            model: &setup.model,
            system: setup.system.as_deref(),
            mounts: &setup.mounts,
            files: &file_paths,
            history: &setup.history,
            message: &setup.message,
            custom_tools: &setup.custom_tools,
            memory_guidance: agent.memory_guidance,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            behavior.run_turn(&input, &mut sandbox)
        }));
        let input_chars = sandbox.input_chars;
        // A model-backed agent's outcome turn is graded by its model, outside the lock.
        let graded = match (&outcome, &setup.outcome) {
            (Ok(TurnOutcome::Reply(text)), Some(outcome_id))
                if agent.backend != Backend::Reference && !setup.model.starts_with("emulator:") =>
            {
                db.read(|m| m.outcome_task(&sid, outcome_id))
                    .map(|(description, rubric)| {
                        let model = agent.model.clone().unwrap_or_else(|| setup.model.clone());
                        super::outcome::model_grade(agent, &model, &description, &rubric, text)
                    })
            }
            _ => None,
        };
        let interrupted = setup.interrupted.load(Ordering::SeqCst);
        let go_on = db
            .write(|m| {
                if !m.sessions.contains_key(&sid) {
                    return Ok(false);
                }
                // A model backend's own usage, else an estimate from the characters exchanged.
                let mut span_id = sandbox.span_id.clone();
                let span_open = sandbox.span_open;
                let reported = sandbox.usage.clone();
                let mut span_end = |m: &mut Model, out_chars: usize, is_error: bool| {
                    // A wait for answers closed the span: the reply comes from a new request.
                    if !span_open {
                        match m.append_event(&sid, SessionEvent::SpanModelRequestStart, Marker {}) {
                            Some(e) => span_id = e.id.clone(),
                            None => return,
                        }
                    }
                    let usage = reported.clone().unwrap_or(ModelUsage {
                        input_tokens: tokens(input_chars),
                        output_tokens: tokens(out_chars),
                        ..ModelUsage::default()
                    });
                    end_span(m, &sid, &span_id, usage, is_error);
                };
                let diverged = sandbox.replay.as_ref().is_some_and(|r| r.diverged);
                match outcome {
                    _ if diverged && !interrupted => {
                        answer_unanswered(m, &sid);
                        fail(m, &sid, DIVERGED);
                        Ok(false)
                    }
                    _ if sandbox.budget_reached => {
                        // Stopped between model requests: the budget is spent.
                        end_outcomes(m, &sid, "failed", "the session's budget was reached");
                        answer_unanswered(m, &sid);
                        finish(m, &sid, StopReason::BudgetReached(Marker {}));
                        Ok(false)
                    }
                    _ if interrupted || sandbox.aborted() => {
                        // The interrupt (or a deletion, an archive) ended the turn.
                        let running = m.sessions.get(&sid).is_some_and(|r| r.rt.runner_active);
                        if !running {
                            return Ok(false);
                        }
                        if span_open {
                            let usage = reported.clone().unwrap_or(ModelUsage {
                                input_tokens: tokens(input_chars),
                                output_tokens: tokens(sandbox.output_chars),
                                ..ModelUsage::default()
                            });
                            end_span(m, &sid, &span_id, usage, false);
                        }
                        answer_unanswered(m, &sid);
                        end_outcomes(m, &sid, "interrupted", "the turn was interrupted");
                        Ok(end_interrupted(m, &sid))
                    }
                    Err(_) => {
                        tracing::error!(session_id = %sid, "the agent behaviour panicked");
                        answer_unanswered(m, &sid);
                        span_end(m, sandbox.output_chars, true);
                        fail(m, &sid, "the emulated agent failed");
                        Ok(false)
                    }
                    Ok(TurnOutcome::Failed(message)) => {
                        tracing::warn!(session_id = %sid, error = %message, "the turn failed");
                        answer_unanswered(m, &sid);
                        span_end(m, sandbox.output_chars, true);
                        fail(m, &sid, &message);
                        Ok(false)
                    }
                    Ok(TurnOutcome::Refused(text)) => {
                        // The model's own words, then idle with `refusal` (reference 6.4).
                        say_last(m, &sid, &text);
                        span_end(m, sandbox.output_chars + text.len(), false);
                        end_outcomes(m, &sid, "failed", "the model refused");
                        finish(m, &sid, StopReason::Refusal(Marker {}));
                        Ok(false)
                    }
                    Ok(TurnOutcome::Stall) => {
                        if let Some(rec) = m.sessions.get_mut(&sid) {
                            rec.stalled = true;
                            rec.rt.runner_active = false;
                        }
                        Ok(false)
                    }
                    Ok(TurnOutcome::Reply(text)) => {
                        say_last(m, &sid, &text);
                        span_end(m, sandbox.output_chars + text.len(), false);
                        if let Some(outcome) = &setup.outcome {
                            m.evaluate_outcome(&sid, outcome, &text, graded.clone());
                        }
                        let more = match m.sessions.get_mut(&sid) {
                            Some(rec) => {
                                rec.history.push((setup.message.clone(), text));
                                !rec.queue.is_empty()
                            }
                            None => false,
                        };
                        if m.budget_reached(&sid) {
                            end_outcomes(m, &sid, "failed", "the session's budget was reached");
                            finish(m, &sid, StopReason::BudgetReached(Marker {}));
                            return Ok(false);
                        }
                        if !more {
                            finish(m, &sid, StopReason::EndTurn(Marker {}));
                        }
                        Ok(more)
                    }
                }
            })
            .unwrap_or_else(|_| {
                give_up(&db, &sid);
                false
            });
        shell = sandbox.shell.take();
        if !go_on {
            keep_shell(&db, &sid, shell);
            return;
        }
    }
}

/// Keeps the session's shell for its next run, unless the session is gone or archived (checked
/// after the shell is in the pool: an archive committed meanwhile has ended it, or is seen here).
fn keep_shell(db: &Db, sid: &str, shell: Option<BwrapShell>) {
    let Some(shell) = shell else { return };
    crate::sandbox::pool::put(sid, shell);
    let live = db.read(|m| {
        m.sessions
            .get(sid)
            .is_some_and(|r| r.session.archived_at.is_none())
    });
    if !live {
        crate::sandbox::pool::end(sid);
    }
}

/// Pops the next queued message and opens its model-request span; or, for a turn paused for
/// answers whose runner a restart took, sets it up to resume (see [`super::resume`]).
fn next_turn(m: &mut Model, sid: &str, transcript: bool) -> Option<TurnSetup> {
    let resumable = m
        .sessions
        .get(sid)
        .and_then(|r| r.turn.clone().filter(|_| !r.pending.is_empty()));
    if let Some(turn) = resumable {
        let mut setup = setup_for(m, sid, turn.queued, transcript)?;
        setup.resume_from = Some(turn.first_event);
        return Some(setup);
    }
    // Pending calls with no turn to resume (stored before turns were) get their error results.
    answer_unanswered(m, sid);
    if m.budget_reached(sid) {
        // The budget is spent: queued messages wait for a raised budget (they are flushed).
        end_outcomes(m, sid, "failed", "the session's budget was reached");
        finish(m, sid, StopReason::BudgetReached(Marker {}));
        return None;
    }
    let rec = m.sessions.get_mut(sid)?;
    let Some(q) = rec.queue.pop_front() else {
        finish(m, sid, StopReason::EndTurn(Marker {}));
        return None;
    };
    rec.turn = Some(TurnStart {
        queued: q.clone(),
        first_event: rec.rt.log.len(),
    });
    let event_id = q.event_id.clone();
    let mut setup = setup_for(m, sid, q, transcript)?;
    m.mark_processed(sid, &event_id);
    if let Some(outcome) = &setup.outcome {
        m.outcome_running(sid, outcome);
    }
    let span = m.append_event(sid, SessionEvent::SpanModelRequestStart, Marker {})?;
    setup.span_id = span.id.clone();
    Some(setup)
}

/// What a turn serving `q` needs, read from the session (no span yet).
/// The turn's last words: what is still unanswered is answered (nothing is pending after a live
/// turn; a resumed one that ended before reaching its waiting calls leaves them), the text goes
/// out as an `agent.message` unless empty (a model may end with no text, its tools having said
/// it all). The caller then closes the model request's span counting it.
fn say_last(m: &mut Model, sid: &str, text: &str) {
    answer_unanswered(m, sid);
    if !text.is_empty() {
        let content = vec![ContentBlock::text(text.to_string())];
        m.append_event(sid, SessionEvent::AgentMessage, AgentMessage { content });
    }
}

fn setup_for(m: &Model, sid: &str, q: Queued, transcript: bool) -> Option<TurnSetup> {
    let rec = m.sessions.get(sid)?;
    let s = &rec.session;
    let history = rec
        .history
        .iter()
        .map(|(u, a)| Exchange {
            user: u.clone(),
            agent: a.clone(),
        })
        .collect();
    let tools = s.agent.tools.clone();
    let custom_tools = tools
        .iter()
        .filter_map(|t| match t {
            Tool::Custom(c) => Some(c.name.clone()),
            _ => None,
        })
        .collect();
    let (mounts, fs_mounts) = mounts_of(s);
    let transcript = if transcript {
        let events = rec.rt.log.snapshot();
        crate::agent::model::history::from_events(events.iter().map(|e| &**e), &q.event_id)
    } else {
        Vec::new()
    };
    Some(TurnSetup {
        message: q.text,
        model: s.agent.model.id().to_string(),
        system: s.agent.system.clone(),
        mounts,
        fs_mounts,
        files: files_of(s),
        history,
        tools,
        interrupted: rec.rt.interrupted.clone(),
        span_id: String::new(),
        transcript,
        custom_tools,
        self_hosted: m.is_self_hosted(&s.environment_id),
        outcome: q.outcome,
        resume_from: None,
    })
}

/// The memory stores a session mounts, as the agent sees them and as the sandbox opens them. The
/// path, name and description are the session resource's (copied at attach time).
pub fn mounts_of(s: &Session) -> (Vec<Mount>, Vec<FsMount>) {
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
    (mounts, fs_mounts)
}

/// The files a session mounts (its `file` resources), read-only at their mount paths.
pub fn files_of(s: &Session) -> Vec<FileMount> {
    s.resources
        .iter()
        .filter_map(|r| match r {
            SessionResource::File(f) => Some(FileMount {
                path: f.mount_path.clone(),
                file_id: f.file_id.clone(),
            }),
            _ => None,
        })
        .collect()
}
