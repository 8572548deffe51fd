//! IDX (the MNIST format): an images file and a labels file, each a
//! big-endian header (`00 00 TYPE NDIM`, then NDIM u32 sizes) and the values.

use super::error::DataError;
use super::gzip::gunzip_if_gzip;
use super::table::{Origin, Parsed, Table, byte_place};
use super::values::{label_from_f64, show};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The value types of IDX, by their type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxType {
    /// `0x08`: unsigned byte.
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: 16-bit signed integer.
    I16,
    /// `0x0C`: 32-bit signed integer.
    I32,
    /// `0x0D`: 32-bit float.
    F32,
    /// `0x0E`: 64-bit float.
    F64,
}

impl IdxType {
    fn from_byte(byte: u8) -> Option<IdxType> {
        Some(match byte {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    fn byte(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "unsigned byte",
            IdxType::I8 => "signed byte",
            IdxType::I16 => "16-bit integer",
            IdxType::I32 => "32-bit integer",
            IdxType::F32 => "32-bit float",
            IdxType::F64 => "64-bit float",
        }
    }

    /// Decodes one big-endian value (`bytes.len() == self.size()`).
    fn decode(self, bytes: &[u8]) -> f64 {
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        match self {
            IdxType::U8 => f64::from(b[0]),
            IdxType::I8 => f64::from(b[0] as i8),
            IdxType::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
            IdxType::I32 => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            IdxType::F32 => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            IdxType::F64 => f64::from_be_bytes(b),
        }
    }
}

/// A decoded IDX header and the data after it.
struct IdxArray<'a> {
    kind: IdxType,
    dims: Vec<usize>,
    /// Offset of the first value.
    data_offset: usize,
    data: &'a [u8],
}

const TYPES: &str =
    "08 (unsigned byte), 09 (signed byte), 0B (i16), 0C (i32), 0D (f32) or 0E (f64)";

/// Reads and checks the header of an IDX file: known type, sizes present,
/// and exactly as many data bytes as the sizes say.
fn read_array<'a>(bytes: &'a [u8], name: &str, gz: bool) -> Result<IdxArray<'a>, DataError> {
    let at = |offset: usize, message: String| {
        DataError::at(name, byte_place(offset as u64, gz), message)
    };
    if bytes.len() < 4 {
        let what = if bytes.is_empty() {
            "empty file".to_owned()
        } else {
            format!("file has only {} bytes", bytes.len())
        };
        return Err(at(
            bytes.len(),
            format!(
                "{what}; expected an IDX header: the magic number 00 00 TYPE NDIM and NDIM sizes"
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        return Err(at(
            0,
            format!(
                "wrong magic number 0x{magic:08X}; an IDX file starts with two zero bytes, the type \
                 and the number of dimensions (0x00000803 for MNIST images, 0x00000801 for labels)"
            ),
        ));
    }
    let Some(kind) = IdxType::from_byte(bytes[2]) else {
        return Err(at(
            2,
            format!("unknown IDX type 0x{:02X}; expected {TYPES}", bytes[2]),
        ));
    };
    let ndim = usize::from(bytes[3]);
    if ndim == 0 {
        return Err(at(3, "0 dimensions; expected at least 1".into()));
    }
    let data_offset = 4 + 4 * ndim;
    if bytes.len() < data_offset {
        return Err(at(
            bytes.len(),
            format!(
                "the header needs {ndim} dimension sizes (bytes 4 to {}), but the file ends at byte {}",
                data_offset - 1,
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..data_offset]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let shape = dims
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" x ");
    let data = &bytes[data_offset..];
    let needed = dims
        .iter()
        .try_fold(kind.size(), |acc, &d| acc.checked_mul(d))
        .unwrap_or(usize::MAX);
    if data.len() < needed {
        let needed = if needed == usize::MAX {
            "more than the address space".to_owned()
        } else {
            needed.to_string()
        };
        return Err(at(
            bytes.len(),
            format!(
                "data ends early: the header says {shape} values of type {} ({needed} bytes after the \
                 {data_offset}-byte header), but there are {} (truncated file?)",
                kind.name(),
                data.len()
            ),
        ));
    }
    if data.len() > needed {
        return Err(at(
            data_offset + needed,
            format!(
                "{} unexpected bytes after the {shape} values of type {} that the header describes; \
                 expected the file to end here",
                data.len() - needed,
                kind.name()
            ),
        ));
    }
    Ok(IdxArray {
        kind,
        dims,
        data_offset,
        data,
    })
}

/// Reads an IDX images file and its labels file (each raw or gzipped; names
/// for errors). The images file holds N samples of any shape (`N x 28 x 28`
/// for MNIST), flattened row-major into `width` features as f32; the labels
/// file holds N class numbers in one dimension. Any IDX type works for both;
/// labels must be whole numbers `0..=65535`, features finite in f32.
pub fn parse_idx(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
) -> Result<Parsed, DataError> {
    let (images, images_gz) = gunzip_if_gzip(images, images_name)?;
    let (labels, labels_gz) = gunzip_if_gzip(labels, labels_name)?;
    parse_idx_plain(
        &images,
        images_name,
        images_gz,
        &labels,
        labels_name,
        labels_gz,
    )
}

pub(crate) fn parse_idx_plain(
    images: &[u8],
    images_name: &str,
    images_gz: bool,
    labels: &[u8],
    labels_name: &str,
    labels_gz: bool,
) -> Result<Parsed, DataError> {
    let image_array = read_array(images, images_name, images_gz)?;
    let label_array = read_array(labels, labels_name, labels_gz)?;
    let image_at = |offset: usize, message: String| {
        DataError::at(images_name, byte_place(offset as u64, images_gz), message)
    };
    let label_at = |offset: usize, message: String| {
        DataError::at(labels_name, byte_place(offset as u64, labels_gz), message)
    };
    if label_array.dims.len() != 1 {
        let hint = if image_array.dims.len() == 1 {
            " (are the images and labels files swapped?)"
        } else {
            ""
        };
        return Err(label_at(
            3,
            format!(
                "labels file has {} dimensions; expected 1 (one label per sample){hint}",
                label_array.dims.len()
            ),
        ));
    }
    let count = image_array.dims[0];
    if count == 0 {
        return Err(image_at(
            4,
            "the header says 0 samples; expected at least 1".into(),
        ));
    }
    if let Some(axis) = image_array.dims.iter().skip(1).position(|&d| d == 0) {
        return Err(image_at(
            8 + 4 * axis,
            format!(
                "dimension {} has size 0; expected samples of at least one value",
                axis + 2
            ),
        ));
    }
    if label_array.dims[0] != count {
        return Err(label_at(
            4,
            format!(
                "{} labels, but the images file {images_name} has {count} samples; expected one \
                 label per sample",
                label_array.dims[0]
            ),
        ));
    }
    let width = image_array.dims[1..].iter().product::<usize>();
    let size = image_array.kind.size();
    let mut features = Vec::with_capacity(count * width);
    for (i, value) in image_array.data.chunks_exact(size).enumerate() {
        let x = image_array.kind.decode(value);
        let as_f32 = x as f32;
        if !as_f32.is_finite() {
            let why = if x.is_finite() {
                "is too large for f32"
            } else {
                "is not finite; features must be finite (no NaN or infinity)"
            };
            return Err(image_at(
                image_array.data_offset + i * size,
                format!(
                    "sample {}, value {}: {} {why}",
                    i / width + 1,
                    i % width + 1,
                    show(x)
                ),
            ));
        }
        features.push(as_f32);
    }
    let label_size = label_array.kind.size();
    let mut table_labels = Vec::with_capacity(count);
    for (i, value) in label_array.data.chunks_exact(label_size).enumerate() {
        let x = label_array.kind.decode(value);
        let label = label_from_f64(x).map_err(|why| {
            label_at(
                label_array.data_offset + i * label_size,
                format!("label {} ({}): {why}", i + 1, show(x)),
            )
        })?;
        table_labels.push(label);
    }
    let mut table = Table {
        features,
        labels: table_labels,
        width,
        classes: 0,
    };
    table.classes = table.label_span();
    Ok(Parsed::new(
        table,
        Origin::Idx {
            images: images_name.to_owned(),
            labels: labels_name.to_owned(),
            images_data: image_array.data_offset as u64,
            value_bytes: size as u64,
            labels_data: label_array.data_offset as u64,
            label_bytes: label_size as u64,
            images_gzipped: images_gz,
            labels_gzipped: labels_gz,
        },
    ))
}

/// The labels file that goes with an IDX images file by the MNIST naming:
/// the last `images` in the file name becomes `labels` and the last `idx3`
/// becomes `idx1` (`train-images-idx3-ubyte.gz` -> `train-labels-idx1-ubyte.gz`,
/// `t10k-images.idx3-ubyte` -> `t10k-labels.idx1-ubyte`). `None` if the name
/// has no `images`.
pub fn labels_path_for(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let at = name.rfind("images")?;
    let mut labels = format!("{}labels{}", &name[..at], &name[at + "images".len()..]);
    if let Some(at) = labels.rfind("idx3") {
        labels.replace_range(at..at + 4, "idx1");
    }
    Some(images.with_file_name(labels))
}

/// Writes `table` as an IDX pair: features as f32 (`0x0D`, shape
/// `N x width`, so they read back to the same bits), labels as unsigned
/// bytes (`0x08`) if all are below 256, else as i32 (`0x0C`).
pub fn write_idx<W: Write, V: Write>(
    table: &Table,
    images: &mut W,
    labels: &mut V,
) -> io::Result<()> {
    let too_big = |_| io::Error::new(io::ErrorKind::InvalidInput, "size over u32::MAX");
    let count = u32::try_from(table.len()).map_err(too_big)?;
    let width = u32::try_from(table.width).map_err(too_big)?;
    images.write_all(&[0, 0, IdxType::F32.byte(), 2])?;
    images.write_all(&count.to_be_bytes())?;
    images.write_all(&width.to_be_bytes())?;
    for value in &table.features {
        images.write_all(&value.to_be_bytes())?;
    }
    let wide = table.labels.iter().any(|&l| l > 255);
    let kind = if wide { IdxType::I32 } else { IdxType::U8 };
    labels.write_all(&[0, 0, kind.byte(), 1])?;
    labels.write_all(&count.to_be_bytes())?;
    for &label in &table.labels {
        if wide {
            labels.write_all(&i32::from(label).to_be_bytes())?;
        } else {
            labels.write_all(&[label as u8])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IDX file of the given type byte, sizes and raw data.
    fn idx(kind: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, kind, dims.len() as u8];
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(data);
        out
    }

    fn parse(images: &[u8], labels: &[u8]) -> Result<Table, DataError> {
        parse_idx(images, "img", labels, "lab").map(|p| p.table)
    }

    #[test]
    fn reads_unsigned_bytes_like_mnist() {
        let images = idx(0x08, &[2, 2, 2], &[0, 1, 2, 3, 255, 5, 6, 7]);
        let labels = idx(0x08, &[2], &[3, 0]);
        let t = parse(&images, &labels).unwrap();
        assert_eq!(t.width, 4);
        assert_eq!(t.features, vec![0.0, 1.0, 2.0, 3.0, 255.0, 5.0, 6.0, 7.0]);
        assert_eq!(t.labels, vec![3, 0]);
        assert_eq!(t.classes, 4);
    }

    #[test]
    fn reads_every_type() {
        let labels = idx(0x0C, &[1], &1i32.to_be_bytes());
        let cases: Vec<(u8, Vec<u8>, Vec<f32>)> = vec![
            (0x09, vec![0xFF, 0x7F], vec![-1.0, 127.0]),
            (
                0x0B,
                [(-300i16).to_be_bytes(), 7i16.to_be_bytes()].concat(),
                vec![-300.0, 7.0],
            ),
            (
                0x0C,
                [(-70000i32).to_be_bytes(), 1i32.to_be_bytes()].concat(),
                vec![-70000.0, 1.0],
            ),
            (
                0x0D,
                [0.1f32.to_be_bytes(), (-2.5f32).to_be_bytes()].concat(),
                vec![0.1, -2.5],
            ),
            (
                0x0E,
                [0.1f64.to_be_bytes(), 3.0f64.to_be_bytes()].concat(),
                vec![0.1, 3.0],
            ),
        ];
        for (kind, data, expected) in cases {
            let t = parse(&idx(kind, &[1, 2], &data), &labels).unwrap();
            assert_eq!(t.features, expected, "type {kind:#x}");
            assert_eq!(t.labels, vec![1]);
        }
        let float_labels = idx(0x0D, &[1], &2.0f32.to_be_bytes());
        let t = parse(&idx(0x08, &[1], &[9]), &float_labels).unwrap();
        assert_eq!((t.width, t.labels[0]), (1, 2));
    }

    #[test]
    fn bad_headers_name_the_byte() {
        let labels = idx(0x08, &[1], &[0]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "img: byte 0: empty file; expected an IDX header"),
            (
                vec![0, 0, 8],
                "img: byte 3: file has only 3 bytes; expected an IDX header",
            ),
            (
                b"1,2,3\n".to_vec(),
                "img: byte 0: wrong magic number 0x312C322C",
            ),
            (
                vec![0, 0, 7, 1, 0, 0, 0, 1, 0],
                "img: byte 2: unknown IDX type 0x07; expected 08",
            ),
            (
                vec![0, 0, 8, 0],
                "img: byte 3: 0 dimensions; expected at least 1",
            ),
            (
                vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0],
                "img: byte 10: the header needs 3 dimension sizes (bytes 4 to 15), but the file ends at byte 10",
            ),
            (
                idx(8, &[1, 2, 2], &[1, 2, 3]),
                "img: byte 19: data ends early: the header says 1 x 2 x 2 values of type unsigned byte (4 bytes after the 16-byte header), but there are 3",
            ),
            (
                idx(8, &[1, 2], &[1, 2, 3]),
                "img: byte 14: 1 unexpected bytes after the 1 x 2 values",
            ),
            (
                idx(8, &[0, 2], &[]),
                "img: byte 4: the header says 0 samples",
            ),
            (idx(8, &[1, 0], &[]), "img: byte 8: dimension 2 has size 0"),
            (
                idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[1]),
                "img: byte 17: data ends early: the header says 4294967295 x 4294967295 x 4294967295 values of type unsigned byte (more than the address space",
            ),
        ];
        for (images, expected) in cases {
            let e = parse(&images, &labels).unwrap_err().to_string();
            assert!(e.starts_with(expected), "got {e:?}, expected {expected:?}");
        }
    }

    #[test]
    fn bad_values_and_labels_name_the_byte() {
        let nan = idx(
            0x0D,
            &[1, 2],
            &[1f32.to_be_bytes(), f32::NAN.to_be_bytes()].concat(),
        );
        let e = parse(&nan, &idx(8, &[1], &[0])).unwrap_err().to_string();
        assert_eq!(
            e,
            "img: byte 16: sample 1, value 2: NaN is not finite; features must be finite (no NaN or infinity)"
        );
        let huge = idx(0x0E, &[1, 1], &1e300f64.to_be_bytes());
        let e = parse(&huge, &idx(8, &[1], &[0])).unwrap_err().to_string();
        assert!(
            e.starts_with("img: byte 12: sample 1, value 1: 1e300 is too large for f32"),
            "{e}"
        );
        let images = idx(8, &[2, 1], &[0, 0]);
        let e = parse(&images, &idx(8, &[3], &[0, 1, 2]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "lab: byte 4: 3 labels, but the images file img has 2 samples; expected one label per sample"
        );
        let e = parse(&images, &idx(0x09, &[2], &[0, 0xFF]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("lab: byte 9: label 2 (-1): negative"), "{e}");
        let e = parse(
            &images,
            &idx(
                0x0D,
                &[2],
                &[0.5f32.to_be_bytes(), 1f32.to_be_bytes()].concat(),
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("lab: byte 8: label 1 (0.5): not a whole number"),
            "{e}"
        );
        let e = parse(
            &images,
            &idx(
                0x0C,
                &[2],
                &[0i32.to_be_bytes(), 70000i32.to_be_bytes()].concat(),
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("lab: byte 12: label 2 (70000): too large"),
            "{e}"
        );
        let e = parse(&idx(8, &[2], &[0, 1]), &images)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("lab: byte 3: labels file has 2 dimensions; expected 1 (one label per sample) (are the images and labels files swapped?)"), "{e}");
        let e = parse(&images, &[0, 0, 8]).unwrap_err().to_string();
        assert!(e.starts_with("lab: byte 3: file has only 3 bytes"), "{e}");
    }

    #[test]
    fn gzipped_files_report_decompressed_offsets() {
        use flate2::{Compression, write::GzEncoder};
        let gz = |data: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let images = gz(&idx(8, &[2, 1], &[4, 5]));
        let labels = gz(&idx(8, &[2], &[1, 0]));
        let t = parse(&images, &labels).unwrap();
        assert_eq!(t.features, vec![4.0, 5.0]);
        let short = gz(&idx(8, &[3, 1], &[4, 5]));
        let e = parse(&short, &labels).unwrap_err().to_string();
        assert!(
            e.starts_with("img: byte 14 of the decompressed data: data ends early"),
            "{e}"
        );
        let e = parse(&images[..images.len() - 3], &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip data ends early"), "{e}");
    }

    #[test]
    fn labels_file_by_mnist_naming() {
        let p = |s: &str| labels_path_for(Path::new(s)).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(
            p("d/train-images-idx3-ubyte.gz").as_deref(),
            Some("d/train-labels-idx1-ubyte.gz")
        );
        assert_eq!(
            p("t10k-images.idx3-ubyte").as_deref(),
            Some("t10k-labels.idx1-ubyte")
        );
        assert_eq!(
            p("images/x-images.idx").as_deref(),
            Some("images/x-labels.idx")
        );
        assert_eq!(p("faces.idx"), None);
    }

    #[test]
    fn writes_what_it_reads() {
        let t = Table {
            features: vec![0.1, -0.0, 1e-40, 3.0e38, 5.0, 6.0],
            labels: vec![1, 300, 0],
            width: 2,
            classes: 301,
        };
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        write_idx(&t, &mut images, &mut labels).unwrap();
        let back = parse(&images, &labels).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.features[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(labels[2], 0x0C);
    }
}
