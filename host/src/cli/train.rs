//! `sooth train`: one training run, reported per epoch and in a summary.

use super::{DataArgs, ModelArgs, OptimizerArgs, TrainingArgs, run_spec};
use crate::data::{Loaded, Scaling, load};
use crate::run::{EpochRecord, RunResult, RunSpec, Trained, train};
use crate::spec::describe_optimizer;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Flags of `sooth train`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  sooth train --dataset digits --hidden 32 --optimizer lbfgs --batch-size 64 --epochs 30 --seed 1"
)]
pub struct TrainArgs {
    #[command(flatten)]
    #[command(next_help_heading = "Data")]
    pub data: DataArgs,
    #[command(flatten)]
    #[command(next_help_heading = "Model")]
    pub model: ModelArgs,
    #[command(flatten)]
    #[command(next_help_heading = "Optimizer")]
    pub optimizer: OptimizerArgs,
    #[command(flatten)]
    #[command(next_help_heading = "Training")]
    pub training: TrainingArgs,
    /// Print one JSON summary on stdout (epoch lines go to stderr).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Write the per-epoch curve to this CSV file.
    #[arg(long, value_name = "FILE.csv", help_heading = "Output")]
    pub metrics: Option<PathBuf>,
    /// Save the trained model (format: see `sooth_core::model`).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub save: Option<PathBuf>,
    /// No progress bar and no epoch lines (the summary or JSON only).
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

/// The JSON summary of `sooth train --json`.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
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

/// Runs `sooth train`.
pub fn run(args: TrainArgs) -> Result<(), String> {
    let mut spec =
        run_spec(&args.model, &args.optimizer, &args.training).unwrap_or_else(|e| e.exit());
    let data_spec = args.data.spec("train").unwrap_or_else(|e| e.exit());
    for path in [&args.save, &args.metrics].into_iter().flatten() {
        check_output(path)?;
    }
    let data = load(&data_spec).map_err(|e| e.to_string())?;
    if let Some(path) = &args.training.init_from {
        spec.initial = Some(initial_params(path, &spec, &data)?);
    }
    let header = format!(
        "sooth train: {} ({} train / {} test, {} features, {} classes), {}, {}, batch {}, {} epochs, seed {}",
        data.name,
        data.train.len(),
        data.test.len(),
        data.train.width,
        data.train.classes,
        spec.model.describe(data.train.width, data.train.classes),
        describe_optimizer(&spec.optimizer),
        spec.batch,
        spec.epochs,
        spec.seed
    );
    // Human lines go to stdout, or to stderr when stdout carries the JSON.
    let mut lines: Box<dyn Write> = match (args.quiet, args.json) {
        (true, _) => Box::new(std::io::sink()),
        (false, true) => Box::new(std::io::stderr()),
        (false, false) => Box::new(std::io::stdout()),
    };
    let _ = writeln!(lines, "{header}");
    let _ = writeln!(lines, "{}", EPOCH_HEADER);
    let progress = progress_bar(spec.epochs, args.quiet);
    let trained = train(&spec, &data.train, &data.test, |r| {
        progress.inc(1);
        progress.suspend(|| {
            let _ = writeln!(lines, "{}", epoch_line(r));
        });
    })?;
    progress.finish_and_clear();
    if let Some(path) = &args.metrics {
        write_metrics(path, &trained.curve)?;
    }
    if let Some(path) = &args.save {
        save_model(path, &trained, &data)?;
    }
    let r = &trained.result;
    if args.json {
        let summary = Summary {
            dataset: &data.name,
            train_samples: data.train.len(),
            test_samples: data.test.len(),
            model: spec.model.describe(data.train.width, data.train.classes),
            optimizer: describe_optimizer(&spec.optimizer),
            batch_size: spec.batch.to_string(),
            seed: spec.seed,
            result: r,
        };
        let json = serde_json::to_string(&summary).map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        print_summary(&spec, r);
    }
    Ok(())
}

const EPOCH_HEADER: &str = "epoch  batch loss  train loss  train acc  test loss  test acc     evals  recov  ls-fail    time";

fn epoch_line(r: &EpochRecord) -> String {
    let opt = |v: Option<f64>, pct: bool| match v {
        Some(v) if pct => format!("{:>8.2}%", 100.0 * v),
        Some(v) => format!("{v:>10.4}"),
        None if pct => format!("{:>9}", "-"),
        None => format!("{:>10}", "-"),
    };
    format!(
        "{:>5}  {:>10.4}  {}  {}  {:>9.4}  {:>7.2}%  {:>8}  {:>5}  {:>7}  {:>6.2}s",
        r.epoch,
        r.mean_batch_loss,
        opt(r.train_loss, false),
        opt(r.train_accuracy, true),
        r.test_loss,
        100.0 * r.test_accuracy,
        r.evaluations,
        r.recoveries,
        r.line_search_failures,
        r.wall_seconds
    )
}

fn print_summary(spec: &RunSpec, r: &RunResult) {
    println!(
        "peak test accuracy {:.2}% at epoch {} of {}; final test accuracy {:.2}% (loss {:.4})",
        100.0 * r.peak_test_accuracy,
        r.peak_epoch,
        spec.epochs,
        100.0 * r.final_test_accuracy,
        r.final_test_loss
    );
    println!(
        "{} evaluations ({} gradients), {} recoveries, {} failed line searches, {:.2} s, param_hash {}",
        r.evaluations,
        r.gradients,
        r.recoveries,
        r.line_search_failures,
        r.wall_seconds,
        r.param_hash
    );
}

/// A bar over the epochs on stderr; hidden with --quiet or off a terminal.
fn progress_bar(epochs: u32, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(u64::from(epochs)), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} epoch {pos}/{len} {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Writes the per-epoch curve as CSV (empty cells where not evaluated).
pub fn write_metrics(path: &Path, curve: &[EpochRecord]) -> Result<(), String> {
    let mut out = String::from(
        "epoch,mean_batch_loss,train_loss,train_accuracy,test_loss,test_accuracy,evaluations,gradients,recoveries,line_search_failures,wall_seconds,train_seconds\n",
    );
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in curve {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
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
            r.train_seconds
        ));
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

/// The parameters of the saved model at `path`, checked against the run's
/// network and the data's scaling.
fn initial_params(path: &Path, spec: &RunSpec, data: &Loaded) -> Result<Vec<f32>, String> {
    let name = path.display();
    let bytes = super::read_model_file(path)?;
    let model = sooth_core::SavedModel::read(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let wanted = spec
        .model
        .mlp(data.train.width, data.train.classes)
        .map_err(|e| e.to_string())?;
    let found = model.mlp();
    if found.shape() != wanted.shape() || found.activation() != wanted.activation() {
        let widths: Vec<String> = found
            .shape()
            .widths()
            .iter()
            .map(|w| w.to_string())
            .collect();
        return Err(format!(
            "{name}: the model is {} {}, but this run trains {}",
            widths.join("-"),
            crate::run::activation_name(found.activation()),
            spec.model.describe(data.train.width, data.train.classes)
        ));
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
        return Err(format!(
            "{name}: the model was trained on {} features, but this run scales them with --scale {} \
             (fitted on this data); give the --scale and data the model was trained with",
            if model.has_transform() {
                "scaled"
            } else {
                "unscaled"
            },
            data.scaler.scaling
        ));
    }
    let mut params = vec![0.0f32; wanted.shape().param_count()];
    model
        .read_params(&mut params)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(params)
}

/// Fails before training if `path` cannot be written: its folder must exist.
pub fn check_output(path: &Path) -> Result<(), String> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "{}: no such folder {}; expected an existing folder to write into",
            path.display(),
            parent.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{}: is a directory, expected a file name",
            path.display()
        ));
    }
    Ok(())
}

/// Saves the model with the data's scaling as its input transform.
fn save_model(path: &Path, trained: &Trained, data: &Loaded) -> Result<(), String> {
    let transform: Option<Vec<(f64, f64)>> = (data.scaler.scaling != Scaling::None).then(|| {
        data.scaler
            .offset
            .iter()
            .zip(&data.scaler.divisor)
            .map(|(&o, &d)| (o, d))
            .collect()
    });
    let shape = trained.mlp.shape();
    let mut bytes = vec![0u8; sooth_core::saved_len(&shape, transform.is_some())];
    let len = sooth_core::write_model(
        &trained.mlp,
        &trained.params,
        transform.as_deref(),
        &mut bytes,
    )
    .map_err(|e| e.to_string())?;
    bytes.truncate(len);
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
