//! `cma history` and `cma diff` (placeholders until crates/history lands).
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct HistoryArgs {}
#[derive(clap::Args)]
pub struct DiffArgs {}
pub async fn history(_args: HistoryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
pub async fn diff(_args: DiffArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
