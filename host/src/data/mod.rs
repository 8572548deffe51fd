//! User data and built-in sets, turned into training and test [`Table`]s.
//!
//! One call does it all: [`load`] takes a [`DataSpec`] (what the command line
//! says) and returns a [`Loaded`] pair of tables, already split and scaled,
//! or a [`DataError`] that names the file, the place and what was expected.
//!
//! ```
//! use sooth::data::{load, DataSpec, Scaling};
//! let spec = DataSpec { scaling: Scaling::Standardize, ..DataSpec::new("blobs:classes=4") };
//! let data = load(&spec)?;
//! assert_eq!((data.train.len(), data.test.len()), (450, 150));
//! assert_eq!(data.train.classes, 4);
//! let train = data.train.dataset().unwrap(); // a sooth_core::SliceDataset
//! # let _ = train;
//! # Ok::<(), sooth::data::DataError>(())
//! ```
//!
//! # Data sets
//!
//! `DataSpec::dataset` is a built-in name or a path. A built-in name wins, so a
//! file called `digits` is read as `./digits`.
//!
//! | name | what |
//! |---|---|
//! | `digits` | 8x8 handwritten digits (UCI, as in scikit-learn), embedded in the binary: the fixed split of 1347 training / 450 test samples, 64 features `level / 16` (exact), 10 classes |
//! | `spirals[:samples=1000,noise=0.05,turns=1.5]` | two interleaved spirals of radius 1, 2 features, 2 classes, Gaussian noise |
//! | `blobs[:samples=600,classes=3,width=2,spread=1]` | one Gaussian cluster per class, centers uniform in `[-5, 5]^width` |
//!
//! The synthetic sets are generated from `seed` (xoshiro256++, libm math, so
//! the same on every platform) and split like a file without a test file.
//!
//! # File formats
//!
//! The format comes from `format` if given, else from the extension (after an
//! optional `.gz`): `.csv` is CSV; `.idx`, `.idx1`/`.idx3` and names ending in
//! `-ubyte` are IDX; `.svm`, `.libsvm`, `.svmlight` are LIBSVM. Other names
//! (`.txt`, `.dat`, none) are sniffed: two leading zero bytes mean IDX, a `:`
//! on the first data line means LIBSVM, anything else CSV. Any file that
//! starts with the gzip magic bytes is decompressed first, whatever its name.
//!
//! * **CSV** ([`parse_csv`]): one sample per line, the same number of cells on
//!   every line, separated by `delimiter` (`,`). `header`: `auto` (the first
//!   line is a header if one of its cells is not a number), `yes` or `no`.
//!   `label_column`: `first` (default), `last`, a column number counting from
//!   1, or a header name; the other columns are the features, in order.
//!   Quoted cells, CRLF, a UTF-8 BOM, spaces around cells and blank lines are
//!   fine; empty cells (missing values) are errors.
//! * **IDX** ([`parse_idx`], the MNIST format): an images file (N samples of
//!   any shape, flattened) and a labels file (N labels). The labels file is
//!   `labels_path` if given, else found by the MNIST naming: in the file name
//!   the last `images` becomes `labels` and `idx3` becomes `idx1`
//!   (`train-images-idx3-ubyte.gz` -> `train-labels-idx1-ubyte.gz`), with or
//!   without `.gz`. All IDX types are read (u8, i8, i16, i32, f32, f64); u8
//!   pixels stay 0..255, so use `min-max` scaling for MNIST.
//! * **LIBSVM / svmlight** ([`parse_libsvm`]): `label index:value ...` with
//!   indices from 1, strictly increasing along a line; unlisted features are
//!   0; `#` starts a comment; `qid:N` after the label is ignored. The width is
//!   `width` if given, else the largest index in the training and test files.
//!   (A `width` given for CSV or IDX is checked against the file.)
//!
//! # Labels, classes, split and scaling
//!
//! * Labels are class numbers: whole numbers `0..=65535` (`3`, `3.0` and `+3`
//!   are class 3); -1/+1 labels must be mapped first. A CSV label column
//!   whose first data row's label is not a number holds class names
//!   (`setosa`; UTF-8, one line each; the column never mixes names and
//!   numbers): the training file's names in sorted (byte) order are classes
//!   0, 1, ... ([`Loaded::class_names`]); a test file's names are numbered by
//!   them, and a name only the test file has is an error naming it. With
//!   `--header auto`, a first line whose only text cell is the label column
//!   (by position) is data. `LabelColumn::None` (no labels) is for
//!   [`read_samples`] only.
//! * `classes` is `classes` if given, else one more than the training part's
//!   largest label (all labels 0 is an error). A label at or beyond it is an
//!   error, in the training part (when given) and in the test part.
//! * The test part is `test_data` (same format options; IDX labels from
//!   `test_labels_path` or the naming rule) or else a stratified, seeded split
//!   of the file: `ceil(test_fraction * n)` rows, each class in proportion,
//!   every class keeping at least one training row (see [`stratified_split`]).
//!   `test_fraction` must be in (0, 1).
//! * `scaling` is fitted on the training part only and applied to both:
//!   `none`, `min-max` (training features in [0, 1]) or `standardize`
//!   (training mean 0, population sd 1). A constant training column becomes 0.
//!
//! The split's random stream is xoshiro256++ seeded with `seed` and jumped
//! once (the synthetic sets use the unjumped stream). Use a data seed of its
//! own, apart from the training seed, so that all runs of a study see the
//! same split.
//!
//! # Errors
//!
//! Every bad input is a [`DataError`] naming the file, the line (text; with
//! the column or field) or the byte offset (binary), and what was expected:
//!
//! ```text
//! train.csv: no such file
//! empty.csv: empty file; expected CSV lines of a label and features
//! train.csv:12: row has 64 cells, expected 65 (like line 1)
//! abc.csv:2: column 3: "abc" is not a number; expected a number like 0.5, -3 or 1e-3
//! nan.csv:2: column 2: "NaN" is not a finite number; features must be finite (no NaN or infinity)
//! neg.csv:2: column 1: label "-1": negative; labels are class numbers 0, 1, 2, ... (for -1/+1 labels, map -1 to 0 first)
//! test.csv:2: column 1: label 12 is beyond the 2 classes of the training data (labels 0 to 1)
//! a.svm:5: field 3: "3:0.5": index 3 after index 7; indices must increase along a line
//! b.svm:2: field 2: "0:1": index 0; feature indices count from 1
//! png-images-idx3-ubyte: byte 0: wrong magic number 0x89504E47; an IDX file starts with two zero bytes, the type and the number of dimensions (0x00000803 for MNIST images, 0x00000801 for labels)
//! x-labels-idx1-ubyte: byte 4: 599 labels, but the images file x-images-idx3-ubyte has 600 samples; expected one label per sample
//! y-images-idx3-ubyte.gz: byte 156816 of the decompressed data: data ends early: the header says 600 x 28 x 28 values of type unsigned byte (470400 bytes after the 16-byte header), but there are 156800 (truncated file?)
//! bad.csv.gz: byte 36: corrupt gzip data (corrupt gzip stream does not have a matching checksum); expected a valid gzip stream
//! ```
//!
//! Nothing here panics on any input: the readers work on bytes
//! (`parse_*(bytes, name, options)`), are property-tested and fuzzed
//! (`fuzz/`, `scripts/fuzz.sh`).

mod builtin;
mod csv;
mod error;
mod gzip;
mod idx;
mod libsvm;
mod scale;
mod split;
mod table;
mod values;

pub use builtin::{
    BUILT_IN, Blobs, DIGITS_TEST, DIGITS_TRAIN, DIGITS_WIDTH, Spirals, blobs, digits, digits_raw,
    spirals,
};
pub use csv::{CsvOptions, Header, LabelColumn, parse_csv, write_csv};
pub use error::{DataError, Place};
pub use gzip::{MAX_DECOMPRESSED, gunzip_if_gzip, is_gzip};
pub use idx::{IdxType, labels_path_for, parse_idx, write_idx};
pub use libsvm::{DEFAULT_MAX_VALUES, LibsvmOptions, parse_libsvm, write_libsvm};
pub use scale::{Scaler, Scaling};
pub use split::{SplitError, stratified_split};
pub use table::{Parsed, Table};
pub use values::MAX_LABEL;

use builtin::{BuiltIn, parse_builtin};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use table::Origin;

/// A data file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// IDX images + labels (MNIST).
    Idx,
    /// LIBSVM / svmlight sparse text.
    Libsvm,
}

impl FromStr for Format {
    type Err = DataError;
    /// `csv`, `idx`, `libsvm` (or `svmlight`, `svm`); anything else is an
    /// options error ([`DataError::options`]).
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "idx" | "mnist" => Ok(Format::Idx),
            "libsvm" | "svmlight" | "svm" => Ok(Format::Libsvm),
            _ => Err(DataError::options(format!(
                "unknown format {s:?}; expected csv, idx or libsvm"
            ))),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::Idx => "IDX",
            Format::Libsvm => "LIBSVM",
        })
    }
}

impl Format {
    /// The format a file name implies, if any (a trailing `.gz` is ignored).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let extension = name.rsplit_once('.').map(|(_, e)| e);
        if name.ends_with("-ubyte") {
            return Some(Format::Idx);
        }
        match extension? {
            "csv" => Some(Format::Csv),
            "idx" | "idx1" | "idx2" | "idx3" | "idx4" => Some(Format::Idx),
            "svm" | "libsvm" | "svmlight" => Some(Format::Libsvm),
            _ => None,
        }
    }

    /// Guesses the format of (decompressed) contents: two leading zero bytes
    /// are IDX, a `:` on the first data line is LIBSVM, else CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        if bytes.starts_with(&[0, 0]) {
            return Format::Idx;
        }
        let first = bytes
            .split(|&b| b == b'\n')
            .map(|line| line.split(|&b| b == b'#').next().unwrap_or(&[]))
            .find(|line| line.iter().any(|b| !b.is_ascii_whitespace()));
        match first {
            Some(line) if line.contains(&b':') => Format::Libsvm,
            _ => Format::Csv,
        }
    }
}

/// What data to load and how: the data options of the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// A built-in set (`digits`, `spirals[:...]`, `blobs[:...]`) or a path.
    pub dataset: String,
    /// The file format; `None` decides from the extension or the contents.
    pub format: Option<Format>,
    /// A separate test file; `None` splits the data set.
    pub test_data: Option<PathBuf>,
    /// The labels file of IDX training images; `None` uses the MNIST naming.
    pub labels_path: Option<PathBuf>,
    /// The labels file of IDX test images; `None` uses the MNIST naming.
    pub test_labels_path: Option<PathBuf>,
    /// CSV: is the first line a header.
    pub header: Header,
    /// CSV: which column is the label.
    pub label_column: LabelColumn,
    /// CSV: the cell separator.
    pub delimiter: u8,
    /// The number of features: LIBSVM files are read with this width, other
    /// files must have it; `None` infers it.
    pub width: Option<usize>,
    /// Number of classes; `None` uses the training part's largest label + 1.
    pub classes: Option<usize>,
    /// Feature scaling, fitted on the training part.
    pub scaling: Scaling,
    /// Share of samples held out for testing when there is no test file.
    pub test_fraction: f64,
    /// Share of the training part held out for validation (stratified,
    /// after the test split, with the same seeded stream); 0 for none.
    pub validation_fraction: f64,
    /// Seed of the split and of the synthetic sets.
    pub seed: u64,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            dataset: "digits".into(),
            format: None,
            test_data: None,
            labels_path: None,
            test_labels_path: None,
            header: Header::Auto,
            label_column: LabelColumn::First,
            delimiter: b',',
            width: None,
            classes: None,
            scaling: Scaling::None,
            test_fraction: 0.25,
            validation_fraction: 0.0,
            seed: 0,
        }
    }
}

impl DataSpec {
    /// The defaults for `dataset`.
    pub fn new(dataset: impl Into<String>) -> DataSpec {
        DataSpec {
            dataset: dataset.into(),
            ..DataSpec::default()
        }
    }

    /// The files [`load`] reads for this spec, in a fixed order: the data
    /// set (none for a built-in set), its IDX labels file (given, or by the
    /// MNIST naming if that file exists), the test file and its labels file.
    pub fn files(&self) -> Vec<PathBuf> {
        if parse_builtin(&self.dataset).is_some() {
            return Vec::new();
        }
        let idx = |path: &Path| {
            self.format == Some(Format::Idx)
                || (self.format.is_none() && Format::from_path(path) == Some(Format::Idx))
        };
        let with_labels = |data: &Path, labels: &Option<PathBuf>| {
            let labels = labels
                .clone()
                .or_else(|| labels_path_for(data).filter(|l| idx(data) && l.is_file()));
            std::iter::once(data.to_path_buf()).chain(labels)
        };
        let mut files: Vec<PathBuf> =
            with_labels(Path::new(&self.dataset), &self.labels_path).collect();
        if let Some(test) = &self.test_data {
            files.extend(with_labels(test, &self.test_labels_path));
        }
        files
    }

    fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            header: self.header,
            label_column: self.label_column.clone(),
            delimiter: self.delimiter,
        }
    }
}

/// Training and test tables, ready for the core.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Short name: the built-in name, or the file name.
    pub name: String,
    /// The training part (scaled).
    pub train: Table,
    /// The test part (scaled with the training part's scaler).
    pub test: Table,
    /// The validation part, taken from the training data when
    /// [`DataSpec::validation_fraction`] is above 0 (scaled with the
    /// training part's scaler, which it does not take part in).
    pub validation: Option<Table>,
    /// One line for people: source, format, sizes, split and scaling.
    pub description: String,
    /// Which rows of the data went to which part.
    pub rows: PartRows,
    /// The fitted scaling (to apply to new data the same way).
    pub scaler: Scaler,
    /// The names of the classes in label order, if the training file names
    /// them (a CSV label column of names); empty for class numbers.
    pub class_names: Vec<String>,
}

/// The rows (from 0, in the data file or built-in set) of each part of a
/// [`Loaded`]: what `sooth eval` compares with a saved model's split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartRows {
    /// Rows of the training part.
    pub train: Vec<usize>,
    /// Rows of the validation part.
    pub validation: Vec<usize>,
    /// Rows of the test part: of the data itself when `test_from_data`,
    /// else of the test file (or the built-in test set).
    pub test: Vec<usize>,
    /// Whether the test part was split off the data (no test file).
    pub test_from_data: bool,
}

/// Whether `name` names a built-in data set (`digits`, `spirals:...`,
/// `blobs:...`) rather than a file.
pub fn is_builtin(name: &str) -> bool {
    parse_builtin(name).is_some()
}

/// Loads, checks, splits and scales the data `spec` describes.
pub fn load(spec: &DataSpec) -> Result<Loaded, DataError> {
    if let Some(classes) = spec.classes
        && !(2..=usize::from(MAX_LABEL) + 1).contains(&classes)
    {
        return Err(DataError::options(format!(
            "{classes} classes; expected 2 to {}",
            usize::from(MAX_LABEL) + 1
        )));
    }
    if spec.width == Some(0) {
        return Err(DataError::options("width 0; expected at least 1 feature"));
    }
    if spec.label_column == LabelColumn::None {
        return Err(DataError::options(
            "label column none: training and evaluation need labels; a file without labels \
             can only be predicted (sooth predict)",
        ));
    }
    let loaded = match parse_builtin(&spec.dataset) {
        Some(builtin) => load_builtin(builtin?, spec)?,
        None => load_files(spec)?,
    };
    refuse_one_class(&loaded)?;
    Ok(loaded)
}

/// The samples of one data file as they are, in file order, for
/// prediction: no split, no scaling, no class checks; the labels as read
/// (all 0 with [`LabelColumn::None`]). Test-file options are ignored; a
/// built-in set is an options error.
pub fn read_samples(spec: &DataSpec) -> Result<Parsed, DataError> {
    if is_builtin(&spec.dataset) {
        return Err(DataError::options(format!(
            "{} is a built-in data set; expected a data file (CSV, IDX or LIBSVM)",
            spec.dataset
        )));
    }
    if spec.width == Some(0) {
        return Err(DataError::options("width 0; expected at least 1 feature"));
    }
    let (parsed, _) = read_file(Path::new(&spec.dataset), spec.labels_path.as_deref(), spec)?;
    Ok(parsed)
}

/// Training data with a single class is refused: any model scores 100% on
/// it, which says nothing.
fn refuse_one_class(loaded: &Loaded) -> Result<(), DataError> {
    let labels = &loaded.train.labels;
    match labels.first() {
        Some(&first) if labels.iter().all(|&l| l == first) => Err(DataError::at(
            &loaded.name,
            Place::Whole,
            format!(
                "every training sample has class {first}; expected at least 2 classes to learn \
                 to tell apart"
            ),
        )),
        _ => Ok(()),
    }
}

fn check_fraction(spec: &DataSpec) -> Result<(), DataError> {
    if spec.test_fraction > 0.0 && spec.test_fraction < 1.0 {
        Ok(())
    } else {
        Err(DataError::options(format!(
            "test fraction {}; expected a number between 0 and 1 (exclusive), e.g. 0.25",
            spec.test_fraction
        )))
    }
}

/// The generator of the synthetic sets and the one of the split.
fn streams(seed: u64) -> (Xoshiro256PlusPlus, Xoshiro256PlusPlus) {
    let generate = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut split = generate.clone();
    split.jump();
    (generate, split)
}

fn load_builtin(builtin: BuiltIn, spec: &DataSpec) -> Result<Loaded, DataError> {
    let name = spec.dataset.clone();
    if spec.test_data.is_some() || spec.labels_path.is_some() || spec.test_labels_path.is_some() {
        return Err(DataError::options(format!(
            "{name} is a built-in data set; test data and labels files are for data files"
        )));
    }
    let generated = |table: Table| Parsed::new(table, Origin::Generated { name: name.clone() });
    let (mut generate, mut split) = streams(spec.seed);
    let (train, test, what) = match builtin {
        BuiltIn::Digits => {
            let (train, test) = digits();
            let what = "built-in 8x8 handwritten digits, fixed split".to_owned();
            (
                generated(train),
                Some((generated(test), "fixed test part".to_owned())),
                what,
            )
        }
        BuiltIn::Spirals(params) => {
            check_fraction(spec)?;
            let what = format!(
                "built-in two spirals, {} turns, noise {}, seed {}",
                params.turns, params.noise, spec.seed
            );
            (generated(spirals(&params, &mut generate)), None, what)
        }
        BuiltIn::Blobs(params) => {
            check_fraction(spec)?;
            let what = format!(
                "built-in Gaussian blobs, spread {}, seed {}",
                params.spread, spec.seed
            );
            (generated(blobs(&params, &mut generate)), None, what)
        }
    };
    finish(name, what, train, test, spec, &mut split)
}

fn load_files(spec: &DataSpec) -> Result<Loaded, DataError> {
    let path = Path::new(&spec.dataset);
    let name = path.file_name().map_or_else(
        || spec.dataset.clone(),
        |n| n.to_string_lossy().into_owned(),
    );
    if spec.test_data.is_none() {
        check_fraction(spec)?;
    }
    let (mut train, format) = read_file(path, spec.labels_path.as_deref(), spec)?;
    let mut test = match &spec.test_data {
        Some(test_path) => Some(read_file(
            test_path,
            spec.test_labels_path.as_deref(),
            spec,
        )?),
        None => None,
    };
    if let Some((test, test_format)) = &mut test
        && format == Format::Libsvm
        && *test_format == Format::Libsvm
        && spec.width.is_none()
    {
        let width = train.table.width.max(test.table.width);
        train.table.widen(width);
        test.table.widen(width);
    }
    let mut what = format!("{format}");
    if format == Format::Csv {
        what.push_str(&format!(", label column {}", spec.label_column));
    }
    let test = test.map(|(test, _)| {
        let how = format!("test file {}", test.file());
        (test, how)
    });
    let (_, mut split) = streams(spec.seed);
    finish(name, what, train, test, spec, &mut split)
}

/// Reads one data file (with its labels file for IDX) in the format given
/// or detected.
fn read_file(
    path: &Path,
    labels_path: Option<&Path>,
    spec: &DataSpec,
) -> Result<(Parsed, Format), DataError> {
    let name = path.display().to_string();
    let raw = read_bytes(path)?;
    let (bytes, gzipped) = gunzip_if_gzip(&raw, &name)?;
    let format = spec
        .format
        .or_else(|| Format::from_path(path))
        .unwrap_or_else(|| Format::sniff(&bytes));
    if format != Format::Idx && labels_path.is_some() {
        return Err(DataError::options(format!(
            "a labels file was given for {name}, but it is {format}, not IDX; \
             only IDX keeps labels in a separate file"
        )));
    }
    let parsed = match format {
        Format::Csv => csv::parse_csv_plain(&bytes, &name, &spec.csv_options())?,
        Format::Libsvm => {
            let options = LibsvmOptions {
                width: spec.width,
                ..LibsvmOptions::default()
            };
            libsvm::parse_libsvm_plain(&bytes, &name, &options)?
        }
        Format::Idx => {
            let labels_path = match labels_path {
                Some(p) => p.to_path_buf(),
                None => find_idx_labels(path)?,
            };
            let labels_name = labels_path.display().to_string();
            let labels_raw = read_bytes(&labels_path)?;
            let (labels, labels_gz) = gunzip_if_gzip(&labels_raw, &labels_name)?;
            idx::parse_idx_plain(&bytes, &name, gzipped, &labels, &labels_name, labels_gz)?
        }
    };
    if let Some(width) = spec.width
        && parsed.table.width != width
    {
        return Err(parsed.row_error(
            0,
            format!(
                "{} features per sample, but a width of {width} was given",
                parsed.table.width
            ),
        ));
    }
    Ok((parsed, format))
}

/// The labels file of IDX images by the MNIST naming, with or without `.gz`.
fn find_idx_labels(images: &Path) -> Result<PathBuf, DataError> {
    let name = images.display().to_string();
    let Some(labels) = labels_path_for(images) else {
        return Err(DataError::at(
            &name,
            Place::Whole,
            "cannot tell where the labels are: the name has no \"images\" to turn into \
             \"labels\" (MNIST naming); give the labels file",
        ));
    };
    if labels.exists() {
        return Ok(labels);
    }
    let text = labels.to_string_lossy();
    let other = match text.strip_suffix(".gz") {
        Some(plain) => PathBuf::from(plain),
        None => PathBuf::from(format!("{text}.gz")),
    };
    if other.exists() {
        return Ok(other);
    }
    Err(DataError::at(
        &labels.display().to_string(),
        Place::Whole,
        format!(
            "no such file (the labels file for {name} by the MNIST naming, also tried {}); \
             give the labels file",
            other.display()
        ),
    ))
}

/// The whole contents of a file, or an error for people.
fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|error| {
        DataError::at(
            &path.display().to_string(),
            Place::Whole,
            read_error(&error, "a data file"),
        )
    })
}

/// Why a file could not be read, for people: `no such file`, `is a
/// directory, expected <what>`, ...
pub fn read_error(error: &std::io::Error, what: &str) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::IsADirectory => format!("is a directory, expected {what}"),
        _ => format!("cannot read: {error}"),
    }
}

/// Decides the classes, checks labels and widths, splits and scales.
fn finish<R: rand_core::Rng>(
    name: String,
    what: String,
    train: Parsed,
    test: Option<(Parsed, String)>,
    spec: &DataSpec,
    split_rng: &mut R,
) -> Result<Loaded, DataError> {
    let class_names = train.class_names().to_vec();
    if let Some((test, _)) = &test {
        number_test_classes(&train, test)?;
    }
    let test = match test {
        Some((test, how)) if !class_names.is_empty() => Some((renumber(test, &class_names), how)),
        other => other,
    };
    if let Some(classes) = spec.classes
        && !class_names.is_empty()
        && classes != class_names.len()
    {
        return Err(DataError::options(format!(
            "{classes} classes given, but the training file {} names {} classes ({}); \
             leave out the number of classes",
            train.file(),
            class_names.len(),
            shown_names(&class_names)
        )));
    }
    let classes = match spec.classes {
        Some(classes) => classes,
        None => train.table.label_span().max(2),
    };
    if spec.classes.is_none() && train.table.label_span() < 2 {
        return Err(train.file_error(
            "every training label is 0; expected at least 2 classes (or give the number of classes)"
                .into(),
        ));
    }
    check_labels(&train, classes, true)?;
    let test_from_data = test.is_none();
    let (mut train, mut test, how) = match test {
        Some((mut test, how)) => {
            if test.table.width != train.table.width {
                return Err(test.row_error(
                    0,
                    format!(
                        "test data has {} features per sample, but the training data {} has {}",
                        test.table.width,
                        train.file(),
                        train.table.width
                    ),
                ));
            }
            check_labels(&test, classes, spec.classes.is_some())?;
            test.table.classes = classes;
            (train, test, how)
        }
        None => {
            let (train_rows, test_rows) =
                stratified_split(&train.table.labels, spec.test_fraction, split_rng)
                    .map_err(|why| train.file_error(why.to_string()))?;
            if test_rows.is_empty() {
                return Err(train.file_error(format!(
                    "test fraction {} of {} samples leaves no test samples; expected a larger \
                     fraction or more samples per class",
                    spec.test_fraction,
                    train.table.len()
                )));
            }
            let how = format!(
                "stratified split, test fraction {}, seed {}",
                spec.test_fraction, spec.seed
            );
            (train.select(&train_rows), train.select(&test_rows), how)
        }
    };
    let mut validation = None;
    let mut how = how;
    if spec.validation_fraction > 0.0 {
        let (train_rows, validation_rows) =
            stratified_split(&train.table.labels, spec.validation_fraction, split_rng)
                .map_err(|why| train.file_error(why.to_string()))?;
        if validation_rows.is_empty() {
            return Err(train.file_error(format!(
                "validation fraction {} of {} training samples leaves no validation samples; \
                 expected a larger fraction or more samples per class",
                spec.validation_fraction,
                train.table.len()
            )));
        }
        how = format!(
            "{how}; validation fraction {} of the training part",
            spec.validation_fraction
        );
        validation = Some(train.select(&validation_rows));
        train = train.select(&train_rows);
    }
    train.table.classes = classes;
    test.table.classes = classes;
    if let Some(v) = &mut validation {
        v.table.classes = classes;
    }
    let scaler = Scaler::fit(spec.scaling, &train.table);
    for part in std::iter::once(&mut train)
        .chain(std::iter::once(&mut test))
        .chain(validation.as_mut())
    {
        scaler.apply(&mut part.table).map_err(|(row, column, x)| {
            part.feature_error(
                row,
                column,
                format!(
                    "value {} is not finite in f32 after {} scaling fitted on the training part \
                     (offset {}, divisor {})",
                    values::show(x),
                    spec.scaling,
                    values::show(scaler.offset[column]),
                    values::show(scaler.divisor[column])
                ),
            )
        })?;
    }
    let rows = PartRows {
        train: train.row_numbers().to_vec(),
        validation: validation
            .as_ref()
            .map_or(Vec::new(), |v| v.row_numbers().to_vec()),
        test: test.row_numbers().to_vec(),
        test_from_data,
    };
    let validation_count = validation.as_ref().map_or(String::new(), |v| {
        format!(" / {} validation", v.table.len())
    });
    let description = format!(
        "{name} ({what}): {} training{validation_count} / {} test samples ({how}), {} features, \
         {classes} classes, scaling {}",
        train.table.len(),
        test.table.len(),
        train.table.width,
        spec.scaling
    );
    Ok(Loaded {
        name,
        train: train.table,
        test: test.table,
        validation: validation.map(|v| v.table),
        description,
        rows,
        scaler,
        class_names,
    })
}

/// Renumbers the classes of `data` to `names` (a model's class names, in
/// its class order): a file's own numbering follows the names it has, so
/// a file without some class numbers the others differently. Without
/// `names` (a model trained on class numbers) the data must have class
/// numbers too; with them, data with class numbers is taken as numbered
/// in the model's order. A name the model does not have is an error
/// naming it.
pub fn renumber_classes(data: &mut Loaded, names: &[String]) -> Result<(), DataError> {
    if data.class_names.is_empty() {
        return Ok(());
    }
    if names.is_empty() {
        return Err(DataError::at(
            &data.name,
            Place::Whole,
            format!(
                "the data names its classes ({}), but the model was trained on class numbers; \
                 expected class numbers",
                shown_names(&data.class_names)
            ),
        ));
    }
    let mut map = Vec::with_capacity(data.class_names.len());
    for name in &data.class_names {
        match names.iter().position(|n| n == name) {
            Some(k) => map.push(k as u16),
            None => {
                return Err(DataError::at(
                    &data.name,
                    Place::Whole,
                    format!(
                        "class {name:?} is not one of the model's classes ({})",
                        shown_names(names)
                    ),
                ));
            }
        }
    }
    for table in [&mut data.train, &mut data.test] {
        for label in &mut table.labels {
            *label = map.get(usize::from(*label)).copied().unwrap_or(*label);
        }
        table.classes = names.len();
    }
    data.class_names = names.to_vec();
    Ok(())
}

/// Up to 10 class names, quoted and comma-separated, for messages.
fn shown_names(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("{n:?}")).collect();
    let more = if names.len() > 10 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// A test file must label its samples as the training file does: both with
/// class numbers, or both with class names, every test name one of the
/// training file's (the error names the test file, line and name).
fn number_test_classes(train: &Parsed, test: &Parsed) -> Result<(), DataError> {
    let (names, test_names) = (train.class_names(), test.class_names());
    match (names.is_empty(), test_names.is_empty()) {
        (true, true) => Ok(()),
        (true, false) => Err(test.label_error(
            0,
            format!(
                "label {:?} is a class name, but the training file {} has class numbers; \
                 expected class numbers",
                test.table
                    .labels
                    .first()
                    .map_or("", |&l| &test_names[usize::from(l)]),
                train.file()
            ),
        )),
        (false, true) => Err(test.label_error(
            0,
            format!(
                "label {} is a class number, but the training file {} names its classes ({}); \
                 expected one of those names",
                test.table.labels.first().copied().unwrap_or(0),
                train.file(),
                shown_names(names)
            ),
        )),
        (false, false) => {
            for (row, &label) in test.table.labels.iter().enumerate() {
                let name = &test_names[usize::from(label)];
                if names.binary_search(name).is_err() {
                    return Err(test.label_error(
                        row,
                        format!(
                            "class {name:?} is not in the training file {} (its classes: {})",
                            train.file(),
                            shown_names(names)
                        ),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// `test` with its labels renumbered to `names` (the training file's; every
/// test name is one of them, see [`number_test_classes`]).
fn renumber(mut test: Parsed, names: &[String]) -> Parsed {
    let own = test.class_names().to_vec();
    for label in &mut test.table.labels {
        let name = &own[usize::from(*label)];
        *label = names.binary_search(name).unwrap_or(0) as u16;
    }
    test.with_class_names(names.to_vec())
}

/// Every label of `part` must be below `classes` (`given` by the user, or
/// else found in the training part).
fn check_labels(part: &Parsed, classes: usize, given: bool) -> Result<(), DataError> {
    match part
        .table
        .labels
        .iter()
        .position(|&l| usize::from(l) >= classes)
    {
        None => Ok(()),
        Some(row) => {
            let label = part.table.labels[row];
            let message = if given {
                format!(
                    "label {label} is not below the {classes} classes given (labels 0 to {})",
                    classes - 1
                )
            } else {
                format!(
                    "label {label} is beyond the {classes} classes of the training data (labels 0 to {})",
                    classes - 1
                )
            };
            Err(part.label_error(row, message))
        }
    }
}
