//! Rank-based tests: Kruskal-Wallis.

use serde::Serialize;

use super::{Group, StatsError, check_groups, chi2_sf};

/// Result of [`kruskal_wallis`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KruskalWallis {
    /// H statistic, corrected for ties. `None` when all observations are identical (the tie
    /// correction is then 0 and H is 0/0; SciPy raises an error there).
    pub statistic: Option<f64>,
    /// Degrees of freedom, k - 1.
    pub df: usize,
    /// Upper-tail p-value of H under chi-squared(k - 1) (the large-sample approximation, as
    /// SciPy); `None` whenever `statistic` is.
    pub p_value: Option<f64>,
}

/// Kruskal-Wallis H test that all groups come from the same distribution, with tie correction,
/// as `scipy.stats.kruskal`.
///
/// All observations are ranked together (ties get their average rank);
/// `H = 12 / (N (N + 1)) * sum(R_i^2 / n_i) - 3 (N + 1)`, divided by
/// `1 - sum(t^3 - t) / (N^3 - N)` over groups of `t` tied values.
///
/// # Errors
/// [`StatsError::TooFewGroups`] for fewer than 2 groups, [`StatsError::Empty`] or
/// [`StatsError::NotFinite`] for a bad group.
pub fn kruskal_wallis(groups: &[Group]) -> Result<KruskalWallis, StatsError> {
    check_groups(groups, 2, 1)?;
    let df = groups.len() - 1;
    // (value, group index), sorted by value.
    let mut pooled: Vec<(f64, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| group.values.iter().map(move |&v| (v, g)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len() as f64;

    let mut rank_sums = vec![0.0; groups.len()];
    let mut ties = 0.0;
    let mut start = 0;
    while start < pooled.len() {
        let end = start
            + pooled[start..]
                .iter()
                .take_while(|(v, _)| *v == pooled[start].0)
                .count();
        // Ranks start + 1 ..= end share their average.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        for &(_, g) in &pooled[start..end] {
            rank_sums[g] += average_rank;
        }
        let t = (end - start) as f64;
        ties += t * t * t - t;
        start = end;
    }

    let correction = 1.0 - ties / (n * n * n - n);
    if correction <= 0.0 {
        return Ok(KruskalWallis {
            statistic: None,
            df,
            p_value: None,
        });
    }
    let sum: f64 = groups
        .iter()
        .zip(&rank_sums)
        .map(|(group, r)| r * r / group.values.len() as f64)
        .sum();
    // H >= 0 in exact arithmetic; clamp the rounding residue when all mean ranks are equal.
    let h = ((12.0 / (n * (n + 1.0)) * sum - 3.0 * (n + 1.0)) / correction).max(0.0);
    Ok(KruskalWallis {
        statistic: Some(h),
        df,
        p_value: Some(chi2_sf(h, df as f64)?),
    })
}
