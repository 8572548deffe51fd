//! `sooth train`: one training run, reported per epoch and in a summary.

use super::{DataArgs, ModelArgs, OptimizerArgs, TrainingArgs, run_spec};
use crate::cli::output::{self, errln, outln};
use crate::data::load;
use crate::run::{EpochRecord, RunResult, RunSpec, train};
use crate::run_files::{self, RunSummary, initial_params, save_model, write_metrics};
use crate::spec::describe_optimizer;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Flags of `sooth train`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  sooth train --dataset digits --hidden 32 --optimizer lbfgs --batch-size 64 --epochs 30 --seed 1"
)]
pub struct TrainArgs {
    /// Where the data comes from and how it is prepared.
    #[command(flatten)]
    #[command(next_help_heading = "Data")]
    pub data: DataArgs,
    /// The network.
    #[command(flatten)]
    #[command(next_help_heading = "Model")]
    pub model: ModelArgs,
    /// The optimizer and its hyperparameters.
    #[command(flatten)]
    #[command(next_help_heading = "Optimizer")]
    pub optimizer: OptimizerArgs,
    /// Batches, epochs and seed.
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
        super::read_model_file(path)?;
        spec.initial = Some(initial_params(path, &spec, &data).map_err(|e| e.to_string())?);
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
    let to_stdout = !args.quiet && !args.json;
    let mut lines: Box<dyn Write> = match (args.quiet, args.json) {
        (true, _) => Box::new(std::io::sink()),
        (false, true) => Box::new(std::io::stderr()),
        (false, false) => Box::new(std::io::stdout()),
    };
    // A failed write of an epoch line on stdout: a closed pipe ends the
    // command; another error is reported once the model is saved (nothing
    // of the run is lost). Errors on stderr are ignored.
    let mut failed: Option<output::OutputError> = None;
    let mut line = |lines: &mut Box<dyn Write>, text: &str| {
        if let Err(e) = writeln!(lines, "{text}").and_then(|()| lines.flush())
            && to_stdout
            && failed.is_none()
        {
            failed = Some(output::stdout_error(e));
        }
    };
    line(&mut lines, &header);
    line(&mut lines, EPOCH_HEADER);
    let progress = progress_bar(spec.epochs, args.quiet);
    let trained = train(&spec, &data.train, &data.test, |r| {
        progress.inc(1);
        progress.suspend(|| line(&mut lines, &epoch_line(r)));
    })
    .map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    if let Some(warning) = divergence_warning(&trained.result, &trained.curve, &data) {
        errln!("warning: {warning}");
    }
    if let Some(path) = &args.metrics {
        write_metrics(path, &trained.curve).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.save {
        save_model(path, &trained, &data).map_err(|e| e.to_string())?;
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    let r = &trained.result;
    if args.json {
        let summary = RunSummary {
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
        outln!("{json}")?;
    } else {
        print_summary(&spec, r)?;
    }
    Ok(())
}

/// A warning when the run diverged or learned nothing (a non-finite loss,
/// or a final test accuracy at chance level), naming the likely cause:
/// unscaled features, else the step size.
pub fn divergence_warning(
    r: &RunResult,
    curve: &[EpochRecord],
    data: &crate::data::Loaded,
) -> Option<String> {
    let classes = data.train.classes.max(2) as f64;
    let non_finite =
        !r.final_test_loss.is_finite() || curve.iter().any(|e| !e.mean_batch_loss.is_finite());
    let at_chance = r.final_test_accuracy <= 1.25 / classes;
    if !non_finite && !at_chance {
        return None;
    }
    let what = if non_finite {
        "the run diverged (a non-finite loss)".to_string()
    } else {
        format!(
            "the run did not learn (final test accuracy {:.2}%, chance is about {:.2}%)",
            100.0 * r.final_test_accuracy,
            100.0 / classes
        )
    };
    let max_abs =
        data.train.features.iter().fold(
            0.0f32,
            |m, x| if x.is_finite() { m.max(x.abs()) } else { m },
        );
    let cause = if data.scaler.scaling == crate::data::Scaling::None && max_abs > 10.0 {
        format!("the features are unscaled (max |x| = {max_abs}); try --scale min-max")
    } else {
        "the steps may be too large; try a smaller --lr (sgd, adam) or --initial-step \
         or --max-step (cg, lbfgs)"
            .to_string()
    };
    Some(format!("{what}: {cause}"))
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

fn print_summary(spec: &RunSpec, r: &RunResult) -> Result<(), output::OutputError> {
    outln!(
        "peak test accuracy {:.2}% at epoch {} of {}; final test accuracy {:.2}% (loss {:.4})",
        100.0 * r.peak_test_accuracy,
        r.peak_epoch,
        spec.epochs,
        100.0 * r.final_test_accuracy,
        r.final_test_loss
    )?;
    outln!(
        "{} evaluations ({} gradients), {} recoveries, {} failed line searches, {:.2} s, param_hash {}",
        r.evaluations,
        r.gradients,
        r.recoveries,
        r.line_search_failures,
        r.wall_seconds,
        r.param_hash
    )
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

/// Fails before training if `path` cannot be written (see
/// [`run_files::check_output`]), as a message.
pub fn check_output(path: &Path) -> Result<(), String> {
    run_files::check_output(path).map_err(|e| e.to_string())
}
