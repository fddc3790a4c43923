//! `confirm` end to end on the emulator: under `permission_policy = "always_ask"` every toolset
//! call awaits confirmation; `allow` lets the reference agent read and write its notes, `deny`
//! answers each call with an error the agent sees, and without `confirm` the first call fails
//! the turn at once, naming it.

mod local;

use std::path::Path;
use std::time::Duration;

use cma_client::types::SessionEvent;
use cma_scenario::{ProgressMode, RunOptions, RunReport, Target, load_str, run};

const RUN_BOUND: Duration = Duration::from_secs(120);

/// A fact told on visit 1, recalled on visit 2, with every toolset call asking first.
fn scenario(confirm: Option<&str>) -> cma_scenario::Scenario {
    let confirm = confirm
        .map(|c| format!("confirm = \"{c}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"name = "confirmed-recall"
{confirm}[agent]
permission_policy = "always_ask"

[[stores]]
key = "prefs"
instructions = "Check it at the start of every conversation and update it when you learn something new."

[[visits]]
[[visits.turns]]
user = "Hello! My shoe size is 41."

[[visits.checks]]
kind = "wrote_memory"

[[visits.checks]]
kind = "memory_contains"
value = "41"

[[visits]]
[[visits.turns]]
user = "What's my shoe size?"

[[visits.turns.checks]]
kind = "icontains"
value = "41"

[[visits.turns.checks]]
kind = "stop_reason"
value = "end_turn"
"#
    );
    load_str(Path::new("confirmed-recall.toml"), &text).expect("loads")
}

async fn run_one(s: cma_scenario::Scenario) -> RunReport {
    let options = RunOptions {
        target: Target::Local,
        progress: ProgressMode::Off,
        local: local::embedded(),
        ..RunOptions::default()
    };
    tokio::time::timeout(RUN_BOUND, run(&[s], &options, std::future::pending::<()>()))
        .await
        .expect("the run ends")
        .expect("the run starts")
}

fn confirmations(report: &RunReport, result: &str) -> usize {
    report
        .units
        .iter()
        .flat_map(|u| &u.visits)
        .flat_map(|v| &v.turns)
        .flat_map(|t| &t.events)
        .filter(|e| matches!(e, SessionEvent::UserToolConfirmation(c) if c.body.result == result))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_confirms_every_call_and_the_recall_passes() {
    let report = run_one(scenario(Some("allow"))).await;
    let failures: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{} {}: {}", c.id, c.label, c.seen))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        confirmations(&report, "allow") >= 2,
        "reads and writes were confirmed"
    );
    assert_eq!(confirmations(&report, "deny"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_refuses_every_call_so_nothing_is_written() {
    let report = run_one(scenario(Some("deny"))).await;
    assert_eq!(
        report.totals.turns_unfinished, 0,
        "denied calls still end the turns"
    );
    assert!(confirmations(&report, "deny") >= 1);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.kind.as_str())
        .collect();
    assert!(failed.contains(&"memory_contains"), "{failed:?}");
    assert!(failed.contains(&"icontains"), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirm_the_first_call_fails_the_turn_naming_it() {
    let report = run_one(scenario(None)).await;
    assert_eq!(report.exit_code(), 1);
    let first = &report.units[0].visits[0].turns[0];
    let reason = first.problem().expect("the turn did not finish");
    assert!(
        reason.starts_with("the session waits on a call the scenario cannot answer: tool use `")
            && reason.ends_with(
                "awaits confirmation and the scenario sets no `confirm = \"allow\"|\"deny\"`"
            ),
        "{reason}"
    );
    assert_eq!(first.stop_reason.as_deref(), Some("requires_action"));
}
