//! Minibatch sampling with integer-only arithmetic, so that a seed gives the
//! same index sequence on every platform.
//!
//! The generator is xoshiro256++ (`rand_xoshiro`); ranges are reduced with
//! Lemire's multiply-and-reject method on 32-bit draws, which is unbiased and
//! uses integers only.

use crate::error::{Buffer, Error, check_min_len};
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// How batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sampling {
    /// Each epoch visits a fresh Fisher-Yates permutation of all samples,
    /// cut into batches (without replacement). A batch size equal to the data
    /// set's length is the full batch, served in index order.
    Shuffle,
    /// Each batch draws its indices uniformly with replacement; an epoch is
    /// as many batches as [`Shuffle`](Sampling::Shuffle) would make.
    WithReplacement,
}

/// What to do with the last batch of an epoch when the batch size does not
/// divide the data set's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LastBatch {
    /// Serve it, smaller than the others.
    Keep,
    /// Skip it; each epoch has `len / batch` full batches.
    Drop,
}

/// A uniformly distributed integer in `0..range` (`range >= 1`), by Lemire's
/// method: the high half of `x * range` for a 32-bit draw `x`, rejecting the
/// few draws that would bias the result.
///
/// ```
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// use rand_core::SeedableRng;
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
/// let k = sooth_core::sampler::uniform_below(&mut rng, 10);
/// assert!(k < 10);
/// ```
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, range: u32) -> u32 {
    debug_assert!(range > 0);
    let mut m = u64::from(rng.next_u32()) * u64::from(range);
    if (m as u32) < range {
        let threshold = range.wrapping_neg() % range;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(range);
        }
    }
    (m >> 32) as u32
}

/// Shuffles `items` in place (Fisher-Yates, from the back).
pub fn shuffle<R: Rng + ?Sized>(rng: &mut R, items: &mut [u32]) {
    for i in (1..items.len()).rev() {
        let j = uniform_below(rng, i as u32 + 1) as usize;
        items.swap(i, j);
    }
}

/// Cuts epochs into minibatches of sample indices, in caller-provided storage.
pub struct Sampler<'a> {
    rng: Xoshiro256PlusPlus,
    indices: &'a mut [u32],
    len: usize,
    batch: usize,
    sampling: Sampling,
    last: LastBatch,
    /// Batches served in the current epoch.
    served: usize,
}

impl<'a> Sampler<'a> {
    /// Index storage that [`Sampler::new`] needs: `len` for
    /// [`Sampling::Shuffle`], `batch` for [`Sampling::WithReplacement`].
    pub const fn storage_len(len: usize, batch: usize, sampling: Sampling) -> usize {
        match sampling {
            Sampling::Shuffle => len,
            Sampling::WithReplacement => batch,
        }
    }

    /// A sampler over `len` samples. Errors on `len == 0`, on `batch == 0` or
    /// `batch > len`, on `len` beyond `u32`, and on too little storage.
    pub fn new(
        len: usize,
        batch: usize,
        sampling: Sampling,
        last: LastBatch,
        rng: Xoshiro256PlusPlus,
        storage: &'a mut [u32],
    ) -> Result<Self, Error> {
        if len == 0 {
            return Err(Error::EmptyDataset);
        }
        if batch == 0 || batch > len || len > u32::MAX as usize {
            return Err(Error::InvalidBatchSize { batch, len });
        }
        let need = Self::storage_len(len, batch, sampling);
        check_min_len(Buffer::Indices, need, storage.len())?;
        let indices = &mut storage[..need];
        if sampling == Sampling::Shuffle {
            for (i, slot) in indices.iter_mut().enumerate() {
                *slot = i as u32;
            }
        }
        Ok(Sampler {
            rng,
            indices,
            len,
            batch,
            sampling,
            last,
            served: usize::MAX,
        })
    }

    /// The number of samples the sampler draws from.
    pub fn data_len(&self) -> usize {
        self.len
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// True if every batch is the whole data set in index order.
    pub fn is_full_batch(&self) -> bool {
        self.sampling == Sampling::Shuffle && self.batch == self.len
    }

    /// Number of batches in each epoch.
    pub fn batches_per_epoch(&self) -> usize {
        match self.last {
            LastBatch::Keep => self.len.div_ceil(self.batch),
            LastBatch::Drop => self.len / self.batch,
        }
    }

    /// Starts a new epoch: reshuffles (unless full batch).
    pub fn start_epoch(&mut self) {
        if self.sampling == Sampling::Shuffle && !self.is_full_batch() {
            shuffle(&mut self.rng, self.indices);
        }
        self.served = 0;
    }

    /// The next batch of the epoch, or `None` when the epoch is over
    /// (or not started).
    pub fn next_batch(&mut self) -> Option<&[u32]> {
        if self.served >= self.batches_per_epoch() {
            return None;
        }
        let k = self.served;
        self.served += 1;
        match self.sampling {
            Sampling::Shuffle => {
                let start = k * self.batch;
                let end = (start + self.batch).min(self.len);
                Some(&self.indices[start..end])
            }
            Sampling::WithReplacement => {
                let size = if k * self.batch + self.batch > self.len {
                    self.len - k * self.batch
                } else {
                    self.batch
                };
                for slot in self.indices[..size].iter_mut() {
                    *slot = uniform_below(&mut self.rng, self.len as u32);
                }
                Some(&self.indices[..size])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    #[test]
    fn uniform_below_covers_small_ranges_evenly() {
        let mut r = rng(1);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[uniform_below(&mut r, 6) as usize] += 1;
        }
        // Each count is Binomial(60000, 1/6): mean 10000, sd ~91; 6 sd bounds.
        for c in counts {
            assert!((9_450..=10_550).contains(&c), "{counts:?}");
        }
        assert_eq!(uniform_below(&mut r, 1), 0);
    }

    #[test]
    fn uniform_below_handles_the_largest_range() {
        let mut r = rng(2);
        for _ in 0..1000 {
            let _ = uniform_below(&mut r, u32::MAX);
        }
    }

    #[test]
    fn bad_batch_sizes_are_errors() {
        let mut storage = [0u32; 10];
        for (len, batch) in [(10, 0), (10, 11)] {
            assert!(matches!(
                Sampler::new(
                    len,
                    batch,
                    Sampling::Shuffle,
                    LastBatch::Keep,
                    rng(0),
                    &mut storage
                ),
                Err(Error::InvalidBatchSize { .. })
            ));
        }
        assert!(matches!(
            Sampler::new(
                0,
                1,
                Sampling::Shuffle,
                LastBatch::Keep,
                rng(0),
                &mut storage
            ),
            Err(Error::EmptyDataset)
        ));
        assert!(matches!(
            Sampler::new(
                11,
                2,
                Sampling::Shuffle,
                LastBatch::Keep,
                rng(0),
                &mut storage
            ),
            Err(Error::BufferLength { .. })
        ));
    }
}
