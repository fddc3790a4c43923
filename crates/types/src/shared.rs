//! Pieces shared by several resources: timestamps, metadata, actors, pages, deletion receipts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::open_union;

/// An RFC 3339 timestamp.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Free-form string pairs (at most 16; keys 1–64 characters, values at most 512).
pub type Metadata = BTreeMap<String, String>;

/// A metadata patch: a string sets a key, `None` (JSON `null`) removes it, absent keys are kept.
pub type MetadataPatch = BTreeMap<String, Option<String>>;

/// One page of a cursor-paginated list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Opaque cursor of the next page; `None` or empty means this is the last page.
    #[serde(default)]
    pub next_page: Option<String>,
    /// Only `GET /v1/sessions` returns it; the SDKs never follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_page: Option<String>,
}

impl<T> Page<T> {
    /// The cursor to request next, if any. An empty string counts as none, as in the SDK.
    pub fn next_cursor(&self) -> Option<&str> {
        self.next_page.as_deref().filter(|c| !c.is_empty())
    }
}

/// `{"id": ..., "type": "<thing>_deleted"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionActor {
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiActor {
    pub api_key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserActor {
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountActor {
    pub service_account_id: String,
}

open_union! {
    /// Who wrote or redacted a memory version.
    pub enum Actor {
        "session_actor" => Session(SessionActor),
        "api_actor" => Api(ApiActor),
        "user_actor" => User(UserActor),
        "service_account_actor" => ServiceAccount(ServiceAccountActor),
    }
}

impl Actor {
    /// A short human label such as `session sesn_…` or `api key apikey_…`.
    pub fn label(&self) -> String {
        match self {
            Actor::Session(a) => format!("session {}", a.session_id),
            Actor::Api(a) => format!("api key {}", a.api_key_id),
            Actor::User(a) => format!("user {}", a.user_id),
            Actor::ServiceAccount(a) => format!("service account {}", a.service_account_id),
            Actor::Unknown(raw) => raw
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("unknown actor")
                .to_string(),
        }
    }
}

/// Serde helper for `Option<Option<T>>` request fields: absent = leave unchanged,
/// `Some(None)` = explicit JSON `null`, `Some(Some(v))` = set.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
