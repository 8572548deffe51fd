//! CSV: one sample per line, a label cell and feature cells.

use super::error::{DataError, Place, quoted};
use super::gzip::gunzip_if_gzip;
use super::table::{Origin, Parsed, Table};
use super::values::{MAX_LABEL, parse_feature, parse_label};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// Whether the first line of a CSV file is a header of column names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// A header if none of its cells is a number, data if all are (`NaN` and
    /// `inf` count as numbers here, so a bad data row is reported, not
    /// skipped); a first line that mixes both is an error asking for
    /// `--header yes` or `no` (a data row is never dropped silently).
    #[default]
    Auto,
    /// The first line is a header.
    Present,
    /// There is no header; the first line is data.
    Absent,
}

impl FromStr for Header {
    type Err = DataError;
    /// `auto`, `yes` (or `present`, `true`), `no` (or `absent`, `false`,
    /// `none`); anything else is an options error ([`DataError::options`]).
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Header::Auto),
            "yes" | "present" | "true" => Ok(Header::Present),
            "no" | "absent" | "false" | "none" => Ok(Header::Absent),
            _ => Err(DataError::options(format!(
                "unknown header mode {s:?}; expected auto, yes or no"
            ))),
        }
    }
}

/// Which CSV column holds the label; the other columns are the features, in
/// file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LabelColumn {
    /// The first column.
    #[default]
    First,
    /// The last column.
    Last,
    /// Column number `n`, counting from 1 (as in error messages).
    Number(usize),
    /// The column with this header name (needs a header line).
    Name(String),
    /// No label column: every column is a feature (files to predict; the
    /// table's labels are all 0).
    None,
}

impl FromStr for LabelColumn {
    type Err = DataError;
    /// `first`, `last`, a column number from 1, `none`, or a header name; an empty
    /// value or column 0 is an options error ([`DataError::options`]).
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "first" => Ok(LabelColumn::First),
            "last" => Ok(LabelColumn::Last),
            "none" => Ok(LabelColumn::None),
            "" => Err(DataError::options(
                "empty label column; expected first, last, a number from 1 or a name",
            )),
            _ if s.bytes().all(|b| b.is_ascii_digit()) => match s.parse::<usize>() {
                Ok(0) | Err(_) => Err(DataError::options(format!(
                    "label column {s}: column numbers count from 1 to the number of columns"
                ))),
                Ok(n) => Ok(LabelColumn::Number(n)),
            },
            _ => Ok(LabelColumn::Name(s.to_owned())),
        }
    }
}

impl fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelColumn::First => write!(f, "first"),
            LabelColumn::Last => write!(f, "last"),
            LabelColumn::Number(n) => write!(f, "{n}"),
            LabelColumn::Name(name) => write!(f, "{name:?}"),
            LabelColumn::None => write!(f, "none"),
        }
    }
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Header line: detected, present or absent.
    pub header: Header,
    /// Which column is the label.
    pub label_column: LabelColumn,
    /// The cell separator, `b','` by default.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: Header::Auto,
            label_column: LabelColumn::First,
            delimiter: b',',
        }
    }
}

/// Reads CSV `bytes` (named `name` in errors): every line holds the same
/// number of cells, one of them the label (a class number), the others finite
/// numbers. Quoted cells, CRLF line ends, a UTF-8 byte order mark, spaces
/// around cells and blank lines are accepted. `classes` of the table is the
/// largest label + 1.
///
/// Gzipped bytes are decompressed first.
pub fn parse_csv(bytes: &[u8], name: &str, options: &CsvOptions) -> Result<Parsed, DataError> {
    let (bytes, _) = gunzip_if_gzip(bytes, name)?;
    parse_csv_plain(&bytes, name, options)
}

pub(crate) fn parse_csv_plain(
    bytes: &[u8],
    name: &str,
    options: &CsvOptions,
) -> Result<Parsed, DataError> {
    if matches!(options.delimiter, b'"' | b'\n' | b'\r') {
        return Err(DataError::options(format!(
            "CSV delimiter {:?} cannot be a quote or a line break",
            char::from(options.delimiter)
        )));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::at(
            name,
            Place::Whole,
            "empty file; expected CSV lines of a label and features",
        ));
    }
    let mut reader = Records::new(bytes, options.delimiter);
    let mut record = Record::default();
    let mut layout: Option<Layout> = None;
    let mut table = Table::default();
    let mut lines = Vec::new();
    let mut header_line = None;
    // Class names, one per row, if the first data row's label is not a number.
    let mut names: Option<Vec<String>> = None;
    while reader
        .next(&mut record)
        .map_err(|(line, why)| DataError::at(name, Place::Line(line), why))?
    {
        let line = record.line;
        if record.len() == 1 && record.cell(0).is_empty() && !record.quoted_first {
            continue; // a blank line, or one of spaces
        }
        if layout.is_none() {
            let is_header = match options.header {
                Header::Present => true,
                Header::Absent => false,
                Header::Auto => auto_header(&record, line, name, options)?,
            };
            let found = Layout::new(&record, line, is_header, options, name)?;
            table.width = found.cells - usize::from(found.label_column != 0);
            layout = Some(found);
            if is_header {
                header_line = Some(line);
                continue;
            }
        }
        let Some(layout) = layout.as_ref() else {
            continue; // set just above
        };
        if record.len() != layout.cells {
            return Err(DataError::at(
                name,
                Place::Line(line),
                format!(
                    "row has {} cell{}, expected {} (like line {})",
                    record.len(),
                    plural(record.len()),
                    layout.cells,
                    layout.line
                ),
            ));
        }
        for (i, cell) in record.iter().enumerate() {
            let place = Place::Cell {
                line: record.cell_lines[i],
                column: i + 1,
            };
            if i + 1 == layout.label_column {
                if lines.is_empty() && !looks_numeric(cell) {
                    names = Some(Vec::new());
                }
                match &mut names {
                    Some(names) => {
                        let first = names.first().map_or("", String::as_str);
                        let class = class_name(cell, first, &lines, name, place)?;
                        names.push(class);
                    }
                    None => {
                        let label = parse_label(cell)
                            .map_err(|why| DataError::at(name, place, why.to_string()))?;
                        table.labels.push(label);
                    }
                }
            } else {
                let value = parse_feature(cell).map_err(|why| {
                    let hint = if line == layout.line && options.header == Header::Absent {
                        " (is this line a header? the header was set to absent)"
                    } else {
                        ""
                    };
                    DataError::at(name, place, format!("{why}{hint}"))
                })?;
                table.features.push(value);
            }
        }
        if layout.label_column == 0 {
            table.labels.push(0);
        }
        lines.push(line);
    }
    let mut class_names = Vec::new();
    if let Some(row_names) = names {
        class_names = row_names.clone();
        class_names.sort_unstable();
        class_names.dedup();
        if class_names.len() > usize::from(MAX_LABEL) + 1 {
            return Err(DataError::at(
                name,
                Place::Whole,
                format!(
                    "{} class names; expected at most {}",
                    class_names.len(),
                    usize::from(MAX_LABEL) + 1
                ),
            ));
        }
        // Every name is in the sorted list, at an index that fits a label.
        table.labels = row_names
            .iter()
            .map(|n| class_names.binary_search(n).unwrap_or(0) as u16)
            .collect();
    }
    if lines.is_empty() {
        let message = match header_line {
            Some(line) => format!(
                "no data rows after the header on line {line}; expected lines of a label and features"
            ),
            None => "no data rows; expected lines of a label and features".into(),
        };
        return Err(DataError::at(name, Place::Whole, message));
    }
    table.classes = table.label_span();
    let label_column = layout.map_or(1, |l| l.label_column);
    Ok(Parsed::new(
        table,
        Origin::Csv {
            file: name.to_owned(),
            lines,
            label_column,
        },
    )
    .with_class_names(class_names))
}

/// A label cell of a column of class names (`first` is the first row's
/// name, `lines` the lines of the rows before it): UTF-8 text without line
/// breaks, not a number (a column holds class numbers or class names,
/// never both).
fn class_name(
    cell: &[u8],
    first: &str,
    lines: &[usize],
    file: &str,
    place: Place,
) -> Result<String, DataError> {
    let at = |why: String| DataError::at(file, place, why);
    if looks_numeric(cell) {
        let line = lines.first().copied().unwrap_or(0);
        return Err(at(format!(
            "label {} is a number, but the label column holds class names (line {line}: {}, a \
             typo?); expected class numbers or class names, not both",
            quoted(cell),
            quoted(first.as_bytes())
        )));
    }
    match std::str::from_utf8(cell) {
        Ok(text) if !text.contains(['\n', '\r']) => Ok(text.to_owned()),
        Ok(_) => Err(at(format!(
            "class name {} holds a line break; expected a name on one line",
            quoted(cell)
        ))),
        Err(_) => Err(at(format!("class name {} is not UTF-8 text", quoted(cell)))),
    }
}

/// The shape every row must have, from the first line.
struct Layout {
    /// Cells per line.
    cells: usize,
    /// The label's cell number (from 1; 0 for no label column).
    label_column: usize,
    /// The line the shape came from.
    line: usize,
}

impl Layout {
    fn new(
        record: &Record,
        line: usize,
        header: bool,
        options: &CsvOptions,
        name: &str,
    ) -> Result<Layout, DataError> {
        let cells = record.len();
        let at_line = |message: String| DataError::at(name, Place::Line(line), message);
        let needed = if options.label_column == LabelColumn::None {
            1
        } else {
            2
        };
        if cells < needed {
            let delimiter = char::from(options.delimiter);
            let other = [b',', b';', b'\t', b' ']
                .into_iter()
                .find(|&d| d != options.delimiter && record.cell(0).contains(&d));
            let hint = match other {
                Some(d) => format!(" (the line contains {:?}: wrong delimiter?)", char::from(d)),
                None => String::new(),
            };
            return Err(at_line(format!(
                "line has 1 cell; expected a label and at least one feature separated by {delimiter:?}{hint}"
            )));
        }
        let label_column = match &options.label_column {
            LabelColumn::None => 0,
            LabelColumn::First => 1,
            LabelColumn::Last => cells,
            LabelColumn::Number(n) if (1..=cells).contains(n) => *n,
            LabelColumn::Number(n) => {
                return Err(at_line(format!(
                    "label column {n} does not exist: the line has {cells} cells (columns 1 to {cells})"
                )));
            }
            LabelColumn::Name(wanted) => {
                if !header {
                    return Err(at_line(format!(
                        "label column {wanted:?} is a name, but this first line is data, not a header"
                    )));
                }
                match record.iter().position(|c| c == wanted.as_bytes()) {
                    Some(i) => i + 1,
                    None => {
                        let names: Vec<String> = record.iter().take(12).map(quoted).collect();
                        let more = if cells > 12 { ", ..." } else { "" };
                        return Err(at_line(format!(
                            "no column named {wanted:?} in the header; its columns are {}{more}",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        Ok(Layout {
            cells,
            label_column,
            line,
        })
    }
}

/// One CSV record: its cells' bytes (quotes removed, `""` unescaped,
/// unquoted cells trimmed) and the line each cell starts on.
#[derive(Default)]
struct Record {
    /// The line the record starts on.
    line: usize,
    /// All cells' bytes, one after the other.
    buffer: Vec<u8>,
    /// Where each cell ends in `buffer`.
    ends: Vec<usize>,
    /// The line each cell starts on.
    cell_lines: Vec<usize>,
    /// Whether the first cell was quoted (so `""` is not a blank line).
    quoted_first: bool,
}

impl Record {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn cell(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buffer[start..self.ends[i]]
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.cell(i))
    }
}

/// Splits CSV bytes into records (RFC 4180: cells in double quotes may hold
/// delimiters, line breaks and `""`), counting lines exactly.
struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    delimiter: u8,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8], delimiter: u8) -> Self {
        Records {
            bytes,
            pos: 0,
            line: 1,
            delimiter,
        }
    }

    /// Reads the next record into `record`; `Ok(false)` at the end, or the
    /// line and reason of a malformed quoted cell.
    fn next(&mut self, record: &mut Record) -> Result<bool, (usize, String)> {
        if self.pos >= self.bytes.len() {
            return Ok(false);
        }
        record.line = self.line;
        record.buffer.clear();
        record.ends.clear();
        record.cell_lines.clear();
        record.quoted_first = false;
        loop {
            record.cell_lines.push(self.line);
            let rest = &self.bytes[self.pos..];
            let blank = rest
                .iter()
                .take_while(|&&b| b != self.delimiter && (b == b' ' || b == b'\t'))
                .count();
            if rest.get(blank) == Some(&b'"') {
                if record.ends.is_empty() {
                    record.quoted_first = true;
                }
                self.read_quoted(blank + 1, record)?;
            } else {
                let end = rest
                    .iter()
                    .position(|&b| b == self.delimiter || b == b'\n')
                    .unwrap_or(rest.len());
                record.buffer.extend_from_slice(rest[..end].trim_ascii());
                self.pos += end;
            }
            record.ends.push(record.buffer.len());
            match self.bytes.get(self.pos) {
                Some(&b) if b == self.delimiter => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(true);
                }
                _ => return Ok(true),
            }
        }
    }

    /// Reads a quoted cell whose opening quote ends at `self.pos + skip`,
    /// up to just before the next delimiter or line end.
    fn read_quoted(&mut self, skip: usize, record: &mut Record) -> Result<(), (usize, String)> {
        let opened = self.line;
        self.pos += skip;
        loop {
            match self.bytes.get(self.pos) {
                None => {
                    return Err((
                        opened,
                        "a quoted cell that starts on this line is never closed; expected a closing '\"'"
                            .into(),
                    ));
                }
                Some(b'"') if self.bytes.get(self.pos + 1) == Some(&b'"') => {
                    record.buffer.push(b'"');
                    self.pos += 2;
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(&b) => {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    record.buffer.push(b);
                    self.pos += 1;
                }
            }
        }
        let rest = &self.bytes[self.pos..];
        let blank = rest
            .iter()
            .take_while(|&&b| b != self.delimiter && b.is_ascii_whitespace() && b != b'\n')
            .count();
        self.pos += blank;
        match self.bytes.get(self.pos) {
            None | Some(b'\n') => Ok(()),
            Some(&b) if b == self.delimiter => Ok(()),
            Some(_) => Err((
                self.line,
                format!(
                    "text after the closing quote of a cell; expected {:?} or the end of the line",
                    char::from(self.delimiter)
                ),
            )),
        }
    }
}

/// True if a cell reads as a number (including NaN and infinities) or is
/// empty: such a first line is data, not a header.
/// `--header auto` on the first line: a header if no cell is a number, data
/// if every cell is; a line that mixes numbers and text (a header with
/// numeric column names, or a data row with a typo) is an error asking for
/// `--header yes` or `no`, so a data row is never dropped silently.
///
/// A line whose only text cell is the label column (by position) is data:
/// a class name (`setosa,5.1,3.5`).
fn auto_header(
    record: &Record,
    line: usize,
    name: &str,
    options: &CsvOptions,
) -> Result<bool, DataError> {
    let text: Vec<usize> = (0..record.len())
        .filter(|&i| !looks_numeric(record.cell(i)))
        .collect();
    if text.is_empty() || text.len() == record.len() {
        return Ok(!text.is_empty());
    }
    let label = match options.label_column {
        LabelColumn::First => Some(0),
        LabelColumn::Last => Some(record.len() - 1),
        LabelColumn::Number(n) => n.checked_sub(1),
        LabelColumn::Name(_) | LabelColumn::None => None,
    };
    if text.len() == 1 && Some(text[0]) == label {
        return Ok(false);
    }
    let cell = record.cell(text[0]);
    Err(DataError::at(
        name,
        Place::Line(line),
        format!(
            "the first line mixes numbers and text (cell {}: {}): a header, or a data row with a \
             typo? say --header yes or --header no",
            text[0] + 1,
            quoted(cell)
        ),
    ))
}

fn looks_numeric(cell: &[u8]) -> bool {
    cell.is_empty()
        || std::str::from_utf8(cell)
            .ok()
            .is_some_and(|s| s.trim().parse::<f64>().is_ok())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Writes `table` as CSV, the label first, features in full f32 precision
/// (they read back to the same bits), with a header line `label,x1,x2,...`
/// if `header`.
pub fn write_csv<W: Write>(table: &Table, out: &mut W, header: bool) -> io::Result<()> {
    if header {
        write!(out, "label")?;
        for j in 1..=table.width {
            write!(out, ",x{j}")?;
        }
        writeln!(out)?;
    }
    for (i, &label) in table.labels.iter().enumerate() {
        write!(out, "{label}")?;
        for value in table.row(i).unwrap_or(&[]) {
            write!(out, ",{value}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, options: &CsvOptions) -> Result<Table, DataError> {
        parse_csv(text.as_bytes(), "t.csv", options).map(|p| p.table)
    }

    fn default() -> CsvOptions {
        CsvOptions::default()
    }

    #[test]
    fn reads_rows_with_and_without_header() {
        let t = parse("1,0.5,2\n0,-1,3e1\n", &default()).unwrap();
        assert_eq!(t.features, vec![0.5, 2.0, -1.0, 30.0]);
        assert_eq!(t.labels, vec![1, 0]);
        assert_eq!((t.width, t.classes), (2, 2));
        let t = parse("y,a,b\r\n2,1,2\r\n\r\n0,3,4\r\n", &default()).unwrap();
        assert_eq!(t.labels, vec![2, 0]);
        assert_eq!(t.classes, 3);
        assert_eq!(t.features, vec![1.0, 2.0, 3.0, 4.0]);
        let t = parse("\u{FEFF}\"label\", \"x 1\"\n 1 , 2 \n", &default()).unwrap();
        assert_eq!((t.labels[0], t.features[0]), (1, 2.0));
    }

    #[test]
    fn label_column_choices() {
        let text = "a,b,y\n1,2,0\n3,4,1\n";
        let last = CsvOptions {
            label_column: LabelColumn::Last,
            ..default()
        };
        let by_name = CsvOptions {
            label_column: LabelColumn::Name("y".into()),
            ..default()
        };
        let by_number = CsvOptions {
            label_column: LabelColumn::Number(3),
            ..default()
        };
        for options in [last, by_name, by_number] {
            let t = parse(text, &options).unwrap();
            assert_eq!(t.features, vec![1.0, 2.0, 3.0, 4.0]);
            assert_eq!(t.labels, vec![0, 1]);
        }
        let middle = CsvOptions {
            label_column: LabelColumn::Number(2),
            ..default()
        };
        let t = parse("5,1,6\n7,0,8\n", &middle).unwrap();
        assert_eq!(t.features, vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(t.labels, vec![1, 0]);
    }

    #[test]
    fn header_modes() {
        // Forced header: a numeric first line is skipped.
        let present = CsvOptions {
            header: Header::Present,
            ..default()
        };
        let t = parse("9,9\n1,2\n", &present).unwrap();
        assert_eq!(t.labels, vec![1]);
        // Forced absence: a text first line is a data error, with a hint.
        let absent = CsvOptions {
            header: Header::Absent,
            ..default()
        };
        // (its label "y" reads as a class name; the feature "x" is the error)
        let e = parse("y,x\n1,2\n", &absent).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:1: column 2: \"x\" is not a number"),
            "{e}"
        );
        let e = parse("1,x\n1,2\n", &absent).unwrap_err().to_string();
        assert!(
            e.contains("t.csv:1: column 2: \"x\" is not a number; expected a number like 0.5, -3 or 1e-3 (is this line a header?"),
            "{e}"
        );
    }

    #[test]
    fn class_names_are_numbered_in_sorted_order() {
        let text = "species,a,b\nversicolor,1,2\nsetosa,3,4\nvirginica,5,6\nsetosa,7,8\n";
        let p = parse_csv(text.as_bytes(), "t.csv", &default()).unwrap();
        assert_eq!(p.class_names(), ["setosa", "versicolor", "virginica"]);
        assert_eq!(p.table.labels, vec![1, 0, 2, 0]);
        assert_eq!((p.table.width, p.table.classes), (2, 3));
        // Without a header: a first line whose only text is the label is data.
        let p = parse_csv(b"b,1,2\na,3,4\n", "t.csv", &default()).unwrap();
        assert_eq!(
            (p.class_names(), &p.table.labels[..]),
            (&["a".to_owned(), "b".to_owned()][..], &[1u16, 0][..])
        );
        let last = CsvOptions {
            label_column: LabelColumn::Last,
            ..default()
        };
        let p = parse_csv("1,2,\"x, y\"\n3,4,z\n".as_bytes(), "t.csv", &last).unwrap();
        assert_eq!(p.class_names(), ["x, y", "z"]);
        // Numbers are class numbers: no names.
        let p = parse_csv(b"1,2\n0,3\n", "t.csv", &default()).unwrap();
        assert!(p.class_names().is_empty());
        // A column holds numbers or names, not both; the first data row decides.
        let e = parse("a,1\nb,2\n3,4\n", &default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:3: column 1: label \"3\" is a number, but the label column holds class names (line 1: \"a\", a typo?)"),
            "{e}"
        );
        let e = parse("1,1\nb,2\n", &default()).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:2: column 1: label \"b\" is not a class number"),
            "{e}"
        );
        let e = parse("a,1\n\"b\nc\",2\n", &default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:2: column 1: class name \"b\\nc\" holds a line break"),
            "{e}"
        );
    }

    #[test]
    fn no_label_column_reads_every_column_as_a_feature() {
        let none = CsvOptions {
            label_column: LabelColumn::None,
            ..default()
        };
        let t = parse("a,b\n1,2\n3,4\n", &none).unwrap();
        assert_eq!(
            (t.width, t.features.clone(), t.labels.clone()),
            (2, vec![1.0, 2.0, 3.0, 4.0], vec![0, 0])
        );
        let t = parse("5\n6\n", &none).unwrap();
        assert_eq!((t.width, t.features), (1, vec![5.0, 6.0]));
        let e = parse("1,2\n3,x\n", &none).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:2: column 2: \"x\" is not a number"),
            "{e}"
        );
        assert_eq!("none".parse(), Ok(LabelColumn::None));
        assert_eq!(LabelColumn::None.to_string(), "none");
    }

    #[test]
    fn parses_option_strings() {
        assert_eq!("first".parse(), Ok(LabelColumn::First));
        assert_eq!("last".parse(), Ok(LabelColumn::Last));
        assert_eq!("3".parse(), Ok(LabelColumn::Number(3)));
        assert_eq!("digit".parse(), Ok(LabelColumn::Name("digit".into())));
        assert!(
            "0".parse::<LabelColumn>()
                .unwrap_err()
                .to_string()
                .contains("count from 1")
        );
        assert!("".parse::<LabelColumn>().is_err());
        assert_eq!("no".parse(), Ok(Header::Absent));
        assert_eq!("YES".parse(), Ok(Header::Present));
        assert!("maybe".parse::<Header>().is_err());
    }

    #[test]
    fn bad_files_name_line_column_and_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "t.csv: empty file; expected CSV lines"),
            (" \n\n", "t.csv: empty file"),
            ("y,a\n", "t.csv: no data rows after the header on line 1"),
            (
                "1,2,3\n0,1\n",
                "t.csv:2: row has 2 cells, expected 3 (like line 1)",
            ),
            (
                "a,b\n1,2\n0,1,5\n",
                "t.csv:3: row has 3 cells, expected 2 (like line 1)",
            ),
            (
                "1,2\n0,abc\n",
                "t.csv:2: column 2: \"abc\" is not a number; expected a number like 0.5, -3 or 1e-3",
            ),
            (
                "1,2\n0,\n",
                "t.csv:2: column 2: empty cell, expected a number",
            ),
            (
                "1,2\n0,NaN\n",
                "t.csv:2: column 2: \"NaN\" is not a finite number",
            ),
            (
                "1,2\n0,-inf\n",
                "t.csv:2: column 2: \"-inf\" is not a finite number",
            ),
            (
                "1,2\n0,1e40\n",
                "t.csv:2: column 2: \"1e40\" is too large for f32",
            ),
            ("1,2\n-1,2\n", "t.csv:2: column 1: label \"-1\": negative"),
            (
                "1,2\n1.5,2\n",
                "t.csv:2: column 1: label \"1.5\": not a whole number",
            ),
            (
                "1,2\n70000,2\n",
                "t.csv:2: column 1: label \"70000\": too large",
            ),
            (
                "1,2\ncat,2\n",
                "t.csv:2: column 1: label \"cat\" is not a class number",
            ),
            (
                "1,2\n0,\"3\n",
                "t.csv:2: a quoted cell that starts on this line is never closed",
            ),
            (
                "1,2\n0,\"3\"x\n",
                "t.csv:2: text after the closing quote of a cell; expected ','",
            ),
            (
                "1;2;3\n",
                "t.csv:1: line has 1 cell; expected a label and at least one feature separated by ','",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text, &default()).unwrap_err().to_string();
            assert!(
                e.starts_with(expected),
                "{text:?}: got {e:?}, expected {expected:?}"
            );
        }
        let e = parse("1;2;3\n", &default()).unwrap_err().to_string();
        assert!(e.contains("wrong delimiter?"), "{e}");
        let named = CsvOptions {
            label_column: LabelColumn::Name("digit".into()),
            ..default()
        };
        let e = parse("a,b\n1,2\n", &named).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv:1: no column named \"digit\" in the header; its columns are \"a\", \"b\""
        );
        let e = parse("1,2\n", &named).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:1: label column \"digit\" is a name, but this first line is data"),
            "{e}"
        );
        let numbered = CsvOptions {
            label_column: LabelColumn::Number(4),
            ..default()
        };
        let e = parse("1,2,3\n", &numbered).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv:1: label column 4 does not exist: the line has 3 cells (columns 1 to 3)"
        );
    }

    #[test]
    fn line_numbers_count_blank_and_quoted_lines() {
        let e = parse("1,2\n\n\n0,x\n", &default()).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:4: column 2:"), "{e}");
        let e = parse("\"a\nb\",c\n1,2\n0,x\n", &default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:4: column 2:"), "{e}");
        let e = parse("1,2\r\n\r\n0,3\r\n1,\"\n\nx\"\n", &default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:4: column 2: \"\\n\\nx\" is not a number"),
            "{e}"
        );
        let e = parse("1,2\n0,\"1\n\",\"x\"\n", &default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:2: row has 3 cells"), "{e}");
        let e = parse("1,2,3\n0,\"1\n\",x\n", &default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:3: column 3: \"x\""), "{e}");
    }

    #[test]
    fn other_delimiters() {
        let tabs = CsvOptions {
            delimiter: b'\t',
            ..default()
        };
        let t = parse("1\t2\t3\n", &tabs).unwrap();
        assert_eq!(t.features, vec![2.0, 3.0]);
    }

    #[test]
    fn writes_what_it_reads() {
        let t = Table {
            features: vec![0.1, -2.5, 1e-30, 3.0e38],
            labels: vec![1, 0],
            width: 2,
            classes: 2,
        };
        for header in [true, false] {
            let mut out = Vec::new();
            write_csv(&t, &mut out, header).unwrap();
            let back = parse_csv(&out, "w.csv", &default()).unwrap().table;
            assert_eq!(back, t);
        }
        let mut out = Vec::new();
        write_csv(&t, &mut out, true).unwrap();
        assert!(out.starts_with(b"label,x1,x2\n1,0.1,-2.5\n"));
    }
}
