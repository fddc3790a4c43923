//! `cma serve` (placeholder until the emulator lands).
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct ServeArgs {}
pub async fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
