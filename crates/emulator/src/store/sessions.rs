//! Sessions and their event logs (reference 4.6, 4.8, 5.9, 5.10, 6). Turns themselves run in
//! [`crate::runner`]; this module keeps the state they share with the API.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};

use cma_types::{
    Access, Agent, AgentRef, AgentSpec, Budget, ClientEvent, ContentBlock, CreateSession, Event,
    FileResource, GithubRepositoryResource, Marker, MemoryStoreResource, ResourceParams, Session,
    SessionAgent, SessionEvent, SessionResource, SessionStats, SessionStatus, SessionUpdated,
    SessionUsage, StatusIdle, StopReason, UpdateSession,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agents::{resolve_model, resolve_tools};
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

/// A `user.message` waiting for its turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub event_id: String,
    pub text: String,
}

/// A user's answer to an `ask`-gated tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub allow: bool,
    pub deny_message: Option<String>,
}

/// Per-session state that lives only in this process.
#[derive(Debug, Default)]
pub struct Runtime {
    pub log: Arc<EventLog>,
    /// A runner thread is working on this session's queue.
    pub runner_active: bool,
    /// Where a runner blocked on a tool confirmation waits.
    pub confirm: Option<mpsc::Sender<Confirmation>>,
    pub interrupted: Arc<AtomicBool>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionRec {
    pub seq: u64,
    pub session: Session,
    /// Earlier exchanges `(user, agent)`, oldest first.
    #[serde(default)]
    pub history: Vec<(String, String)>,
    #[serde(default)]
    pub queue: VecDeque<Queued>,
    /// `running` with no runner: the `emulator:stall` behaviour (or a turn cut by a restart).
    #[serde(default)]
    pub stalled: bool,
    /// `agent.tool_use` ids waiting for a `user.tool_confirmation`.
    #[serde(default)]
    pub pending_tool_uses: Vec<String>,
    #[serde(skip)]
    pub rt: Runtime,
}

impl SessionRec {
    fn persisted(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn text_of(blocks: &[ContentBlock]) -> String {
    blocks
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect::<Vec<_>>()
        .join("\n")
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

fn check_content_blocks(field: &str, blocks: &[ContentBlock], text_only: bool) -> ApiResult<()> {
    if blocks.is_empty() {
        return Err(ApiError::invalid(format!(
            "{field}: must contain at least one content block"
        )));
    }
    for (i, b) in blocks.iter().enumerate() {
        match b {
            ContentBlock::Text(t) if t.text.is_empty() => {
                return Err(ApiError::invalid(format!(
                    "{field}[{i}].text: text content blocks must be non-empty"
                )));
            }
            ContentBlock::Text(_) => {}
            ContentBlock::Image(_) | ContentBlock::Document(_) | ContentBlock::Redacted(_)
                if !text_only => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "{field}[{i}].type: block type {:?} is not allowed here",
                    other.type_name()
                )));
            }
        }
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

    pub(crate) fn persist_session(&mut self, id: &str) {
        if let Some(rec) = self.sessions.get(id) {
            let json = rec.persisted().to_string();
            self.changes.push(Change::Put {
                kind: KIND_SESSION,
                id: id.to_string(),
                json,
            });
        }
    }

    /// Ends a turn: the session's status becomes `idle` and a `session.status_idle` event with
    /// `stop_reason` is appended. Callers settle the runner and queue state themselves.
    pub(crate) fn go_idle(&mut self, id: &str, stop_reason: StopReason) {
        let Some(rec) = self.sessions.get_mut(id) else {
            return;
        };
        rec.session.status = SessionStatus::Idle;
        rec.session.updated_at = clock::now();
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
        variant: impl FnOnce(Event<T>) -> SessionEvent,
        body: T,
    ) -> Option<Arc<StoredEvent>> {
        self.append_stamped(session_id, |id, at| variant(Event::new(id, at, body)))
    }

    /// Appends the event `stamp` builds from the new event's id and time; see [`Self::append_event`].
    pub(crate) fn append_stamped(
        &mut self,
        session_id: &str,
        stamp: impl FnOnce(String, Timestamp) -> SessionEvent,
    ) -> Option<Arc<StoredEvent>> {
        let rec = self.sessions.get(session_id)?;
        let log = rec.rt.log.clone();
        let now = clock::now();
        let id = ids::new_id(ids::EVENT);
        let event = stamp(id.clone(), now);
        let kind = event.type_name().to_string();
        let json = match serde_json::to_value(&event) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(session_id, kind, error = %e, "event does not serialize");
                return None;
            }
        };
        let event = Arc::new(StoredEvent {
            id,
            kind,
            processed_at: now,
            json,
        });
        let seq = log.len() as u64;
        if !log.push(event.clone()) {
            return None;
        }
        self.changes.push(Change::Event {
            session_id: session_id.to_string(),
            seq,
            json: event.json.to_string(),
        });
        self.notify.push(log);
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
                    if p.file_id.is_empty() {
                        return Err(ApiError::invalid(format!(
                            "{field}.file_id: must not be empty"
                        )));
                    }
                    let mount_path = match &p.mount_path {
                        Some(m) if !m.starts_with('/') => {
                            return Err(ApiError::invalid(format!(
                                "{field}.mount_path: must be an absolute path"
                            )));
                        }
                        Some(m) => m.clone(),
                        None => format!("/mnt/session/uploads/{}", p.file_id),
                    };
                    out.push(SessionResource::File(FileResource {
                        id: ids::new_id(ids::SESSION_RESOURCE),
                        file_id: p.file_id.clone(),
                        mount_path,
                        created_at: now,
                        updated_at: now,
                    }));
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
        validate_events("initial_events", &initial, &[], false)?;
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
                history: Vec::new(),
                queue: VecDeque::new(),
                stalled: false,
                pending_tool_uses: Vec::new(),
                rt: Runtime::default(),
            },
        );
        // A self-hosted environment's worker serves the session from its work queue.
        self.queue_session_work(&id);
        let (_, start) = self.accept_events(&id, initial)?;
        self.persist_session(&id);
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
                changed.agent = Some(Box::new(s.agent.clone()));
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
        self.persist_session(id);
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
            // A turn waiting on a tool confirmation can never get one now: end it.
            if rec.rt.confirm.take().is_some() {
                interrupt = Some(rec.rt.interrupted.clone());
                rec.pending_tool_uses.clear();
                rec.rt.runner_active = false;
            }
        }
        if let Some(flag) = interrupt {
            self.after_commit(Effect::SetFlag(flag, true));
        }
        self.persist_session(id);
        Ok(self.session(id)?.session.clone())
    }

    /// Emits `session.deleted`, closes the log (ending every stream) and forgets the session.
    pub fn delete_session(&mut self, id: &str) -> ApiResult<()> {
        self.session(id)?;
        self.append_event(id, SessionEvent::SessionDeleted, Marker {});
        if let Some(rec) = self.sessions.remove(id) {
            self.after_commit(Effect::SetFlag(rec.rt.interrupted.clone(), true));
            self.after_commit(Effect::Close(rec.rt.log.clone()));
        }
        self.changes.push(Change::Delete {
            kind: KIND_SESSION,
            id: id.to_string(),
        });
        self.changes.push(Change::DeleteEvents {
            session_id: id.to_string(),
        });
        Ok(())
    }

    /// `POST /events`: validates every event first, then echoes and acts on each in order.
    /// Returns the echoes and whether a runner must start.
    pub fn send_events(
        &mut self,
        id: &str,
        events: Vec<ClientEvent>,
    ) -> ApiResult<(Vec<SessionEvent>, bool)> {
        let rec = self.session(id)?;
        if rec.session.archived_at.is_some() {
            return Err(ApiError::invalid(format!(
                "session {id:?} is archived and cannot receive events"
            )));
        }
        if events.is_empty() {
            return Err(ApiError::invalid("events: must contain at least one event"));
        }
        let self_hosted = matches!(
            self.environments
                .get(&rec.session.environment_id)
                .and_then(|e| e.env.config.as_ref()),
            Some(cma_types::EnvironmentConfig::SelfHosted(_))
        );
        validate_events("events", &events, &rec.pending_tool_uses, self_hosted)?;
        let result = self.accept_events(id, events)?;
        if result.1 {
            // A dormant self-hosted session (its worker stopped) needs a worker again.
            self.queue_session_work(id);
        }
        self.persist_session(id);
        Ok(result)
    }

    /// Echoes already-validated events and applies them.
    fn accept_events(
        &mut self,
        id: &str,
        events: Vec<ClientEvent>,
    ) -> ApiResult<(Vec<SessionEvent>, bool)> {
        let mut echoes = Vec::new();
        let mut start = false;
        for mut event in events {
            if let ClientEvent::UserDefineOutcome(o) = &mut event {
                o.outcome_id = Some(ids::new_id(ids::OUTCOME));
            }
            let mut echo = None;
            let stored = self
                .append_stamped(id, |event_id, at| {
                    let stamped = event.clone().into_session_event(event_id, at);
                    echo = Some(stamped.clone());
                    stamped
                })
                .ok_or_else(|| ApiError::not_found(format!("session {id:?} not found")))?;
            echoes.extend(echo);
            match event {
                ClientEvent::UserMessage(m) => {
                    let Some(rec) = self.sessions.get_mut(id) else {
                        continue;
                    };
                    rec.queue.push_back(Queued {
                        event_id: stored.id.clone(),
                        text: text_of(&m.content),
                    });
                    if !rec.rt.runner_active && !rec.stalled && rec.pending_tool_uses.is_empty() {
                        rec.rt.runner_active = true;
                        let flag = rec.rt.interrupted.clone();
                        rec.session.status = SessionStatus::Running;
                        rec.session.updated_at = clock::now();
                        start = true;
                        self.after_commit(Effect::SetFlag(flag, false));
                        self.append_event(id, SessionEvent::SessionStatusRunning, Marker {});
                    }
                }
                ClientEvent::UserInterrupt(_) => self.interrupt(id),
                ClientEvent::UserToolConfirmation(c) => {
                    let Some(rec) = self.sessions.get_mut(id) else {
                        continue;
                    };
                    rec.pending_tool_uses.retain(|p| *p != c.tool_use_id);
                    let waiting = rec.rt.confirm.take();
                    rec.session.status = SessionStatus::Running;
                    if let Some(tx) = waiting {
                        let answer = Confirmation {
                            allow: c.result == "allow",
                            deny_message: c.deny_message,
                        };
                        self.after_commit(Effect::Confirm(tx, answer));
                    }
                    self.append_event(id, SessionEvent::SessionStatusRunning, Marker {});
                }
                _ => {}
            }
        }
        Ok((echoes, start))
    }

    fn interrupt(&mut self, id: &str) {
        let Some(rec) = self.sessions.get_mut(id) else {
            return;
        };
        rec.queue.clear();
        if rec.session.status != SessionStatus::Running && rec.pending_tool_uses.is_empty() {
            return;
        }
        let flag = rec.rt.interrupted.clone();
        let waiting = rec.rt.confirm.take().is_some() || !rec.pending_tool_uses.is_empty();
        rec.pending_tool_uses.clear();
        if rec.stalled || waiting || !rec.rt.runner_active {
            // No runner will finish this turn: end it here.
            rec.stalled = false;
            rec.rt.runner_active = false;
            self.go_idle(id, StopReason::EndTurn(Marker {}));
        }
        self.after_commit(Effect::SetFlag(flag, true));
    }
}

/// Checks a batch of client events before any is applied.
pub fn validate_events(
    field: &str,
    events: &[ClientEvent],
    pending: &[String],
    self_hosted: bool,
) -> ApiResult<()> {
    let last = events.len().saturating_sub(1);
    for (i, e) in events.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match e {
            ClientEvent::UserMessage(m) => {
                check_content_blocks(&format!("{f}.content"), &m.content, false)?
            }
            ClientEvent::UserInterrupt(_) => {}
            ClientEvent::UserToolConfirmation(c) => {
                if !matches!(c.result.as_str(), "allow" | "deny") {
                    return Err(ApiError::invalid(format!(
                        "{f}.result: must be `allow` or `deny`"
                    )));
                }
                if c.deny_message.is_some() && c.result != "deny" {
                    return Err(ApiError::invalid(format!(
                        "{f}.deny_message: only allowed with `deny`"
                    )));
                }
                if !pending.contains(&c.tool_use_id) {
                    return Err(ApiError::invalid(format!(
                        "{f}.tool_use_id: no tool use {:?} is waiting for confirmation",
                        c.tool_use_id
                    )));
                }
            }
            ClientEvent::UserCustomToolResult(c) => {
                return Err(ApiError::invalid(format!(
                    "{f}.custom_tool_use_id: no custom tool use {:?} is waiting for a result",
                    c.custom_tool_use_id
                )));
            }
            ClientEvent::UserToolResult(r) => {
                if !self_hosted {
                    return Err(ApiError::invalid(format!(
                        "{f}.type: `user.tool_result` is only accepted in self_hosted environments"
                    )));
                }
                return Err(ApiError::invalid(format!(
                    "{f}.tool_use_id: no tool use {:?} is waiting for a result",
                    r.tool_use_id
                )));
            }
            ClientEvent::UserDefineOutcome(o) => {
                if o.description.trim().is_empty() {
                    return Err(ApiError::invalid(format!(
                        "{f}.description: must not be empty"
                    )));
                }
                let ok = match o.rubric.get("type").and_then(Value::as_str) {
                    Some("text") => o
                        .rubric
                        .get("content")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    Some("file") => o
                        .rubric
                        .get("file_id")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::invalid(format!(
                        "{f}.rubric: must be {{\"type\":\"text\",\"content\"}} or {{\"type\":\"file\",\"file_id\"}}"
                    )));
                }
                if let Some(n) = o.max_iterations
                    && !(1..=20).contains(&n)
                {
                    return Err(ApiError::invalid(format!(
                        "{f}.max_iterations: must be between 1 and 20"
                    )));
                }
            }
            ClientEvent::SystemMessage(m) => {
                check_content_blocks(&format!("{f}.content"), &m.content, true)?;
                if i != last {
                    return Err(ApiError::invalid(format!(
                        "{f}: a `system.message` must be the last event of the request"
                    )));
                }
                let prev = i.checked_sub(1).and_then(|p| events.get(p));
                if !matches!(
                    prev,
                    Some(
                        ClientEvent::UserMessage(_)
                            | ClientEvent::UserToolResult(_)
                            | ClientEvent::UserCustomToolResult(_)
                    )
                ) {
                    return Err(ApiError::invalid(format!(
                        "{f}: a `system.message` must directly follow a `user.message`, `user.tool_result` or `user.custom_tool_result`"
                    )));
                }
            }
            other => {
                let t = other.type_name();
                return Err(ApiError::invalid(format!(
                    "{f}.type: unknown event type {t:?}"
                )));
            }
        }
    }
    Ok(())
}
