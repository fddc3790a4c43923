//! `junit.xml`: a testsuite per scenario, a testcase per check (aggregated over repeats).

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::outcome::RunReport;

pub(crate) fn junit(report: &RunReport) -> std::io::Result<Vec<u8>> {
    let mut out = Report::new(format!("cma run {}", report.run_id));
    out.set_time(Duration::from_secs_f64(
        report.duration_ms.max(0.0) / 1000.0,
    ));
    for s in &report.scenarios {
        let mut suite = TestSuite::new(s.name.as_str());
        let millis: f64 = report
            .units
            .iter()
            .filter(|u| u.scenario == s.name)
            .map(|u| u.duration_ms)
            .sum();
        suite.set_time(Duration::from_secs_f64(millis.max(0.0) / 1000.0));
        for c in report.checks.iter().filter(|c| c.scenario == s.name) {
            let status = if c.ok {
                TestCaseStatus::success()
            } else {
                // A check that could not be judged (a grader's non-answer) is JUnit's error.
                let kind = if c.errors > 0 {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut st = TestCaseStatus::non_success(kind);
                st.set_message(format!("expected {}; seen {}", c.expected, c.seen));
                st.set_type(c.kind.as_str());
                st.set_description(format!(
                    "passed {} of {} runs (pass rate {:.0}%; {} could not be judged)\nexpected: {}\nseen: {}",
                    c.passes,
                    c.runs,
                    c.pass_rate * 100.0,
                    c.errors,
                    c.expected,
                    c.seen
                ));
                st
            };
            let variant = c
                .variant
                .as_deref()
                .map(|v| format!("{{{v}}} "))
                .unwrap_or_default();
            let mut case = TestCase::new(
                format!("{variant}[{}] {}: {}", c.customer, c.id, c.label),
                status,
            );
            case.set_classname(match &c.variant {
                Some(v) => format!("{}.{}.{v}", s.name, c.customer),
                None => format!("{}.{}", s.name, c.customer),
            });
            out_case_props(&mut case, c.runs, c.passes);
            suite.add_test_case(case);
        }
        out.add_test_suite(suite);
    }
    let mut buf = Vec::new();
    out.serialize(&mut buf)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(buf)
}

fn out_case_props(case: &mut TestCase, runs: usize, passes: usize) {
    case.add_property(("runs", runs.to_string().as_str()));
    case.add_property(("passes", passes.to_string().as_str()));
}
