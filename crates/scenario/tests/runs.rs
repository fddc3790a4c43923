//! End-to-end runs against the embedded emulator: the shipped scenarios pass with the reference
//! agent and fail with the regressing ones, a stalled agent times out and the run ends, reports
//! are written and parse, repeats, baselines, shards and clean-up.

mod local;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cma_client::Client;
use cma_client::types::{
    ListAgents, ListEnvironments, ListMemoryStores, ListSessions, SessionStatus,
};
use cma_emulator::{Emulator, EmulatorConfig};
use cma_scenario::run::{created_by, plan};
use cma_scenario::{
    ProgressMode, RunOptions, RunReport, Scenario, Target, load_paths, report, run,
};
use futures::TryStreamExt;

/// Every test's bound on a whole run.
const RUN_BOUND: Duration = Duration::from_secs(120);

fn scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    load_paths(&[dir]).expect("scenarios/ loads")
}

fn options() -> RunOptions {
    RunOptions {
        progress: ProgressMode::Off,
        concurrency: Some(16),
        local: local::embedded(),
        ..RunOptions::default()
    }
}

async fn run_with(scenarios: &[Scenario], options: &RunOptions) -> RunReport {
    tokio::time::timeout(
        RUN_BOUND,
        run(scenarios, options, std::future::pending::<()>()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts")
}

/// Kinds with at least one check that passed (`true`) or failed (`false`).
fn kinds(report: &RunReport, passed: bool) -> BTreeSet<String> {
    report
        .units
        .iter()
        .flat_map(|u| &u.checks)
        .filter(|c| c.verdict.passed == passed)
        .map(|c| {
            c.kind
                .trim_start_matches("not_")
                .replace("memory_not_contains", "memory_contains")
        })
        .collect()
}

/// Kinds whose whole point is one agent's exact wording: no portable shipped scenario uses them
/// (tests/checks.rs judges them on constructed replies).
const WORDING_ONLY: &[&str] = &["starts_with", "equals"];

/// Every kind of the table that a shipped scenario can use (`memory_not_contains` is counted as
/// `memory_contains`, as [`kinds`] does).
fn all_kinds() -> BTreeSet<String> {
    cma_scenario::check::kinds::KINDS
        .iter()
        .map(|k| k.name)
        // `llm_rubric` needs a grader model; the shipped scenarios have none (grade tests cover it).
        .filter(|k| !WORDING_ONLY.contains(k) && *k != "memory_not_contains" && *k != "llm_rubric")
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_on_the_reference_agent_and_writes_reports() {
    let scenarios = scenarios();
    let report = run_with(&scenarios, &options()).await;
    let failures: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            format!(
                "{} [{}] {}: {} / {}",
                c.scenario, c.customer, c.id, c.label, c.seen
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.totals.scenarios, scenarios.len());
    assert_eq!(report.totals.turns_unfinished, 0);
    assert_eq!(
        kinds(&report, true),
        all_kinds(),
        "every kind passes somewhere in the suite"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = report::write_reports(&report, dir.path()).expect("reports");
    assert_eq!(
        report::latest_dir(dir.path()).as_deref(),
        Some(run_dir.as_path())
    );
    for f in ["results.csv", "summary.md", "junit.xml", "run.json"] {
        assert!(run_dir.join(f).is_file(), "{f}");
    }
    // results.csv: a header and one row per check (one repeat).
    let rows = csv::Reader::from_path(run_dir.join("results.csv"))
        .expect("csv")
        .records()
        .count();
    let checks: usize = scenarios.iter().map(Scenario::check_count).sum();
    assert_eq!(rows, checks);
    // junit.xml parses: a suite per scenario, a case per check.
    let junit = quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(run_dir.join("junit.xml")).expect("read"),
    )
    .expect("junit parses");
    assert_eq!(junit.test_suites.len(), scenarios.len());
    assert_eq!(
        junit
            .test_suites
            .iter()
            .map(|s| s.test_cases.len())
            .sum::<usize>(),
        checks
    );
    // run.json round-trips.
    let back: RunReport =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).expect("read"))
            .expect("run.json parses");
    assert_eq!(back.totals, report.totals);
    // A history per store: one per customer's store, and the shared catalogs.
    let histories: Vec<PathBuf> = std::fs::read_dir(run_dir.join("history"))
        .expect("history")
        .map(|e| e.expect("entry").path())
        .collect();
    let own_stores: usize = report
        .units
        .iter()
        .map(|u| u.stores.iter().filter(|s| !s.shared).count())
        .sum();
    assert_eq!(histories.len(), own_stores + report.shared_stores.len());
    let shopper = histories
        .iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("personal-shopper-default-shopper")
        })
        .expect("shopper history");
    let text = std::fs::read_to_string(shopper).expect("read");
    // Whatever file the agent keeps its notes in, the size the customer gave was added.
    assert!(
        text.contains("+++ b/")
            && text
                .lines()
                .any(|l| l.starts_with('+') && l.to_lowercase().contains("size medium")),
        "{text}"
    );
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).expect("summary");
    assert!(
        summary.contains("PASS") && summary.contains("| ✅ personal-shopper |"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regressing_agents_fail_every_scenario() {
    let scenarios = scenarios();
    let mut failing_kinds = BTreeSet::new();
    for model in ["emulator:forgetful", "emulator:amnesiac"] {
        let report = run_with(
            &scenarios,
            &RunOptions {
                model: Some(model.into()),
                ..options()
            },
        )
        .await;
        assert_eq!(report.exit_code(), 1, "{model}");
        assert_eq!(
            report.totals.turns_unfinished, 0,
            "{model}: the turns finish; the recall fails"
        );
        for s in &scenarios {
            let failed: Vec<&str> = report
                .checks
                .iter()
                .filter(|c| c.scenario == s.name && !c.ok)
                .map(|c| c.kind.as_str())
                .collect();
            assert!(!failed.is_empty(), "{model}: nothing failed in {}", s.name);
            let recall = [
                "contains",
                "icontains",
                "contains_all",
                "icontains_all",
                "equals",
                "regex",
                "memory_contains",
                "read_memory_before_reply",
                "wrote_memory",
                "session_wrote",
            ];
            assert!(
                failed.iter().any(|k| recall.contains(k)),
                "{model}: {}: no recall check failed: {failed:?}",
                s.name
            );
        }
        failing_kinds.extend(kinds(&report, false));
    }
    // The stalled agent fails the rest (stop reasons, latency, and everything else).
    let stall = RunOptions {
        model: Some("emulator:stall".into()),
        turn_timeout: Duration::from_secs(1),
        concurrency: Some(64),
        ..options()
    };
    let report = run_with(&scenarios, &stall).await;
    failing_kinds.extend(kinds(&report, false));
    assert_eq!(failing_kinds, all_kinds(), "every kind fails somewhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_agent_times_out_its_checks_and_the_run_ends() {
    let scenarios = scenarios();
    let options = RunOptions {
        model: Some("emulator:stall".into()),
        turn_timeout: Duration::from_secs(1),
        concurrency: Some(64),
        ..options()
    };
    let report = run_with(&scenarios, &options).await;
    assert_eq!(report.exit_code(), 1);
    assert!(!report.interrupted);
    assert_eq!(report.totals.checks_ok, 0, "every check fails");
    assert_eq!(
        report.totals.units,
        scenarios.iter().map(|s| s.scripts.len()).sum::<usize>(),
        "every unit ran"
    );
    assert_eq!(report.totals.turns_unfinished, report.totals.turns);
    let first = &report.units[0].visits[0].turns[0];
    assert_eq!(
        first.problem(),
        Some("timed out after 1 s without going idle")
    );
    // The stuck sessions were still cleaned up.
    assert!(
        report.cleanup.failures.is_empty(),
        "{:?}",
        report.cleanup.failures
    );
    assert!(
        report.cleanup.sessions_archived + report.cleanup.sessions_deleted >= report.totals.units
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_give_a_pass_rate_and_a_row_per_check_and_repeat() {
    let scenarios = scenarios();
    let options = RunOptions {
        repeat: 3,
        filters: vec!["single-fact".into(), "tag:seed".into()],
        ..options()
    };
    let report = run_with(&scenarios, &options).await;
    let per_run: usize = scenarios
        .iter()
        .filter(|s| s.name == "single-fact-recall" || s.name == "personal-shopper")
        .map(Scenario::check_count)
        .sum();
    assert_eq!(report.totals.units, 6);
    assert_eq!(report.totals.results, per_run * 3);
    assert_eq!(report.totals.checks, per_run);
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.runs == 3 && c.pass_rate == 1.0 && c.ok)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = report::write_reports(&report, dir.path()).expect("reports");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(run_dir.join("results.csv"))
        .expect("csv")
        .records()
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(rows.len(), per_run * 3);
    let repeats: BTreeSet<&str> = rows.iter().map(|r| &r[2]).collect();
    assert_eq!(repeats, BTreeSet::from(["1", "2", "3"]));
    quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(run_dir.join("junit.xml")).expect("read"),
    )
    .expect("junit parses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_lists_the_checks_that_regressed() {
    let scenarios = scenarios();
    let only = |f: &str| RunOptions {
        filters: vec![f.into()],
        ..options()
    };
    let good = run_with(&scenarios, &only("single-fact-recall")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good_dir = report::write_reports(&good, dir.path()).expect("reports");
    let baseline = good_dir.join("run.json");

    // The same run against its own baseline: no regression.
    let again = run_with(
        &scenarios,
        &RunOptions {
            baseline: Some(baseline.clone()),
            ..only("single-fact-recall")
        },
    )
    .await;
    assert!(again.regressions.is_empty());
    assert_eq!(again.exit_code(), 0);

    let bad = RunOptions {
        baseline: Some(baseline.clone()),
        model: Some("emulator:forgetful".into()),
        ..only("single-fact-recall")
    };
    let report = run_with(&scenarios, &bad).await;
    assert_eq!(report.exit_code(), 1);
    let regressed: Vec<&str> = report
        .regressions
        .iter()
        .map(|r| r.label.as_str())
        .collect();
    assert!(
        regressed.contains(&"recalls the shoe size"),
        "{regressed:?}"
    );
    assert_eq!(
        report.regressions.len(),
        report.totals.checks_failed,
        "every failure passed in the baseline"
    );
    assert!(report.console_summary().contains(
        "REGRESSED single-fact-recall [default] visit 2 turn 1 check 1: recalls the shoe size"
    ));
    let summary = report::summary_markdown(&report);
    assert!(
        summary.contains("## Regressions against the baseline"),
        "{summary}"
    );

    // An unreadable baseline is a usage error before anything runs.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").expect("write");
    let e = run(
        &scenarios,
        &RunOptions {
            baseline: Some(junk),
            ..options()
        },
        std::future::pending::<()>(),
    )
    .await
    .expect_err("bad baseline");
    assert!(
        e.is_usage() && e.to_string().contains("not a cma run.json"),
        "{e}"
    );
}

#[test]
fn shards_cover_every_unit_exactly_once() {
    let scenarios = scenarios();
    let all: Vec<&Scenario> = scenarios.iter().collect();
    let everything = plan::units(&all, 2, None);
    for n in [1, 2, 3, 4, 7, 100] {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        for i in 1..=n {
            let part = plan::units(&all, 2, Some(plan::Shard { index: i, count: n }));
            sizes.push(part.len());
            seen.extend(part);
        }
        seen.sort();
        let mut expected = everything.clone();
        expected.sort();
        assert_eq!(seen, expected, "{n} shards");
        let (lo, hi) = (
            sizes.iter().min().copied().unwrap_or(0),
            sizes.iter().max().copied().unwrap_or(0),
        );
        assert!(hi - lo <= 1, "{n} shards: sizes {sizes:?}");
    }
    assert_eq!(
        "2/4".parse::<plan::Shard>(),
        Ok(plan::Shard { index: 2, count: 4 })
    );
    for bad in ["0/4", "5/4", "1/0", "x", "1-2"] {
        assert!(bad.parse::<plan::Shard>().is_err(), "{bad}");
    }
}

/// Everything a run created on a server, found by the run id in its metadata: stores,
/// sessions, agents, environments.
async fn leftovers(client: &Client, run_id: &str) -> (usize, usize, usize, usize, usize) {
    let ours_ = |m: &std::collections::BTreeMap<String, String>| created_by(m, run_id);
    let stores: Vec<_> = client
        .memory_stores()
        .list_all(&ListMemoryStores {
            include_archived: Some(true),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("stores");
    let live_stores = stores.iter().filter(|s| ours_(&s.metadata)).count();
    let sessions: Vec<_> = client
        .sessions()
        .list_all(&ListSessions {
            include_archived: Some(true),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("sessions");
    let ours: Vec<_> = sessions.iter().filter(|s| ours_(&s.metadata)).collect();
    let unarchived = ours.iter().filter(|s| s.archived_at.is_none()).count();
    let running = ours
        .iter()
        .filter(|s| s.status == SessionStatus::Running)
        .count();
    let agents: Vec<_> = client
        .agents()
        .list_all(&ListAgents {
            include_archived: Some(false),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("agents");
    let envs: Vec<_> = client
        .environments()
        .list_all(&ListEnvironments {
            include_archived: Some(false),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("envs");
    (
        live_stores,
        unarchived,
        running,
        agents.iter().filter(|a| ours_(&a.metadata)).count(),
        envs.iter().filter(|e| ours_(&e.metadata)).count(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_up_leaves_nothing_behind_unless_kept() {
    let scenarios = scenarios();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .no_credentials()
        .build()
        .expect("client");
    let target = Target::Url(emulator.base_url());
    let filters = vec!["personal-shopper".to_string(), "forget-me".to_string()];

    let report = run_with(
        &scenarios,
        &RunOptions {
            target: target.clone(),
            filters: filters.clone(),
            ..options()
        },
    )
    .await;
    assert_eq!(report.exit_code(), 0);
    let sessions_created: usize = report.units.iter().map(|u| u.visits.len()).sum();
    assert_eq!(report.cleanup.sessions_archived, sessions_created);
    assert_eq!(
        report.cleanup.stores_deleted, 3,
        "two customers' stores and the shared catalog"
    );
    assert_eq!(
        (
            report.cleanup.agents_archived,
            report.cleanup.environments_archived
        ),
        (2, 1)
    );
    assert_eq!(leftovers(&client, &report.run_id).await, (0, 0, 0, 0, 0));

    // Stuck sessions (a stalled agent) are cleaned up too.
    let stalled = RunOptions {
        target: target.clone(),
        filters: filters.clone(),
        model: Some("emulator:stall".into()),
        turn_timeout: Duration::from_secs(1),
        ..options()
    };
    let report = run_with(&scenarios, &stalled).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(leftovers(&client, &report.run_id).await, (0, 0, 0, 0, 0));

    // --keep leaves everything in place.
    let kept = run_with(
        &scenarios,
        &RunOptions {
            target,
            filters,
            keep: true,
            ..options()
        },
    )
    .await;
    assert!(kept.cleanup.kept);
    let (stores, sessions, _, agents, envs) = leftovers(&client, &kept.run_id).await;
    assert_eq!((stores, agents, envs), (3, 2, 1));
    assert_eq!(
        sessions,
        kept.units.iter().map(|u| u.visits.len()).sum::<usize>()
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_cleans_up() {
    let scenarios = scenarios();
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .no_credentials()
        .build()
        .expect("client");
    let options = RunOptions {
        target: Target::Url(emulator.base_url()),
        filters: vec!["personal-shopper".into()],
        model: Some("emulator:stall".into()),
        turn_timeout: Duration::from_secs(60),
        ..options()
    };
    // "Ctrl-C" once a turn is under way: a session of this run is running.
    let watcher = client.clone();
    let shutdown = async move {
        loop {
            let running = watcher
                .sessions()
                .list(&ListSessions {
                    statuses: vec![SessionStatus::Running],
                    ..Default::default()
                })
                .await
                .map(|p| !p.data.is_empty())
                .unwrap_or(false);
            if running {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let report = tokio::time::timeout(RUN_BOUND, run(&scenarios, &options, shutdown))
        .await
        .expect("ends")
        .expect("runs");
    assert!(report.interrupted);
    assert_eq!(report.exit_code(), 1);
    assert!(report.units.is_empty(), "the only unit was cut short");
    assert!(
        report.cleanup.failures.is_empty(),
        "{:?}",
        report.cleanup.failures
    );
    assert_eq!(leftovers(&client, &report.run_id).await, (0, 0, 0, 0, 0));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_catches_a_store_shared_by_mistake() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("people.csv"),
        "id,name,allergy\nana,Ana,peanuts\nbob,Bob,shellfish\ncy,Cy,pollen\n",
    )
    .expect("csv");
    let text = r#"
name = "leaky"
customers = "people.csv"
[[stores]]
key = "prefs"
shared = true          # the mistake: one notes store for every customer
[[visits]]
[[visits.turns]]
user = "Hi, I'm {{name}} and I'm allergic to {{allergy}}."
[[visits]]
[[visits.turns]]
user = "What do you know about me?"
[[checks]]
kind = "isolation"
columns = ["name", "allergy"]
"#;
    std::fs::write(dir.path().join("leaky.toml"), text).expect("toml");
    let scenarios = load_paths(&[dir.path().join("leaky.toml")]).expect("loads");
    // One customer after another, so later customers find earlier ones' notes.
    let report = run_with(
        &scenarios,
        &RunOptions {
            concurrency: Some(1),
            ..options()
        },
    )
    .await;
    let failed: Vec<_> = report
        .units
        .iter()
        .flat_map(|u| &u.checks)
        .filter(|c| !c.verdict.passed)
        .collect();
    assert!(!failed.is_empty(), "the leak is caught");
    assert!(
        failed.iter().any(|c| c
            .verdict
            .seen
            .contains("\"peanuts\" (allergy of ana) in visit 2 turn 1 reply")),
        "{failed:#?}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn usage_problems_are_errors_before_anything_runs() {
    let scenarios = scenarios();
    let e = run(
        &scenarios,
        &RunOptions {
            filters: vec!["no-such-scenario".into()],
            ..options()
        },
        std::future::pending::<()>(),
    )
    .await
    .expect_err("no match");
    assert!(
        e.is_usage()
            && e.to_string()
                .contains("no scenario matches --filter no-such-scenario"),
        "{e}"
    );
    // SAFETY-free: only this test touches the variable, and only to check that it is required.
    if std::env::var_os("ANTHROPIC_API_KEY").is_none() {
        let e = run(
            &scenarios,
            &RunOptions {
                target: Target::Live,
                ..options()
            },
            std::future::pending::<()>(),
        )
        .await
        .expect_err("no key");
        assert!(
            e.is_usage() && e.to_string().contains("needs ANTHROPIC_API_KEY"),
            "{e}"
        );
    }
    assert_eq!("live".parse::<Target>(), Ok(Target::Live));
    assert!("ftp://x".parse::<Target>().is_err());
    assert_eq!(
        Target::Url("http://user:secret@127.0.0.1:9/".into()).to_string(),
        "http://127.0.0.1:9/"
    );
}

/// A store is created under the name its scenario gives it, so its mount is the one the service
/// would show; the run, scenario and customer are in its metadata (which the agent never sees).
/// Two customers' same-named stores are still two stores, a shared and a private store of one
/// name get two mounts in one session, and each store keeps its own history file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_are_named_as_the_scenario_names_them_and_owned_by_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("people.csv"), "id,name\nana,Ana\nbob,Bob\n").expect("csv");
    let text = r#"
name = "same-names"
customers = "people.csv"
[[stores]]
key = "prefs"
name = "Probe Notes"
[[stores]]
key = "catalog"
name = "Probe Notes"
shared = true
[[visits]]
[[visits.turns]]
user = "Hi, I'm {{name}} and my shoe size is 41."
"#;
    std::fs::write(dir.path().join("same.toml"), text).expect("toml");
    let scenarios = load_paths(&[dir.path().join("same.toml")]).expect("loads");
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::builder()
        .base_url(emulator.base_url())
        .no_credentials()
        .build()
        .expect("client");
    let report = run_with(
        &scenarios,
        &RunOptions {
            target: Target::Url(emulator.base_url()),
            keep: true,
            ..options()
        },
    )
    .await;
    assert_eq!(report.units.len(), 2, "{:?}", report.errors);
    let mut private_ids = BTreeSet::new();
    for u in &report.units {
        let mounts: BTreeSet<&str> = u.stores.iter().map(|s| s.mount_path.as_str()).collect();
        assert_eq!(
            mounts,
            BTreeSet::from(["/mnt/memory/probe-notes", "/mnt/memory/probe-notes-2"]),
            "one session, two stores of one name, two mounts"
        );
        let private = u.stores.iter().find(|s| !s.shared).expect("private store");
        private_ids.insert(private.store_id.clone());
        let store = t(client.memory_stores().retrieve(&private.store_id)).await;
        assert_eq!(store.name, "Probe Notes");
        let meta = |k: &str| store.metadata.get(k).map(String::as_str);
        assert_eq!(meta("cma_run"), Some(report.run_id.as_str()));
        assert_eq!(meta("cma_scenario"), Some("same-names"));
        assert_eq!(meta("cma_customer"), Some(u.customer.id.as_str()));
        assert_eq!(meta("cma_store"), Some("prefs"));
    }
    assert_eq!(
        private_ids.len(),
        2,
        "each customer has a store of their own"
    );
    let shared = &report.shared_stores[0].store;
    let store = t(client.memory_stores().retrieve(&shared.store_id)).await;
    assert_eq!(store.name, "Probe Notes");
    assert_eq!(store.metadata.get("cma_customer"), None);
    // What the run left is found by its metadata: 3 stores, none by name.
    let (stores, ..) = leftovers(&client, &report.run_id).await;
    assert_eq!(stores, 3);
    // Three stores, three history files (their names no longer tell them apart).
    let run_dir = report::write_reports(&report, dir.path()).expect("reports");
    let files: BTreeSet<String> = std::fs::read_dir(run_dir.join("history"))
        .expect("history dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from([
            "same-names-ana-probe-notes.diff".to_string(),
            "same-names-bob-probe-notes.diff".to_string(),
            "same-names-shared-probe-notes.diff".to_string(),
        ])
    );
    emulator.shutdown().await;
}

async fn t<T, E: std::fmt::Debug>(f: impl std::future::Future<Output = Result<T, E>>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("in time")
        .expect("ok")
}
