//! `/v1/environments` and, below it, the work queue of self-hosted environments.

pub mod work;

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    CreateEnvironment, Deleted, Environment, ListEnvironments, Page, UpdateEnvironment,
};

pub struct Environments<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::ManagedAgents;

impl<'c> Environments<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `/v1/environments/{environment_id}/work`.
    pub fn work(&self) -> work::WorkQueue<'c> {
        work::WorkQueue::new(self.client)
    }

    pub async fn create(&self, params: &CreateEnvironment) -> Result<Environment> {
        self.client
            .call(ApiRequest::new(Method::POST, BETA, &[Seg::Lit("environments")])?.json(params)?)
            .await
    }

    pub async fn retrieve(&self, environment_id: &str) -> Result<Environment> {
        self.client
            .call(item(Method::GET, environment_id, None)?)
            .await
    }

    pub async fn update(
        &self,
        environment_id: &str,
        params: &UpdateEnvironment,
    ) -> Result<Environment> {
        self.client
            .call(item(Method::POST, environment_id, None)?.json(params)?)
            .await
    }

    pub async fn list(&self, params: &ListEnvironments) -> Result<Page<Environment>> {
        self.client.call(list_request(params)?).await
    }

    pub fn list_all(&self, params: &ListEnvironments) -> BoxStream<'static, Result<Environment>> {
        self.client.paginate(list_request(params))
    }

    /// Archived environments cannot be used for new sessions.
    pub async fn archive(&self, environment_id: &str) -> Result<Environment> {
        self.client
            .call(item(Method::POST, environment_id, Some("archive"))?)
            .await
    }

    pub async fn delete(&self, environment_id: &str) -> Result<Deleted> {
        self.client
            .call(item(Method::DELETE, environment_id, None)?)
            .await
    }
}

fn item(method: Method, id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![Seg::Lit("environments"), Seg::Id("environment_id", id)];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(p: &ListEnvironments) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("include_archived", p.include_archived)
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(ApiRequest::new(Method::GET, BETA, &[Seg::Lit("environments")])?.query(query))
}
