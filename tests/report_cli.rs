//! `cma report`: rebuilds a run's page from its run.json and prints the page's path; a directory
//! without a run.json is a usage error (exit status 2) that names the file.

use std::path::PathBuf;
use std::process::{Command, Output};

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

#[test]
fn report_rebuilds_the_page_of_the_latest_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/single-fact-recall.toml"
    );
    let run = cma(&[
        "run",
        scenario,
        "--progress",
        "off",
        "--reports-dir",
        reports.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let page_line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("page: "))
        .expect("cma run prints the page");
    let written = std::fs::read_to_string(page_line).expect("index.html written by the run");
    std::fs::remove_file(page_line).expect("remove the page");

    let latest = reports.join("latest");
    let out = cma(&["report", latest.to_str().expect("utf-8 path")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(printed.ends_with("index.html"), "{}", printed.display());
    let rebuilt = std::fs::read_to_string(&printed).expect("the printed path is the page");
    assert_eq!(rebuilt, written);

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = cma(&["report", empty.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run.json"));
}
