//! The report's numbers as types: cells, tests, comparisons and
//! recommendations ([`Analysis`]), and the [`Options`] that shape them.
//! Filled in by [`super::analysis::analyze`]; nothing here formats or draws.
//!
//! Conventions:
//! - accuracies are analysed in **percent** (the runs file holds fractions);
//!   variances are then in percent squared, as the study reports them;
//! - a *cell* is an (optimizer, batch size) pair and pools all of the
//!   optimizer's hyperparameter configurations and seeds, as the study did;
//! - only runs with status `ok` enter the statistics; runs at or near chance
//!   ([`ChanceRule`]) stay in (they are what an optimizer did), but are
//!   counted and listed;
//! - every test uses only cells with at least 2 ok runs ([`MIN_RUNS`]).

use crate::run::BatchSize;
use crate::stats::anova::{AnovaTable, OneWayAnova, SsType};
use crate::stats::nonparametric::KruskalWallis;
use crate::stats::variance::HomogeneityTest;
use crate::stats::{StatsError, Summary, Transform};
use serde::Serialize;

/// Fewest ok runs a cell needs to take part in the tests (a variance needs 2).
pub const MIN_RUNS: usize = 2;

/// The optimizers the claims call first-order (compared with L-BFGS in
/// claim (c)).
pub const FIRST_ORDER: [&str; 2] = ["sgd", "adam"];

/// The optimizer the claims call second-order.
pub const SECOND_ORDER: &str = "lbfgs";

/// Choices of the analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Significance level of every test (default 0.05).
    pub alpha: f64,
    /// Number of classes, overriding what `study.json` or the data set name
    /// tells (needed for the near-chance rule).
    pub classes: Option<usize>,
    /// A run is "at or near chance" when its peak accuracy is at most
    /// `1 / classes + chance_margin` (default 0.05, i.e. 5 points).
    pub chance_margin: f64,
    /// Equivalence margin of the recommendation rule, in accuracy points
    /// (default [`super::recommend::DEFAULT_MARGIN_POINTS`]).
    pub equivalence_margin: f64,
    /// The response variable; `None`: [`super::response::Response::resolve`]'s default.
    pub response: Option<super::response::Response>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            classes: None,
            chance_margin: 0.05,
            equivalence_margin: super::recommend::DEFAULT_MARGIN_POINTS,
            response: None,
        }
    }
}

/// The outcome of a test that may not be computable on this data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Tested<T> {
    /// The test ran.
    Done {
        /// Its result.
        result: T,
    },
    /// The test was not run, and why.
    Skipped {
        /// The reason, for people.
        reason: String,
    },
}

impl<T> Tested<T> {
    /// The result, if the test ran.
    pub fn done(&self) -> Option<&T> {
        match self {
            Tested::Done { result } => Some(result),
            Tested::Skipped { .. } => None,
        }
    }

    pub(crate) fn skipped(reason: impl Into<String>) -> Self {
        Tested::Skipped {
            reason: reason.into(),
        }
    }
}

impl<T> From<Result<T, StatsError>> for Tested<T> {
    fn from(r: Result<T, StatsError>) -> Self {
        match r {
            Ok(result) => Tested::Done { result },
            Err(e) => Tested::skipped(e.to_string()),
        }
    }
}

/// Counts of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// All runs in the file (after replacing duplicates).
    pub total: usize,
    /// Status ok.
    pub ok: usize,
    /// Any other status.
    pub errored: usize,
    /// Ok runs at or near chance (see [`ChanceRule`]); 0 without a rule.
    pub near_chance: usize,
}

/// Compute spent by the ok runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Compute {
    /// Sum of the runs' wall times, seconds.
    pub wall_seconds: f64,
    /// Sum of their time in optimizer steps, seconds.
    pub train_seconds: f64,
    /// Runs that reported a wall time.
    pub timed_runs: usize,
}

/// When a run counts as failed: peak accuracy (percent) at most
/// `threshold_percent` = 100 / classes + margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChanceRule {
    /// Number of classes.
    pub classes: usize,
    /// Chance accuracy, percent (100 / classes).
    pub chance_percent: f64,
    /// The threshold, percent.
    pub threshold_percent: f64,
    /// Where the class count came from (`--classes`, `study.json`, or the
    /// built-in data set's name).
    pub source: String,
}

/// A run named in a list (errored or near chance).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    /// Run id.
    pub run_id: String,
    /// Optimizer.
    pub optimizer: String,
    /// Batch size.
    pub batch_size: BatchSize,
    /// Configuration id.
    pub config_id: String,
    /// Seed.
    pub seed: u64,
    /// Peak test accuracy in percent (near-chance runs), or `None`.
    pub peak_percent: Option<f64>,
    /// The status text (errored runs), or `None`.
    pub status: Option<String>,
}

/// One (optimizer, batch size) cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Optimizer.
    pub optimizer: String,
    /// Batch size.
    pub batch_size: BatchSize,
    /// Ok runs (the n of the statistics).
    pub ok: usize,
    /// Errored runs (left out of the statistics).
    pub errored: usize,
    /// Ok runs at or near chance (included in the statistics).
    pub near_chance: usize,
    /// Summary of the response ([`Analysis::response`]; peak test accuracy
    /// by default, the field keeps its name), percent; `None` without ok runs.
    pub peak: Option<Summary>,
    /// Summary of final test accuracy, percent.
    pub final_accuracy: Option<Summary>,
    /// The response (percent) of the ok runs, in file order.
    pub peak_values: Vec<f64>,
    /// Final accuracies (percent) of the ok runs, in file order.
    pub final_values: Vec<f64>,
    /// Ids of the ok runs, in the same order.
    pub run_ids: Vec<String>,
}

impl Cell {
    /// Whether the cell takes part in the tests (at least [`MIN_RUNS`] ok runs).
    pub fn testable(&self) -> bool {
        self.ok >= MIN_RUNS
    }

    /// `optimizer @ batch` label.
    pub fn label(&self) -> String {
        format!("{} @ {}", self.optimizer, self.batch_size)
    }
}

/// Mean peak accuracy of one hyperparameter configuration in one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigCell {
    /// Batch size.
    pub batch_size: BatchSize,
    /// Ok runs.
    pub n: usize,
    /// Mean peak accuracy, percent.
    pub mean: f64,
}

/// Per-configuration means of one optimizer's configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigMeans {
    /// Optimizer.
    pub optimizer: String,
    /// Configuration id.
    pub config_id: String,
    /// Description.
    pub config: String,
    /// One entry per batch size with ok runs.
    pub cells: Vec<ConfigCell>,
}

/// One two-factor ANOVA table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnovaEntry {
    /// Sums of squares.
    pub ss_type: SsType,
    /// Response transform.
    pub transform: Transform,
    /// The table.
    pub result: Tested<AnovaTable>,
}

/// The two-factor ANOVA (optimizer x batch size) on peak accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoWay {
    /// Optimizers in the design.
    pub optimizers: Vec<String>,
    /// Batch sizes in the design.
    pub batch_sizes: Vec<BatchSize>,
    /// Levels left out so that no cell is empty, with the reason.
    pub dropped: Vec<String>,
    /// Type II and III, on peak accuracy and on ln(peak accuracy).
    pub tables: Vec<AnovaEntry>,
}

impl TwoWay {
    /// The table of the given type and transform, if it was computed.
    pub fn table(&self, ss_type: SsType, transform: Transform) -> Option<&AnovaTable> {
        self.tables
            .iter()
            .find(|e| e.ss_type == ss_type && e.transform == transform)
            .and_then(|e| e.result.done())
    }
}

/// A test over a named set of groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoped<T> {
    /// What is compared, in words, e.g. `sgd: across batch sizes`.
    pub scope: String,
    /// The fixed level (the optimizer), or `all` when every cell is compared.
    pub at: String,
    /// The groups (batch sizes or optimizers).
    pub groups: Vec<String>,
    /// The test.
    pub result: Tested<T>,
}

/// Levene and Brown-Forsythe over one set of cells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Homogeneity {
    /// What is compared.
    pub scope: String,
    /// `across optimizers` (at one batch size) or `across batch sizes` (for
    /// one optimizer).
    pub across: Across,
    /// The fixed level: the batch size or the optimizer.
    pub at: String,
    /// The groups, with their variances (percent squared) in the same order.
    pub groups: Vec<String>,
    /// Variances of the groups.
    pub variances: Vec<f64>,
    /// Brown-Forsythe (median-centred).
    pub brown_forsythe: Tested<HomogeneityTest>,
    /// Levene (mean-centred).
    pub levene: Tested<HomogeneityTest>,
}

/// Which factor varies in a family of comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Across {
    /// Optimizers vary, the batch size is fixed.
    Optimizers,
    /// Batch sizes vary, the optimizer is fixed.
    BatchSizes,
}

/// One pairwise Welch comparison with both adjustments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairRow {
    /// First group.
    pub first: String,
    /// Second group.
    pub second: String,
    /// Mean of the first, percent.
    pub mean_first: f64,
    /// Mean of the second, percent.
    pub mean_second: f64,
    /// mean(first) - mean(second), points.
    pub mean_difference: f64,
    /// Welch t.
    pub t: Option<f64>,
    /// Welch-Satterthwaite df.
    pub df: Option<f64>,
    /// Unadjusted two-sided p.
    pub p: Option<f64>,
    /// Holm-adjusted p over the family.
    pub p_holm: Option<f64>,
    /// Bonferroni-adjusted p over the family.
    pub p_bonferroni: Option<f64>,
}

/// A family of pairwise comparisons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pairwise {
    /// What is compared.
    pub scope: String,
    /// Which factor varies.
    pub across: Across,
    /// The fixed level.
    pub at: String,
    /// The comparisons (pairs (i, j), i < j, in group order).
    pub rows: Tested<Vec<PairRow>>,
}

impl Pairwise {
    /// The comparison between groups `a` and `b` (either order).
    pub fn pair(&self, a: &str, b: &str) -> Option<&PairRow> {
        self.rows
            .done()?
            .iter()
            .find(|r| (r.first == a && r.second == b) || (r.first == b && r.second == a))
    }
}

/// A batch size considered for the recommendation (see
/// [`super::recommend`] for the rule).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchCandidate {
    /// Batch size.
    pub batch_size: BatchSize,
    /// Ok runs.
    pub n: usize,
    /// Mean of the response, percent.
    pub mean: f64,
    /// Standard deviation, points.
    pub sd: f64,
    /// Variance, percent squared.
    pub variance: f64,
    /// Lowest run.
    pub min: f64,
    /// 5th percentile (numpy's linear interpolation between order
    /// statistics, [`crate::stats::Summary`]).
    pub p5: f64,
    /// Mean minus the best cell's mean, points.
    pub difference: f64,
    /// Welch TOST against the best cell (`None` for the best itself).
    pub tost: Option<crate::stats::equivalence::Tost>,
    /// The rule's verdict.
    pub verdict: super::recommend::Verdict,
}

/// The recommended batch size of one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    /// The recommendation by [`Pick::rule`].
    pub batch_size: BatchSize,
    /// The batch size with the highest mean.
    pub best_mean: BatchSize,
    /// The rule that picked it.
    pub rule: super::recommend::Rule,
    /// Every testable batch size with its evidence.
    pub candidates: Vec<BatchCandidate>,
}

/// One optimizer's recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRecommendation {
    /// Optimizer.
    pub optimizer: String,
    /// The pick, or why there is none.
    pub result: Tested<Pick>,
}

/// Everything the report shows, for people (markdown) and machines
/// (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Unit of accuracies (`percent`).
    pub unit: &'static str,
    /// The response variable every statistic is computed on (the cells'
    /// `peak` summaries and `peak_values` hold it).
    pub response: super::response::Response,
    /// Significance level.
    pub alpha: f64,
    /// Run counts.
    pub runs: RunCounts,
    /// Compute time.
    pub compute: Compute,
    /// The near-chance rule, if the class count is known.
    pub chance: Option<ChanceRule>,
    /// Optimizers, in display order.
    pub optimizers: Vec<String>,
    /// Batch sizes, ascending, `full` last.
    pub batch_sizes: Vec<BatchSize>,
    /// Cells with at least one run, optimizer-major.
    pub cells: Vec<Cell>,
    /// Runs with an error status.
    pub errored_runs: Vec<RunRef>,
    /// Ok runs at or near chance.
    pub near_chance_runs: Vec<RunRef>,
    /// Per-configuration means, for optimizers with several configurations.
    pub configs: Vec<ConfigMeans>,
    /// Two-factor ANOVA (optimizer x batch size).
    pub anova: Tested<TwoWay>,
    /// One-way ANOVA across batch sizes, per optimizer.
    pub one_way: Vec<Scoped<OneWayAnova>>,
    /// Variance homogeneity, across optimizers per batch size and across
    /// batch sizes per optimizer.
    pub homogeneity: Vec<Homogeneity>,
    /// Pairwise Welch comparisons: within each optimizer across batch sizes,
    /// then across optimizers at [`Analysis::best_batch`].
    pub pairwise: Vec<Pairwise>,
    /// The batch size with the highest mean over all its runs (every
    /// optimizer's), where optimizers are compared.
    pub best_batch: Option<BatchSize>,
    /// Kruskal-Wallis: per optimizer across batch sizes, then all cells.
    pub kruskal_wallis: Vec<Scoped<KruskalWallis>>,
    /// The recommended batch size per optimizer.
    pub recommendations: Vec<BatchRecommendation>,
    /// Analyses that pair the runs of one seed (and configuration) across
    /// batch sizes, per optimizer ([`super::paired`]).
    pub paired: Vec<super::paired::PairedAnalysis>,
    /// Things the reader should know (left-out cells, missing data).
    pub notes: Vec<String>,
    /// Hyperparameter sensitivity (claim (d)), when some optimizer has more
    /// than one configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<super::sensitivity::Sensitivity>,
}

impl Analysis {
    /// The cell (optimizer, batch size), if it has runs.
    pub fn cell(&self, optimizer: &str, batch: BatchSize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.optimizer == optimizer && c.batch_size == batch)
    }

    /// Testable cells of one optimizer, by batch size.
    pub fn testable_cells_of<'a>(&'a self, optimizer: &'a str) -> impl Iterator<Item = &'a Cell> {
        self.cells
            .iter()
            .filter(move |c| c.optimizer == optimizer && c.testable())
    }

    /// The within-optimizer family of pairwise comparisons.
    pub fn pairwise_within(&self, optimizer: &str) -> Option<&Pairwise> {
        self.pairwise
            .iter()
            .find(|p| p.across == Across::BatchSizes && p.at == optimizer)
    }

    /// The highest-mean testable cell of an optimizer (ties: lower variance,
    /// then the smaller batch).
    pub fn best_cell(&self, optimizer: &str) -> Option<&Cell> {
        best_of(
            self.cells
                .iter()
                .filter(|c| c.optimizer == optimizer && c.testable()),
        )
    }
}

fn best_of<'a>(cells: impl Iterator<Item = &'a Cell>) -> Option<&'a Cell> {
    let mut best: Option<&Cell> = None;
    for cell in cells {
        let Some(s) = &cell.peak else { continue };
        let better = match best.and_then(|b| b.peak.as_ref()) {
            None => true,
            Some(b) => {
                s.mean > b.mean
                    || (s.mean == b.mean && s.variance.unwrap_or(0.0) < b.variance.unwrap_or(0.0))
            }
        };
        if better {
            best = Some(cell);
        }
    }
    best
}

/// Whether `other` is significantly different from the best in `family`:
/// Holm p < alpha, or (both constant) different means.
pub(crate) fn significantly_different(
    family: Option<&Pairwise>,
    best: &str,
    other: &str,
    alpha: f64,
) -> (bool, Option<f64>) {
    match family.and_then(|f| f.pair(best, other)) {
        Some(row) => match row.p_holm {
            Some(p) => (p < alpha, Some(p)),
            None => (row.mean_difference != 0.0, None),
        },
        None => (false, None),
    }
}
