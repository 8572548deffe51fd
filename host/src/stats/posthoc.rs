//! Pairwise comparisons of groups: Welch t-tests with multiple-testing adjustment.

use serde::Serialize;

use super::{
    Group, StatsError, check_groups, check_no_overflow, mean, sum_sq_dev, t_quantile, t_sf,
};

/// Confidence level of the per-comparison intervals of [`pairwise_welch`].
pub const CONFIDENCE: f64 = 0.95;

/// Multiple-testing adjustment of a family of p-values (family-wise error rate control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjust {
    /// No adjustment: adjusted p = raw p.
    None,
    /// Holm's step-down method: uniformly more powerful than Bonferroni, same guarantee.
    Holm,
    /// Bonferroni: p times the number of tests, capped at 1.
    Bonferroni,
}

/// Adjusts a family of p-values, matching
/// `statsmodels.stats.multitest.multipletests(p, method='holm' | 'bonferroni')[1]`.
/// Output is in input order.
///
/// ```
/// use sooth::stats::posthoc::{Adjust, adjust_p_values};
/// let adjusted = adjust_p_values(&[0.01, 0.04, 0.03], Adjust::Holm).unwrap();
/// assert_eq!(adjusted, vec![0.03, 0.06, 0.06]);
/// ```
///
/// # Errors
/// [`StatsError::OutOfRange`] if a p-value is not within 0..=1 (or is NaN).
pub fn adjust_p_values(p_values: &[f64], adjust: Adjust) -> Result<Vec<f64>, StatsError> {
    if let Some(&bad) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(StatsError::OutOfRange {
            what: "p-value".to_string(),
            value: bad,
            expected: "between 0 and 1",
        });
    }
    let m = p_values.len() as f64;
    Ok(match adjust {
        Adjust::None => p_values.to_vec(),
        Adjust::Bonferroni => p_values.iter().map(|p| (p * m).min(1.0)).collect(),
        Adjust::Holm => {
            let mut order: Vec<usize> = (0..p_values.len()).collect();
            order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
            let mut adjusted = vec![0.0; p_values.len()];
            let mut running_max = 0.0_f64;
            for (rank, &i) in order.iter().enumerate() {
                running_max = running_max.max((m - rank as f64) * p_values[i]);
                adjusted[i] = running_max.min(1.0);
            }
            adjusted
        }
    })
}

/// One Welch t-test between two groups, `first` minus `second`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WelchComparison {
    /// Name of the first group.
    pub first: String,
    /// Name of the second group.
    pub second: String,
    /// mean(first) - mean(second).
    pub mean_difference: f64,
    /// Welch's t statistic. `None` when both groups have zero variance (t is infinite or 0/0).
    pub t: Option<f64>,
    /// Welch-Satterthwaite degrees of freedom; `None` when `t` is.
    pub df: Option<f64>,
    /// Two-sided p-value; `None` when `t` is.
    pub p_value: Option<f64>,
    /// `p_value` adjusted over the family of all comparisons that have a p-value.
    pub p_adjusted: Option<f64>,
    /// Lower end of the [`CONFIDENCE`] interval for the mean difference (not adjusted for
    /// multiplicity); `None` when `t` is.
    pub ci_low: Option<f64>,
    /// Upper end of the interval.
    pub ci_high: Option<f64>,
}

/// Result of [`pairwise_welch`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairwiseWelch {
    /// Adjustment used for `p_adjusted`.
    pub adjust: Adjust,
    /// Confidence level of the intervals ([`CONFIDENCE`]).
    pub confidence: f64,
    /// One entry per unordered pair (i, j), i < j, in the order (0,1), (0,2), ..., (1,2), ...
    pub comparisons: Vec<WelchComparison>,
}

/// Welch's unequal-variance t-test for every pair of groups (`scipy.stats.ttest_ind(x, y,
/// equal_var=False)`), with p-values adjusted by `adjust` over the family of comparisons
/// (`multipletests`), and [`CONFIDENCE`] intervals for the mean differences (SciPy's
/// `TtestResult.confidence_interval`).
///
/// Pairs in which both groups have zero variance get no t, df, p or interval and are left out of
/// the adjustment family (documented on [`WelchComparison`]).
///
/// # Errors
/// [`StatsError::TooFewGroups`] for fewer than 2 groups, [`StatsError::GroupTooSmall`] for a
/// group with fewer than 2 observations, [`StatsError::Empty`] / [`StatsError::NotFinite`] for a
/// bad group.
pub fn pairwise_welch(groups: &[Group], adjust: Adjust) -> Result<PairwiseWelch, StatsError> {
    check_groups(groups, 2, 2)?;
    let moments: Vec<(f64, f64, f64)> = groups
        .iter()
        .map(|g| {
            let n = g.values.len() as f64;
            (n, mean(&g.values), sum_sq_dev(&g.values) / (n - 1.0))
        })
        .collect();
    let t_critical = |df: f64| t_quantile(0.5 + CONFIDENCE / 2.0, df);

    let mut comparisons = Vec::new();
    for i in 0..groups.len() {
        for j in i + 1..groups.len() {
            let ((n1, m1, v1), (n2, m2, v2)) = (moments[i], moments[j]);
            let mean_difference = m1 - m2;
            let (s1, s2) = (v1 / n1, v2 / n2);
            let se2 = s1 + s2;
            check_no_overflow("the t statistic", &[mean_difference, se2])?;
            let mut comparison = WelchComparison {
                first: groups[i].name.clone(),
                second: groups[j].name.clone(),
                mean_difference,
                t: None,
                df: None,
                p_value: None,
                p_adjusted: None,
                ci_low: None,
                ci_high: None,
            };
            if se2 > 0.0 {
                let se = se2.sqrt();
                let t = mean_difference / se;
                // Welch-Satterthwaite, written with the shares s/se2 in [0, 1] so that tiny
                // variances do not underflow to 0/0.
                let (r1, r2) = (s1 / se2, s2 / se2);
                let df = 1.0 / (r1 * r1 / (n1 - 1.0) + r2 * r2 / (n2 - 1.0));
                let half_width = t_critical(df)? * se;
                comparison.t = Some(t);
                comparison.df = Some(df);
                comparison.p_value = Some((2.0 * t_sf(t.abs(), df)?).min(1.0));
                comparison.ci_low = Some(mean_difference - half_width);
                comparison.ci_high = Some(mean_difference + half_width);
            }
            comparisons.push(comparison);
        }
    }

    let tested: Vec<usize> = (0..comparisons.len())
        .filter(|&c| comparisons[c].p_value.is_some())
        .collect();
    let raw: Vec<f64> = tested
        .iter()
        .filter_map(|&c| comparisons[c].p_value)
        .collect();
    let adjusted = adjust_p_values(&raw, adjust)?;
    for (&c, p) in tested.iter().zip(adjusted) {
        comparisons[c].p_adjusted = Some(p);
    }
    Ok(PairwiseWelch {
        adjust,
        confidence: CONFIDENCE,
        comparisons,
    })
}
