//! Class probabilities of a saved model for the samples of a data file, as
//! CSV: what `sooth predict` writes.
//!
//! One row per sample, in file order: `prediction,p_0,...,p_{k-1}`, the
//! predicted class (the arg-max, as `sooth eval` counts it) and the
//! softmax probability of each class ([`sooth_core::Mlp::probabilities`],
//! summing to 1 within rounding). A model that names its classes (trained
//! on a CSV label column of names) writes the names instead: the
//! prediction is a name and the columns are `p_<name>`. Probabilities are
//! printed exactly (the shortest decimal that reads back to the same `f32`).
//! The model's input transform (its `--scale`) is applied first, as
//! `sooth eval` does.

use crate::data::{DataError, DataSpec, Format, LabelColumn, Parsed, read_samples};
use crate::run::activation_name;
use crate::run_files::model_class_names;
use sooth_core::SavedModel;
use std::fmt::Write as _;
use std::path::Path;

/// Why a prediction could not be made; every error names its file.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The model cannot be used (the core's reason).
    #[error("{file}: {reason}")]
    Model {
        /// The model file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The data file cannot be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The data has another number of features than the model's input.
    #[error(
        "{file}: {found} features per sample, but the model {model} ({network}) takes {expected}{hint}"
    )]
    Width {
        /// The data file.
        file: String,
        /// The model file.
        model: String,
        /// The model's network (`4-8-3 relu`).
        network: String,
        /// Features per sample in the file.
        found: usize,
        /// The model's input width.
        expected: usize,
        /// A hint about the label column, or empty.
        hint: &'static str,
    },
}

/// The predictions of a model for the samples of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The number of classes (the model's outputs).
    pub classes: usize,
    /// The model's class names in class order, or empty (class numbers).
    pub class_names: Vec<String>,
    /// The predicted class of each sample.
    pub predicted: Vec<usize>,
    /// The probabilities, `classes` per sample, row-major.
    pub probabilities: Vec<f32>,
}

/// The predictions of the model `model_bytes` (read from `model_file`) for
/// every sample of the data file `spec` describes (read with
/// [`read_samples`]; for a LIBSVM file the width is the model's input).
pub fn predict_file(
    model_bytes: &[u8],
    model_file: &Path,
    spec: &DataSpec,
) -> Result<Predictions, PredictError> {
    let model_name = model_file.display().to_string();
    let model_error = |reason: String| PredictError::Model {
        file: model_name.clone(),
        reason,
    };
    let model = SavedModel::read(model_bytes).map_err(|e| model_error(e.to_string()))?;
    let mut spec = spec.clone();
    let libsvm = spec.format == Some(Format::Libsvm)
        || (spec.format.is_none()
            && Format::from_path(Path::new(&spec.dataset)) == Some(Format::Libsvm));
    if libsvm && spec.width.is_none() {
        spec.width = Some(model.mlp().shape().inputs());
    }
    let samples = read_samples(&spec)?;
    predict(&model, &model_name, &samples, &spec.label_column)
}

/// The predictions of `model` (named `model_name` in errors) for the
/// `samples` read from a file with the label column `label_column` (for
/// the hint when the widths differ).
pub fn predict(
    model: &SavedModel<'_>,
    model_name: &str,
    samples: &Parsed,
    label_column: &LabelColumn,
) -> Result<Predictions, PredictError> {
    let model_error = |reason: String| PredictError::Model {
        file: model_name.to_owned(),
        reason,
    };
    let mlp = model.mlp();
    let shape = mlp.shape();
    let (inputs, classes) = (shape.inputs(), shape.outputs());
    let table = &samples.table;
    if table.width != inputs {
        let widths: Vec<String> = shape.widths().iter().map(|w| w.to_string()).collect();
        let hint = match label_column {
            LabelColumn::None if table.width == inputs + 1 => {
                " (does the file have a label column? name it with --label-column)"
            }
            LabelColumn::None => "",
            _ if table.width + 1 == inputs => {
                " (one column was read as the label; for a file without labels give \
                 --label-column none)"
            }
            _ => "",
        };
        return Err(PredictError::Width {
            file: samples.file().to_owned(),
            model: model_name.to_owned(),
            network: format!("{} {}", widths.join("-"), activation_name(mlp.activation())),
            found: table.width,
            expected: inputs,
            hint,
        });
    }
    let class_names = model_class_names(model).ok_or_else(|| {
        model_error(format!(
            "its class-names section is not {classes} lines of UTF-8 text (one name per class)"
        ))
    })?;
    let mut params = vec![0.0f32; shape.param_count()];
    model
        .read_params(&mut params)
        .map_err(|e| model_error(e.to_string()))?;
    let mut work = vec![0.0f32; shape.workspace_len()];
    let mut features = vec![0.0f32; inputs];
    let mut predicted = Vec::with_capacity(table.len());
    let mut probabilities = vec![0.0f32; table.len() * classes];
    for (row, (x, p)) in table
        .features
        .chunks_exact(inputs)
        .zip(probabilities.chunks_exact_mut(classes))
        .enumerate()
    {
        features.copy_from_slice(x);
        model.transform_input(&mut features);
        if let Some(column) = features.iter().position(|v| !v.is_finite()) {
            return Err(PredictError::Data(samples.feature_error(
                row,
                column,
                format!(
                    "value {} is not finite in f32 after the model's input scaling",
                    features[column]
                ),
            )));
        }
        let class = mlp
            .probabilities(&params, &features, p, &mut work)
            .map_err(|e| model_error(e.to_string()))?;
        predicted.push(class);
    }
    Ok(Predictions {
        classes,
        class_names,
        predicted,
        probabilities,
    })
}

impl Predictions {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.predicted.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.predicted.is_empty()
    }

    /// The CSV text: a header `prediction,p_0,...` (or `p_<name>` with
    /// class names), then one line per sample.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("prediction");
        for class in 0..self.classes {
            out.push(',');
            out.push_str(&csv_cell(&format!("p_{}", self.class_label(class))));
        }
        out.push('\n');
        for (&class, p) in self
            .predicted
            .iter()
            .zip(self.probabilities.chunks_exact(self.classes.max(1)))
        {
            out.push_str(&csv_cell(&self.class_label(class)));
            for v in p {
                // `{:?}` of an f32 is the shortest decimal that reads back
                // to the same bits, with an exponent for small values.
                let _ = write!(out, ",{v:?}");
            }
            out.push('\n');
        }
        out
    }

    /// Class `class`'s name, or its number without names.
    fn class_label(&self, class: usize) -> String {
        self.class_names
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    }
}

/// `text` as one CSV cell: quoted (with `""` for `"`) if it holds a comma,
/// a quote, a line break or spaces at either end.
fn csv_cell(text: &str) -> String {
    let plain = !text.contains([',', '"', '\n', '\r']) && text.trim() == text;
    if plain {
        text.to_owned()
    } else {
        format!("\"{}\"", text.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_a_row_per_sample() {
        let p = Predictions {
            classes: 2,
            class_names: Vec::new(),
            predicted: vec![1, 0],
            probabilities: vec![0.25, 0.75, 1.0, 0.0],
        };
        assert_eq!(p.to_csv(), "prediction,p_0,p_1\n1,0.25,0.75\n0,1.0,0.0\n");
        let named = Predictions {
            class_names: vec!["a, b".into(), "c".into()],
            ..p
        };
        assert_eq!(
            named.to_csv(),
            "prediction,\"p_a, b\",p_c\nc,0.25,0.75\n\"a, b\",1.0,0.0\n"
        );
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(" x"), "\" x\"");
    }
}
