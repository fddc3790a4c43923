//! `/v1/memory_stores/{memory_store_id}/memory_versions`

use futures::stream::BoxStream;
use reqwest::Method;

use crate::Client;
use crate::error::Result;
use crate::http::{ApiRequest, Beta, Seg};
use crate::query::Query;
use crate::types::{ListMemoryVersions, MemoryVersion, Page, View};

pub struct MemoryVersions<'c> {
    client: &'c Client,
}

const BETA: Beta = Beta::Memory;

impl<'c> MemoryVersions<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    pub async fn list(
        &self,
        memory_store_id: &str,
        params: &ListMemoryVersions,
    ) -> Result<Page<MemoryVersion>> {
        self.client
            .call(list_request(memory_store_id, params)?)
            .await
    }

    /// Every version matching the filters, following `next_page`.
    pub fn list_all(
        &self,
        memory_store_id: &str,
        params: &ListMemoryVersions,
    ) -> BoxStream<'static, Result<MemoryVersion>> {
        self.client.paginate(list_request(memory_store_id, params))
    }

    /// `view` defaults to `full` on the server for this call.
    pub async fn retrieve(
        &self,
        memory_store_id: &str,
        memory_version_id: &str,
        view: Option<View>,
    ) -> Result<MemoryVersion> {
        let req = item(Method::GET, memory_store_id, memory_version_id, None)?
            .query(Query::new().opt("view", view.map(View::as_str)));
        self.client.call(req).await
    }

    /// Nulls the version's content, path, hash and size. Agents cannot redact.
    pub async fn redact(
        &self,
        memory_store_id: &str,
        memory_version_id: &str,
    ) -> Result<MemoryVersion> {
        self.client
            .call(item(
                Method::POST,
                memory_store_id,
                memory_version_id,
                Some("redact"),
            )?)
            .await
    }
}

fn item(method: Method, store: &str, version: &str, action: Option<&str>) -> Result<ApiRequest> {
    let mut segs = vec![
        Seg::Lit("memory_stores"),
        Seg::Id("memory_store_id", store),
        Seg::Lit("memory_versions"),
        Seg::Id("memory_version_id", version),
    ];
    if let Some(a) = action {
        segs.push(Seg::Lit(a));
    }
    ApiRequest::new(method, BETA, &segs)
}

fn list_request(store: &str, p: &ListMemoryVersions) -> Result<ApiRequest> {
    let query = Query::new()
        .opt("memory_id", p.memory_id.as_deref())
        .opt(
            "operation",
            p.operation.as_ref().map(|o| o.as_str().to_string()),
        )
        .opt("session_id", p.session_id.as_deref())
        .opt("api_key_id", p.api_key_id.as_deref())
        .opt("service_account_id", p.service_account_id.as_deref())
        .time("created_at[gte]", p.created_at_gte)
        .time("created_at[lte]", p.created_at_lte)
        .opt("view", p.view.map(View::as_str))
        .opt("limit", p.limit)
        .opt("page", p.page.as_deref());
    let req = ApiRequest::new(
        Method::GET,
        BETA,
        &[
            Seg::Lit("memory_stores"),
            Seg::Id("memory_store_id", store),
            Seg::Lit("memory_versions"),
        ],
    )?;
    Ok(req.query(query))
}
