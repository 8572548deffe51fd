//! `sooth tune`: race batch sizes (and optionally one or two
//! hyperparameters) and recommend one; see [`crate::tune`].

use super::{DataArgs, Finished, LastBatchArg, ModelArgs, OptimizerArgs, SamplingArg, usage_error};
use crate::cli::output::{errln, out};
use crate::data::load;
use crate::report::recommend::DEFAULT_MARGIN_POINTS;
use crate::report::response::Response;
use crate::run::BatchSize;
use crate::spec::OptimizerOptions;
use crate::sweep::StudyProblem;
use crate::tune::{self, Request, Tune, TuneError, TuneOptions};
use clap::Args;
use clap::error::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `sooth tune`.
#[derive(Debug, Args)]
#[command(
    after_help = "The race: every candidate (batch size, times the --grid values) starts \
with --initial-seeds seeds; a candidate goes out when a one-sided Welch t-test against the \
round's highest-mean candidate, Holm-adjusted over the round, is below alpha / (planned rounds), \
or when none of its runs beats chance; the survivors get twice the seeds, up to --max-seeds. It \
stops with one candidate left, at --max-seeds (then: `sooth report`'s rule, the highest mean unless a \
steadier survivor is shown equivalent within --equivalence-margin), or \
when --budget or --time is spent. DIR is a sweep directory: rerun to resume, \
`sooth report DIR` to analyse.\n\nExamples:\n  sooth tune --optimizer lbfgs --out runs/tune-lbfgs\n  \
sooth tune --optimizer sgd --batch-sizes 8,32,128,512,full --grid lr=0.01,0.1 --out runs/tune-sgd"
)]
pub struct TuneArgs {
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
    /// Candidate batch sizes, comma separated (`full`: the whole training
    /// set; sizes above it are left out).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "8,16,32,64,128,256,512,full",
        value_name = "N,..",
        help_heading = "Race"
    )]
    pub batch_sizes: Vec<BatchSize>,
    /// Race an optimizer flag too: `FLAG=V1,V2,...` (e.g. `lr=0.01,0.1`);
    /// at most twice. Candidates are batch sizes x these values.
    #[arg(long, value_name = "FLAG=V1,V2", help_heading = "Race")]
    pub grid: Vec<String>,
    /// Seeds of every candidate in the first round (>= 2).
    #[arg(long, default_value_t = 3, value_name = "N", help_heading = "Race")]
    pub initial_seeds: usize,
    /// The most seeds per candidate; survivors double their seeds up to it.
    #[arg(long, default_value_t = 10, value_name = "N", help_heading = "Race")]
    pub max_seeds: usize,
    /// Chance of the whole race dropping a candidate that is not truly worse
    /// (each round tests at alpha / planned rounds).
    #[arg(
        long,
        default_value_t = 0.05,
        value_name = "ALPHA",
        help_heading = "Race"
    )]
    pub alpha: f64,
    /// Spend at most this many runs.
    #[arg(
        long,
        value_name = "RUNS",
        conflicts_with = "time",
        help_heading = "Race"
    )]
    pub budget: Option<usize>,
    /// The test accuracy raced: peak, selected (at the epoch with the best
    /// validation accuracy) or final. Default: selected when every run has
    /// one (a validation split), else peak.
    #[arg(long, value_name = "peak|selected|final", value_parser = super::report::parse_response, help_heading = "Race")]
    pub response: Option<Response>,
    /// Equivalence margin of the final pick, in accuracy points (as
    /// `sooth report`'s): without a winner, a steadier survivor beats the
    /// highest mean only when shown within this margin of it.
    #[arg(long, value_name = "POINTS", default_value_t = DEFAULT_MARGIN_POINTS, value_parser = super::report::parse_margin, help_heading = "Race")]
    pub equivalence_margin: f64,
    /// Start no round that would end after this many minutes.
    #[arg(long, value_name = "MINUTES", help_heading = "Race")]
    pub time: Option<f64>,
    /// Passes over the training set.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "N",
        help_heading = "Training"
    )]
    pub epochs: u32,
    /// How batches are drawn.
    #[arg(long, default_value = "shuffle", help_heading = "Training")]
    pub sampling: SamplingArg,
    /// The last batch of an epoch when the batch size does not divide the data.
    #[arg(long, default_value = "keep", help_heading = "Training")]
    pub last_batch: LastBatchArg,
    /// The directory (a sweep directory; created; rerun to resume).
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,
    /// Runs at once (default: all cores).
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub threads: Option<usize>,
    /// Nothing but the summary (no progress, no round lines).
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

/// Runs `sooth tune`: [`Finished::RunsFailed`] when some of its runs
/// ended in an error.
pub fn run(args: TuneArgs) -> Result<Finished, String> {
    let request = request(&args).unwrap_or_else(|e| e.exit());
    let threads = match args.threads {
        Some(0) => invalid("invalid value '0' for '--threads <N>': expected at least 1").exit(),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let time = match args.time {
        Some(m) if !(m > 0.0 && m.is_finite()) => invalid(format!(
            "invalid value '{m}' for '--time <MINUTES>': expected a number of minutes > 0"
        ))
        .exit(),
        Some(m) => Some(Duration::from_secs_f64(m * 60.0)),
        None => None,
    };
    let data_spec = args.data.spec("tune").unwrap_or_else(|e| e.exit());
    let data = load(&data_spec).map_err(|e| e.to_string())?;
    let tune = Tune::new(request, &data).map_err(|e| e.to_string())?;
    if !args.quiet && !tune.dropped.is_empty() {
        errln!(
            "sooth tune: left out batch sizes larger than the {} training samples: {}",
            data.train.len(),
            tune.dropped
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !args.quiet {
        errln!(
            "sooth tune: {} candidates on {}; rounds of {} seeds; level {} per round; full grid {} runs",
            tune.candidates.len(),
            data.name,
            tune.settings
                .schedule()
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            tune::output::fmt_p(tune.settings.alpha_per_round()),
            tune.settings.full_grid()
        );
    }
    let tuned = tune::run(
        &tune,
        &data,
        &args.out,
        TuneOptions {
            threads,
            quiet: args.quiet,
            time,
        },
    )
    .map_err(|e| e.to_string())?;
    let summary =
        tune::output::write(&args.out, &tune, &data, &tuned).map_err(|e| e.to_string())?;
    out!("{}", tune::output::stdout_summary(&summary, &args.out))?;
    let failed = tuned.rows.iter().filter(|r| r.status != "ok").count();
    if failed > 0 {
        errln!(
            "sooth tune: finished, but {failed} of {} runs ended in an error; each row's status \
             in {} says why",
            tuned.rows.len(),
            args.out.join(crate::sweep::store::RUNS_CSV).display()
        );
    }
    Ok(Finished::with_failures(failed))
}

fn invalid(message: impl std::fmt::Display) -> clap::Error {
    usage_error("tune", ErrorKind::ValueValidation, message)
}

/// The tune these flags ask for, or a usage error.
pub fn request(args: &TuneArgs) -> Result<Request, clap::Error> {
    // The optimizer flags' own checks, reported as errors of `tune`.
    args.optimizer.config("tune")?;
    args.data.spec("tune")?;
    if args.epochs == 0 {
        return Err(invalid(
            "invalid value '0' for '--epochs <N>': expected at least 1 epoch",
        ));
    }
    if args.batch_sizes.is_empty() {
        return Err(invalid("--batch-sizes is empty: give at least one"));
    }
    let mut batch_sizes = args.batch_sizes.clone();
    batch_sizes.sort();
    batch_sizes.dedup();
    if args.grid.len() > 2 {
        return Err(usage_error(
            "tune",
            ErrorKind::TooManyValues,
            "--grid is given more than twice; race at most two flags besides the batch size",
        ));
    }
    let optimizer = args.optimizer.options();
    let mut grid: Vec<(String, Vec<String>)> = Vec::new();
    for spec in &args.grid {
        let (key, values) = parse_grid(spec).map_err(invalid)?;
        if !OptimizerOptions::KEYS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "--grid {spec}: `{}` is not an optimizer flag; expected one of {}",
                key.replace('_', "-"),
                OptimizerOptions::KEYS
                    .iter()
                    .map(|k| k.replace('_', "-"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if optimizer.is_written(&key) {
            return Err(usage_error(
                "tune",
                ErrorKind::ArgumentConflict,
                format!(
                    "--grid {spec}: --{} is also given as a flag; give it once",
                    key.replace('_', "-")
                ),
            ));
        }
        if grid.iter().any(|(k, _)| *k == key) {
            return Err(invalid(format!(
                "--grid {spec}: `{}` is raced twice",
                key.replace('_', "-")
            )));
        }
        grid.push((key, values));
    }
    let request = Request {
        data: args.data.options(),
        model: args.model.options(),
        optimizer,
        grid,
        batch_sizes,
        epochs: args.epochs,
        sampling: args.sampling.into(),
        last_batch: args.last_batch.into(),
        initial_seeds: args.initial_seeds,
        max_seeds: args.max_seeds,
        alpha: args.alpha,
        budget: args.budget,
        response: args.response,
        equivalence_margin: args.equivalence_margin,
    };
    tune::race::RaceSettings {
        candidates: 1,
        initial_seeds: request.initial_seeds,
        max_seeds: request.max_seeds,
        alpha: request.alpha,
        failure_threshold: None,
        budget: None,
        pick_rule: Default::default(),
    }
    .validate()
    .map_err(invalid)?;
    // The grid's values go through the same specification as every flag.
    request.study().map_err(|e| match e {
        TuneError::Study(StudyProblem::Option { error, .. }) => invalid(format!("--grid: {error}")),
        other => invalid(format!("--grid: {other}")),
    })?;
    Ok(request)
}

/// `lr=0.01,0.1` -> (`lr`, [`0.01`, `0.1`]); the flag may be written with
/// dashes or underscores, with or without the leading `--`.
pub fn parse_grid(spec: &str) -> Result<(String, Vec<String>), String> {
    let bad = || format!("--grid {spec}: expected FLAG=V1,V2,... (e.g. lr=0.01,0.1)");
    let (key, values) = spec.split_once('=').ok_or_else(bad)?;
    let key = key.trim().trim_start_matches("--").replace('-', "_");
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if key.is_empty() || values.iter().any(|v| v.is_empty()) {
        return Err(bad());
    }
    let mut unique = values.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        return Err(format!("--grid {spec}: a value is given twice"));
    }
    Ok((key, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DataOptions, ModelOptions};
    use clap::{CommandFactory, Parser};

    /// The data, model and optimizer flag groups, parsed alone.
    #[derive(Debug, Parser)]
    #[command(name = "sooth")]
    struct Flags {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        optimizer: OptimizerArgs,
    }

    fn parse(args: &[&str]) -> Flags {
        let mut all = vec!["sooth"];
        all.extend(args);
        Flags::try_parse_from(all).unwrap()
    }

    /// Every flag of the three groups is a key of its specification (a
    /// flag added later and forgotten there could not be written in a
    /// study or raced).
    #[test]
    fn every_flag_is_a_spec_key() {
        let mut keys: Vec<String> = DataOptions::KEYS
            .iter()
            .chain(ModelOptions::KEYS)
            .chain(OptimizerOptions::KEYS)
            .map(|k| k.replace('_', "-"))
            .collect();
        keys.sort();
        let mut longs: Vec<String> = Flags::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|l| l != "optimizer")
            .collect();
        longs.sort();
        assert_eq!(keys, longs);
    }

    /// The study built from the flags means what the flags mean.
    #[test]
    fn flags_round_trip_through_the_study() {
        let cases: [&[&str]; 4] = [
            &[],
            &[
                "--optimizer",
                "sgd",
                "--lr",
                "0.05",
                "--momentum",
                "0.5",
                "--nesterov",
                "--weight-decay",
                "0.001",
                "--hidden",
                "16,8",
                "--activation",
                "tanh",
                "--l2",
                "0.0001",
            ],
            &[
                "--optimizer",
                "lbfgs",
                "--history",
                "5",
                "--line-search",
                "armijo",
                "--c1",
                "0.001",
                "--backtrack",
                "0.7",
                "--max-trials",
                "12",
                "--curvature",
                "naive",
                "--inner-iterations",
                "2",
                "--damping",
                "--curvature-eps",
                "0.00001",
                "--max-step",
                "3",
                "--initial-step",
                "0.5",
            ],
            &[
                "--optimizer",
                "cg",
                "--cg-formula",
                "pr+",
                "--dataset",
                "train.csv",
                "--scale",
                "standardize",
                "--test-fraction",
                "0.3",
                "--data-seed",
                "7",
                "--label-column",
                "last",
            ],
        ];
        for case in cases {
            let f = parse(case);
            let request = Request {
                data: f.data.options(),
                model: f.model.options(),
                optimizer: f.optimizer.options(),
                grid: Vec::new(),
                batch_sizes: vec![BatchSize::Size(16)],
                epochs: 2,
                sampling: sooth_core::Sampling::Shuffle,
                last_batch: sooth_core::LastBatch::Keep,
                initial_seeds: 2,
                max_seeds: 2,
                alpha: 0.05,
                budget: None,
                response: None,
                equivalence_margin: 0.5,
            };
            let study = request.study().unwrap();
            let o = &study.optimizers[0];
            assert_eq!(
                o.configs[0].optimizer,
                f.optimizer.config("tune").unwrap(),
                "{case:?}"
            );
            assert_eq!(
                study.model_spec(),
                f.model.options().resolve().unwrap(),
                "{case:?}"
            );
            assert_eq!(study.data_spec(), f.data.spec("tune").unwrap(), "{case:?}");
            // And survives study.json.
            let json = serde_json::to_string(&study).unwrap();
            let back: crate::sweep::Study = serde_json::from_str(&json).unwrap();
            assert_eq!(back, study, "{case:?}");
            assert_eq!(back.config_hash(), study.config_hash(), "{case:?}");
        }
    }

    #[test]
    fn defaults_are_not_written() {
        let f = parse(&["--optimizer", "sgd", "--lr", "0.1"]);
        let (data, model) = (f.data.options().written(), f.model.options().written());
        assert!(data.is_empty() && model.is_empty(), "{data:?} {model:?}");
        // --lr 0.1 is given (the default is no value), so it stays.
        let optimizer = f.optimizer.options().written();
        assert_eq!(optimizer.get("lr").map(String::as_str), Some("0.1"));
        assert_eq!(optimizer.len(), 1, "{optimizer:?}");
    }

    #[test]
    fn grid_syntax() {
        assert_eq!(
            parse_grid("lr=0.01, 0.1").unwrap(),
            (
                "lr".to_string(),
                vec!["0.01".to_string(), "0.1".to_string()]
            )
        );
        assert_eq!(
            parse_grid("--line-search=armijo,wolfe").unwrap().0,
            "line_search"
        );
        assert!(parse_grid("lr").is_err());
        assert!(parse_grid("lr=").is_err());
        assert!(parse_grid("lr=0.1,0.1").unwrap_err().contains("twice"));
        assert!(OptimizerOptions::KEYS.contains(&"history"));
        assert!(!OptimizerOptions::KEYS.contains(&"hidden"));
    }
}
