//! The table of check kinds drives parsing and the docs: every kind in it loads from a file
//! into a check of that kind (negated too, where it may be), and scenarios/README.md documents
//! every kind in its section, with its negation mark and its fields.

use std::path::Path;

use cma_scenario::check::kinds::KINDS;
use cma_scenario::load_paths;

/// A sample value for each field, valid for every kind that takes it.
fn sample(kind: &str, field: &str) -> Option<String> {
    Some(match field {
        "value" if kind == "stop_reason" => "\"end_turn\"".into(),
        "value" => "\"x\"".into(),
        "values" => "[\"modified\"]".into(),
        "store" if kind == "no_write_to_read_only" => "\"catalog\"".into(),
        "store" => "\"prefs\"".into(),
        "path" => "\"/a.md\"".into(),
        "ignore_case" => "true".into(),
        "count" => "1".into(),
        "max" if kind == "latency_ms" => "5".into(),
        // `count` is given; `min`/`max` would conflict with it.
        "min" | "max" => return None,
        "columns" => "[\"name\"]".into(),
        "rubric" => "\"Names the size.\"".into(),
        // The custom tool every sample scenario declares.
        "tool" => "\"lookup\"".into(),
        "input_contains" => "{ id = \"x\" }".into(),
        other => panic!("no sample for field `{other}`: add one"),
    })
}

#[test]
fn every_kind_in_the_table_loads_as_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.csv"), "id,name\na,Ana\n").expect("csv");
    for kind in KINDS {
        let mut written = vec![kind.name.to_string()];
        if kind.negatable {
            written.push(format!("not_{}", kind.name));
        }
        for w in written {
            let mut check = format!("[[checks]]\nkind = \"{w}\"\n");
            for field in kind.field_names() {
                if let Some(v) = sample(kind.name, field) {
                    check.push_str(&format!("{field} = {v}\n"));
                }
            }
            let file = dir.path().join("t.toml");
            std::fs::write(
                &file,
                format!(
                    "name = \"t\"\ncustomers = \"c.csv\"\n[agent]\n[[agent.custom_tools]]\nname = \"lookup\"\ndescription = \"Looks something up.\"\n[[stores]]\nkey = \"prefs\"\n[[stores]]\nkey = \"catalog\"\naccess = \"read_only\"\n[[visits]]\n[[visits.turns]]\nuser = \"hi\"\n{check}"
                ),
            )
            .expect("write");
            let loaded = load_paths(&[file]).unwrap_or_else(|e| panic!("{w}: {e}\n{check}"));
            let c = &loaded[0].scripts[0].checks[0].check;
            // `not_memory_contains` is another spelling of `memory_not_contains`.
            let expected = if w == "not_memory_contains" {
                "memory_not_contains"
            } else {
                w.as_str()
            };
            assert_eq!(c.kind(), expected, "{check}");
            assert_eq!(c.spec().name, expected.trim_start_matches("not_"));
            assert_eq!(c.needs_store_state(), kind.reads_stores);
        }
    }
}

/// The README's table rows under each `#### <section>` heading: (kind, negatable, row).
fn documented() -> Vec<(String, String, bool, String)> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/README.md");
    let text = std::fs::read_to_string(readme).expect("scenarios/README.md");
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("#### ") {
            section = h.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("| `") {
            let Some((name, after)) = rest.split_once('`') else {
                continue;
            };
            let negatable = after.trim_start().starts_with('¬');
            out.push((
                section.clone(),
                name.to_string(),
                negatable,
                line.to_string(),
            ));
        }
    }
    out
}

#[test]
fn the_readme_documents_every_kind_in_its_section() {
    let rows = documented();
    for kind in KINDS {
        let row = rows
            .iter()
            .find(|(section, name, _, _)| name == kind.name && section == kind.section.title())
            .unwrap_or_else(|| {
                panic!(
                    "scenarios/README.md has no row for `{}` under `#### {}`",
                    kind.name,
                    kind.section.title()
                )
            });
        assert_eq!(
            row.2, kind.negatable,
            "`{}`: the README's ¬ mark disagrees with the table",
            kind.name
        );
        for field in kind.field_names() {
            assert!(
                row.3.contains(&format!("`{field}`")),
                "`{}`: the README row does not name field `{field}`: {}",
                kind.name,
                row.3
            );
        }
    }
}
