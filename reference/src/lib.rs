//! The reference training run: every setting of the firmware's run, and the
//! run itself, in ONE place that every side depends on through Cargo. The
//! firmware runs it on the digits in flash; the host's determinism test
//! (`tests/firmware.rs`) runs it on f32 rows and expects the firmware's
//! bits; `sooth export` checks models against its shape. `no_std`, no
//! allocation: only `core` and `sooth_core` items are used here (feature
//! `defmt`: the core's `defmt` feature, for firmware logs).
//!
//! The runs (optimizers) are the table [`RUNS`].
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

use sooth_core::{
    Activation, BufferLengths, Dataset, EpochReport, Error, LastBatch, LbfgsConfig, Mlp,
    OptimizerConfig, PairPrecision, Peak, Sampling, SgdConfig, Shape, TrainBuffers, TrainOptions,
    TrainSetup, Trainer, param_hash, seed_streams,
};

/// Seed of the run (parameter initialization and sampler streams).
pub const SEED: u64 = 20_230_721;
/// Input features: the 8x8 pixels of a digit.
pub const INPUTS: usize = 64;
/// Hidden units: small enough that L-BFGS with m = 5 (12 n floats of state
/// since the trim, 14 n before) fits a 128 KiB part.
pub const HIDDEN: usize = 16;
/// Classes: the digits 0-9.
pub const CLASSES: usize = 10;
/// Hidden activation (initialized with its default, He uniform).
pub const ACTIVATION: Activation = Activation::Relu;
/// Minibatch size.
pub const BATCH_SIZE: usize = 32;
/// How batches are drawn.
pub const SAMPLING: Sampling = Sampling::Shuffle;
/// The 1347 training samples give 42 full batches of 32; the last 3 are
/// dropped (a different 3 every epoch).
pub const LAST_BATCH: LastBatch = LastBatch::Drop;
/// Epochs of the run.
pub const EPOCHS: u32 = 20;

/// The network's shape, 64-16-10.
pub const SHAPE: Shape = match Shape::new(&[INPUTS, HIDDEN, CLASSES]) {
    Ok(shape) => shape,
    Err(_) => panic!("invalid network shape"),
};
/// Number of parameters (1210).
pub const PARAM_COUNT: usize = SHAPE.param_count();

/// One training run of the firmware: a name for the logs and the optimizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceRun {
    /// Short name, as the logs print it.
    pub name: &'static str,
    /// The optimizer and its settings.
    pub optimizer: OptimizerConfig,
}

/// Curvature pairs kept by L-BFGS.
pub const HISTORY: usize = 5;
/// Learning rate of SGD.
pub const LEARNING_RATE: f32 = 0.1;
/// Heavy-ball momentum of SGD.
pub const MOMENTUM: f32 = 0.9;

/// The runs, in order: minibatch L-BFGS (m = 5, strong Wolfe line search,
/// same-batch curvature pairs), then SGD (lr 0.1, heavy-ball momentum 0.9).
/// Each starts from the same initialization.
pub const RUNS: [ReferenceRun; 2] = [
    ReferenceRun {
        name: "lbfgs",
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(HISTORY)),
    },
    ReferenceRun {
        name: "sgd",
        optimizer: OptimizerConfig::Sgd(SgdConfig {
            momentum: MOMENTUM,
            ..SgdConfig::new(LEARNING_RATE)
        }),
    },
];

impl ReferenceRun {
    /// The run's [`TrainSetup`]: its optimizer with [`BATCH_SIZE`],
    /// [`SAMPLING`], [`LAST_BATCH`] and the default options.
    pub const fn setup(&self) -> TrainSetup {
        TrainSetup {
            optimizer: self.optimizer,
            batch_size: BATCH_SIZE,
            sampling: SAMPLING,
            last_batch: LAST_BATCH,
            options: TrainOptions::NONE,
        }
    }
}

/// The built-in digits data (`data/digits/`): pixel levels 0..=16, one byte
/// each, row-major; feature value = level / 16.
pub mod digits {
    /// Training pixel levels, 1347 x 64.
    pub const TRAIN_LEVELS: &[u8] = include_bytes!("../../data/digits/train-levels.u8");
    /// Training labels 0..=9.
    pub const TRAIN_LABELS: &[u8] = include_bytes!("../../data/digits/train-labels.u8");
    /// Test pixel levels, 450 x 64.
    pub const TEST_LEVELS: &[u8] = include_bytes!("../../data/digits/test-levels.u8");
    /// Test labels 0..=9.
    pub const TEST_LABELS: &[u8] = include_bytes!("../../data/digits/test-labels.u8");
    /// Number of training samples.
    pub const TRAIN_LEN: usize = TRAIN_LABELS.len();
    /// Feature value of one level.
    pub const LEVEL_SCALE: f32 = 1.0 / 16.0;
}

/// The buffer lengths that fit every run of [`RUNS`] and [`FINE_TUNE`] on
/// the digits (L-BFGS needs the most optimizer state:
/// `(2 m + 2) n + m + 16` floats): `static` arrays of the firmware, vectors
/// of the host's tests.
pub const LENGTHS: BufferLengths = {
    let mut lengths = FINE_TUNE.setup().buffer_lengths(&SHAPE, digits::TRAIN_LEN);
    let mut i = 0;
    while i < RUNS.len() {
        lengths = lengths.max(RUNS[i].setup().buffer_lengths(&SHAPE, digits::TRAIN_LEN));
        i += 1;
    }
    lengths
};

/// The memory of a reference run, as fixed-size arrays of [`LENGTHS`]: a
/// `static` of the firmware, a boxed value on the host.
pub type RunStorage =
    Storage<{ LENGTHS.params }, { LENGTHS.work }, { LENGTHS.indices }, { LENGTHS.optimizer }>;

/// The memory of a run as fixed-size arrays: `PARAMS` floats of parameters,
/// `WORK` of workspace, `INDICES` sampler indices, `OPTIMIZER` floats of
/// optimizer state (the fields of a [`BufferLengths`]; [`RunStorage`] and
/// [`large::Storage`] name them).
#[derive(Clone, Debug)]
pub struct Storage<
    const PARAMS: usize,
    const WORK: usize,
    const INDICES: usize,
    const OPTIMIZER: usize,
> {
    /// The parameters; the trained parameters end up here.
    pub params: [f32; PARAMS],
    /// The network's workspace.
    pub work: [f32; WORK],
    /// The sampler's indices.
    pub indices: [u32; INDICES],
    /// The optimizer's state.
    pub optimizer: [f32; OPTIMIZER],
}

impl<const PARAMS: usize, const WORK: usize, const INDICES: usize, const OPTIMIZER: usize>
    Storage<PARAMS, WORK, INDICES, OPTIMIZER>
{
    /// All zeros (in `.bss` as a `static`).
    pub const fn new() -> Self {
        Storage {
            params: [0.0; PARAMS],
            work: [0.0; WORK],
            indices: [0; INDICES],
            optimizer: [0.0; OPTIMIZER],
        }
    }

    /// The storage as the core's [`TrainBuffers`].
    pub fn buffers(&mut self) -> TrainBuffers<'_> {
        TrainBuffers {
            params: &mut self.params,
            work: &mut self.work,
            indices: &mut self.indices,
            optimizer: &mut self.optimizer,
            selected: None,
        }
    }
}

impl<const PARAMS: usize, const WORK: usize, const INDICES: usize, const OPTIMIZER: usize> Default
    for Storage<PARAMS, WORK, INDICES, OPTIMIZER>
{
    fn default() -> Self {
        Self::new()
    }
}

const _: () = assert!(EPOCHS >= 1 && BATCH_SIZE <= digits::TRAIN_LEN);
const _: () = assert!(LENGTHS.params == PARAM_COUNT);

/// What a run ends with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The report of the last epoch (its `test` is the final test evaluation).
    pub last: EpochReport,
    /// The best test accuracy and the first epoch that reached it.
    pub peak: Peak,
    /// [`param_hash`] of the final parameters.
    pub param_hash: u64,
}

/// Where a run's parameters start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The seeded initialization of [`SEED`].
    Seeded,
    /// The parameters already in the buffer (e.g. a model's).
    AsGiven,
}

/// Epochs of fine-tuning a model built into the firmware.
pub const FINE_TUNE_EPOCHS: u32 = 5;

/// Fine-tuning of a model built into the firmware: L-BFGS as in [`RUNS`],
/// for [`FINE_TUNE_EPOCHS`] epochs, from the model's parameters.
pub const FINE_TUNE: ReferenceRun = ReferenceRun {
    name: "finetune",
    optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(HISTORY)),
};

/// Runs one training of `spec`'s optimizer for `epochs` epochs on `train`
/// with the shared [`Trainer`] from `start` ([`Start::Seeded`]: the
/// initialization of [`SEED`]), evaluating `test` after each epoch and
/// calling `on_epoch` with every report. The reference runs are
/// `run_from(spec, EPOCHS, Start::Seeded, ...)` for each of [`RUNS`]. The
/// sampler's stream comes from [`SEED`] either way.
pub fn run_from<D, T>(
    spec: &ReferenceRun,
    epochs: u32,
    start: Start,
    buffers: TrainBuffers<'_>,
    train: &D,
    test: &T,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<Outcome, Error>
where
    D: Dataset + ?Sized,
    T: Dataset + ?Sized,
{
    run_seeded(
        SHAPE, spec, SEED, epochs, start, buffers, train, test, on_epoch,
    )
}

/// [`run_from`] for a network of another shape (same inputs, classes and
/// activation) and another seed.
#[allow(clippy::too_many_arguments)]
fn run_seeded<D, T>(
    shape: Shape,
    spec: &ReferenceRun,
    seed: u64,
    epochs: u32,
    start: Start,
    buffers: TrainBuffers<'_>,
    train: &D,
    test: &T,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<Outcome, Error>
where
    D: Dataset + ?Sized,
    T: Dataset + ?Sized,
{
    let mlp = Mlp::new(shape, ACTIVATION);
    let (mut init_rng, sampler_rng) = seed_streams(seed);
    if start == Start::Seeded {
        mlp.init(buffers.params, ACTIVATION.default_init(), &mut init_rng)?;
    }
    let mut trainer = Trainer::new(mlp, &spec.setup(), train.len(), sampler_rng, buffers)?;
    let mut last = None;
    for _ in 0..epochs {
        let report = trainer.run_epoch(train, test)?;
        on_epoch(&report);
        last = Some(report);
    }
    match (last, trainer.peak()) {
        (Some(last), Some(peak)) => Ok(Outcome {
            last,
            peak,
            param_hash: param_hash(trainer.params()),
        }),
        _ => Err(Error::InvalidHyperparameter {
            name: "epochs",
            expected: "at least 1",
        }),
    }
}

pub mod adapt;

/// The second firmware run: the largest hidden layer (64-H-10) that
/// minibatch L-BFGS (m = 5, batch 32, as in [`RUNS`]) trains within 96 KiB
/// of RAM (statics + stack, `firmware/memory-table.sh`) with its curvature
/// pairs stored in 16 bits (bfloat16; `sooth-firmware --features large`).
/// With f32 pairs the largest that fits is 21 hidden units; see the README.
pub mod large {
    use super::*;

    /// Hidden units.
    pub const HIDDEN: usize = 31;
    /// The network's shape, 64-31-10.
    pub const SHAPE: Shape = match Shape::new(&[INPUTS, HIDDEN, CLASSES]) {
        Ok(shape) => shape,
        Err(_) => panic!("invalid network shape"),
    };
    /// Number of parameters (2335).
    pub const PARAM_COUNT: usize = SHAPE.param_count();
    /// How the curvature pairs are stored.
    pub const PAIR_PRECISION: PairPrecision = PairPrecision::Bf16;
    /// The run: L-BFGS as in [`RUNS`] with 16-bit pairs, seed [`SEED`],
    /// [`EPOCHS`] epochs.
    pub const RUN: ReferenceRun = ReferenceRun {
        name: "lbfgs-bf16-h31",
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig {
            pair_precision: PAIR_PRECISION,
            ..LbfgsConfig::new(HISTORY)
        }),
    };
    /// The buffer lengths of [`RUN`] on the digits.
    pub const LENGTHS: BufferLengths = RUN.setup().buffer_lengths(&SHAPE, digits::TRAIN_LEN);
    /// The memory of the run.
    pub type Storage = super::Storage<
        { LENGTHS.params },
        { LENGTHS.work },
        { LENGTHS.indices },
        { LENGTHS.optimizer },
    >;

    /// Runs [`RUN`] for [`EPOCHS`] epochs from the seeded initialization
    /// on `train`, as [`run_from`] runs the reference runs.
    pub fn run<D, T>(
        buffers: TrainBuffers<'_>,
        train: &D,
        test: &T,
        on_epoch: impl FnMut(&EpochReport),
    ) -> Result<Outcome, Error>
    where
        D: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        run_seeded(
            SHAPE,
            &RUN,
            SEED,
            EPOCHS,
            Start::Seeded,
            buffers,
            train,
            test,
            on_epoch,
        )
    }

    const _: () = assert!(LENGTHS.params == PARAM_COUNT);
}
