//! The statistics engine of `sooth report`: plain tables of numbers in, plain result structs out.
//!
//! Nothing here knows about training; the report turns sweep results into [`Group`]s (one per
//! optimizer x batch-size cell, say) or a [`anova::TwoFactor`] table and calls:
//!
//! - [`Summary::of`]: n, mean, sd, variance, min, 5th percentile, median, max;
//! - [`anova::two_way`]: two-factor ANOVA with interaction, Type II or Type III sums of squares,
//!   optionally on ln of the response ([`Transform::Ln`]); [`anova::one_way`]: one-way F test;
//! - [`variance::levene`] and [`variance::brown_forsythe`]: homogeneity of variances;
//! - [`posthoc::pairwise_welch`]: Welch t-tests for every pair of groups with Holm or Bonferroni
//!   adjusted p-values ([`posthoc::adjust_p_values`]);
//! - [`nonparametric::kruskal_wallis`]: Kruskal-Wallis H test with tie correction;
//! - [`equivalence::welch_tost`]: Welch's two one-sided tests of equivalence within a margin;
//! - [`paired::paired_t`] and [`paired::friedman`]: tests for samples paired by block (seed).
//! - [`effect::omega_squared`]: a one-way design's effect size, with a seeded stratified
//!   bootstrap ([`effect::bootstrap_omega_squared`], [`effect::percentile_interval`]).
//!
//! Each statistic is tested against SciPy / statsmodels on fixed tables (see `reference.py` next
//! to this file, which regenerates the reference numbers). Distributions (F, t, chi-squared) come
//! from `statrs`; least squares for the ANOVA from `nalgebra`'s QR decomposition.
//!
//! Errors: input that makes a statistic meaningless (too few groups or levels, an empty cell, NaN)
//! is a [`StatsError`]; data that is valid but degenerate (zero variance everywhere) gives `None`
//! for the undefined numbers, as each result type documents. Nothing here panics on input.

pub mod anova;
pub mod effect;
pub mod equivalence;
mod error;
pub mod nonparametric;
pub mod paired;
pub mod posthoc;
mod summary;
pub mod variance;

#[cfg(test)]
mod tests;

pub use error::StatsError;
pub use summary::{Summary, percentile};

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, StudentsT};

/// A named sample, e.g. the peak accuracies of all runs in one optimizer x batch-size cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Name shown in results and error messages.
    pub name: String,
    /// The observations, in any order.
    pub values: Vec<f64>,
}

impl Group {
    /// A group named `name` holding `values`.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
}

/// Transform applied to the response before a model is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// Analyse the values as they are.
    Identity,
    /// Analyse the natural logarithm of the values (all values must be above 0), as the study
    /// analysed ln(peak accuracy): effects become ratios rather than differences.
    Ln,
}

impl Transform {
    /// Applies the transform to `values`; `location` names them in errors.
    ///
    /// # Errors
    /// [`StatsError::NotFinite`] for NaN or infinite input, [`StatsError::NotPositiveUnderLn`]
    /// for a value `<= 0` under [`Transform::Ln`].
    pub fn apply(self, location: &str, values: &[f64]) -> Result<Vec<f64>, StatsError> {
        check_finite(location, values)?;
        match self {
            Self::Identity => Ok(values.to_vec()),
            Self::Ln => values
                .iter()
                .enumerate()
                .map(|(index, &value)| {
                    if value > 0.0 {
                        Ok(value.ln())
                    } else {
                        Err(StatsError::NotPositiveUnderLn {
                            location: location.to_string(),
                            index,
                            value,
                        })
                    }
                })
                .collect(),
        }
    }
}

/// `Err(NotFinite)` at the first NaN or infinite value.
fn check_finite(location: &str, values: &[f64]) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(StatsError::NotFinite {
            location: location.to_string(),
            index,
            value: values[index],
        }),
    }
}

/// How groups are named in error messages.
fn group_location(name: &str) -> String {
    format!("group '{name}'")
}

/// Checks what every group comparison needs: at least `min_groups` groups, each with at least
/// `min_size` finite observations.
fn check_groups(groups: &[Group], min_groups: usize, min_size: usize) -> Result<(), StatsError> {
    if groups.len() < min_groups {
        return Err(StatsError::TooFewGroups {
            found: groups.len(),
            needed: min_groups,
        });
    }
    for group in groups {
        let location = group_location(&group.name);
        if group.values.is_empty() {
            return Err(StatsError::Empty { location });
        }
        check_finite(&location, &group.values)?;
        if group.values.len() < min_size {
            return Err(StatsError::GroupTooSmall {
                group: group.name.clone(),
                n: group.values.len(),
                needed: min_size,
            });
        }
    }
    Ok(())
}

/// Arithmetic mean of a non-empty slice; exactly the common value of a constant slice (a plain
/// sum would give 0.10000000000000002 for three times 0.1).
fn mean(values: &[f64]) -> f64 {
    match values.first() {
        Some(&first) if values.iter().all(|&v| v == first) => first,
        _ => values.iter().sum::<f64>() / values.len() as f64,
    }
}

/// Sum of squared deviations from the mean (two-pass). Exactly 0 when all values are equal, so
/// that "no spread" is recognisable rather than a rounding residue like 1e-34.
fn sum_sq_dev(values: &[f64]) -> f64 {
    let Some(&first) = values.first() else {
        return 0.0;
    };
    if values.iter().all(|&v| v == first) {
        return 0.0;
    }
    let m = mean(values);
    values.iter().map(|&v| (v - m) * (v - m)).sum()
}

/// `Err(Overflow)` unless every value is finite.
fn check_no_overflow(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(StatsError::Overflow { what })
    }
}

/// Upper tail P(F > x) of the F distribution with (`d1`, `d2`) degrees of freedom. NaN is an
/// overflow error (statrs would panic on it); so large an `x` that `d1 * x` overflows has tail 0.
fn f_sf(x: f64, d1: f64, d2: f64) -> Result<f64, StatsError> {
    if x.is_nan() {
        return Err(StatsError::Overflow {
            what: "the F statistic",
        });
    }
    if (d1 * x).is_infinite() {
        return Ok(0.0);
    }
    let dist = FisherSnedecor::new(d1, d2).map_err(|e| StatsError::Distribution(e.to_string()))?;
    Ok(dist.sf(x))
}

/// Upper tail P(T > x) of Student's t with `df` degrees of freedom.
fn t_sf(x: f64, df: f64) -> Result<f64, StatsError> {
    if x.is_nan() || df.is_nan() {
        return Err(StatsError::Overflow {
            what: "the t statistic",
        });
    }
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|e| StatsError::Distribution(e.to_string()))?;
    Ok(dist.sf(x))
}

/// Quantile of Student's t with `df` degrees of freedom; `p` must lie in (0, 1).
fn t_quantile(p: f64, df: f64) -> Result<f64, StatsError> {
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|e| StatsError::Distribution(e.to_string()))?;
    Ok(dist.inverse_cdf(p))
}

/// Upper tail P(X > x) of chi-squared with `df` degrees of freedom.
fn chi2_sf(x: f64, df: f64) -> Result<f64, StatsError> {
    if x.is_nan() {
        return Err(StatsError::Overflow {
            what: "the H statistic",
        });
    }
    let dist = ChiSquared::new(df).map_err(|e| StatsError::Distribution(e.to_string()))?;
    Ok(dist.sf(x))
}
