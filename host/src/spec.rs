//! Typed specifications: the data, model and optimizer options exactly as a
//! user wrote them (as `sooth train` flags, study keys or `sooth tune`
//! flags), and their resolution into the loader's [`DataSpec`], the run's
//! [`ModelSpec`] and the core's [`OptimizerConfig`].
//!
//! Every option is an `Option` field: `None` means "not written", and the
//! default comes from the core (or the data loader) when the spec is
//! resolved. A key is the study spelling of a flag (`line_search` is
//! `--line-search`). Options are set one key at a time from TOML values
//! ([`DataOptions::set`], [`ModelOptions::set`], [`OptimizerOptions::set`]);
//! a string is parsed as the flag's value would be, so `lr = 0.1` and
//! `lr = "0.1"` mean the same. Which optimizer or line search an option
//! belongs to is checked once, in [`OptimizerOptions::resolve`].

use crate::data::{DataSpec, Format, Header, LabelColumn, MAX_LABEL, Scaling};
use crate::run::ModelSpec;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use sooth_core::{
    Activation, AdamConfig, Armijo, CgConfig, CgFormula, CurvatureMode, LbfgsConfig, LineSearch,
    OptimizerConfig, PairPrecision, SgdConfig, StrongWolfe,
};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// An option that cannot be used as written. Its [`Display`](fmt::Display)
/// names the option as a flag (`--lr <LR>`), the value and what was
/// expected, in the command line's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// A value that does not parse, or is out of range.
    InvalidValue {
        /// The flag with its value name, e.g. `--lr <LR>`.
        flag: String,
        /// The value as written (`(default)` if it was not written).
        value: String,
        /// What was expected, e.g. `a finite value > 0`.
        expected: String,
    },
    /// A value its type rejects with its own reason (which says what it
    /// expected), e.g. `unknown scaling "x"; expected none, ...`.
    Unparsable {
        /// The flag with its value name.
        flag: String,
        /// The value as written.
        value: String,
        /// The type's reason.
        reason: String,
    },
    /// A key that is not an option of its section.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The section (`data`, `model` or `optimizer`).
        section: &'static str,
    },
    /// An option of another optimizer.
    NotForOptimizer {
        /// The option's key.
        key: String,
        /// The chosen optimizer.
        optimizer: OptimizerKind,
        /// The optimizers the option belongs to.
        owners: Vec<OptimizerKind>,
    },
    /// A line-search option that the chosen optimizer or line search does
    /// not use.
    NotForLineSearch {
        /// The option's key.
        key: String,
        /// The chosen optimizer.
        optimizer: OptimizerKind,
        /// The chosen line search (`None`: the optimizer has none).
        line_search: Option<LineSearchKind>,
    },
    /// An option that cannot be used together with another.
    Conflict {
        /// The option's key.
        key: String,
        /// What it conflicts with, in flag words (`'--test-data'`).
        with: String,
    },
}

/// `--line-search` for `line_search`.
pub fn flag_of(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::InvalidValue {
                flag,
                value,
                expected,
            } => write!(
                f,
                "invalid value '{value}' for '{flag}': expected {expected}"
            ),
            SpecError::Unparsable {
                flag,
                value,
                reason,
            } => write!(f, "invalid value '{value}' for '{flag}': {reason}"),
            SpecError::UnknownKey { key, section } => {
                let keys: &[&str] = match *section {
                    "data" => DataOptions::KEYS,
                    "model" => ModelOptions::KEYS,
                    _ => OptimizerOptions::KEYS,
                };
                write!(
                    f,
                    "unexpected argument '{}' found; expected one of {}",
                    flag_of(key),
                    keys.join(", ")
                )
            }
            SpecError::NotForOptimizer {
                key,
                optimizer,
                owners,
            } => write!(
                f,
                "the argument '{}' cannot be used with '--optimizer {}' (it applies to {})",
                flag_of(key),
                optimizer.name(),
                owners
                    .iter()
                    .map(|o| o.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SpecError::NotForLineSearch {
                key,
                optimizer,
                line_search,
            } => match line_search {
                Some(search) => write!(
                    f,
                    "the argument '{}' cannot be used with '--line-search {}'",
                    flag_of(key),
                    search.name()
                ),
                None => write!(
                    f,
                    "the argument '{}' cannot be used with '--optimizer {}' (no line search)",
                    flag_of(key),
                    optimizer.name()
                ),
            },
            SpecError::Conflict { key, with } => write!(
                f,
                "the argument '{}' cannot be used with {with}",
                flag_of(key)
            ),
        }
    }
}

impl std::error::Error for SpecError {}

/// The name a `ValueEnum` value is written as.
fn value_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// A TOML value as the text of a flag value (lists only where `lists`:
/// joined with commas, as `--hidden 128,64`); `None` for a table, a date or
/// a nested list.
pub fn value_text(value: &toml::Value, lists: bool) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) if lists => items
            .iter()
            .map(|v| value_text(v, false))
            .collect::<Option<Vec<_>>>()?
            .join(","),
        _ => return None,
    })
}

/// Parses the text of `key`'s value, or an [`SpecError::InvalidValue`]
/// naming `flag`, the text and `expected`.
fn parse<T: FromStr>(flag: &str, text: &str, expected: &str) -> Result<T, SpecError> {
    text.parse().map_err(|_| SpecError::InvalidValue {
        flag: flag.into(),
        value: text.into(),
        expected: expected.into(),
    })
}

/// Parses a value through its `FromStr`, keeping its own reason.
fn parse_with_reason<T>(flag: &str, text: &str) -> Result<T, SpecError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    text.parse().map_err(|e: T::Err| SpecError::Unparsable {
        flag: flag.into(),
        value: text.into(),
        reason: e.to_string(),
    })
}

/// Parses a `ValueEnum` value by name (or alias).
fn parse_enum<T: ValueEnum>(flag: &str, text: &str) -> Result<T, SpecError> {
    T::from_str(text, false).map_err(|_| SpecError::InvalidValue {
        flag: flag.into(),
        value: text.into(),
        expected: T::value_variants()
            .iter()
            .map(value_name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Parses `true` or `false`.
fn parse_bool(flag: &str, text: &str) -> Result<bool, SpecError> {
    parse(flag, text, "true or false")
}

/// The text of a TOML value for `key` of `section`, or an error.
fn text_of(flag: &str, value: &toml::Value, lists: bool) -> Result<String, SpecError> {
    value_text(value, lists).ok_or_else(|| SpecError::InvalidValue {
        flag: flag.into(),
        value: value.to_string(),
        expected: "a flag value (a string, number or boolean)".into(),
    })
}

// ---------------------------------------------------------------- data

/// Where the data comes from and how it is prepared, as written: the
/// `[data]` section of a study, the data flags of the command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataOptions {
    /// `dataset`: a built-in data set (with options) or a file.
    pub dataset: Option<String>,
    /// `format`: the file format.
    pub format: Option<Format>,
    /// `test_data`: a separate test file.
    pub test_data: Option<PathBuf>,
    /// `labels`: IDX labels of the training images.
    pub labels: Option<PathBuf>,
    /// `test_labels`: IDX labels of the test images.
    pub test_labels: Option<PathBuf>,
    /// `header`: whether a CSV file has a header line.
    pub header: Option<Header>,
    /// `label_column`: the CSV label column.
    pub label_column: Option<LabelColumn>,
    /// `delimiter`: the CSV field delimiter (one ASCII character).
    pub delimiter: Option<u8>,
    /// `width`: the number of features.
    pub width: Option<usize>,
    /// `classes`: the number of classes.
    pub classes: Option<usize>,
    /// `scale`: feature scaling.
    pub scale: Option<Scaling>,
    /// `test_fraction`: share held out without a test file.
    pub test_fraction: Option<f64>,
    /// `data_seed`: seed of the split and of synthetic data.
    pub data_seed: Option<u64>,
    /// `validation_fraction`: share of the training part held out for
    /// validation (model selection).
    pub validation_fraction: Option<f64>,
}

impl DataOptions {
    /// Options that would have no effect with this data set or format are
    /// refused, naming the option: the file options (`format`, `header`,
    /// `label_column`, `delimiter`, `width`, `classes`) with a built-in
    /// data set, the CSV options with another explicit `format`, and IDX
    /// labels files with another explicit `format`.
    fn refuse_options_without_effect(&self, dataset: &str) -> Result<(), SpecError> {
        let conflict = |key: &str, with: String| {
            Err(SpecError::Conflict {
                key: key.into(),
                with,
            })
        };
        let file_options = [
            ("format", self.format.is_some()),
            ("header", self.header.is_some()),
            ("label_column", self.label_column.is_some()),
            ("delimiter", self.delimiter.is_some()),
            ("width", self.width.is_some()),
            ("classes", self.classes.is_some()),
        ];
        if crate::data::is_builtin(dataset) {
            if let Some((key, _)) = file_options.iter().find(|(_, given)| *given) {
                return conflict(
                    key,
                    format!("'--dataset {dataset}' (a built-in data set; it is for data files)"),
                );
            }
            return Ok(());
        }
        let Some(format) = self.format else {
            return Ok(());
        };
        let csv_options = [
            ("header", self.header.is_some()),
            ("label_column", self.label_column.is_some()),
            ("delimiter", self.delimiter.is_some()),
        ];
        if format != Format::Csv
            && let Some((key, _)) = csv_options.iter().find(|(_, given)| *given)
        {
            return conflict(
                key,
                format!(
                    "'--format {}' (it is for CSV files)",
                    format.to_string().to_lowercase()
                ),
            );
        }
        let idx_options = [
            ("labels", self.labels.is_some()),
            ("test_labels", self.test_labels.is_some()),
        ];
        if format != Format::Idx
            && let Some((key, _)) = idx_options.iter().find(|(_, given)| *given)
        {
            return conflict(
                key,
                format!(
                    "'--format {}' (it is for IDX files)",
                    format.to_string().to_lowercase()
                ),
            );
        }
        Ok(())
    }

    /// The keys of the `[data]` section, in flag order.
    pub const KEYS: &'static [&'static str] = &[
        "dataset",
        "format",
        "test_data",
        "labels",
        "test_labels",
        "header",
        "label_column",
        "delimiter",
        "width",
        "classes",
        "scale",
        "test_fraction",
        "data_seed",
        "validation_fraction",
    ];

    /// Sets `key` from a TOML value (a string is read as the flag's value
    /// text); errors name the key, the value and what was expected.
    pub fn set(&mut self, key: &str, value: &toml::Value) -> Result<(), SpecError> {
        let flag = |name: &str| format!("{} <{name}>", flag_of(key));
        let text = |f: &str| text_of(f, value, true);
        match key {
            "dataset" => self.dataset = Some(text(&flag("NAME|PATH"))?),
            "format" => {
                let f = flag("csv|idx|libsvm");
                self.format = Some(parse_with_reason(&f, &text(&f)?)?);
            }
            "test_data" => self.test_data = Some(text(&flag("PATH"))?.into()),
            "labels" => self.labels = Some(text(&flag("PATH"))?.into()),
            "test_labels" => self.test_labels = Some(text(&flag("PATH"))?.into()),
            "header" => {
                let f = flag("auto|yes|no");
                self.header = Some(parse_with_reason(&f, &text(&f)?)?);
            }
            "label_column" => {
                let f = flag("COLUMN");
                self.label_column = Some(parse_with_reason(&f, &text(&f)?)?);
            }
            "delimiter" => {
                let f = flag("CHAR");
                let t = text(&f)?;
                self.delimiter =
                    Some(
                        parse_delimiter(&t).map_err(|expected| SpecError::InvalidValue {
                            flag: f,
                            value: t,
                            expected: expected.into(),
                        })?,
                    );
            }
            "width" => {
                let f = flag("N");
                self.width = Some(parse(&f, &text(&f)?, "an integer >= 1")?);
            }
            "classes" => {
                let f = flag("N");
                self.classes = Some(parse(&f, &text(&f)?, "an integer >= 2")?);
            }
            "scale" => {
                let f = flag("none|min-max|standardize");
                self.scale = Some(parse_with_reason(&f, &text(&f)?)?);
            }
            "test_fraction" => {
                let f = flag("FRACTION");
                self.test_fraction = Some(parse(&f, &text(&f)?, "a number")?);
            }
            "data_seed" => {
                let f = flag("SEED");
                self.data_seed = Some(parse(&f, &text(&f)?, "an integer >= 0")?);
            }
            "validation_fraction" => {
                let f = flag("FRACTION");
                self.validation_fraction = Some(parse(&f, &text(&f)?, "a number")?);
            }
            _ => {
                return Err(SpecError::UnknownKey {
                    key: key.into(),
                    section: "data",
                });
            }
        }
        Ok(())
    }

    /// The options written, each as its flag value's text (what a study
    /// records and hashes).
    pub fn written(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.insert(k.to_string(), v);
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        put("dataset", self.dataset.clone());
        put("format", self.format.map(|f| f.to_string()));
        put("test_data", path(&self.test_data));
        put("labels", path(&self.labels));
        put("test_labels", path(&self.test_labels));
        put(
            "header",
            self.header.map(|h| {
                match h {
                    Header::Auto => "auto",
                    Header::Present => "yes",
                    Header::Absent => "no",
                }
                .to_string()
            }),
        );
        put(
            "label_column",
            self.label_column.as_ref().map(|c| match c {
                LabelColumn::First => "first".to_string(),
                LabelColumn::Last => "last".to_string(),
                LabelColumn::Number(n) => n.to_string(),
                LabelColumn::Name(name) => name.clone(),
                LabelColumn::None => "none".to_string(),
            }),
        );
        put(
            "delimiter",
            self.delimiter.map(|d| match d {
                b'\t' => "tab".to_string(),
                d => char::from(d).to_string(),
            }),
        );
        put("width", self.width.map(|w| w.to_string()));
        put("classes", self.classes.map(|c| c.to_string()));
        put("scale", self.scale.map(|s| s.to_string()));
        put("test_fraction", self.test_fraction.map(|f| f.to_string()));
        put("data_seed", self.data_seed.map(|s| s.to_string()));
        put(
            "validation_fraction",
            self.validation_fraction.map(|f| f.to_string()),
        );
        out
    }

    /// The loader's description of these options (defaults from
    /// [`DataSpec::default`]), or the first option out of range.
    pub fn resolve(&self) -> Result<DataSpec, SpecError> {
        let default = DataSpec::default();
        let max_classes = usize::from(MAX_LABEL) + 1;
        if let Some(c) = self.classes
            && !(2..=max_classes).contains(&c)
        {
            return Err(SpecError::InvalidValue {
                flag: "--classes <N>".into(),
                value: c.to_string(),
                expected: format!("2 to {max_classes}"),
            });
        }
        if self.width == Some(0) {
            return Err(SpecError::InvalidValue {
                flag: "--width <N>".into(),
                value: "0".into(),
                expected: "at least 1 feature".into(),
            });
        }
        let dataset = self.dataset.clone().unwrap_or(default.dataset.clone());
        if let Some(f) = self.test_fraction {
            if !(f > 0.0 && f < 1.0) {
                return Err(SpecError::InvalidValue {
                    flag: "--test-fraction <FRACTION>".into(),
                    value: f.to_string(),
                    expected: "a number between 0 and 1 (exclusive), e.g. 0.25".into(),
                });
            }
            let with = if self.test_data.is_some() {
                Some("'--test-data'".to_string())
            } else if dataset == "digits" {
                Some(format!("'--dataset {dataset}' (it has a fixed test split)"))
            } else {
                None
            };
            if let Some(with) = with {
                return Err(SpecError::Conflict {
                    key: "test_fraction".into(),
                    with,
                });
            }
        }
        if let Some(f) = self.validation_fraction
            && !(f > 0.0 && f < 1.0)
        {
            return Err(SpecError::InvalidValue {
                flag: "--validation-fraction <FRACTION>".into(),
                value: f.to_string(),
                expected: "a number between 0 and 1 (exclusive), e.g. 0.2".into(),
            });
        }
        self.refuse_options_without_effect(&dataset)?;
        Ok(DataSpec {
            dataset,
            format: self.format,
            test_data: self.test_data.clone(),
            labels_path: self.labels.clone(),
            test_labels_path: self.test_labels.clone(),
            header: self.header.unwrap_or(default.header),
            label_column: self
                .label_column
                .clone()
                .unwrap_or(default.label_column.clone()),
            delimiter: self.delimiter.unwrap_or(default.delimiter),
            width: self.width,
            classes: self.classes,
            scaling: self.scale.unwrap_or(default.scaling),
            test_fraction: self.test_fraction.unwrap_or(default.test_fraction),
            validation_fraction: self
                .validation_fraction
                .unwrap_or(default.validation_fraction),
            seed: self.data_seed.unwrap_or(default.seed),
        })
    }
}

// ---------------------------------------------------------------- model

/// A CSV delimiter as written: one ASCII character other than a quote or a
/// line break, or `tab` (also `\t`); the error says what was expected.
pub fn parse_delimiter(text: &str) -> Result<u8, &'static str> {
    let expected = "one ASCII character other than a quote or a line break (e.g. ';'), or 'tab'";
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => match text.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(*b),
            _ => Err(expected),
        },
    }
}

/// The hidden activation, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationKind {
    /// max(z, 0).
    Relu,
    /// tanh(z).
    Tanh,
}

impl From<ActivationKind> for Activation {
    fn from(a: ActivationKind) -> Activation {
        match a {
            ActivationKind::Relu => Activation::Relu,
            ActivationKind::Tanh => Activation::Tanh,
        }
    }
}

/// The network, as written: the `[model]` section of a study, the model
/// flags of the command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelOptions {
    /// `hidden`: hidden layer widths (`0` entries are dropped).
    pub hidden: Option<Vec<usize>>,
    /// `activation`: the hidden activation.
    pub activation: Option<ActivationKind>,
    /// `l2`: L2 weight decay in the loss.
    pub l2: Option<f32>,
}

impl ModelOptions {
    /// The keys of the `[model]` section.
    pub const KEYS: &'static [&'static str] = &["hidden", "activation", "l2"];
    /// The hidden widths when none are written.
    pub const DEFAULT_HIDDEN: &'static [usize] = &[32];
    /// The widest hidden layer: 2^20 units (a network's training buffers
    /// are limited as a whole too: `run::MAX_TRAIN_BYTES`).
    pub const MAX_HIDDEN_WIDTH: usize = 1 << 20;
    /// The activation when none is written.
    pub const DEFAULT_ACTIVATION: ActivationKind = ActivationKind::Relu;

    /// Sets `key` from a TOML value (a list or a comma-separated string for
    /// `hidden`); errors name the key, the value and what was expected.
    pub fn set(&mut self, key: &str, value: &toml::Value) -> Result<(), SpecError> {
        match key {
            "hidden" => {
                let flag = "--hidden <WIDTHS>";
                let text = text_of(flag, value, true)?;
                let widths = text
                    .split(',')
                    .map(|w| parse(flag, w, "widths >= 0, comma separated (e.g. 128,64)"))
                    .collect::<Result<Vec<usize>, _>>()?;
                self.hidden = Some(widths);
            }
            "activation" => {
                let flag = "--activation <ACTIVATION>";
                self.activation = Some(parse_enum(flag, &text_of(flag, value, false)?)?);
            }
            "l2" => {
                let flag = "--l2 <L2>";
                self.l2 = Some(parse(flag, &text_of(flag, value, false)?, "a number")?);
            }
            _ => {
                return Err(SpecError::UnknownKey {
                    key: key.into(),
                    section: "model",
                });
            }
        }
        Ok(())
    }

    /// The options written, each as its flag value's text.
    pub fn written(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(h) = &self.hidden {
            let widths: Vec<String> = h.iter().map(|w| w.to_string()).collect();
            out.insert("hidden".into(), widths.join(","));
        }
        if let Some(a) = &self.activation {
            out.insert("activation".into(), value_name(a));
        }
        if let Some(l2) = self.l2 {
            out.insert("l2".into(), l2.to_string());
        }
        out
    }

    /// The model these options describe, or an error for an `l2` that is
    /// negative or not finite.
    pub fn resolve(&self) -> Result<ModelSpec, SpecError> {
        if let Some(wide) = self
            .hidden
            .iter()
            .flatten()
            .find(|&&w| w > Self::MAX_HIDDEN_WIDTH)
        {
            return Err(SpecError::InvalidValue {
                flag: "--hidden <WIDTHS>".into(),
                value: wide.to_string(),
                expected: format!("widths up to {}", Self::MAX_HIDDEN_WIDTH),
            });
        }
        let l2 = self.l2.unwrap_or(0.0);
        if !(l2 >= 0.0 && l2.is_finite()) {
            return Err(SpecError::InvalidValue {
                flag: "--l2 <L2>".into(),
                value: l2.to_string(),
                expected: "a finite value >= 0".into(),
            });
        }
        Ok(ModelSpec {
            hidden: self
                .hidden
                .as_deref()
                .unwrap_or(Self::DEFAULT_HIDDEN)
                .iter()
                .copied()
                .filter(|&h| h > 0)
                .collect(),
            activation: self.activation.unwrap_or(Self::DEFAULT_ACTIVATION).into(),
            l2,
        })
    }
}

// ---------------------------------------------------------------- optimizer

/// The optimizers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum.
    Sgd,
    /// Adam.
    Adam,
    /// Nonlinear conjugate gradient.
    Cg,
    /// Minibatch L-BFGS.
    Lbfgs,
}

impl OptimizerKind {
    /// `sgd`, `adam`, `cg` or `lbfgs`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Cg => "cg",
            OptimizerKind::Lbfgs => "lbfgs",
        }
    }
}

impl FromStr for OptimizerKind {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        parse_enum("--optimizer <OPTIMIZER>", s)
    }
}

/// Line searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineSearchKind {
    /// No search: the initial step.
    Fixed,
    /// Armijo backtracking.
    Armijo,
    /// Strong Wolfe (More-Thuente).
    Wolfe,
}

impl LineSearchKind {
    /// `fixed`, `armijo` or `wolfe`.
    pub fn name(self) -> &'static str {
        match self {
            LineSearchKind::Fixed => "fixed",
            LineSearchKind::Armijo => "armijo",
            LineSearchKind::Wolfe => "wolfe",
        }
    }
}

/// Curvature-pair modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CurvatureKind {
    /// y from the gradients of two consecutive batches.
    Naive,
    /// y from the gradients of the same batch (one extra gradient per step
    /// unless the line search computes it).
    SameBatch,
}

/// How L-BFGS stores its curvature pairs (`f32`, or 16 bits: `bf16`, `f16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairPrecisionKind {
    /// 32-bit floats (the default).
    F32,
    /// bfloat16: half the pairs' memory, the range of f32, 8 significant bits.
    Bf16,
    /// IEEE binary16: half the pairs' memory, 11 significant bits, values
    /// below 2^-14 lose precision and above 65504 overflow.
    F16,
}

impl PairPrecisionKind {
    /// The core's precision.
    pub fn core(self) -> PairPrecision {
        match self {
            PairPrecisionKind::F32 => PairPrecision::F32,
            PairPrecisionKind::Bf16 => PairPrecision::Bf16,
            PairPrecisionKind::F16 => PairPrecision::F16,
        }
    }
}

/// CG formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum CgFormulaKind {
    /// Fletcher-Reeves.
    #[serde(rename = "fr")]
    Fr,
    /// Polak-Ribiere+ (beta clipped at 0).
    #[value(name = "pr+", alias = "pr")]
    #[serde(rename = "pr+", alias = "pr")]
    PrPlus,
}

/// An optimizer and the hyperparameters written for it: an
/// `[[optimizer]]` configuration of a study, the optimizer flags of the
/// command line. Options of other optimizers may be set; they are errors
/// of [`OptimizerOptions::resolve`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerOptions {
    /// The optimizer (`name` in a study, `--optimizer` on the command line).
    pub name: OptimizerKind,
    /// `lr` (sgd, adam): step size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// `momentum` (sgd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,
    /// `nesterov` (sgd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    /// `weight_decay` (sgd, adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f32>,
    /// `beta1` (adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f32>,
    /// `beta2` (adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f32>,
    /// `epsilon` (adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f32>,
    /// `cg_formula` (cg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cg_formula: Option<CgFormulaKind>,
    /// `history` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
    /// `line_search` (cg, lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_search: Option<LineSearchKind>,
    /// `initial_step` (cg, lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_step: Option<f32>,
    /// `c1` (armijo, wolfe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c1: Option<f64>,
    /// `c2` (wolfe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c2: Option<f64>,
    /// `backtrack` (armijo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtrack: Option<f64>,
    /// `max_trials` (armijo, wolfe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_trials: Option<u32>,
    /// `curvature` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curvature: Option<CurvatureKind>,
    /// `inner_iterations` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_iterations: Option<u32>,
    /// `damping` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damping: Option<bool>,
    /// `curvature_eps` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curvature_eps: Option<f32>,
    /// `max_step` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_step: Option<f32>,
    /// `pair_precision` (lbfgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_precision: Option<PairPrecisionKind>,
}

use OptimizerKind::{Adam, Cg, Lbfgs, Sgd};

/// Each optimizer option's key, flag value name and owners (`&[]`: a
/// line-search option, owned by the line search).
const OPTIMIZER_KEYS: [(&str, &str, &[OptimizerKind]); 21] = [
    ("lr", "LR", &[Sgd, Adam]),
    ("momentum", "MU", &[Sgd]),
    ("nesterov", "", &[Sgd]),
    ("weight_decay", "WD", &[Sgd, Adam]),
    ("beta1", "B1", &[Adam]),
    ("beta2", "B2", &[Adam]),
    ("epsilon", "EPS", &[Adam]),
    ("cg_formula", "fr|pr+", &[Cg]),
    ("history", "M", &[Lbfgs]),
    ("line_search", "LINE_SEARCH", &[Cg, Lbfgs]),
    ("initial_step", "STEP", &[Cg, Lbfgs]),
    ("c1", "C1", &[]),
    ("c2", "C2", &[]),
    ("backtrack", "RHO", &[]),
    ("max_trials", "N", &[]),
    ("curvature", "CURVATURE", &[Lbfgs]),
    ("inner_iterations", "N", &[Lbfgs]),
    ("damping", "", &[Lbfgs]),
    ("curvature_eps", "EPS", &[Lbfgs]),
    ("max_step", "LENGTH", &[Lbfgs]),
    ("pair_precision", "PRECISION", &[Lbfgs]),
];

/// `--lr <LR>` for `lr` (`--damping` for a switch).
fn optimizer_flag(key: &str) -> String {
    match OPTIMIZER_KEYS.iter().find(|(k, _, _)| *k == key) {
        Some((_, "", _)) | None => flag_of(key),
        Some((_, name, _)) => format!("{} <{name}>", flag_of(key)),
    }
}

impl OptimizerOptions {
    /// The option keys of an `[[optimizer]]` table, but `name`, in flag
    /// order.
    pub const KEYS: &'static [&'static str] = &[
        "lr",
        "momentum",
        "nesterov",
        "weight_decay",
        "beta1",
        "beta2",
        "epsilon",
        "cg_formula",
        "history",
        "line_search",
        "initial_step",
        "c1",
        "c2",
        "backtrack",
        "max_trials",
        "curvature",
        "inner_iterations",
        "damping",
        "curvature_eps",
        "max_step",
        "pair_precision",
    ];

    /// `name` with nothing else written (every option at its default).
    pub fn new(name: OptimizerKind) -> OptimizerOptions {
        OptimizerOptions {
            name,
            lr: None,
            momentum: None,
            nesterov: None,
            weight_decay: None,
            beta1: None,
            beta2: None,
            epsilon: None,
            cg_formula: None,
            history: None,
            line_search: None,
            initial_step: None,
            c1: None,
            c2: None,
            backtrack: None,
            max_trials: None,
            curvature: None,
            inner_iterations: None,
            damping: None,
            curvature_eps: None,
            max_step: None,
            pair_precision: None,
        }
    }

    /// Sets `key` (one of [`Self::KEYS`]) from a TOML scalar (a string is
    /// read as the flag's value text); errors name the key, the value and
    /// what was expected. Whether the option belongs to the optimizer is
    /// checked by [`Self::resolve`].
    pub fn set(&mut self, key: &str, value: &toml::Value) -> Result<(), SpecError> {
        let flag = optimizer_flag(key);
        let text = text_of(&flag, value, false)?;
        let f32_ = || parse::<f32>(&flag, &text, "a number");
        let f64_ = || parse::<f64>(&flag, &text, "a number");
        let u32_ = || parse::<u32>(&flag, &text, "an integer >= 0");
        match key {
            "lr" => self.lr = Some(f32_()?),
            "momentum" => self.momentum = Some(f32_()?),
            "nesterov" => self.nesterov = Some(parse_bool(&flag, &text)?),
            "weight_decay" => self.weight_decay = Some(f32_()?),
            "beta1" => self.beta1 = Some(f32_()?),
            "beta2" => self.beta2 = Some(f32_()?),
            "epsilon" => self.epsilon = Some(f32_()?),
            "cg_formula" => self.cg_formula = Some(parse_enum(&flag, &text)?),
            "history" => self.history = Some(parse(&flag, &text, "an integer >= 0")?),
            "line_search" => self.line_search = Some(parse_enum(&flag, &text)?),
            "initial_step" => self.initial_step = Some(f32_()?),
            "c1" => self.c1 = Some(f64_()?),
            "c2" => self.c2 = Some(f64_()?),
            "backtrack" => self.backtrack = Some(f64_()?),
            "max_trials" => self.max_trials = Some(u32_()?),
            "curvature" => self.curvature = Some(parse_enum(&flag, &text)?),
            "inner_iterations" => self.inner_iterations = Some(u32_()?),
            "damping" => self.damping = Some(parse_bool(&flag, &text)?),
            "curvature_eps" => self.curvature_eps = Some(f32_()?),
            "max_step" => self.max_step = Some(f32_()?),
            "pair_precision" => self.pair_precision = Some(parse_enum(&flag, &text)?),
            _ => {
                return Err(SpecError::UnknownKey {
                    key: key.into(),
                    section: "optimizer",
                });
            }
        }
        Ok(())
    }

    /// Each option's key and, if written, its value's text, in
    /// [`Self::KEYS`] order.
    fn texts(&self) -> [(&'static str, Option<String>); 21] {
        let s = |v: Option<f32>| v.map(|v| v.to_string());
        let d = |v: Option<f64>| v.map(|v| v.to_string());
        let b = |v: Option<bool>| v.map(|v| v.to_string());
        [
            ("lr", s(self.lr)),
            ("momentum", s(self.momentum)),
            ("nesterov", b(self.nesterov)),
            ("weight_decay", s(self.weight_decay)),
            ("beta1", s(self.beta1)),
            ("beta2", s(self.beta2)),
            ("epsilon", s(self.epsilon)),
            ("cg_formula", self.cg_formula.as_ref().map(value_name)),
            ("history", self.history.map(|v| v.to_string())),
            ("line_search", self.line_search.as_ref().map(value_name)),
            ("initial_step", s(self.initial_step)),
            ("c1", d(self.c1)),
            ("c2", d(self.c2)),
            ("backtrack", d(self.backtrack)),
            ("max_trials", self.max_trials.map(|v| v.to_string())),
            ("curvature", self.curvature.as_ref().map(value_name)),
            (
                "inner_iterations",
                self.inner_iterations.map(|v| v.to_string()),
            ),
            ("damping", b(self.damping)),
            ("curvature_eps", s(self.curvature_eps)),
            ("max_step", s(self.max_step)),
            (
                "pair_precision",
                self.pair_precision.as_ref().map(value_name),
            ),
        ]
    }

    /// The options written (but `name`), each as its flag value's text.
    pub fn written(&self) -> BTreeMap<String, String> {
        self.texts()
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect()
    }

    /// Whether `key` is written.
    pub fn is_written(&self, key: &str) -> bool {
        self.texts().iter().any(|(k, v)| *k == key && v.is_some())
    }

    /// Whether `key` is a switch: a flag given without a value
    /// (`--damping`), a boolean in a study. (A test checks this against
    /// what [`Self::set`] accepts.)
    pub fn is_switch(key: &str) -> bool {
        OPTIMIZER_KEYS
            .iter()
            .any(|(k, value_name, _)| *k == key && value_name.is_empty())
    }

    /// A range error of the core as an [`SpecError::InvalidValue`] naming
    /// the option and the value written.
    fn invalid(&self, error: sooth_core::Error) -> SpecError {
        let texts = self.texts();
        let text = |key: &str| {
            texts
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_else(|| "(default)".into())
        };
        let sooth_core::Error::InvalidHyperparameter { name, expected } = error else {
            return SpecError::InvalidValue {
                flag: format!("--optimizer <{}>", self.name.name()),
                value: self.name.name().into(),
                expected: error.to_string(),
            };
        };
        let key = match name {
            "learning rate" => "lr",
            "momentum" => "momentum",
            "weight decay" => "weight_decay",
            "beta1" => "beta1",
            "beta2" => "beta2",
            "epsilon" => "epsilon",
            "history" => "history",
            "initial step" => "initial_step",
            "inner iterations" => "inner_iterations",
            "curvature guard" => "curvature_eps",
            "maximum step" => "max_step",
            "Armijo c1" => "c1",
            "backtracking factor" => "backtrack",
            "line search trials" => "max_trials",
            "Wolfe constants" => {
                return SpecError::InvalidValue {
                    flag: "--c1 <C1> / --c2 <C2>".into(),
                    value: format!("{}' / '{}", text("c1"), text("c2")),
                    expected: expected.into(),
                };
            }
            other => {
                return SpecError::InvalidValue {
                    flag: other.into(),
                    value: "(default)".into(),
                    expected: expected.into(),
                };
            }
        };
        SpecError::InvalidValue {
            flag: optimizer_flag(key),
            value: text(key),
            expected: expected.into(),
        }
    }

    /// The core's configuration: unwritten options take the core's
    /// defaults ([`SgdConfig::DEFAULT`], [`AdamConfig::DEFAULT`],
    /// [`CgConfig::DEFAULT`], [`LbfgsConfig::DEFAULT`], [`Armijo::DEFAULT`],
    /// [`StrongWolfe::DEFAULT`]). An option of another optimizer, a
    /// line-search option the line search does not use, or a value out of
    /// the core's range is an error.
    pub fn resolve(&self) -> Result<OptimizerConfig, SpecError> {
        let kind = self.name;
        let default_search = match kind {
            Cg => LineSearchKind::Armijo,
            _ => LineSearchKind::Wolfe,
        };
        let search = self.line_search.unwrap_or(default_search);
        let searches = matches!(kind, Cg | Lbfgs);
        for (key, text) in self.texts() {
            if text.is_none() {
                continue;
            }
            let owners = OPTIMIZER_KEYS
                .iter()
                .find(|(k, _, _)| *k == key)
                .map_or(&[][..], |(_, _, o)| *o);
            if !owners.is_empty() {
                if !owners.contains(&kind) {
                    return Err(SpecError::NotForOptimizer {
                        key: key.into(),
                        optimizer: kind,
                        owners: owners.to_vec(),
                    });
                }
                continue;
            }
            let applies = searches
                && match key {
                    "c1" | "max_trials" => search != LineSearchKind::Fixed,
                    "c2" => search == LineSearchKind::Wolfe,
                    _ => search == LineSearchKind::Armijo,
                };
            if !applies {
                return Err(SpecError::NotForLineSearch {
                    key: key.into(),
                    optimizer: kind,
                    line_search: searches.then_some(search),
                });
            }
        }
        let invalid = |e: sooth_core::Error| self.invalid(e);
        let armijo = Armijo::DEFAULT;
        let wolfe = StrongWolfe::DEFAULT;
        let line_search = match search {
            LineSearchKind::Fixed => LineSearch::Fixed,
            LineSearchKind::Armijo => LineSearch::Armijo(
                Armijo::new(
                    self.c1.unwrap_or(armijo.c1()),
                    self.backtrack.unwrap_or(armijo.shrink()),
                    self.max_trials.unwrap_or(armijo.max_trials()),
                )
                .map_err(invalid)?,
            ),
            LineSearchKind::Wolfe => LineSearch::StrongWolfe(
                StrongWolfe::new(
                    self.c1.unwrap_or(wolfe.c1()),
                    self.c2.unwrap_or(wolfe.c2()),
                    self.max_trials.unwrap_or(wolfe.max_trials()),
                )
                .map_err(invalid)?,
            ),
        };
        let config = match kind {
            Sgd => {
                let d = SgdConfig::DEFAULT;
                OptimizerConfig::Sgd(SgdConfig {
                    learning_rate: self.lr.unwrap_or(d.learning_rate),
                    momentum: self.momentum.unwrap_or(d.momentum),
                    nesterov: self.nesterov.unwrap_or(d.nesterov),
                    weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
                })
            }
            Adam => {
                let d = AdamConfig::DEFAULT;
                OptimizerConfig::Adam(AdamConfig {
                    learning_rate: self.lr.unwrap_or(d.learning_rate),
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    epsilon: self.epsilon.unwrap_or(d.epsilon),
                    weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
                })
            }
            Cg => {
                let d = CgConfig::DEFAULT;
                OptimizerConfig::Cg(CgConfig {
                    formula: match self.cg_formula {
                        None => d.formula,
                        Some(CgFormulaKind::Fr) => CgFormula::FletcherReeves,
                        Some(CgFormulaKind::PrPlus) => CgFormula::PolakRibierePlus,
                    },
                    line_search,
                    initial_step: self.initial_step.unwrap_or(d.initial_step),
                })
            }
            Lbfgs => {
                let d = LbfgsConfig::DEFAULT;
                OptimizerConfig::Lbfgs(LbfgsConfig {
                    history: self.history.unwrap_or(d.history),
                    line_search,
                    initial_step: self.initial_step.unwrap_or(d.initial_step),
                    mode: match self.curvature {
                        None => d.mode,
                        Some(CurvatureKind::Naive) => CurvatureMode::Naive,
                        Some(CurvatureKind::SameBatch) => CurvatureMode::SameBatch,
                    },
                    inner_iterations: self.inner_iterations.unwrap_or(d.inner_iterations),
                    curvature_eps: self.curvature_eps.unwrap_or(d.curvature_eps),
                    damping: self.damping.unwrap_or(d.damping),
                    grad_tolerance: d.grad_tolerance,
                    max_step: self.max_step.unwrap_or(d.max_step),
                    pair_precision: self
                        .pair_precision
                        .map_or(d.pair_precision, PairPrecisionKind::core),
                })
            }
        };
        // The core reads a maximum step of 0 as "no limit": written, it
        // would be silently ignored.
        if self.max_step == Some(0.0) {
            return Err(SpecError::InvalidValue {
                flag: optimizer_flag("max_step"),
                value: "0".into(),
                expected: "a length > 0 (leave the flag out for no limit)".into(),
            });
        }
        config.validate().map_err(invalid)?;
        Ok(config)
    }
}

/// `lbfgs (m 10, wolfe, same-batch)`-style description of an optimizer
/// configuration, for people (reports, summaries, study configurations).
pub fn describe_optimizer(c: &OptimizerConfig) -> String {
    let search = |l: &LineSearch| match l {
        LineSearch::Fixed => "fixed step".to_string(),
        LineSearch::Armijo(a) => format!("armijo c1 {}", a.c1()),
        LineSearch::StrongWolfe(w) => format!("wolfe c1 {} c2 {}", w.c1(), w.c2()),
    };
    match c {
        OptimizerConfig::Sgd(s) => format!(
            "sgd (lr {}, {} momentum {}{})",
            s.learning_rate,
            if s.nesterov { "nesterov" } else { "heavy-ball" },
            s.momentum,
            if s.weight_decay > 0.0 {
                format!(", weight decay {}", s.weight_decay)
            } else {
                String::new()
            }
        ),
        OptimizerConfig::Adam(a) => format!(
            "adam (lr {}, betas {} {}, eps {})",
            a.learning_rate, a.beta1, a.beta2, a.epsilon
        ),
        OptimizerConfig::Cg(g) => format!(
            "cg ({}, {}, initial step {})",
            match g.formula {
                CgFormula::FletcherReeves => "fletcher-reeves",
                CgFormula::PolakRibierePlus => "polak-ribiere+",
            },
            search(&g.line_search),
            g.initial_step
        ),
        OptimizerConfig::Lbfgs(l) => format!(
            "lbfgs (m {}, {}, {} pairs{}{}{}{})",
            l.history,
            search(&l.line_search),
            match l.mode {
                CurvatureMode::Naive => "naive",
                CurvatureMode::SameBatch => "same-batch",
            },
            if l.damping { ", damped" } else { "" },
            if l.inner_iterations > 1 {
                format!(", {} iterations per batch", l.inner_iterations)
            } else {
                String::new()
            },
            if l.max_step > 0.0 {
                format!(", max step {}", l.max_step)
            } else {
                String::new()
            },
            if l.pair_precision == PairPrecision::F32 {
                String::new()
            } else {
                format!(", pairs in {}", l.pair_precision.name())
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(o: &mut OptimizerOptions, key: &str, v: toml::Value) -> Result<(), SpecError> {
        o.set(key, &v)
    }

    #[test]
    fn data_options_without_effect_are_refused_by_name() {
        let message = |o: DataOptions| o.resolve().unwrap_err().to_string();
        let builtin = |o: DataOptions| DataOptions {
            dataset: Some("spirals:turns=2".into()),
            ..o
        };
        assert_eq!(
            message(builtin(DataOptions {
                header: Some(Header::Present),
                ..DataOptions::default()
            })),
            "the argument '--header' cannot be used with '--dataset spirals:turns=2' \
             (a built-in data set; it is for data files)"
        );
        // With the default data set (digits) too.
        assert!(
            message(DataOptions {
                width: Some(5),
                ..DataOptions::default()
            })
            .starts_with("the argument '--width' cannot be used with '--dataset digits'")
        );
        assert_eq!(
            message(DataOptions {
                dataset: Some("x.txt".into()),
                format: Some(Format::Libsvm),
                delimiter: Some(b';'),
                ..DataOptions::default()
            }),
            "the argument '--delimiter' cannot be used with '--format libsvm' (it is for CSV files)"
        );
        assert_eq!(
            message(DataOptions {
                dataset: Some("x.csv".into()),
                format: Some(Format::Csv),
                test_labels: Some("y".into()),
                ..DataOptions::default()
            }),
            "the argument '--test-labels' cannot be used with '--format csv' (it is for IDX files)"
        );
        // A file without an explicit format keeps every option (its format
        // is found when it is read).
        assert!(
            DataOptions {
                dataset: Some("x.csv".into()),
                header: Some(Header::Present),
                width: Some(3),
                ..DataOptions::default()
            }
            .resolve()
            .is_ok()
        );
    }

    #[test]
    fn switches_are_the_options_that_take_a_boolean() {
        let switches: Vec<&str> = OptimizerOptions::KEYS
            .iter()
            .copied()
            .filter(|k| OptimizerOptions::is_switch(k))
            .collect();
        assert_eq!(switches, ["nesterov", "damping"]);
        for &key in OptimizerOptions::KEYS {
            let mut o = OptimizerOptions::new(OptimizerKind::Lbfgs);
            let takes_bool = set(&mut o, key, toml::Value::Boolean(true)).is_ok();
            assert_eq!(takes_bool, OptimizerOptions::is_switch(key), "{key}");
        }
        assert!(!OptimizerOptions::is_switch("lr"));
        assert!(!OptimizerOptions::is_switch("no_such_key"));
    }

    #[test]
    fn defaults_are_the_core_defaults() {
        let r = |k| OptimizerOptions::new(k).resolve().unwrap();
        assert_eq!(r(Sgd), OptimizerConfig::Sgd(SgdConfig::DEFAULT));
        assert_eq!(r(Adam), OptimizerConfig::Adam(AdamConfig::DEFAULT));
        assert_eq!(r(Cg), OptimizerConfig::Cg(CgConfig::DEFAULT));
        assert_eq!(r(Lbfgs), OptimizerConfig::Lbfgs(LbfgsConfig::DEFAULT));
        // The values the command line always had.
        let OptimizerConfig::Sgd(s) = r(Sgd) else {
            panic!()
        };
        assert_eq!((s.learning_rate, s.momentum), (0.1, 0.9));
        let OptimizerConfig::Lbfgs(l) = r(Lbfgs) else {
            panic!()
        };
        assert_eq!(l.history, 10);
        let LineSearch::StrongWolfe(w) = l.line_search else {
            panic!()
        };
        assert_eq!((w.c1(), w.c2(), w.max_trials()), (1e-4, 0.9, 20));
        assert_eq!(
            (Armijo::DEFAULT.shrink(), Armijo::DEFAULT.max_trials()),
            (0.5, 30)
        );
    }

    #[test]
    fn strings_and_numbers_mean_the_same() {
        let mut a = OptimizerOptions::new(Sgd);
        let mut b = OptimizerOptions::new(Sgd);
        set(&mut a, "lr", toml::Value::Float(0.05)).unwrap();
        set(&mut b, "lr", toml::Value::String("0.05".into())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.lr, Some(0.05));
        assert_eq!(a.written()["lr"], "0.05");
    }

    #[test]
    fn errors_name_the_key_the_value_and_the_expectation() {
        let mut o = OptimizerOptions::new(Sgd);
        let e = set(&mut o, "lr", toml::Value::String("fast".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'fast' for '--lr <LR>': expected a number"
        );
        set(&mut o, "lr", toml::Value::Float(-1.0)).unwrap();
        assert_eq!(
            o.resolve().unwrap_err().to_string(),
            "invalid value '-1' for '--lr <LR>': expected a finite value > 0"
        );
        let mut o = OptimizerOptions::new(Sgd);
        set(&mut o, "history", toml::Value::Integer(5)).unwrap();
        assert_eq!(
            o.resolve().unwrap_err().to_string(),
            "the argument '--history' cannot be used with '--optimizer sgd' (it applies to lbfgs)"
        );
        let mut o = OptimizerOptions::new(Lbfgs);
        set(&mut o, "backtrack", toml::Value::Float(0.7)).unwrap();
        assert_eq!(
            o.resolve().unwrap_err().to_string(),
            "the argument '--backtrack' cannot be used with '--line-search wolfe'"
        );
        let mut o = OptimizerOptions::new(Adam);
        set(&mut o, "c1", toml::Value::Float(0.1)).unwrap();
        assert_eq!(
            o.resolve().unwrap_err().to_string(),
            "the argument '--c1' cannot be used with '--optimizer adam' (no line search)"
        );
        let e = OptimizerOptions::new(Sgd)
            .set("bogus", &toml::Value::Integer(1))
            .unwrap_err();
        assert!(e.to_string().contains("'--bogus'"), "{e}");
    }

    #[test]
    fn data_and_model_options_resolve_with_the_loader_defaults() {
        assert_eq!(
            DataOptions::default().resolve().unwrap(),
            DataSpec::default()
        );
        let mut d = DataOptions::default();
        d.set("scale", &toml::Value::String("weird".into()))
            .unwrap_err();
        d.set("test_fraction", &toml::Value::Float(0.3)).unwrap();
        let e = d.resolve().unwrap_err().to_string();
        assert_eq!(
            e,
            "the argument '--test-fraction' cannot be used with '--dataset digits' (it has a fixed test split)"
        );
        let mut m = ModelOptions::default();
        m.set(
            "hidden",
            &toml::Value::Array(vec![toml::Value::Integer(16), toml::Value::Integer(0)]),
        )
        .unwrap();
        assert_eq!(m.written()["hidden"], "16,0");
        assert_eq!(m.resolve().unwrap().hidden, vec![16]);
        m.set("l2", &toml::Value::Float(-1.0)).unwrap();
        assert!(m.resolve().unwrap_err().to_string().contains(">= 0"));
    }

    #[test]
    fn optimizer_options_read_and_write_toml() {
        let mut o = OptimizerOptions::new(Lbfgs);
        o.history = Some(5);
        o.curvature = Some(CurvatureKind::SameBatch);
        let text = toml::to_string(&o).unwrap();
        assert!(text.contains("curvature = \"same-batch\""), "{text}");
        let back: OptimizerOptions = toml::from_str(&text).unwrap();
        assert_eq!(back, o);
    }
}
