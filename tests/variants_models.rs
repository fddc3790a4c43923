//! `cma run --variant` with model backends: each variant gets its own embedded emulator with its
//! agent, pointed at its own scripted fake model server (127.0.0.1). A model that reads its
//! memory against one that never does: the second regresses on the memory checks; a variant's
//! `system-file` is the system prompt its model receives, and the other variant's is untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../crates/emulator/tests/common/fake_models.rs"]
mod fake_models;

use std::time::Duration;

use fake_models::{FakeModel, Proto, memory_model};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(120);

const SCENARIO: &str = r#"
name = "model-recall"
description = "A shoe size told on visit 1 is recalled on visit 2, in a new session."

[agent]
name = "Shoe Shop Assistant"
system = "You help customers of a shoe shop, and remember what they tell you."

[[stores]]
key = "prefs"
name = "Customer Notes"

[[visits]]
[[visits.turns]]
user = "Hello! My shoe size is 41."

[[visits.checks]]
kind = "wrote_memory"

[[visits]]
[[visits.turns]]
user = "What is my shoe size?"

[[visits.turns.checks]]
kind = "contains"
value = "41"

[[visits.checks]]
kind = "read_memory_before_reply"
"#;

const NEW_SYSTEM: &str = "VARIANT-SYSTEM-PROMPT: you sell shoes.";

/// Every string in a JSON value, joined.
fn strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_variant_runs_its_own_model_and_system_prompt() {
    let reads = FakeModel::start(memory_model(true), true).await;
    let never = FakeModel::start(memory_model(false), true).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("model-recall.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let system = dir.path().join("system.txt");
    std::fs::write(&system, NEW_SYSTEM).unwrap();
    let good = format!(
        "good:agent=openai,agent-base-url={}",
        reads.base_url(Proto::OpenAi)
    );
    let bad = format!(
        "bad:agent=openai,agent-base-url={},system-file={},temperature=0.7",
        never.base_url(Proto::OpenAi),
        system.display()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cma"));
    cmd.arg("run")
        .arg(&scenario)
        .args([
            "--progress",
            "off",
            "--turn-timeout",
            "30s",
            "--reports-dir",
        ])
        .arg(dir.path().join("reports"))
        .args(["--variant", &good, "--variant", &bad])
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true);
    let output = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .expect("cma run timed out")
        .unwrap();
    let out = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{out}");
    // Two visits: read + write + answer, then read + answer.
    assert_eq!(reads.requests().len(), 5, "{out}");
    assert!(!never.requests().is_empty(), "{out}");

    let sent = |model: &FakeModel| {
        let mut all = String::new();
        for r in model.requests() {
            strings(&r.body, &mut all);
        }
        all
    };
    assert!(
        sent(&never).contains(NEW_SYSTEM),
        "the variant's system prompt"
    );
    assert!(
        !sent(&reads).contains(NEW_SYSTEM),
        "the other variant keeps its own"
    );
    assert!(sent(&reads).contains("You help customers of a shoe shop"));
    // A variant's temperature reaches only its own model; the other keeps the default 0.
    let temperatures = |model: &FakeModel| -> Vec<serde_json::Value> {
        model
            .requests()
            .iter()
            .map(|r| r.body["temperature"].clone())
            .collect()
    };
    assert!(
        temperatures(&never)
            .iter()
            .all(|t| *t == serde_json::json!(0.7)),
        "{:?}",
        temperatures(&never)
    );
    assert!(
        temperatures(&reads)
            .iter()
            .all(|t| *t == serde_json::json!(0.0)),
        "{:?}",
        temperatures(&reads)
    );

    let run: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/latest/run.json")).unwrap(),
    )
    .unwrap();
    let regressed: Vec<&str> = run["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["variant"] == "bad" && c["change"] == "regressed")
        .filter_map(|c| c["label"].as_str())
        .collect();
    assert!(
        regressed
            .iter()
            .any(|l| l.contains("read_memory_before_reply")),
        "{regressed:?}\n{out}"
    );
    let good_checks = run["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["variant"] == "good");
    for c in good_checks {
        assert_eq!(c["ok"], true, "{c}");
    }
}
