//! `cma memories ls|cat|put|mv|rm`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use cma_client::Client;
use cma_client::types::{
    CreateMemory, DeleteMemory, ListMemories, Memory, MemoryListItem, Precondition, UpdateMemory,
    View,
};
use futures::TryStreamExt;

use super::shared::{
    ConnectionArgs, check_sha, print_json, print_table, short_sha, time, write_stdout,
};
use crate::cli::UsageError;

/// The API's limit on one memory's content.
const MAX_CONTENT_BYTES: usize = 102_400;

#[derive(clap::Subcommand)]
pub enum MemoriesCommand {
    /// List the memories in a store (or below a directory).
    #[command(
        after_help = "Examples:\n  cma memories ls --store memstore_01AbC\n  cma memories ls --store memstore_01AbC --prefix /notes/ --depth 1 --json"
    )]
    Ls(LsArgs),
    /// Print one memory's content.
    #[command(
        after_help = "Examples:\n  cma memories cat --store memstore_01AbC /preferences.md\n  cma memories cat --store memstore_01AbC mem_01XyZ --json"
    )]
    Cat(TargetArgs),
    /// Create or overwrite a memory with content from a file or stdin.
    #[command(
        after_help = "Examples:\n  cma memories put --store memstore_01AbC /preferences.md --file prefs.md\n  echo 'size: large' | cma memories put --store memstore_01AbC /preferences.md\n  cma memories put --store memstore_01AbC /preferences.md --file prefs.md --if-sha <sha256 from ls --json>\n\nWith --if-sha the write happens only if the memory's current content_sha256 is that value;\notherwise the API answers 409 and nothing changes (exit status 2)."
    )]
    Put(PutArgs),
    /// Rename (move) a memory; its id and content stay the same.
    #[command(
        after_help = "Example:\n  cma memories mv --store memstore_01AbC /preferences.md /profile/preferences.md"
    )]
    Mv(MvArgs),
    /// Delete a memory. Its versions remain (see `cma versions ls --memory`).
    #[command(
        after_help = "Examples:\n  cma memories rm --store memstore_01AbC /old.md\n  cma memories rm --store memstore_01AbC mem_01XyZ --if-sha <sha256>"
    )]
    Rm(RmArgs),
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// Only memories below this directory; must end with `/` (e.g. /notes/).
    #[arg(long, value_name = "DIR/")]
    prefix: Option<String>,
    /// 0 lists everything below the prefix; 1 lists direct children and collapses deeper ones into DIR/ entries.
    #[arg(long, value_name = "N")]
    depth: Option<u32>,
    /// Print the API's listing items as a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct TargetArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// A memory path (starting with `/`) or a memory id (mem_…).
    #[arg(value_name = "PATH_OR_ID")]
    memory: String,
    /// Print the API's memory object (with content) as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct PutArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// The memory's path, starting with `/` (e.g. /preferences.md).
    #[arg(value_name = "PATH")]
    path: String,
    /// Read the content from this file; without it (or with `-`), from stdin.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Only overwrite if the memory's current content_sha256 is this (64 hex digits).
    #[arg(long, value_name = "SHA256")]
    if_sha: Option<String>,
    /// Print the API's memory object as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct MvArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// The memory to move: a path (starting with `/`) or a memory id (mem_…).
    #[arg(value_name = "FROM")]
    from: String,
    /// The new path, starting with `/`.
    #[arg(value_name = "TO")]
    to: String,
    /// Only move if the memory's current content_sha256 is this (64 hex digits).
    #[arg(long, value_name = "SHA256")]
    if_sha: Option<String>,
    /// Print the API's memory object as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// A memory path (starting with `/`) or a memory id (mem_…).
    #[arg(value_name = "PATH_OR_ID")]
    memory: String,
    /// Only delete if the memory's current content_sha256 is this (64 hex digits).
    #[arg(long, value_name = "SHA256")]
    if_sha: Option<String>,
    /// Print the API's deletion receipt as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

pub async fn run(command: MemoriesCommand) -> anyhow::Result<ExitCode> {
    match command {
        MemoriesCommand::Ls(args) => ls(args).await?,
        MemoriesCommand::Cat(args) => cat(args).await?,
        MemoriesCommand::Put(args) => put(args).await?,
        MemoriesCommand::Mv(args) => mv(args).await?,
        MemoriesCommand::Rm(args) => rm(args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn ls(args: LsArgs) -> anyhow::Result<()> {
    if let Some(prefix) = &args.prefix
        && !(prefix.starts_with('/') && prefix.ends_with('/'))
    {
        return Err(UsageError(format!(
            "--prefix {prefix:?}: a directory starts and ends with `/`, e.g. /notes/"
        ))
        .into());
    }
    let client = args.conn.client()?;
    let params = ListMemories {
        path_prefix: args.prefix.clone(),
        depth: args.depth,
        view: Some(View::Basic),
        limit: Some(100),
        page: None,
    };
    let listing = client
        .memory_stores()
        .memories()
        .list_all(&args.store, &params);
    let items: Vec<MemoryListItem> = args
        .conn
        .call("listing memories", listing.try_collect())
        .await?;
    if args.json {
        return print_json(&items);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| match item {
            MemoryListItem::Memory(m) => vec![
                m.path.clone(),
                m.id.clone(),
                m.content_size_bytes.to_string(),
                short_sha(Some(&m.content_sha256)),
                time(&m.updated_at),
            ],
            MemoryListItem::Prefix(p) => vec![
                p.path.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
            other => vec![
                format!("({})", other.type_name()),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    print_table(&["PATH", "ID", "BYTES", "SHA256", "UPDATED"], &rows)
}

/// Finds a memory by id (`mem_…`) or exact path; `None` when no memory has that path.
async fn find(
    client: &Client,
    conn: &ConnectionArgs,
    store: &str,
    target: &str,
) -> anyhow::Result<Option<Memory>> {
    if target.starts_with("mem_") {
        let memory = conn
            .call(
                "retrieving the memory",
                client
                    .memory_stores()
                    .memories()
                    .retrieve(store, target, Some(View::Basic)),
            )
            .await?;
        return Ok(Some(memory));
    }
    if !target.starts_with('/') {
        return Err(UsageError(format!(
            "{target:?} is neither a memory path (starting with /) nor a memory id (mem_…)"
        ))
        .into());
    }
    // Listing the parent directory one level deep finds the path without walking the whole store.
    let parent = &target[..target.rfind('/').map_or(1, |i| i + 1)];
    let params = ListMemories {
        path_prefix: (parent != "/").then(|| parent.to_string()),
        depth: Some(1),
        view: Some(View::Basic),
        limit: Some(100),
        page: None,
    };
    let listing = client.memory_stores().memories().list_all(store, &params);
    let items: Vec<MemoryListItem> = conn
        .call("looking up the path", listing.try_collect())
        .await?;
    Ok(items.into_iter().find_map(|item| match item {
        MemoryListItem::Memory(m) if m.path == target => Some(m),
        _ => None,
    }))
}

async fn require(
    client: &Client,
    conn: &ConnectionArgs,
    store: &str,
    target: &str,
) -> anyhow::Result<Memory> {
    find(client, conn, store, target)
        .await?
        .ok_or_else(|| UsageError(format!("no memory at {target} in store {store}")).into())
}

async fn cat(args: TargetArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let found = require(&client, &args.conn, &args.store, &args.memory).await?;
    let memories = client.memory_stores().memories();
    let memory = args
        .conn
        .call(
            "reading the memory",
            memories.retrieve(&args.store, &found.id, Some(View::Full)),
        )
        .await?;
    if args.json {
        return print_json(&memory);
    }
    write_stdout(|out| out.write_all(memory.content.as_deref().unwrap_or("").as_bytes()))
}

fn read_content(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let bytes = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => std::fs::read(path)
            .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UsageError(
                    "no content: pass --file FILE or pipe the content to stdin".into(),
                )
                .into());
            }
            let mut buf = Vec::new();
            stdin
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| UsageError(format!("cannot read stdin: {e}")))?;
            buf
        }
    };
    if bytes.len() > MAX_CONTENT_BYTES {
        let message = format!(
            "content is {} bytes; a memory holds at most {MAX_CONTENT_BYTES}",
            bytes.len()
        );
        return Err(UsageError(message).into());
    }
    String::from_utf8(bytes)
        .map_err(|_| UsageError("content is not UTF-8 text; memories hold text only".into()).into())
}

fn print_memory(memory: &Memory, json: bool, verb: &str) -> anyhow::Result<()> {
    if json {
        return print_json(memory);
    }
    write_stdout(|out| {
        writeln!(
            out,
            "{verb} {} {} (sha256 {}, version {})",
            memory.path,
            memory.id,
            short_sha(Some(&memory.content_sha256)),
            memory.memory_version_id
        )
    })
}

async fn put(args: PutArgs) -> anyhow::Result<()> {
    if !args.path.starts_with('/') {
        return Err(UsageError(format!("{:?}: a memory path starts with /", args.path)).into());
    }
    let precondition = args.if_sha.as_deref().map(check_sha).transpose()?;
    let content = read_content(args.file.as_ref())?;
    let client = args.conn.client()?;
    let memories = client.memory_stores().memories();
    let memory = match find(&client, &args.conn, &args.store, &args.path).await? {
        Some(existing) => {
            let params = UpdateMemory {
                content: Some(Some(content)),
                path: None,
                precondition: precondition.map(Precondition::content_sha256),
            };
            args.conn
                .call(
                    "updating the memory",
                    memories.update(&args.store, &existing.id, &params, None),
                )
                .await?
        }
        None if precondition.is_some() => {
            let message = format!(
                "no memory at {} in store {}, so --if-sha cannot hold",
                args.path, args.store
            );
            return Err(UsageError(message).into());
        }
        None => {
            let params = CreateMemory {
                path: args.path.clone(),
                content: Some(content),
            };
            args.conn
                .call(
                    "creating the memory",
                    memories.create(&args.store, &params, None),
                )
                .await?
        }
    };
    print_memory(&memory, args.json, "wrote")
}

async fn mv(args: MvArgs) -> anyhow::Result<()> {
    if !args.to.starts_with('/') {
        return Err(UsageError(format!("{:?}: a memory path starts with /", args.to)).into());
    }
    let precondition = args.if_sha.as_deref().map(check_sha).transpose()?;
    let client = args.conn.client()?;
    let memory = require(&client, &args.conn, &args.store, &args.from).await?;
    let params = UpdateMemory {
        content: None,
        path: Some(Some(args.to.clone())),
        precondition: precondition.map(Precondition::content_sha256),
    };
    let memories = client.memory_stores().memories();
    let moved = args
        .conn
        .call(
            "moving the memory",
            memories.update(&args.store, &memory.id, &params, None),
        )
        .await?;
    print_memory(&moved, args.json, "moved to")
}

async fn rm(args: RmArgs) -> anyhow::Result<()> {
    let expected = args.if_sha.as_deref().map(check_sha).transpose()?;
    let client = args.conn.client()?;
    let memory = require(&client, &args.conn, &args.store, &args.memory).await?;
    let params = DeleteMemory {
        expected_content_sha256: expected,
    };
    let memories = client.memory_stores().memories();
    let receipt = args
        .conn
        .call(
            "deleting the memory",
            memories.delete(&args.store, &memory.id, &params),
        )
        .await?;
    if args.json {
        return print_json(&receipt);
    }
    write_stdout(|out| writeln!(out, "deleted {} {}", memory.path, receipt.id))
}
