//! The run page in a real browser: headless Chromium loads `index.html` from disk and dumps the
//! DOM it built. Every scenario name, a transcript line and a diff line must be in it for a
//! passing run; every failing check's expected and seen text for a failing one; markup a customer
//! types stays text and no script element exists. Without Chromium the test fails under
//! `CI=true` and otherwise skips, saying why.

mod report_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cma_scenario::RunReport;
use cma_scenario::report::{self, INDEX_HTML};
use report_common::{hostile, run_with, shipped};

/// Each Chromium call is killed after this many seconds (coreutils `timeout`).
const CHROMIUM_SECONDS: &str = "60";

/// `$CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// The browser, or `None` (skip) when it is missing outside CI; under `CI=true` a missing browser
/// fails the test.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{test}: chromium is not installed (apt-get install -y chromium, or set CHROMIUM)"
        );
        eprintln!("{test}: SKIPPED: chromium is not on PATH and CHROMIUM is not set");
    }
    found
}

fn run_chromium(browser: &Path, page: &Path, action: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("a profile dir");
    let url = format!("file://{}", page.display());
    let out = Command::new("timeout")
        .arg(CHROMIUM_SECONDS)
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(action)
        .arg(url)
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The DOM Chromium built from the page, serialized.
fn dump_dom(browser: &Path, page: &Path) -> String {
    let out = run_chromium(browser, page, &["--dump-dom".to_string()]);
    let dom = String::from_utf8(out.stdout).expect("the DOM is UTF-8");
    assert!(dom.contains("</html>"), "no DOM dumped:\n{dom}");
    dom
}

/// A screenshot of the page's top; returns its PNG bytes.
fn screenshot(browser: &Path, page: &Path, png: &Path) -> Vec<u8> {
    run_chromium(
        browser,
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1400".to_string(),
        ],
    );
    std::fs::read(png).expect("the screenshot was written")
}

/// Text as the DOM serializer writes a text node.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
        .replace("\r\n", "\n")
}

fn write(run: &RunReport, root: &Path) -> PathBuf {
    report::write_reports(run, root)
        .expect("reports written")
        .join(INDEX_HTML)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_run_shows_scenarios_transcripts_and_diffs() {
    let Some(browser) = browser_or_skip("a_passing_run_shows_scenarios_transcripts_and_diffs")
    else {
        return;
    };
    let run = run_with(&shipped(), None).await;
    assert_eq!(run.exit_code(), 0, "{}", run.console_summary());
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write(&run, dir.path());
    let dom = dump_dom(&browser, &page);

    for s in &run.scenarios {
        assert!(
            dom.contains(&dom_text(&s.name)),
            "scenario {} missing",
            s.name
        );
    }
    let first = &run.units[0].visits[0].turns[0];
    assert!(
        dom.contains(&format!("<pre>{}</pre>", dom_text(&first.user))),
        "the transcript line `{}` is missing",
        first.user
    );
    assert!(dom.contains(&format!("<pre>{}</pre>", dom_text(&first.reply))));
    let memory = run
        .units
        .iter()
        .flat_map(|u| &u.stores)
        .filter_map(|s| s.snapshot.as_ref())
        .flat_map(|s| &s.memories)
        .next()
        .expect("a store with a memory");
    let line = memory.content.lines().next().expect("a memory with a line");
    let diff_line = format!("<td class=\"code\">+{}</td>", dom_text(line));
    assert!(
        dom.contains(&diff_line),
        "the diff line {diff_line} is missing"
    );
    assert!(dom.contains("<tr class=\"add\">"));
    assert!(
        !dom.contains("class=\"check fail\""),
        "a passing run shows no failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_shows_every_failing_checks_expected_and_seen() {
    let Some(browser) =
        browser_or_skip("a_failing_run_shows_every_failing_checks_expected_and_seen")
    else {
        return;
    };
    let run = run_with(&shipped(), Some("emulator:forgetful")).await;
    assert!(
        run.totals.checks_failed > 0,
        "the forgetful model fails checks"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write(&run, dir.path());
    let dom = dump_dom(&browser, &page);

    for s in &run.scenarios {
        assert!(
            dom.contains(&dom_text(&s.name)),
            "scenario {} missing",
            s.name
        );
    }
    let mut failing = 0;
    for u in &run.units {
        for c in u.checks.iter().filter(|c| !c.verdict.passed) {
            failing += 1;
            for (what, text) in [("expected", &c.verdict.expected), ("seen", &c.verdict.seen)] {
                let want = format!("<dt>{what}</dt><dd><pre>{}</pre></dd>", dom_text(text));
                assert!(
                    dom.contains(&want),
                    "{} [{}] {}: {what} `{text}` is missing",
                    u.scenario,
                    u.customer.id,
                    c.id
                );
            }
        }
    }
    assert!(failing > 0);
    assert!(
        dom.contains("id=\"only-failures\""),
        "the failures filter is there"
    );

    let png = screenshot(&browser, &page, &dir.path().join("failing-run.png"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG was written");
    assert!(png.len() > 10_000, "the screenshot is {} bytes", png.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_script_tag_is_shown_and_never_run() {
    let Some(browser) = browser_or_skip("a_customers_script_tag_is_shown_and_never_run") else {
        return;
    };
    let run = run_with(&hostile(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write(&run, dir.path());
    let dom = dump_dom(&browser, &page);
    assert!(
        dom.contains("Hello! &lt;script&gt;alert(1)&lt;/script&gt; My shoe size is 41."),
        "the customer's words are shown as text"
    );
    assert!(dom.contains("&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "the DOM has a script element"
    );
}

/// The matrix page of the reference agent against `emulator:forgetful` at five repeats: every
/// regressed check's row carries the verdict in the browser's DOM, the unchanged ones none, and
/// the disagreeing units are side by side with both variants' transcripts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variant_matrix_shows_the_significant_regressions() {
    let Some(browser) = browser_or_skip("the_variant_matrix_shows_the_significant_regressions")
    else {
        return;
    };
    let run = report_common::reference_vs_forgetful(&report_common::compared(), 5).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write(&run, dir.path());
    let dom = dump_dom(&browser, &page);
    assert!(
        dom.contains("id=\"check-matrix\""),
        "the check matrix is there"
    );
    let regressed: Vec<_> = run
        .comparisons
        .iter()
        .filter(|c| c.judgement.change == cma_scenario::stats::Change::Regressed)
        .collect();
    assert!(!regressed.is_empty());
    let cells = dom.matches("data-change=\"regressed\"").count();
    assert_eq!(cells, regressed.len(), "one regressed cell per regression");
    let unchanged = run.comparisons.len() - regressed.len();
    assert_eq!(dom.matches("data-change=\"unchanged\"").count(), unchanged);
    for c in &regressed {
        let row = format!(
            "<td>{} — {}</td><td>5/5 100% (56–100%)</td><td class=\"regressed\" data-change=\"regressed\">0/5 0% (0–44%)<br>regressed (p = 0.0079)</td>",
            dom_text(&c.id.to_string()),
            dom_text(&c.label)
        );
        assert!(
            dom.contains(&row),
            "the row of {} {} is missing: {row}",
            c.scenario,
            c.id
        );
    }
    assert!(dom.contains("Where the variants disagree"));
    let side_by_side = dom
        .split("Where the variants disagree")
        .nth(1)
        .expect("the section");
    assert!(side_by_side.contains("class=\"side-by-side\""));
    assert!(
        side_by_side.contains("<h3>reference</h3>") && side_by_side.contains("<h3>forgetful</h3>")
    );
    assert!(!dom.to_ascii_lowercase().contains("<script"));
}
