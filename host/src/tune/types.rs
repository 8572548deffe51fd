//! The tune's shared types: what was asked ([`Request`]), the candidates,
//! the prepared [`Tune`], how to run it and what it did, and [`TuneError`].
//! A leaf of `tune/`: it uses the race and the sweep, never `output` or
//! `plot`, which read these types.

use super::race::{self, Observation, Race, RaceSettings};
use crate::data::Loaded;
use crate::report::load::ReportedResult;
use crate::report::recommend::Rule as PickRule;
use crate::report::response::{Response, ResponseError};
use crate::run::BatchSize;
use crate::spec::{DataOptions, ModelOptions, OptimizerOptions};
use crate::sweep::study::{StudyOptimizer, StudyParts, expand};
use crate::sweep::{PlannedRun, Row, Study, StudyProblem, SweepError, plan};
use serde::Serialize;
use sooth_core::{LastBatch, Sampling};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A run counts as failed when its peak test accuracy is at most chance
/// plus this many percentage points (the report's near-chance rule).
pub const CHANCE_MARGIN_POINTS: f64 = 5.0;

/// Level of the final pick's equivalence test (`sooth report`'s default
/// alpha; the race's own `--alpha` is a family-wise level over its rounds).
pub const PICK_ALPHA: f64 = 0.05;

/// Why a tune cannot be prepared or run.
#[derive(Debug)]
pub enum TuneError {
    /// The tune's study is not valid (an option or a `--grid` value).
    Study(StudyProblem),
    /// A raced option is also given as a fixed option.
    RacedAndFixed(String),
    /// Every candidate batch size exceeds the training set.
    NoBatchSize {
        /// Training samples.
        train_samples: usize,
    },
    /// The race's settings are not valid.
    Settings(race::RaceSettingsError),
    /// The budget cannot pay for the first round.
    Budget {
        /// Runs allowed.
        budget: usize,
        /// Candidates.
        candidates: usize,
        /// Seeds per candidate in the first round.
        seeds: usize,
    },
    /// The sweep underneath failed (reading or writing the directory).
    Sweep(SweepError),
    /// `--response selected` on runs without a validation split.
    Response(ResponseError),
    /// The sweep did not produce runs the race needs.
    Missing {
        /// The tune's directory.
        dir: String,
        /// Runs wanted.
        wanted: usize,
        /// The first of them.
        first: String,
    },
}

impl fmt::Display for TuneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TuneError::Study(p) => write!(f, "the tune's study: {p}"),
            TuneError::RacedAndFixed(key) => write!(
                f,
                "--grid {key}: --{} is also given as a flag; give it once",
                key.replace('_', "-")
            ),
            TuneError::NoBatchSize { train_samples } => write!(
                f,
                "every batch size exceeds the {train_samples} training samples"
            ),
            TuneError::Settings(e) => write!(f, "{e}"),
            TuneError::Response(e) => write!(f, "{e}"),
            TuneError::Sweep(e) => write!(f, "{e}"),
            TuneError::Budget {
                budget,
                candidates,
                seeds,
            } => write!(
                f,
                "a budget of {budget} runs cannot pay for the first round: {candidates} candidates x {seeds} seeds = {} runs",
                candidates * seeds
            ),
            TuneError::Missing { dir, wanted, first } => write!(
                f,
                "{dir}: the race needs {wanted} runs that the sweep did not produce (first: {first})"
            ),
        }
    }
}

impl std::error::Error for TuneError {}

/// What to tune: everything [`Request::study`] needs, as typed options.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The data options written (non-default ones).
    pub data: DataOptions,
    /// The model options written.
    pub model: ModelOptions,
    /// The optimizer with its fixed options.
    pub optimizer: OptimizerOptions,
    /// Optimizer options raced too (keys of [`OptimizerOptions::KEYS`]),
    /// each with its values as written (at most two).
    pub grid: Vec<(String, Vec<String>)>,
    /// Candidate batch sizes, in order.
    pub batch_sizes: Vec<BatchSize>,
    /// Epochs of every run.
    pub epochs: u32,
    /// How batches are drawn.
    pub sampling: Sampling,
    /// What happens to a short last batch.
    pub last_batch: LastBatch,
    /// Seeds per candidate in the first round.
    pub initial_seeds: usize,
    /// The most seeds per candidate (the study's seeds are `1..=max_seeds`).
    pub max_seeds: usize,
    /// Family-wise level of the whole race.
    pub alpha: f64,
    /// The most runs the race may use.
    pub budget: Option<usize>,
    /// The accuracy raced (`None`: `selected` when every ok run has one,
    /// else `peak`, as `sooth report`).
    pub response: Option<Response>,
    /// Equivalence margin of the final pick's rule, points.
    pub equivalence_margin: f64,
}

impl Request {
    /// The optimizer's name (`sgd`, ...).
    pub fn optimizer_name(&self) -> &'static str {
        self.optimizer.name.name()
    }

    /// The study of the tune: the one optimizer (with the grid's
    /// configurations, the last raced option varying fastest after sorting
    /// by key), the candidate batch sizes, seeds `1..=max_seeds`. Its runs
    /// and its hash are exactly those of the study file with the same
    /// settings (same ids, same numbers).
    pub fn study(&self) -> Result<Study, TuneError> {
        let written = self.optimizer.written();
        let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
        for (key, values) in &self.grid {
            if written.contains_key(key) {
                return Err(TuneError::RacedAndFixed(key.clone()));
            }
            axes.push((
                key.clone(),
                values.iter().cloned().map(toml::Value::String).collect(),
            ));
        }
        axes.sort_by(|a, b| a.0.cmp(&b.0));
        let configs = expand(&self.optimizer, &written, &axes).map_err(TuneError::Study)?;
        StudyParts {
            name: format!(
                "tune: {} batch size on {}",
                self.optimizer_name(),
                self.data.dataset.as_deref().unwrap_or("digits")
            ),
            written_data: self.data.written(),
            data: self.data.clone(),
            written_model: self.model.written(),
            model: self.model.clone(),
            batch_sizes: self.batch_sizes.clone(),
            seeds: (1..=self.max_seeds as u64).collect(),
            sampling: self.sampling,
            last_batch: self.last_batch,
            optimizers: vec![StudyOptimizer {
                name: self.optimizer_name().to_string(),
                epochs: self.epochs,
                configs,
            }],
            runs_per_cell: None,
            sample_seed: 0,
            stopping: crate::run::Stopping::NONE,
        }
        .finish()
        .map_err(TuneError::Study)
    }
}

/// One contender: a batch size with one hyperparameter configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Samples per step.
    pub batch_size: BatchSize,
    /// The configuration's id in the study (`h0`, ...).
    pub config_id: String,
    /// The configuration, for people.
    pub config: String,
    /// The values of the raced flags (empty without `--grid`).
    pub grid: BTreeMap<String, String>,
    /// `batch 32` or `batch 32, lr 0.1`.
    pub label: String,
}

/// A tune ready to run: its study, candidates and race settings.
#[derive(Clone, Debug)]
pub struct Tune {
    /// What was asked.
    pub request: Request,
    /// The study the directory holds.
    pub study: Study,
    /// The candidates, in study order (batch size, then configuration).
    pub candidates: Vec<Candidate>,
    /// The race's settings.
    pub settings: RaceSettings,
    /// The study's runs (every candidate x every seed).
    pub runs: Vec<PlannedRun>,
    /// Batch sizes dropped because they exceed the training set.
    pub dropped: Vec<BatchSize>,
}

impl Tune {
    /// Prepares the tune of `request` on `data`: batch sizes larger than
    /// the training set are dropped (and listed); failure means a peak at
    /// most chance plus [`CHANCE_MARGIN_POINTS`].
    pub fn new(request: Request, data: &Loaded) -> Result<Tune, TuneError> {
        let train_len = data.train.len();
        let (kept, dropped): (Vec<BatchSize>, Vec<BatchSize>) = request
            .batch_sizes
            .iter()
            .partition(|b| b.samples(train_len) <= train_len);
        if kept.is_empty() {
            return Err(TuneError::NoBatchSize {
                train_samples: train_len,
            });
        }
        let mut request = request;
        request.batch_sizes = kept;
        let study = request.study()?;
        let optimizer = study
            .optimizers
            .first()
            .ok_or(TuneError::Study(StudyProblem::NoOptimizer))?;
        let raced: Vec<&String> = request.grid.iter().map(|(k, _)| k).collect();
        let mut candidates = Vec::new();
        for &batch_size in &study.batch_sizes {
            for config in &optimizer.configs {
                let grid: BTreeMap<String, String> = config
                    .flags
                    .iter()
                    .filter(|(k, _)| raced.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut label = format!("batch {batch_size}");
                for (k, v) in &grid {
                    label.push_str(&format!(", {} {v}", k.replace('_', "-")));
                }
                candidates.push(Candidate {
                    batch_size,
                    config_id: config.id.clone(),
                    config: config.description.clone(),
                    grid,
                    label,
                });
            }
        }
        let settings = RaceSettings {
            candidates: candidates.len(),
            initial_seeds: request.initial_seeds,
            max_seeds: request.max_seeds,
            alpha: request.alpha,
            failure_threshold: Some(
                100.0 / data.train.classes.max(1) as f64 + CHANCE_MARGIN_POINTS,
            ),
            budget: request.budget,
            pick_rule: PickRule::new(request.equivalence_margin, PICK_ALPHA)
                .map_err(|e| TuneError::Settings(race::RaceSettingsError::Margin(e.to_string())))?,
        };
        settings.validate().map_err(TuneError::Settings)?;
        if let Some(budget) = settings.budget
            && budget < candidates.len() * settings.initial_seeds
        {
            return Err(TuneError::Budget {
                budget,
                candidates: candidates.len(),
                seeds: settings.initial_seeds,
            });
        }
        let runs = plan(&study, data.train.len(), data.test.len());
        Ok(Tune {
            request,
            study,
            candidates,
            settings,
            runs,
            dropped,
        })
    }

    /// The candidate of a row, if the row is one of this tune's runs.
    pub(crate) fn candidate_of(&self, row: &Row) -> Option<usize> {
        self.candidate_of_parts(&row.batch_size, &row.config_id)
    }

    fn candidate_of_parts(&self, batch_size: &str, config_id: &str) -> Option<usize> {
        self.candidates
            .iter()
            .position(|c| c.batch_size.to_string() == batch_size && c.config_id == config_id)
    }

    /// The response of the directory's rows: the requested one, or
    /// `selected` when every ok row of this tune has a selected test
    /// accuracy, else `peak`.
    ///
    /// # Errors
    /// [`TuneError::Response`] for `selected` on rows without it.
    pub fn response(&self, rows: &[Row<ReportedResult>]) -> Result<Response, TuneError> {
        Response::resolve_by(
            self.request.response,
            rows.iter()
                .filter(|r| r.optimizer == self.request.optimizer_name() && r.status == "ok")
                .map(|r| r.result.selected_test_accuracy.is_some()),
        )
        .map_err(TuneError::Response)
    }

    /// The race's view of the directory's rows (rows of other optimizers or
    /// seeds are ignored): `response` in percent.
    pub fn observations(
        &self,
        rows: &[Row<ReportedResult>],
        response: Response,
    ) -> Vec<Observation> {
        rows.iter()
            .filter(|r| r.optimizer == self.request.optimizer_name())
            .filter_map(|r| {
                let candidate = self.candidate_of_parts(&r.batch_size, &r.config_id)?;
                let seed = self.study.seeds.iter().position(|&s| s == r.seed)?;
                let peak = match r.status.as_str() {
                    "ok" => response.of_reported(&r.result).map(|v| 100.0 * v),
                    _ => None,
                };
                Some(Observation {
                    candidate,
                    seed,
                    peak,
                })
            })
            .collect()
    }

    /// The run of (candidate, seed index).
    pub(crate) fn run_id(&self, candidate: usize, seed: usize) -> Option<String> {
        let c = self.candidates.get(candidate)?;
        let s = self.study.seeds.get(seed)?;
        Some(format!(
            "{}-b{}-{}-s{}",
            self.request.optimizer_name(),
            c.batch_size,
            c.config_id,
            s
        ))
    }
}

/// How to run a tune.
#[derive(Clone, Copy, Debug)]
pub struct TuneOptions {
    /// Runs at once.
    pub threads: usize,
    /// Nothing on stderr.
    pub quiet: bool,
    /// Stop before a round that would end after this much wall time.
    pub time: Option<Duration>,
}

/// What a tune did.
#[derive(Clone, Debug)]
pub struct Tuned {
    /// The race, finished.
    pub race: Race,
    /// Every row of the directory.
    pub rows: Vec<Row>,
    /// Runs done by this invocation.
    pub ran: usize,
    /// Runs of the race found done before.
    pub resumed: usize,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
    /// The accuracy raced.
    pub response: Response,
}
