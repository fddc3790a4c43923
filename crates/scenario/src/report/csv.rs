//! `results.csv`: one row per check and repeat (and variant, in the last column: empty in a
//! run without variants).

use crate::outcome::RunReport;

pub const HEADER: [&str; 11] = [
    "scenario", "customer", "repeat", "visit", "turn", "check", "kind", "passed", "expected",
    "seen", "variant",
];

pub(crate) fn results(report: &RunReport) -> std::io::Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let io = |e: ::csv::Error| std::io::Error::other(e.to_string());
    w.write_record(HEADER).map_err(io)?;
    let opt = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    for u in &report.units {
        for c in &u.checks {
            w.write_record([
                u.scenario.as_str(),
                u.customer.id.as_str(),
                &u.repeat.to_string(),
                &opt(c.id.visit),
                &opt(c.id.turn),
                c.label.as_str(),
                c.kind.as_str(),
                if c.verdict.passed { "true" } else { "false" },
                c.verdict.expected.as_str(),
                c.verdict.seen.as_str(),
                u.variant.as_deref().unwrap_or_default(),
            ])
            .map_err(io)?;
        }
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}
