//! `sooth tune`: race batch sizes (and optionally one or two
//! hyperparameters) and recommend one; see [`crate::tune`].

use super::{
    ActivationArg, CgFormulaArg, CurvatureArg, DataArgs, LastBatchArg, LineSearchKind, ModelArgs,
    OptimizerArgs, SamplingArg, usage_error,
};
use crate::data::{Header, LabelColumn, load};
use crate::run::BatchSize;
use crate::tune::{self, Request, Tune, TuneOptions};
use clap::error::ErrorKind;
use clap::{Args, Parser, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `sooth tune`.
#[derive(Debug, Args)]
#[command(
    after_help = "The race: every candidate (batch size, times the --grid values) starts \
with --initial-seeds seeds; a candidate goes out when a one-sided Welch t-test against the \
round's highest-mean candidate, Holm-adjusted over the round, is below alpha / (planned rounds), \
or when none of its runs beats chance; the survivors get twice the seeds, up to --max-seeds. It \
stops with one candidate left, at --max-seeds (then: the survivor with the lowest variance), or \
when --budget or --time is spent. DIR is a sweep directory: rerun to resume, \
`sooth report DIR` to analyse.\n\nExamples:\n  sooth tune --optimizer lbfgs --out runs/tune-lbfgs\n  \
sooth tune --optimizer sgd --batch-sizes 8,32,128,512,full --grid lr=0.01,0.1 --out runs/tune-sgd"
)]
pub struct TuneArgs {
    #[command(flatten)]
    #[command(next_help_heading = "Data")]
    pub data: DataArgs,
    #[command(flatten)]
    #[command(next_help_heading = "Model")]
    pub model: ModelArgs,
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

/// Runs `sooth tune`.
pub fn run(args: TuneArgs) -> Result<(), String> {
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
    let data = load(&args.data.spec()).map_err(|e| e.to_string())?;
    let tune = Tune::new(request, &data)?;
    if !args.quiet && !tune.dropped.is_empty() {
        eprintln!(
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
        eprintln!(
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
    )?;
    let summary = tune::output::write(&args.out, &tune, &data, &tuned)?;
    print!("{}", tune::output::stdout_summary(&summary, &args.out));
    Ok(())
}

fn invalid(message: impl std::fmt::Display) -> clap::Error {
    usage_error("tune", ErrorKind::ValueValidation, message)
}

/// The tune these flags ask for, or a usage error.
pub fn request(args: &TuneArgs) -> Result<Request, clap::Error> {
    // The optimizer flags' own checks, reported as errors of `tune`.
    args.optimizer.config().map_err(|e| {
        let text = e.render().to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        usage_error("tune", e.kind(), first)
    })?;
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
    let (data, model, optimizer) = flag_maps(&args.data, &args.model, &args.optimizer);
    let known = optimizer_flag_names();
    let mut grid: Vec<(String, Vec<String>)> = Vec::new();
    for spec in &args.grid {
        let (key, values) = parse_grid(spec).map_err(invalid)?;
        if !known.contains(&key) {
            return Err(invalid(format!(
                "--grid {spec}: `{}` is not an optimizer flag; expected one of {}",
                key.replace('_', "-"),
                known
                    .iter()
                    .map(|k| k.replace('_', "-"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if optimizer.contains_key(&key) {
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
        data,
        model,
        optimizer: value_name(args.optimizer.optimizer),
        flags: optimizer,
        grid,
        batch_sizes,
        epochs: args.epochs,
        sampling: value_name(args.sampling),
        last_batch: value_name(args.last_batch),
        initial_seeds: args.initial_seeds,
        max_seeds: args.max_seeds,
        alpha: args.alpha,
        budget: args.budget,
    };
    tune::race::RaceSettings {
        candidates: 1,
        initial_seeds: request.initial_seeds,
        max_seeds: request.max_seeds,
        alpha: request.alpha,
        failure_threshold: None,
        budget: None,
    }
    .validate()
    .map_err(invalid)?;
    // The grid's values go through the same parser as every flag.
    request.study().map_err(|e| {
        let marker = format!("[[optimizer]] {}: ", request.optimizer);
        let reason = e.split_once(&marker).map_or(e.as_str(), |(_, r)| r);
        invalid(format!("--grid: {reason}"))
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

fn value_name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// The flag names (without dashes, `_` for `-`) of the optimizer group,
/// but `optimizer` itself.
fn optimizer_flag_names() -> Vec<String> {
    OptimizerArgs::augment_args(clap::Command::new("sooth"))
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| l.replace('-', "_"))
        .filter(|l| l != "optimizer")
        .collect()
}

/// The data, model and optimizer flag groups, parsed alone: their defaults.
use crate::sweep::study::FlagParser as Flags;

type FlagList = Vec<(&'static str, Option<String>)>;

/// Every flag of the three groups with its value as a string (`None`: not
/// given and without a default), keyed as a study file writes it.
fn all_flags(data: &DataArgs, model: &ModelArgs, o: &OptimizerArgs) -> [FlagList; 3] {
    let s = |v: &dyn ToString| Some(v.to_string());
    let opt = |v: Option<String>| v;
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let data = vec![
        ("dataset", s(&data.dataset)),
        ("format", opt(data.format.map(|f| f.to_string()))),
        ("test_data", path(&data.test_data)),
        ("labels", path(&data.labels)),
        ("test_labels", path(&data.test_labels)),
        (
            "header",
            s(&match data.header {
                Header::Auto => "auto",
                Header::Present => "yes",
                Header::Absent => "no",
            }),
        ),
        (
            "label_column",
            s(&match &data.label_column {
                LabelColumn::First => "first".to_string(),
                LabelColumn::Last => "last".to_string(),
                LabelColumn::Number(n) => n.to_string(),
                LabelColumn::Name(name) => name.clone(),
            }),
        ),
        ("width", opt(data.width.map(|w| w.to_string()))),
        ("classes", opt(data.classes.map(|c| c.to_string()))),
        ("scale", s(&data.scaling)),
        (
            "test_fraction",
            opt(data.test_fraction.map(|f| f.to_string())),
        ),
        ("data_seed", s(&data.data_seed)),
    ];
    let model = vec![
        (
            "hidden",
            s(&model
                .hidden
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(",")),
        ),
        (
            "activation",
            Some(value_name::<ActivationArg>(model.activation)),
        ),
        ("l2", s(&model.l2)),
    ];
    let num = |v: Option<f32>| v.map(|v| v.to_string());
    let num64 = |v: Option<f64>| v.map(|v| v.to_string());
    let flag = |b: bool| b.then(|| "true".to_string());
    let optimizer = vec![
        ("lr", num(o.lr)),
        ("momentum", num(o.momentum)),
        ("nesterov", flag(o.nesterov)),
        ("weight_decay", num(o.weight_decay)),
        ("beta1", num(o.beta1)),
        ("beta2", num(o.beta2)),
        ("epsilon", num(o.epsilon)),
        ("cg_formula", o.cg_formula.map(value_name::<CgFormulaArg>)),
        ("history", o.history.map(|h| h.to_string())),
        (
            "line_search",
            o.line_search.map(value_name::<LineSearchKind>),
        ),
        ("initial_step", num(o.initial_step)),
        ("c1", num64(o.c1)),
        ("c2", num64(o.c2)),
        ("backtrack", num64(o.backtrack)),
        ("max_trials", o.max_trials.map(|m| m.to_string())),
        ("curvature", o.curvature.map(value_name::<CurvatureArg>)),
        (
            "inner_iterations",
            o.inner_iterations.map(|n| n.to_string()),
        ),
        ("damping", flag(o.damping)),
        ("curvature_eps", num(o.curvature_eps)),
        ("max_step", num(o.max_step)),
    ];
    [data, model, optimizer]
}

/// The flags of the three groups that differ from their defaults, as the
/// study's `[data]`, `[model]` and `[[optimizer]]` maps.
pub fn flag_maps(
    data: &DataArgs,
    model: &ModelArgs,
    optimizer: &OptimizerArgs,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
) {
    let defaults = Flags::try_parse_from(["sooth"]).expect("the flag groups have defaults");
    let given = all_flags(data, model, optimizer);
    let default = all_flags(&defaults.data, &defaults.model, &defaults.optimizer);
    let [d, m, o] = [0, 1, 2].map(|i| {
        given[i]
            .iter()
            .zip(&default[i])
            .filter(|((_, v), (_, dv))| v.is_some() && v != dv)
            .map(|((k, v), _)| (k.to_string(), v.clone().unwrap_or_default()))
            .collect::<BTreeMap<_, _>>()
    });
    (d, m, o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OptimizerKind;
    use crate::sweep::Study;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Flags {
        let mut all = vec!["sooth"];
        all.extend(args);
        Flags::try_parse_from(all).unwrap()
    }

    /// Every flag of the three groups is mapped (a flag added later and
    /// forgotten here would be silently dropped from the tune's study).
    #[test]
    fn every_flag_is_mapped() {
        let f = parse(&[]);
        let mapped: Vec<String> = all_flags(&f.data, &f.model, &f.optimizer)
            .iter()
            .flatten()
            .map(|(k, _)| k.replace('_', "-"))
            .collect();
        let mut longs: Vec<String> = Flags::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|l| l != "optimizer")
            .collect();
        longs.sort();
        let mut mapped_sorted = mapped.clone();
        mapped_sorted.sort();
        assert_eq!(mapped_sorted, longs);
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
                "blobs:classes=4,width=8",
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
            let (data, model, optimizer) = flag_maps(&f.data, &f.model, &f.optimizer);
            let request = Request {
                data,
                model,
                optimizer: value_name::<OptimizerKind>(f.optimizer.optimizer),
                flags: optimizer,
                grid: Vec::new(),
                batch_sizes: vec![BatchSize::Size(16)],
                epochs: 2,
                sampling: "shuffle".into(),
                last_batch: "keep".into(),
                initial_seeds: 2,
                max_seeds: 2,
                alpha: 0.05,
                budget: None,
            };
            let study: Study = request.study().unwrap();
            let o = &study.optimizers[0];
            assert_eq!(
                study.optimizer_config(&o.name, &o.configs[0].flags),
                f.optimizer.config().unwrap(),
                "{case:?}"
            );
            assert_eq!(study.model_spec(), f.model.spec(), "{case:?}");
            assert_eq!(study.data_spec(), f.data.spec(), "{case:?}");
        }
    }

    #[test]
    fn defaults_are_left_out_of_the_maps() {
        let f = parse(&["--optimizer", "sgd", "--lr", "0.1"]);
        let (data, model, optimizer) = flag_maps(&f.data, &f.model, &f.optimizer);
        assert!(data.is_empty() && model.is_empty(), "{data:?} {model:?}");
        // --lr 0.1 is given (the default is no value), so it stays.
        assert_eq!(optimizer.get("lr").map(String::as_str), Some("0.1"));
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
        assert!(optimizer_flag_names().contains(&"history".to_string()));
        assert!(!optimizer_flag_names().contains(&"hidden".to_string()));
    }
}
