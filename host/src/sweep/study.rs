//! A study: data, model, and the grid of optimizers x hyperparameter
//! configurations x batch sizes x seeds, read from TOML and resolved into
//! the exact runs it asks for.
//!
//! Every option is written as the `sooth train` flag it stands for, without
//! the dashes (`line_search = "wolfe"` is `--line-search wolfe`), and is read
//! into the same typed specifications ([`crate::spec`]), so a study means
//! exactly what the flags mean. In an `[[optimizer]]` table a list is a
//! grid: `lr = [0.01, 0.1]` makes two configurations, and several lists make
//! their product.
//!
//! A study keeps its options as written (the text of each value) only for
//! its configuration hash and its `study.json`: the hash of a study file is
//! the same in every version, so existing sweep directories resume, merge
//! and report.

use crate::data::DataSpec;
use crate::run::{BatchSize, ModelSpec, Stopping};
use crate::spec::{
    DataOptions, ModelOptions, OptimizerKind, OptimizerOptions, SpecError, describe_optimizer,
    value_text,
};
use serde::{Deserialize, Serialize};
use sooth_core::{LastBatch, OptimizerConfig, Sampling};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The default study: digits; SGD, Adam, nonlinear CG and L-BFGS
/// (same-batch curvature); batch sizes 8, 32, 128, 512 and full; 10 seeds;
/// 30 epochs.
pub const DEFAULT_STUDY: &str = r#"
name = "digits: optimizer x batch size"

[data]
dataset = "digits"

[model]
hidden = [32]
activation = "relu"

[grid]
batch_sizes = ["8", "32", "128", "512", "full"]
seeds = 10
epochs = 30

[[optimizer]]
name = "sgd"
lr = 0.1
momentum = 0.9

[[optimizer]]
name = "adam"
lr = 0.001

[[optimizer]]
name = "cg"
cg_formula = "fr"
line_search = "armijo"

[[optimizer]]
name = "lbfgs"
history = 10
curvature = "same-batch"
line_search = "wolfe"
"#;

/// The sensitivity study (claim (d) of the report): the default study's
/// data, model, batch sizes and epochs, with a grid of hyperparameter
/// configurations per optimizer instead of one, so the report can say how
/// much each optimizer's accuracy depends on its hyperparameters at its best
/// batch size. The rationale of each grid's width is in the comments, since
/// the verdict depends on it (docs/sensitivity-study/README.md).
pub const SENSITIVITY_STUDY: &str = r#"
name = "digits: hyperparameter sensitivity"

# Same data, network, batch sizes and epochs as the default study, so the two
# studies' cells compare; 10 seeds per configuration and batch size (the
# one-way ANOVA over configurations at the best batch size then has 10 runs
# per configuration).
[data]
dataset = "digits"

[model]
hidden = [32]
activation = "relu"

[grid]
batch_sizes = ["8", "32", "128", "512", "full"]
seeds = 10
epochs = 30

# SGD: learning rate on a half-decade log grid over 2.5 decades, 0.001 to
# 0.3, the range a practitioner sweeps for SGD on a small MLP (scikit-learn's
# default 0.001 at the bottom, the default study's 0.1 near the top; 1.0
# diverges with momentum 0.9 at small batches, which would only show that a
# bad value is bad), with and without momentum 0.9 (the two settings people
# actually use). 12 configurations.
[[optimizer]]
name = "sgd"
lr = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
momentum = [0.0, 0.9]

# Adam: learning rate on the same half-decade grid over the same 2.5 decades,
# 0.0001 to 0.03, around its customary default 0.001 (one decade below it,
# 1.5 above: beyond 0.03 Adam is rarely tried). Betas and epsilon at their
# defaults, as practitioners leave them. 6 configurations.
[[optimizer]]
name = "adam"
lr = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]

# Nonlinear CG has no step size (its line search finds one); what a user
# chooses is the formula and the line search. 4 configurations.
[[optimizer]]
name = "cg"
cg_formula = ["fr", "pr+"]
line_search = ["armijo", "wolfe"]

# L-BFGS has no step size either; its knobs are the history length (2 to 20
# spans the usual 3-20 of Nocedal and Wright and the authors' 1-10) and the
# line search. Same-batch curvature pairs as in the default study.
# 8 configurations.
[[optimizer]]
name = "lbfgs"
history = [2, 5, 10, 20]
line_search = ["wolfe", "armijo"]
curvature = "same-batch"
"#;

/// A study built into `sooth sweep` (`--study NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BuiltinStudy {
    /// [`DEFAULT_STUDY`]: one configuration per optimizer.
    Default,
    /// [`SENSITIVITY_STUDY`]: a grid of configurations per optimizer.
    Sensitivity,
}

impl BuiltinStudy {
    /// The study's TOML text.
    pub fn text(self) -> &'static str {
        match self {
            BuiltinStudy::Default => DEFAULT_STUDY,
            BuiltinStudy::Sensitivity => SENSITIVITY_STUDY,
        }
    }

    /// How errors name it (`the default study`).
    pub fn origin(self) -> &'static str {
        match self {
            BuiltinStudy::Default => "the default study",
            BuiltinStudy::Sensitivity => "the sensitivity study",
        }
    }
}

/// The most runs a study may plan (and the most configurations of one
/// optimizer, and configuration x seed pairs of one cell): a study is
/// planned in memory, run by run, before it starts.
pub const MAX_RUNS: usize = 1_000_000;

/// A study file as written (TOML).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    name: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, toml::Value>,
    #[serde(default)]
    model: BTreeMap<String, toml::Value>,
    #[serde(default)]
    grid: GridFile,
    #[serde(default)]
    optimizer: Vec<BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    batch_sizes: Option<Vec<toml::Value>>,
    seeds: Option<toml::Value>,
    first_seed: Option<u64>,
    epochs: Option<u32>,
    sampling: Option<String>,
    last_batch: Option<String>,
    runs_per_cell: Option<usize>,
    sample_seed: Option<u64>,
    gtol: Option<f32>,
    ftol: Option<f64>,
    patience: Option<u32>,
}

/// What is wrong with a study (without the file it came from; see
/// [`StudyError`]).
#[derive(Clone, Debug, PartialEq)]
pub enum StudyProblem {
    /// Not the TOML of a study (syntax, unknown section or key).
    Toml(String),
    /// An option of `section` (`[data]`, `[model]`, `[[optimizer]] sgd`).
    Option {
        /// The section, as the study writes it.
        section: String,
        /// The option's error.
        error: SpecError,
    },
    /// A value of the `[grid]` section or an optimizer's epochs; the text
    /// names the key, the value and what was expected.
    Grid(String),
    /// No `[[optimizer]]` table.
    NoOptimizer,
    /// An `[[optimizer]]` table without a valid `name`.
    OptimizerName,
    /// Two `[[optimizer]]` tables of one optimizer.
    DuplicateOptimizer(String),
}

impl fmt::Display for StudyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StudyProblem::Toml(m) | StudyProblem::Grid(m) => f.write_str(m),
            StudyProblem::Option { section, error } => write!(f, "{section}: {error}"),
            StudyProblem::NoOptimizer => {
                f.write_str("no [[optimizer]] tables: name at least one optimizer")
            }
            StudyProblem::OptimizerName => f.write_str(
                "an [[optimizer]] table needs name = \"sgd\" | \"adam\" | \"cg\" | \"lbfgs\"",
            ),
            StudyProblem::DuplicateOptimizer(_) => f.write_str(
                "an optimizer appears in two [[optimizer]] tables: put its grids in one table",
            ),
        }
    }
}

/// A study that cannot be read: where it came from (a file, `the default
/// study`, `study.json`) and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum StudyError {
    /// The file could not be read.
    Read {
        /// The file.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// The study is not valid.
    Invalid {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        problem: Box<StudyProblem>,
    },
}

impl fmt::Display for StudyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StudyError::Read { path, reason } => write!(f, "{path}: {reason}"),
            StudyError::Invalid { origin, problem } => write!(f, "{origin}: {problem}"),
        }
    }
}

impl std::error::Error for StudyError {}

/// One hyperparameter configuration of an optimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `h0`, `h1`, ... in grid order.
    pub id: String,
    /// The options as written (key -> value text): what the study hashes.
    pub flags: BTreeMap<String, String>,
    /// The options, typed.
    pub options: OptimizerOptions,
    /// What they resolve to.
    pub optimizer: OptimizerConfig,
    /// The configuration, for people.
    pub description: String,
}

/// An optimizer of the study with its configurations and epoch budget.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyOptimizer {
    /// `sgd`, `adam`, `cg` or `lbfgs`.
    pub name: String,
    /// Epochs of each of its runs.
    pub epochs: u32,
    /// Its hyperparameter configurations.
    pub configs: Vec<Config>,
}

/// A resolved study: everything that decides its runs' numbers. It is
/// written to and read from `study.json` in the form every version wrote
/// (options as text), and reading it checks every option.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "StudyRecord", try_from = "StudyRecord")]
pub struct Study {
    /// A name for reports.
    pub name: String,
    /// The data options as written.
    pub data: DataOptions,
    /// The model options as written.
    pub model: ModelOptions,
    /// Batch sizes, in grid order.
    pub batch_sizes: Vec<BatchSize>,
    /// Seeds, in grid order.
    pub seeds: Vec<u64>,
    /// How every run draws its batches.
    pub sampling: Sampling,
    /// What every run does with a short last batch.
    pub last_batch: LastBatch,
    /// The optimizers.
    pub optimizers: Vec<StudyOptimizer>,
    /// If set, each (optimizer, batch size) cell runs this many (config,
    /// seed) pairs drawn at random from its configs x seeds.
    pub runs_per_cell: Option<usize>,
    /// Seed of that draw.
    pub sample_seed: u64,
    /// The stopping rules of every run (`[grid] gtol`, `ftol`,
    /// `patience`); without them every run runs all its epochs.
    pub stopping: Stopping,
    /// The data options' text, as written.
    written_data: BTreeMap<String, String>,
    /// The model options' text, as written.
    written_model: BTreeMap<String, String>,
    /// The data options, resolved.
    data_spec: DataSpec,
    /// The model, resolved.
    model_spec: ModelSpec,
}

/// The study as `study.json` holds it and as its hash sees it (the form of
/// every earlier version: do not change its fields or their order).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StudyRecord {
    name: String,
    data: BTreeMap<String, String>,
    model: BTreeMap<String, String>,
    batch_sizes: Vec<BatchSize>,
    seeds: Vec<u64>,
    sampling: String,
    last_batch: String,
    optimizers: Vec<OptimizerRecord>,
    runs_per_cell: Option<usize>,
    sample_seed: u64,
    // Added later: absent when not set, so older studies keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gtol: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ftol: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patience: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OptimizerRecord {
    name: String,
    epochs: u32,
    configs: Vec<ConfigRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ConfigRecord {
    id: String,
    flags: BTreeMap<String, String>,
    description: String,
}

/// `shuffle` or `replacement`, as a study writes it.
pub fn sampling_name(s: Sampling) -> &'static str {
    match s {
        Sampling::Shuffle => "shuffle",
        Sampling::WithReplacement => "replacement",
    }
}

/// `keep` or `drop`, as a study writes it.
pub fn last_batch_name(l: LastBatch) -> &'static str {
    match l {
        LastBatch::Keep => "keep",
        LastBatch::Drop => "drop",
    }
}

fn parse_sampling(s: &str) -> Result<Sampling, StudyProblem> {
    match s {
        "shuffle" => Ok(Sampling::Shuffle),
        "replacement" => Ok(Sampling::WithReplacement),
        _ => Err(StudyProblem::Grid(format!(
            "[grid] sampling = \"{s}\": expected \"shuffle\" or \"replacement\""
        ))),
    }
}

fn parse_last_batch(s: &str) -> Result<LastBatch, StudyProblem> {
    match s {
        "keep" => Ok(LastBatch::Keep),
        "drop" => Ok(LastBatch::Drop),
        _ => Err(StudyProblem::Grid(format!(
            "[grid] last_batch = \"{s}\": expected \"keep\" or \"drop\""
        ))),
    }
}

/// Options of one section set from `(key, value)` pairs.
fn section<'a, T: Default>(
    name: &str,
    pairs: impl IntoIterator<Item = (&'a String, toml::Value)>,
    set: impl Fn(&mut T, &str, &toml::Value) -> Result<(), SpecError>,
) -> Result<T, StudyProblem> {
    let mut options = T::default();
    for (key, value) in pairs {
        set(&mut options, key, &value).map_err(|error| StudyProblem::Option {
            section: name.into(),
            error,
        })?;
    }
    Ok(options)
}

/// The optimizer named `name`, or the study's error for it.
fn optimizer_kind(name: &str) -> Result<OptimizerKind, StudyProblem> {
    name.parse().map_err(|error| StudyProblem::Option {
        section: "[[optimizer]]".into(),
        error,
    })
}

/// The configurations of `base` with every combination of `axes` (in
/// order: the last axis varies fastest), ids `h0`, `h1`, ...
pub(crate) fn expand(
    base: &OptimizerOptions,
    base_written: &BTreeMap<String, String>,
    axes: &[(String, Vec<toml::Value>)],
) -> Result<Vec<Config>, StudyProblem> {
    let section = format!("[[optimizer]] {}", base.name.name());
    let option_error = |error| StudyProblem::Option {
        section: section.clone(),
        error,
    };
    let count = axes
        .iter()
        .try_fold(1usize, |n, (_, values)| n.checked_mul(values.len()))
        .filter(|&n| n <= MAX_RUNS);
    if count.is_none() {
        return Err(StudyProblem::Grid(format!(
            "{section}: its lists make more than {MAX_RUNS} configurations, the most a study \
             may have; shorten the lists"
        )));
    }
    let mut combos: Vec<Vec<(&str, &toml::Value)>> = vec![Vec::new()];
    for (key, values) in axes {
        let mut next = Vec::new();
        for combo in &combos {
            for v in values {
                let mut c = combo.clone();
                c.push((key.as_str(), v));
                next.push(c);
            }
        }
        combos = next;
    }
    let mut configs = Vec::new();
    for (i, combo) in combos.into_iter().enumerate() {
        let mut options = base.clone();
        let mut flags = base_written.clone();
        for (key, value) in combo {
            options.set(key, value).map_err(option_error)?;
            flags.insert(
                key.to_string(),
                value_text(value, false).unwrap_or_default(),
            );
        }
        let optimizer = options.resolve().map_err(option_error)?;
        configs.push(Config {
            id: format!("h{i}"),
            flags,
            description: describe_optimizer(&optimizer),
            options,
            optimizer,
        });
    }
    Ok(configs)
}

/// The parts of a study before its data and model are resolved.
pub(crate) struct StudyParts {
    pub(crate) name: String,
    pub(crate) data: DataOptions,
    pub(crate) written_data: BTreeMap<String, String>,
    pub(crate) model: ModelOptions,
    pub(crate) written_model: BTreeMap<String, String>,
    pub(crate) batch_sizes: Vec<BatchSize>,
    pub(crate) seeds: Vec<u64>,
    pub(crate) sampling: Sampling,
    pub(crate) last_batch: LastBatch,
    pub(crate) optimizers: Vec<StudyOptimizer>,
    pub(crate) runs_per_cell: Option<usize>,
    pub(crate) sample_seed: u64,
    pub(crate) stopping: Stopping,
}

impl StudyParts {
    /// A study is a set of runs: refuses a batch size, a seed or an
    /// optimizer's configuration listed twice (batch sizes as read, so
    /// `"032"` is 32 and `"FULL"` is `full`), which would run twice under
    /// one id and break the resume's count.
    fn check_sets(&self) -> Result<(), StudyProblem> {
        let mut sizes = std::collections::HashSet::new();
        if let Some(b) = self.batch_sizes.iter().find(|b| !sizes.insert(**b)) {
            return Err(StudyProblem::Grid(format!(
                "[grid] batch_sizes: {b} is listed twice (spellings such as \"032\" and \"32\", \
                 or \"FULL\" and \"full\", are one batch size); a study runs each once: list it \
                 once"
            )));
        }
        let mut seeds = std::collections::HashSet::new();
        if let Some(s) = self.seeds.iter().find(|s| !seeds.insert(**s)) {
            return Err(StudyProblem::Grid(format!(
                "[grid] seeds: {s} is listed twice; a study runs each seed once: list it once"
            )));
        }
        for o in &self.optimizers {
            let mut seen: std::collections::HashMap<String, &Config> =
                std::collections::HashMap::new();
            for c in &o.configs {
                if let Some(first) = seen.insert(format!("{:?}", c.optimizer), c) {
                    return Err(StudyProblem::Grid(format!(
                        "[[optimizer]] {}: configurations {} and {} are the same ({}); a study \
                         runs each configuration once: list each value once",
                        o.name, first.id, c.id, c.description
                    )));
                }
            }
        }
        Ok(())
    }

    /// Refuses a study of more than [`MAX_RUNS`] runs (or configuration x
    /// seed pairs in one cell) before it is planned.
    fn check_size(&self) -> Result<(), StudyProblem> {
        let too_many = || {
            StudyProblem::Grid(format!(
                "[grid]: the study has more than {MAX_RUNS} runs, the most a study may have \
                 ({} optimizer(s), {} batch size(s), {} seed(s)); use fewer, or runs_per_cell",
                self.optimizers.len(),
                self.batch_sizes.len(),
                self.seeds.len()
            ))
        };
        let mut total = 0usize;
        for o in &self.optimizers {
            let pairs = o
                .configs
                .len()
                .checked_mul(self.seeds.len())
                .filter(|&n| n <= MAX_RUNS)
                .ok_or_else(too_many)?;
            let cell = self.runs_per_cell.map_or(pairs, |k| k.min(pairs));
            total = cell
                .checked_mul(self.batch_sizes.len())
                .and_then(|n| n.checked_add(total))
                .filter(|&n| n <= MAX_RUNS)
                .ok_or_else(too_many)?;
        }
        Ok(())
    }

    /// The study, with its data and model checked and resolved and its
    /// grid checked.
    pub(crate) fn finish(self) -> Result<Study, StudyProblem> {
        let data_spec = self.data.resolve().map_err(|error| StudyProblem::Option {
            section: "[data]".into(),
            error,
        })?;
        let model_spec = self.model.resolve().map_err(|error| StudyProblem::Option {
            section: "[model]".into(),
            error,
        })?;
        if self.batch_sizes.is_empty() {
            return Err(StudyProblem::Grid("[grid] batch_sizes is empty".into()));
        }
        if self.seeds.is_empty() {
            return Err(StudyProblem::Grid("[grid] seeds is empty".into()));
        }
        if self.optimizers.is_empty() {
            return Err(StudyProblem::NoOptimizer);
        }
        let mut names: Vec<&str> = self.optimizers.iter().map(|o| o.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(StudyProblem::DuplicateOptimizer(w[0].to_string()));
        }
        if self.runs_per_cell == Some(0) {
            return Err(StudyProblem::Grid(
                "[grid] runs_per_cell = 0: expected at least 1".into(),
            ));
        }
        self.check_sets()?;
        self.check_size()?;
        let stop = self.stopping;
        if !(stop.gtol >= 0.0 && stop.gtol.is_finite() && stop.ftol >= 0.0 && stop.ftol.is_finite())
        {
            return Err(StudyProblem::Grid(format!(
                "[grid] gtol = {}, ftol = {}: expected finite values >= 0",
                stop.gtol, stop.ftol
            )));
        }
        if (stop.gtol > 0.0 || stop.ftol > 0.0)
            && let Some(b) = self.batch_sizes.iter().find(|b| **b != BatchSize::Full)
        {
            return Err(StudyProblem::Grid(format!(
                "[grid] gtol/ftol need the full batch (the whole training set's loss), but \
                 batch_sizes has {b}"
            )));
        }
        if stop.patience > 0 && data_spec.validation_fraction <= 0.0 {
            return Err(StudyProblem::Grid(
                "[grid] patience needs a validation split: set [data] validation_fraction".into(),
            ));
        }
        Ok(Study {
            name: self.name,
            data: self.data,
            model: self.model,
            batch_sizes: self.batch_sizes,
            seeds: self.seeds,
            sampling: self.sampling,
            last_batch: self.last_batch,
            optimizers: self.optimizers,
            runs_per_cell: self.runs_per_cell,
            sample_seed: self.sample_seed,
            stopping: self.stopping,
            written_data: self.written_data,
            written_model: self.written_model,
            data_spec,
            model_spec,
        })
    }
}

impl Study {
    /// Reads a study from TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Study, StudyError> {
        let invalid = |problem| StudyError::Invalid {
            origin: origin.to_string(),
            problem: Box::new(problem),
        };
        let file: StudyFile = toml::from_str(text)
            .map_err(|e| invalid(StudyProblem::Toml(e.to_string().trim_end().to_string())))?;
        Study::resolve(file).map_err(invalid)
    }

    /// Reads the study file at `path`, or the built-in default study.
    pub fn read(path: Option<&Path>) -> Result<Study, StudyError> {
        match path {
            None => Ok(Study::default_study()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| StudyError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                Study::from_toml(&text, &path.display().to_string())
            }
        }
    }

    /// The built-in default study.
    ///
    /// # Panics
    ///
    /// Never: [`DEFAULT_STUDY`] is valid (a test checks it).
    pub fn default_study() -> Study {
        Study::builtin(BuiltinStudy::Default)
    }

    /// A built-in study.
    ///
    /// # Panics
    ///
    /// Never: every built-in study is valid (a test checks each).
    pub fn builtin(which: BuiltinStudy) -> Study {
        Study::from_toml(which.text(), which.origin()).expect("the built-in studies are valid")
    }

    fn resolve(file: StudyFile) -> Result<Study, StudyProblem> {
        let written = |name: &str, table: &BTreeMap<String, toml::Value>| {
            table
                .iter()
                .map(|(k, v)| {
                    value_text(v, true).map(|t| (k.clone(), t)).ok_or_else(|| {
                        StudyProblem::Grid(format!(
                            "{name} {k}: {v} is not a flag value (a string, number or boolean)"
                        ))
                    })
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        let written_data = written("[data]", &file.data)?;
        let written_model = written("[model]", &file.model)?;
        let data = section(
            "[data]",
            file.data.iter().map(|(k, v)| (k, v.clone())),
            DataOptions::set,
        )?;
        let model = section(
            "[model]",
            file.model.iter().map(|(k, v)| (k, v.clone())),
            ModelOptions::set,
        )?;
        let grid = file.grid;
        let batch_sizes = match grid.batch_sizes {
            None => vec![BatchSize::Size(64)],
            Some(list) => list
                .iter()
                .map(|v| {
                    value_text(v, false)
                        .ok_or_else(|| {
                            format!("{v} is not a flag value (a string, number or boolean)")
                        })
                        .and_then(|s| s.parse::<BatchSize>().map_err(|e| e.to_string()))
                        .map_err(|e| StudyProblem::Grid(format!("[grid] batch_sizes: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let first = grid.first_seed.unwrap_or(1);
        let count = |n: u64| -> Result<Vec<u64>, StudyProblem> {
            if n > MAX_RUNS as u64 {
                return Err(StudyProblem::Grid(format!(
                    "[grid] seeds = {n}: more than {MAX_RUNS} runs, the most a study may have; \
                     use fewer seeds"
                )));
            }
            let end = first.checked_add(n).ok_or_else(|| {
                StudyProblem::Grid(format!(
                    "[grid] first_seed = {first} with seeds = {n}: the seeds go past {}",
                    u64::MAX
                ))
            })?;
            Ok((first..end).collect())
        };
        let seeds: Vec<u64> = match grid.seeds {
            None => count(10)?,
            Some(toml::Value::Integer(n)) if n >= 1 => count(n as u64)?,
            Some(toml::Value::Array(list)) => list
                .iter()
                .map(|v| match v {
                    toml::Value::Integer(s) if *s >= 0 => Ok(*s as u64),
                    other => Err(StudyProblem::Grid(format!(
                        "[grid] seeds: {other} is not a seed (an integer >= 0)"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(StudyProblem::Grid(format!(
                    "[grid] seeds = {other}: expected a count >= 1 or a list of seeds"
                )));
            }
        };
        let sampling = parse_sampling(grid.sampling.as_deref().unwrap_or("shuffle"))?;
        let last_batch = parse_last_batch(grid.last_batch.as_deref().unwrap_or("keep"))?;
        let default_epochs = grid.epochs.unwrap_or(30);
        let mut optimizers = Vec::new();
        for table in &file.optimizer {
            optimizers.push(resolve_optimizer(table, default_epochs)?);
        }
        StudyParts {
            name: file.name.unwrap_or_else(|| "study".into()),
            data,
            written_data,
            model,
            written_model,
            batch_sizes,
            seeds,
            sampling,
            last_batch,
            optimizers,
            runs_per_cell: grid.runs_per_cell,
            sample_seed: grid.sample_seed.unwrap_or(0),
            stopping: stopping(grid.gtol, grid.ftol, grid.patience),
        }
        .finish()
    }

    /// The data loader's description of the study's data.
    pub fn data_spec(&self) -> DataSpec {
        self.data_spec.clone()
    }

    /// The model of every run.
    pub fn model_spec(&self) -> ModelSpec {
        self.model_spec.clone()
    }

    /// The form `study.json` holds and the hash covers.
    fn record(&self) -> StudyRecord {
        StudyRecord {
            name: self.name.clone(),
            data: self.written_data.clone(),
            model: self.written_model.clone(),
            batch_sizes: self.batch_sizes.clone(),
            seeds: self.seeds.clone(),
            sampling: sampling_name(self.sampling).into(),
            last_batch: last_batch_name(self.last_batch).into(),
            optimizers: self
                .optimizers
                .iter()
                .map(|o| OptimizerRecord {
                    name: o.name.clone(),
                    epochs: o.epochs,
                    configs: o
                        .configs
                        .iter()
                        .map(|c| ConfigRecord {
                            id: c.id.clone(),
                            flags: c.flags.clone(),
                            description: c.description.clone(),
                        })
                        .collect(),
                })
                .collect(),
            runs_per_cell: self.runs_per_cell,
            sample_seed: self.sample_seed,
            gtol: (self.stopping.gtol > 0.0).then_some(self.stopping.gtol),
            ftol: (self.stopping.ftol > 0.0).then_some(self.stopping.ftol),
            patience: (self.stopping.patience > 0).then_some(self.stopping.patience),
        }
    }

    /// FNV-1a hash (16 hex digits) of everything that decides the runs'
    /// numbers: the study without its name, as canonical JSON of its
    /// options as written (the same value in every version).
    pub fn config_hash(&self) -> String {
        let mut record = self.record();
        record.name = String::new();
        let json = serde_json::to_string(&record).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

impl From<Study> for StudyRecord {
    fn from(study: Study) -> StudyRecord {
        study.record()
    }
}

impl TryFrom<StudyRecord> for Study {
    type Error = StudyProblem;

    /// Reads the record of `study.json` back, checking every option.
    fn try_from(record: StudyRecord) -> Result<Study, StudyProblem> {
        let strings = |m: &BTreeMap<String, String>| -> Vec<(String, toml::Value)> {
            m.iter()
                .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                .collect()
        };
        let data_pairs = strings(&record.data);
        let model_pairs = strings(&record.model);
        let data = section(
            "[data]",
            data_pairs.iter().map(|(k, v)| (k, v.clone())),
            DataOptions::set,
        )?;
        let model = section(
            "[model]",
            model_pairs.iter().map(|(k, v)| (k, v.clone())),
            ModelOptions::set,
        )?;
        let mut optimizers = Vec::new();
        for o in &record.optimizers {
            let kind = optimizer_kind(&o.name)?;
            let mut configs = Vec::new();
            for c in &o.configs {
                let axes: Vec<(String, Vec<toml::Value>)> = strings(&c.flags)
                    .into_iter()
                    .map(|(k, v)| (k, vec![v]))
                    .collect();
                let mut config =
                    expand(&OptimizerOptions::new(kind), &BTreeMap::new(), &axes)?.remove(0);
                config.id = c.id.clone();
                configs.push(config);
            }
            optimizers.push(StudyOptimizer {
                name: o.name.clone(),
                epochs: o.epochs,
                configs,
            });
        }
        StudyParts {
            name: record.name,
            data,
            written_data: record.data,
            model,
            written_model: record.model,
            batch_sizes: record.batch_sizes,
            seeds: record.seeds,
            sampling: parse_sampling(&record.sampling)?,
            last_batch: parse_last_batch(&record.last_batch)?,
            optimizers,
            runs_per_cell: record.runs_per_cell,
            sample_seed: record.sample_seed,
            stopping: stopping(record.gtol, record.ftol, record.patience),
        }
        .finish()
    }
}

/// A study's stopping rules: none unless one of gtol, ftol, patience is
/// set; then a full-batch run that stalls also stops (its remaining epochs
/// would repeat the same failed step).
fn stopping(gtol: Option<f32>, ftol: Option<f64>, patience: Option<u32>) -> Stopping {
    let mut s = Stopping {
        gtol: gtol.unwrap_or(0.0),
        ftol: ftol.unwrap_or(0.0),
        patience: patience.unwrap_or(0),
        stalled: false,
    };
    s.stalled = s.any_rule();
    s
}

/// Expands one `[[optimizer]]` table into its configurations.
fn resolve_optimizer(
    table: &BTreeMap<String, toml::Value>,
    default_epochs: u32,
) -> Result<StudyOptimizer, StudyProblem> {
    let name = match table.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        _ => return Err(StudyProblem::OptimizerName),
    };
    let kind = optimizer_kind(&name)?;
    let epochs = match table.get("epochs") {
        None => default_epochs,
        Some(toml::Value::Integer(e)) if *e >= 1 && *e <= i64::from(u32::MAX) => *e as u32,
        Some(other) => {
            return Err(StudyProblem::Grid(format!(
                "[[optimizer]] {name}: epochs = {other}: expected a count >= 1"
            )));
        }
    };
    if epochs == 0 {
        return Err(StudyProblem::Grid(format!(
            "[[optimizer]] {name}: epochs must be at least 1"
        )));
    }
    // The grid: every list is an axis, in key order.
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (key, value) in table {
        if key == "name" || key == "epochs" {
            continue;
        }
        let values = match value {
            toml::Value::Array(items) if !items.is_empty() => items.clone(),
            toml::Value::Array(_) => {
                return Err(StudyProblem::Grid(format!(
                    "[[optimizer]] {name}: {key} is an empty list"
                )));
            }
            v => vec![v.clone()],
        };
        axes.push((key.clone(), values));
    }
    let configs = expand(&OptimizerOptions::new(kind), &BTreeMap::new(), &axes)?;
    Ok(StudyOptimizer {
        name,
        epochs,
        configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_study_is_the_documented_grid() {
        let s = Study::default_study();
        assert_eq!(s.optimizers.len(), 4);
        assert_eq!(s.batch_sizes.len(), 5);
        assert_eq!(s.batch_sizes[4], BatchSize::Full);
        assert_eq!(s.seeds, (1..=10).collect::<Vec<_>>());
        assert!(
            s.optimizers
                .iter()
                .all(|o| o.epochs == 30 && o.configs.len() == 1)
        );
        assert_eq!(s.data_spec().dataset, "digits");
        assert_eq!(s.model_spec().hidden, vec![32]);
    }

    #[test]
    fn lists_in_an_optimizer_table_make_a_grid() {
        let s = Study::from_toml(
            r#"
            [[optimizer]]
            name = "sgd"
            lr = [0.01, 0.1]
            momentum = [0.0, 0.5, 0.9]
            nesterov = true
            "#,
            "t.toml",
        )
        .unwrap();
        let o = &s.optimizers[0];
        assert_eq!(o.configs.len(), 6);
        assert_eq!(o.configs[5].id, "h5");
        assert_eq!(o.configs[5].flags["lr"], "0.1");
        assert_eq!(o.configs[5].flags["momentum"], "0.9");
        assert!(o.configs[0].description.contains("nesterov"));
    }

    #[test]
    fn errors_name_the_file_and_the_option() {
        let err = |text: &str| Study::from_toml(text, "s.toml").unwrap_err().to_string();
        let e = err("[[optimizer]]\nname = \"sgd\"\nhistory = 5\n");
        assert!(e.starts_with("s.toml: [[optimizer]] sgd:"), "{e}");
        assert!(e.contains("--history"), "{e}");
        let e = err("[[optimizer]]\nname = \"lbfgs\"\nhistory = 0\n");
        assert!(e.contains("history"), "{e}");
        let e = err("[grid]\nbatch_sizes = [\"0\"]\n[[optimizer]]\nname = \"sgd\"\n");
        assert!(e.contains("batch_sizes"), "{e}");
        let e = err("[grid]\nbatch = 3\n");
        assert!(e.contains("unknown field"), "{e}");
        let e = err("[data]\nscale = \"weird\"\n[[optimizer]]\nname = \"sgd\"\n");
        assert!(e.contains("weird"), "{e}");
        let e = err("name = \"x\"\n");
        assert!(e.contains("no [[optimizer]]"), "{e}");
    }

    #[test]
    fn a_bad_value_names_the_key_the_value_and_the_expectation() {
        let err = |text: &str| Study::from_toml(text, "s.toml").unwrap_err().to_string();
        assert_eq!(
            err("[[optimizer]]\nname = \"sgd\"\nlr = \"fast\"\n"),
            "s.toml: [[optimizer]] sgd: invalid value 'fast' for '--lr <LR>': expected a number"
        );
        assert_eq!(
            err("[[optimizer]]\nname = \"sgd\"\nmomentum = [0.5, 1.5]\n"),
            "s.toml: [[optimizer]] sgd: invalid value '1.5' for '--momentum <MU>': expected a value in [0, 1)"
        );
        assert_eq!(
            err("[model]\nl2 = -1\n[[optimizer]]\nname = \"sgd\"\n"),
            "s.toml: [model]: invalid value '-1' for '--l2 <L2>': expected a finite value >= 0"
        );
        let e = err("[data]\nclasses = 1\n[[optimizer]]\nname = \"sgd\"\n");
        assert!(
            e.starts_with("s.toml: [data]: invalid value '1' for '--classes <N>': expected 2 to"),
            "{e}"
        );
        assert_eq!(
            err("[[optimizer]]\nname = \"lbfgs\"\nline_search = \"exact\"\n"),
            "s.toml: [[optimizer]] lbfgs: invalid value 'exact' for '--line-search <LINE_SEARCH>': \
             expected fixed, armijo, wolfe"
        );
    }

    #[test]
    fn an_option_of_another_optimizer_or_line_search_is_an_error() {
        let err = |text: &str| Study::from_toml(text, "s.toml").unwrap_err().to_string();
        assert_eq!(
            err("[[optimizer]]\nname = \"adam\"\nmomentum = 0.5\n"),
            "s.toml: [[optimizer]] adam: the argument '--momentum' cannot be used with \
             '--optimizer adam' (it applies to sgd)"
        );
        assert_eq!(
            err("[[optimizer]]\nname = \"cg\"\nline_search = \"fixed\"\nc1 = 0.01\n"),
            "s.toml: [[optimizer]] cg: the argument '--c1' cannot be used with '--line-search fixed'"
        );
    }

    /// The hash of the default study as `sooth sweep --plan` printed it
    /// before the study kept typed options (main at dc6bd4c): existing
    /// sweep directories of the default study must still resume.
    #[test]
    fn the_default_study_keeps_its_hash() {
        assert_eq!(Study::default_study().config_hash(), "afc09eb38e3d939c");
    }

    /// A study with every kind of option keeps its hash too (`sooth sweep
    /// --plan` of this file on main at dc6bd4c).
    #[test]
    fn a_study_with_data_model_and_grids_keeps_its_hash() {
        let s = Study::from_toml(
            r#"
name = "x"
[data]
dataset = "blobs:classes=3,width=4"
scale = "standardize"
test_fraction = 0.3
[model]
hidden = [8, 4]
l2 = 0.0001
[grid]
batch_sizes = ["16", "full"]
seeds = [3, 5]
sampling = "replacement"
[[optimizer]]
name = "sgd"
lr = [0.01, 0.1]
nesterov = true
[[optimizer]]
name = "lbfgs"
line_search = ["armijo", "wolfe"]
c1 = 0.001
history = "5"
"#,
            "x.toml",
        )
        .unwrap();
        assert_eq!(s.config_hash(), "be5011180413ddee");
        assert_eq!(s.optimizers[1].configs.len(), 2);
        assert_eq!(s.sampling, Sampling::WithReplacement);
    }

    /// `study.json` holds the study as written and reads back to the same
    /// study; a corrupt option there is an error naming the key.
    #[test]
    fn study_json_round_trips_and_checks_its_options() {
        let s = Study::default_study();
        let json = serde_json::to_string(&s).unwrap();
        let back: Study = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let bad = json.replace("\"lr\":\"0.1\"", "\"lr\":\"fast\"");
        assert_ne!(bad, json);
        let e = serde_json::from_str::<Study>(&bad).unwrap_err().to_string();
        assert!(
            e.contains("[[optimizer]] sgd: invalid value 'fast' for '--lr <LR>'"),
            "{e}"
        );
        let bad = json.replace(
            "\"dataset\":\"digits\"",
            "\"dataset\":\"digits\",\"scale\":\"weird\"",
        );
        assert_ne!(bad, json);
        let e = serde_json::from_str::<Study>(&bad).unwrap_err().to_string();
        assert!(
            e.contains("[data]: invalid value 'weird' for '--scale"),
            "{e}"
        );
    }

    /// The sensitivity study: the grids the issue asks for, on the default
    /// study's batch sizes, with at least 5 seeds.
    #[test]
    fn the_sensitivity_study_has_its_grids() {
        let s = Study::builtin(BuiltinStudy::Sensitivity);
        let d = Study::default_study();
        assert_eq!(s.batch_sizes, d.batch_sizes);
        assert_eq!(s.seeds.len(), 10);
        let counts: Vec<(&str, usize)> = s
            .optimizers
            .iter()
            .map(|o| (o.name.as_str(), o.configs.len()))
            .collect();
        assert_eq!(counts, [("sgd", 12), ("adam", 6), ("cg", 4), ("lbfgs", 8)]);
        assert_eq!(
            s.optimizers[3].configs[0].description,
            describe_optimizer(&s.optimizers[3].configs[0].optimizer)
        );
        assert_ne!(s.config_hash(), d.config_hash());
    }

    #[test]
    fn the_hash_ignores_the_name_but_not_the_grid() {
        let a = Study::default_study();
        let mut b = a.clone();
        b.name = "other".into();
        assert_eq!(a.config_hash(), b.config_hash());
        b.seeds.push(99);
        assert_ne!(a.config_hash(), b.config_hash());
    }
}
