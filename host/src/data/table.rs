//! In-memory training tables, and where each of their rows came from.

use super::error::{DataError, Place};
use sooth_core::SliceDataset;

/// Labelled samples as f32 rows in memory: row `i` is
/// `features[i * width..(i + 1) * width]`, its label `labels[i]`.
///
/// Tables made by this module's readers hold finite features only and labels
/// below `classes`, with `classes >= 2` once [`load`](super::load) is done.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Features, row-major, `labels.len() * width` values.
    pub features: Vec<f32>,
    /// One label per row.
    pub labels: Vec<u16>,
    /// Features per row.
    pub width: usize,
    /// Number of classes; labels are `0..classes`.
    pub classes: usize,
}

impl Table {
    /// Number of rows (samples).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of row `index`, or `None` past the end.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        let start = index.checked_mul(self.width)?;
        self.features.get(start..start.checked_add(self.width)?)
    }

    /// How many rows each class has: `classes` counts (labels at or beyond
    /// `classes` are not counted).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &label in &self.labels {
            if let Some(count) = counts.get_mut(usize::from(label)) {
                *count += 1;
            }
        }
        counts
    }

    /// The table as the core's data set; fails (with the core's error) only
    /// if the fields were changed into an inconsistent state.
    pub fn dataset(&self) -> Result<SliceDataset<'_, u16>, sooth_core::Error> {
        SliceDataset::new(&self.features, &self.labels, self.width, self.classes)
    }

    /// The rows at `indices`, in that order.
    pub(crate) fn select(&self, indices: &[usize]) -> Table {
        let mut features = Vec::with_capacity(indices.len() * self.width);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            features.extend_from_slice(&self.features[i * self.width..(i + 1) * self.width]);
            labels.push(self.labels[i]);
        }
        Table {
            features,
            labels,
            width: self.width,
            classes: self.classes,
        }
    }

    /// Pads every row with zero features up to `width` (no-op if not wider).
    pub(crate) fn widen(&mut self, width: usize) {
        if width <= self.width {
            return;
        }
        let mut features = Vec::with_capacity(self.len() * width);
        for row in self.features.chunks_exact(self.width.max(1)) {
            features.extend_from_slice(row);
            features.resize(features.len() + (width - self.width), 0.0);
        }
        if self.width == 0 {
            features = vec![0.0; self.len() * width];
        }
        self.features = features;
        self.width = width;
    }

    /// Largest label + 1 (0 for an empty table).
    pub(crate) fn label_span(&self) -> usize {
        self.labels
            .iter()
            .map(|&l| usize::from(l) + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Where the rows of a [`Parsed`] table are in their file(s).
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// A CSV file: row `r` is on line `lines[r]`; the label is in cell
    /// `label_column` (1-based; 0: none) and features fill the other cells in order.
    Csv {
        file: String,
        lines: Vec<usize>,
        label_column: usize,
    },
    /// A LIBSVM file: row `r` is on line `lines[r]`, its label is field 1.
    Libsvm { file: String, lines: Vec<usize> },
    /// An IDX pair: row `r` starts at byte `images_data + r * row_bytes` of
    /// the images file, its label at `labels_data + r * label_bytes`.
    Idx {
        images: String,
        labels: String,
        images_data: u64,
        value_bytes: u64,
        labels_data: u64,
        label_bytes: u64,
        images_gzipped: bool,
        labels_gzipped: bool,
    },
    /// Generated data: rows are samples.
    Generated { name: String },
}

/// A table just read from a file, with what is needed to name the file and
/// line (or byte) of any row in later checks.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The samples read.
    pub table: Table,
    origin: Origin,
    /// Row `i` of `table` is row `rows[i]` of the file.
    rows: Vec<usize>,
    /// The names of the classes, in label order, if the file names them.
    class_names: Vec<String>,
}

impl Parsed {
    pub(crate) fn new(table: Table, origin: Origin) -> Parsed {
        let rows = (0..table.len()).collect();
        Parsed {
            table,
            origin,
            rows,
            class_names: Vec::new(),
        }
    }

    /// The same rows, their labels numbering `names` (sorted, one per class).
    pub(crate) fn with_class_names(mut self, names: Vec<String>) -> Parsed {
        self.class_names = names;
        self
    }

    /// The names of the classes in label order (a CSV label column of
    /// names, sorted); empty if the labels are class numbers.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The file the rows came from (the images file for IDX).
    pub fn file(&self) -> &str {
        match &self.origin {
            Origin::Csv { file, .. } | Origin::Libsvm { file, .. } => file,
            Origin::Idx { images, .. } => images,
            Origin::Generated { name } => name,
        }
    }

    /// Row `i` of the table is row `row_numbers()[i]` of its file (from 0).
    pub(crate) fn row_numbers(&self) -> &[usize] {
        &self.rows
    }

    /// The rows at `indices` (indices into this table), keeping their origin.
    pub(crate) fn select(&self, indices: &[usize]) -> Parsed {
        Parsed {
            table: self.table.select(indices),
            origin: self.origin.clone(),
            rows: indices.iter().map(|&i| self.rows[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }

    /// An error about feature `column` (0-based, among the features) of row `row`.
    pub(crate) fn feature_error(&self, row: usize, column: usize, message: String) -> DataError {
        let r = self.rows[row];
        match &self.origin {
            Origin::Csv {
                file,
                lines,
                label_column,
            } => {
                let cell = if *label_column == 0 || column + 1 < *label_column {
                    column + 1
                } else {
                    column + 2
                };
                let place = Place::Cell {
                    line: lines[r],
                    column: cell,
                };
                DataError::at(file, place, message)
            }
            Origin::Libsvm { file, lines } => DataError::at(
                file,
                Place::Line(lines[r]),
                format!("feature {}: {message}", column + 1),
            ),
            Origin::Idx {
                images,
                images_data,
                value_bytes,
                images_gzipped,
                ..
            } => {
                let width = self.table.width as u64;
                let offset = images_data + (r as u64 * width + column as u64) * value_bytes;
                DataError::at(images, byte_place(offset, *images_gzipped), message)
            }
            Origin::Generated { name } => DataError::at(
                name,
                Place::Sample(r + 1),
                format!("feature {}: {message}", column + 1),
            ),
        }
    }

    /// An error about the label of row `row`.
    pub(crate) fn label_error(&self, row: usize, message: String) -> DataError {
        let r = self.rows[row];
        match &self.origin {
            Origin::Csv {
                file,
                lines,
                label_column,
            } => DataError::at(
                file,
                Place::Cell {
                    line: lines[r],
                    column: *label_column,
                },
                message,
            ),
            Origin::Libsvm { file, lines } => DataError::at(
                file,
                Place::Field {
                    line: lines[r],
                    field: 1,
                },
                message,
            ),
            Origin::Idx {
                labels,
                labels_data,
                label_bytes,
                labels_gzipped,
                ..
            } => {
                let offset = labels_data + r as u64 * label_bytes;
                DataError::at(labels, byte_place(offset, *labels_gzipped), message)
            }
            Origin::Generated { name } => DataError::at(name, Place::Sample(r + 1), message),
        }
    }

    /// An error about row `row` as a whole.
    pub(crate) fn row_error(&self, row: usize, message: String) -> DataError {
        let r = self.rows[row];
        match &self.origin {
            Origin::Csv { file, lines, .. } | Origin::Libsvm { file, lines } => {
                DataError::at(file, Place::Line(lines[r]), message)
            }
            Origin::Idx {
                images,
                images_data,
                value_bytes,
                images_gzipped,
                ..
            } => {
                let offset = images_data + r as u64 * self.table.width as u64 * value_bytes;
                DataError::at(images, byte_place(offset, *images_gzipped), message)
            }
            Origin::Generated { name } => DataError::at(name, Place::Sample(r + 1), message),
        }
    }

    /// An error about the file as a whole.
    pub(crate) fn file_error(&self, message: String) -> DataError {
        DataError::at(self.file(), Place::Whole, message)
    }
}

/// A byte offset, in the file itself or in its decompressed contents.
pub(crate) fn byte_place(offset: u64, gzipped: bool) -> Place {
    if gzipped {
        Place::DecompressedByte(offset)
    } else {
        Place::Byte(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            features: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            labels: vec![0, 2, 1],
            width: 2,
            classes: 3,
        }
    }

    #[test]
    fn rows_select_widen_and_counts() {
        let t = table();
        assert_eq!(t.len(), 3);
        assert_eq!(t.row(1), Some(&[3.0, 4.0][..]));
        assert_eq!(t.row(3), None);
        assert_eq!(t.row(usize::MAX), None);
        assert_eq!(t.class_counts(), vec![1, 1, 1]);
        assert_eq!(t.label_span(), 3);
        let s = t.select(&[2, 0]);
        assert_eq!(s.features, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(s.labels, vec![1, 0]);
        let mut w = t.clone();
        w.widen(3);
        assert_eq!(
            w.features,
            vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 5.0, 6.0, 0.0]
        );
        assert_eq!(w.width, 3);
        let d = t.dataset().unwrap();
        assert_eq!(sooth_core::Dataset::len(&d), 3);
    }

    #[test]
    fn widen_from_zero_width() {
        let mut t = Table {
            features: vec![],
            labels: vec![0, 1],
            width: 0,
            classes: 2,
        };
        t.widen(2);
        assert_eq!(t.features, vec![0.0; 4]);
    }

    #[test]
    fn errors_point_into_the_file() {
        let p = Parsed::new(
            table(),
            Origin::Csv {
                file: "t.csv".into(),
                lines: vec![2, 3, 5],
                label_column: 2,
            },
        );
        let sub = p.select(&[2]);
        assert_eq!(
            sub.feature_error(0, 1, "x".into()).to_string(),
            "t.csv:5: column 3: x"
        );
        assert_eq!(
            sub.feature_error(0, 0, "x".into()).to_string(),
            "t.csv:5: column 1: x"
        );
        assert_eq!(
            sub.label_error(0, "y".into()).to_string(),
            "t.csv:5: column 2: y"
        );
        let p = Parsed::new(
            table(),
            Origin::Idx {
                images: "i".into(),
                labels: "l".into(),
                images_data: 16,
                value_bytes: 4,
                labels_data: 8,
                label_bytes: 1,
                images_gzipped: false,
                labels_gzipped: true,
            },
        );
        assert_eq!(
            p.feature_error(2, 1, "x".into()).to_string(),
            "i: byte 36: x"
        );
        assert_eq!(
            p.label_error(2, "y".into()).to_string(),
            "l: byte 10 of the decompressed data: y"
        );
    }
}
