//! [`OnlineTrainer`]: optimizer steps on minibatches drawn from a
//! [`SampleStore`] that keeps filling while the device runs.

use super::store::{PushOutcome, Retention, SampleStore};
use crate::data::TryDataset;
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::network::{Evaluation, Init, Mlp, Shape};
use crate::optim::{Curvature, Optimizer, OptimizerConfig, Status};
use crate::sampler::uniform_below;
use crate::train::BatchObjective;
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// What an online run is, apart from the network: the optimizer, the sample
/// store and the batch size. With the shape it sizes every buffer
/// ([`buffer_lengths`](Self::buffer_lengths), a `const fn`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OnlineSetup {
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// The most samples the store holds (`>= 1`).
    pub capacity: usize,
    /// Which samples a full store keeps.
    pub retention: Retention,
    /// Samples per minibatch, `1..=capacity` (changeable later with
    /// [`OnlineTrainer::set_batch_size`]).
    pub batch_size: usize,
}

/// The lengths of an online run's buffers ([`OnlineSetup::buffer_lengths`]):
/// the exact length of the parameters and the minimum lengths of the others,
/// in elements, and the bytes of its saved state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OnlineLengths {
    /// `f32` parameters (exactly this many).
    pub params: usize,
    /// `f32` of the network's workspace.
    pub work: usize,
    /// `f32` of optimizer state.
    pub optimizer: usize,
    /// `u32` batch indices (one per stored sample).
    pub indices: usize,
    /// `f32` of stored features (`capacity * inputs`).
    pub samples: usize,
    /// `u16` stored labels (`capacity`).
    pub labels: usize,
    /// Bytes of [`OnlineTrainer::save`]'s output.
    pub snapshot: usize,
}

impl OnlineLengths {
    /// `f32` of one buffer holding the parameters, the workspace, the
    /// optimizer's state and the stored features, in that order, for
    /// [`OnlineBuffers::split`].
    pub const fn floats(&self) -> usize {
        self.params + self.work + self.optimizer + self.samples
    }

    /// Bytes of RAM the buffers of [`OnlineBuffers`] take (the snapshot
    /// buffer, needed only to save or restore, is not counted).
    pub const fn ram_bytes(&self) -> usize {
        4 * (self.params + self.work + self.optimizer + self.indices + self.samples)
            + 2 * self.labels
    }
}

impl OnlineSetup {
    /// The lengths of the buffers of an online run of `shape` (a `const
    /// fn`, so firmware sizes `static` arrays with it).
    pub const fn buffer_lengths(&self, shape: &Shape) -> OnlineLengths {
        let params = shape.param_count();
        let optimizer = self.optimizer.storage_len(params);
        let samples = SampleStore::features_len(shape.inputs(), self.capacity);
        OnlineLengths {
            params,
            work: shape.workspace_len(),
            optimizer,
            indices: self.capacity,
            samples,
            labels: self.capacity,
            snapshot: super::snapshot::snapshot_len(params, optimizer, samples, self.capacity),
        }
    }
}

/// The caller-owned memory of an online run, sized by
/// [`OnlineSetup::buffer_lengths`]. The trainer borrows it for its life.
pub struct OnlineBuffers<'a> {
    /// The flat parameters, exactly [`OnlineLengths::params`]: the caller's
    /// initial (or host-trained) parameters, trained in place.
    pub params: &'a mut [f32],
    /// The network's activation workspace (scratch).
    pub work: &'a mut [f32],
    /// The optimizer's whole state (L-BFGS pairs and scalars included).
    pub optimizer: &'a mut [f32],
    /// Scratch for the batch indices.
    pub indices: &'a mut [u32],
    /// The store's feature rows.
    pub samples: &'a mut [f32],
    /// The store's labels.
    pub labels: &'a mut [u16],
}

impl<'a> OnlineBuffers<'a> {
    /// The buffers cut from three: `floats` (at least
    /// [`lengths.floats()`](OnlineLengths::floats): parameters, workspace,
    /// optimizer state, stored features, in that order), `indices` and
    /// `labels`. The parameters are the first `lengths.params` floats, as
    /// they were in `floats`.
    pub fn split(
        lengths: &OnlineLengths,
        floats: &'a mut [f32],
        indices: &'a mut [u32],
        labels: &'a mut [u16],
    ) -> Result<Self, Error> {
        check_min_len(Buffer::Params, lengths.floats(), floats.len())?;
        let (params, rest) = floats.split_at_mut(lengths.params);
        let (work, rest) = rest.split_at_mut(lengths.work);
        let (optimizer, rest) = rest.split_at_mut(lengths.optimizer);
        Ok(OnlineBuffers {
            params,
            work,
            optimizer,
            indices,
            samples: &mut rest[..lengths.samples],
            labels,
        })
    }
}

/// What one [`OnlineTrainer::train`] call did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OnlineReport {
    /// Optimizer steps taken.
    pub steps: u32,
    /// Mean over the steps of the batch loss at each step's start (steps
    /// whose loss was not finite are left out; NaN if all were, or no steps).
    pub mean_batch_loss: f64,
    /// The last step's batch loss at its start (NaN if no steps).
    pub last_batch_loss: f64,
    /// Steps that recovered from a non-finite value.
    pub recoveries: u32,
    /// Steps whose line search failed.
    pub line_search_failures: u32,
    /// Curvature pairs skipped.
    pub curvature_skips: u32,
}

/// Trains a network on samples that arrive while it runs: push samples into
/// its [`SampleStore`] at any time ([`push`](Self::push)), and take
/// optimizer steps on minibatches of what is stored ([`train`](Self::train)).
///
/// # Minibatches
/// Each step draws its batch from the samples held at that moment: with `b`
/// the batch size and `h >= b` the samples held, the indices `0..h` are
/// shuffled partially (Fisher-Yates from the front: for `j` in `0..b`, swap
/// `j` with `j + uniform_below(h - j)`), and the first `b`, in that order,
/// are the batch: uniform without replacement within a batch, independent
/// between batches. With `b == h` the batch is the whole store in its order
/// and draws nothing. The draws come from the trainer's own stream (the
/// `rng` given to [`new`](Self::new)); the reservoir's draws come from a
/// second stream (that one advanced by `jump`), so the bits depend on the
/// seed and on the order of pushes and steps, nothing else. A store that
/// grows changes nothing but `h` of the next draws.
///
/// # State
/// Everything the optimizer remembers (L-BFGS curvature pairs included)
/// lives in [`OnlineBuffers::optimizer`] and survives between
/// [`train`](Self::train) calls and pushes. Replacing the parameters
/// ([`set_params`](Self::set_params), [`reset_params`](Self::reset_params))
/// also starts the optimizer afresh (its history belongs to the old
/// parameters); [`reset_optimizer`](Self::reset_optimizer) does so alone.
/// [`save`](Self::save) writes the whole state to bytes and
/// [`restore`](Self::restore) continues from them bit for bit.
///
/// ```
/// use sooth_core::*;
/// use sooth_core::online::*;
/// const SHAPE: Shape = match Shape::new(&[2, 8, 2]) { Ok(s) => s, Err(_) => panic!() };
/// const SETUP: OnlineSetup = OnlineSetup {
///     optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
///     capacity: 16,
///     retention: Retention::Latest,
///     batch_size: 8,
/// };
/// const LEN: OnlineLengths = SETUP.buffer_lengths(&SHAPE);
/// let (mut params, mut work, mut state) =
///     ([0.0f32; LEN.params], [0.0f32; LEN.work], [0.0f32; LEN.optimizer]);
/// let (mut indices, mut samples, mut labels) =
///     ([0u32; LEN.indices], [0.0f32; LEN.samples], [0u16; LEN.labels]);
/// let mlp = Mlp::new(SHAPE, Activation::Tanh);
/// let (mut init_rng, rng) = seed_streams(3);
/// mlp.init(&mut params, Init::GlorotUniform, &mut init_rng)?;
/// let buffers = OnlineBuffers {
///     params: &mut params, work: &mut work, optimizer: &mut state,
///     indices: &mut indices, samples: &mut samples, labels: &mut labels,
/// };
/// let mut trainer = OnlineTrainer::new(mlp, &SETUP, rng, buffers)?;
/// assert_eq!(trainer.train(1), Err(Error::TooFewSamples { held: 0, batch: 8 }));
/// for k in 0..40u32 {
///     let x = [(k % 2) as f32, (k / 2 % 2) as f32];
///     trainer.push(&x, ((k % 2) ^ (k / 2 % 2)) as usize)?; // XOR
///     if trainer.store().len() >= 8 {
///         trainer.train(5)?;
///     }
/// }
/// assert_eq!(trainer.predict(&[1.0, 0.0])?, 1);
/// # Ok::<(), sooth_core::Error>(())
/// ```
pub struct OnlineTrainer<'a> {
    pub(super) mlp: Mlp,
    pub(super) config: OptimizerConfig,
    pub(super) params: &'a mut [f32],
    pub(super) work: &'a mut [f32],
    /// The optimizer's storage; the optimizer is resumed over it in each
    /// `train` call, so no borrow of it outlives a call.
    pub(super) optimizer: &'a mut [f32],
    pub(super) indices: &'a mut [u32],
    pub(super) store: SampleStore<'a>,
    pub(super) rng: Xoshiro256PlusPlus,
    pub(super) batch: usize,
    pub(super) steps: u64,
    pub(super) evaluations: u64,
    pub(super) gradients: u64,
}

impl<'a> OnlineTrainer<'a> {
    /// A trainer for `mlp` with an empty store: checks the buffers (their
    /// lengths, and that the caller's parameters are finite), the setup
    /// (batch size `1..=capacity`, the optimizer's hyperparameters), and
    /// starts the optimizer afresh. Batches draw from `rng`; the reservoir
    /// from `rng` advanced by `jump` (2^128 draws ahead).
    pub fn new(
        mlp: Mlp,
        setup: &OnlineSetup,
        rng: Xoshiro256PlusPlus,
        buffers: OnlineBuffers<'a>,
    ) -> Result<Self, Error> {
        let shape = mlp.shape();
        let n = shape.param_count();
        check_len(Buffer::Params, n, buffers.params.len())?;
        check_min_len(Buffer::Workspace, shape.workspace_len(), buffers.work.len())?;
        check_min_len(Buffer::Indices, setup.capacity, buffers.indices.len())?;
        check_finite(buffers.params)?;
        let mut reservoir = rng.clone();
        reservoir.jump();
        let store = SampleStore::new(
            shape.inputs(),
            shape.outputs(),
            setup.capacity,
            setup.retention,
            reservoir,
            buffers.samples,
            buffers.labels,
        )?;
        check_batch(setup.batch_size, setup.capacity)?;
        setup.optimizer.build(n, buffers.optimizer)?;
        Ok(OnlineTrainer {
            mlp,
            config: setup.optimizer,
            params: buffers.params,
            work: buffers.work,
            optimizer: buffers.optimizer,
            indices: &mut buffers.indices[..setup.capacity],
            store,
            rng,
            batch: setup.batch_size,
            steps: 0,
            evaluations: 0,
            gradients: 0,
        })
    }

    /// Adds a sample to the store (see [`SampleStore::push`]: checked, and
    /// refused with an error that changes nothing).
    pub fn push(&mut self, features: &[f32], label: usize) -> Result<PushOutcome, Error> {
        self.store.push(features, label)
    }

    /// Reads sample `index` of `source` (which may fail: a [`TryDataset`])
    /// and pushes it. `source` must fit the network's input width and classes.
    pub fn push_from<D: TryDataset + ?Sized>(
        &mut self,
        source: &D,
        index: usize,
    ) -> Result<PushOutcome, D::Error> {
        let shape = self.mlp.shape();
        if source.feature_count() != shape.inputs() {
            return Err(Error::WidthMismatch {
                model: shape.inputs(),
                data: source.feature_count(),
            }
            .into());
        }
        if index >= source.sample_count() {
            return Err(Error::IndexOutOfRange {
                index,
                len: source.sample_count(),
            }
            .into());
        }
        let row = &mut self.work[..shape.inputs()];
        let label = source.try_fetch(index, row)?;
        Ok(self.store.push(row, label)?)
    }

    /// `steps` optimizer steps, each on a minibatch drawn from the samples
    /// held at that moment (see the type's documentation). Errors with
    /// [`Error::TooFewSamples`] (and changes nothing) while the store holds
    /// fewer samples than one batch; numerical trouble is counted in the
    /// report, not an error (the optimizer recovers, parameters stay finite).
    pub fn train(&mut self, steps: u32) -> Result<OnlineReport, Error> {
        let held = self.store.len();
        if held < self.batch {
            return Err(Error::TooFewSamples {
                held,
                batch: self.batch,
            });
        }
        let n = self.mlp.shape().param_count();
        let mut optimizer = self.config.resume(n, self.optimizer)?;
        let mut report = OnlineReport {
            steps: 0,
            mean_batch_loss: f64::NAN,
            last_batch_loss: f64::NAN,
            recoveries: 0,
            line_search_failures: 0,
            curvature_skips: 0,
        };
        let (mut loss_sum, mut loss_count) = (0.0f64, 0u32);
        for _ in 0..steps {
            let batch = draw_batch(&mut self.rng, &mut self.indices[..held], self.batch);
            let mut objective = BatchObjective {
                mlp: &self.mlp,
                data: &self.store,
                batch,
                work: self.work,
                unchanged: false,
            };
            let step = optimizer.step(self.params, &mut objective)?;
            report.steps += 1;
            self.steps += 1;
            self.evaluations += u64::from(step.evaluations);
            self.gradients += u64::from(step.gradients);
            report.last_batch_loss = step.loss;
            if step.loss.is_finite() {
                loss_sum += step.loss;
                loss_count += 1;
            }
            match step.status {
                Status::RecoveredNonFinite(_) => report.recoveries += 1,
                Status::LineSearchFailed(_) => report.line_search_failures += 1,
                Status::Moved | Status::Converged => {}
            }
            if step.curvature == Curvature::Skipped {
                report.curvature_skips += 1;
            }
        }
        if loss_count > 0 {
            report.mean_batch_loss = loss_sum / f64::from(loss_count);
        }
        Ok(report)
    }

    /// The current parameters.
    pub fn params(&self) -> &[f32] {
        self.params
    }

    /// Replaces the parameters (exactly `param_count` finite values; an
    /// error changes nothing) and starts the optimizer afresh: its history
    /// (L-BFGS pairs, momentum, moments) described the old parameters.
    pub fn set_params(&mut self, params: &[f32]) -> Result<(), Error> {
        check_len(Buffer::Params, self.params.len(), params.len())?;
        check_finite(params)?;
        self.params.copy_from_slice(params);
        self.reset_optimizer()
    }

    /// Draws new parameters (as [`Mlp::init`] does, from `rng`) and starts
    /// the optimizer afresh.
    pub fn reset_params<R: Rng + ?Sized>(&mut self, init: Init, rng: &mut R) -> Result<(), Error> {
        self.mlp.init(self.params, init, rng)?;
        self.reset_optimizer()
    }

    /// Starts the optimizer afresh (forgets its history), keeping the
    /// parameters, the store and the random streams.
    pub fn reset_optimizer(&mut self) -> Result<(), Error> {
        let n = self.mlp.shape().param_count();
        self.config.build(n, self.optimizer)?;
        Ok(())
    }

    /// Sets the batch size (`1..=capacity`) of the next steps.
    pub fn set_batch_size(&mut self, batch: usize) -> Result<(), Error> {
        check_batch(batch, self.store.capacity())?;
        self.batch = batch;
        Ok(())
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// The sample store (a [`Dataset`](crate::Dataset) of what it holds).
    pub fn store(&self) -> &SampleStore<'a> {
        &self.store
    }

    /// Forgets every stored sample (see [`SampleStore::clear`]); the
    /// parameters and the optimizer's state stay.
    pub fn clear_store(&mut self) {
        self.store.clear();
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The optimizer's configuration.
    pub fn optimizer_config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// The optimizer's whole state (its storage, as
    /// [`OptimizerConfig::resume`] reads it).
    pub fn optimizer_state(&self) -> &[f32] {
        &self.optimizer[..self.config.storage_len(self.params.len())]
    }

    /// Optimizer steps since the start, objective calls, and gradient
    /// computations (not reset by [`reset_optimizer`](Self::reset_optimizer)).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.steps, self.evaluations, self.gradients)
    }

    /// The predicted class (arg-max output) of one sample.
    pub fn predict(&mut self, features: &[f32]) -> Result<usize, Error> {
        self.mlp.predict(self.params, features, self.work)
    }

    /// The class probabilities of one sample (see [`Mlp::probabilities`]:
    /// the loss's softmax, one per output, summing to 1 within rounding),
    /// written to `probabilities`, and its predicted class.
    pub fn probabilities(
        &mut self,
        features: &[f32],
        probabilities: &mut [f32],
    ) -> Result<usize, Error> {
        self.mlp
            .probabilities(self.params, features, probabilities, self.work)
    }

    /// Mean loss and accuracy over `data` (a [`Dataset`](crate::Dataset),
    /// or a [`TryDataset`] whose error comes back).
    pub fn evaluate<D: TryDataset + ?Sized>(&mut self, data: &D) -> Result<Evaluation, D::Error> {
        self.mlp.evaluate(self.params, data, self.work)
    }

    /// Mean loss and accuracy over the samples the store holds.
    pub fn evaluate_store(&mut self) -> Result<Evaluation, Error> {
        self.mlp.evaluate(self.params, &self.store, self.work)
    }
}

/// The batch of `b` indices (`1 <= b <= indices.len()`) drawn from
/// `0..indices.len()` as [`OnlineTrainer`] documents.
fn draw_batch<'i>(rng: &mut Xoshiro256PlusPlus, indices: &'i mut [u32], b: usize) -> &'i [u32] {
    let held = indices.len();
    for (i, slot) in indices.iter_mut().enumerate() {
        *slot = i as u32;
    }
    if b < held {
        for j in 0..b {
            let r = j + uniform_below(rng, (held - j) as u32) as usize;
            indices.swap(j, r);
        }
    }
    &indices[..b]
}

fn check_batch(batch: usize, capacity: usize) -> Result<(), Error> {
    if batch == 0 || batch > capacity {
        return Err(Error::InvalidBatchSize {
            batch,
            len: capacity,
        });
    }
    Ok(())
}

fn check_finite(params: &[f32]) -> Result<(), Error> {
    if crate::kernels::all_finite(params) {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name: "parameters",
            expected: "finite values",
        })
    }
}
