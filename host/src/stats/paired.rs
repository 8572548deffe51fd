//! Tests for paired samples, where observation `i` of every group comes from the same block
//! (in a sweep: the same seed, so the same initial weights and batch order): the paired t-test
//! ([`paired_t`]) and Friedman's rank test across several groups ([`friedman`]).
//!
//! Pairing removes the between-block variation from the comparison, so differences that are
//! consistent across seeds are detected with fewer seeds than the unpaired tests need.

use serde::Serialize;

use super::{StatsError, check_finite, check_no_overflow, chi2_sf, mean, sum_sq_dev, t_sf};

/// Result of [`paired_t`]; differences are `first - second`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedT {
    /// Number of pairs.
    pub n: usize,
    /// Mean of the differences.
    pub mean_difference: f64,
    /// Sample sd of the differences (ddof 1).
    pub sd_difference: f64,
    /// t statistic; `None` when every difference is the same (sd 0).
    pub t: Option<f64>,
    /// Degrees of freedom, n - 1.
    pub df: usize,
    /// Two-sided p; `None` whenever `t` is.
    pub p_value: Option<f64>,
}

/// The paired t-test of `first` against `second` (pairs by position), two-sided, as
/// `scipy.stats.ttest_rel(first, second)`.
///
/// # Errors
/// [`StatsError::LengthMismatch`] for samples of different lengths, [`StatsError::GroupTooSmall`]
/// for fewer than 2 pairs, [`StatsError::NotFinite`] for NaN or infinity.
pub fn paired_t(first: &[f64], second: &[f64]) -> Result<PairedT, StatsError> {
    if first.len() != second.len() {
        return Err(StatsError::LengthMismatch {
            what: "paired samples".to_string(),
            first: first.len(),
            second: second.len(),
        });
    }
    check_finite("the first sample", first)?;
    check_finite("the second sample", second)?;
    let n = first.len();
    if n < 2 {
        return Err(StatsError::GroupTooSmall {
            group: "pairs".to_string(),
            n,
            needed: 2,
        });
    }
    let d: Vec<f64> = first.iter().zip(second).map(|(a, b)| a - b).collect();
    let mean_difference = mean(&d);
    let variance = sum_sq_dev(&d) / (n - 1) as f64;
    check_no_overflow("the paired differences", &[mean_difference, variance])?;
    let sd_difference = variance.sqrt();
    let df = n - 1;
    let (t, p_value) = if sd_difference > 0.0 {
        let t = mean_difference / (sd_difference / (n as f64).sqrt());
        (Some(t), Some((2.0 * t_sf(t.abs(), df as f64)?).min(1.0)))
    } else {
        (None, None)
    };
    Ok(PairedT {
        n,
        mean_difference,
        sd_difference,
        t,
        df,
        p_value,
    })
}

/// Result of [`friedman`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Friedman {
    /// Number of blocks.
    pub blocks: usize,
    /// Number of treatments (groups).
    pub treatments: usize,
    /// Mean rank of each treatment within the blocks (1 = lowest value), in input order.
    pub mean_ranks: Vec<f64>,
    /// Friedman's chi-squared, corrected for ties; `None` when every block is all ties.
    pub statistic: Option<f64>,
    /// Degrees of freedom, treatments - 1.
    pub df: usize,
    /// Upper-tail p under chi-squared(df) (the large-sample approximation, as SciPy); `None`
    /// whenever `statistic` is.
    pub p_value: Option<f64>,
}

/// Friedman's test that `k` treatments do not differ, with `blocks[b][j]` the observation of
/// treatment `j` in block `b`, as `scipy.stats.friedmanchisquare(*treatments)`: values are
/// ranked within each block (ties get their average rank),
/// `Q = 12 / (n k (k + 1)) * sum(R_j^2) - 3 n (k + 1)`, divided by
/// `1 - sum(t^3 - t) / (n k (k^2 - 1))` over groups of `t` tied values within a block.
///
/// # Errors
/// [`StatsError::TooFewGroups`] for fewer than 3 treatments (SciPy's minimum; compare two with
/// [`paired_t`]), [`StatsError::Empty`] for no blocks, [`StatsError::LengthMismatch`] for a
/// block of another length, [`StatsError::NotFinite`] for NaN or infinity.
pub fn friedman(blocks: &[Vec<f64>]) -> Result<Friedman, StatsError> {
    let Some(first) = blocks.first() else {
        return Err(StatsError::Empty {
            location: "the blocks".to_string(),
        });
    };
    let k = first.len();
    if k < 3 {
        return Err(StatsError::TooFewGroups {
            found: k,
            needed: 3,
        });
    }
    let mut rank_sums = vec![0.0; k];
    let mut ties = 0.0;
    for (b, block) in blocks.iter().enumerate() {
        if block.len() != k {
            return Err(StatsError::LengthMismatch {
                what: format!("block {b}"),
                first: k,
                second: block.len(),
            });
        }
        check_finite(&format!("block {b}"), block)?;
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&x, &y| block[x].total_cmp(&block[y]));
        let mut start = 0;
        while start < k {
            let end = start
                + order[start..]
                    .iter()
                    .take_while(|&&j| block[j] == block[order[start]])
                    .count();
            let average_rank = (start + 1 + end) as f64 / 2.0;
            for &j in &order[start..end] {
                rank_sums[j] += average_rank;
            }
            let t = (end - start) as f64;
            ties += t * t * t - t;
            start = end;
        }
    }
    let n = blocks.len() as f64;
    let kf = k as f64;
    let df = k - 1;
    let mean_ranks = rank_sums.iter().map(|r| r / n).collect();
    let correction = 1.0 - ties / (n * kf * (kf * kf - 1.0));
    if correction <= 0.0 {
        return Ok(Friedman {
            blocks: blocks.len(),
            treatments: k,
            mean_ranks,
            statistic: None,
            df,
            p_value: None,
        });
    }
    let ss: f64 = rank_sums.iter().map(|r| r * r).sum();
    let q = ((12.0 / (n * kf * (kf + 1.0)) * ss - 3.0 * n * (kf + 1.0)) / correction).max(0.0);
    Ok(Friedman {
        blocks: blocks.len(),
        treatments: k,
        mean_ranks,
        statistic: Some(q),
        df,
        p_value: Some(chi2_sf(q, df as f64)?),
    })
}

#[cfg(test)]
mod tests {
    //! Reference values from SciPy 1.17.1, computed once:
    //!
    //! ```python
    //! from scipy import stats
    //! for X in (SEEDS_BY_BATCH, TIED):
    //!     r = stats.friedmanchisquare(*zip(*X)); print(r.statistic, r.pvalue)
    //! r = stats.ttest_rel(A5, B5); print(r.statistic, r.pvalue)
    //! r = stats.ttest_rel(A3, B3); print(r.statistic, r.pvalue)
    //! ```
    use super::*;

    #[track_caller]
    fn close(actual: f64, expected: f64, what: &str) {
        let tolerance = (1e-9 * expected.abs()).max(1e-12);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: got {actual:e}, reference {expected:e}"
        );
    }

    /// 5 seeds (rows) x 4 batch sizes (columns), no ties.
    const SEEDS_BY_BATCH: [[f64; 4]; 5] = [
        [97.1, 97.9, 96.2, 95.0],
        [96.8, 98.2, 96.9, 94.7],
        [97.5, 97.7, 96.0, 95.3],
        [96.9, 98.4, 96.6, 95.1],
        [97.3, 97.6, 96.4, 94.2],
    ];
    /// 4 blocks x 3 treatments with ties within blocks.
    const TIED: [[f64; 3]; 4] = [
        [97.0, 97.0, 96.0],
        [96.5, 98.0, 96.5],
        [97.0, 97.5, 97.0],
        [96.0, 98.0, 96.0],
    ];

    fn blocks<const K: usize>(rows: &[[f64; K]]) -> Vec<Vec<f64>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn friedman_matches_scipy() {
        let f = friedman(&blocks(&SEEDS_BY_BATCH)).unwrap();
        close(f.statistic.unwrap(), 14.039999999999992, "Q");
        close(f.p_value.unwrap(), 0.0028512084304522568, "p");
        assert_eq!((f.blocks, f.treatments, f.df), (5, 4, 3));
        assert_eq!(f.mean_ranks, vec![2.8, 4.0, 2.2, 1.0]);
    }

    #[test]
    fn friedman_with_ties_matches_scipy() {
        let f = friedman(&blocks(&TIED)).unwrap();
        close(f.statistic.unwrap(), 6.5, "Q");
        close(f.p_value.unwrap(), 0.03877420783172202, "p");
    }

    #[test]
    fn friedman_edge_cases() {
        let all_tied = vec![vec![1.0, 1.0, 1.0]; 3];
        let f = friedman(&all_tied).unwrap();
        assert_eq!((f.statistic, f.p_value), (None, None));
        assert!(matches!(
            friedman(&[vec![1.0, 2.0], vec![2.0, 1.0]]),
            Err(StatsError::TooFewGroups {
                found: 2,
                needed: 3
            })
        ));
        assert!(matches!(
            friedman(&[vec![1.0, 2.0, 3.0], vec![2.0, 1.0]]),
            Err(StatsError::LengthMismatch { second: 2, .. })
        ));
        assert!(matches!(friedman(&[]), Err(StatsError::Empty { .. })));
    }

    #[test]
    fn paired_t_matches_scipy() {
        let r = paired_t(
            &[97.9, 98.2, 97.7, 98.4, 97.6],
            &[97.1, 96.8, 97.5, 96.9, 97.3],
        )
        .unwrap();
        close(r.t.unwrap(), 3.117532399905871, "t");
        close(r.p_value.unwrap(), 0.035611458948287864, "p");
        assert_eq!((r.n, r.df), (5, 4));
        let r = paired_t(&[98.25, 97.9, 98.6], &[96.49, 97.0, 96.1]).unwrap();
        close(r.t.unwrap(), 3.7204229731563014, "t");
        close(r.p_value.unwrap(), 0.06525420318963505, "p");
    }

    #[test]
    fn paired_t_edge_cases() {
        let r = paired_t(&[2.0, 3.0], &[1.0, 2.0]).unwrap();
        assert_eq!((r.t, r.p_value, r.mean_difference), (None, None, 1.0));
        assert!(matches!(
            paired_t(&[1.0, 2.0], &[1.0]),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            paired_t(&[1.0], &[1.0]),
            Err(StatsError::GroupTooSmall { n: 1, .. })
        ));
    }
}
