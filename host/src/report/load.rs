//! Reading a sweep directory: `runs.jsonl` (required), `curves.jsonl` and
//! `study.json` (optional), into a [`Sweep`].
//!
//! A sweep killed mid-write leaves a torn last line; that one line is skipped
//! with a warning. Every other malformed line is an error naming the file,
//! the line and what was expected.

use crate::run::BatchSize;
use serde::Serialize;
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

/// Field access with messages naming the field and the expected type.
struct Fields<'a> {
    map: &'a Object,
}

impl Fields<'_> {
    fn present(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<String, String> {
        match self.present(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(format!("`{key}` is empty; expected a non-empty string")),
            Some(v) => Err(format!("`{key}` is {v}; expected a string")),
            None => Err(format!("`{key}` is missing; expected a string")),
        }
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(format!("`{key}` is {v}; expected a string")),
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is {v}; expected a whole number >= 0")),
        }
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| format!("`{key}` is {v}; expected a finite number")),
        }
    }

    fn accuracy(&self, key: &str) -> Result<f64, String> {
        match self.opt_f64(key)? {
            Some(a) if (0.0..=1.0).contains(&a) => Ok(a),
            Some(a) => Err(format!(
                "`{key}` is {a}; expected an accuracy as a fraction in [0, 1]"
            )),
            None => Err(format!(
                "`{key}` is missing, but the status is ok; expected an accuracy in [0, 1]"
            )),
        }
    }
}

fn parse_run(line: usize, map: &Object) -> Result<Run, String> {
    let f = Fields { map };
    let run_id = f.string("run_id")?;
    let optimizer = f.string("optimizer")?;
    let batch_size = match f.present("batch_size") {
        Some(Value::String(s)) => s.parse::<BatchSize>(),
        Some(Value::Number(n)) => n.to_string().parse::<BatchSize>(),
        Some(v) => Err(format!(
            "`{v}` is not a batch size; expected a number of samples >= 1, or `full`"
        )),
        None => Err("missing; expected a number of samples >= 1, or `full`".to_string()),
    }
    .map_err(|e| format!("`batch_size`: {e}"))?;
    let config_id = f
        .opt_string("config_id")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let config = f.opt_string("config")?.unwrap_or_default();
    let seed = f
        .opt_u64("seed")?
        .ok_or("`seed` is missing; expected a whole number >= 0")?;
    let status = f.string("status")?;
    let outcome = if status.trim() == "ok" {
        RunOutcome::Ok(Metrics {
            peak_test_accuracy: f.accuracy("peak_test_accuracy")?,
            peak_epoch: f.opt_u64("peak_epoch")?,
            final_test_accuracy: f.accuracy("final_test_accuracy")?,
            final_test_loss: f.opt_f64("final_test_loss")?,
            final_train_loss: f.opt_f64("final_train_loss")?,
            epochs: f.opt_u64("epochs")?,
            evaluations: f.opt_u64("evaluations")?,
            gradients: f.opt_u64("gradients")?,
            recoveries: f.opt_u64("recoveries")?,
            line_search_failures: f.opt_u64("line_search_failures")?,
            wall_seconds: f.opt_f64("wall_seconds")?,
            train_seconds: f.opt_f64("train_seconds")?,
            param_hash: f.opt_string("param_hash")?,
        })
    } else {
        RunOutcome::Error { message: status }
    };
    Ok(Run {
        run_id,
        optimizer,
        batch_size,
        config_id,
        config,
        seed,
        outcome,
        line,
    })
}

fn read_runs(path: &Path, warnings: &mut Vec<String>) -> Result<Vec<Run>, LoadError> {
    let mut runs: Vec<Run> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (line, map) in read_json_lines(path, warnings)? {
        let run = parse_run(line, &map).map_err(|message| LoadError {
            path: path.to_path_buf(),
            line: Some(line),
            message,
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

fn read_curves(path: &Path, warnings: &mut Vec<String>) -> Result<Vec<CurvePoint>, LoadError> {
    let mut points = Vec::new();
    let mut without = 0usize;
    for (line, map) in read_json_lines(path, warnings)? {
        let f = Fields { map: &map };
        // A diverged run's accuracy may be written as null (JSON has no NaN).
        if f.present("test_accuracy").is_none() && map.contains_key("test_accuracy") {
            without += 1;
            continue;
        }
        let point = (|| -> Result<CurvePoint, String> {
            Ok(CurvePoint {
                run_id: f.string("run_id")?,
                epoch: f
                    .opt_u64("epoch")?
                    .ok_or("`epoch` is missing; expected a whole number >= 1")?,
                test_accuracy: f.accuracy("test_accuracy")?,
                test_loss: f.opt_f64("test_loss")?,
            })
        })()
        .map_err(|message| LoadError {
            path: path.to_path_buf(),
            line: Some(line),
            message,
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
