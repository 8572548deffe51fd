//! `sooth tune`: a race over batch sizes (and optionally one or two
//! hyperparameters) that finds the best one with a fraction of the runs of
//! the full grid.
//!
//! The race is [`race::race`], a pure function of the runs' peak
//! accuracies (its module states the test, the schedule and the stopping
//! rule). This module runs it: the tune's directory is a sweep directory of
//! ONE study (every candidate x `max_seeds` seeds, see [`Request::study`]),
//! and each round runs the runs the race asks for through
//! [`crate::sweep::sweep_selected`]. So a tune is resumable and kill-safe
//! like a sweep (a rerun recomputes every decision from the rows and runs
//! only what is missing), and `sooth report DIR` reads its directory.

pub mod output;
pub mod plot;
pub mod race;

use crate::data::Loaded;
use crate::run::BatchSize;
use crate::sweep::{PlannedRun, Row, Study, SweepOptions, plan, store, sweep_selected};
use race::{Observation, Race, RaceSettings, Stop};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// A run counts as failed when its peak test accuracy is at most chance
/// plus this many percentage points (the report's near-chance rule).
pub const CHANCE_MARGIN_POINTS: f64 = 5.0;

/// What to tune, as flags: everything [`Request::study`] needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Data flags without dashes (`dataset`, `scale`, ...), non-default ones.
    pub data: BTreeMap<String, String>,
    /// Model flags (`hidden`, `activation`, `l2`).
    pub model: BTreeMap<String, String>,
    /// `sgd`, `adam`, `cg` or `lbfgs`.
    pub optimizer: String,
    /// The optimizer's fixed flags.
    pub flags: BTreeMap<String, String>,
    /// Optimizer flags raced too, each with its values (at most two).
    pub grid: Vec<(String, Vec<String>)>,
    /// Candidate batch sizes, in order.
    pub batch_sizes: Vec<BatchSize>,
    /// Epochs of every run.
    pub epochs: u32,
    /// `shuffle` or `replacement`.
    pub sampling: String,
    /// `keep` or `drop`.
    pub last_batch: String,
    /// Seeds per candidate in the first round.
    pub initial_seeds: usize,
    /// The most seeds per candidate (the study's seeds are `1..=max_seeds`).
    pub max_seeds: usize,
    /// Family-wise level of the whole race.
    pub alpha: f64,
    /// The most runs the race may use.
    pub budget: Option<usize>,
}

impl Request {
    /// The study of the tune: the one optimizer (with the grid's
    /// configurations), the candidate batch sizes, seeds `1..=max_seeds`,
    /// written as a study file and read by the sweep's own reader, so the
    /// flags mean what they mean everywhere. Its runs are exactly those of
    /// any study with the same settings (same ids, same numbers).
    pub fn study(&self) -> Result<Study, String> {
        use toml::{Table, Value};
        let strings = |m: &BTreeMap<String, String>| -> Table {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        };
        let mut optimizer = strings(&self.flags);
        optimizer.insert("name".into(), Value::String(self.optimizer.clone()));
        for (key, values) in &self.grid {
            if self.flags.contains_key(key) {
                return Err(format!(
                    "--grid {key}: --{} is also given as a flag; give it once",
                    key.replace('_', "-")
                ));
            }
            optimizer.insert(
                key.clone(),
                Value::Array(values.iter().cloned().map(Value::String).collect()),
            );
        }
        let mut grid = Table::new();
        grid.insert(
            "batch_sizes".into(),
            Value::Array(
                self.batch_sizes
                    .iter()
                    .map(|b| Value::String(b.to_string()))
                    .collect(),
            ),
        );
        grid.insert("seeds".into(), Value::Integer(self.max_seeds as i64));
        grid.insert("epochs".into(), Value::Integer(i64::from(self.epochs)));
        grid.insert("sampling".into(), Value::String(self.sampling.clone()));
        grid.insert("last_batch".into(), Value::String(self.last_batch.clone()));
        let mut file = Table::new();
        file.insert(
            "name".into(),
            Value::String(format!(
                "tune: {} batch size on {}",
                self.optimizer,
                self.data.get("dataset").map_or("digits", |d| d.as_str())
            )),
        );
        file.insert("data".into(), Value::Table(strings(&self.data)));
        file.insert("model".into(), Value::Table(strings(&self.model)));
        file.insert("grid".into(), Value::Table(grid));
        file.insert(
            "optimizer".into(),
            Value::Array(vec![Value::Table(optimizer)]),
        );
        let text = toml::to_string(&file).map_err(|e| e.to_string())?;
        Study::from_toml(&text, "the tune's study")
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
    pub fn new(request: Request, data: &Loaded) -> Result<Tune, String> {
        let train_len = data.train.len();
        let (kept, dropped): (Vec<BatchSize>, Vec<BatchSize>) = request
            .batch_sizes
            .iter()
            .partition(|b| b.samples(train_len) <= train_len);
        if kept.is_empty() {
            return Err(format!(
                "every batch size exceeds the {train_len} training samples"
            ));
        }
        let mut request = request;
        request.batch_sizes = kept;
        let study = request.study()?;
        let optimizer = study
            .optimizers
            .first()
            .ok_or("the tune's study has no optimizer")?;
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
        };
        settings.validate()?;
        if let Some(budget) = settings.budget
            && budget < candidates.len() * settings.initial_seeds
        {
            return Err(format!(
                "a budget of {budget} runs cannot pay for the first round: {} candidates x {} seeds = {} runs",
                candidates.len(),
                settings.initial_seeds,
                candidates.len() * settings.initial_seeds
            ));
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
    fn candidate_of(&self, row: &Row) -> Option<usize> {
        self.candidates.iter().position(|c| {
            c.batch_size.to_string() == row.batch_size && c.config_id == row.config_id
        })
    }

    /// The race's view of the directory's rows (rows of other optimizers or
    /// seeds are ignored): peaks in percent.
    pub fn observations(&self, rows: &[Row]) -> Vec<Observation> {
        rows.iter()
            .filter(|r| r.optimizer == self.request.optimizer)
            .filter_map(|r| {
                let candidate = self.candidate_of(r)?;
                let seed = self.study.seeds.iter().position(|&s| s == r.seed)?;
                let peak = match (&r.result, r.status.as_str()) {
                    (Some(result), "ok") => Some(100.0 * result.peak_test_accuracy),
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
    fn run_id(&self, candidate: usize, seed: usize) -> Option<String> {
        let c = self.candidates.get(candidate)?;
        let s = self.study.seeds.get(seed)?;
        Some(format!(
            "{}-b{}-{}-s{}",
            self.request.optimizer, c.batch_size, c.config_id, s
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
}

/// Runs the race of `tune` into `dir` until it is decided: reads the rows,
/// asks the race which runs it needs, runs them, and again. Rows already in
/// `dir` are reused; the directory must hold this tune's study (or nothing).
pub fn run(tune: &Tune, data: &Loaded, dir: &Path, options: TuneOptions) -> Result<Tuned, String> {
    let start = Instant::now();
    let sweep_options = SweepOptions {
        threads: options.threads.max(1),
        shard: None,
        quiet: options.quiet,
    };
    // Creates the directory, checks that it holds this study, tidies what a
    // kill left; runs nothing.
    sweep_selected(
        &tune.study,
        data,
        tune.runs.clone(),
        dir,
        sweep_options,
        |_| false,
    )?;
    let mut ran = 0;
    let mut reported = 0;
    let mut first_missing: Option<usize> = None;
    loop {
        let rows = read_rows(dir)?;
        let mut race = race::race(&tune.settings, &tune.observations(&rows));
        if !options.quiet {
            for round in &race.rounds[reported..] {
                eprintln!("{}", output::round_line(tune, round));
            }
            reported = race.rounds.len();
        }
        if first_missing.is_none() {
            first_missing = Some(race.missing().len());
        }
        if !race.finished()
            && let Some(limit) = options.time
            && !race.rounds.is_empty()
        {
            let estimate = estimate_seconds(tune, &rows, race.missing(), options.threads);
            if start.elapsed().as_secs_f64() + estimate > limit.as_secs_f64() {
                if !options.quiet {
                    eprintln!(
                        "sooth tune: stopping: the next round needs about {estimate:.0} s more \
                         than the time left"
                    );
                }
                race = race.stopped(Stop::Time);
            }
        }
        if race.finished() {
            let needed = race.runs;
            return Ok(Tuned {
                race,
                rows,
                ran,
                resumed: needed.saturating_sub(ran),
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        let wanted: HashSet<String> = race
            .missing()
            .iter()
            .filter_map(|&(c, s)| tune.run_id(c, s))
            .collect();
        let outcome = sweep_selected(
            &tune.study,
            data,
            tune.runs.clone(),
            dir,
            sweep_options,
            |r| wanted.contains(&r.run_id),
        )?;
        if outcome.ran == 0 {
            return Err(format!(
                "{}: the race needs {} runs that the sweep did not produce (first: {})",
                dir.display(),
                wanted.len(),
                wanted.iter().min().map_or("", |s| s.as_str())
            ));
        }
        ran += outcome.ran;
    }
}

/// The rows of `dir` (what a killed run left is dropped by the sweep).
pub fn read_rows(dir: &Path) -> Result<Vec<Row>, String> {
    Ok(store::read_jsonl::<Row>(&dir.join(store::RUNS_JSONL))?.0)
}

/// Expected wall seconds of `missing` on `threads` workers, from the mean
/// time of each candidate's finished runs (of all runs, for a candidate
/// without any).
fn estimate_seconds(tune: &Tune, rows: &[Row], missing: &[(usize, usize)], threads: usize) -> f64 {
    let mut per: HashMap<usize, (f64, usize)> = HashMap::new();
    let (mut all, mut count) = (0.0, 0usize);
    for row in rows {
        let (Some(c), Some(r)) = (tune.candidate_of(row), &row.result) else {
            continue;
        };
        if r.wall_seconds.is_finite() {
            let e = per.entry(c).or_default();
            e.0 += r.wall_seconds;
            e.1 += 1;
            all += r.wall_seconds;
            count += 1;
        }
    }
    let fallback = if count > 0 { all / count as f64 } else { 0.0 };
    let total: f64 = missing
        .iter()
        .map(|(c, _)| per.get(c).map_or(fallback, |&(s, n)| s / n as f64))
        .sum();
    total / threads.max(1) as f64
}
