//! Orders, de-duplicates and scopes the events of one turn, and finds where it ends — past any
//! `requires_action` idle the turn's answerer has already handled.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::types::{SentEvents, SessionEvent, StopReason, Timestamp};

use super::TurnEnd;

/// Orders, de-duplicates and scopes a turn's events.
#[derive(Default)]
pub(super) struct Collector {
    seen: HashSet<String>,
    /// Everything received, in order; the turn starts at the echo once it is known.
    events: Vec<SessionEvent>,
    /// When each of `events` arrived, since the message was sent. Timings are read from these
    /// once the turn's slice is known, so they are right even when events arrive before the echo.
    arrivals: Vec<Duration>,
    pub(super) echo_id: Option<String>,
    pub(super) echo_at: Option<Timestamp>,
    /// The send's answer carried no `user.message` echo (its `data` is optional): take the first
    /// `user.message` the stream delivers as the echo. The stream carries only live events and was
    /// opened before the send, so that message is this turn's.
    adopt_echo: bool,
    pub(super) decode_errors: Vec<String>,
    /// Terminal events before this index of `events` were `requires_action` idles already
    /// handled: the turn goes on past them.
    resume_at: usize,
    /// The calls answered so far.
    answered: HashSet<String>,
}

impl Collector {
    /// Takes the `user.message` echo from the send's answer.
    pub(super) fn take_echo(&mut self, answer: SentEvents) {
        let echo = answer
            .data
            .into_iter()
            .find(|e| e.type_name() == "user.message");
        self.set_echo(
            echo.as_ref().and_then(SessionEvent::id).map(str::to_string),
            echo.as_ref().and_then(SessionEvent::processed_at),
        );
    }

    pub(super) fn set_echo(&mut self, id: Option<String>, at: Option<Timestamp>) {
        self.adopt_echo = id.is_none();
        self.echo_id = id;
        self.echo_at = at;
        self.adopt_from_stream();
    }

    pub(super) fn adopt_from_stream(&mut self) {
        if self.adopt_echo && self.echo_id.is_none() {
            self.adopt(
                self.events
                    .iter()
                    .find(|e| matches!(e, SessionEvent::UserMessage(_)))
                    .cloned(),
            );
        }
    }

    pub(super) fn adopt(&mut self, echo: Option<SessionEvent>) {
        if let Some(echo) = echo {
            self.echo_id = echo.id().map(str::to_string);
            self.echo_at = echo.processed_at();
        }
    }

    pub(super) fn push(&mut self, event: SessionEvent, started: Instant) {
        if let Some(id) = event.id()
            && !self.seen.insert(id.to_string())
        {
            return;
        }
        self.events.push(event);
        self.arrivals.push(started.elapsed());
        self.adopt_from_stream();
    }

    /// Adds listed events after the echo that the stream did not deliver, in list order.
    pub(super) fn backfill(&mut self, history: Vec<SessionEvent>, started: Instant) {
        if self.adopt_echo && self.echo_id.is_none() {
            // No echo id and none on the stream yet: this turn's message is the newest one listed.
            self.adopt(
                history
                    .iter()
                    .rev()
                    .find(|e| matches!(e, SessionEvent::UserMessage(_)))
                    .cloned(),
            );
        }
        let mut after_echo = self.echo_id.is_none();
        for event in history {
            if !after_echo {
                after_echo = event.id() == self.echo_id.as_deref();
            }
            if after_echo {
                self.push(event, started);
            }
        }
    }

    /// Where the turn starts in `events`: at the echo (at 0 while the echo id is unknown).
    pub(super) fn turn_start(&self) -> usize {
        self.echo_id
            .as_deref()
            .and_then(|id| self.events.iter().position(|e| e.id() == Some(id)))
            .unwrap_or(0)
    }

    /// The events from the echo on (all of them while the echo id is unknown).
    pub(super) fn turn_slice(&self) -> &[SessionEvent] {
        &self.events[self.turn_start()..]
    }

    /// When the turn's first `agent.message` arrived.
    pub(super) fn first_message(&self) -> Option<Duration> {
        let start = self.turn_start();
        self.events[start..]
            .iter()
            .position(|e| matches!(e, SessionEvent::AgentMessage(_)))
            .map(|i| self.arrivals[start + i])
    }

    /// When the event that ended the turn arrived.
    pub(super) fn end_arrival(&self) -> Option<Duration> {
        self.end_index().map(|i| self.arrivals[i])
    }

    pub(super) fn turn_events(&self) -> Vec<SessionEvent> {
        self.turn_slice().to_vec()
    }

    /// Where the terminal event that ends the turn is in `events`, once the echo has been seen
    /// and a terminal event (not one already handled) follows it.
    pub(super) fn end_index(&self) -> Option<usize> {
        let echo = self.echo_id.as_deref()?;
        let start = self.turn_start();
        if self.events.get(start).and_then(SessionEvent::id) != Some(echo) {
            return None;
        }
        let from = start.max(self.resume_at);
        self.events[from..]
            .iter()
            .position(is_terminal)
            .map(|i| from + i)
    }

    pub(super) fn end(&self) -> Option<TurnEnd> {
        self.end_index().and_then(|i| terminal(&self.events[i]))
    }

    /// At an idle with `requires_action`: marks it handled and returns the calls it names that
    /// are not answered yet (marking them answered), or why one cannot be found. `None` at any
    /// other end.
    pub(super) fn unanswered(&mut self) -> Option<std::result::Result<Vec<SessionEvent>, String>> {
        let at = self.end_index()?;
        let SessionEvent::SessionStatusIdle(idle) = &self.events[at] else {
            return None;
        };
        let StopReason::RequiresAction(action) = &idle.body.stop_reason else {
            return None;
        };
        let ids: Vec<String> = action
            .event_ids
            .iter()
            .filter(|id| !self.answered.contains(*id))
            .cloned()
            .collect();
        self.resume_at = at + 1;
        let mut calls = Vec::new();
        for id in ids {
            match self.events.iter().find(|e| e.id() == Some(id.as_str())) {
                Some(e) => calls.push(e.clone()),
                None => {
                    return Some(Err(format!(
                        "the session waits on event {id}, which this turn did not see"
                    )));
                }
            }
            self.answered.insert(id);
        }
        Some(Ok(calls))
    }

    pub(super) fn stop_reason(&self) -> Option<StopReason> {
        let idle = |e: &SessionEvent| match e {
            SessionEvent::SessionStatusIdle(idle) => Some(idle.body.stop_reason.clone()),
            _ => None,
        };
        match self.end_index() {
            Some(i) => idle(&self.events[i]),
            None => self.turn_slice().iter().find_map(idle),
        }
    }
}

/// How an event ends a turn, if it does.
fn terminal(event: &SessionEvent) -> Option<TurnEnd> {
    match event {
        SessionEvent::SessionStatusIdle(_) => Some(TurnEnd::Idle),
        SessionEvent::SessionStatusTerminated(_) => Some(TurnEnd::Terminated),
        SessionEvent::SessionDeleted(_) => Some(TurnEnd::Deleted),
        _ => None,
    }
}

fn is_terminal(event: &SessionEvent) -> bool {
    terminal(event).is_some()
}
