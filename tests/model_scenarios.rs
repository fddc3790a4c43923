//! `cma run --agent anthropic|openai` end to end: a recall scenario runs through the embedded
//! emulator against the scripted fake model servers of crates/emulator/tests/common/fake_models.rs
//! (on 127.0.0.1), passes with a model that reads its memory, fails with one that never does,
//! and the API key shows nowhere. The live test runs only with CMA_LIVE_TESTS=1 and a key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../crates/emulator/tests/common/fake_models.rs"]
mod fake_models;

use std::path::Path;
use std::time::Duration;

use cma_emulator::agent::reference::Regression;
use fake_models::{FakeModel, Proto, Seen, memory_model, say};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(120);
const KEY: &str = "sk-model-scenario-LEAKCANARY-7f3a";

const SCENARIO: &str = r#"
name = "model-recall"
description = "A shoe size told on visit 1 is recalled on visit 2, in a new session."
tags = ["recall"]

[agent]
name = "Shoe Shop Assistant"
system = "You help customers of a shoe shop, and remember what they tell you."

[[stores]]
key = "prefs"
name = "Customer Notes"
description = "What this customer has told the shop."
instructions = "Check it at the start of every conversation and update it when you learn something new."

[[visits]]
[[visits.turns]]
user = "Hello! My shoe size is 41."

[[visits.checks]]
kind = "wrote_memory"

[[visits.checks]]
kind = "memory_contains"
value = "shoe size: 41"

[[visits]]
[[visits.turns]]
user = "What is my shoe size?"

[[visits.turns.checks]]
kind = "contains"
value = "41"

[[visits.turns.checks]]
kind = "stop_reason"
value = "end_turn"

[[visits.checks]]
kind = "read_memory_before_reply"
"#;

struct Outcome {
    code: i32,
    out: String,
}

async fn cma_run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Outcome {
    cma_run_on(dir, SCENARIO, args, envs).await
}

async fn cma_run_on(dir: &Path, text: &str, args: &[&str], envs: &[(&str, &str)]) -> Outcome {
    let scenario = dir.join("model-recall.toml");
    std::fs::write(&scenario, text).unwrap();
    cma_run_paths(dir, &scenario, args, envs).await
}

/// `cma run` of one scenario text with a model agent and a `--grader`, plus `extra` flags.
async fn cma_run_graded(
    dir: &Path,
    text: &str,
    (agent, agent_url): (&str, &str),
    grader: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> Outcome {
    let mut args = vec![
        "--agent",
        agent,
        "--agent-base-url",
        agent_url,
        "--grader",
        grader,
    ];
    args.extend_from_slice(extra);
    cma_run_on(dir, text, &args, envs).await
}

async fn cma_run_paths(dir: &Path, paths: &Path, args: &[&str], envs: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cma"));
    cmd.arg("run")
        .arg(paths)
        .args(["--progress", "off", "--reports-dir"])
        .arg(dir.join("reports"))
        .args(args)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env("RUST_LOG", "debug")
        .kill_on_drop(true);
    if !args.contains(&"--turn-timeout") {
        cmd.args(["--turn-timeout", "30s"]);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let output = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .expect("cma run timed out")
        .unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        out: format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn no_key_in_reports(dir: &Path) {
    for entry in walk(&dir.join("reports")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(KEY), "the key is in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

async fn passes_and_fails_without_memory(proto: Proto, agent: &str, key_var: &str) {
    let good = FakeModel::start(memory_model(true), true).await;
    let dir = tempfile::tempdir().unwrap();
    let url = good.base_url(proto);
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            agent,
            "--agent-base-url",
            &url,
            "--agent-api-key-env",
            key_var,
        ],
        &[(key_var, KEY)],
    )
    .await;
    assert_eq!(r.code, 0, "{agent}: {}", r.out);
    assert!(!r.out.contains(KEY), "the key is in the output");
    no_key_in_reports(dir.path());
    good.assert_clean();
    // Two visits: read + write + answer, then read + answer.
    assert_eq!(good.requests().len(), 5, "{agent}");
    let sent_key = match proto {
        Proto::Anthropic => good.requests()[0].headers["x-api-key"]
            .to_str()
            .unwrap()
            .to_string(),
        Proto::OpenAi => good.requests()[0].headers["authorization"]
            .to_str()
            .unwrap()
            .to_string(),
    };
    assert!(sent_key.ends_with(KEY));

    let forgetful = FakeModel::start(memory_model(false), true).await;
    let dir = tempfile::tempdir().unwrap();
    let url = forgetful.base_url(proto);
    let r = cma_run(
        dir.path(),
        &["--agent", agent, "--agent-base-url", &url],
        &[(key_var, KEY)],
    )
    .await;
    // Not named, the backend's own key does not go to a server other than its company's.
    for q in forgetful.requests() {
        assert!(
            !q.headers.contains_key("x-api-key") && !q.headers.contains_key("authorization"),
            "{agent}: {key_var} was sent to {url}"
        );
    }
    assert_eq!(
        r.code, 1,
        "{agent}: a model that never reads memory must fail: {}",
        r.out
    );
    assert!(r.out.contains("read_memory_before_reply"), "{}", r.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_scenario_passes_on_the_fake_messages_api_and_fails_without_memory() {
    passes_and_fails_without_memory(Proto::Anthropic, "anthropic", "ANTHROPIC_API_KEY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_scenario_passes_on_the_fake_openai_server_and_fails_without_memory() {
    passes_and_fails_without_memory(Proto::OpenAi, "openai", "OPENAI_API_KEY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let r = cma_run(dir.path(), &["--agent", "gpt"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.out);
    let r = cma_run(
        dir.path(),
        &["--agent", "openai", "--target", "http://127.0.0.1:9"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(r.out.contains("cma serve --agent openai"), "{}", r.out);
    let r = cma_run(
        dir.path(),
        &["--agent", "openai", "--agent-base-url", "ftp://x"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.out);
    let r = cma_run(dir.path(), &["--agent-context-tokens", "0"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.out);
}

/// A conversation over `--agent-context-tokens` is never sent: its checks fail naming the
/// estimate and the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_over_the_context_window_fails_its_checks_naming_both_numbers() {
    let model = FakeModel::start(memory_model(true), true).await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(Proto::OpenAi);
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            "openai",
            "--agent-base-url",
            &url,
            "--agent-context-tokens",
            "100",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out
            .contains("prompt tokens against a window of 100 tokens (--agent-context-tokens)"),
        "{}",
        r.out
    );
    assert!(model.requests().is_empty(), "nothing was sent");
    let junit = std::fs::read_to_string(dir.path().join("reports/latest/junit.xml")).unwrap();
    assert!(junit.contains("against a window of 100 tokens"), "{junit}");
}

/// Against the real Messages API, so ignored by default (it shows as ignored, never as passed):
/// `CMA_LIVE_TESTS=1 ANTHROPIC_API_KEY=… cargo test --test model_scenarios -- --ignored live`.
/// CMA_LIVE_MODEL picks the model (default claude-haiku-4-5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "calls the real Messages API: needs CMA_LIVE_TESTS=1 and ANTHROPIC_API_KEY"]
async fn live_messages_api_recall() {
    let key = std::env::var("ANTHROPIC_API_KEY").unwrap_or_default();
    assert!(
        std::env::var("CMA_LIVE_TESTS").as_deref() == Ok("1") && !key.is_empty(),
        "live_messages_api_recall needs CMA_LIVE_TESTS=1 and ANTHROPIC_API_KEY"
    );
    let model = std::env::var("CMA_LIVE_MODEL").unwrap_or_else(|_| "claude-haiku-4-5".into());
    let dir = tempfile::tempdir().unwrap();
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            "anthropic",
            "--agent-model",
            &model,
            "--turn-timeout",
            "120s",
        ],
        &[("ANTHROPIC_API_KEY", &key)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(!r.out.contains(&key));
}

/// The recall scenario with a model-graded check on the recall turn.
fn rubric_scenario(rubric: &str) -> String {
    SCENARIO.replace(
        "[[visits.turns.checks]]\nkind = \"stop_reason\"",
        &format!("[[visits.turns.checks]]\nkind = \"llm_rubric\"\nrubric = \"{rubric}\"\n\n[[visits.turns.checks]]\nkind = \"stop_reason\""),
    )
}

/// A grader that passes a reply mentioning 41 and fails any other, saying why.
async fn fake_grader() -> FakeModel {
    FakeModel::start(
        std::sync::Arc::new(|s: &Seen| {
            let reply = s.turn_text.split("<reply>").nth(1).unwrap_or("");
            if reply.contains("41") {
                say("```json\n{\"pass\": true, \"reason\": \"It gives the size 41.\"}\n```")
            } else {
                say("{\"pass\": false, \"reason\": \"It never gives a size.\"}")
            }
        }),
        false,
    )
    .await
}

/// A grader that refuses, is cut off or answers no verdict judged nothing: the check is an
/// error (not a pass, not a fail) in the terminal, JUnit, the run page and run.json. The grader
/// is asked at temperature 0, and its key goes only where --grader-api-key-env says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grader_that_gives_no_verdict_makes_the_check_an_error() {
    use fake_models::{Step, Stop};
    let answers: [(Step, &str); 3] = [
        (
            Step::Reply {
                text: vec!["I can't help with that.".into()],
                tools: vec![],
                stop: Stop::Refusal,
            },
            "the model refused",
        ),
        (
            Step::Reply {
                text: vec!["{\"pass\": tr".into()],
                tools: vec![],
                stop: Stop::MaxTokens,
            },
            "the model stopped at length",
        ),
        (say("I think it passes."), "its answer is not a verdict"),
    ];
    let agent = FakeModel::start(memory_model(true), true).await;
    let agent_url = agent.base_url(Proto::OpenAi);
    let text = rubric_scenario("The reply tells the customer their shoe size.");
    for (answer, why) in answers {
        let grader =
            FakeModel::start(std::sync::Arc::new(move |_: &Seen| answer.clone()), false).await;
        let dir = tempfile::tempdir().unwrap();
        let spec = format!("openai:grader-model@{}", grader.base_url(Proto::OpenAi));
        let r = cma_run_graded(
            dir.path(),
            &text,
            ("openai", &agent_url),
            &spec,
            &["--grader-api-key-env", "CMA_TEST_GRADER_KEY"],
            &[("CMA_TEST_GRADER_KEY", KEY)],
        )
        .await;
        assert_eq!(r.code, 1, "{why}: {}", r.out);
        let q = &grader.requests()[0];
        assert_eq!(q.body["temperature"], 0.0, "{}", q.body);
        assert_eq!(q.headers["authorization"], format!("Bearer {KEY}"));
        assert!(
            r.out.contains("ERROR model-recall [default] "),
            "{why}: {}",
            r.out
        );
        assert!(r.out.contains(why), "{why}: {}", r.out);
        assert!(r.out.contains("1 errors)"), "{why}: {}", r.out);
        let run = run_json(dir.path());
        let rubric = run["units"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "llm_rubric")
            .unwrap()
            .clone();
        assert!(
            rubric["error"].as_str().is_some_and(|e| e.contains(why)),
            "{rubric}"
        );
        assert_eq!(rubric["passed"], false);
        assert_eq!(run["totals"]["results_errored"], 1);
        let junit = std::fs::read_to_string(dir.path().join("reports/latest/junit.xml")).unwrap();
        assert!(junit.contains("<error "), "{junit}");
        assert_eq!(junit.matches("<failure").count(), 0, "{junit}");
        let page = std::fs::read_to_string(dir.path().join("reports/latest/index.html")).unwrap();
        assert!(page.contains("<li class=\"check error\">"), "{why}");
        no_key_in_reports(dir.path());
    }
    // Without --grader-api-key-env a local grader gets no key.
    let grader = fake_grader().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("openai:grader-model@{}", grader.base_url(Proto::OpenAi));
    let r = cma_run_graded(
        dir.path(),
        &text,
        ("openai", &agent_url),
        &spec,
        &[],
        &[("OPENAI_API_KEY", KEY)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(grader.requests()[0].headers.get("authorization").is_none());

    // The grader's key is a secret like the agent's: echoed back, it is redacted everywhere.
    let echo = FakeModel::start(
        std::sync::Arc::new(|_: &Seen| {
            say(&format!(
                "{{\"pass\": true, \"reason\": \"Sent with {KEY}.\"}}"
            ))
        }),
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("openai:grader-model@{}", echo.base_url(Proto::OpenAi));
    let r = cma_run_graded(
        dir.path(),
        &text,
        ("openai", &agent_url),
        &spec,
        &["--grader-api-key-env", "CMA_TEST_GRADER_KEY"],
        &[("CMA_TEST_GRADER_KEY", KEY)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    no_key_in_reports(dir.path());
    let csv = std::fs::read_to_string(dir.path().join("reports/latest/results.csv")).unwrap();
    assert!(csv.contains("Sent with [redacted]."), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_rubric_checks_are_judged_by_the_grader_cached_and_refused_without_one() {
    let agent = FakeModel::start(memory_model(true), true).await;
    let grader = fake_grader().await;
    let dir = tempfile::tempdir().unwrap();
    let text = rubric_scenario("The reply tells the customer their shoe size.");
    let agent_url = agent.base_url(Proto::Anthropic);
    let grader_spec = format!(
        "anthropic:grader-model@{}",
        grader.base_url(Proto::Anthropic)
    );
    let args = [
        "--agent",
        "anthropic",
        "--agent-base-url",
        &agent_url,
        "--grader",
        &grader_spec,
    ];

    let r = cma_run_on(dir.path(), &text, &args, &[("ANTHROPIC_API_KEY", KEY)]).await;
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(grader.requests().len(), 1);
    assert_eq!(grader.requests()[0].body["model"], "grader-model");
    let question = grader.requests()[0].body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        question.contains("The reply tells the customer their shoe size.")
            && question.contains("shoe size: 41"),
        "{question}"
    );
    let csv = std::fs::read_to_string(dir.path().join("reports/latest/results.csv")).unwrap();
    assert!(
        csv.contains("It gives the size 41."),
        "the reason is in the report: {csv}"
    );
    no_key_in_reports(dir.path());

    // The same replies again: the verdict comes from the cache, the grader is not asked.
    let r = cma_run_on(dir.path(), &text, &args, &[("ANTHROPIC_API_KEY", KEY)]).await;
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(
        grader.requests().len(),
        1,
        "a cached verdict is not asked again"
    );
    let csv = std::fs::read_to_string(dir.path().join("reports/latest/results.csv")).unwrap();
    assert!(csv.contains("(cached): It gives the size 41."), "{csv}");

    // A model that never reads memory cannot give the size: the grader fails it, saying why.
    let forgetful = FakeModel::start(memory_model(false), true).await;
    let url = forgetful.base_url(Proto::Anthropic);
    let r = cma_run_graded(
        dir.path(),
        &text,
        ("anthropic", &url),
        &grader_spec,
        &[],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.out);
    let csv = std::fs::read_to_string(dir.path().join("reports/latest/results.csv")).unwrap();
    assert!(csv.contains("It never gives a size."), "{csv}");

    // No grader: refused before anything runs.
    let before = agent.requests().len();
    let r = cma_run_on(
        dir.path(),
        &text,
        &["--agent", "anthropic", "--agent-base-url", &agent_url],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(r.out.contains("--grader"), "{}", r.out);
    assert_eq!(agent.requests().len(), before, "nothing ran");
}

fn run_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("reports/latest/run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The shipped scenarios/ directory, every check, on a fake model whose decisions are the
/// reference agent's rules driven through the wire protocol (its mounts parsed from the system
/// prompt's memory section): all pass on both protocols; the amnesiac variant (never reads
/// memory) fails them.
async fn shipped_scenarios_on_the_reference_model(proto: Proto, agent: &str) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let model = FakeModel::start_reference(None).await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(proto);
    let started = std::time::Instant::now();
    let r = cma_run_paths(
        dir.path(),
        &shipped,
        &["--agent", agent, "--agent-base-url", &url],
        &[],
    )
    .await;
    eprintln!(
        "{agent}: scenarios/ in {:.1}s, {} model requests",
        started.elapsed().as_secs_f64(),
        model.requests().len()
    );
    assert_eq!(r.code, 0, "{agent}: {}", r.out);
    let run = run_json(dir.path());
    let files = std::fs::read_dir(&shipped)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    assert_eq!(
        run["totals"]["scenarios"], files,
        "{agent}: every shipped scenario ran"
    );
    let checks = run["checks"].as_array().unwrap();
    assert!(checks.len() > 50, "{agent}: only {} checks", checks.len());
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "{agent}: failed checks: {failed:#?}");
    assert_eq!(run["totals"]["checks_ok"], checks.len());
    assert_eq!(run["totals"]["turns_unfinished"], 0);
    model.assert_clean();

    let amnesiac = FakeModel::start_reference(Some(Regression::NeverReads)).await;
    let dir = tempfile::tempdir().unwrap();
    let url = amnesiac.base_url(proto);
    let r = cma_run_paths(
        dir.path(),
        &shipped,
        &["--agent", agent, "--agent-base-url", &url],
        &[],
    )
    .await;
    assert_eq!(
        r.code, 1,
        "{agent}: a model that never reads memory must fail: {}",
        r.out
    );
    let run = run_json(dir.path());
    let failed_in: std::collections::BTreeSet<&str> = run["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] != true)
        .filter_map(|c| c["scenario"].as_str())
        .collect();
    eprintln!("{agent}, amnesiac: failed checks in {failed_in:?}");
    assert!(
        failed_in.contains("single-fact-recall") && failed_in.contains("multi-session-aggregation"),
        "{agent}: the amnesiac fails the cross-session recall scenarios: {failed_in:?}"
    );
    amnesiac.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scenarios_pass_on_the_fake_messages_api_driven_by_the_reference_rules() {
    shipped_scenarios_on_the_reference_model(Proto::Anthropic, "anthropic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scenarios_pass_on_the_fake_openai_server_driven_by_the_reference_rules() {
    shipped_scenarios_on_the_reference_model(Proto::OpenAi, "openai").await;
}

/// `--agent-temperature`, `--agent-seed` and `--agent-max-tokens` reach every model request and
/// `run.json` (and the run page); without them a run sends temperature 0 and 4096 tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_settings_are_sent_with_every_request_and_recorded() {
    let model = FakeModel::start(memory_model(true), true).await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(Proto::OpenAi);
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            "openai",
            "--agent-base-url",
            &url,
            "--agent-temperature",
            "0.5",
            "--agent-seed",
            "7",
            "--agent-max-tokens",
            "512",
            "--agent-memory-guidance",
            "--agent-context-tokens",
            "100000",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    let requests = model.requests();
    assert!(!requests.is_empty());
    let guidance = cma_emulator::agent::prompt::GUIDANCE;
    for q in &requests {
        // The store is mounted under its scenario name, as the service would show it, and
        // --agent-memory-guidance adds its advice.
        let system = q.body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(
            system.contains("## /mnt/memory/customer-notes\n- name: Customer Notes\n"),
            "{system}"
        );
        assert!(system.contains(guidance), "{system}");
        assert_eq!(
            (
                &q.body["temperature"],
                &q.body["seed"],
                &q.body["max_tokens"]
            ),
            (
                &serde_json::json!(0.5),
                &serde_json::json!(7),
                &serde_json::json!(512)
            ),
            "{}",
            q.body
        );
    }
    // A model server on 127.0.0.1: one unit at a time unless told, the values said at the start.
    assert!(
        r.out
            .contains("seed 7, max tokens 512, context 100000 tokens, memory guidance; concurrency 1, turn timeout 30 s"),
        "{}",
        r.out
    );
    assert_eq!(run_json(dir.path())["settings"]["concurrency"], 1);
    let agent = &run_json(dir.path())["settings"]["agent"];
    assert_eq!(agent["backend"], "openai");
    assert_eq!(
        agent["base_url"].as_str().map(|u| u.trim_end_matches('/')),
        Some(url.as_str())
    );
    assert_eq!(
        (&agent["temperature"], &agent["seed"], &agent["max_tokens"]),
        (
            &serde_json::json!(0.5),
            &serde_json::json!(7),
            &serde_json::json!(512)
        )
    );
    assert_eq!(agent["memory_guidance"], true);
    assert_eq!(agent["context_tokens"], 100000);
    // The fake counts 2000 + its call index as each prompt: the unit's peak is the last one's.
    assert_eq!(
        run_json(dir.path())["units"][0]["usage"]["total"]["peak_prompt_tokens"],
        2000 + requests.len() - 1
    );
    let page = std::fs::read_to_string(dir.path().join("reports/latest/index.html")).unwrap();
    assert!(
        page.contains("temperature 0.5, seed 7, max tokens 512"),
        "the run page shows the settings"
    );

    let model = FakeModel::start(memory_model(true), true).await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(Proto::Anthropic);
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            "anthropic",
            "--agent-base-url",
            &url,
            "--concurrency",
            "3",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(
        r.out.contains("concurrency 3, turn timeout 30 s"),
        "{}",
        r.out
    );
    for q in &model.requests() {
        assert_eq!(
            (&q.body["temperature"], &q.body["max_tokens"]),
            (&serde_json::json!(0.0), &serde_json::json!(4096))
        );
        assert!(q.body.get("seed").is_none(), "the Messages API has no seed");
        let system = q.body["system"].as_str().unwrap_or_default();
        assert!(
            system.contains("## /mnt/memory/customer-notes\n"),
            "{system}"
        );
        assert!(
            !system.contains(guidance),
            "no advice unless asked: {system}"
        );
    }
    assert!(
        run_json(dir.path())["settings"]["agent"]
            .get("memory_guidance")
            .is_none()
    );
}

/// A reply cut at max_tokens fails the turn's checks in every report, naming the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_reply_fails_its_checks_naming_max_tokens() {
    let model = FakeModel::start(
        std::sync::Arc::new(|_: &Seen| fake_models::Step::Reply {
            text: vec!["Your size is".into()],
            tools: vec![],
            stop: fake_models::Stop::MaxTokens,
        }),
        true,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(Proto::Anthropic);
    let r = cma_run(
        dir.path(),
        &["--agent", "anthropic", "--agent-base-url", &url],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.out);
    let run = run_json(dir.path());
    let seen: Vec<&str> = run["units"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "stop_reason")
        .map(|c| c["seen"].as_str().unwrap_or(""))
        .collect();
    assert!(!seen.is_empty());
    for s in seen {
        assert!(
            s.contains("the model stopped at max_tokens (1") && s.contains(" output tokens)"),
            "{s}"
        );
    }
    let summary = std::fs::read_to_string(dir.path().join("reports/latest/summary.md")).unwrap();
    assert!(summary.contains("stopped at max_tokens"), "{summary}");
}

/// `--agent-stall-timeout` reaches the model client: a server that sends its headers and then
/// nothing fails the turn's checks after that long, naming the flag, where the turn would
/// otherwise wait for the 30 s turn timeout; a timeout of 0 is a usage error. A streamed run's
/// debug log carries each request's time to first token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_model_server_fails_the_turn_after_the_stall_timeout() {
    let model = FakeModel::start(
        std::sync::Arc::new(|_: &Seen| fake_models::Step::Stall),
        true,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = model.base_url(Proto::OpenAi);
    let started = std::time::Instant::now();
    let r = cma_run(
        dir.path(),
        &[
            "--agent",
            "openai",
            "--agent-base-url",
            &url,
            "--agent-stall-timeout",
            "0.3",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the turn timeout"
    );
    let run = run_json(dir.path());
    let seen: Vec<&str> = run["units"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seen"].as_str().unwrap_or(""))
        .collect();
    assert!(
        seen.iter()
            .any(|s| s.contains("sent nothing for 0.3 s (--agent-stall-timeout)")),
        "{seen:?}"
    );
    let r = cma_run(dir.path(), &["--agent-stall-timeout", "0"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(
        r.out.contains("a stall timeout is a number of seconds"),
        "{}",
        r.out
    );

    let model = FakeModel::start(memory_model(true), true).await;
    let url = model.base_url(Proto::Anthropic);
    let r = cma_run(
        dir.path(),
        &["--agent", "anthropic", "--agent-base-url", &url],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.out);
    let done: Vec<&str> = r
        .out
        .lines()
        .filter(|l| l.contains("model request done"))
        .collect();
    assert!(
        !done.is_empty(),
        "no model request in the debug log: {}",
        r.out
    );
    assert!(
        done.iter()
            .all(|l| l.contains("model_request") && l.contains("ttft_ms")),
        "{done:?}"
    );
}
