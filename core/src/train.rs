//! The training loop that host and firmware share: epoch, minibatches,
//! optimizer steps, evaluation. It does no I/O; callers log the
//! [`EpochReport`]s it returns.

use crate::data::{Dataset, check_compatible};
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::network::{Evaluation, Mlp};
use crate::optim::{Curvature, Objective, Optimizer, Status};
use crate::sampler::Sampler;
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

/// Runs epochs of minibatch training: the loop host and firmware share.
///
/// ```
/// use sooth_core::*;
/// // XOR-like data: 4 points, 2 classes.
/// let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let y: [u8; 4] = [0, 1, 1, 0];
/// let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
/// const SHAPE: Shape = match Shape::new(&[2, 8, 2]) { Ok(s) => s, Err(_) => panic!() };
/// let mlp = Mlp::new(SHAPE, Activation::Tanh);
/// let n = mlp.shape().param_count();
/// let (mut params, mut work) = ([0.0f32; 42], [0.0f32; SHAPE.workspace_len()]);
/// let (mut state, mut indices) = ([0.0f32; 3 * 42], [0u32; 4]);
/// assert_eq!(n, 42);
/// let (mut init_rng, sampler_rng) = seed_streams(1);
/// mlp.init(&mut params, Init::GlorotUniform, &mut init_rng).unwrap();
/// let sampler = Sampler::new(4, 4, Sampling::Shuffle, LastBatch::Keep, sampler_rng, &mut indices).unwrap();
/// let sgd = Sgd::new(SgdConfig { momentum: 0.9, ..SgdConfig::new(0.5) }, n, &mut state).unwrap();
/// let mut trainer = Trainer::new(mlp, &mut params, sgd, &data, &data, sampler, &mut work,
///                                TrainOptions::default()).unwrap();
/// for _ in 0..300 {
///     trainer.run_epoch().unwrap();
/// }
/// assert_eq!(trainer.peak().unwrap().accuracy, 1.0);
/// ```
pub struct Trainer<'a, D: ?Sized, T: ?Sized, O> {
    mlp: Mlp,
    params: &'a mut [f32],
    optimizer: O,
    train: &'a D,
    test: &'a T,
    sampler: Sampler<'a>,
    work: &'a mut [f32],
    options: TrainOptions,
    epoch: u32,
    evaluations: u64,
    gradients: u64,
    peak: Option<Peak>,
}

impl<'a, D, T, O> Trainer<'a, D, T, O>
where
    D: Dataset + ?Sized,
    T: Dataset + ?Sized,
    O: Optimizer,
{
    /// Checks that data, buffers, sampler and optimizer agree with the network.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mlp: Mlp,
        params: &'a mut [f32],
        optimizer: O,
        train: &'a D,
        test: &'a T,
        sampler: Sampler<'a>,
        work: &'a mut [f32],
        options: TrainOptions,
    ) -> Result<Self, Error> {
        let shape = mlp.shape();
        check_len(Buffer::Params, shape.param_count(), params.len())?;
        check_min_len(Buffer::Workspace, shape.workspace_len(), work.len())?;
        check_compatible(train, shape.inputs(), shape.outputs())?;
        check_compatible(test, shape.inputs(), shape.outputs())?;
        if optimizer.dim() != params.len() {
            return Err(Error::DimensionMismatch {
                expected: optimizer.dim(),
                actual: params.len(),
            });
        }
        if sampler.data_len() != train.len() {
            return Err(Error::InvalidBatchSize {
                batch: sampler.batch_size(),
                len: train.len(),
            });
        }
        if !crate::kernels::all_finite(params) {
            return Err(Error::InvalidHyperparameter {
                name: "initial parameters",
                expected: "finite values",
            });
        }
        Ok(Trainer {
            mlp,
            params,
            optimizer,
            train,
            test,
            sampler,
            work,
            options,
            epoch: 0,
            evaluations: 0,
            gradients: 0,
            peak: None,
        })
    }

    /// Runs one epoch: every minibatch of the sampler, one optimizer step
    /// each ([`train_steps`](Self::train_steps)), then the evaluation of the
    /// test set, and of the training set if asked ([`evaluate`](Self::evaluate)).
    pub fn run_epoch(&mut self) -> Result<EpochReport, Error> {
        let steps = self.train_steps()?;
        self.evaluate(steps)
    }

    /// The training half of an epoch: one optimizer step per minibatch.
    pub fn train_steps(&mut self) -> Result<EpochSteps, Error> {
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
                data: self.train,
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

    /// The evaluation half of an epoch: the test set (and the training set
    /// if asked) after [`train_steps`](Self::train_steps); updates the peak.
    pub fn evaluate(&mut self, steps: EpochSteps) -> Result<EpochReport, Error> {
        let test = self.mlp.evaluate(self.params, self.test, self.work)?;
        let train = if self.options.evaluate_train {
            Some(self.mlp.evaluate(self.params, self.train, self.work)?)
        } else {
            None
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
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
}
