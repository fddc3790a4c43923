//! The history and store commands' argument definitions and their error paths (exit status 2)
//! against the embedded emulator. Success paths print to stdout and are covered by the
//! cma-history crate's tests.

use clap::{CommandFactory, Parser, Subcommand};
use cma_client::types::{CreateMemory, CreateMemoryStore};
use cma_emulator::{Emulator, EmulatorConfig};

use crate::cli::exit_code_for;
use crate::cli::history::{DiffArgs, HistoryArgs};
use crate::cli::stores::{MemoriesCommand, StoresCommand, VersionsCommand};

/// Mirrors the top level in `main.rs` (including the propagated `--version`).
#[derive(Parser)]
#[command(name = "cma", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    History(HistoryArgs),
    Diff(DiffArgs),
    #[command(subcommand)]
    Stores(StoresCommand),
    #[command(subcommand)]
    Memories(MemoriesCommand),
    #[command(subcommand)]
    Versions(VersionsCommand),
}

#[test]
fn argument_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_subcommand_has_examples_in_its_help() {
    let commands: &[&[&str]] = &[
        &["history"],
        &["diff"],
        &["stores", "list"],
        &["stores", "create"],
        &["stores", "show"],
        &["stores", "archive"],
        &["stores", "delete"],
        &["memories", "ls"],
        &["memories", "cat"],
        &["memories", "put"],
        &["memories", "mv"],
        &["memories", "rm"],
        &["versions", "ls"],
        &["versions", "show"],
        &["versions", "redact"],
    ];
    for command in commands {
        let mut argv = vec!["cma"];
        argv.extend_from_slice(command);
        argv.push("--help");
        let help = Cli::try_parse_from(argv)
            .err()
            .expect("--help stops parsing")
            .to_string();
        assert!(
            help.contains("Example"),
            "no examples in `{}` --help:\n{help}",
            command.join(" ")
        );
    }
}

#[test]
fn conflicting_flags_are_usage_errors() {
    let err = Cli::try_parse_from([
        "cma",
        "history",
        "--store",
        "s",
        "--at",
        "memver_1",
        "--since",
        "2026-01-01",
    ])
    .err()
    .expect("--at conflicts with --since");
    assert_eq!(err.exit_code(), 2);
}

/// Runs one command line and returns the exit status `main` would give its error.
async fn status(base_url: &str, args: &[&str]) -> Option<u8> {
    let mut argv = vec!["cma"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--base-url", base_url, "--timeout", "10"]);
    let cli = Cli::try_parse_from(argv).expect("parses");
    let result = match cli.command {
        Command::History(a) => crate::cli::history::history(a).await,
        Command::Diff(a) => crate::cli::history::diff(a).await,
        Command::Stores(c) => crate::cli::stores::stores(c).await,
        Command::Memories(c) => crate::cli::stores::memories(c).await,
        Command::Versions(c) => crate::cli::stores::versions(c).await,
    };
    result.err().map(|e| {
        assert!(!format!("{e:#}").contains('\n'), "one line: {e:#}");
        exit_code_for(&e)
    })
}

#[tokio::test]
async fn bad_input_exits_with_status_2() {
    let emulator = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        Emulator::start(EmulatorConfig::default()),
    )
    .await
    .expect("in time")
    .expect("emulator");
    let url = emulator.base_url();
    let client = cma_client::Client::builder()
        .base_url(&url)
        .api_key("sk-test")
        .build()
        .expect("client");
    let store = client
        .memory_stores()
        .create(&CreateMemoryStore {
            name: "cli".into(),
            ..Default::default()
        })
        .await
        .expect("store");
    let memory = CreateMemory {
        path: "/a.md".into(),
        content: Some("a\n".into()),
    };
    client
        .memory_stores()
        .memories()
        .create(&store.id, &memory, None)
        .await
        .expect("memory");
    let s = store.id.as_str();

    let cases: &[&[&str]] = &[
        &["history", "--store", "memstore_unknown"],
        &["history", "--store", s, "--format", "yaml"],
        &["history", "--store", s, "--algorithm", "quantum"],
        &["history", "--store", s, "--since", "yesterday"],
        &["history", "--store", s, "--operation", "renamed"],
        &["history", "--store", s, "--at", "1999-01-01"],
        &["history", "--store", s, "--at", "memver_unknown"],
        &["history", "--store", s, "--until", "1999-01-01"],
        &["history", "--store", s, "--memory", "mem_unknown"],
        &[
            "diff",
            "--store",
            s,
            "--from",
            "1999-01-01",
            "--to",
            "2999-01-01",
        ],
        &[
            "diff",
            "--store",
            s,
            "--from",
            "memver_unknown",
            "--to",
            "2999-01-01",
        ],
        &["versions", "show", "--store", s, "memver_unknown"],
        &["versions", "redact", "--store", s, "memver_unknown"],
        &["memories", "cat", "--store", s, "/missing.md"],
        &["memories", "cat", "--store", s, "missing.md"],
        &["memories", "rm", "--store", s, "/a.md", "--if-sha", "abc"],
        &[
            "memories",
            "rm",
            "--store",
            s,
            "/a.md",
            "--if-sha",
            &"0".repeat(64),
        ],
        &["stores", "show", "memstore_unknown"],
        &["stores", "delete", s],
    ];
    for case in cases {
        assert_eq!(status(&url, case).await, Some(2), "{case:?}");
    }
    emulator.shutdown().await;
}
