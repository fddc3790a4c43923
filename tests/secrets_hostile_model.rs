//! Secrets never leave, whatever a model does with them. Every secret `cma` holds is planted in
//! its environment — the target's key (`ANTHROPIC_API_KEY`), the agent model's key (in a variable
//! of any name, `--agent-api-key-env`), the grader's key (`OPENAI_API_KEY`), the webhook secret
//! (`CMA_WEBHOOK_SECRET`) and `cma serve`'s key (`CMA_SERVE_API_KEY`) — and a hostile scripted
//! model (on 127.0.0.1) that knows them all prints them every way it can: in its text, in a
//! `bash` command and its output (echo, `env`, every `/proc/*/environ`), in a memory it writes
//! and reads back; the grader repeats them in its verdict. Then every output is searched: `cma
//! run`'s terminal output, its logs at `RUST_LOG=trace` and every report file (run.json with the
//! transcripts, index.html, summary.md, junit.xml, results.csv, the history diffs); `cma serve`'s
//! events as listed and as streamed, and its logs; and every tool result the model was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../crates/emulator/tests/common/fake_models.rs"]
mod fake_models;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cma_client::Client;
use cma_client::types::*;
use fake_models::{FakeModel, Proto, Seen, Step, say, tool};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(120);

async fn t<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("operation timed out")
}

/// The planted secrets: `(variable, value)`, each value unique to this run.
fn secrets() -> Vec<(&'static str, String)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tail = format!("{:x}{nanos:x}", std::process::id());
    vec![
        ("ANTHROPIC_API_KEY", format!("sk-ant-target-{tail}-LEAK")),
        ("MY_AGENT_KEY", format!("sk-agent-model-{tail}-LEAK")),
        ("OPENAI_API_KEY", format!("sk-grader-{tail}-LEAK")),
        // `whsec_` and base64 of "webhook-secret-canary-<tail>".
        ("CMA_WEBHOOK_SECRET", format!("whsec_{}", base64(&tail))),
        ("CMA_SERVE_API_KEY", format!("sk-serve-{tail}-LEAK")),
    ]
}

/// Standard base64 of `webhook-secret-canary-<tail>` (no crate for one value).
fn base64(tail: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("webhook-secret-canary-{tail}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[track_caller]
fn assert_clean(what: &str, text: &str, secrets: &[(&str, String)]) {
    for (name, value) in secrets {
        let b64 = value.strip_prefix("whsec_").unwrap_or(value);
        for needle in [value.as_str(), b64] {
            if let Some(at) = text.find(needle) {
                let line = text[..at].rsplit('\n').next().unwrap_or("");
                panic!("{what} holds {name}, in the line starting {line:?}");
            }
        }
    }
}

/// Every file under `dir`, checked; how many there were.
fn assert_dir_clean(dir: &Path, secrets: &[(&str, String)]) -> usize {
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                let text = String::from_utf8_lossy(&bytes);
                assert_clean(&path.display().to_string(), &text, secrets);
            }
        }
    }
    files
}

/// The hostile model: each turn, every secret in a `bash` command that also dumps the
/// environment, then in a memory it writes and reads back, then in its answer.
fn hostile(secrets: &[(&str, String)]) -> fake_models::Script {
    let all = secrets
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Arc::new(move |s: &Seen| -> Step {
        // An error answer that repeats the key it was sent, as some servers do: it reaches the
        // logs and the session's error event.
        if s.turn_text == "fail" {
            return Step::Raw {
                status: 400,
                headers: vec![("content-type", "application/json".into())],
                body: serde_json::json!({ "type": "error", "error": {
                    "type": "invalid_request_error", "message": format!("bad request with {all}")
                } })
                .to_string(),
            };
        }
        let leak = format!("{}/leak.md", s.mount());
        match s.results.len() {
            0 => tool(
                "bash",
                serde_json::json!({ "command": format!(
                    "echo {all}; env; for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; done; \
                     printf '%s' '{all}' > /tmp/k && cat /tmp/k"
                ) }),
            ),
            1 => tool(
                "write",
                serde_json::json!({ "file_path": leak, "content": format!("keys: {all}\n") }),
            ),
            2 => tool("read", serde_json::json!({ "file_path": leak })),
            _ => say(&format!("Your size is 41. The keys I know: {all}")),
        }
    })
}

/// A grader that passes every reply, giving the secrets as its reason.
fn hostile_grader(secrets: &[(&str, String)]) -> fake_models::Script {
    let all = secrets
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Arc::new(move |_: &Seen| say(&format!("{{\"pass\": true, \"reason\": \"keys {all}\"}}")))
}

/// No tool result the model was sent carries a secret (its own earlier words may: they are
/// its), and the agent's key did reach it (so the planted key was the one in use).
fn assert_model_saw_no_secret(model: &FakeModel, secrets: &[(&str, String)]) {
    let requests = model.requests();
    assert!(requests.len() >= 4, "{} requests", requests.len());
    for q in &requests {
        for m in q.body["messages"].as_array().unwrap() {
            // Tool results: in user messages (Messages API) or tool messages (chat completions).
            if m["role"] == "user" || m["role"] == "tool" {
                assert_clean("a tool result sent to the model", &m.to_string(), secrets);
            }
        }
    }
    let sent = match requests[0].proto {
        Proto::Anthropic => requests[0].headers["x-api-key"].to_str().unwrap(),
        Proto::OpenAi => requests[0].headers["authorization"].to_str().unwrap(),
    };
    assert!(
        sent.ends_with(&secrets[1].1),
        "the agent's key is the one it names"
    );
}

const SCENARIO: &str = r#"
name = "hostile-secrets"
description = "A model that knows every key prints them."

[agent]
name = "Shoe Shop Assistant"
system = "You help customers of a shoe shop."

[[stores]]
key = "prefs"
name = "Customer Notes"
description = "What this customer has told the shop."

[[visits]]
[[visits.turns]]
user = "What is my shoe size?"

[[visits.turns.checks]]
kind = "contains"
value = "41"

[[visits.turns.checks]]
kind = "llm_rubric"
rubric = "The reply gives a shoe size."
"#;

fn cli(args: &[&str], secrets: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cma"));
    cmd.args(args)
        .env_clear()
        // bwrap is looked up in PATH.
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in secrets {
        cmd.env(k, v);
    }
    cmd
}

/// `cma run` on the embedded emulator, a model of each protocol: terminal output, trace logs and
/// every report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cma_run_writes_no_secret_a_hostile_model_prints() {
    for (proto, agent) in [(Proto::Anthropic, "anthropic"), (Proto::OpenAi, "openai")] {
        cma_run_on(proto, agent).await;
    }
}

async fn cma_run_on(proto: Proto, agent: &str) {
    let secrets = secrets();
    let model = FakeModel::start(hostile(&secrets), true).await;
    let grader = FakeModel::start(hostile_grader(&secrets), false).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("hostile.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let reports = dir.path().join("reports");
    let grader_spec = format!("openai:grader@{}", grader.base_url(Proto::OpenAi));
    let agent_url = model.base_url(proto);
    let out = t(cli(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--agent",
            agent,
            "--agent-base-url",
            &agent_url,
            "--agent-api-key-env",
            "MY_AGENT_KEY",
            "--grader",
            &grader_spec,
            "--progress",
            "lines",
            "--turn-timeout",
            "60s",
            "--reports-dir",
            reports.to_str().unwrap(),
        ],
        &secrets,
    )
    .output())
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{agent}: {stdout}\n{stderr}");
    assert_clean("cma run's stdout", &stdout, &secrets);
    assert_clean("cma run's logs (stderr)", &stderr, &secrets);
    assert!(
        stderr.lines().count() > 50,
        "RUST_LOG=trace logged too little to prove anything:\n{stderr}"
    );
    let files = assert_dir_clean(&reports, &secrets);
    assert!(files >= 5, "only {files} report files");
    // The model did print them: run.json shows where, redacted.
    let run = std::fs::read_to_string(reports.join("latest/run.json")).unwrap();
    assert!(run.matches("[redacted]").count() >= 5, "{run}");
    // Its `env` ran in the real shell when there is one (the sandbox's own environment).
    if cma_emulator::real_shell_available() {
        assert!(run.contains("HOME=/tmp"), "{run}");
    }
    assert_model_saw_no_secret(&model, &secrets);
    assert_eq!(grader.requests().len(), 1);
}

/// `cma serve`: the session's events as listed and as streamed, and the server's trace logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cma_serve_serves_and_logs_no_secret_a_hostile_model_prints() {
    let secrets = secrets();
    let model = FakeModel::start(hostile(&secrets), true).await;
    // A webhook receiver that refuses: deliveries fail and are retried, logged at trace.
    let refused = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hooks", refused.local_addr().unwrap());
    drop(refused);
    let agent_url = model.base_url(Proto::Anthropic);
    let mut child = cli(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--agent",
            "anthropic",
            "--agent-base-url",
            &agent_url,
            "--agent-api-key-env",
            "MY_AGENT_KEY",
            "--webhook",
            &hook,
        ],
        &secrets,
    )
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    t(stdout.read_line(&mut first)).await.unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected {first:?}"))
        .to_string();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let serve_key = &secrets[4].1;
    let client = Client::builder()
        .base_url(&base)
        .api_key(serve_key)
        .max_retries(0)
        .build()
        .unwrap();
    let store = t(client.memory_stores().create(&CreateMemoryStore {
        name: "Customer Notes".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    let mut agent = CreateAgent::new("Shoe Shop Assistant", "claude-haiku-4-5");
    agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAllow(Empty {}),
    ))]);
    let agent = t(client.agents().create(&agent)).await.unwrap();
    let environment = t(client.environments().create(&CreateEnvironment {
        name: "shop".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    let mut params = CreateSession::new(AgentRef::Id(agent.id), environment.id);
    params.resources = Some(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        None,
    )]);
    let session = t(client.sessions().create(&params)).await.unwrap();
    let events = client.sessions().events();
    let mut stream = t(events.stream(&session.id, &StreamEvents::default()))
        .await
        .unwrap();
    let mut streamed = Vec::new();
    for text in ["What is my shoe size?", "fail"] {
        t(events.send_text(&session.id, text)).await.unwrap();
        loop {
            let event = t(stream.next_event())
                .await
                .expect("the stream ended before the turn")
                .unwrap();
            let json = serde_json::to_string(&event).unwrap();
            let idle = json.contains("\"session.status_idle\"");
            streamed.push(json);
            if idle {
                break;
            }
        }
    }
    let listed = t(events.list(
        &session.id,
        &ListEvents {
            limit: Some(1000),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let listed = serde_json::to_string(&listed.data).unwrap();
    let streamed = streamed.join("\n");
    assert!(
        streamed.contains("\"agent.message\"")
            && streamed.contains("\"agent.tool_result\"")
            && streamed.contains("\"session.error\""),
        "{streamed}"
    );
    assert!(listed.matches("[redacted]").count() >= 5, "{listed}");
    assert_clean("the streamed events", &streamed, &secrets);
    assert_clean("the listed events", &listed, &secrets);
    assert_model_saw_no_secret(&model, &secrets);

    let _ = child.start_kill();
    let _ = t(child.wait()).await;
    let log = t(log).await.unwrap();
    assert!(
        log.lines().count() > 50,
        "RUST_LOG=trace logged too little to prove anything:\n{log}"
    );
    assert_clean("cma serve's logs", &log, &secrets);
}
