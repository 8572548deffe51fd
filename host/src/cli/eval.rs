//! `sooth eval`: a saved model on a data set.

use super::DataArgs;
use crate::cli::output::{errln, outln};
use crate::data::{Scaling, Table, load};
use crate::run_files::{DataSplit, ScoredPart, Seen, seen_rows};
use clap::{Args, ValueEnum};
use serde::Serialize;
use sooth_core::{SavedModel, SliceDataset};
use std::path::PathBuf;

/// Which part of the data to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The test part (the test file, or the held-out split).
    Test,
    /// The training part.
    Train,
    /// Both parts.
    All,
}

/// Flags of `sooth eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model file (from `sooth train --save`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Where the data comes from and how it is prepared.
    #[command(flatten)]
    #[command(next_help_heading = "Data (scaling comes from the model)")]
    pub data: DataArgs,
    /// Which part of the data to evaluate.
    #[arg(long, default_value = "test")]
    pub part: Part,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct EvalSummary<'a> {
    model: String,
    dataset: &'a str,
    part: &'static str,
    samples: u32,
    correct: u32,
    accuracy: f64,
    loss: f64,
    param_hash: String,
}

/// Runs `sooth eval`.
pub fn run(args: EvalArgs) -> Result<(), String> {
    if args.data.scaling != Scaling::None {
        super::usage_error(
            "eval",
            clap::error::ErrorKind::ArgumentConflict,
            "the argument '--scale' cannot be used with 'sooth eval': the model applies the scaling it was trained with",
        )
        .exit();
    }
    let data_spec = args.data.spec("eval").unwrap_or_else(|e| e.exit());
    let name = args.model.display().to_string();
    let bytes = super::read_model_file(&args.model)?;
    let model = SavedModel::read(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let mlp = model.mlp();
    let shape = mlp.shape();
    let mut params = vec![0.0f32; shape.param_count()];
    model
        .read_params(&mut params)
        .map_err(|e| format!("{name}: {e}"))?;
    let mut data = load(&data_spec).map_err(|e| e.to_string())?;
    let class_names = crate::run_files::model_class_names(&model)
        .ok_or_else(|| format!("{name}: its class-names section is not one name per class"))?;
    crate::data::renumber_classes(&mut data, &class_names).map_err(|e| e.to_string())?;
    let (inputs, outputs) = (shape.inputs(), shape.outputs());
    if data.train.width != inputs || data.train.classes > outputs {
        return Err(format!(
            "{name}: the model takes {inputs} features and {outputs} classes, but {} has {} features and {} classes",
            data.name, data.train.width, data.train.classes
        ));
    }
    let saved_split = model
        .section(sooth_core::model::section::DATA_SPLIT)
        .and_then(DataSplit::from_bytes);
    let now_split = match &saved_split {
        Some(_) => {
            Some(DataSplit::of(&args.data.options(), &data_spec).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let parts: Vec<(&'static str, &Table)> = match args.part {
        Part::Test => vec![("test", &data.test)],
        Part::Train => vec![("train", &data.train)],
        Part::All => vec![("train", &data.train), ("test", &data.test)],
    };
    let mut work = vec![0.0f32; shape.workspace_len()];
    for (part, table) in parts {
        if let (Some(saved), Some(now)) = (&saved_split, &now_split) {
            let scored = if part == "train" {
                ScoredPart::Train
            } else {
                ScoredPart::Test
            };
            if let Some(seen) = seen_rows(saved, now, &data, scored)?
                && let Some(warning) = seen_warning(&name, part, saved, seen)
            {
                errln!("warning: {warning}");
            }
        }
        let mut features = table.features.clone();
        for row in features.chunks_exact_mut(inputs) {
            model.transform_input(row);
        }
        let set = SliceDataset::new(&features, &table.labels, inputs, outputs)
            .map_err(|e| format!("{}: {e}", data.name))?;
        let eval = mlp
            .evaluate(&params, &set, &mut work)
            .map_err(|e| format!("{}: {e}", data.name))?;
        if args.json {
            let summary = EvalSummary {
                model: name.clone(),
                dataset: &data.name,
                part,
                samples: eval.total,
                correct: eval.correct,
                accuracy: eval.accuracy(),
                loss: eval.loss,
                param_hash: format!("{:016x}", model.param_hash()),
            };
            outln!(
                "{}",
                serde_json::to_string(&summary).map_err(|e| e.to_string())?
            )?;
        } else {
            outln!(
                "{name} on {} ({part}, {} samples): accuracy {:.2}% ({} correct), loss {:.4}",
                data.name,
                eval.total,
                100.0 * eval.accuracy(),
                eval.correct,
                eval.loss
            )?;
        }
    }
    Ok(())
}

/// The warning when `seen` rows of the scored `part` are rows the model
/// trained on or selected its epoch with (`None` when none are).
fn seen_warning(model: &str, part: &str, saved: &DataSplit, seen: Seen) -> Option<String> {
    if seen.trained == 0 && seen.validation == 0 {
        return None;
    }
    let mut what = Vec::new();
    if seen.trained > 0 {
        what.push(format!("{} were in its training part", seen.trained));
    }
    if seen.validation > 0 {
        what.push(format!(
            "{} in its validation part (used to select its epoch)",
            seen.validation
        ));
    }
    Some(format!(
        "{model} has seen rows of this {part} part: of its {} rows, {}; this accuracy is not a \
         held-out score. The model was trained on {} split with {}; {}",
        seen.rows,
        what.join(" and "),
        saved.dataset,
        saved.flags(),
        if part == "train" {
            "its test part (--part test with those flags) holds the rows it never saw"
        } else {
            "evaluate with those flags to score the rows it never saw"
        }
    ))
}
