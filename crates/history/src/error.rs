//! Errors of this crate. Rendering writes to an `io::Write` and so fails only with `io::Error`.

use std::time::Duration;

/// Fetching a history through the API failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The API refused or failed a call (an unknown store id is a 404 here).
    #[error(transparent)]
    Client(#[from] cma_client::Error),
    /// One request (a page of the listing, or one version's content) took longer than allowed.
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
}

/// A user-supplied value (a time, a point in history, a format or algorithm name) did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
