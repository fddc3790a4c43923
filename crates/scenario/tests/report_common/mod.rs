//! Runs for the report tests: the shipped scenarios with a model, and a hostile scenario whose
//! customer and check text is markup.
#![allow(dead_code)]

#[path = "../local/mod.rs"]
mod local;

use std::path::Path;
use std::time::Duration;

use cma_scenario::{ProgressMode, RunOptions, RunReport, Scenario, load_paths, load_str, run};

/// Every test's bound on a whole run.
const RUN_BOUND: Duration = Duration::from_secs(180);

pub const SCRIPT: &str = "<script>alert(1)</script>";

/// A scenario whose customer says [`SCRIPT`], and whose failing check expects markup.
pub const HOSTILE: &str = r#"
name = "hostile-markup"
description = "Markup in every field a page shows."

[agent]
name = "Shop Assistant"
system = "You help customers."

[[stores]]
key = "prefs"
name = "Notes"

[[visits]]
[[visits.turns]]
user = "Hello! <script>alert(1)</script> My shoe size is 41."

[[visits.turns.checks]]
name = "a failing check with <em>markup</em>"
kind = "contains"
value = "<script>alert(3)</script>"
"#;

pub fn shipped() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    load_paths(&[dir]).expect("scenarios/ loads")
}

pub fn hostile() -> Vec<Scenario> {
    vec![load_str(Path::new("hostile.toml"), HOSTILE).expect("the hostile scenario loads")]
}

pub async fn run_with(scenarios: &[Scenario], model: Option<&str>) -> RunReport {
    let options = RunOptions {
        progress: ProgressMode::Off,
        concurrency: Some(16),
        model: model.map(str::to_string),
        local: local::embedded(),
        ..RunOptions::default()
    };
    tokio::time::timeout(
        RUN_BOUND,
        run(scenarios, &options, std::future::pending::<()>()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts")
}

/// The shipped scenarios a variant comparison runs: recall, memory writes and checks a forgetful
/// agent passes too (abstention, no invented facts), kept small for CI.
pub fn compared() -> Vec<Scenario> {
    let filters = ["single-fact-recall", "abstention", "seeded-memory"].map(String::from);
    cma_scenario::run::plan::filter(&shipped(), &filters)
        .into_iter()
        .cloned()
        .collect()
}

/// The reference agent and `emulator:forgetful` as two variants at `repeat` repeats, joined as
/// `cma run --variant reference --variant forgetful:model=emulator:forgetful` joins them.
pub async fn reference_vs_forgetful(scenarios: &[Scenario], repeat: usize) -> RunReport {
    use cma_scenario::variant::VariantSpec;
    let mut sides = Vec::new();
    for flags in ["reference", "forgetful:model=emulator:forgetful"] {
        let spec: VariantSpec = flags.parse().expect("a variant");
        let options = RunOptions {
            progress: ProgressMode::Off,
            concurrency: Some(16),
            repeat,
            model: spec.model.clone(),
            local: local::embedded(),
            ..RunOptions::default()
        };
        let scenarios = spec.apply(scenarios).expect("the variant applies");
        let report = tokio::time::timeout(
            RUN_BOUND,
            run(&scenarios, &options, std::future::pending::<()>()),
        )
        .await
        .expect("the run ends")
        .expect("the run starts");
        sides.push((spec.info(), report));
    }
    cma_scenario::compare::combine(sides, "variants-test".into())
        .expect("the runs combine")
        .report
}
