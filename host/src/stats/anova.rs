//! Analysis of variance: two factors with interaction ([`two_way`]) and one-way ([`one_way`]).
//!
//! The two-factor model is `y ~ A * B` (main effects and interaction) fitted by least squares.
//! Because the interaction model is saturated in the cells, its fit is the cell means; every
//! sum of squares is the weighted distance between the fitted cell means of two nested models,
//! computed from a QR decomposition (`nalgebra`) on the cell table with weights = cell counts.
//! Cells may hold different numbers of observations (unbalanced designs), but none may be empty.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::{
    Group, StatsError, Transform, check_groups, check_no_overflow, f_sf, mean, sum_sq_dev,
};

/// A factor of a factorial design: its name and its levels, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Factor {
    /// Name, e.g. `optimizer`.
    pub name: String,
    /// Level names, e.g. `["adam", "lbfgs", "sgd"]`.
    pub levels: Vec<String>,
}

impl Factor {
    /// A factor called `name` with the given levels.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        levels: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            name: name.into(),
            levels: levels.into_iter().map(Into::into).collect(),
        }
    }

    fn index_of(&self, level: &str) -> Result<usize, StatsError> {
        self.levels
            .iter()
            .position(|l| l == level)
            .ok_or_else(|| StatsError::UnknownLevel {
                factor: self.name.clone(),
                level: level.to_string(),
            })
    }
}

/// Observations of a two-factor (A x B) design, grouped by cell.
///
/// ```
/// use sooth::stats::anova::{Factor, TwoFactor};
/// let mut table = TwoFactor::new(
///     Factor::new("optimizer", ["lbfgs", "sgd"]),
///     Factor::new("batch", ["64", "1024"]),
/// ).unwrap();
/// table.push("lbfgs", "64", 0.95).unwrap();
/// assert_eq!(table.cell(0, 0), &[0.95]);
/// assert!(table.push("adam", "64", 0.9).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoFactor {
    a: Factor,
    b: Factor,
    /// Row-major: cell (i, j) at `i * b.levels.len() + j`.
    cells: Vec<Vec<f64>>,
}

impl TwoFactor {
    /// An empty table for factors `a` and `b`.
    ///
    /// # Errors
    /// [`StatsError::DuplicateLevel`] if a factor lists a level twice. (Fewer than two levels
    /// is allowed here and reported by the analyses that need two.)
    pub fn new(a: Factor, b: Factor) -> Result<Self, StatsError> {
        for factor in [&a, &b] {
            for (i, level) in factor.levels.iter().enumerate() {
                if factor.levels[..i].contains(level) {
                    return Err(StatsError::DuplicateLevel {
                        factor: factor.name.clone(),
                        level: level.clone(),
                    });
                }
            }
        }
        let cells = vec![Vec::new(); a.levels.len() * b.levels.len()];
        Ok(Self { a, b, cells })
    }

    /// Adds observation `y` to the cell (`a_level`, `b_level`).
    ///
    /// # Errors
    /// [`StatsError::UnknownLevel`] if a level is not one of its factor's levels. Values are not
    /// checked here; the analyses reject non-finite ones with the cell named.
    pub fn push(&mut self, a_level: &str, b_level: &str, y: f64) -> Result<(), StatsError> {
        let i = self.a.index_of(a_level)?;
        let j = self.b.index_of(b_level)?;
        let index = self.cell_index(i, j);
        self.cells[index].push(y);
        Ok(())
    }

    /// Factor A.
    pub fn factor_a(&self) -> &Factor {
        &self.a
    }

    /// Factor B.
    pub fn factor_b(&self) -> &Factor {
        &self.b
    }

    /// Observations of cell (level `i` of A, level `j` of B).
    ///
    /// # Panics
    /// If `i` or `j` is not a level index of its factor.
    pub fn cell(&self, i: usize, j: usize) -> &[f64] {
        assert!(i < self.a.levels.len() && j < self.b.levels.len());
        &self.cells[self.cell_index(i, j)]
    }

    /// Total number of observations.
    pub fn len(&self) -> usize {
        self.cells.iter().map(Vec::len).sum()
    }

    /// True when no observation has been added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells as groups named `a_level:b_level` (A-major order), e.g. for Levene's test or
    /// pairwise comparisons of cells.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups = Vec::with_capacity(self.cells.len());
        for (i, la) in self.a.levels.iter().enumerate() {
            for (j, lb) in self.b.levels.iter().enumerate() {
                groups.push(Group::new(
                    format!("{la}:{lb}"),
                    self.cells[self.cell_index(i, j)].clone(),
                ));
            }
        }
        groups
    }

    fn cell_index(&self, i: usize, j: usize) -> usize {
        i * self.b.levels.len() + j
    }

    fn cell_location(&self, i: usize, j: usize) -> String {
        format!(
            "cell ({} = {}, {} = {})",
            self.a.name, self.a.levels[i], self.b.name, self.b.levels[j]
        )
    }
}

/// Which sums of squares [`two_way`] computes. They coincide for balanced designs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SsType {
    /// Each main effect adjusted for the other main effect, but not for the interaction
    /// (hierarchical; `SS(A | B)`, `SS(B | A)`, `SS(AB | A, B)`). Matches statsmodels
    /// `anova_lm(ols('y ~ C(a) * C(b)', df).fit(), typ=2)`.
    II,
    /// Each term adjusted for all others, with sum-to-zero (effect) coding of both factors.
    /// Matches statsmodels `anova_lm(ols('y ~ C(a, Sum) * C(b, Sum)', df).fit(), typ=3)`.
    /// (Type III with statsmodels' default treatment coding tests different, rarely meaningful
    /// hypotheses; this is not that.)
    III,
}

/// One line of an ANOVA table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnovaRow {
    /// Term label: a factor name, `A:B` for the interaction, or `Residual`.
    pub term: String,
    /// Degrees of freedom.
    pub df: usize,
    /// Sum of squares.
    pub sum_sq: f64,
    /// Mean square, `sum_sq / df`.
    pub mean_sq: f64,
    /// F statistic, the term's mean square over the residual mean square. `None` for the
    /// residual row, and for every row when the residual sum of squares is exactly 0 (all
    /// observations within each cell or group identical): the F ratio is then undefined or
    /// infinite, and the data say nothing about noise.
    pub f: Option<f64>,
    /// Upper-tail p-value of `f` under the F distribution; `None` whenever `f` is.
    pub p_value: Option<f64>,
}

/// Result of [`two_way`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnovaTable {
    /// Sums of squares used.
    pub ss_type: SsType,
    /// Transform applied to the response before fitting.
    pub transform: Transform,
    /// Total number of observations.
    pub n_observations: usize,
    /// Main effect of factor A (term = A's name).
    pub a: AnovaRow,
    /// Main effect of factor B (term = B's name).
    pub b: AnovaRow,
    /// Interaction (term = `A:B` with the factor names).
    pub interaction: AnovaRow,
    /// Residual (within-cell) variation; `f` and `p_value` are `None`.
    pub residual: AnovaRow,
}

impl AnovaTable {
    /// The rows in the usual order: A, B, A:B, Residual.
    pub fn rows(&self) -> [&AnovaRow; 4] {
        [&self.a, &self.b, &self.interaction, &self.residual]
    }
}

/// Two-factor ANOVA with interaction on `table`, after `transform` of the response.
///
/// Sums of squares per `ss_type`; F = term mean square / residual mean square with
/// residual df = N - (levels of A) x (levels of B). See [`AnovaRow::f`] for zero residual
/// variance.
///
/// # Errors
/// - [`StatsError::TooFewLevels`]: a factor has fewer than 2 levels;
/// - [`StatsError::EmptyCell`]: a cell has no observations (names the first such cell);
/// - [`StatsError::NotFinite`] / [`StatsError::NotPositiveUnderLn`]: bad values (names the cell);
/// - [`StatsError::NoResidualDf`]: every cell has exactly one observation.
pub fn two_way(
    table: &TwoFactor,
    ss_type: SsType,
    transform: Transform,
) -> Result<AnovaTable, StatsError> {
    let (na, nb) = (table.a.levels.len(), table.b.levels.len());
    for factor in [&table.a, &table.b] {
        if factor.levels.len() < 2 {
            return Err(StatsError::TooFewLevels {
                factor: factor.name.clone(),
                levels: factor.levels.len(),
            });
        }
    }
    let mut cells = Vec::with_capacity(na * nb);
    for i in 0..na {
        for j in 0..nb {
            let raw = table.cell(i, j);
            if raw.is_empty() {
                return Err(StatsError::EmptyCell {
                    factor_a: table.a.name.clone(),
                    level_a: table.a.levels[i].clone(),
                    factor_b: table.b.name.clone(),
                    level_b: table.b.levels[j].clone(),
                });
            }
            cells.push(transform.apply(&table.cell_location(i, j), raw)?);
        }
    }
    let n_observations: usize = cells.iter().map(Vec::len).sum();
    let df_residual = residual_df(n_observations, na * nb)?;
    let ss_residual: f64 = cells.iter().map(|c| sum_sq_dev(c)).sum();

    let cell_fit = CellFit::new(&cells, na, nb);
    check_no_overflow("the cell means", cell_fit.z.as_slice())?;
    let (ss_a, ss_b, ss_ab) = match ss_type {
        SsType::II => {
            let main = cell_fit.fitted(Terms::MAIN);
            (
                cell_fit.distance(&main, &cell_fit.fitted(Terms::B)),
                cell_fit.distance(&main, &cell_fit.fitted(Terms::A)),
                cell_fit.distance_to_cell_means(&main),
            )
        }
        SsType::III => (
            cell_fit.distance_to_cell_means(&cell_fit.fitted(Terms::ALL_BUT_A)),
            cell_fit.distance_to_cell_means(&cell_fit.fitted(Terms::ALL_BUT_B)),
            cell_fit.distance_to_cell_means(&cell_fit.fitted(Terms::MAIN)),
        ),
    };

    check_no_overflow("the sums of squares", &[ss_a, ss_b, ss_ab, ss_residual])?;
    let residual_ms = ss_residual / df_residual as f64;
    let row = |term: String, df: usize, sum_sq: f64| {
        effect_row(term, df, sum_sq, residual_ms, df_residual)
    };
    Ok(AnovaTable {
        ss_type,
        transform,
        n_observations,
        a: row(table.a.name.clone(), na - 1, ss_a)?,
        b: row(table.b.name.clone(), nb - 1, ss_b)?,
        interaction: row(
            format!("{}:{}", table.a.name, table.b.name),
            (na - 1) * (nb - 1),
            ss_ab,
        )?,
        residual: residual_row(df_residual, ss_residual),
    })
}

/// Result of [`one_way`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OneWayAnova {
    /// Between-groups row (term `Between`) with the F test.
    pub between: AnovaRow,
    /// Within-groups row (term `Residual`); `f` and `p_value` are `None`.
    pub within: AnovaRow,
}

/// One-way ANOVA F test that all group means are equal, as `scipy.stats.f_oneway`.
///
/// When every group is constant (within sum of squares exactly 0), `f` and `p_value` are `None`
/// (SciPy returns inf or NaN there).
///
/// # Errors
/// [`StatsError::TooFewGroups`] for fewer than 2 groups, [`StatsError::Empty`] /
/// [`StatsError::NotFinite`] for a bad group, [`StatsError::NoResidualDf`] when every group has
/// exactly one observation.
pub fn one_way(groups: &[Group]) -> Result<OneWayAnova, StatsError> {
    check_groups(groups, 2, 1)?;
    let k = groups.len();
    let n: usize = groups.iter().map(|g| g.values.len()).sum();
    let df_within = residual_df(n, k)?;
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .collect();
    let grand = mean(&all);
    let ss_between: f64 = groups
        .iter()
        .map(|g| {
            let d = mean(&g.values) - grand;
            g.values.len() as f64 * d * d
        })
        .sum();
    let ss_within: f64 = groups.iter().map(|g| sum_sq_dev(&g.values)).sum();
    check_no_overflow("the sums of squares", &[ss_between, ss_within])?;
    Ok(OneWayAnova {
        between: effect_row(
            "Between".to_string(),
            k - 1,
            ss_between,
            ss_within / df_within as f64,
            df_within,
        )?,
        within: residual_row(df_within, ss_within),
    })
}

/// Residual degrees of freedom `n - parameters`, or the error when none are left.
fn residual_df(observations: usize, parameters: usize) -> Result<usize, StatsError> {
    match observations.checked_sub(parameters) {
        Some(df) if df > 0 => Ok(df),
        _ => Err(StatsError::NoResidualDf {
            observations,
            parameters,
        }),
    }
}

fn effect_row(
    term: String,
    df: usize,
    sum_sq: f64,
    residual_ms: f64,
    df_residual: usize,
) -> Result<AnovaRow, StatsError> {
    let mean_sq = sum_sq / df as f64;
    let (f, p_value) = if residual_ms > 0.0 {
        let f = mean_sq / residual_ms;
        (Some(f), Some(f_sf(f, df as f64, df_residual as f64)?))
    } else {
        (None, None)
    };
    Ok(AnovaRow {
        term,
        df,
        sum_sq,
        mean_sq,
        f,
        p_value,
    })
}

fn residual_row(df: usize, sum_sq: f64) -> AnovaRow {
    AnovaRow {
        term: "Residual".to_string(),
        df,
        sum_sq,
        mean_sq: sum_sq / df as f64,
        f: None,
        p_value: None,
    }
}

/// Which effect-coded terms a model on the cell table contains (the intercept always).
#[derive(Debug, Clone, Copy)]
struct Terms {
    a: bool,
    b: bool,
    ab: bool,
}

impl Terms {
    const A: Self = Self {
        a: true,
        b: false,
        ab: false,
    };
    const B: Self = Self {
        a: false,
        b: true,
        ab: false,
    };
    const MAIN: Self = Self {
        a: true,
        b: true,
        ab: false,
    };
    const ALL_BUT_A: Self = Self {
        a: false,
        b: true,
        ab: true,
    };
    const ALL_BUT_B: Self = Self {
        a: true,
        b: false,
        ab: true,
    };
}

/// Weighted least squares on the table of cell means.
///
/// Any model whose columns are functions of the cell fits the raw observations exactly as it
/// fits the cell means weighted by the cell counts (the within-cell deviations are orthogonal
/// to it). Working in the scaled space `z = sqrt(n_ij) * (mean_ij - grand mean)`, the fitted
/// values of a model are the projection of `z` onto its scaled columns, and the sum of squares
/// between two nested models is the squared distance between their projections. The saturated
/// model (all terms) reproduces `z`.
struct CellFit {
    na: usize,
    nb: usize,
    sqrt_weights: Vec<f64>,
    z: DVector<f64>,
}

impl CellFit {
    fn new(cells: &[Vec<f64>], na: usize, nb: usize) -> Self {
        let n: usize = cells.iter().map(Vec::len).sum();
        let grand = cells.iter().flatten().sum::<f64>() / n as f64;
        let sqrt_weights: Vec<f64> = cells.iter().map(|c| (c.len() as f64).sqrt()).collect();
        let z = DVector::from_iterator(
            cells.len(),
            cells
                .iter()
                .zip(&sqrt_weights)
                .map(|(c, w)| w * (mean(c) - grand)),
        );
        Self {
            na,
            nb,
            sqrt_weights,
            z,
        }
    }

    /// Projection of `z` onto the scaled columns of the model with `terms` and an intercept.
    fn fitted(&self, terms: Terms) -> DVector<f64> {
        let x = self.design(terms);
        let q = x.qr().q();
        &q * (q.transpose() * &self.z)
    }

    fn distance(&self, u: &DVector<f64>, v: &DVector<f64>) -> f64 {
        (u - v).norm_squared()
    }

    fn distance_to_cell_means(&self, fitted: &DVector<f64>) -> f64 {
        self.distance(&self.z, fitted)
    }

    /// Scaled design matrix: one row per cell (A-major), sum-to-zero coding of each factor
    /// (level k < last: indicator of k; last level: -1 in every column), interaction columns as
    /// products of the main-effect columns.
    fn design(&self, terms: Terms) -> DMatrix<f64> {
        let (na, nb) = (self.na, self.nb);
        let columns = 1
            + usize::from(terms.a) * (na - 1)
            + usize::from(terms.b) * (nb - 1)
            + usize::from(terms.ab) * (na - 1) * (nb - 1);
        let mut x = DMatrix::zeros(na * nb, columns);
        for i in 0..na {
            for j in 0..nb {
                let row = i * nb + j;
                let w = self.sqrt_weights[row];
                let code_a = |k: usize| sum_code(i, k, na);
                let code_b = |l: usize| sum_code(j, l, nb);
                let mut col = 0;
                x[(row, col)] = w;
                col += 1;
                if terms.a {
                    for k in 0..na - 1 {
                        x[(row, col)] = w * code_a(k);
                        col += 1;
                    }
                }
                if terms.b {
                    for l in 0..nb - 1 {
                        x[(row, col)] = w * code_b(l);
                        col += 1;
                    }
                }
                if terms.ab {
                    for k in 0..na - 1 {
                        for l in 0..nb - 1 {
                            x[(row, col)] = w * code_a(k) * code_b(l);
                            col += 1;
                        }
                    }
                }
            }
        }
        x
    }
}

/// Sum-to-zero contrast: value of column `column` for level `level` of a factor with `levels`.
fn sum_code(level: usize, column: usize, levels: usize) -> f64 {
    if level == levels - 1 {
        -1.0
    } else if level == column {
        1.0
    } else {
        0.0
    }
}
