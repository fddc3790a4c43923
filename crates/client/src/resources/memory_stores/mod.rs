//! `/v1/memory_stores`

pub mod memories;
pub mod memory_versions;

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{
    CreateMemoryStore, Deleted, ListMemoryStores, MemoryStore, Page, UpdateMemoryStore,
};

pub struct MemoryStores<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::Memory;

impl<'c> MemoryStores<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `/v1/memory_stores/{id}/memories`.
    pub fn memories(&self) -> memories::Memories<'c> {
        memories::Memories::new(self.client)
    }

    /// `/v1/memory_stores/{id}/memory_versions`.
    pub fn memory_versions(&self) -> memory_versions::MemoryVersions<'c> {
        memory_versions::MemoryVersions::new(self.client)
    }

    pub async fn create(&self, params: &CreateMemoryStore) -> Result<MemoryStore> {
        let req =
            ApiRequest::new(Method::POST, BETA, &[Seg::Lit("memory_stores")])?.json(params)?;
        self.client.call(req).await
    }

    pub async fn retrieve(&self, memory_store_id: &str) -> Result<MemoryStore> {
        self.client
            .call(item(Method::GET, memory_store_id, None)?)
            .await
    }

    /// Fails with 400 on an archived store.
    pub async fn update(
        &self,
        memory_store_id: &str,
        params: &UpdateMemoryStore,
    ) -> Result<MemoryStore> {
        self.client
            .call(item(Method::POST, memory_store_id, None)?.json(params)?)
            .await
    }

    pub async fn list(&self, params: &ListMemoryStores) -> Result<Page<MemoryStore>> {
        self.client.call(list_request(params)?).await
    }

    /// Every store, following `next_page`.
    pub fn list_all(&self, params: &ListMemoryStores) -> BoxStream<'static, Result<MemoryStore>> {
        self.client.paginate(list_request(params))
    }

    /// Archiving cannot be undone; archiving twice returns the store unchanged.
    pub async fn archive(&self, memory_store_id: &str) -> Result<MemoryStore> {
        self.client
            .call(item(Method::POST, memory_store_id, Some("archive"))?)
            .await
    }

    /// Also removes every memory and version in the store. Cannot be undone.
    pub async fn delete(&self, memory_store_id: &str) -> Result<Deleted> {
        self.client
            .call(item(Method::DELETE, memory_store_id, None)?)
            .await
    }
}

fn item(method: Method, id: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![Seg::Lit("memory_stores"), Seg::Id("memory_store_id", id)];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(p: &ListMemoryStores) -> Result<ApiRequest> {
    let query = Query::new()
        .time("created_at[gte]", p.created_at_gte)
        .time("created_at[lte]", p.created_at_lte)
        .opt("include_archived", p.include_archived)
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    Ok(ApiRequest::new(Method::GET, BETA, &[Seg::Lit("memory_stores")])?.query(query))
}
