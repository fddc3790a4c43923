//! `/v1/memory_stores/{memory_store_id}/memories`

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    CreateMemory, DeleteMemory, Deleted, ListMemories, Memory, MemoryListItem, Page, UpdateMemory,
    View,
};

pub struct Memories<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::Memory;

impl<'c> Memories<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `view` defaults to `basic` on the server (content null).
    pub async fn create(
        &self,
        memory_store_id: &str,
        params: &CreateMemory,
        view: Option<View>,
    ) -> Result<Memory> {
        let req = collection(Method::POST, memory_store_id)?
            .query(Query::new().opt("view", view.map(View::as_str)))
            .json(params)?;
        self.client.call(req).await
    }

    /// `view` defaults to `full` on the server for this call.
    pub async fn retrieve(
        &self,
        memory_store_id: &str,
        memory_id: &str,
        view: Option<View>,
    ) -> Result<Memory> {
        let req = item(Method::GET, memory_store_id, memory_id)?
            .query(Query::new().opt("view", view.map(View::as_str)));
        self.client.call(req).await
    }

    /// With `precondition`, applies only if the current `content_sha256` matches; otherwise 409
    /// `memory_precondition_failed_error`, which this client never retries.
    pub async fn update(
        &self,
        memory_store_id: &str,
        memory_id: &str,
        params: &UpdateMemory,
        view: Option<View>,
    ) -> Result<Memory> {
        let req = item(Method::POST, memory_store_id, memory_id)?
            .query(Query::new().opt("view", view.map(View::as_str)))
            .json(params)?;
        self.client.call(req).await
    }

    pub async fn list(
        &self,
        memory_store_id: &str,
        params: &ListMemories,
    ) -> Result<Page<MemoryListItem>> {
        self.client
            .call(list_request(memory_store_id, params)?)
            .await
    }

    /// Every item below the prefix, following `next_page`.
    pub fn list_all(
        &self,
        memory_store_id: &str,
        params: &ListMemories,
    ) -> BoxStream<'static, Result<MemoryListItem>> {
        self.client.paginate(list_request(memory_store_id, params))
    }

    /// With `expected_content_sha256`, deletes only if the content is unchanged; otherwise 409.
    pub async fn delete(
        &self,
        memory_store_id: &str,
        memory_id: &str,
        params: &DeleteMemory,
    ) -> Result<Deleted> {
        let req = item(Method::DELETE, memory_store_id, memory_id)?.query(Query::new().opt(
            "expected_content_sha256",
            params.expected_content_sha256.as_deref(),
        ));
        self.client.call(req).await
    }
}

fn collection(method: Method, store: &str) -> Result<ApiRequest> {
    ApiRequest::new(
        method,
        BETA,
        &[
            Seg::Lit("memory_stores"),
            Seg::Id("memory_store_id", store),
            Seg::Lit("memories"),
        ],
    )
}

fn item(method: Method, store: &str, memory: &str) -> Result<ApiRequest> {
    ApiRequest::new(
        method,
        BETA,
        &[
            Seg::Lit("memory_stores"),
            Seg::Id("memory_store_id", store),
            Seg::Lit("memories"),
            Seg::Id("memory_id", memory),
        ],
    )
}

fn list_request(store: &str, p: &ListMemories) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("path_prefix", p.path_prefix.as_deref())
        .opt("depth", p.depth)
        .opt("view", p.view.map(View::as_str))
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(collection(Method::GET, store)?.query(query))
}
