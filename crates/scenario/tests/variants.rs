//! Variants side by side: the reference agent against `emulator:forgetful` at five repeats
//! marks exactly the checks the forgetful agent fails every time as significant regressions
//! (Fisher p = 2/252) and every other check as unchanged; fewer repeats are inconclusive, not a
//! verdict; runs of different scenario sets are compared on their overlap, the rest listed.

mod report_common;

use cma_scenario::compare::combine;
use cma_scenario::stats::Change;
use cma_scenario::variant::VariantInfo;
use report_common::{compared, reference_vs_forgetful, run_with};

fn info(name: &str) -> VariantInfo {
    VariantInfo {
        name: name.into(),
        description: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetful_regresses_the_memory_checks_and_nothing_else_at_five_repeats() {
    let run = reference_vs_forgetful(&compared(), 5).await;
    assert_eq!(run.settings.variants.len(), 2);
    assert!(!run.comparisons.is_empty());
    let (mut regressed, mut unchanged) = (0, 0);
    for c in &run.comparisons {
        let forgetful = run
            .checks
            .iter()
            .find(|s| {
                s.variant.as_deref() == Some("forgetful")
                    && (&s.scenario, &s.customer, &s.id) == (&c.scenario, &c.customer, &c.id)
            })
            .expect("the forgetful side of every comparison");
        assert_eq!((c.before_passes, c.before_runs), (5, 5), "{c:?}");
        match c.judgement.change {
            Change::Regressed => {
                regressed += 1;
                assert_eq!(forgetful.passes, 0, "{c:?}");
                let p = c.judgement.p_value.expect("a p-value");
                assert!((p - 2.0 / 252.0).abs() < 1e-12, "{c:?}");
            }
            Change::Unchanged => {
                unchanged += 1;
                assert_eq!(forgetful.passes, 5, "{c:?}");
            }
            other => panic!("{other:?} for {c:?}: with 5/5 against 0/5 or 5/5 there is no doubt"),
        }
    }
    assert!(
        regressed > 0 && unchanged > 0,
        "{regressed} regressed, {unchanged} unchanged"
    );
    // The memory checks are among the regressions; checks a forgetful agent passes are not.
    let change_of = |kind: &str| {
        run.comparisons
            .iter()
            .filter(|c| {
                run.checks
                    .iter()
                    .any(|s| s.kind == kind && (&s.scenario, &s.id) == (&c.scenario, &c.id))
            })
            .map(|c| c.judgement.change)
            .collect::<Vec<_>>()
    };
    for kind in ["wrote_memory", "session_wrote"] {
        let changes = change_of(kind);
        assert!(!changes.is_empty(), "no {kind} check compared");
        assert!(
            changes.iter().all(|c| *c == Change::Regressed),
            "{kind}: {changes:?}"
        );
    }
    // What the agent was told is not in memory; a seeded memory still is.
    let contains = change_of("memory_contains");
    assert!(contains.contains(&Change::Regressed) && contains.contains(&Change::Unchanged));
    let not_wrote = change_of("not_wrote_memory");
    assert!(!not_wrote.is_empty() && not_wrote.iter().all(|c| *c == Change::Unchanged));
    assert_eq!(run.exit_code(), 1, "a significant regression fails the run");

    let md = cma_scenario::report::summary_markdown(&run);
    assert!(
        md.contains("| Scenario | `reference` | `forgetful` |"),
        "{md}"
    );
    assert!(md.contains("**regressed** (p = 0.0079)"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_repeats_are_inconclusive_and_say_how_many_would_tell() {
    let run = reference_vs_forgetful(&compared(), 2).await;
    let differing: Vec<_> = run
        .comparisons
        .iter()
        .filter(|c| c.judgement.change != Change::Unchanged)
        .collect();
    assert!(!differing.is_empty());
    for c in differing {
        assert_eq!(c.judgement.change, Change::Inconclusive, "{c:?}");
        // 2/2 against 0/2: p = 1/3.
        assert!((c.judgement.p_value.expect("p") - 1.0 / 3.0).abs() < 1e-9);
        // Fisher needs 4/4 against 0/4.
        assert_eq!(c.judgement.repeats_needed, Some(4), "{c:?}");
    }
    assert!(!cma_scenario::compare::any_regressed(&run.comparisons));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_different_scenario_sets_are_compared_on_their_overlap() {
    let all = compared();
    let one = run_with(&all[..1], None).await;
    let both = run_with(&all, Some("emulator:forgetful")).await;
    let joined = combine(vec![(info("a"), one), (info("b"), both)], "c".into()).expect("combine");
    assert_eq!(joined.report.scenarios.len(), 1);
    assert_eq!(joined.left_out.len(), all.len() - 1);
    for (scenario, having) in &joined.left_out {
        assert_ne!(scenario, &all[0].name);
        assert_eq!(having, &vec!["b".to_string()]);
    }
    assert!(
        joined
            .report
            .comparisons
            .iter()
            .all(|c| c.scenario == all[0].name),
        "only the overlap is compared"
    );
    // One repeat each: the exact rule.
    assert!(
        joined
            .report
            .comparisons
            .iter()
            .any(|c| c.judgement.change == Change::Regressed && c.judgement.p_value.is_none())
    );
    let twice = combine(
        vec![
            (info("a"), run_with(&all[..1], None).await),
            (info("a"), run_with(&all[..1], None).await),
        ],
        "d".into(),
    );
    assert!(twice.is_err_and(|e| e.to_string().contains("`a` is given twice")));
}
