//! The files of one training run: its per-epoch metrics CSV, its saved
//! model (written, read back, or used to start a run from), and the JSON
//! summary `sooth train --json` prints.

use crate::data::{DataSpec, Loaded, Scaling};
use crate::run::{EpochRecord, RunResult, RunSpec, activation_name};
use crate::spec::DataOptions;
use serde::{Deserialize, Serialize};
use sooth_core::Mlp;
use sooth_core::model::{Section, section, section_len};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A run file that cannot be written or used. Every variant names the
/// file; [`Display`](fmt::Display) keeps the command line's wording.
#[derive(Clone, Debug, PartialEq)]
pub enum RunFileError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason, for people.
        reason: String,
    },
    /// The folder to write into does not exist.
    NoFolder {
        /// The file.
        path: PathBuf,
        /// Its folder.
        folder: PathBuf,
    },
    /// A directory where a file name was expected.
    IsDirectory(PathBuf),
    /// The file is not a valid sooth model, or the model cannot be used or
    /// written (the core's reason).
    Model {
        /// The file.
        path: PathBuf,
        /// The core's reason.
        reason: String,
    },
    /// The saved model's network is not the run's.
    OtherNetwork {
        /// The file.
        path: PathBuf,
        /// The saved network (`64-32-10 relu`).
        found: String,
        /// The run's network.
        wanted: String,
    },
    /// The saved model's input scaling is not the data's.
    OtherScaling {
        /// The file.
        path: PathBuf,
        /// Whether the model was trained on scaled features.
        scaled: bool,
        /// The data's scaling.
        scaling: Scaling,
    },
}

impl From<crate::atomic::AtomicWriteError> for RunFileError {
    fn from(e: crate::atomic::AtomicWriteError) -> Self {
        RunFileError::Io {
            reason: e.reason(),
            path: e.path,
        }
    }
}

impl fmt::Display for RunFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunFileError::Io { path, reason } | RunFileError::Model { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            RunFileError::NoFolder { path, folder } => write!(
                f,
                "{}: no such folder {}; expected an existing folder to write into",
                path.display(),
                folder.display()
            ),
            RunFileError::IsDirectory(path) => write!(
                f,
                "{}: is a directory, expected a file name",
                path.display()
            ),
            RunFileError::OtherNetwork {
                path,
                found,
                wanted,
            } => write!(
                f,
                "{}: the model is {found}, but this run trains {wanted}",
                path.display()
            ),
            RunFileError::OtherScaling {
                path,
                scaled,
                scaling,
            } => write!(
                f,
                "{}: the model was trained on {} features, but this run scales them with --scale \
                 {scaling} (fitted on this data); give the --scale and data the model was trained with",
                path.display(),
                if *scaled { "scaled" } else { "unscaled" },
            ),
        }
    }
}

impl std::error::Error for RunFileError {}

/// The JSON summary of `sooth train --json`.
#[derive(Debug, Serialize)]
pub struct RunSummary<'a> {
    /// The data set's name.
    pub dataset: &'a str,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// `64-32-10 relu`.
    pub model: String,
    /// The optimizer and its settings.
    pub optimizer: String,
    /// Samples per step (`full` for the whole set).
    pub batch_size: String,
    /// Seed of the run.
    pub seed: u64,
    /// The run's result.
    #[serde(flatten)]
    pub result: &'a RunResult,
}

/// The header of the metrics CSV (its columns).
pub const METRICS_HEADER: &str = "epoch,mean_batch_loss,train_loss,train_accuracy,test_loss,test_accuracy,evaluations,gradients,recoveries,line_search_failures,wall_seconds,train_seconds,validation_accuracy";

/// Writes the per-epoch curve to `path` as CSV (empty cells where not
/// evaluated, e.g. the validation accuracy without a validation split).
pub fn write_metrics(path: &Path, curve: &[EpochRecord]) -> Result<(), RunFileError> {
    let mut out = format!("{METRICS_HEADER}\n");
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in curve {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.mean_batch_loss,
            opt(r.train_loss),
            opt(r.train_accuracy),
            r.test_loss,
            r.test_accuracy,
            r.evaluations,
            r.gradients,
            r.recoveries,
            r.line_search_failures,
            r.wall_seconds,
            r.train_seconds,
            opt(r.validation_accuracy)
        ));
    }
    crate::atomic::write_file(path, out.as_bytes()).map_err(RunFileError::from)
}

/// Fails before training if `path` cannot be written: its folder must
/// exist and it must not be a directory.
pub fn check_output(path: &Path) -> Result<(), RunFileError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(RunFileError::NoFolder {
            path: path.to_path_buf(),
            folder: parent.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(RunFileError::IsDirectory(path.to_path_buf()));
    }
    Ok(())
}

/// The bytes of the saved model at `path`, checked to be a sooth model
/// (`SavedModel::read` them to use it).
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, RunFileError> {
    let bytes = std::fs::read(path).map_err(|e| RunFileError::Io {
        path: path.to_path_buf(),
        reason: crate::data::read_error(&e, "a sooth model file"),
    })?;
    sooth_core::SavedModel::read(&bytes).map_err(|e| RunFileError::Model {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

/// The parameters of the saved model at `path`, to start the run of `spec`
/// from: its network must be the run's and its input scaling the data's.
pub fn initial_params(
    path: &Path,
    spec: &RunSpec,
    data: &Loaded,
) -> Result<Vec<f32>, RunFileError> {
    let model_error = |e: sooth_core::Error| RunFileError::Model {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let bytes = read_model_file(path)?;
    let model = sooth_core::SavedModel::read(&bytes).map_err(model_error)?;
    let wanted = spec
        .model
        .mlp(data.train.width, data.train.classes)
        .map_err(model_error)?;
    let found = model.mlp();
    if found.shape() != wanted.shape() || found.activation() != wanted.activation() {
        let widths: Vec<String> = found
            .shape()
            .widths()
            .iter()
            .map(|w| w.to_string())
            .collect();
        return Err(RunFileError::OtherNetwork {
            path: path.to_path_buf(),
            found: format!(
                "{} {}",
                widths.join("-"),
                activation_name(found.activation())
            ),
            wanted: spec.model.describe(data.train.width, data.train.classes),
        });
    }
    let scaled = data.scaler.scaling != Scaling::None;
    let same_scaling = if model.has_transform() {
        scaled
            && (0..data.train.width).all(|j| {
                model.transform_of(j) == Some((data.scaler.offset[j], data.scaler.divisor[j]))
            })
    } else {
        !scaled
    };
    if !same_scaling {
        return Err(RunFileError::OtherScaling {
            path: path.to_path_buf(),
            scaled: model.has_transform(),
            scaling: data.scaler.scaling,
        });
    }
    // Fine-tuning on class names numbered otherwise would train each
    // output on another class.
    let names = model_class_names(&model).unwrap_or_default();
    if names != data.class_names {
        let show = |names: &[String]| match names {
            [] => "class numbers".to_owned(),
            _ => format!("the classes {names:?}"),
        };
        return Err(RunFileError::Model {
            path: path.to_path_buf(),
            reason: format!(
                "the model was trained on {}, but the data has {}; expected the same classes",
                show(&names),
                show(&data.class_names)
            ),
        });
    }
    let mut params = vec![0.0f32; wanted.shape().param_count()];
    model.read_params(&mut params).map_err(model_error)?;
    Ok(params)
}

/// Saves `params` of `mlp` with `data`'s input scaling and, if given,
/// the data split it was trained on (model section
/// [`section::DATA_SPLIT`]), atomically.
///
/// # Errors
/// [`RunFileError`]: the model cannot be written (the core's reason) or
/// the file cannot be written.
pub fn save_model(
    path: &Path,
    mlp: &Mlp,
    params: &[f32],
    data: &Loaded,
    split: Option<&DataSplit>,
) -> Result<(), RunFileError> {
    let transform: Option<Vec<(f64, f64)>> = (data.scaler.scaling != Scaling::None).then(|| {
        data.scaler
            .offset
            .iter()
            .zip(&data.scaler.divisor)
            .map(|(&o, &d)| (o, d))
            .collect()
    });
    let shape = mlp.shape();
    let names = class_names_section(&data.class_names);
    let split_body = split.map(DataSplit::to_bytes);
    // Section ids must increase: class names (1) before the data split (2).
    let sections: Vec<Section<'_>> = names
        .as_deref()
        .map(|body| Section {
            id: section::CLASS_NAMES,
            body,
        })
        .into_iter()
        .chain(split_body.as_deref().map(|body| Section {
            id: section::DATA_SPLIT,
            body,
        }))
        .collect();
    let sections_len: usize = sections.iter().map(|s| section_len(s.body.len())).sum();
    let mut bytes = vec![0u8; sooth_core::saved_len(&shape, transform.is_some()) + sections_len];
    let len = sooth_core::model::write_model_with(
        mlp,
        params,
        transform.as_deref(),
        &sections,
        &mut bytes,
    )
    .map_err(|e| RunFileError::Model {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    bytes.truncate(len);
    crate::atomic::write_file(path, &bytes).map_err(RunFileError::from)
}

/// The body of a model's class-names section (one name per line, `\n`
/// after each), or `None` without names.
pub fn class_names_section(names: &[String]) -> Option<Vec<u8>> {
    if names.is_empty() {
        return None;
    }
    let mut body = Vec::new();
    for name in names {
        body.extend_from_slice(name.as_bytes());
        body.push(b'\n');
    }
    Some(body)
}

/// The class names a saved model carries (its class-names section), or an
/// empty list; `None` if the section is not UTF-8 lines, one per output.
pub fn model_class_names(model: &sooth_core::SavedModel<'_>) -> Option<Vec<String>> {
    let Some(body) = model.section(section::CLASS_NAMES) else {
        return Some(Vec::new());
    };
    let text = std::str::from_utf8(body).ok()?;
    let names: Vec<String> = text
        .strip_suffix('\n')?
        .split('\n')
        .map(str::to_owned)
        .collect();
    (names.len() == model.mlp().shape().outputs()).then_some(names)
}

/// The data split a model was trained on, as its model file records it
/// (section [`section::DATA_SPLIT`], JSON): enough to recompute which rows
/// it trained on, and to tell whether other data are the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSplit {
    /// The data set as written (a built-in name or a path).
    pub dataset: String,
    /// Content hash of the data file ([`crate::sweep::store::file_hash`]);
    /// `None` for a built-in set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_hash: Option<String>,
    /// Seed of the split (and of synthetic data).
    pub data_seed: u64,
    /// Share held out for testing (when there was no test file).
    pub test_fraction: f64,
    /// Share of the training part held out for validation (0: none).
    pub validation_fraction: f64,
    /// Every data option as written (format, CSV options, test file, ...),
    /// as flag value texts by study key.
    pub options: BTreeMap<String, String>,
}

impl DataSplit {
    /// The record of data loaded with `options` (resolved as `spec`):
    /// hashes the data file.
    ///
    /// # Errors
    /// [`RunFileError::Io`] if the data file cannot be read.
    pub fn of(options: &DataOptions, spec: &DataSpec) -> Result<DataSplit, RunFileError> {
        let data_hash = match crate::data::is_builtin(&spec.dataset) {
            true => None,
            false => {
                let file = Path::new(&spec.dataset);
                Some(
                    crate::sweep::store::file_hash(file).map_err(|e| RunFileError::Io {
                        path: file.to_path_buf(),
                        reason: e.to_string(),
                    })?,
                )
            }
        };
        Ok(DataSplit {
            dataset: spec.dataset.clone(),
            data_hash,
            data_seed: spec.seed,
            test_fraction: spec.test_fraction,
            validation_fraction: spec.validation_fraction,
            options: options.written(),
        })
    }

    /// The section's bytes (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The record in a section's bytes, `None` if they are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<DataSplit> {
        serde_json::from_slice(bytes).ok()
    }

    /// Whether `other` describes the same data (same file content, or the
    /// same built-in set; synthetic sets also need the same seed).
    pub fn same_data(&self, other: &DataSplit) -> bool {
        match (&self.data_hash, &other.data_hash) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                self.dataset == other.dataset
                    && (self.dataset == "digits" || self.data_seed == other.data_seed)
            }
            _ => false,
        }
    }

    /// The options that recompute the split (scaling aside: it moves no row).
    fn split_options(&self) -> Result<DataOptions, crate::spec::SpecError> {
        let mut options = DataOptions::default();
        for (key, value) in &self.options {
            if key != "scale" {
                options.set(key, &toml::Value::String(value.clone()))?;
            }
        }
        Ok(options)
    }

    /// The split as flags, for messages: `--test-fraction 0.25 --data-seed 0`.
    pub fn flags(&self) -> String {
        let mut flags = Vec::new();
        if !self.options.contains_key("test_data") && self.dataset != "digits" {
            flags.push(format!("--test-fraction {}", self.test_fraction));
        }
        flags.push(format!("--data-seed {}", self.data_seed));
        if self.validation_fraction > 0.0 {
            flags.push(format!(
                "--validation-fraction {}",
                self.validation_fraction
            ));
        }
        flags.join(" ")
    }
}

/// How many of the rows `sooth eval` scores the model has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Rows scored.
    pub rows: usize,
    /// Of those, rows of the model's training part.
    pub trained: usize,
    /// Of those, rows of its validation part (used to select its epoch).
    pub validation: usize,
}

/// Which part of loaded data is scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoredPart {
    /// The training part (with no validation rows).
    Train,
    /// The test part.
    Test,
}

/// The rows of `part` of `data` (loaded as `now` records) that the model
/// whose split is `saved` trained on or validated with; `None` when the
/// data are not the model's. Recomputes the model's split from its record.
///
/// # Errors
/// The recorded options no longer resolve or load (a message).
pub fn seen_rows(
    saved: &DataSplit,
    now: &DataSplit,
    data: &Loaded,
    part: ScoredPart,
) -> Result<Option<Seen>, String> {
    if !saved.same_data(now) {
        return Ok(None);
    }
    let spec = saved
        .split_options()
        .and_then(|o| o.resolve())
        .map_err(|e| format!("the model's recorded data split: {e}"))?;
    let model = crate::data::load(&spec).map_err(|e| e.to_string())?;
    let trained: HashSet<usize> = model.rows.train.iter().copied().collect();
    let validation: HashSet<usize> = model.rows.validation.iter().copied().collect();
    let rows: &[usize] = match part {
        ScoredPart::Train => &data.rows.train,
        ScoredPart::Test if data.rows.test_from_data => &data.rows.test,
        // Rows of a test file (or the built-in test set) are no rows of
        // the data the model was split from.
        ScoredPart::Test => {
            return Ok(Some(Seen {
                rows: data.rows.test.len(),
                ..Seen::default()
            }));
        }
    };
    Ok(Some(Seen {
        rows: rows.len(),
        trained: rows.iter().filter(|r| trained.contains(r)).count(),
        validation: rows.iter().filter(|r| validation.contains(r)).count(),
    }))
}
