//! Every kind of bad scenario file is refused with `path:line:column: field: message`.

use std::path::{Path, PathBuf};

use cma_scenario::{LoadError, load_file, load_str};

const HEAD: &str =
    "name = \"t\"\n[[stores]]\nkey = \"prefs\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n";

/// (what, file text, line, column, field, a piece of the message)
fn cases() -> Vec<(
    &'static str,
    String,
    usize,
    usize,
    &'static str,
    &'static str,
)> {
    let with_check = |body: &str| format!("{HEAD}[[visits.turns.checks]]\n{body}");
    vec![
        ("toml syntax", "name = \"t\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\n".to_string(), 4, 11, "", "basic string"),
        ("unknown top-level field", "nmae = \"t\"\n".to_string(), 1, 1, "nmae", "unknown field `nmae`"),
        ("unknown check field", with_check("kind = \"contains\"\nvaleu = \"x\"\n"), 9, 1, "visits[1].turns[1].checks[1].valeu", "unknown field `valeu`"),
        ("wrong type", format!("{HEAD}[[visits.turns.checks]]\nkind = \"contains\"\nvalue = 3\n"), 9, 9, "visits[1].turns[1].checks[1].value", "invalid type: integer"),
        ("wrong type in a table", "name = \"t\"\n[[stores]]\nkey = \"k\"\nshared = \"yes\"\n".to_string(), 4, 10, "stores[1].shared", "expected a boolean"),
        ("missing required field", "name = \"t\"\n[[visits]]\n[[visits.turns]]\nusr = \"hi\"\n".to_string(), 4, 1, "visits[1].turns[1].usr", "unknown field `usr`"),
        ("unknown check kind", with_check("kind = \"contians\"\nvalue = \"x\"\n"), 8, 8, "visits[1].turns[1].checks[1].kind", "did you mean `contains`"),
        ("bad regex", with_check("kind = \"regex\"\nvalue = \"a(b\"\n"), 9, 9, "visits[1].turns[1].checks[1].value", "invalid regex"),
        ("unknown store", with_check("kind = \"memory_contains\"\nstore = \"prefz\"\nvalue = \"x\"\n"), 9, 9, "visits[1].turns[1].checks[1].store", "no store with key `prefz` (did you mean `prefs`?)"),
        ("field not for the kind", with_check("kind = \"contains\"\nvalue = \"x\"\nstore = \"prefs\"\n"), 10, 9, "visits[1].turns[1].checks[1].store", "does not take `store`"),
        ("missing value", with_check("kind = \"icontains\"\n"), 7, 1, "visits[1].turns[1].checks[1].value", "needs `value`"),
        ("not_ on a kind that cannot be negated", with_check("kind = \"not_memory_count\"\ncount = 1\n"), 8, 8, "visits[1].turns[1].checks[1].kind", "cannot be negated"),
        ("placeholder without customers", "name = \"t\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi {{name}}\"\n".to_string(), 4, 12, "visits[1].turns[1].user", "needs a customers file"),
        ("isolation without customers", with_check("kind = \"isolation\"\ncolumns = [\"name\"]\n"), 7, 1, "visits[1].turns[1].checks[1].kind", "needs a customers file"),
        ("bad access", "name = \"t\"\n[[stores]]\nkey = \"k\"\naccess = \"readonly\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 4, 10, "stores[1].access", "did you mean `read_only`"),
        ("duplicate store key", "name = \"t\"\n[[stores]]\nkey = \"k\"\n[[stores]]\nkey = \"k\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 5, 7, "stores[2].key", "used twice"),
        ("no visits", "name = \"t\"\n".to_string(), 2, 1, "visits", "at least one"),
        ("visit without turns", "name = \"t\"\n[[visits]]\nname = \"v\"\n".to_string(), 2, 1, "visits[1].turns", "at least one"),
        ("no_write_to_read_only on a read_write store", with_check("kind = \"no_write_to_read_only\"\nstore = \"prefs\"\n"), 9, 9, "visits[1].turns[1].checks[1].store", "not read_only"),
        ("bad stop reason", with_check("kind = \"stop_reason\"\nvalue = \"end-turn\"\n"), 9, 9, "visits[1].turns[1].checks[1].value", "did you mean `end_turn`"),
        ("bad operation", format!("{HEAD}[[visits.checks]]\nkind = \"operations_include\"\nvalues = [\"modifed\"]\n"), 9, 11, "visits[1].checks[1].values[1]", "unknown operation"),
        ("count and min", format!("{HEAD}[[checks]]\nkind = \"memory_count\"\ncount = 1\nmin = 2\n"), 10, 7, "checks[1].count", "not both"),
        ("bad memory path", "name = \"t\"\n[[stores]]\nkey = \"k\"\n[[stores.memories]]\npath = \"notes.md\"\ncontent = \"x\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 5, 8, "stores[1].memories[1].path", "starts with `/`"),
        ("bad permission policy", "name = \"t\"\n[agent]\npermission_policy = \"yes\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 3, 21, "agent.permission_policy", "permission_policy is one of"),
        ("store name too long", format!("name = \"t\"\n[[stores]]\nkey = \"k\"\nname = \"{}\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n", "n".repeat(256)), 4, 8, "stores[1].name", "at most 255 characters (this one has 256)"),
        ("store name with a control character", "name = \"t\"\n[[stores]]\nkey = \"k\"\nname = \"a\\tb\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 4, 8, "stores[1].name", "no control characters"),
        ("bad name", "name = \"a b\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 1, 8, "name", "letters, digits"),
    ]
}

/// A scenario whose agent has one custom tool, `lookup_order` (lines 1-8), then `extra`.
fn with_tool(schema: &str, extra: &str) -> String {
    format!(
        "name = \"t\"\n[agent]\npermission_policy = \"always_ask\"\n[[agent.custom_tools]]\nname = \"lookup_order\"\ndescription = \"Looks up an order.\"\n{schema}\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n{extra}"
    )
}

const ORDER_SCHEMA: &str = "input_schema = { type = \"object\", properties = { order_id = { type = \"string\" } }, required = [\"order_id\"] }";

/// Bad custom tools, canned answers, `confirm` and tool checks.
fn tool_cases() -> Vec<(
    &'static str,
    String,
    usize,
    usize,
    &'static str,
    &'static str,
)> {
    vec![
        ("answer for an unknown tool", with_tool(ORDER_SCHEMA, "[[visits.tool_answers]]\ntool = \"lookup_ordr\"\ncontent = \"x\"\n"), 12, 8, "visits[1].tool_answers[1].tool", "no custom tool `lookup_ordr` (did you mean `lookup_order`?)"),
        ("answer without custom tools", "name = \"t\"\n[[tool_answers]]\ntool = \"lookup\"\ncontent = \"x\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 3, 8, "tool_answers[1].tool", "the agent has none"),
        ("answer keyed on a property the schema lacks", with_tool(ORDER_SCHEMA, "[[visits.tool_answers]]\ntool = \"lookup_order\"\nwhen_input_contains = { order = \"A-1\" }\ncontent = \"x\"\n"), 13, 23, "visits[1].tool_answers[1].when_input_contains.order", "not a property of `lookup_order`'s input_schema (order_id)"),
        ("answer without content", with_tool(ORDER_SCHEMA, "[[visits.tool_answers]]\ntool = \"lookup_order\"\n"), 11, 1, "visits[1].tool_answers[1]", "missing field `content`"),
        ("bad confirm", format!("confirm = \"yes\"\n{}", with_tool(ORDER_SCHEMA, "")), 1, 11, "confirm", "confirm is `allow` or `deny`, not `yes`"),
        ("confirm that never applies", "confirm = \"allow\"\nname = \"t\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 1, 11, "confirm", "no tool use awaits confirmation"),
        ("schema of another type", with_tool("input_schema = { type = \"array\" }", ""), 7, 16, "agent.custom_tools[1].input_schema.type", "`type` is \"object\""),
        ("schema without a type", with_tool("input_schema = { properties = {} }", ""), 7, 16, "agent.custom_tools[1].input_schema.type", "needs `type = \"object\"`"),
        ("schema requiring an unknown property", with_tool("input_schema = { type = \"object\", properties = { id = { type = \"string\" } }, required = [\"order_id\"] }", ""), 7, 16, "agent.custom_tools[1].input_schema.required[1]", "`order_id` is not among the schema's properties (id)"),
        ("schema property that is not a schema", with_tool("input_schema = { type = \"object\", properties = { id = \"string\" } }", ""), 7, 16, "agent.custom_tools[1].input_schema.properties.id", "is a JSON schema"),
        ("tool named like a toolset tool", "name = \"t\"\n[agent]\n[[agent.custom_tools]]\nname = \"bash\"\ndescription = \"x\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 4, 8, "agent.custom_tools[1].name", "a tool of the agent toolset"),
        ("bad tool name", "name = \"t\"\n[agent]\n[[agent.custom_tools]]\nname = \"look up\"\ndescription = \"x\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 4, 8, "agent.custom_tools[1].name", "letters, digits, `_` and `-`"),
        ("tool declared twice", "name = \"t\"\n[agent]\n[[agent.custom_tools]]\nname = \"a\"\ndescription = \"x\"\n[[agent.custom_tools]]\nname = \"a\"\ndescription = \"y\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 7, 8, "agent.custom_tools[2].name", "declared twice"),
        ("tool without a description", "name = \"t\"\n[agent]\n[[agent.custom_tools]]\nname = \"a\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n".to_string(), 3, 1, "agent.custom_tools[1].description", "needs a `description`"),
        ("called_tool of an unknown tool", with_tool(ORDER_SCHEMA, "[[visits.turns.checks]]\nkind = \"called_tool\"\ntool = \"lookup\"\n"), 13, 8, "visits[1].turns[1].checks[1].tool", "no tool `lookup`"),
        ("called_tool without tool", with_tool(ORDER_SCHEMA, "[[visits.turns.checks]]\nkind = \"not_called_tool\"\n"), 11, 1, "visits[1].turns[1].checks[1].tool", "needs `tool`"),
        ("tool_answered of a toolset tool", with_tool(ORDER_SCHEMA, "[[visits.checks]]\nkind = \"tool_answered\"\ntool = \"bash\"\n"), 13, 8, "visits[1].checks[1].tool", "only custom tool calls are answered"),
        ("input_contains on tool_answered", with_tool(ORDER_SCHEMA, "[[visits.checks]]\nkind = \"tool_answered\"\ninput_contains = { order_id = \"A-1\" }\n"), 13, 18, "visits[1].checks[1].input_contains", "does not take `input_contains`"),
    ]
}

#[test]
fn bad_custom_tools_answers_and_tool_checks_are_located() {
    let path = Path::new("scenarios/bad.toml");
    for (what, text, line, column, field, message) in tool_cases() {
        let errors = match load_str(path, &text) {
            Ok(_) => panic!("{what}: accepted\n{text}"),
            Err(e) => e.0,
        };
        let e: &LoadError = &errors[0];
        assert_eq!(e.position, Some((line, column)), "{what}: {e}\n{text}");
        assert_eq!(e.field, field, "{what}: {e}");
        assert!(e.message.contains(message), "{what}: {e}");
    }
    // The same file with good answers loads, with the answers in place.
    let good = with_tool(
        ORDER_SCHEMA,
        "[[visits.tool_answers]]\ntool = \"lookup_order\"\nwhen_input_contains = { order_id = \"A-1\" }\ncontent = \"shipped\"\n[[visits.turns.checks]]\nkind = \"called_tool\"\ntool = \"lookup_order\"\ninput_contains = { order_id = \"A-1\" }\n",
    );
    let s = load_str(path, &format!("confirm = \"deny\"\n{good}")).expect("loads");
    let script = &s.scripts[0];
    assert_eq!(script.confirm, Some(cma_scenario::Confirm::Deny));
    assert_eq!(script.agent.custom_tools[0].name, "lookup_order");
    assert_eq!(script.visits[0].tool_answers[0].content, "shipped");
    assert_eq!(
        script.visits[0].turns[0].checks[0].check.kind(),
        "called_tool"
    );
}

#[test]
fn bad_files_name_file_line_column_and_field() {
    let path = Path::new("scenarios/bad.toml");
    for (what, text, line, column, field, message) in cases() {
        let errors = match load_str(path, &text) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e.0,
        };
        let e: &LoadError = &errors[0];
        assert_eq!(e.path, PathBuf::from("scenarios/bad.toml"), "{what}");
        assert_eq!(e.position, Some((line, column)), "{what}: {e}");
        assert_eq!(e.field, field, "{what}: {e}");
        assert!(e.message.contains(message), "{what}: {e}");
        let shown = e.to_string();
        let prefix = format!("scenarios/bad.toml:{line}:{column}: ");
        assert!(shown.starts_with(&prefix), "{what}: {shown}");
        if !field.is_empty() {
            assert!(
                shown.starts_with(&format!("{prefix}{field}: ")),
                "{what}: {shown}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = load_file(Path::new("/nonexistent/scenario.toml")).expect_err("missing file");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/scenario.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn the_shipped_scenarios_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let scenarios = cma_scenario::load_paths(&[dir]).expect("scenarios/ loads");
    assert!(scenarios.len() >= 10, "{} scenarios", scenarios.len());
    let iso = scenarios
        .iter()
        .find(|s| s.name == "cross-customer-isolation")
        .expect("isolation scenario");
    assert!(iso.scripts.len() >= 20);
}

#[test]
fn duplicate_scenario_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "name = \"same\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n";
    std::fs::write(dir.path().join("a.toml"), body).expect("write");
    std::fs::write(dir.path().join("b.toml"), body).expect("write");
    let e = cma_scenario::load_paths(&[dir.path().to_path_buf()]).expect_err("duplicate");
    assert!(
        e.to_string()
            .contains("scenario name `same` is already used"),
        "{e}"
    );
}
