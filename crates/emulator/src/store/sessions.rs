//! Sessions and their event logs (reference 4.6, 4.8, 5.9, 5.10, 6). Turns themselves run in
//! [`crate::session`]; this module keeps the state they share with the API.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};

use cma_types::{
    Access, Agent, AgentRef, AgentSpec, Budget, ClientEvent, CreateSession, Event,
    GithubRepositoryResource, Marker, MemoryStoreResource, ResourceParams, Session, SessionAgent,
    SessionEvent, SessionResource, SessionStats, SessionStatus, SessionUpdated, SessionUsage,
    StatusIdle, StopReason, UpdateSession,
};
use serde::{Deserialize, Serialize};

use super::agents::{resolve_model, resolve_tools};
use super::outcomes::OutcomeSpec;
use super::pending::{PendingCall, Queued, TurnStart};
use super::session_events::validate_events;
use super::usage::Tally;
use super::{Effect, EventLog, Model, StoredEvent};
use crate::clock::{self, Timestamp};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::paths::unique_slug;
use crate::persist::Change;
use crate::validate;

pub const KIND_SESSION: &str = "session";
pub const MAX_MEMORY_STORES: usize = 8;
pub const MAX_INSTRUCTIONS_CHARS: usize = 4_096;
pub const MAX_INITIAL_EVENTS: usize = 50;

/// Per-session state that lives only in this process.
#[derive(Debug, Default)]
pub struct Runtime {
    pub log: Arc<EventLog>,
    /// A runner thread is working on this session's queue.
    pub runner_active: bool,
    /// Set while the runner waits on pending calls; the last answer sends on it, and
    /// dropping it (an interrupt, an archive) wakes the runner to end the turn.
    pub wake: Option<mpsc::Sender<()>>,
    pub interrupted: Arc<AtomicBool>,
    /// The turn the session was on when the process last stopped is still open, and no runner
    /// of this process has it (set at load for a running session, or one with pending calls).
    pub cut_by_restart: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionRec {
    pub seq: u64,
    pub session: Session,
    /// Earlier exchanges `(user, agent)`, oldest first.
    #[serde(default)]
    pub history: super::History,
    #[serde(default)]
    pub queue: VecDeque<Queued>,
    /// `running` with no runner: the `emulator:stall` behaviour (or a turn cut by a restart).
    #[serde(default)]
    pub stalled: bool,
    /// The calls the current turn waits on (see [`super::pending`]).
    #[serde(default)]
    pub pending: Vec<PendingCall>,
    /// The turn the runner is on (kept after it ends; read only to resume a turn whose
    /// pending calls outlived its runner).
    #[serde(default)]
    pub turn: Option<TurnStart>,
    /// The session's usage so far (see [`super::usage`]).
    #[serde(default)]
    pub usage: Tally,
    /// The rubric and iteration cap of each outcome (see [`crate::session::outcome`]).
    #[serde(default)]
    pub outcomes: Vec<OutcomeSpec>,
    /// When the primary thread was archived (see [`super::threads`]).
    #[serde(default)]
    pub thread_archived_at: Option<Timestamp>,
    #[serde(skip)]
    pub rt: Runtime,
}

fn check_budget(field: &str, b: &Budget) -> ApiResult<()> {
    if b.kind != "limit" {
        return Err(ApiError::invalid(format!("{field}.type: must be `limit`")));
    }
    if b.max_list_cost.currency != "USD" {
        return Err(ApiError::invalid(format!(
            "{field}.max_list_cost.currency: must be `USD`"
        )));
    }
    let a = &b.max_list_cost.amount;
    if a.is_empty() || !a.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "{field}.max_list_cost.amount: must be an integer string of minor units"
        )));
    }
    Ok(())
}

fn snapshot(agent: &Agent) -> SessionAgent {
    SessionAgent {
        kind: "agent".into(),
        id: agent.id.clone(),
        version: agent.version,
        name: agent.name.clone(),
        description: agent.description.clone(),
        system: agent.system.clone(),
        model: agent.model.clone(),
        tools: agent.tools.clone(),
        mcp_servers: agent.mcp_servers.clone(),
        skills: agent.skills.clone(),
        multiagent: agent.multiagent.clone(),
        execution_identity: agent.execution_identity.clone(),
    }
}

impl Model {
    pub fn session(&self, id: &str) -> ApiResult<&SessionRec> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("session {id:?} not found")))
    }

    /// Ends a turn (or pauses it for answers): the session's status becomes `idle`, and
    /// `session.usage` then a `session.status_idle` event with `stop_reason` are appended. Callers settle the runner and queue state themselves.
    pub(crate) fn go_idle(&mut self, id: &str, stop_reason: StopReason) {
        let Some(rec) = self.sessions.get_mut(id) else {
            return;
        };
        rec.session.status = SessionStatus::Idle;
        rec.session.updated_at = clock::now();
        self.report_usage(id);
        self.append_event(
            id,
            SessionEvent::SessionStatusIdle,
            StatusIdle {
                stop_reason,
                stop_details: None,
            },
        );
    }

    /// Appends an event of the variant `variant` with body `body` to a live session's log (and
    /// the pending write), stamped with a new id and the time. `None` if the session is gone.
    pub fn append_event<T>(
        &mut self,
        session_id: &str,
        variant: impl FnOnce(Box<Event<T>>) -> SessionEvent,
        body: T,
    ) -> Option<Arc<StoredEvent>> {
        self.append_stamped(session_id, |id, at| {
            variant(Box::new(Event::new(id, at, body)))
        })
    }

    /// Appends the event `stamp` builds from the new event's id and time; see [`Self::append_event`].
    pub(crate) fn append_stamped(
        &mut self,
        session_id: &str,
        stamp: impl FnOnce(String, Timestamp) -> SessionEvent,
    ) -> Option<Arc<StoredEvent>> {
        self.append_stamped_at(session_id, clock::now(), stamp)
    }

    /// [`Self::append_stamped`] at time `now`.
    pub(crate) fn append_stamped_at(
        &mut self,
        session_id: &str,
        now: Timestamp,
        stamp: impl FnOnce(String, Timestamp) -> SessionEvent,
    ) -> Option<Arc<StoredEvent>> {
        let rec = self.sessions.get(session_id)?;
        let log = rec.rt.log.clone();
        let id = ids::new_id(ids::EVENT);
        let event = stamp(id.clone(), now);
        self.before_event(session_id, &event);
        let kind = event.type_name().to_string();
        let event = match StoredEvent::new(event, now) {
            Ok(event) => Arc::new(event),
            Err(e) => {
                tracing::error!(session_id, kind, error = %e, "event does not serialize");
                return None;
            }
        };
        let seq = log.len() as u64;
        if !log.push(event.clone()) {
            return None;
        }
        if self.persisting {
            self.changes.push(Change::Event {
                session_id: session_id.to_string(),
                seq,
                json: event.json.to_string(),
            });
        }
        self.notify.push(log);
        self.after_event(session_id, &event.event);
        Some(event)
    }

    fn resolve_session_agent(&self, spec: &AgentRef) -> ApiResult<SessionAgent> {
        let (id, version) = match spec {
            AgentRef::Id(id) => (id.as_str(), None),
            AgentRef::Spec(AgentSpec::Version(v)) => (v.id.as_str(), v.version),
            AgentRef::Spec(AgentSpec::WithOverrides(v)) => (v.id.as_str(), v.version),
            AgentRef::Spec(other) => {
                let t = other.type_name();
                return Err(ApiError::invalid(format!(
                    "agent.type: must be `agent` or `agent_with_overrides` (got {t:?})"
                )));
            }
        };
        if version == Some(0) {
            return Err(ApiError::invalid("agent.version: must be at least 1"));
        }
        let rec = self.agent(id)?;
        let agent = match version {
            Some(v) => rec
                .at_version(v)
                .ok_or_else(|| ApiError::not_found(format!("agent {id:?} has no version {v}")))?,
            None => rec
                .latest()
                .ok_or_else(|| ApiError::internal("agent has no versions"))?,
        };
        if rec.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "agent {id:?} is archived and cannot be used for new sessions"
            )));
        }
        let mut snap = snapshot(&agent);
        if let AgentRef::Spec(AgentSpec::WithOverrides(o)) = spec {
            if let Some(m) = &o.model {
                snap.model = resolve_model("agent.model", m)?;
            }
            if let Some(system) = &o.system {
                if let Some(s) = system {
                    validate::max_chars("agent.system", s, 100_000)?;
                }
                snap.system = system.clone();
            }
            if o.tools.is_some() || o.mcp_servers.is_some() {
                let tools = o.tools.clone().unwrap_or_else(|| snap.tools.clone());
                let servers = o
                    .mcp_servers
                    .clone()
                    .unwrap_or_else(|| snap.mcp_servers.clone());
                let (t, s) = resolve_tools(&tools, &servers)?;
                snap.tools = t;
                snap.mcp_servers = s;
            }
            if let Some(skills) = &o.skills {
                snap.skills = skills.clone();
            }
        }
        Ok(snap)
    }

    fn build_resources(
        &self,
        params: &[ResourceParams],
        now: Timestamp,
    ) -> ApiResult<Vec<SessionResource>> {
        let mut out = Vec::new();
        let mut slugs: Vec<String> = Vec::new();
        let mut store_ids: Vec<&str> = Vec::new();
        for (i, r) in params.iter().enumerate() {
            let field = format!("resources[{i}]");
            match r {
                ResourceParams::MemoryStore(p) => {
                    if store_ids.contains(&p.memory_store_id.as_str()) {
                        return Err(ApiError::invalid(format!(
                            "{field}.memory_store_id: memory store {:?} is attached more than once",
                            p.memory_store_id
                        )));
                    }
                    store_ids.push(&p.memory_store_id);
                    if store_ids.len() > MAX_MEMORY_STORES {
                        return Err(ApiError::invalid(format!(
                            "resources: a session can attach at most {MAX_MEMORY_STORES} memory stores"
                        )));
                    }
                    if let Some(ins) = &p.instructions {
                        validate::max_chars(
                            &format!("{field}.instructions"),
                            ins,
                            MAX_INSTRUCTIONS_CHARS,
                        )?;
                    }
                    let store = &self.store(&p.memory_store_id)?.store;
                    if store.archived_at.is_some() {
                        return Err(ApiError::invalid(format!(
                            "{field}.memory_store_id: memory store {:?} is archived and cannot be attached",
                            p.memory_store_id
                        )));
                    }
                    let slug = unique_slug(&store.name, &slugs);
                    slugs.push(slug.clone());
                    out.push(SessionResource::MemoryStore(MemoryStoreResource {
                        memory_store_id: p.memory_store_id.clone(),
                        access: Some(p.access.unwrap_or(Access::ReadWrite)),
                        instructions: p.instructions.clone(),
                        mount_path: Some(format!("/mnt/memory/{slug}")),
                        name: Some(store.name.clone()),
                        description: Some(store.description.clone()),
                    }));
                }
                ResourceParams::File(p) => {
                    let file = self.file_resource(&field, p, &out, now)?;
                    out.push(SessionResource::File(file));
                }
                ResourceParams::GithubRepository(p) => {
                    let parsed = url::Url::parse(&p.url)
                        .map_err(|_| ApiError::invalid(format!("{field}.url: not a valid URL")))?;
                    let repo = parsed
                        .path_segments()
                        .and_then(|mut s| s.next_back().map(str::to_string))
                        .unwrap_or_default()
                        .trim_end_matches(".git")
                        .to_string();
                    let repo = if repo.is_empty() {
                        "repo".to_string()
                    } else {
                        repo
                    };
                    out.push(SessionResource::GithubRepository(
                        GithubRepositoryResource {
                            id: ids::new_id(ids::SESSION_RESOURCE),
                            url: p.url.clone(),
                            mount_path: p
                                .mount_path
                                .clone()
                                .unwrap_or_else(|| format!("/workspace/{repo}")),
                            checkout: p.checkout.clone(),
                            created_at: now,
                            updated_at: now,
                        },
                    ));
                }
                other => {
                    let t = other.type_name();
                    return Err(ApiError::invalid(format!(
                        "{field}.type: unknown resource type {t:?}"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Creates a session and processes its `initial_events`; returns whether a runner must start.
    pub fn create_session(&mut self, p: CreateSession) -> ApiResult<(Session, bool)> {
        let agent = self.resolve_session_agent(&p.agent)?;
        let env = &self.environment(&p.environment_id)?.env;
        if env.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "environment {:?} is archived and cannot be used for new sessions",
                p.environment_id
            ))
            .code("environment_archived"));
        }
        let now = clock::now();
        let resources = self.build_resources(p.resources.as_deref().unwrap_or(&[]), now)?;
        let metadata = p.metadata.unwrap_or_default();
        validate::metadata("metadata", &metadata)?;
        if let Some(b) = &p.budget {
            check_budget("budget", b)?;
        }
        let initial = p.initial_events.unwrap_or_default();
        if initial.len() > MAX_INITIAL_EVENTS {
            return Err(ApiError::invalid(format!(
                "initial_events: at most {MAX_INITIAL_EVENTS} events allowed (got {})",
                initial.len()
            )));
        }
        for (i, e) in initial.iter().enumerate() {
            if !matches!(
                e,
                ClientEvent::UserMessage(_) | ClientEvent::UserDefineOutcome(_)
            ) {
                return Err(ApiError::invalid(format!(
                    "initial_events[{i}].type: only `user.message` and `user.define_outcome` are allowed (got {:?})",
                    e.type_name()
                )));
            }
        }
        validate_events("initial_events", &initial, &[], false, false)?;
        let session = Session {
            kind: "session".into(),
            id: ids::new_id(ids::SESSION),
            status: SessionStatus::Idle,
            agent,
            environment_id: p.environment_id.clone(),
            resources,
            metadata,
            title: p.title,
            vault_ids: p.vault_ids.unwrap_or_default(),
            budget: p.budget,
            outcome_evaluations: Vec::new(),
            stats: Some(SessionStats::default()),
            usage: Some(SessionUsage {
                input_tokens: Some(0),
                output_tokens: Some(0),
                cache_read_input_tokens: Some(0),
                ..Default::default()
            }),
            deployment_id: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        let id = session.id.clone();
        let seq = self.next_seq();
        self.sessions.insert(
            id.clone(),
            SessionRec {
                seq,
                session,
                history: Default::default(),
                queue: VecDeque::new(),
                stalled: false,
                pending: Vec::new(),
                turn: None,
                usage: Tally::default(),
                outcomes: Vec::new(),
                thread_archived_at: None,
                rt: Runtime::default(),
            },
        );
        self.webhook("session.created", &id);
        // A self-hosted environment's worker serves the session from its work queue.
        self.queue_session_work(&id);
        let (_, start) = self.accept_events(&id, initial)?;
        let session = self.session(&id)?.session.clone();
        Ok((session, start))
    }

    pub fn update_session(&mut self, id: &str, p: UpdateSession) -> ApiResult<Session> {
        let rec = self.session(id)?;
        let mut s = rec.session.clone();
        let mut changed = SessionUpdated::default();
        if p.vault_ids.is_some() {
            return Err(ApiError::invalid(
                "vault_ids: updating vault_ids is not supported yet",
            ));
        }
        if let Some(title) = &p.title
            && *title != s.title
        {
            s.title = title.clone();
            changed.title = Some(title.clone());
        }
        if let Some(Some(patch)) = &p.metadata {
            let next = validate::patch_metadata("metadata", &s.metadata, patch, false)?;
            if next != s.metadata {
                s.metadata = next;
                changed.metadata = Some(s.metadata.clone());
            }
        }
        if let Some(budget) = &p.budget {
            if let Some(b) = budget {
                check_budget("budget", b)?;
                if s.budget.is_none() {
                    return Err(ApiError::invalid(
                        "budget: a budget cannot be added to a session created without one",
                    ));
                }
            }
            if *budget != s.budget {
                s.budget = budget.clone();
                changed.budget = Some(budget.clone());
            }
        }
        if let Some(a) = &p.agent {
            if rec.session.status == SessionStatus::Running {
                return Err(ApiError::invalid(
                    "agent: the agent cannot be changed while the session is running",
                ));
            }
            let tools = a.tools.clone().unwrap_or_else(|| s.agent.tools.clone());
            let servers = a
                .mcp_servers
                .clone()
                .unwrap_or_else(|| s.agent.mcp_servers.clone());
            let (tools, servers) = resolve_tools(&tools, &servers)?;
            if tools != s.agent.tools || servers != s.agent.mcp_servers {
                s.agent.tools = tools;
                s.agent.mcp_servers = servers;
                changed.agent = Some(s.agent.clone());
            }
        }
        if changed == SessionUpdated::default() {
            return Ok(s);
        }
        s.updated_at = clock::now();
        if let Some(rec) = self.sessions.get_mut(id) {
            rec.session = s.clone();
        }
        self.append_event(id, SessionEvent::SessionUpdated, changed);
        Ok(s)
    }

    pub fn archive_session(&mut self, id: &str) -> ApiResult<Session> {
        let rec = self.session(id)?;
        if rec.session.archived_at.is_some() {
            return Ok(rec.session.clone());
        }
        if rec.session.status == SessionStatus::Running {
            return Err(ApiError::invalid(format!(
                "session {id:?} is running; wait for it to go idle before archiving it"
            )));
        }
        let now = clock::now();
        let mut interrupt = None;
        if let Some(rec) = self.sessions.get_mut(id) {
            rec.session.archived_at = Some(now);
            rec.session.updated_at = now;
            // A turn waiting on answers can never get them now: wake its runner to end it.
            if rec.rt.wake.take().is_some() {
                interrupt = Some(rec.rt.interrupted.clone());
            }
        }
        if let Some(flag) = interrupt {
            self.after_commit(Effect::SetFlag(flag, true));
        }
        self.after_commit(Effect::EndShell(id.to_string()));
        self.webhook("session.archived", id);
        Ok(self.session(id)?.session.clone())
    }

    /// Emits `session.deleted`, closes the log (ending every stream) and forgets the session.
    pub fn delete_session(&mut self, id: &str) -> ApiResult<()> {
        self.session(id)?;
        self.append_event(id, SessionEvent::SessionDeleted, Marker {});
        if let Some(rec) = self.sessions.remove(id) {
            self.after_commit(Effect::SetFlag(rec.rt.interrupted.clone(), true));
            self.after_commit(Effect::Close(rec.rt.log.clone()));
            self.after_commit(Effect::EndShell(id.to_string()));
        }
        // The session's row goes with its journaled removal; its events are not a table's rows.
        self.changes.push(Change::DeleteEvents {
            session_id: id.to_string(),
        });
        Ok(())
    }
}
