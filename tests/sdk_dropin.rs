//! The official SDKs, pointed at the embedded emulator with `ANTHROPIC_BASE_URL`, run the
//! cookbook's flow unchanged:
//! - Python (`anthropic==2.10.0`) with strict response validation (`tests/sdk/seed_flow.py`),
//! - TypeScript (`@anthropic-ai/sdk@1.13.0`) on node from `PATH` (`tests/sdk/seed_flow.mjs`);
//!
//! and the Python SDK's session tool runner answers custom and confirmed calls
//! (`tests/sdk/tool_runner.py`).
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
    run_script(program, script, "seed flow OK").await;
}

/// Starts an emulator, runs `program script` against it and asserts it exits 0 printing `ok_line`.
async fn run_script(program: impl AsRef<OsStr>, script: &str, ok_line: &str) {
    let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let program = program.as_ref();
    let child = tokio::process::Command::new(program)
        .arg(repo_path(script))
        .env("ANTHROPIC_BASE_URL", emulator.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-emulator-test")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
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
        stdout.contains(ok_line),
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
    run_script(&python, "tests/sdk/tool_runner.py", "tool runner OK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_typescript_sdk_runs_the_seed_flow() {
    let sdk = repo_path("tests/sdk/node_modules/@anthropic-ai/sdk");
    if !sdk_installed(&sdk, "TypeScript") {
        return;
    }
    run_seed_flow("node", "tests/sdk/seed_flow.mjs").await;
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
        "self-hosted worker OK",
    )
    .await;
}
