//! The one error type of the core: everything that input can cause.

use core::fmt;

/// Which caller-provided buffer an [`Error::BufferLength`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Buffer {
    /// The flat parameter vector.
    Params,
    /// The feature rows of an in-memory data set.
    Features,
    /// The flat gradient vector.
    Gradient,
    /// The activation workspace of the network.
    Workspace,
    /// The index storage of the sampler.
    Indices,
    /// The optimizer's state storage.
    OptimizerState,
    /// The class probabilities of one sample.
    Probabilities,
    /// The feature rows of a [`SampleStore`](crate::online::SampleStore).
    StoreFeatures,
    /// The labels of a [`SampleStore`](crate::online::SampleStore).
    StoreLabels,
    /// The byte buffer of an [`OnlineTrainer`](crate::online::OnlineTrainer)'s saved state.
    Snapshot,
}

/// Everything the core reports instead of panicking.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A network shape needs 2 to [`MAX_WIDTHS`](crate::MAX_WIDTHS) widths, all non-zero,
    /// and at least 2 outputs.
    InvalidShape,
    /// A caller-provided buffer has the wrong length.
    BufferLength {
        /// The buffer.
        buffer: Buffer,
        /// The length the call needs (the minimum, for workspaces and storage).
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The data set's samples have a different width than the network's input.
    WidthMismatch {
        /// The network's input width.
        model: usize,
        /// The data set's width.
        data: usize,
    },
    /// The data set has a different number of classes than the network's output.
    ClassMismatch {
        /// The network's output width.
        model: usize,
        /// The data set's class count.
        data: usize,
    },
    /// A sample's label is not below the number of classes.
    LabelOutOfRange {
        /// Index of the sample.
        index: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A sample's features contain NaN or an infinity.
    NonFiniteFeature {
        /// Index of the sample.
        index: usize,
    },
    /// A batch names a sample index at or beyond the data set's length.
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The data set's length.
        len: usize,
    },
    /// The data set has no samples.
    EmptyDataset,
    /// A batch has no indices.
    EmptyBatch,
    /// A batch size of 0, or larger than the data set.
    InvalidBatchSize {
        /// The batch size asked for.
        batch: usize,
        /// The data set's length.
        len: usize,
    },
    /// An online trainer was asked to train while its sample store holds
    /// fewer samples than one batch takes.
    TooFewSamples {
        /// Samples the store holds.
        held: usize,
        /// The batch size.
        batch: usize,
    },
    /// A hyperparameter is outside its valid range.
    InvalidHyperparameter {
        /// The hyperparameter's name.
        name: &'static str,
        /// What its range is, in words.
        expected: &'static str,
    },
    /// The dimension of the problem differs from the optimizer's.
    DimensionMismatch {
        /// The optimizer's dimension.
        expected: usize,
        /// The dimension given.
        actual: usize,
    },
    /// A saved model or packed data blob is malformed.
    Format {
        /// Byte offset where the problem was found.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
}

impl fmt::Display for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Buffer::Params => "parameter",
            Buffer::Features => "feature",
            Buffer::Gradient => "gradient",
            Buffer::Workspace => "workspace",
            Buffer::Indices => "index",
            Buffer::OptimizerState => "optimizer state",
            Buffer::Probabilities => "probability",
            Buffer::StoreFeatures => "sample store feature",
            Buffer::StoreLabels => "sample store label",
            Buffer::Snapshot => "saved state",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidShape => f.write_str(
                "invalid network shape: need 2 to 8 layer widths, all non-zero, with at least 2 outputs",
            ),
            Error::BufferLength {
                buffer,
                expected,
                actual,
            } => write!(
                f,
                "{buffer} buffer has length {actual}, expected {expected}"
            ),
            Error::WidthMismatch { model, data } => write!(
                f,
                "the data has {data} features per sample but the network expects {model}"
            ),
            Error::ClassMismatch { model, data } => write!(
                f,
                "the data has {data} classes but the network has {model} outputs"
            ),
            Error::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "sample {index} has label {label}, expected a label below {classes}"
            ),
            Error::NonFiniteFeature { index } => {
                write!(f, "sample {index} has a NaN or infinite feature")
            }
            Error::IndexOutOfRange { index, len } => write!(
                f,
                "batch index {index} is out of range for a data set of {len} samples"
            ),
            Error::EmptyDataset => f.write_str("the data set is empty"),
            Error::EmptyBatch => f.write_str("the batch is empty"),
            Error::InvalidBatchSize { batch, len } => write!(
                f,
                "batch size {batch} is invalid for a data set of {len} samples (expected 1..={len})"
            ),
            Error::TooFewSamples { held, batch } => write!(
                f,
                "the sample store holds {held} samples, fewer than one batch of {batch}: push more samples (or use a smaller batch) before training"
            ),
            Error::InvalidHyperparameter { name, expected } => {
                write!(f, "invalid {name}: expected {expected}")
            }
            Error::DimensionMismatch { expected, actual } => write!(
                f,
                "problem dimension {actual} differs from the optimizer's {expected}"
            ),
            Error::Format { offset, expected } => {
                write!(f, "malformed data at byte {offset}: expected {expected}")
            }
        }
    }
}

impl core::error::Error for Error {}

/// Checks that `actual == expected`, naming `buffer` otherwise.
pub(crate) fn check_len(buffer: Buffer, expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::BufferLength {
            buffer,
            expected,
            actual,
        })
    }
}

/// Checks that `actual >= expected`, naming `buffer` otherwise.
pub(crate) fn check_min_len(buffer: Buffer, expected: usize, actual: usize) -> Result<(), Error> {
    if actual >= expected {
        Ok(())
    } else {
        Err(Error::BufferLength {
            buffer,
            expected,
            actual,
        })
    }
}
