//! The one error type of the data readers: where the problem is and what was
//! expected there, worded for the person who made the file.

use std::fmt;

/// Where in a file a [`DataError`] is. Lines, columns, fields and rows count
/// from 1; byte offsets count from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// The file (or data set) as a whole.
    Whole,
    /// A line of a text file.
    Line(usize),
    /// A cell of a CSV file: `column` is the cell number on the line.
    Cell {
        /// Line number.
        line: usize,
        /// Cell number on the line.
        column: usize,
    },
    /// A whitespace-separated field of a LIBSVM line (the label is field 1).
    Field {
        /// Line number.
        line: usize,
        /// Field number on the line.
        field: usize,
    },
    /// A byte offset in a binary file.
    Byte(u64),
    /// A byte offset in the decompressed contents of a gzip file.
    DecompressedByte(u64),
    /// A sample (row) of generated data.
    Sample(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Place::Whole => Ok(()),
            Place::Line(line) => write!(f, "{line}"),
            Place::Cell { line, column } => write!(f, "{line}: column {column}"),
            Place::Field { line, field } => write!(f, "{line}: field {field}"),
            Place::Byte(offset) => write!(f, "byte {offset}"),
            Place::DecompressedByte(offset) => write!(f, "byte {offset} of the decompressed data"),
            Place::Sample(index) => write!(f, "sample {index}"),
        }
    }
}

/// A problem with input data or with the data options, for people.
///
/// It displays as `FILE:LINE: message`, `FILE:LINE: column C: message`,
/// `FILE: byte N: message` or `FILE: message`, where the message says what was
/// found and what was expected, e.g.
/// `digits.csv:12: row has 64 cells, expected 65 (like line 1)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// The file (or built-in set, or option) the problem is in; `None` for
    /// problems with the options alone.
    pub file: Option<String>,
    /// Where in `file`.
    pub place: Place,
    /// What was found and what was expected.
    pub message: String,
}

impl DataError {
    /// A problem at `place` in `file`.
    pub fn at(file: &str, place: Place, message: impl Into<String>) -> Self {
        DataError {
            file: Some(file.to_owned()),
            place,
            message: message.into(),
        }
    }

    /// A problem with the options, not with a file.
    pub fn options(message: impl Into<String>) -> Self {
        DataError {
            file: None,
            place: Place::Whole,
            message: message.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.place) {
            (None, _) => write!(f, "{}", self.message),
            (Some(file), Place::Whole) => write!(f, "{file}: {}", self.message),
            (Some(file), place @ (Place::Line(_) | Place::Cell { .. } | Place::Field { .. })) => {
                write!(f, "{file}:{place}: {}", self.message)
            }
            (Some(file), place) => write!(f, "{file}: {place}: {}", self.message),
        }
    }
}

impl std::error::Error for DataError {}

/// Shows at most 40 characters of a cell or field, quoted, for messages.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(40).collect();
    if text.chars().nth(40).is_some() {
        shown.push_str("...");
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_place_and_reason() {
        let e = DataError::at("d.csv", Place::Line(12), "row has 64 cells, expected 65");
        assert_eq!(e.to_string(), "d.csv:12: row has 64 cells, expected 65");
        let e = DataError::at("d.csv", Place::Cell { line: 3, column: 7 }, "bad");
        assert_eq!(e.to_string(), "d.csv:3: column 7: bad");
        let e = DataError::at("a.svm", Place::Field { line: 2, field: 4 }, "bad");
        assert_eq!(e.to_string(), "a.svm:2: field 4: bad");
        let e = DataError::at("x-ubyte", Place::Byte(16), "short");
        assert_eq!(e.to_string(), "x-ubyte: byte 16: short");
        let e = DataError::at("x.gz", Place::DecompressedByte(3), "bad");
        assert_eq!(e.to_string(), "x.gz: byte 3 of the decompressed data: bad");
        let e = DataError::at("x.csv", Place::Whole, "empty file");
        assert_eq!(e.to_string(), "x.csv: empty file");
        assert_eq!(DataError::options("bad option").to_string(), "bad option");
    }

    #[test]
    fn quoted_cuts_long_text() {
        assert_eq!(quoted(b"abc"), "\"abc\"");
        let long = [b'x'; 50];
        assert_eq!(quoted(&long), format!("\"{}...\"", "x".repeat(40)));
        assert_eq!(quoted(&[0xFF, b'a']), "\"\u{FFFD}a\"");
    }
}
