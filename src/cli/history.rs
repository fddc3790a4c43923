//! `cma history` and `cma diff`: a memory store's versions as diffs, the store as it was at a
//! point in time, and the difference between two such points.

use std::process::ExitCode;

use cma_client::types::Timestamp;
use cma_history::{
    DiffAlgorithm, DiffOptions, FetchError, FetchOptions, Format, History, HistoryFetcher,
    RenderOptions, Snapshot, SnapshotDiff, SnapshotError, SnapshotPoint, VersionFilter,
};

use crate::cli::UsageError;
use crate::cli::stores::shared::{
    ColorChoice, ConnectionArgs, parse_time, use_color, write_stdout,
};

const HISTORY_EXAMPLES: &str = "\
Examples:
  cma history --store memstore_01AbC
  cma history --store memstore_01AbC --path /preferences.md --since 2026-05-01
  cma history --store memstore_01AbC --session sesn_01Q --operation modified --format json
  cma history --store memstore_01AbC --format html > history.html
  cma history --store memstore_01AbC --format patch | git am --empty=keep
  cma history --store memstore_01AbC --format git-fast-import | git fast-import   (in a new repo; then git log -p main)
  cma history --store memstore_01AbC --at 2026-05-01T12:00:00Z
  cma history --store memstore_01AbC --at memver_01XyZ --format json

Times (TIME) are RFC 3339 (2026-05-01T10:00:00Z, 2026-05-01T12:00:00+02:00) or dates (2026-05-01 =
midnight UTC); --at also takes a version id (memver_…: the store just after that version).

Each version shows its id, time, operation and author (session, API key, user or service account).
created = the whole content added; modified = a diff against the memory's previous version (plus
rename from/to); deleted = the content removed; redacted = a placeholder saying who redacted it
and when, after which the memory's next version is shown whole.

Formats: text (unified diffs, coloured on a terminal unless NO_COLOR is set, with changed words
highlighted), patch (git format-patch mbox, one message per version: `git am --empty=keep` applies
it on a repo holding the store as it was before the first version shown), json (schema
cma.history.v1; with --at, cma.snapshot.v1), html (one standalone page), git-fast-import (one
commit per version on refs/heads/main, authored by the version's actor, dated created_at).

Content is fetched once per distinct content_sha256, and only for the versions shown and the
versions they are compared with.";

const DIFF_EXAMPLES: &str = "\
Examples:
  cma diff --store memstore_01AbC --from 2026-05-01 --to 2026-05-02
  cma diff --store memstore_01AbC --from memver_01AAA --to memver_01BBB --format patch > changes.patch
  git apply changes.patch     (in a tree holding the store as of --from)
  cma diff --store memstore_01AbC --from 2026-05-01T09:00:00Z --to 2026-05-01T18:00:00Z --format json

--from and --to are RFC 3339 times, dates (midnight UTC) or version ids (memver_…: the store just
after that version). Memories are matched by id, so a rename shows as a rename. A memory whose
version at that point is redacted is left out (and named in the output).";

#[derive(clap::Args, Debug, Clone)]
pub struct RenderArgs {
    /// Output format: text, patch, json, html or git-fast-import.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: String,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Unchanged lines shown around each change.
    #[arg(long, value_name = "N", default_value_t = 3)]
    context: usize,
    /// Line-diff algorithm: myers, patience, histogram, lcs, hunt or raw-myers.
    #[arg(long, value_name = "NAME", default_value = "myers")]
    algorithm: String,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

impl RenderArgs {
    fn format(&self) -> Result<Format, UsageError> {
        if self.json {
            return Ok(Format::Json);
        }
        self.format
            .parse::<Format>()
            .map_err(|e| UsageError(format!("--format: {e}")))
    }

    fn options(&self) -> Result<RenderOptions, UsageError> {
        let algorithm = self
            .algorithm
            .parse::<DiffAlgorithm>()
            .map_err(|e| UsageError(format!("--algorithm: {e}")))?;
        Ok(RenderOptions {
            diff: DiffOptions {
                context: self.context,
                algorithm,
                ..DiffOptions::default()
            },
            color: use_color(self.color),
        })
    }
}

#[derive(clap::Args)]
#[command(after_help = HISTORY_EXAMPLES)]
pub struct HistoryArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// Only versions at this path, or below a directory ending in `/` (renames away from it count).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// Only this memory's versions (mem_…).
    #[arg(long, value_name = "ID")]
    memory: Option<String>,
    /// Only versions written by this session (sesn_…).
    #[arg(long, value_name = "ID", conflicts_with = "at")]
    session: Option<String>,
    /// Only versions at or after this time.
    #[arg(long, value_name = "TIME", conflicts_with = "at")]
    since: Option<String>,
    /// Only versions at or before this time.
    #[arg(long, value_name = "TIME", conflicts_with = "at")]
    until: Option<String>,
    /// Only this operation: created, modified or deleted.
    #[arg(long, value_name = "OP", conflicts_with = "at")]
    operation: Option<String>,
    /// Print the whole store as it was at TIME or just after version memver_… instead of the history.
    #[arg(long, value_name = "TIME|VERSION")]
    at: Option<String>,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    conn: ConnectionArgs,
}

#[derive(clap::Args)]
#[command(after_help = DIFF_EXAMPLES)]
pub struct DiffArgs {
    /// The memory store id (memstore_…).
    #[arg(long, value_name = "ID")]
    store: String,
    /// The older point: a TIME or a version id (memver_…).
    #[arg(long, value_name = "TIME|VERSION")]
    from: String,
    /// The newer point: a TIME or a version id (memver_…).
    #[arg(long, value_name = "TIME|VERSION")]
    to: String,
    /// Only memories at this path, or below a directory ending in `/`.
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    conn: ConnectionArgs,
}

/// Keeps the client's own error intact so `main` can map a 4xx (such as an unknown store) to 2.
fn fetch_error(err: FetchError) -> anyhow::Error {
    match err {
        FetchError::Client(e) => e.into(),
        other => other.into(),
    }
}

fn snapshot_error(err: SnapshotError) -> anyhow::Error {
    UsageError(err.to_string()).into()
}

fn parse_point(flag: &str, value: &str) -> Result<SnapshotPoint, UsageError> {
    value
        .parse::<SnapshotPoint>()
        .map_err(|e| UsageError(format!("{flag}: {e}")))
}

fn fetch_options(
    conn: &ConnectionArgs,
    memory: Option<String>,
    until: Option<Timestamp>,
) -> FetchOptions {
    FetchOptions {
        request_timeout: conn.request_timeout(),
        memory_id: memory,
        until,
        ..FetchOptions::default()
    }
}

/// Keeps only the files at `path` (or below it, for a directory ending in `/`).
fn restrict_to_path(snapshot: &mut Snapshot, path: &str) {
    let keep = |p: &String| {
        if path.ends_with('/') {
            p.starts_with(path)
        } else {
            p == path
        }
    };
    snapshot.memories.retain(|p, _| keep(p));
    snapshot.sources.retain(|p, _| keep(p));
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let format = args.render.format()?;
    let options = args.render.options()?;
    if let Some(at) = &args.at {
        let point = parse_point("--at", at)?;
        return history_at(&args, point, format, &options).await;
    }
    let filter = VersionFilter {
        path: args.path.clone(),
        memory_id: args.memory.clone(),
        session_id: args.session.clone(),
        operation: args
            .operation
            .as_deref()
            .map(crate::cli::stores::versions::parse_operation)
            .transpose()?,
        since: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        return Err(UsageError("--since is after --until".into()).into());
    }
    let client = args.conn.client()?;
    let mut fetcher = HistoryFetcher::new(
        &client,
        &args.store,
        fetch_options(&args.conn, args.memory.clone(), filter.until),
    );
    let mut history = fetcher.list().await.map_err(fetch_error)?;
    if filter.until.is_none() {
        check_memory_known(&history, args.memory.as_deref())?;
    }
    check_not_before_store(&history, "--until", filter.until)?;
    history.apply_filter(&filter);
    fetcher
        .load_shown(&mut history)
        .await
        .map_err(fetch_error)?;
    let stats = fetcher.stats();
    tracing::info!(
        listed = stats.versions_listed,
        fetched = stats.content_requests,
        reused = stats.content_reused,
        "history fetched"
    );
    write_stdout(|out| cma_history::render_history(&history, format, &options, out))?;
    Ok(ExitCode::SUCCESS)
}

/// `--memory` lists only that memory's versions, so an empty listing (with no time bound sent
/// to the server) means an unknown id.
fn check_memory_known(history: &History, memory: Option<&str>) -> Result<(), UsageError> {
    match memory {
        Some(id) if history.versions().is_empty() => Err(UsageError(format!(
            "memory {id} has no versions in store {} (is the id right?)",
            history.store_id()
        ))),
        _ => Ok(()),
    }
}

/// A window ending before the store existed can only be a mistake; say so.
fn check_not_before_store(
    history: &History,
    flag: &str,
    at: Option<Timestamp>,
) -> Result<(), UsageError> {
    match (at, history.store_created_at()) {
        (Some(at), Some(created_at)) if at < created_at => Err(UsageError(format!(
            "{flag} {} is before memory store {} existed (it was created at {})",
            cma_history::time::format_time(&at),
            history.store_id(),
            cma_history::time::format_time(&created_at)
        ))),
        _ => Ok(()),
    }
}

async fn history_at(
    args: &HistoryArgs,
    point: SnapshotPoint,
    format: Format,
    options: &RenderOptions,
) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let until = match &point {
        SnapshotPoint::Time(t) => Some(*t),
        SnapshotPoint::Version(_) => None,
    };
    let mut fetcher = HistoryFetcher::new(
        &client,
        &args.store,
        fetch_options(&args.conn, args.memory.clone(), until),
    );
    let mut history = fetcher.list().await.map_err(fetch_error)?;
    if until.is_none() {
        check_memory_known(&history, args.memory.as_deref())?;
    }
    let needed = Snapshot::required_versions(&history, &point).map_err(snapshot_error)?;
    fetcher
        .load_content(&mut history, &needed)
        .await
        .map_err(fetch_error)?;
    let mut snapshot = Snapshot::at(&history, &point).map_err(snapshot_error)?;
    if let Some(path) = &args.path {
        restrict_to_path(&mut snapshot, path);
    }
    write_stdout(|out| cma_history::render_snapshot(&snapshot, format, options, out))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let format = args.render.format()?;
    let options = args.render.options()?;
    let from = parse_point("--from", &args.from)?;
    let to = parse_point("--to", &args.to)?;
    // Versions after the later of two times are never needed; a version id could be anywhere.
    let until = match (&from, &to) {
        (SnapshotPoint::Time(a), SnapshotPoint::Time(b)) => Some(*a.max(b)),
        _ => None,
    };
    let client = args.conn.client()?;
    let mut fetcher =
        HistoryFetcher::new(&client, &args.store, fetch_options(&args.conn, None, until));
    let mut history = fetcher.list().await.map_err(fetch_error)?;
    let mut needed = Snapshot::required_versions(&history, &from)
        .map_err(|e| snapshot_error_for("--from", e))?;
    needed.extend(
        Snapshot::required_versions(&history, &to).map_err(|e| snapshot_error_for("--to", e))?,
    );
    fetcher
        .load_content(&mut history, &needed)
        .await
        .map_err(fetch_error)?;
    let mut older = Snapshot::at(&history, &from).map_err(snapshot_error)?;
    let mut newer = Snapshot::at(&history, &to).map_err(snapshot_error)?;
    if let Some(path) = &args.path {
        restrict_to_path(&mut older, path);
        restrict_to_path(&mut newer, path);
    }
    let diff = SnapshotDiff::new(older, newer);
    write_stdout(|out| cma_history::render_snapshot_diff(&diff, format, &options, out))?;
    Ok(ExitCode::SUCCESS)
}

fn snapshot_error_for(flag: &str, err: SnapshotError) -> anyhow::Error {
    UsageError(format!("{flag}: {err}")).into()
}
