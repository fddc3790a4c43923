//! Snapshots of every renderer over fixture histories (create, modify, rename, delete, redact,
//! Unicode, empty content, no final newline, 100 KB content).

mod common;

use cma_client::types::content_sha256;
use cma_history::{
    DiffAlgorithm, Format, History, RenderOptions, Snapshot, SnapshotDiff, SnapshotPoint,
    VersionFilter, render_history, render_snapshot, render_snapshot_diff,
};
use common::{STORE, big_history, fixture_history, t};

fn render(history: &History, format: Format, options: &RenderOptions) -> String {
    let mut out = Vec::new();
    render_history(history, format, options, &mut out).expect("render");
    String::from_utf8(out).expect("utf-8 output")
}

fn plain() -> RenderOptions {
    RenderOptions::default()
}

/// JSON is snapshotted pretty-printed, which also proves it parses.
fn pretty_json(raw: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(raw).expect("valid JSON");
    serde_json::to_string_pretty(&value).expect("serializes")
}

#[test]
fn text_without_colour() {
    insta::assert_snapshot!(
        "history_text",
        render(&fixture_history(), Format::Text, &plain())
    );
}

#[test]
fn text_with_colour_has_word_emphasis() {
    let options = RenderOptions {
        color: true,
        ..plain()
    };
    let out = render(&fixture_history(), Format::Text, &options);
    // The changed word inside the changed line is reverse-video on top of the line colour.
    assert!(
        out.contains("\x1b[31m-size: \x1b[7mmedium\x1b[0m\x1b[31m\x1b[0m"),
        "{out}"
    );
    assert!(
        out.contains("\x1b[32m+size: \x1b[7mlarge\x1b[0m\x1b[32m\x1b[0m"),
        "{out}"
    );
    insta::assert_snapshot!("history_text_color", out.replace('\x1b', "\\e"));
}

#[test]
fn text_has_no_escape_codes_without_colour() {
    assert!(!render(&fixture_history(), Format::Text, &plain()).contains('\x1b'));
}

#[test]
fn patch() {
    insta::assert_snapshot!(
        "history_patch",
        render(&fixture_history(), Format::Patch, &plain())
    );
}

#[test]
fn json() {
    let raw = render(&fixture_history(), Format::Json, &plain());
    insta::assert_snapshot!("history_json", pretty_json(&raw));
}

#[test]
fn html() {
    let out = render(&fixture_history(), Format::Html, &plain());
    assert!(out.starts_with("<!DOCTYPE html>") && out.trim_end().ends_with("</html>"));
    insta::assert_snapshot!("history_html", out);
}

#[test]
fn html_escapes_content() {
    let history = History::from_memory_versions(
        STORE,
        vec![common::version(
            "memver_x",
            "mem_x",
            cma_client::types::Operation::Created,
            0,
            "/<script>.md",
            Some("<script>alert('x')</script> & \"quotes\"\n"),
            common::session("sesn_<b>"),
        )],
    );
    let out = render(&history, Format::Html, &plain());
    assert!(!out.contains("<script>"), "{out}");
    assert!(
        out.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
    assert!(out.contains("sesn_&lt;b&gt;"));
}

#[test]
fn git_fast_import() {
    insta::assert_snapshot!(
        "history_git_fast_import",
        render(&fixture_history(), Format::GitFastImport, &plain())
    );
}

#[test]
fn context_and_algorithm_are_configurable() {
    let mut options = plain();
    options.diff.context = 0;
    options.diff.algorithm = DiffAlgorithm::Patience;
    let out = render(&fixture_history(), Format::Patch, &options);
    // With no context the modification of line 2 is a one-line hunk.
    assert!(
        out.contains("@@ -2 +2 @@\n-size: medium\n+size: large\n"),
        "{out}"
    );
    for algorithm in DiffAlgorithm::ALL {
        options.diff.algorithm = algorithm;
        assert!(render(&fixture_history(), Format::Patch, &options).contains("+size: large"));
    }
}

#[test]
fn filtered_by_path_shows_renames_away_from_it() {
    let mut history = fixture_history();
    history.apply_filter(&VersionFilter {
        path: Some("/preferences.md".into()),
        ..VersionFilter::default()
    });
    insta::assert_snapshot!(
        "history_text_path_filter",
        render(&history, Format::Text, &plain())
    );
}

#[test]
fn filtered_by_session() {
    let mut history = fixture_history();
    history.apply_filter(&VersionFilter {
        session_id: Some("sesn_visit2".into()),
        ..VersionFilter::default()
    });
    let ids: Vec<_> = history
        .shown()
        .iter()
        .map(|&i| history.versions()[i].id.as_str())
        .collect();
    assert_eq!(ids, ["memver_03", "memver_06", "memver_07", "memver_12"]);
}

fn snapshot_diff() -> SnapshotDiff {
    let history = fixture_history();
    let from = Snapshot::at(&history, &SnapshotPoint::Time(t(1))).expect("from");
    let to = Snapshot::at(&history, &SnapshotPoint::Version("memver_10".into())).expect("to");
    SnapshotDiff::new(from, to)
}

fn render_diff(diff: &SnapshotDiff, format: Format) -> String {
    let mut out = Vec::new();
    render_snapshot_diff(diff, format, &plain(), &mut out).expect("render");
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn snapshot_diff_in_every_format() {
    let diff = snapshot_diff();
    insta::assert_snapshot!("snapshot_diff_text", render_diff(&diff, Format::Text));
    insta::assert_snapshot!("snapshot_diff_patch", render_diff(&diff, Format::Patch));
    insta::assert_snapshot!(
        "snapshot_diff_json",
        pretty_json(&render_diff(&diff, Format::Json))
    );
    insta::assert_snapshot!("snapshot_diff_html", render_diff(&diff, Format::Html));
    insta::assert_snapshot!(
        "snapshot_diff_git_fast_import",
        render_diff(&diff, Format::GitFastImport)
    );
}

#[test]
fn snapshot_at_a_time_as_text_and_json() {
    let history = fixture_history();
    let snapshot = Snapshot::at(&history, &SnapshotPoint::Time(t(8))).expect("snapshot");
    let mut text = Vec::new();
    render_snapshot(&snapshot, Format::Text, &plain(), &mut text).expect("render");
    insta::assert_snapshot!("snapshot_at_text", String::from_utf8(text).expect("utf-8"));
    let mut json = Vec::new();
    render_snapshot(&snapshot, Format::Json, &plain(), &mut json).expect("render");
    insta::assert_snapshot!("snapshot_at_json", String::from_utf8(json).expect("utf-8"));
}

/// The 100 KB history is snapshotted as a digest plus the first and last lines.
fn digest(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let head = lines
        .iter()
        .take(12)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    let tail = lines
        .iter()
        .rev()
        .take(4)
        .rev()
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "bytes: {}\nlines: {}\nsha256: {}\n--- first 12 lines ---\n{head}\n--- last 4 lines ---\n{tail}\n",
        output.len(),
        lines.len(),
        content_sha256(output)
    )
}

#[test]
fn hundred_kilobyte_content_in_every_format() {
    let history = big_history();
    for format in Format::ALL {
        let out = render(&history, format, &plain());
        insta::assert_snapshot!(
            format!("big_{}", format.as_str().replace('-', "_")),
            digest(&out)
        );
    }
    // The modification of one line in 100 KB is one small hunk, not a rewrite.
    let patch = render(&history, Format::Patch, &plain());
    assert!(patch.contains("@@ -898,7 +898,7 @@"), "{}", digest(&patch));
}
