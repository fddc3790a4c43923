//! `/v1/sessions/{session_id}/events`: what clients send and what sessions emit.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{ContentBlock, joined_text};
use crate::open_union;
use crate::sessions::{Budget, SessionAgent, SessionUsage};
use crate::shared::{Metadata, Timestamp, double_option};

mod envelope;
pub use envelope::Event;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    pub content: Vec<ContentBlock>,
}

impl UserMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![ContentBlock::text(text)],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserInterrupt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserToolConfirmation {
    pub tool_use_id: String,
    /// `allow` or `deny`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCustomToolResult {
    pub custom_tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

/// Only for `self_hosted` environments, where the client runs the toolset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserToolResult {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDefineOutcome {
    pub description: String,
    pub rubric: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Set on the echo (`outc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessage {
    pub content: Vec<ContentBlock>,
}

/// An event with no fields beyond `id`, `type` and `processed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Marker {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    pub content: Vec<ContentBlock>,
}

impl AgentMessage {
    pub fn text(&self) -> String {
        joined_text(&self.content)
    }
}

open_union! {
    /// The server's own judgement of one invocation under an `auto` policy.
    pub enum AutoPermission {
        "allow" => Allow(Marker),
        "ask" => Ask(AutoJudgement),
        "deny" => Deny(AutoJudgement),
    }
}

/// Why an `auto` policy held or refused a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoJudgement {
    /// An open registry: `indeterminate`, `high_risk`, or values added later.
    pub reason_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoEvaluation {
    pub evaluated_permission: AutoPermission,
}

open_union! {
    /// Which resolved `permission_policy` produced a tool use's `evaluated_permission`.
    pub enum ToolEvaluation {
        "always_allow" => AlwaysAllow(Marker),
        "always_ask" => AlwaysAsk(Marker),
        "auto" => Auto(AutoEvaluation),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentToolUse {
    pub name: String,
    #[serde(default)]
    pub input: Value,
    /// `allow`, `ask` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_permission: Option<String>,
    /// Absent only when the call was refused before any policy applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<ToolEvaluation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentToolResult {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentCustomToolUse {
    pub name: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMcpToolUse {
    pub name: String,
    pub mcp_server_name: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_permission: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<ToolEvaluation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_thread_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMcpToolResult {
    pub mcp_tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadMessageSent {
    pub to_session_thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent_name: Option<String>,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadMessageReceived {
    pub from_session_thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_agent_name: Option<String>,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequiresAction {
    #[serde(default)]
    pub event_ids: Vec<String>,
}

open_union! {
    /// Why a session (or thread) went idle. Only `end_turn` is a normal finish.
    pub enum StopReason {
        "end_turn" => EndTurn(Marker),
        "requires_action" => RequiresAction(RequiresAction),
        "retries_exhausted" => RetriesExhausted(Marker),
        "budget_reached" => BudgetReached(Marker),
        "refusal" => Refusal(Marker),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusIdle {
    pub stop_reason: StopReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_details: Option<Value>,
}

open_union! {
    /// What a client should do after a `session.error`.
    pub enum RetryStatus {
        "retrying" => Retrying(Marker),
        "exhausted" => Exhausted(Marker),
        "terminal" => Terminal(Marker),
    }
}

/// `session.error`'s `error`; variant-specific fields (`mcp_server_name`, …) stay in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_status: Option<RetryStatus>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionError {
    pub error: SessionErrorDetail,
}

/// Only the fields that changed; absent fields were not part of the update.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionUpdated {
    /// The new title; `Some(None)` (JSON `null`) when the update cleared it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub title: Option<Option<String>>,
    /// The full metadata bag after the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The budget after the update; `Some(None)` (JSON `null`) when the update removed it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub budget: Option<Option<Budget>>,
    /// The full materialised agent snapshot, present only when tools or MCP servers changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<SessionAgent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionUsageEvent {
    pub usage: SessionUsage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCreated {
    pub session_thread_id: String,
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadStatus {
    pub session_thread_id: String,
    pub agent_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadStatusIdle {
    pub session_thread_id: String,
    pub agent_name: String,
    pub stop_reason: StopReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_details: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequestEnd {
    pub model_request_start_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default)]
    pub model_usage: ModelUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvaluationProgress {
    pub outcome_id: String,
    pub iteration: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvaluationEnd {
    pub outcome_evaluation_start_id: String,
    pub outcome_id: String,
    pub iteration: u32,
    pub result: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
}

/// Every `workflow_run.*` event: the run id plus the type's own fields in `fields`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkflowRunEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewedEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Stream only, with `event_deltas[]`: a preview of an `agent.message` or `agent.thinking` begins.
/// Note the wrapper has no `id` or `processed_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventStart {
    pub event: PreviewedEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentDelta {
    #[serde(rename = "type", default = "content_delta_type")]
    pub kind: String,
    /// A missing index means 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub content: ContentBlock,
}

fn content_delta_type() -> String {
    "content_delta".into()
}

/// Stream only: a piece of a previewed event's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDelta {
    pub event_id: String,
    pub delta: ContentDelta,
}

macro_rules! session_events {
    ($( $tag:literal => $variant:ident($ty:ty), )*) => {
        open_union! {
            /// Every event a session's list or stream can carry.
            ///
            /// Each known variant's payload is boxed, so a `SessionEvent` is 32 bytes however
            /// large its body. Unboxed it was 288 bytes (its largest body), copied through every
            /// layer of decoding: boxing took typed stream decoding from 465 to 505 MiB/s in
            /// `cma bench sse --typed` (2-core AMD EPYC), one allocation per event included.
            /// Fields read through the box as before (`event.body.content`).
            pub enum SessionEvent {
                $( $tag => $variant(Box<$ty>), )*
                "event_start" => EventStart(Box<EventStart>),
                "event_delta" => EventDelta(Box<EventDelta>),
            }
        }

        impl SessionEvent {
            /// The event's id; `event_start` and `event_delta` previews have none.
            pub fn id(&self) -> Option<&str> {
                match self {
                    $( Self::$variant(e) => Some(&e.id), )*
                    Self::EventStart(_) | Self::EventDelta(_) => None,
                    Self::Unknown(raw) => raw.get("id").and_then(Value::as_str),
                }
            }

            pub fn processed_at(&self) -> Option<Timestamp> {
                match self {
                    $( Self::$variant(e) => e.processed_at, )*
                    Self::EventStart(_) | Self::EventDelta(_) => None,
                    Self::Unknown(raw) => raw
                        .get("processed_at")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok()),
                }
            }
        }
    };
}

session_events! {
    "user.message" => UserMessage(Event<UserMessage>),
    "user.interrupt" => UserInterrupt(Event<UserInterrupt>),
    "user.tool_confirmation" => UserToolConfirmation(Event<UserToolConfirmation>),
    "user.custom_tool_result" => UserCustomToolResult(Event<UserCustomToolResult>),
    "user.define_outcome" => UserDefineOutcome(Event<UserDefineOutcome>),
    "user.tool_result" => UserToolResult(Event<UserToolResult>),
    "system.message" => SystemMessage(Event<SystemMessage>),
    "agent.message" => AgentMessage(Event<AgentMessage>),
    "agent.thinking" => AgentThinking(Event<Marker>),
    "agent.tool_use" => AgentToolUse(Event<AgentToolUse>),
    "agent.tool_result" => AgentToolResult(Event<AgentToolResult>),
    "agent.custom_tool_use" => AgentCustomToolUse(Event<AgentCustomToolUse>),
    "agent.mcp_tool_use" => AgentMcpToolUse(Event<AgentMcpToolUse>),
    "agent.mcp_tool_result" => AgentMcpToolResult(Event<AgentMcpToolResult>),
    "agent.thread_message_received" => AgentThreadMessageReceived(Event<ThreadMessageReceived>),
    "agent.thread_message_sent" => AgentThreadMessageSent(Event<ThreadMessageSent>),
    "agent.thread_context_compacted" => AgentThreadContextCompacted(Event<Marker>),
    "session.status_running" => SessionStatusRunning(Event<Marker>),
    "session.status_idle" => SessionStatusIdle(Event<StatusIdle>),
    "session.status_rescheduled" => SessionStatusRescheduled(Event<Marker>),
    "session.status_terminated" => SessionStatusTerminated(Event<Marker>),
    "session.error" => SessionError(Event<SessionError>),
    "session.updated" => SessionUpdated(Event<SessionUpdated>),
    "session.usage" => SessionUsage(Event<SessionUsageEvent>),
    "session.deleted" => SessionDeleted(Event<Marker>),
    "session.thread_created" => SessionThreadCreated(Event<ThreadCreated>),
    "session.thread_status_running" => SessionThreadStatusRunning(Event<ThreadStatus>),
    "session.thread_status_idle" => SessionThreadStatusIdle(Event<ThreadStatusIdle>),
    "session.thread_status_rescheduled" => SessionThreadStatusRescheduled(Event<ThreadStatus>),
    "session.thread_status_terminated" => SessionThreadStatusTerminated(Event<ThreadStatus>),
    "span.model_request_start" => SpanModelRequestStart(Event<Marker>),
    "span.model_request_end" => SpanModelRequestEnd(Event<ModelRequestEnd>),
    "span.outcome_evaluation_start" => SpanOutcomeEvaluationStart(Event<OutcomeEvaluationProgress>),
    "span.outcome_evaluation_ongoing" => SpanOutcomeEvaluationOngoing(Event<OutcomeEvaluationProgress>),
    "span.outcome_evaluation_end" => SpanOutcomeEvaluationEnd(Event<OutcomeEvaluationEnd>),
    "workflow_run.created" => WorkflowRunCreated(Event<WorkflowRunEvent>),
    "workflow_run.status_running" => WorkflowRunStatusRunning(Event<WorkflowRunEvent>),
    "workflow_run.status_idle" => WorkflowRunStatusIdle(Event<WorkflowRunEvent>),
    "workflow_run.status_ended" => WorkflowRunStatusEnded(Event<WorkflowRunEvent>),
    "workflow_run.error" => WorkflowRunError(Event<WorkflowRunEvent>),
    "workflow_run.phase_started" => WorkflowRunPhaseStarted(Event<WorkflowRunEvent>),
    "workflow_run.phase_ended" => WorkflowRunPhaseEnded(Event<WorkflowRunEvent>),
}

// Unboxing a variant would bring back the copies the box is there to avoid.
const _: () = assert!(std::mem::size_of::<SessionEvent>() <= 32);

open_union! {
    /// An event a client sends with `events.send` (or in a session's `initial_events`).
    pub enum ClientEvent {
        "user.message" => UserMessage(UserMessage),
        "user.interrupt" => UserInterrupt(UserInterrupt),
        "user.tool_confirmation" => UserToolConfirmation(UserToolConfirmation),
        "user.custom_tool_result" => UserCustomToolResult(UserCustomToolResult),
        "user.tool_result" => UserToolResult(UserToolResult),
        "user.define_outcome" => UserDefineOutcome(UserDefineOutcome),
        "system.message" => SystemMessage(SystemMessage),
    }
}

impl ClientEvent {
    /// The event as the session stores and echoes it, stamped with its `id` and `processed_at`.
    pub fn into_session_event(
        self,
        id: impl Into<String>,
        processed_at: Timestamp,
    ) -> SessionEvent {
        let id = id.into();
        match self {
            Self::UserMessage(b) => {
                SessionEvent::UserMessage(Box::new(Event::new(id, processed_at, b)))
            }
            Self::UserInterrupt(b) => {
                SessionEvent::UserInterrupt(Box::new(Event::new(id, processed_at, b)))
            }
            Self::UserToolConfirmation(b) => {
                SessionEvent::UserToolConfirmation(Box::new(Event::new(id, processed_at, b)))
            }
            Self::UserCustomToolResult(b) => {
                SessionEvent::UserCustomToolResult(Box::new(Event::new(id, processed_at, b)))
            }
            Self::UserToolResult(b) => {
                SessionEvent::UserToolResult(Box::new(Event::new(id, processed_at, b)))
            }
            Self::UserDefineOutcome(b) => {
                SessionEvent::UserDefineOutcome(Box::new(Event::new(id, processed_at, b)))
            }
            Self::SystemMessage(b) => {
                SessionEvent::SystemMessage(Box::new(Event::new(id, processed_at, b)))
            }
            Self::Unknown(mut raw) => {
                if let Some(o) = raw.as_object_mut() {
                    o.insert("id".into(), Value::String(id));
                    o.insert(
                        "processed_at".into(),
                        serde_json::to_value(processed_at).unwrap_or(Value::Null),
                    );
                }
                SessionEvent::Unknown(raw)
            }
        }
    }
}

/// Body of `POST /v1/sessions/{id}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEvents {
    pub events: Vec<ClientEvent>,
}

/// Response of `POST /v1/sessions/{id}/events`: the echoed events with their ids.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SentEvents {
    #[serde(default)]
    pub data: Vec<SessionEvent>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListEvents {
    pub types: Vec<String>,
    pub created_at_gt: Option<Timestamp>,
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lt: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub order: Option<super::sessions::Order>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamEvents {
    /// `agent.message` and/or `agent.thinking`: ask for `event_start` / `event_delta` previews.
    pub event_deltas: Vec<String>,
}
