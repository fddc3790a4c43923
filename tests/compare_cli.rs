//! `cma run --variant` and `cma compare` from the command line: variants land in every report
//! file, bad variants and bad run files are usage errors (exit status 2) that name the problem,
//! a significant regression exits 1, and `--baseline` with repeats on both sides calls a drop a
//! regression only when Fisher's test does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/single-fact-recall.toml"
);
const OTHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/abstention.toml");

fn cma(args: &[&str]) -> Output {
    // `timeout` bounds each call: a hung run fails the test instead of stalling it.
    Command::new("timeout")
        .arg("180")
        .arg(env!("CARGO_BIN_EXE_cma"))
        .args(args)
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .expect("cma starts")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `args` with `--reports-dir reports` and returns the run's directory.
fn run_into(reports: &Path, args: &[&str], code: i32) -> PathBuf {
    let mut all = vec!["run", "--progress", "off", "--reports-dir", path(reports)];
    all.extend_from_slice(args);
    let out = cma(&all);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("reports: "))
        .expect("cma run prints its reports directory");
    PathBuf::from(dir)
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("readable")).expect("JSON")
}

#[test]
fn bad_variants_are_usage_errors_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    for (args, says) in [
        (
            vec!["--variant", "a", "--variant", "a:model=emulator:forgetful"],
            "two variants are named `a`",
        ),
        (
            vec!["--variant", "a:temprature=0.2"],
            "no flag `temprature`",
        ),
        (vec!["--variant", "a:agent=gpt"], "--variant a:"),
        (
            vec!["--variant", "a:system-file=/nonexistent/prompt.txt"],
            "/nonexistent/prompt.txt",
        ),
    ] {
        let mut all = vec!["run", SCENARIO, "--reports-dir", path(&reports)];
        all.extend(args.iter().copied());
        let out = cma(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(says),
            "{args:?} should say {says:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!reports.exists(), "nothing ran");
}

#[test]
fn variants_land_in_every_report_and_compare_joins_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let prompt = dir.path().join("system.txt");
    std::fs::write(&prompt, "You help customers of a shoe shop.").expect("write prompt");
    let system = format!("prompted:system-file={}", path(&prompt));
    let run = run_into(
        &reports,
        &[
            SCENARIO,
            "--variant",
            "reference",
            "--variant",
            "forgetful:model=emulator:forgetful",
            "--variant",
            &system,
        ],
        1,
    );
    let report = json(&run.join("run.json"));
    let names: Vec<&str> = report["settings"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["reference", "forgetful", "prompted"]);
    let units = report["units"].as_array().expect("units");
    for name in &names {
        assert!(units.iter().any(|u| u["variant"] == *name), "{name} ran");
    }
    // One repeat: the exact rule; forgetful regresses, the prompt change does not.
    let comparisons = report["comparisons"].as_array().expect("comparisons");
    assert!(
        comparisons
            .iter()
            .any(|c| c["variant"] == "forgetful" && c["change"] == "regressed")
    );
    assert!(
        comparisons
            .iter()
            .filter(|c| c["variant"] == "prompted")
            .all(|c| c["change"] == "unchanged")
    );
    let csv = std::fs::read_to_string(run.join("results.csv")).expect("csv");
    assert!(csv.lines().next().is_some_and(|h| h.ends_with(",variant")));
    assert!(csv.lines().any(|l| l.ends_with(",forgetful")));
    let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit");
    assert!(junit.contains("name=\"{forgetful} [default]"), "{junit}");
    let summary = std::fs::read_to_string(run.join("summary.md")).expect("summary");
    assert!(summary.contains("| Scenario | `reference` | `forgetful` | `prompted` |"));

    // Two earlier runs side by side.
    let before = run_into(&reports, &[SCENARIO], 0);
    let after = run_into(
        &reports,
        &[SCENARIO, OTHER, "--model", "emulator:forgetful"],
        1,
    );
    let out_dir = dir.path().join("cmp");
    let out = cma(&[
        "compare",
        path(&before),
        path(&after.join("run.json")),
        "--out",
        path(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("❌ significant regression"), "{md}");
    assert!(
        md.contains("scenario `abstention` is not in every run"),
        "{md}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("summary.md")).expect("summary.md"),
        md
    );
    let page = std::fs::read_to_string(out_dir.join("index.html")).expect("page");
    assert!(page.contains("id=\"check-matrix\"") && page.contains("data-change=\"regressed\""));

    // The same run twice: nothing changed.
    let out = cma(&[
        "compare",
        path(&before),
        path(&run_into(&reports, &[SCENARIO], 0)),
        "--out",
        path(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Another schema, one run, a missing file: usage errors.
    let old = dir.path().join("old.json");
    let mut v = json(&before.join("run.json"));
    v["schema"] = "cma.run.v0".into();
    std::fs::write(&old, v.to_string()).expect("write");
    for args in [
        vec!["compare", path(&before), path(&old)],
        vec!["compare", path(&before)],
        vec!["compare", path(&before), "/nonexistent/run.json"],
    ] {
        let out = cma(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    let out = cma(&["compare", path(&before), path(&old)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema `cma.run.v0`"));
}

#[test]
fn a_baseline_with_repeats_regresses_only_when_fisher_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let base = run_into(&reports, &[SCENARIO, "--repeat", "2"], 0);
    let baseline = base.join("run.json");
    let forgetful = ["--model", "emulator:forgetful"];
    // 2/2 against 0/2: p = 1/3, no regression (the checks still fail, so exit 1).
    let mut args = vec![SCENARIO, "--repeat", "2", "--baseline", path(&baseline)];
    args.extend(forgetful);
    let two = json(&run_into(&reports, &args, 1).join("run.json"));
    assert_eq!(
        two["regressions"].as_array().map(Vec::len),
        Some(0),
        "{two}"
    );
    // 4 repeats against a 4-repeat baseline: 4/4 against 0/4, p = 2/70.
    let base4 = run_into(&reports, &[SCENARIO, "--repeat", "4"], 0).join("run.json");
    let mut args = vec![SCENARIO, "--repeat", "4", "--baseline", path(&base4)];
    args.extend(forgetful);
    let four = json(&run_into(&reports, &args, 1).join("run.json"));
    let regressions = four["regressions"].as_array().expect("regressions");
    assert!(!regressions.is_empty());
    for r in regressions {
        let p = r["p_value"].as_f64().expect("a p-value");
        assert!((p - 2.0 / 70.0).abs() < 1e-9, "{r}");
    }
    // One repeat on a side: today's exact rule, no p-value.
    let mut args = vec![SCENARIO, "--baseline", path(&baseline)];
    args.extend(forgetful);
    let one = json(&run_into(&reports, &args, 1).join("run.json"));
    let regressions = one["regressions"].as_array().expect("regressions");
    assert!(!regressions.is_empty() && regressions.iter().all(|r| r.get("p_value").is_none()));
}
