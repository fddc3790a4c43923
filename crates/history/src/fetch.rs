//! Fetching a store's history: the listing with `view=basic` first (metadata only), then full
//! content only for the versions to render, once per distinct `content_sha256`.
//!
//! Versions are whole snapshots, so an unchanged sha256 (a pure rename, a rewrite with the same
//! text, a revert) means the content is already known and nothing is fetched. Full fetches run
//! with bounded concurrency, and every request has a timeout of its own.

use std::time::Duration;

use cma_client::Client;
use cma_client::types::{ListMemoryVersions, MemoryVersion, Timestamp, View};
use futures::{StreamExt, TryStreamExt};

use crate::error::FetchError;
use crate::model::{History, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Full-content requests in flight at once.
    pub concurrency: usize,
    /// The longest wait for one page of the listing or one version's content.
    pub request_timeout: Duration,
    /// List only this memory's versions (every version of it is needed for its diffs anyway).
    pub memory_id: Option<String>,
    /// List only versions up to this time; later ones are never needed.
    pub until: Option<Timestamp>,
    /// Versions per listing page (1–100).
    pub page_size: u32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            concurrency: 8,
            request_timeout: Duration::from_secs(60),
            memory_id: None,
            until: None,
            page_size: 100,
        }
    }
}

/// What a fetch cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    pub versions_listed: usize,
    /// Full-content requests sent.
    pub content_requests: usize,
    /// Versions that needed content and found it in the cache by sha256.
    pub content_reused: usize,
}

pub struct HistoryFetcher<'c> {
    client: &'c Client,
    store_id: String,
    options: FetchOptions,
    stats: FetchStats,
}

impl<'c> HistoryFetcher<'c> {
    pub fn new(client: &'c Client, store_id: impl Into<String>, options: FetchOptions) -> Self {
        HistoryFetcher {
            client,
            store_id: store_id.into(),
            options,
            stats: FetchStats::default(),
        }
    }

    pub fn stats(&self) -> FetchStats {
        self.stats
    }

    async fn timed<T>(
        &self,
        what: impl FnOnce() -> String,
        fut: impl Future<Output = Result<T, cma_client::Error>>,
    ) -> Result<T, FetchError> {
        match tokio::time::timeout(self.options.request_timeout, fut).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(FetchError::Timeout {
                what: what(),
                after: self.options.request_timeout,
            }),
        }
    }

    /// The store (checked first, so an unknown id fails fast) and every version's metadata.
    pub async fn list(&mut self) -> Result<History, FetchError> {
        let stores = self.client.memory_stores();
        let store = self
            .timed(
                || format!("retrieving store {}", self.store_id),
                stores.retrieve(&self.store_id),
            )
            .await?;
        let params = ListMemoryVersions {
            memory_id: self.options.memory_id.clone(),
            created_at_lte: self.options.until,
            view: Some(View::Basic),
            limit: Some(self.options.page_size.clamp(1, 100)),
            ..ListMemoryVersions::default()
        };
        let mut pages = stores.memory_versions().list_all(&self.store_id, &params);
        let mut versions: Vec<Version> = Vec::new();
        loop {
            let what = || {
                format!(
                    "listing versions of {} (after {} versions)",
                    self.store_id,
                    versions.len()
                )
            };
            match self.timed(what, pages.try_next()).await? {
                Some(v) => versions.push(Version::from(v)),
                None => break,
            }
        }
        self.stats.versions_listed += versions.len();
        Ok(History::new(self.store_id.clone(), versions).with_store_created_at(store.created_at))
    }

    /// Fetches the content of `indices` that the cache lacks, one request per distinct sha256.
    pub async fn load_content(
        &mut self,
        history: &mut History,
        indices: &[usize],
    ) -> Result<(), FetchError> {
        let mut needing: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| history.versions().get(i).is_some_and(Version::has_content))
            .collect();
        needing.sort_unstable();
        needing.dedup();
        let requests_before = self.stats.content_requests;
        // A version can come back redacted (redacted since the listing): its sha then stays
        // unknown, so another version with that sha is tried on the next pass.
        loop {
            let missing = history.missing_content(needing.iter().copied());
            if missing.is_empty() || !self.fetch_batch(history, &missing).await? {
                break;
            }
        }
        let requests = self.stats.content_requests - requests_before;
        self.stats.content_reused += needing.len().saturating_sub(requests);
        Ok(())
    }

    /// Content for the shown versions and for the previous version of each (their diffs' left side).
    pub async fn load_shown(&mut self, history: &mut History) -> Result<(), FetchError> {
        let wanted: Vec<usize> = history
            .shown()
            .iter()
            .flat_map(|&i| [Some(i), history.previous(i)])
            .flatten()
            .collect();
        self.load_content(history, &wanted).await
    }

    /// Returns whether any version's state was learnt (content, or a late redaction).
    async fn fetch_batch(
        &mut self,
        history: &mut History,
        missing: &[usize],
    ) -> Result<bool, FetchError> {
        let client = self.client;
        let store_id = self.store_id.as_str();
        let timeout = self.options.request_timeout;
        let targets: Vec<(usize, String)> = missing
            .iter()
            .filter_map(|&i| Some((i, history.versions().get(i)?.id.clone())))
            .collect();
        let requests = targets.into_iter().map(|(i, version_id)| async move {
            let versions = client.memory_stores().memory_versions();
            let call = versions.retrieve(store_id, &version_id, Some(View::Full));
            let result = match tokio::time::timeout(timeout, call).await {
                Ok(r) => r.map_err(FetchError::from),
                Err(_) => Err(FetchError::Timeout {
                    what: format!("fetching version {version_id}"),
                    after: timeout,
                }),
            };
            (i, result)
        });
        let mut results =
            futures::stream::iter(requests).buffer_unordered(self.options.concurrency.max(1));
        self.stats.content_requests += missing.len();
        // Results are applied as they arrive; the stream owns everything it needs.
        let mut progress = false;
        while let Some((i, result)) = results.next().await {
            progress |= apply_fetched(history, i, result?);
        }
        Ok(progress)
    }
}

fn apply_fetched(history: &mut History, index: usize, fetched: MemoryVersion) -> bool {
    if fetched.is_redacted() || fetched.path.is_none() {
        history.mark_redacted(index, &fetched);
        return true;
    }
    let Some(content) = fetched.content else {
        tracing::warn!(version = %fetched.id, "full view returned no content");
        return false;
    };
    let Some(claimed) = history.versions()[index].content_sha256.clone() else {
        return false;
    };
    let actual = cma_client::types::content_sha256(&content);
    if actual != claimed {
        // Keyed by the listed hash so lookups work; the mismatch is the server's to explain.
        tracing::warn!(version = %fetched.id, %claimed, %actual, "content does not match its content_sha256");
    }
    history.insert_content_as(claimed, content);
    true
}
