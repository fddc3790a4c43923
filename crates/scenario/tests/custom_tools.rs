//! Scenarios with custom tools, end to end on the emulator: the shipped vet-clinic scenario passes
//! (in-process and through a URL, the same client path `live` takes), a removed canned answer
//! fails its turn at once with the tool and input named, and `called_tool` fails on an agent
//! that never calls the tool.

mod local;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cma_client::types::{SessionEvent, StopReason};
use cma_emulator::{Emulator, EmulatorConfig};
use cma_scenario::{ProgressMode, RunOptions, RunReport, Scenario, Target, load_str, run};

/// Every test's bound on a whole run.
const RUN_BOUND: Duration = Duration::from_secs(120);

fn vet_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/vet-clinic-appointments.toml")
}

fn vet_source() -> String {
    std::fs::read_to_string(vet_path()).expect("the shipped scenario")
}

/// The shipped scenario's text with `from` replaced by `to` (which must change it).
fn variant(from: &str, to: &str) -> Scenario {
    let source = vet_source();
    assert!(source.contains(from), "the scenario has {from:?}");
    load_str(&vet_path(), &source.replacen(from, to, 1)).expect("the variant loads")
}

fn options(target: Target) -> RunOptions {
    RunOptions {
        target,
        progress: ProgressMode::Off,
        local: local::embedded(),
        ..RunOptions::default()
    }
}

async fn run_one(scenario: Scenario, options: &RunOptions) -> RunReport {
    tokio::time::timeout(
        RUN_BOUND,
        run(&[scenario], options, std::future::pending::<()>()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts")
}

fn failures(report: &RunReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{} {}: {} / {}", c.id, c.label, c.expected, c.seen))
        .collect()
}

/// The `seen` of the check labelled `label` at `id` (as `visit 1 turn 2 check 1`).
fn seen(report: &RunReport, id: &str) -> (bool, String) {
    let c = report
        .checks
        .iter()
        .find(|c| c.id.to_string() == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    (c.ok, c.seen.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vet_clinic_scenario_passes_in_process_and_over_http() {
    let scenario = load_str(&vet_path(), &vet_source()).expect("the shipped scenario loads");
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    for target in [Target::Local, Target::Url(emulator.base_url())] {
        let report = run_one(scenario.clone(), &options(target.clone())).await;
        assert!(
            failures(&report).is_empty(),
            "{target}: {:#?}",
            failures(&report)
        );
        assert_eq!(report.exit_code(), 0);
        assert_eq!(report.totals.checks, scenario.check_count());

        // The lookup turn: the call, the pause naming it, the answer, then a normal end.
        let lookup = &report.units[0].visits[0].turns[1];
        let call = lookup
            .events
            .iter()
            .find_map(|e| match e {
                SessionEvent::AgentCustomToolUse(u) => Some(u),
                _ => None,
            })
            .expect("a custom tool call");
        assert_eq!(call.body.name, "lookup_appointment");
        assert_eq!(call.body.input, serde_json::json!({"pet": "Biscuit"}));
        let paused = lookup.events.iter().any(|e| {
            matches!(e, SessionEvent::SessionStatusIdle(i)
                if matches!(&i.body.stop_reason, StopReason::RequiresAction(r) if r.event_ids.contains(&call.id)))
        });
        assert!(paused, "{target}: the session paused on the call");
        let answered = lookup.events.iter().any(|e| {
            matches!(e, SessionEvent::UserCustomToolResult(r) if r.body.custom_tool_use_id == call.id)
        });
        assert!(answered, "{target}: the runner answered the call");
        assert_eq!(lookup.stop_reason.as_deref(), Some("end_turn"));
        assert!(
            lookup
                .reply
                .contains("Tuesday 14 April at 10:30 with Dr. Okafor"),
            "{target}: the reply quotes the answer: {}",
            lookup.reply
        );
        // The visit-level answer, an error result, reached the agent on visit 2.
        let mochi = &report.units[0].visits[1].turns[1];
        assert!(
            mochi.events.iter().any(|e| matches!(e,
                SessionEvent::UserCustomToolResult(r) if r.body.is_error == Some(true))),
            "{target}: Mochi's answer is sent as an error"
        );
        assert!(
            report.cleanup.failures.is_empty(),
            "{:?}",
            report.cleanup.failures
        );
        // The run page shows each custom call with the answer it got.
        let page = cma_scenario::report::html_page(&report);
        assert!(
            page.contains("<code>lookup_appointment</code>")
                && page.contains("Biscuit: Tuesday 14 April at 10:30")
                && page.contains("error: No appointment is booked for Mochi."),
            "{target}: the page lists the custom calls"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_canned_answer_the_turn_fails_at_once_naming_the_tool_and_input() {
    // The scenario-level answer is the only one for Biscuit.
    let scenario = variant(
        "when_input_contains = { pet = \"Biscuit\" }",
        "when_input_contains = { pet = \"Rex\" }",
    );
    let report = run_one(scenario, &options(Target::Local)).await;
    assert_eq!(report.exit_code(), 1);
    let turn = &report.units[0].visits[0].turns[1];
    let reason = turn.problem().expect("the lookup turn did not finish");
    assert_eq!(
        reason,
        "the session waits on a call the scenario cannot answer: no canned answer for custom tool `lookup_appointment` with input {\"pet\":\"Biscuit\"} (add a `[[tool_answers]]` for it)"
    );
    // Not a timeout: the turn ended on the pause. The rest of the script is not run.
    assert_eq!(turn.stop_reason.as_deref(), Some("requires_action"));
    assert_eq!(report.totals.turns_unfinished, 3);
    let (ok, why) = seen(&report, "visit 1 turn 2 check 1");
    assert!(
        !ok && why.contains("no canned answer for custom tool `lookup_appointment`"),
        "{why}"
    );
    let (ok, why) = seen(&report, "visit 2 turn 1 check 1");
    assert!(
        !ok && why.contains("not run: visit 1 turn 2: the session waits"),
        "{why}"
    );
    // The session left waiting on the call is still cleaned up.
    assert!(
        report.cleanup.failures.is_empty(),
        "{:?}",
        report.cleanup.failures
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn called_tool_fails_when_the_agent_does_not_call_the_tool() {
    // Asked without naming the tool, the reference agent makes no call.
    let scenario = variant(
        "When is Biscuit's next appointment? lookup_appointment {\\\"pet\\\": \\\"Biscuit\\\"}",
        "When is Biscuit's next appointment?",
    );
    let report = run_one(scenario, &options(Target::Local)).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.totals.turns_unfinished, 0,
        "nothing to answer: the turns finish"
    );
    // visit 1 turn 2: the slot (check 1), called_tool (2) and tool_answered (3) fail.
    let (ok, why) = seen(&report, "visit 1 turn 2 check 2");
    assert!(!ok, "called_tool passed: {why}");
    assert!(!why.contains("lookup_appointment"), "{why}");
    let (ok, why) = seen(&report, "visit 1 turn 2 check 3");
    assert!(!ok && why == "0: none answered", "{why}");
    let (ok, _) = seen(&report, "visit 1 turn 2 check 1");
    assert!(!ok, "no slot without the lookup");
    // The negated check holds; the end count sees Mochi's lookup only.
    let (ok, why) = seen(&report, "end check 2");
    assert!(ok, "{why}");
    let (ok, why) = seen(&report, "end check 1");
    assert!(
        !ok && why.starts_with("1: lookup_appointment {\"pet\":\"Mochi\"}"),
        "{why}"
    );
}
