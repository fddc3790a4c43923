//! The official Python SDK (`anthropic==2.10.0`), pointed at the embedded emulator with
//! `ANTHROPIC_BASE_URL`, runs the cookbook's flow unchanged with strict response validation
//! (`tests/sdk/seed_flow.py`). `tests/sdk/setup.sh` installs the SDK into `target/sdk-venv`;
//! without it this test is skipped locally and fails in CI (`CI=true`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn sdk_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    python.exists().then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_runs_the_seed_flow() {
    let Some(python) = sdk_python() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run tests/sdk/setup.sh before the tests"
        );
        eprintln!("SKIPPED: the official SDK is not installed; run tests/sdk/setup.sh");
        return;
    };
    let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/seed_flow.py");
    let child = tokio::process::Command::new(python)
        .arg(script)
        .env("ANTHROPIC_BASE_URL", emulator.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-emulator-test")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the seed flow finishes within 180 s")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "seed_flow.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("seed flow OK"),
        "no success line:\n{stdout}\n{stderr}"
    );
    emulator.shutdown().await;
}
