//! `cma run` (placeholder until the scenario runner lands).
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct RunArgs {}
pub async fn run(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
