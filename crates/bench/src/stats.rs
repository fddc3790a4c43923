//! Nearest-rank percentiles of a sample.

use serde::Serialize;

/// Summary of one column of samples; every field is NaN for an empty sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles, so each one is an observed value (no interpolation). NaNs are
/// ignored: they mark a timing that was not observed.
pub fn percentiles(mut xs: Vec<f64>) -> Percentiles {
    xs.retain(|x| !x.is_nan());
    if xs.is_empty() {
        return Percentiles {
            p50: f64::NAN,
            p95: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
        };
    }
    xs.sort_by(f64::total_cmp);
    let rank = |p: f64| xs[nearest_rank(p, xs.len()) - 1];
    Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: xs[xs.len() - 1],
        mean: xs.iter().sum::<f64>() / xs.len() as f64,
    }
}

/// The 1-based rank of percentile `p` (0..=1) in `n` sorted values: ceil(p·n), at least 1.
fn nearest_rank(p: f64, n: usize) -> usize {
    ((p * n as f64).ceil() as usize).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sample_is_all_nan() {
        let p = percentiles(Vec::new());
        assert!(p.p50.is_nan() && p.p95.is_nan() && p.p99.is_nan() && p.max.is_nan());
        assert!(p.mean.is_nan());
    }

    #[test]
    fn one_value_is_every_percentile() {
        let p = percentiles(vec![3.5]);
        assert_eq!(
            (p.p50, p.p95, p.p99, p.max, p.mean),
            (3.5, 3.5, 3.5, 3.5, 3.5)
        );
    }

    #[test]
    fn nearest_rank_on_one_to_a_hundred() {
        // Shuffled input: the function sorts.
        let xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = percentiles(xs);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(p.mean, 50.5);
    }

    #[test]
    fn nearest_rank_rounds_up_between_ranks() {
        // Ten values: p95 is rank ceil(9.5) = 10, p50 rank 5.
        let p = percentiles((1..=10).map(f64::from).collect());
        assert_eq!((p.p50, p.p95, p.p99), (5.0, 10.0, 10.0));
        let p = percentiles(vec![10.0, 20.0, 30.0]);
        assert_eq!((p.p50, p.p95), (20.0, 30.0));
    }

    #[test]
    fn nan_values_are_ignored_not_sorted_in() {
        let p = percentiles(vec![f64::NAN, 2.0, 1.0, f64::NAN]);
        assert_eq!((p.p50, p.max, p.mean), (1.0, 2.0, 1.5));
    }

    #[test]
    fn infinities_sort_to_the_ends() {
        let p = percentiles(vec![f64::INFINITY, 1.0, 2.0, 3.0]);
        assert_eq!(p.p50, 2.0);
        assert_eq!(p.max, f64::INFINITY);
    }
}
