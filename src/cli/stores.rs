//! `cma stores`, `cma memories` and `cma versions`: the memory store API from the command line.
//! Every command prints a readable table or text by default and the API's objects with `--json`.

mod memories;
pub(crate) mod shared;
pub(crate) mod versions;

use std::process::ExitCode;

use cma_client::types::{CreateMemoryStore, ListMemoryStores, MemoryStore, Metadata};
use futures::TryStreamExt;

use crate::cli::UsageError;
pub use memories::MemoriesCommand;
use shared::{ConnectionArgs, print_json, print_table, time};
pub use versions::VersionsCommand;

#[derive(clap::Subcommand)]
pub enum StoresCommand {
    /// List memory stores (newest first as the API returns them).
    #[command(
        after_help = "Examples:\n  cma stores list\n  cma stores list --include-archived --json"
    )]
    List(ListArgs),
    /// Create a memory store and print its id.
    #[command(
        after_help = "Examples:\n  cma stores create --name \"Shopper Preferences\"\n  cma stores create --name prefs --description \"What shoppers told us\" --metadata team=retail --json"
    )]
    Create(CreateArgs),
    /// Show one memory store.
    #[command(after_help = "Example:\n  cma stores show memstore_01AbC")]
    Show(StoreIdArgs),
    /// Archive a memory store: it can no longer be attached to sessions or written. Cannot be undone.
    #[command(after_help = "Example:\n  cma stores archive memstore_01AbC")]
    Archive(StoreIdArgs),
    /// Delete a memory store with every memory and version in it. Cannot be undone; needs --yes.
    #[command(after_help = "Example:\n  cma stores delete memstore_01AbC --yes")]
    Delete(DeleteArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Include archived stores.
    #[arg(long)]
    include_archived: bool,
    /// Print the API's store objects as a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The store's name (1–255 characters); the mount path /mnt/memory/<slug> comes from it.
    #[arg(long)]
    name: String,
    /// Up to 1,024 characters; agents see it in their system prompt when the store is attached.
    #[arg(long)]
    description: Option<String>,
    /// A KEY=VALUE pair (repeatable, at most 16); agents never see metadata.
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Print the created store as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct StoreIdArgs {
    /// The memory store id (memstore_…).
    #[arg(value_name = "STORE_ID")]
    store: String,
    /// Print the store as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    /// The memory store id (memstore_…).
    #[arg(value_name = "STORE_ID")]
    store: String,
    /// Confirm the deletion (it removes every memory and version and cannot be undone).
    #[arg(long)]
    yes: bool,
    /// Print the API's deletion receipt as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnectionArgs,
}

pub async fn stores(command: StoresCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoresCommand::List(args) => list(args).await?,
        StoresCommand::Create(args) => create(args).await?,
        StoresCommand::Show(args) => {
            let client = args.conn.client()?;
            let store = args
                .conn
                .call(
                    "retrieving the store",
                    client.memory_stores().retrieve(&args.store),
                )
                .await?;
            show(&store, args.json)?;
        }
        StoresCommand::Archive(args) => {
            let client = args.conn.client()?;
            let store = args
                .conn
                .call(
                    "archiving the store",
                    client.memory_stores().archive(&args.store),
                )
                .await?;
            show(&store, args.json)?;
        }
        StoresCommand::Delete(args) => {
            if !args.yes {
                let message = format!(
                    "refusing to delete {} and all its memories and versions without --yes",
                    args.store
                );
                return Err(UsageError(message).into());
            }
            let client = args.conn.client()?;
            let receipt = args
                .conn
                .call(
                    "deleting the store",
                    client.memory_stores().delete(&args.store),
                )
                .await?;
            if args.json {
                print_json(&receipt)?;
            } else {
                println!("deleted {}", receipt.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn memories(command: MemoriesCommand) -> anyhow::Result<ExitCode> {
    memories::run(command).await
}

pub async fn versions(command: VersionsCommand) -> anyhow::Result<ExitCode> {
    versions::run(command).await
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let params = ListMemoryStores {
        include_archived: Some(args.include_archived),
        limit: Some(100),
        ..Default::default()
    };
    let stores: Vec<MemoryStore> = args
        .conn
        .call(
            "listing stores",
            client.memory_stores().list_all(&params).try_collect(),
        )
        .await?;
    if args.json {
        return print_json(&stores);
    }
    let rows: Vec<Vec<String>> = stores
        .iter()
        .map(|s| {
            let archived = s.archived_at.as_ref().map_or_else(|| "-".to_string(), time);
            vec![s.id.clone(), s.name.clone(), time(&s.created_at), archived]
        })
        .collect();
    print_table(&["ID", "NAME", "CREATED", "ARCHIVED"], &rows)
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let mut metadata = Metadata::new();
    for pair in &args.metadata {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--metadata {pair:?}: expected KEY=VALUE")))?;
        metadata.insert(key.to_string(), value.to_string());
    }
    let client = args.conn.client()?;
    let params = CreateMemoryStore {
        name: args.name,
        description: args.description,
        metadata: (!metadata.is_empty()).then_some(metadata),
    };
    let store = args
        .conn
        .call("creating the store", client.memory_stores().create(&params))
        .await?;
    if args.json {
        print_json(&store)
    } else {
        shared::write_stdout(|out| writeln!(out, "{}", store.id))
    }
}

fn show(store: &MemoryStore, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(store);
    }
    shared::write_stdout(|out| {
        writeln!(out, "id:          {}", store.id)?;
        writeln!(out, "name:        {}", store.name)?;
        writeln!(out, "description: {}", store.description)?;
        writeln!(out, "created:     {}", time(&store.created_at))?;
        writeln!(out, "updated:     {}", time(&store.updated_at))?;
        writeln!(
            out,
            "archived:    {}",
            store
                .archived_at
                .as_ref()
                .map_or_else(|| "no".to_string(), time)
        )?;
        for (key, value) in &store.metadata {
            writeln!(out, "metadata:    {key}={value}")?;
        }
        Ok(())
    })
}
