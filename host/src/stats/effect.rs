//! Effect size of a one-way design: omega squared ([`omega_squared`]) and its stratified
//! percentile bootstrap ([`bootstrap_omega_squared`], [`percentile_interval`]).
//!
//! Omega squared estimates the share of the response's variance that the grouping explains in
//! the population (Hays): `(SS_between - (k - 1) MS_within) / (SS_total + MS_within)`. Unlike
//! eta squared (`SS_between / SS_total`) it is not biased upwards by the number of groups, so
//! optimizers with different numbers of configurations compare; it can be slightly negative
//! when the groups differ less than chance would make them (reported as is, not clipped).
//!
//! The bootstrap resamples each group with replacement to its own size (the groups are fixed by
//! design, so the resample keeps them: `scipy.stats.bootstrap` with several samples does the
//! same), from a seeded xoshiro256++ generator with integer-exact index draws, so the interval is
//! the same on every platform.

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use sooth_core::sampler::uniform_below;

use super::anova::{OneWayAnova, one_way};
use super::summary::percentile;
use super::{Group, StatsError, mean, sum_sq_dev};

/// Omega squared of the one-way table `anova`, or `None` when it is undefined (every observation
/// equal: no variance to explain).
pub fn omega_squared_of(anova: &OneWayAnova) -> Option<f64> {
    omega(
        anova.between.sum_sq,
        anova.between.df,
        anova.within.sum_sq,
        anova.within.df,
    )
}

/// Omega squared of `groups`: the one-way ANOVA's share of explained variance, corrected for the
/// number of groups; `None` when every observation is equal.
///
/// # Errors
/// As [`one_way`]: fewer than 2 groups, an empty group, a non-finite value, or no residual
/// degrees of freedom (every group of size 1).
pub fn omega_squared(groups: &[Group]) -> Result<Option<f64>, StatsError> {
    Ok(omega_squared_of(&one_way(groups)?))
}

fn omega(ss_between: f64, df_between: usize, ss_within: f64, df_within: usize) -> Option<f64> {
    let ms_within = ss_within / df_within as f64;
    let denominator = ss_between + ss_within + ms_within;
    (denominator > 0.0).then(|| (ss_between - df_between as f64 * ms_within) / denominator)
}

/// Omega squared of groups given as slices (checked by the caller).
fn omega_of_slices(groups: &[Vec<f64>]) -> Option<f64> {
    let n: usize = groups.iter().map(Vec::len).sum();
    let k = groups.len();
    let all: Vec<f64> = groups.iter().flatten().copied().collect();
    let grand = mean(&all);
    let ss_between: f64 = groups
        .iter()
        .map(|g| {
            let d = mean(g) - grand;
            g.len() as f64 * d * d
        })
        .sum();
    let ss_within: f64 = groups.iter().map(|g| sum_sq_dev(g)).sum();
    omega(ss_between, k - 1, ss_within, n - k)
}

/// `resamples` bootstrap replicates of omega squared of `groups`, in draw order: replicate `r`
/// resamples every group (in order) with replacement to its own size from one xoshiro256++
/// generator seeded with `seed`. A replicate is `None` when it is undefined (the resample is
/// constant). Replicates of two independent designs drawn with different seeds pair up by index
/// into replicates of a difference.
///
/// # Errors
/// As [`omega_squared`] for the original groups; [`StatsError::OutOfRange`] for a group of more
/// than `u32::MAX` observations.
pub fn bootstrap_omega_squared(
    groups: &[Group],
    resamples: usize,
    seed: u64,
) -> Result<Vec<Option<f64>>, StatsError> {
    one_way(groups)?;
    if let Some(g) = groups
        .iter()
        .find(|g| u32::try_from(g.values.len()).is_err())
    {
        return Err(StatsError::OutOfRange {
            what: format!("the size of group '{}'", g.name),
            value: g.values.len() as f64,
            expected: "at most 4294967295 observations",
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut resampled: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| Vec::with_capacity(g.values.len()))
        .collect();
    let mut out = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for (target, g) in resampled.iter_mut().zip(groups) {
            target.clear();
            let len = g.values.len() as u32;
            target.extend((0..len).map(|_| g.values[uniform_below(&mut rng, len) as usize]));
        }
        out.push(omega_of_slices(&resampled));
    }
    Ok(out)
}

/// The percentile bootstrap interval at `confidence` (in (0, 1), e.g. 0.95) of the defined
/// `replicates`: their `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles by numpy's
/// linear interpolation (`np.percentile`), as `scipy.stats.bootstrap(..., method='percentile')`.
///
/// # Errors
/// [`StatsError::OutOfRange`] for a confidence outside (0, 1); [`StatsError::Empty`] when no
/// replicate is defined.
pub fn percentile_interval(
    replicates: &[Option<f64>],
    confidence: f64,
) -> Result<(f64, f64), StatsError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::OutOfRange {
            what: "the confidence level".to_string(),
            value: confidence,
            expected: "between 0 and 1 (exclusive)",
        });
    }
    let defined: Vec<f64> = replicates.iter().flatten().copied().collect();
    if defined.is_empty() {
        return Err(StatsError::Empty {
            location: "the defined bootstrap replicates".to_string(),
        });
    }
    let tail = 100.0 * (1.0 - confidence) / 2.0;
    Ok((
        percentile(&defined, tail)?,
        percentile(&defined, 100.0 - tail)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// Four groups of unequal size with a clear effect.
    fn groups() -> Vec<Group> {
        vec![
            Group::new("a", vec![97.1, 96.4, 97.8, 96.9, 97.3]),
            Group::new("b", vec![95.2, 96.0, 94.8, 95.5]),
            Group::new("c", vec![97.6, 98.0, 97.2, 97.9, 97.5, 97.7]),
            Group::new("d", vec![90.1, 93.4, 88.7, 91.9, 92.5]),
        ]
    }

    /// Against statsmodels 0.15.0 / SciPy 1.17.1 (numpy 2.4.6):
    /// ```python
    /// G = {"a": [97.1, 96.4, 97.8, 96.9, 97.3], "b": [95.2, 96.0, 94.8, 95.5],
    ///      "c": [97.6, 98.0, 97.2, 97.9, 97.5, 97.7], "d": [90.1, 93.4, 88.7, 91.9, 92.5]}
    /// df = pd.DataFrame([(g, v) for g, vs in G.items() for v in vs], columns=["g", "y"])
    /// t = anova_lm(ols("y ~ C(g)", df).fit(), typ=2)
    /// ssb, ssw = t.loc["C(g)", "sum_sq"], t.loc["Residual", "sum_sq"]
    /// msw = ssw / t.loc["Residual", "df"]
    /// (ssb - t.loc["C(g)", "df"] * msw) / (ssb + ssw + msw)  # 0.8570901641718622
    /// H = {"x": [1.0, 2.0, 3.0], "y": [2.0, 3.0, 1.0], "z": [3.0, 1.0, 2.5]}  # -0.2758620689655173
    /// ```
    #[test]
    fn omega_squared_matches_statsmodels() {
        let w = omega_squared(&groups()).unwrap().unwrap();
        assert!(close(w, 0.857_090_164_171_862_2, 1e-12), "{w}");
        let null = [
            Group::new("x", vec![1.0, 2.0, 3.0]),
            Group::new("y", vec![2.0, 3.0, 1.0]),
            Group::new("z", vec![3.0, 1.0, 2.5]),
        ];
        let w = omega_squared(&null).unwrap().unwrap();
        assert!(close(w, -0.275_862_068_965_517_3, 1e-12), "{w}");
    }

    #[test]
    fn omega_squared_is_undefined_without_variance_and_one_without_noise() {
        let constant = [Group::new("x", vec![2.0, 2.0]), Group::new("y", vec![2.0])];
        assert_eq!(omega_squared(&constant).unwrap(), None);
        let separated = [Group::new("x", vec![1.0, 1.0]), Group::new("y", vec![3.0])];
        assert_eq!(omega_squared(&separated).unwrap(), Some(1.0));
        assert!(omega_squared(&[Group::new("x", vec![1.0, 2.0])]).is_err());
    }

    /// The interval against SciPy's percentile bootstrap, which resamples each group on its own
    /// as this one does (its generator differs, so they agree to Monte Carlo error, here about
    /// 0.003 with 20000 resamples each):
    /// ```python
    /// res = stats.bootstrap(tuple(np.array(v) for v in G.values()), omega, n_resamples=20000,
    ///     method="percentile", confidence_level=0.95, vectorized=False,
    ///     rng=np.random.default_rng(12345))
    /// # (0.7983388463459565, 0.9637358999029332)
    /// ```
    /// where `omega(*samples)` is the formula above. Eta squared in its place would move the
    /// lower end by 0.04 (SciPy's interval for it: 0.837 to 0.971), so the test can tell.
    #[test]
    fn the_bootstrap_interval_matches_scipy_to_monte_carlo_error() {
        let replicates = bootstrap_omega_squared(&groups(), 20_000, 2026).unwrap();
        assert_eq!(replicates.len(), 20_000);
        assert!(replicates.iter().all(Option::is_some));
        let (lo, hi) = percentile_interval(&replicates, 0.95).unwrap();
        assert!((lo - 0.798_338_846_345_956_5).abs() < 0.01, "{lo}");
        assert!((hi - 0.963_735_899_902_933_2).abs() < 0.01, "{hi}");
    }

    /// Same seed, same replicates (bit for bit); another seed, others.
    #[test]
    fn the_bootstrap_is_seeded() {
        let a = bootstrap_omega_squared(&groups(), 50, 7).unwrap();
        let b = bootstrap_omega_squared(&groups(), 50, 7).unwrap();
        let c = bootstrap_omega_squared(&groups(), 50, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// numpy: `np.percentile([0.3, -0.1, 0.25, 0.5, 0.12, 0.4, 0.05, 0.33], [2.5, 97.5])` is
    /// (-0.07375, 0.4825); undefined replicates are left out.
    #[test]
    fn the_percentile_interval_is_numpys() {
        let reps = [0.3, -0.1, 0.25, 0.5, 0.12, 0.4, 0.05, 0.33];
        let mut with_none: Vec<Option<f64>> = reps.iter().copied().map(Some).collect();
        with_none.insert(3, None);
        let (lo, hi) = percentile_interval(&with_none, 0.95).unwrap();
        assert!(close(lo, -0.07375, 1e-12) && close(hi, 0.482_500_000_000_000_04, 1e-12));
        assert!(percentile_interval(&[None], 0.95).is_err());
        assert!(percentile_interval(&with_none, 1.0).is_err());
    }
}
