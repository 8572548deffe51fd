//! The command line: `sooth <command> [flags]`. Each command lives in its
//! own module; the flags several commands share (data, model, optimizer,
//! training) are the argument groups here.

pub mod eval;
pub mod export;
pub mod report;
pub mod slurm;
pub mod sweep;
pub mod train;
pub mod tune;

use crate::data::{DataSpec, Format, Header, LabelColumn, Scaling};
use crate::run::{BatchSize, ModelSpec, RunSpec};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use sooth_core::{
    Activation, AdamConfig, Armijo, CgConfig, CgFormula, CurvatureMode, LastBatch, LbfgsConfig,
    LineSearch, OptimizerConfig, Sampling, SgdConfig, StrongWolfe,
};
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
            eprintln!(
                "error: SOOTH_KERNELS={other}: expected `auto` (the default), `avx` or `portable`"
            );
            return 2;
        }
    }
    let outcome = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Export(args) => export::run(args),
        Command::Slurm(args) => slurm::run(args),
        Command::Report(args) => report::run(args),
        Command::Tune(args) => tune::run(*args),
    };
    match outcome {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// The bytes of the saved model at `path`, checked to be a sooth model
/// (`SavedModel::read` them to use it), or an error naming the file.
pub fn read_model_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{name}: {}",
            crate::data::read_error(&e, "a sooth model file")
        )
    })?;
    sooth_core::SavedModel::read(&bytes).map_err(|e| format!("{name}: {e}"))?;
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
    /// header name.
    #[arg(long, default_value = "first", value_name = "COLUMN")]
    pub label_column: LabelColumn,
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
}

impl DataArgs {
    /// Checks the values clap's types cannot: usage errors of `command`.
    pub fn check(&self, command: &str) -> Result<(), clap::Error> {
        let invalid = |message: String| usage_error(command, ErrorKind::ValueValidation, message);
        if let Some(c) = self.classes
            && !(2..=usize::from(crate::data::MAX_LABEL) + 1).contains(&c)
        {
            return Err(invalid(format!(
                "invalid value '{c}' for '--classes <N>': expected 2 to {}",
                usize::from(crate::data::MAX_LABEL) + 1
            )));
        }
        if self.width == Some(0) {
            return Err(invalid(
                "invalid value '0' for '--width <N>': expected at least 1 feature".into(),
            ));
        }
        if let Some(f) = self.test_fraction {
            if !(f > 0.0 && f < 1.0) {
                return Err(invalid(format!(
                    "invalid value '{f}' for '--test-fraction <FRACTION>': expected a number \
                     between 0 and 1 (exclusive), e.g. 0.25"
                )));
            }
            let fixed = if self.test_data.is_some() {
                Some("'--test-data'".to_string())
            } else if self.dataset == "digits" {
                Some(format!(
                    "'--dataset {}' (it has a fixed test split)",
                    self.dataset
                ))
            } else {
                None
            };
            if let Some(with) = fixed {
                return Err(usage_error(
                    command,
                    ErrorKind::ArgumentConflict,
                    format!("the argument '--test-fraction' cannot be used with {with}"),
                ));
            }
        }
        Ok(())
    }

    /// The data loader's description of these flags.
    pub fn spec(&self) -> DataSpec {
        DataSpec {
            dataset: self.dataset.clone(),
            format: self.format,
            test_data: self.test_data.clone(),
            labels_path: self.labels.clone(),
            test_labels_path: self.test_labels.clone(),
            header: self.header,
            label_column: self.label_column.clone(),
            width: self.width,
            classes: self.classes,
            scaling: self.scaling,
            test_fraction: self.test_fraction.unwrap_or(0.25),
            seed: self.data_seed,
            ..DataSpec::default()
        }
    }
}

/// The hidden activation, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActivationArg {
    /// max(z, 0).
    Relu,
    /// tanh(z).
    Tanh,
}

impl From<ActivationArg> for Activation {
    fn from(a: ActivationArg) -> Activation {
        match a {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Tanh => Activation::Tanh,
        }
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
    pub activation: ActivationArg,
    /// L2 weight decay in the loss: + l2/2 * sum of squared weights.
    #[arg(
        allow_negative_numbers = true,
        long,
        default_value_t = 0.0,
        value_name = "L2"
    )]
    pub l2: f32,
}

impl ModelArgs {
    /// The model spec.
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            hidden: self.hidden.iter().copied().filter(|&h| h > 0).collect(),
            activation: self.activation.into(),
            l2: self.l2,
        }
    }
}

/// The optimizers, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum.
    Sgd,
    /// Adam.
    Adam,
    /// Nonlinear conjugate gradient.
    Cg,
    /// Minibatch L-BFGS.
    Lbfgs,
}

/// Line searches, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineSearchKind {
    /// No search: the initial step.
    Fixed,
    /// Armijo backtracking.
    Armijo,
    /// Strong Wolfe (More-Thuente).
    Wolfe,
}

/// Curvature-pair modes, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CurvatureArg {
    /// y from the gradients of two consecutive batches.
    Naive,
    /// y from the gradients of the same batch (one extra gradient per step
    /// unless the line search computes it).
    SameBatch,
}

/// CG formulas, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CgFormulaArg {
    /// Fletcher-Reeves.
    Fr,
    /// Polak-Ribiere+ (beta clipped at 0).
    #[value(name = "pr+", alias = "pr")]
    PrPlus,
}

/// The optimizer and its hyperparameters. Each flag belongs to the
/// optimizers named in its help; others reject it.
#[derive(Debug, Clone, Args)]
pub struct OptimizerArgs {
    /// The optimizer.
    #[arg(long, default_value = "lbfgs")]
    pub optimizer: OptimizerKind,
    /// [sgd, adam] Step size (default: 0.1 for sgd, 1e-3 for adam).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "LR",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub lr: Option<f32>,
    /// [sgd] Momentum coefficient in [0, 1) (default 0.9).
    #[arg(
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
        allow_negative_numbers = true,
        long,
        value_name = "WD",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub weight_decay: Option<f32>,
    /// [adam] First-moment decay (default 0.9).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "B1",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub beta1: Option<f32>,
    /// [adam] Second-moment decay (default 0.999).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "B2",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub beta2: Option<f32>,
    /// [adam] Added to the root of the second moment (default 1e-8).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "EPS",
        help_heading = "Optimizer: SGD and Adam"
    )]
    pub epsilon: Option<f32>,
    /// [cg] The conjugacy formula (default fr).
    #[arg(long, value_name = "fr|pr+", help_heading = "Optimizer: CG and L-BFGS")]
    pub cg_formula: Option<CgFormulaArg>,
    /// [lbfgs] Curvature pairs kept, 1..=64 (default 10).
    #[arg(long, value_name = "M", help_heading = "Optimizer: CG and L-BFGS")]
    pub history: Option<usize>,
    /// [cg, lbfgs] The line search (default: armijo for cg, wolfe for lbfgs).
    #[arg(long, help_heading = "Optimizer: CG and L-BFGS")]
    pub line_search: Option<LineSearchKind>,
    /// [cg, lbfgs] The step tried first (for lbfgs without history:
    /// divided by |d|, so the first move has this length) (default 1).
    #[arg(
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
    pub curvature: Option<CurvatureArg>,
    /// [lbfgs] Iterations on each minibatch (default 1).
    #[arg(long, value_name = "N", help_heading = "Optimizer: CG and L-BFGS")]
    pub inner_iterations: Option<u32>,
    /// [lbfgs] Powell-damp pairs with too little curvature instead of skipping them.
    #[arg(long, help_heading = "Optimizer: CG and L-BFGS")]
    pub damping: bool,
    /// [lbfgs] Skip pairs with s.y <= eps |s| |y| (default 1e-6).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "EPS",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub curvature_eps: Option<f32>,
    /// [lbfgs] Largest Euclidean length of a step (default: no limit).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "LENGTH",
        help_heading = "Optimizer: CG and L-BFGS"
    )]
    pub max_step: Option<f32>,
}

impl OptimizerArgs {
    /// A range error of the core, as clap's `invalid value` error naming
    /// the flag and the value given.
    fn invalid_value(&self, error: sooth_core::Error) -> clap::Error {
        let sooth_core::Error::InvalidHyperparameter { name, expected } = error else {
            return usage_error("train", ErrorKind::ValueValidation, error);
        };
        let shown = |v: Option<String>| v.unwrap_or_else(|| "(default)".into());
        let s = |v: Option<f32>| v.map(|v| v.to_string());
        let (flag, value) = match name {
            "learning rate" => ("--lr <LR>", s(self.lr)),
            "momentum" => ("--momentum <MU>", s(self.momentum)),
            "weight decay" => ("--weight-decay <WD>", s(self.weight_decay)),
            "beta1" => ("--beta1 <B1>", s(self.beta1)),
            "beta2" => ("--beta2 <B2>", s(self.beta2)),
            "epsilon" => ("--epsilon <EPS>", s(self.epsilon)),
            "history" => ("--history <M>", self.history.map(|v| v.to_string())),
            "initial step" => ("--initial-step <STEP>", s(self.initial_step)),
            "inner iterations" => (
                "--inner-iterations <N>",
                self.inner_iterations.map(|v| v.to_string()),
            ),
            "curvature guard" => ("--curvature-eps <EPS>", s(self.curvature_eps)),
            "maximum step" => ("--max-step <LENGTH>", s(self.max_step)),
            "Armijo c1" => ("--c1 <C1>", self.c1.map(|v| v.to_string())),
            "backtracking factor" => ("--backtrack <RHO>", self.backtrack.map(|v| v.to_string())),
            "line search trials" => ("--max-trials <N>", self.max_trials.map(|v| v.to_string())),
            "Wolfe constants" => (
                "--c1 <C1> / --c2 <C2>",
                Some(format!(
                    "{}' / '{}",
                    shown(self.c1.map(|v| v.to_string())),
                    shown(self.c2.map(|v| v.to_string()))
                )),
            ),
            _ => return usage_error("train", ErrorKind::ValueValidation, error),
        };
        usage_error(
            "train",
            ErrorKind::ValueValidation,
            format!(
                "invalid value '{}' for '{flag}': expected {expected}",
                shown(value)
            ),
        )
    }

    /// The optimizer configuration, or a usage error for a flag that does
    /// not belong to the chosen optimizer or a value out of range.
    pub fn config(&self) -> Result<OptimizerConfig, clap::Error> {
        use OptimizerKind::*;
        let kind = self.optimizer;
        let name = match kind {
            Sgd => "sgd",
            Adam => "adam",
            Cg => "cg",
            Lbfgs => "lbfgs",
        };
        let line_search = self.line_search.unwrap_or(match kind {
            Cg => LineSearchKind::Armijo,
            _ => LineSearchKind::Wolfe,
        });
        // (flag, given, the optimizers it belongs to)
        let owners: [(&str, bool, &[OptimizerKind]); 16] = [
            ("--lr", self.lr.is_some(), &[Sgd, Adam]),
            ("--momentum", self.momentum.is_some(), &[Sgd]),
            ("--nesterov", self.nesterov, &[Sgd]),
            ("--weight-decay", self.weight_decay.is_some(), &[Sgd, Adam]),
            ("--beta1", self.beta1.is_some(), &[Adam]),
            ("--beta2", self.beta2.is_some(), &[Adam]),
            ("--epsilon", self.epsilon.is_some(), &[Adam]),
            ("--cg-formula", self.cg_formula.is_some(), &[Cg]),
            ("--history", self.history.is_some(), &[Lbfgs]),
            ("--line-search", self.line_search.is_some(), &[Cg, Lbfgs]),
            ("--initial-step", self.initial_step.is_some(), &[Cg, Lbfgs]),
            ("--curvature", self.curvature.is_some(), &[Lbfgs]),
            (
                "--inner-iterations",
                self.inner_iterations.is_some(),
                &[Lbfgs],
            ),
            ("--damping", self.damping, &[Lbfgs]),
            ("--curvature-eps", self.curvature_eps.is_some(), &[Lbfgs]),
            ("--max-step", self.max_step.is_some(), &[Lbfgs]),
        ];
        for (flag, given, owners) in owners {
            if given && !owners.contains(&kind) {
                let names: Vec<&str> = owners
                    .iter()
                    .map(|o| match o {
                        Sgd => "sgd",
                        Adam => "adam",
                        Cg => "cg",
                        Lbfgs => "lbfgs",
                    })
                    .collect();
                return Err(usage_error(
                    "train",
                    ErrorKind::ArgumentConflict,
                    format!(
                        "the argument '{flag}' cannot be used with '--optimizer {name}' (it applies to {})",
                        names.join(", ")
                    ),
                ));
            }
        }
        let searches = matches!(kind, Cg | Lbfgs);
        for (flag, given, applies) in [
            (
                "--c1",
                self.c1.is_some(),
                searches && line_search != LineSearchKind::Fixed,
            ),
            (
                "--c2",
                self.c2.is_some(),
                searches && line_search == LineSearchKind::Wolfe,
            ),
            (
                "--backtrack",
                self.backtrack.is_some(),
                searches && line_search == LineSearchKind::Armijo,
            ),
            (
                "--max-trials",
                self.max_trials.is_some(),
                searches && line_search != LineSearchKind::Fixed,
            ),
        ] {
            if given && !applies {
                let search = match line_search {
                    LineSearchKind::Fixed => "fixed",
                    LineSearchKind::Armijo => "armijo",
                    LineSearchKind::Wolfe => "wolfe",
                };
                let context = if searches {
                    format!("'--line-search {search}'")
                } else {
                    format!("'--optimizer {name}' (no line search)")
                };
                return Err(usage_error(
                    "train",
                    ErrorKind::ArgumentConflict,
                    format!("the argument '{flag}' cannot be used with {context}"),
                ));
            }
        }
        let invalid = |e: sooth_core::Error| self.invalid_value(e);
        let line_search = match line_search {
            LineSearchKind::Fixed => LineSearch::Fixed,
            LineSearchKind::Armijo => LineSearch::Armijo(
                Armijo::new(
                    self.c1.unwrap_or(1e-4),
                    self.backtrack.unwrap_or(0.5),
                    self.max_trials.unwrap_or(30),
                )
                .map_err(invalid)?,
            ),
            LineSearchKind::Wolfe => LineSearch::StrongWolfe(
                StrongWolfe::new(
                    self.c1.unwrap_or(1e-4),
                    self.c2.unwrap_or(0.9),
                    self.max_trials.unwrap_or(20),
                )
                .map_err(invalid)?,
            ),
        };
        let config = match kind {
            Sgd => OptimizerConfig::Sgd(SgdConfig {
                learning_rate: self.lr.unwrap_or(0.1),
                momentum: self.momentum.unwrap_or(0.9),
                nesterov: self.nesterov,
                weight_decay: self.weight_decay.unwrap_or(0.0),
            }),
            Adam => OptimizerConfig::Adam(AdamConfig {
                learning_rate: self.lr.unwrap_or(1e-3),
                beta1: self.beta1.unwrap_or(0.9),
                beta2: self.beta2.unwrap_or(0.999),
                epsilon: self.epsilon.unwrap_or(1e-8),
                weight_decay: self.weight_decay.unwrap_or(0.0),
            }),
            Cg => OptimizerConfig::Cg(CgConfig {
                formula: match self.cg_formula.unwrap_or(CgFormulaArg::Fr) {
                    CgFormulaArg::Fr => CgFormula::FletcherReeves,
                    CgFormulaArg::PrPlus => CgFormula::PolakRibierePlus,
                },
                line_search,
                initial_step: self.initial_step.unwrap_or(1.0),
            }),
            Lbfgs => OptimizerConfig::Lbfgs(LbfgsConfig {
                history: self.history.unwrap_or(10),
                line_search,
                initial_step: self.initial_step.unwrap_or(1.0),
                mode: match self.curvature.unwrap_or(CurvatureArg::SameBatch) {
                    CurvatureArg::Naive => CurvatureMode::Naive,
                    CurvatureArg::SameBatch => CurvatureMode::SameBatch,
                },
                inner_iterations: self.inner_iterations.unwrap_or(1),
                curvature_eps: self.curvature_eps.unwrap_or(1e-6),
                damping: self.damping,
                grad_tolerance: 0.0,
                max_step: self.max_step.unwrap_or(0.0),
            }),
        };
        config.validate().map_err(invalid)?;
        Ok(config)
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

/// The last, smaller batch of an epoch, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LastBatchArg {
    /// Train on it.
    Keep,
    /// Skip it.
    Drop,
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
}

/// The run these flags describe.
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
    if !(model.l2 >= 0.0 && model.l2.is_finite()) {
        return Err(usage_error(
            "train",
            ErrorKind::ValueValidation,
            format!(
                "invalid value '{}' for '--l2 <L2>': expected a finite value >= 0",
                model.l2
            ),
        ));
    }
    Ok(RunSpec {
        model: model.spec(),
        optimizer: optimizer.config()?,
        batch: training.batch_size,
        sampling: match training.sampling {
            SamplingArg::Shuffle => Sampling::Shuffle,
            SamplingArg::Replacement => Sampling::WithReplacement,
        },
        last_batch: match training.last_batch {
            LastBatchArg::Keep => LastBatch::Keep,
            LastBatchArg::Drop => LastBatch::Drop,
        },
        epochs: training.epochs,
        seed: training.seed,
        evaluate_train: training.eval_train,
        initial: None,
    })
}

/// `lbfgs (m 10, wolfe, same-batch)`-style description of an optimizer.
pub fn describe_optimizer(c: &OptimizerConfig) -> String {
    let search = |l: &LineSearch| match l {
        LineSearch::Fixed => "fixed step".to_string(),
        LineSearch::Armijo(a) => format!("armijo c1 {}", a.c1()),
        LineSearch::StrongWolfe(w) => format!("wolfe c1 {} c2 {}", w.c1(), w.c2()),
    };
    match c {
        OptimizerConfig::Sgd(s) => format!(
            "sgd (lr {}, {} momentum {}{})",
            s.learning_rate,
            if s.nesterov { "nesterov" } else { "heavy-ball" },
            s.momentum,
            if s.weight_decay > 0.0 {
                format!(", weight decay {}", s.weight_decay)
            } else {
                String::new()
            }
        ),
        OptimizerConfig::Adam(a) => format!(
            "adam (lr {}, betas {} {}, eps {})",
            a.learning_rate, a.beta1, a.beta2, a.epsilon
        ),
        OptimizerConfig::Cg(g) => format!(
            "cg ({}, {}, initial step {})",
            match g.formula {
                CgFormula::FletcherReeves => "fletcher-reeves",
                CgFormula::PolakRibierePlus => "polak-ribiere+",
            },
            search(&g.line_search),
            g.initial_step
        ),
        OptimizerConfig::Lbfgs(l) => format!(
            "lbfgs (m {}, {}, {} pairs{}{}{})",
            l.history,
            search(&l.line_search),
            match l.mode {
                CurvatureMode::Naive => "naive",
                CurvatureMode::SameBatch => "same-batch",
            },
            if l.damping { ", damped" } else { "" },
            if l.inner_iterations > 1 {
                format!(", {} iterations per batch", l.inner_iterations)
            } else {
                String::new()
            },
            if l.max_step > 0.0 {
                format!(", max step {}", l.max_step)
            } else {
                String::new()
            }
        ),
    }
}
