//! `cma bench` (placeholder).
use std::process::ExitCode;
#[derive(clap::Subcommand)]
pub enum BenchCommand { Turns }
pub async fn run(_cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
