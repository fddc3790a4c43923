//! `cma lint` as a user runs it: findings on stdout with exact `path:line:column` and exit 1,
//! `portable = false` silencing a check, a clean file printing nothing with exit 0, a bad file
//! exiting 2; and `cma run` printing the same findings as warnings before it starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const CLEAN: &str = r#"name = "clean"
[[stores]]
key = "prefs"
[[visits]]
[[visits.turns]]
user = "My home airport is SFO."
[[visits.turns.checks]]
kind = "icontains"
value = "sfo"
[[visits.turns.checks]]
kind = "regex"
value = "(?i)don't know|not sure"
[[visits.checks]]
kind = "memory_contains"
value = "SFO"
"#;

const WORDY: &str = r#"name = "wordy"
[[stores]]
key = "prefs"
[[visits]]
[[visits.turns]]
user = "My home airport is SFO."
[[visits.turns.checks]]
kind = "contains"
value = "I've noted that:"
[[visits.turns.checks]]
name = "known wording"
kind = "contains"
value = "Noted:"
portable = false
[[visits.checks]]
kind = "memory_contains"
value = "Home airport: SFO"
"#;

fn cma(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cma"))
        .args(args)
        .current_dir(dir)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .output()
        .expect("cma runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn findings_are_located_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wordy.toml"), WORDY).unwrap();
    let out = cma(&["lint", "wordy.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "wordy.toml:9:9: contains \"I've noted that:\": asserts text the customer never gave (agent-specific wording)\n\
         wordy.toml:17:9: memory_contains [prefs] \"Home airport: SFO\": asserts text the customer never gave (agent-specific wording)\n"
    );
    assert!(
        !text(&out.stdout).contains("Noted:"),
        "portable = false is silent"
    );
}

#[test]
fn a_clean_directory_prints_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    std::fs::write(dir.path().join("scenarios/clean.toml"), CLEAN).unwrap();
    // No PATHS: the default is scenarios/.
    let out = cma(&["lint"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn a_bad_file_exits_2_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"bad\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n[[visits.turns.checks]]\nkind = \"contians\"\nvalue = \"x\"\n",
    )
    .unwrap();
    let out = cma(&["lint", "bad.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("bad.toml:6:8: visits[1].turns[1].checks[1].kind"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_warns_with_the_same_findings_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wordy.toml"), WORDY).unwrap();
    let out = cma(&["run", "--list", "wordy.toml"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: wordy.toml:9:9: contains \"I've noted that:\": asserts text the customer never gave (agent-specific wording)"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).starts_with("wordy\tdefault"),
        "{}",
        text(&out.stdout)
    );
}
