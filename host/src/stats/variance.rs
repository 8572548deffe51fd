//! Tests of homogeneity of variances across groups: Levene and Brown-Forsythe.
//!
//! Both run a one-way ANOVA on the absolute deviations `|y_ij - c_i|` of each observation from
//! its group's centre `c_i`: the mean for Levene, the median for Brown-Forsythe (which is robust
//! to skewed data). They match `scipy.stats.levene(*groups, center='mean' | 'median')`.

use serde::Serialize;

use super::{
    Group, StatsError, check_groups, check_no_overflow, f_sf, mean, percentile, sum_sq_dev,
};

/// Centre from which absolute deviations are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Center {
    /// Group mean (Levene's original test).
    Mean,
    /// Group median (Brown-Forsythe).
    Median,
}

/// Result of [`levene`] or [`brown_forsythe`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HomogeneityTest {
    /// Centre used.
    pub center: Center,
    /// The W statistic (an F ratio on absolute deviations). `None` when the absolute deviations
    /// have no spread within any group (e.g. every group has two observations, or every group is
    /// constant): W is then infinite or 0/0 and the test says nothing. "No spread" allows for
    /// rounding: within-group sum of squares of the deviations at most
    /// `N * (64 * f64::EPSILON * max|y|)^2`.
    pub statistic: Option<f64>,
    /// Numerator degrees of freedom, k - 1.
    pub df_between: usize,
    /// Denominator degrees of freedom, N - k.
    pub df_within: usize,
    /// Upper-tail p-value of W under F(k - 1, N - k); `None` whenever `statistic` is. A small
    /// p-value is evidence that the group variances differ.
    pub p_value: Option<f64>,
}

/// Levene's test (mean-centred) that all groups have equal variance.
///
/// # Errors
/// [`StatsError::TooFewGroups`] for fewer than 2 groups, [`StatsError::Empty`] or
/// [`StatsError::NotFinite`] for a bad group, [`StatsError::NoResidualDf`] when N <= k.
pub fn levene(groups: &[Group]) -> Result<HomogeneityTest, StatsError> {
    homogeneity(groups, Center::Mean)
}

/// Brown-Forsythe test (Levene's test centred at the group medians).
///
/// # Errors
/// As [`levene`].
pub fn brown_forsythe(groups: &[Group]) -> Result<HomogeneityTest, StatsError> {
    homogeneity(groups, Center::Median)
}

fn homogeneity(groups: &[Group], center: Center) -> Result<HomogeneityTest, StatsError> {
    check_groups(groups, 2, 1)?;
    let k = groups.len();
    let n: usize = groups.iter().map(|g| g.values.len()).sum();
    if n <= k {
        return Err(StatsError::NoResidualDf {
            observations: n,
            parameters: k,
        });
    }
    let (df_between, df_within) = (k - 1, n - k);

    let mut deviations = Vec::with_capacity(k);
    for group in groups {
        let c = match center {
            Center::Mean => mean(&group.values),
            Center::Median => percentile(&group.values, 50.0)?,
        };
        deviations.push(
            group
                .values
                .iter()
                .map(|y| (y - c).abs())
                .collect::<Vec<f64>>(),
        );
    }
    let all: Vec<f64> = deviations.iter().flatten().copied().collect();
    let grand = mean(&all);
    let between: f64 = deviations
        .iter()
        .map(|d| {
            let e = mean(d) - grand;
            d.len() as f64 * e * e
        })
        .sum();
    let within: f64 = deviations.iter().map(|d| sum_sq_dev(d)).sum();
    check_no_overflow("the sums of squared deviations", &[between, within])?;

    let scale = groups
        .iter()
        .flat_map(|g| g.values.iter())
        .fold(0.0_f64, |m, y| m.max(y.abs()));
    let rounding = 64.0 * f64::EPSILON * scale;
    if within <= n as f64 * rounding * rounding {
        return Ok(HomogeneityTest {
            center,
            statistic: None,
            df_between,
            df_within,
            p_value: None,
        });
    }
    let w = (between / df_between as f64) / (within / df_within as f64);
    Ok(HomogeneityTest {
        center,
        statistic: Some(w),
        df_between,
        df_within,
        p_value: Some(f_sf(w, df_between as f64, df_within as f64)?),
    })
}
