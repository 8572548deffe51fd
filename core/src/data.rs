//! Labelled data sets, seen one sample at a time.
//!
//! Training streams samples: the core asks a [`Dataset`] to write sample `i`
//! into a small caller buffer, so the data may live anywhere: f32 rows in RAM
//! on a host ([`SliceDataset`]), or bytes packed in a microcontroller's flash
//! ([`PackedDataset`]), never copied into RAM as a whole.

use crate::error::Error;

/// A labelled data set of `len()` samples with `width()` features each and
/// labels meant to be below `classes()`.
///
/// The core checks labels against `classes()` where it uses them, and calls
/// [`fetch`](Dataset::fetch) only with `index < len()` and a buffer of exactly
/// `width()` elements.
pub trait Dataset {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True if there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of features per sample.
    fn width(&self) -> usize;
    /// Number of classes; labels are meant to be `0..classes()`.
    fn classes(&self) -> usize;
    /// Writes the features of sample `index` into `features` and returns its label.
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize;
}

impl<D: Dataset + ?Sized> Dataset for &D {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn width(&self) -> usize {
        (**self).width()
    }
    fn classes(&self) -> usize {
        (**self).classes()
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        (**self).fetch(index, features)
    }
}

/// A data set whose [`try_fetch`](TryDataset::try_fetch) may fail: samples
/// read over SPI, I2C or from external flash. Every [`Dataset`] is one (with
/// [`Error`] as its error, through a blanket impl), so code written for
/// `Dataset` is unchanged; the calls that read user data
/// ([`Mlp::evaluate`](crate::Mlp::evaluate),
/// [`OnlineTrainer::push_from`](crate::online::OnlineTrainer::push_from),
/// [`OnlineTrainer::evaluate`](crate::online::OnlineTrainer::evaluate))
/// take a `TryDataset` and return its error, into which the core's own
/// errors convert.
///
/// ```
/// use sooth_core::{Error, TryDataset};
/// /// A sensor that may time out.
/// struct Sensor;
/// #[derive(Debug)]
/// enum ReadError { Timeout, Core(Error) }
/// impl From<Error> for ReadError {
///     fn from(e: Error) -> Self { ReadError::Core(e) }
/// }
/// impl TryDataset for Sensor {
///     type Error = ReadError;
///     fn sample_count(&self) -> usize { 2 }
///     fn feature_count(&self) -> usize { 1 }
///     fn class_count(&self) -> usize { 2 }
///     fn try_fetch(&self, index: usize, features: &mut [f32]) -> Result<usize, ReadError> {
///         if index == 1 { return Err(ReadError::Timeout); }
///         features[0] = 0.5;
///         Ok(0)
///     }
/// }
/// let mut x = [0.0];
/// assert_eq!(Sensor.try_fetch(0, &mut x).unwrap(), 0);
/// assert!(matches!(Sensor.try_fetch(1, &mut x), Err(ReadError::Timeout)));
/// ```
pub trait TryDataset {
    /// The error of a failed read; the core's own errors (a label out of
    /// range, a width mismatch) convert into it.
    type Error: From<Error>;
    /// Number of samples ([`Dataset::len`]; named apart so that a type with
    /// both traits in scope never has two `len` methods).
    fn sample_count(&self) -> usize;
    /// Number of features per sample ([`Dataset::width`]).
    fn feature_count(&self) -> usize;
    /// Number of classes ([`Dataset::classes`]); labels are meant to be below it.
    fn class_count(&self) -> usize;
    /// Writes the features of sample `index` into `features` (exactly
    /// `feature_count()` elements; the core calls it only with `index <
    /// sample_count()`) and returns its label, or the error of the read.
    fn try_fetch(&self, index: usize, features: &mut [f32]) -> Result<usize, Self::Error>;
}

impl<D: Dataset + ?Sized> TryDataset for D {
    type Error = Error;
    fn sample_count(&self) -> usize {
        self.len()
    }
    fn feature_count(&self) -> usize {
        self.width()
    }
    fn class_count(&self) -> usize {
        self.classes()
    }
    fn try_fetch(&self, index: usize, features: &mut [f32]) -> Result<usize, Error> {
        Ok(self.fetch(index, features))
    }
}

/// Samples as rows of f32 in memory: row `i` is `features[i * width..(i + 1) * width]`.
///
/// ```
/// use sooth_core::{Dataset, SliceDataset};
/// let x = [0.0, 1.0, 1.0, 0.0];
/// let y: [u8; 2] = [1, 0];
/// let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
/// let mut row = [0.0; 2];
/// assert_eq!(data.fetch(1, &mut row), 0);
/// assert_eq!(row, [1.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SliceDataset<'a, L = u16> {
    features: &'a [f32],
    labels: &'a [L],
    width: usize,
    classes: usize,
}

impl<'a, L: Copy + Into<usize>> SliceDataset<'a, L> {
    /// Wraps rows and labels; checks that the lengths agree, that every
    /// feature is finite and every label below `classes`.
    pub fn new(
        features: &'a [f32],
        labels: &'a [L],
        width: usize,
        classes: usize,
    ) -> Result<Self, Error> {
        if width == 0 || classes < 2 {
            return Err(Error::InvalidShape);
        }
        crate::error::check_len(
            crate::error::Buffer::Features,
            labels.len() * width,
            features.len(),
        )?;
        for (index, (row, &label)) in features.chunks_exact(width).zip(labels).enumerate() {
            if !crate::kernels::all_finite(row) {
                return Err(Error::NonFiniteFeature { index });
            }
            let label: usize = label.into();
            if label >= classes {
                return Err(Error::LabelOutOfRange {
                    index,
                    label,
                    classes,
                });
            }
        }
        Ok(SliceDataset {
            features,
            labels,
            width,
            classes,
        })
    }
}

impl<L: Copy + Into<usize>> Dataset for SliceDataset<'_, L> {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn width(&self) -> usize {
        self.width
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        let start = index * self.width;
        features.copy_from_slice(&self.features[start..start + self.width]);
        self.labels[index].into()
    }
}

/// How many bits each feature takes in a [`PackedDataset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Packing {
    /// One byte per feature (levels 0..=255).
    U8,
    /// Two features per byte, the first in the low nibble (levels 0..=15);
    /// each row starts on a byte boundary.
    U4,
}

impl Packing {
    /// Bytes taken by one row of `width` features.
    pub const fn row_bytes(self, width: usize) -> usize {
        match self {
            Packing::U8 => width,
            Packing::U4 => width.div_ceil(2),
        }
    }
}

/// Quantized samples, e.g. in flash: feature `j` of a row with stored level
/// `q` is `q as f32 * scale + offset`, computed in f32 (two roundings, no
/// fused multiply-add), so a host holding the same values as f32 rows sees
/// the same bits. With `offset = 0` and a power-of-two `scale` the values are
/// exact.
///
/// ```
/// use sooth_core::{Dataset, PackedDataset, Packing};
/// // Two samples of three 4-bit features, levels / 16.
/// let bytes = [0x21, 0x03, 0xF0, 0x0A];
/// let labels = [0u8, 1];
/// let data = PackedDataset::new(&bytes, &labels, 3, 2, Packing::U4, 1.0 / 16.0, 0.0).unwrap();
/// let mut row = [0.0; 3];
/// assert_eq!(data.fetch(0, &mut row), 0);
/// assert_eq!(row, [1.0 / 16.0, 2.0 / 16.0, 3.0 / 16.0]);
/// assert_eq!(data.fetch(1, &mut row), 1);
/// assert_eq!(row, [0.0, 15.0 / 16.0, 10.0 / 16.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PackedDataset<'a> {
    bytes: &'a [u8],
    labels: &'a [u8],
    width: usize,
    classes: usize,
    packing: Packing,
    scale: f32,
    offset: f32,
}

impl<'a> PackedDataset<'a> {
    /// Wraps packed rows and labels; checks lengths, labels and that
    /// `scale` and `offset` are finite.
    pub fn new(
        bytes: &'a [u8],
        labels: &'a [u8],
        width: usize,
        classes: usize,
        packing: Packing,
        scale: f32,
        offset: f32,
    ) -> Result<Self, Error> {
        if width == 0 || classes < 2 {
            return Err(Error::InvalidShape);
        }
        if !scale.is_finite() || !offset.is_finite() {
            return Err(Error::InvalidHyperparameter {
                name: "packing scale/offset",
                expected: "finite values",
            });
        }
        let row = packing.row_bytes(width);
        if bytes.len() != labels.len() * row {
            return Err(Error::Format {
                offset: bytes.len().min(labels.len() * row),
                expected: "one packed row per label",
            });
        }
        for (index, &label) in labels.iter().enumerate() {
            if usize::from(label) >= classes {
                return Err(Error::LabelOutOfRange {
                    index,
                    label: label.into(),
                    classes,
                });
            }
        }
        Ok(PackedDataset {
            bytes,
            labels,
            width,
            classes,
            packing,
            scale,
            offset,
        })
    }
}

impl Dataset for PackedDataset<'_> {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn width(&self) -> usize {
        self.width
    }
    fn classes(&self) -> usize {
        self.classes
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        let row_bytes = self.packing.row_bytes(self.width);
        let row = &self.bytes[index * row_bytes..(index + 1) * row_bytes];
        let (scale, offset) = (self.scale, self.offset);
        match self.packing {
            Packing::U8 => {
                for (f, &q) in features.iter_mut().zip(row) {
                    *f = f32::from(q) * scale + offset;
                }
            }
            Packing::U4 => {
                for (j, f) in features.iter_mut().enumerate() {
                    let byte = row[j / 2];
                    let q = if j % 2 == 0 { byte & 0x0F } else { byte >> 4 };
                    *f = f32::from(q) * scale + offset;
                }
            }
        }
        usize::from(self.labels[index])
    }
}

/// Checks that `data` fits a network with `inputs` inputs and `outputs` classes.
pub(crate) fn check_compatible<D: TryDataset + ?Sized>(
    data: &D,
    inputs: usize,
    outputs: usize,
) -> Result<(), Error> {
    if data.feature_count() != inputs {
        return Err(Error::WidthMismatch {
            model: inputs,
            data: data.feature_count(),
        });
    }
    if data.class_count() != outputs {
        return Err(Error::ClassMismatch {
            model: outputs,
            data: data.class_count(),
        });
    }
    if data.sample_count() == 0 {
        return Err(Error::EmptyDataset);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_dataset_rejects_bad_input() {
        let x = [0.0f32; 6];
        assert!(matches!(
            SliceDataset::new(&x, &[0u16, 1], 2, 2),
            Err(Error::BufferLength {
                buffer: crate::Buffer::Features,
                expected: 4,
                actual: 6
            })
        ));
        assert!(matches!(
            SliceDataset::new(&x, &[0u16, 2, 1], 2, 2),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 2,
                classes: 2
            })
        ));
        let mut bad = x;
        bad[5] = f32::NAN;
        assert!(matches!(
            SliceDataset::new(&bad, &[0u16, 1, 1], 2, 2),
            Err(Error::NonFiniteFeature { index: 2 })
        ));
        assert!(SliceDataset::new(&x, &[0u16, 1, 1], 0, 2).is_err());
    }

    #[test]
    fn packed_u8_dequantizes_exactly() {
        let bytes = [0u8, 16, 8, 3, 255, 1];
        let data = PackedDataset::new(&bytes, &[2, 0], 3, 3, Packing::U8, 0.0625, 0.0).unwrap();
        let mut row = [0.0f32; 3];
        assert_eq!(data.fetch(0, &mut row), 2);
        assert_eq!(row, [0.0, 1.0, 0.5]);
        assert_eq!(data.fetch(1, &mut row), 0);
        assert_eq!(row, [0.1875, 15.9375, 0.0625]);
    }

    #[test]
    fn packed_rejects_bad_input() {
        assert!(matches!(
            PackedDataset::new(&[0u8; 5], &[0, 1], 3, 2, Packing::U8, 1.0, 0.0),
            Err(Error::Format { .. })
        ));
        assert!(matches!(
            PackedDataset::new(&[0u8; 4], &[0, 5], 3, 2, Packing::U4, 1.0, 0.0),
            Err(Error::LabelOutOfRange { index: 1, .. })
        ));
        assert!(PackedDataset::new(&[0u8; 4], &[0, 1], 3, 2, Packing::U4, f32::NAN, 0.0).is_err());
    }
}
