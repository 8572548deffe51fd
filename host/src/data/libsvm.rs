//! LIBSVM / svmlight: `label index:value index:value ...`, sparse, with
//! 1-based increasing indices; missing features are zero.

use super::error::{DataError, Place, quoted};
use super::gzip::gunzip_if_gzip;
use super::table::{Origin, Parsed, Table};
use super::values::{parse_feature, parse_label};
use std::io::{self, Write};

/// Largest dense table (rows x width values) a LIBSVM file may expand to
/// by default: 2^28 values, 1 GiB of f32.
pub const DEFAULT_MAX_VALUES: usize = 1 << 28;

/// How to read a LIBSVM file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibsvmOptions {
    /// Number of features; `None` infers it as the largest index used.
    pub width: Option<usize>,
    /// Largest number of values (rows x width) of the dense table.
    pub max_values: usize,
}

impl Default for LibsvmOptions {
    fn default() -> Self {
        LibsvmOptions {
            width: None,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// Reads LIBSVM `bytes` (raw or gzipped; `name` for errors). Each non-blank
/// line is a label (class number) and `index:value` pairs with indices from
/// 1, strictly increasing; a `qid:N` field right after the label is ignored,
/// and `#` starts a comment. Features not listed are 0. The width is
/// `options.width` or else the largest index in the file.
pub fn parse_libsvm(
    bytes: &[u8],
    name: &str,
    options: &LibsvmOptions,
) -> Result<Parsed, DataError> {
    let (bytes, _) = gunzip_if_gzip(bytes, name)?;
    parse_libsvm_plain(&bytes, name, options)
}

pub(crate) fn parse_libsvm_plain(
    bytes: &[u8],
    name: &str,
    options: &LibsvmOptions,
) -> Result<Parsed, DataError> {
    let mut labels = Vec::new();
    let mut lines = Vec::new();
    // Sparse rows: row r's pairs are pairs[starts[r]..starts[r + 1]].
    let mut starts = vec![0usize];
    let mut pairs: Vec<(usize, f32)> = Vec::new();
    // The largest index and the line it is on.
    let mut widest = (0usize, 0usize);
    for (number, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = number + 1;
        let content = match raw.iter().position(|&b| b == b'#') {
            Some(hash) => &raw[..hash],
            None => raw,
        };
        let mut fields = content
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .enumerate()
            .map(|(i, f)| (i + 1, f))
            .peekable();
        let Some((_, label)) = fields.next() else {
            continue; // blank or comment line
        };
        let field_at = |field| Place::Field { line, field };
        let label = parse_label(label).map_err(|why| {
            let hint = if label.contains(&b':') {
                " (a line starts with its label, then index:value pairs)"
            } else {
                ""
            };
            DataError::at(name, field_at(1), format!("{why}{hint}"))
        })?;
        if fields.peek().is_some_and(|(_, f)| f.starts_with(b"qid:")) {
            fields.next();
        }
        let mut previous = 0usize;
        for (field, pair) in fields {
            let at = |message: String| DataError::at(name, field_at(field), message);
            let Some(colon) = pair.iter().position(|&b| b == b':') else {
                return Err(at(format!("expected INDEX:VALUE, found {}", quoted(pair))));
            };
            let (index_text, value_text) = (&pair[..colon], &pair[colon + 1..]);
            let index =
                parse_index(index_text).map_err(|why| at(format!("{}: {why}", quoted(pair))))?;
            if index <= previous {
                return Err(at(format!(
                    "{}: index {index} after index {previous}; indices must increase along a line",
                    quoted(pair)
                )));
            }
            if let Some(width) = options.width
                && index > width
            {
                return Err(at(format!(
                    "{}: index {index} is beyond the width of {width} features that was given",
                    quoted(pair)
                )));
            }
            let value = parse_feature(value_text)
                .map_err(|why| at(format!("{}: value {why}", quoted(pair))))?;
            previous = index;
            if index > widest.0 {
                widest = (index, line);
            }
            pairs.push((index - 1, value));
        }
        labels.push(label);
        lines.push(line);
        starts.push(pairs.len());
    }
    if labels.is_empty() {
        let what = if bytes.iter().all(u8::is_ascii_whitespace) {
            "empty file"
        } else {
            "no data lines (only comments)"
        };
        return Err(DataError::at(
            name,
            Place::Whole,
            format!("{what}; expected lines of a label and index:value pairs"),
        ));
    }
    let width = options.width.unwrap_or(widest.0);
    if width == 0 {
        return Err(DataError::at(
            name,
            Place::Whole,
            "no features: every line has only a label; expected index:value pairs (or give the width)",
        ));
    }
    let values = labels
        .len()
        .checked_mul(width)
        .filter(|&v| v <= options.max_values);
    let Some(values) = values else {
        return Err(DataError::at(
            name,
            if options.width.is_some() {
                Place::Whole
            } else {
                Place::Line(widest.1)
            },
            format!(
                "{} rows x {width} features make a dense table larger than the limit of {} values; \
                 is the largest index ({}) right?",
                labels.len(),
                options.max_values,
                widest.0
            ),
        ));
    };
    let mut features = vec![0.0f32; values];
    for (row, window) in starts.windows(2).enumerate() {
        let dense = &mut features[row * width..(row + 1) * width];
        for &(column, value) in &pairs[window[0]..window[1]] {
            dense[column] = value;
        }
    }
    let mut table = Table {
        features,
        labels,
        width,
        classes: 0,
    };
    table.classes = table.label_span();
    Ok(Parsed::new(
        table,
        Origin::Libsvm {
            file: name.to_owned(),
            lines,
        },
    ))
}

/// Why the text before a `:` is not a feature index. The quoted text is
/// shown at most 40 characters long.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum IndexError {
    /// Not digits.
    #[error("index {0} is not a whole number; expected an index from 1")]
    NotWhole(String),
    /// Index 0.
    #[error("index 0; feature indices count from 1")]
    Zero,
    /// Beyond `u32::MAX`.
    #[error("index {0} is too large")]
    TooLarge(String),
}

/// A feature index: a whole number from 1.
fn parse_index(text: &[u8]) -> Result<usize, IndexError> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(IndexError::NotWhole(quoted(text)));
    }
    let index = std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&i| i <= u32::MAX as usize);
    match index {
        Some(0) => Err(IndexError::Zero),
        Some(i) => Ok(i),
        None => Err(IndexError::TooLarge(quoted(text))),
    }
}

/// Writes `table` in LIBSVM form: the label, then `index:value` for every
/// feature whose bits are not +0.0 (so `-0.0` survives), in full f32
/// precision.
pub fn write_libsvm<W: Write>(table: &Table, out: &mut W) -> io::Result<()> {
    for (i, &label) in table.labels.iter().enumerate() {
        write!(out, "{label}")?;
        for (j, value) in table.row(i).unwrap_or(&[]).iter().enumerate() {
            if value.to_bits() != 0 {
                write!(out, " {}:{value}", j + 1)?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, options: &LibsvmOptions) -> Result<Table, DataError> {
        parse_libsvm(text.as_bytes(), "t.svm", options).map(|p| p.table)
    }

    #[test]
    fn reads_sparse_lines() {
        let text = "# comment\n1 1:0.5 3:-2\n\n0 qid:7 2:1e1 # tail comment\r\n2\n";
        let t = parse(text, &LibsvmOptions::default()).unwrap();
        assert_eq!(t.width, 3);
        assert_eq!(t.labels, vec![1, 0, 2]);
        assert_eq!(t.classes, 3);
        assert_eq!(
            t.features,
            vec![0.5, 0.0, -2.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0]
        );
        let wide = LibsvmOptions {
            width: Some(5),
            ..LibsvmOptions::default()
        };
        let t = parse("+1\t1:1\t5:2\n", &wide).unwrap();
        assert_eq!(t.features, vec![1.0, 0.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn bad_lines_name_line_field_and_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "",
                "t.svm: empty file; expected lines of a label and index:value pairs",
            ),
            ("# only\n", "t.svm: no data lines (only comments)"),
            ("1\n0\n", "t.svm: no features: every line has only a label"),
            (
                "1 1:2\n0 3\n",
                "t.svm:2: field 2: expected INDEX:VALUE, found \"3\"",
            ),
            (
                "1 1:2\n0 x:3\n",
                "t.svm:2: field 2: \"x:3\": index \"x\" is not a whole number",
            ),
            (
                "1 1:2\n0 :3\n",
                "t.svm:2: field 2: \":3\": index \"\" is not a whole number",
            ),
            (
                "1 0:2\n",
                "t.svm:1: field 2: \"0:2\": index 0; feature indices count from 1",
            ),
            (
                "1 1:2 5:1 3:1\n",
                "t.svm:1: field 4: \"3:1\": index 3 after index 5; indices must increase",
            ),
            (
                "1 2:2 2:1\n",
                "t.svm:1: field 3: \"2:1\": index 2 after index 2",
            ),
            (
                "1 99999999999:1\n",
                "t.svm:1: field 2: \"99999999999:1\": index \"99999999999\" is too large",
            ),
            (
                "1 1:abc\n",
                "t.svm:1: field 2: \"1:abc\": value \"abc\" is not a number",
            ),
            ("1 1:\n", "t.svm:1: field 2: \"1:\": value empty cell"),
            (
                "1 1:nan\n",
                "t.svm:1: field 2: \"1:nan\": value \"nan\" is not a finite number",
            ),
            (
                "1 1:inf\n",
                "t.svm:1: field 2: \"1:inf\": value \"inf\" is not a finite number",
            ),
            (
                "-1 1:1\n",
                "t.svm:1: field 1: label \"-1\": negative; labels are class numbers 0, 1, 2, ... (for -1/+1 labels, map -1 to 0 first)",
            ),
            (
                "0.5 1:1\n",
                "t.svm:1: field 1: label \"0.5\": not a whole number",
            ),
            (
                "65536 1:1\n",
                "t.svm:1: field 1: label \"65536\": too large",
            ),
            (
                "1:1 2:1\n",
                "t.svm:1: field 1: label \"1:1\" is not a class number",
            ),
            (
                "1 1:1\n0 4294967295:1\n",
                "t.svm:2: 2 rows x 4294967295 features make a dense table larger than the limit",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text, &LibsvmOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(expected),
                "{text:?}: got {e:?}, expected {expected:?}"
            );
        }
        let narrow = LibsvmOptions {
            width: Some(2),
            ..LibsvmOptions::default()
        };
        let e = parse("1 1:1\n0 3:1\n", &narrow).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.svm:2: field 2: \"3:1\": index 3 is beyond the width of 2 features that was given"
        );
        let e = parse("1:1 2:1\n", &LibsvmOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("(a line starts with its label"), "{e}");
    }

    #[test]
    fn writes_what_it_reads() {
        let t = Table {
            features: vec![0.0, -0.0, 0.1, 7.0, 0.0, 1e-45],
            labels: vec![2, 0],
            width: 3,
            classes: 3,
        };
        let mut out = Vec::new();
        write_libsvm(&t, &mut out).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "2 2:-0 3:0.1\n0 1:7 3:0.000000000000000000000000000000000000000000001\n"
        );
        let options = LibsvmOptions {
            width: Some(3),
            ..LibsvmOptions::default()
        };
        let back = parse_libsvm(&out, "w.svm", &options).unwrap().table;
        assert_eq!(back, t);
        assert_eq!(back.features[1].to_bits(), (-0.0f32).to_bits());
    }
}
