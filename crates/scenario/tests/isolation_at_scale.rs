//! The shipped `cross-customer-isolation` scenario over 1,000 generated customers, against the
//! embedded emulator's reference agent: every customer's own values come back and no other
//! customer's name, size or city reaches a reply or a store.
//!
//! The customers' values are chosen so that no value of one column is a whole word of another
//! customer's value in any column (`Cust0042x`, size `1042`, `Town0042q`, budget `$5042`), so a
//! hit can only be a leak. Each customer is one unit of two visits; the run took 31.6 s in a
//! debug build on a shared 2-core machine (8,000 checks), so it runs with the other tests.

mod local;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use cma_scenario::{ProgressMode, RunOptions, load_paths, run};

const CUSTOMERS: usize = 1_000;
/// A bound on the whole run, far above its measured time, so a hang fails instead of blocking.
const RUN_BOUND: Duration = Duration::from_secs(900);

fn customers_csv() -> String {
    let mut csv = String::from("id,name,size,city,budget\n");
    for i in 0..CUSTOMERS {
        let _ = writeln!(
            csv,
            "c{i:04},Cust{i:04}x,{},Town{i:04}q,${}",
            1_000 + i,
            5_000 + i
        );
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customers_stay_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cross-customer-isolation.toml");
    std::fs::copy(&shipped, dir.path().join("cross-customer-isolation.toml")).expect("copy");
    std::fs::write(dir.path().join("customers.csv"), customers_csv()).expect("csv");
    let scenarios = load_paths(&[dir.path().to_path_buf()]).expect("loads");
    assert_eq!(scenarios[0].scripts.len(), CUSTOMERS);

    let options = RunOptions {
        progress: ProgressMode::Off,
        concurrency: Some(32),
        local: local::embedded(),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let report = tokio::time::timeout(
        RUN_BOUND,
        run(&scenarios, &options, std::future::pending::<()>()),
    )
    .await
    .expect("the run ends")
    .expect("the run starts");
    let took = started.elapsed();

    assert_eq!(report.totals.units, CUSTOMERS);
    assert_eq!(report.totals.turns_unfinished, 0);
    let isolation: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.kind == "isolation")
        .collect();
    assert_eq!(
        isolation.len(),
        CUSTOMERS,
        "one isolation check per customer"
    );
    let leaks: Vec<String> = isolation
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.customer, c.seen))
        .collect();
    assert!(leaks.is_empty(), "{} leaks: {leaks:#?}", leaks.len());
    // The recall checks hold too: isolation is not passed by forgetting everything.
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .take(20)
        .map(|c| format!("{} {}: {} / {}", c.customer, c.label, c.expected, c.seen))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(report.exit_code(), 0);
    eprintln!(
        "{CUSTOMERS} customers, {} checks, in {:.1} s",
        report.checks.len(),
        took.as_secs_f64()
    );
}
