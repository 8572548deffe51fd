//! A study: data, model, and the grid of optimizers x hyperparameter
//! configurations x batch sizes x seeds, read from TOML and resolved into
//! the exact runs it asks for.
//!
//! Every option is written as the `sooth train` flag it stands for, without
//! the dashes (`line_search = "wolfe"` is `--line-search wolfe`), and goes
//! through the same parser, so a study means exactly what the flags mean.
//! In an `[[optimizer]]` table a list is a grid: `lr = [0.01, 0.1]` makes two
//! configurations, and several lists make their product.

use crate::cli::{DataArgs, ModelArgs, OptimizerArgs};
use crate::data::DataSpec;
use crate::run::{BatchSize, ModelSpec};
use clap::Parser;
use serde::{Deserialize, Serialize};
use sooth_core::{LastBatch, OptimizerConfig, Sampling};
use std::collections::BTreeMap;

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
}

/// One hyperparameter configuration of an optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `h0`, `h1`, ... in grid order.
    pub id: String,
    /// The flags (without dashes) and their values.
    pub flags: BTreeMap<String, String>,
    /// What the flags resolve to, for people.
    pub description: String,
}

/// An optimizer of the study with its configurations and epoch budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyOptimizer {
    /// `sgd`, `adam`, `cg` or `lbfgs`.
    pub name: String,
    /// Epochs of each of its runs.
    pub epochs: u32,
    /// Its hyperparameter configurations.
    pub configs: Vec<Config>,
}

/// A resolved study: everything that decides its runs' numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    /// A name for reports.
    pub name: String,
    /// Data flags (`dataset`, `scale`, ...).
    pub data: BTreeMap<String, String>,
    /// Model flags (`hidden`, `activation`, `l2`).
    pub model: BTreeMap<String, String>,
    /// Batch sizes, in grid order.
    pub batch_sizes: Vec<BatchSize>,
    /// Seeds, in grid order.
    pub seeds: Vec<u64>,
    /// `shuffle` or `replacement`.
    pub sampling: String,
    /// `keep` or `drop`.
    pub last_batch: String,
    /// The optimizers.
    pub optimizers: Vec<StudyOptimizer>,
    /// If set, each (optimizer, batch size) cell runs this many (config,
    /// seed) pairs drawn at random from its configs x seeds.
    pub runs_per_cell: Option<usize>,
    /// Seed of that draw.
    pub sample_seed: u64,
}

/// The data, model and optimizer flag groups of the command line, parsed
/// together: how study options and `sooth tune`'s flags get their meaning.
#[derive(Debug, Parser)]
#[command(name = "sooth")]
pub(crate) struct FlagParser {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) optimizer: OptimizerArgs,
}

/// The flags of a map, as command-line arguments.
fn to_args(flags: &BTreeMap<String, String>) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in flags {
        let flag = format!("--{}", key.replace('_', "-"));
        match value.as_str() {
            "true" if matches!(key.as_str(), "nesterov" | "damping" | "eval_train") => {
                args.push(flag)
            }
            "false" if matches!(key.as_str(), "nesterov" | "damping" | "eval_train") => {}
            _ => {
                args.push(flag);
                args.push(value.clone());
            }
        }
    }
    args
}

fn parse_flags(
    data: &BTreeMap<String, String>,
    model: &BTreeMap<String, String>,
    optimizer: &BTreeMap<String, String>,
) -> Result<FlagParser, String> {
    let mut args = vec!["sooth".to_string()];
    args.extend(to_args(data));
    args.extend(to_args(model));
    args.extend(to_args(optimizer));
    let parsed =
        FlagParser::try_parse_from(&args).map_err(|e| first_line(&e.render().to_string()))?;
    parsed
        .data
        .check("sweep")
        .map_err(|e| first_line(&e.render().to_string()))?;
    Ok(parsed)
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string()
}

/// A TOML scalar as a flag value.
fn scalar(value: &toml::Value) -> Result<String, String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => {
            return Err(format!(
                "{other} is not a flag value (a string, number or boolean)"
            ));
        }
    })
}

/// A section of plain flags (lists join with commas, as `--hidden 128,64`).
fn flag_map(
    section: &str,
    table: &BTreeMap<String, toml::Value>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let v = match value {
            toml::Value::Array(items) => items
                .iter()
                .map(scalar)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[{section}] {key}: {e}"))?
                .join(","),
            v => scalar(v).map_err(|e| format!("[{section}] {key}: {e}"))?,
        };
        out.insert(key.clone(), v);
    }
    Ok(out)
}

impl Study {
    /// Reads a study from TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Study, String> {
        let file: StudyFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        Study::resolve(file).map_err(|e| format!("{origin}: {e}"))
    }

    /// The built-in default study.
    pub fn default_study() -> Study {
        Study::from_toml(DEFAULT_STUDY, "the default study").expect("the default study is valid")
    }

    fn resolve(file: StudyFile) -> Result<Study, String> {
        let data = flag_map("data", &file.data)?;
        let model = flag_map("model", &file.model)?;
        // Check data and model flags now, with the parser the CLI uses.
        parse_flags(&data, &model, &BTreeMap::new()).map_err(|e| format!("[data]/[model]: {e}"))?;
        let grid = file.grid;
        let batch_sizes = match grid.batch_sizes {
            None => vec![BatchSize::Size(64)],
            Some(list) => list
                .iter()
                .map(|v| {
                    scalar(v)
                        .and_then(|s| s.parse::<BatchSize>())
                        .map_err(|e| format!("[grid] batch_sizes: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if batch_sizes.is_empty() {
            return Err("[grid] batch_sizes is empty".into());
        }
        let first = grid.first_seed.unwrap_or(1);
        let seeds: Vec<u64> = match grid.seeds {
            None => (first..first + 10).collect(),
            Some(toml::Value::Integer(n)) if n >= 1 => (first..first + n as u64).collect(),
            Some(toml::Value::Array(list)) => list
                .iter()
                .map(|v| match v {
                    toml::Value::Integer(s) if *s >= 0 => Ok(*s as u64),
                    other => Err(format!(
                        "[grid] seeds: {other} is not a seed (an integer >= 0)"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(format!(
                    "[grid] seeds = {other}: expected a count >= 1 or a list of seeds"
                ));
            }
        };
        if seeds.is_empty() {
            return Err("[grid] seeds is empty".into());
        }
        let sampling = grid.sampling.unwrap_or_else(|| "shuffle".into());
        let last_batch = grid.last_batch.unwrap_or_else(|| "keep".into());
        if !matches!(sampling.as_str(), "shuffle" | "replacement") {
            return Err(format!(
                "[grid] sampling = \"{sampling}\": expected \"shuffle\" or \"replacement\""
            ));
        }
        if !matches!(last_batch.as_str(), "keep" | "drop") {
            return Err(format!(
                "[grid] last_batch = \"{last_batch}\": expected \"keep\" or \"drop\""
            ));
        }
        let default_epochs = grid.epochs.unwrap_or(30);
        if file.optimizer.is_empty() {
            return Err("no [[optimizer]] tables: name at least one optimizer".into());
        }
        let mut optimizers = Vec::new();
        for table in &file.optimizer {
            optimizers.push(resolve_optimizer(table, default_epochs, &data, &model)?);
        }
        let mut names: Vec<&str> = optimizers.iter().map(|o| o.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(
                "an optimizer appears in two [[optimizer]] tables: put its grids in one table"
                    .into(),
            );
        }
        if grid.runs_per_cell == Some(0) {
            return Err("[grid] runs_per_cell = 0: expected at least 1".into());
        }
        Ok(Study {
            name: file.name.unwrap_or_else(|| "study".into()),
            data,
            model,
            batch_sizes,
            seeds,
            sampling,
            last_batch,
            optimizers,
            runs_per_cell: grid.runs_per_cell,
            sample_seed: grid.sample_seed.unwrap_or(0),
        })
    }

    /// The data options.
    pub fn data_spec(&self) -> DataSpec {
        parse_flags(&self.data, &self.model, &BTreeMap::new())
            .map(|f| f.data.spec())
            .unwrap_or_default()
    }

    /// The model.
    pub fn model_spec(&self) -> ModelSpec {
        parse_flags(&self.data, &self.model, &BTreeMap::new())
            .map(|f| f.model.spec())
            .expect("checked when the study was resolved")
    }

    /// The optimizer configuration of `flags` (checked when resolved).
    pub fn optimizer_config(
        &self,
        name: &str,
        flags: &BTreeMap<String, String>,
    ) -> OptimizerConfig {
        let mut flags = flags.clone();
        flags.insert("optimizer".into(), name.into());
        parse_flags(&self.data, &self.model, &flags)
            .ok()
            .and_then(|f| f.optimizer.config().ok())
            .expect("checked when the study was resolved")
    }

    /// The sampling of every run.
    pub fn sampling(&self) -> Sampling {
        if self.sampling == "replacement" {
            Sampling::WithReplacement
        } else {
            Sampling::Shuffle
        }
    }

    /// The last-batch policy of every run.
    pub fn last_batch(&self) -> LastBatch {
        if self.last_batch == "drop" {
            LastBatch::Drop
        } else {
            LastBatch::Keep
        }
    }

    /// FNV-1a hash (16 hex digits) of everything that decides the runs'
    /// numbers: the study without its name, as canonical JSON.
    pub fn config_hash(&self) -> String {
        let mut copy = self.clone();
        copy.name = String::new();
        let json = serde_json::to_string(&copy).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// Expands one `[[optimizer]]` table into its configurations.
fn resolve_optimizer(
    table: &BTreeMap<String, toml::Value>,
    default_epochs: u32,
    data: &BTreeMap<String, String>,
    model: &BTreeMap<String, String>,
) -> Result<StudyOptimizer, String> {
    let name = match table.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        _ => {
            return Err(
                "an [[optimizer]] table needs name = \"sgd\" | \"adam\" | \"cg\" | \"lbfgs\""
                    .into(),
            );
        }
    };
    let epochs = match table.get("epochs") {
        None => default_epochs,
        Some(toml::Value::Integer(e)) if *e >= 1 => *e as u32,
        Some(other) => {
            return Err(format!(
                "[[optimizer]] {name}: epochs = {other}: expected a count >= 1"
            ));
        }
    };
    if epochs == 0 {
        return Err(format!("[[optimizer]] {name}: epochs must be at least 1"));
    }
    // The grid: every list is an axis, in key order.
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in table {
        if key == "name" || key == "epochs" {
            continue;
        }
        let values = match value {
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(scalar)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[[optimizer]] {name}: {key}: {e}"))?,
            toml::Value::Array(_) => {
                return Err(format!("[[optimizer]] {name}: {key} is an empty list"));
            }
            v => vec![scalar(v).map_err(|e| format!("[[optimizer]] {name}: {key}: {e}"))?],
        };
        axes.push((key.clone(), values));
    }
    let mut combos: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    for (key, values) in &axes {
        let mut next = Vec::new();
        for combo in &combos {
            for v in values {
                let mut c = combo.clone();
                c.insert(key.clone(), v.clone());
                next.push(c);
            }
        }
        combos = next;
    }
    let mut configs = Vec::new();
    for (i, flags) in combos.into_iter().enumerate() {
        let mut with_name = flags.clone();
        with_name.insert("optimizer".into(), name.clone());
        let parsed = parse_flags(data, model, &with_name)
            .map_err(|e| format!("[[optimizer]] {name}: {e}"))?;
        let config = parsed.optimizer.config().map_err(|e| {
            format!(
                "[[optimizer]] {name}: {}",
                first_line(&e.render().to_string())
            )
        })?;
        configs.push(Config {
            id: format!("h{i}"),
            flags,
            description: crate::cli::describe_optimizer(&config),
        });
    }
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
        let err = |text: &str| Study::from_toml(text, "s.toml").unwrap_err();
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
    fn the_hash_ignores_the_name_but_not_the_grid() {
        let a = Study::default_study();
        let mut b = a.clone();
        b.name = "other".into();
        assert_eq!(a.config_hash(), b.config_hash());
        b.seeds.push(99);
        assert_ne!(a.config_hash(), b.config_hash());
    }
}
