//! The adapt program: a model trained on the host meets data that arrive
//! on the device from a shifted distribution, and learns from them online.
//! The one definition the firmware's `adapt` binary and the host's replay
//! (`sooth adapt`) share, so the two cannot drift apart.
//!
//! * **The host model** ([`train_host_model`]): the reference network
//!   (64-16-10 relu) trained on the clean digits' training split by the
//!   reference SGD run ([`RUNS`]`[1]`) for [`HOST_EPOCHS`] epochs from the
//!   seed's initialization and sampler ([`seed_streams`]`(seed)`). The
//!   firmware builds in the one of [`SEED`], [`BUILT_IN_MODEL`] (written
//!   by `sooth adapt --save-model data/adapt/host-model.bin`; a test checks
//!   that training it again gives the same bytes).
//! * **The shift** ([`distort`]), as if the device's sensor sat one pixel
//!   off and read brighter: every 8x8 image moved one pixel right (its
//!   last column dropped, zeros shifted in on the left), then each level
//!   `l` (0..=16) becomes `l * 3 / 2 + 1` (integer division: a gain of 1.5
//!   and an offset of one level, so levels 1..=25). The host model never
//!   sees it; its accuracy on the shifted test split falls from about 96 %
//!   to about 43 %. Features are `level / 16`, as for the clean digits.
//! * **The stream**: the shifted training split in an order drawn from the
//!   seed (Fisher-Yates with the core's integer sampler, on the first
//!   stream of [`seed_streams`]`(seed ^ STREAM_SALT)`); the first
//!   [`ARRIVALS`] samples arrive, one at a time.
//! * **Held out**: the shifted test split (450 samples, disjoint from the
//!   stream), evaluated before adaptation and after every block of
//!   [`BLOCK`] arrivals.
//! * **Learning online** ([`run`]): each arrival goes into a ring
//!   ([`Store`], the latest [`CAPACITY`] samples as bytes); after each block
//!   the optimizer takes [`STEPS_PER_BLOCK`] steps on minibatches of
//!   [`BATCH_SIZE`] drawn uniformly with replacement from the ring (the
//!   second stream of `seed_streams(seed ^ STREAM_SALT)`). The optimizer's
//!   state (L-BFGS history, SGD momentum) carries over from block to block.
//!   Each of [`RUNS`] (L-BFGS m = 5, SGD) starts from the host model with
//!   a fresh optimizer and the same stream.

use super::{ACTIVATION, CLASSES, INPUTS, SHAPE, Start, digits};
use sooth_core::{
    BatchObjective, Curvature, Dataset, Error, Evaluation, Mlp, Optimizer, OptimizerConfig,
    TrainBuffers, param_hash, sampler, seed_streams,
};

pub use super::RUNS;

/// The seed of the firmware's adapt program (its built-in model and its
/// stream): the reference run's.
pub const SEED: u64 = super::SEED;
/// Mixed into the seed for the stream (order and minibatches), so that it
/// does not replay the host model's sampler.
pub const STREAM_SALT: u64 = 0x0ada_9701_5eed_0001;
/// Epochs of SGD that train the host model.
pub const HOST_EPOCHS: u32 = 10;
/// Samples that arrive on the device.
pub const ARRIVALS: u32 = 500;
/// Arrivals between two trainings (and two evaluations).
pub const BLOCK: u32 = 50;
/// Optimizer steps after each block.
pub const STEPS_PER_BLOCK: u32 = 10;
/// Samples per minibatch (fewer while the ring holds fewer).
pub const BATCH_SIZE: usize = 32;
/// Samples the ring keeps (the latest).
pub const CAPACITY: usize = 128;

/// Pixels moved right by the shift.
pub const SHIFT_RIGHT: usize = 1;
/// The host model of [`SEED`] in the saved-model format
/// (`data/adapt/host-model.bin`), built into the firmware.
pub const BUILT_IN_MODEL: &[u8] = include_bytes!("../../data/adapt/host-model.bin");
/// Gain of the shift: `level * GAIN_NUM / GAIN_DEN + OFFSET`.
pub const GAIN_NUM: u16 = 3;
/// See [`GAIN_NUM`].
pub const GAIN_DEN: u16 = 2;
/// See [`GAIN_NUM`].
pub const OFFSET: u16 = 1;

const SIDE: usize = 8;
const _: () = assert!(SIDE * SIDE == INPUTS);
const _: () = assert!(ARRIVALS.is_multiple_of(BLOCK) && ARRIVALS as usize <= digits::TRAIN_LEN);
const _: () = assert!(16 * GAIN_NUM / GAIN_DEN + OFFSET <= 255);

/// The shift of one image: `levels` (64 clean levels, row-major) into
/// `out`, integer-exact (see the module's docs).
pub fn distort(levels: &[u8], out: &mut [u8; INPUTS]) {
    for (i, o) in out.iter_mut().enumerate() {
        let (row, col) = (i / SIDE, i % SIDE);
        let level = if col >= SHIFT_RIGHT {
            u16::from(levels[row * SIDE + col - SHIFT_RIGHT])
        } else {
            0
        };
        *o = (level * GAIN_NUM / GAIN_DEN + OFFSET) as u8;
    }
}

/// A digits split seen through the shift, as a [`Dataset`]: sample `i` is
/// [`distort`] of the split's image `i`, features `level / 16`.
#[derive(Clone, Copy, Debug)]
pub struct Shifted<'a> {
    levels: &'a [u8],
    labels: &'a [u8],
}

impl<'a> Shifted<'a> {
    /// The shifted view of `levels` (64 per sample) and `labels`.
    pub fn new(levels: &'a [u8], labels: &'a [u8]) -> Result<Self, Error> {
        if levels.len() != labels.len() * INPUTS {
            return Err(Error::InvalidHyperparameter {
                name: "digits levels",
                expected: "64 levels per label",
            });
        }
        Ok(Shifted { levels, labels })
    }

    /// The shifted training split (the stream's source).
    pub fn train() -> Shifted<'static> {
        Shifted {
            levels: digits::TRAIN_LEVELS,
            labels: digits::TRAIN_LABELS,
        }
    }

    /// The shifted test split (the held-out samples).
    pub fn test() -> Shifted<'static> {
        Shifted {
            levels: digits::TEST_LEVELS,
            labels: digits::TEST_LABELS,
        }
    }

    /// Sample `index` as the device receives it: shifted levels and label.
    pub fn sample(&self, index: usize) -> ([u8; INPUTS], u8) {
        let mut out = [0; INPUTS];
        distort(&self.levels[index * INPUTS..(index + 1) * INPUTS], &mut out);
        (out, self.labels[index])
    }
}

impl Dataset for Shifted<'_> {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn width(&self) -> usize {
        INPUTS
    }
    fn classes(&self) -> usize {
        CLASSES
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        let (levels, label) = self.sample(index);
        for (f, &l) in features.iter_mut().zip(&levels) {
            *f = f32::from(l) * digits::LEVEL_SCALE;
        }
        usize::from(label)
    }
}

/// The ring of arrived samples: the latest [`CAPACITY`] as bytes (levels
/// and label), a [`Dataset`] of what it holds (features `level / 16`).
#[derive(Clone, Debug)]
pub struct Store {
    levels: [[u8; INPUTS]; CAPACITY],
    labels: [u8; CAPACITY],
    len: usize,
    next: usize,
}

impl Store {
    /// Empty.
    pub const fn new() -> Self {
        Store {
            levels: [[0; INPUTS]; CAPACITY],
            labels: [0; CAPACITY],
            len: 0,
            next: 0,
        }
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Keeps a sample, overwriting the oldest when full.
    pub fn push(&mut self, levels: &[u8; INPUTS], label: u8) {
        self.levels[self.next] = *levels;
        self.labels[self.next] = label;
        self.next = (self.next + 1) % CAPACITY;
        self.len = (self.len + 1).min(CAPACITY);
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Dataset for Store {
    fn len(&self) -> usize {
        self.len
    }
    fn width(&self) -> usize {
        INPUTS
    }
    fn classes(&self) -> usize {
        CLASSES
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        for (f, &l) in features.iter_mut().zip(&self.levels[index]) {
            *f = f32::from(l) * digits::LEVEL_SCALE;
        }
        usize::from(self.labels[index])
    }
}

/// The buffer lengths of the adaptation (L-BFGS needs the most optimizer state).
const OPTIMIZER_LEN: usize = {
    let a = RUNS[0].optimizer.storage_len(SHAPE.param_count());
    let b = RUNS[1].optimizer.storage_len(SHAPE.param_count());
    if a > b { a } else { b }
};

/// The memory of the adapt program: a `static` of the firmware, a boxed
/// value on the host.
#[derive(Clone, Debug)]
pub struct Storage {
    /// The parameters being adapted.
    pub params: [f32; SHAPE.param_count()],
    /// The network's workspace.
    pub work: [f32; SHAPE.workspace_len()],
    /// The optimizer's state.
    pub optimizer: [f32; OPTIMIZER_LEN],
    /// The stream's order (indices into the shifted training split).
    pub order: [u32; digits::TRAIN_LEN],
    /// One minibatch's indices into the ring.
    pub batch: [u32; BATCH_SIZE],
    /// The ring of arrived samples.
    pub store: Store,
}

impl Storage {
    /// All zeros (in `.bss` as a `static`).
    pub const fn new() -> Self {
        Storage {
            params: [0.0; SHAPE.param_count()],
            work: [0.0; SHAPE.workspace_len()],
            optimizer: [0.0; OPTIMIZER_LEN],
            order: [0; digits::TRAIN_LEN],
            batch: [0; BATCH_SIZE],
            store: Store::new(),
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self::new()
    }
}

/// The state after a block of arrivals (or before the first).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checkpoint {
    /// Samples arrived so far.
    pub arrivals: u32,
    /// Samples the ring holds.
    pub stored: u32,
    /// Optimizer steps so far.
    pub steps: u32,
    /// Mean over this block's steps of the batch loss at the step's start
    /// (NaN before the first block, or if no loss was finite).
    pub mean_batch_loss: f64,
    /// Objective calls so far.
    pub evaluations: u64,
    /// Gradient computations so far.
    pub gradients: u64,
    /// Steps so far that recovered from a non-finite value.
    pub recoveries: u32,
    /// Curvature pairs skipped so far.
    pub curvature_skips: u32,
    /// The held-out shifted samples now.
    pub test: Evaluation,
}

/// What an adaptation ends with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The last checkpoint (after all arrivals).
    pub last: Checkpoint,
    /// [`param_hash`] of the adapted parameters.
    pub param_hash: u64,
}

/// Trains the host model of `seed` into `buffers.params` (see the module's
/// docs) on `train` (the clean training split), evaluating `test` after
/// every epoch; returns the last epoch's outcome.
pub fn train_host_model<D, T>(
    seed: u64,
    buffers: TrainBuffers<'_>,
    train: &D,
    test: &T,
) -> Result<super::Outcome, Error>
where
    D: Dataset + ?Sized,
    T: Dataset + ?Sized,
{
    super::run_seeded(
        SHAPE,
        &RUNS[1],
        seed,
        HOST_EPOCHS,
        Start::Seeded,
        buffers,
        train,
        test,
        |_| {},
    )
}

/// One adaptation: the optimizer, the seed of the stream, and how many
/// samples arrive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// The optimizer (fresh at the start).
    pub optimizer: OptimizerConfig,
    /// The seed of the stream's order and minibatches.
    pub seed: u64,
    /// Samples that arrive: a multiple of [`BLOCK`], at most the training
    /// split's length. [`ARRIVALS`] in the firmware's release build; a
    /// shorter stream is a prefix of a longer one (same checkpoints).
    pub arrivals: u32,
}

/// Adapts the model `model` (the host model's parameters) as `setup` says
/// on the stream from `source` (the shifted training split), evaluating
/// `test` (the shifted test split) before and after every block;
/// `on_checkpoint` sees every checkpoint, the first at 0 arrivals.
pub fn run<T: Dataset + ?Sized>(
    setup: &Setup,
    model: &[f32],
    storage: &mut Storage,
    source: &Shifted<'_>,
    test: &T,
    mut on_checkpoint: impl FnMut(&Checkpoint),
) -> Result<Outcome, Error> {
    if !setup.arrivals.is_multiple_of(BLOCK) || setup.arrivals as usize > source.len() {
        return Err(Error::InvalidHyperparameter {
            name: "arrivals",
            expected: "a multiple of the block (50), at most the stream's source",
        });
    }
    if source.len() > digits::TRAIN_LEN {
        return Err(Error::InvalidHyperparameter {
            name: "stream source",
            expected: "at most as many samples as the digits' training split",
        });
    }
    let mlp = Mlp::new(SHAPE, ACTIVATION);
    let n = SHAPE.param_count();
    if model.len() != n {
        return Err(Error::BufferLength {
            buffer: sooth_core::Buffer::Params,
            expected: n,
            actual: model.len(),
        });
    }
    let Storage {
        params,
        work,
        optimizer: state,
        order,
        batch,
        store,
    } = storage;
    params.copy_from_slice(model);
    store.clear();
    let mut opt = setup.optimizer.build(n, state)?;
    let (mut order_rng, mut batch_rng) = seed_streams(setup.seed ^ STREAM_SALT);
    let order = &mut order[..source.len()];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u32;
    }
    sampler::shuffle(&mut order_rng, order);

    let mut point = Checkpoint {
        arrivals: 0,
        stored: 0,
        steps: 0,
        mean_batch_loss: f64::NAN,
        evaluations: 0,
        gradients: 0,
        recoveries: 0,
        curvature_skips: 0,
        test: mlp.evaluate(params, test, work)?,
    };
    on_checkpoint(&point);
    for block in order[..setup.arrivals as usize].chunks_exact(BLOCK as usize) {
        for &index in block {
            let (levels, label) = source.sample(index as usize);
            store.push(&levels, label);
        }
        let held = store.len();
        let size = BATCH_SIZE.min(held);
        let (mut loss_sum, mut loss_count) = (0.0f64, 0u32);
        for _ in 0..STEPS_PER_BLOCK {
            for slot in batch[..size].iter_mut() {
                *slot = sampler::uniform_below(&mut batch_rng, held as u32);
            }
            let mut objective = BatchObjective {
                mlp: &mlp,
                data: &*store,
                batch: &batch[..size],
                work,
                unchanged: false,
            };
            let report = opt.step(params, &mut objective)?;
            point.steps += 1;
            point.evaluations += u64::from(report.evaluations);
            point.gradients += u64::from(report.gradients);
            if report.loss.is_finite() {
                loss_sum += report.loss;
                loss_count += 1;
            }
            if matches!(report.status, sooth_core::Status::RecoveredNonFinite(_)) {
                point.recoveries += 1;
            }
            if report.curvature == Curvature::Skipped {
                point.curvature_skips += 1;
            }
        }
        point.arrivals += BLOCK;
        point.stored = held as u32;
        point.mean_batch_loss = if loss_count == 0 {
            f64::NAN
        } else {
            loss_sum / f64::from(loss_count)
        };
        point.test = mlp.evaluate(params, test, work)?;
        on_checkpoint(&point);
    }
    Ok(Outcome {
        last: point,
        param_hash: param_hash(params),
    })
}
