//! Sweeps: every run of a [`Study`] (optimizers x configurations x batch
//! sizes x seeds), on all cores, resumable after a kill at any moment,
//! shardable across machines, with results that do not depend on the
//! number of threads or shards (each run is deterministic and independent).
//!
//! See [`store`] for the directory layout and what a kill leaves behind.

pub mod interrupt;
pub mod merge;
pub mod plan;
pub mod store;
pub mod study;

pub use plan::{PlannedRun, Shard, assign_shards, expected_cost, plan, shard_runs};
pub use store::{CurveLine, Manifest, Row};
pub use study::{BuiltinStudy, DEFAULT_STUDY, SENSITIVITY_STUDY, Study, StudyError, StudyProblem};

use crate::data::{DataError, Loaded, load};
use crate::run::{RunError, Trained, train_with_validation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// The exit status of `sooth sweep` (and `tune`, `report`) when it
/// finished but some runs ended in an error: the job scripts of
/// [`crate::slurm`] tell it apart from a failure.
pub const EXIT_RUNS_FAILED: i32 = 3;

/// Why a sweep or a merge cannot go on.
#[derive(Debug)]
pub enum SweepError {
    /// The study's data could not be loaded.
    Data(DataError),
    /// Reading, writing or locking a sweep directory failed (the store's
    /// error names the file).
    Store(store::StoreError),
    /// The directory holds a sweep of another study.
    OtherStudy {
        /// The directory.
        dir: PathBuf,
        /// The hash of the study it holds.
        found: String,
        /// The hash of this study.
        wanted: String,
    },
    /// The directory holds another shard of this study.
    OtherShard {
        /// The directory.
        dir: PathBuf,
        /// The shard it holds (`None`: the whole study).
        found: Option<String>,
        /// The shard asked for.
        wanted: Option<String>,
    },
    /// A merge was given no directories.
    NoShards,
    /// A directory given to a merge has no `study.json`.
    NotASweep(PathBuf),
    /// Two directories given to a merge hold different studies.
    DifferentStudies {
        /// The first directory and its study's hash.
        first: (PathBuf, String),
        /// The other directory and its study's hash.
        other: (PathBuf, String),
    },
    /// A run's rows differ between two directories given to a merge.
    RunDiffers {
        /// The run.
        run_id: String,
        /// The directories.
        dirs: (PathBuf, PathBuf),
    },
    /// The merge's target directory holds another study.
    MergeTarget {
        /// The directory.
        dir: PathBuf,
        /// The hash of the study it holds.
        found: String,
    },
    /// The merge's target directory holds one shard of the study.
    MergeIntoShard {
        /// The directory.
        dir: PathBuf,
        /// The shard it holds (`K/N`).
        shard: String,
    },
    /// The merge's target directory holds rows but no `study.json`.
    MergeTargetUnknown(PathBuf),
    /// A data file's contents differ from those the directory's runs used.
    DataChanged {
        /// The sweep directory.
        dir: PathBuf,
        /// The data file, as the study writes it.
        file: String,
        /// Its content hash when the directory's runs were made.
        found: String,
        /// Its content hash now.
        now: String,
    },
    /// Two directories given to a merge were run on different contents of
    /// a data file.
    DataDiffers {
        /// The data file, as the study writes it.
        file: String,
        /// The first directory and the file's hash there.
        first: (PathBuf, String),
        /// The other directory and the file's hash there.
        other: (PathBuf, String),
    },
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Data(e) => write!(f, "{e}"),
            SweepError::Store(e) => write!(f, "{e}"),
            SweepError::OtherStudy { dir, found, wanted } => write!(
                f,
                "{}: holds a sweep of another configuration (hash {found}, this one {wanted}); \
                 use another --out directory, or delete it to start over",
                dir.display()
            ),
            SweepError::OtherShard { dir, found, wanted } => write!(
                f,
                "{}: holds shard {} of this study, not {}; give each shard its own directory",
                dir.display(),
                found.as_deref().unwrap_or("(all)"),
                wanted.as_deref().unwrap_or("(all)")
            ),
            SweepError::NoShards => f.write_str("no shard directories given"),
            SweepError::NotASweep(dir) => write!(
                f,
                "{}: no study.json; expected a sweep directory",
                dir.display()
            ),
            SweepError::DifferentStudies { first, other } => write!(
                f,
                "{} and {} hold different studies (config hash {} and {})",
                first.0.display(),
                other.0.display(),
                first.1,
                other.1
            ),
            SweepError::RunDiffers { run_id, dirs } => write!(
                f,
                "run {run_id} differs between {} and {}; a run must give the same numbers everywhere",
                dirs.0.display(),
                dirs.1.display()
            ),
            SweepError::MergeTarget { dir, found } => write!(
                f,
                "{}: holds a sweep of another configuration (hash {found}); merge into a new directory",
                dir.display()
            ),
            SweepError::MergeIntoShard { dir, shard } => write!(
                f,
                "{}: holds shard {shard} of this study; merge into a new directory, or into one \
                 that holds the whole study",
                dir.display()
            ),
            SweepError::MergeTargetUnknown(dir) => write!(
                f,
                "{}: holds runs.jsonl but no study.json, so its rows cannot be checked against \
                 the study; merge into a new directory",
                dir.display()
            ),
            SweepError::DataChanged {
                dir,
                file,
                found,
                now,
            } => write!(
                f,
                "{}: its runs were made with {file} of content hash {found}, but {file} now has \
                 hash {now}; resuming or merging would mix results of two data sets: restore the \
                 file, or use another --out directory",
                dir.display()
            ),
            SweepError::DataDiffers { file, first, other } => write!(
                f,
                "{} and {} were run on different contents of {file} (content hash {} and {}); \
                 a merge would mix results of two data sets",
                first.0.display(),
                other.0.display(),
                first.1,
                other.1
            ),
        }
    }
}

impl std::error::Error for SweepError {}

impl From<store::StoreError> for SweepError {
    fn from(e: store::StoreError) -> SweepError {
        SweepError::Store(e)
    }
}

/// How to run a sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Worker threads (runs in parallel), `>= 1`.
    pub threads: usize,
    /// Only this shard's runs.
    pub shard: Option<Shard>,
    /// No progress bar.
    pub quiet: bool,
}

/// What a sweep did.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepOutcome {
    /// Runs this directory is to hold (the shard's, or the whole study's).
    pub planned: usize,
    /// Runs found already done.
    pub resumed: usize,
    /// Runs done now.
    pub ran: usize,
    /// Runs (done now or before) whose status is an error.
    pub errors: usize,
    /// The first of them in study order: its id and its status.
    pub first_error: Option<(String, String)>,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
}

/// The manifest of `study` on `data` for `shard`.
pub fn manifest(study: &Study, data: &Loaded, total_runs: usize, shard: Option<Shard>) -> Manifest {
    let model = study.model_spec();
    Manifest {
        name: study.name.clone(),
        config_hash: study.config_hash(),
        data_hashes: None,
        dataset: data.description.clone(),
        model: model.describe(data.train.width, data.train.classes),
        train_samples: data.train.len(),
        test_samples: data.test.len(),
        classes: data.train.classes,
        total_runs,
        shard: store::shard_label(shard),
        epochs: study
            .optimizers
            .iter()
            .map(|o| (o.name.clone(), o.epochs))
            .collect(),
        batch_sizes: study.batch_sizes.iter().map(|b| b.to_string()).collect(),
        seeds: study.seeds.len(),
        optimizers: study.optimizers.iter().map(|o| o.name.clone()).collect(),
        sooth_version: env!("CARGO_PKG_VERSION").to_string(),
        study: study.clone(),
    }
}

/// The content hashes of the study's data files ([`store::file_hash`]), by
/// path as the study writes it; `None` for built-in data.
pub fn data_hashes(study: &Study) -> Result<Option<BTreeMap<String, String>>, SweepError> {
    let files = study.data_spec().files();
    if files.is_empty() {
        return Ok(None);
    }
    let mut hashes = BTreeMap::new();
    for file in files {
        hashes.insert(file.display().to_string(), store::file_hash(&file)?);
    }
    Ok(Some(hashes))
}

/// Refuses `dir` (whose manifest keeps `found`) when a data file's hash
/// differs from `now`; a manifest without hashes (an older sooth's) is
/// accepted.
pub fn check_data(
    dir: &Path,
    found: Option<&BTreeMap<String, String>>,
    now: Option<&BTreeMap<String, String>>,
) -> Result<(), SweepError> {
    let (Some(found), Some(now)) = (found, now) else {
        return Ok(());
    };
    for (file, was) in found {
        if let Some(is) = now.get(file)
            && is != was
        {
            return Err(SweepError::DataChanged {
                dir: dir.to_path_buf(),
                file: file.clone(),
                found: was.clone(),
                now: is.clone(),
            });
        }
    }
    Ok(())
}

/// Loads the study's data and plans its runs (the whole study).
pub fn prepare(study: &Study) -> Result<(Loaded, Vec<PlannedRun>), SweepError> {
    let data = load(&study.data_spec()).map_err(SweepError::Data)?;
    let runs = plan(study, data.train.len(), data.test.len());
    Ok((data, runs))
}

/// Runs the study's missing runs into `dir` (created if needed).
pub fn sweep(study: &Study, dir: &Path, options: SweepOptions) -> Result<SweepOutcome, SweepError> {
    let (data, runs) = prepare(study)?;
    sweep_selected(study, &data, runs, dir, options, |_| true)
}

/// Runs the missing runs among those of `runs` (the study's whole plan, on
/// `data`) that `select` accepts, into `dir`. This is [`sweep`] for callers
/// that choose runs adaptively (`sooth tune`): the directory is the same
/// study's, so rows from any mix of calls stay comparable and resumable.
pub fn sweep_selected(
    study: &Study,
    data: &Loaded,
    runs: Vec<PlannedRun>,
    dir: &Path,
    options: SweepOptions,
    select: impl Fn(&PlannedRun) -> bool,
) -> Result<SweepOutcome, SweepError> {
    let start = Instant::now();
    let all_runs = runs;
    let order = store::order_of(&all_runs);
    let total = all_runs.len();
    let runs: Vec<PlannedRun> = match options.shard {
        Some(shard) => shard_runs(all_runs, shard),
        None => all_runs,
    }
    .into_iter()
    .filter(|r| select(r))
    .collect();
    std::fs::create_dir_all(dir).map_err(|source| {
        SweepError::Store(store::StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })
    })?;
    let _lock = store::DirLock::acquire(dir)?;
    let mut wanted = manifest(study, data, total, options.shard);
    wanted.data_hashes = data_hashes(study)?;
    match store::read_manifest(dir)? {
        Some(found) if found.config_hash != wanted.config_hash => {
            return Err(SweepError::OtherStudy {
                dir: dir.to_path_buf(),
                found: found.config_hash,
                wanted: wanted.config_hash,
            });
        }
        Some(found) if found.shard != wanted.shard => {
            return Err(SweepError::OtherShard {
                dir: dir.to_path_buf(),
                found: found.shard,
                wanted: wanted.shard,
            });
        }
        Some(found) => check_data(dir, found.data_hashes.as_ref(), wanted.data_hashes.as_ref())?,
        None => store::write_manifest(dir, &wanted)?,
    }
    // What a previous, possibly killed, sweep left.
    let (rows, torn_rows) = store::read_jsonl::<Row>(&dir.join(store::RUNS_JSONL))?;
    let (curves, torn_curves) = store::read_jsonl::<CurveLine>(&dir.join(store::CURVES))?;
    let done: HashSet<String> = rows.iter().map(|r| r.run_id.clone()).collect();
    let orphans = curves.iter().any(|c| !done.contains(&c.run_id));
    if torn_rows || torn_curves || orphans {
        if !options.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "sooth sweep: {}: dropped the lines of runs a previous sweep did not finish",
                dir.display()
            );
        }
        store::write_canonical(dir, &rows, &curves, &order)?;
    }
    let todo: Vec<&PlannedRun> = runs.iter().filter(|r| !done.contains(&r.run_id)).collect();
    let resumed = runs.len() - todo.len();
    let progress = progress_bar(&runs, &todo, options.quiet);
    let mut finished = resumed;
    progress.set_message(format!("{finished}/{} runs", runs.len()));
    let running = interrupt::Running::start(done.len());
    let ran = execute(&todo, data, options.threads, |run, outcome| {
        let (curve, row) = to_lines(run, outcome);
        store::append_lines(&dir.join(store::CURVES), &curve)?;
        store::append_lines(&dir.join(store::RUNS_JSONL), &row)?;
        running.saved();
        finished += 1;
        progress.inc(run.cost.round() as u64);
        progress.set_message(format!("{finished}/{} runs", runs.len()));
        Ok(())
    })?;
    progress.finish_and_clear();
    drop(running);
    let (rows, _) = store::read_jsonl::<Row>(&dir.join(store::RUNS_JSONL))?;
    let (curves, _) = store::read_jsonl::<CurveLine>(&dir.join(store::CURVES))?;
    store::write_canonical(dir, &rows, &curves, &order)?;
    let selected: HashSet<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    let failed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.status != "ok" && selected.contains(r.run_id.as_str()))
        .collect();
    let errors = failed.len();
    let first_error = failed
        .iter()
        .min_by_key(|r| order.get(&r.run_id).copied().unwrap_or(usize::MAX))
        .map(|r| (r.run_id.clone(), r.status.clone()));
    Ok(SweepOutcome {
        planned: runs.len(),
        resumed,
        ran,
        errors,
        first_error,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The curve lines and the row of a finished run.
fn to_lines(run: &PlannedRun, outcome: Result<Trained, RunError>) -> (String, String) {
    let (status, result, curve) = match outcome {
        Ok(t) => ("ok".to_string(), Some(t.result), t.curve),
        Err(e) => (format!("error: {e}"), None, Vec::new()),
    };
    let row = Row {
        run_id: run.run_id.clone(),
        optimizer: run.optimizer.clone(),
        batch_size: run.batch.to_string(),
        config_id: run.config_id.clone(),
        config: run.config.clone(),
        seed: run.seed,
        status,
        result,
    };
    (
        store::curve_lines(&run.run_id, &curve),
        store::row_line(&row),
    )
}

/// Runs `todo` on `threads` workers; `record` is called on this thread, in
/// completion order, for each finished run. Returns the number of runs.
fn execute(
    todo: &[&PlannedRun],
    data: &Loaded,
    threads: usize,
    mut record: impl FnMut(&PlannedRun, Result<Trained, RunError>) -> Result<(), SweepError>,
) -> Result<usize, SweepError> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<Trained, RunError>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(todo.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = todo.get(i) else { break };
                    let outcome = train_with_validation(
                        &run.spec,
                        &data.train,
                        data.validation.as_ref(),
                        &data.test,
                        |_| {},
                    );
                    if tx.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut finished = 0;
        for (i, outcome) in rx {
            if let Err(e) = record(todo[i], outcome) {
                // Stop handing out work; the workers finish their runs.
                next.store(todo.len(), Ordering::Relaxed);
                return Err(e);
            }
            finished += 1;
        }
        Ok(finished)
    })
}

fn progress_bar(runs: &[PlannedRun], todo: &[&PlannedRun], quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() || todo.is_empty() {
        return ProgressBar::hidden();
    }
    let total: f64 = runs.iter().map(|r| r.cost).sum();
    let left: f64 = todo.iter().map(|r| r.cost).sum();
    let bar =
        ProgressBar::with_draw_target(Some(total.round() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {percent:>3}% of the work, {elapsed} (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position((total - left).round() as u64);
    bar.reset_eta();
    bar
}
