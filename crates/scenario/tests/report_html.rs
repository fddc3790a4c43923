//! The run page and token usage, without a browser: markup in recorded text is escaped, usage is
//! summed per turn, unit and run into run.json and summary.md, `report::rebuild` reproduces the
//! page from run.json, and the page for 1,000 customers stays a few MB.

mod report_common;

use cma_scenario::report::{self, INDEX_HTML, RUN_JSON, SUMMARY_MD};
use cma_scenario::{RunError, TokenUsage};
use report_common::{SCRIPT, hostile, run_with, shipped};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_scenario_is_text_on_the_page() {
    let run = run_with(&hostile(), None).await;
    assert_eq!(run.totals.checks_failed, 1, "the hostile check fails");
    let page = report::html_page(&run);
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the customer's words are on the page, escaped"
    );
    assert!(page.contains("&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(page.contains("a failing check with &lt;em&gt;markup&lt;/em&gt;"));
    let lower = page.to_ascii_lowercase();
    for tag in ["<script", "<em>markup"] {
        assert!(!lower.contains(tag), "{tag} reached the page unescaped");
    }
    assert!(!page.contains(SCRIPT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_usage_is_summed_per_turn_unit_and_run() {
    let run = run_with(&shipped(), None).await;
    let mut run_total = TokenUsage::default();
    for u in &run.units {
        let turns: usize = u.visits.iter().map(|v| v.turns.len()).sum();
        assert_eq!(u.usage.turns.len(), turns, "one usage per turn");
        let sum: TokenUsage = u.usage.turns.iter().map(|t| t.usage).sum();
        assert_eq!(sum, u.usage.total);
        for t in &u.usage.turns {
            assert!(
                t.usage.model_requests >= 1
                    && t.usage.input_tokens > 0
                    && t.usage.output_tokens > 0,
                "{} visit {} turn {} has usage: {:?}",
                u.scenario,
                t.visit,
                t.turn,
                t.usage
            );
        }
        run_total += u.usage.total;
    }
    assert_eq!(run.usage, run_total);

    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = report::write_reports(&run, dir.path()).expect("reports written");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join(RUN_JSON)).expect("run.json"))
            .expect("run.json parses");
    assert_eq!(json["usage"]["input_tokens"], run.usage.input_tokens);
    let turn = &json["units"][0]["usage"]["turns"][0];
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        assert!(
            turn[field].is_u64(),
            "run.json per-turn usage has {field}: {turn}"
        );
    }
    let summary = std::fs::read_to_string(run_dir.join(SUMMARY_MD)).expect("summary.md");
    let line = format!(
        "Tokens: {} input, {} output,",
        run.usage.input_tokens, run.usage.output_tokens
    );
    assert!(
        summary.contains(&line),
        "summary.md lacks `{line}`:\n{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_reproduces_the_page_from_run_json() {
    let run = run_with(&shipped(), Some("emulator:forgetful")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = report::write_reports(&run, dir.path()).expect("reports written");
    let written = std::fs::read_to_string(run_dir.join(INDEX_HTML)).expect("index.html");
    std::fs::remove_file(run_dir.join(INDEX_HTML)).expect("remove");
    let latest = report::latest_dir(dir.path()).expect("latest points at the run");
    let page = report::rebuild(&latest).expect("rebuilt");
    assert_eq!(page, latest.join(INDEX_HTML));
    let rebuilt = std::fs::read_to_string(&page).expect("index.html rebuilt");
    assert_eq!(rebuilt, written);
    assert!(rebuilt.contains("<h2>Failures ("));

    let empty = tempfile::tempdir().expect("tempdir");
    match report::rebuild(empty.path()) {
        Err(e @ RunError::Report { .. }) => {
            assert!(e.to_string().contains(RUN_JSON), "{e}");
            assert!(e.is_usage());
        }
        other => panic!("expected a report error, got {other:?}"),
    }
    std::fs::write(empty.path().join(RUN_JSON), "{\"schema\": \"other\"}").expect("write");
    assert!(report::rebuild(empty.path()).is_err());
}

/// The 20-customer isolation scenario's units, copied to 1,000 customers (half of them failing,
/// from the forgetful model), rendered: the page's size is printed and bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customer_page_stays_a_few_megabytes() {
    let isolation: Vec<_> = shipped()
        .into_iter()
        .filter(|s| s.name == "cross-customer-isolation")
        .collect();
    assert_eq!(isolation.len(), 1);
    let passing = run_with(&isolation, None).await;
    let failing = run_with(&isolation, Some("emulator:forgetful")).await;
    assert_eq!(passing.units.len(), 20);
    let twenty = report::html_page(&passing).len();

    let mut big = passing.clone();
    big.units.clear();
    for copy in 0..50 {
        let source = if copy % 2 == 0 { &passing } else { &failing };
        for u in &source.units {
            let mut u = u.clone();
            u.customer.id = format!("{}-{copy:02}", u.customer.id);
            big.units.push(u);
        }
    }
    big.scenarios[0].customers = big.units.len();
    big.checks = Vec::new();
    let page = report::html_page(&big);
    let per_unit = page.len() / big.units.len();
    println!(
        "index.html: 20 customers (passing) {} bytes; 1,000 customers (500 failing) {} bytes, {} per unit",
        twenty,
        page.len(),
        per_unit
    );
    assert_eq!(page.matches("<details class=\"unit").count(), 1000);
    assert!(
        page.len() < 8 * 1024 * 1024,
        "a 1,000-customer page is {} bytes",
        page.len()
    );
}
