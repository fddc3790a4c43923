//! `/v1/agents`

pub mod versions;

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{Agent, CreateAgent, ListAgents, Page, UpdateAgent};

pub struct Agents<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::ManagedAgents;

impl<'c> Agents<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `/v1/agents/{id}/versions`.
    pub fn versions(&self) -> versions::AgentVersions<'c> {
        versions::AgentVersions::new(self.client)
    }

    pub async fn create(&self, params: &CreateAgent) -> Result<Agent> {
        self.client
            .call(ApiRequest::new(Method::POST, BETA, &[Seg::Lit("agents")])?.json(params)?)
            .await
    }

    /// The latest version, or `version` when given.
    pub async fn retrieve(&self, agent_id: &str, version: Option<u64>) -> Result<Agent> {
        let req = item(Method::GET, agent_id, None)?.query(Query::new().opt("version", version));
        self.client.call(req).await
    }

    /// Set `params.version` to fail (rather than overwrite) when someone else changed the agent.
    pub async fn update(&self, agent_id: &str, params: &UpdateAgent) -> Result<Agent> {
        self.client
            .call(item(Method::POST, agent_id, None)?.json(params)?)
            .await
    }

    pub async fn list(&self, params: &ListAgents) -> Result<Page<Agent>> {
        self.client.call(list_request(params)?).await
    }

    pub fn list_all(&self, params: &ListAgents) -> BoxStream<'static, Result<Agent>> {
        self.client.paginate(list_request(params))
    }

    /// The API has no agent delete; archive instead.
    pub async fn archive(&self, agent_id: &str) -> Result<Agent> {
        self.client
            .call(item(Method::POST, agent_id, Some("archive"))?)
            .await
    }
}

pub(super) fn item(method: Method, id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![Seg::Lit("agents"), Seg::Id("agent_id", id)];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(p: &ListAgents) -> Result<ApiRequest> {
    let query = Query::new()
        .time("created_at[gte]", p.created_at_gte)
        .time("created_at[lte]", p.created_at_lte)
        .opt("include_archived", p.include_archived)
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(ApiRequest::new(Method::GET, BETA, &[Seg::Lit("agents")])?.query(query))
}
