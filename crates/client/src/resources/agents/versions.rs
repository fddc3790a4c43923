//! `/v1/agents/{agent_id}/versions`

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::ApiRequest;
use crate::query::Query;
use crate::types::{Agent, ListAgentVersions, Page};

pub struct AgentVersions<'c> {
    client: &'c Client,
}

impl<'c> AgentVersions<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// One `agent` object per version.
    pub async fn list(&self, agent_id: &str, params: &ListAgentVersions) -> Result<Page<Agent>> {
        self.client.call(list_request(agent_id, params)?).await
    }

    pub fn list_all(
        &self,
        agent_id: &str,
        params: &ListAgentVersions,
    ) -> BoxStream<'static, Result<Agent>> {
        self.client.paginate(list_request(agent_id, params))
    }
}

fn list_request(agent_id: &str, p: &ListAgentVersions) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(super::item(Method::GET, agent_id, Some("versions"))?.query(query))
}
