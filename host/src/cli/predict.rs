//! `sooth predict`: a saved model's class probabilities for a data file.

use crate::cli::output::out;
use crate::data::{DataSpec, Format, Header, LabelColumn};
use crate::predict::predict_file;
use clap::Args;
use std::path::PathBuf;

/// Flags of `sooth predict`.
#[derive(Debug, Args)]
#[command(after_help = "Writes one CSV row per sample, in file order: \
`prediction,p_0,...,p_{k-1}`, the predicted class and the probability of each class (they sum to \
1). A model trained on class names writes them back: the prediction is a name and the columns are \
`p_<name>` (e.g. `prediction,p_setosa,p_versicolor,p_virginica`). The model's input scaling is \
applied as `sooth eval` does.\n\nExample:\n  sooth predict --model iris.model --dataset new.csv \
--label-column none --out predictions.csv")]
pub struct PredictArgs {
    /// The model file (from `sooth train --save`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The data file (CSV, IDX or LIBSVM; `.gz` works); its labels, if any, are ignored.
    #[arg(long, value_name = "PATH")]
    pub dataset: PathBuf,
    /// Where to write the predictions (CSV, written atomically); default: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The file format, if the extension does not tell.
    #[arg(long, value_name = "csv|idx|libsvm")]
    pub format: Option<Format>,
    /// CSV: whether the first line is a header.
    #[arg(long, default_value = "auto", value_name = "auto|yes|no")]
    pub header: Header,
    /// CSV: the label column (`first`, `last`, a column number from 1, a header name), or `none`
    /// for a file without labels (every column a feature).
    #[arg(long, default_value = "first", value_name = "COLUMN|none")]
    pub label_column: LabelColumn,
    /// CSV: the field delimiter, one character (`;`, `|`) or `tab`.
    #[arg(long, value_name = "CHAR", value_parser = super::delimiter_value)]
    pub delimiter: Option<u8>,
    /// IDX: the labels file of the images (default: the MNIST naming).
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
}

/// Runs `sooth predict`.
pub fn run(args: PredictArgs) -> Result<(), String> {
    let spec = DataSpec {
        format: args.format,
        labels_path: args.labels.clone(),
        header: args.header,
        label_column: args.label_column.clone(),
        delimiter: args.delimiter.unwrap_or(b','),
        ..DataSpec::new(args.dataset.to_string_lossy())
    };
    if let Some(out) = &args.out {
        super::train::check_output(out)?;
    }
    let bytes = super::read_model_file(&args.model)?;
    let predictions = predict_file(&bytes, &args.model, &spec).map_err(|e| e.to_string())?;
    let csv = predictions.to_csv();
    match &args.out {
        Some(path) => crate::atomic::write_file(path, csv.as_bytes()).map_err(|e| e.to_string())?,
        None => out!("{csv}")?,
    }
    Ok(())
}
