//! Reading a sweep directory: `runs.jsonl` (required), `curves.jsonl` and
//! `study.json` (optional), into a [`Sweep`].
//!
//! A sweep killed mid-write leaves a torn last line; that one line is skipped
//! with a warning. Every other malformed line is an error naming the file,
//! the line and what was expected.

use crate::run::BatchSize;
use crate::sweep::store::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The runs file of a sweep directory (one JSON object per run).
pub const RUNS_FILE: &str = "runs.jsonl";
/// The per-epoch curves file (one JSON object per run per epoch).
pub const CURVES_FILE: &str = "curves.jsonl";
/// The resolved study description.
pub const STUDY_FILE: &str = "study.json";

/// Why a sweep directory could not be read: the file, the line (from 1) if
/// the problem is on one, and what was wrong or expected.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// Line number, from 1.
    pub line: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// The resolved study from `study.json`; every field is optional there
/// (unknown fields are ignored), and a missing file gives the defaults with
/// the directory's name as the study name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StudyInfo {
    /// Study name.
    pub name: String,
    /// Data set name or path.
    pub dataset: Option<String>,
    /// Model description, e.g. `64-32-10 relu`.
    pub model: Option<String>,
    /// Epochs per optimizer, in the order given (`[("all", n)]` when the
    /// file gives one number).
    pub epochs: Vec<(String, u64)>,
    /// Batch sizes of the grid, as given.
    pub batch_sizes: Vec<String>,
    /// Seeds per configuration.
    pub seeds: Option<u64>,
    /// Optimizers of the grid, in the study's order.
    pub optimizers: Vec<String>,
    /// Hash of the study configuration.
    pub config_hash: Option<String>,
    /// Number of classes, if the file says (`classes`).
    pub classes: Option<usize>,
    /// Training-set size, if the file says (`train_samples`): where the full
    /// batch sits on a batch-size axis.
    pub train_samples: Option<usize>,
    /// Runs of the whole study, if the file says (`total_runs`).
    #[serde(skip)]
    pub total_runs: Option<usize>,
    /// The shard the directory holds (`K/N`), if the file says (`shard`).
    #[serde(skip)]
    pub shard: Option<String>,
    /// Runs of the study missing from the directory (0 when the file does
    /// not say how many the study has).
    #[serde(skip)]
    pub missing_runs: usize,
}

/// The measured outcome of a run whose status is `ok`. Accuracies are
/// fractions in `[0, 1]` as the sweep writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Best test accuracy over the epochs.
    pub peak_test_accuracy: f64,
    /// First epoch that reached the peak.
    pub peak_epoch: Option<u64>,
    /// Test accuracy after the last epoch.
    pub final_test_accuracy: f64,
    /// Test accuracy at the epoch with the best validation accuracy; `None`
    /// without a validation split (and in sweeps older than it).
    pub selected_test_accuracy: Option<f64>,
    /// Test loss after the last epoch.
    pub final_test_loss: Option<f64>,
    /// Mean minibatch loss of the last epoch.
    pub final_train_loss: Option<f64>,
    /// Epochs run.
    pub epochs: Option<u64>,
    /// Objective evaluations.
    pub evaluations: Option<u64>,
    /// Gradient computations.
    pub gradients: Option<u64>,
    /// Steps that recovered from NaN/Inf.
    pub recoveries: Option<u64>,
    /// Steps whose line search failed.
    pub line_search_failures: Option<u64>,
    /// Wall time of the run, seconds.
    pub wall_seconds: Option<f64>,
    /// Time in optimizer steps, seconds.
    pub train_seconds: Option<f64>,
    /// Hash of the final parameters.
    pub param_hash: Option<String>,
}

/// The result part of a `runs.jsonl` [`Row`] as the report reads it: every
/// field optional (older sweeps wrote fewer; a diverged run's loss is
/// `null`), unknown fields ignored, a field of the wrong type an error
/// naming it. It becomes [`Metrics`] once the row's status is `ok`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ReportedResult {
    /// Best test accuracy over the epochs.
    #[serde(default, deserialize_with = "reported::peak_test_accuracy")]
    pub peak_test_accuracy: Option<f64>,
    /// First epoch that reached the peak.
    #[serde(default, deserialize_with = "reported::peak_epoch")]
    pub peak_epoch: Option<u64>,
    /// Test accuracy after the last epoch.
    #[serde(default, deserialize_with = "reported::final_test_accuracy")]
    pub final_test_accuracy: Option<f64>,
    /// Test accuracy at the epoch selected on validation.
    #[serde(default, deserialize_with = "reported::selected_test_accuracy")]
    pub selected_test_accuracy: Option<f64>,
    /// Test loss after the last epoch.
    #[serde(default, deserialize_with = "reported::final_test_loss")]
    pub final_test_loss: Option<f64>,
    /// Mean minibatch loss of the last epoch.
    #[serde(default, deserialize_with = "reported::final_train_loss")]
    pub final_train_loss: Option<f64>,
    /// Epochs run.
    #[serde(default, deserialize_with = "reported::epochs")]
    pub epochs: Option<u64>,
    /// Objective evaluations.
    #[serde(default, deserialize_with = "reported::evaluations")]
    pub evaluations: Option<u64>,
    /// Gradient computations.
    #[serde(default, deserialize_with = "reported::gradients")]
    pub gradients: Option<u64>,
    /// Steps that recovered from NaN/Inf.
    #[serde(default, deserialize_with = "reported::recoveries")]
    pub recoveries: Option<u64>,
    /// Steps whose line search failed.
    #[serde(default, deserialize_with = "reported::line_search_failures")]
    pub line_search_failures: Option<u64>,
    /// Wall time of the run, seconds.
    #[serde(default, deserialize_with = "reported::wall_seconds")]
    pub wall_seconds: Option<f64>,
    /// Time in optimizer steps, seconds.
    #[serde(default, deserialize_with = "reported::train_seconds")]
    pub train_seconds: Option<f64>,
    /// Hash of the final parameters.
    #[serde(default, deserialize_with = "reported::param_hash")]
    pub param_hash: Option<String>,
}

/// One line of `curves.jsonl` as the report reads it (every field optional
/// here; [`read_curves`] says which are required).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct ReportedPoint {
    #[serde(default, deserialize_with = "reported::run_id")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "reported::epoch")]
    epoch: Option<u64>,
    #[serde(default, deserialize_with = "reported::test_accuracy")]
    test_accuracy: Option<f64>,
    #[serde(default, deserialize_with = "reported::test_loss")]
    test_loss: Option<f64>,
}

/// The readers of [`ReportedResult`]'s and [`ReportedPoint`]'s fields.
mod reported {
    use crate::sweep::store::field::{named_fields, opt_number, opt_text, opt_whole};

    named_fields! {
        peak_test_accuracy: Option<f64> = opt_number;
        peak_epoch: Option<u64> = opt_whole;
        final_test_accuracy: Option<f64> = opt_number;
        selected_test_accuracy: Option<f64> = opt_number;
        final_test_loss: Option<f64> = opt_number;
        final_train_loss: Option<f64> = opt_number;
        epochs: Option<u64> = opt_whole;
        evaluations: Option<u64> = opt_whole;
        gradients: Option<u64> = opt_whole;
        recoveries: Option<u64> = opt_whole;
        line_search_failures: Option<u64> = opt_whole;
        wall_seconds: Option<f64> = opt_number;
        train_seconds: Option<f64> = opt_number;
        param_hash: Option<String> = opt_text;
        run_id: Option<String> = opt_text;
        epoch: Option<u64> = opt_whole;
        test_accuracy: Option<f64> = opt_number;
        test_loss: Option<f64> = opt_number;
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RunOutcome {
    /// Status `ok`, with its results.
    Ok(Metrics),
    /// Any other status (normally `error: ...`), kept verbatim.
    Error {
        /// The status text.
        message: String,
    },
}

/// One line of `runs.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Unique id, e.g. `lbfgs-b64-h0-s3`.
    pub run_id: String,
    /// Optimizer name.
    pub optimizer: String,
    /// Batch size.
    pub batch_size: BatchSize,
    /// Hyperparameter configuration id within the optimizer (`default` if
    /// the line has none).
    pub config_id: String,
    /// Human description of the configuration (empty if none).
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Result or error.
    pub outcome: RunOutcome,
    /// Line of `runs.jsonl` it came from (from 1).
    pub line: usize,
}

impl Run {
    /// The metrics if the run succeeded.
    pub fn metrics(&self) -> Option<&Metrics> {
        match &self.outcome {
            RunOutcome::Ok(m) => Some(m),
            RunOutcome::Error { .. } => None,
        }
    }
}

/// One line of `curves.jsonl`: a run's test accuracy after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// The run.
    pub run_id: String,
    /// Epoch, from 1.
    pub epoch: u64,
    /// Test accuracy (fraction) after the epoch.
    pub test_accuracy: f64,
    /// Test loss after the epoch, if recorded.
    pub test_loss: Option<f64>,
}

/// A sweep directory as read from disk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// The directory.
    pub dir: PathBuf,
    /// The study (defaults when `study.json` is missing).
    pub study: StudyInfo,
    /// The runs, in file order (a later line with the same `run_id`
    /// replaces an earlier one).
    pub runs: Vec<Run>,
    /// The curves, or `None` when there is no `curves.jsonl`.
    pub curves: Option<Vec<CurvePoint>>,
    /// Things a reader should know (skipped torn lines, replaced runs,
    /// missing optional files).
    pub warnings: Vec<String>,
}

/// Reads the sweep directory `dir`.
///
/// # Errors
/// A missing directory or `runs.jsonl`, a file that cannot be read, or a
/// malformed line other than a torn last line.
pub fn load(dir: &Path) -> Result<Sweep, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError {
            path: dir.to_path_buf(),
            line: None,
            message: if dir.exists() {
                "is not a directory; expected a sweep directory holding runs.jsonl".into()
            } else {
                "no such directory; expected a sweep directory holding runs.jsonl".into()
            },
        });
    }
    let mut warnings = Vec::new();
    let runs_path = dir.join(RUNS_FILE);
    if !runs_path.exists() {
        let hint = if dir.join("runs.csv").exists() {
            " (runs.csv is there, but the report reads runs.jsonl, which the sweep writes next to it)"
        } else {
            ""
        };
        return Err(LoadError {
            path: runs_path,
            line: None,
            message: format!(
                "no such file; expected the sweep's results, one JSON object per run{hint}"
            ),
        });
    }
    let runs = read_runs(&runs_path, &mut warnings)?;
    let study_path = dir.join(STUDY_FILE);
    let study = if study_path.exists() {
        read_study(&study_path, &mut warnings)?
    } else {
        warnings.push(format!(
            "{}: no such file; the study's name is taken from the directory and its grid from the runs",
            study_path.display()
        ));
        StudyInfo::default()
    };
    let mut study = StudyInfo {
        name: if study.name.is_empty() {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string())
        } else {
            study.name
        },
        ..study
    };
    count_missing(dir, &mut study, runs.len(), &mut warnings);
    let curves_path = dir.join(CURVES_FILE);
    let curves = if curves_path.exists() {
        Some(read_curves(&curves_path, &mut warnings)?)
    } else {
        warnings.push(format!(
            "{}: no such file; the report has no per-epoch curves",
            curves_path.display()
        ));
        None
    };
    Ok(Sweep {
        dir: dir.to_path_buf(),
        study,
        runs,
        curves,
        warnings,
    })
}

/// A JSON object of one line.
type Object = serde_json::Map<String, Value>;

/// Reads a JSON-lines file into (line number, object) pairs, skipping blank
/// lines and a torn last line (with a warning).
fn read_json_lines(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<(usize, Object)>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        path: path.to_path_buf(),
        line: None,
        message: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let last = lines.last().map(|&(n, _)| n);
    let mut out = Vec::with_capacity(lines.len());
    for (number, line) in lines {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => out.push((number, map)),
            Ok(_) => {
                return Err(LoadError {
                    path: path.to_path_buf(),
                    line: Some(number),
                    message: "expected a JSON object `{...}`".into(),
                });
            }
            Err(e) if Some(number) == last => {
                warnings.push(format!(
                    "{} line {number}: not a complete JSON object ({e}); skipped it as the torn last line of an interrupted sweep",
                    path.display()
                ));
            }
            Err(e) => {
                return Err(LoadError {
                    path: path.to_path_buf(),
                    line: Some(number),
                    message: format!("not valid JSON ({e}); expected one JSON object per line"),
                });
            }
        }
    }
    Ok(out)
}

/// What is wrong with one line; [`LoadError`] adds the file and the line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum LineProblem {
    /// A field is missing or of the wrong type (the message names it).
    #[error("{0}")]
    Field(String),
    /// The batch size does not parse.
    #[error("`batch_size`: {0}")]
    BatchSize(#[from] crate::run::BatchSizeError),
    /// An accuracy outside [0, 1] (a percentage?).
    #[error("`{key}` is {value}; expected an accuracy as a fraction in [0, 1]")]
    AccuracyRange {
        /// The field.
        key: &'static str,
        /// Its value.
        value: f64,
    },
    /// A required accuracy is missing (`but` says why it is required).
    #[error("`{key}` is missing{but}; expected an accuracy in [0, 1]")]
    AccuracyMissing {
        /// The field.
        key: &'static str,
        /// `, but the status is ok`, or nothing.
        but: &'static str,
    },
    /// A required field is missing.
    #[error("`{key}` is missing; expected {expected}")]
    Missing {
        /// The field.
        key: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

/// An accuracy of a run or curve point: present and a fraction in [0, 1].
fn accuracy(key: &'static str, value: Option<f64>, but: &'static str) -> Result<f64, LineProblem> {
    match value {
        Some(a) if (0.0..=1.0).contains(&a) => Ok(a),
        Some(value) => Err(LineProblem::AccuracyRange { key, value }),
        None => Err(LineProblem::AccuracyMissing { key, but }),
    }
}

/// The report's checked view of a row: a parsed batch size, `default` for
/// a missing configuration id, and the metrics of an `ok` row.
fn to_run(row: Row<ReportedResult>, line: usize) -> Result<Run, LineProblem> {
    let batch_size = row.batch_size.parse::<BatchSize>()?;
    let config_id = if row.config_id.is_empty() {
        "default".to_string()
    } else {
        row.config_id
    };
    let outcome = if row.status.trim() == "ok" {
        let r = row.result;
        let ok = ", but the status is ok";
        RunOutcome::Ok(Metrics {
            peak_test_accuracy: accuracy("peak_test_accuracy", r.peak_test_accuracy, ok)?,
            peak_epoch: r.peak_epoch,
            final_test_accuracy: accuracy("final_test_accuracy", r.final_test_accuracy, ok)?,
            selected_test_accuracy: r
                .selected_test_accuracy
                .map(|a| accuracy("selected_test_accuracy", Some(a), ok))
                .transpose()?,
            final_test_loss: r.final_test_loss,
            final_train_loss: r.final_train_loss,
            epochs: r.epochs,
            evaluations: r.evaluations,
            gradients: r.gradients,
            recoveries: r.recoveries,
            line_search_failures: r.line_search_failures,
            wall_seconds: r.wall_seconds,
            train_seconds: r.train_seconds,
            param_hash: r.param_hash,
        })
    } else {
        RunOutcome::Error {
            message: row.status,
        }
    };
    Ok(Run {
        run_id: row.run_id,
        optimizer: row.optimizer,
        batch_size,
        config_id,
        config: row.config,
        seed: row.seed,
        outcome,
        line,
    })
}

/// The fields every line of `runs.jsonl` has. An absent one reads as
/// `null`, so its reader's message names it and what it expects.
const REQUIRED: [&str; 5] = ["run_id", "optimizer", "batch_size", "seed", "status"];

/// Deserializes `T` from a line's object; the message names the field.
fn from_object<T: for<'de> Deserialize<'de>>(map: Object) -> Result<T, LineProblem> {
    T::deserialize(Value::Object(map)).map_err(|e| LineProblem::Field(e.to_string()))
}

fn read_runs(path: &Path, warnings: &mut Vec<String>) -> Result<Vec<Run>, LoadError> {
    let mut runs: Vec<Run> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (line, mut map) in read_json_lines(path, warnings)? {
        for key in REQUIRED {
            map.entry(key).or_insert(Value::Null);
        }
        let run = from_object::<Row<ReportedResult>>(map)
            .and_then(|row| to_run(row, line))
            .map_err(|problem| LoadError {
                path: path.to_path_buf(),
                line: Some(line),
                message: problem.to_string(),
            })?;
        match index.get(&run.run_id) {
            Some(&i) => {
                warnings.push(format!(
                    "{} line {line}: run '{}' already appeared on line {}; the later line replaces it (a resumed sweep?)",
                    path.display(),
                    run.run_id,
                    runs[i].line
                ));
                runs[i] = run;
            }
            None => {
                index.insert(run.run_id.clone(), runs.len());
                runs.push(run);
            }
        }
    }
    if runs.is_empty() {
        return Err(LoadError {
            path: path.to_path_buf(),
            line: None,
            message: "holds no runs; expected one JSON object per run".into(),
        });
    }
    Ok(runs)
}

/// A curve point: `run_id`, `epoch` and `test_accuracy` are required.
fn to_point(p: ReportedPoint) -> Result<CurvePoint, LineProblem> {
    Ok(CurvePoint {
        run_id: p
            .run_id
            .filter(|s| !s.trim().is_empty())
            .ok_or(LineProblem::Missing {
                key: "run_id",
                expected: "a non-empty string",
            })?,
        epoch: p.epoch.ok_or(LineProblem::Missing {
            key: "epoch",
            expected: "a whole number >= 1",
        })?,
        test_accuracy: accuracy("test_accuracy", p.test_accuracy, "")?,
        test_loss: p.test_loss,
    })
}

fn read_curves(path: &Path, warnings: &mut Vec<String>) -> Result<Vec<CurvePoint>, LoadError> {
    let mut points = Vec::new();
    let mut without = 0usize;
    for (line, map) in read_json_lines(path, warnings)? {
        // A diverged run's accuracy may be written as null (JSON has no NaN).
        if map.get("test_accuracy") == Some(&Value::Null) {
            without += 1;
            continue;
        }
        let point = from_object::<ReportedPoint>(map)
            .and_then(to_point)
            .map_err(|problem| LoadError {
                path: path.to_path_buf(),
                line: Some(line),
                message: problem.to_string(),
            })?;
        points.push(point);
    }
    if without > 0 {
        warnings.push(format!(
            "{}: {without} point(s) with a null test_accuracy (diverged runs?) are left out of the curves",
            path.display()
        ));
    }
    Ok(points)
}

fn read_study(path: &Path, warnings: &mut Vec<String>) -> Result<StudyInfo, LoadError> {
    let error = |message: String| LoadError {
        path: path.to_path_buf(),
        line: None,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| LoadError {
        path: path.to_path_buf(),
        line: Some(e.line()),
        message: format!("not valid JSON ({e}); expected the study object the sweep writes"),
    })?;
    let Value::Object(map) = value else {
        return Err(error("expected a JSON object `{...}`".into()));
    };
    let mut ignored = Vec::new();
    let mut text_field = |key: &str| match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            ignored.push(key.to_string());
            None
        }
    };
    let name = text_field("name").unwrap_or_default();
    let dataset = text_field("dataset");
    let model = text_field("model");
    let config_hash = text_field("config_hash");
    let shard = text_field("shard");
    let strings = |v: Option<&Value>| -> Option<Vec<String>> {
        match v? {
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let mut list = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Vec::new(),
        v => strings(v).unwrap_or_else(|| {
            ignored.push(key.to_string());
            Vec::new()
        }),
    };
    let batch_sizes = list("batch_sizes");
    let optimizers = list("optimizers");
    let epochs = match map.get("epochs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            vec![("all".to_string(), n.as_u64().unwrap_or(0))]
        }
        Some(Value::Object(per)) if per.values().all(|v| v.as_u64().is_some()) => {
            let mut pairs: Vec<(String, u64)> = per
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect();
            // The study's optimizer order, then the rest by name.
            pairs.sort_by_key(|(k, _)| {
                (
                    optimizers.iter().position(|o| o == k).unwrap_or(usize::MAX),
                    k.clone(),
                )
            });
            pairs
        }
        Some(_) => {
            ignored.push("epochs".to_string());
            Vec::new()
        }
    };
    let mut count = |key: &str| match map.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                ignored.push(key.to_string());
                None
            }
        },
    };
    let seeds = count("seeds");
    let classes = count("classes").map(|c| c as usize);
    let train_samples = count("train_samples").map(|c| c as usize);
    let total_runs = count("total_runs").map(|c| c as usize);
    if !ignored.is_empty() {
        warnings.push(format!(
            "{}: ignored field(s) {} of an unexpected type",
            path.display(),
            ignored
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(StudyInfo {
        name,
        dataset,
        model,
        epochs,
        batch_sizes,
        seeds,
        optimizers,
        config_hash,
        classes,
        train_samples,
        total_runs,
        shard,
        missing_runs: 0,
    })
}

/// Counts the study's runs missing from a directory of `have` runs, and
/// says what that means in `warnings`: a shard's directory, or a sweep that
/// is still running or was stopped (not a `sooth tune` directory, whose
/// race leaves runs out by design).
fn count_missing(dir: &Path, study: &mut StudyInfo, have: usize, warnings: &mut Vec<String>) {
    let Some(total) = study.total_runs else {
        return;
    };
    // A tune's race runs only the part of its grid it needs.
    if dir.join("tune.json").exists() {
        return;
    }
    study.missing_runs = total.saturating_sub(have);
    if study.missing_runs == 0 {
        return;
    }
    let missing = study.missing_runs;
    warnings.push(match &study.shard {
        Some(shard) => format!(
            "{}: incomplete: it holds shard {shard} of the study, {have} of its {total} runs \
             ({missing} missing), so every verdict covers part of the study only; merge the \
             shards (`sooth merge`) and report the merged directory",
            dir.display()
        ),
        None => format!(
            "{}: incomplete: {have} of the study's {total} runs are here ({missing} missing: a \
             sweep still running, or stopped), so every verdict covers part of the study only; \
             rerun the sweep to complete it",
            dir.display()
        ),
    });
}
