//! `cma lint`'s engine: which checks assert text the script never gave, located exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use cma_scenario::lint::{Finding, Problem, lint_paths, lint_scenario};
use cma_scenario::load_str;

fn lint_text(text: &str) -> Vec<Finding> {
    let path = Path::new("t.toml");
    let scenario = load_str(path, text).expect("loads");
    lint_scenario(&scenario, text).expect("lints")
}

/// `line:column` of each finding.
fn places(findings: &[Finding]) -> Vec<(usize, usize)> {
    findings.iter().map(|f| (f.line, f.column)).collect()
}

const SCRIPT: &str = r#"name = "t"
[[stores]]
key = "prefs"
[[stores.memories]]
path = "/history.md"
content = "Bought a Canvas tote, olive."
[[visits]]
[[visits.turns]]
user = "My home airport is SFO and I always want an aisle seat."
[[visits.turns.checks]]
kind = "icontains"
value = "aisle seat"
[[visits.turns.checks]]
kind = "contains"
value = "I've noted that:"
[[visits.turns.checks]]
kind = "contains_all"
values = ["SFO", "From your notes I remember:"]
[[visits.turns.checks]]
kind = "not_contains"
value = "Moto jacket"
[[visits.turns.checks]]
kind = "icontains_any"
values = ["don't have that noted", "not sure", "haven't told me"]
[[visits.turns.checks]]
kind = "regex"
value = "(?i)aisle\\s+seat"
[[visits.turns.checks]]
kind = "regex"
value = "(?m)^- Moto jacket .* — \\$\\d+$"
[[visits.turns.checks]]
kind = "regex"
value = "(?i)don't know|not noted"
[[visits.turns.checks]]
kind = "contains"
value = "canvas tote"
[[visits.checks]]
kind = "memory_contains"
value = "Size: medium"
[[visits.checks]]
kind = "memory_contains"
value = "sfo"
ignore_case = true
path = "/preferences.md"
[[checks]]
kind = "path_exists"
path = "/history.md"
[[checks]]
kind = "path_exists"
path = "/notes.md"
[[checks]]
kind = "memory_not_contains"
value = "budget"
[[checks]]
kind = "contains"
value = "Noted:"
portable = false
"#;

#[test]
fn flags_each_agent_specific_text_at_its_value() {
    let findings = lint_text(SCRIPT);
    assert_eq!(
        places(&findings),
        vec![(15, 9), (18, 18), (30, 9), (39, 9), (44, 8), (50, 8)],
        "{findings:#?}"
    );
    let texts: Vec<&str> = findings.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "I've noted that:",
            "From your notes I remember:",
            "- Moto jacket",
            "Size: medium",
            "/preferences.md",
            "/notes.md"
        ]
    );
    assert_eq!(findings[4].problem, Problem::Layout);
    assert_eq!(
        findings[0].to_string(),
        "t.toml:15:9: contains \"I've noted that:\": asserts text the customer never gave (agent-specific wording)"
    );
}

#[test]
fn portable_false_silences_a_check() {
    let loud = SCRIPT.replace("portable = false\n", "");
    let extra: Vec<Finding> = lint_text(&loud)
        .into_iter()
        .filter(|f| f.text == "Noted:")
        .collect();
    assert_eq!(places(&extra), vec![(56, 9)]);
    assert!(lint_text(SCRIPT).iter().all(|f| f.text != "Noted:"));
}

#[test]
fn a_single_alternative_must_be_in_the_script() {
    let text = "name = \"t\"\n[[visits]]\n[[visits.turns]]\nuser = \"I'm Ana\"\n[[visits.turns.checks]]\nkind = \"contains_any\"\nvalues = [\"Welcome back\"]\n";
    assert_eq!(places(&lint_text(text)), vec![(7, 11)]);
}

#[test]
fn templated_checks_use_the_customers_values_and_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.csv"),
        "id,name,city\na,Ana,Lisbon\nb,Bruno,Porto\n",
    )
    .unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "name = \"t\"\ncustomers = \"c.csv\"\n[[visits]]\n[[visits.turns]]\nuser = \"I'm {{name}}.\"\n[[visits.turns.checks]]\nkind = \"contains_all\"\nvalues = [\"{{city}}\", \"Hi {{name}}!\"]\n",
    )
    .unwrap();
    let findings = lint_paths(&[file]).unwrap();
    assert_eq!(places(&findings), vec![(8, 23)], "{findings:#?}");
    assert_eq!(findings[0].text, "Hi Ana!");
}

#[test]
fn a_bad_file_is_an_error_not_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"t\"\n[[visits]]\n").unwrap();
    let err = lint_paths(&[file]).unwrap_err();
    assert!(
        err.to_string().contains("bad.toml:2:1: visits[1].turns"),
        "{err}"
    );
}

#[test]
fn the_shipped_scenarios_are_portable() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let findings = lint_paths(&[dir]).unwrap();
    let lines: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(lines.is_empty(), "{}", lines.join("\n"));
}

const TOOLS: &str = r#"name = "t"
[agent]
[[agent.custom_tools]]
name = "lookup_appointment"
description = "Looks up a pet's next appointment."
[[agent.custom_tools]]
name = "cancel_appointment"
description = "Cancels an appointment."
[[agent.custom_tools]]
name = "bill"
description = "Bills the owner."
[[visits]]
[[visits.turns]]
user = "When is Biscuit's next appointment?"
[[visits.turns.checks]]
kind = "icontains"
value = "Tuesday 10:30"
[[visits.turns.checks]]
kind = "not_called_tool"
tool = "cancel_appointment"
[[visits.tool_answers]]
tool = "lookup_appointment"
content = "Biscuit: Tuesday 10:30 with Dr. Okafor"
"#;

#[test]
fn canned_answers_are_inputs_and_unanswered_tools_are_flagged() {
    let findings = lint_text(TOOLS);
    // "Tuesday 10:30" comes from a canned answer, so the reply check is portable; the
    // cancel tool is meant never to be called; the billing tool would fail any turn calling it.
    assert_eq!(places(&findings), [(10, 8)], "{findings:#?}");
    assert_eq!(findings[0].problem, Problem::Unanswered);
    assert_eq!(findings[0].text, "bill");
    assert!(
        findings[0].to_string().ends_with(
            "custom tool `bill`: has no `[[tool_answers]]`: an agent that calls it fails the turn"
        ),
        "{}",
        findings[0]
    );
    // Without the answer, its text is an agent's invention and the tool is unanswered.
    let without = TOOLS.replace(
        "[[visits.tool_answers]]\ntool = \"lookup_appointment\"\ncontent = \"Biscuit: Tuesday 10:30 with Dr. Okafor\"\n",
        "",
    );
    let findings = lint_text(&without);
    assert_eq!(
        places(&findings),
        [(4, 8), (10, 8), (17, 9)],
        "{findings:#?}"
    );
    assert_eq!(findings[2].problem, Problem::Wording);
}
