//! Descriptive summary of one sample.

use serde::Serialize;

use super::{StatsError, check_finite, check_no_overflow, mean, sum_sq_dev};

/// Descriptive statistics of one sample.
///
/// Percentiles (`p5`, `median`) use linear interpolation between order statistics, numpy's
/// default (`np.percentile(x, q)`, `method='linear'`): with the sorted sample `x[0..n]`, the
/// q-th percentile sits at position `h = (n - 1) q / 100`, between `x[floor(h)]` and the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of observations.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (ddof 1); `None` for a single observation.
    pub sd: Option<f64>,
    /// Sample variance (ddof 1); `None` for a single observation.
    pub variance: Option<f64>,
    /// Smallest observation.
    pub min: f64,
    /// 5th percentile (linear interpolation, as numpy).
    pub p5: f64,
    /// Median (50th percentile).
    pub median: f64,
    /// Largest observation.
    pub max: f64,
}

impl Summary {
    /// Summarises `values` (any order).
    ///
    /// # Errors
    /// [`StatsError::Empty`] for an empty slice, [`StatsError::NotFinite`] for NaN or infinity.
    ///
    /// ```
    /// let s = sooth::stats::Summary::of(&[3.0, 1.0, 2.0]).unwrap();
    /// assert_eq!((s.n, s.mean, s.median, s.sd), (3, 2.0, 2.0, Some(1.0)));
    /// ```
    pub fn of(values: &[f64]) -> Result<Self, StatsError> {
        let sorted = sorted_checked("the sample", values)?;
        let n = sorted.len();
        let variance = (n >= 2).then(|| sum_sq_dev(values) / (n - 1) as f64);
        let mean = mean(values);
        check_no_overflow("the mean and variance", &[mean, variance.unwrap_or(0.0)])?;
        Ok(Self {
            n,
            mean,
            sd: variance.map(f64::sqrt),
            variance,
            min: sorted[0],
            p5: percentile_of_sorted(&sorted, 5.0),
            median: percentile_of_sorted(&sorted, 50.0),
            max: sorted[n - 1],
        })
    }
}

/// The `q`-th percentile (`q` in 0..=100) of `values`, by linear interpolation between order
/// statistics exactly like numpy's default `np.percentile(values, q)` (`method='linear'`).
///
/// # Errors
/// [`StatsError::Empty`], [`StatsError::NotFinite`], and [`StatsError::OutOfRange`] when `q` is
/// not within 0..=100.
pub fn percentile(values: &[f64], q: f64) -> Result<f64, StatsError> {
    if !(0.0..=100.0).contains(&q) {
        return Err(StatsError::OutOfRange {
            what: "percentile".to_string(),
            value: q,
            expected: "between 0 and 100",
        });
    }
    let sorted = sorted_checked("the sample", values)?;
    Ok(percentile_of_sorted(&sorted, q))
}

/// Validated, ascending copy of `values`.
fn sorted_checked(location: &str, values: &[f64]) -> Result<Vec<f64>, StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty {
            location: location.to_string(),
        });
    }
    check_finite(location, values)?;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted)
}

/// numpy's `method='linear'` on a non-empty ascending slice, `q` in 0..=100. Uses numpy's
/// two-sided lerp (interpolating from the nearer end) so results agree to the last bits.
fn percentile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * (q / 100.0);
    let below = h.floor();
    let lo = below as usize;
    let t = h - below;
    let a = sorted[lo];
    let Some(&b) = sorted.get(lo + 1) else {
        return a;
    };
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}
