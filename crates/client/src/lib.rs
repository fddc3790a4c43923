//! A typed async client for Anthropic's Claude Managed Agents API: memory stores, memories,
//! memory versions, agents, environments, sessions, session events and resources, and files.
//!
//! ```no_run
//! # async fn demo() -> cma_client::Result<()> {
//! use cma_client::{Client, types::CreateMemoryStore};
//! let client = Client::from_env()?; // ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
//! let store = client
//!     .memory_stores()
//!     .create(&CreateMemoryStore { name: "Shopper Preferences".into(), ..Default::default() })
//!     .await?;
//! println!("{}", store.id);
//! # Ok(()) }
//! ```
//!
//! The module tree mirrors the URL tree, as the official SDKs' does: `client.memory_stores()
//! .memories()` is `/v1/memory_stores/{id}/memories`. Each call returns one page; `list_all`
//! follows the cursor. Retries follow the official SDK's policy, except that a memory
//! precondition or path conflict (409) is never retried. [`turn::run_turn`] is the streaming
//! turn loop.

pub mod config;
pub mod error;
mod http;
mod query;
pub mod resources;
mod retry;
pub use cma_types::sse;
pub mod turn;
/// The wire types, re-exported from `cma-types` so `cma_client::types::X` paths keep working.
pub use cma_types as types;

pub use config::{Config, Credentials, Secret};
pub use error::{ApiError, Error, Result};
pub use http::{Beta, Client, ClientBuilder, USER_AGENT};
pub use resources::sessions::events::EventStream;
pub use resources::sessions::resources::ListResources;
pub use turn::{SessionTurns, Turn, TurnEnd, TurnOptions, run_turn};
