//! The training loop that host and firmware share: epoch, minibatches,
//! optimizer steps, evaluation. It does no I/O; callers log the
//! [`EpochReport`]s it returns.

use crate::data::{Dataset, check_compatible};
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::network::{Evaluation, Mlp, Shape};
use crate::optim::{AnyOptimizer, Curvature, Objective, Optimizer, OptimizerConfig, Status};
use crate::sampler::{LastBatch, Sampler, Sampling};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The two random streams of a run: parameter initialization, and the
/// sampler (the first stream advanced by xoshiro256++'s `jump`, 2^128 draws
/// ahead, so the two never overlap).
pub fn seed_streams(seed: u64) -> (Xoshiro256PlusPlus, Xoshiro256PlusPlus) {
    let init = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut sampler = init.clone();
    sampler.jump();
    (init, sampler)
}

/// The mean loss of `mlp` on one minibatch, as an [`Objective`].
pub struct BatchObjective<'b, D: ?Sized> {
    /// The network.
    pub mlp: &'b Mlp,
    /// The data set the batch indexes.
    pub data: &'b D,
    /// The sample indices of the batch.
    pub batch: &'b [u32],
    /// The network's activation workspace.
    pub work: &'b mut [f32],
    /// True if the batch is the same as the previous step's (full batch).
    pub unchanged: bool,
}

impl<D: Dataset + ?Sized> Objective for BatchObjective<'_, D> {
    fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
        self.mlp
            .loss_grad(x, self.data, self.batch, grad, self.work)
    }
    fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
        self.mlp.loss(x, self.data, self.batch, self.work)
    }
    fn is_unchanged(&self) -> bool {
        self.unchanged
    }
}

/// Options of a [`Trainer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainOptions {
    /// Also evaluate the whole training set at the end of each epoch
    /// (a forward pass over it; the mean batch loss is always reported).
    pub evaluate_train: bool,
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: u32,
    /// Optimizer steps (minibatches) in this epoch.
    pub steps: u32,
    /// Mean over this epoch's steps of the batch loss at the step's start
    /// (steps whose loss was not finite are left out; NaN if all were).
    pub mean_batch_loss: f64,
    /// Objective calls since training began.
    pub evaluations: u64,
    /// Gradient computations since training began.
    pub gradients: u64,
    /// Steps in this epoch that recovered from a non-finite value.
    pub recoveries: u32,
    /// Steps in this epoch whose line search failed.
    pub line_search_failures: u32,
    /// Curvature pairs skipped in this epoch.
    pub curvature_skips: u32,
    /// The test set after this epoch.
    pub test: Evaluation,
    /// The training set after this epoch, if asked for.
    pub train: Option<Evaluation>,
}

/// What the optimizer steps of one epoch did, before evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochSteps {
    /// Optimizer steps taken.
    pub steps: u32,
    loss_sum: f64,
    loss_count: u32,
    /// Steps that recovered from a non-finite value.
    pub recoveries: u32,
    /// Steps whose line search failed.
    pub line_search_failures: u32,
    /// Curvature pairs skipped.
    pub curvature_skips: u32,
}

/// The best test accuracy so far and the first epoch that reached it
/// (the study's response variable is this peak).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Peak {
    /// Best test accuracy, in `[0, 1]`.
    pub accuracy: f64,
    /// First epoch (from 1) at which it was reached.
    pub epoch: u32,
}

/// What a training run is, apart from the network and the data: the
/// optimizer, how minibatches are drawn, and the options. With the shape and
/// the training set's length it sizes every buffer
/// ([`buffer_lengths`](Self::buffer_lengths), a `const fn`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainSetup {
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Samples per minibatch (`1..=` the training set's length).
    pub batch_size: usize,
    /// How minibatches are drawn.
    pub sampling: Sampling,
    /// What happens to the samples left over at the end of an epoch.
    pub last_batch: LastBatch,
    /// Options of the epoch loop.
    pub options: TrainOptions,
}

impl TrainSetup {
    /// The lengths of the buffers of a run of `shape` on a training set of
    /// `train_len` samples: what [`Trainer::new`] needs in its
    /// [`TrainBuffers`] (a `const fn`, so firmware sizes `static` arrays
    /// with it).
    pub const fn buffer_lengths(&self, shape: &Shape, train_len: usize) -> BufferLengths {
        BufferLengths {
            params: shape.param_count(),
            work: shape.workspace_len(),
            indices: Sampler::storage_len(train_len, self.batch_size, self.sampling),
            optimizer: self.optimizer.storage_len(shape.param_count()),
        }
    }
}

/// The lengths of the four buffers of a training run
/// ([`TrainSetup::buffer_lengths`]): the exact length of the parameters and
/// the minimum lengths of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferLengths {
    /// Floats of parameters (exactly this many).
    pub params: usize,
    /// Floats of the network's workspace (at least).
    pub work: usize,
    /// Sample indices of the sampler (at least).
    pub indices: usize,
    /// Floats of optimizer state (at least).
    pub optimizer: usize,
}

impl BufferLengths {
    /// The larger of each length of `self` and `other`: buffers that fit
    /// both runs (e.g. firmware that runs several optimizers in turn).
    pub const fn max(self, other: BufferLengths) -> BufferLengths {
        const fn max(a: usize, b: usize) -> usize {
            if a > b { a } else { b }
        }
        BufferLengths {
            params: max(self.params, other.params),
            work: max(self.work, other.work),
            indices: max(self.indices, other.indices),
            optimizer: max(self.optimizer, other.optimizer),
        }
    }
}

/// The caller-owned memory of a training run, sized by
/// [`TrainSetup::buffer_lengths`]. The trainer borrows it for its life;
/// everything the optimizer remembers stays in `optimizer` (see
/// [`crate::optim`]), so keeping the buffers keeps the run's state.
pub struct TrainBuffers<'a> {
    /// The flat parameters, exactly [`BufferLengths::params`] floats:
    /// initialized by the caller, trained in place.
    pub params: &'a mut [f32],
    /// The network's activation workspace (scratch).
    pub work: &'a mut [f32],
    /// The sampler's index storage.
    pub indices: &'a mut [u32],
    /// The optimizer's state storage.
    pub optimizer: &'a mut [f32],
}

/// Runs epochs of minibatch training: the loop host and firmware share.
/// The data sets are arguments of each call, not part of the trainer, so
/// the caller may change them between calls (with the same width, classes
/// and training-set length).
///
/// ```
/// use sooth_core::*;
/// // XOR-like data: 4 points, 2 classes.
/// let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let y: [u8; 4] = [0, 1, 1, 0];
/// let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
/// const SHAPE: Shape = match Shape::new(&[2, 8, 2]) { Ok(s) => s, Err(_) => panic!() };
/// const SETUP: TrainSetup = TrainSetup {
///     optimizer: OptimizerConfig::Sgd(SgdConfig { momentum: 0.9, ..SgdConfig::new(0.5) }),
///     batch_size: 4,
///     sampling: Sampling::Shuffle,
///     last_batch: LastBatch::Keep,
///     options: TrainOptions { evaluate_train: false },
/// };
/// const LEN: BufferLengths = SETUP.buffer_lengths(&SHAPE, 4);
/// let (mut params, mut work) = ([0.0f32; LEN.params], [0.0f32; LEN.work]);
/// let (mut indices, mut state) = ([0u32; LEN.indices], [0.0f32; LEN.optimizer]);
/// let mlp = Mlp::new(SHAPE, Activation::Tanh);
/// let (mut init_rng, sampler_rng) = seed_streams(1);
/// mlp.init(&mut params, Init::GlorotUniform, &mut init_rng).unwrap();
/// let buffers = TrainBuffers {
///     params: &mut params,
///     work: &mut work,
///     indices: &mut indices,
///     optimizer: &mut state,
/// };
/// let mut trainer = Trainer::new(mlp, &SETUP, data.len(), sampler_rng, buffers).unwrap();
/// for _ in 0..300 {
///     trainer.run_epoch(&data, &data).unwrap();
/// }
/// assert_eq!(trainer.peak().unwrap().accuracy, 1.0);
/// ```
pub struct Trainer<'a> {
    mlp: Mlp,
    params: &'a mut [f32],
    optimizer: AnyOptimizer<'a>,
    sampler: Sampler<'a>,
    work: &'a mut [f32],
    options: TrainOptions,
    epoch: u32,
    evaluations: u64,
    gradients: u64,
    peak: Option<Peak>,
}

impl<'a> Trainer<'a> {
    /// A trainer for `mlp` on training sets of `train_len` samples: builds
    /// the sampler (over `buffers.indices`, drawing from `sampler_rng`) and
    /// the optimizer (afresh, over `buffers.optimizer`) of `setup`, and
    /// checks that the buffers fit and the initial parameters are finite.
    pub fn new(
        mlp: Mlp,
        setup: &TrainSetup,
        train_len: usize,
        sampler_rng: Xoshiro256PlusPlus,
        buffers: TrainBuffers<'a>,
    ) -> Result<Self, Error> {
        let shape = mlp.shape();
        let n = shape.param_count();
        check_len(Buffer::Params, n, buffers.params.len())?;
        check_min_len(Buffer::Workspace, shape.workspace_len(), buffers.work.len())?;
        let sampler = Sampler::new(
            train_len,
            setup.batch_size,
            setup.sampling,
            setup.last_batch,
            sampler_rng,
            buffers.indices,
        )?;
        let optimizer = setup.optimizer.build(n, buffers.optimizer)?;
        if !crate::kernels::all_finite(buffers.params) {
            return Err(Error::InvalidHyperparameter {
                name: "initial parameters",
                expected: "finite values",
            });
        }
        Ok(Trainer {
            mlp,
            params: buffers.params,
            optimizer,
            sampler,
            work: buffers.work,
            options: setup.options,
            epoch: 0,
            evaluations: 0,
            gradients: 0,
            peak: None,
        })
    }

    /// Checks that `train` fits the network and the sampler.
    fn check_train<D: Dataset + ?Sized>(&self, train: &D) -> Result<(), Error> {
        let shape = self.mlp.shape();
        check_compatible(train, shape.inputs(), shape.outputs())?;
        if self.sampler.data_len() != train.len() {
            return Err(Error::InvalidBatchSize {
                batch: self.sampler.batch_size(),
                len: train.len(),
            });
        }
        Ok(())
    }

    /// Runs one epoch: every minibatch of the sampler on `train`, one
    /// optimizer step each ([`train_steps`](Self::train_steps)), then the
    /// evaluation of `test`, and of `train` if
    /// [`TrainOptions::evaluate_train`] ([`evaluate`](Self::evaluate)).
    pub fn run_epoch<D, T>(&mut self, train: &D, test: &T) -> Result<EpochReport, Error>
    where
        D: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        let steps = self.train_steps(train)?;
        let train = self.options.evaluate_train.then_some(train);
        self.evaluate(steps, test, train)
    }

    /// The training half of an epoch: one optimizer step per minibatch of
    /// `train`, which must fit the network and have the length the trainer
    /// was built for.
    pub fn train_steps<D: Dataset + ?Sized>(&mut self, train: &D) -> Result<EpochSteps, Error> {
        self.check_train(train)?;
        self.sampler.start_epoch();
        let mut totals = EpochSteps {
            steps: 0,
            loss_sum: 0.0,
            loss_count: 0,
            recoveries: 0,
            line_search_failures: 0,
            curvature_skips: 0,
        };
        let full_batch = self.sampler.is_full_batch();
        while let Some(batch) = self.sampler.next_batch() {
            let mut objective = BatchObjective {
                mlp: &self.mlp,
                data: train,
                batch,
                work: self.work,
                unchanged: full_batch,
            };
            let report = self.optimizer.step(self.params, &mut objective)?;
            totals.steps += 1;
            self.evaluations += u64::from(report.evaluations);
            self.gradients += u64::from(report.gradients);
            if report.loss.is_finite() {
                totals.loss_sum += report.loss;
                totals.loss_count += 1;
            }
            match report.status {
                Status::RecoveredNonFinite(_) => totals.recoveries += 1,
                Status::LineSearchFailed(_) => totals.line_search_failures += 1,
                Status::Moved | Status::Converged => {}
            }
            if report.curvature == Curvature::Skipped {
                totals.curvature_skips += 1;
            }
        }
        self.epoch += 1;
        Ok(totals)
    }

    /// The evaluation half of an epoch, after
    /// [`train_steps`](Self::train_steps): `test`, and `train` if given;
    /// updates the peak (of the test accuracy).
    pub fn evaluate<D, T>(
        &mut self,
        steps: EpochSteps,
        test: &T,
        train: Option<&D>,
    ) -> Result<EpochReport, Error>
    where
        D: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        let test = self.mlp.evaluate(self.params, test, self.work)?;
        let train = match train {
            Some(train) => Some(self.mlp.evaluate(self.params, train, self.work)?),
            None => None,
        };
        let accuracy = test.accuracy();
        if self.peak.is_none_or(|p| accuracy > p.accuracy) {
            self.peak = Some(Peak {
                accuracy,
                epoch: self.epoch,
            });
        }
        Ok(EpochReport {
            epoch: self.epoch,
            steps: steps.steps,
            mean_batch_loss: if steps.loss_count == 0 {
                f64::NAN
            } else {
                steps.loss_sum / f64::from(steps.loss_count)
            },
            evaluations: self.evaluations,
            gradients: self.gradients,
            recoveries: steps.recoveries,
            line_search_failures: steps.line_search_failures,
            curvature_skips: steps.curvature_skips,
            test,
            train,
        })
    }

    /// The current parameters.
    pub fn params(&self) -> &[f32] {
        self.params
    }

    /// The best test accuracy so far (`None` before the first epoch).
    pub fn peak(&self) -> Option<Peak> {
        self.peak
    }

    /// Epochs run so far.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &AnyOptimizer<'a> {
        &self.optimizer
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
}
