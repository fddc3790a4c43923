//! Recall scenarios for Claude Managed Agents memory stores.
//!
//! A scenario is a customer's script of **visits** — each a new session on the same memory
//! stores — with **checks** on the replies, on the agent's tool use, and on the stores' memories
//! and version history. [`load_paths`] reads and validates scenario files (TOML; a bad file is
//! refused with `path:line:column: field: message`); the runner executes them against the
//! embedded emulator, any server speaking the API, or the live API, and writes reports.

pub mod check;
pub mod compare;
pub mod error;
pub mod grade;
pub mod lint;
pub mod load;
pub mod outcome;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
mod spec;
pub mod stats;
pub mod template;
pub mod tools;
pub mod usage;
pub mod variant;

pub use check::{
    Check, CheckId, CheckSpec, CountRange, Evidence, Level, TextMatch, Verdict, evaluate,
};
pub use error::{LoadError, LoadErrors, RunError};
pub use load::{load_file, load_paths, load_str};
pub use outcome::{
    AgentSettings, CheckResult, CheckSummary, Regression, RunReport, Totals, UnitReport,
    VisitRecord,
};
pub use record::{MemoryFile, StoreSnapshot, StoreState, TurnRecord, TurnStatus};
pub use run::target::Connection;
pub use run::{LocalServer, LocalTarget, ProgressMode, RunOptions, Shard, Target, run};
pub use scenario::{AgentSpec, Scenario, Script, SeedMemory, StoreSpec, TurnSpec, VisitSpec};
pub use template::{Customer, Customers, read_customers};
pub use tools::{Confirm, CustomToolSpec, ToolAnswer};
pub use usage::{TokenUsage, TurnUsage, UnitUsage};
