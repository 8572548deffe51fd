//! The command line: `sooth <command> [flags]`. Each command lives in its
//! own module; the flags several commands share (data, model, optimizer,
//! training) are the argument groups here.

pub mod adapt;
pub mod eval;
pub mod export;
pub mod output;
pub mod predict;
pub mod report;
pub mod slurm;
pub mod sweep;
pub mod train;
pub mod tune;

use crate::cli::output::errln;
use crate::data::{DataSpec, Format, Header, LabelColumn, Scaling};
use crate::run::{BatchSize, RunSpec, Stopping};
pub use crate::spec::{
    ActivationKind, CgFormulaKind, CurvatureKind, LineSearchKind, OptimizerKind, PairPrecisionKind,
};
use crate::spec::{DataOptions, ModelOptions, OptimizerOptions, SpecError};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use sooth_core::{LastBatch, OptimizerConfig, Sampling};
use std::path::PathBuf;

/// sooth: minibatch second-order training of small neural networks, from a
/// host sweep down to a microcontroller.
#[derive(Debug, Parser)]
#[command(
    name = "sooth",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one network and report its peak and final test accuracy.
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved model on a data set.
    Eval(eval::EvalArgs),
    /// Run a study: optimizers x batch sizes x seeds (x hyperparameters), on
    /// all cores, resumable and shardable.
    Sweep(sweep::SweepArgs),
    /// Combine the directories of a sharded sweep.
    Merge(sweep::MergeArgs),
    /// Check a saved model and copy it for the firmware build.
    Export(export::ExportArgs),
    /// Run a study on a Slurm cluster: a job array (one task per shard) and
    /// a merge job; resubmitting reruns only what is missing.
    Slurm(slurm::SlurmArgs),
    /// Analyse a sweep directory: report.md, report.json and plots.
    Report(report::ReportArgs),
    /// Race batch sizes (and up to two hyperparameters) and recommend one.
    Tune(Box<tune::TuneArgs>),
    /// Write a saved model's predictions and class probabilities for a data file.
    Predict(predict::PredictArgs),
    /// Replay the firmware's adapt program: a host-trained model learning
    /// online from a shifted stream (L-BFGS and SGD).
    Adapt(adapt::AdaptArgs),
}

/// Exit status of a sweep, tune or report that finished, but in which some
/// runs ended in an error (0: all succeeded; 1: an error stopped the
/// command; 2: a usage error).
pub use crate::sweep::EXIT_RUNS_FAILED;

/// How a command that finished ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Everything succeeded (exit status 0).
    AllOk,
    /// Finished, but this many runs ended in an error (exit status
    /// [`EXIT_RUNS_FAILED`]).
    RunsFailed(usize),
}

impl Finished {
    /// [`Finished::RunsFailed`] if `failed > 0`.
    pub fn with_failures(failed: usize) -> Finished {
        if failed > 0 {
            Finished::RunsFailed(failed)
        } else {
            Finished::AllOk
        }
    }

    /// The process's exit status.
    pub fn exit_code(self) -> i32 {
        match self {
            Finished::AllOk => 0,
            Finished::RunsFailed(_) => EXIT_RUNS_FAILED,
        }
    }
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // The kernels give the same bits either way; this is for timing them
    // and for showing that they agree.
    match std::env::var("SOOTH_KERNELS").as_deref() {
        Ok("portable") => {
            sooth_core::simd::use_kernels(sooth_core::simd::KernelSet::Portable);
        }
        Ok("avx") => {
            sooth_core::simd::use_kernels(sooth_core::simd::KernelSet::Avx);
        }
        Ok("auto") | Err(_) => {}
        Ok(other) => {
            errln!(
                "error: SOOTH_KERNELS={other}: expected `auto` (the default), `avx` or `portable`"
            );
            return 2;
        }
    }
    let done = |()| Finished::AllOk;
    let outcome = match cli.command {
        Command::Train(args) => train::run(*args).map(done),
        Command::Eval(args) => eval::run(args).map(done),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args).map(done),
        Command::Export(args) => export::run(args).map(done),
        Command::Slurm(args) => slurm::run(args).map(done),
        Command::Report(args) => report::run(args),
        Command::Tune(args) => tune::run(*args),
        Command::Predict(args) => predict::run(args).map(done),
        Command::Adapt(args) => adapt::run(args).map(done),
    };
    match outcome {
        Ok(finished) => finished.exit_code(),
        Err(message) => {
            errln!("error: {message}");
            1
        }
    }
}

/// The bytes of the saved model at `path`, checked to be a sooth model
/// (see [`crate::run_files::read_model_file`]), or a message naming the file.
/// A model in format version 1 gets a note on stderr: its checksum covers
/// the parameters only.
pub fn read_model_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes = crate::run_files::read_model_file(path).map_err(|e| e.to_string())?;
    if sooth_core::SavedModel::read(&bytes).is_ok_and(|m| m.version() < sooth_core::model::VERSION)
    {
        errln!(
            "note: {}: a model in format version 1, whose checksum covers the parameters only; \
             `sooth export` or `sooth train --save` write version {}, checked byte for byte",
            path.display(),
            sooth_core::model::VERSION
        );
    }
    Ok(bytes)
}

/// A usage error of the command `sub` in clap's words and format (exit
/// code 2), for combinations of flags that clap's own rules cannot express.
pub fn usage_error(sub: &str, kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut(sub) {
        Some(command) => command.error(kind, message),
        None => cli.error(kind, message),
    }
}

/// Where the data comes from and how it is prepared.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A built-in data set (`digits`, `spirals`, `blobs`; options as
    /// `blobs:classes=4,width=8`) or a file (CSV, IDX, LIBSVM; `.gz` works).
    #[arg(long, default_value = "digits", value_name = "NAME|PATH")]
    pub dataset: String,
    /// The file format, if the extension does not tell.
    #[arg(long, value_name = "csv|idx|libsvm")]
    pub format: Option<Format>,
    /// A separate test file (same format); without it, part of the data set
    /// is held out (stratified, seeded by --data-seed).
    #[arg(long, value_name = "PATH")]
    pub test_data: Option<PathBuf>,
    /// IDX: the labels file of the training images (default: the MNIST
    /// naming, `-images-idx3-` -> `-labels-idx1-`).
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// IDX: the labels file of the test images.
    #[arg(long, value_name = "PATH")]
    pub test_labels: Option<PathBuf>,
    /// CSV: whether the first line is a header.
    #[arg(long, default_value = "auto", value_name = "auto|yes|no")]
    pub header: Header,
    /// CSV: the label column: `first`, `last`, a column number from 1, or a
    /// header name. It holds class numbers (0, 1, 2, ...) or, if its first
    /// data row is not a number, class names (`setosa`): the training file's
    /// names in sorted order are the classes, kept in a saved model.
    #[arg(long, default_value = "first", value_name = "COLUMN")]
    pub label_column: LabelColumn,
    /// CSV: the field delimiter, one character (`;`, `|`) or `tab`.
    #[arg(long, value_name = "CHAR", value_parser = delimiter_value)]
    pub delimiter: Option<u8>,
    /// The number of features (LIBSVM files are read with this width; other
    /// files are checked against it).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
    /// The number of classes (default: the largest training label + 1).
    #[arg(long, value_name = "N")]
    pub classes: Option<usize>,
    /// Feature scaling, fitted on the training part only.
    #[arg(
        long = "scale",
        default_value = "none",
        value_name = "none|min-max|standardize"
    )]
    pub scaling: Scaling,
    /// Share of the samples held out for testing when there is no test file
    /// (default 0.25; digits has a fixed split).
    #[arg(allow_negative_numbers = true, long, value_name = "FRACTION")]
    pub test_fraction: Option<f64>,
    /// Seed of the train/test split and of the synthetic data sets (apart
    /// from --seed, so every run of a study sees the same split).
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    pub data_seed: u64,
    /// Share of the training part held out for validation (stratified,
    /// seeded by --data-seed): the run then selects the epoch with the best
    /// validation accuracy and reports its test accuracy.
    #[arg(allow_negative_numbers = true, long, value_name = "FRACTION")]
    pub validation_fraction: Option<f64>,
}

/// A 32-bit float flag value: a number that fits (`1e39` is out of range,
/// not `inf`).
fn finite_f32(text: &str) -> Result<f32, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got '{text}'"))?;
    if v.is_finite() && v.abs() > f64::from(f32::MAX) {
        return Err(format!(
            "'{text}' is beyond the range of a 32-bit float (about 3.4e38)"
        ));
    }
    Ok(v as f32)
}

fn delimiter_value(text: &str) -> Result<u8, String> {
    crate::spec::parse_delimiter(text).map_err(|e| format!("expected {e}"))
}

/// A specification's error as a usage error of `command`, in clap's words
/// and format (exit code 2).
pub fn spec_error(command: &str, error: SpecError) -> clap::Error {
    let kind = match error {
        SpecError::InvalidValue { .. } | SpecError::Unparsable { .. } => ErrorKind::ValueValidation,
        SpecError::UnknownKey { .. } => ErrorKind::UnknownArgument,
        _ => ErrorKind::ArgumentConflict,
    };
    usage_error(command, kind, error)
}

impl DataArgs {
    /// The data options these flags write (flags at their default are not
    /// written).
    pub fn options(&self) -> DataOptions {
        let d = DataSpec::default();
        DataOptions {
            dataset: (self.dataset != d.dataset).then(|| self.dataset.clone()),
            format: self.format,
            test_data: self.test_data.clone(),
            labels: self.labels.clone(),
            test_labels: self.test_labels.clone(),
            header: (self.header != d.header).then_some(self.header),
            label_column: (self.label_column != d.label_column).then(|| self.label_column.clone()),
            delimiter: self.delimiter,
            width: self.width,
            classes: self.classes,
            scale: (self.scaling != d.scaling).then_some(self.scaling),
            test_fraction: self.test_fraction,
            data_seed: (self.data_seed != d.seed).then_some(self.data_seed),
            validation_fraction: self.validation_fraction,
        }
    }

    /// The data loader's description of these flags, or a usage error of
    /// `command` for a value out of range or a conflict.
    pub fn spec(&self, command: &str) -> Result<DataSpec, clap::Error> {
        self.options().resolve().map_err(|e| spec_error(command, e))
    }
}

/// The network.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Hidden layer widths, comma separated (`32`, `128,64`; `0` for none).
    #[arg(
        allow_negative_numbers = true,
        long,
        default_value = "32",
        value_delimiter = ',',
        value_name = "WIDTHS"
    )]
    pub hidden: Vec<usize>,
    /// Hidden activation (initialization: He uniform for relu, Glorot
    /// uniform for tanh).
    #[arg(long, default_value = "relu")]
    pub activation: ActivationKind,
    /// L2 weight decay in the loss: + l2/2 * sum of squared weights.
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        default_value_t = 0.0,
        value_name = "L2"
    )]
    pub l2: f32,
}

impl ModelArgs {
    /// The model options these flags write (flags at their default are
    /// not written).
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            hidden: (self.hidden != ModelOptions::DEFAULT_HIDDEN).then(|| self.hidden.clone()),
            activation: (self.activation != ModelOptions::DEFAULT_ACTIVATION)
                .then_some(self.activation),
            l2: (self.l2 != 0.0).then_some(self.l2),
        }
    }
}

/// The optimizer and its hyperparameters. Each flag belongs to the
/// optimizers named in its help; others reject it.
// The field docs are clap's help texts: `[sgd]` there names the owning
// optimizer for people, it is no rustdoc link (escaping it would show the
// backslashes in `sooth train --help`).
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Clone, Args)]
pub struct OptimizerArgs {
    /// The optimizer.
    #[arg(long, default_value = "lbfgs")]
    pub optimizer: OptimizerKind,
    /// [sgd, adam] Step size (default: 0.1 for sgd, 1e-3 for adam).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "LR",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub lr: Option<f32>,
    /// [sgd] Momentum coefficient in [0, 1) (default 0.9).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "MU",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub momentum: Option<f32>,
    /// [sgd] Nesterov momentum instead of heavy ball.
    #[arg(long, help_heading = "Optimizer: SGD and Adam")]
    pub nesterov: bool,
    /// [sgd, adam] Decay added to the gradient as wd * x (default 0).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "WD",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub weight_decay: Option<f32>,
    /// [adam] First-moment decay (default 0.9).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "B1",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub beta1: Option<f32>,
    /// [adam] Second-moment decay (default 0.999).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "B2",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub beta2: Option<f32>,
    /// [adam] Added to the root of the second moment (default 1e-8).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "EPS",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub epsilon: Option<f32>,
    /// [cg] The conjugacy formula (default fr).
    #[arg(long, value_name = "fr|pr+", help_heading = "Optimizer: CG and L-BFGS")]
    pub cg_formula: Option<CgFormulaKind>,
    /// [lbfgs] Curvature pairs kept, 1..=64 (default 10).
    #[arg(long, value_name = "M", help_heading = "Optimizer: CG and L-BFGS")]
    pub history: Option<usize>,
    /// [cg, lbfgs] The line search (default: armijo for cg, wolfe for lbfgs).
    #[arg(long, help_heading = "Optimizer: CG and L-BFGS")]
    pub line_search: Option<LineSearchKind>,
    /// [cg, lbfgs] The step tried first (for lbfgs without history:
    /// divided by |d|, so the first move has this length) (default 1).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "STEP",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub initial_step: Option<f32>,
    /// [armijo, wolfe] Sufficient-decrease constant c1 (default 1e-4).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "C1",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub c1: Option<f64>,
    /// [wolfe] Curvature constant c2, c1 < c2 < 1 (default 0.9).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "C2",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub c2: Option<f64>,
    /// [armijo] Backtracking factor in (0, 1) (default 0.5).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "RHO",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub backtrack: Option<f64>,
    /// [armijo, wolfe] Trials per line search (default: 30 armijo, 20 wolfe).
    #[arg(long, value_name = "N", help_heading = "Optimizer: CG and L-BFGS")]
    pub max_trials: Option<u32>,
    /// [lbfgs] How curvature pairs are formed from minibatches (default same-batch).
    #[arg(long, help_heading = "Optimizer: CG and L-BFGS")]
    pub curvature: Option<CurvatureKind>,
    /// [lbfgs] Iterations on each minibatch (default 1).
    #[arg(long, value_name = "N", help_heading = "Optimizer: CG and L-BFGS")]
    pub inner_iterations: Option<u32>,
    /// [lbfgs] Powell-damp pairs with too little curvature instead of skipping them.
    #[arg(long, help_heading = "Optimizer: CG and L-BFGS")]
    pub damping: bool,
    /// [lbfgs] Skip pairs with s.y <= eps |s| |y| (default 1e-6).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "EPS",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub curvature_eps: Option<f32>,
    /// [lbfgs] Largest Euclidean length of a step (default: no limit).
    #[arg(
        value_parser = finite_f32,
        allow_negative_numbers = true,
        long,
        value_name = "LENGTH",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub max_step: Option<f32>,
    /// [lbfgs] Storage of the curvature pairs: f32, or 16 bits (bf16, f16), which halves
    /// their memory (default f32).
    #[arg(
        long,
        value_name = "PRECISION",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub pair_precision: Option<PairPrecisionKind>,
}

impl OptimizerArgs {
    /// The optimizer options these flags write.
    pub fn options(&self) -> OptimizerOptions {
        OptimizerOptions {
            lr: self.lr,
            momentum: self.momentum,
            nesterov: self.nesterov.then_some(true),
            weight_decay: self.weight_decay,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
            cg_formula: self.cg_formula,
            history: self.history,
            line_search: self.line_search,
            initial_step: self.initial_step,
            c1: self.c1,
            c2: self.c2,
            backtrack: self.backtrack,
            max_trials: self.max_trials,
            curvature: self.curvature,
            inner_iterations: self.inner_iterations,
            damping: self.damping.then_some(true),
            curvature_eps: self.curvature_eps,
            max_step: self.max_step,
            pair_precision: self.pair_precision,
            ..OptimizerOptions::new(self.optimizer)
        }
    }

    /// The optimizer configuration, or a usage error of `command` for a
    /// flag that does not belong to the chosen optimizer or a value out of
    /// range.
    pub fn config(&self, command: &str) -> Result<OptimizerConfig, clap::Error> {
        self.options().resolve().map_err(|e| spec_error(command, e))
    }
}

/// How batches are drawn, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplingArg {
    /// A fresh permutation each epoch, cut into batches.
    Shuffle,
    /// Each batch drawn uniformly with replacement.
    Replacement,
}

impl From<SamplingArg> for Sampling {
    fn from(s: SamplingArg) -> Sampling {
        match s {
            SamplingArg::Shuffle => Sampling::Shuffle,
            SamplingArg::Replacement => Sampling::WithReplacement,
        }
    }
}

/// The last, smaller batch of an epoch, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LastBatchArg {
    /// Train on it.
    Keep,
    /// Skip it.
    Drop,
}

impl From<LastBatchArg> for LastBatch {
    fn from(l: LastBatchArg) -> LastBatch {
        match l {
            LastBatchArg::Keep => LastBatch::Keep,
            LastBatchArg::Drop => LastBatch::Drop,
        }
    }
}

/// Batches, epochs and seed.
#[derive(Debug, Clone, Args)]
pub struct TrainingArgs {
    /// Samples per step, or `full` for the whole training set.
    #[arg(long, default_value = "64", value_name = "N|full")]
    pub batch_size: BatchSize,
    /// How batches are drawn.
    #[arg(long, default_value = "shuffle")]
    pub sampling: SamplingArg,
    /// The last batch of an epoch when the batch size does not divide the data.
    #[arg(long, default_value = "keep")]
    pub last_batch: LastBatchArg,
    /// Passes over the training set.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub epochs: u32,
    /// Seed of the initialization and the sampler.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also evaluate the whole training set after each epoch (train loss and
    /// accuracy; costs a forward pass over it).
    #[arg(long)]
    pub eval_train: bool,
    /// Start from a saved model's parameters (fine-tuning) instead of the
    /// seeded initialization; the model must match --hidden, --activation
    /// and the data, and its input scaling the --scale of the data.
    #[arg(long, value_name = "MODEL")]
    pub init_from: Option<PathBuf>,
    /// Full batch only: stop when the gradient's infinity norm is at most
    /// this (SciPy's gtol; 0: off).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_parser = finite_f32,
        default_value_t = 0.0,
        value_name = "GTOL"
    )]
    pub gtol: f32,
    /// Full batch only: stop when the loss falls by at most this fraction
    /// in one step, (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) (SciPy's ftol;
    /// 0: off).
    #[arg(
        allow_negative_numbers = true,
        long,
        default_value_t = 0.0,
        value_name = "FTOL"
    )]
    pub ftol: f64,
    /// Stop after this many epochs without a better validation accuracy
    /// (needs --validation-fraction; 0: off).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub patience: u32,
}

/// The run these flags describe, or a usage error of `sooth train`.
pub fn run_spec(
    model: &ModelArgs,
    optimizer: &OptimizerArgs,
    training: &TrainingArgs,
) -> Result<RunSpec, clap::Error> {
    if training.epochs == 0 {
        return Err(usage_error(
            "train",
            ErrorKind::ValueValidation,
            "invalid value '0' for '--epochs <N>': expected at least 1 epoch",
        ));
    }
    let model = model
        .options()
        .resolve()
        .map_err(|e| spec_error("train", e))?;
    Ok(RunSpec {
        model,
        optimizer: optimizer.config("train")?,
        batch: training.batch_size,
        sampling: training.sampling.into(),
        last_batch: training.last_batch.into(),
        epochs: training.epochs,
        seed: training.seed,
        evaluate_train: training.eval_train,
        initial: None,
        stopping: Stopping {
            gtol: training.gtol,
            ftol: training.ftol,
            patience: training.patience,
            stalled: true,
        },
    })
}
