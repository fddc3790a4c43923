//! The history model: every version of a store in time order, each linked to the previous version
//! of the same memory, and a content cache keyed by `content_sha256`.

use std::collections::HashMap;

use cma_client::types::{Actor, MemoryVersion, Operation, Timestamp, content_sha256};

use crate::filter::VersionFilter;

/// One memory version's metadata. Content lives in the [`History`]'s cache, keyed by sha256, so
/// versions that share content (renames, reverts) share one copy and one fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub id: String,
    pub memory_id: String,
    pub operation: Operation,
    /// The path at write time; `None` once redacted.
    pub path: Option<String>,
    /// `None` for `deleted` and redacted versions.
    pub content_sha256: Option<String>,
    pub content_size_bytes: Option<u64>,
    pub created_at: Timestamp,
    pub created_by: Option<Actor>,
    pub redacted_at: Option<Timestamp>,
    pub redacted_by: Option<Actor>,
}

impl Version {
    /// The API nulls `path` if and only if a version is redacted; either signal counts.
    pub fn is_redacted(&self) -> bool {
        self.redacted_at.is_some() || self.path.is_none()
    }

    /// Whether this version's content exists to be known (not deleted, not redacted).
    pub fn has_content(&self) -> bool {
        !self.is_redacted() && self.operation != Operation::Deleted && self.content_sha256.is_some()
    }

    /// `created_by`'s label (`session sesn_…`, `api key apikey_…`, …), or `unknown actor`.
    pub fn author_label(&self) -> String {
        self.created_by
            .as_ref()
            .map_or_else(|| "unknown actor".to_string(), Actor::label)
    }
}

impl From<MemoryVersion> for Version {
    fn from(v: MemoryVersion) -> Self {
        Version {
            id: v.id,
            memory_id: v.memory_id,
            operation: v.operation,
            path: v.path,
            content_sha256: v.content_sha256,
            content_size_bytes: v.content_size_bytes,
            created_at: v.created_at,
            created_by: v.created_by,
            redacted_at: v.redacted_at,
            redacted_by: v.redacted_by,
        }
    }
}

/// The versions of one memory, as indices into [`History::versions`], oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTimeline {
    pub memory_id: String,
    pub versions: Vec<usize>,
}

/// Every version of a store (or of the memories fetched), oldest first, with the subset to show.
#[derive(Debug, Clone)]
pub struct History {
    store_id: String,
    store_created_at: Option<Timestamp>,
    versions: Vec<Version>,
    /// `previous[i]`: the index of the same memory's version before `versions[i]`.
    previous: Vec<Option<usize>>,
    memories: Vec<MemoryTimeline>,
    shown: Vec<usize>,
    contents: HashMap<String, String>,
}

fn operation_rank(op: &Operation) -> u8 {
    match op {
        Operation::Created => 0,
        Operation::Deleted => 2,
        // `modified` and operations this version does not know sort between the two.
        _ => 1,
    }
}

impl History {
    /// Orders `versions` by `created_at` (the API documents no list order). Ties keep a created
    /// before a modification before a delete, and otherwise the oldest-first input order: a
    /// newest-first listing is reversed first so that order survives the stable sort.
    pub fn new(store_id: impl Into<String>, mut versions: Vec<Version>) -> Self {
        if let (Some(first), Some(last)) = (versions.first(), versions.last())
            && first.created_at > last.created_at
        {
            versions.reverse();
        }
        versions.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| operation_rank(&a.operation).cmp(&operation_rank(&b.operation)))
        });
        let mut previous = Vec::with_capacity(versions.len());
        let mut by_memory: HashMap<&str, usize> = HashMap::new();
        let mut memories: Vec<MemoryTimeline> = Vec::new();
        for (i, v) in versions.iter().enumerate() {
            match by_memory.get(v.memory_id.as_str()) {
                Some(&m) => {
                    let timeline = &mut memories[m];
                    previous.push(timeline.versions.last().copied());
                    timeline.versions.push(i);
                }
                None => {
                    by_memory.insert(&v.memory_id, memories.len());
                    memories.push(MemoryTimeline {
                        memory_id: v.memory_id.clone(),
                        versions: vec![i],
                    });
                    previous.push(None);
                }
            }
        }
        let shown = (0..versions.len()).collect();
        History {
            store_id: store_id.into(),
            store_created_at: None,
            versions,
            previous,
            memories,
            shown,
            contents: HashMap::new(),
        }
    }

    /// Builds a history from API objects; any `content` they carry (`view=full`) fills the cache.
    pub fn from_memory_versions(store_id: impl Into<String>, versions: Vec<MemoryVersion>) -> Self {
        let mut contents = Vec::new();
        let versions = versions
            .into_iter()
            .map(|mut v| {
                if let Some(content) = v.content.take()
                    && !v.is_redacted()
                {
                    let sha = v
                        .content_sha256
                        .get_or_insert_with(|| content_sha256(&content))
                        .clone();
                    contents.push((sha, content));
                }
                Version::from(v)
            })
            .collect();
        let mut history = History::new(store_id, versions);
        for (sha, content) in contents {
            history.contents.entry(sha).or_insert(content);
        }
        history
    }

    /// Records when the store was created, so a snapshot before it is refused with a clear error.
    pub fn with_store_created_at(mut self, created_at: Timestamp) -> Self {
        self.store_created_at = Some(created_at);
        self
    }

    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    pub fn store_created_at(&self) -> Option<Timestamp> {
        self.store_created_at
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The same memory's previous version, by index.
    pub fn previous(&self, index: usize) -> Option<usize> {
        self.previous.get(index).copied().flatten()
    }

    /// One timeline per memory, in order of each memory's first version.
    pub fn memories(&self) -> &[MemoryTimeline] {
        &self.memories
    }

    /// The index of a version id (a linear scan: callers look up one or two ids).
    pub fn index_of(&self, version_id: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.id == version_id)
    }

    /// Indices of the versions renderers show, oldest first (all of them unless filtered).
    pub fn shown(&self) -> &[usize] {
        &self.shown
    }

    /// Shows only the versions the filter matches. Diffs still compare against each memory's
    /// previous version, shown or not.
    pub fn apply_filter(&mut self, filter: &VersionFilter) {
        self.shown = (0..self.versions.len())
            .filter(|&i| filter.matches(self, i))
            .collect();
    }

    /// A version's content, if it has any and it is in the cache.
    pub fn content(&self, version: &Version) -> Option<&str> {
        if !version.has_content() {
            return None;
        }
        version
            .content_sha256
            .as_deref()
            .and_then(|sha| self.contents.get(sha))
            .map(String::as_str)
    }

    /// Whether content with this sha256 is already known.
    pub fn has_cached(&self, sha256: &str) -> bool {
        self.contents.contains_key(sha256)
    }

    /// Caches content under its sha256 (computed here) and returns that hash.
    pub fn insert_content(&mut self, content: impl Into<String>) -> String {
        let content = content.into();
        let sha = content_sha256(&content);
        self.contents.entry(sha.clone()).or_insert(content);
        sha
    }

    /// Caches content under the sha256 the API reported for it.
    pub(crate) fn insert_content_as(&mut self, sha256: String, content: String) {
        self.contents.entry(sha256).or_insert(content);
    }

    /// Records a redaction that happened after the listing (the full fetch came back redacted).
    pub(crate) fn mark_redacted(&mut self, index: usize, fetched: &MemoryVersion) {
        if let Some(v) = self.versions.get_mut(index) {
            v.path = None;
            v.content_sha256 = None;
            v.content_size_bytes = None;
            v.redacted_at = fetched.redacted_at.or(Some(fetched.created_at));
            v.redacted_by = fetched.redacted_by.clone();
        }
    }

    /// The versions whose content the shown entries need (each shown version and the previous
    /// version of its memory) and that the cache lacks — one index per distinct sha256.
    pub fn missing_content_for_shown(&self) -> Vec<usize> {
        let wanted = self
            .shown
            .iter()
            .flat_map(|&i| [Some(i), self.previous(i)])
            .flatten();
        self.missing_content(wanted)
    }

    /// Of `indices`, the ones with content not in the cache, one per distinct sha256.
    pub fn missing_content(&self, indices: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for i in indices {
            let Some(v) = self.versions.get(i) else {
                continue;
            };
            if !v.has_content() {
                continue;
            }
            if let Some(sha) = v.content_sha256.as_deref()
                && !self.contents.contains_key(sha)
                && seen.insert(sha)
            {
                out.push(i);
            }
        }
        out
    }
}

impl VersionFilter {
    pub fn matches(&self, history: &History, index: usize) -> bool {
        let Some(v) = history.versions().get(index) else {
            return false;
        };
        if self.memory_id.as_ref().is_some_and(|m| *m != v.memory_id) {
            return false;
        }
        if self.operation.as_ref().is_some_and(|op| *op != v.operation) {
            return false;
        }
        if self.since.is_some_and(|t| v.created_at < t)
            || self.until.is_some_and(|t| v.created_at > t)
        {
            return false;
        }
        if let Some(session) = &self.session_id {
            match &v.created_by {
                Some(Actor::Session(a)) if a.session_id == *session => {}
                _ => return false,
            }
        }
        if let Some(wanted) = &self.path {
            let previous_path = history
                .previous(index)
                .and_then(|p| history.versions()[p].path.as_deref());
            let hit = |path: Option<&str>| path.is_some_and(|p| path_matches(wanted, p));
            if !hit(v.path.as_deref()) && !hit(previous_path) {
                return false;
            }
        }
        true
    }
}

fn path_matches(wanted: &str, path: &str) -> bool {
    if wanted.ends_with('/') {
        path.starts_with(wanted)
    } else {
        path == wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn v(id: &str, memory: &str, op: Operation, secs: i64) -> Version {
        Version {
            id: id.into(),
            memory_id: memory.into(),
            operation: op,
            path: Some("/a".into()),
            content_sha256: Some("x".into()),
            content_size_bytes: Some(1),
            created_at: chrono::Utc
                .timestamp_opt(secs, 0)
                .single()
                .expect("valid time"),
            created_by: None,
            redacted_at: None,
            redacted_by: None,
        }
    }

    #[test]
    fn orders_by_time_and_links_previous_versions_per_memory() {
        // Newest first, as a server might list them.
        let history = History::new(
            "s",
            vec![
                v("v4", "m1", Operation::Deleted, 40),
                v("v3", "m2", Operation::Created, 30),
                v("v2", "m1", Operation::Modified, 20),
                v("v1", "m1", Operation::Created, 10),
            ],
        );
        let ids: Vec<_> = history.versions().iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["v1", "v2", "v3", "v4"]);
        assert_eq!(history.previous(0), None);
        assert_eq!(history.previous(1), Some(0));
        assert_eq!(history.previous(2), None);
        assert_eq!(history.previous(3), Some(1));
        assert_eq!(history.memories().len(), 2);
        assert_eq!(history.memories()[0].versions, [0, 1, 3]);
    }

    #[test]
    fn equal_times_keep_created_before_modified_before_deleted() {
        let history = History::new(
            "s",
            vec![
                v("d", "m", Operation::Deleted, 5),
                v("c", "m", Operation::Created, 5),
                v("m", "m", Operation::Modified, 5),
            ],
        );
        let ids: Vec<_> = history.versions().iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["c", "m", "d"]);
    }

    #[test]
    fn missing_content_asks_once_per_sha() {
        let mut a = v("v1", "m1", Operation::Created, 1);
        a.content_sha256 = Some("same".into());
        let mut b = v("v2", "m1", Operation::Modified, 2);
        b.content_sha256 = Some("same".into());
        let history = History::new("s", vec![a, b]);
        assert_eq!(history.missing_content_for_shown(), [0]);
    }
}
