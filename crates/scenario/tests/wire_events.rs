//! The emulator and the client share one set of wire types: every event a full run of the shipped
//! scenarios records in `run.json` decodes into a known `SessionEvent` variant, never into the
//! open union's raw `Unknown` case.

mod local;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cma_client::types::SessionEvent;
use cma_scenario::{ProgressMode, RunOptions, load_paths, report, run};
use serde_json::Value;

/// The bound on the whole run.
const RUN_BOUND: Duration = Duration::from_secs(180);

/// The events of every turn in a `run.json`, each with where it was found.
fn recorded_events(run: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    let units = run["units"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (u, unit) in units.iter().enumerate() {
        let visits = unit["visits"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (v, visit) in visits.iter().enumerate() {
            let turns = visit["turns"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for (t, turn) in turns.iter().enumerate() {
                let events = turn["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                for (e, event) in events.iter().enumerate() {
                    let at = format!("units[{u}].visits[{v}].turns[{t}].events[{e}]");
                    out.push((at, event));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_a_full_run_decodes_into_a_known_variant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let scenarios = load_paths(&[dir]).expect("scenarios/ loads");
    let options = RunOptions {
        progress: ProgressMode::Off,
        concurrency: Some(16),
        local: local::embedded(),
        ..RunOptions::default()
    };
    let report = tokio::time::timeout(
        RUN_BOUND,
        run(&scenarios, &options, std::future::pending::<()>()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts");
    let out = tempfile::tempdir().expect("tempdir");
    let run_dir = report::write_reports(&report, out.path()).expect("reports");
    let text = std::fs::read_to_string(run_dir.join(report::RUN_JSON)).expect("run.json");
    let run_json: Value = serde_json::from_str(&text).expect("run.json is JSON");

    let events = recorded_events(&run_json);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (at, raw) in &events {
        match serde_json::from_value::<SessionEvent>((*raw).clone()) {
            Ok(SessionEvent::Unknown(_)) => problems.push(format!(
                "{at}: `{}` fell to the unknown case",
                raw["type"].as_str().unwrap_or("?")
            )),
            Ok(event) => *seen.entry(event.type_name().to_string()).or_default() += 1,
            Err(e) => problems.push(format!("{at}: does not decode: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} events did not decode into a known variant:\n{}",
        problems.len(),
        events.len(),
        problems.join("\n")
    );
    // A run that recorded nothing (or only part of a turn) would pass the loop above vacuously.
    for kind in [
        "agent.message",
        "agent.tool_use",
        "agent.tool_result",
        "span.model_request_start",
        "span.model_request_end",
        "session.status_running",
        "session.status_idle",
    ] {
        assert!(
            seen.contains_key(kind),
            "the run recorded no `{kind}` event; saw {seen:?}"
        );
    }
}
