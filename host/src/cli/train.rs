//! `sooth train`: one training run, reported per epoch and in a summary.

use super::{DataArgs, ModelArgs, OptimizerArgs, TrainingArgs, run_spec, usage_error};
use crate::cli::output::{self, errln, outln};
use crate::data::load;
use crate::run::{BatchSize, EpochRecord, RunResult, RunSpec, train_with_validation};
use crate::run_files::{self, DataSplit, RunSummary, initial_params, save_model, write_metrics};
use crate::spec::describe_optimizer;
use clap::Args;
use clap::error::ErrorKind;
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
    refuse_stopping_flags(&spec, data_spec.validation_fraction > 0.0).unwrap_or_else(|e| e.exit());
    for path in [&args.save, &args.metrics].into_iter().flatten() {
        check_output(path)?;
    }
    let split = match &args.save {
        Some(_) => {
            Some(DataSplit::of(&args.data.options(), &data_spec).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let data = load(&data_spec).map_err(|e| e.to_string())?;
    if let Some(path) = &args.training.init_from {
        super::read_model_file(path)?;
        spec.initial = Some(initial_params(path, &spec, &data).map_err(|e| e.to_string())?);
    }
    let validation = data
        .validation
        .as_ref()
        .map_or(String::new(), |v| format!(" / {} validation", v.len()));
    let header = format!(
        "sooth train: {} ({} train{validation} / {} test, {} features, {} classes), {}, {}, batch {}, {} epochs, seed {}",
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
    let trained = train_with_validation(
        &spec,
        &data.train,
        data.validation.as_ref(),
        &data.test,
        |r| {
            progress.inc(1);
            progress.suspend(|| line(&mut lines, &epoch_line(r)));
        },
    )
    .map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    if let Some(warning) = divergence_warning(&trained.result, &trained.curve, &data) {
        errln!("warning: {warning}");
    }
    if let Some(path) = &args.metrics {
        write_metrics(path, &trained.curve).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.save {
        // The selected epoch's parameters with a validation split, else
        // the last epoch's.
        let params = trained.selected_params.as_ref().unwrap_or(&trained.params);
        save_model(path, &trained.mlp, params, &data, split.as_ref()).map_err(|e| e.to_string())?;
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
        if let Some(path) = &args.save {
            let which = match r.selected_epoch {
                Some(e) => format!("the selected epoch {e} (best validation accuracy)"),
                None => format!(
                    "the last epoch {} (no validation split to select one; see --validation-fraction)",
                    r.epochs
                ),
            };
            outln!("saved {} with the parameters of {which}", path.display())?;
        }
    }
    Ok(())
}

/// Refuses stopping flags that cannot apply: --gtol and --ftol need the
/// full batch (they test the whole training set's gradient and loss),
/// --patience a validation split; negative or non-finite values.
fn refuse_stopping_flags(spec: &RunSpec, validation: bool) -> Result<(), clap::Error> {
    let s = &spec.stopping;
    let invalid = |flag: &str, value: String| {
        Err(usage_error(
            "train",
            ErrorKind::ValueValidation,
            format!("invalid value '{value}' for '{flag}': expected a finite number >= 0 (0: off)"),
        ))
    };
    if !(s.gtol >= 0.0 && s.gtol.is_finite()) {
        return invalid("--gtol <GTOL>", s.gtol.to_string());
    }
    if !(s.ftol >= 0.0 && s.ftol.is_finite()) {
        return invalid("--ftol <FTOL>", s.ftol.to_string());
    }
    for (flag, on) in [("--gtol", s.gtol > 0.0), ("--ftol", s.ftol > 0.0)] {
        if on && spec.batch != BatchSize::Full {
            return Err(usage_error(
                "train",
                ErrorKind::ArgumentConflict,
                format!(
                    "the argument '{flag}' cannot be used with '--batch-size {}': it tests the \
                     whole training set's gradient or loss, so it needs '--batch-size full'",
                    spec.batch
                ),
            ));
        }
    }
    if s.patience > 0 && !validation {
        return Err(usage_error(
            "train",
            ErrorKind::MissingRequiredArgument,
            "the argument '--patience' needs '--validation-fraction <FRACTION>': it counts \
             epochs without a better validation accuracy",
        ));
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
        r.epochs,
        100.0 * r.final_test_accuracy,
        r.final_test_loss
    )?;
    if let (Some(e), Some(v), Some(t)) = (
        r.selected_epoch,
        r.selected_validation_accuracy,
        r.selected_test_accuracy,
    ) {
        outln!(
            "selected epoch {e} (best validation accuracy {:.2}%): test accuracy {:.2}%",
            100.0 * v,
            100.0 * t
        )?;
    }
    outln!("{}", stop_line(spec, r))?;
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

/// Why the run ended, for the summary: all epochs, or the rule that
/// stopped it (the epochs not run would not have changed the parameters
/// for `stalled` and L-BFGS's `gtol`, so peak and final accuracy stand).
fn stop_line(spec: &RunSpec, r: &RunResult) -> String {
    let reason = r.stop_reason.as_deref().unwrap_or("epochs");
    let why = match reason {
        "epochs" => return format!("stop: epochs (all {} ran)", r.epochs),
        "gtol" => format!(
            "the full-batch gradient's infinity norm reached --gtol {}",
            spec.stopping.gtol
        ),
        "ftol" => format!(
            "the loss fell by at most --ftol {} (relative) in one step",
            spec.stopping.ftol
        ),
        "patience" => format!(
            "{} epochs without a better validation accuracy (--patience)",
            spec.stopping.patience
        ),
        "stalled" => "a line search failed right after a restart with the parameters unchanged; \
                      every later epoch would repeat it (the epochs not run are as the last)"
            .to_string(),
        other => other.to_string(),
    };
    format!(
        "stop: {reason} after epoch {} of {}: {why}",
        r.epochs, spec.epochs
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
