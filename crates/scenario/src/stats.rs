//! The statistics behind comparisons: a pass rate's 95% Wilson score interval, Fisher's exact
//! test on two pass counts, and the repeats a difference would need to be told from chance. The
//! one place a difference between two variants or runs is called regressed, improved,
//! inconclusive or unchanged.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Discrete, Hypergeometric, Normal};

/// A difference is significant below this p-value.
pub const ALPHA: f64 = 0.05;
/// The power the repeats estimate aims for.
pub const POWER: f64 = 0.8;
/// Repeats estimates stop here: a smaller difference is reported as needing more.
pub const MAX_REPEATS: usize = 10_000;

/// The standard normal quantile at `p` (0 < p < 1).
fn z(p: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(p),
        // Mean 0, sd 1 is always valid; keep the textbook value rather than panic.
        Err(_) => 1.959_963_984_540_054,
    }
}

/// The 95% Wilson score interval of `passes` out of `runs` (Wilson 1927); `(0, 1)` for no runs.
pub fn wilson(passes: usize, runs: usize) -> (f64, f64) {
    if runs == 0 {
        return (0.0, 1.0);
    }
    let n = runs as f64;
    let p = passes.min(runs) as f64 / n;
    let z = z(1.0 - ALPHA / 2.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = p + z2 / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (
        ((centre - half) / denominator).max(0.0),
        ((centre + half) / denominator).min(1.0),
    )
}

/// The two-sided p-value of Fisher's exact test on the 2×2 table `[[a, b], [c, d]]`: the sum of
/// the probabilities (hypergeometric, margins fixed) of every table no more likely than the one
/// seen, with R's `fisher.test` relative tolerance of 1e-7 for ties.
pub fn fisher_two_sided(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let population = a + b + c + d;
    let row = a + b;
    let column = a + c;
    if population == 0 {
        return 1.0;
    }
    let Ok(h) = Hypergeometric::new(population, column, row) else {
        return 1.0;
    };
    let low = (row + column).saturating_sub(population);
    let high = row.min(column);
    let seen = h.pmf(a);
    let p: f64 = (low..=high)
        .map(|x| h.pmf(x))
        .filter(|&q| q <= seen * (1.0 + 1e-7))
        .sum();
    p.min(1.0)
}

/// Repeats per side that would tell pass rates `p1` and `p2` apart: the larger of the normal
/// approximation for two proportions at [`ALPHA`] and [`POWER`] (Fleiss, *Statistical Methods
/// for Rates and Proportions*, 3rd ed., eq. 4.14, without continuity correction) and the fewest
/// repeats at which Fisher's test itself, on the counts the rates predict, falls below
/// [`ALPHA`] (the normal approximation is too hopeful near 0 and 1: it says 2 for 100% against
/// 0%, where Fisher needs 4). `None` when the rates are equal (no difference to detect).
pub fn repeats_needed(p1: f64, p2: f64) -> Option<usize> {
    let delta = (p1 - p2).abs();
    if delta < 1e-12 {
        return None;
    }
    let mean = (p1 + p2) / 2.0;
    let za = z(1.0 - ALPHA / 2.0);
    let zb = z(POWER);
    let a = za * (2.0 * mean * (1.0 - mean)).sqrt();
    let b = zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    let n = ((a + b) / delta).powi(2).ceil();
    let normal = if n.is_finite() && n < MAX_REPEATS as f64 {
        (n as usize).max(2)
    } else {
        return Some(MAX_REPEATS);
    };
    let predicted = |n: usize, p: f64| {
        let passes = (p * n as f64).round() as u64;
        (passes, n as u64 - passes.min(n as u64))
    };
    // Fisher on predicted counts: a bounded scan, as the normal figure is the usual answer.
    let exact = (2..=FISHER_SCAN.min(4 * normal)).find(|&n| {
        let ((a, b), (c, d)) = (predicted(n, p1), predicted(n, p2));
        fisher_two_sided(a, b, c, d) < ALPHA
    });
    Some(exact.map_or(normal, |e| e.max(normal)))
}

/// The most repeats [`repeats_needed`] tries Fisher's test at.
const FISHER_SCAN: usize = 500;

/// How a check moved from one side (the baseline, or the first variant) to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The same pass rate on both sides.
    Unchanged,
    /// Worse, and more than chance explains (or, with single runs, ok before and failing now).
    Regressed,
    /// Better, by the same rule.
    Improved,
    /// Different, but not more than chance explains.
    Inconclusive,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Unchanged => "unchanged",
            Change::Regressed => "regressed",
            Change::Improved => "improved",
            Change::Inconclusive => "inconclusive",
        }
    }
}

/// One side of a comparison: a check's passes out of its runs, and whether it met the pass rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    pub passes: usize,
    pub runs: usize,
    pub ok: bool,
}

/// The verdict on a difference, with the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub change: Change,
    /// Fisher's two-sided p-value; `None` under the single-run rule.
    pub p_value: Option<f64>,
    /// For an inconclusive difference: repeats per side that would tell it at 80% power.
    pub repeats_needed: Option<usize>,
}

/// Compares `after` with `before`. When both sides have more than one run, a difference is
/// regressed or improved only when Fisher's exact test gives p < [`ALPHA`], else inconclusive.
/// With a single run on either side the exact rule applies: ok before and failing now is a
/// regression, the reverse an improvement.
pub fn judge(before: Side, after: Side) -> Judgement {
    let rate = |s: Side| {
        if s.runs == 0 {
            0.0
        } else {
            s.passes as f64 / s.runs as f64
        }
    };
    let (r0, r1) = (rate(before), rate(after));
    if before.runs == 0 || after.runs == 0 {
        return Judgement {
            change: Change::Inconclusive,
            p_value: None,
            repeats_needed: None,
        };
    }
    if before.runs <= 1 || after.runs <= 1 {
        let change = match (before.ok, after.ok) {
            (true, false) => Change::Regressed,
            (false, true) => Change::Improved,
            _ if (r0 - r1).abs() < 1e-12 => Change::Unchanged,
            _ => Change::Inconclusive,
        };
        return Judgement {
            change,
            p_value: None,
            repeats_needed: None,
        };
    }
    let fails = |s: Side| (s.runs - s.passes.min(s.runs)) as u64;
    let p = fisher_two_sided(
        before.passes as u64,
        fails(before),
        after.passes as u64,
        fails(after),
    );
    let change = if (r0 - r1).abs() < 1e-12 {
        Change::Unchanged
    } else if p < ALPHA {
        if r1 < r0 {
            Change::Regressed
        } else {
            Change::Improved
        }
    } else {
        Change::Inconclusive
    };
    Judgement {
        change,
        p_value: Some(p),
        repeats_needed: (change == Change::Inconclusive)
            .then(|| repeats_needed(r0, r1))
            .flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    /// Newcombe, R. G. (1998), "Two-sided confidence intervals for the single proportion:
    /// comparison of seven methods", Statistics in Medicine 17, 857–872, Table I, method 3
    /// (Wilson score, no continuity correction): 81/263 → 0.2553–0.3662, 15/148 →
    /// 0.0624–0.1605, 0/20 → 0–0.1611, 1/29 → 0.0061–0.1718.
    #[test]
    fn wilson_matches_newcombe_1998() {
        for (k, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let (l, h) = wilson(k, n);
            assert!(close(l, lo, 5e-5), "{k}/{n}: lower {l} != {lo}");
            assert!(close(h, hi, 5e-5), "{k}/{n}: upper {h} != {hi}");
        }
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    /// R's `?fisher.test` examples: the tea-tasting table `matrix(c(3, 1, 1, 3), 2)` gives a
    /// two-sided p-value of 0.4857; the convictions table `matrix(c(2, 10, 15, 3), 2)` gives
    /// 0.0004652 one-sided (`alternative = "less"`) and 0.0005367 two-sided.
    #[test]
    fn fisher_matches_r_documentation() {
        assert!(close(fisher_two_sided(3, 1, 1, 3), 0.4857, 5e-5));
        assert!(close(fisher_two_sided(2, 15, 10, 3), 0.0005367, 5e-8));
        // 5/5 against 0/5: 2 / C(10, 5) = 2/252.
        assert!(close(fisher_two_sided(5, 0, 0, 5), 2.0 / 252.0, 1e-12));
        assert!(close(fisher_two_sided(5, 0, 5, 0), 1.0, 1e-12));
        assert_eq!(fisher_two_sided(0, 0, 0, 0), 1.0);
    }

    /// Fleiss's formula for 0.9 against 0.7 at α = 0.05, power 0.8: (1.960·√(2·0.8·0.2) +
    /// 0.8416·√(0.9·0.1 + 0.7·0.3))² / 0.2² = 61.6, so 62 per group.
    #[test]
    fn repeats_needed_matches_the_normal_approximation() {
        assert_eq!(repeats_needed(0.9, 0.7), Some(62));
        assert_eq!(repeats_needed(0.5, 0.5), None);
        // 4/4 against 0/4 gives Fisher p = 2/70 < 0.05; 3/3 against 0/3 gives 0.1.
        assert_eq!(repeats_needed(1.0, 0.0), Some(4));
        assert!(repeats_needed(1.0, 0.8).is_some_and(|n| n > 5));
    }

    #[test]
    fn judge_calls_a_regression_only_when_significant() {
        let s = |passes, runs, ok| Side { passes, runs, ok };
        let j = judge(s(5, 5, true), s(0, 5, false));
        assert_eq!(j.change, Change::Regressed);
        assert!(j.p_value.is_some_and(|p| p < ALPHA));
        assert_eq!(
            judge(s(0, 5, false), s(5, 5, true)).change,
            Change::Improved
        );
        let j = judge(s(3, 3, true), s(2, 3, false));
        assert_eq!(j.change, Change::Inconclusive);
        assert!(j.repeats_needed.is_some_and(|n| n > 3));
        assert_eq!(
            judge(s(5, 5, true), s(5, 5, true)).change,
            Change::Unchanged
        );
        // A single run keeps the exact rule.
        assert_eq!(
            judge(s(1, 1, true), s(0, 1, false)).change,
            Change::Regressed
        );
        assert_eq!(
            judge(s(1, 1, true), s(1, 1, true)).change,
            Change::Unchanged
        );
        // No runs on one side: nothing to call.
        assert_eq!(
            judge(s(0, 0, false), s(5, 5, true)).change,
            Change::Inconclusive
        );
    }
}
