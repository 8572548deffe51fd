//! `sooth sweep` and `sooth merge`.

use super::Finished;
use crate::cli::output::{errln, out, outln};
use crate::sweep::{BuiltinStudy, Shard, Study, SweepOptions, store, sweep};
use clap::Args;
use std::path::PathBuf;

/// Flags of `sooth sweep`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --config, runs the built-in default study: digits; sgd, adam, cg and \
lbfgs; batch sizes 8, 32, 128, 512 and full; 10 seeds; 30 epochs (`sooth sweep --print-default` \
shows it as TOML to copy and edit). `--study sensitivity` runs the built-in sensitivity study \
instead: the same data, batch sizes, seeds and epochs with a grid of hyperparameters per optimizer \
(learning rates and momenta, line searches, CG formulas, L-BFGS history lengths), for the report's \
claim (d).\n\nExamples:\n  sooth sweep --out runs/default\n  \
sooth sweep --study sensitivity --out runs/sensitivity\n  \
sooth sweep --config study.toml --out runs/study --shard 0/4\n  sooth report runs/default"
)]
pub struct SweepArgs {
    /// The study (TOML); the built-in default study if not given.
    #[arg(long, value_name = "FILE", conflicts_with = "study")]
    pub config: Option<PathBuf>,
    /// A built-in study instead of --config (with --print-default: the one
    /// to print).
    #[arg(long, value_name = "NAME", value_enum)]
    pub study: Option<BuiltinStudy>,
    /// The results directory (created; rerun the same command to resume).
    #[arg(long, value_name = "DIR", required_unless_present_any = ["print_default", "plan"])]
    pub out: Option<PathBuf>,
    /// Only shard K of N (0 <= K < N), balanced by expected cost; each shard
    /// needs its own --out; combine them with `sooth merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Runs at once (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the default study (or the one --study names) as TOML and exit.
    #[arg(long)]
    pub print_default: bool,
    /// Print the runs and their shards' expected costs and exit (with
    /// --shard: that shard's runs).
    #[arg(long)]
    pub plan: bool,
}

/// Runs `sooth sweep`: [`Finished::RunsFailed`] when the sweep finished
/// but some of its runs (done now or before) ended in an error.
pub fn run(args: SweepArgs) -> Result<Finished, String> {
    if args.print_default {
        let which = args.study.unwrap_or(BuiltinStudy::Default);
        out!("{}", which.text().trim_start())?;
        return Ok(Finished::AllOk);
    }
    let study = match (args.study, args.config.as_deref()) {
        (Some(which), _) => Study::builtin(which),
        (None, path) => Study::read(path).map_err(|e| e.to_string())?,
    };
    if args.plan {
        return print_plan(&study, args.shard).map(|()| Finished::AllOk);
    }
    let Some(out) = args.out else {
        return Err("--out DIR is required".into());
    };
    let threads = match args.threads {
        Some(0) => {
            super::usage_error(
                "sweep",
                clap::error::ErrorKind::ValueValidation,
                "invalid value '0' for '--threads <N>': expected at least 1",
            )
            .exit();
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let outcome = sweep(
        &study,
        &out,
        SweepOptions {
            threads,
            shard: args.shard,
            quiet: args.quiet,
        },
    )
    .map_err(|e| e.to_string())?;
    if !args.quiet {
        outln!(
            "sooth sweep: {} runs in {} ({} done before, {} now, {} with errors) in {:.1} s on {} threads",
            outcome.planned,
            out.display(),
            outcome.resumed,
            outcome.ran,
            outcome.errors,
            outcome.seconds,
            threads
        )?;
        outln!(
            "results: {} and {}; next: sooth report {}",
            out.join(store::RUNS_CSV).display(),
            out.join(store::RUNS_JSONL).display(),
            out.display()
        )?;
    }
    if let Some((run_id, status)) = &outcome.first_error {
        errln!(
            "sooth sweep: finished, but {} of {} runs ended in an error (first: {run_id}: {status}); \
             each row's status in {} says why",
            outcome.errors,
            outcome.planned,
            out.join(store::RUNS_CSV).display()
        );
    }
    Ok(Finished::with_failures(outcome.errors))
}

fn print_plan(study: &Study, shard: Option<Shard>) -> Result<(), String> {
    let (data, runs) = crate::sweep::prepare(study).map_err(|e| e.to_string())?;
    let total: f64 = runs.iter().map(|r| r.cost).sum();
    outln!(
        "{}: {} runs on {} (config hash {})",
        study.name,
        runs.len(),
        data.name,
        study.config_hash()
    )?;
    if let Some(shard) = shard {
        let mine = crate::sweep::shard_runs(runs, shard);
        let cost: f64 = mine.iter().map(|r| r.cost).sum();
        outln!(
            "shard {shard}: {} runs, {:.1}% of the expected work",
            mine.len(),
            100.0 * cost / total
        )?;
        for r in mine {
            outln!("{}", r.run_id)?;
        }
    }
    Ok(())
}

/// Flags of `sooth merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard directories (of the same study).
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// The merged directory (created; may be one of the shards' parent).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `sooth merge`.
pub fn merge(args: MergeArgs) -> Result<(), String> {
    let outcome = crate::sweep::merge::merge(&args.shards, &args.out).map_err(|e| e.to_string())?;
    if !args.quiet {
        outln!(
            "sooth merge: {} of {} runs in {} from {} directories{}",
            outcome.rows,
            outcome.total,
            args.out.display(),
            args.shards.len(),
            if outcome.rows < outcome.total {
                format!(
                    "; {} runs are missing (rerun their shards: the sweep resumes)",
                    outcome.total - outcome.rows
                )
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}
