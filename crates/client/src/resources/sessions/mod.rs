//! `/v1/sessions`

pub mod events;
pub mod resources;
pub mod threads;

use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    CreateSession, Deleted, ListSessions, Page, Session, SessionStatus, UpdateSession,
};

pub struct Sessions<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::ManagedAgents;

impl<'c> Sessions<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `/v1/sessions/{id}/events`.
    pub fn events(&self) -> events::Events<'c> {
        events::Events::new(self.client)
    }

    /// `/v1/sessions/{id}/resources`.
    pub fn resources(&self) -> resources::Resources<'c> {
        resources::Resources::new(self.client)
    }

    /// `/v1/sessions/{id}/threads`.
    pub fn threads(&self) -> threads::Threads<'c> {
        threads::Threads::new(self.client)
    }

    pub async fn create(&self, params: &CreateSession) -> Result<Session> {
        self.client
            .call(ApiRequest::new(Method::POST, BETA, &[Seg::Lit("sessions")])?.json(params)?)
            .await
    }

    pub async fn retrieve(&self, session_id: &str) -> Result<Session> {
        self.client.call(item(Method::GET, session_id, None)?).await
    }

    pub async fn update(&self, session_id: &str, params: &UpdateSession) -> Result<Session> {
        self.client
            .call(item(Method::POST, session_id, None)?.json(params)?)
            .await
    }

    pub async fn list(&self, params: &ListSessions) -> Result<Page<Session>> {
        self.client.call(list_request(params)?).await
    }

    pub fn list_all(&self, params: &ListSessions) -> BoxStream<'static, Result<Session>> {
        self.client.paginate(list_request(params))
    }

    /// Archiving a `running` session is a 400: call [`Sessions::wait_for_idle`] first.
    pub async fn archive(&self, session_id: &str) -> Result<Session> {
        self.client
            .call(item(Method::POST, session_id, Some("archive"))?)
            .await
    }

    /// Also ends any open event stream with a `session.deleted` event.
    pub async fn delete(&self, session_id: &str) -> Result<Deleted> {
        self.client
            .call(item(Method::DELETE, session_id, None)?)
            .await
    }

    /// Polls the session every 250 ms until its status is `idle` (or `terminated`), for at most
    /// `timeout`. After a `session.status_idle` event the session may still read `running` for a
    /// moment; this is the cookbook's `wait_for_idle_status`.
    pub async fn wait_for_idle(&self, session_id: &str, timeout: Duration) -> Result<Session> {
        let deadline = Instant::now() + timeout;
        loop {
            let session = self.retrieve(session_id).await?;
            if matches!(
                session.status,
                SessionStatus::Idle | SessionStatus::Terminated
            ) {
                return Ok(session);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(timeout));
            }
            tokio::time::sleep(Duration::from_millis(250).min(deadline - Instant::now())).await;
        }
    }
}

pub(super) fn item(method: Method, id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![Seg::Lit("sessions"), Seg::Id("session_id", id)];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(p: &ListSessions) -> Result<ApiRequest> {
    let statuses: Vec<&str> = p.statuses.iter().map(SessionStatus::as_str).collect();
    let query = Query::new()
        .opt("agent_id", p.agent_id.as_deref())
        .opt("agent_version", p.agent_version)
        .opt("deployment_id", p.deployment_id.as_deref())
        .opt("memory_store_id", p.memory_store_id.as_deref())
        .array("statuses", &statuses)
        .opt("include_archived", p.include_archived)
        .time("created_at[gt]", p.created_at_gt)
        .time("created_at[gte]", p.created_at_gte)
        .time("created_at[lt]", p.created_at_lt)
        .time("created_at[lte]", p.created_at_lte)
        .opt("order", p.order.map(|o| o.as_str()))
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(ApiRequest::new(Method::GET, BETA, &[Seg::Lit("sessions")])?.query(query))
}
