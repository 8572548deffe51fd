//! [`SampleStore`]: labelled samples that arrive at run time, in a fixed
//! capacity, kept by one of two [`Retention`] policies.

use crate::data::Dataset;
use crate::error::{Buffer, Error, check_min_len};
use crate::sampler::uniform_below;
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Which samples a full [`SampleStore`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Retention {
    /// The latest `capacity` samples (a ring): a new sample overwrites the
    /// oldest. The store's index `i` is the `i`-th oldest sample held.
    /// Draws no random numbers.
    Latest,
    /// A uniform sample of everything pushed so far (reservoir sampling,
    /// Vitter's Algorithm R): the `t`-th sample (from 0) fills slot `t` while
    /// `t < capacity`; after that it draws `j` uniformly in `0..=t` with
    /// [`uniform_below`] (one 32-bit draw while `t + 1 < 2^32`, a 64-bit
    /// Lemire draw after) and replaces slot `j` if `j < capacity`, else is
    /// dropped. Every sample seen is then held with probability
    /// `capacity / seen`. The store's index `i` is slot `i`.
    Reservoir,
}

/// What [`SampleStore::push`] did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PushOutcome {
    /// It went into a free slot (the store was not full).
    Added,
    /// It replaced a held sample (the oldest, or a random one for the reservoir).
    Replaced,
    /// The reservoir did not keep it (the store is unchanged).
    Dropped,
}

/// Labelled samples in caller-owned storage: `capacity` rows of `width`
/// features (`&mut [f32]`, at least `capacity * width`) and `capacity`
/// labels (`&mut [u16]`). Samples are checked when pushed (width, a label
/// below `classes`, finite features), so training on the store never fails
/// on its data. It is a [`Dataset`] of the samples it holds, so
/// [`Mlp::evaluate`](crate::Mlp::evaluate) and the loss work on it.
///
/// ```
/// use sooth_core::{Dataset, SeedableRng, Xoshiro256PlusPlus};
/// use sooth_core::online::{PushOutcome, Retention, SampleStore};
/// let (mut features, mut labels) = ([0.0f32; 3 * 2], [0u16; 3]);
/// let rng = Xoshiro256PlusPlus::seed_from_u64(1);
/// let mut store =
///     SampleStore::new(2, 2, 3, Retention::Latest, rng, &mut features, &mut labels).unwrap();
/// for k in 0..5 {
///     store.push(&[k as f32, 0.0], k % 2).unwrap();
/// }
/// assert_eq!((store.len(), store.seen()), (3, 5));
/// let mut row = [0.0; 2];
/// assert_eq!(store.fetch(0, &mut row), 0); // the oldest held: sample 2
/// assert_eq!(row, [2.0, 0.0]);
/// assert_eq!(store.push(&[f32::NAN, 0.0], 0).is_err(), true); // refused, nothing changes
/// assert_eq!(store.push(&[5.0, 0.0], 1), Ok(PushOutcome::Replaced));
/// ```
pub struct SampleStore<'a> {
    features: &'a mut [f32],
    labels: &'a mut [u16],
    width: usize,
    classes: usize,
    capacity: usize,
    retention: Retention,
    /// Samples held (`<= capacity`).
    held: usize,
    /// Samples accepted since the start (or the last `clear`).
    seen: u64,
    /// [`Retention::Latest`]: the slot the next sample goes to (the oldest
    /// held once full).
    next: usize,
    /// The reservoir's draws.
    rng: Xoshiro256PlusPlus,
}

impl<'a> SampleStore<'a> {
    /// Floats of feature storage for `capacity` samples of `width` features.
    pub const fn features_len(width: usize, capacity: usize) -> usize {
        width * capacity
    }

    /// An empty store of `capacity` samples of `width` features and labels
    /// below `classes`, over `features` (at least `capacity * width`) and
    /// `labels` (at least `capacity`). `rng` drives the reservoir (unused by
    /// [`Retention::Latest`]). Errors on `width == 0`, `classes` outside
    /// `2..=65536`, `capacity` outside `1..=u32::MAX`, and short storage.
    pub fn new(
        width: usize,
        classes: usize,
        capacity: usize,
        retention: Retention,
        rng: Xoshiro256PlusPlus,
        features: &'a mut [f32],
        labels: &'a mut [u16],
    ) -> Result<Self, Error> {
        if width == 0 || !(2..=1 << 16).contains(&classes) {
            return Err(Error::InvalidShape);
        }
        if capacity == 0 || capacity > u32::MAX as usize {
            return Err(Error::InvalidHyperparameter {
                name: "sample store capacity",
                expected: "1..=4294967295 samples",
            });
        }
        let rows = width
            .checked_mul(capacity)
            .ok_or(Error::InvalidHyperparameter {
                name: "sample store capacity",
                expected: "capacity * width within usize",
            })?;
        check_min_len(Buffer::StoreFeatures, rows, features.len())?;
        check_min_len(Buffer::StoreLabels, capacity, labels.len())?;
        Ok(SampleStore {
            features: &mut features[..rows],
            labels: &mut labels[..capacity],
            width,
            classes,
            capacity,
            retention,
            held: 0,
            seen: 0,
            next: 0,
            rng,
        })
    }

    /// Checks `features` and `label` and stores them by the retention
    /// policy. A refused sample (a wrong width, a label not below
    /// `classes`, a NaN or infinite feature: the error's `index` is
    /// [`seen`](Self::seen)) changes nothing and draws nothing.
    pub fn push(&mut self, features: &[f32], label: usize) -> Result<PushOutcome, Error> {
        let index = usize::try_from(self.seen).unwrap_or(usize::MAX);
        if features.len() != self.width {
            return Err(Error::WidthMismatch {
                model: self.width,
                data: features.len(),
            });
        }
        if label >= self.classes {
            return Err(Error::LabelOutOfRange {
                index,
                label,
                classes: self.classes,
            });
        }
        if !crate::kernels::all_finite(features) {
            return Err(Error::NonFiniteFeature { index });
        }
        let t = self.seen;
        self.seen = self.seen.saturating_add(1);
        let (slot, outcome) = match self.retention {
            Retention::Latest => {
                let slot = self.next;
                self.next = if slot + 1 == self.capacity {
                    0
                } else {
                    slot + 1
                };
                if self.held < self.capacity {
                    self.held += 1;
                    (slot, PushOutcome::Added)
                } else {
                    (slot, PushOutcome::Replaced)
                }
            }
            Retention::Reservoir => {
                if self.held < self.capacity {
                    self.held += 1;
                    (self.held - 1, PushOutcome::Added)
                } else {
                    let j = uniform_below_u64(&mut self.rng, t.saturating_add(1));
                    if j >= self.capacity as u64 {
                        return Ok(PushOutcome::Dropped);
                    }
                    (j as usize, PushOutcome::Replaced)
                }
            }
        };
        self.features[slot * self.width..(slot + 1) * self.width].copy_from_slice(features);
        // `classes <= 65536`, so the label fits.
        self.labels[slot] = label as u16;
        Ok(outcome)
    }

    /// Forgets every sample (the counters start again from 0; the
    /// reservoir's random stream goes on).
    pub fn clear(&mut self) {
        self.held = 0;
        self.seen = 0;
        self.next = 0;
    }

    /// The slot of the store's index `i` (`i < held`).
    fn slot(&self, i: usize) -> usize {
        match self.retention {
            Retention::Latest if self.held == self.capacity => {
                let s = self.next + i;
                if s >= self.capacity {
                    s - self.capacity
                } else {
                    s
                }
            }
            _ => i,
        }
    }

    /// Sample `i` (`i < len()`, in the store's order: oldest first for
    /// [`Retention::Latest`]) as its features and label; `None` beyond.
    pub fn sample(&self, i: usize) -> Option<(&[f32], usize)> {
        if i >= self.held {
            return None;
        }
        let slot = self.slot(i);
        Some((
            &self.features[slot * self.width..(slot + 1) * self.width],
            usize::from(self.labels[slot]),
        ))
    }

    /// Samples held (`<= capacity`).
    pub fn len(&self) -> usize {
        self.held
    }

    /// True if the store holds no sample.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The most samples the store holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Samples accepted since the start (or the last [`clear`](Self::clear)),
    /// kept or not.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The retention policy.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// True once the store holds `capacity` samples.
    pub fn is_full(&self) -> bool {
        self.held == self.capacity
    }

    // For the saved state (`snapshot`).
    pub(crate) fn raw(&self) -> (&[f32], &[u16], usize, u64, usize, &Xoshiro256PlusPlus) {
        (
            self.features,
            self.labels,
            self.held,
            self.seen,
            self.next,
            &self.rng,
        )
    }

    // For the saved state: `features` and `labels` are checked by the caller.
    pub(crate) fn raw_mut(&mut self) -> (&mut [f32], &mut [u16]) {
        (self.features, self.labels)
    }

    /// Sets the counters and the stream (checked by the caller).
    pub(crate) fn set_counters(
        &mut self,
        held: usize,
        seen: u64,
        next: usize,
        rng: Xoshiro256PlusPlus,
    ) {
        self.held = held;
        self.seen = seen;
        self.next = next;
        self.rng = rng;
    }
}

impl Dataset for SampleStore<'_> {
    fn len(&self) -> usize {
        self.held
    }
    fn width(&self) -> usize {
        self.width
    }
    fn classes(&self) -> usize {
        self.classes
    }
    /// Writes sample `index` (in the store's order). Beyond `len()` (which
    /// the core never asks for) it writes zeros and returns `classes()`, a
    /// label the core refuses, rather than panicking.
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        match self.sample(index) {
            Some((row, label)) if row.len() == features.len() => {
                features.copy_from_slice(row);
                label
            }
            _ => {
                features.fill(0.0);
                self.classes
            }
        }
    }
}

/// A uniform integer in `0..range` (`range >= 1`): [`uniform_below`] (one
/// 32-bit draw, Lemire) when `range` fits in 32 bits, else Lemire's method
/// on 64-bit draws (`u128` products).
pub(crate) fn uniform_below_u64(rng: &mut Xoshiro256PlusPlus, range: u64) -> u64 {
    if let Ok(small) = u32::try_from(range) {
        return u64::from(uniform_below(rng, small));
    }
    let mut m = u128::from(rng.next_u64()) * u128::from(range);
    if (m as u64) < range {
        let threshold = range.wrapping_neg() % range;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(range);
        }
    }
    (m >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn uniform_below_u64_is_in_range_and_matches_the_32_bit_draw() {
        let mut a = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut b = a.clone();
        for range in [1u64, 2, 7, 1000, u64::from(u32::MAX)] {
            assert_eq!(
                uniform_below_u64(&mut a, range),
                u64::from(uniform_below(&mut b, range as u32))
            );
        }
        // Beyond 32 bits: in range, and reaching the upper half.
        let range = 3 * (1u64 << 40) + 5;
        let mut high = 0;
        for _ in 0..1000 {
            let v = uniform_below_u64(&mut a, range);
            assert!(v < range);
            high += u32::from(v >= range / 2);
        }
        // Binomial(1000, 1/2): mean 500, sd 15.8; 6 sd.
        assert!((405..=595).contains(&high), "{high}");
    }
}
