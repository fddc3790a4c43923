//! Which units a run executes: every scenario × customer × repeat, narrowed by `--filter` and
//! `--shard`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// One script run: a scenario's customer, in one repeat (all counted from here on from 0
/// internally; `repeat` in reports counts from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unit {
    /// Index into the run's scenarios.
    pub scenario: usize,
    /// Index into the scenario's scripts (customers).
    pub customer: usize,
    /// 1-based.
    pub repeat: usize,
}

/// `--shard i/n`: the i-th (1-based) of n disjoint parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("--shard takes `i/n` with 1 <= i <= n (e.g. 2/4), not {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Scenarios that match any filter (all of them when there is none): `tag:x` for a tag, else a
/// substring of the name.
pub fn filter<'a>(scenarios: &'a [Scenario], filters: &[String]) -> Vec<&'a Scenario> {
    scenarios
        .iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.matches(f)))
        .collect()
}

/// Every unit of `scenarios` (indices into that slice) for `repeat` repeats, in a stable order
/// (scenario, then customer, then repeat), then only those of the shard: with units numbered
/// from 0 in that order, unit k belongs to shard `k mod n + 1`. The shards of one `n` therefore
/// cover every unit exactly once, and differ in size by at most one.
pub fn units(scenarios: &[&Scenario], repeat: usize, shard: Option<Shard>) -> Vec<Unit> {
    let mut all = Vec::new();
    for (si, s) in scenarios.iter().enumerate() {
        for ci in 0..s.scripts.len() {
            for r in 1..=repeat.max(1) {
                all.push(Unit {
                    scenario: si,
                    customer: ci,
                    repeat: r,
                });
            }
        }
    }
    match shard {
        None => all,
        Some(sh) => all
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % sh.count + 1 == sh.index)
            .map(|(_, u)| u)
            .collect(),
    }
}
