//! The official SDKs, pointed at the embedded emulator with `ANTHROPIC_BASE_URL`, run the
//! cookbook's flow unchanged:
//! - Python (`anthropic==2.10.0`) with strict response validation (`tests/sdk/seed_flow.py`),
//! - TypeScript (`@anthropic-ai/sdk@1.13.0`) on node from `PATH` (`tests/sdk/seed_flow.mjs`);
//!
//! and the Python SDK's session tool runner answers custom and confirmed calls
//! (`tests/sdk/tool_runner.py`),
//!
//! and, in Python, they list a session's primary thread, stream its events and verify the emulator's
//! webhooks with `client.beta.webhooks.unwrap` (`tests/sdk/threads_webhooks.py`).
//!
//! `tests/sdk/setup.sh` installs them into `target/sdk-venv` and `tests/sdk/node_modules`;
//! without them these tests are skipped locally and fail in CI (`CI` set).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const SEED_FLOW_TIMEOUT: Duration = Duration::from_secs(180);

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Whether the SDK is installed at `installed`. When it is not, the caller skips the test
/// locally (with a printed notice); in CI this panics instead.
fn sdk_installed(installed: &Path, which: &str) -> bool {
    if installed.exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run tests/sdk/setup.sh before the tests ({which} SDK missing at {})",
        installed.display()
    );
    eprintln!("SKIPPED: the official {which} SDK is not installed; run tests/sdk/setup.sh");
    false
}

/// Starts an emulator, runs `program script` against it and asserts it exits 0 with `seed flow OK`.
async fn run_seed_flow(program: impl AsRef<OsStr>, script: &str) {
    let config = cma_emulator::EmulatorConfig::default();
    run_script(program, script, config, &[], "seed flow OK").await;
}

/// Starts an emulator with `config`, runs `program script` against it with `env` added, and
/// asserts it exits 0 and prints `success`.
async fn run_script(
    program: impl AsRef<OsStr>,
    script: &str,
    config: cma_emulator::EmulatorConfig,
    env: &[(&str, &str)],
    success: &str,
) {
    let emulator = cma_emulator::Emulator::start(config)
        .await
        .expect("emulator starts");
    let program = program.as_ref();
    let child = tokio::process::Command::new(program)
        .arg(repo_path(script))
        .env("ANTHROPIC_BASE_URL", emulator.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-emulator-test")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", program.to_string_lossy()));
    let output = tokio::time::timeout(SEED_FLOW_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within {SEED_FLOW_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.to_string_lossy()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(success),
        "{script}: no success line:\n{stdout}\n{stderr}"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_runs_the_seed_flow() {
    let python = repo_path("target/sdk-venv/bin/python");
    if !sdk_installed(&python, "Python") {
        return;
    }
    run_seed_flow(&python, "tests/sdk/seed_flow.py").await;
}

/// The SDK's session tool runner (`client.beta.sessions.events.tool_runner`), unchanged, answers
/// a custom tool call and sees an `always_ask` call held until confirmed
/// (`tests/sdk/tool_runner.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_tool_runner_answers_custom_and_confirmed_calls() {
    let python = repo_path("target/sdk-venv/bin/python");
    if !sdk_installed(&python, "Python") {
        return;
    }
    run_script(
        &python,
        "tests/sdk/tool_runner.py",
        cma_emulator::EmulatorConfig::default(),
        &[],
        "tool runner OK",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_typescript_sdk_runs_the_seed_flow() {
    let sdk = repo_path("tests/sdk/node_modules/@anthropic-ai/sdk");
    if !sdk_installed(&sdk, "TypeScript") {
        return;
    }
    run_seed_flow("node", "tests/sdk/seed_flow.mjs").await;
}

/// The file size limit the files flow runs under (it uploads one byte more to see the 413).
const FILES_FLOW_MAX_BYTES: usize = 4096;

/// Python: upload a file, mount it into a session, have the agent read it, and add, retrieve,
/// list and delete session resources, with the refusals for bad input (`tests/sdk/files_flow.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_runs_the_files_flow() {
    let python = repo_path("target/sdk-venv/bin/python");
    if !sdk_installed(&python, "Python") {
        return;
    }
    let config = cma_emulator::EmulatorConfig {
        max_file_bytes: FILES_FLOW_MAX_BYTES,
        ..Default::default()
    };
    let max = FILES_FLOW_MAX_BYTES.to_string();
    run_script(
        &python,
        "tests/sdk/files_flow.py",
        config,
        &[("FILES_FLOW_MAX_BYTES", &max)],
        "files flow OK",
    )
    .await;
}

/// A webhook receiver for the SDK script: `POST /hook` records each delivery's body and
/// Standard Webhooks headers; `GET /deliveries?count=N` answers once N have arrived (or 504 after
/// a bounded wait), so the script never polls.
mod receiver {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use serde_json::{Value, json};
    use tokio::sync::watch;

    #[derive(Clone)]
    struct Shared {
        seen: Arc<Mutex<Vec<Value>>>,
        count: watch::Sender<usize>,
    }

    async fn hook(State(s): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        let recorded: HashMap<&str, String> = names.iter().map(|n| (*n, header(n))).collect();
        let n = {
            let mut seen = s.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.push(json!({ "headers": recorded, "body": body }));
            seen.len()
        };
        s.count.send_replace(n);
        StatusCode::NO_CONTENT
    }

    async fn deliveries(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, usize>>,
    ) -> Response {
        let want = q.get("count").copied().unwrap_or(1);
        let mut rx = s.count.subscribe();
        let arrived = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|n| *n >= want));
        if !matches!(arrived.await, Ok(Ok(_))) {
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        axum::Json(seen).into_response()
    }

    /// Serves on 127.0.0.1 until the test's runtime ends; returns its base URL.
    pub async fn start() -> String {
        let shared = Shared {
            seen: Arc::default(),
            count: watch::channel(0).0,
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .route("/deliveries", axum::routing::get(deliveries))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("receiver address")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_lists_threads_and_verifies_webhooks() {
    let python = repo_path("target/sdk-venv/bin/python");
    if !sdk_installed(&python, "Python") {
        return;
    }
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let receiver = receiver::start().await;
    let config = cma_emulator::EmulatorConfig {
        webhooks: cma_emulator::WebhookConfig {
            urls: vec![
                cma_emulator::webhooks::parse_url(&format!("{receiver}/hook")).expect("url"),
            ],
            secret: Some(SECRET.parse().expect("secret")),
            ..Default::default()
        },
        ..Default::default()
    };
    run_script(
        &python,
        "tests/sdk/threads_webhooks.py",
        config,
        &[
            ("WEBHOOK_SECRET", SECRET),
            ("WEBHOOK_RECEIVER_URL", &receiver),
        ],
        "threads and webhooks OK",
    )
    .await;
}

/// The official Python SDK's `EnvironmentWorker` serves a self-hosted session: it claims the work
/// item, runs the agent's tool calls and answers them with `user.tool_result` until the turn
/// idles `end_turn`, and syncs the memory the agent wrote back through the memory API
/// (`tests/sdk/self_hosted_worker.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_environment_worker_serves_a_self_hosted_session() {
    let python = repo_path("target/sdk-venv/bin/python");
    if !sdk_installed(&python, "Python") {
        return;
    }
    run_script(
        &python,
        "tests/sdk/self_hosted_worker.py",
        cma_emulator::EmulatorConfig::default(),
        &[],
        "self-hosted worker OK",
    )
    .await;
}
