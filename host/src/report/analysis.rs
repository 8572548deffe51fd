//! The numbers of a report: [`analyze`] turns a [`Sweep`] into an
//! [`Analysis`] (cell summaries, ANOVA, variance tests, pairwise comparisons,
//! recommendations, claim verdicts) with the statistics engine in
//! [`crate::stats`]. Nothing here formats or draws; [`super::markdown`] and
//! [`super::plots`] do.
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

use super::load::{Outcome, Run, Sweep};
use crate::run::BatchSize;
use crate::stats::anova::{AnovaTable, Factor, OneWayAnova, SsType, TwoFactor, one_way, two_way};
use crate::stats::nonparametric::{KruskalWallis, kruskal_wallis};
use crate::stats::posthoc::{Adjust, pairwise_welch};
use crate::stats::variance::{HomogeneityTest, brown_forsythe, levene};
use crate::stats::{Group, StatsError, Summary, Transform};
use serde::Serialize;
use std::collections::BTreeMap;

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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            classes: None,
            chance_margin: 0.05,
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

    fn skipped(reason: impl Into<String>) -> Self {
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
    /// Summary of peak test accuracy, percent; `None` without ok runs.
    pub peak: Option<Summary>,
    /// Summary of final test accuracy, percent.
    pub final_accuracy: Option<Summary>,
    /// Peak accuracies (percent) of the ok runs, in file order.
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

/// A batch size considered for the recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Batch size.
    pub batch_size: BatchSize,
    /// Ok runs.
    pub n: usize,
    /// Mean peak accuracy, percent.
    pub mean: f64,
    /// Variance, percent squared.
    pub variance: f64,
    /// Holm-adjusted Welch p against the best cell (`None` for the best
    /// itself, or when both cells have zero variance).
    pub p_holm_vs_best: Option<f64>,
    /// Not significantly worse than the best (p >= alpha, or the best).
    pub not_worse: bool,
}

/// The recommended batch size of one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    /// The recommendation: among batch sizes not significantly worse than
    /// the best, the one with the lowest variance.
    pub batch_size: BatchSize,
    /// The batch size with the highest mean.
    pub best_mean: BatchSize,
    /// Every testable batch size with its evidence.
    pub candidates: Vec<Candidate>,
}

/// One optimizer's recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Optimizer.
    pub optimizer: String,
    /// The pick, or why there is none.
    pub result: Tested<Pick>,
}

/// How a claim fares on this data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Supported by significant tests.
    Holds,
    /// Supported for some optimizers or pairs, not all.
    Partly,
    /// Contradicted, or clearly not supported.
    DoesNotHold,
    /// The tests found no significant difference either way.
    Inconclusive,
    /// The data cannot test it (e.g. no full batch in the grid).
    NotTestable,
}

impl Verdict {
    /// The verdict in words, e.g. `does not hold`.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Partly => "holds partly",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotTestable => "not testable",
        }
    }
}

/// One claim's verdict with its plain-language justification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The claim, as stated by the study.
    pub statement: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, with the p-values.
    pub evidence: String,
}

/// Claim (b) for one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FullBatchCheck {
    /// Optimizer.
    pub optimizer: String,
    /// Mean peak accuracy of the full-batch cell.
    pub full_mean: f64,
    /// The batch size with the lowest mean.
    pub lowest: BatchSize,
    /// The batch size with the highest mean.
    pub best: BatchSize,
    /// Mean of the best cell.
    pub best_mean: f64,
    /// Holm-adjusted Welch p of full vs best (`None` if full is the best).
    pub p_holm_vs_best: Option<f64>,
    /// Full batch has the lowest mean.
    pub is_lowest: bool,
    /// Full batch is significantly below the best.
    pub significantly_below_best: bool,
}

/// Claim (c) for one other optimizer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarianceCheck {
    /// The other optimizer.
    pub other: String,
    /// Its best (highest-mean) batch size.
    pub other_batch: BatchSize,
    /// Its variance there, percent squared.
    pub other_variance: f64,
    /// L-BFGS's best batch size.
    pub lbfgs_batch: BatchSize,
    /// L-BFGS's variance there.
    pub lbfgs_variance: f64,
    /// Brown-Forsythe between the two cells.
    pub brown_forsythe: Tested<HomogeneityTest>,
    /// Levene between the two cells.
    pub levene: Tested<HomogeneityTest>,
    /// Whether `other` is a first-order method ([`FIRST_ORDER`]), so counts
    /// for the verdict.
    pub first_order: bool,
}

/// The study's three claims on this data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    /// (a) batch size has a significant effect on peak accuracy.
    pub batch_size_matters: Claim,
    /// (b) full batch performs worst.
    pub full_batch_worst: Claim,
    /// (c) L-BFGS has lower variance at its best batch size than the
    /// first-order methods at theirs.
    pub second_order_lower_variance: Claim,
    /// Evidence for (b), per optimizer.
    pub full_batch_checks: Vec<FullBatchCheck>,
    /// Evidence for (c), per other optimizer.
    pub variance_checks: Vec<VarianceCheck>,
}

/// Everything the report shows, for people (markdown) and machines
/// (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Unit of accuracies (`percent`).
    pub unit: &'static str,
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
    pub recommendations: Vec<Recommendation>,
    /// The study's claims.
    pub claims: Claims,
    /// Things the reader should know (left-out cells, missing data).
    pub notes: Vec<String>,
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

/// Display order of optimizers: the study's order, then the canonical
/// `sgd, adam, cg, lbfgs`, then by name.
fn optimizer_order(sweep: &Sweep) -> Vec<String> {
    const CANONICAL: [&str; 4] = ["sgd", "adam", "cg", "lbfgs"];
    let mut names: Vec<String> = Vec::new();
    for run in &sweep.runs {
        if !names.contains(&run.optimizer) {
            names.push(run.optimizer.clone());
        }
    }
    names.sort_by_key(|n| {
        (
            sweep
                .study
                .optimizers
                .iter()
                .position(|o| o == n)
                .unwrap_or(usize::MAX),
            CANONICAL.iter().position(|o| o == n).unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
}

/// The class count for the near-chance rule and where it came from.
fn class_count(sweep: &Sweep, options: &Options) -> Option<(usize, String)> {
    if let Some(c) = options.classes {
        return Some((c, "--classes".into()));
    }
    if let Some(c) = sweep.study.classes {
        return Some((c, "study.json".into()));
    }
    let dataset = sweep.study.dataset.as_deref()?;
    let (base, params) = dataset.split_once(':').unwrap_or((dataset, ""));
    let explicit = params.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == "classes").then(|| v.trim().parse::<usize>().ok())?
    });
    let builtin = match base {
        "digits" => Some(10),
        "spirals" => Some(2),
        "blobs" => Some(explicit.unwrap_or(3)),
        _ => None,
    }?;
    Some((builtin, format!("the built-in data set `{base}`")))
}

fn run_ref(run: &Run, peak_percent: Option<f64>) -> RunRef {
    RunRef {
        run_id: run.run_id.clone(),
        optimizer: run.optimizer.clone(),
        batch_size: run.batch_size,
        config_id: run.config_id.clone(),
        seed: run.seed,
        peak_percent,
        status: match &run.outcome {
            Outcome::Error { message } => Some(message.clone()),
            Outcome::Ok(_) => None,
        },
    }
}

/// Computes every number of the report from `sweep`. Never fails: a test
/// that cannot run on this data is [`Tested::Skipped`] with the reason, and
/// [`Analysis::notes`] says what was left out.
pub fn analyze(sweep: &Sweep, options: &Options) -> Analysis {
    let alpha = options.alpha;
    let mut notes = Vec::new();
    let optimizers = optimizer_order(sweep);
    let mut batch_sizes: Vec<BatchSize> = sweep.runs.iter().map(|r| r.batch_size).collect();
    batch_sizes.sort();
    batch_sizes.dedup();

    let chance = class_count(sweep, options).map(|(classes, source)| {
        let chance_percent = 100.0 / classes.max(1) as f64;
        ChanceRule {
            classes,
            chance_percent,
            threshold_percent: chance_percent + 100.0 * options.chance_margin,
            source,
        }
    });
    if chance.is_none() {
        notes.push(
            "The number of classes is unknown (no `classes` in study.json, no built-in data set \
             name), so runs at or near chance are not counted; pass `--classes N`."
                .to_string(),
        );
    }
    let near = |peak_percent: f64| {
        chance
            .as_ref()
            .is_some_and(|c| peak_percent <= c.threshold_percent)
    };

    let mut runs = RunCounts {
        total: sweep.runs.len(),
        ok: 0,
        errored: 0,
        near_chance: 0,
    };
    let mut compute = Compute {
        wall_seconds: 0.0,
        train_seconds: 0.0,
        timed_runs: 0,
    };
    let mut errored_runs = Vec::new();
    let mut near_chance_runs = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    for optimizer in &optimizers {
        for &batch in &batch_sizes {
            let mut cell = Cell {
                optimizer: optimizer.clone(),
                batch_size: batch,
                ok: 0,
                errored: 0,
                near_chance: 0,
                peak: None,
                final_accuracy: None,
                peak_values: Vec::new(),
                final_values: Vec::new(),
                run_ids: Vec::new(),
            };
            let mut any = false;
            for run in sweep
                .runs
                .iter()
                .filter(|r| &r.optimizer == optimizer && r.batch_size == batch)
            {
                any = true;
                match &run.outcome {
                    Outcome::Error { .. } => {
                        cell.errored += 1;
                        errored_runs.push(run_ref(run, None));
                    }
                    Outcome::Ok(m) => {
                        let peak = 100.0 * m.peak_test_accuracy;
                        cell.ok += 1;
                        cell.peak_values.push(peak);
                        cell.final_values.push(100.0 * m.final_test_accuracy);
                        cell.run_ids.push(run.run_id.clone());
                        if near(peak) {
                            cell.near_chance += 1;
                            near_chance_runs.push(run_ref(run, Some(peak)));
                        }
                        if let Some(w) = m.wall_seconds {
                            compute.wall_seconds += w;
                            compute.timed_runs += 1;
                        }
                        compute.train_seconds += m.train_seconds.unwrap_or(0.0);
                    }
                }
            }
            if !any {
                continue;
            }
            cell.peak = Summary::of(&cell.peak_values).ok();
            cell.final_accuracy = Summary::of(&cell.final_values).ok();
            runs.ok += cell.ok;
            runs.errored += cell.errored;
            runs.near_chance += cell.near_chance;
            match cell.ok {
                0 => notes.push(format!(
                    "Cell {} has no ok run ({} errored); it is left out of the statistics.",
                    cell.label(),
                    cell.errored
                )),
                1 => notes.push(format!(
                    "Cell {} has 1 ok run; the tests need {MIN_RUNS}+ per cell, so it is left out of them.",
                    cell.label()
                )),
                _ => {}
            }
            cells.push(cell);
        }
    }
    for optimizer in &sweep.study.optimizers {
        for size in &sweep.study.batch_sizes {
            let Ok(batch) = size.parse::<BatchSize>() else {
                continue;
            };
            if !cells
                .iter()
                .any(|c| &c.optimizer == optimizer && c.batch_size == batch)
            {
                notes.push(format!(
                    "The study's grid has cell {optimizer} @ {batch}, but runs.jsonl has no run of it."
                ));
            }
        }
    }
    if runs.errored > 0 {
        notes.push(format!(
            "{} run(s) ended with an error status; they are listed in section 3 and left out of the statistics.",
            runs.errored
        ));
    }

    let configs = config_means(sweep, &optimizers, &batch_sizes);
    let anova = two_factor(&cells, &optimizers, &batch_sizes);
    let testable: Vec<&Cell> = cells.iter().filter(|c| c.testable()).collect();

    let mut one_way_tests = Vec::new();
    let mut homogeneity = Vec::new();
    let mut pairwise = Vec::new();
    let mut kruskal = Vec::new();
    for optimizer in &optimizers {
        let group_cells: Vec<&Cell> = testable
            .iter()
            .copied()
            .filter(|c| &c.optimizer == optimizer)
            .collect();
        if group_cells.is_empty() {
            continue;
        }
        let groups: Vec<Group> = group_cells
            .iter()
            .map(|c| Group::new(c.batch_size.to_string(), c.peak_values.clone()))
            .collect();
        let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let scope = format!("{optimizer}: across batch sizes");
        let few = |what: &str| -> String {
            format!(
                "{optimizer} has {} batch size(s) with {MIN_RUNS}+ ok runs; {what} needs 2",
                groups.len()
            )
        };
        let enough = groups.len() >= 2;
        one_way_tests.push(Scoped {
            scope: scope.clone(),
            at: optimizer.clone(),
            groups: names.clone(),
            result: if enough {
                one_way(&groups).into()
            } else {
                Tested::skipped(few("a one-way ANOVA"))
            },
        });
        homogeneity.push(homogeneity_of(
            scope.clone(),
            Across::BatchSizes,
            optimizer.clone(),
            &group_cells,
            &groups,
        ));
        pairwise.push(Pairwise {
            scope: scope.clone(),
            across: Across::BatchSizes,
            at: optimizer.clone(),
            rows: if enough {
                pair_rows(&groups)
            } else {
                Tested::skipped(few("a comparison"))
            },
        });
        kruskal.push(Scoped {
            scope,
            at: optimizer.clone(),
            groups: names,
            result: if enough {
                kruskal_wallis(&groups).into()
            } else {
                Tested::skipped(few("Kruskal-Wallis"))
            },
        });
    }
    for &batch in &batch_sizes {
        let group_cells: Vec<&Cell> = testable
            .iter()
            .copied()
            .filter(|c| c.batch_size == batch)
            .collect();
        if group_cells.len() < 2 {
            continue;
        }
        let groups: Vec<Group> = group_cells
            .iter()
            .map(|c| Group::new(c.optimizer.clone(), c.peak_values.clone()))
            .collect();
        homogeneity.push(homogeneity_of(
            format!("batch {batch}: across optimizers"),
            Across::Optimizers,
            batch.to_string(),
            &group_cells,
            &groups,
        ));
    }

    // Optimizers compared at the batch size that did best over all of them.
    let best_batch = batch_sizes
        .iter()
        .filter_map(|&b| {
            let values: Vec<f64> = testable
                .iter()
                .filter(|c| c.batch_size == b)
                .flat_map(|c| c.peak_values.iter().copied())
                .collect();
            let n = testable.iter().filter(|c| c.batch_size == b).count();
            (n >= 2).then(|| (b, values.iter().sum::<f64>() / values.len() as f64))
        })
        .fold(None::<(BatchSize, f64)>, |acc, (b, m)| match acc {
            Some((_, best)) if best >= m => acc,
            _ => Some((b, m)),
        })
        .map(|(b, _)| b);
    if let Some(batch) = best_batch {
        let groups: Vec<Group> = testable
            .iter()
            .filter(|c| c.batch_size == batch)
            .map(|c| Group::new(c.optimizer.clone(), c.peak_values.clone()))
            .collect();
        pairwise.push(Pairwise {
            scope: format!("batch {batch} (highest mean over all optimizers): across optimizers"),
            across: Across::Optimizers,
            at: batch.to_string(),
            rows: pair_rows(&groups),
        });
    }
    if testable.len() >= 2 {
        let groups: Vec<Group> = testable
            .iter()
            .map(|c| Group::new(c.label(), c.peak_values.clone()))
            .collect();
        kruskal.push(Scoped {
            scope: "all cells".to_string(),
            at: "all".to_string(),
            groups: groups.iter().map(|g| g.name.clone()).collect(),
            result: kruskal_wallis(&groups).into(),
        });
    }

    let mut analysis = Analysis {
        unit: "percent",
        alpha,
        runs,
        compute,
        chance,
        optimizers,
        batch_sizes,
        cells,
        errored_runs,
        near_chance_runs,
        configs,
        anova,
        one_way: one_way_tests,
        homogeneity,
        pairwise,
        best_batch,
        kruskal_wallis: kruskal,
        recommendations: Vec::new(),
        claims: Claims {
            batch_size_matters: placeholder_claim(),
            full_batch_worst: placeholder_claim(),
            second_order_lower_variance: placeholder_claim(),
            full_batch_checks: Vec::new(),
            variance_checks: Vec::new(),
        },
        notes,
    };
    analysis.recommendations = analysis
        .optimizers
        .iter()
        .map(|o| recommend(&analysis, o))
        .collect();
    analysis.claims = claims(&analysis);
    analysis
}

fn placeholder_claim() -> Claim {
    Claim {
        statement: String::new(),
        verdict: Verdict::NotTestable,
        evidence: String::new(),
    }
}

fn config_means(
    sweep: &Sweep,
    optimizers: &[String],
    batch_sizes: &[BatchSize],
) -> Vec<ConfigMeans> {
    let mut out = Vec::new();
    for optimizer in optimizers {
        // config id -> (description, first line)
        let mut configs: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for run in sweep.runs.iter().filter(|r| &r.optimizer == optimizer) {
            configs
                .entry(&run.config_id)
                .or_insert((&run.config, run.line));
        }
        if configs.len() < 2 {
            continue;
        }
        let mut ordered: Vec<(&str, (&str, usize))> = configs.into_iter().collect();
        ordered.sort_by_key(|(id, (_, line))| (*line, id.to_string()));
        for (id, (description, _)) in ordered {
            let cells = batch_sizes
                .iter()
                .filter_map(|&b| {
                    let values: Vec<f64> = sweep
                        .runs
                        .iter()
                        .filter(|r| {
                            &r.optimizer == optimizer && r.config_id == id && r.batch_size == b
                        })
                        .filter_map(|r| r.metrics().map(|m| 100.0 * m.peak_test_accuracy))
                        .collect();
                    (!values.is_empty()).then(|| ConfigCell {
                        batch_size: b,
                        n: values.len(),
                        mean: values.iter().sum::<f64>() / values.len() as f64,
                    })
                })
                .collect();
            out.push(ConfigMeans {
                optimizer: optimizer.clone(),
                config_id: id.to_string(),
                config: description.to_string(),
                cells,
            });
        }
    }
    out
}

/// The two-factor design on testable cells; levels are dropped (the one
/// with the most empty cells first) until no cell is empty.
fn two_factor(cells: &[Cell], optimizers: &[String], batch_sizes: &[BatchSize]) -> Tested<TwoWay> {
    let mut opts: Vec<String> = optimizers.to_vec();
    let mut batches: Vec<BatchSize> = batch_sizes.to_vec();
    let has = |o: &str, b: BatchSize| {
        cells
            .iter()
            .any(|c| c.optimizer == o && c.batch_size == b && c.testable())
    };
    let runs_of = |pred: &dyn Fn(&Cell) -> bool| -> usize {
        cells.iter().filter(|c| pred(c)).map(|c| c.ok).sum()
    };
    let mut dropped = Vec::new();
    loop {
        if opts.len() < 2 || batches.len() < 2 {
            let reason = if optimizers.len() < 2 {
                format!(
                    "the sweep has {} optimizer(s); the two-factor ANOVA needs 2 or more, so one-way ANOVAs across batch sizes stand in",
                    optimizers.len()
                )
            } else if batch_sizes.len() < 2 {
                format!(
                    "the sweep has {} batch size(s); the two-factor ANOVA needs 2 or more",
                    batch_sizes.len()
                )
            } else {
                format!(
                    "too many cells lack {MIN_RUNS}+ ok runs for a complete optimizer x batch-size design ({})",
                    dropped.join("; ")
                )
            };
            return Tested::skipped(reason);
        }
        // Empty cells per level.
        let opt_holes: Vec<usize> = opts
            .iter()
            .map(|o| batches.iter().filter(|&&b| !has(o, b)).count())
            .collect();
        let batch_holes: Vec<usize> = batches
            .iter()
            .map(|&b| opts.iter().filter(|o| !has(o, b)).count())
            .collect();
        let worst_opt = opt_holes.iter().copied().max().unwrap_or(0);
        let worst_batch = batch_holes.iter().copied().max().unwrap_or(0);
        if worst_opt == 0 && worst_batch == 0 {
            break;
        }
        if worst_batch >= worst_opt {
            // Among the worst, drop the one with the fewest runs.
            let i = (0..batches.len())
                .filter(|&i| batch_holes[i] == worst_batch)
                .min_by_key(|&i| runs_of(&|c: &Cell| c.batch_size == batches[i]))
                .unwrap_or(0);
            dropped.push(format!(
                "batch size {} left out: {} of its cells have fewer than {MIN_RUNS} ok runs",
                batches[i], worst_batch
            ));
            batches.remove(i);
        } else {
            let i = (0..opts.len())
                .filter(|&i| opt_holes[i] == worst_opt)
                .min_by_key(|&i| runs_of(&|c: &Cell| c.optimizer == opts[i]))
                .unwrap_or(0);
            dropped.push(format!(
                "optimizer {} left out: {} of its cells have fewer than {MIN_RUNS} ok runs",
                opts[i], worst_opt
            ));
            opts.remove(i);
        }
    }
    let table = TwoFactor::new(
        Factor::new("optimizer", opts.iter().cloned()),
        Factor::new("batch size", batches.iter().map(|b| b.to_string())),
    )
    .and_then(|mut t| {
        for c in cells.iter().filter(|c| c.testable()) {
            if opts.contains(&c.optimizer) && batches.contains(&c.batch_size) {
                for &y in &c.peak_values {
                    t.push(&c.optimizer, &c.batch_size.to_string(), y)?;
                }
            }
        }
        Ok(t)
    });
    let table = match table {
        Ok(t) => t,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let mut tables = Vec::new();
    for transform in [Transform::Identity, Transform::Ln] {
        for ss_type in [SsType::II, SsType::III] {
            tables.push(AnovaEntry {
                ss_type,
                transform,
                result: two_way(&table, ss_type, transform).into(),
            });
        }
    }
    Tested::Done {
        result: TwoWay {
            optimizers: opts,
            batch_sizes: batches,
            dropped,
            tables,
        },
    }
}

fn homogeneity_of(
    scope: String,
    across: Across,
    at: String,
    cells: &[&Cell],
    groups: &[Group],
) -> Homogeneity {
    let few = || {
        Tested::skipped(format!(
            "{} group(s) with {MIN_RUNS}+ ok runs; the test needs 2",
            groups.len()
        ))
    };
    Homogeneity {
        scope,
        across,
        at,
        groups: groups.iter().map(|g| g.name.clone()).collect(),
        variances: cells
            .iter()
            .map(|c| c.peak.as_ref().and_then(|s| s.variance).unwrap_or(0.0))
            .collect(),
        brown_forsythe: if groups.len() >= 2 {
            brown_forsythe(groups).into()
        } else {
            few()
        },
        levene: if groups.len() >= 2 {
            levene(groups).into()
        } else {
            few()
        },
    }
}

/// Pairwise Welch with Holm and Bonferroni, merged row by row.
fn pair_rows(groups: &[Group]) -> Tested<Vec<PairRow>> {
    let holm = match pairwise_welch(groups, Adjust::Holm) {
        Ok(r) => r,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let bonferroni = match pairwise_welch(groups, Adjust::Bonferroni) {
        Ok(r) => r,
        Err(e) => return Tested::skipped(e.to_string()),
    };
    let mean_of = |name: &str| {
        groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.values.iter().sum::<f64>() / g.values.len() as f64)
            .unwrap_or(f64::NAN)
    };
    let rows = holm
        .comparisons
        .iter()
        .zip(&bonferroni.comparisons)
        .map(|(h, b)| PairRow {
            first: h.first.clone(),
            second: h.second.clone(),
            mean_first: mean_of(&h.first),
            mean_second: mean_of(&h.second),
            mean_difference: h.mean_difference,
            t: h.t,
            df: h.df,
            p: h.p_value,
            p_holm: h.p_adjusted,
            p_bonferroni: b.p_adjusted,
        })
        .collect();
    Tested::Done { result: rows }
}

/// Whether `other` is significantly different from the best in `family`:
/// Holm p < alpha, or (both constant) different means.
fn significantly_different(
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

fn recommend(analysis: &Analysis, optimizer: &str) -> Recommendation {
    let cells: Vec<&Cell> = analysis.testable_cells_of(optimizer).collect();
    let Some(best) = analysis.best_cell(optimizer) else {
        return Recommendation {
            optimizer: optimizer.to_string(),
            result: Tested::skipped(format!(
                "no batch size of {optimizer} has {MIN_RUNS}+ ok runs"
            )),
        };
    };
    let family = analysis.pairwise_within(optimizer);
    let best_name = best.batch_size.to_string();
    let candidates: Vec<Candidate> = cells
        .iter()
        .filter_map(|c| {
            let s = c.peak.as_ref()?;
            let is_best = c.batch_size == best.batch_size;
            let (different, p) = if is_best {
                (false, None)
            } else {
                significantly_different(
                    family,
                    &best_name,
                    &c.batch_size.to_string(),
                    analysis.alpha,
                )
            };
            Some(Candidate {
                batch_size: c.batch_size,
                n: c.ok,
                mean: s.mean,
                variance: s.variance.unwrap_or(0.0),
                p_holm_vs_best: p,
                not_worse: !different,
            })
        })
        .collect();
    let pick = candidates
        .iter()
        .filter(|c| c.not_worse)
        .min_by(|a, b| {
            a.variance
                .total_cmp(&b.variance)
                .then(b.mean.total_cmp(&a.mean))
                .then(a.batch_size.cmp(&b.batch_size))
        })
        .map(|c| c.batch_size)
        .unwrap_or(best.batch_size);
    Recommendation {
        optimizer: optimizer.to_string(),
        result: Tested::Done {
            result: Pick {
                batch_size: pick,
                best_mean: best.batch_size,
                candidates,
            },
        },
    }
}

/// `p = 0.0123`-style text for evidence sentences.
pub(crate) fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) => format!("p = {}", super::markdown::fmt_p(p)),
        None => "p undefined".to_string(),
    }
}

fn f_text(row: &crate::stats::anova::AnovaRow, residual_df: usize) -> String {
    match row.f {
        Some(f) => format!(
            "F({}, {residual_df}) = {f:.2}, {}",
            row.df,
            p_text(row.p_value)
        ),
        None => "F undefined (no within-cell variation)".to_string(),
    }
}

fn claims(a: &Analysis) -> Claims {
    let alpha = a.alpha;
    let significant = |p: Option<f64>| p.is_some_and(|p| p < alpha);

    // (a) batch size matters.
    let statement_a =
        "Batch size has a statistically significant effect on peak test accuracy.".to_string();
    let claim_a = match a.anova.done() {
        Some(design) => match (
            design.table(SsType::II, Transform::Identity),
            design.table(SsType::III, Transform::Identity),
        ) {
            (Some(t2), t3) => {
                let rdf = t2.residual.df;
                let main = significant(t2.b.p_value);
                let inter = significant(t2.interaction.p_value);
                let verdict = if main || inter {
                    Verdict::Holds
                } else if t2.b.p_value.is_none() {
                    Verdict::Inconclusive
                } else {
                    Verdict::DoesNotHold
                };
                let mut evidence = format!(
                    "Two-factor ANOVA (Type II) on peak accuracy: batch size {}; optimizer x batch size interaction {}.",
                    f_text(&t2.b, rdf),
                    f_text(&t2.interaction, rdf)
                );
                if let Some(t3) = t3 {
                    let agree = significant(t3.b.p_value) == main
                        && significant(t3.interaction.p_value) == inter;
                    evidence.push_str(&format!(
                        " Type III: batch size {}, interaction {}{}.",
                        p_text(t3.b.p_value),
                        p_text(t3.interaction.p_value),
                        if agree {
                            " (agrees)"
                        } else {
                            " (DISAGREES with Type II at this alpha; the design is unbalanced)"
                        }
                    ));
                }
                if !design.dropped.is_empty() {
                    evidence.push_str(&format!(
                        " Left out of the ANOVA: {}.",
                        design.dropped.join("; ")
                    ));
                }
                evidence.push_str(&kruskal_sentence(a));
                Claim {
                    statement: statement_a,
                    verdict,
                    evidence,
                }
            }
            (None, _) => Claim {
                statement: statement_a,
                verdict: Verdict::NotTestable,
                evidence: "The two-factor ANOVA could not be computed (see the ANOVA section)."
                    .to_string(),
            },
        },
        None => {
            // One-way ANOVA per optimizer instead.
            let tested: Vec<(&str, &OneWayAnova)> = a
                .one_way
                .iter()
                .filter_map(|s| Some((s.at.as_str(), s.result.done()?)))
                .collect();
            if tested.is_empty() {
                Claim {
                    statement: statement_a,
                    verdict: Verdict::NotTestable,
                    evidence: format!(
                        "Neither a two-factor nor a one-way ANOVA across batch sizes could be computed: {}.",
                        match &a.anova {
                            Tested::Skipped { reason } => reason.as_str(),
                            Tested::Done { .. } => "",
                        }
                    ),
                }
            } else {
                let sig = tested
                    .iter()
                    .filter(|(_, t)| significant(t.between.p_value))
                    .count();
                let verdict = if sig == tested.len() {
                    Verdict::Holds
                } else if sig > 0 {
                    Verdict::Partly
                } else {
                    Verdict::DoesNotHold
                };
                let parts: Vec<String> = tested
                    .iter()
                    .map(|(o, t)| format!("{o}: {}", f_text(&t.between, t.within.df)))
                    .collect();
                Claim {
                    statement: statement_a,
                    verdict,
                    evidence: format!(
                        "No two-factor ANOVA: {}. One-way ANOVA across batch sizes: {}.{}",
                        match &a.anova {
                            Tested::Skipped { reason } => reason.as_str(),
                            Tested::Done { .. } => "",
                        },
                        parts.join("; "),
                        kruskal_sentence(a)
                    ),
                }
            }
        }
    };

    // (b) full batch is worst.
    let statement_b = "Full batch performs worst (for each optimizer, the full-batch cell has the lowest mean peak accuracy, significantly below the best).".to_string();
    let mut full_checks = Vec::new();
    for optimizer in &a.optimizers {
        let cells: Vec<&Cell> = a.testable_cells_of(optimizer).collect();
        let Some(full) = cells.iter().find(|c| c.batch_size == BatchSize::Full) else {
            continue;
        };
        if cells.len() < 2 {
            continue;
        }
        let (Some(best), Some(lowest)) = (
            a.best_cell(optimizer),
            cells.iter().min_by(|x, y| {
                let (mx, my) = (mean(x), mean(y));
                mx.total_cmp(&my)
            }),
        ) else {
            continue;
        };
        let (below, p) = if best.batch_size == BatchSize::Full {
            (false, None)
        } else {
            let (different, p) = significantly_different(
                a.pairwise_within(optimizer),
                &best.batch_size.to_string(),
                "full",
                alpha,
            );
            (different && mean(full) < mean(best), p)
        };
        full_checks.push(FullBatchCheck {
            optimizer: optimizer.clone(),
            full_mean: mean(full),
            lowest: lowest.batch_size,
            best: best.batch_size,
            best_mean: mean(best),
            p_holm_vs_best: p,
            is_lowest: lowest.batch_size == BatchSize::Full,
            significantly_below_best: below,
        });
    }
    let claim_b = if full_checks.is_empty() {
        Claim {
            statement: statement_b,
            verdict: Verdict::NotTestable,
            evidence: if a.batch_sizes.contains(&BatchSize::Full) {
                format!(
                    "No optimizer has a full-batch cell and another cell with {MIN_RUNS}+ ok runs."
                )
            } else {
                "The sweep has no full-batch runs.".to_string()
            },
        }
    } else {
        let holds = full_checks
            .iter()
            .filter(|c| c.is_lowest && c.significantly_below_best)
            .count();
        let none = full_checks
            .iter()
            .all(|c| !c.is_lowest && !c.significantly_below_best);
        let verdict = if holds == full_checks.len() {
            Verdict::Holds
        } else if none {
            Verdict::DoesNotHold
        } else {
            Verdict::Partly
        };
        let parts: Vec<String> = full_checks
            .iter()
            .map(|c| {
                let place = if c.best == BatchSize::Full {
                    "full batch is the BEST batch size".to_string()
                } else if c.is_lowest {
                    "full batch has the lowest mean".to_string()
                } else {
                    format!("full batch is not the lowest (batch {} is)", c.lowest)
                };
                let vs = if c.best == BatchSize::Full {
                    String::new()
                } else {
                    format!(
                        "; {:.2}% vs {:.2}% at batch {}, Holm {} ({})",
                        c.full_mean,
                        c.best_mean,
                        c.best,
                        p_text(c.p_holm_vs_best),
                        if c.significantly_below_best {
                            "significantly below the best"
                        } else {
                            "not significantly below the best"
                        }
                    )
                };
                format!("{}: {place}{vs}", c.optimizer)
            })
            .collect();
        Claim {
            statement: statement_b,
            verdict,
            evidence: format!(
                "Holds for {holds} of {} optimizer(s). {}.",
                full_checks.len(),
                parts.join(". ")
            ),
        }
    };

    // (c) L-BFGS has lower variance at its best batch size.
    let statement_c = format!(
        "The second-order method ({SECOND_ORDER}) has significantly lower variance of peak accuracy at its best batch size than the first-order methods ({}) at theirs.",
        FIRST_ORDER.join(", ")
    );
    let mut variance_checks = Vec::new();
    if let Some(lb) = a.best_cell(SECOND_ORDER) {
        for optimizer in a.optimizers.iter().filter(|o| o.as_str() != SECOND_ORDER) {
            let Some(other) = a.best_cell(optimizer) else {
                continue;
            };
            let groups = [
                Group::new(lb.label(), lb.peak_values.clone()),
                Group::new(other.label(), other.peak_values.clone()),
            ];
            variance_checks.push(VarianceCheck {
                other: optimizer.clone(),
                other_batch: other.batch_size,
                other_variance: variance(other),
                lbfgs_batch: lb.batch_size,
                lbfgs_variance: variance(lb),
                brown_forsythe: brown_forsythe(&groups).into(),
                levene: levene(&groups).into(),
                first_order: FIRST_ORDER.contains(&optimizer.as_str()),
            });
        }
    }
    let first: Vec<&VarianceCheck> = variance_checks.iter().filter(|c| c.first_order).collect();
    let claim_c = if first.is_empty() {
        Claim {
            statement: statement_c,
            verdict: Verdict::NotTestable,
            evidence: format!(
                "Needs a {SECOND_ORDER} cell and a cell of {} with {MIN_RUNS}+ ok runs.",
                FIRST_ORDER.join(" or ")
            ),
        }
    } else {
        let bf_p = |c: &VarianceCheck| c.brown_forsythe.done().and_then(|t| t.p_value);
        let lower_sig = first
            .iter()
            .filter(|c| c.lbfgs_variance < c.other_variance && significant(bf_p(c)))
            .count();
        let higher_sig = first
            .iter()
            .filter(|c| c.lbfgs_variance > c.other_variance && significant(bf_p(c)))
            .count();
        let verdict = if higher_sig > 0 {
            Verdict::DoesNotHold
        } else if lower_sig == first.len() {
            Verdict::Holds
        } else if lower_sig > 0 {
            Verdict::Partly
        } else {
            Verdict::Inconclusive
        };
        let parts: Vec<String> = variance_checks
            .iter()
            .map(|c| {
                format!(
                    "vs {} @ {}{}: variance {} vs {} ({}), Brown-Forsythe {}, Levene {}",
                    c.other,
                    c.other_batch,
                    if c.first_order {
                        ""
                    } else {
                        " (not first-order; not part of the verdict)"
                    },
                    super::markdown::fmt_num(c.lbfgs_variance),
                    super::markdown::fmt_num(c.other_variance),
                    if c.lbfgs_variance < c.other_variance {
                        format!("{SECOND_ORDER} lower")
                    } else {
                        format!("{SECOND_ORDER} higher")
                    },
                    p_text(bf_p(c)),
                    p_text(c.levene.done().and_then(|t| t.p_value))
                )
            })
            .collect();
        let lb = &variance_checks[0];
        let missing: Vec<&str> = FIRST_ORDER
            .iter()
            .copied()
            .filter(|f| !first.iter().any(|c| c.other == *f))
            .collect();
        Claim {
            statement: statement_c,
            verdict,
            evidence: format!(
                "{SECOND_ORDER}'s best batch size is {} (highest mean). {}.{}{}",
                lb.lbfgs_batch,
                parts.join("; "),
                variance_conclusion(verdict, &first, alpha),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        " Not compared (no cell with {MIN_RUNS}+ ok runs): {}.",
                        missing.join(", ")
                    )
                }
            ),
        }
    };
    Claims {
        batch_size_matters: claim_a,
        full_batch_worst: claim_b,
        second_order_lower_variance: claim_c,
        full_batch_checks: full_checks,
        variance_checks,
    }
}

/// The plain-language close of claim (c)'s evidence.
fn variance_conclusion(verdict: Verdict, first: &[&VarianceCheck], alpha: f64) -> String {
    let names = |pred: &dyn Fn(&VarianceCheck) -> bool| -> String {
        first
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.other.as_str())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let bf_p = |c: &VarianceCheck| c.brown_forsythe.done().and_then(|t| t.p_value);
    let significant = |c: &VarianceCheck| bf_p(c).is_some_and(|p| p < alpha);
    match verdict {
        Verdict::Inconclusive => {
            let lower = names(&|c| c.lbfgs_variance < c.other_variance);
            let higher = names(&|c| c.lbfgs_variance >= c.other_variance);
            let mut s = format!(
                " No variance difference is significant, so this data neither supports nor refutes the claim; on the point estimates {SECOND_ORDER}'s variance is"
            );
            if !lower.is_empty() {
                s.push_str(&format!(" lower than {lower}'s"));
            }
            if !lower.is_empty() && !higher.is_empty() {
                s.push_str(" and");
            }
            if !higher.is_empty() {
                s.push_str(&format!(" higher than {higher}'s"));
            }
            s.push('.');
            s
        }
        Verdict::DoesNotHold => format!(
            " {SECOND_ORDER}'s variance is significantly HIGHER than {}'s.",
            names(&|c| c.lbfgs_variance > c.other_variance && significant(c))
        ),
        Verdict::Partly => format!(
            " Significantly lower only than {}'s.",
            names(&|c| c.lbfgs_variance < c.other_variance && significant(c))
        ),
        Verdict::Holds | Verdict::NotTestable => String::new(),
    }
}

fn mean(c: &Cell) -> f64 {
    c.peak.as_ref().map_or(f64::NAN, |s| s.mean)
}

fn variance(c: &Cell) -> f64 {
    c.peak.as_ref().and_then(|s| s.variance).unwrap_or(0.0)
}

/// " Kruskal-Wallis across batch sizes: significant for k of n optimizers (...)."
fn kruskal_sentence(a: &Analysis) -> String {
    let per: Vec<(String, Option<f64>)> = a
        .kruskal_wallis
        .iter()
        .filter(|s| s.at != "all")
        .filter_map(|s| Some((s.at.clone(), s.result.done()?.p_value)))
        .collect();
    if per.is_empty() {
        return String::new();
    }
    let sig = per
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| p < a.alpha))
        .count();
    format!(
        " The rank-based check (Kruskal-Wallis across batch sizes, which does not assume normal residuals) is significant for {sig} of {} optimizer(s): {}.",
        per.len(),
        per.iter()
            .map(|(o, p)| format!("{o} {}", p_text(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
