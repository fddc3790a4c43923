//! `customers = "file.csv"`: one script per row, `{{column}}` filled in everywhere.

use std::path::Path;

use cma_scenario::{Check, TextMatch, load_file};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

const SCENARIO: &str = r#"
name = "tpl"
customers = "people.csv"
[agent]
system = "You serve {{name}}."
[[stores]]
key = "prefs"
name = "notes-{{id}}"
[[stores.memories]]
path = "/{{id}}.md"
content = "City: {{city}}"
[[stores]]
key = "catalog"
access = "read_only"
shared = true
[[visits]]
[[visits.turns]]
user = "I'm {{name}} from {{city}}."
[[visits.turns.checks]]
kind = "regex"
value = "{{name}}\\b"
[[checks]]
kind = "memory_contains"
store = "prefs"
value = "{{city}}"
[[checks]]
kind = "isolation"
columns = ["name", "city"]
"#;

#[test]
fn each_row_gets_its_own_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "people.csv",
        "id,name,city\nada, Ada ,Lisbon\nbob,Bob,Porto\n",
    );
    let s = load_file(&write(dir.path(), "tpl.toml", SCENARIO)).expect("loads");
    assert_eq!(s.scripts.len(), 2);
    let ada = &s.scripts[0];
    assert_eq!(ada.customer.id, "ada");
    assert_eq!(ada.customer.values["name"], "Ada", "values are trimmed");
    assert_eq!(ada.visits[0].turns[0].user, "I'm Ada from Lisbon.");
    assert_eq!(ada.agent.system.as_deref(), Some("You serve Ada."));
    assert_eq!(ada.stores[0].name, "notes-ada");
    assert_eq!(ada.stores[0].memories[0].path, "/ada.md");
    assert_eq!(ada.stores[0].memories[0].content, "City: Lisbon");
    match &ada.visits[0].turns[0].checks[0].check {
        Check::Reply {
            matcher: TextMatch::Regex(r),
            ..
        } => assert_eq!(r.as_str(), "Ada\\b"),
        other => panic!("{other:?}"),
    }
    let bob = &s.scripts[1];
    assert_eq!(bob.visits[0].turns[0].user, "I'm Bob from Porto.");
    match &bob.checks[0].check {
        Check::MemoryContains { text, .. } => assert_eq!(text, "Porto"),
        other => panic!("{other:?}"),
    }
    assert!(bob.stores[1].shared);
    assert_ne!(
        ada.agent, bob.agent,
        "a templated agent differs per customer"
    );
}

#[test]
fn rows_without_an_id_column_are_numbered() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "people.csv", "name\nAda\nBob\nCy\n");
    let text = "name = \"n\"\ncustomers = \"people.csv\"\n[[visits]]\n[[visits.turns]]\nuser = \"I'm {{name}}\"\n";
    let s = load_file(&write(dir.path(), "n.toml", text)).expect("loads");
    let ids: Vec<&str> = s.scripts.iter().map(|s| s.customer.id.as_str()).collect();
    assert_eq!(ids, ["c01", "c02", "c03"]);
}

#[test]
fn a_missing_column_is_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "people.csv", "id,name,city\nada,Ada,Lisbon\n");
    let text = "name = \"m\"\ncustomers = \"people.csv\"\n[[visits]]\n[[visits.turns]]\nuser = \"size {{size}}\"\n";
    let p = write(dir.path(), "m.toml", text);
    let e = load_file(&p).expect_err("missing column");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:5:14: visits[1].turns[1].user: no column `size`",
            p.display()
        )),
        "{shown}"
    );
    assert!(shown.contains("columns: id, name, city"), "{shown}");
}

#[test]
fn csv_problems_are_located_in_the_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text =
        "name = \"c\"\ncustomers = \"people.csv\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n";
    let scenario = write(dir.path(), "c.toml", text);

    let csv = write(dir.path(), "people.csv", "id,name\nada,Ada\nbob\n");
    let shown = load_file(&scenario).expect_err("short row").to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:3:1: row has 1 fields but the header has 2",
            csv.display()
        )),
        "{shown}"
    );

    write(dir.path(), "people.csv", "id,name\nada,Ada\nada,Ann\n");
    let shown = load_file(&scenario).expect_err("duplicate id").to_string();
    assert!(
        shown.contains(":3:1: id: customer id `ada` appears twice"),
        "{shown}"
    );

    write(dir.path(), "people.csv", "id,name\n");
    let shown = load_file(&scenario).expect_err("no rows").to_string();
    assert!(shown.contains("no customers"), "{shown}");

    std::fs::remove_file(dir.path().join("people.csv")).expect("rm");
    let shown = load_file(&scenario).expect_err("no csv").to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:2:13: customers: no such file",
            scenario.display()
        )),
        "{shown}"
    );
}

#[test]
fn shared_stores_cannot_be_templated() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "people.csv", "id,name\nada,Ada\n");
    let text = "name = \"s\"\ncustomers = \"people.csv\"\n[[stores]]\nkey = \"k\"\nshared = true\ndescription = \"for {{name}}\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n";
    let shown = load_file(&write(dir.path(), "s.toml", text))
        .expect_err("templated shared store")
        .to_string();
    assert!(
        shown.contains(
            ":6:15: stores[1].description: a shared store is the same for every customer"
        ),
        "{shown}"
    );
}

#[test]
fn isolation_columns_must_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "people.csv", "id,name,city\nada,Ada,Lisbon\n");
    let text = "name = \"i\"\ncustomers = \"people.csv\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n[[checks]]\nkind = \"isolation\"\ncolumns = [\"name\", \"citty\"]\n";
    let shown = load_file(&write(dir.path(), "i.toml", text))
        .expect_err("bad column")
        .to_string();
    assert!(shown.contains(":8:20: checks[1].columns[2]: no column `citty` in the customers file (did you mean `city`?)"), "{shown}");
}

const TOOLS: &str = r#"name = "tpl-tools"
customers = "pets.csv"
[agent]
[[agent.custom_tools]]
name = "lookup_appointment"
description = "Looks up {{pet}}'s next appointment."
[[tool_answers]]
tool = "lookup_appointment"
when_input_contains = { pet = "{{pet}}", clinic = { city = "{{city}}" } }
content = "{{pet}}: {{slot}}"
[[visits]]
[[visits.turns]]
user = "When is {{pet}} booked?"
[[visits.turns.checks]]
kind = "called_tool"
tool = "lookup_appointment"
input_contains = { pet = "{{pet}}" }
"#;

#[test]
fn canned_answers_and_tool_checks_are_templated() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "pets.csv",
        "id,pet,city,slot\nana,Biscuit,Leeds,Tuesday 10:30\nbob,Mochi,York,Friday 9:00\n",
    );
    let s = load_file(&write(dir.path(), "t.toml", TOOLS)).expect("loads");
    let bob = &s.scripts[1];
    assert_eq!(
        bob.agent.custom_tools[0].description,
        "Looks up Mochi's next appointment."
    );
    let answer = &bob.tool_answers[0];
    assert_eq!(answer.content, "Mochi: Friday 9:00");
    assert_eq!(
        serde_json::Value::Object(answer.when_input_contains.clone().expect("a condition")),
        serde_json::json!({"pet": "Mochi", "clinic": {"city": "York"}})
    );
    match &bob.visits[0].turns[0].checks[0].check {
        Check::CalledTool { input, .. } => assert_eq!(
            serde_json::Value::Object(input.clone().expect("input_contains")),
            serde_json::json!({"pet": "Mochi"})
        ),
        other => panic!("{other:?}"),
    }

    // An unknown column inside a table is located at it, with the key's path.
    let bad = TOOLS.replace(
        "clinic = { city = \"{{city}}\" }",
        "clinic = { city = \"{{town}}\" }",
    );
    let e = load_file(&write(dir.path(), "t.toml", &bad)).expect_err("unknown column");
    let e = &e.0[0];
    assert_eq!(e.field, "tool_answers[1].when_input_contains.clinic");
    // At the placeholder itself.
    assert_eq!(e.position, Some((9, 61)), "{e}");
    assert!(e.message.contains("no column `town`"), "{e}");
}
