//! `cma versions ls|show|redact`.

use std::process::ExitCode;

use cma_client::types::{ListMemoryVersions, MemoryVersion, Operation, View};
use futures::TryStreamExt;

use super::shared::{
    ConnectionArgs, parse_time, print_json, print_table, short_sha, time, write_stdout,
};
use crate::cli::UsageError;

#[derive(clap::Subcommand)]
pub enum VersionsCommand {
    /// List a store's memory versions, oldest first (metadata only; no content is fetched).
    #[command(
        after_help = "Examples:\n  cma versions ls --store memstore_01AbC\n  cma versions ls --store memstore_01AbC --memory mem_01XyZ\n  cma versions ls --store memstore_01AbC --session sesn_01Q --since 2026-05-01 --json\n\nTimes are RFC 3339 (2026-05-01T10:00:00Z) or dates (2026-05-01, midnight UTC)."
    )]
    Ls(LsArgs),
    /// Show one version: its metadata and full content.
    #[command(
        after_help = "Examples:\n  cma versions show --store memstore_01AbC memver_01XyZ\n  cma versions show --store memstore_01AbC memver_01XyZ --json"
    )]
    Show(ShowArgs),
    /// Redact a version: its content, path and hash are erased for good. Needs --yes.
    #[command(
        after_help = "Example:\n  cma versions redact --store memstore_01AbC memver_01XyZ --yes\n\nOnly API keys, users and service accounts can redact; agents cannot. Histories show a\nredacted version as a placeholder saying who redacted it and when."
    )]
    Redact(RedactArgs),
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// Only this memory's versions (works after the memory is deleted).
    #[arg(long, value_name = "MEMORY_ID")]
    memory: Option<String>,
    /// Only versions written by this session (sesn_…).
    #[arg(long, value_name = "SESSION_ID")]
    session: Option<String>,
    /// Only this operation: created, modified or deleted.
    #[arg(long, value_name = "OP")]
    operation: Option<String>,
    /// Only versions at or after this time.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only versions at or before this time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Print the API's version objects as a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// The version id (memver_…).
    #[arg(value_name = "VERSION_ID")]
    version_id: String,
    /// Print the API's version object (with content) as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct RedactArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// The version id (memver_…).
    #[arg(value_name = "VERSION_ID")]
    version_id: String,
    /// Confirm the redaction (it cannot be undone).
    #[arg(long)]
    yes: bool,
    /// Print the redacted version as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

pub fn parse_operation(value: &str) -> Result<Operation, UsageError> {
    match value {
        "created" => Ok(Operation::Created),
        "modified" => Ok(Operation::Modified),
        "deleted" => Ok(Operation::Deleted),
        other => Err(UsageError(format!(
            "--operation {other:?}: expected created, modified or deleted"
        ))),
    }
}

pub async fn run(command: VersionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        VersionsCommand::Ls(args) => ls(args).await?,
        VersionsCommand::Show(args) => {
            let client = args.conn.client()?;
            let versions = client.memory_stores().memory_versions();
            let call = versions.retrieve(&args.store, &args.version_id, Some(View::Full));
            let version = args.conn.call("retrieving the version", call).await?;
            show(&version, args.json)?;
        }
        VersionsCommand::Redact(args) => {
            if !args.yes {
                let message = format!(
                    "refusing to redact {} without --yes (redaction cannot be undone)",
                    args.version_id
                );
                return Err(UsageError(message).into());
            }
            let client = args.conn.client()?;
            let versions = client.memory_stores().memory_versions();
            let version = args
                .conn
                .call(
                    "redacting the version",
                    versions.redact(&args.store, &args.version_id),
                )
                .await?;
            show(&version, args.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn ls(args: LsArgs) -> anyhow::Result<()> {
    let params = ListMemoryVersions {
        memory_id: args.memory.clone(),
        operation: args.operation.as_deref().map(parse_operation).transpose()?,
        session_id: args.session.clone(),
        created_at_gte: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        created_at_lte: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
        view: Some(View::Basic),
        limit: Some(100),
        ..Default::default()
    };
    let client = args.conn.client()?;
    let listing = client
        .memory_stores()
        .memory_versions()
        .list_all(&args.store, &params);
    let mut versions: Vec<MemoryVersion> = args
        .conn
        .call("listing versions", listing.try_collect())
        .await?;
    // The API documents no order; show oldest first, as `cma history` does.
    versions.sort_by_key(|v| v.created_at);
    if args.json {
        return print_json(&versions);
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let actor = v
                .created_by
                .as_ref()
                .map_or_else(|| "unknown actor".to_string(), |a| a.label());
            let path = match (&v.path, v.redacted_at) {
                (_, Some(at)) => format!("[redacted {}]", time(&at)),
                (Some(p), None) => p.clone(),
                (None, None) => "-".into(),
            };
            let size = v
                .content_size_bytes
                .map_or_else(|| "-".to_string(), |n| n.to_string());
            vec![
                v.id.clone(),
                time(&v.created_at),
                v.operation.to_string(),
                path,
                actor,
                size,
                short_sha(v.content_sha256.as_deref()),
            ]
        })
        .collect();
    print_table(
        &["VERSION", "TIME", "OP", "PATH", "BY", "BYTES", "SHA256"],
        &rows,
    )
}

fn show(v: &MemoryVersion, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(v);
    }
    let actor = |a: Option<&cma_client::types::Actor>| {
        a.map_or_else(|| "unknown actor".to_string(), |a| a.label())
    };
    write_stdout(|out| {
        writeln!(out, "version:   {}", v.id)?;
        writeln!(out, "memory:    {}", v.memory_id)?;
        writeln!(out, "operation: {}", v.operation)?;
        writeln!(out, "path:      {}", v.path.as_deref().unwrap_or("-"))?;
        writeln!(out, "time:      {}", time(&v.created_at))?;
        writeln!(out, "by:        {}", actor(v.created_by.as_ref()))?;
        if let Some(at) = &v.redacted_at {
            writeln!(
                out,
                "redacted:  {} by {}",
                time(at),
                actor(v.redacted_by.as_ref())
            )?;
        }
        if let Some(sha) = &v.content_sha256 {
            writeln!(out, "sha256:    {sha}")?;
            writeln!(out, "bytes:     {}", v.content_size_bytes.unwrap_or(0))?;
        }
        if let Some(content) = &v.content {
            writeln!(out)?;
            out.write_all(content.as_bytes())?;
            if !content.is_empty() && !content.ends_with('\n') {
                writeln!(out, "\n\\ No newline at end of file")?;
            }
        }
        Ok(())
    })
}
