//! The API key never leaks: the `cma` CLI run with `ANTHROPIC_API_KEY` (or
//! `ANTHROPIC_AUTH_TOKEN`) and `RUST_LOG=trace` through refused connections, a 401 from a server
//! that wants another key, `cma serve --api-key` answering right and wrong keys, `cma bench` and
//! `cma run` writing reports — the key's value appears in no line of stdout or stderr, in no
//! file written, in no error message and in no `Debug` output of the client.
//!
//! Every server here listens on 127.0.0.1; nothing uses the `live` target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cma_client::Client;
use cma_client::types::{CreateMemoryStore, ListMemoryStores};
use cma_emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const LIMIT: Duration = Duration::from_secs(60);

async fn t<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("operation timed out")
}

/// A key nobody else uses, and its random tail (caught even if a prefix were masked).
fn secret() -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tail = format!("{:x}{nanos:x}LEAKCANARY", std::process::id());
    (format!("sk-ant-secret-{tail}"), tail)
}

#[track_caller]
fn assert_clean(what: &str, text: &str, key: &(String, String)) {
    for needle in [&key.0, &key.1] {
        if let Some(at) = text.find(needle.as_str()) {
            let line = text[..at].rsplit('\n').next().unwrap_or("");
            panic!("{what} contains the API key, in the line starting {line:?}");
        }
    }
}

/// Every file under `dir`, read as bytes (lossy text), checked.
fn assert_dir_clean(dir: &Path, key: &(String, String)) -> usize {
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                assert_clean(
                    &path.display().to_string(),
                    &String::from_utf8_lossy(&bytes),
                    key,
                );
            }
        }
    }
    files
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The CLI with a clean environment plus `env`, `RUST_LOG=trace`, bounded in time.
fn cli(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cma"));
    cmd.args(args)
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

async fn run(args: &[&str], env: &[(&str, &str)], key: &(String, String)) -> Output {
    let out = t(cli(args, env).output()).await.unwrap();
    let out = Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let what = format!("`cma {}`", args.join(" "));
    assert_clean(&format!("{what} stdout"), &out.stdout, key);
    assert_clean(&format!("{what} stderr"), &out.stderr, key);
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        out.stderr
    );
    out
}

/// A loopback port with nothing listening.
async fn refusing_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// To see it fail: print the secret in `Secret`'s `Debug` (`crates/client/src/config.rs`): "the
/// client's Debug contains the API key".
#[tokio::test]
async fn refused_connections_do_not_leak_the_key() {
    let key = secret();
    let url = refusing_url().await;
    for (var, args) in [
        (
            "ANTHROPIC_API_KEY",
            vec!["stores", "list", "--timeout", "5"],
        ),
        (
            "ANTHROPIC_AUTH_TOKEN",
            vec!["stores", "create", "--name", "Leaky", "--timeout", "5"],
        ),
        (
            "ANTHROPIC_API_KEY",
            vec![
                "memories",
                "ls",
                "--store",
                "memstore_01x",
                "--timeout",
                "5",
            ],
        ),
    ] {
        let out = run(&args, &[(var, &key.0), ("ANTHROPIC_BASE_URL", &url)], &key).await;
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    }
    // The same failure in-process: the error and the client's Debug output.
    let client = Client::builder()
        .base_url(&url)
        .api_key(&key.0)
        .max_retries(1)
        .backoff_scale(0.0)
        .build()
        .unwrap();
    let e = t(client.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap_err();
    assert_clean("the error", &format!("{e} {e:?}"), &key);
    assert_clean("the client's Debug", &format!("{client:?}"), &key);
}

#[tokio::test]
async fn a_rejected_key_does_not_leak() {
    let key = secret();
    let emu = t(Emulator::start(EmulatorConfig {
        api_key: Some("the-key-the-server-wants".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    let url = emu.base_url();
    for var in ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"] {
        let out = run(
            &["stores", "list", "--base-url", &url, "--timeout", "10"],
            &[(var, &key.0)],
            &key,
        )
        .await;
        assert_eq!(out.code, Some(2), "a 401 is exit 2: {}", out.stderr);
        assert!(
            out.stderr.contains("authentication_error"),
            "{}",
            out.stderr
        );
    }
    let client = Client::builder()
        .base_url(&url)
        .auth_token(&key.0)
        .max_retries(0)
        .build()
        .unwrap();
    let e = t(client.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_clean("the 401 error", &format!("{e} {e:?}"), &key);
    assert_clean("the client's Debug", &format!("{client:?}"), &key);
    t(emu.shutdown()).await;
}

/// `cma serve --api-key KEY` with `RUST_LOG=trace`.
struct Serve {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Serve {
    async fn start(key: &str, data_dir: &Path) -> Serve {
        let mut child = cli(
            &[
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--api-key",
                key,
                "--data-dir",
            ],
            &[],
        )
        .arg(data_dir)
        .spawn()
        .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        let err_reader = tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = t(out.next_line()).await.unwrap().expect("cma serve exited");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected {first:?}"))
            .to_string();
        let sink = log.clone();
        sink.lock().unwrap().push_str(&format!("{first}\n"));
        let out_reader = tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Serve {
            child,
            base,
            log,
            readers: vec![err_reader, out_reader],
        }
    }

    /// Stops the server and returns everything it printed.
    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = t(self.child.wait()).await;
        // The readers end at the pipes' EOF, with the last lines read.
        for reader in self.readers.drain(..) {
            t(reader).await.unwrap();
        }
        self.log.lock().unwrap().clone()
    }
}

/// To see it fail: log the presented key in the emulator's gate
/// (`tracing::debug!(key = ?key, "credentials presented")` in `admit`): "cma serve's output
/// contains the API key, in the line starting \"… DEBUG cma_emulator::api: credentials
/// presented key=Some(…".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bench_and_run_do_not_leak_the_key() {
    let key = secret();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&key.0, &data).await;
    let base = serve.base.clone();

    // Right and wrong credentials, in both header forms.
    let good = Client::builder()
        .base_url(&base)
        .api_key(&key.0)
        .max_retries(0)
        .build()
        .unwrap();
    t(good.memory_stores().create(&CreateMemoryStore {
        name: "Secret Keeper".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    let bearer = Client::builder()
        .base_url(&base)
        .auth_token(&key.0)
        .max_retries(0)
        .build()
        .unwrap();
    t(bearer.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap();
    let near_miss = format!("{}x", key.0);
    let wrong = Client::builder()
        .base_url(&base)
        .api_key(&near_miss)
        .max_retries(0)
        .build()
        .unwrap();
    let e = t(wrong.memory_stores().list(&ListMemoryStores::default()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_clean("the 401 error", &format!("{e} {e:?}"), &key);

    // The CLI against it: a store command, a short benchmark with a JSON report, and a scenario
    // run with its report directory.
    let env = [("ANTHROPIC_API_KEY", key.0.as_str())];
    let out = run(
        &["stores", "list", "--base-url", &base, "--json"],
        &env,
        &key,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("Secret Keeper"));
    let bench_out = dir.path().join("bench.json");
    let out = run(
        &[
            "bench",
            "turns",
            "--target",
            &base,
            "--turns",
            "3",
            "--warmup",
            "0",
            "--out",
            bench_out.to_str().unwrap(),
        ],
        &env,
        &key,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let reports = dir.path().join("reports");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/single-fact-recall.toml"
    );
    let help = run(&["run", "--help"], &[], &key).await;
    assert!(help.stdout.contains("--reports-dir"), "{}", help.stdout);
    let out = run(
        &[
            "run",
            "--target",
            &base,
            "--reports-dir",
            reports.to_str().unwrap(),
            "--progress",
            "lines",
            scenario,
        ],
        &env,
        &key,
    )
    .await;
    assert!(
        matches!(out.code, Some(0 | 1)),
        "cma run did not run: {}",
        out.stderr
    );
    // The embedded emulator too, with the key in the environment.
    let local_reports = dir.path().join("local-reports");
    let out = run(
        &[
            "run",
            "--reports-dir",
            local_reports.to_str().unwrap(),
            "--progress",
            "lines",
            scenario,
        ],
        &env,
        &key,
    )
    .await;
    assert!(matches!(out.code, Some(0 | 1)), "{}", out.stderr);

    let log = serve.stop().await;
    assert!(log.contains("listening on"), "{log}");
    assert!(
        log.lines().count() > 10,
        "RUST_LOG=trace logged too little to prove anything:\n{log}"
    );
    assert_clean("cma serve's output", &log, &key);
    // Reports, the benchmark's JSON and the server's SQLite files.
    let files = assert_dir_clean(dir.path(), &key);
    assert!(files >= 5, "only {files} files written");
    assert!(bench_out.exists());
    assert!(std::fs::read_dir(&reports).unwrap().count() > 0);
}
