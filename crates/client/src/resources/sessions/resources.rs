//! `/v1/sessions/{id}/resources`: list, add a `file`, retrieve, rotate a repository token,
//! delete.

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::ApiRequest;
use crate::query::Query;
use crate::types::{
    Deleted, FileResourceParams, Page, ResourceParams, SessionResource, UpdateSessionResource,
};

pub struct Resources<'c> {
    client: &'c Client,
}

/// Query of `GET /v1/sessions/{id}/resources`; without `limit` every resource comes at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListResources {
    pub limit: Option<u32>,
    pub page: Option<String>,
}

impl<'c> Resources<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    pub async fn list(
        &self,
        session_id: &str,
        params: &ListResources,
    ) -> Result<Page<SessionResource>> {
        self.client.call(list_request(session_id, params)?).await
    }

    pub fn list_all(
        &self,
        session_id: &str,
        params: &ListResources,
    ) -> BoxStream<'static, Result<SessionResource>> {
        self.client.paginate(list_request(session_id, params))
    }

    /// Mounts an uploaded file into the session (only `file` resources can be added; memory
    /// stores attach when the session is created).
    pub async fn add(
        &self,
        session_id: &str,
        params: &FileResourceParams,
    ) -> Result<SessionResource> {
        let body = ResourceParams::File(params.clone());
        self.client
            .call(collection(Method::POST, session_id)?.json(&body)?)
            .await
    }

    pub async fn retrieve(&self, session_id: &str, resource_id: &str) -> Result<SessionResource> {
        self.client
            .call(item(Method::GET, session_id, resource_id)?)
            .await
    }

    /// Rotates a `github_repository` resource's token (the only kind that supports it).
    pub async fn update(
        &self,
        session_id: &str,
        resource_id: &str,
        params: &UpdateSessionResource,
    ) -> Result<SessionResource> {
        self.client
            .call(item(Method::POST, session_id, resource_id)?.json(params)?)
            .await
    }

    /// Answers `session_resource_deleted`.
    pub async fn delete(&self, session_id: &str, resource_id: &str) -> Result<Deleted> {
        self.client
            .call(item(Method::DELETE, session_id, resource_id)?)
            .await
    }
}

fn collection(method: Method, session_id: &str) -> Result<ApiRequest> {
    super::item(method, session_id, Some("resources"))
}

fn item(method: Method, session_id: &str, resource_id: &str) -> Result<ApiRequest> {
    if resource_id.is_empty() {
        return Err(crate::error::Error::InvalidArgument(
            "`resource_id` must not be empty".into(),
        ));
    }
    let req = collection(method, session_id)?;
    Ok(ApiRequest {
        path: format!("{}/{}", req.path, crate::query::segment(resource_id)),
        ..req
    })
}

fn list_request(session_id: &str, p: &ListResources) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(collection(Method::GET, session_id)?.query(query))
}
