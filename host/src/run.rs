//! One training run: the one definition of what a run is ([`RunSpec`]) and
//! of what it yields ([`RunResult`]: peak accuracy, evaluations, hash, ...).
//! `sooth train` prints it, a sweep stores one row of it per run.

use crate::data::Table;
use serde::{Deserialize, Serialize};
use sooth_core::{
    Activation, Init, LastBatch, Mlp, OptimizerConfig, Sampling, Shape, StopReason, TrainOptions,
    Trainer, param_hash, seed_streams,
};
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// The batch size: a number of samples, or the whole training set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BatchSize {
    /// This many samples per step.
    Size(usize),
    /// Every training sample, in index order, each step.
    Full,
}

impl BatchSize {
    /// The number of samples per batch for a training set of `len` samples
    /// (a size larger than the data is an error of the core's sampler).
    pub fn samples(self, len: usize) -> usize {
        match self {
            BatchSize::Size(n) => n,
            BatchSize::Full => len,
        }
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchSize::Size(n) => write!(f, "{n}"),
            BatchSize::Full => f.write_str("full"),
        }
    }
}

/// Why a text is not a [`BatchSize`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchSizeError {
    /// `0`.
    #[error("a batch size of 0; expected a number of samples >= 1, or `full`")]
    Zero,
    /// Neither a whole number nor `full`.
    #[error("`{0}` is not a batch size; expected a number of samples >= 1, or `full`")]
    NotABatchSize(String),
}

impl FromStr for BatchSize {
    type Err = BatchSizeError;
    fn from_str(s: &str) -> Result<Self, BatchSizeError> {
        if s.eq_ignore_ascii_case("full") {
            return Ok(BatchSize::Full);
        }
        match s.parse::<usize>() {
            Ok(0) => Err(BatchSizeError::Zero),
            Ok(n) => Ok(BatchSize::Size(n)),
            Err(_) => Err(BatchSizeError::NotABatchSize(s.to_string())),
        }
    }
}

impl Serialize for BatchSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The network of a run; inputs and outputs come from the data.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Hidden layer widths (none: a linear softmax classifier).
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// L2 weight decay in the loss.
    pub l2: f32,
}

impl ModelSpec {
    /// The network for `inputs` features and `classes` classes.
    pub fn mlp(&self, inputs: usize, classes: usize) -> Result<Mlp, sooth_core::Error> {
        let mut widths = vec![inputs];
        widths.extend(&self.hidden);
        widths.push(classes);
        Mlp::new(Shape::new(&widths)?, self.activation).with_l2(self.l2)
    }

    /// `64-32-10`-style description for `inputs` and `classes`.
    pub fn describe(&self, inputs: usize, classes: usize) -> String {
        let mut parts = vec![inputs.to_string()];
        parts.extend(self.hidden.iter().map(|h| h.to_string()));
        parts.push(classes.to_string());
        format!("{} {}", parts.join("-"), activation_name(self.activation))
    }
}

/// `relu` or `tanh`.
pub fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "relu",
        Activation::Tanh => "tanh",
    }
}

/// Everything that decides a run's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// The network.
    pub model: ModelSpec,
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Samples per step.
    pub batch: BatchSize,
    /// How batches are drawn.
    pub sampling: Sampling,
    /// What to do with a last, smaller batch.
    pub last_batch: LastBatch,
    /// Passes over the training set.
    pub epochs: u32,
    /// Seed of the initialization and of the sampler.
    pub seed: u64,
    /// Also evaluate the whole training set after each epoch.
    pub evaluate_train: bool,
    /// Start from these parameters (e.g. a saved model's) instead of the
    /// seeded initialization; the sampler still follows the seed.
    pub initial: Option<Vec<f32>>,
    /// When to stop before `epochs` (the core's rules; `Stopping::NONE`
    /// runs every epoch).
    pub stopping: Stopping,
}

/// The stopping rules of a run (see [`TrainOptions`]): `gtol` and `ftol`
/// need the full batch, `patience` a validation split; `stalled` stops a
/// full-batch run whose line search fails right after a restart with the
/// parameters unchanged (on in `sooth train`; in studies only with one of
/// the other rules, so a study's fixed design runs every epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stopping {
    /// Infinity norm of the full-batch gradient to stop at (0: off).
    pub gtol: f32,
    /// SciPy's relative loss reduction to stop at (0: off).
    pub ftol: f64,
    /// Epochs without a better validation accuracy (0: off).
    pub patience: u32,
    /// Stop a full-batch run that stalls.
    pub stalled: bool,
}

impl Stopping {
    /// Every epoch runs.
    pub const NONE: Stopping = Stopping {
        gtol: 0.0,
        ftol: 0.0,
        patience: 0,
        stalled: false,
    };

    /// Whether any of gtol, ftol, patience is set.
    pub fn any_rule(&self) -> bool {
        self.gtol > 0.0 || self.ftol > 0.0 || self.patience > 0
    }
}

/// The name of a run's stop: `epochs` when every epoch ran, else the
/// rule's name (`gtol`, `ftol`, `patience`, `stalled`).
pub fn stop_name(stop: Option<StopReason>) -> &'static str {
    stop.map_or("epochs", StopReason::name)
}

/// One epoch of a run, as the metrics file and the sweep's curves store it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, from 1.
    pub epoch: u32,
    /// Mean loss of this epoch's minibatches at their steps' start points.
    #[serde(with = "finite_or_null")]
    pub mean_batch_loss: f64,
    /// Mean loss over the training set, if evaluated.
    pub train_loss: Option<f64>,
    /// Accuracy on the training set, if evaluated.
    pub train_accuracy: Option<f64>,
    /// Mean loss over the test set.
    #[serde(with = "finite_or_null")]
    pub test_loss: f64,
    /// Accuracy on the test set.
    #[serde(with = "finite_or_null")]
    pub test_accuracy: f64,
    /// Accuracy on the validation split, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    /// Objective evaluations since the run began.
    pub evaluations: u64,
    /// Gradient computations since the run began.
    pub gradients: u64,
    /// Steps of this epoch that recovered from NaN/Inf.
    pub recoveries: u32,
    /// Steps of this epoch whose line search failed.
    pub line_search_failures: u32,
    /// Seconds since the run began.
    #[serde(with = "finite_or_null")]
    pub wall_seconds: f64,
    /// Seconds spent in optimizer steps since the run began (no evaluation).
    #[serde(with = "finite_or_null")]
    pub train_seconds: f64,
}

/// What a run yields: what `sooth train --json` prints and a sweep row holds.
///
/// Contract for new fields: `runs.jsonl` files written before a field
/// existed must still load, so a new field is an `Option` or has
/// `#[serde(default)]`. (A sweep row flattens an `Option<RunResult>`: a
/// required field missing from an old row would silently read the whole
/// result as absent.) The report reads rows through its own lenient
/// [`crate::report::load::ReportedResult`]; a field it should show is added
/// there too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Best test accuracy over the epochs (the study's response variable).
    #[serde(with = "finite_or_null")]
    pub peak_test_accuracy: f64,
    /// First epoch that reached the peak.
    pub peak_epoch: u32,
    /// Test accuracy after the last epoch.
    #[serde(with = "finite_or_null")]
    pub final_test_accuracy: f64,
    /// Test loss after the last epoch.
    #[serde(with = "finite_or_null")]
    pub final_test_loss: f64,
    /// Mean minibatch loss of the last epoch.
    #[serde(with = "finite_or_null")]
    pub final_train_loss: f64,
    /// Epochs run (fewer than asked for when a rule stopped the run; the
    /// parameters, peak and final accuracy are those of the last epoch run).
    pub epochs: u32,
    /// The epoch selected on the validation split (first best validation
    /// accuracy); `None` without a validation split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_epoch: Option<u32>,
    /// The validation accuracy of the selected epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_validation_accuracy: Option<f64>,
    /// The test accuracy of the selected epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_test_accuracy: Option<f64>,
    /// Why the run ended: `epochs` (all ran), or the rule that stopped it
    /// (`gtol`, `ftol`, `patience`, `stalled`); `None` in rows written
    /// before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Objective evaluations.
    pub evaluations: u64,
    /// Gradient computations.
    pub gradients: u64,
    /// Steps that recovered from NaN/Inf.
    pub recoveries: u64,
    /// Steps whose line search failed.
    pub line_search_failures: u64,
    /// Wall time of the run (training and evaluation), seconds.
    #[serde(with = "finite_or_null")]
    pub wall_seconds: f64,
    /// Time spent in optimizer steps only (no evaluation), seconds.
    #[serde(with = "finite_or_null")]
    pub train_seconds: f64,
    /// FNV-1a hash of the final parameter bits, 16 hex digits (the firmware
    /// prints the same).
    pub param_hash: String,
}

/// A finished run: its result, per-epoch curve and final parameters.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The summary.
    pub result: RunResult,
    /// One record per epoch.
    pub curve: Vec<EpochRecord>,
    /// The network.
    pub mlp: Mlp,
    /// The final parameters.
    pub params: Vec<f32>,
    /// The selected epoch's parameters (with a validation split).
    pub selected_params: Option<Vec<f32>>,
}

/// Why a run could not be trained; the messages are those `sooth train`
/// prints and a sweep row's `error: ...` status holds.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunError {
    /// One run's training buffers would exceed [`MAX_TRAIN_BYTES`].
    #[error(
        "{what} needs {gib:.1} GiB of training buffers, more than the limit of {limit} GiB: \
         narrow --hidden, use fewer features, or an optimizer with less state",
        limit = MAX_TRAIN_BYTES >> 30
    )]
    TooLarge {
        /// The network and optimizer, as words.
        what: String,
        /// GiB the buffers would take.
        gib: f64,
    },
    /// Allocating the training buffers failed.
    #[error("out of memory: {what} needs {gib:.2} GiB of training buffers")]
    OutOfMemory {
        /// The network and optimizer, as words.
        what: String,
        /// GiB the buffers take.
        gib: f64,
    },
    /// The training and test tables differ in features or classes.
    #[error(
        "the training data has {train_width} features and {train_classes} classes but the test data {test_width} and {test_classes}"
    )]
    DataMismatch {
        /// Features of the training table.
        train_width: usize,
        /// Classes of the training table.
        train_classes: usize,
        /// Features of the test table.
        test_width: usize,
        /// Classes of the test table.
        test_classes: usize,
    },
    /// The network cannot be built (the core's reason).
    #[error("model: {0}")]
    Model(sooth_core::Error),
    /// The training table is not a data set the core accepts.
    #[error("training data: {0}")]
    TrainData(sooth_core::Error),
    /// The test table is not a data set the core accepts.
    #[error("test data: {0}")]
    TestData(sooth_core::Error),
    /// The batch is larger than the training set.
    #[error("batch size {batch} is larger than the {samples} training samples")]
    BatchTooLarge {
        /// Samples per batch.
        batch: usize,
        /// Training samples.
        samples: usize,
    },
    /// The given initial parameters do not fit the network.
    #[error("the initial parameters are {given} values, the network {network} needs {needed}")]
    InitialParams {
        /// Values given.
        given: usize,
        /// The network, `64-32-10 relu`.
        network: String,
        /// Values it needs.
        needed: usize,
    },
    /// The optimizer's configuration is not valid (the core's reason).
    #[error("optimizer: {0}")]
    Optimizer(sooth_core::Error),
    /// The core refused to initialize, train or evaluate.
    #[error("{0}")]
    Core(sooth_core::Error),
}

/// Trains `spec` on `train`, evaluating `test` after every epoch, calling
/// `on_epoch` with each record.
///
/// # Errors
/// [`RunError`]: data that do not fit each other or the network, a batch
/// larger than the training set, and the core's errors (shapes,
/// hyperparameters, sampling).
pub fn train(
    spec: &RunSpec,
    train: &Table,
    test: &Table,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<Trained, RunError> {
    train_with_validation(spec, train, None, test, on_epoch)
}

/// [`train`], also evaluating `validation` after every epoch (if given):
/// the run then records the selected epoch (first best validation
/// accuracy), its test accuracy and its parameters. The run ends early
/// when one of `spec.stopping`'s rules says so; its curve ends there.
///
/// # Errors
/// As [`train`]; also validation data that do not fit.
pub fn train_with_validation(
    spec: &RunSpec,
    train: &Table,
    validation: Option<&Table>,
    test: &Table,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<Trained, RunError> {
    let start = Instant::now();
    for other in std::iter::once(test).chain(validation) {
        if train.classes != other.classes || train.width != other.width {
            return Err(RunError::DataMismatch {
                train_width: train.width,
                train_classes: train.classes,
                test_width: other.width,
                test_classes: other.classes,
            });
        }
    }
    let mlp = spec
        .model
        .mlp(train.width, train.classes)
        .map_err(RunError::Model)?;
    let shape = mlp.shape();
    let train_set = train.dataset().map_err(RunError::TrainData)?;
    let test_set = test.dataset().map_err(RunError::TestData)?;
    let validation_set = match validation {
        Some(v) => Some(v.dataset().map_err(RunError::TestData)?),
        None => None,
    };
    let n = shape.param_count();
    let batch = spec.batch.samples(train.len());
    if batch > train.len() {
        return Err(RunError::BatchTooLarge {
            batch,
            samples: train.len(),
        });
    }
    let setup = sooth_core::TrainSetup {
        optimizer: spec.optimizer,
        batch_size: batch,
        sampling: spec.sampling,
        last_batch: spec.last_batch,
        options: TrainOptions {
            evaluate_train: spec.evaluate_train,
            gtol: spec.stopping.gtol,
            ftol: spec.stopping.ftol,
            patience: spec.stopping.patience,
            stop_when_stalled: spec.stopping.stalled,
        },
    };
    let lengths = setup.buffer_lengths(&shape, train.len());
    let floats = lengths
        .params
        .saturating_add(lengths.work)
        .saturating_add(lengths.optimizer)
        .saturating_add(lengths.indices);
    let bytes = floats.saturating_mul(4);
    let describe = || {
        format!(
            "the network {} ({n} parameters) with {}",
            spec.model.describe(train.width, train.classes),
            describe_optimizer_kind(&spec.optimizer)
        )
    };
    let gib = bytes as f64 / f64::from(1u32 << 30);
    if bytes > MAX_TRAIN_BYTES {
        return Err(RunError::TooLarge {
            what: describe(),
            gib,
        });
    }
    let out_of_memory = |_| RunError::OutOfMemory {
        what: describe(),
        gib,
    };
    let (mut params, mut work, mut state) = (
        CacheAligned::zeros(lengths.params).map_err(out_of_memory)?,
        CacheAligned::zeros(lengths.work).map_err(out_of_memory)?,
        CacheAligned::zeros(lengths.optimizer).map_err(out_of_memory)?,
    );
    let (params, work, state) = (params.slice(), work.slice(), state.slice());
    let mut indices = Vec::new();
    indices
        .try_reserve_exact(lengths.indices)
        .map_err(out_of_memory)?;
    indices.resize(lengths.indices, 0u32);
    let (mut init_rng, sampler_rng) = seed_streams(spec.seed);
    match &spec.initial {
        Some(initial) if initial.len() == n => params.copy_from_slice(initial),
        Some(initial) => {
            return Err(RunError::InitialParams {
                given: initial.len(),
                network: spec.model.describe(train.width, train.classes),
                needed: n,
            });
        }
        None => {
            let init: Init = spec.model.activation.default_init();
            mlp.init(params, init, &mut init_rng)
                .map_err(RunError::Core)?;
        }
    }
    // The optimizer's errors keep their `optimizer: ` prefix.
    spec.optimizer.validate().map_err(RunError::Optimizer)?;
    let mut selected = match validation {
        Some(_) => Some(CacheAligned::zeros(n).map_err(out_of_memory)?),
        None => None,
    };
    let buffers = sooth_core::TrainBuffers {
        params,
        work,
        indices: &mut indices,
        optimizer: state,
        selected: selected.as_mut().map(CacheAligned::slice),
    };
    let mut trainer =
        Trainer::new(mlp, &setup, train.len(), sampler_rng, buffers).map_err(RunError::Core)?;
    // (At most 1024 reserved ahead: --epochs comes from input.)
    let mut curve = Vec::with_capacity(spec.epochs.min(1024) as usize);
    let (mut recoveries, mut failures) = (0u64, 0u64);
    let mut train_seconds = 0.0;
    for _ in 0..spec.epochs {
        let steps_start = Instant::now();
        let steps = trainer.train_steps(&train_set).map_err(RunError::Core)?;
        train_seconds += steps_start.elapsed().as_secs_f64();
        let r = trainer
            .evaluate_with_validation(
                steps,
                &test_set,
                validation_set.as_ref(),
                spec.evaluate_train.then_some(&train_set),
            )
            .map_err(RunError::Core)?;
        recoveries += u64::from(r.recoveries);
        failures += u64::from(r.line_search_failures);
        let record = EpochRecord {
            epoch: r.epoch,
            mean_batch_loss: r.mean_batch_loss,
            train_loss: r.train.map(|e| e.loss),
            train_accuracy: r.train.map(|e| e.accuracy()),
            test_loss: r.test.loss,
            test_accuracy: r.test.accuracy(),
            validation_accuracy: r.validation.map(|e| e.accuracy()),
            evaluations: r.evaluations,
            gradients: r.gradients,
            recoveries: r.recoveries,
            line_search_failures: r.line_search_failures,
            wall_seconds: start.elapsed().as_secs_f64(),
            train_seconds,
        };
        on_epoch(&record);
        curve.push(record);
        if r.stop.is_some() {
            break;
        }
    }
    let peak = trainer.peak();
    let selection = trainer.selected();
    let hash = param_hash(trainer.params());
    let last = curve.last();
    let result = RunResult {
        peak_test_accuracy: peak.map_or(0.0, |p| p.accuracy),
        peak_epoch: peak.map_or(0, |p| p.epoch),
        final_test_accuracy: last.map_or(0.0, |r| r.test_accuracy),
        final_test_loss: last.map_or(f64::NAN, |r| r.test_loss),
        final_train_loss: last.map_or(f64::NAN, |r| r.mean_batch_loss),
        epochs: trainer.epoch(),
        selected_epoch: selection.map(|s| s.epoch),
        selected_validation_accuracy: selection.map(|s| s.validation_accuracy),
        selected_test_accuracy: selection.map(|s| s.test_accuracy),
        stop_reason: Some(stop_name(trainer.stopped()).to_string()),
        evaluations: last.map_or(0, |r| r.evaluations),
        gradients: last.map_or(0, |r| r.gradients),
        recoveries,
        line_search_failures: failures,
        wall_seconds: start.elapsed().as_secs_f64(),
        train_seconds,
        param_hash: format!("{hash:016x}"),
    };
    Ok(Trained {
        result,
        curve,
        mlp,
        params: trainer.params().to_vec(),
        selected_params: trainer.selected_params().map(<[f32]>::to_vec),
    })
}

/// Most bytes the buffers of one training run (parameters, workspace,
/// optimizer state, sampler indices) may take: 4 GiB. A larger network is
/// refused before anything is allocated.
pub const MAX_TRAIN_BYTES: usize = 1 << 32;

/// `lbfgs` etc., for messages.
fn describe_optimizer_kind(config: &sooth_core::OptimizerConfig) -> &'static str {
    match config {
        sooth_core::OptimizerConfig::Sgd(_) => "sgd",
        sooth_core::OptimizerConfig::Adam(_) => "adam",
        sooth_core::OptimizerConfig::Cg(_) => "cg",
        sooth_core::OptimizerConfig::Lbfgs(_) => "lbfgs",
    }
}

/// Zeroed storage for `len` floats whose first one starts a 64-byte cache
/// line (where the allocator's address allows, which it always does for
/// `f32`s): rows of parameters, gradients and activations then start on a
/// line, so fewer of the kernels' 256-bit loads straddle two lines.
struct CacheAligned {
    storage: Vec<f32>,
    start: usize,
    len: usize,
}

impl CacheAligned {
    /// Floats per 64-byte line, less one: the most `start` can be.
    const SLACK: usize = 64 / core::mem::size_of::<f32>() - 1;

    fn zeros(len: usize) -> Result<CacheAligned, std::collections::TryReserveError> {
        let mut storage = Vec::new();
        storage.try_reserve_exact(len.saturating_add(Self::SLACK))?;
        storage.resize(len + Self::SLACK, 0.0f32);
        let start = storage.as_ptr().align_offset(64).min(Self::SLACK);
        Ok(CacheAligned {
            storage,
            start,
            len,
        })
    }

    /// The `len` floats.
    fn slice(&mut self) -> &mut [f32] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// Serde for f64 fields that may hold NaN or an infinity (a diverged loss):
/// JSON has no such numbers, so they are written as `null` and read back
/// as NaN.
pub mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a finite value as a number, anything else as `null`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    /// Reads a number, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}
