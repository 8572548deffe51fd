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
//!   to about 41 % (seeds 1-10). Features are `level / 16`, as for the clean digits.
//! * **The stream**: the shifted training split in an order drawn from the
//!   seed (Fisher-Yates with the core's integer sampler, on the first
//!   stream of [`seed_streams`]`(seed ^ STREAM_SALT)`); the first
//!   [`ARRIVALS`] samples arrive, one at a time.
//! * **Held out**: the shifted test split (450 samples, disjoint from the
//!   stream), evaluated before adaptation and after every block of
//!   [`BLOCK`] arrivals.
//! * **Learning online** ([`run`]): the core's [`OnlineTrainer`]. Each
//!   arrival is pushed into its store (a ring: the latest [`CAPACITY`]
//!   samples); after each block it trains [`STEPS_PER_BLOCK`] optimizer
//!   steps on minibatches of [`BATCH_SIZE`] drawn from the store (the
//!   trainer's rule, from the second stream of
//!   `seed_streams(seed ^ STREAM_SALT)`). The optimizer's state (L-BFGS
//!   history, SGD momentum) carries over from block to block. Each of
//!   [`RUNS`] (L-BFGS m = 5, SGD) starts from the host model with a fresh
//!   optimizer, an empty store and the same stream.

use super::{ACTIVATION, CLASSES, INPUTS, SHAPE, Start, digits};
use sooth_core::{
    Dataset, Error, Evaluation, Mlp, OnlineBuffers, OnlineLengths, OnlineSetup, OnlineTrainer,
    OptimizerConfig, Retention, SavedModel, TrainBuffers, param_hash, sampler, seed_streams,
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
/// Samples per minibatch.
pub const BATCH_SIZE: usize = 32;
/// Samples the store keeps (the latest): 64 rows of 64 f32, 16 KiB.
pub const CAPACITY: usize = 64;

/// Pixels moved right by the shift.
pub const SHIFT_RIGHT: usize = 1;
/// Gain of the shift: `level * GAIN_NUM / GAIN_DEN + OFFSET`.
pub const GAIN_NUM: u16 = 3;
/// See [`GAIN_NUM`].
pub const GAIN_DEN: u16 = 2;
/// See [`GAIN_NUM`].
pub const OFFSET: u16 = 1;

/// The host model of [`SEED`] in the saved-model format
/// (`data/adapt/host-model.bin`), built into the firmware.
pub const BUILT_IN_MODEL: &[u8] = include_bytes!("../../data/adapt/host-model.bin");

const SIDE: usize = 8;
const _: () = assert!(SIDE * SIDE == INPUTS);
const _: () = assert!(ARRIVALS.is_multiple_of(BLOCK) && ARRIVALS as usize <= digits::TRAIN_LEN);
// The first block fills at least one batch.
const _: () = assert!(BLOCK as usize >= BATCH_SIZE && BATCH_SIZE <= CAPACITY);
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

/// The online setup of one of [`RUNS`]' optimizers.
pub const fn online_setup(optimizer: OptimizerConfig) -> OnlineSetup {
    OnlineSetup {
        optimizer,
        capacity: CAPACITY,
        retention: Retention::Latest,
        batch_size: BATCH_SIZE,
    }
}

/// The buffer lengths that fit every run of [`RUNS`] (L-BFGS needs the
/// most optimizer state).
pub const LENGTHS: OnlineLengths = {
    const fn max(a: usize, b: usize) -> usize {
        if a > b { a } else { b }
    }
    let mut lengths = online_setup(RUNS[0].optimizer).buffer_lengths(&SHAPE);
    let mut i = 1;
    while i < RUNS.len() {
        let other = online_setup(RUNS[i].optimizer).buffer_lengths(&SHAPE);
        lengths.work = max(lengths.work, other.work);
        lengths.optimizer = max(lengths.optimizer, other.optimizer);
        lengths.indices = max(lengths.indices, other.indices);
        lengths.samples = max(lengths.samples, other.samples);
        lengths.labels = max(lengths.labels, other.labels);
        lengths.snapshot = max(lengths.snapshot, other.snapshot);
        i += 1;
    }
    lengths
};

/// The memory of the adapt program: a `static` of the firmware, a boxed
/// value on the host.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Parameters, workspace, optimizer state and stored features
    /// ([`OnlineBuffers::split`]).
    pub floats: [f32; LENGTHS.floats()],
    /// The trainer's batch indices.
    pub indices: [u32; LENGTHS.indices],
    /// The store's labels.
    pub labels: [u16; LENGTHS.labels],
    /// The stream's order (indices into the shifted training split).
    pub order: [u32; digits::TRAIN_LEN],
}

impl Storage {
    /// All zeros (in `.bss` as a `static`).
    pub const fn new() -> Self {
        Storage {
            floats: [0.0; LENGTHS.floats()],
            indices: [0; LENGTHS.indices],
            labels: [0; LENGTHS.labels],
            order: [0; digits::TRAIN_LEN],
        }
    }

    /// Evaluates `model` on `data` in this storage (before any adaptation:
    /// the firmware's report of its built-in model).
    pub fn evaluate_model<D: Dataset + ?Sized>(
        &mut self,
        model: &SavedModel<'_>,
        data: &D,
    ) -> Result<Evaluation, Error> {
        let buffers = model_buffers(&mut self.floats, &mut self.indices, &mut self.labels, model)?;
        Mlp::new(SHAPE, ACTIVATION).evaluate(buffers.params, data, buffers.work)
    }
}

/// The trainer's buffers in `storage`, with `model`'s parameters read in
/// (which must be the reference network on unscaled digits).
fn model_buffers<'s>(
    floats: &'s mut [f32],
    indices: &'s mut [u32],
    labels: &'s mut [u16],
    model: &SavedModel<'_>,
) -> Result<OnlineBuffers<'s>, Error> {
    let mlp = model.mlp();
    if mlp.shape() != SHAPE || mlp.activation() != ACTIVATION || model.has_transform() {
        return Err(Error::InvalidHyperparameter {
            name: "model",
            expected: "the reference network (64-16-10 relu) on unscaled digits",
        });
    }
    let buffers = OnlineBuffers::split(&LENGTHS, floats, indices, labels)?;
    model.read_params(buffers.params)?;
    Ok(buffers)
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
    /// Samples the store holds.
    pub stored: u32,
    /// Optimizer steps so far.
    pub steps: u64,
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

/// Adapts `model` (the host model, the reference network) as `setup` says
/// on the stream from `source` (the shifted training split), evaluating
/// `test` (the shifted test split) before and after every block;
/// `on_checkpoint` sees every checkpoint, the first at 0 arrivals.
pub fn run<T: Dataset + ?Sized>(
    setup: &Setup,
    model: &SavedModel<'_>,
    storage: &mut Storage,
    source: &Shifted<'_>,
    test: &T,
    mut on_checkpoint: impl FnMut(&Checkpoint),
) -> Result<Outcome, Error> {
    let len = source.len();
    if !setup.arrivals.is_multiple_of(BLOCK) || setup.arrivals as usize > len.min(digits::TRAIN_LEN)
    {
        return Err(Error::InvalidHyperparameter {
            name: "arrivals",
            expected: "a multiple of the block (50), at most the stream's source (at most 1347)",
        });
    }
    let (mut order_rng, batch_rng) = seed_streams(setup.seed ^ STREAM_SALT);
    // The stream: the source in a uniform random order (Fisher-Yates), cut
    // to the arrivals (so a shorter stream is a prefix of a longer one).
    let Storage {
        floats,
        indices,
        labels,
        order,
    } = storage;
    let order = &mut order[..len];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u32;
    }
    sampler::shuffle(&mut order_rng, order);
    let mlp = Mlp::new(SHAPE, ACTIVATION);
    let online = online_setup(setup.optimizer);
    let mut trainer = OnlineTrainer::new(
        mlp,
        &online,
        batch_rng,
        model_buffers(floats, indices, labels, model)?,
    )?;
    let mut point = Checkpoint {
        arrivals: 0,
        stored: 0,
        steps: 0,
        mean_batch_loss: f64::NAN,
        evaluations: 0,
        gradients: 0,
        recoveries: 0,
        curvature_skips: 0,
        test: trainer.evaluate(test)?,
    };
    on_checkpoint(&point);
    for block in order[..setup.arrivals as usize].chunks_exact(BLOCK as usize) {
        for &index in block {
            trainer.push_from(source, index as usize)?;
        }
        let report = trainer.train(STEPS_PER_BLOCK)?;
        let (steps, evaluations, gradients) = trainer.counts();
        point.arrivals += BLOCK;
        point.stored = trainer.store().len() as u32;
        point.steps = steps;
        point.evaluations = evaluations;
        point.gradients = gradients;
        point.mean_batch_loss = report.mean_batch_loss;
        point.recoveries += report.recoveries;
        point.curvature_skips += report.curvature_skips;
        point.test = trainer.evaluate(test)?;
        on_checkpoint(&point);
    }
    Ok(Outcome {
        last: point,
        param_hash: param_hash(trainer.params()),
    })
}
