//! Wire types for every object, request body and event in the Managed Agents API.
//!
//! The module tree mirrors the API's URL tree, as the official SDKs' `types/beta` does. Every union
//! discriminated by `type` is *open*: a `type` this crate does not know deserializes into an
//! `Unknown` variant holding the raw JSON, so a new event, content block, actor, resource or stop
//! reason reaches the caller instead of vanishing. Unknown fields on known objects are ignored.
//!
//! [`sse`] is the SSE framing every stream reader shares (the session event stream, the model
//! clients' streamed responses).
//!
//! This crate is the one source of truth for the wire format: `cma-client` re-exports it as
//! `cma_client::types` and `cma-emulator` builds every object and event it returns from it.

mod union;

pub mod agents;
pub mod content;
pub mod create_session;
pub mod environments;
pub mod errors;
pub mod events;
pub mod files;
pub mod memories;
pub mod memory_stores;
pub mod memory_versions;
pub mod redact;
pub mod sessions;
pub mod shared;
pub mod sse;
pub mod threads;
pub mod webhooks;
pub mod work;

pub use agents::*;
pub use content::*;
pub use create_session::*;
pub use environments::*;
pub use errors::*;
pub use events::*;
pub use files::*;
pub use memories::*;
pub use memory_stores::*;
pub use memory_versions::*;
pub use sessions::*;
pub use shared::*;
pub use threads::*;
pub use webhooks::*;
pub use work::*;

pub(crate) use union::open_union;
