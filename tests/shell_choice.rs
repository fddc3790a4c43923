//! Which shell `cma run` gives the agent's `bash`, and that it says so: `--emulated-shell` takes
//! effect on the local target and `run.json` records the shell; a model agent without bubblewrap
//! gets one warning line saying what the emulated shell lacks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const SCENARIO: &str = r#"
name = "one-fact"
description = "One fact, recalled in a second visit."

[[stores]]
key = "prefs"
name = "Preferences"

[[visits]]
[[visits.turns]]
user = "My shoe size is 41."

[[visits]]
[[visits.turns]]
user = "What is my shoe size?"

[[visits.turns.checks]]
kind = "contains"
value = "41"
"#;

/// `cma run` on the one-fact scenario with `args` (and `path` as PATH when given): its exit
/// code, stderr and `run.json`.
fn cma_run(dir: &Path, args: &[&str], path: Option<&str>) -> (i32, String, serde_json::Value) {
    std::fs::write(dir.join("one-fact.toml"), SCENARIO).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cma"));
    cmd.arg("run")
        .arg(dir.join("one-fact.toml"))
        .args([
            "--progress",
            "off",
            "--turn-timeout",
            "20s",
            "--reports-dir",
        ])
        .arg(dir.join("reports"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("cma runs");
    let run = std::fs::read_to_string(dir.join("reports/latest/run.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        run,
    )
}

/// Break it: give `--target local` `EmulatorConfig::default()` again (as before issue 19) and
/// the first run records `bubblewrap`.
#[test]
fn emulated_shell_takes_effect_on_cma_run_and_run_json_records_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err, run) = cma_run(dir.path(), &["--emulated-shell"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run["settings"]["shell"], "emulated", "{err}");
    if !cma_emulator::real_shell_available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "bubblewrap is required under CI=true"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, err, run) = cma_run(dir.path(), &[], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run["settings"]["shell"], "bubblewrap", "{err}");
    assert!(!err.contains("emulated shell"), "{err}");
}

/// Break it: drop the `warn_emulated_shell` call from `cma run`.
#[test]
fn a_model_agent_without_bubblewrap_gets_one_warning_line() {
    let dir = tempfile::tempdir().unwrap();
    // No bwrap on this PATH (the binary is started by its absolute path). The model server is
    // unreachable: the turns fail, which is not what this test is about.
    let (_, err, run) = cma_run(
        dir.path(),
        &[
            "--agent",
            "openai",
            "--agent-base-url",
            "http://127.0.0.1:9/v1",
        ],
        Some("/nonexistent"),
    );
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("emulated shell"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("bubblewrap") && warnings[0].contains("pipes"),
        "{}",
        warnings[0]
    );
    assert_eq!(run["settings"]["shell"], "emulated", "{err}");
    // The reference agent needs no real shell: no warning.
    let dir = tempfile::tempdir().unwrap();
    let (code, err, _) = cma_run(dir.path(), &[], Some("/nonexistent"));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("emulated shell"), "{err}");
}
