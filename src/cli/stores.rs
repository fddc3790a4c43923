//! `cma stores|memories|versions` (placeholders).
use std::process::ExitCode;
#[derive(clap::Subcommand)]
pub enum StoresCommand { List }
#[derive(clap::Subcommand)]
pub enum MemoriesCommand { Ls }
#[derive(clap::Subcommand)]
pub enum VersionsCommand { Ls }
pub async fn stores(_c: StoresCommand) -> anyhow::Result<ExitCode> { anyhow::bail!("not implemented yet") }
pub async fn memories(_c: MemoriesCommand) -> anyhow::Result<ExitCode> { anyhow::bail!("not implemented yet") }
pub async fn versions(_c: VersionsCommand) -> anyhow::Result<ExitCode> { anyhow::bail!("not implemented yet") }
