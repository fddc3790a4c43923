//! `/v1/environments/{environment_id}/work`: the work queue of a self-hosted environment.
//!
//! The worker-side calls (poll, ack, heartbeat, stop, list) take the environment key as the
//! client's bearer token (`Client::builder().auth_token(key)`); retrieve, update and stats take
//! an API key.

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    HeartbeatWork, ListWork, Page, PollWork, StopWork, UpdateWork, Work, WorkHeartbeat,
    WorkQueueStats,
};

pub struct WorkQueue<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::ManagedAgents;

impl<'c> WorkQueue<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// The next work item (acknowledge it to keep it), or `None` when the queue is empty.
    pub async fn poll(&self, environment_id: &str, params: &PollWork) -> Result<Option<Work>> {
        let query = Query::new()
            .opt("block_ms", params.block_ms)
            .opt("reclaim_older_than_ms", params.reclaim_older_than_ms);
        let mut req = queue(Method::GET, environment_id, Some("poll"))?.query(query);
        if let Some(worker) = &params.worker_id {
            req = req.header("anthropic-worker-id", worker);
        }
        self.client.call(req).await
    }

    /// `queued` → `starting`: the item leaves the queue.
    pub async fn ack(&self, environment_id: &str, work_id: &str) -> Result<Work> {
        self.client
            .call(item(Method::POST, environment_id, work_id, Some("ack"))?)
            .await
    }

    /// Renews the lease; a 412 (`heartbeat_precondition_failed`) means it was lost.
    pub async fn heartbeat(
        &self,
        environment_id: &str,
        work_id: &str,
        params: &HeartbeatWork,
    ) -> Result<WorkHeartbeat> {
        let query = Query::new()
            .opt("desired_ttl_seconds", params.desired_ttl_seconds)
            .opt(
                "expected_last_heartbeat",
                params.expected_last_heartbeat.as_deref(),
            );
        self.client
            .call(item(Method::POST, environment_id, work_id, Some("heartbeat"))?.query(query))
            .await
    }

    pub async fn stop(
        &self,
        environment_id: &str,
        work_id: &str,
        params: &StopWork,
    ) -> Result<Work> {
        self.client
            .call(item(Method::POST, environment_id, work_id, Some("stop"))?.json(params)?)
            .await
    }

    pub async fn retrieve(&self, environment_id: &str, work_id: &str) -> Result<Work> {
        self.client
            .call(item(Method::GET, environment_id, work_id, None)?)
            .await
    }

    pub async fn update(
        &self,
        environment_id: &str,
        work_id: &str,
        params: &UpdateWork,
    ) -> Result<Work> {
        self.client
            .call(item(Method::POST, environment_id, work_id, None)?.json(params)?)
            .await
    }

    pub async fn stats(&self, environment_id: &str) -> Result<WorkQueueStats> {
        self.client
            .call(queue(Method::GET, environment_id, Some("stats"))?)
            .await
    }

    pub async fn list(&self, environment_id: &str, params: &ListWork) -> Result<Page<Work>> {
        self.client
            .call(list_request(environment_id, params)?)
            .await
    }

    pub fn list_all(
        &self,
        environment_id: &str,
        params: &ListWork,
    ) -> BoxStream<'static, Result<Work>> {
        self.client.paginate(list_request(environment_id, params))
    }
}

fn queue(method: Method, environment_id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![
        Seg::Lit("environments"),
        Seg::Id("environment_id", environment_id),
        Seg::Lit("work"),
    ];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn item(
    method: Method,
    environment_id: &str,
    work_id: &str,
    action: Option<&str>,
) -> Result<ApiRequest> {
    let mut segs = vec![
        Seg::Lit("environments"),
        Seg::Id("environment_id", environment_id),
        Seg::Lit("work"),
        Seg::Id("work_id", work_id),
    ];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(environment_id: &str, p: &ListWork) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(queue(Method::GET, environment_id, None)?.query(query))
}
